"""Nodes of the packaging pipeline: thin calls into :mod:`img2img.packaging`."""

from __future__ import annotations

import logging
from typing import Any

from img2img.evaluation.champion import GateComparison
from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
from img2img.inference.model import ExportMetadata, deployable_generator
from img2img.mlflow_outage import OUTAGE
from img2img.packaging.card import render_model_card
from img2img.packaging.config import PackagingConfig
from img2img.packaging.export import check_parity, example_input, to_exported_program, to_onnx
from img2img.packaging.gate import decide, register_and_decide

logger = logging.getLogger(__name__)


def export_generator(
    generator: GeneratorArtifact, params: dict[str, Any]
) -> tuple[bytes, bytes, dict]:
    """``torch.export`` program and ONNX exports, checked against the eager model on two batch
    sizes and sizes."""
    config = PackagingConfig.from_params(params)
    model = deployable_generator(generator)
    program = to_exported_program(model, ExportMetadata.of(generator))
    onnx_model = to_onnx(model, example_input(generator))
    inputs = [example_input(generator, batch=1), example_input(generator, batch=2, scale=2)]
    parity = check_parity(model, program, onnx_model, inputs, config.parity_tolerance)
    logger.info("Exports agree with the eager generator: %s", parity["max_abs_diff"])
    return program, onnx_model, parity


def register_generator(
    generator: GeneratorArtifact, discriminator: DiscriminatorArtifact, generator_program: bytes,
    generator_onnx: bytes, metrics: dict, metric_conventions: dict, gate_comparison: dict,
    export_parity: dict, params: dict[str, Any],
) -> tuple[str, dict]:  # fmt: skip
    """Register the model (program and ONNX: the pyfunc runs the faster that passes parity),
    let the gate decide champion or challenger, and write the model card."""
    config = PackagingConfig.from_params(params)
    comparison = GateComparison.from_dict(gate_comparison)
    decision = decide(comparison, metrics.get("baselines", {}), config.gate)
    registered, outcome = None, "packaging.register is false"
    if config.register:
        registered = OUTAGE.call(
            "model registration", f"{config.model_name} from this run",
            register_and_decide, generator, discriminator, generator_program, decision, config,
            onnx_model=generator_onnx,
        )  # fmt: skip
        if registered is None:
            outcome = "the MLflow tracking server was unreachable"
    card = render_model_card(model_name=config.model_name, artifact=generator, metrics=metrics,
                             conventions=metric_conventions, comparison=comparison,
                             parity=export_parity, decision=registered,
                             outcome=outcome)  # fmt: skip
    record = registered.to_dict() if registered else {**decision.to_dict(), "alias": None,
                                                      "reason": f"not registered: {outcome}",
                                                      "gate_would_decide": decision.alias}  # fmt: skip
    return card, record
