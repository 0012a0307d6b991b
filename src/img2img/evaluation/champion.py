"""Score the candidate and the registry's champion on the same images, the same way, in one run.

The promotion gate (:mod:`img2img.packaging.registry`) compares these two scores, never a score
stored when the champion was registered (that was another test set, or another dataset).

Both models are run as they are served: the champion through its registered MLflow model (so a
champion of another architecture or crop size still runs), the candidate as the deployable network
its exports are checked against (:func:`img2img.inference.model.deployable_generator`), both
through :func:`img2img.inference.model.translate_uint8` on the central crops the candidate is
evaluated on (padded by reflection to each model's size multiple and cropped back). Every score
uses the conventions of :mod:`img2img.metrics`; the differences come with intervals from
:mod:`img2img.metrics.paired`, so the gate can tell a real improvement from noise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from img2img.evaluation.config import EvaluationConfig
from img2img.evaluation.evaluate import evaluation_crops, evaluation_set
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.runtime import select_device
from img2img.inference.model import Translator, deployable_generator, translate_uint8
from img2img.ingest.caches import TensorCache
from img2img.metrics import (
    aggregate,
    inception_features,
    locate_inception_weights,
    per_image_scores,
    real_stats,
    set_scores,
)
from img2img.metrics.image_quality import finite_scores
from img2img.metrics.inception import InceptionWeights
from img2img.metrics.paired import PairedDifference, bootstrap_difference, paired_kid_difference

logger = logging.getLogger(__name__)
PER_IMAGE = ("ssim", "psnr", "l1")
CONVENTIONS = ("both models as served (dropout off, per-image normalisation), on the same central "
               "crops, reflect-padded to each model's size multiple; outputs quantised once")  # fmt: skip


@dataclass(frozen=True)
class ChampionModel:
    version: str
    translate: Translator


@dataclass(frozen=True)
class GateComparison:
    """Candidate and champion scored on one evaluation set; ``differences`` are candidate minus
    champion, with their intervals (none when there is no champion to compare with)."""

    eval_set: Mapping[str, Any]  # split, fingerprint, n_images, image_size
    candidate: Mapping[str, float | None]
    champion_version: str | None = None
    champion: Mapping[str, float | None] | None = None
    champion_status: str = "no champion registered"
    differences: Mapping[str, PairedDifference] = field(default_factory=dict)
    conventions: str = CONVENTIONS

    def to_dict(self) -> dict[str, Any]:
        return {"eval_set": dict(self.eval_set), "candidate": dict(self.candidate),
                "champion_version": self.champion_version,
                "champion": dict(self.champion) if self.champion is not None else None,
                "champion_status": self.champion_status,
                "differences": {k: d.to_dict() for k, d in self.differences.items()},
                "conventions": self.conventions}  # fmt: skip

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GateComparison:
        return cls(
            eval_set=dict(values["eval_set"]),
            candidate=dict(values["candidate"]),
            champion_version=values.get("champion_version"),
            champion=dict(values["champion"]) if values.get("champion") is not None else None,
            champion_status=values.get("champion_status", ""),
            differences={
                k: PairedDifference(**d) for k, d in (values.get("differences") or {}).items()
            },
            conventions=values.get("conventions", CONVENTIONS),
        )


def _nhwc(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).contiguous().numpy()


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def _candidate_translator(candidate: GeneratorArtifact, config: EvaluationConfig) -> Translator:
    model = deployable_generator(candidate).to(select_device(config.device))
    return lambda images: translate_uint8(model, images, candidate.size_multiple, config.batch_size)


def compare_with_champion(
    candidate: GeneratorArtifact,
    cache: TensorCache,
    champion: ChampionModel | None,
    config: EvaluationConfig,
    *,
    champion_status: str = "no champion registered",
    fid_cache_dir: Path | None = None,
) -> GateComparison:
    """Scores of the candidate and (when given) the champion on ``cache``'s evaluation crops."""
    source, target = evaluation_crops(cache, candidate.crop_size)
    models: dict[str, Translator] = {"candidate": _candidate_translator(candidate, config)}
    if champion is not None:
        models["champion"] = champion.translate
    outputs = {name: _nchw(translate(_nhwc(source))) for name, translate in models.items()}
    per_image = {name: per_image_scores(images, target) for name, images in outputs.items()}
    scores: dict[str, dict[str, Any]] = {
        name: aggregate(values) for name, values in per_image.items()
    }
    features = _distribution_scores(outputs, target, config, fid_cache_dir, scores)
    differences: dict[str, PairedDifference] = {}
    if champion is not None:
        for metric in PER_IMAGE:
            values = [
                finite_scores(metric, per_image[n][metric]) for n in ("candidate", "champion")
            ]
            differences[metric] = bootstrap_difference(metric, *values)
        if features is not None:
            real, ours, theirs = features
            kid = scores["candidate"]["kid_mean"] - scores["champion"]["kid_mean"]
            differences["kid_mean"] = paired_kid_difference(real, ours, theirs, kid)
        champion_status = "scored"
    return GateComparison(
        eval_set=evaluation_set(cache, candidate.crop_size),
        candidate=scores["candidate"],
        champion_version=champion.version if champion is not None else None,
        champion=scores.get("champion"),
        champion_status=champion_status,
        differences=differences,
    )


def _distribution_scores(
    outputs: Mapping[str, torch.Tensor], target: torch.Tensor, config: EvaluationConfig,
    fid_cache_dir: Path | None, scores: dict[str, dict[str, Any]],
) -> tuple[np.ndarray, ...] | None:  # fmt: skip
    """Adds FID and KID to ``scores``; returns the (real, candidate[, champion]) Inception features
    for the paired KID test, or None when FID/KID are not computed (the scores say null)."""
    weights = locate_inception_weights(config.fid.weights_path) if config.fid.enabled else None
    if not isinstance(weights, InceptionWeights) or len(target) < 2:
        for values in scores.values():
            values.update(fid=None, kid_mean=None, kid_std=None)
        return None
    device = select_device(config.device)
    real = real_stats(target, weights, device, config.fid.batch_size, cache_dir=fid_cache_dir)
    features = {name: inception_features(images, weights, device, config.fid.batch_size)
                for name, images in outputs.items()}  # fmt: skip
    for name, fake in features.items():
        scores[name].update(set_scores(real, fake, config.fid.kid_subsets))
    return (real.features, *features.values())
