"""Tensor caches: resizing, packing, atomic save, safe load."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from kedro.io import DatasetError

from img2img.datasets import TensorCacheDataset
from img2img.ingest.caches import SPLITS, fingerprint, split_caches
from img2img.ingest.images import ImageLimits
from img2img.ingest.layouts import scan_aligned
from img2img.ingest.pairing import validate_candidates
from img2img.ingest.preprocess import build_tensor_caches
from img2img.ingest.splits import assign_splits
from tests.conftest import random_rgb, save_aligned


@pytest.fixture
def pairs_and_root(tmp_path):
    root = tmp_path / "raw"
    for i in range(6):
        save_aligned(root / "ds" / f"p{i}.png", i, size=40)
    scan = scan_aligned(root / "ds", "AtoB")
    pairs, _ = validate_candidates(root / "ds", scan, ImageLimits(min_size=8), path_prefix="ds")
    pairs, _ = assign_splits(pairs, {"train": 0.5, "val": 0.25, "test": 0.25}, "s")
    return pairs, root


def test_caches_hold_every_pair_resized_in_its_split(pairs_and_root):
    pairs, root = pairs_and_root
    caches = build_tensor_caches(root, pairs, load_size=32, workers=2)
    assert sum(len(c) for c in caches.values()) == 6
    for split, cache in caches.items():
        expected = sorted(pairs.loc[pairs["split"] == split, "pair_id"])
        assert cache.split == split and list(cache.pair_ids) == expected
        assert cache.source.shape == (len(expected), 3, 32, 32)
        assert cache.source.dtype == np.uint8
        # the target is the inverse of the source in these files: resizing keeps that relation
        if expected:
            diff = cache.source.astype(int) + cache.target.astype(int) - 255
            assert np.abs(diff).mean() < 8


def test_no_resize_keeps_pixels_exact(tmp_path):
    a = random_rgb(7, 32, 32)
    from tests.conftest import save_image

    save_image(tmp_path / "raw" / "ds" / "x.png", np.concatenate([a, 255 - a], axis=1))
    scan = scan_aligned(tmp_path / "raw" / "ds", "AtoB")
    pairs, _ = validate_candidates(
        tmp_path / "raw" / "ds", scan, ImageLimits(min_size=8), path_prefix="ds"
    )
    pairs["split"] = "train"
    cache = build_tensor_caches(tmp_path / "raw", pairs, load_size=32, workers=1)["train"]
    np.testing.assert_array_equal(cache.source[0].transpose(1, 2, 0), a)


def test_tensor_cache_dataset_round_trip_and_atomic_replace(tmp_path, pairs_and_root, monkeypatch):
    pairs, root = pairs_and_root
    cache = build_tensor_caches(root, pairs, load_size=16)["train"]
    out = tmp_path / "model_input"
    dataset = TensorCacheDataset(str(out / "train_tensors"))
    dataset.save(cache)
    loaded = dataset.load()
    assert isinstance(loaded.source, torch.Tensor) and loaded.source.dtype == torch.uint8
    assert torch.equal(loaded.target, torch.from_numpy(cache.target))
    assert list(loaded.pair_ids) == list(cache.pair_ids)
    assert loaded.data == cache.data and loaded.split == "train" and loaded.name == "train_tensors"
    assert fingerprint(loaded.source, loaded.target, loaded.pair_ids) == cache.fingerprint
    # a bad payload is refused before anything is written
    with pytest.raises(DatasetError, match="uint8"):
        dataset.save(replace(cache, source=np.zeros((1, 3, 4, 4), np.float32)))
    # a save failing half-way (disk full, killed) leaves the previous cache intact
    calls = []
    real_save = np.save

    def failing_save(path, array):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real_save(path, array)

    monkeypatch.setattr(np, "save", failing_save)
    renamed = replace(cache, pair_ids=[f"new-{p}" for p in cache.pair_ids])
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(renamed)
    monkeypatch.undo()
    assert list(dataset.load().pair_ids) == list(cache.pair_ids)
    assert [p.name for p in out.iterdir()] == ["train_tensors"]  # no temp dirs left


def test_missing_or_inconsistent_cache_is_a_clear_error(tmp_path):
    dataset = TensorCacheDataset(str(tmp_path / "nope"))
    with pytest.raises(DatasetError, match="run the data_processing pipeline"):
        dataset.load()
    dataset = TensorCacheDataset(str(tmp_path / "bad"))
    zeros = np.zeros((2, 3, 4, 4), np.uint8)
    dataset.save(split_caches({s: (zeros, zeros, ["a", "b"]) for s in SPLITS}, "ds", "x")["train"])
    (tmp_path / "bad" / "pair_ids.json").write_text('["a"]')
    with pytest.raises(DatasetError, match="disagree"):
        dataset.load()
    (tmp_path / "bad" / "pair_ids.json").write_text('["a", "b"]')
    (tmp_path / "bad" / "data_version.json").unlink()  # a cache of an img2img without versions
    with pytest.raises(DatasetError, match=r"data_version\.json.*data_processing"):
        dataset.load()
