"""Fail before work: every parameter block a run reads is checked before its first node.

Each stage validates its block with one typed config (``<Stage>Config.from_params``); the nodes do
the same when they run. :class:`PreflightHook` runs all of them on the blocks the run's nodes read
(``params:training``, ``params:packaging.model_name`` → ``packaging``, ...) before the first node,
so ``kedro run --params evaluation.split=bogus`` stops at once, not after training, and every bad
value of every block is reported together.

The hook also sweeps the scratch folder (:mod:`img2img.scratch`) of temporaries left by killed runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from img2img.config import ParameterError
from img2img.evaluation.config import EvaluationConfig
from img2img.gan.config import TrainConfig
from img2img.inference.config import InferenceConfig
from img2img.ingest.config import DataProcessingConfig
from img2img.packaging.config import PackagingConfig
from img2img.scratch import sweep, use_scratch_root

logger = logging.getLogger(__name__)


def _training(parameters: Mapping[str, Any]) -> TrainConfig:
    """As the training node builds it: ``load_size: null`` is the preprocessed size, which the
    node reads from the caches and which data_processing makes from its own parameter."""
    training = dict(parameters.get("training") or {})
    if training.get("load_size") is None:
        try:
            preprocess = DataProcessingConfig.from_params(parameters.get("data_processing"))
        except ParameterError:
            preprocess = DataProcessingConfig()  # its own errors are reported with its block
        training["load_size"] = preprocess.preprocess.load_size
    return TrainConfig.from_params(training)


# Each block's validation, given all the parameters.
VALIDATORS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "data_processing": lambda p: DataProcessingConfig.from_params(p.get("data_processing")),
    "training": _training,
    "evaluation": lambda p: EvaluationConfig.from_params(p.get("evaluation")),
    "packaging": lambda p: PackagingConfig.from_params(p.get("packaging")),
    "inference": lambda p: InferenceConfig.from_params(p.get("inference")),
}
SCRATCH = Path("data") / ".tmp"  # relative to the project: the temporaries of running processes


def blocks_read(inputs: Iterable[str]) -> list[str]:
    """The parameter blocks that node ``inputs`` read (``parameters`` reads them all)."""
    blocks: set[str] = set()
    for name in inputs:
        if name == "parameters":
            blocks.update(VALIDATORS)
        elif name.startswith("params:"):
            blocks.add(name.removeprefix("params:").split(".")[0])
    return sorted(blocks)


def validate_blocks(parameters: Mapping[str, Any], blocks: Iterable[str]) -> None:
    """Raise one :class:`ParameterError` naming every bad value of every block in ``blocks``."""
    problems = []
    for block in blocks:
        validate = VALIDATORS.get(block)
        if validate is None:
            continue
        try:
            validate(parameters)
        except ParameterError as exc:
            problems += exc.problems
    if problems:
        raise ParameterError(
            f"{len(problems)} bad parameter(s); nothing was run:\n- " + "\n- ".join(problems),
            problems,
        )


class PreflightHook:
    """Sweeps dead runs' temporaries when the context is created; validates before any node."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        root = use_scratch_root(Path(context.project_path) / SCRATCH)
        removed = sweep(root)
        if removed:
            logger.info("Removed %d temporary folder(s) of killed runs from %s", len(removed), root)

    @hook_impl(tryfirst=True)  # before kedro-mlflow opens a run for a run that will not happen
    def before_pipeline_run(self, run_params: Any, pipeline: Any, catalog: Any) -> None:
        blocks = blocks_read(name for node in pipeline.nodes for name in node.inputs)
        validate_blocks(catalog.load("parameters"), blocks)
