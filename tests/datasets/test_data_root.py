"""Data roots: loaded as their (created) folder's path; saved by a node that wrote into them."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from img2img.datasets import DataRootDataset


def test_load_creates_the_folder_and_returns_its_path(tmp_path):
    dataset = DataRootDataset(str(tmp_path / "raw"))
    assert not dataset.exists()
    assert dataset.load() == tmp_path / "raw" and dataset.exists()


def test_save_accepts_its_own_folder_and_refuses_another(tmp_path):
    dataset = DataRootDataset(str(tmp_path / "out"))
    dataset.save(tmp_path / "x" / ".." / "out")  # the same folder, however it is spelled
    assert (tmp_path / "out").is_dir()
    with pytest.raises(DatasetError, match=r"out: the node returned .*elsewhere.*not this folder"):
        dataset.save(tmp_path / "elsewhere")
    with pytest.raises(DatasetError, match=r"not this folder's path"):
        dataset.save(42)
