"""Decoding and normalising single image files."""

from __future__ import annotations

import io
import re
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from img2img.ingest import images
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


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, same limit
def test_decompression_bomb_guard_reads_header_only(tmp_path, monkeypatch):
    Image.new("L", (2000, 1000)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("pixels were decoded"))
    with pytest.raises(images.ImageTooLarge) as info:
        load_rgb(tmp_path / "big.png", ImageLimits(min_size=8, max_pixels=1_000_000))
    assert info.value.reason == (
        "image is 2000x1000 = 2000000 pixels (from its header), above "
        "data_processing.validation.max_pixels=1000000 (decompression-bomb guard)"
    )


PILLOW_DEFAULT = 1_000  # stands in for Pillow's ~89 M pixels: an image of 6000 is a bomb to Pillow


@pytest.fixture
def pillow_bomb(tmp_path, monkeypatch):
    """A 100x60 PNG, above twice the (lowered) Pillow limit: Pillow alone refuses to open it."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", PILLOW_DEFAULT)
    Image.new("RGB", (100, 60), (10, 20, 30)).save(tmp_path / "big.png")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(tmp_path / "big.png")
    return tmp_path / "big.png"


def test_max_pixels_above_pillows_limit_accepts_the_image(pillow_bomb):
    rgb = load_rgb(pillow_bomb, ImageLimits(min_size=8, max_pixels=6_000))
    assert rgb.shape == (60, 100, 3) and tuple(rgb[0, 0]) == (10, 20, 30)
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT  # Pillow's global is put back


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("max_pixels", "found"),
    [(5_999, "100x60 = 6000 pixels (from its header)"), (2_000, "6000 pixels (Pillow's check)")],
)
def test_above_max_pixels_is_our_rejection_whoever_sees_it_first(pillow_bomb, max_pixels, found):
    # 5999: Pillow only warns (6000 <= 2 x 5999), our header check refuses; 2000: Pillow refuses.
    with pytest.raises(images.ImageTooLarge) as info:
        load_rgb(pillow_bomb, ImageLimits(min_size=8, max_pixels=max_pixels))
    assert info.value.reason == (
        f"image is {found}, above data_processing.validation.max_pixels={max_pixels} "
        "(decompression-bomb guard)"
    )
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT


def test_pillow_warning_turned_error_is_still_our_reason(pillow_bomb):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # as with python -W error
        with pytest.raises(ImageRejected, match=r"max_pixels=5999 \(decompression-bomb guard\)"):
            load_rgb(pillow_bomb, ImageLimits(min_size=8, max_pixels=5_999))


def test_bytes_in_memory_decode_as_the_same_file_does(tmp_path):
    path = save_image(tmp_path / "x.jpg", random_rgb(3, 20, 30), quality=80)
    decoded = images.decode_rgb(path.read_bytes(), "upload", LIMITS)
    np.testing.assert_array_equal(decoded, load_rgb(path, LIMITS))
    for data, reason in ((b"", "empty file (0 bytes)"), (b"<html>", "not an image: ")):
        with pytest.raises(ImageRejected, match=f"^upload: {re.escape(reason)}"):
            images.decode_rgb(data, "upload", LIMITS)
    with pytest.raises(images.ImageTooLarge, match=r"^upload: image is 30x20 = 600 pixels"):
        images.decode_rgb(path.read_bytes(), "upload", ImageLimits(max_pixels=599))


def test_limits_name_their_parameters(tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "x.png")
    limits = ImageLimits(min_size=8, max_pixels=100, parameters="inference")
    with pytest.raises(ImageRejected, match=r"above inference\.max_pixels=100 "):
        load_rgb(tmp_path / "x.png", limits)


def test_concurrent_decodes_see_their_own_limit_and_pillow_is_restored(tmp_path, monkeypatch):
    original = Image.MAX_IMAGE_PIXELS
    paths = [save_image(tmp_path / f"{i}.png", random_rgb(i, 40, 40)) for i in range(24)]
    seen: dict[str, int | None] = {}
    transpose = images.ImageOps.exif_transpose

    def recording_transpose(image):  # runs inside the decode, after Pillow's checks
        seen[image.filename] = Image.MAX_IMAGE_PIXELS
        time.sleep(0.01)  # decodes overlap
        return transpose(image)

    monkeypatch.setattr(images.ImageOps, "exif_transpose", recording_transpose)
    wanted = {str(path): 1_600 if i % 2 else 5_000 for i, path in enumerate(paths)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        decoded = list(pool.map(lambda p: load_rgb(p, ImageLimits(8, wanted[str(p)])), paths))
    assert [rgb.shape for rgb in decoded] == [(40, 40, 3)] * len(paths)
    assert seen == wanted  # each decode ran under its own limit, never under another thread's
    assert original == Image.MAX_IMAGE_PIXELS


def test_pixel_hash_ignores_format_but_not_content(tmp_path):
    array = random_rgb(3)
    png = load_rgb(save_image(tmp_path / "a.png", array), LIMITS)
    bmp = load_rgb(save_image(tmp_path / "a.bmp", array), LIMITS)
    assert pixel_sha256(png) == pixel_sha256(bmp)
    changed = png.copy()
    changed[0, 0, 0] ^= 1
    assert pixel_sha256(changed) != pixel_sha256(png)
