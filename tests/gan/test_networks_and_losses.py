"""Networks, losses, LR schedules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from img2img.gan.config import TrainConfig
from img2img.gan.discriminators import (
    MultiScaleDiscriminator,
    PatchDiscriminator,
    RealFakeDiscriminator,
)
from img2img.gan.losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    realness,
)
from img2img.gan.networks import (
    DownConv,
    ResnetGenerator,
    UnetGenerator,
    UpConv,
    build_generator,
    init_weights,
    set_fast_path,
)
from img2img.gan.schedules import lr_factor
from img2img.gan.trainer import (
    FEATURE_MATCHING_METRIC,
    STEP_METRICS,
    Pix2PixTrainer,
)


@pytest.mark.parametrize(("size", "depth"), [(32, 5), (64, 6), (128, 7), (64, 5)])
def test_unet_shapes_and_output_range(size, depth):
    model = UnetGenerator(depth=depth, ngf=4)
    out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 3, size, size)
    assert out.abs().max() <= 1.0


def test_unet_256_matches_the_reference_parameter_count():
    # pytorch-CycleGAN-and-pix2pix prints 54.414 M parameters for unet_256 and 2.769 M for basic D.
    g = UnetGenerator(depth=8, ngf=64)
    d = PatchDiscriminator(in_channels=6, ndf=64, n_layers=3)
    assert round(sum(p.numel() for p in g.parameters()) / 1e6, 3) == 54.414
    assert round(sum(p.numel() for p in d.parameters()) / 1e6, 3) == 2.769


def test_resnet_and_discriminators():
    assert ResnetGenerator(ngf=4, n_blocks=6)(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    assert PatchDiscriminator(ndf=4, n_layers=3)(torch.randn(1, 6, 64, 64)).shape == (1, 1, 6, 6)
    sn = PatchDiscriminator(ndf=4, n_layers=2, spectral_norm=True, norm="none")
    assert sn(torch.randn(1, 6, 32, 32)).ndim == 4
    outputs = MultiScaleDiscriminator(3, ndf=4, n_layers=2)(torch.randn(1, 6, 64, 64))
    assert [o.shape[-1] for o in outputs] == [14, 6, 2]


@pytest.mark.parametrize(
    ("make", "one_batch"),
    [
        (lambda: PatchDiscriminator(ndf=4, n_layers=2, spectral_norm=True, norm="none"), True),
        (lambda: MultiScaleDiscriminator(2, ndf=4, n_layers=2, norm="instance"), True),
        (lambda: PatchDiscriminator(ndf=4, n_layers=2, norm="batch"), False),
    ],
)
def test_the_real_fake_pass_gives_each_kind_what_d_gives_it_alone(make, one_batch):
    # Without batch norm both kinds go through D as one batch; batch norm keeps its statistics
    # per kind (pix2pix). Spectral norm's power iteration is compared in eval mode (in training
    # every call of D alone would iterate once more).
    torch.manual_seed(0)
    discriminator = make()
    pair = RealFakeDiscriminator(discriminator)
    if one_batch and any(hasattr(m, "parametrizations") for m in discriminator.modules()):
        discriminator.eval()
    fake, real = torch.randn(3, 6, 32, 32), torch.randn(3, 6, 32, 32)
    assert pair.one_batch is one_batch
    alone = [discriminator(fake), discriminator(real)]
    together = pair(fake, real)
    for mine, expected in zip(together, alone, strict=True):
        mine, expected = (mine, expected) if isinstance(mine, list) else ([mine], [expected])
        assert len(mine) == len(expected)
        for a, b in zip(mine, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_discriminators_return_their_hidden_activations_when_asked():
    torch.manual_seed(0)
    pair = torch.randn(2, 6, 32, 32)
    patch = PatchDiscriminator(ndf=4, n_layers=2, spectral_norm=True, norm="none").eval()
    judged = patch(pair, with_features=True)
    torch.testing.assert_close(judged.logits, patch(pair))
    assert len(judged.features) == 1 and len(judged.features[0]) == 3  # n_layers + 1 hidden
    assert [f.shape[1] for f in judged.features[0]] == [4, 8, 16]
    multi = MultiScaleDiscriminator(2, ndf=4, n_layers=2, norm="instance")
    judged = multi(pair, with_features=True)
    assert len(judged.logits) == len(judged.features) == 2
    for mine, plain in zip(judged.logits, multi(pair), strict=True):
        torch.testing.assert_close(mine, plain)


def test_feature_matching_weighs_layers_and_scales_like_pix2pixhd():
    ones, zeros = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    fake = [[ones.clone().requires_grad_(), zeros]]
    real = [[zeros.clone().requires_grad_(), zeros]]
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(2.0)  # 4 / 2 layers x L1 1 on one layer
    loss.backward()
    assert fake[0][0].grad is not None and real[0][0].grad is None  # real ones are targets
    two_scales = feature_matching_loss([[ones, zeros]] * 2, [[zeros, zeros]] * 2)
    assert two_scales.item() == pytest.approx(2.0)  # averaged over scales
    assert feature_matching_loss([[ones]], [[ones]]).item() == 0.0
    with pytest.raises(ValueError, match="1 fake but 2 real"):
        feature_matching_loss([[ones]], [[ones], [ones]])


def _one_step(lambda_feat: float) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "num_threads": 1, "ema": {"enabled": False},
                                      "loss": {"gan_mode": "lsgan", "lambda_feat": lambda_feat},
                                      "generator": {"ngf": 8, "dropout": 0.0},
                                      "discriminator": {"ndf": 8, "n_layers": 2, "norm": "none"}})  # fmt: skip
    torch.manual_seed(0)
    trainer = Pix2PixTrainer(config, torch.device("cpu"))
    source, target = (torch.rand(2, 3, 32, 32) * 2 - 1 for _ in range(2))
    losses = trainer.train_step(source, target)
    return losses, {k: v.clone() for k, v in trainer.generator.state_dict().items()}


def test_a_step_with_feature_matching_reports_it_and_pulls_g_further():
    plain, plain_weights = _one_step(0.0)
    _, again_weights = _one_step(0.0)
    matched, matched_weights = _one_step(10.0)
    assert list(plain) == list(STEP_METRICS)
    assert list(matched) == [*STEP_METRICS[:2], FEATURE_MATCHING_METRIC, *STEP_METRICS[2:]]
    assert matched[FEATURE_MATCHING_METRIC] > 0
    assert {k: matched[k] for k in STEP_METRICS} == pytest.approx(plain, rel=1e-4)  # same D update
    same = [torch.equal(again_weights[k], v) for k, v in plain_weights.items()]
    moved = [torch.equal(matched_weights[k], v) for k, v in plain_weights.items()]
    assert all(same) and not all(moved)


def test_fast_upconv_is_the_same_maths_as_conv_transpose():
    torch.manual_seed(0)
    layer = UpConv(16, 8, 4, 2, 1)
    reference = nn.ConvTranspose2d(16, 8, 4, 2, 1)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(2, 16, 5, 7, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, out_ref = layer(x), reference(x_ref)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-4)
    set_fast_path(layer, False)
    torch.testing.assert_close(layer(x), out_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("batch", "size"), [(1, 2), (3, 2), (1, 4)])
def test_fast_downconv_is_the_same_maths_as_conv(batch, size):
    torch.manual_seed(0)
    layer = DownConv(16, 8, 4, 2, 1)
    layer.max_fast_columns = 64  # force the fast path for every case here
    reference = nn.Conv2d(16, 8, 4, 2, 1)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(batch, 16, size, size, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, out_ref = layer(x), reference(x_ref)
    assert out.shape == out_ref.shape
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.bias.grad, reference.bias.grad, atol=1e-5, rtol=1e-5)


def test_unet_fast_paths_match_the_standard_kernels():
    torch.manual_seed(0)
    model = UnetGenerator(depth=5, ngf=8, norm="instance", dropout=0.0)
    x = torch.randn(1, 3, 32, 32)
    fast = model(x)
    assert any(isinstance(m, DownConv) for m in model.modules())
    set_fast_path(model, False)
    assert all(not m.fast_path for m in model.modules() if isinstance(m, DownConv | UpConv))
    torch.testing.assert_close(model(x), fast, atol=1e-5, rtol=1e-5)


def test_spectral_norm_discriminator_is_initialised_like_the_others():
    torch.manual_seed(0)
    d = PatchDiscriminator(ndf=32, n_layers=2, spectral_norm=True, norm="none")
    init_weights(d, "normal", 0.02)
    raw = d.model[2].parametrizations.weight.original
    assert abs(raw.std().item() - 0.02) < 0.003


def test_build_generator_round_trip_from_architecture():
    config = TrainConfig.from_params({"load_size": 64, "crop_size": 64, "generator": {"ngf": 4}})
    arch = config.generator_architecture()
    a, b = build_generator(arch), build_generator(arch)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(a.eval()(x), b.eval()(x))
    assert arch["depth"] == 6


def test_init_normal_statistics():
    model = UnetGenerator(depth=5, ngf=16)
    init_weights(model, "normal", 0.02)
    conv = model.model.model[0]
    assert abs(conv.weight.std().item() - 0.02) < 0.005


@pytest.mark.parametrize("mode", ["vanilla", "lsgan", "hinge"])
def test_loss_directions(mode):
    confident_real, confident_fake = torch.full((2, 1, 4, 4), 5.0), torch.full((2, 1, 4, 4), -5.0)
    good_d = sum(discriminator_loss(mode, confident_real, confident_fake))
    bad_d = sum(discriminator_loss(mode, confident_fake, confident_real))
    assert good_d < bad_d  # D is rewarded for calling real real and fake fake
    assert generator_adversarial_loss(mode, confident_real) < generator_adversarial_loss(
        mode, confident_fake
    )
    multi = discriminator_loss(
        mode, [confident_real, confident_real], [confident_fake, confident_fake]
    )
    torch.testing.assert_close(sum(multi), 2 * good_d)  # summed over discriminator scales
    torch.testing.assert_close(
        generator_adversarial_loss(mode, [confident_fake] * 3),
        3 * generator_adversarial_loss(mode, confident_fake),
    )


def test_realness_is_a_probability_for_vanilla_and_raw_otherwise():
    logits = [torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 2.0)]
    assert realness("vanilla", logits[0]) == 0.5
    assert realness("hinge", logits) == 1.0
    assert realness("lsgan", logits[1]) == 2.0


def test_linear_schedule_is_pix2pix():
    config = TrainConfig.from_params(
        {"epochs": 3, "epochs_decay": 4, "load_size": 32, "crop_size": 32}
    )
    factor = lr_factor(config)
    values = [round(factor(e), 4) for e in range(7)]
    # pix2pix: lr * (1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1)), epoch from 0
    assert values == [1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2]


def test_cosine_and_step_schedules():
    base = {"epochs": 5, "epochs_decay": 5, "load_size": 32, "crop_size": 32}
    cosine = lr_factor(TrainConfig.from_params({**base, "lr_policy": {"name": "cosine"}}))
    assert cosine(0) == 1.0 and abs(cosine(5) - 0.5) < 1e-9 and abs(cosine(10)) < 1e-9
    step = lr_factor(
        TrainConfig.from_params(
            {**base, "lr_policy": {"name": "step", "step_epochs": 2, "gamma": 0.5}}
        )
    )
    assert [step(e) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
