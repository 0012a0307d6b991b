"""`img2img demo`: the real command serving a tiny generator export on a free port of 127.0.0.1,
asked with a real HTTP client (urllib); the examples it finds; the command refusing a missing model."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from img2img.cli import main
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator, init_weights
from img2img.inference.demo import (
    EXAMPLES_SHOWN,
    Demo,
    DemoServer,
    UploadLimits,
    load_examples,
)
from img2img.inference.model import (
    ExportMetadata,
    deployable_generator,
    load_export,
    translate_uint8,
)
from img2img.inference.runtime import PATH_ENV, REFERENCE
from img2img.ingest.caches import split_caches
from img2img.ingest.images import ImageLimits, load_rgb
from img2img.packaging.export import to_exported_program
from tests.conftest import random_rgb, save_image
from tests.servers import free_port, wait_until_healthy

MAX_PIXELS = 5_000  # 45×70 = 3150 pixels pass, 80×80 = 6400 do not
MAX_UPLOAD_MB = 1


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A tiny generator (ngf 4, 32 px) exported as packaging does (no ONNX beside
    it, and the server pinned to the export itself: its pixels are translate_uint8's)."""
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    torch.manual_seed(0)
    generator = build_generator(config.generator_architecture())
    init_weights(generator, config.init.type, config.init.gain)
    artifact = GeneratorArtifact(config.generator_architecture(), generator.state_dict())
    model = deployable_generator(artifact)
    script = tmp_path_factory.mktemp("model") / "generator.pt2"
    script.write_bytes(to_exported_program(model, ExportMetadata.of(artifact)))
    return script


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("examples")
    save_image(folder / "a.png", random_rgb(0, 32, 32))
    save_image(folder / "sub" / "b.jpg", random_rgb(1, 40, 48))
    (folder / "broken.png").write_bytes(b"not a png")  # skipped, with a warning
    return folder


@pytest.fixture(scope="module")
def server(export, examples, tmp_path_factory):
    """`img2img demo` in its own process: the URL it serves on."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [sys.executable, "-m", "img2img.cli", "demo", "--model", str(export),
               "--examples", str(examples), "--port", str(port), "--device", "cpu",
               "--max-pixels", str(MAX_PIXELS), "--max-upload-mb", str(MAX_UPLOAD_MB)]  # fmt: skip
    env = {**os.environ, PATH_ENV: REFERENCE, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/health", process, timeout=120)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def post(url: str, body: bytes) -> tuple[int, str, bytes]:
    request = urllib.request.Request(f"{url}/translate", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def decoded(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_the_page_and_health_are_served(server, export):
    status, kind, page = get(f"{server}/")
    assert status == 200 and kind.startswith("text/html")
    assert b'type="file"' in page and b'"drop"' in page and b"/translate" in page
    assert b"?example=" not in page and b"example" in page  # ?example= is read by the page's JS
    status, kind, body = get(f"{server}/health")
    assert json.loads(body) == {"status": "ok", "model": str(export), "examples": 2}


def test_examples_are_listed_and_served_as_png(server, examples):
    status, kind, body = get(f"{server}/examples")
    listing = json.loads(body)
    assert [e["name"] for e in listing] == ["a.png", "sub/b.jpg"]  # broken.png is left out
    assert listing[1] == {"name": "sub/b.jpg", "url": "/examples/sub%2Fb.jpg",
                          "width": 48, "height": 40}  # fmt: skip
    for example in listing:
        status, kind, png = get(server + example["url"])
        assert status == 200 and kind == "image/png"
        limits = ImageLimits(min_size=1)
        np.testing.assert_array_equal(decoded(png), load_rgb(examples / example["name"], limits))
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{server}/examples/nope.png")
    assert missing.value.code == 404


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_an_upload_comes_back_translated_at_its_own_size(server, export, image_format):
    buffer = io.BytesIO()
    Image.fromarray(random_rgb(2, 45, 70)).save(buffer, format=image_format)  # not multiples of 32
    status, kind, png = post(server, buffer.getvalue())
    assert (status, kind) == (200, "image/png"), png
    module, metadata = load_export(str(export))
    source = np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    expected = translate_uint8(module, source[None], metadata.size_multiple)[0]
    translated = decoded(png)
    assert translated.shape == (45, 70, 3)
    np.testing.assert_array_equal(translated, expected)


def png_of(height: int, width: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


TOO_MANY_PIXELS = (
    "uploaded image: image is 80x80 = 6400 pixels (from its header), above "
    f"--max-pixels={MAX_PIXELS} (decompression-bomb guard)"
)


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        (b"GIF89a garbage", 400, "uploaded image: not an image: Pillow cannot identify"),
        (b"", 400, "uploaded image: empty file (0 bytes)"),
        (png_of(80, 80), 413, TOO_MANY_PIXELS),
        (bytes(16 * 2**20), 413, "uploaded image: 16777216 bytes, above --max-upload-mb=1"),
    ],
    ids=["garbage", "empty", "pixels", "bytes"],
)
def test_bad_uploads_get_a_4xx_naming_the_problem(server, body, status, problem):
    answer = post(server, body)
    assert answer[:2] == (status, "application/json")
    assert problem in json.loads(answer[2])["error"]
    assert get(f"{server}/health")[0] == 200  # and the server keeps answering


def test_a_model_failure_is_a_500_naming_it(examples):
    def broken(images: np.ndarray) -> np.ndarray:
        raise RuntimeError("no kernel for this CPU")

    limits = UploadLimits(ImageLimits(min_size=1, max_pixels=MAX_PIXELS), max_bytes=2**20)
    server = DemoServer(("127.0.0.1", 0), Demo(broken, "broken", [], limits))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, kind, body = post(server.url.rstrip("/"), png_of(8, 8))
    finally:
        server.shutdown()
        server.server_close()
    assert (status, kind) == (500, "application/json")
    assert json.loads(body)["error"] == (
        "the model failed on this 8x8 image: RuntimeError('no kernel for this CPU')"
    )


def test_examples_default_to_the_test_split_sources_and_need_images(tmp_path, monkeypatch):
    from img2img.datasets.tensor_cache import TensorCacheDataset

    monkeypatch.chdir(tmp_path)
    assert load_examples(None, ImageLimits()) == []  # no tensor cache here: no examples
    count = EXAMPLES_SHOWN + 2
    sources = np.stack([random_rgb(i, 36, 36).transpose(2, 0, 1) for i in range(count)])
    ids = [f"pair_{i:02d}" for i in range(count)]
    arrays = {split: (sources, 255 - sources, ids) for split in ("train", "val", "test")}
    caches = split_caches(arrays, "synthetic", "A")
    TensorCacheDataset("data/05_model_input/test_tensors").save(caches["test"])
    found = load_examples(None, ImageLimits())
    assert [e.name for e in found] == ids[:EXAMPLES_SHOWN]
    np.testing.assert_array_equal(decoded(found[1].png), sources[1].transpose(1, 2, 0))
    (tmp_path / "data/05_model_input/test_tensors/pair_ids.json").write_text('["one"]')
    with pytest.raises(ValueError, match=r"uint8 \(10, 3, 36, 36\) for 1 pair ids, not uint8"):
        load_examples(None, ImageLimits())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no image files and no tensor cache"):
        load_examples(tmp_path / "empty", ImageLimits())


@pytest.fixture
def registry(tmp_path, monkeypatch) -> str:
    """MLflow's tracking and registry URI, for this test only: a SQLite store in ``tmp_path``
    (not created), whatever an earlier test of this process set."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # no data/ here: no examples
    return uri


def test_the_command_refuses_a_missing_model_with_exit_1(registry, tmp_path):
    file = CliRunner().invoke(main, ["demo", "--model", str(tmp_path / "nope.pt")])
    assert file.exit_code == 1 and "nope.pt: no such model file" in file.output
    champion = CliRunner().invoke(main, ["demo"])
    assert champion.exit_code == 1
    assert (
        f"no registered model img2img-generator@champion in {registry} (no such database file): "
        "run `kedro run --pipelines=train` first or pass --model"
    ) in champion.output
    assert not (tmp_path / "mlflow.db").exists()  # looking created no store


def test_the_command_refuses_a_registry_without_a_champion(registry):
    from mlflow.tracking import MlflowClient

    MlflowClient(registry).search_registered_models()  # creates an empty store
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 1
    assert f"no registered model img2img-generator@champion in {registry}: run" in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (apt-get install chromium)")
def test_the_screenshot_script_shows_an_example_translated(export, examples, tmp_path):
    script = Path(__file__).resolve().parents[2] / "scripts" / "demo_screenshot.sh"
    shot = tmp_path / "shot.png"
    env = {**os.environ, PATH_ENV: REFERENCE, "IMG2IMG": str(Path(sys.executable).parent / "img2img"),
           "DEMO_EXAMPLE": "sub/b.jpg"}  # fmt: skip
    command = [str(script), str(shot), "--model", str(export), "--examples", str(examples),
               "--device", "cpu"]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "?example=sub%2Fb.jpg -> " in result.stdout
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB")).astype(float)
    assert pixels.shape == (700, 1200, 3)
    blank = np.array([238, 238, 238])  # an image box with no image (#eee)
    for panel in (pixels[250:550, 100:550], pixels[250:550, 700:1100]):  # source, translation
        assert (panel != blank).any(axis=-1).mean() > 0.9 and panel.std() > 5
