"""Quality for a CPU time budget: the recipe trained for M minutes (training.time_budget_minutes) on
a real dataset, scored on its held-out split next to the copy-source and mean-target baselines.

    python benchmarks/quality_budget.py --minutes 15 [--dataset DIR] [--variant NAME:KEY=VALUE,...]

Default dataset: ../shared/datasets/edges2shoes_handbags (BtoA, scored on val). Default variants:
``amp-auto`` (conf/base as is: bf16 on a CPU with bf16 units) and ``fp32`` (training.amp=fp32), the
two rows #12 asks for; ``--variant`` replaces them (repeatable), e.g.
``--variant "lr4e-4:training.optimizer.lr=0.0004"``. Each variant is a fresh run from scratch in a
scratch copy of the project; the budget covers the training call (model building included), not
ingestion or evaluation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _quality import DEFAULT_DATASET, cpu_line, parse_variant, prepare, table, train_and_score

DEFAULT_VARIANTS = ["amp-auto:", "fp32:training.amp=fp32"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--direction", default="BtoA")
    parser.add_argument("--load-size", type=int, default=None, help="default: conf/base's")
    parser.add_argument("--split", default="val")
    parser.add_argument("--variant", action="append", default=None)
    args = parser.parse_args()
    if not args.dataset.is_dir():
        print(f"{args.dataset}: dataset folder not found", file=sys.stderr)
        return 2
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    print(f"CPU: {cpu_line()}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="img2img-budget-") as tmp:
        project, data = prepare(Path(tmp), args.dataset, args.direction, args.load_size)
        for name, params in variants:
            result = train_and_score(project, data, {"training.time_budget_minutes": args.minutes,
                                                     **params}, args.split)  # fmt: skip
            rows.append((f"{name} ({args.minutes:g} min)", result.model))
            print(f"{name}: {result.history_rows} epochs in {result.train_seconds:.0f} s "
                  f"({result.precision})", flush=True)  # fmt: skip
        rows += [(f"baseline {name}", values) for name, values in result.baselines.items()]
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
