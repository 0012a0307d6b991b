"""The uint8 tensor caches of one data_processing run, and what identifies their data.

A :class:`TensorCache` is one split (``train``, ``val`` or ``test``): ``source`` and ``target`` uint8
N×3×L×L arrays (NumPy when built here, torch tensors when loaded by
:class:`img2img.datasets.TensorCacheDataset`), the pair ids, and the :class:`DataVersion` of the run.

The data version names the data, not the files: each split's **fingerprint** is a SHA-256 over its
pair ids and the SHA-256 of every pair's pixels (so it changes exactly when the data a model sees
changes, never with file times), and the **generation** is a SHA-256 over the three fingerprints and
the dataset's description. The three caches of one run share the generation; training and evaluation
refuse caches of different generations (:func:`require_one_generation`), which is what a run killed
while writing them leaves behind. No torch here: importing it costs ~0.6 GB of resident memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

SPLITS = ("train", "val", "test")
FINGERPRINT_FORMAT = "img2img-tensor-cache-v1"


class MixedCachesError(ValueError):
    """Tensor caches of different data_processing runs were handed to one consumer."""


@dataclass(frozen=True)
class DataVersion:
    """The data of one data_processing run: the same object in each of its three caches."""

    generation: str  # SHA-256 over the split fingerprints and the dataset description
    fingerprints: Mapping[str, str]  # split -> SHA-256 over pair ids and pixel hashes
    pairs: Mapping[str, int]  # split -> number of pairs
    dataset: str  # the dataset folder (e.g. data/01_raw/facades_synthetic)
    source: str  # which image of a pair is the source (the translation's direction)

    @classmethod
    def create(
        cls, fingerprints: Mapping[str, str], pairs: Mapping[str, int], dataset: str, source: str
    ) -> DataVersion:
        described = {"fingerprints": dict(fingerprints), "pairs": dict(pairs), "dataset": dataset,
                     "source": source}  # fmt: skip
        generation = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
        return cls(generation, dict(fingerprints), dict(pairs), dataset, source)

    def training_fingerprint(self) -> str:
        """What a training run trains on (train pairs) and samples from (val pairs)."""
        return hashlib.sha256(
            f"{self.fingerprints['train']}:{self.fingerprints['val']}".encode()
        ).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprints": dict(self.fingerprints), "pairs": dict(self.pairs)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DataVersion:
        return cls(
            generation=str(values["generation"]),
            fingerprints={str(k): str(v) for k, v in values["fingerprints"].items()},
            pairs={str(k): int(v) for k, v in values["pairs"].items()},
            dataset=str(values["dataset"]),
            source=str(values["source"]),
        )


@dataclass(frozen=True)
class TensorCache:
    """One split's uint8 images and the data version of the run that wrote them."""

    split: str
    source: Any  # uint8 N×3×L×L (numpy.ndarray or torch.Tensor)
    target: Any
    pair_ids: Sequence[str]
    data: DataVersion
    name: str = field(default="", compare=False)  # the catalog entry, for messages

    def __len__(self) -> int:
        return len(self.pair_ids)

    @property
    def label(self) -> str:
        return self.name or f"{self.split}_tensors"

    @property
    def fingerprint(self) -> str:
        return self.data.fingerprints[self.split]


def _as_numpy(array: Any) -> Any:
    return array.numpy() if hasattr(array, "numpy") else array


def fingerprint(source: Any, target: Any, pair_ids: Sequence[str]) -> str:
    """SHA-256 over the pair ids and each pair's pixel hashes (uint8 N×3×L×L arrays or tensors)."""
    import numpy as np

    source, target = _as_numpy(source), _as_numpy(target)
    digest = hashlib.sha256(f"{FINGERPRINT_FORMAT} {tuple(source.shape[1:])}".encode())
    for index, pair_id in enumerate(pair_ids):
        digest.update(str(pair_id).encode() + b"\0")
        digest.update(hashlib.sha256(np.ascontiguousarray(source[index])).digest())
        digest.update(hashlib.sha256(np.ascontiguousarray(target[index])).digest())
    return digest.hexdigest()


def describe_source(pairs: pd.DataFrame) -> str:
    """Which side of each pair is the source: a half of aligned AB files, or separate files."""
    regions = set(pairs.get("source_region", pd.Series(dtype=str)))
    if regions == {"left"}:
        return "left half of AB files (AtoB)"
    if regions == {"right"}:
        return "right half of AB files (BtoA)"
    return "separate source files (folders or manifest layout)"


def require_one_generation(*caches: TensorCache) -> DataVersion:
    """The caches' common data version; MixedCachesError when they come from different runs."""
    generations = {cache.data.generation for cache in caches}
    if len(generations) > 1:
        listed = ", ".join(f"{c.label} (generation {c.data.generation[:12]})" for c in caches)
        raise MixedCachesError(
            f"the tensor caches come from different data_processing runs: {listed}. A run was "
            "probably interrupted while writing them. Re-run data_processing "
            "(`kedro run --pipelines=data_processing`, or `dvc repro`) to rebuild all three."
        )
    return caches[0].data


def split_caches(
    arrays: Mapping[str, tuple[Any, Any, Sequence[str]]], dataset: str, source: str
) -> dict[str, TensorCache]:
    """One :class:`TensorCache` per split from ``{split: (source, target, pair_ids)}``, all of one
    data version."""
    fingerprints = {split: fingerprint(*arrays[split]) for split in SPLITS}
    pairs = {split: len(arrays[split][2]) for split in SPLITS}
    data = DataVersion.create(fingerprints, pairs, dataset, source)
    return {
        split: TensorCache(split, src, tgt, list(ids), data)
        for split, (src, tgt, ids) in arrays.items()
    }
