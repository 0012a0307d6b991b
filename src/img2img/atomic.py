"""Atomic file writes: a temporary file, fsync, then rename over the target.

The temporary lives in this process's scratch folder (:mod:`img2img.scratch`: ``data/.tmp/<pid>-*``
in a Kedro run), or beside the target when there is none on the target's file system. An error
leaves the previous file (if any) intact and no temporary file; a kill leaves the previous file and,
at worst, a temporary in a scratch folder that the next run sweeps.
The written file gets the modes a plain ``open(path, "w")`` of a new file would give it
(``0o666 & ~umask``), not the owner-only 0600 of the temporary file.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from img2img.scratch import temp_dir_for

NEW_FILE_MODE = 0o666  # what open() asks for; the umask takes bits away
_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the system says it (Linux /proc).

    Elsewhere it is read by setting it and putting it back: set to the strict 0o077 meanwhile,
    so a file another thread creates in that instant is never more open than intended."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """``with atomic_output(path) as handle:`` write to ``handle``; ``path`` appears only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=temp_dir_for(path), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, NEW_FILE_MODE & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as handle:
        handle.write(data)
