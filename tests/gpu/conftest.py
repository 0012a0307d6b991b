"""Tests marked ``gpu`` need a CUDA device: where there is none, each is skipped with the reason.

``benchmarks/gpu_check.sh`` runs them on a GPU machine (``pytest -m gpu tests/gpu``). Most of them
also run on the CPU here (``shared.DEVICES``: a ``cpu`` and a ``gpu``-marked ``cuda`` case), so
the test code runs on every ``make test`` and cannot rot unnoticed.

Skipping costs no torch import: without an NVIDIA driver (none of :data:`DRIVER_FILES`) CUDA
cannot be available, and the test modules import torch inside their tests, so ``pytest -m gpu``
collects and skips everything here in the time pytest takes to start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# The NVIDIA driver's control device (Linux, containers included), its /proc entry, and WSL 2's
# GPU device: where none exists, no CUDA device can be used.
DRIVER_FILES = ("/dev/nvidiactl", "/proc/driver/nvidia/version", "/dev/dxg")


def no_cuda_reason() -> str | None:
    """Why the ``gpu`` tests cannot run here (None: they can)."""
    if not any(Path(name).exists() for name in DRIVER_FILES):
        return f"no CUDA device: no NVIDIA driver here (none of {', '.join(DRIVER_FILES)})"
    import torch

    if not torch.cuda.is_available():
        return f"no CUDA device: torch {torch.__version__} (CUDA {torch.version.cuda}) sees none"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("gpu")]
    reason = no_cuda_reason() if marked else None
    if reason is not None:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=f"{reason}; benchmarks/gpu_check.sh runs it"))
