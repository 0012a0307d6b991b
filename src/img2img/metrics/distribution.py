"""FID and KID from Inception features, computed without ``scipy.linalg.sqrtm``.

* FID (Heusel et al. 2017): ``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)`` in float64, where
  ``tr((S1 S2)^½)`` is taken through the symmetric PSD matrix ``S1^½ S2 S1^½`` (same eigenvalues), with
  two symmetric eigen decompositions: ~2 s at d = 2048 here, vs ~13 s for ``sqrtm``.
* KID (Bińkowski et al. 2018): unbiased MMD² with the kernel ``k(x, y) = (x·y / d + 1)³``, averaged
  over 100 random subsets of size ``min(N, M, 1000)`` drawn with a fixed seed; mean and std. Unlike
  FID it has no bias that depends on N, which matters on test splits of a few hundred images.
"""

from __future__ import annotations

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 0


def mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors (N×d), got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("the two Gaussians have different dimensions")
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    distance = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)
    return max(distance, 0.0)  # >= 0 exactly; rounding can leave -1e-6 for identical sets


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    return frechet_distance(*mean_and_covariance(real), *mean_and_covariance(fake))


def kid_from_features(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = KID_SEED,
) -> tuple[float, float, int]:
    """(mean, std, subset size used) of the unbiased polynomial-kernel MMD² over random subsets."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(len(real), len(fake), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 2 images per side, got {len(real)} and {len(fake)}")
    dim = real.shape[1]
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets)
    for index in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        k_xx = (x @ x.T / dim + 1) ** 3
        k_yy = (y @ y.T / dim + 1) ** 3
        k_xy = (x @ y.T / dim + 1) ** 3
        off_diagonal = size * (size - 1)
        estimates[index] = (
            (k_xx.sum() - np.trace(k_xx)) / off_diagonal
            + (k_yy.sum() - np.trace(k_yy)) / off_diagonal
            - 2 * k_xy.mean()
        )
    return float(estimates.mean()), float(estimates.std()), size
