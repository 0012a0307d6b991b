"""An MLflow tracking server that goes away mid-run: warn once per kind, keep local files, exit 0."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException, RestException

from img2img.datasets import TolerantMlflowArtifactDataset
from img2img.mlflow_outage import OUTAGE, TolerantMlflowHook, is_server_unreachable
from tests.kedro_project import make_project_copy
from tests.servers import free_port, wait_for_file, wait_until_healthy

# Fail at once instead of MLflow's default retries with backoff (minutes per call).
FAST_FAILURE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
KINDS = (
    "live training metrics", "artifacts", "parameters", "metrics", "champion re-scoring",
    "model registration", "run status",
)  # fmt: skip
LOGGING = """
version: 1
disable_existing_loggers: false
formatters: {plain: {format: "%(levelname)s %(name)s: %(message)s"}}
handlers: {console: {class: logging.StreamHandler, formatter: plain, stream: ext://sys.stdout}}
root: {level: INFO, handlers: [console]}
"""


def unreachable_error() -> MlflowException:
    """What MLflow's REST client raises when nothing listens (the requests error as context)."""
    try:
        raise requests.exceptions.ConnectionError("Connection refused")
    except requests.exceptions.ConnectionError as exc:
        try:
            raise MlflowException(f"API request failed with exception {exc}")
        except MlflowException as wrapped:
            return wrapped


@pytest.fixture
def fresh_outage():
    OUTAGE.reset()
    yield OUTAGE
    OUTAGE.reset()


def test_only_an_unreachable_server_counts():
    assert is_server_unreachable(unreachable_error())
    assert not is_server_unreachable(MlflowException("INVALID_PARAMETER_VALUE: bad key"))
    assert not is_server_unreachable(RestException({"error_code": "RESOURCE_DOES_NOT_EXIST"}))
    assert not is_server_unreachable(ConnectionError("not MLflow's"))


def test_artifact_dataset_saves_locally_and_warns_once(tmp_path, monkeypatch, caplog, fresh_outage):
    calls = []

    def log_artifact(*args, **kwargs):
        calls.append(args)
        raise unreachable_error()

    monkeypatch.setattr(mlflow, "log_artifact", log_artifact)
    datasets = [
        TolerantMlflowArtifactDataset(
            dataset={"type": "json.JSONDataset", "filepath": str(tmp_path / f"{name}.json")}
        )
        for name in ("a", "b")
    ]
    assert type(datasets[0]).__name__ == "MlflowJSONDataset"  # kedro-mlflow still recognises it
    with caplog.at_level(logging.WARNING):
        for dataset in datasets:
            dataset.save({"x": 1})
    assert [json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab"] == [{"x": 1}] * 2
    assert len(calls) == 1  # the server is not asked again once it is known to be unreachable
    assert caplog.text.count("artifacts not logged") == 1 and "a.json" in caplog.text
    assert fresh_outage.not_logged["artifacts"] == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]  # fmt: skip


def test_other_mlflow_errors_still_fail_the_save(tmp_path, monkeypatch, fresh_outage):
    def log_artifact(*args, **kwargs):
        raise MlflowException("INVALID_PARAMETER_VALUE")

    monkeypatch.setattr(mlflow, "log_artifact", log_artifact)
    dataset = TolerantMlflowArtifactDataset(
        dataset={"type": "json.JSONDataset", "filepath": str(tmp_path / "a.json")}
    )
    with pytest.raises(Exception, match="INVALID_PARAMETER_VALUE"):
        dataset.save({"x": 1})
    assert not fresh_outage.down


def test_the_project_hook_replaces_kedro_mlflows(tmp_path, monkeypatch):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro_mlflow.framework.hooks import MlflowHook

    project = make_project_copy(tmp_path / "project")
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="ci") as session:
        hooks = [p for p in session._hook_manager.get_plugins() if isinstance(p, MlflowHook)]
    assert len(hooks) == 1 and isinstance(hooks[0], TolerantMlflowHook)


@pytest.mark.slow
def test_server_killed_during_training_the_run_completes_with_local_outputs(tmp_path):
    port = free_port()
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [str(bin_dir / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    project = make_project_copy(tmp_path / "project")
    (tmp_path / "logging.yml").write_text(LOGGING)  # one plain line per record: nothing wrapped
    env = {**os.environ, **FAST_FAILURE, "MLFLOW_TRACKING_URI": uri, "KEDRO_DISABLE_TELEMETRY": "true",
           "KEDRO_LOGGING_CONFIG": str(tmp_path / "logging.yml"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}  # fmt: skip
    log_path, run = tmp_path / "kedro_run.log", None
    checkpoint = project / "data" / "06_models" / "checkpoints" / "last.pt"
    try:
        wait_until_healthy(f"{uri}/health", server, timeout=120)
        with log_path.open("w") as log:
            # The first checkpoint (end of epoch 1) is the signal to kill the server; 59 more epochs
            # (~0.1 s each here) keep training busy far longer than the kill takes.
            run = subprocess.Popen(
                [str(bin_dir / "kedro"), "run", "--pipelines=train", "--env=ci",
                 "--params=training.epochs=2,training.epochs_decay=58"],
                cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_file(checkpoint, run, 240, output=lambda: log_path.read_text()[-3000:])
        os.killpg(server.pid, signal.SIGKILL)  # the server and its workers, mid-training
        server.wait(timeout=30)
        returncode = run.wait(timeout=300)
    finally:
        for process in (server, run):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    output = log_path.read_text()
    assert returncode == 0, output[-5000:]
    assert "Traceback" not in output and "\nERROR " not in output, output[-5000:]
    warnings = [line for line in output.splitlines() if "is unreachable" in line]
    for kind in KINDS:
        assert sum(f"): {kind} not logged" in line for line in warnings) == 1, (kind, warnings)
    assert len(warnings) == len(KINDS) and all(uri in line for line in warnings), warnings

    reporting = project / "data" / "08_reporting"
    assert (project / "data" / "06_models" / "generator.pt").stat().st_size > 0
    assert list(pd.read_csv(reporting / "training_history.csv")["epoch"]) == list(range(1, 61))
    assert "model" in json.loads((reporting / "metrics.json").read_text())
    decision = json.loads((reporting / "registry_decision.json").read_text())
    assert decision["alias"] is None and "unreachable" in decision["reason"]
    comparison = json.loads((reporting / "gate_comparison.json").read_text())
    assert comparison["champion"] is None and "unreachable" in comparison["champion_status"]
