"""The pyfunc model's input checks: bad images get an HTTP-400 error naming the problem, the pixel
limit (ingestion's) bounds each image and the whole batch of a scoring-server request, a failing
generator stays a 500; a version registered with its ONNX export serves it where ONNX Runtime is the
path chosen, and older versions (TorchScript, no ONNX) still load. Versions are logged as code: no
pickled model, no warning."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mlflow.exceptions import MlflowException
from torch import nn

from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator
from img2img.inference.model import ExportMetadata, check_image_batch, deployable_generator
from img2img.inference.runtime import ONNXRUNTIME_FP32, PATH_ENV, OnnxRuntimeModule
from img2img.ingest.images import ImageLimits
from img2img.packaging.export import example_input, to_exported_program, to_onnx
from img2img.packaging.pyfunc import (
    MAX_PIXELS_ENV,
    ONNX_ARTIFACT,
    GeneratorPyfunc,
    InvalidImages,
    check_request,
    pixel_limit,
)
from tests.exports import legacy_torchscript

LIMIT = ImageLimits().max_pixels


def uint8(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.uint8)


def huge(*shape: int) -> np.ndarray:
    """A uint8 array of any size that takes no memory (every element is the same byte)."""
    return np.broadcast_to(uint8(1, 1, 1, 3), shape)


@pytest.mark.parametrize(
    ("model_input", "message"),
    [
        (uint8(1, 8, 8, 3).astype(np.float32), r"expected uint8 .*got float32: scale \[0, 1\]"),
        (np.full((1, 8, 8, 3), 300), "got int64: check the values are within 0..255"),
        (uint8(8, 3), r"N×H×W×3 .*got 2 dimensions, shape \(8, 3\)"),
        (uint8(1, 1, 8, 8, 3), "got 5 dimensions"),
        (uint8(1, 8, 8, 4), "expected 3 colour channels .*got 4 channels"),
        (uint8(1, 8, 8, 1), "got 1 channels"),
        (uint8(0, 8, 8, 3), r"no images \(N = 0\)"),
        ([], r"no images \(N = 0\)"),
        (uint8(2, 0, 8, 3), "at least 1×1 pixels"),
        ([[[[0, 0, 0]]], [[[0, 0, 0], [0, 0, 0]]]], "ragged batch"),
        (np.array([uint8(2, 2, 3), uint8(3, 3, 3)], dtype=object), "ragged batch"),
        ({"pictures": uint8(1, 8, 8, 3)}, "expected the input 'images', got \\['pictures'\\]"),
        (huge(1, 8192, 8192, 3), f"at most {LIMIT:,} pixels .*8192×8192 = 67,108,864"),
        (huge(200, 512, 512, 3), f"a batch may hold at most {LIMIT:,} .*200×512×512"),
    ],
)
def test_bad_input_is_an_http_400_naming_the_problem(model_input, message):
    with pytest.raises(InvalidImages, match=message) as error:
        check_request(model_input, pixel_limit({}))
    assert error.value.get_http_status_code() == 400 and isinstance(error.value, ValueError)
    assert error.value.message.startswith("invalid images: ")


def test_the_pixel_limit_is_ingestions_and_bounds_images_and_batches():
    assert pixel_limit({}) == pixel_limit({MAX_PIXELS_ENV: ""}) == LIMIT
    assert check_request(huge(1, 1, LIMIT, 3), LIMIT).shape == (1, 1, LIMIT, 3)  # exactly at it
    assert check_request({"images": huge(4, 10, 25, 3)}, 1000).shape == (4, 10, 25, 3)
    assert check_request(huge(9, 8192, 8192, 3), None).shape == (9, 8192, 8192, 3)  # no limit
    with pytest.raises(InvalidImages, match="an image may have at most 1,000 pixels"):
        check_request(huge(1, 10, 101, 3), 1000)
    with pytest.raises(InvalidImages, match="a batch may hold at most 1,000 pixels"):
        check_request(huge(5, 10, 25, 3), 1000)
    assert pixel_limit({MAX_PIXELS_ENV: "4096"}) == 4096
    for bad in ("0", "-5", "4k", "1e6"):
        with pytest.raises(ValueError, match=f"{MAX_PIXELS_ENV} must be a positive integer"):
            pixel_limit({MAX_PIXELS_ENV: bad})


def test_a_single_image_without_the_batch_axis_is_a_batch_of_one():
    assert check_image_batch(uint8(8, 8, 3)).shape == (1, 8, 8, 3)


def load_pyfunc(directory: Path, with_onnx: bool, legacy: bool = False) -> GeneratorPyfunc:
    """The pyfunc model loaded as MLflow loads it, on an untrained 4-filter generator; its
    artifacts as :func:`img2img.packaging.gate.register_version` logs them (the ONNX export only
    in versions registered since it is served: ``with_onnx``; ``legacy``: TorchScript, as
    versions registered before the ``torch.export`` program)."""
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    architecture = config.generator_architecture()
    torch.manual_seed(0)
    artifact = GeneratorArtifact(architecture, build_generator(architecture).state_dict())
    metadata, model = ExportMetadata.of(artifact), deployable_generator(artifact)
    export = (
        legacy_torchscript(model, example_input(artifact), metadata) if legacy
        else to_exported_program(model, metadata)
    )  # fmt: skip
    (directory / "generator.pt").write_bytes(export)
    (directory / "config.json").write_text(metadata.to_json())
    artifacts = {
        "generator": str(directory / "generator.pt"),
        "config": str(directory / "config.json"),
    }
    if with_onnx:
        (directory / "generator.onnx").write_bytes(to_onnx(model, example_input(artifact)))
        artifacts[ONNX_ARTIFACT] = str(directory / "generator.onnx")
    pyfunc = GeneratorPyfunc()
    pyfunc.load_context(SimpleNamespace(artifacts=artifacts, model_config={}))
    return pyfunc


@pytest.fixture
def pyfunc(tmp_path, monkeypatch) -> GeneratorPyfunc:
    monkeypatch.setenv(MAX_PIXELS_ENV, "4096")
    return load_pyfunc(tmp_path, with_onnx=False)


def test_the_pyfunc_serves_its_onnx_export_where_that_path_is_chosen(tmp_path, monkeypatch):
    monkeypatch.setenv(PATH_ENV, ONNXRUNTIME_FP32)
    for version in ("new", "old"):
        (tmp_path / version).mkdir()
    served = load_pyfunc(tmp_path / "new", True)
    old_version = load_pyfunc(tmp_path / "old", False, legacy=True)
    assert isinstance(served.model, OnnxRuntimeModule)
    assert isinstance(old_version.model, torch.jit.ScriptModule)  # no ONNX: the TorchScript
    images = np.random.default_rng(0).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
    levels = served.predict(None, images).astype(int) - old_version.predict(None, images)
    assert np.abs(levels).max() <= 1  # the same untrained weights (seeded)


def test_the_pyfunc_translates_good_input_and_refuses_bad_input(pyfunc):
    assert pyfunc.max_pixels == 4096  # read from the environment when the model loads
    images = np.random.default_rng(0).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
    out = pyfunc.predict(None, {"images": images})
    assert out.shape == images.shape and out.dtype == np.uint8
    assert np.array_equal(out, pyfunc.predict(None, images))  # deterministic
    with pytest.raises(InvalidImages, match="got float64"):
        pyfunc.predict(None, images / 255.0)


def test_the_pixel_limit_bounds_scoring_server_requests_only(pyfunc, monkeypatch):
    batch = uint8(2, 48, 48, 3)  # 4,608 pixels in all, above the fixture's limit of 4,096
    assert pyfunc.predict(None, batch).shape == batch.shape  # Python callers: gate, inference
    monkeypatch.setenv("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "true")  # as `mlflow models serve`
    with pytest.raises(InvalidImages, match="a batch may hold at most 4,096 pixels"):
        pyfunc.predict(None, batch)
    with pytest.raises(InvalidImages, match="an image may have at most 4,096 pixels"):
        pyfunc.predict(None, huge(1, 65, 64, 3))


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("CUDA out of memory (simulated)")


def test_a_generator_failure_on_valid_input_stays_an_http_500(pyfunc, monkeypatch):
    pyfunc.model = Broken()
    with pytest.raises(RuntimeError, match="simulated"):  # a Python caller: the error itself
        pyfunc.predict(None, uint8(1, 8, 8, 3))
    monkeypatch.setenv("_MLFLOW_IS_IN_SERVING_ENVIRONMENT", "true")  # as `mlflow models serve`
    with pytest.raises(MlflowException, match=r"generator failed .*\(RuntimeError\)") as error:
        pyfunc.predict(None, uint8(1, 8, 8, 3))
    assert error.value.get_http_status_code() == 500
    assert not isinstance(error.value, InvalidImages)


REGISTER_WITH_ONNX = """
import sys
import mlflow
import numpy as np
from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.discriminators import build_discriminator
from img2img.gan.networks import build_generator
from img2img.inference.model import ExportMetadata, deployable_generator, translate_uint8
from img2img.packaging.export import example_input, to_exported_program, to_onnx
from img2img.packaging.gate import register_version

config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4},
                                  "discriminator": {"ndf": 4}})
g_arch, d_arch = config.generator_architecture(), config.discriminator_architecture()
generator = GeneratorArtifact(g_arch, build_generator(g_arch).state_dict())
discriminator = DiscriminatorArtifact(d_arch, build_discriminator(d_arch).state_dict())
model, example = deployable_generator(generator), example_input(generator)
program = to_exported_program(model, ExportMetadata.of(generator))
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_registry_uri(sys.argv[1])
with mlflow.start_run():
    version = register_version(generator, discriminator, program, "g",
                               onnx_model=to_onnx(model, example))
loaded = mlflow.pyfunc.load_model(f"models:/g/{version}")
local = mlflow.artifacts.download_artifacts(f"models:/g/{version}")
print("FILES", *sorted(p.name for p in __import__("pathlib").Path(local).iterdir()))
images = np.random.default_rng(0).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
levels = loaded.predict(images).astype(int) - translate_uint8(model, images, 32)
print("SERVED", type(loaded.unwrap_python_model().model).__name__, np.abs(levels).max())
"""


@pytest.mark.slow
def test_a_version_registered_with_its_onnx_export_serves_it(tmp_path):
    """register_version logs the ONNX export as the pyfunc's artifact; MLflow loads the model in
    a fresh process, where ONNX Runtime runs it (pinned here: the fastest path depends on the CPU)."""
    import subprocess
    import sys

    from tests.servers import REPO_ROOT, own_environment

    env = {**own_environment(), "PYTHONPATH": str(REPO_ROOT), PATH_ENV: ONNXRUNTIME_FP32}
    result = subprocess.run(
        [sys.executable, "-c", REGISTER_WITH_ONNX, f"sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    served = next(line for line in result.stdout.splitlines() if line.startswith("SERVED "))
    _, module, max_levels = served.split()
    assert module == "OnnxRuntimeModule" and int(max_levels) <= 1
    files = next(line for line in result.stdout.splitlines() if line.startswith("FILES ")).split()
    # logged as code: MLflow copied served_model.py and pickled nothing
    assert "served_model.py" in files and not [name for name in files if name.endswith(".pkl")]
    for warning in ("cloudpickle", "Add type hints", "torch.jit"):
        assert warning not in result.stderr, result.stderr[-3000:]
