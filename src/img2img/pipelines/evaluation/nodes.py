"""Node of the evaluation pipeline: a thin call into :mod:`img2img.evaluation`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from img2img.evaluation import EvaluationConfig, evaluate

logger = logging.getLogger(__name__)


def evaluate_generator(
    generator: dict,
    test_tensors: dict,
    val_tensors: dict,
    train_tensors: dict,
    training_history: pd.DataFrame,
    fid_cache: Path,
    params: dict[str, Any],
) -> tuple[dict[str, Image.Image], pd.DataFrame, dict, str, dict, pd.DataFrame]:
    """Translate the held-out split, score it, and write the report.

    ``evaluation.split: test`` falls back to the validation split when the dataset has no test split
    (e.g. pix2pix datasets that ship only train/ and val/), and says so in the metrics.
    """
    config = EvaluationConfig.from_params(params)
    split, cache = config.split, test_tensors if config.split == "test" else val_tensors
    if split == "test" and len(cache["pair_id"]) == 0 and len(val_tensors["pair_id"]):
        logger.warning("The test split is empty; evaluating on the validation split instead")
        split, cache = "val", val_tensors
    result = evaluate(generator, cache, train_tensors, config, split_name=split, fid_cache_dir=fid_cache,
                      history=training_history)  # fmt: skip
    predictions = {pair_id: Image.fromarray(image) for pair_id, image in result.predictions.items()}
    scores = {name: {"value": value, "step": 0} for name, value in result.mlflow_metrics.items()}
    return (predictions, result.per_image, result.metrics, result.report_html, scores,
            result.ssim_distribution)  # fmt: skip
