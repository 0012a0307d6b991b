"""The ``packaging`` parameters (built and checked with :mod:`img2img.config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from img2img.config import Checks, parse

PREFIX = "packaging"
PARITY_TOLERANCE = 1e-4  # max |export - eager| allowed
#: Metrics the gate can decide on: each has a noise test (img2img.metrics.paired). FID has none.
GATE_METRICS = ("kid_mean", "ssim", "psnr", "l1")


@dataclass(frozen=True)
class GateConfig:
    """The promotion gate: see :mod:`img2img.packaging.gate`."""

    metrics: tuple[str, ...] = ("kid_mean", "ssim")  # the first with both models' values decides
    margin: float = 0.0  # the improvement's whole interval must lie above this
    must_beat_baselines: tuple[str, ...] = ("kid_mean", "ssim")  # () = no baseline requirement


@dataclass(frozen=True)
class PackagingConfig:
    model_name: str = "img2img-generator"
    register: bool = True
    gate: GateConfig = field(default_factory=GateConfig)
    parity_tolerance: float = PARITY_TOLERANCE

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PackagingConfig:
        return parse(cls, params, PREFIX, _check)


def _check(c: PackagingConfig, check: Checks) -> None:
    check.text(c.model_name, "model_name")
    check.boolean(c.register, "register")
    check.names(c.gate.metrics, "gate.metrics", GATE_METRICS, empty=False)
    check.number(c.gate.margin, "gate.margin", 0.0)
    check.names(c.gate.must_beat_baselines, "gate.must_beat_baselines", GATE_METRICS, empty=True)
    check.number(c.parity_tolerance, "parity_tolerance", 0.0)
