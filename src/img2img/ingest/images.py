"""Decode one image file into 8-bit RGB, or say exactly why it cannot be used.

Every pixel that later reaches training passes through :func:`load_rgb`, so all the format quirks of
user data are handled here once: EXIF orientation, grayscale / palette / RGBA / 16-bit / CMYK modes,
empty, truncated and non-image files, and decompression bombs.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}
)


class ImageRejected(Exception):
    """An input image cannot be used; ``reason`` is the human-readable cause."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class ImageLimits:
    """Bounds an input image must respect (validated parameters)."""

    min_size: int = 32
    max_pixels: int = 40_000_000


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb8(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. Alpha is composited over white; 16/32-bit is rescaled."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        values = np.asarray(image)
        if mode == "F":
            values = np.nan_to_num(values.astype(np.float64))
            lo, hi = float(values.min()), float(values.max())
            scaled = (values - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(values)
        else:
            # 16-bit data (Pillow reads 16-bit PNG/TIFF greyscale as I;16 or I): keep the top 8 bits.
            peak = 65535.0 if values.max() > 255 or mode.startswith("I;16") else 255.0
            scaled = values.astype(np.float64) * (255.0 / peak)
        gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([gray] * 3, axis=-1), mode="RGB")
    if mode in {"RGBA", "LA", "PA", "La", "RGBa"} or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: Path, limits: ImageLimits) -> np.ndarray:
    """Read ``path`` as an H×W×3 uint8 array, or raise :class:`ImageRejected` with the reason."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageRejected(path, f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise ImageRejected(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise ImageRejected(
                        path,
                        f"image is {width}x{height} = {width * height} pixels, above "
                        f"data_processing.validation.max_pixels={limits.max_pixels} "
                        "(decompression-bomb guard)",
                    )
                image.load()
                image = ImageOps.exif_transpose(image)
                rgb = np.asarray(_to_rgb8(image))
    except ImageRejected:
        raise
    except UnidentifiedImageError as exc:
        raise ImageRejected(path, "not an image: Pillow cannot identify the file format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(path, f"decompression-bomb guard: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(path, f"corrupt or truncated image: {exc}") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageRejected(path, f"unexpected decoded shape {rgb.shape}")
    return np.ascontiguousarray(rgb)


def check_min_size(path: Path | str, rgb: np.ndarray, limits: ImageLimits, what: str) -> None:
    height, width = rgb.shape[:2]
    if min(height, width) < limits.min_size:
        raise ImageRejected(
            path,
            f"{what} is {width}x{height}, below "
            f"data_processing.validation.min_size={limits.min_size}",
        )


def pixel_sha256(rgb: np.ndarray) -> str:
    """Content hash of decoded pixels (shape included), independent of file format and metadata."""
    digest = hashlib.sha256()
    digest.update(np.asarray(rgb.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(rgb).tobytes())
    return digest.hexdigest()
