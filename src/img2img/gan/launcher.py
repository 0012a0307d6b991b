"""Training in processes: the one place that starts, joins and leaves them.

:func:`launch_training` is the one entry point, typed ``TrainConfig`` + ``TrainingInputs`` ->
``TrainResult``: it trains in this process (one process), joins the group of processes that
``torchrun`` started (``WORLD_SIZE`` > 1 in the environment), or starts
``training.distributed.nproc_per_node`` local processes with ``elastic_launch`` (``torchrun
--standalone``'s launcher) and returns process 0's result.

Every process builds the same networks, wraps them in ``DistributedDataParallel`` (gradients are
averaged over processes after each backward pass) and trains on its own share of each global batch
(``batch_size`` images per process; see :func:`img2img.gan.data.iterate_batches`). Process 0 alone
writes checkpoints, logs progress and calls the tracking callbacks; on resume it reads the
checkpoint and sends it to the others (:mod:`img2img.gan.collectives`), so only process 0 needs to
see the checkpoint folder.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist

from img2img.gan.collectives import DistributedContext, DistributedTrainingError
from img2img.gan.config import TrainConfig
from img2img.gan.loop import TrainingInputs, TrainResult, train_gan_model
from img2img.gan.runtime import select_device

logger = logging.getLogger(__name__)


def resolve_nproc(nproc_per_node: int | str) -> int:
    """``training.distributed.nproc_per_node``: ``auto`` = number of GPUs (1 without any)."""
    if nproc_per_node == "auto":
        return max(1, torch.cuda.device_count())
    return int(nproc_per_node)


def resolve_backend(backend: str, device: torch.device) -> str:
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise DistributedTrainingError(
            "training.distributed.backend nccl needs CUDA devices; use gloo (or auto) on the CPU"
        )
    return backend


def process_device(device: torch.device, context: DistributedContext) -> torch.device:
    """One GPU per process: ``cuda:LOCAL_RANK`` when training on CUDA with several processes."""
    if device.type != "cuda" or not context.enabled:
        return device
    if context.local_rank >= torch.cuda.device_count():
        raise DistributedTrainingError(
            f"process with LOCAL_RANK {context.local_rank} has no GPU: this node has "
            f"{torch.cuda.device_count()}; start at most that many processes per node"
        )
    device = torch.device("cuda", context.local_rank)
    torch.cuda.set_device(device)
    return device


@contextlib.contextmanager
def process_group(
    context: DistributedContext,
    device: torch.device,
    backend: str = "auto",
    timeout_minutes: int = 30,
) -> Iterator[None]:
    """Join (and afterwards leave) the default process group when there are several processes."""
    if not context.enabled or dist.is_initialized():
        yield
        return
    dist.init_process_group(
        resolve_backend(backend, device), timeout=datetime.timedelta(minutes=timeout_minutes)
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


def share_cpu_threads(context: DistributedContext, num_threads: int | None) -> None:
    """Split the CPU cores between the processes of a node unless training.num_threads is set."""
    if context.local_world_size > 1 and num_threads is None and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // context.local_world_size))


def _configure_worker_logging(context: DistributedContext) -> None:
    """Process 0 logs training progress (INFO), the others only warnings, in a fresh process too
    (where Kedro's logging configuration, if any, leaves the project's INFO lines out)."""
    level = logging.INFO if context.is_main else logging.WARNING
    if not logging.getLogger().handlers:
        logging.basicConfig(format=f"[rank {context.rank}] %(levelname)s %(message)s")
    logging.getLogger("img2img").setLevel(level)


def train_process(config: TrainConfig, inputs: TrainingInputs) -> TrainResult | None:
    """Entry point of one training process: join the group, train, leave; process 0's result."""
    context = DistributedContext.from_environment()
    _configure_worker_logging(context)
    share_cpu_threads(context, config.num_threads)
    device = process_device(select_device(config.device), context)
    with process_group(
        context, device, config.distributed.backend, config.distributed.timeout_minutes
    ):
        result = train_gan_model(config, inputs, context=context, device=device)
    return result if context.is_main else None


def launch_local(nproc: int, entrypoint: Any, *args: Any, monitor_interval: float = 0.5) -> Any:
    """Run ``entrypoint(*args)`` in ``nproc`` processes on this node (``torchrun --standalone``'s
    launcher, no restarts); process 0's return value, or DistributedTrainingError naming the
    failed process(es)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    launch_config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"img2img-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
        monitor_interval=monitor_interval, start_method="spawn",
    )  # fmt: skip
    try:
        results = elastic_launch(launch_config, entrypoint)(*args)
    except ChildFailedError as exc:
        failures = "; ".join(
            f"process {rank} {_describe_failure(failure)}"
            for rank, failure in sorted(exc.failures.items())
        )
        raise DistributedTrainingError(
            f"distributed training failed with {nproc} processes: {failures}"
        ) from exc
    return results[0]


def _describe_failure(failure: Any) -> str:
    if failure.exitcode is not None and failure.exitcode < 0:
        return f"was killed by {failure.signal_name()}"
    # The error file's message: a string, or a dict holding one (torch.distributed.elastic).
    message = (
        failure.message.get("message", "") if isinstance(failure.message, dict) else failure.message
    )
    lines = str(message or "").strip().splitlines()
    return f"exited with code {failure.exitcode}" + (f": {lines[0]}" if lines else "")


def check_local_devices(nproc: int, device: torch.device) -> None:
    """Fail before starting anything when ``nproc`` processes cannot each have a device."""
    if device.type == "mps":
        raise DistributedTrainingError(
            "training.distributed.nproc_per_node > 1 is not supported on Apple MPS; use 1"
        )
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise DistributedTrainingError(
            f"training.distributed.nproc_per_node is {nproc} but this machine has "
            f"{torch.cuda.device_count()} GPU(s): one process per GPU (auto picks them all)"
        )


def launch_training(config: TrainConfig, inputs: TrainingInputs) -> TrainResult | None:
    """Train as ``training.distributed`` and the environment say; process 0's result (None on
    the other processes of a ``torchrun`` group).

    - Under ``torchrun`` with WORLD_SIZE > 1: this process is one of the group and trains its share.
    - Otherwise with ``nproc_per_node`` > 1: starts that many local processes and waits for them.
    - Otherwise: trains in this process.
    """
    if DistributedContext.from_environment().enabled:
        return train_process(config, inputs)
    nproc = resolve_nproc(config.distributed.nproc_per_node)
    if nproc == 1:
        return train_gan_model(config, inputs)
    check_local_devices(nproc, select_device(config.device))
    logger.info("Launching %d training processes (torch.distributed)", nproc)
    try:
        return launch_local(nproc, train_process, config, inputs)
    except DistributedTrainingError as exc:
        raise DistributedTrainingError(
            f"{exc}. The last checkpoint in {inputs.checkpoint_dir} is intact; with "
            "training.resume: auto the next run continues from it."
        ) from exc.__cause__
