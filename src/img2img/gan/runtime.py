"""Process-level CPU tuning for training: keep freed memory in glibc's heap while training runs.

A pix2pix step on the CPU allocates and frees a few hundred MB (activations, 57 M gradients) of
large blocks. glibc serves each large block with a fresh ``mmap`` and returns it with ``munmap`` on
free, so every step pays page faults (the kernel zeroes every new 4 KiB page) on all of that memory:
~25 ms of a 600 ms unet_256 step on the 2-core benchmark machine (``benchmarks/train_speed.py``).
While :func:`keep_freed_memory` is active, large blocks come from the heap and freed memory is kept
for reuse; on exit glibc's defaults are restored and the kept memory is handed back to the system.
The numbers computed are unchanged; only where the memory comes from changes. Elsewhere than on
glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import platform
from collections.abc import Iterator

logger = logging.getLogger(__name__)

# mallopt parameters and glibc's defaults (malloc.h, mallopt(3)).
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
KEEP_TRIM_THRESHOLD = 2**31 - 1  # the largest value mallopt's int accepts: never trim


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # pragma: no cover - unusual libc builds
        return None


@contextlib.contextmanager
def keep_freed_memory(enabled: bool = True) -> Iterator[bool]:
    """Serve large allocations from glibc's heap and never trim it, for the ``with`` block.

    Yields whether the tuning is active (False when disabled or not on glibc).
    """
    libc = _glibc() if enabled else None
    if libc is None:
        yield False
        return
    active = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_TRIM_THRESHOLD)
    )
    try:
        yield active
    finally:
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
