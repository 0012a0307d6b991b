"""Data versions of tensor caches: fingerprints follow the data, generations tie the splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from img2img.ingest.caches import (
    SPLITS,
    DataVersion,
    MixedCachesError,
    fingerprint,
    require_one_generation,
    split_caches,
)


def arrays(seed: int, n: int = 3) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    source = rng.integers(0, 256, (n, 3, 8, 8), dtype=np.uint8)
    return source, 255 - source, [f"p{i}" for i in range(n)]


def test_fingerprint_follows_pixels_and_ids_not_containers():
    source, target, ids = arrays(0)
    reference = fingerprint(source, target, ids)
    assert fingerprint(torch.from_numpy(source), torch.from_numpy(target), ids) == reference
    changed = source.copy()
    changed[1, 0, 0, 0] ^= 1  # one bit of one pixel
    assert fingerprint(changed, target, ids) != reference
    assert fingerprint(source, target, ["p0", "p1", "renamed"]) != reference
    assert fingerprint(source[[1, 0, 2]], target[[1, 0, 2]], ids) != reference  # pairs re-matched


def test_one_run_has_one_generation_and_mixed_caches_are_refused():
    first = split_caches({s: arrays(i) for i, s in enumerate(SPLITS)}, "data/01_raw/x", "AtoB")
    again = split_caches({s: arrays(i) for i, s in enumerate(SPLITS)}, "data/01_raw/x", "AtoB")
    assert first["train"].data == again["train"].data  # the same data: the same version
    assert require_one_generation(*first.values()) == first["val"].data
    other = split_caches({s: arrays(i + 10) for i, s in enumerate(SPLITS)}, "data/01_raw/x", "AtoB")
    with pytest.raises(MixedCachesError, match=r"train_tensors \(generation .*val_tensors"):
        require_one_generation(first["train"], other["val"])
    assert DataVersion.from_dict(first["test"].data.to_dict()) == first["test"].data
    assert first["train"].data.training_fingerprint() != other["train"].data.training_fingerprint()
