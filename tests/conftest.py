"""Shared fixtures: small image files made on the fly (tests never read ../shared)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def random_rgb(seed: int, height: int = 48, width: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def save_image(path: Path, array: np.ndarray, **save_kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path


def save_aligned(path: Path, seed: int, size: int = 48) -> Path:
    """An AB file: A (left) = random image, B (right) = its colour inverse (a learnable mapping)."""
    a = random_rgb(seed, size, size)
    return save_image(path, np.concatenate([a, 255 - a], axis=1))


MAX_TEST_WORKERS = 4  # the longest test file takes ~4 min alone: more workers save little


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto` (make test): one worker per CPU this process may use (its affinity, which
    containers limit, not the host's cores), at most :data:`MAX_TEST_WORKERS`."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, MAX_TEST_WORKERS))


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(autouse=True)
def _no_scratch_root_leaks_between_tests(monkeypatch):
    """A Kedro session or `img2img translate` in this process points the scratch root
    (img2img.scratch.ENV) at its project or output folder; the next test starts without one."""
    from img2img.scratch import ENV

    monkeypatch.delenv(ENV, raising=False)
