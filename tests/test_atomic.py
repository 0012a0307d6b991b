"""Atomic writes: the target appears whole or not at all, with the modes a plain open() gives."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from img2img.atomic import atomic_output, atomic_write_bytes, current_umask


@pytest.fixture
def umask():
    """Set a known umask for one test; the previous one is restored afterwards."""
    previous = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_modes_open_would_give(tmp_path, umask, mask, expected):
    umask(mask)
    atomic_write_bytes(tmp_path / "new.bin", b"data")
    with atomic_output(tmp_path / "sub" / "other.bin") as handle:
        handle.write(b"more")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"plain")
    assert _mode(tmp_path / "new.bin") == expected == _mode(plain)
    assert _mode(tmp_path / "sub" / "other.bin") == expected


def test_replacing_a_file_gives_it_the_same_modes(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "old.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o644


def test_reading_the_umask_leaves_it_unchanged(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert current_umask() == 0o027


def test_an_error_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write(b"half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin"]
