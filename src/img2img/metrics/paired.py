"""Is one model better than another on the same images, beyond noise?

Two models scored on the same N images give paired scores; these functions estimate a confidence
interval of the difference ``a - b`` of a set score, from the images themselves:

* per-image metrics (SSIM, PSNR, L1): a **paired bootstrap** of the mean difference (``samples``
  resamples of the N image indices with replacement, percentile interval).
* KID: **paired subsets**: ``samples`` random subsets of half the images without replacement, the
  same indices for the real images and both models; on each, KID(a) - KID(b) with the unbiased
  estimator (the real-real kernel term cancels). Half-size subsets vary more than the full set
  does, so the interval is conservative (wider than the full set's).

FID has no such test here: it is biased at these set sizes and a subset FID is not the full one.
The seed is fixed, so the same scores give the same interval. Below :data:`MIN_IMAGES` images there
is no interval (NaN bounds): too few to tell an improvement from noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from img2img.metrics.distribution import polynomial_kernel

MIN_IMAGES = 10  # fewer paired images give no interval: the noise cannot be told from them
BOOTSTRAP_SAMPLES = 2000
KID_SUBSET_SAMPLES = 500
KID_MAX_IMAGES = 4096  # larger sets: the interval is estimated on this many random paired images
CONFIDENCE = 0.95
SEED = 0


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` of one metric with its confidence interval (NaN bounds: too few images)."""

    metric: str
    difference: float
    low: float
    high: float
    confidence: float
    method: str

    def has_interval(self) -> bool:
        """False when there were too few images to estimate the noise."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    def describe(self) -> str:
        interval = (
            f"[{self.low:+.4g}, {self.high:+.4g}]" if self.has_interval() else "[too few images]"
        )
        return f"{self.difference:+.4g} {interval}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_difference(
    metric: str, a: np.ndarray, b: np.ndarray, samples: int = BOOTSTRAP_SAMPLES,
    confidence: float = CONFIDENCE, seed: int = SEED,
) -> PairedDifference:  # fmt: skip
    """Mean of ``a - b`` over paired per-image values, with a paired-bootstrap interval."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.ndim != 1 or not len(diff):
        raise ValueError(f"{metric}: need two equally long 1-D arrays of per-image values")
    method = (
        f"paired bootstrap of the mean over {len(diff)} images, {samples} resamples, seed {seed}"
    )
    low = high = math.nan
    if len(diff) >= MIN_IMAGES:
        indices = np.random.default_rng(seed).integers(0, len(diff), (samples, len(diff)))
        low, high = _interval(diff[indices].mean(axis=1), confidence)
    return PairedDifference(metric, float(diff.mean()), low, high, confidence, method)


def paired_kid_difference(
    real: np.ndarray, a: np.ndarray, b: np.ndarray, difference: float,
    samples: int = KID_SUBSET_SAMPLES, confidence: float = CONFIDENCE, seed: int = SEED,
) -> PairedDifference:  # fmt: skip
    """Interval of KID(a) - KID(b) from paired half-size subsets; ``difference`` is the full sets'
    KID(a) - KID(b) (reported as the point estimate). ``real[i]``, ``a[i]``, ``b[i]``: image i."""
    count = len(real)
    if not len(a) == len(b) == count:
        raise ValueError(
            f"paired KID needs as many features per set, got {count}, {len(a)}, {len(b)}"
        )
    rng = np.random.default_rng(seed)
    if count > KID_MAX_IMAGES:
        keep = rng.choice(count, KID_MAX_IMAGES, replace=False)
        real, a, b, count = real[keep], a[keep], b[keep], KID_MAX_IMAGES
    size = count // 2
    method = (f"paired subsets: {samples} random subsets of {size} of {count} images, the same for "
              f"both models and the real images; unbiased KID difference; seed {seed}")  # fmt: skip
    if count < MIN_IMAGES:
        return PairedDifference("kid_mean", difference, math.nan, math.nan, confidence, method)
    # One row per subset: 1 for the images in it. Block sums of a kernel K over a subset s are
    # s^T K s, all subsets at once.
    masks = np.zeros((samples, count))
    chosen = rng.random((samples, count)).argsort(axis=1)[:, :size]
    np.put_along_axis(masks, chosen, 1.0, axis=1)

    def block_sums(kernel: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", masks @ kernel, masks)

    def offdiagonal_means(kernel: np.ndarray) -> np.ndarray:
        return (block_sums(kernel) - masks @ np.diag(kernel)) / (size * (size - 1))

    differences = (
        offdiagonal_means(polynomial_kernel(a, a))
        - offdiagonal_means(polynomial_kernel(b, b))
        - 2.0
        * (block_sums(polynomial_kernel(real, a)) - block_sums(polynomial_kernel(real, b)))
        / size**2
    )
    low, high = _interval(differences, confidence)
    return PairedDifference("kid_mean", difference, low, high, confidence, method)
