"""Atomic files: bytes and text, previous content kept when a save fails."""

from __future__ import annotations

import os

import pytest
from kedro.io import DatasetError

from img2img.datasets import AtomicFileDataset


def test_bytes_and_text_round_trip(tmp_path):
    raw = AtomicFileDataset(str(tmp_path / "a" / "model.onnx"))
    raw.save(b"\x00\x01")
    assert raw.load() == b"\x00\x01"
    text = AtomicFileDataset(str(tmp_path / "card.md"), encoding="utf-8")
    text.save("# Model card — ü")
    assert text.load() == "# Model card — ü"


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    dataset = AtomicFileDataset(str(tmp_path / "card.md"), encoding="utf-8")
    dataset.save("version 1")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save("version 2")
    monkeypatch.undo()
    assert dataset.load() == "version 1"
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]
