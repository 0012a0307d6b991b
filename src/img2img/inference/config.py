"""The ``inference`` parameters (built and checked with :mod:`img2img.config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from img2img.config import Checks, parse

PREFIX = "inference"
TRANSLATE_BATCH = 8  # images per forward pass when translating


@dataclass(frozen=True)
class InferenceConfig:
    model: str = "models:/img2img-generator@champion"  # an MLflow model URI or an exported file
    overwrite: bool = False
    batch_size: int = TRANSLATE_BATCH
    device: str = "auto"
    # Where the inference pipeline writes (the catalog's inference_outputs folder: both read
    # ${globals:inference_outputs}); `img2img translate` takes --output instead.
    output_dir: str = "data/07_model_output/inference_outputs"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> InferenceConfig:
        return parse(cls, params, PREFIX, _check)


def _check(c: InferenceConfig, check: Checks) -> None:
    if not check.text(c.model, "model"):
        check.errors[-1] += " (a model URI such as models:/name@champion, or an exported file)"
    check.boolean(c.overwrite, "overwrite")
    check.integer(c.batch_size, "batch_size", 1)
    check.text(c.device, "device")
    check.text(c.output_dir, "output_dir")
