"""Run this Kedro project in a scratch copy: tests never write into the repository's data/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def make_project_copy(destination: Path) -> Path:
    """pyproject.toml, conf/ (minus conf/local), an empty src/ and empty data layers."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", destination / "pyproject.toml")
    shutil.copytree(
        PROJECT_ROOT / "conf", destination / "conf", ignore=shutil.ignore_patterns("local")
    )
    (destination / "conf" / "local").mkdir(exist_ok=True)
    # Kedro wants a source folder inside the project; the package itself is installed (editable).
    (destination / "src").mkdir(exist_ok=True)
    for layer in (PROJECT_ROOT / "data").iterdir():
        if layer.is_dir():
            (destination / "data" / layer.name).mkdir(parents=True, exist_ok=True)
    return destination


def run_pipelines(
    project: Path,
    pipelines: list[str],
    env: str = "ci",
    runtime_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``pipelines`` in ``project`` (the caller has chdir-ed there) and return the catalog."""
    bootstrap_project(project)
    try:
        with KedroSession.create(
            project_path=project, env=env, runtime_params=runtime_params
        ) as session:
            session.run(pipeline_names=pipelines)
            return session.load_context().catalog
    finally:
        # One process runs many sessions here (unlike `kedro run`): leave no MLflow run open.
        while mlflow.active_run():
            mlflow.end_run()
