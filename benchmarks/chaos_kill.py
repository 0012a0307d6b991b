"""kill -9 the `train` pipeline at many seeded random moments; re-run after each and check.

    python benchmarks/chaos_kill.py [--kills 24] [--seed 0] [--env ci] [--max-delay 3.0]

Each round picks a node (every node once per shuffled cycle) and a delay, SIGKILLs the whole
``kedro run`` process group that long after the node starts, re-runs the pipeline to completion,
then checks what a user would check: every output loads, the three caches are one data generation,
no temporary debris under data/, no model version with an unfinished registration (tests/chaos.py).
Runs in a scratch copy of the project with its own SQLite MLflow store. Prints one line per round
and the count of kills that landed mid-run; exits 1 at the first round that leaves a problem.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package: the harness

from tests.chaos import draw_kills, problems_left, run_and_kill, run_to_completion
from tests.kedro_project import make_project_copy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default="ci")
    parser.add_argument("--pipeline", default="train")
    parser.add_argument("--max-delay", type=float, default=3.0, help="seconds after a node starts")
    args = parser.parse_args()

    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    with tempfile.TemporaryDirectory(prefix="img2img-chaos-") as tmp:
        project = make_project_copy(Path(tmp) / "project")
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ["MLFLOW_TRACKING_URI"] = uri
        bootstrap_project(project)
        nodes = sorted(node.name for node in pipelines[args.pipeline].nodes)
        landed, started = 0, time.monotonic()
        draws = draw_kills(nodes, args.kills, args.seed, args.max_delay)
        for index, (node, delay) in enumerate(draws, 1):
            kill = run_and_kill(project, args.pipeline, args.env, node, delay)
            run_to_completion(project, args.pipeline, args.env)
            os.chdir(project)
            problems = problems_left(project, args.pipeline, args.env, uri)
            landed += kill.killed
            state = "killed" if kill.killed else "finished first"
            print(f"{index:3d}/{len(draws)} {node:<20} +{delay:4.2f} s  {state:<14} "
                  f"re-run ok, {len(problems)} problem(s)", flush=True)  # fmt: skip
            if problems:
                print("\n".join(f"    {p}" for p in problems))
                return 1
        minutes = (time.monotonic() - started) / 60
        print(f"{landed} of {len(draws)} kills landed mid-run ({minutes:.1f} min); "
              "every re-run completed and left nothing wrong")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
