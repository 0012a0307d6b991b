"""Deployable exports of a trained generator: TorchScript and ONNX, checked against eager PyTorch.

The deployable network is the generator as evaluated in ``test_mode="train"`` (batch norm with each
image's own statistics, see :mod:`img2img.translate`) with dropout switched off, so that a service
answers the same image with the same output. Both exports take float N×3×H×W images in [-1, 1] and
accept any batch size and any H, W divisible by the generator's ``size_multiple`` (2**depth for the
U-Net). :func:`check_parity` runs eager, TorchScript and ONNX (onnxruntime) on the same inputs and
fails when they differ by more than the tolerance.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.networks import set_fast_path
from img2img.translate import prepare_for_test

ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-4


class ExportParityError(RuntimeError):
    """An export disagrees with the eager model."""


def deployable_generator(artifact: GeneratorArtifact) -> nn.Module:
    """Eager module as exported: per-image normalisation, no dropout, standard kernels."""
    model = prepare_for_test(artifact.build(), "train")
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    set_fast_path(model, False)  # the standard transposed convolution exports everywhere
    return model.eval()


def example_input(artifact: GeneratorArtifact, batch: int = 1, scale: int = 1) -> torch.Tensor:
    size = artifact.size_multiple * scale
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


EXTRA_FILE = "img2img.json"  # metadata inside the TorchScript archive: {"size_multiple": ...}


def to_torchscript(
    model: nn.Module, example: torch.Tensor, metadata: Mapping[str, Any] | None = None
) -> bytes:
    """Traced TorchScript bytes; ``metadata`` is stored in the archive as ``img2img.json``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of torch.jit in recent releases
        traced = torch.jit.trace(model, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={EXTRA_FILE: json.dumps(dict(metadata or {}))})
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


def load_torchscript(
    data: bytes | str, device: str = "cpu"
) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """(module, metadata) from TorchScript bytes or a file path."""
    extra = {EXTRA_FILE: ""}
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(source, map_location=device, _extra_files=extra).eval()
    return module, json.loads(extra[EXTRA_FILE] or "{}")


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
