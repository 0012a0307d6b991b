"""Paired noise tests: the bootstrap of per-image differences and paired KID subsets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from img2img.metrics.distribution import kid_from_features, polynomial_kernel
from img2img.metrics.paired import MIN_IMAGES, bootstrap_difference, paired_kid_difference


def test_bootstrap_interval_covers_a_real_difference_and_excludes_zero():
    rng = np.random.default_rng(0)
    champion = rng.normal(0.5, 0.1, 200)
    better = bootstrap_difference("ssim", champion + 0.05 + rng.normal(0, 0.01, 200), champion)
    assert better.low < 0.05 < better.high and better.low > 0 and better.has_interval()
    same = bootstrap_difference("ssim", champion, champion)
    assert same.difference == same.low == same.high == 0.0
    noisy = bootstrap_difference("ssim", champion + rng.normal(0, 0.1, 200), champion)
    assert noisy.low < 0 < noisy.high
    assert bootstrap_difference("ssim", champion, champion + 0.0) == same  # seeded: reproducible


def test_too_few_images_give_no_interval():
    few = np.arange(MIN_IMAGES - 1, dtype=float)
    result = bootstrap_difference("psnr", few + 1, few)
    assert result.difference == 1.0 and not result.has_interval()
    assert "too few images" in result.describe()
    features = np.random.default_rng(0).normal(size=(MIN_IMAGES - 1, 8))
    assert not paired_kid_difference(features, features, features, 0.0).has_interval()
    with pytest.raises(ValueError, match="equally long"):
        bootstrap_difference("l1", np.ones(3), np.ones((3, 1)))


def _kid_on(rows: np.ndarray, real: np.ndarray, fake: np.ndarray) -> float:
    """Unbiased KID on one subset, computed directly from its rows."""
    x, y = real[rows], fake[rows]
    size = len(rows)
    k_xx, k_yy, k_xy = (polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))
    off = size * (size - 1)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / off + (k_yy.sum() - np.trace(k_yy)) / off - 2 * k_xy.mean()
    )


def test_paired_kid_subsets_match_a_direct_computation_and_separate_models():
    rng = np.random.default_rng(1)
    real = rng.normal(0, 1, (40, 16))
    close = real + rng.normal(0, 0.1, real.shape)
    far = real + rng.normal(0.5, 0.5, real.shape)
    full = kid_from_features(real, close, subsets=1)[0] - kid_from_features(real, far, subsets=1)[0]
    result = paired_kid_difference(real, close, far, full, samples=50)
    assert result.difference == full and result.high < 0  # "close" is better beyond noise
    # The interval comes from the same subsets a direct computation sees.
    subsets = np.random.default_rng(0).random((50, 40)).argsort(axis=1)[:, :20]
    direct = [_kid_on(rows, real, close) - _kid_on(rows, real, far) for rows in subsets]
    assert result.low == pytest.approx(np.percentile(direct, 2.5), rel=1e-9)
    assert result.high == pytest.approx(np.percentile(direct, 97.5), rel=1e-9)
    tie = paired_kid_difference(real, close, close, 0.0, samples=50)
    assert tie.low == tie.high == 0.0 and not math.isnan(tie.low)
