"""What reproduces a run, on its MLflow run: the exact command, the environment, the code.

kedro-mlflow tags a run with ``kedro_command``, but rebuilt without ``--env``, ``--params`` and
several other options, so the tag does not reproduce the run. :class:`RunRecordHook` replaces it
with :func:`kedro_command` (every option the run was given) and adds (:func:`reproduction_tags`):

* ``kedro_env``: the configuration environment the run used (``local`` when none was named);
* ``command_line``: the process's own command line (``kedro run ...``; under ``dvc repro`` the
  command its stage runs);
* ``git_commit``: the project's commit, marked when the code has uncommitted changes;
* ``environment.<NAME>``: the variables among :data:`RECORDED_VARIABLES` that are set (those that
  change what a run does; never the tracking URI, which may hold credentials);
* ``reproduce``: one line that re-runs it: checkout, variables, command.

It also marks the experiment as model training (:data:`EXPERIMENT_KIND_TAG`; a kind someone set
by hand is kept) and logs the run's address in the UI (:func:`run_page`). MLflow 3.17's UI does
not read that tag yet: it opens every experiment in its GenAI view (traces) unless the address
asks for the model-training view (``?workflowType=machine_learning``, which the browser then
remembers), so the logged address asks for it.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from mlflow.tracking import MlflowClient

from img2img.gan.lineage import git_revision
from img2img.mlflow_outage import OUTAGE

logger = logging.getLogger(__name__)

EXPERIMENT_KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
MODEL_TRAINING_VIEW = "workflowType=machine_learning"  # the UI's model-training view, by address
#: Environment variables that change what a run does; recorded when set.
RECORDED_VARIABLES = (
    "KEDRO_ENV",
    "MLFLOW_EXPERIMENT_NAME",
    "IMG2IMG_INFERENCE_PATH",
    "IMG2IMG_SERVING_MAX_PIXELS",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)
#: ``kedro run`` options by the ``run_params`` key Kedro records them under (list values joined
#: with commas; ``load_versions`` and ``runtime_params`` are formatted apart).
LIST_OPTIONS = {
    "pipeline_names": "--pipelines",
    "tags": "--tags",
    "node_names": "--nodes",
    "from_nodes": "--from-nodes",
    "to_nodes": "--to-nodes",
    "from_inputs": "--from-inputs",
    "to_outputs": "--to-outputs",
    "namespaces": "--namespaces",
}


def kedro_command(run_params: Mapping[str, Any], default_env: str) -> str:
    """The ``kedro run`` command with every option the run was given (``--env`` always)."""
    words = ["kedro", "run"]
    for key, option in LIST_OPTIONS.items():
        if run_params.get(key):
            words.append(f"{option}={','.join(map(str, run_params[key]))}")
    words.append(f"--env={run_params.get('env') or default_env}")
    if run_params.get("load_versions"):
        versions = ",".join(f"{k}:{v}" for k, v in run_params["load_versions"].items())
        words.append(f"--load-versions={versions}")
    if run_params.get("runtime_params"):
        words.append(f"--params={format_params(run_params['runtime_params'])}")
    runner = runner_name(run_params.get("runner"))
    if runner is not None:
        words.append(f"--runner={runner}")
    if run_params.get("only_missing_outputs"):
        words.append("--only-missing-outputs")
    return shlex.join(words)


def runner_name(recorded: str | None) -> str | None:
    """The ``--runner`` a run needs, None for the default (SequentialRunner). Kedro records the
    runner as a class name, ``"None"``, or an instance's text (``<kedro.runner.X object at ...>``)."""
    if not recorded or recorded == "None":
        return None
    match = re.fullmatch(r"<(?:[\w.]+\.)?(\w+) object at \w+>", recorded)
    name = match.group(1) if match else recorded
    return None if name == "SequentialRunner" else name


def format_params(params: Mapping[str, Any], prefix: str = "") -> str:
    """``--params`` syntax (``a.b=1,c=x``) for a nested mapping, as Kedro parses it back."""
    items = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.append(format_params(value, f"{name}."))
        else:
            items.append(f"{name}={'null' if value is None else value}")
    return ",".join(items)


def reproduction_tags(
    run_params: Mapping[str, Any], argv: Sequence[str], environ: Mapping[str, str],
    git: tuple[str | None, bool | None], default_env: str,
) -> dict[str, str]:  # fmt: skip
    """The run's tags (see the module docstring); ``git``: (commit, uncommitted changes)."""
    command = kedro_command(run_params, default_env)
    variables = {name: environ[name] for name in RECORDED_VARIABLES if environ.get(name)}
    tags = {
        "kedro_command": command,
        "kedro_env": run_params.get("env") or default_env,
        "command_line": shlex.join([Path(argv[0]).name, *argv[1:]]) if argv else "",
        **{f"environment.{name}": value for name, value in variables.items()},
    }
    commit, dirty = git
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items())
    rerun = f"{assignments} {command}".strip()
    if commit:
        tags["git_commit"] = commit + (" (uncommitted changes)" if dirty else "")
        rerun = f"git checkout {commit} && {rerun}"
    tags["reproduce"] = rerun
    return tags


def mark_model_training(client: MlflowClient, experiment_id: str) -> None:
    """Tag the experiment as model training unless it already has a kind."""
    experiment = client.get_experiment(experiment_id)
    if EXPERIMENT_KIND_TAG not in experiment.tags:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)


def run_page(tracking_uri: str, ui_address: str, experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI, in the model-training view: on the tracking server itself
    when it is one (http/https), else on ``ui_address`` (``kedro mlflow ui`` serves a local store
    there: mlflow.yml's ``ui`` host and port)."""
    base = tracking_uri if tracking_uri.startswith(("http://", "https://")) else ui_address
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{MODEL_TRAINING_VIEW}"


class RunRecordHook:
    """Tags each run kedro-mlflow opened with :func:`reproduction_tags` (after its own tags)."""

    def __init__(self, default_env: str) -> None:
        self.default_env = default_env
        self.ui_address = "the MLflow UI"  # mlflow.yml's ui host:port once the context exists

    @hook_impl(trylast=True)  # after kedro-mlflow's hook has read mlflow.yml into context.mlflow
    def after_context_created(self, context: Any) -> None:
        ui = getattr(getattr(context, "mlflow", None), "ui", None)
        if ui is not None:
            self.ui_address = f"http://{ui.host}:{ui.port}"

    @hook_impl(trylast=True)  # after kedro-mlflow's hook has started the run
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        run = mlflow.active_run()
        if run is None:  # tracking is off for this pipeline
            return
        git = git_revision(run_params.get("project_path") or ".")
        tags = reproduction_tags(run_params, sys.argv, os.environ, git, self.default_env)
        OUTAGE.call("run tags", "the command and environment tags", mlflow.set_tags, tags)
        OUTAGE.call("run tags", "the experiment's kind", mark_model_training, MlflowClient(),
                    run.info.experiment_id)  # fmt: skip
        page = run_page(mlflow.get_tracking_uri(), self.ui_address, run.info.experiment_id,
                        run.info.run_id)  # fmt: skip
        logger.info("MLflow run %s: %s", run.info.run_id, page)
