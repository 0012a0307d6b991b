"""`make run` in bf16 against fp32 (or any two variants of it): the whole ``train`` pipeline on the
built-in dataset, timed from outside and scored.

    python benchmarks/make_run_amp.py [--seeds 0,1] [--env local] [--variant NAME:KEY=VALUE,... x2]

Each run is ``kedro run --pipelines=train --params training.seed=S,...`` in its own fresh scratch
copy of the project (empty data/, its own MLflow store), as a first ``make run`` would be: data
generation, training, evaluation, export and registration all count. The default variants are
``auto`` (``training.amp=auto``) and ``fp32`` (``training.amp=fp32``); two ``--variant`` replace
them, e.g. to time today's default against an older recipe in fp32. The two alternate (A, B, A,
B, ...) so that a machine whose speed drifts affects both; per seed the time ratio A / B is
printed, then the scores of every run and the mean of each variant. ``amp: auto`` is bf16 on a CPU
with bf16 units and fp32 elsewhere (then the default ratio is ~1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from _quality import (
    cpu_line,
    kedro_run,
    make_project_copy,
    mean_scores,
    model_scores,
    parse_variant,
    reported_metrics,
    table,
)

DEFAULT_VARIANTS = ["auto:training.amp=auto", "fp32:training.amp=fp32"]


def timed_train_run(
    workdir: Path, env: str, seed: int, name: str, params: dict[str, str]
) -> tuple[float, dict[str, float]]:
    """Seconds of one fresh ``train`` pipeline run, and the model's scores."""
    project = make_project_copy(workdir / f"{name}-seed{seed}")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    started = time.monotonic()
    kedro_run(project, "train", {"training.seed": seed, **params}, env=env)
    seconds = time.monotonic() - started
    return seconds, model_scores(reported_metrics(project))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--env", default="local", help="configuration environment (as make run)")
    parser.add_argument("--variant", action="append", default=None,
                        help="NAME:KEY=VALUE,... (training parameters); give two")  # fmt: skip
    args = parser.parse_args()
    variants = dict(parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS))
    if len(variants) != 2:
        parser.error("--variant: give two, with different names")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    (first, _), (second, _) = variants.items()
    print(f"CPU: {cpu_line()}")
    seconds: dict[tuple[str, int], float] = {}
    scores: dict[tuple[str, int], dict[str, float]] = {}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="img2img-make-run-") as tmp:
        for seed in seeds:
            for name, params in variants.items():
                seconds[name, seed], scores[name, seed] = timed_train_run(
                    Path(tmp), args.env, seed, name, params
                )
                print(f"{name} seed {seed}: {seconds[name, seed]:.0f} s", flush=True)
            ratios.append(seconds[first, seed] / seconds[second, seed])
            print(f"seed {seed}: {first} / {second} time {ratios[-1]:.3f}", flush=True)
    rows = [(f"{name} seed {seed}", scores[name, seed]) for seed in seeds for name in variants]
    for name in variants:
        rows.append((f"{name} mean", mean_scores([scores[name, seed] for seed in seeds])))
    print(table(rows))
    print(
        f"time {first} / {second}: median {statistics.median(ratios):.3f} over {len(seeds)} seed(s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
