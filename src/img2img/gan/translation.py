"""Run a trained generator on uint8 images: batched, ``no_grad``, CPU or GPU.

Test-time behaviour follows a parameter, as pix2pix leaves it open:

* ``test_mode="train"`` (the pix2pix paper and reference code: the generator is left in training
  mode at test time, batch size 1): dropout stays on and batch norm normalises each image with its
  own statistics. Batch norm layers are swapped for an equivalent per-image normalisation with the
  same affine parameters, so batching does not change any image's result, and running statistics
  are never updated.
* ``test_mode="eval"``: ``model.eval()``: dropout off, batch norm with its running statistics.

Outputs in [-1, 1] are quantised to uint8 exactly once: ``((x + 1) / 2 * 255).round().clamp(0, 255)``.
:func:`sample_grid` lays sources, outputs and targets side by side (the training sample grids).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TEST_MODES = ("train", "eval")


class PerImageBatchNorm(nn.Module):
    """BatchNorm in training mode as it behaves with batch size 1, for any batch size."""

    def __init__(self, norm: nn.modules.batchnorm._BatchNorm) -> None:
        super().__init__()
        self.weight = norm.weight
        self.bias = norm.bias
        self.eps = norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


def _swap_batch_norm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, PerImageBatchNorm(child))
        else:
            _swap_batch_norm(child)


def prepare_for_test(generator: nn.Module, test_mode: str) -> nn.Module:
    """A copy of ``generator`` set up for ``test_mode`` (the original is left untouched)."""
    if test_mode not in TEST_MODES:
        raise ValueError(f"test_mode must be one of {TEST_MODES}, got {test_mode!r}")
    model = copy.deepcopy(generator)
    if test_mode == "eval":
        return model.eval()
    _swap_batch_norm(model)
    return model.train()


def to_model_input(images_u8: torch.Tensor, device: torch.device) -> torch.Tensor:
    return images_u8.to(device=device, dtype=torch.float32).div_(127.5).sub_(1.0)


def quantize_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8, the one quantisation every metric sees."""
    return ((x + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """Central ``size``×``size`` window of N×C×H×W images (they must be at least that large)."""
    height, width = images.shape[-2:]
    if height < size or width < size:
        raise ValueError(f"images are {height}x{width}, smaller than the crop {size}x{size}")
    top, left = (height - size) // 2, (width - size) // 2
    return images[..., top : top + size, left : left + size]


def batches(count: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, count, batch_size):
        yield slice(start, min(count, start + batch_size))


@torch.no_grad()
def translate_images(
    generator: nn.Module,
    source_u8: torch.Tensor,
    *,
    test_mode: str = "train",
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> torch.Tensor:
    """uint8 N×3×H×W sources -> uint8 N×3×H×W translations (on the CPU).

    ``seed`` fixes the dropout noise of ``test_mode="train"``, so a rerun gives the same images.
    """
    device = torch.device(device)
    model = prepare_for_test(generator, test_mode).to(device)
    outputs = torch.empty_like(source_u8, device="cpu")
    fork_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        for window in batches(len(source_u8), batch_size):
            generated = model(to_model_input(source_u8[window], device))
            outputs[window] = quantize_to_uint8(generated.float()).cpu()
    return outputs


def sample_grid(
    generator: nn.Module,
    source_u8: torch.Tensor,
    target_u8: torch.Tensor,
    crop_size: int,
    device: torch.device,
) -> np.ndarray:
    """Rows of ``source | generated | target`` (center crops), as an H×W×3 uint8 array."""
    source = center_crop(source_u8, crop_size)
    target = center_crop(target_u8, crop_size)
    generated = translate_images(
        generator, source, test_mode="train", batch_size=len(source), device=device, seed=0
    )
    rows = torch.cat([source, generated, target], dim=3)  # N×3×H×3W
    grid = torch.cat(list(rows), dim=1)  # 3×(N·H)×3W
    return grid.permute(1, 2, 0).contiguous().numpy()
