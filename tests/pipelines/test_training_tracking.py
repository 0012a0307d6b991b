"""Live MLflow tracking during training warns once and never stops training."""

from __future__ import annotations

import pickle

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from img2img.pipelines.training.tracking import MlflowTrainingTracker, step_interval


@pytest.fixture
def active_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run() as run:
        yield run


def test_logs_steps_epochs_grids_and_environment(active_run):
    tracker = MlflowTrainingTracker(log_every_steps=2)
    for step in range(1, 5):
        tracker.on_step(step, {"loss_G_L1": float(step), "bad": float("nan")})
    tracker.on_epoch_end(1, {"loss_G_L1": 1.5, "epoch": 1}, np.zeros((8, 24, 3), dtype=np.uint8))
    tracker.log_environment({"device": "cpu", "threads": 2})
    client = mlflow.tracking.MlflowClient()
    history = client.get_metric_history(active_run.info.run_id, "step/loss_G_L1")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 2.0), (4, 4.0)]
    run = client.get_run(active_run.info.run_id)
    assert run.data.metrics["epoch/loss_G_L1"] == 1.5 and "step/bad" not in run.data.metrics
    assert run.data.tags["env.device"] == "cpu"
    assert [a.path for a in client.list_artifacts(active_run.info.run_id, "training_samples")] == [
        "training_samples/epoch_0001.png"
    ]


def test_a_failing_server_is_reported_once_then_ignored(active_run, monkeypatch, caplog):
    calls = []

    def unreachable(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("tracking server unreachable")

    monkeypatch.setattr(MlflowClient, "log_batch", unreachable)
    tracker = MlflowTrainingTracker(log_every_steps=1)
    with caplog.at_level("WARNING"):
        for step in range(1, 6):
            tracker.on_step(step, {"loss": 1.0})
        tracker.on_epoch_end(1, {"loss": 1.0}, None)
    assert len(calls) == 1 and not tracker.enabled
    assert caplog.text.count("MLflow tracking failed") == 1
    assert "local training history" in caplog.text


def test_no_active_run_means_no_logging():
    assert mlflow.active_run() is None
    tracker = MlflowTrainingTracker()
    tracker.on_epoch_end(1, {"loss": 1.0}, None)  # nothing to log to, no error
    assert not tracker.enabled


def test_a_copy_in_another_process_logs_to_the_same_run(active_run):
    tracker = MlflowTrainingTracker(log_every_steps=1)
    tracker.on_step(1, {"loss": 1.0})  # creates the client, which is not copied
    copy = pickle.loads(pickle.dumps(tracker))  # as img2img.gan.launcher sends it to process 0
    assert copy._client is None and copy.run_id == active_run.info.run_id
    mlflow.end_run()  # the training process has no active run
    copy.on_step(2, {"loss": 0.5})
    history = MlflowClient().get_metric_history(active_run.info.run_id, "step/loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5)]


@pytest.mark.parametrize(
    ("log_every", "expected", "interval"),
    [(50, None, 50), (50, 36, 3), (50, 5000, 50), (50, 5, 1), (0, None, 1), (7, 1000, 7)],
)
def test_short_runs_log_steps_often_enough_for_a_curve(log_every, expected, interval):
    assert step_interval(log_every, expected) == interval


def test_a_conf_ci_sized_run_has_a_per_step_curve(active_run):
    tracker = MlflowTrainingTracker(log_every_steps=50, expected_steps=36)
    for step in range(1, 37):
        tracker.on_step(step, {"loss_G_L1": float(step)})
    history = MlflowClient().get_metric_history(active_run.info.run_id, "step/loss_G_L1")
    assert [m.step for m in history] == [1, *range(3, 37, 3)]
