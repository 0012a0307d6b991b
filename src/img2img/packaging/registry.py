"""Promotion gate: a new model version becomes ``champion`` only when it is better by a margin.

The first registered version becomes champion. Later versions are compared on the gate metric with
the current champion's value (kept as a version tag); better by ``margin`` moves ``champion``,
otherwise the new version gets ``challenger``. The decision and its reason are tags of the version.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class GateDecision:
    version: str
    alias: str
    metric: str
    value: float | None
    champion_version: str | None
    champion_value: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_gate_metric(
    model_scores: dict[str, Any], candidates: list[dict[str, Any]]
) -> tuple[str, float, bool]:
    """The first candidate ``{"name", "higher_is_better"}`` with a finite value in ``model_scores``."""
    for candidate in candidates:
        value = model_scores.get(candidate["name"])
        if isinstance(value, int | float) and math.isfinite(value):
            return candidate["name"], float(value), bool(candidate["higher_is_better"])
    names = [c["name"] for c in candidates]
    raise ValueError(f"none of the gate metrics {names} has a value in the evaluation metrics")


def promote(
    client: MlflowClient, model_name: str, version: str, metric: str, value: float,
    higher_is_better: bool, margin: float,
) -> GateDecision:  # fmt: skip
    try:
        champion = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        champion = None
    champion_value = None
    if champion is not None and champion.tags.get("gate_metric") == metric:
        champion_value = float(champion.tags["gate_value"])
    if champion is None:
        alias, reason = CHAMPION, "first registered model"
    elif champion_value is None:
        alias, reason = (
            CHAMPION,
            f"the champion (version {champion.version}) has no {metric} to compare",
        )
    else:
        improvement = value - champion_value if higher_is_better else champion_value - value
        if improvement > margin:
            alias = CHAMPION
            reason = f"{metric} {value:.6g} beats the champion's {champion_value:.6g} by more than {margin:g}"
        else:
            alias = CHALLENGER
            reason = f"{metric} {value:.6g} does not beat the champion's {champion_value:.6g} by more than {margin:g}"
    client.set_registered_model_alias(model_name, alias, version)
    for key, tag in {"gate_metric": metric, "gate_value": repr(value), "gate_decision": alias,
                     "gate_reason": reason}.items():  # fmt: skip
        client.set_model_version_tag(model_name, version, key, tag)
    return GateDecision(
        version,
        alias,
        metric,
        value,
        champion.version if champion else None,
        champion_value,
        reason,
    )
