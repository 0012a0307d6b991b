"""The ``packaging`` parameters, validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "packaging"


class PackagingParameterError(ValueError):
    """A packaging parameter has a bad value; the message names it."""


@dataclass(frozen=True)
class PackagingConfig:
    model_name: str = "img2img-generator"
    register: bool = True
    gate_metrics: tuple[dict[str, Any], ...] = (
        {"name": "kid_mean", "higher_is_better": False},
        {"name": "ssim", "higher_is_better": True},
    )
    gate_margin: float = 0.0
    parity_tolerance: float = 1e-4

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PackagingConfig:
        params = dict(params or {})
        gate = dict(params.pop("gate", {}) or {})
        allowed = {"model_name", "register", "parity_tolerance"}
        if set(params) - allowed:
            raise PackagingParameterError(
                f"{PREFIX}: unknown key(s) {sorted(set(params) - allowed)}"
            )
        if set(gate) - {"metrics", "margin"}:
            raise PackagingParameterError(
                f"{PREFIX}.gate: unknown key(s) {sorted(set(gate) - {'metrics', 'margin'})}"
            )
        name = params.get("model_name", cls.model_name)
        if not isinstance(name, str) or not name.strip():
            raise PackagingParameterError(
                f"{PREFIX}.model_name must be a non-empty string, got {name!r}"
            )
        metrics = gate.get("metrics", list(cls.gate_metrics))
        if not metrics or not all(
            isinstance(m, Mapping) and set(m) == {"name", "higher_is_better"} for m in metrics
        ):
            raise PackagingParameterError(
                f"{PREFIX}.gate.metrics must be a list of {{name, higher_is_better}}, got {metrics!r}"
            )
        margin = gate.get("margin", 0.0)
        tolerance = params.get("parity_tolerance", 1e-4)
        for key, value in (("gate.margin", margin), ("parity_tolerance", tolerance)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PackagingParameterError(
                    f"{PREFIX}.{key} must be a number >= 0, got {value!r}"
                )
        return cls(name, bool(params.get("register", True)), tuple(dict(m) for m in metrics), float(margin),
                   float(tolerance))  # fmt: skip
