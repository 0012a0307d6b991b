"""Image-quality metrics (plain PyTorch/NumPy, no Kedro): SSIM, PSNR, L1, FID, KID."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from img2img.atomic import atomic_output
from img2img.metrics.distribution import KID_SUBSETS, fid_from_features, kid_from_features
from img2img.metrics.image_quality import CONVENTIONS, aggregate, per_image_scores
from img2img.metrics.inception import (
    RESIZE_METHOD,
    InceptionWeights,
    MissingWeights,
    inception_features,
    locate_inception_weights,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CONVENTIONS",
    "InceptionWeights",
    "MissingWeights",
    "aggregate",
    "distribution_metrics",
    "locate_inception_weights",
    "per_image_scores",
]


def content_hash(images_u8: torch.Tensor) -> str:
    digest = hashlib.sha256(str(tuple(images_u8.shape)).encode())
    digest.update(images_u8.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def real_features(
    real_u8: torch.Tensor, weights: InceptionWeights, device: torch.device | str, batch_size: int,
    cache_dir: Path | None,
) -> np.ndarray:  # fmt: skip
    """Inception features of the real images, cached by (weights SHA-1, resize method, content)."""
    key = f"{weights.sha1[:16]}-{RESIZE_METHOD}-{content_hash(real_u8)[:32]}"
    path = Path(cache_dir) / f"real_features_{key}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring unreadable FID cache %s (%s)", path, exc)
    features = inception_features(real_u8, weights, device, batch_size)
    if path is not None:
        with atomic_output(path) as handle:
            np.save(handle, features, allow_pickle=False)
    return features


def distribution_metrics(
    real_u8: torch.Tensor,
    fake_u8: torch.Tensor,
    weights: InceptionWeights | MissingWeights,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
    cache_dir: Path | None = None,
    kid_subsets: int = KID_SUBSETS,
) -> dict[str, Any]:
    """FID and KID of ``fake_u8`` against ``real_u8``; null values and a status without weights."""
    result: dict[str, Any] = {"fid": None, "kid_mean": None, "kid_std": None, "n_real": len(real_u8),
                              "n_fake": len(fake_u8), "resize": RESIZE_METHOD}  # fmt: skip
    if isinstance(weights, MissingWeights):
        return {**result, "status": weights.status}
    if len(real_u8) < 2 or len(fake_u8) < 2:
        return {
            **result,
            "status": f"FID/KID need at least 2 images per side, got {len(real_u8)} and {len(fake_u8)}",
        }
    real = real_features(real_u8, weights, device, batch_size, cache_dir)
    fake = inception_features(fake_u8, weights, device, batch_size)
    kid_mean, kid_std, subset = kid_from_features(real, fake, subsets=kid_subsets)
    return {
        **result,
        "fid": fid_from_features(real, fake),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "kid_subset_size": subset,
        "kid_subsets": kid_subsets,
        "weights_sha1": weights.sha1,
        "status": "ok",
        "note": "FID on a few hundred images is biased upwards; compare KID (unbiased) across runs",
    }
