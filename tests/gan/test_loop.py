"""The training loop: learning, stability guards, checkpoints, identity, exact resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from img2img.gan import loop as engine_module
from img2img.gan import trainer as trainer_module
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.checkpoint import LAST, TrainingIdentity, load_checkpoint, set_aside_folder
from img2img.gan.config import TrainConfig
from img2img.gan.loop import NonFiniteLossError, TrainingInputs, train_gan_model
from img2img.ingest.synthetic import render_facade_pair
from tests.servers import wait_for_file

TINY = {"batch_size": 2, "load_size": 32, "crop_size": 32, "generator": {"ngf": 8},
        "discriminator": {"ndf": 8, "n_layers": 2}, "num_threads": 1, "flip": False}  # fmt: skip


def pairs(n: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    return source, 255 - source


def l1_to_target(
    generator_artifact: GeneratorArtifact, source: torch.Tensor, target: torch.Tensor
) -> float:
    model = generator_artifact.build()
    with torch.no_grad():
        out = model.eval()(source.float() / 127.5 - 1)
    return (out - (target.float() / 127.5 - 1)).abs().mean().item()


def facade_pairs(n: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    rendered = [render_facade_pair(0, i, size) for i in range(n)]
    source = (
        torch.from_numpy(np.stack([label for label, _ in rendered]))
        .permute(0, 3, 1, 2)
        .contiguous()
    )
    target = (
        torch.from_numpy(np.stack([photo for _, photo in rendered]))
        .permute(0, 3, 1, 2)
        .contiguous()
    )
    return source, target


def test_overfits_a_handful_of_pairs(tmp_path):
    source, target = facade_pairs()
    generator = {"ngf": 8, "dropout": 0.0, "norm": "instance"}
    untrained = train_gan_model(TrainConfig.from_params({**TINY, "generator": generator, "epochs": 0, "epochs_decay": 1,
                                 "optimizer": {"lr": 1e-12}}), TrainingInputs(source, target, checkpoint_dir=tmp_path / "a"))  # fmt: skip
    config = TrainConfig.from_params(
        {**TINY, "generator": generator, "epochs": 60, "epochs_decay": 0, "optimizer": {"lr": 1e-3}}
    )
    trained = train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path / "b"))
    before = l1_to_target(untrained.generator, source, target)
    after = l1_to_target(trained.generator, source, target)
    assert after < before / 2, (before, after)
    assert (
        len(trained.history) == 60
        and trained.history[-1]["loss_G_L1"] < trained.history[0]["loss_G_L1"]
    )
    assert {"d_real_mean", "d_fake_mean", "lr", "img_per_s"} <= set(trained.history[0])


def test_ema_weights_are_what_the_artifact_exposes(tmp_path):
    source, target = pairs()
    config = TrainConfig.from_params(
        {**TINY, "epochs": 2, "epochs_decay": 0, "ema": {"enabled": True, "decay": 0.5}}
    )
    result = train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path))
    state = load_checkpoint(tmp_path / LAST)
    assert result.generator.ema is True
    assert torch.equal(
        result.generator.state_dict["model.model.0.weight"], state["ema"]["model.model.0.weight"]
    )
    assert not torch.equal(
        state["ema"]["model.model.0.weight"], state["generator"]["model.model.0.weight"]
    )


def test_non_finite_losses_are_skipped_then_stop_with_checkpoint_intact(tmp_path, monkeypatch):
    source, target = pairs()
    config = TrainConfig.from_params(
        {**TINY, "epochs": 1, "epochs_decay": 0, "max_nonfinite_steps": 3}
    )
    train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path))
    before = load_checkpoint(tmp_path / LAST)
    original = trainer_module.Pix2PixTrainer.train_step
    calls = {"n": 0}

    def sometimes_nan(self, a, b):
        calls["n"] += 1
        if calls["n"] == 1:  # one isolated bad step is skipped and counted
            return original(self, a * float("nan"), b)
        if calls["n"] >= 3:
            return original(self, a * float("nan"), b)
        return original(self, a, b)

    monkeypatch.setattr(trainer_module.Pix2PixTrainer, "train_step", sometimes_nan)
    more = TrainConfig.from_params(
        {**TINY, "epochs": 5, "epochs_decay": 0, "max_nonfinite_steps": 3, "resume": "never"}
    )
    with pytest.raises(NonFiniteLossError, match="3 non-finite losses in a row"):
        train_gan_model(more, TrainingInputs(source, target, checkpoint_dir=tmp_path))
    # resume: never set the good checkpoint aside, intact; the diverged run wrote none
    after = load_checkpoint(set_aside_folder(tmp_path) / "set-aside-1.pt")
    assert torch.equal(
        after["generator"]["model.model.0.weight"], before["generator"]["model.model.0.weight"]
    )
    assert not (tmp_path / LAST).exists()


def test_history_counts_skipped_steps(tmp_path, monkeypatch):
    source, target = pairs(6)
    original = trainer_module.Pix2PixTrainer.train_step
    calls = {"n": 0}

    def first_nan(self, a, b):
        calls["n"] += 1
        return original(self, a * float("nan") if calls["n"] == 1 else a, b)

    monkeypatch.setattr(trainer_module.Pix2PixTrainer, "train_step", first_nan)
    result = train_gan_model(TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 0}), TrainingInputs(source, target, checkpoint_dir=tmp_path))  # fmt: skip
    assert result.history[0]["nonfinite_steps"] == 1


def test_failure_during_checkpoint_save_keeps_the_previous_one(tmp_path, monkeypatch):
    source, target = pairs()
    real_save = torch.save
    saves = {"n": 0}

    def failing_second_save(obj, handle, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 1:
            return real_save(obj, handle, *args, **kwargs)
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_second_save)
    config = TrainConfig.from_params(
        {**TINY, "epochs": 1, "epochs_decay": 1, "checkpoint_every_epochs": 1}
    )
    with pytest.raises(OSError, match="disk full"):  # epoch 1 saved, epoch 2's save fails
        train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path))
    monkeypatch.setattr(torch, "save", real_save)
    previous = load_checkpoint(tmp_path / LAST)
    assert previous["epoch"] == 0 and previous["identity"]["parameters"] == config.param_hash()
    assert sorted(p.name for p in tmp_path.iterdir()) == [LAST]


def identity(
    config: TrainConfig, data: str = "data-v1", start: str = "scratch"
) -> TrainingIdentity:
    return TrainingIdentity(config.param_hash(), data, start)


def test_parameter_change_starts_fresh_and_keeps_the_old_checkpoint(tmp_path, caplog):
    source, target = pairs()
    first = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 1})
    train_gan_model(
        first, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(first))
    )
    changed = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 1, "seed": 3})
    with caplog.at_level("WARNING"):
        result = train_gan_model(changed, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(changed)))  # fmt: skip
    assert "other training parameters" in caplog.text and "other data" not in caplog.text
    assert len(result.history) == 2
    assert (set_aside_folder(tmp_path) / "set-aside-1.pt").is_file()
    assert load_checkpoint(tmp_path / LAST)["identity"] == identity(changed).to_dict()


def test_unfinished_run_resumes_only_on_the_same_data_and_starting_weights(tmp_path, caplog):
    source, target = pairs()
    config = TrainConfig.from_params({**TINY, "epochs": 2, "epochs_decay": 1})
    unfinished = TrainConfig.from_params(
        {**TINY, "epochs": 2, "epochs_decay": 1, "checkpoint_every_epochs": 1}
    )

    def interrupted(run_identity: TrainingIdentity) -> None:  # a run killed after its epoch 1
        class Stop(Exception):
            pass

        class StopAfterFirstEpoch:
            def on_epoch_end(self, epoch, metrics, grid):
                if epoch == 2:
                    raise Stop

        engine_module._safe_callback = _raising_callback  # let the Stop through
        try:
            with pytest.raises(Stop):
                train_gan_model(unfinished, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=run_identity, callbacks=StopAfterFirstEpoch()))  # fmt: skip
        finally:
            engine_module._safe_callback = ORIGINAL_SAFE_CALLBACK
        assert load_checkpoint(tmp_path / LAST)["epoch"] == 0

    interrupted(identity(config))
    with caplog.at_level("INFO"):
        resumed = train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(config)))  # fmt: skip
    assert "Resuming" in caplog.text and len(resumed.history) == 3
    caplog.clear()
    interrupted(identity(config))
    with caplog.at_level("INFO"):
        new_data = train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(config, data="data-v2")))  # fmt: skip
    assert "other data" in caplog.text and "Resuming" not in caplog.text
    assert [row["epoch"] for row in new_data.history] == [1, 2, 3]
    caplog.clear()
    interrupted(identity(config))
    with caplog.at_level("INFO"):
        train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(config, start="f" * 64)))  # fmt: skip
    assert "other starting weights" in caplog.text and "Resuming" not in caplog.text


ORIGINAL_SAFE_CALLBACK = engine_module._safe_callback


def _raising_callback(callbacks, name, *args, warned):
    method = getattr(callbacks, name, None) if callbacks is not None else None
    if method is not None:
        method(*args)


def test_a_finished_run_is_never_resumed_asking_to_train_trains(tmp_path, caplog):
    source, target = pairs()
    config = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 1})
    first = train_gan_model(
        config, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(config))
    )
    with caplog.at_level("INFO"):
        again = train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(config)))  # fmt: skip
    assert "finished run" in caplog.text and "Resuming" not in caplog.text
    assert [row["epoch"] for row in again.history] == [1, 2]
    assert all(row["train_pairs"] == len(source) for row in again.history)
    assert first.history[0]["train_pairs"] == len(source)


def test_set_aside_checkpoints_are_bounded_and_leave_the_checkpoint_folder(tmp_path):
    source, target = pairs()
    legacy = tmp_path / "last.previous-1.pt"  # set aside in place by an earlier img2img
    tmp_path.mkdir(exist_ok=True)
    legacy.write_bytes(b"old")
    for seed in range(4):
        config = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 0, "seed": seed})
        train_gan_model(
            config,
            TrainingInputs(source, target, checkpoint_dir=tmp_path, identity=identity(config)),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == [LAST]
    kept = sorted(p.name for p in set_aside_folder(tmp_path).iterdir())
    assert kept == ["set-aside-3.pt", "set-aside-4.pt"]  # legacy was 1, runs 0-2 were 2-4
    seed_2 = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 0, "seed": 2})
    assert (
        load_checkpoint(set_aside_folder(tmp_path) / "set-aside-4.pt")["identity"]
        == identity(seed_2).to_dict()
    )


def test_warm_start_begins_from_the_given_weights(tmp_path):
    from img2img.gan.artifact import InitialWeights
    from img2img.gan.lineage import WeightsOrigin

    source, target = pairs()
    base = {**TINY, "ema": {"enabled": False}, "generator": {"ngf": 8, "dropout": 0.0}}
    trained = train_gan_model(TrainConfig.from_params({**base, "epochs": 3, "epochs_decay": 0}), TrainingInputs(source, target, checkpoint_dir=tmp_path / "a"))  # fmt: skip
    frozen = TrainConfig.from_params({**base, "epochs": 1, "epochs_decay": 0,
                                      "optimizer": {"lr": 1e-12}})  # fmt: skip
    initial = InitialWeights(trained.generator.state_dict, trained.discriminator.state_dict,
                             WeightsOrigin(kind="file", reference="a"))  # fmt: skip
    warm = train_gan_model(
        frozen, TrainingInputs(source, target, checkpoint_dir=tmp_path / "b", initial=initial)
    )
    cold = train_gan_model(frozen, TrainingInputs(source, target, checkpoint_dir=tmp_path / "c"))
    name = "model.model.0.weight"
    assert torch.allclose(
        warm.generator.state_dict[name], trained.generator.state_dict[name], atol=1e-6
    )
    assert not torch.allclose(
        cold.generator.state_dict[name], trained.generator.state_dict[name], atol=1e-3
    )
    for key, value in trained.discriminator.state_dict.items():
        if key.endswith(("weight", "bias")):  # learned; batch-norm running statistics move
            assert torch.allclose(warm.discriminator.state_dict[key], value, atol=1e-6), key


def test_callbacks_that_raise_do_not_stop_training(tmp_path, caplog):
    class Broken:
        def on_step(self, step, metrics):
            raise ConnectionError("tracking server down")

        def on_epoch_end(self, epoch, metrics, grid):
            raise ConnectionError("tracking server down")

    source, target = pairs()
    with caplog.at_level("WARNING"):
        result = train_gan_model(TrainConfig.from_params({**TINY, "epochs": 2, "epochs_decay": 0}), TrainingInputs(source, target, checkpoint_dir=tmp_path, callbacks=Broken()))  # fmt: skip
    assert len(result.history) == 2
    assert caplog.text.count("tracking server down") == 2  # warned once per hook


def test_progress_logs_one_line_per_epoch_when_not_a_terminal(tmp_path, caplog):
    source, target = pairs()
    config = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 1})
    with caplog.at_level("INFO", logger="img2img.gan.progress"):
        train_gan_model(config, TrainingInputs(source, target, checkpoint_dir=tmp_path))
    lines = [r.getMessage() for r in caplog.records if "done in" in r.getMessage()]
    assert [line.split(" done")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "img/s" in lines[0] and "ETA" in lines[0] and "D(real)" in lines[0]


def test_sample_grids(tmp_path):
    source, target = pairs()
    result = train_gan_model(TrainConfig.from_params({**TINY, "epochs": 2, "epochs_decay": 0, "num_samples": 3}), TrainingInputs(source, target, checkpoint_dir=tmp_path, sample_source=source, sample_target=target))  # fmt: skip
    assert sorted(result.sample_grids) == [1, 2]
    assert result.sample_grids[2].shape == (3 * 32, 3 * 32, 3)


def run_worker(*args: str, wait: bool = True) -> subprocess.Popen:
    worker = Path(__file__).with_name("resume_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    process = subprocess.Popen([sys.executable, str(worker), *args], env=env)
    if wait:
        assert process.wait(timeout=300) == 0
    return process


def test_sigkill_mid_training_then_resume_gives_identical_weights(tmp_path):
    run_worker(str(tmp_path / "straight"), str(tmp_path / "straight.pt"))
    ready = tmp_path / "ready"
    victim = run_worker(
        str(tmp_path / "killed"), str(tmp_path / "never.pt"), "3", str(ready), wait=False
    )
    wait_for_file(ready, victim, 240)  # the worker reached the hang point
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert load_checkpoint(tmp_path / "killed" / LAST)["epoch"] == 1  # epochs 1-2 saved, 3 lost
    run_worker(str(tmp_path / "killed"), str(tmp_path / "resumed.pt"))
    straight = torch.load(tmp_path / "straight.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
