"""Decode one image file into 8-bit RGB, or say exactly why it cannot be used.

Every pixel that later reaches training passes through :func:`load_rgb`, so all the format quirks of
user data are handled here once: EXIF orientation, grayscale / palette / RGBA / 16-bit / CMYK modes,
empty, truncated and non-image files, and decompression bombs.

One pixel limit: :attr:`ImageLimits.max_pixels` (``data_processing.validation.max_pixels``). Pillow
has its own decompression-bomb limit (the process-wide ``PIL.Image.MAX_IMAGE_PIXELS``, about 89 M
pixels: a warning above it, an error above twice it); while :func:`load_rgb` decodes, Pillow's limit is
set to ours, so Pillow neither refuses an image our limit accepts nor decodes one it refuses, and
Pillow's value is put back as soon as no decoding runs (see :class:`_SharedPillowLimit`). Every size
rejection names the parameter. Pillow may still print its own ``DecompressionBombWarning`` (naming
the same limit) for an image between one and two times the limit, just before it is rejected.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


class ImageTooLarge(ImageRejected):
    """An input image above :attr:`ImageLimits.max_pixels` (the decompression-bomb guard)."""


@dataclass(frozen=True)
class ImageLimits:
    """Bounds an input image must respect (validated parameters).

    ``parameters`` is where the bounds come from, named in every rejection reason
    (``data_processing.validation.max_pixels=40000000``).
    """

    min_size: int = 32
    max_pixels: int = 40_000_000
    parameters: str = "data_processing.validation"

    def above_max_pixels(self, width: int, height: int) -> str:
        """The rejection reason of a ``width`` x ``height`` image above ``max_pixels``."""
        return (
            f"image is {width}x{height} = {width * height} pixels (from its header), above "
            f"{self.parameters}.max_pixels={self.max_pixels} (decompression-bomb guard)"
        )


class _SharedPillowLimit:
    """Pillow's global ``Image.MAX_IMAGE_PIXELS`` set to our limit while decodes run, thread-safely.

    Pillow reads its limit from that global, at open and inside some decoders (TIFF tiles, GIF
    frames), so it cannot be given per call. Decoding threads with the same limit share one setting;
    a thread with another limit waits until they are all done; the last thread out puts back the
    value it found, so code that runs when no decode is in progress sees Pillow's own setting.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._users = 0
        self._limit: int | None = None
        self._saved: int | None = None

    @contextmanager
    def applied(self, max_pixels: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._users == 0 or self._limit == max_pixels)
            if self._users == 0:
                self._saved, self._limit = Image.MAX_IMAGE_PIXELS, max_pixels
                Image.MAX_IMAGE_PIXELS = max_pixels
            self._users += 1
        try:
            yield
        finally:
            with self._changed:
                self._users -= 1
                if self._users == 0:
                    Image.MAX_IMAGE_PIXELS, self._limit = self._saved, None
                    self._changed.notify_all()


_PILLOW_LIMIT = _SharedPillowLimit()
_PILLOW_PIXELS = re.compile(r"Image size \((\d+) pixels\)")


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
    """Read ``path`` as an H×W×3 uint8 array, or raise :class:`ImageRejected` with the reason.

    The size is checked against ``limits.max_pixels`` from the header, before any pixel is decoded.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageRejected(path, f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise ImageRejected(path, "empty file (0 bytes)")
    return _decode(path, path, limits)


def decode_rgb(data: bytes, name: str, limits: ImageLimits) -> np.ndarray:
    """:func:`load_rgb` for an image held in memory (an upload); ``name`` is named in rejections."""
    if not data:
        raise ImageRejected(name, "empty file (0 bytes)")
    return _decode(io.BytesIO(data), name, limits)


def _decode(source: Path | io.BytesIO, name: Path | str, limits: ImageLimits) -> np.ndarray:
    try:
        with _PILLOW_LIMIT.applied(limits.max_pixels), Image.open(source) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageTooLarge(name, limits.above_max_pixels(width, height))
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb = np.asarray(_to_rgb8(image))
    except ImageRejected:
        raise
    except UnidentifiedImageError as exc:
        raise ImageRejected(name, "not an image: Pillow cannot identify the file format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(name, _bomb_reason(exc, limits)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(name, f"corrupt or truncated image: {exc}") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageRejected(name, f"unexpected decoded shape {rgb.shape}")
    return np.ascontiguousarray(rgb)


def _bomb_reason(exc: Exception, limits: ImageLimits) -> str:
    """Pillow's refusal (it applies our limit, see :class:`_SharedPillowLimit`), in our words."""
    found = _PILLOW_PIXELS.search(str(exc))
    size = f"{found.group(1)} pixels" if found else "larger than the limit"
    return (
        f"image is {size} (Pillow's check), above "
        f"{limits.parameters}.max_pixels={limits.max_pixels} (decompression-bomb guard)"
    )


def check_min_size(path: Path | str, rgb: np.ndarray, limits: ImageLimits, what: str) -> None:
    height, width = rgb.shape[:2]
    if min(height, width) < limits.min_size:
        raise ImageRejected(
            path,
            f"{what} is {width}x{height}, below {limits.parameters}.min_size={limits.min_size}",
        )


def pixel_sha256(rgb: np.ndarray) -> str:
    """Content hash of decoded pixels (shape included), independent of file format and metadata."""
    digest = hashlib.sha256()
    digest.update(np.asarray(rgb.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(rgb).tobytes())
    return digest.hexdigest()
