"""The MLflow pyfunc model: a batch of RGB uint8 images in, the translated uint8 images out.

It runs the generator through :func:`img2img.inference.model.translate_uint8` (any size:
reflect-padded to the generator's size multiple, cropped back, quantised once, as evaluation does)
on the fastest path that passes parity with the export (:func:`img2img.inference.runtime.fastest_path`,
chosen when the model loads): the export itself (a ``torch.export`` program; TorchScript in
versions registered before it), its ONNX export on ONNX Runtime (the :data:`ONNX_ARTIFACT`, in
versions registered since it was added) or bf16 autocast on CPUs with bf16 units.
Loadable in a fresh process with only the project installed:
``mlflow.pyfunc.load_model(uri).predict(images)``. Versions are logged as code
(:mod:`img2img.packaging.served_model`); versions registered before that hold a pickled instance
that refers to this class by its path, ``img2img.packaging.pyfunc.GeneratorPyfunc``: keep it here.

Bad input (:func:`check_request`) raises :class:`InvalidImages`, an ``MlflowException`` with
``INVALID_PARAMETER_VALUE``: ``mlflow models serve`` answers it with HTTP 400 and its message. A
failure of the generator on valid input raises ``INTERNAL_ERROR`` there (HTTP 500): the scoring
server would answer any other exception with 400. In the scoring server a request is also bounded
in pixels, per image and for the whole batch: ingestion's ``ImageLimits().max_pixels``, or
``IMG2IMG_SERVING_MAX_PIXELS`` of the serving process (read when the model loads). Python callers
(the gate's champion re-scoring, the inference pipeline) bring their own limits and batch sizes.

Before ``predict`` runs, MLflow parses the JSON and casts it to the signature's uint8 N×H×W×3: it
answers malformed JSON, ragged lists, values outside 0..255 and other shapes with 400 on its own
(its messages), and truncates floats within 0..255 (0.7 becomes 0) without a word.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE
from mlflow.types.schema import Schema, TensorSpec

from img2img.inference.model import ExportMetadata, check_image_batch, load_export, translate_uint8
from img2img.inference.runtime import fastest_path
from img2img.ingest.images import ImageLimits

logger = logging.getLogger(__name__)

INPUT_NAME = "images"
ONNX_ARTIFACT = "generator_onnx"  # the ONNX export, beside "generator" (the program) and "config"
MAX_PIXELS_ENV = "IMG2IMG_SERVING_MAX_PIXELS"
SIGNATURE = ModelSignature(
    inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), INPUT_NAME)]),
    outputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, -1, 3), "translated")]),
)


class InvalidImages(MlflowException, ValueError):
    """Input the model cannot translate; ``mlflow models serve`` answers HTTP 400 with the message.
    A ValueError too, as :func:`translate_uint8`'s input errors are."""

    def __init__(self, message: str) -> None:
        super().__init__(f"invalid images: {message}", error_code=INVALID_PARAMETER_VALUE)


class GeneratorPyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper around the generator's exports (artifacts: ``generator``, ``config`` and,
    optionally, :data:`ONNX_ARTIFACT`). ``predict`` is type-hinted (N×H×W×3 uint8 in and out; the
    signature says so in detail)."""

    def load_context(self, context: Any) -> None:
        config = context.artifacts["config"]
        self.metadata = ExportMetadata.from_json(Path(config).read_text(), config)
        export, _ = load_export(context.artifacts["generator"], "cpu")
        onnx_model = context.artifacts.get(ONNX_ARTIFACT)
        self.model = fastest_path(export, onnx_model, "cpu", self.metadata.size_multiple).module()
        self.max_pixels = pixel_limit(os.environ)

    def predict(
        self, context: Any, model_input: np.ndarray, params: dict | None = None
    ) -> np.ndarray:
        serving = in_scoring_server()
        images = check_request(model_input, self.max_pixels if serving else None)
        try:
            return translate_uint8(self.model, images, self.metadata.size_multiple)
        except Exception as exc:
            if not serving:  # a Python caller gets the generator's own exception
                raise
            logger.exception("The generator failed on a valid batch shaped %s", images.shape)
            raise MlflowException(
                f"the generator failed on a valid batch shaped {images.shape} "
                f"({type(exc).__name__}); the server log has the traceback",
                error_code=INTERNAL_ERROR,
            ) from exc


def pixel_limit(environ: Mapping[str, str]) -> int:
    """The limit :data:`MAX_PIXELS_ENV` sets (a positive integer), else ``ImageLimits().max_pixels``."""
    text = environ.get(MAX_PIXELS_ENV) or ""
    if not text:
        return ImageLimits().max_pixels
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{MAX_PIXELS_ENV} must be a positive integer, got {text!r}")
    return int(text)


def in_scoring_server() -> bool:
    """Whether MLflow's scoring server runs the model (it sets this variable when it starts)."""
    return bool(_MLFLOW_IS_IN_SERVING_ENVIRONMENT.get())


def check_request(model_input: Any, max_pixels: int | None) -> np.ndarray:
    """The request's images as an N×H×W×3 uint8 batch, or :class:`InvalidImages` naming the problem:
    not RGB uint8 (:func:`check_image_batch`), no image, an image of more than ``max_pixels``
    pixels, or more than ``max_pixels`` pixels in the whole batch (N×H×W: one request holds at most
    as much as the largest image allowed, so a batch costs no more memory and time than it).
    ``max_pixels`` None: no pixel limit."""
    if isinstance(model_input, Mapping):  # named tensor input: REST requests, dict callers
        if INPUT_NAME not in model_input:
            raise InvalidImages(f"expected the input {INPUT_NAME!r}, got {sorted(model_input)}")
        model_input = model_input[INPUT_NAME]
    if _is_empty(model_input):
        raise InvalidImages("the batch holds no images (N = 0): send at least one H×W×3 image")
    try:
        images = check_image_batch(model_input)
    except ValueError as exc:
        raise InvalidImages(str(exc)) from exc
    count, height, width = images.shape[:3]
    if max_pixels is None:
        return images
    if height * width > max_pixels:
        raise InvalidImages(
            f"an image may have at most {max_pixels:,} pixels (H×W); these are {height}×{width} "
            f"= {height * width:,}: downscale or tile them"
        )
    if count * height * width > max_pixels:
        raise InvalidImages(
            f"a batch may hold at most {max_pixels:,} pixels in all (N×H×W); this one holds "
            f"{count}×{height}×{width} = {count * height * width:,}: send fewer images per request"
        )
    return images


def _is_empty(model_input: Any) -> bool:
    if isinstance(model_input, list | tuple):
        return len(model_input) == 0
    return isinstance(model_input, np.ndarray) and model_input.ndim >= 1 and len(model_input) == 0
