"""The promotion gate: register a trained generator and decide whether it becomes ``champion``.

Registration logs the MLflow pyfunc model as code (:mod:`img2img.packaging.served_model`; no pickled
object) with its artifacts (the ``torch.export`` program, the ONNX export when given, which the
pyfunc model runs on ONNX Runtime where that is the fastest path, plus the generator and
discriminator artifacts so a later run can warm-start from it) and registers it as a new version.

The promotion gate (:func:`decide`) reads the candidate's and the champion's scores from one
:class:`~img2img.evaluation.champion.GateComparison`: the same images, the same conventions, the
same run. In order:

1. A candidate that does not beat the trivial baselines (copy the source, the mean training target)
   on every metric of ``gate.must_beat_baselines`` never becomes champion (``[]`` lifts this).
2. No champion yet: the candidate becomes champion.
3. A champion that could not be re-scored is not replaced automatically.
4. Otherwise the first metric of ``gate.metrics`` scored for both, with a noise estimate (too few
   images give none), decides: the candidate becomes champion only when the whole confidence
   interval of its improvement lies above ``gate.margin`` (a real improvement, not noise); else it
   is the ``challenger``.

:func:`apply_decision` sets the version's tags (both scores, the evaluation set's fingerprint and
size, the reason, the lineage), then the alias, then marks the registration complete; a version a
killed run left incomplete is finished or deleted by the next registration
(:func:`finish_interrupted_registrations`). If the champion changed between evaluation and
registration, the candidate is not promoted over a model it was never compared with.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from img2img.evaluation.champion import GateComparison
from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
from img2img.inference.model import ExportMetadata
from img2img.metrics import LOWER_IS_BETTER, better
from img2img.packaging import served_model
from img2img.packaging.config import GateConfig, PackagingConfig
from img2img.packaging.pyfunc import ONNX_ARTIFACT, SIGNATURE
from img2img.packaging.registry import (
    CHALLENGER,
    CHAMPION,
    DISCRIMINATOR_WEIGHTS,
    GENERATOR_WEIGHTS,
    find_champion,
)
from img2img.scratch import scratch_directory

logger = logging.getLogger(__name__)
# A version's registration state: "incomplete" from its creation until the gate's tags and alias
# are set, so a run killed in between leaves a version the next registration can recognise.
REGISTRATION, INCOMPLETE, COMPLETE = "img2img_registration", "incomplete", "complete"


@dataclass(frozen=True)
class GateDecision:
    """Where a candidate goes, why, and the scores the decision compared."""

    alias: str
    reason: str
    metric: str | None = None
    candidate_value: float | None = None
    champion_value: float | None = None
    champion_version: str | None = None  # the champion the candidate was compared with
    improvement: Mapping[str, float] | None = None  # estimate, low, high, confidence
    eval_set: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None  # the registered version, once registered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tags(self) -> dict[str, str]:
        tags = {"gate_decision": self.alias, "gate_reason": self.reason,
                "gate_metric": str(self.metric), "gate_candidate_value": repr(self.candidate_value),
                "gate_champion_value": repr(self.champion_value),
                "gate_champion_version": str(self.champion_version),
                "gate_improvement": json.dumps(self.improvement),
                "gate_eval_fingerprint": str(self.eval_set.get("fingerprint")),
                "gate_eval_size": str(self.eval_set.get("n_images")),
                "gate_eval_split": str(self.eval_set.get("split"))}  # fmt: skip
        return tags


def _value(scores: Mapping[str, Any] | None, metric: str) -> float | None:
    value = (scores or {}).get(metric)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def baseline_losses(
    candidate: Mapping[str, Any],
    baselines: Mapping[str, Mapping[str, Any]],
    metrics: tuple[str, ...],
) -> list[str]:
    """What the candidate loses to the baselines on ``metrics`` (empty: it beats them all)."""
    losses, compared = [], 0
    for name, scores in baselines.items():
        for metric in metrics:
            ours, theirs = _value(candidate, metric), _value(scores, metric)
            if ours is None or theirs is None:
                continue
            compared += 1
            if not better(metric, ours, theirs):
                losses.append(f"{metric} {ours:.4g} vs {theirs:.4g} for '{name}'")
    if metrics and baselines and not compared:
        losses.append(f"no value of {list(metrics)} to compare with the baselines")
    if metrics and not baselines:
        losses.append("no baseline scores in the evaluation metrics")
    return losses


def decide(
    comparison: GateComparison, baselines: Mapping[str, Mapping[str, Any]], gate: GateConfig
) -> GateDecision:
    """The gate's decision for the candidate of ``comparison`` (see the module docstring)."""
    decision = GateDecision(CHALLENGER, "", eval_set=comparison.eval_set,
                            champion_version=comparison.champion_version)  # fmt: skip
    losses = baseline_losses(comparison.candidate, baselines, gate.must_beat_baselines)
    if losses:
        return replace(decision, reason="does not beat the trivial baselines: " + "; ".join(losses))
    if comparison.champion is None:
        if (
            comparison.champion_version is None
            and comparison.champion_status == "no champion registered"
        ):
            return replace(
                decision, alias=CHAMPION, reason="first registered model (no champion yet)"
            )
        return replace(decision, reason=f"the champion could not be re-scored on this evaluation set "
                                        f"({comparison.champion_status}); not promoted automatically")  # fmt: skip
    for metric in gate.metrics:
        ours, theirs = _value(comparison.candidate, metric), _value(comparison.champion, metric)
        difference = comparison.differences.get(metric)
        # A metric decides when both models have a value and its noise could be estimated.
        if (
            ours is not None
            and theirs is not None
            and difference is not None
            and difference.has_interval()
        ):
            return _compare(decision, metric, ours, theirs, difference, gate.margin)
    return replace(decision, reason=f"none of the gate metrics {list(gate.metrics)} has both models' "
                                    f"scores and a noise estimate on these {comparison.eval_set.get('n_images')} "
                                    "images; not promoted automatically")  # fmt: skip


def _compare(decision: GateDecision, metric: str, ours: float, theirs: float, difference: Any,
             margin: float) -> GateDecision:  # fmt: skip
    sign = -1.0 if LOWER_IS_BETTER[metric] else 1.0
    estimate = sign * difference.difference
    low, high = sorted((sign * difference.low, sign * difference.high))
    improvement = {
        "estimate": estimate,
        "low": low,
        "high": high,
        "confidence": difference.confidence,
    }
    decision = replace(decision, metric=metric, candidate_value=ours, champion_value=theirs,
                       improvement=improvement)  # fmt: skip
    scores = (f"{metric} {ours:.4g} vs the champion's {theirs:.4g} on the same "
              f"{decision.eval_set.get('n_images')} images; improvement {estimate:+.4g}, "
              f"{difference.confidence:.0%} interval [{low:+.4g}, {high:+.4g}]")  # fmt: skip
    if low > margin:
        return replace(
            decision, alias=CHAMPION, reason=f"better than the champion beyond noise: {scores}"
        )
    return replace(
        decision, reason=f"not better than the champion beyond noise (margin {margin:g}): {scores}"
    )


def register_version(
    generator: GeneratorArtifact, discriminator: DiscriminatorArtifact, program: bytes,
    model_name: str, *, onnx_model: bytes | None = None,
) -> str:  # fmt: skip
    """Log the pyfunc model in the active MLflow run and register it, tagged as an incomplete
    registration until :func:`apply_decision` finishes it; the new version number. ``onnx_model``:
    the parity-checked ONNX export, served by ONNX Runtime where that is the fastest path."""
    with scratch_directory(prefix="register-") as tmp:
        files = {"generator": tmp / "generator.pt2", "config": tmp / "config.json",
                 "generator_weights": tmp / GENERATOR_WEIGHTS,
                 "discriminator_weights": tmp / DISCRIMINATOR_WEIGHTS}  # fmt: skip
        files["generator"].write_bytes(program)
        files["config"].write_text(ExportMetadata.of(generator).to_json())
        generator.save(files["generator_weights"])
        discriminator.save(files["discriminator_weights"])
        if onnx_model is not None:
            files[ONNX_ARTIFACT] = tmp / "generator.onnx"
            files[ONNX_ARTIFACT].write_bytes(onnx_model)
        size = generator.size_multiple
        info = mlflow.pyfunc.log_model(
            name="generator_pyfunc", python_model=served_model.__file__,
            artifacts={key: str(path) for key, path in files.items()}, signature=SIGNATURE,
            input_example=np.zeros((1, size, size, 3), dtype=np.uint8),
        )  # fmt: skip
    version = mlflow.register_model(info.model_uri, model_name, tags={REGISTRATION: INCOMPLETE})
    return str(version.version)


def finish_interrupted_registrations(client: MlflowClient, model_name: str) -> list[str]:
    """Versions a killed run left ``incomplete``: one that already holds an alias had all its tags
    (the alias is set last) and is marked complete; one without was never decided and is deleted.
    Returns what was done, one line per version."""
    done = []
    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return done  # no such model yet
    for version in versions:
        if version.tags.get(REGISTRATION) != INCOMPLETE:
            continue
        version = client.get_model_version(model_name, version.version)  # search omits aliases
        if version.aliases:
            client.set_model_version_tag(model_name, version.version, REGISTRATION, COMPLETE)
            done.append(f"version {version.version} ({', '.join(version.aliases)}): completed")
        else:
            client.delete_model_version(model_name, version.version)
            done.append(f"version {version.version}: deleted (registration never decided)")
    return done


def apply_decision(
    client: MlflowClient, model_name: str, version: str, decision: GateDecision,
    tags: Mapping[str, str],
) -> GateDecision:  # fmt: skip
    """Move the alias the decision names to ``version`` and tag it (decision and ``tags``)."""
    current = find_champion(client, model_name)
    current_version = str(current.version) if current is not None else None
    if decision.alias == CHAMPION and current_version != decision.champion_version:
        decision = replace(decision, alias=CHALLENGER, reason=(
            f"the champion changed since evaluation (compared with version {decision.champion_version}, "
            f"now version {current_version}): re-run evaluation to compare with it"))  # fmt: skip
    decision = replace(decision, version=version)
    for key, value in {**decision.tags(), **tags}.items():
        client.set_model_version_tag(model_name, version, key, value)
    client.set_registered_model_alias(model_name, decision.alias, version)
    client.set_model_version_tag(model_name, version, REGISTRATION, COMPLETE)
    return decision


def register_and_decide(
    generator: GeneratorArtifact, discriminator: DiscriminatorArtifact, program: bytes,
    decision: GateDecision, config: PackagingConfig, *, onnx_model: bytes | None = None,
) -> GateDecision:  # fmt: skip
    """Register the candidate (with its ONNX export, if given) and apply the gate's decision; the
    decision with the version."""
    for line in finish_interrupted_registrations(MlflowClient(), config.model_name):
        logger.warning("%s, left by a killed run: %s", config.model_name, line)
    version = register_version(
        generator, discriminator, program, config.model_name, onnx_model=onnx_model
    )
    tags = generator.lineage.tags() if generator.lineage else {}
    decision = apply_decision(MlflowClient(), config.model_name, version, decision, tags)
    logger.info("Registered %s version %s as %s: %s", config.model_name, version, decision.alias,
                decision.reason)  # fmt: skip
    return decision
