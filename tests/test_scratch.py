"""Temporaries live in one scratch folder per process; a killed process's folder is swept later,
a live one's never, and a process that exits normally leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from img2img import scratch
from tests.servers import wait_for_file

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from img2img.scratch import temp_dir_for, use_scratch_root
    use_scratch_root(sys.argv[1])
    folder = temp_dir_for(Path(sys.argv[2]) / "model.pt")
    (folder / "half-written.tmp").write_bytes(b"x" * 1000)
    Path(sys.argv[3]).write_text(str(folder))
    if sys.argv[4] == "wait":
        time.sleep(600)
""")


def _writer(tmp_path: Path, name: str, mode: str) -> tuple[subprocess.Popen, Path]:
    ready = tmp_path / f"{name}.ready"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "scratch"), str(tmp_path / "out"), str(ready), mode]
    )  # fmt: skip
    return process, ready


def test_killed_writers_are_swept_live_ones_kept_finished_ones_clean(tmp_path):
    (tmp_path / "out").mkdir()
    killed, killed_ready = _writer(tmp_path, "killed", "wait")
    alive, alive_ready = _writer(tmp_path, "alive", "wait")
    finished, finished_ready = _writer(tmp_path, "finished", "exit")
    try:
        for process, ready in ((killed, killed_ready), (alive, alive_ready)):
            wait_for_file(ready, process, timeout=60)
        assert finished.wait(timeout=60) == 0
        assert not Path(finished_ready.read_text()).exists()  # removed at normal exit
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        killed_folder, alive_folder = Path(killed_ready.read_text()), Path(alive_ready.read_text())
        assert (killed_folder / "half-written.tmp").is_file()  # what a kill leaves
        assert scratch.sweep(tmp_path / "scratch") == [killed_folder]
        assert not killed_folder.exists() and (alive_folder / "half-written.tmp").is_file()
        assert list((tmp_path / "out").iterdir()) == []  # nothing ever beside the target
    finally:
        for process in (killed, alive):
            process.kill()
            process.wait(timeout=30)


def test_an_unlocked_folder_is_swept_only_once_it_is_old(tmp_path):
    folder = tmp_path / "scratch" / "123-abc"
    folder.mkdir(parents=True)
    assert scratch.sweep(tmp_path / "scratch") == []  # a process may be about to lock it
    old = time.time() - scratch.UNLOCKED_GRACE_S - 1
    os.utime(folder, (old, old))
    assert scratch.sweep(tmp_path / "scratch") == [folder]


def test_other_file_systems_and_no_scratch_root_write_beside_the_target(tmp_path, monkeypatch):
    monkeypatch.delenv(scratch.ENV, raising=False)
    assert scratch.temp_dir_for(tmp_path / "a" / "model.pt") == tmp_path / "a"
    monkeypatch.setenv(scratch.ENV, str(tmp_path / "scratch"))
    inside = scratch.temp_dir_for(tmp_path / "a" / "model.pt")
    assert inside.parent == tmp_path / "scratch" and (inside / scratch.LOCK).is_file()
    monkeypatch.setattr(scratch, "_device", lambda path: 1 if "scratch" in path.parts else 2)
    assert scratch.temp_dir_for(tmp_path / "other" / "model.pt") == tmp_path / "other"


def test_scratch_directories_are_removed_after_use(tmp_path, monkeypatch):
    monkeypatch.setenv(scratch.ENV, str(tmp_path / "scratch"))
    with scratch.scratch_directory("champion-") as folder:
        assert folder.parent.parent == tmp_path / "scratch"
        (folder / "weights.pt").write_bytes(b"w")
    assert not folder.exists()
