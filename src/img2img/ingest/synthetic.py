"""The built-in paired dataset: procedural building facades, label map -> photo (CMP Facades-like).

Each pair is drawn from ``np.random.default_rng([seed, index])``: a facade layout (floors, a grid of
windows, doors, balconies, cornices, sills, a shop front, pillars, blinds) rendered twice:

* the **source**: a colour label map with one flat colour per class (:data:`FACADE_PALETTE`, the jet
  colours of the 12 CMP Facades classes);
* the **target**: a photo-like rendering of the same layout with a per-building style (wall hue and
  texture, brick or plaster, glass tint, frame and door colours), a sky gradient, reflections in the
  glass, shadows under cornices and balconies, a lighting gradient, sensor noise and a slight blur.

The target is a deterministic function of the layout and the style, so the task is learnable but not a
per-class colour lookup. Growing ``n_pairs`` never changes earlier pairs. NumPy and Pillow only.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

# Jet colours of the CMP Facades classes, as in the pix2pix "facades" label maps.
FACADE_PALETTE: dict[str, tuple[int, int, int]] = {
    "background": (0, 0, 170),
    "facade": (0, 0, 255),
    "window": (0, 85, 255),
    "door": (0, 170, 255),
    "cornice": (0, 255, 255),
    "sill": (85, 255, 170),
    "balcony": (170, 255, 85),
    "blind": (255, 255, 0),
    "deco": (255, 170, 0),
    "molding": (255, 85, 0),
    "pillar": (255, 0, 0),
    "shop": (170, 0, 0),
}
CLASSES = tuple(FACADE_PALETTE)
_CLASS_INDEX = {name: index for index, name in enumerate(CLASSES)}
_PALETTE_ARRAY = np.array([FACADE_PALETTE[name] for name in CLASSES], dtype=np.uint8)


@dataclass(frozen=True)
class Rect:
    """One class-coloured rectangle in pixel coordinates (``bottom`` and ``right`` exclusive)."""

    cls: str
    top: int
    left: int
    bottom: int
    right: int


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` from a square side or a pair; ValueError naming ``size`` otherwise."""
    dims = (size, size) if _is_int(size) else size
    if not isinstance(dims, tuple | list) or len(dims) != 2 or not all(map(_is_int, dims)):
        raise ValueError(f"size must be an int or a (height, width) pair of ints, got {size!r}")
    height, width = int(dims[0]), int(dims[1])
    if min(height, width) < 32:
        raise ValueError(f"size must be at least 32 pixels on each side, got {size!r}")
    return height, width


@dataclass(frozen=True)
class _Grid:
    """The facade's frame and its grid of floors and window columns."""

    left: int
    right: int
    roof: int
    n_floors: int
    ground: float
    floor_h: float
    n_cols: int
    col_w: float
    win_w: float
    win_h: float
    cornice_h: int


def _grid(rng: np.random.Generator, height: int, width: int) -> _Grid:
    left = int(width * rng.uniform(0.0, 0.12))
    right = int(width * (1 - rng.uniform(0.0, 0.12)))
    roof = int(height * rng.uniform(0.03, 0.25))
    n_floors = int(rng.integers(3, 7))
    ground = rng.uniform(0.18, 0.28) * (height - roof)
    floor_h = (height - roof - ground) / n_floors
    n_cols = int(rng.integers(3, 8))
    col_w = (right - left) / n_cols
    win_w = col_w * rng.uniform(0.35, 0.65)
    win_h = floor_h * rng.uniform(0.45, 0.7)
    cornice_h = max(1, int(floor_h * rng.uniform(0.06, 0.12)))
    return _Grid(
        left, right, roof, n_floors, ground, floor_h, n_cols, col_w, win_w, win_h, cornice_h
    )


def _window_rects(rng: np.random.Generator, g: _Grid, w_top: int, w_bottom: int, col: int,
                  blind_prob: float, has_sills: bool, balcony: bool) -> list[Rect]:  # fmt: skip
    """One window and what hangs on it (blind, sill, balcony)."""
    w_left = int(g.left + col * g.col_w + (g.col_w - g.win_w) / 2)
    w_right = int(w_left + g.win_w)
    rects = [Rect("window", w_top, w_left, w_bottom, w_right)]
    if rng.random() < blind_prob:
        blind_bottom = int(w_top + (w_bottom - w_top) * rng.uniform(0.2, 0.6))
        rects.append(Rect("blind", w_top, w_left, blind_bottom, w_right))
    if has_sills:
        rects.append(
            Rect("sill", w_bottom, w_left - 1, w_bottom + max(1, g.cornice_h // 2), w_right + 1)
        )
    if balcony:
        b_top = int(w_top + (w_bottom - w_top) * 0.62)
        rects.append(Rect("balcony", b_top, int(w_left - g.win_w * 0.15), w_bottom + 1,
                          int(w_right + g.win_w * 0.15)))  # fmt: skip
    return rects


def _floor_rects(rng: np.random.Generator, g: _Grid, floor: int, blind_prob: float,
                 has_sills: bool, balcony: bool) -> list[Rect]:  # fmt: skip
    """A molding above the floor, its row of windows, and a decoration band on the first."""
    rects: list[Rect] = []
    top = g.roof + floor * g.floor_h
    if floor > 0 and rng.random() < 0.5:
        rects.append(
            Rect("molding", int(top), g.left, int(top) + max(1, g.cornice_h // 2), g.right)
        )
    w_top = int(top + (g.floor_h - g.win_h) * 0.55)
    w_bottom = int(w_top + g.win_h)
    for col in range(g.n_cols):
        rects += _window_rects(rng, g, w_top, w_bottom, col, blind_prob, has_sills, balcony)
    if floor == 0 and rng.random() < 0.5:
        deco_y = int(top + g.floor_h * 0.04)
        rects.append(Rect("deco", deco_y, g.left, deco_y + max(1, g.cornice_h // 2), g.right))
    return rects


def _ground_rects(rng: np.random.Generator, g: _Grid, height: int) -> list[Rect]:
    """The ground floor: its cornice, a shop front, doors and pillars."""
    ground_top = int(height - g.ground)
    rects = [Rect("cornice", ground_top - g.cornice_h, g.left, ground_top, g.right)]
    if rng.random() < 0.6:  # shop front
        shop_left = int(g.left + (g.right - g.left) * rng.uniform(0.02, 0.15))
        shop_right = int(g.right - (g.right - g.left) * rng.uniform(0.02, 0.15))
        rects.append(Rect("shop", int(ground_top + g.ground * 0.12), shop_left, height, shop_right))
    for _ in range(int(rng.integers(1, 3))):  # doors (over the shop front where they overlap)
        door_w = g.col_w * rng.uniform(0.4, 0.7)
        door_left = int(rng.uniform(g.left, g.right - door_w))
        door_top = int(ground_top + g.ground * rng.uniform(0.15, 0.35))
        rects.append(Rect("door", door_top, door_left, height, int(door_left + door_w)))
    if rng.random() < 0.4:  # pillars on the ground floor
        pillar_w = max(1, int(g.col_w * 0.12))
        for col in range(g.n_cols + 1):
            x = int(g.left + col * g.col_w - pillar_w / 2)
            rects.append(
                Rect("pillar", ground_top, max(g.left, x), height, min(g.right, x + pillar_w))
            )
    return rects


def _layout(rng: np.random.Generator, height: int, width: int) -> list[Rect]:
    """Rectangles in painting order (later ones on top)."""
    g = _grid(rng, height, width)
    rects = [Rect("facade", g.roof, g.left, height, g.right),
             Rect("cornice", g.roof, g.left, g.roof + g.cornice_h, g.right)]  # fmt: skip
    balcony_floors = set(np.flatnonzero(rng.random(g.n_floors) < 0.35).tolist())
    has_sills = rng.random() < 0.7
    blind_prob = rng.uniform(0.0, 0.4)
    for floor in range(g.n_floors):
        rects += _floor_rects(rng, g, floor, blind_prob, has_sills, floor in balcony_floors)
    rects += _ground_rects(rng, g, height)
    return [
        Rect(r.cls, max(0, r.top), max(0, r.left), min(height, r.bottom), min(width, r.right))
        for r in rects
        if r.bottom > r.top and r.right > r.left
    ]


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float32) * 255.0


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bilinearly."""
    grid = rng.uniform(-1, 1, (cells + 1, cells + 1)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image)


@dataclass(frozen=True)
class _Palette:
    """The colours of one facade photo (RGB float32 in [0, 255])."""

    sky_top: np.ndarray
    wall: np.ndarray
    trim: np.ndarray
    glass: np.ndarray
    frame: np.ndarray
    door: np.ndarray
    shop: np.ndarray
    metal: np.ndarray
    blind: np.ndarray
    brick: bool


def _palette(rng: np.random.Generator) -> _Palette:
    sky_top = _hsv_to_rgb(rng.uniform(0.55, 0.65), rng.uniform(0.2, 0.6), rng.uniform(0.75, 0.95))
    wall = _hsv_to_rgb(rng.uniform(0.0, 0.15), rng.uniform(0.1, 0.55), rng.uniform(0.45, 0.9))
    trim = np.clip(wall * rng.uniform(1.1, 1.35), 0, 255)
    glass = _hsv_to_rgb(rng.uniform(0.5, 0.7), rng.uniform(0.2, 0.5), rng.uniform(0.15, 0.4))
    frame = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.3), rng.uniform(0.7, 1.0))
    door = _hsv_to_rgb(rng.uniform(0.0, 0.12), rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.5))
    shop = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.7))
    metal = np.full(3, rng.uniform(30, 80), dtype=np.float32)
    blind = _hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.1, 0.5), rng.uniform(0.6, 0.9))
    return _Palette(sky_top, wall, trim, glass, frame, door, shop, metal, blind, rng.random() < 0.5)


def _texture(rng: np.random.Generator, height: int, width: int, brick: bool) -> np.ndarray:
    """Wall texture (H×W×1): smooth noise, grain, and mortar lines for brick."""
    texture = _smooth_noise(rng, height, width, 6)[..., None] * 12 + rng.normal(
        0, 6, (height, width, 1)
    ).astype(np.float32)
    if brick:
        course = max(2, height // 48)
        yy, xx = np.mgrid[0:height, 0:width]
        offset = (yy // course % 2) * (course * 2)
        mortar = ((yy % course) == 0) | (((xx + offset) % (course * 4)) == 0)
        texture = texture - mortar[..., None] * 25
    return texture


def _paint_window(photo: np.ndarray, rect: Rect, c: _Palette) -> None:
    h, w = rect.bottom - rect.top, rect.right - rect.left
    vertical = np.linspace(1.25, 0.75, h, dtype=np.float32)[:, None, None]
    diag = (np.arange(h)[:, None] + np.arange(w)[None, :]) / max(1, h + w)
    photo[rect.top : rect.bottom, rect.left : rect.right] = (
        c.glass * vertical + (np.abs(diag - 0.4) < 0.08)[..., None] * 45
    )
    border = max(1, min(h, w) // 8)
    photo[rect.top : rect.top + border, rect.left : rect.right] = c.frame
    photo[rect.bottom - border : rect.bottom, rect.left : rect.right] = c.frame
    photo[rect.top : rect.bottom, rect.left : rect.left + border] = c.frame
    photo[rect.top : rect.bottom, rect.right - border : rect.right] = c.frame
    if w > 6 * border:  # mullion
        mid = rect.left + w // 2
        photo[rect.top : rect.bottom, mid - border // 2 : mid + max(1, border // 2)] = c.frame


def _paint(
    photo: np.ndarray, shadow: np.ndarray, rect: Rect, c: _Palette, texture: np.ndarray
) -> None:
    """Paint one rectangle (and the shadow it casts below it)."""
    region = (slice(rect.top, rect.bottom), slice(rect.left, rect.right))
    h, w = rect.bottom - rect.top, rect.right - rect.left
    height = photo.shape[0]
    if rect.cls == "facade":
        photo[region] = c.wall + texture[region]
    elif rect.cls in ("cornice", "molding", "sill", "deco"):
        photo[region] = c.trim + texture[region] * 0.5
        depth = max(1, int(h * (1.5 if rect.cls == "cornice" else 1.0)))
        shadow[rect.bottom : rect.bottom + depth, rect.left : rect.right] += np.linspace(
            0.35, 0.05, depth
        )[: max(0, min(depth, height - rect.bottom))][:, None]
    elif rect.cls == "window":
        _paint_window(photo, rect, c)
    elif rect.cls == "blind":
        stripes = ((np.arange(h) // max(1, h // 6)) % 2)[:, None, None] * 20
        photo[region] = c.blind - stripes
    elif rect.cls == "balcony":
        bars = (np.arange(w) % max(2, w // 10) == 0)[None, :, None]
        photo[region] = np.where(bars, c.metal * 0.5, c.metal + 20)
        shadow[rect.bottom : rect.bottom + max(1, h // 2), rect.left : rect.right] += 0.3
    elif rect.cls == "door":
        photo[region] = c.door + texture[region] * 0.3
        panel = max(1, w // 6)
        photo[rect.top + panel : rect.bottom - panel, rect.left + panel : rect.right - panel] *= (
            0.85
        )
    elif rect.cls == "shop":
        vertical = np.linspace(0.6, 1.1, h, dtype=np.float32)[:, None, None]
        photo[region] = c.glass * 0.8 * vertical + c.shop * 0.4
        photo[rect.top : rect.top + max(1, h // 6), rect.left : rect.right] = c.shop
    elif rect.cls == "pillar":
        photo[region] = c.trim * 0.95 + texture[region] * 0.4


def _render_photo(
    rng: np.random.Generator, rects: list[Rect], height: int, width: int
) -> np.ndarray:
    colours = _palette(rng)
    photo = np.empty((height, width, 3), dtype=np.float32)
    # Sky: vertical gradient, per-image hue.
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    photo[:] = colours.sky_top * (1 - ramp) + (colours.sky_top * 0.6 + 255 * 0.4) * ramp
    texture = _texture(rng, height, width, colours.brick)
    shadow = np.zeros((height, width), dtype=np.float32)
    for rect in rects:
        _paint(photo, shadow, rect, colours, texture)
    photo *= (1.0 - np.clip(shadow, 0, 0.6))[..., None]
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    photo *= (1.0 + rng.uniform(0.1, 0.3) * (light - light.mean()))[..., None]
    photo += rng.normal(0, rng.uniform(2, 5), photo.shape).astype(np.float32)
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
    image = image.filter(
        ImageFilter.GaussianBlur(radius=rng.uniform(0.4, 0.9) * max(height, width) / 256)
    )
    return np.asarray(image)


def render_facade_pair(
    seed: int, index: int, size: int | tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(label_map, photo): two H×W×3 uint8 arrays for pair ``index`` of dataset ``seed``."""
    for name, value in (("seed", seed), ("index", index)):
        if not _is_int(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    height, width = _size(size)
    rng = np.random.default_rng([seed, index])
    rects = _layout(rng, height, width)
    labels = np.full((height, width), _CLASS_INDEX["background"], dtype=np.uint8)
    for rect in rects:
        labels[rect.top : rect.bottom, rect.left : rect.right] = _CLASS_INDEX[rect.cls]
    photo = _render_photo(rng, rects, height, width)
    return _PALETTE_ARRAY[labels], photo


def generate_facade_pairs(
    n_pairs: int, size: int | tuple[int, int] = 256, seed: int = 0
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(name, label_map, photo)`` with names ``facade_00000`` ... in order."""
    if not _is_int(n_pairs) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _size(size)
    for index in range(n_pairs):
        label_map, photo = render_facade_pair(seed, index, size)
        yield f"facade_{index:05d}", label_map, photo


def to_aligned_png(label_map: np.ndarray, photo: np.ndarray) -> bytes:
    """PNG bytes of the side-by-side pair: label map LEFT (A), photo RIGHT (B)."""
    for name, array in (("label_map", label_map), ("photo", photo)):
        if not isinstance(array, np.ndarray) or array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"{name} must be an H×W×3 array, got {getattr(array, 'shape', array)}")
        if array.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8, got dtype {array.dtype}")
    if label_map.shape != photo.shape:
        raise ValueError(
            f"label_map and photo must have the same shape, got {label_map.shape} and {photo.shape}"
        )
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate([label_map, photo], axis=1)).save(
        buffer, format="PNG", compress_level=6
    )
    return buffer.getvalue()
