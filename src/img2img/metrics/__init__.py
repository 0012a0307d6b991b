"""Image-quality metrics (plain PyTorch/NumPy, no Kedro): SSIM, PSNR, L1 per image; FID, KID per set.

* :func:`per_image_scores` / :func:`aggregate`: SSIM, PSNR, L1 of uint8 pairs (see
  :mod:`img2img.metrics.image_quality` for the conventions, :data:`METADATA` for them as fields).
* :func:`locate_inception_weights` then :func:`distribution_metrics`: FID and KID from the verified
  TF-Inception weights, or null values and a status saying why and how to fix it.
* The images are uint8: generator outputs are quantised once, before any metric, by
  :func:`img2img.gan.translation.quantize_to_uint8`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from img2img.metrics.cache import (
    RealStats,
    content_hash,
    load_real_stats,
    real_stats_key,
    save_real_stats,
)
from img2img.metrics.distribution import (
    KID_DEGREE,
    KID_SEED,
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    frechet_distance,
    frechet_distance_low_rank,
    kid_from_features,
    mean_and_covariance,
)
from img2img.metrics.image_quality import CONVENTIONS, METADATA, aggregate, per_image_scores
from img2img.metrics.inception import (
    INCEPTION_BATCH,
    INCEPTION_SHA1,
    RESIZE_METHOD,
    InceptionWeights,
    MissingWeights,
    inception_features,
    locate_inception_weights,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CONVENTIONS",
    "LOWER_IS_BETTER",
    "METADATA",
    "InceptionWeights",
    "MissingWeights",
    "RealStats",
    "aggregate",
    "better",
    "content_hash",
    "distribution_conventions",
    "distribution_metrics",
    "inception_features",
    "load_real_stats",
    "locate_inception_weights",
    "per_image_scores",
    "real_stats",
    "real_stats_key",
    "save_real_stats",
    "set_scores",
]

#: The direction of every score: lower is better for these, higher for the others.
LOWER_IS_BETTER = {"l1": True, "fid": True, "kid_mean": True, "ssim": False, "psnr": False}


def better(metric: str, ours: float, theirs: float) -> bool:
    """Whether ``ours`` is strictly better than ``theirs`` on ``metric``."""
    return ours < theirs if LOWER_IS_BETTER[metric] else ours > theirs


def distribution_conventions(kid_subsets: int = KID_SUBSETS) -> dict[str, str]:
    """How FID and KID are computed, as text for reports and the metrics file."""
    return {
        "fid": f"TF-Inception 2015-12-05 pool3 (SHA-1 {INCEPTION_SHA1}), {RESIZE_METHOD} resize to "
        "299, (x-128)/128; Frechet distance in float64, exact (low-rank route when N < 2048, else eigen)",
        "kid": f"unbiased MMD^2, polynomial kernel (x.y/d+1)^{KID_DEGREE}, {kid_subsets} subsets of "
        f"min(N_real, N_fake, {KID_SUBSET_SIZE}) without replacement, seed {KID_SEED}; mean and std",
    }


#: Real statistics of the last few real sets, by key, so that scoring several fake sets (model and
#: baselines) against one real set extracts the real features once even without a cache file.
_MEMORY: OrderedDict[str, RealStats] = OrderedDict()
_MEMORY_SIZE = 2


def real_stats(
    real_u8: torch.Tensor,
    weights: InceptionWeights,
    device: torch.device | str = "cpu",
    batch_size: int = INCEPTION_BATCH,
    cache_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> RealStats:
    """Inception statistics of the real images: from memory, from the cache file, or computed.

    The last two real sets' statistics stay in memory (by key), so the model and the baselines are
    scored against one real set with one feature extraction even without a cache file.

    The cache file is ``cache_path``, else ``cache_dir/real_stats_<digest of the key>.pt``, else
    none; computed statistics are written to it atomically.
    """
    key = real_stats_key(weights.sha1, RESIZE_METHOD, real_u8)
    if cache_path is None and cache_dir is not None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        cache_path = Path(cache_dir) / f"real_stats_{digest}.pt"
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        stats = _MEMORY[key]
        if cache_path is not None and not Path(cache_path).is_file():
            save_real_stats(cache_path, stats)
        return stats
    stats = load_real_stats(cache_path, key) if cache_path is not None else None
    if stats is None:
        stats = RealStats.from_features(
            key, inception_features(real_u8, weights, device, batch_size)
        )
        if cache_path is not None:
            save_real_stats(cache_path, stats)
    _MEMORY[key] = stats
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return stats


def _fid(real: RealStats, fake: np.ndarray) -> float:
    if min(len(real.features), len(fake)) < real.features.shape[1]:
        return frechet_distance_low_rank(real.features, fake)
    return frechet_distance(real.mu, real.sigma, *mean_and_covariance(fake))


def set_scores(real: RealStats, fake: np.ndarray, kid_subsets: int = KID_SUBSETS) -> dict[str, Any]:
    """FID and KID (mean, std, subset size) of fake Inception features against real statistics."""
    kid_mean, kid_std, subset = kid_from_features(real.features, fake, subsets=kid_subsets)
    return {"fid": _fid(real, fake), "kid_mean": kid_mean, "kid_std": kid_std,
            "kid_subset_size": subset, "kid_subsets": kid_subsets}  # fmt: skip


def distribution_metrics(
    real_u8: torch.Tensor,
    fake_u8: torch.Tensor,
    weights: InceptionWeights | MissingWeights,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = INCEPTION_BATCH,
    real_stats_cache: str | Path | None = None,
    cache_dir: str | Path | None = None,
    kid_subsets: int = KID_SUBSETS,
) -> dict[str, Any]:
    """FID and KID of ``fake_u8`` against ``real_u8`` (uint8 N×3×H×W, any sizes, any device).

    Returns ``fid``, ``kid_mean``, ``kid_std`` (floats, or None when not computed), ``n_real``,
    ``n_fake``, ``n`` (= ``n_fake``), ``status`` ("ok" or why not and how to fix it) and the
    conventions. Without verified weights (:class:`MissingWeights`) the values are None, never a
    number from other weights. Real statistics are cached in ``real_stats_cache`` (a file) or, if
    only ``cache_dir`` is given, in ``cache_dir/real_stats_<key>.pt``; the key covers the weights, the
    resize method and the images' content, so a stale file is never used.
    """
    result: dict[str, Any] = {
        "fid": None,
        "kid_mean": None,
        "kid_std": None,
        "n_real": len(real_u8),
        "n_fake": len(fake_u8),
        "n": len(fake_u8),
        "resize": RESIZE_METHOD,
        "conventions": distribution_conventions(kid_subsets),
    }
    if isinstance(weights, MissingWeights):
        return {**result, "status": weights.status}
    if not isinstance(weights, InceptionWeights):
        raise TypeError(f"weights must come from locate_inception_weights, got {type(weights)}")
    if len(real_u8) < 2 or len(fake_u8) < 2:
        return {
            **result,
            "status": f"FID/KID need at least 2 images per side, got {len(real_u8)} real and "
            f"{len(fake_u8)} generated",
        }
    real = real_stats(real_u8, weights, device, batch_size, real_stats_cache, cache_dir)
    fake = inception_features(fake_u8, weights, device, batch_size)
    return {
        **result,
        **set_scores(real, fake, kid_subsets),
        "weights_sha1": weights.sha1,
        "status": "ok",
        "note": "FID on a few hundred images is biased upwards; compare KID (unbiased) across runs",
    }
