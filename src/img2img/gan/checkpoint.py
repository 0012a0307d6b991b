"""Training checkpoints: written atomically, loaded with ``weights_only=True``.

A checkpoint holds everything needed to continue exactly: both networks, both optimisers, the
schedulers, the AMP grad scaler, the EMA weights, the epoch, the RNG states (python, numpy, torch,
CUDA), the history so far and the hash of the parameters that produced it.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from img2img.atomic import atomic_output

logger = logging.getLogger(__name__)

LAST = "last.pt"


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`img2img.atomic.atomic_output`: the previous file survives errors."""
    with atomic_output(path) as handle:
        torch.save(obj, handle)


def capture_rng_state() -> dict[str, Any]:
    _, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["position"], numpy_state["has_gauss"], numpy_state["cached"]))  # fmt: skip
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when absent; an unreadable file is an error naming it."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"{path}: cannot load checkpoint safely: {exc}") from exc


def set_aside(path: Path, reason: str) -> Path:
    """Rename an incompatible checkpoint instead of deleting it; returns the new name."""
    stamp = 1
    while (aside := path.with_name(f"{path.stem}.previous-{stamp}{path.suffix}")).exists():
        stamp += 1
    os.replace(path, aside)
    logger.warning("%s; starting fresh. The old checkpoint is kept as %s", reason, aside)
    return aside
