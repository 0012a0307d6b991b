"""Nodes of the packaging pipeline: thin calls into :mod:`img2img.packaging`."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from img2img.mlflow_outage import OUTAGE
from img2img.packaging.card import render_model_card
from img2img.packaging.config import PackagingConfig
from img2img.packaging.export import (
    check_parity,
    deployable_generator,
    example_input,
    to_onnx,
    to_torchscript,
)
from img2img.packaging.pyfunc import SIGNATURE, GeneratorPyfunc
from img2img.packaging.registry import choose_gate_metric, promote

logger = logging.getLogger(__name__)


def export_generator(generator: dict, params: dict[str, Any]) -> tuple[bytes, bytes, dict]:
    """TorchScript and ONNX exports, checked against the eager model on two batch sizes and sizes."""
    config = PackagingConfig.from_params(params)
    model = deployable_generator(generator)
    metadata = {"size_multiple": int(generator["architecture"]["size_multiple"])}
    torchscript = to_torchscript(model, example_input(generator), metadata)
    onnx_model = to_onnx(model, example_input(generator))
    inputs = [example_input(generator, batch=1), example_input(generator, batch=2, scale=2)]
    parity = check_parity(model, torchscript, onnx_model, inputs, config.parity_tolerance)
    logger.info("Exports agree with the eager generator: %s", parity["max_abs_diff"])
    return torchscript, onnx_model, parity


def register_generator(
    generator: dict, generator_torchscript: bytes, metrics: dict, pairs: pd.DataFrame,
    export_parity: dict, params: dict[str, Any],
) -> tuple[str, dict]:  # fmt: skip
    """Log the pyfunc model, register it, apply the promotion gate, and write the model card."""
    config = PackagingConfig.from_params(params)
    decision, outcome = None, {"alias": None, "reason": "packaging.register is false"}
    if config.register:
        gate = choose_gate_metric(metrics.get("model", {}), list(config.gate_metrics))
        decision = OUTAGE.call(
            "model registration", f"{config.model_name} from this run",
            _register, generator, generator_torchscript, gate, config,
        )  # fmt: skip
        if decision is None:
            outcome["reason"] = "not registered: the MLflow tracking server was unreachable"
    card = render_model_card(model_name=config.model_name, artifact=generator, metrics=metrics, pairs=pairs,
                             parity=export_parity, decision=decision)  # fmt: skip
    return card, decision or outcome


def _register(
    generator: dict, generator_torchscript: bytes, gate: tuple[str, float, bool], config: PackagingConfig
) -> dict:  # fmt: skip
    """Log the pyfunc model, register it as a new version and apply the promotion gate."""
    metric, value, higher = gate
    with tempfile.TemporaryDirectory() as tmp:
        script_path, config_path = Path(tmp) / "generator.pt", Path(tmp) / "config.json"
        script_path.write_bytes(generator_torchscript)
        config_path.write_text(
            json.dumps({"size_multiple": generator["architecture"]["size_multiple"]})
        )
        size = int(generator["architecture"]["size_multiple"])
        example = np.zeros((1, size, size, 3), dtype=np.uint8)
        info = mlflow.pyfunc.log_model(
            name="generator_pyfunc", python_model=GeneratorPyfunc(),
            artifacts={"generator": str(script_path), "config": str(config_path)},
            signature=SIGNATURE, input_example=example, registered_model_name=config.model_name,
        )  # fmt: skip
    decision = promote(MlflowClient(), config.model_name, str(info.registered_model_version), metric,
                       value, higher, config.gate_margin).to_dict()  # fmt: skip
    logger.info("Registered %s version %s as %s: %s", config.model_name, decision["version"],
                decision["alias"], decision["reason"])  # fmt: skip
    return decision
