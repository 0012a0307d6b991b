"""Nodes of the evaluation pipeline: thin calls into :mod:`img2img.evaluation`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient
from PIL import Image

from img2img.evaluation.champion import ChampionModel, compare_with_champion
from img2img.evaluation.config import EvaluationConfig
from img2img.evaluation.evaluate import evaluate, select_split
from img2img.gan.artifact import GeneratorArtifact
from img2img.inference.model import load_translator
from img2img.inference.runtime import REFERENCE, pinned_path
from img2img.ingest.caches import TensorCache, require_one_generation
from img2img.mlflow_outage import OUTAGE, is_server_unreachable
from img2img.packaging.registry import find_champion

logger = logging.getLogger(__name__)


def evaluate_generator(
    generator: GeneratorArtifact,
    test_tensors: TensorCache,
    val_tensors: TensorCache,
    train_tensors: TensorCache,
    training_history: pd.DataFrame,
    fid_cache: Path,
    params: dict[str, Any],
) -> tuple[dict[str, Image.Image], pd.DataFrame, dict, dict, str, dict, pd.DataFrame]:
    """Translate the held-out split, score it, and write the report.

    ``evaluation.split: test`` falls back to the validation split when the dataset has no test split
    (e.g. pix2pix datasets that ship only train/ and val/), and says so in the metrics.
    """
    config = EvaluationConfig.from_params(params)
    data = require_one_generation(train_tensors, val_tensors, test_tensors)
    if generator.lineage is not None and generator.lineage.data.generation != data.generation:
        logger.warning("The generator was trained on data generation %s; evaluating it on %s",
                       generator.lineage.data.generation[:12], data.generation[:12])  # fmt: skip
    cache = select_split(config, test_tensors, val_tensors)
    result = evaluate(generator, cache, train_tensors, config, fid_cache_dir=fid_cache,
                      history=training_history)  # fmt: skip
    predictions = {pair_id: Image.fromarray(image) for pair_id, image in result.predictions.items()}
    scores = {name: {"value": value, "step": 0} for name, value in result.mlflow_metrics.items()}
    return (predictions, result.per_image, result.metrics, result.conventions, result.report_html,
            scores, result.ssim_distribution)  # fmt: skip


def _registered_champion(model_name: str) -> tuple[ChampionModel | None, str]:
    """The champion as a translator (its registered MLflow model), or None and why not."""
    version = find_champion(MlflowClient(), model_name)
    if version is None:
        return None, "no champion registered"
    uri = f"models:/{model_name}/{version.version}"
    try:
        with pinned_path(REFERENCE):  # fp32, as the candidate is scored: not bf16 on this CPU
            translator = load_translator(uri)
    except Exception as exc:  # a champion that cannot run is reported, not fatal
        if is_server_unreachable(exc):
            raise
        return None, f"version {version.version} could not be loaded from {uri}: {exc}"
    return ChampionModel(str(version.version), translator), "scored"


def rescore_champion(
    generator: GeneratorArtifact,
    test_tensors: TensorCache,
    val_tensors: TensorCache,
    fid_cache: Path,
    params: dict[str, Any],
    model_name: str,
) -> dict[str, Any]:
    """Score the candidate and the registry's current champion on the same evaluation images."""
    config = EvaluationConfig.from_params(params)
    require_one_generation(val_tensors, test_tensors)
    found = OUTAGE.call(
        "champion re-scoring", f"{model_name}@champion", _registered_champion, model_name
    )
    champion, status = found or (None, "not scored: the MLflow tracking server was unreachable")
    comparison = compare_with_champion(
        generator, select_split(config, test_tensors, val_tensors), champion, config,
        champion_status=status, fid_cache_dir=fid_cache,
    )  # fmt: skip
    logger.info("Gate comparison on %d images: candidate %s; champion %s (%s)",
                comparison.eval_set["n_images"], dict(comparison.candidate),
                dict(comparison.champion or {}), comparison.champion_status)  # fmt: skip
    return comparison.to_dict()
