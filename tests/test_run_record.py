"""The tags that reproduce a run: the exact `kedro run` command (every option, --env always), the
environment variables that change a run, the commit; the experiment marked as model training."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from kedro.framework.cli.project import run as kedro_run_command
from kedro.framework.cli.utils import _split_params
from mlflow.tracking import MlflowClient

from img2img.run_record import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    kedro_command,
    mark_model_training,
    reproduction_tags,
    run_page,
    runner_name,
)

RUN_PARAMS = {
    "env": "ci",
    "pipeline_names": ["data_processing", "training"],
    "tags": ["gan"],
    "from_nodes": ["train_gan"],
    "load_versions": {"pairs": "2026-01-01T00.00.00.000Z"},
    "runtime_params": {"training": {"epochs": 3, "generator": {"ngf": 16}}, "seed": None},
    "runner": "SequentialRunner",
    "only_missing_outputs": True,
}


def test_the_command_holds_every_option_and_kedro_parses_it_back():
    command = kedro_command(RUN_PARAMS, default_env="local")
    words = shlex.split(command)
    assert words[:2] == ["kedro", "run"]
    options = dict(word.split("=", 1) for word in words[2:] if "=" in word)
    assert options["--pipelines"] == "data_processing,training" and options["--env"] == "ci"
    assert options["--tags"] == "gan" and options["--from-nodes"] == "train_gan"
    assert options["--load-versions"] == "pairs:2026-01-01T00.00.00.000Z"
    assert "--only-missing-outputs" in words and not any(w.startswith("--runner") for w in words)
    assert _split_params(None, None, options["--params"]) == RUN_PARAMS["runtime_params"]
    # and `kedro run` itself accepts every option as written
    result = CliRunner().invoke(kedro_run_command, [*words[2:], "--help"])
    assert result.exit_code == 0, result.output


def test_a_run_without_env_names_the_default_environment():
    command = kedro_command({"env": None, "pipeline_names": ["train"]}, default_env="local")
    assert command == "kedro run --pipelines=train --env=local"


def test_tags_record_set_variables_the_commit_and_a_line_that_reruns_it():
    environ = {"KEDRO_ENV": "ci", "OMP_NUM_THREADS": "2", "MLFLOW_TRACKING_URI": "http://u:p@h",
               "HOME": "/root", "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
    argv = ["/venv/bin/kedro", "run", "--pipelines=train", "--env", "ci"]
    tags = reproduction_tags({"env": "ci", "pipeline_names": ["train"]}, argv, environ,
                             ("abc123", True), default_env="local")  # fmt: skip
    assert tags["command_line"] == "kedro run --pipelines=train --env ci"
    assert tags["kedro_env"] == "ci" and tags["git_commit"] == "abc123 (uncommitted changes)"
    recorded = {k for k in tags if k.startswith("environment.")}
    assert recorded == {"environment.KEDRO_ENV", "environment.OMP_NUM_THREADS"}  # no URI, no HOME
    assert tags["reproduce"] == (
        "git checkout abc123 && KEDRO_ENV=ci OMP_NUM_THREADS=2 kedro run --pipelines=train --env=ci"
    )
    outside_git = reproduction_tags({}, [], {}, (None, None), default_env="local")
    assert "git_commit" not in outside_git and outside_git["reproduce"] == "kedro run --env=local"


def test_the_experiment_is_marked_model_training_unless_someone_chose_a_kind(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    ours, theirs = client.create_experiment("ours"), client.create_experiment("theirs")
    client.set_experiment_tag(theirs, EXPERIMENT_KIND_TAG, "genai_development")
    for experiment in (ours, theirs):
        mark_model_training(client, experiment)
    assert client.get_experiment(ours).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    assert client.get_experiment(theirs).tags[EXPERIMENT_KIND_TAG] == "genai_development"


@pytest.mark.parametrize("command", [["info"]])
def test_kedro_commands_print_no_type_hint_warning(command):
    """kedro-mlflow's own PythonModel has no type hints; MLflow's warning about it is dropped."""
    kedro = str(Path(sys.executable).with_name("kedro"))
    result = subprocess.run([kedro, *command], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1], check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "type hints" not in result.stdout + result.stderr


def test_the_logged_run_page_opens_the_model_training_view():
    remote = run_page("https://mlflow.example:5000/", "http://127.0.0.1:5000", "3", "abc")
    assert (
        remote
        == "https://mlflow.example:5000/#/experiments/3/runs/abc?workflowType=machine_learning"
    )
    local = run_page("sqlite:///mlflow.db", "http://127.0.0.1:5000", "1", "abc")
    assert local.startswith("http://127.0.0.1:5000/#/experiments/1/runs/abc?")


@pytest.mark.parametrize(
    ("recorded", "option"),
    [(None, None), ("None", None), ("SequentialRunner", None), ("ParallelRunner", "ParallelRunner"),
     ("<kedro.runner.sequential_runner.SequentialRunner object at 0x7f3>", None),
     ("<kedro.runner.thread_runner.ThreadRunner object at 0x7f3>", "ThreadRunner")],
)  # fmt: skip
def test_the_runner_option_is_given_only_for_another_runner(recorded, option):
    assert runner_name(recorded) == option
