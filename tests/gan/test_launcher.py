"""Data-parallel training on the CPU with gloo: the same weights as one process, clean failures."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from img2img.config import ParameterError
from img2img.gan.checkpoint import LAST, load_checkpoint
from img2img.gan.collectives import DistributedContext, DistributedTrainingError
from img2img.gan.config import TrainConfig
from img2img.gan.data import iterate_batches, steps_per_epoch
from img2img.gan.launcher import (
    check_local_devices,
    launch_training,
    resolve_backend,
    resolve_nproc,
)
from img2img.gan.loop import TrainingInputs, train_gan_model
from tests.servers import wait_for_file

# No normalisation and no dropout: one process with batch 2b computes what 2 with b compute. (With
# instance norm the biases before it get zero gradients in exact arithmetic, and Adam blows their
# rounding noise up to full-size steps, so they would differ without meaning anything.)
# fp32: bf16 autocast rounds a batch of 4 and two batches of 2 differently.
EXACT = {"load_size": 36, "crop_size": 32, "flip": True, "num_threads": 1, "amp": "fp32",
         "generator": {"ngf": 8, "norm": "none", "dropout": 0.0},
         "discriminator": {"ndf": 8, "n_layers": 2, "norm": "none"},
         "ema": {"enabled": False}, "checkpoint_every_epochs": 1}  # fmt: skip


def pairs(n: int, size: int = 36) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    return source, torch.flip(255 - source, dims=[2])


def batches(count: int, batch: int, rank: int, world: int) -> list[torch.Tensor]:
    """The pair indices of each batch this process gets (each image is filled with its index)."""
    source = torch.arange(count, dtype=torch.uint8).view(count, 1, 1, 1).expand(count, 3, 4, 4)
    source = source.contiguous()
    found = iterate_batches(source, source, batch_size=batch, load_size=4, crop_size=4, flip=False,
                            seed=3, epoch=1, device=torch.device("cpu"), rank=rank, world_size=world)  # fmt: skip
    return [((s[:, 0, 0, 0] + 1) * 127.5).round().to(torch.int64) for s, _ in found]


def test_shares_of_each_global_batch_are_the_single_process_batches():
    single = batches(12, 4, 0, 1)
    rank0, rank1 = batches(12, 2, 0, 2), batches(12, 2, 1, 2)
    assert len(single) == len(rank0) == len(rank1) == steps_per_epoch(12, 2, 2) == 3
    for whole, a, b in zip(single, rank0, rank1, strict=True):
        assert torch.equal(whole, torch.cat([a, b]))


def test_uneven_counts_pad_so_every_process_has_as_many_images():
    rank0, rank1 = batches(7, 2, 0, 2), batches(7, 2, 1, 2)
    assert [len(b) for b in rank0] == [len(b) for b in rank1] == [2, 2]
    seen = torch.cat(rank0 + rank1)
    assert set(seen.tolist()) == set(range(7)) and len(seen) == 8  # one pair seen twice
    with pytest.raises(ValueError, match="rank 2"):
        batches(7, 2, 2, 2)


def test_context_from_environment():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    context = DistributedContext.from_environment(env)
    assert (context.rank, context.world_size, context.local_rank, context.local_world_size) == (
        3, 4, 1, 2)  # fmt: skip
    assert context.enabled and not context.is_main
    assert not DistributedContext.from_environment({}).enabled
    with pytest.raises(DistributedTrainingError, match="RANK=4"):
        DistributedContext.from_environment({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(DistributedTrainingError, match="WORLD_SIZE='two'"):
        DistributedContext.from_environment({"WORLD_SIZE": "two"})


def test_parameters_and_backend_choice():
    assert resolve_nproc(3) == 3
    assert resolve_nproc("auto") == max(1, torch.cuda.device_count())
    assert resolve_backend("auto", torch.device("cpu")) == "gloo"
    assert resolve_backend("auto", torch.device("cuda", 0)) == "nccl"
    with pytest.raises(DistributedTrainingError, match="nccl needs CUDA"):
        resolve_backend("nccl", torch.device("cpu"))
    with pytest.raises(DistributedTrainingError, match="MPS"):
        check_local_devices(2, torch.device("mps"))
    if torch.cuda.device_count() < 8:
        with pytest.raises(DistributedTrainingError, match="one process per GPU"):
            check_local_devices(8, torch.device("cuda"))
    check_local_devices(2, torch.device("cpu"))  # CPU processes: no limit
    with pytest.raises(ParameterError, match=r"distributed\.nproc_per_node"):
        TrainConfig.from_params({"distributed": {"nproc_per_node": 0}})
    with pytest.raises(ParameterError, match=r"distributed\.backend"):
        TrainConfig.from_params({"distributed": {"backend": "mpi"}})
    a = TrainConfig.from_params({"distributed": {"nproc_per_node": 2}})
    assert a.param_hash() == TrainConfig.from_params({}).param_hash()  # resume across world sizes


@pytest.mark.slow
def test_two_gloo_processes_with_batch_b_train_the_weights_of_one_with_batch_2b(tmp_path):
    source, target = pairs(8)
    common = {**EXACT, "epochs": 1, "epochs_decay": 1}  # 2 epochs x 2 steps, LR decay included
    single = train_gan_model(TrainConfig.from_params({**common, "batch_size": 4}), TrainingInputs(source, target, checkpoint_dir=tmp_path / "single"))  # fmt: skip
    double = launch_training(TrainConfig.from_params({**common, "batch_size": 2, "distributed": {"nproc_per_node": 2}}), TrainingInputs(source, target, checkpoint_dir=tmp_path / "double"))  # fmt: skip
    assert double.environment["world_size"] == 2 and double.environment["backend"] == "gloo"
    assert (
        [row["step"] for row in double.history] == [row["step"] for row in single.history] == [2, 4]
    )
    for name, weights in single.generator.state_dict.items():
        torch.testing.assert_close(double.generator.state_dict[name], weights, atol=1e-6, rtol=1e-5,
                                   msg=f"generator {name}")  # fmt: skip
    for name, weights in single.discriminator.state_dict.items():
        torch.testing.assert_close(double.discriminator.state_dict[name], weights, atol=1e-6,
                                   rtol=1e-5, msg=f"discriminator {name}")  # fmt: skip
    for one, two in zip(single.history, double.history, strict=True):
        assert two["loss_G_L1"] == pytest.approx(one["loss_G_L1"], rel=1e-4)
        assert two["loss_D_fake"] == pytest.approx(one["loss_D_fake"], rel=1e-4)
    # Process 0 alone wrote the checkpoint, with the world size in it; training moved the weights.
    state = load_checkpoint(tmp_path / "double" / LAST)
    assert state["world_size"] == 2 and state["epoch"] == 1


KILLED_RUN = {**EXACT, "batch_size": 2, "epochs": 6, "epochs_decay": 0,
              "distributed": {"nproc_per_node": 2}}  # fmt: skip
WORKER = """
import sys, torch
from img2img.gan.collectives import DistributedTrainingError
from img2img.gan.config import TrainConfig
from img2img.gan.launcher import launch_training
from img2img.gan.loop import TrainingInputs
from tests.gan.test_launcher import KILLED_RUN, pairs
try:
    launch_training(TrainConfig.from_params(KILLED_RUN), TrainingInputs(*pairs(64), checkpoint_dir=sys.argv[1]))
except DistributedTrainingError as exc:
    print("FAILED CLEANLY:", exc, flush=True)
    sys.exit(3)
"""


def _children(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:
                    found.append(int(entry.name))
                    frontier.append(int(entry.name))
    return found


def _worker_pids(pid: int) -> list[int]:
    pids = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmdline and b"spawn_main" in cmdline:
            pids.append(child)
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes through /proc")
def test_killed_worker_fails_the_run_cleanly_then_resume_gives_the_uninterrupted_weights(
    tmp_path, caplog
):
    checkpoints = tmp_path / "checkpoints"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    launcher = subprocess.Popen([sys.executable, "-c", WORKER, str(checkpoints)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for_file(checkpoints / LAST, launcher, 120, output=launcher.stdout.read)
        workers = _worker_pids(launcher.pid)
        assert len(workers) >= 2, workers
        os.kill(workers[-1], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 3, output
    assert "FAILED CLEANLY" in output and "SIGKILL" in output and "intact" in output, output
    state = load_checkpoint(checkpoints / LAST)  # loads: written atomically by process 0
    assert state["world_size"] == 2 and 1 <= state["epoch"] + 1 < KILLED_RUN["epochs"]

    # The unfinished checkpoint also resumes in one process (same parameters; the global batch
    # changes from 2 x 2 to 2 images, with a warning).
    shutil.copytree(checkpoints, tmp_path / "one_process")
    single = TrainConfig.from_params({**KILLED_RUN, "distributed": {"nproc_per_node": 1}})
    with caplog.at_level("WARNING", logger="img2img.gan.loop"):
        in_one = launch_training(
            single, TrainingInputs(*pairs(64), checkpoint_dir=tmp_path / "one_process")
        )
    assert "trained with 2 process(es) on 1" in caplog.text
    assert [row["epoch"] for row in in_one.history] == list(range(1, KILLED_RUN["epochs"] + 1))

    config = TrainConfig.from_params(KILLED_RUN)
    resumed = launch_training(config, TrainingInputs(*pairs(64), checkpoint_dir=checkpoints))
    assert len(resumed.history) == KILLED_RUN["epochs"]
    uninterrupted = launch_training(
        config, TrainingInputs(*pairs(64), checkpoint_dir=tmp_path / "uninterrupted")
    )
    for name, weights in uninterrupted.generator.state_dict.items():
        torch.testing.assert_close(resumed.generator.state_dict[name], weights, msg=name)
