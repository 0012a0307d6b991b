"""Model artifacts: atomic save, safe (weights_only) load."""

from __future__ import annotations

import pytest
import torch
from kedro.io import DatasetError

from img2img.datasets import TorchArtifactDataset


class NotAllowed:
    """A class a weights_only load must refuse to instantiate."""


def test_round_trip(tmp_path):
    dataset = TorchArtifactDataset(str(tmp_path / "models" / "g.pt"))
    artifact = {"architecture": {"arch": "unet", "ngf": 8}, "state_dict": {"w": torch.ones(2, 3)}}
    dataset.save(artifact)
    loaded = dataset.load()
    assert loaded["architecture"] == artifact["architecture"]
    assert torch.equal(loaded["state_dict"]["w"], artifact["state_dict"]["w"])


def test_arbitrary_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"payload": NotAllowed()}, path)
    with pytest.raises(DatasetError, match="cannot load model artifact safely"):
        TorchArtifactDataset(str(path)).load()


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    dataset = TorchArtifactDataset(str(tmp_path / "g.pt"))
    dataset.save({"version": 1})

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save({"version": 2})
    monkeypatch.undo()
    assert dataset.load() == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]


def test_missing_artifact_says_what_to_run(tmp_path):
    with pytest.raises(DatasetError, match="run training first"):
        TorchArtifactDataset(str(tmp_path / "nope.pt")).load()
