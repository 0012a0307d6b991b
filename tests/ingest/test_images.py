"""Decoding and normalising single image files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from img2img.ingest.images import ImageLimits, ImageRejected, load_rgb, pixel_sha256
from tests.conftest import random_rgb, save_image

LIMITS = ImageLimits(min_size=8, max_pixels=1_000_000)


def test_rgb_png_round_trips_exactly(tmp_path):
    array = random_rgb(0)
    out = load_rgb(save_image(tmp_path / "x.png", array), LIMITS)
    assert out.dtype == np.uint8 and out.shape == (48, 48, 3)
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("L", lambda rgb: np.all(rgb[..., 0] == rgb[..., 1])),
        ("P", lambda rgb: rgb.shape[2] == 3),
        ("CMYK", lambda rgb: rgb.shape[2] == 3),
    ],
)
def test_other_modes_become_rgb(tmp_path, mode, check):
    image = Image.fromarray(random_rgb(1)).convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path)
    rgb = load_rgb(path, LIMITS)
    assert rgb.shape == (48, 48, 3) and rgb.dtype == np.uint8
    assert check(rgb)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:8, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    save_image(tmp_path / "x.png", rgba)
    rgb = load_rgb(tmp_path / "x.png", LIMITS)
    assert tuple(rgb[0, 0]) == (200, 0, 0)
    assert tuple(rgb[15, 0]) == (255, 255, 255)


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "x.png")
    rgb = load_rgb(tmp_path / "x.png", LIMITS)
    assert rgb.min() == 0 and rgb.max() == 255
    assert 100 < rgb[16, 0, 0] < 160  # mid-range stays mid-range (clipping would give 255)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((20, 40, 3), dtype=np.uint8)  # wide image
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    image.save(tmp_path / "x.jpg", exif=exif.tobytes())
    assert load_rgb(tmp_path / "x.jpg", LIMITS).shape == (40, 20, 3)


def test_zero_byte_file(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(ImageRejected, match="empty file"):
        load_rgb(tmp_path / "x.jpg", LIMITS)


def test_text_with_image_extension(tmp_path):
    (tmp_path / "x.png").write_text("not an image at all")
    with pytest.raises(ImageRejected, match="not an image"):
        load_rgb(tmp_path / "x.png", LIMITS)


def test_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(random_rgb(2, 64, 64)).save(buffer, format="JPEG")
    (tmp_path / "x.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageRejected, match="corrupt or truncated"):
        load_rgb(tmp_path / "x.jpg", LIMITS)


def test_decompression_bomb_guard_reads_header_only(tmp_path):
    Image.new("L", (2000, 1000)).save(tmp_path / "big.png")
    with pytest.raises(ImageRejected, match="max_pixels"):
        load_rgb(tmp_path / "big.png", ImageLimits(min_size=8, max_pixels=1_000_000))


def test_pixel_hash_ignores_format_but_not_content(tmp_path):
    array = random_rgb(3)
    png = load_rgb(save_image(tmp_path / "a.png", array), LIMITS)
    bmp = load_rgb(save_image(tmp_path / "a.bmp", array), LIMITS)
    assert pixel_sha256(png) == pixel_sha256(bmp)
    changed = png.copy()
    changed[0, 0, 0] ^= 1
    assert pixel_sha256(changed) != pixel_sha256(png)
