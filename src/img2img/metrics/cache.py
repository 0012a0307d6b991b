"""Cache of the real images' Inception statistics (mean, covariance, features for KID).

The key covers everything the statistics depend on: the weights' SHA-1, the resize method and a
SHA-256 of the real uint8 tensor (its shape included). The caller picks the file; it is written
atomically with ``torch.save`` and read with ``torch.load(weights_only=True)``. A file whose key,
format or content does not match is ignored (and overwritten by the next save), never trusted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from img2img.atomic import atomic_output

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1


@dataclass(frozen=True)
class RealStats:
    """Inception statistics of a set of real images, and the key they were computed under."""

    key: str
    mu: np.ndarray  # d, float64
    sigma: np.ndarray  # d×d, float64 (unbiased covariance)
    features: np.ndarray  # N×d, float64 (KID and the exact low-rank FID need them)

    @classmethod
    def from_features(cls, key: str, features: np.ndarray) -> RealStats:
        features = np.asarray(features, dtype=np.float64)
        return cls(key, features.mean(axis=0), np.cov(features, rowvar=False), features)


def content_hash(images_u8: torch.Tensor) -> str:
    """SHA-256 of a uint8 tensor's shape and bytes (device and memory layout do not matter)."""
    if images_u8.dtype != torch.uint8:
        raise ValueError(f"content_hash expects a uint8 tensor, got {images_u8.dtype}")
    digest = hashlib.sha256(f"uint8{tuple(images_u8.shape)}".encode())
    digest.update(images_u8.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def real_stats_key(weights_sha1: str, resize_method: str, images_u8: torch.Tensor) -> str:
    """``{weights sha1}-{resize method}-{content sha256}``: any change gives another key."""
    return f"{weights_sha1}-{resize_method}-{content_hash(images_u8)}"


def save_real_stats(path: str | Path, stats: RealStats) -> None:
    """Write ``stats`` to ``path`` atomically (a reader sees the old file or the new one)."""
    payload = {
        "format": CACHE_FORMAT,
        "key": stats.key,
        "mu": torch.from_numpy(np.ascontiguousarray(stats.mu, dtype=np.float64)),
        "sigma": torch.from_numpy(np.ascontiguousarray(stats.sigma, dtype=np.float64)),
        "features": torch.from_numpy(np.ascontiguousarray(stats.features, dtype=np.float64)),
    }
    with atomic_output(path) as handle:
        torch.save(payload, handle)


def load_real_stats(path: str | Path, key: str) -> RealStats | None:
    """The statistics stored at ``path`` if the file exists, reads and carries ``key``; else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT:
            raise ValueError(f"not a format-{CACHE_FORMAT} real-statistics cache")
        if payload.get("key") != key:
            logger.info("FID cache %s holds other images or weights; recomputing", path)
            return None
        stats = RealStats(
            key,
            payload["mu"].numpy(),
            payload["sigma"].numpy(),
            payload["features"].numpy(),
        )
        dim = stats.mu.shape[0]
        if (
            stats.sigma.shape != (dim, dim)
            or stats.features.ndim != 2
            or stats.features.shape[1] != dim
        ):
            raise ValueError("inconsistent shapes")
        return stats
    except Exception as exc:  # a torn, foreign or corrupt file is a cache miss, not a failure
        logger.warning("Ignoring unreadable FID cache %s (%s)", path, exc)
        return None
