"""Evaluate a trained generator on a held-out split (plain PyTorch, no Kedro).

1. Rebuild the generator from its artifact (the EMA weights when training kept them).
2. Translate the split (batched, ``no_grad``) in the configured ``test_mode`` on central
   ``crop_size`` crops, the size the generator was trained at; quantise to uint8 once.
3. Score every image on those uint8 images: SSIM, PSNR, L1 per image; FID and KID on the set.
4. Score two baselines the model must beat to be worth anything: "copy the source" and "the
   per-pixel mean training target".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from img2img.evaluation.config import EvaluationConfig
from img2img.evaluation.report import Example, render_report
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.runtime import select_device
from img2img.gan.translation import center_crop, translate_images
from img2img.ingest.caches import TensorCache
from img2img.metrics import (
    CONVENTIONS,
    aggregate,
    better,
    distribution_conventions,
    distribution_metrics,
    locate_inception_weights,
    per_image_scores,
)
from img2img.metrics.inception import InceptionWeights, MissingWeights

logger = logging.getLogger(__name__)
LPIPS_STATUS = (
    "LPIPS not computed: it needs pretrained AlexNet/VGG backbone and LPIPS layer weights, which this "
    "project does not ship and will not download at run time"
)
SSIM_BIN_WIDTH = 0.05  # the bins of the SSIM distribution (a DVC plot): fixed, so runs compare
DISTRIBUTION_SCORES = ("fid", "kid_mean", "kid_std")


@dataclass
class EvaluationResult:
    predictions: dict[str, np.ndarray]  # pair_id -> H×W×3 uint8
    per_image: pd.DataFrame
    metrics: dict[str, Any]  # the numbers compared across runs (the DVC metrics file)
    report_html: str
    conventions: dict[str, Any] = field(default_factory=dict)  # how they are computed, or why not
    mlflow_metrics: dict[str, float] = field(default_factory=dict)
    ssim_distribution: pd.DataFrame = field(default_factory=pd.DataFrame)


def ssim_distribution(per_image: pd.DataFrame, width: float = SSIM_BIN_WIDTH) -> pd.DataFrame:
    """Histogram of per-image SSIM in fixed bins of ``width`` over [-1, 1]: one row per bin from
    the lowest occupied one up to the bin ending at 1 (``ssim_bin`` label, ``ssim_low``, ``pairs``).
    Non-finite values are left out. The bins do not move between runs, so ``dvc plots diff``
    compares like with like."""
    values = per_image["ssim"].to_numpy(dtype=float) if "ssim" in per_image else np.empty(0)
    values = values[np.isfinite(values)]
    columns = ["ssim_bin", "ssim_low", "pairs"]
    if len(values) == 0:
        return pd.DataFrame(columns=columns)
    n_bins = round(2.0 / width)
    index = np.clip(np.floor((np.clip(values, -1.0, 1.0) + 1.0) / width + 1e-9).astype(int), 0,
                    n_bins - 1)  # fmt: skip
    first = int(index.min())
    counts = np.bincount(index - first, minlength=n_bins - first)
    lows = -1.0 + (first + np.arange(n_bins - first)) * width
    labels = [f"{low:.2f} to {low + width:.2f}" for low in lows]
    return pd.DataFrame({"ssim_bin": labels, "ssim_low": np.round(lows, 6), "pairs": counts})


def _hwc(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).contiguous().numpy()


def _scores(
    prediction: torch.Tensor, target: torch.Tensor
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    per_image = per_image_scores(prediction, target)
    return per_image, aggregate(per_image)


def _pick_examples(
    per_image: pd.DataFrame, source, fake, target, count: int, seed: int
) -> dict[str, list[Example]]:
    if count == 0 or per_image.empty:
        return {}
    order = per_image["ssim"].to_numpy().argsort()
    random = np.random.default_rng(seed).permutation(len(per_image))[:count]
    chosen = {
        "Best SSIM": order[::-1][:count],
        "Worst SSIM": order[:count],
        "Random sample": random,
    }
    return {
        title: [
            Example(str(per_image["pair_id"].iloc[i]), source[i], fake[i], target[i],
                    {"ssim": float(per_image["ssim"].iloc[i]), "psnr": float(per_image["psnr"].iloc[i])})
            for i in indices
        ]
        for title, indices in chosen.items()
    }  # fmt: skip


def _verdicts(
    model: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, bool], list[str]]:
    beats, notes = {}, []
    for name, scores in baselines.items():
        lost = [m for m in ("ssim", "psnr", "l1", "kid_mean") if model.get(m) is not None
                and scores.get(m) is not None and better(m, scores[m], model[m])]  # fmt: skip
        beats[name] = not lost
        if lost:
            notes.append(f"The model does not beat the '{name}' baseline on {', '.join(lost)}.")
    return beats, notes


def select_split(config: EvaluationConfig, test: TensorCache, val: TensorCache) -> TensorCache:
    """The cache ``evaluation.split`` names; ``test`` falls back to ``val`` when the dataset has no
    test split (e.g. pix2pix datasets that ship only train/ and val/)."""
    if config.split == "test" and len(test) == 0 and len(val):
        logger.warning("The test split is empty; evaluating on the validation split instead")
        return val
    return test if config.split == "test" else val


def evaluation_crops(cache: TensorCache, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The central ``crop`` px (source, target) of every pair: the images every score is on."""
    if len(cache) == 0:
        raise ValueError(
            f"the {cache.split} split is empty: nothing to evaluate (see evaluation.split)"
        )
    return center_crop(cache.source, crop).contiguous(), center_crop(
        cache.target, crop
    ).contiguous()


def evaluation_set(cache: TensorCache, crop: int) -> dict[str, Any]:
    """What identifies the evaluated images: split, data fingerprint, count and crop size."""
    return {"split": cache.split, "fingerprint": cache.fingerprint, "n_images": len(cache),
            "image_size": crop}  # fmt: skip


def evaluate(
    generator_artifact: GeneratorArtifact,
    eval_cache: TensorCache,
    train_cache: TensorCache,
    config: EvaluationConfig,
    *,
    fid_cache_dir: Path | None = None,
    history: pd.DataFrame | None = None,
) -> EvaluationResult:
    """Scores, baselines, predictions and the report of the generator on ``eval_cache``."""
    crop = generator_artifact.crop_size
    source, target = evaluation_crops(eval_cache, crop)
    device = select_device(config.device)
    fake = translate_images(generator_artifact.build(), source, test_mode=config.test_mode,
                            batch_size=config.batch_size, device=device, seed=config.seed)  # fmt: skip
    per_image_model, model_scores = _scores(fake, target)
    weights: InceptionWeights | MissingWeights = (
        locate_inception_weights(config.fid.weights_path) if config.fid.enabled
        else MissingWeights("FID/KID disabled (evaluation.fid.enabled: false)")
    )  # fmt: skip
    fid_kwargs = {"device": device, "batch_size": config.fid.batch_size, "cache_dir": fid_cache_dir,
                  "kid_subsets": config.fid.kid_subsets}  # fmt: skip
    distribution = distribution_metrics(target, fake, weights, **fid_kwargs)
    if distribution["status"] != "ok":
        logger.warning("%s", distribution["status"])
    model_scores.update({k: distribution[k] for k in DISTRIBUTION_SCORES})
    baselines = _baselines(source, target, train_cache, crop, weights, config, fid_kwargs)
    beats, notes = _verdicts(model_scores, baselines)
    if distribution["status"] != "ok":
        notes.insert(0, f"Warning: {distribution['status']}")
    per_image = pd.DataFrame({"pair_id": [str(p) for p in eval_cache.pair_ids], **per_image_model})
    metrics = {
        "model": model_scores, "baselines": baselines, "beats_baselines": beats,
        "split": eval_cache.split, "n_images": len(per_image), "image_size": crop,
        "eval_set_fingerprint": eval_cache.fingerprint, "test_mode": config.test_mode,
        "generator_ema": generator_artifact.ema,
    }  # fmt: skip
    conventions = metric_conventions(distribution["status"], config.fid.kid_subsets)
    return _result(metrics, conventions, per_image, (source, fake, target), config, history, notes)


def metric_conventions(fid_status: str, kid_subsets: int) -> dict[str, Any]:
    """How every score in the metrics file is computed, and why FID/KID or LPIPS are missing if
    they are: prose, kept out of the metrics file so that ``dvc metrics show/diff`` stay a table."""
    return {
        "conventions": {**CONVENTIONS, **distribution_conventions(kid_subsets)},
        "fid_status": fid_status,
        "lpips_status": LPIPS_STATUS,
    }


def _baselines(
    source: torch.Tensor, target: torch.Tensor, train_cache: TensorCache, crop: int,
    weights: InceptionWeights | MissingWeights, config: EvaluationConfig, fid_kwargs: dict[str, Any],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Scores of "copy the source" and "the per-pixel mean training target" on the same images."""
    mean_target = (
        center_crop(train_cache.target, crop).to(torch.float64).mean(dim=0).round().to(torch.uint8)
    )
    images = {
        "copy_source": source,
        "mean_training_target": mean_target.expand_as(target).contiguous(),
    }
    baselines: dict[str, dict[str, Any]] = {}
    for name, baseline in images.items():
        _, scores = _scores(baseline, target)
        if config.fid.baselines and isinstance(weights, InceptionWeights):
            extra = distribution_metrics(target, baseline, weights, **fid_kwargs)
            scores.update({k: extra[k] for k in DISTRIBUTION_SCORES})
        baselines[name] = scores
    return baselines


def _result(
    metrics: dict[str, Any], conventions: dict[str, Any], per_image: pd.DataFrame,
    images: tuple[torch.Tensor, ...], config: EvaluationConfig, history: pd.DataFrame | None,
    notes: list[str],
) -> EvaluationResult:  # fmt: skip
    """The report, the predictions and the flat MLflow scores around the metrics."""
    source, fake, target = (_hwc(image) for image in images)
    split, count = metrics["split"], metrics["n_images"]
    report = render_report(
        title=f"img2img evaluation: {split} split ({count} pairs, test_mode={config.test_mode})",
        metrics=metrics,
        conventions=conventions,
        per_image=per_image,
        examples=_pick_examples(
            per_image, source, fake, target, config.report.examples, config.seed
        ),
        history=history,
        notes=notes,
    )
    flat = {f"{split}.{k}": float(v) for k, v in metrics["model"].items()
            if isinstance(v, int | float) and np.isfinite(v)}  # fmt: skip
    return EvaluationResult(
        predictions=dict(zip(per_image["pair_id"], fake, strict=True)),
        per_image=per_image,
        metrics=metrics,
        report_html=report,
        conventions=conventions,
        mlflow_metrics=flat,
        ssim_distribution=ssim_distribution(per_image),
    )
