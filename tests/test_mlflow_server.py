"""`train` on conf/ci against a real `mlflow server` on 127.0.0.1 (SQLite backend in a temp dir)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.kedro_project import make_project_copy, run_pipelines
from tests.servers import free_port, wait_until_healthy


@pytest.mark.slow
def test_train_pipeline_tracks_everything_on_a_real_server(tmp_path, monkeypatch):
    port = free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{uri}/health", server, timeout=120)
        project = make_project_copy(tmp_path / "project")
        monkeypatch.chdir(project)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        run_pipelines(project, ["train"])

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        run = client.search_runs([client.get_experiment_by_name("img2img").experiment_id])[0]
        assert run.data.params["training.batch_size"] == "4"
        assert len(client.get_metric_history(run.info.run_id, "epoch/loss_G_L1")) == 2
        assert (
            "evaluation.test.ssim" in run.data.metrics or "evaluation.val.ssim" in run.data.metrics
        )
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {
            "training_samples",
            "evaluation_report.html",
            "metrics.json",
            "model_card.md",
        } <= artifacts
        champion = client.get_model_version_by_alias("img2img-generator", "champion")
        assert champion.run_id == run.info.run_id
        assert (tmp_path / "mlartifacts").is_dir()  # artifacts went through the server
    finally:
        server.terminate()
        server.wait(timeout=30)
