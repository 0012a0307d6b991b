"""The training pipeline with 2 processes: from `kedro run` (local launcher) and under torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from img2img.gan.artifact import GeneratorArtifact
from img2img.train_distributed import parse_params
from tests.kedro_project import run_pipelines


def _training_run(client: MlflowClient):
    runs = client.search_runs([client.get_experiment_by_name("img2img").experiment_id])
    training = [run for run in runs if "training.epochs" in run.data.params]
    assert len(training) == 1, [r.info.run_name for r in runs]
    return training[0]


@pytest.mark.slow
def test_kedro_run_with_nproc_per_node_2_trains_on_two_gloo_processes(project, mlflow_uri, capfd):
    catalog = run_pipelines(project, ["data_processing", "training"],
                            runtime_params={"training": {"distributed": {"nproc_per_node": 2}}})  # fmt: skip
    artifact = catalog.load("generator")
    assert artifact.environment["world_size"] == 2
    assert artifact.environment["backend"] == "gloo"
    history = pd.read_csv(project / "data" / "08_reporting" / "training_history.csv")
    assert list(history["epoch"]) == [1, 2]
    logged = "".join(capfd.readouterr())  # the training processes write to this process's stderr
    assert "epoch 2/2 done" in logged and "SyncBatchNorm needs CUDA" in logged
    # Process 0 logged live into the pipeline's own MLflow run (no stray run from the workers).
    client = MlflowClient(tracking_uri=mlflow_uri)
    run = _training_run(client)
    assert run.data.tags["env.world_size"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "epoch/loss_G_L1")] == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "training_samples")}
    assert "training_samples/epoch_0002.png" in artifacts


@pytest.mark.slow
def test_torchrun_module_trains_with_the_project_catalog(project, mlflow_uri):
    run_pipelines(project, ["data_processing"])
    env = {**os.environ, "KEDRO_ENV": "ci", "MLFLOW_TRACKING_URI": mlflow_uri,
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "img2img.train_distributed", "--env", "ci",
               "--params", "training.epochs=2,training.epochs_decay=0"]  # fmt: skip
    result = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    artifact = GeneratorArtifact.load(project / "data" / "06_models" / "generator.pt")
    assert artifact.environment["world_size"] == 2 and artifact.epochs == 2
    history = pd.read_csv(project / "data" / "08_reporting" / "training_history.csv")
    assert list(history["epoch"]) == [1, 2]
    run = _training_run(MlflowClient(tracking_uri=mlflow_uri))  # process 0's kedro run only
    assert run.data.params["training.epochs"] == "2"


def test_outside_torchrun_the_module_says_how_to_run_it(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    from img2img.train_distributed import main

    with pytest.raises(SystemExit, match="runs under torchrun"):
        main(["--env", "ci"])


def test_params_syntax_is_kedros():
    assert parse_params("training.batch_size=2, training.device=cpu,a.b=") == {
        "training": {"batch_size": 2, "device": "cpu"}, "a": {"b": None}}  # fmt: skip
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        parse_params("training.batch_size")
