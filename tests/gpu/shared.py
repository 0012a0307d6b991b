"""What the tests of tests/gpu share: the ``device`` parameter (``cpu`` runs everywhere, ``cuda``
is marked ``gpu``, see conftest.py), and a tiny trainer's configuration, batches and checks.

torch and the project are imported inside the functions (see conftest.py: skipping costs no import).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu, id="cuda")]


def tiny_config(**overrides):
    """tests/gan/test_loop.py's tiny configuration (32 px, ngf/ndf 8, batch 2), ``overrides`` on top."""
    from img2img.gan.config import TrainConfig
    from tests.gan.test_loop import TINY

    return TrainConfig.from_params({**TINY, **overrides})


def random_batch(device, batch: int = 2, size: int = 32):
    """A seeded (source, target) pair of float batches in [-1, 1] on ``device``."""
    import torch

    generator = torch.Generator().manual_seed(0)
    return tuple(
        (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1).to(device) for _ in range(2)
    )


def parameters(module) -> dict:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def moved(before: dict, module) -> bool:
    """Whether any of ``module``'s parameters differs from ``before`` (an optimiser step ran)."""
    import torch

    return any(not torch.equal(p, before[name]) for name, p in module.named_parameters())


def finite(losses) -> bool:
    import math

    return losses is not None and all(math.isfinite(value) for value in losses.values())


@contextlib.contextmanager
def exact_fp32() -> Iterator[None]:
    """No TF32 (which img2img.gan.runtime.configure_runtime turns on) for the ``with`` block."""
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
