"""Batches from uint8 tensor caches with pix2pix jitter, on the training device.

Jitter (identical for source and target): resize to ``load_size`` if the cache has another size,
random ``crop_size`` crop, random horizontal flip. The order and the jitter of every epoch come from a
generator seeded with ``(seed, epoch)``, so an epoch is the same whether or not training was resumed.

Data-parallel training: every process draws the same epoch order and jitter and takes its own
contiguous share of each global batch of ``batch_size x world_size`` images, so ``world_size``
processes with batch ``b`` see exactly the batches one process with batch ``b x world_size`` sees.
When the pair count is not a multiple of ``world_size``, the order is padded with its first pairs
(as ``torch.utils.data.DistributedSampler`` does) so that every process has as many images.
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
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(source, target)`` float batches in [-1, 1] for one epoch (this process's share)."""
    count = len(source_u8)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
    rng = epoch_generator(seed, epoch)
    order = torch.randperm(count, generator=rng)
    # All random numbers of the epoch are drawn up front: the batches do not depend on timing.
    offsets = torch.randint(0, load_size - crop_size + 1, (count, 2), generator=rng)
    flips = torch.rand(count, generator=rng) < 0.5 if flip else torch.zeros(count, dtype=torch.bool)
    positions = torch.arange(padded_count(count, world_size)) % count
    global_batch = batch_size * world_size
    stop = len(positions)
    if drop_last and stop >= global_batch:
        stop -= stop % global_batch
    for start in range(0, stop, global_batch):
        chunk = positions[start : min(start + global_batch, stop)]
        share = len(chunk) // world_size
        mine = chunk[rank * share : (rank + 1) * share]
        index = order[mine]
        pair = torch.cat([source_u8[index], target_u8[index]], dim=1).to(device, non_blocking=True)
        pair = resize_if_needed(to_unit_range(pair), load_size)
        crops = []
        for row, position in enumerate(mine.tolist()):
            top, left = offsets[position].tolist()
            crop = pair[row, :, top : top + crop_size, left : left + crop_size]
            crops.append(crop.flip(-1) if flips[position] else crop)
        batch = torch.stack(crops)
        yield batch[:, :3].contiguous(), batch[:, 3:].contiguous()


def padded_count(count: int, world_size: int) -> int:
    """``count`` rounded up to a multiple of ``world_size`` (pairs per epoch over all processes)."""
    return -(-count // world_size) * world_size


def steps_per_epoch(count: int, batch_size: int, world_size: int = 1) -> int:
    return -(-padded_count(count, world_size) // (batch_size * world_size))
