"""Test-time translation: modes, batching invariance, quantisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from img2img.gan.translation import (
    center_crop,
    prepare_for_test,
    quantize_to_uint8,
    translate_images,
)


def tiny_generator() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.5),
        nn.Conv2d(8, 3, 3, padding=1), nn.Tanh(),
    )  # fmt: skip
    with torch.no_grad():  # non-trivial running statistics, as after training
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    return model


def images(n: int = 5, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(1),
                         dtype=torch.uint8)  # fmt: skip


def test_train_mode_matches_pix2pix_batch_size_one_without_dropout():
    model = tiny_generator()
    model[3].p = 0.0  # compare normalisation only
    x = images()
    batched = translate_images(model, x, test_mode="train", batch_size=5)
    reference = tiny_generator()
    reference[3].p = 0.0
    reference.train()
    singles = []
    with torch.no_grad():
        for i in range(len(x)):
            singles.append(quantize_to_uint8(reference(x[i : i + 1].float() / 127.5 - 1)))
    assert torch.equal(batched, torch.cat(singles))
    # running statistics untouched
    assert torch.equal(model[1].running_mean, tiny_generator()[1].running_mean)


def test_train_mode_is_independent_of_batch_size_and_seeded():
    model = tiny_generator()
    x = images(6)
    a = translate_images(model, x, test_mode="train", batch_size=6, seed=3)
    b = translate_images(model, x, test_mode="train", batch_size=6, seed=3)
    c = translate_images(model, x, test_mode="train", batch_size=6, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)  # dropout is on, and seeded


def test_eval_mode_uses_running_statistics_and_no_dropout():
    model = tiny_generator()
    x = images()
    out_1 = translate_images(model, x, test_mode="eval", batch_size=1)
    out_5 = translate_images(model, x, test_mode="eval", batch_size=5, seed=9)
    assert torch.equal(out_1, out_5)
    assert not torch.equal(out_1, translate_images(model, x, test_mode="train", batch_size=5))


def test_quantisation_is_the_documented_formula():
    x = torch.tensor([-1.5, -1.0, -0.0039, 0.0, 0.5, 1.0, 2.0])
    assert quantize_to_uint8(x).tolist() == [0, 0, 127, 128, 191, 255, 255]


def test_center_crop_and_bad_mode():
    x = torch.arange(2 * 3 * 6 * 6).reshape(2, 3, 6, 6)
    assert torch.equal(center_crop(x, 4), x[..., 1:5, 1:5])
    with pytest.raises(ValueError, match="smaller than the crop"):
        center_crop(x, 8)
    with pytest.raises(ValueError, match="test_mode"):
        prepare_for_test(tiny_generator(), "inference")
