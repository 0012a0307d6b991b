"""Training checkpoints: written atomically, loaded with ``weights_only=True``, resumed only when
they belong to the run being asked for.

A checkpoint holds everything needed to continue exactly: both networks, both optimisers, the
schedulers, the AMP grad scaler, the EMA weights, the epoch, the RNG states (python, numpy, torch,
CUDA), the history so far and the :class:`TrainingIdentity` of the run that produced it; a
time-budgeted run's plan and the budget seconds spent too (:mod:`img2img.gan.plan`).

:func:`resumable_state` decides: only an *unfinished* checkpoint of the same identity (training
parameters, data fingerprint, starting weights) is continued. Any other checkpoint, a finished one
included, is set aside (renamed into the sibling folder ``<checkpoints>-set-aside``, outside the
DVC output; the newest :data:`KEEP_SET_ASIDE` are kept) and training starts from the beginning:
asking to train always trains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from img2img.atomic import atomic_output
from img2img.scratch import temp_dir_for

logger = logging.getLogger(__name__)

LAST = "last.pt"
KEEP_SET_ASIDE = 2  # set-aside checkpoints kept (the newest); older ones are deleted
SCRATCH = "scratch"
_IDENTITY_PARTS = {"parameters": "training parameters", "data": "data",
                   "initial_weights": "starting weights"}  # fmt: skip


@dataclass(frozen=True)
class TrainingIdentity:
    """What makes two training runs the same run: a checkpoint continues only its own identity."""

    parameters: str  # TrainConfig.param_hash() of the configuration that trains
    data: str  # fingerprint of the training data (train and val caches)
    initial_weights: str = SCRATCH  # "scratch", or the SHA-256 of the starting generator

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def differences(self, recorded: Mapping[str, Any] | None) -> list[str]:
        """What differs from an identity recorded in a checkpoint (all of it when none was)."""
        recorded = recorded or {}
        return [
            text for key, text in _IDENTITY_PARTS.items() if recorded.get(key) != getattr(self, key)
        ]


def set_aside_folder(checkpoint_dir: Path) -> Path:
    """Where set-aside checkpoints go: a sibling of the checkpoint folder (not inside it)."""
    checkpoint_dir = Path(checkpoint_dir)
    return checkpoint_dir.with_name(f"{checkpoint_dir.name}-set-aside")


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


_SET_ASIDE = re.compile(r"^set-aside-(\d+)\.pt$")
_LEGACY = re.compile(r"^last\.previous-(\d+)\.pt$")  # set aside in place by earlier versions


def _numbered(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    found = [(int(m.group(1)), p) for p in folder.glob("*.pt") if (m := pattern.match(p.name))]
    return [path for _, path in sorted(found)]


def set_aside(path: Path, reason: str, keep: int = KEEP_SET_ASIDE) -> Path:
    """Move a checkpoint that will not be resumed into :func:`set_aside_folder` as
    ``set-aside-N.pt`` and keep only the newest ``keep`` there; returns its new path.

    Checkpoints that earlier img2img versions set aside inside the checkpoint folder
    (``last.previous-N.pt``) move along, so the DVC output holds only ``last.pt``."""
    path = Path(path)
    folder = set_aside_folder(path.parent)
    folder.mkdir(parents=True, exist_ok=True)
    for moving in [*_numbered(path.parent, _LEGACY), path]:
        numbers = [int(_SET_ASIDE.match(p.name).group(1)) for p in _numbered(folder, _SET_ASIDE)]
        aside = folder / f"set-aside-{max(numbers, default=0) + 1}.pt"
        os.replace(moving, aside)
    kept = _numbered(folder, _SET_ASIDE)
    for old in kept[: max(0, len(kept) - keep)]:
        old.unlink(missing_ok=True)
    logger.warning("%s; training from the first epoch. The checkpoint is kept as %s", reason, aside)
    return aside


def _finished(state: Mapping[str, Any], total_epochs: int | None) -> str | None:
    """How far a finished run got (None: unfinished). ``total_epochs`` None: a time-budgeted run,
    finished when the planned steps are done (a checkpoint written before the plan never is)."""
    if total_epochs is None:
        plan, step = state.get("plan"), int(state["step"])
        if plan and step >= int(plan["total_steps"]):
            return f"step {step} of {plan['total_steps']} planned"
        return None
    epoch = int(state["epoch"]) + 1
    return f"epoch {epoch} of {total_epochs}" if epoch >= total_epochs else None


def resumable_state(
    path: Path, identity: TrainingIdentity, total_epochs: int | None, resume: str = "auto"
) -> dict[str, Any] | None:
    """The checkpoint at ``path`` when it continues the run of ``identity``, else None (any
    checkpoint there is then set aside): only ``resume: auto`` and an unfinished checkpoint of the
    same identity resume. ``total_epochs`` None: a time-budgeted run (its plan says when it ends)."""
    state = load_checkpoint(path)
    if state is None:
        return None
    where = f"The checkpoint {path}"
    if resume != "auto":
        set_aside(path, f"{where} is not resumed (training.resume: {resume})")
        return None
    changed = identity.differences(state.get("identity"))
    if changed:
        set_aside(path, f"{where} was trained with other {' and '.join(changed)}")
        return None
    finished = _finished(state, total_epochs)
    if finished:
        set_aside(path, f"{where} is of a finished run ({finished}) of the same parameters and "
                        "data; asked to train again")  # fmt: skip
        return None
    return state


def timed_save(obj: Any, path: Path) -> float:
    """Seconds one checkpoint save of ``obj`` beside ``path`` takes, written as
    :func:`atomic_torch_save` writes (a temporary file, fsync) and then deleted: what each
    checkpoint of a time-budgeted run will cost (:mod:`img2img.gan.plan`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    fd, tmp = tempfile.mkstemp(dir=temp_dir_for(path), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        Path(tmp).unlink(missing_ok=True)
    return time.perf_counter() - started
