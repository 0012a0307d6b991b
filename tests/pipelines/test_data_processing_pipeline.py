"""data_processing end to end through KedroSession with conf/ci, in a scratch copy of the project."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import save_aligned
from tests.kedro_project import run_pipelines

PAIR_COLUMNS = {"pair_id", "source_path", "target_path", "split", "width", "height",
                "source_sha256", "target_sha256"}  # fmt: skip


def test_builtin_dataset_runs_through_data_processing(project):
    catalog = run_pipelines(project, ["data_processing"])
    pairs = catalog.load("pairs")
    assert set(pairs.columns) >= PAIR_COLUMNS
    assert len(pairs) == 40  # conf/ci: 40 synthetic pairs, none rejected
    assert catalog.load("rejected_pairs").empty
    caches = [catalog.load(f"{s}_tensors") for s in ("train", "val", "test")]
    assert caches[0].source.shape[1:] == (3, 36, 36)  # conf/ci load_size
    assert sum(len(c) for c in caches) == 40
    assert len({c.data.generation for c in caches}) == 1
    # The same data again: the same fingerprints and generation (DVC sees unchanged outputs).
    again = run_pipelines(project, ["data_processing"]).load("train_tensors")
    assert again.data == caches[0].data
    # Other data (another synthetic seed): every fingerprint and the generation change.
    params = {"data_processing": {"source": {"synthetic": {"seed": 1}}}}
    other = run_pipelines(project, ["data_processing"], runtime_params=params).load("train_tensors")
    assert other.data.generation != caches[0].data.generation
    assert other.fingerprint != caches[0].fingerprint
    assert (project / "data" / "01_raw" / "facades_synthetic" / "facade_00000.png").is_file()


def test_user_aligned_dataset_with_bad_files(project):
    dataset = project / "data" / "01_raw" / "mine"
    for i in range(5):
        save_aligned(dataset / "train" / f"{i}.png", i)
    save_aligned(dataset / "test" / "t.png", 99)
    (dataset / "train" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    params = {"data_processing": {"source": {"kind": "aligned", "dataset_dir": "mine"}}}
    catalog = run_pipelines(project, ["data_processing"], runtime_params=params)
    pairs = catalog.load("pairs")
    assert sorted(pairs["split"]) == ["test"] + ["train"] * 5
    rejected = pd.read_csv(project / "data" / "03_primary" / "rejected_pairs.csv")
    assert list(rejected["path"]) == ["mine/train/broken.jpg"]
    assert "corrupt" in rejected.loc[0, "reason"] or "not an image" in rejected.loc[0, "reason"]


def test_bad_parameter_fails_before_any_work(project):
    with pytest.raises(Exception, match=r"data_processing\.split\.fractions"):
        run_pipelines(
            project,
            ["data_processing"],
            runtime_params={"data_processing": {"split": {"fractions": {"train": 0.95}}}},
        )
    assert not (project / "data" / "01_raw" / "facades_synthetic").exists()
