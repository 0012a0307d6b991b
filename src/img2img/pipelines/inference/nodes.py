"""Node of the inference pipeline: a thin call into :mod:`img2img.inference`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from img2img.gan.runtime import select_device
from img2img.inference.config import InferenceConfig
from img2img.inference.files import translate_files
from img2img.inference.model import load_translator
from img2img.ingest.config import DataProcessingConfig
from img2img.ingest.images import ImageLimits


def translate_folder(
    inference_inputs: Path, params: dict[str, Any], max_pixels: Any
) -> tuple[Path, pd.DataFrame]:
    """Translate every image in ``inference_inputs`` into the folder ``inference.output_dir``;
    return that folder (the catalog's ``inference_outputs``) and one report row per input.

    ``max_pixels`` is ingestion's ``data_processing.validation.max_pixels``: one pixel limit for
    training data and new images alike."""
    config = InferenceConfig.from_params(params)
    limits = translation_limits(max_pixels)
    output_dir = Path(config.output_dir)
    translator = load_translator(config.model, str(select_device(config.device)), config.batch_size)
    outcomes = translate_files([inference_inputs], translator, output_dir,
                               overwrite=config.overwrite, limits=limits,
                               batch_size=config.batch_size, progress=False)  # fmt: skip
    report = pd.DataFrame(
        [asdict(o) for o in outcomes], columns=["input", "output", "status", "reason"]
    )
    return output_dir, report


def translation_limits(max_pixels: Any) -> ImageLimits:
    """Any size from 1 pixel, up to ``max_pixels`` (checked as ``data_processing.validation``)."""
    checked = DataProcessingConfig.from_params({"validation": {"max_pixels": max_pixels}})
    return ImageLimits(min_size=1, max_pixels=checked.validation.max_pixels)
