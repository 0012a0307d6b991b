"""notebooks/explore_results.ipynb runs top to bottom on conf/ci outputs."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.kedro_project import PROJECT_ROOT, make_project_copy, run_pipelines


@pytest.mark.slow
def test_explore_results_notebook_executes(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path / "project")
    monkeypatch.chdir(project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    run_pipelines(project, ["data_processing", "training", "evaluation"])
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "explore_results.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(project)}}
    ).execute()
    outputs = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "split:" in text and "images:" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # curves and translations
