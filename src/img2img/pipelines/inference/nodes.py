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


def translate_folder(
    inference_inputs: Path, inference_outputs: Path, params: dict[str, Any]
) -> pd.DataFrame:
    """Translate every image in ``inference_inputs`` into ``inference_outputs``; one report row each."""
    config = InferenceConfig.from_params(params)
    translator = load_translator(config.model, str(select_device(config.device)), config.batch_size)
    outcomes = translate_files([inference_inputs], translator, inference_outputs,
                               overwrite=config.overwrite, progress=False)  # fmt: skip
    return pd.DataFrame(
        [asdict(o) for o in outcomes], columns=["input", "output", "status", "reason"]
    )
