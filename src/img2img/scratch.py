"""Where files and folders live while they are being written: one scratch folder per process.

A file is written in full under the scratch root, then renamed into place, so a kill at any moment
leaves either the old output or the new one at the output's path, never a half-written file, and
never a temporary file inside an output folder (a DVC output, a checkpoint folder, a cache).

Layout (the Kedro hook points it at ``data/.tmp`` of the project; outside Kedro nothing is set and
temporaries go beside their target)::

    data/.tmp/
      <pid>-<random>/      one per process that wrote something
        .owner.lock        flock-ed by that process for its whole life
        ...                its temporaries

A process removes its own folder when it exits normally. A killed process cannot: its lock is
released by the kernel, and :func:`sweep` (run by the hook at the start of every ``kedro run``)
removes every folder whose lock it can take, and never a folder whose owner is still alive.
Renames need one file system: when the target is on another one, the temporary goes beside it.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ENV = "IMG2IMG_SCRATCH"  # the scratch root, inherited by worker processes (torchrun, DataLoader)
LOCK = ".owner.lock"
UNLOCKED_GRACE_S = 60.0  # a folder with no lock yet is left alone this long


class _Owner:
    """This process's folder under the scratch root, and the lock that says it is alive."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.folder: Path | None = None
        self.lock: IO[str] | None = None

    def folder_under(self, root: Path) -> Path:
        if self.pid == os.getpid() and self.folder is not None and self.folder.parent == root:
            return self.folder
        root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=root, prefix=f"{os.getpid()}-"))
        lock = open(folder / LOCK, "w")  # noqa: SIM115 (held open for the process's life)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.pid, self.folder, self.lock = os.getpid(), folder, lock
        return folder

    def release(self) -> None:
        if self.pid != os.getpid() or self.folder is None:
            return  # a forked child never removes its parent's folder
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()
        self.pid = self.folder = self.lock = None


_OWNER = _Owner()
atexit.register(_OWNER.release)


def release() -> None:
    """Remove this process's scratch folder now (it is also removed when the process exits)."""
    _OWNER.release()


def use_scratch_root(root: str | os.PathLike[str]) -> Path:
    """Make ``root`` this process's (and its children's) scratch root; returns it, absolute."""
    path = Path(root).resolve()
    os.environ[ENV] = str(path)
    return path


def scratch_root() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def _device(path: Path) -> int:
    while not path.exists():
        path = path.parent
    return path.stat().st_dev


def temp_dir_for(target: str | os.PathLike[str]) -> Path:
    """The folder for a temporary that will be renamed to ``target``: this process's scratch
    folder when there is one on ``target``'s file system, else ``target``'s own folder."""
    parent = Path(target).parent
    root = scratch_root()
    if root is not None and _device(root) == _device(parent):
        return _OWNER.folder_under(root)
    parent.mkdir(parents=True, exist_ok=True)
    return parent


@contextmanager
def scratch_directory(prefix: str = "img2img-") -> Iterator[Path]:
    """A private folder removed on exit (under the scratch root when there is one, so a kill leaves
    it for :func:`sweep`, not in the system's temporary folder forever)."""
    root = scratch_root()
    base = _OWNER.folder_under(root) if root is not None else None
    folder = Path(tempfile.mkdtemp(dir=base, prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(root: str | os.PathLike[str]) -> list[Path]:
    """Remove the folders of processes that are gone (their lock is free); the folders removed."""
    removed = []
    root = Path(root)
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder == _OWNER.folder or not folder.is_dir():
            continue
        try:
            descriptor = os.open(folder / LOCK, os.O_RDWR)
        except FileNotFoundError:
            # Killed between creating its folder and locking it; or starting right now.
            if time.time() - folder.stat().st_mtime < UNLOCKED_GRACE_S:
                continue
        else:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            finally:
                os.close(descriptor)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
