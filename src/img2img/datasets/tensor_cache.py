"""uint8 tensor caches: a folder of ``.npy`` arrays, the pair ids and the data version, written
atomically.

Layout of one cache folder::

    source.npy         uint8 N×3×H×W
    target.npy         uint8 N×3×H×W
    pair_ids.json
    data_version.json  the run's generation, split fingerprints and pair counts (DataVersion)

While saving, the new folder is written in the scratch folder (:mod:`img2img.scratch`) and renamed
into place. Loading memory-maps the arrays (copy-on-write) and returns torch tensors sharing that memory, so a
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

from img2img.ingest.caches import DataVersion, TensorCache
from img2img.scratch import temp_dir_for

ARRAYS = ("source", "target")
DATA_VERSION = "data_version.json"


def _as_numpy(value: Any, name: str) -> np.ndarray:
    array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1] != 3:
        raise DatasetError(
            f"tensor cache '{name}' must be uint8 N×3×H×W, got {array.dtype} {array.shape}"
        )
    return array


def replace_directory(tmp_dir: Path, target: Path) -> None:
    """Swap a fully written ``tmp_dir`` into ``target``; the old folder goes only after the swap
    (into the scratch folder, so a kill in between leaves no debris beside ``target``)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=temp_dir_for(target), prefix=f".{target.name}.old-"))
        os.replace(target, old / target.name)
    os.replace(tmp_dir, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class TensorCacheDataset(AbstractDataset[TensorCache, TensorCache]):
    """Save a :class:`TensorCache`; load it back with torch uint8 tensors (memory-mapped)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> TensorCache:
        import torch  # only where tensors are wanted: importing torch costs ~0.6 GB RSS

        try:
            pair_ids = json.loads((self._path / "pair_ids.json").read_text())
            arrays = {name: np.load(self._path / f"{name}.npy", mmap_mode="c") for name in ARRAYS}
            version = json.loads((self._path / DATA_VERSION).read_text())
        except FileNotFoundError as exc:
            raise DatasetError(
                f"{self._path}: tensor cache incomplete or missing ({exc.filename}; caches written "
                "by img2img before data versions have no data_version.json); run the "
                "data_processing pipeline"
            ) from exc
        except (ValueError, OSError) as exc:
            raise DatasetError(f"{self._path}: cannot read tensor cache: {exc}") from exc
        if any(len(array) != len(pair_ids) for array in arrays.values()):
            raise DatasetError(f"{self._path}: arrays and pair_ids.json disagree on the count")
        try:
            data = DataVersion.from_dict(version)
            split = str(version["split"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DatasetError(f"{self._path}/{DATA_VERSION}: malformed ({exc!r})") from exc
        tensors = {name: torch.from_numpy(array) for name, array in arrays.items()}
        return TensorCache(split, tensors["source"], tensors["target"], list(pair_ids), data,
                           name=self._path.name)  # fmt: skip

    def save(self, data: TensorCache) -> None:
        arrays = {name: _as_numpy(getattr(data, name), name) for name in ARRAYS}
        pair_ids = [str(p) for p in data.pair_ids]
        if any(len(array) != len(pair_ids) for array in arrays.values()):
            raise DatasetError(f"{self._path}: source, target and pair_ids differ in length")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(
            tempfile.mkdtemp(dir=temp_dir_for(self._path), prefix=f".{self._path.name}.")
        )
        try:
            for name, array in arrays.items():
                np.save(tmp_dir / f"{name}.npy", np.ascontiguousarray(array))
            (tmp_dir / "pair_ids.json").write_text(json.dumps(pair_ids))
            version = {"split": data.split, **data.data.to_dict()}
            (tmp_dir / DATA_VERSION).write_text(json.dumps(version, indent=2, sort_keys=True))
            replace_directory(tmp_dir, self._path)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise

    def _exists(self) -> bool:
        return (self._path / "pair_ids.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
