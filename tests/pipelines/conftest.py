"""Fixtures for running the project's pipelines in a scratch copy."""

from __future__ import annotations

import pytest

from tests.kedro_project import make_project_copy


@pytest.fixture
def mlflow_uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def project(tmp_path, monkeypatch, mlflow_uri):
    """A scratch copy of the project as the working directory, tracking into its own SQLite store."""
    root = make_project_copy(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return root
