"""Per-image SSIM, PSNR and L1 on uint8 images, with the conventions that make numbers comparable.

* **SSIM**: Wang et al. (2004): 11×11 Gaussian window (σ = 1.5, truncated at 3.5σ, as
  ``scipy.ndimage.gaussian_filter``), K1 = 0.01, K2 = 0.03, data_range 255, population (not sample)
  covariances, computed per RGB channel on the valid region (a 5-pixel border is excluded, as
  scikit-image does) and averaged over channels, per image. Equal to
  ``skimage.metrics.structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)`` (tested to 1e-4). Batched, in chunks, on the
  images' device: float32 on pixels centred at 128, so the variance ``E[x²] - E[x]²`` keeps
  its precision (agreement with scikit-image's float64 result: ~1e-8); memory stays bounded.
* **PSNR**: per image, ``10·log10(255² / MSE)``; identical images give +inf. Aggregates average the
  per-image values (not the MSE pooled over the batch, which gives ~2 dB different numbers), with
  +inf capped at :data:`PSNR_CAP_DB` and the number of capped images reported.
* **L1**: mean absolute error per image in [0, 255].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DATA_RANGE = 255.0
PSNR_CAP_DB = 100.0
CONVENTIONS = {
    "ssim": "Wang et al. 2004: 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, data_range 255, "
    "per RGB channel on the valid region then averaged; per image, then the mean",
    "psnr": "per image 10*log10(255^2/MSE) on uint8 images, then the mean (inf capped at 100 dB)",
    "l1": "per image mean absolute error on uint8 images, in [0, 255], then the mean",
    "quantisation": "generator output x in [-1, 1] -> round((x + 1) / 2 * 255) clamped to [0, 255], once",
}
#: The same conventions as fields, for the metrics JSON.
METADATA = {
    "input": "uint8 N x 3 x H x W",
    "ssim": {
        "reference": "Wang et al. 2004",
        "window": "gaussian",
        "window_size": SSIM_WINDOW,
        "sigma": SSIM_SIGMA,
        "K1": SSIM_K1,
        "K2": SSIM_K2,
        "data_range": DATA_RANGE,
        "covariance": "population (use_sample_covariance=False)",
        "border": f"valid region only ({SSIM_WINDOW // 2} px cropped per side, as scikit-image)",
        "channels": "per RGB channel, then averaged",
        "aggregate": "mean of per-image values",
        "matches": "skimage.metrics.structural_similarity(channel_axis=2, gaussian_weights=True, "
        "sigma=1.5, use_sample_covariance=False, data_range=255)",
    },
    "psnr": {
        "data_range": DATA_RANGE,
        "per": "image (MSE over all pixels and channels of one image)",
        "aggregate": "mean of per-image values",
        "inf_cap_db": PSNR_CAP_DB,
        "inf_handling": "identical pairs give +inf per image; the mean counts them as "
        f"{PSNR_CAP_DB:g} dB and psnr_capped_images reports how many",
    },
    "l1": {"per": "image, mean absolute error", "range": [0, 255], "aggregate": "mean"},
}


def _check_pair(prediction: torch.Tensor, target: torch.Tensor) -> None:
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(
            f"expected two N×C×H×W batches of equal shape, got {tuple(prediction.shape)} and {tuple(target.shape)}"
        )
    if prediction.dtype != torch.uint8 or target.dtype != torch.uint8:
        raise ValueError(
            f"metrics are computed on uint8 images, got {prediction.dtype} and {target.dtype}"
        )


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    radius = size // 2
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _chunk_for(height: int, width: int) -> int:
    """Images per chunk: ~4 at 256x256, which keeps the local statistics in cache (3x faster than 16)."""
    return max(1, (4 * 256 * 256) // (height * width))


def ssim_per_image(
    prediction: torch.Tensor, target: torch.Tensor, chunk: int | None = None
) -> torch.Tensor:
    """SSIM of each image pair (N values, float64), see the module docstring for the convention."""
    _check_pair(prediction, target)
    height, width = prediction.shape[-2:]
    chunk = chunk or _chunk_for(height, width)
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {height}x{width}"
        )
    kernel = gaussian_window().to(device=prediction.device, dtype=torch.float32)
    channels = prediction.shape[1]
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    horizontal = kernel.view(1, 1, 1, -1).repeat(5 * channels, 1, 1, 1)
    vertical = kernel.view(1, 1, -1, 1).repeat(5 * channels, 1, 1, 1)
    scores = []
    for start in range(0, len(prediction), chunk):
        # Centred at 128 so that E[x²] - E[x]² keeps float32 precision; means are shifted back.
        x = prediction[start : start + chunk].to(torch.float32) - 128.0
        y = target[start : start + chunk].to(torch.float32) - 128.0
        stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # N × 5C × H × W
        # Depthwise convolutions are several times faster on CPUs in channels-last layout.
        stack = stack.contiguous(memory_format=torch.channels_last)
        filtered = F.conv2d(
            F.conv2d(stack, horizontal, groups=5 * channels), vertical, groups=5 * channels
        )
        mu_x, mu_y, xx, yy, xy = filtered.split(channels, dim=1)
        mu_xy = mu_x * mu_y
        mu_x2, mu_y2 = mu_x.square(), mu_y.square()
        numerator_cs = (xy - mu_xy).mul_(2).add_(c2)
        denominator_cs = (xx - mu_x2).add_(yy).sub_(mu_y2).add_(c2)
        # Luminance with the means shifted back from the centring: mu_x + 128.
        shifted_xy = mu_xy.add_(mu_x, alpha=128.0).add_(mu_y, alpha=128.0).add_(128.0**2)
        numerator_l = shifted_xy.mul_(2).add_(c1)
        denominator_l = (
            mu_x2.add_(mu_x, alpha=256.0)
            .add_(mu_y2)
            .add_(mu_y, alpha=256.0)
            .add_(2 * 128.0**2 + c1)
        )
        ssim_map = numerator_l.mul_(numerator_cs).div_(denominator_l.mul_(denominator_cs))
        scores.append(ssim_map.double().mean(dim=(2, 3)).mean(dim=1))
    return torch.cat(scores).cpu()


def _error_sums(
    prediction: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact per-image sums of |error| and error² (integer arithmetic on the uint8 images)."""
    _check_pair(prediction, target)
    sums_abs, sums_sq = [], []
    chunk = _chunk_for(*prediction.shape[-2:]) * 4
    for start in range(0, len(prediction), chunk):
        diff = prediction[start : start + chunk].to(torch.int32) - target[start : start + chunk].to(
            torch.int32
        )
        sums_abs.append(diff.abs().sum(dim=(1, 2, 3), dtype=torch.int64))
        sums_sq.append(diff.square_().sum(dim=(1, 2, 3), dtype=torch.int64))
    return torch.cat(sums_abs).cpu().double(), torch.cat(sums_sq).cpu().double()


def _psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(DATA_RANGE**2 / mse)


def psnr_per_image(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each pair; +inf where the images are identical."""
    _, squared = _error_sums(prediction, target)
    return _psnr_from_mse(squared / prediction[0].numel())


def l1_per_image(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    absolute, _ = _error_sums(prediction, target)
    return absolute / prediction[0].numel()


def per_image_scores(
    prediction: torch.Tensor, target: torch.Tensor, chunk: int | None = None
) -> dict[str, np.ndarray]:
    """``{"ssim", "psnr", "l1"}``: one value per image pair."""
    absolute, squared = _error_sums(prediction, target)
    pixels = prediction[0].numel()
    return {
        "ssim": ssim_per_image(prediction, target, chunk).numpy(),
        "psnr": _psnr_from_mse(squared / pixels).numpy(),
        "l1": (absolute / pixels).numpy(),
    }


def finite_scores(name: str, values: np.ndarray) -> np.ndarray:
    """Per-image values as they are averaged: PSNR's +inf (identical images) capped at
    :data:`PSNR_CAP_DB`; every other score as it is."""
    values = np.asarray(values, dtype=np.float64)
    return np.minimum(values, PSNR_CAP_DB) if name == "psnr" else values


def aggregate(scores: Mapping[str, np.ndarray]) -> dict[str, float | int]:
    """Means of per-image scores (PSNR with +inf capped at PSNR_CAP_DB, and the count of capped).

    The conventions behind the numbers are in :data:`METADATA` (fields) and :data:`CONVENTIONS`.
    """
    result: dict[str, float | int] = {}
    for name, values in scores.items():
        result[name] = float(finite_scores(name, values).mean()) if len(values) else math.nan
        if name == "psnr":
            result["psnr_capped_images"] = int(
                np.isposinf(np.asarray(values, dtype=np.float64)).sum()
            )
    return result
