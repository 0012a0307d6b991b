"""Generator exports for tests: TorchScript as packaging wrote it before the ``torch.export``
program replaced it. Files and registered versions of that time must still load and translate."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

from img2img.inference.model import EXTRA_FILE, ExportMetadata


def legacy_torchscript(model: nn.Module, example: torch.Tensor, metadata: ExportMetadata) -> bytes:
    """Traced TorchScript bytes with ``metadata`` inside, byte for byte as older packaging wrote."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of torch.jit
        traced = torch.jit.trace(model, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer, _extra_files={EXTRA_FILE: metadata.to_json()})
    return buffer.getvalue()
