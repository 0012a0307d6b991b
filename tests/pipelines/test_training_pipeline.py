"""train (data_processing + training) end to end on conf/ci through KedroSession, with MLflow."""

from __future__ import annotations

import mlflow
import pandas as pd
import torch
from mlflow.tracking import MlflowClient

from img2img.gan.networks import build_generator
from img2img.gan.runtime import cpu_bf16_units
from tests.kedro_project import run_pipelines


def test_train_pipeline_on_ci_config(project, mlflow_uri):
    catalog = run_pipelines(project, ["train"])
    artifact = catalog.load("generator")
    model = build_generator(dict(artifact.architecture))
    model.load_state_dict(dict(artifact.state_dict))
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    # The artifact says what it was trained on: this run's data version, from scratch, this code.
    train = catalog.load("train_tensors")
    assert artifact.lineage.data == train.data and artifact.lineage.init.kind == "scratch"
    assert artifact.lineage.run_id is not None
    history = pd.read_csv(project / "data" / "08_reporting" / "training_history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake", "d_real_mean", "lr"} <= set(
        history.columns
    )
    grids = sorted(
        p.name for p in (project / "data" / "08_reporting" / "training_samples").iterdir()
    )
    assert grids == ["epoch_0001.png", "epoch_0002.png"]
    assert (project / "data" / "06_models" / "checkpoints" / "last.pt").is_file()

    client = MlflowClient(tracking_uri=mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("img2img").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["training.crop_size"] == "32"
    assert run.data.tags["env.device"] == "cpu"
    # The precision path ran and the CPU capability behind it (bf16 only where the CPU has units).
    expected = "bf16 autocast on cpu (" if cpu_bf16_units() else "fp32 on cpu ("
    assert run.data.tags["env.precision"].startswith(expected)
    assert torch.backends.cpu.get_cpu_capability() in run.data.tags["env.precision"]
    assert run.data.tags["lineage.data_generation"] == train.data.generation
    assert run.data.tags["lineage.train_pairs"] == str(len(train))
    assert run.info.run_id == artifact.lineage.run_id
    assert [m.value for m in client.get_metric_history(run.info.run_id, "epoch/loss_G_L1")]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"training_samples", "model", "training_history.csv"} <= artifacts
    assert mlflow.active_run() is None

    # The same data trained for a time budget: its plan reaches the artifact (the model card reads
    # it there) and the MLflow run's tags.
    budget = {"training": {"time_budget_minutes": 0.05}}
    catalog = run_pipelines(project, ["training"], runtime_params=budget)
    plan = catalog.load("generator").plan
    assert plan is not None and plan.budget_minutes == 0.05
    history = pd.read_csv(project / "data" / "08_reporting" / "training_history.csv")
    assert history["step"].iloc[-1] == plan.total_steps == history["epoch_steps"].sum()
    budgeted = [r for r in client.search_runs([run.info.experiment_id]) if "plan" in r.data.tags]
    assert len(budgeted) == 1 and budgeted[0].data.tags["plan"] == plan.describe()
    assert budgeted[0].data.tags["plan.total_steps"] == str(plan.total_steps)
    assert budgeted[0].data.params["training.time_budget_minutes"] == "0.05"
    # The tags reproduce each run: the command with its environment and parameters.
    assert run.data.tags["kedro_command"] == "kedro run --pipelines=train --env=ci"
    assert run.data.tags["kedro_env"] == "ci"
    assert budgeted[0].data.tags["kedro_command"] == (
        "kedro run --pipelines=training --env=ci --params=training.time_budget_minutes=0.05"
    )
    # A short run still has per-step curves; the experiment opens as model training in the UI.
    assert len(client.get_metric_history(run.info.run_id, "step/loss_G_L1")) >= 3
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
