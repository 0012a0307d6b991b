"""uint8 tensor caches: a folder of ``.npy`` arrays plus the pair ids, written atomically.

Layout of one cache folder::

    source.npy   uint8 N×3×H×W
    target.npy   uint8 N×3×H×W
    pair_ids.json

Loading memory-maps the arrays (copy-on-write) and returns torch tensors sharing that memory, so a
large cache costs no RAM until it is read, and nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

ARRAYS = ("source", "target")


def _as_numpy(value: Any, name: str) -> np.ndarray:
    array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1] != 3:
        raise DatasetError(
            f"tensor cache '{name}' must be uint8 N×3×H×W, got {array.dtype} {array.shape}"
        )
    return array


def replace_directory(tmp_dir: Path, target: Path) -> None:
    """Swap a fully written ``tmp_dir`` into ``target``; the old folder goes only after the swap."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp_dir, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class TensorCacheDataset(AbstractDataset[dict, dict]):
    """Save ``{"source", "target", "pair_id"}``; load the same with torch uint8 tensors."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict:
        import torch  # only where tensors are wanted: importing torch costs ~0.6 GB RSS

        try:
            pair_ids = json.loads((self._path / "pair_ids.json").read_text())
            arrays = {name: np.load(self._path / f"{name}.npy", mmap_mode="c") for name in ARRAYS}
        except FileNotFoundError as exc:
            raise DatasetError(
                f"{self._path}: tensor cache incomplete or missing ({exc.filename}); "
                "run the data_processing pipeline"
            ) from exc
        except (ValueError, OSError) as exc:
            raise DatasetError(f"{self._path}: cannot read tensor cache: {exc}") from exc
        if any(len(array) != len(pair_ids) for array in arrays.values()):
            raise DatasetError(f"{self._path}: arrays and pair_ids.json disagree on the count")
        cache: dict[str, Any] = {name: torch.from_numpy(array) for name, array in arrays.items()}
        cache["pair_id"] = list(pair_ids)
        return cache

    def save(self, data: dict) -> None:
        arrays = {name: _as_numpy(data[name], name) for name in ARRAYS}
        pair_ids = [str(p) for p in data["pair_id"]]
        if any(len(array) != len(pair_ids) for array in arrays.values()):
            raise DatasetError(f"{self._path}: source, target and pair_id differ in length")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(dir=self._path.parent, prefix=f".{self._path.name}."))
        try:
            for name, array in arrays.items():
                np.save(tmp_dir / f"{name}.npy", np.ascontiguousarray(array))
            (tmp_dir / "pair_ids.json").write_text(json.dumps(pair_ids))
            replace_directory(tmp_dir, self._path)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise

    def _exists(self) -> bool:
        return (self._path / "pair_ids.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
