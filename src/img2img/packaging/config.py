"""The ``packaging`` parameters, validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "packaging"
#: Metrics the gate can decide on: each has a noise test (img2img.metrics.paired). FID has none.
GATE_METRICS = ("kid_mean", "ssim", "psnr", "l1")


class PackagingParameterError(ValueError):
    """A packaging parameter has a bad value; the message names it."""


@dataclass(frozen=True)
class GateConfig:
    """The promotion gate: see :mod:`img2img.packaging.registry`."""

    metrics: tuple[str, ...] = ("kid_mean", "ssim")  # the first with both models' values decides
    margin: float = 0.0  # the improvement's whole interval must lie above this
    must_beat_baselines: tuple[str, ...] = ("kid_mean", "ssim")  # () = no baseline requirement


@dataclass(frozen=True)
class PackagingConfig:
    model_name: str = "img2img-generator"
    register: bool = True
    gate: GateConfig = field(default_factory=GateConfig)
    parity_tolerance: float = 1e-4

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PackagingConfig:
        params = dict(params or {})
        gate = dict(params.pop("gate", {}) or {})
        _known(params, {"model_name", "register", "parity_tolerance"}, PREFIX)
        _known(gate, {"metrics", "margin", "must_beat_baselines"}, f"{PREFIX}.gate")
        name = params.get("model_name", cls.model_name)
        if not isinstance(name, str) or not name.strip():
            raise PackagingParameterError(
                f"{PREFIX}.model_name must be a non-empty string, got {name!r}"
            )
        register = params.get("register", cls.register)
        if not isinstance(register, bool):
            raise PackagingParameterError(
                f"{PREFIX}.register must be true or false, got {register!r}"
            )
        defaults = GateConfig()
        gate_config = GateConfig(
            metrics=_metric_names(gate.get("metrics", defaults.metrics), "gate.metrics", empty=False),
            margin=_non_negative(gate.get("margin", defaults.margin), "gate.margin"),
            must_beat_baselines=_metric_names(
                gate.get("must_beat_baselines", defaults.must_beat_baselines),
                "gate.must_beat_baselines", empty=True,
            ),
        )  # fmt: skip
        tolerance = _non_negative(
            params.get("parity_tolerance", cls.parity_tolerance), "parity_tolerance"
        )
        return cls(name, register, gate_config, tolerance)


def _known(section: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = set(section) - allowed
    if unknown:
        raise PackagingParameterError(
            f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )


def _metric_names(value: Any, name: str, *, empty: bool) -> tuple[str, ...]:
    ok = isinstance(value, list | tuple) and (empty or value)
    if not ok or not all(isinstance(m, str) and m in GATE_METRICS for m in value):
        raise PackagingParameterError(
            f"{PREFIX}.{name} must be a {'' if empty else 'non-empty '}list of metric names from "
            f"{list(GATE_METRICS)}, got {value!r}"
        )
    return tuple(value)


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PackagingParameterError(f"{PREFIX}.{name} must be a number >= 0, got {value!r}")
    return float(value)
