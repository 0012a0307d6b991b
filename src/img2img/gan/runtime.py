"""Where and how training runs: the device, the AMP and memory-format policy, threads, seeds and
determinism, and (on the CPU) freed memory kept in glibc's heap while training runs.

**Freed memory.** A pix2pix step on the CPU allocates and frees a few hundred MB (activations, 57 M
gradients) of large blocks. glibc serves each large block with a fresh ``mmap`` and returns it with
``munmap`` on free, so every step pays page faults (the kernel zeroes every new 4 KiB page) on all
of that memory: ~25 ms of a 600 ms unet_256 step on the 2-core benchmark machine
(``benchmarks/train_speed.py``). While :func:`keep_freed_memory` is active, large blocks come from
the heap and freed memory is kept for reuse; on exit glibc's defaults are restored and the kept
memory is handed back to the system. The numbers computed are unchanged; only where the memory
comes from changes. Elsewhere than on glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import platform
import random
from collections.abc import Iterator

import numpy as np
import torch

from img2img.gan.config import TrainConfig

logger = logging.getLogger(__name__)


def select_device(name: str) -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. An unavailable explicit device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"training.device is {name!r} but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"training.device is {name!r} but MPS is not available here")
    return device


def memory_formats(channels_last: str | bool, device: torch.device) -> tuple[bool, bool]:
    """Whether (G, D) run in channels_last for ``training.channels_last``.

    ``auto``: both on CUDA (tensor-core friendly). On the CPU only D: measured on the 2-core
    benchmark machine, channels_last G is 3-10 % slower (its transposed convolutions and skip
    concatenations), channels_last D 2-3 % faster at unet_256/batch 1 and unet_128/batch 8.
    ``true``/``false`` force both on/off.
    """
    if channels_last == "auto":
        return device.type == "cuda", device.type in ("cuda", "cpu")
    return bool(channels_last), bool(channels_last)


def amp_dtype(amp: str | bool, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``training.amp``: ``auto`` and ``true`` use bf16 on CUDA (fp16 where
    bf16 is missing); the CPU trains in fp32."""
    enabled = device.type == "cuda" if amp == "auto" else bool(amp)
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def configure_runtime(config: TrainConfig) -> None:
    """Threads, determinism, cuDNN/TF32 and the seeds of python, NumPy and torch."""
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)
    torch.manual_seed(config.seed)


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
