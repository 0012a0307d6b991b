"""The built-in facades generator."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from img2img.synthetic import (
    FACADE_PALETTE,
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
