"""The MLflow pyfunc model: a batch of RGB uint8 images in, the translated uint8 images out.

It runs the TorchScript export, pads every image by reflection to the generator's size multiple,
translates, crops back to the original size and quantises once, as evaluation does
(:func:`img2img.translate.quantize_to_uint8`). Loadable in a fresh process with only
the project installed: ``mlflow.pyfunc.load_model(uri).predict(images)``.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import numpy as np
import torch
import torch.nn.functional as F
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import Schema, TensorSpec

from img2img.translate import quantize_to_uint8, to_model_input

SIGNATURE = ModelSignature(
    inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), "images")]),
    outputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), "translated")]),
)


def translate_uint8(
    model: Any, images: np.ndarray, size_multiple: int, batch_size: int = 8
) -> np.ndarray:
    """N×H×W×3 uint8 -> N×H×W×3 uint8 with any H, W (reflect-padded to ``size_multiple``)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"expected RGB images shaped N×H×W×3, got {images.shape}; the generator takes 3 channels"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {images.dtype}")
    height, width = images.shape[1:3]
    pad_h, pad_w = (-height) % size_multiple, (-width) % size_multiple
    outputs = np.empty_like(images)
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(images[start : start + batch_size]).permute(0, 3, 1, 2)
            x = to_model_input(batch, device)
            if pad_h or pad_w:
                mode = "reflect" if pad_h < height and pad_w < width else "replicate"
                x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
            y = model(x)[..., :height, :width]
            outputs[start : start + batch_size] = (
                quantize_to_uint8(y).permute(0, 2, 3, 1).cpu().numpy()
            )
    return outputs


class GeneratorPyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper around the TorchScript generator (artifacts: ``generator``, ``config``)."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["config"]) as handle:
            self.config = json.load(handle)
        self.model = torch.jit.load(context.artifacts["generator"], map_location="cpu").eval()

    def predict(
        self, context: Any, model_input: np.ndarray, params: dict | None = None
    ) -> np.ndarray:
        if isinstance(model_input, dict):  # named tensor input from a REST request
            model_input = next(iter(model_input.values()))
        return translate_uint8(
            self.model, np.asarray(model_input), int(self.config["size_multiple"])
        )
