"""Batches from uint8 tensor caches with pix2pix jitter, on the training device.

Jitter (identical for source and target): resize to ``load_size`` if the cache has another size,
random ``crop_size`` crop, random horizontal flip. The order and the jitter of every epoch come from a
generator seeded with ``(seed, epoch)``, so an epoch is the same whether or not training was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def to_unit_range(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images_u8.float().div_(127.5).sub_(1.0)


def resize_if_needed(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False).clamp_(
        -1, 1
    )


def iterate_batches(
    source_u8: torch.Tensor,
    target_u8: torch.Tensor,
    *,
    batch_size: int,
    load_size: int,
    crop_size: int,
    flip: bool,
    seed: int,
    epoch: int,
    device: torch.device,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(source, target)`` float batches in [-1, 1] for one epoch."""
    count = len(source_u8)
    rng = epoch_generator(seed, epoch)
    order = torch.randperm(count, generator=rng)
    # All random numbers of the epoch are drawn up front: the batches do not depend on timing.
    offsets = torch.randint(0, load_size - crop_size + 1, (count, 2), generator=rng)
    flips = torch.rand(count, generator=rng) < 0.5 if flip else torch.zeros(count, dtype=torch.bool)
    stop = count - count % batch_size if drop_last and count >= batch_size else count
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        pair = torch.cat([source_u8[index], target_u8[index]], dim=1).to(device, non_blocking=True)
        pair = resize_if_needed(to_unit_range(pair), load_size)
        crops = []
        for row in range(len(index)):
            top, left = offsets[start + row].tolist()
            crop = pair[row, :, top : top + crop_size, left : left + crop_size]
            crops.append(crop.flip(-1) if flips[start + row] else crop)
        batch = torch.stack(crops)
        yield batch[:, :3].contiguous(), batch[:, 3:].contiguous()
