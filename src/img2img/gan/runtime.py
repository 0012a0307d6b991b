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
from pathlib import Path

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
    concatenations), channels_last D 2-3 % faster at unet_256/batch 1 and unet_128/batch 8; in bf16
    autocast on AMX, channels_last G is 8 % slower too (conf/base's step, 2026-12-01).
    ``true``/``false`` force both on/off.
    """
    if channels_last == "auto":
        return device.type == "cuda", device.type in ("cuda", "cpu")
    return bool(channels_last), bool(channels_last)


def cpu_bf16_units() -> tuple[str, ...]:
    """The CPU's native bf16 units as torch sees them: ``AMX-BF16``, ``AVX512-BF16`` (empty on
    AVX2-only CPUs, where bf16 would be emulated and slower than fp32)."""
    units = []
    probes = (("AMX-BF16", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))
    for name, probe in probes:
        check = getattr(torch.cpu, probe, None)  # private probes: absent in some torch builds
        if check is not None and check():
            units.append(name)
    return tuple(units)


def cpu_capability() -> str:
    """torch's vector ISA for the CPU (``AVX512``, ``AVX2``, ...) plus its native bf16 units."""
    return " + ".join([torch.backends.cpu.get_cpu_capability(), *cpu_bf16_units()])


def cpu_model() -> str:
    """The CPU's model name (for the record: figures are quoted with the CPU they came from)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def amp_dtype(amp: str | bool, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``training.amp`` (None: fp32).

    ``auto``/``true``: bf16 on CUDA (fp16 where bf16 is missing) and on CPUs with native bf16
    (:func:`cpu_bf16_units`), fp32 elsewhere (AVX2-only CPUs, MPS). ``bf16`` forces bf16 autocast
    on CUDA or the CPU (emulated on a CPU without bf16 units); ``fp32``/``false`` turn AMP off."""
    if amp in ("fp32", False) or device.type not in ("cuda", "cpu"):
        return None
    if amp == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bf16_units() else None


def precision_path(dtype: torch.dtype | None, device: torch.device) -> str:
    """What ran, for the log, MLflow and the model card: ``bf16 autocast on cpu (AVX512 +
    AMX-BF16 + AVX512-BF16)``, ``fp32 on cpu (AVX2)``, ``fp16 autocast on cuda``."""
    names = {torch.bfloat16: "bf16", torch.float16: "fp16"}
    precision = "fp32" if dtype is None else f"{names.get(dtype, str(dtype))} autocast"
    hardware = f" ({cpu_capability()})" if device.type == "cpu" else ""
    return f"{precision} on {device.type}{hardware}"


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
