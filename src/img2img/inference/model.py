"""A trained generator as it is served, and running it on uint8 images of any size.

* :func:`deployable_generator`: the eager network every export is checked against (test-time
  behaviour of ``test_mode="train"``: each image normalised with its own statistics; dropout off, so
  a service answers the same image with the same output).
* :class:`ExportMetadata`: what an export or an MLflow model carries beside its weights (the size
  multiple), written into and read from the export in one place.
* :func:`load_export`: a generator export as a module: a ``torch.export`` program (``.pt2``, what
  packaging writes) or a TorchScript file (what it wrote before; still loaded).
* :func:`translate_uint8`: N×H×W×3 uint8 images of any size in, the same out (reflect-padded to the
  size multiple, cropped back, quantised once); what the pyfunc model, ``img2img translate``, the
  inference pipeline and the gate's champion re-scoring all run. :func:`check_image_batch` is its
  input check (rank, channels, dtype, empty sides), shared with the pyfunc model.
* :func:`load_translator`: a callable from an exported file or an MLflow model URI, running the
  fastest path that answers as the export itself (:mod:`img2img.inference.runtime`).
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.networks import set_fast_path
from img2img.gan.translation import prepare_for_test, quantize_to_uint8, to_model_input
from img2img.inference.config import TRANSLATE_BATCH
from img2img.inference.runtime import fastest_path, onnx_beside

Translator = Callable[[np.ndarray], np.ndarray]  # N×H×W×3 uint8 -> N×H×W×3 uint8
EXTRA_FILE = "img2img.json"  # the metadata's name inside an export's archive (.pt2 or TorchScript)


@dataclass(frozen=True)
class ExportMetadata:
    """What an export needs to be run: input sides must be multiples of ``size_multiple``."""

    size_multiple: int

    @classmethod
    def of(cls, artifact: GeneratorArtifact) -> ExportMetadata:
        return cls(artifact.size_multiple)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str, where: str) -> ExportMetadata:
        try:
            return cls(int(json.loads(text)["size_multiple"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{where}: the export has no img2img metadata (size_multiple); re-run packaging"
            ) from exc


def deployable_generator(artifact: GeneratorArtifact) -> nn.Module:
    """Eager module as exported: per-image normalisation, no dropout, standard kernels."""
    model = prepare_for_test(artifact.build(), "train")
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    set_fast_path(model, False)  # the standard transposed convolution exports everywhere
    return model.eval()


def load_export(data: bytes | str | Path, device: str = "cpu") -> tuple[nn.Module, ExportMetadata]:
    """(module, metadata) from a generator export, bytes or a file path: a ``torch.export`` program
    (``.pt2``) or, from packaging before it wrote one, TorchScript (``torch.jit.load``, deprecated
    in this torch, is only called for those)."""
    where = "export bytes" if isinstance(data, bytes) else str(data)
    extra = {EXTRA_FILE: ""}
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    if is_exported_program(data):
        program = torch.export.load(source, extra_files=extra)
        if torch.device(device).type != "cpu":
            program = torch.export.passes.move_to_device_pass(program, device)
        module = program.module()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notices of torch.jit in recent releases
            module = torch.jit.load(source, map_location=device, _extra_files=extra).eval()
    return module, ExportMetadata.from_json(extra[EXTRA_FILE] or "{}", where)


def is_exported_program(data: bytes | str | Path) -> bool:
    """Whether ``data`` (bytes or a file) is a ``torch.export`` archive (it has an
    ``archive_format`` entry; TorchScript archives have none). Not a zip file at all: False."""
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as archive:
            return any(name.endswith("/archive_format") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def check_image_batch(images: np.ndarray) -> np.ndarray:
    """``images`` as an N×H×W×3 uint8 batch (one H×W×3 image becomes a batch of one); a
    ValueError naming what is wrong and what is expected otherwise. N may be 0."""
    ragged = ValueError(
        "the images differ in size or nesting (a ragged batch); every image of a batch must be "
        "H×W×3 with the same H and W: send differently sized images in separate batches"
    )
    try:
        images = np.asarray(images)
    except ValueError as exc:  # nested lists of unequal lengths
        raise ragged from exc
    if images.dtype == object and images.ndim < 4:  # what np.asarray makes of ragged arrays
        raise ragged
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(
            f"expected RGB images shaped N×H×W×3 (or one image H×W×3), got {images.ndim} "
            f"dimensions, shape {images.shape}"
        )
    if images.shape[-1] != 3:
        raise ValueError(
            f"expected 3 colour channels (RGB, shaped N×H×W×3), got {images.shape[-1]} channels "
            f"in shape {images.shape}; the generator takes 3 channels"
        )
    if images.dtype != np.uint8:
        hint = (
            "scale [0, 1] floats by 255 and round"
            if images.dtype.kind == "f"
            else "check the values are within 0..255"
        )
        raise ValueError(
            f"expected uint8 images (integers 0..255), got {images.dtype}: {hint}, then convert "
            "with .astype(np.uint8)"
        )
    if 0 in images.shape[1:3]:
        raise ValueError(f"expected images of at least 1×1 pixels, got shape {images.shape}")
    return images


def translate_uint8(
    model: nn.Module, images: np.ndarray, size_multiple: int, batch_size: int = TRANSLATE_BATCH
) -> np.ndarray:
    """N×H×W×3 uint8 -> N×H×W×3 uint8 with any H, W (reflect-padded to ``size_multiple``)."""
    images = check_image_batch(images)
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


def load_translator(
    model: str | Path, device: str = "cpu", batch_size: int = TRANSLATE_BATCH
) -> Translator:
    """A callable translating uint8 image batches with the model at ``model`` (URI or file). An
    export file (:func:`load_export`) runs on the fastest path that passes parity
    (:func:`fastest_path`), ONNX Runtime among them where the ONNX export lies beside it
    (:func:`onnx_beside`); an MLflow model chooses its own
    (:class:`img2img.packaging.pyfunc.GeneratorPyfunc`)."""
    text = str(model)
    path = Path(text)
    if path.is_file():
        try:
            module, metadata = load_export(str(path), device)
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(
                f"{path}: not a generator export (.pt2, or TorchScript from older packaging): {exc}"
            ) from exc
        onnx_file = onnx_beside(path)
        onnx_model = str(onnx_file) if onnx_file else None
        served = fastest_path(module, onnx_model, device, metadata.size_multiple).module()
        return lambda images: translate_uint8(served, images, metadata.size_multiple, batch_size)
    if "://" in text or text.startswith(("models:", "runs:")):
        import mlflow.pyfunc

        pyfunc = mlflow.pyfunc.load_model(text)
        return lambda images: np.asarray(pyfunc.predict(images))
    raise FileNotFoundError(
        f"{text}: no such model file, and not an MLflow model URI (models:/..., runs:/...)"
    )
