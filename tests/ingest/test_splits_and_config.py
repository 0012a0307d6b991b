"""Content-hash splits and parameter validation."""

from __future__ import annotations

import pandas as pd
import pytest

from img2img.config import ParameterError
from img2img.ingest.config import DataProcessingConfig
from img2img.ingest.download import ArchiveLimits
from img2img.ingest.images import ImageLimits
from img2img.ingest.splits import assign_splits

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def make_pairs(n: int, start: int = 0, split=None) -> pd.DataFrame:
    ids = range(start, start + n)
    return pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in ids],
            "source_path": [f"s{i}.png" for i in ids],
            "source_sha256": [f"src{i}" for i in ids],
            "target_sha256": [f"tgt{i}" for i in ids],
            "split": [split] * n,
        }
    )


def test_hash_splits_follow_fractions_and_are_stable_when_the_dataset_grows():
    small, _ = assign_splits(make_pairs(300), FRACTIONS, "salt")
    grown, _ = assign_splits(make_pairs(600), FRACTIONS, "salt")
    shares = small["split"].value_counts(normalize=True)
    assert abs(shares["train"] - 0.6) < 0.1 and abs(shares["test"] - 0.2) < 0.08
    merged = small.merge(grown, on="pair_id", suffixes=("_small", "_grown"))
    assert (merged["split_small"] == merged["split_grown"]).all()
    other_salt, _ = assign_splits(make_pairs(300), FRACTIONS, "other")
    assert not (other_salt["split"] == small["split"]).all()


def test_pairs_sharing_an_image_never_straddle_splits():
    pairs = make_pairs(200)
    shared = pairs.copy()
    shared["pair_id"] = [f"q{i}" for i in range(200)]
    shared["target_sha256"] = [f"other{i}" for i in range(200)]  # same sources, new targets
    result, rejected = assign_splits(pd.concat([pairs, shared]), FRACTIONS, "salt")
    assert not rejected
    by_source = result.groupby("source_sha256")["split"].nunique()
    assert (by_source == 1).all()


def test_layout_splits_win_and_cross_split_leaks_are_rejected():
    train = make_pairs(2, split="train")
    test = make_pairs(2, split="test")
    test["pair_id"] = ["t0", "t1"]
    test["target_sha256"] = ["x0", "x1"]  # t0/t1 reuse the training sources: leakage
    fresh = make_pairs(1, start=50)  # no split: joins nothing, gets a hash split
    result, rejected = assign_splits(pd.concat([train, test, fresh]), FRACTIONS, "salt")
    assert list(result[result["pair_id"].isin(["p0", "p1"])]["split"]) == ["train", "train"]
    assert {r["reason"].split(":")[0] for r in rejected} == {"leakage guard"}
    assert len(rejected) == 2 and "t0" not in set(result["pair_id"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": {"kind": "zip"}}, r"data_processing\.source\.kind"),
        ({"source": {"direction": "up"}}, r"data_processing\.source\.direction"),
        ({"split": {"fractions": {"train": 0.5, "val": 0.2, "test": 0.2}}}, "sum to 1"),
        ({"split": {"fractions": {"train": 1.2, "test": -0.2}}}, "between 0 and 1"),
        ({"preprocess": {"load_size": -5}}, r"data_processing\.preprocess\.load_size"),
        ({"validation": {"min_size": 0}}, r"data_processing\.validation\.min_size"),
        ({"validation": {"size_mismatch": "crop"}}, "size_mismatch"),
        ({"source": {"synthetic": {"n_pairs": 0}}}, r"synthetic\.n_pairs"),
        ({"source": {"dataset_dir": "../etc"}}, "dataset_dir"),
        ({"sorce": {}}, r"unknown key\(s\) \['sorce'\]"),
        ({"source": {"download_max_members": 0}}, r"source\.download_max_members must be an"),
        (
            {"source": {"download_max_unpacked_bytes": 1.5e9}},
            r"source\.download_max_unpacked_bytes must be an integer >= 1, got 1500000000\.0",
        ),
        ({"validation": {"max_pixels": 0}}, r"data_processing\.validation\.max_pixels"),
    ],
)
def test_bad_parameters_fail_naming_the_parameter(params, message):
    with pytest.raises(ParameterError, match=message):
        DataProcessingConfig.from_params(params)


def test_defaults_are_valid():
    config = DataProcessingConfig.from_params({})
    assert config.source.kind == "synthetic" and config.split_fractions["train"] == 0.8


def test_limits_come_from_the_parameters():
    config = DataProcessingConfig.from_params(
        {
            "source": {"download_max_members": 7, "download_max_unpacked_bytes": 9},
            "validation": {"min_size": 3, "max_pixels": 100_000_000},
        }
    )
    assert config.source.archive_limits == ArchiveLimits(max_members=7, max_unpacked_bytes=9)
    assert config.limits == ImageLimits(3, 100_000_000, "data_processing.validation")
