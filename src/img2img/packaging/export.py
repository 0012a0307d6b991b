"""Deployable exports of a trained generator: a ``torch.export`` program and ONNX, checked against
eager PyTorch.

The deployable network (:func:`img2img.inference.model.deployable_generator`) is the generator as
evaluated in ``test_mode="train"`` (batch norm with each image's own statistics) with dropout
switched off, so that a service answers the same image with the same output. Both exports take
float N×3×H×W images in [-1, 1] and accept any batch size and any H, W divisible by the
generator's ``size_multiple`` (2**depth for the U-Net). :func:`check_parity` runs eager, the
program (as :func:`img2img.inference.model.load_export` loads it) and ONNX (onnxruntime) on the
same inputs and fails when they differ by more than the tolerance.

The program (``.pt2``) replaces the TorchScript export of earlier versions: ``torch.jit`` is
deprecated in this torch. It is exported with symbolic batch and sides (``size_multiple`` ×
a symbol) and size-oblivious reasoning, so one program serves every size, the 1×1 bottleneck of
an input exactly ``size_multiple`` square included (without it, torch.export assumes a side of
1 never occurs and guards against it).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import torch
import torch.fx.experimental._config as fx_config
from torch import nn

from img2img.gan.artifact import GeneratorArtifact
from img2img.inference.model import EXTRA_FILE, ExportMetadata, load_export
from img2img.packaging.config import PARITY_TOLERANCE

ONNX_OPSET = 17


class ExportParityError(RuntimeError):
    """An export disagrees with the eager model."""


def example_input(artifact: GeneratorArtifact, batch: int = 1, scale: int = 1) -> torch.Tensor:
    size = artifact.size_multiple * scale
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def to_exported_program(model: nn.Module, metadata: ExportMetadata) -> bytes:
    """``torch.export`` program bytes (``.pt2``) for any batch and any sides that are multiples of
    ``metadata.size_multiple``, with ``metadata`` inside the archive (:data:`EXTRA_FILE`)."""
    multiple = metadata.size_multiple
    # Traced on 2 images of 2 multiples square: sizes 0 and 1 would be specialised as constants.
    example = torch.rand(2, 3, 2 * multiple, 2 * multiple,
                         generator=torch.Generator().manual_seed(0)) * 2 - 1  # fmt: skip
    batch = torch.export.Dim("batch", min=1)
    rows, columns = torch.export.Dim("rows", min=1), torch.export.Dim("columns", min=1)
    shapes = {"x": {0: batch, 2: multiple * rows, 3: multiple * columns}}
    with fx_config.patch(backed_size_oblivious=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (example,), dynamic_shapes=shapes)
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={EXTRA_FILE: metadata.to_json()})
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
    model: nn.Module, program: bytes, onnx_model: bytes, inputs: list[torch.Tensor],
    tolerance: float = PARITY_TOLERANCE,
) -> dict[str, Any]:  # fmt: skip
    """Max |difference| of each export vs eager over ``inputs``; raises beyond ``tolerance``."""
    import onnxruntime

    loaded, _ = load_export(program)
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    worst = {"program": 0.0, "onnx": 0.0}
    shapes = []
    with torch.no_grad():
        for x in inputs:
            eager = model(x)
            worst["program"] = max(worst["program"], (loaded(x) - eager).abs().max().item())
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
