"""The MLflow pyfunc model: a batch of RGB uint8 images in, the translated uint8 images out.

It runs the TorchScript export through :func:`img2img.inference.model.translate_uint8` (any size:
reflect-padded to the generator's size multiple, cropped back, quantised once, as evaluation does).
Loadable in a fresh process with only the project installed:
``mlflow.pyfunc.load_model(uri).predict(images)``. Registered models refer to this class by its
path, ``img2img.packaging.pyfunc.GeneratorPyfunc``: keep it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import torch
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import Schema, TensorSpec

from img2img.inference.model import ExportMetadata, translate_uint8

SIGNATURE = ModelSignature(
    inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), "images")]),
    outputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), "translated")]),
)


class GeneratorPyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper around the TorchScript generator (artifacts: ``generator``, ``config``)."""

    def load_context(self, context: Any) -> None:
        config = context.artifacts["config"]
        self.metadata = ExportMetadata.from_json(Path(config).read_text(), config)
        self.model = torch.jit.load(context.artifacts["generator"], map_location="cpu").eval()

    def predict(
        self, context: Any, model_input: np.ndarray, params: dict | None = None
    ) -> np.ndarray:
        if isinstance(model_input, dict):  # named tensor input from a REST request
            model_input = next(iter(model_input.values()))
        return translate_uint8(self.model, np.asarray(model_input), self.metadata.size_multiple)
