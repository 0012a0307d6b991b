"""Training on a GPU through the project's trainer and loop: bf16 and fp16 (GradScaler) AMP steps,
channels-last networks, torch.compile, and a short run end to end (samples, checkpoint, what ran).

torch and the project are imported inside the tests (see conftest.py: skipping costs no import).
"""

from __future__ import annotations

import pytest

from tests.gpu.shared import (
    DEVICES,
    exact_fp32,
    finite,
    moved,
    parameters,
    random_batch,
    tiny_config,
)


@pytest.mark.parametrize(
    ("device", "precision"),
    [("cpu", "bf16"), pytest.param("cuda", "bf16", marks=pytest.mark.gpu, id="cuda-bf16"),
     pytest.param("cuda", "fp16", marks=pytest.mark.gpu, id="cuda-fp16")],
)  # fmt: skip
def test_an_amp_step_trains_with_finite_losses_and_fp32_weights(device, precision, monkeypatch):
    import torch

    from img2img.gan.trainer import Pix2PixTrainer

    if precision == "fp16":  # what amp: auto picks on a GPU without bf16 (before Ampere)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    # auto on CUDA, as conf/gpu runs; bf16 forced on the CPU (auto is fp32 without bf16 units)
    trainer = Pix2PixTrainer(tiny_config(amp="auto" if device == "cuda" else "bf16"),
                             torch.device(device))  # fmt: skip
    assert trainer.describe()["precision"].startswith(f"{precision} autocast on {device}")
    assert trainer.scaler.is_enabled() == (precision == "fp16")  # GradScaler for fp16 only
    g_before, d_before = parameters(trainer.generator), parameters(trainer.discriminator)
    source, target = random_batch(device)
    # A few steps: with fp16, GradScaler skips the optimiser step when the scaled gradients overflow
    steps = [trainer.train_step(source, target) for _ in range(4)]
    assert all(finite(losses) for losses in steps), steps
    assert moved(g_before, trainer.generator) and moved(d_before, trainer.discriminator)
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())  # master weights
    if precision == "fp16":
        assert 0 < trainer.scaler.get_scale() <= 2.0**16


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_networks_compute_what_contiguous_ones_do(device):
    import copy

    import torch

    from img2img.gan.trainer import Pix2PixTrainer

    config = tiny_config(amp="fp32", channels_last=True, generator={"ngf": 8, "dropout": 0.0})
    trainer = Pix2PixTrainer(config, torch.device(device))
    for network in (trainer.generator, trainer.discriminator):
        weights = [p for p in network.parameters() if p.dim() == 4]
        assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    source, target = random_batch(device)
    assert finite(trainer.train_step(source, target))
    generator = trainer.generator.eval()
    contiguous = copy.deepcopy(generator).to(memory_format=torch.contiguous_format)
    assert all(p.is_contiguous() for p in contiguous.parameters())
    with torch.no_grad(), exact_fp32():
        expected = contiguous(source)
        got = generator(source.contiguous(memory_format=torch.channels_last))
    # cuDNN picks other algorithms for either layout (Winograd, FFT: fp32, not bit for bit)
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)


@pytest.mark.gpu
@pytest.mark.timeout(220)  # compiling G, D and the D pair, forward and backward: minutes
def test_a_compiled_trainer_trains_as_the_eager_one():
    import torch

    from img2img.gan.trainer import Pix2PixTrainer

    generator = {"ngf": 8, "dropout": 0.0}  # no dropout: the same first loss
    device = torch.device("cuda")
    torch.manual_seed(0)
    eager = Pix2PixTrainer(tiny_config(generator=generator), device)
    torch.manual_seed(0)
    compiled = Pix2PixTrainer(tiny_config(generator=generator, compile=True), device)
    before = parameters(compiled.generator)
    assert all(torch.equal(p, before[n]) for n, p in eager.generator.named_parameters())
    source, target = random_batch(device)
    expected = eager.train_step(source, target)
    steps = [compiled.train_step(source, target) for _ in range(2)]  # compiles, then reuses
    assert all(finite(losses) for losses in steps), steps
    assert moved(before, compiled.generator)
    # bf16: the compiled kernels round differently, the maths is the same
    assert steps[0]["loss_G_L1"] == pytest.approx(expected["loss_G_L1"], rel=0.05)
    assert compiled.describe()["compile"] is True


@pytest.mark.parametrize("device", DEVICES)
def test_a_short_run_trains_samples_and_checkpoints_on_the_device(device, tmp_path):
    import torch

    from img2img.gan.checkpoint import LAST, load_checkpoint
    from img2img.gan.loop import TrainingInputs, train_gan_model
    from tests.gan.test_loop import pairs

    source, target = pairs(4)
    config = tiny_config(device=device, epochs=1, epochs_decay=1, num_samples=2,
                         checkpoint_every_epochs=1)  # fmt: skip
    inputs = TrainingInputs(source, target, checkpoint_dir=tmp_path, sample_source=source,
                            sample_target=target)  # fmt: skip
    result = train_gan_model(config, inputs)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert all(finite({k: row[k] for k in ("loss_G_L1", "loss_D_fake")}) for row in result.history)
    assert result.sample_grids[2].shape == (2 * 32, 3 * 32, 3)  # source | generated | target
    assert all(v.device.type == "cpu" for v in result.generator.state_dict.values())
    state = load_checkpoint(tmp_path / LAST)
    assert state["epoch"] == 1 and state["step"] == 4
    environment = result.environment
    assert environment["device"].startswith(device)
    if device == "cuda":
        assert environment["precision"] in ("bf16 autocast on cuda", "fp16 autocast on cuda")
        assert environment["device_name"] == torch.cuda.get_device_name()
        assert environment["channels_last"] is True  # auto: both networks on CUDA
        assert "cuda" in state["rng"]  # resuming restores the GPU's random numbers too
