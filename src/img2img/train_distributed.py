"""Training on several machines: run the ``training`` pipeline in every process of a ``torchrun`` group.

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        -m img2img.train_distributed --env gpu [--params training.batch_size=2]

Every process reads the same parameters and catalog (``--env``, ``--params``, run from the project
root, with ``data/05_model_input`` on storage every node sees). Process 0 runs the pipeline as
``kedro run --pipelines=training`` does (hooks, MLflow run, catalog saves); every other process
loads the node inputs from the catalog, trains its share in the same process group, and saves
nothing. On one machine, ``training.distributed.nproc_per_node`` with a plain ``kedro run`` does the
same without torchrun.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def parse_params(text: str | None) -> dict[str, Any]:
    """``kedro run --params`` syntax and meaning: ``a.b=1,c=x`` -> ``{"a": {"b": 1}, "c": "x"}``."""
    from omegaconf import OmegaConf

    items = [part.strip() for part in (text or "").split(",") if part.strip()]
    for item in items:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--params: {item!r} is not KEY=VALUE")
    return OmegaConf.to_container(OmegaConf.from_dotlist(items))


def run(project_path: Path, env: str | None, pipeline_name: str, params: dict[str, Any]) -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from img2img.gan.collectives import DistributedContext

    context = DistributedContext.from_environment()
    if not context.enabled:
        raise SystemExit(
            "img2img.train_distributed runs under torchrun with WORLD_SIZE > 1 (see the README, "
            "'Scaling out'); on one machine use `kedro run --pipelines=training "
            "--params training.distributed.nproc_per_node=N`"
        )
    bootstrap_project(project_path)
    pipeline = pipelines[pipeline_name]
    produced = {output for node in pipeline.nodes for output in node.outputs}
    inner = sorted({i for node in pipeline.nodes for i in node.inputs if i in produced})
    if inner:
        raise SystemExit(
            f"pipeline {pipeline_name!r} passes {inner} between its own nodes; every process must "
            "load its inputs from the catalog, so run those producing nodes first"
        )
    with KedroSession.create(project_path=project_path, env=env, runtime_params=params) as session:
        if context.is_main:
            session.run(pipeline_names=[pipeline_name])
            return
        catalog = session.load_context().catalog
        for node in pipeline.nodes:
            node.run({name: catalog.load(name) for name in node.inputs})  # outputs: process 0's


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m img2img.train_distributed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--env", default=None, help="Kedro configuration environment")
    parser.add_argument("--pipeline", default="training", help="default: training")
    parser.add_argument("--params", default=None, help="as kedro run --params: a.b=1,c=x")
    parser.add_argument("--project-path", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    run(args.project_path.resolve(), args.env, args.pipeline, parse_params(args.params))


if __name__ == "__main__":
    main()
