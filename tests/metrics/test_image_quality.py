"""SSIM, PSNR, L1 against scikit-image, and their conventions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from img2img.gan.translation import quantize_to_uint8
from img2img.metrics.image_quality import (
    METADATA,
    PSNR_CAP_DB,
    aggregate,
    l1_per_image,
    per_image_scores,
    psnr_per_image,
    ssim_per_image,
)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255)  # fmt: skip


@pytest.mark.parametrize(
    "shape", [(3, 64, 64, 3), (2, 37, 53, 3), (2, 11, 11, 3), (1, 256, 200, 3)]
)
def test_ssim_matches_skimage_wang_settings(shape):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-60, 60, shape), 0, 255).astype(np.uint8)
    b[0, : shape[1] // 2] = 255 - b[0, : shape[1] // 2]  # structured differences too
    ours = ssim_per_image(to_tensor(a), to_tensor(b), chunk=2).numpy()
    reference = [skimage_ssim(a[i], b[i]) for i in range(len(a))]
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_ssim_of_smooth_images_and_identity():
    y, x = np.mgrid[0:96, 0:96]
    a = np.stack([(x + y) % 256, x * 2 % 256, np.full_like(x, 200)], axis=-1).astype(np.uint8)[None]
    b = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    np.testing.assert_allclose(
        ssim_per_image(to_tensor(a), to_tensor(b)).numpy(), [skimage_ssim(a[0], b[0])], atol=1e-4
    )
    assert ssim_per_image(to_tensor(a), to_tensor(a)).item() == pytest.approx(1.0, abs=1e-6)


def test_skimage_default_window_is_not_our_convention():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-80, 80, a.shape), 0, 255).astype(np.uint8)
    default = structural_similarity(a[0], b[0], channel_axis=2, data_range=255)
    ours = ssim_per_image(to_tensor(a), to_tensor(b)).item()
    assert abs(default - ours) > 1e-3  # 7x7 uniform window gives other numbers


def test_psnr_per_image_matches_skimage_and_is_not_pooled():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    b = a.copy()
    b[0] = np.clip(b[0].astype(int) + rng.integers(-5, 5, b[0].shape), 0, 255)
    b[1] = np.clip(b[1].astype(int) + rng.integers(-80, 80, b[1].shape), 0, 255)
    ours = psnr_per_image(to_tensor(a), to_tensor(b)).numpy()
    reference = [peak_signal_noise_ratio(a[i], b[i], data_range=255) for i in range(2)]
    np.testing.assert_allclose(ours[:2], reference, rtol=1e-10)
    assert np.isposinf(ours[2])
    summary = aggregate({"psnr": ours})
    assert summary["psnr"] == pytest.approx((ours[0] + ours[1] + PSNR_CAP_DB) / 3)
    assert summary["psnr_capped_images"] == 1
    pooled = 10 * np.log10(255**2 / np.mean((a[:2].astype(float) - b[:2]) ** 2))
    assert abs(pooled - ours[:2].mean()) > 1.0  # pooling the MSE gives a different number


def test_l1_in_pixel_units_and_input_checks():
    a = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    b = torch.full((2, 3, 16, 16), 10, dtype=torch.uint8)
    assert l1_per_image(a, b).tolist() == [10.0, 10.0]
    with pytest.raises(ValueError, match="uint8"):
        l1_per_image(a.float(), b.float())
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim_per_image(a[..., :8, :8], b[..., :8, :8])


def test_quantize_to_uint8_is_exactly_the_convention():
    x = torch.tensor([-1.5, -1.0, -0.999, 0.0, 1 / 255, 0.5, 0.99, 1.0, 2.0])
    expected = ((x.double() + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
    assert quantize_to_uint8(x).dtype == torch.uint8
    assert quantize_to_uint8(x).tolist() == expected.tolist()
    assert quantize_to_uint8(x).tolist() == [0, 0, 0, 128, 128, 191, 254, 255, 255]
    values = torch.linspace(-1, 1, 10_001)
    assert torch.equal(
        quantize_to_uint8(values), ((values + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
    )


def test_scores_do_not_depend_on_chunking_and_shapes_are_checked():
    generator = torch.Generator().manual_seed(3)
    a = torch.randint(0, 256, (5, 3, 24, 30), dtype=torch.uint8, generator=generator)
    b = torch.randint(0, 256, (5, 3, 24, 30), dtype=torch.uint8, generator=generator)
    one, many = per_image_scores(a, b, chunk=1), per_image_scores(a, b, chunk=4)
    assert set(one) == {"ssim", "psnr", "l1"} and all(v.shape == (5,) for v in one.values())
    for name in one:
        np.testing.assert_allclose(one[name], many[name], rtol=1e-6)
    with pytest.raises(ValueError, match="equal shape"):
        per_image_scores(a, b[:4])
    with pytest.raises(ValueError, match="equal shape"):
        per_image_scores(a[0], b[0])


def test_metadata_states_the_conventions():
    assert METADATA["ssim"]["window_size"] == 11 and METADATA["ssim"]["sigma"] == 1.5
    assert (METADATA["ssim"]["K1"], METADATA["ssim"]["K2"]) == (0.01, 0.03)
    assert METADATA["psnr"]["inf_cap_db"] == PSNR_CAP_DB
    assert aggregate({"ssim": np.array([0.5, 1.0]), "l1": np.array([1.0, 3.0])}) == {
        "ssim": 0.75,
        "l1": 2.0,
    }
