"""Compiled KFP v2 pipelines of this project, parsed (no cluster, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.framework.startup import bootstrap_project

from img2img.kubeflow import compile_pipeline
from tests.kedro_project import PROJECT_ROOT

IMAGE = "registry.example.com/img2img:test"


def read_package(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pipeline spec, platform spec): KFP writes the Kubernetes settings as a second document."""
    docs = list(yaml.safe_load_all(path.read_text()))
    spec = docs[0]
    platform = docs[1]["platforms"]["kubernetes"] if len(docs) > 1 else {}
    return spec, platform


@pytest.fixture(scope="session")
def registered_pipelines():
    bootstrap_project(PROJECT_ROOT)
    from kedro.framework.project import pipelines

    return dict(pipelines.items())


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """`train` and `__default__` compiled with env kubeflow (the repository's conf, read only)."""
    out = tmp_path_factory.mktemp("kfp")
    packages = {}
    for name in ("train", "__default__"):
        path = out / f"{name}.yaml"
        compile_pipeline(PROJECT_ROOT, name, "kubeflow", path, image=IMAGE)
        packages[name] = read_package(path)
    return packages
