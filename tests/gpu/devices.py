"""``device`` parameters: ``cpu`` runs everywhere, ``cuda`` is marked ``gpu`` (see conftest.py)."""

from __future__ import annotations

import pytest

CUDA = pytest.param("cuda", marks=pytest.mark.gpu, id="cuda")
DEVICES = ["cpu", CUDA]
