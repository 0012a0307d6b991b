"""Deployable exports of a trained generator: TorchScript and ONNX, checked against eager PyTorch.

The deployable network (:func:`img2img.inference.model.deployable_generator`) is the generator as
evaluated in ``test_mode="train"`` (batch norm with each image's own statistics) with dropout
switched off, so that a service answers the same image with the same output. Both exports take float N×3×H×W images in [-1, 1] and
accept any batch size and any H, W divisible by the generator's ``size_multiple`` (2**depth for the
U-Net). :func:`check_parity` runs eager, TorchScript and ONNX (onnxruntime) on the same inputs and
fails when they differ by more than the tolerance.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from img2img.gan.artifact import GeneratorArtifact
from img2img.inference.model import EXTRA_FILE, ExportMetadata, load_torchscript
from img2img.packaging.config import PARITY_TOLERANCE

ONNX_OPSET = 17


class ExportParityError(RuntimeError):
    """An export disagrees with the eager model."""


def example_input(artifact: GeneratorArtifact, batch: int = 1, scale: int = 1) -> torch.Tensor:
    size = artifact.size_multiple * scale
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def to_torchscript(model: nn.Module, example: torch.Tensor, metadata: ExportMetadata) -> bytes:
    """Traced TorchScript bytes, with ``metadata`` inside the archive (:data:`EXTRA_FILE`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of torch.jit in recent releases
        traced = torch.jit.trace(model, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={EXTRA_FILE: metadata.to_json()})
    return buffer.getvalue()


def to_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), buffer, input_names=["image"], output_names=["translated"],
            dynamic_axes={"image": axes, "translated": axes}, opset_version=ONNX_OPSET, dynamo=False,
        )  # fmt: skip
    return buffer.getvalue()


def check_parity(
    model: nn.Module, torchscript: bytes, onnx_model: bytes, inputs: list[torch.Tensor],
    tolerance: float = PARITY_TOLERANCE,
) -> dict[str, Any]:  # fmt: skip
    """Max |difference| of each export vs eager over ``inputs``; raises beyond ``tolerance``."""
    import onnxruntime

    scripted, _ = load_torchscript(torchscript)
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    worst = {"torchscript": 0.0, "onnx": 0.0}
    shapes = []
    with torch.no_grad():
        for x in inputs:
            eager = model(x)
            worst["torchscript"] = max(
                worst["torchscript"], (scripted(x) - eager).abs().max().item()
            )
            onnx_out = session.run(None, {"image": x.numpy()})[0]
            worst["onnx"] = max(worst["onnx"], float(np.abs(onnx_out - eager.numpy()).max()))
            shapes.append(list(x.shape))
    report = {"max_abs_diff": worst, "tolerance": tolerance, "input_shapes": shapes}
    failed = {name: diff for name, diff in worst.items() if not diff <= tolerance}
    if failed:
        raise ExportParityError(
            f"exports differ from the eager generator beyond {tolerance}: {failed}"
        )
    return report
