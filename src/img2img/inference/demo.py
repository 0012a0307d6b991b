"""``img2img demo``: a page on 127.0.0.1 where a user drops an image and sees its translation.

A plain page (``demo_page.html``, package data) over :func:`~img2img.inference.model.load_translator`
served by the standard library's :class:`~http.server.ThreadingHTTPServer`: no new dependency,
nothing fetched from the network. The model is loaded once, when the server starts.

Endpoints:

* ``GET /``: the page (``/?example=<name>`` translates that example as soon as it opens);
* ``GET /examples``: ``[{"name", "url", "width", "height"}]``; ``GET /examples/<name>``: its PNG;
* ``POST /translate``: the image file's bytes as the body -> the translation as PNG, at the image's
  own size (:func:`~img2img.inference.model.translate_uint8` pads to the generator's size multiple
  and crops back). Bad input is a 4xx with ``{"error": "<what is wrong>"}``: 400 empty or not an
  image, 411 no ``Content-Length``, 413 a body above the upload limit or an image above the pixel
  limit (the refused body is still read, and discarded: a client cut off while sending would
  see a reset connection instead of the answer); a model failure is a 500;
* ``GET /health``: ``{"status": "ok", "model", "examples"}``.

Uploads are decoded by :func:`~img2img.ingest.images.decode_rgb`, the decoder ingestion and
``img2img translate`` use (EXIF orientation, any mode to RGB, the decompression-bomb guard from the
header before any pixel is decoded). Translations run one at a time (a lock), so concurrent uploads
cannot multiply the model's working memory.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

import numpy as np
from PIL import Image

from img2img.ingest.images import (
    ImageLimits,
    ImageRejected,
    ImageTooLarge,
    decode_rgb,
    is_image_file,
    load_rgb,
)

if TYPE_CHECKING:
    from img2img.inference.model import Translator

logger = logging.getLogger(__name__)

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
MAX_UPLOAD_MB = 50  # request body limit, in MiB (a 40 M pixel JPEG is typically 10-20 MiB)
EXAMPLES_SHOWN = 8  # the first examples of the folder, in name order
#: Where examples come from when ``--examples`` is not given: the first that exists (relative to
#: the working directory, the project root); the evaluated split's sources, as the model sees them.
EXAMPLE_FOLDERS = (
    Path("data/05_model_input/test_tensors"),
    Path("data/05_model_input/val_tensors"),
)
PAGE = "demo_page.html"
UPLOAD = "uploaded image"  # how an upload is named in error messages


@dataclass(frozen=True)
class Example:
    name: str
    png: bytes
    width: int
    height: int


@dataclass(frozen=True)
class UploadLimits:
    """``pixels``: the decoder's limits; ``max_bytes``: the request body limit. ``*_option``: how
    each limit is named in error messages (the command-line options that set them)."""

    pixels: ImageLimits
    max_bytes: int
    pixel_option: str = "--max-pixels"
    bytes_option: str = "--max-upload-mb"


class UploadRejected(Exception):
    """A request the demo refuses: ``status`` (4xx) and the message shown to the user."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def champion_uri() -> str:
    """``models:/<packaging.model_name>@champion`` with the project's default model name."""
    from img2img.packaging.config import PackagingConfig
    from img2img.packaging.registry import CHAMPION

    return f"models:/{PackagingConfig().model_name}@{CHAMPION}"


def load_demo_model(model: str | None, device: str) -> tuple[Translator, str]:
    """(translator, what was loaded): ``model`` (an MLflow URI or an exported file) or, when None,
    the registry's champion. FileNotFoundError or ValueError naming what is missing otherwise."""
    from mlflow.exceptions import MlflowException

    from img2img.inference.model import load_translator

    uri = model or champion_uri()
    if model is None:
        _require_champion()
    try:
        return load_translator(uri, device), uri
    except MlflowException as exc:
        raise ValueError(f"{uri}: cannot load the model: {exc.message}") from exc


def _require_champion() -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    from img2img.packaging.config import PackagingConfig
    from img2img.packaging.registry import CHAMPION, find_champion

    name, registry = PackagingConfig().model_name, mlflow.get_registry_uri()
    missing = f"no registered model {name}@{CHAMPION} in {registry}"
    hint = "run `kedro run --pipelines=train` first or pass --model"
    database = registry.removeprefix("sqlite:///") if registry.startswith("sqlite:///") else None
    if database is not None and not Path(database).is_file():  # not created by merely looking
        raise FileNotFoundError(f"{missing} (no such database file): {hint}")
    if find_champion(MlflowClient(registry_uri=registry), name) is None:
        raise FileNotFoundError(f"{missing}: {hint}")


def load_examples(folder: Path | None, limits: ImageLimits) -> list[Example]:
    """The first :data:`EXAMPLES_SHOWN` images of ``folder``: a tensor cache (its sources, named
    by pair id) or a folder of image files (named by relative path; unreadable ones are skipped).
    ``folder`` None: the first of :data:`EXAMPLE_FOLDERS` that exists, else none."""
    if folder is None:
        folder = next((f for f in EXAMPLE_FOLDERS if f.is_dir()), None)
        if folder is None:
            return []
    if (folder / "pair_ids.json").is_file():
        named = _tensor_cache_sources(folder)
    else:
        named = _image_files(folder, limits)
    if not named:
        raise ValueError(f"{folder}: no image files and no tensor cache (pair_ids.json) in it")
    return [_example(name, rgb) for name, rgb in named]


def _tensor_cache_sources(folder: Path) -> list[tuple[str, np.ndarray]]:
    """The first sources of a tensor cache (``source.npy``: uint8 N×3×H×W, ``pair_ids.json``; the
    layout :class:`img2img.datasets.TensorCacheDataset` writes), read without Kedro."""
    try:
        pair_ids = json.loads((folder / "pair_ids.json").read_text())
        sources = np.load(folder / "source.npy", mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: cannot read the tensor cache's sources: {exc}") from exc
    shape_ok = sources.ndim == 4 and sources.shape[1] == 3 and sources.dtype == np.uint8
    if not shape_ok or len(sources) != len(pair_ids):
        raise ValueError(
            f"{folder}: source.npy is {sources.dtype} {sources.shape} for {len(pair_ids)} pair "
            "ids, not uint8 N×3×H×W with one image per id; re-run data_processing"
        )
    first = np.asarray(sources[:EXAMPLES_SHOWN]).transpose(0, 2, 3, 1)  # -> N×H×W×3
    return list(zip(pair_ids, first, strict=False))


def _image_files(folder: Path, limits: ImageLimits) -> list[tuple[str, np.ndarray]]:
    named = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p)):
        try:
            named.append((path.relative_to(folder).as_posix(), load_rgb(path, limits)))
        except ImageRejected as exc:
            logger.warning("example skipped: %s", exc)
        if len(named) == EXAMPLES_SHOWN:
            break
    return named


def _example(name: str, rgb: np.ndarray) -> Example:
    return Example(name, encode_png(rgb), width=rgb.shape[1], height=rgb.shape[0])


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


class Demo:
    """What the server answers with: the model (run one request at a time), the examples and the
    upload limits."""

    def __init__(
        self, translator: Translator, model: str, examples: list[Example], limits: UploadLimits
    ) -> None:
        self.translator = translator
        self.model = model
        self.examples = {example.name: example for example in examples}
        self.limits = limits
        self.page = files("img2img.inference").joinpath(PAGE).read_bytes()
        self._model_lock = threading.Lock()

    def check_body_size(self, length: int) -> None:
        if length > self.limits.max_bytes:
            raise UploadRejected(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{UPLOAD}: {length} bytes, above {self.limits.bytes_option}="
                f"{self.limits.max_bytes // 2**20} ({self.limits.max_bytes} bytes)",
            )

    def decode(self, body: bytes) -> np.ndarray:
        """The uploaded image as H×W×3 uint8, or :class:`UploadRejected` saying why not."""
        from img2img.inference.files import PIXEL_LIMIT_KEY

        try:
            return decode_rgb(body, UPLOAD, self.limits.pixels)
        except ImageRejected as exc:
            status = (
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE
                if isinstance(exc, ImageTooLarge)
                else HTTPStatus.BAD_REQUEST
            )
            message = str(exc).replace(PIXEL_LIMIT_KEY, self.limits.pixel_option)
            raise UploadRejected(status, message) from exc

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        with self._model_lock:
            return self.translator(rgb[None])[0]

    def examples_listing(self) -> list[dict]:
        return [
            {"name": e.name, "url": f"/examples/{quote(e.name, safe='')}",
             "width": e.width, "height": e.height}
            for e in self.examples.values()
        ]  # fmt: skip


class DemoHandler(BaseHTTPRequestHandler):
    """The endpoints of the module docstring; ``self.server.demo`` is the :class:`Demo`."""

    server_version = "img2img-demo"
    timeout = 60  # seconds a client may take to send its request

    def do_GET(self) -> None:
        demo: Demo = self.server.demo
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, demo.page, "text/html; charset=utf-8")
        elif path == "/health":
            health = {"status": "ok", "model": demo.model, "examples": len(demo.examples)}
            self._send_json(HTTPStatus.OK, health)
        elif path == "/examples":
            self._send_json(HTTPStatus.OK, demo.examples_listing())
        elif path.startswith("/examples/") and unquote(path[10:]) in demo.examples:
            self._send(HTTPStatus.OK, demo.examples[unquote(path[10:])].png, "image/png")
        else:
            self._send_error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/translate":
            self._send_error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {self.path}")
            return
        try:
            rgb = self.server.demo.decode(self._read_body())
        except UploadRejected as exc:
            self._send_error(exc.status, exc.message)
            return
        self._translate(rgb)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise UploadRejected(
                HTTPStatus.LENGTH_REQUIRED, "send the image file as the body, with Content-Length"
            )
        try:
            self.server.demo.check_body_size(int(length))
        except UploadRejected:
            self._discard(int(length))  # a client still sending would see a reset, not the 413
            raise
        return self.rfile.read(int(length))

    def _discard(self, length: int) -> None:
        while length > 0 and (chunk := self.rfile.read(min(length, 2**20))):
            length -= len(chunk)

    def _translate(self, rgb: np.ndarray) -> None:
        start = time.perf_counter()
        try:
            translated = self.server.demo.translate(rgb)
        except Exception as exc:
            logger.exception("translation of a %dx%d image failed", rgb.shape[1], rgb.shape[0])
            message = f"the model failed on this {rgb.shape[1]}x{rgb.shape[0]} image: {exc!r}"
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, message)
            return
        seconds = time.perf_counter() - start
        self._send(HTTPStatus.OK, encode_png(translated), "image/png",
                   {"X-Translate-Seconds": f"{seconds:.3f}"})  # fmt: skip

    def _send_json(self, status: HTTPStatus, value: object) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _send_error(self, status: HTTPStatus, message: str) -> None:
        self.close_connection = True  # an unread body may follow a refused request
        self._send_json(status, {"error": message})

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.info("%s %s", self.address_string(), format % args)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for open connections

    def __init__(self, address: tuple[str, int], demo: Demo) -> None:
        super().__init__(address, DemoHandler)
        self.demo = demo

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"
