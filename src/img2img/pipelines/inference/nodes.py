"""Node of the inference pipeline: a thin call into :mod:`img2img.inference`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from img2img.gan import select_device
from img2img.inference import load_translator, translate_files


def translate_folder(
    inference_inputs: Path, inference_outputs: Path, params: dict[str, Any]
) -> pd.DataFrame:
    """Translate every image in ``inference_inputs`` into ``inference_outputs``; one report row each."""
    allowed = {"model", "overwrite", "batch_size", "device"}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"inference: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    if not params.get("model"):
        raise ValueError(
            "inference.model must name a model URI (models:/name@champion) or an exported file"
        )
    translator = load_translator(params["model"], str(select_device(params.get("device", "auto"))),
                                 int(params.get("batch_size", 8)))  # fmt: skip
    outcomes = translate_files([inference_inputs], translator, inference_outputs,
                               overwrite=bool(params.get("overwrite", False)), progress=False)  # fmt: skip
    return pd.DataFrame(
        [asdict(o) for o in outcomes], columns=["input", "output", "status", "reason"]
    )
