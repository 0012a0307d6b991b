"""The built-in facades generator."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from img2img.ingest.synthetic import (
    FACADE_PALETTE,
    _layout,
    _render_photo,
    generate_facade_pairs,
    render_facade_pair,
    to_aligned_png,
)


def test_deterministic_and_seed_dependent():
    a = render_facade_pair(0, 3, 64)
    b = render_facade_pair(0, 3, 64)
    c = render_facade_pair(1, 3, 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    assert to_aligned_png(*a) == to_aligned_png(*b)


def test_earlier_pairs_do_not_depend_on_n_pairs():
    few = list(generate_facade_pairs(3, 48, seed=5))
    many = list(generate_facade_pairs(6, 48, seed=5))
    for (name_a, label_a, photo_a), (name_b, label_b, photo_b) in zip(few, many[:3], strict=True):
        assert name_a == name_b
        assert np.array_equal(label_a, label_b) and np.array_equal(photo_a, photo_b)
    assert [name for name, *_ in many] == [f"facade_{i:05d}" for i in range(6)]


@pytest.mark.parametrize("size", [32, 64, (96, 64), (64, 160)])
def test_shapes_and_palette(size):
    label_map, photo = render_facade_pair(0, 0, size)
    height, width = (size, size) if isinstance(size, int) else size
    assert label_map.shape == photo.shape == (height, width, 3)
    assert label_map.dtype == photo.dtype == np.uint8
    colours = {tuple(c) for c in label_map.reshape(-1, 3)}
    assert colours <= set(FACADE_PALETTE.values())
    assert {FACADE_PALETTE["facade"], FACADE_PALETTE["window"]} <= colours


def test_photo_is_not_a_per_class_colour_lookup():
    label_map, photo = render_facade_pair(0, 1, 128)
    wall = np.all(label_map == FACADE_PALETTE["facade"], axis=-1)
    assert photo[wall].std(axis=0).mean() > 3  # texture, lighting, noise within one class
    # Across images the same class gets different styles.
    other_label, other_photo = render_facade_pair(0, 2, 128)
    other_wall = np.all(other_label == FACADE_PALETTE["facade"], axis=-1)
    assert np.abs(photo[wall].mean(axis=0) - other_photo[other_wall].mean(axis=0)).max() > 5


def test_palette_colours_are_distinct_and_cmp_like():
    assert len(set(FACADE_PALETTE.values())) == len(FACADE_PALETTE)
    assert FACADE_PALETTE["background"] == (0, 0, 170)
    assert FACADE_PALETTE["facade"] == (0, 0, 255)


def test_every_pair_has_wall_and_windows_and_varied_layouts():
    layouts = set()
    for name, label_map, _ in generate_facade_pairs(12, 64, seed=3):
        colours = {tuple(c) for c in label_map.reshape(-1, 3)}
        assert {FACADE_PALETTE["facade"], FACADE_PALETTE["window"]} <= colours, name
        layouts.add(label_map.tobytes())
    assert len(layouts) == 12


def test_same_layout_with_another_style_gives_another_photo():
    rects = _layout(np.random.default_rng(0), 96, 96)
    photo_a = _render_photo(np.random.default_rng(1), rects, 96, 96)
    photo_b = _render_photo(np.random.default_rng(2), rects, 96, 96)
    assert photo_a.shape == photo_b.shape == (96, 96, 3)
    assert np.abs(photo_a.astype(int) - photo_b.astype(int)).mean() > 10


def test_photo_follows_the_layout():
    label_map, photo = render_facade_pair(0, 4, 128)
    sky = np.all(label_map == FACADE_PALETTE["background"], axis=-1)
    window = np.all(label_map == FACADE_PALETTE["window"], axis=-1)
    sky_rgb, window_rgb = photo[sky].mean(axis=0), photo[window].mean(axis=0)
    assert sky_rgb[2] > sky_rgb[0]  # a bluish sky
    assert np.abs(sky_rgb - window_rgb).max() > 20


def test_aligned_png_round_trip():
    label_map, photo = render_facade_pair(0, 0, 40)
    image = np.asarray(Image.open(io.BytesIO(to_aligned_png(label_map, photo))))
    assert np.array_equal(image[:, :40], label_map) and np.array_equal(image[:, 40:], photo)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_pairs"):
        list(generate_facade_pairs(0))
    with pytest.raises(ValueError, match="size"):
        render_facade_pair(0, 0, 16)
    with pytest.raises(ValueError, match="seed"):
        render_facade_pair(-1, 0, 64)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: list(generate_facade_pairs(-2)), "n_pairs"),
        (lambda: list(generate_facade_pairs(2.5)), "n_pairs"),
        (lambda: list(generate_facade_pairs(True)), "n_pairs"),
        (lambda: list(generate_facade_pairs(2, seed=-1)), "seed"),
        (lambda: list(generate_facade_pairs(2, size=(64, 31))), "size"),
        (lambda: list(generate_facade_pairs(2, size=(64,))), "size"),
        (lambda: list(generate_facade_pairs(2, size=64.0)), "size"),
        (lambda: render_facade_pair(0, -1, 64), "index"),
        (
            lambda: to_aligned_png(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)),
            "shape",
        ),
        (
            lambda: to_aligned_png(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)),
            "label_map",
        ),
        (lambda: to_aligned_png(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3))), "photo"),
    ],
)
def test_bad_arguments_name_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_numpy_integer_arguments_are_accepted():
    a = render_facade_pair(np.int64(1), np.int32(2), (np.int64(48), 40))
    b = render_facade_pair(1, 2, (48, 40))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
