"""Where a process stands in a data-parallel run, and what the processes exchange.

:class:`DistributedContext` is this process's rank in the group (one process: rank 0 of 1). The
helpers below are no-ops with one process; with several (a default process group initialised by
:mod:`img2img.gan.launcher`) they agree on a skipped step, average the logged losses, find the
slowest speed for a time budget's plan and send process 0's resumed checkpoint and plan to the
others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


class DistributedTrainingError(RuntimeError):
    """A training process failed, or the environment describes no valid group; the message says which."""


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the group (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> DistributedContext:
        """The context ``torchrun``/``elastic_launch`` describe in RANK, WORLD_SIZE, LOCAL_RANK..."""
        environ = os.environ if environ is None else environ
        values = {}
        for key, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0),
                             ("LOCAL_WORLD_SIZE", None)):  # fmt: skip
            raw = environ.get(key)
            if raw is None or raw == "":
                values[key] = default
                continue
            try:
                values[key] = int(raw)
            except ValueError:
                raise DistributedTrainingError(
                    f"environment variable {key}={raw!r} is not an integer"
                ) from None
        world = values["WORLD_SIZE"]
        local_world = values["LOCAL_WORLD_SIZE"] or world
        if (
            world < 1
            or not 0 <= values["RANK"] < world
            or not 0 <= values["LOCAL_RANK"] < local_world
        ):
            raise DistributedTrainingError(
                f"inconsistent torch.distributed environment: RANK={values['RANK']} "
                f"LOCAL_RANK={values['LOCAL_RANK']} WORLD_SIZE={world} LOCAL_WORLD_SIZE={local_world}"
            )
        return cls(values["RANK"], world, values["LOCAL_RANK"], local_world)


def group_size() -> int:
    """Processes in the default group (1 when none is initialised)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_ranks_agree(flag: bool | torch.Tensor, device: torch.device) -> bool:
    """True when ``flag`` holds on every process (a non-finite loss anywhere skips the step everywhere)."""
    if group_size() == 1:
        return bool(flag)
    value = torch.as_tensor(flag, dtype=torch.float32, device=device).reshape(1)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def mean_over_ranks(values: list[float], device: torch.device) -> list[float]:
    """The mean of each number over all processes (the logged losses are those of the global batch)."""
    if group_size() == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64 if device.type == "cpu" else torch.float32,
                          device=device)  # fmt: skip
    dist.all_reduce(tensor)
    return (tensor / group_size()).tolist()


def max_over_ranks(value: float, device: torch.device) -> float:
    """The largest ``value`` of all processes (a time budget plans with the slowest one's speed)."""
    if group_size() == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64 if device.type == "cpu" else torch.float32,
                          device=device)  # fmt: skip
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def broadcast_from_main(obj: Any, device: torch.device) -> Any:
    """Process 0's ``obj`` on every process (pickled: the resumed checkpoint, a time budget's plan)."""
    if group_size() == 1:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0, device=device if device.type == "cuda" else None)
    return holder[0]
