"""Data-parallel training on GPUs: batch norm becomes SyncBatchNorm under DDP on CUDA (not on the
CPU), and two nccl processes through the project's launcher train as one process with the global
batch (when the machine has two GPUs; tests/gan/test_launcher.py checks the same with gloo on the
CPU, to the last bits).

torch and the project are imported inside the tests (see conftest.py: skipping costs no import).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gpu.shared import DEVICES


@contextlib.contextmanager
def group_of_one(backend: str, store: Path) -> Iterator[None]:
    """A default process group whose only member is this process."""
    import torch.distributed as dist

    dist.init_process_group(backend, store=dist.FileStore(str(store), 1), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("device", DEVICES)
def test_batch_norm_becomes_sync_batch_norm_under_ddp_on_cuda_only(device, tmp_path, caplog):
    import torch
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    from img2img.gan.collectives import DistributedContext
    from img2img.gan.launcher import resolve_backend
    from img2img.gan.trainer import Pix2PixTrainer
    from tests.gpu.shared import (
        finite,
        moved,
        parameters,
        random_batch,
        tiny_config,
    )

    # One process of two as the launcher starts it (cuda:LOCAL_RANK); its group has one member,
    # so DDP and SyncBatchNorm wrap as with two and every collective is the identity.
    here = torch.device("cuda", 0) if device == "cuda" else torch.device("cpu")
    backend = resolve_backend("auto", here)
    config = tiny_config(amp="fp32")  # batch norm in G and D (the defaults)
    context = DistributedContext(rank=0, world_size=2, local_rank=0, local_world_size=2)
    with group_of_one(backend, tmp_path / "store"), caplog.at_level(logging.WARNING):
        trainer = Pix2PixTrainer(config, here, context)
        networks = (trainer.generator, trainer.discriminator)
        synced = [m for net in networks for m in net.modules() if isinstance(m, nn.SyncBatchNorm)]
        plain = [m for net in networks for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        assert isinstance(trainer.g_step, DistributedDataParallel)
        assert trainer.g_step.module is trainer.generator
        assert trainer.d_pair.module.discriminator is trainer.discriminator
        # the optimisers hold the parameters of the networks that train (converted or not)
        held = {id(p) for group in trainer.optimizer_g.param_groups for p in group["params"]}
        assert held == {id(p) for p in trainer.generator.parameters()}
        g_before, d_before = parameters(trainer.generator), parameters(trainer.discriminator)
        assert finite(trainer.train_step(*random_batch(here)))
        assert moved(g_before, trainer.generator) and moved(d_before, trainer.discriminator)
        described = trainer.describe()
    assert described["backend"] == backend and described["world_size"] == 2
    if device == "cuda":
        assert trainer.sync_batchnorm and synced and not plain
        assert described["sync_batchnorm"] is True
    else:
        assert not trainer.sync_batchnorm and plain and not synced
        assert "SyncBatchNorm needs CUDA" in caplog.text


@pytest.mark.gpu
@pytest.mark.timeout(120)
def test_two_nccl_processes_with_sync_batch_norm_train_as_one_with_the_global_batch(tmp_path):
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs 2 GPUs for 2 nccl processes; this machine has {torch.cuda.device_count()}")  # fmt: skip
    from img2img.gan.config import TrainConfig
    from img2img.gan.launcher import launch_training
    from img2img.gan.loop import TrainingInputs, train_gan_model
    from tests.gan.test_launcher import EXACT, pairs

    # Batch norm synchronised over both processes normalises over the global batch of 4 images,
    # as one process with batch 4 does; no dropout (its noise differs between processes).
    common = {**EXACT, "device": "cuda", "epochs": 1, "epochs_decay": 1,
              "generator": {**EXACT["generator"], "norm": "batch"},
              "discriminator": {**EXACT["discriminator"], "norm": "batch"}}  # fmt: skip
    source, target = pairs(8)
    single = train_gan_model(TrainConfig.from_params({**common, "batch_size": 4}),
                             TrainingInputs(source, target, checkpoint_dir=tmp_path / "single"))  # fmt: skip
    double = launch_training(
        TrainConfig.from_params({**common, "batch_size": 2, "distributed": {"nproc_per_node": 2}}),
        TrainingInputs(source, target, checkpoint_dir=tmp_path / "double"),
    )
    environment = double.environment
    assert (environment["world_size"], environment["backend"]) == (2, "nccl")
    assert environment["sync_batchnorm"] is True and environment["device"] == "cuda:0"
    assert [row["step"] for row in double.history] == [row["step"] for row in single.history] == [2, 4]  # fmt: skip
    # Not to the last bits as with gloo on the CPU: TF32 convolutions, and nccl sums in another
    # order; the losses of both epochs (the second after an epoch of updates) agree closely.
    for one, two in zip(single.history, double.history, strict=True):
        assert two["loss_G_L1"] == pytest.approx(one["loss_G_L1"], rel=0.02)
        assert two["loss_D_fake"] == pytest.approx(one["loss_D_fake"], rel=0.05)
