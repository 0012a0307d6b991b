"""The data_processing nodes called directly (the pipeline test runs them through Kedro)."""

from __future__ import annotations

import pandas as pd
import pytest

from img2img.config import ParameterError
from img2img.ingest.pairing import NoValidPairsError
from img2img.pipelines.data_processing.nodes import pair_images, preprocess_pairs, split_pairs
from tests.conftest import random_rgb, save_aligned, save_image


@pytest.fixture
def raw_root(tmp_path):
    root = tmp_path / "01_raw"
    for i in range(10):
        save_aligned(root / "mine" / f"{i}.png", i)
    (root / "mine" / "bad.png").write_bytes(b"")
    return root


PARAMS = {
    "source": {"kind": "aligned", "dataset_dir": "mine", "direction": "BtoA"},
    "split": {"fractions": {"train": 0.6, "val": 0.2, "test": 0.2}},
    "preprocess": {"load_size": 32, "workers": 2},
}


def test_pair_split_preprocess_chain(raw_root):
    unsplit, rejections = pair_images(raw_root, PARAMS)
    assert len(unsplit) == 10 and unsplit["split"].isna().all()
    assert set(unsplit["source_region"]) == {"right"}  # BtoA
    assert list(rejections["path"]) == ["mine/bad.png"]
    pairs, rejected = split_pairs(unsplit, rejections, PARAMS)
    assert set(pairs["split"]) <= {"train", "val", "test"} and len(pairs) == 10
    assert len(rejected) == 1
    train, val, test = preprocess_pairs(pairs, raw_root, PARAMS)
    assert len(train) + len(val) + len(test) == 10
    assert train.source.shape[1:] == (3, 32, 32)
    assert train.data == val.data == test.data  # one generation for the three caches
    assert train.data.pairs == {"train": len(train), "val": len(val), "test": len(test)}
    assert train.data.dataset == (raw_root / "mine").as_posix()  # (outside the working folder)
    assert train.data.source == "right half of AB files (BtoA)"


def test_split_pairs_keeps_earlier_rejections_and_adds_leaks():
    pairs = pd.DataFrame(
        {"pair_id": ["a", "b"], "source_path": ["a.png", "b.png"], "source_sha256": ["x", "x"],
         "target_sha256": ["t1", "t2"], "split": ["train", "test"]}
    )  # fmt: skip
    earlier = pd.DataFrame([{"path": "c.png", "reason": "empty file (0 bytes)"}])
    kept, rejected = split_pairs(pairs, earlier, PARAMS)
    assert list(kept["pair_id"]) == ["a"]
    assert list(rejected["path"]) == ["c.png", "b.png"]


def test_missing_dataset_folder_is_named(raw_root):
    params = {**PARAMS, "source": {"kind": "folders", "dataset_dir": "absent"}}
    with pytest.raises(FileNotFoundError, match="absent: dataset folder not found"):
        pair_images(raw_root, params)


def test_dataset_of_only_bad_files_fails_with_reasons(tmp_path):
    root = tmp_path / "01_raw"
    save_image(root / "tiny" / "x.png", random_rgb(0, 8, 16))
    params = {"source": {"kind": "aligned", "dataset_dir": "tiny"}}
    with pytest.raises(NoValidPairsError, match="min_size"):
        pair_images(root, params)


def test_bad_parameters_fail_before_touching_data(raw_root):
    with pytest.raises(ParameterError, match=r"data_processing\.source\.kind"):
        pair_images(raw_root, {"source": {"kind": "s3"}})
