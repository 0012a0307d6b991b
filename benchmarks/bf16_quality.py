"""Quality parity of bf16 autocast: the default recipe trained in fp32 and in bf16 for the same
steps on a real dataset, scored on its held-out split, with fp32's seed-to-seed spread as the noise.

    python benchmarks/bf16_quality.py [--dataset DIR] [--epochs 3 --epochs-decay 2] [--seeds 0,1]

Default dataset: ../shared/datasets/edges2shoes_handbags (2,000 train / 400 val aligned pairs, photo
left: edges -> photo is BtoA; no test folder, so the score is on val). Every run: conf/base's
training recipe, `init_from: none`, only `training.amp` and `training.seed` varied. fp32 runs for
every seed give the band [min, max] of each metric; each bf16 run, and the bf16 mean over several
seeds, is inside it, better or WORSE (printed per metric). On a CPU without bf16 units bf16 is
emulated: slow, but the comparison still holds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _quality import (
    DEFAULT_DATASET,
    METRICS,
    cpu_line,
    mean_scores,
    prepare,
    table,
    train_and_score,
)

HIGHER_IS_BETTER = {"ssim", "psnr"}


def verdict(metric: str, value: float, band: list[dict[str, float]]) -> str:
    """``fid inside [204.7, 208.3]``, or ``better`` / ``WORSE`` outside the fp32 band."""
    low, high = min(r[metric] for r in band), max(r[metric] for r in band)
    if low <= value <= high:
        where = "inside"
    else:
        where = "better" if (value > high) == (metric in HIGHER_IS_BETTER) else "WORSE"
    return f"{metric} {value:.4g} {where} [{low:.4g}, {high:.4g}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--direction", default="BtoA")
    parser.add_argument("--load-size", type=int, default=None, help="default: conf/base's")
    parser.add_argument("--split", default="val")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--epochs-decay", type=int, default=2)
    parser.add_argument("--seeds", default="0,1", help="fp32 seeds (the band); bf16 runs the first")
    parser.add_argument("--bf16-seeds", default=None, help="default: the first fp32 seed")
    args = parser.parse_args()
    if not args.dataset.is_dir():
        print(f"{args.dataset}: dataset folder not found", file=sys.stderr)
        return 2
    seeds = [int(s) for s in args.seeds.split(",")]
    bf16_seeds = [int(s) for s in (args.bf16_seeds or str(seeds[0])).split(",")]
    print(f"CPU: {cpu_line()}")
    schedule = {"training.epochs": args.epochs, "training.epochs_decay": args.epochs_decay}
    rows, scores = [], {}
    with tempfile.TemporaryDirectory(prefix="img2img-bf16-") as tmp:
        project, data = prepare(Path(tmp), args.dataset, args.direction, args.load_size)
        runs = [("fp32", s) for s in seeds] + [("bf16", s) for s in bf16_seeds]
        for amp, seed in runs:
            result = train_and_score(project, data, {**schedule, "training.amp": amp,
                                                     "training.seed": seed}, args.split)  # fmt: skip
            scores[(amp, seed)] = result
            rows.append((f"{amp} seed {seed}", result.model))
            print(f"{amp} seed {seed}: {result.history_rows} epochs in {result.train_seconds:.0f} s "
                  f"({result.precision})", flush=True)  # fmt: skip
        baselines = next(iter(scores.values())).baselines
    fp32 = [scores[("fp32", s)].model for s in seeds]
    bf16_runs = {f"bf16 seed {s}": scores[("bf16", s)].model for s in bf16_seeds}
    if len(bf16_seeds) > 1:
        bf16_runs["bf16 mean"] = mean_scores(list(bf16_runs.values()))
    rows += [("fp32 mean", mean_scores(fp32))] if len(seeds) > 1 else []
    rows += [(name, values) for name, values in bf16_runs.items() if name == "bf16 mean"]
    rows += [(f"baseline {name}", values) for name, values in baselines.items()]
    print(table(rows))
    for name, values in bf16_runs.items():
        print(
            f"{name} vs the fp32 band: " + "; ".join(verdict(m, values[m], fp32) for m in METRICS)
        )
    speed = {amp: sum(r.train_seconds for (a, _), r in scores.items() if a == amp) /
             sum(1 for a, _ in scores if a == amp) for amp in ("fp32", "bf16")}  # fmt: skip
    print(f"training time per run: fp32 {speed['fp32']:.0f} s, bf16 {speed['bf16']:.0f} s "
          f"({speed['fp32'] / speed['bf16']:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
