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

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> InferenceConfig:
        return parse(cls, params, PREFIX, _check)


def _check(c: InferenceConfig, check: Checks) -> None:
    if not check.text(c.model, "model"):
        check.errors[-1] += " (a model URI such as models:/name@champion, or an exported file)"
    check.boolean(c.overwrite, "overwrite")
    check.integer(c.batch_size, "batch_size", 1)
    check.text(c.device, "device")
