"""Train and score variants of the recipe on a real paired dataset, through the project's own
pipelines (`kedro run` in a scratch copy of the project; nothing is written to the repository).

Used by ``bf16_quality.py`` and ``quality_budget.py``. The dataset is copied into the copy's
``data/01_raw`` and ingested once (``data_processing``); each variant then runs
``training`` + ``evaluation`` with its own ``--params`` and its scores are read from
``data/08_reporting/metrics.json`` (model and the copy-source / mean-target baselines).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.kedro_project: the scratch copy of the project

from tests.kedro_project import make_project_copy  # noqa: E402

DEFAULT_DATASET = ROOT / ".." / "shared" / "datasets" / "edges2shoes_handbags"
METRICS = ("ssim", "psnr", "l1", "fid", "kid_mean")
KEDRO = str(Path(sys.executable).with_name("kedro"))


@dataclass(frozen=True)
class Scores:
    model: dict[str, float]
    baselines: dict[str, dict[str, float]]
    train_seconds: float
    history_rows: int
    precision: str


def cpu_line() -> str:
    import torch

    from img2img.gan.runtime import cpu_capability, cpu_model

    return (f"{cpu_model()} ({cpu_capability()}), {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{platform.python_version()}")  # fmt: skip


def _params(values: dict[str, object]) -> str:
    return ",".join(f"{key}={value}" for key, value in values.items())


def kedro_run(
    project: Path, pipelines: str, params: dict[str, object], env: str | None = None
) -> None:
    command = [KEDRO, "run", f"--pipelines={pipelines}", "--params", _params(params)]
    command += [f"--env={env}"] if env else []
    result = subprocess.run(command, cwd=project, capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


def prepare(
    workdir: Path, dataset: Path, direction: str, load_size: int | None
) -> tuple[Path, dict]:
    """A project copy with ``dataset`` ingested; the data_processing params to pass on."""
    project = make_project_copy(workdir / "project")
    # A copy: a symlink out of data/01_raw is refused (path escape), as for any user dataset.
    shutil.copytree(dataset, project / "data" / "01_raw" / dataset.name)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    data = {"data_processing.source.kind": "aligned", "data_processing.source.dataset_dir": dataset.name,
            "data_processing.source.direction": direction}  # fmt: skip
    if load_size is not None:  # else conf/base's
        data["data_processing.preprocess.load_size"] = load_size
    kedro_run(project, "data_processing", data)
    return project, data


def train_and_score(project: Path, data: dict, training: dict, split: str) -> Scores:
    """``training`` + ``evaluation`` with ``training`` params (full keys); the scores."""
    params = {**data, "training.init_from": "none", "evaluation.split": split, **training}
    started = time.monotonic()
    kedro_run(project, "training", params)
    seconds = time.monotonic() - started
    kedro_run(project, "evaluation", params)
    metrics = reported_metrics(project)
    history = (project / "data" / "08_reporting" / "training_history.csv").read_text().splitlines()
    return Scores(model_scores(metrics),
                  {name: {m: s.get(m) for m in METRICS} for name, s in metrics["baselines"].items()},
                  seconds, len(history) - 1, _precision(project))  # fmt: skip


def reported_metrics(project: Path) -> dict:
    """The evaluation's ``data/08_reporting/metrics.json`` of a project copy."""
    return json.loads((project / "data" / "08_reporting" / "metrics.json").read_text())


def model_scores(metrics: dict) -> dict[str, float]:
    """The model's :data:`METRICS` from :func:`reported_metrics`."""
    return {metric: metrics["model"][metric] for metric in METRICS}


def _precision(project: Path) -> str:
    from img2img.gan.artifact import GeneratorArtifact

    artifact = GeneratorArtifact.load(project / "data" / "06_models" / "generator.pt")
    return str(artifact.environment.get("precision", "?"))


def mean_scores(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each metric averaged over ``runs`` (seeds)."""
    return {metric: sum(run[metric] for run in runs) / len(runs) for metric in METRICS}


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    lines = ["| run | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, values in rows:
        cells = [f"{values[m]:.4g}" if values.get(m) is not None else "-" for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:KEY=VALUE,...`` -> (NAME, {"training.KEY": "VALUE", ...}) (``training.`` may be
    written or left out)."""
    name, _, assignments = text.partition(":")
    params = {}
    for item in filter(None, assignments.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: {item!r} is not KEY=VALUE")
        params[key if key.startswith("training.") else f"training.{key}"] = value
    return name, params
