"""`make run` in bf16 against fp32: the whole ``train`` pipeline on the built-in dataset, timed
from outside and scored, with ``training.amp`` the only difference.

    python benchmarks/make_run_amp.py [--seeds 0,1] [--env local]

Each run is ``kedro run --pipelines=train --params training.seed=S,training.amp=A`` in its own
fresh scratch copy of the project (empty data/, its own MLflow store), as a first ``make run``
would be: data generation, training, evaluation, export and registration all count. The two
precisions alternate (auto, fp32, auto, fp32, ...) so that a machine whose speed drifts affects
both; per seed the time ratio auto / fp32 is printed, then the scores of every run and the mean of
each precision. ``amp: auto`` is bf16 on a CPU with bf16 units and fp32 elsewhere (then the ratio
is ~1).
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
    reported_metrics,
    table,
)

PRECISIONS = ("auto", "fp32")


def timed_train_run(workdir: Path, env: str, seed: int, amp: str) -> tuple[float, dict[str, float]]:
    """Seconds of one fresh ``train`` pipeline run, and the model's scores."""
    project = make_project_copy(workdir / f"{amp}-seed{seed}")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    started = time.monotonic()
    kedro_run(project, "train", {"training.seed": seed, "training.amp": amp}, env=env)
    seconds = time.monotonic() - started
    return seconds, model_scores(reported_metrics(project))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--env", default="local", help="configuration environment (as make run)")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(f"CPU: {cpu_line()}")
    seconds: dict[tuple[str, int], float] = {}
    scores: dict[tuple[str, int], dict[str, float]] = {}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="img2img-make-run-") as tmp:
        for seed in seeds:
            for amp in PRECISIONS:
                seconds[amp, seed], scores[amp, seed] = timed_train_run(
                    Path(tmp), args.env, seed, amp
                )
                print(f"amp {amp} seed {seed}: {seconds[amp, seed]:.0f} s", flush=True)
            ratios.append(seconds["auto", seed] / seconds["fp32", seed])
            print(f"seed {seed}: auto / fp32 time {ratios[-1]:.3f}", flush=True)
    rows = [(f"{amp} seed {seed}", scores[amp, seed]) for seed in seeds for amp in PRECISIONS]
    for amp in PRECISIONS:
        rows.append((f"{amp} mean", mean_scores([scores[amp, seed] for seed in seeds])))
    print(table(rows))
    print(f"time auto / fp32: median {statistics.median(ratios):.3f} over {len(seeds)} seed(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
