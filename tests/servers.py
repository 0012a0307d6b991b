"""Helpers for tests that start a real server on 127.0.0.1 or another process, bounded in time;
and ``mlflow models serve`` of a generator with its client (standard library + numpy), which
tests/test_serving.py and benchmarks/serve_load.py share."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    """Poll ``url`` until it answers 200; fail if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert process.poll() is None, f"the server behind {url} exited"
        assert time.monotonic() < deadline, f"{url} did not answer within {timeout:.0f} s"
        time.sleep(1)


def wait_for_file(
    path: Path, process: subprocess.Popen, timeout: float, output: Callable[[], str] = lambda: ""
) -> None:
    """Poll until ``path`` exists (a process's signal that it got there); fail, with ``output()``,
    if ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, (
            f"the process exited (code {process.returncode}) before {path} appeared\n{output()}"
        )
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout:.0f} s"
        time.sleep(0.05)


# `mlflow models serve` of a generator, and its client (standard library + numpy only), shared by
# tests/test_serving.py and benchmarks/serve_load.py.

REPO_ROOT = Path(__file__).resolve().parents[1]
JSON = "application/json"
TINY_TRAINING = {
    "load_size": 32,
    "crop_size": 32,
    "generator": {"ngf": 4},
    "discriminator": {"ndf": 4},
}
PIX2PIX_TRAINING = {"load_size": 256, "crop_size": 256}  # unet_256, ngf 64: the paper's generator


class BadAnswer(AssertionError):
    """The server's answer is not what the request deserves."""


def register_untrained_generator(tracking_uri: str, training: Mapping[str, Any], name: str) -> str:
    """Register an untrained generator built from ``training`` parameters the way the packaging
    pipeline does (:func:`img2img.packaging.gate.register_version`); its ``models:/`` URI. Sets
    this process's MLflow URIs and writes artifacts under the working directory: run it in a fresh
    process (:func:`register_in_subprocess`)."""
    import mlflow  # here: the client below needs only the standard library and numpy

    from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
    from img2img.gan.config import TrainConfig
    from img2img.gan.discriminators import build_discriminator
    from img2img.gan.networks import build_generator
    from img2img.inference.model import ExportMetadata, deployable_generator
    from img2img.packaging.export import to_exported_program
    from img2img.packaging.gate import register_version

    config = TrainConfig.from_params(dict(training))
    g_arch, d_arch = config.generator_architecture(), config.discriminator_architecture()
    generator = GeneratorArtifact(g_arch, build_generator(g_arch).state_dict())
    discriminator = DiscriminatorArtifact(d_arch, build_discriminator(d_arch).state_dict())
    metadata = ExportMetadata.of(generator)
    program = to_exported_program(deployable_generator(generator), metadata)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    with mlflow.start_run():
        version = register_version(generator, discriminator, program, name)
    return f"models:/{name}/{version}"


def own_environment() -> dict[str, str]:
    """This process's environment without MLflow's variables: an earlier run in this process (a
    Kedro session, kedro-mlflow) may have set an experiment id that the child's store lacks."""
    return {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}


def register_in_subprocess(
    directory: Path, training: Mapping[str, Any], name: str = "throwaway-generator"
) -> tuple[str, str]:
    """(model URI, tracking URI): :func:`register_untrained_generator` in a fresh Python process,
    into a SQLite store under ``directory``."""
    tracking_uri = f"sqlite:///{directory / 'mlflow.db'}"
    code = ("import json, sys\nfrom tests.servers import register_untrained_generator as r\n"
            "print('MODEL', r(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]))")  # fmt: skip
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code, tracking_uri, json.dumps(dict(training)), name],
        cwd=directory, env={**own_environment(), "PYTHONPATH": python_path}, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        if line.startswith("MODEL "):
            return line.removeprefix("MODEL "), tracking_uri
    raise RuntimeError(f"registering a throwaway generator failed:\n{result.stderr[-3000:]}")


def serve_model(
    model_uri: str, port: int, log: Path, env: Mapping[str, str], workers: int = 1
) -> subprocess.Popen:
    """``mlflow models serve --env-manager local`` on 127.0.0.1:``port``, in a process group of its
    own (the CLI and its uvicorn child: :func:`stop_process_group`), output in ``log``."""
    bin_dir = Path(sys.executable).parent  # uvicorn is looked up on PATH
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]  # fmt: skip
    path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    with log.open("wb") as output:
        return subprocess.Popen(
            command, env={**own_environment(), **env, "PATH": path}, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop_process_group(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM ``process``'s group, SIGKILL it if anyone is left after ``timeout``: no orphans."""
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if _group_gone(process, grace):
            return
    raise RuntimeError(f"process group {process.pid} outlived SIGKILL")


def _group_gone(process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)  # reap the leader
        try:
            os.killpg(process.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            return True
    return False


def encode_images(images: np.ndarray, encoding: str = "instances") -> bytes:
    """A JSON request for an N×H×W×3 batch. ``instances``, one ``{"images": H×W×3}`` record per
    image, is the fastest MLflow parses (no deep copy of the nested lists, unlike ``inputs``)."""
    if encoding == "instances":
        return json.dumps({"instances": [{"images": image.tolist()} for image in images]}).encode()
    if encoding == "inputs":
        return json.dumps({"inputs": images.tolist()}).encode()
    raise ValueError(f"encoding must be 'instances' or 'inputs', got {encoding!r}")


def post(
    url: str, body: bytes, content_type: str = JSON, timeout: float = 300.0
) -> tuple[int, bytes]:
    """(HTTP status, body) of a POST; an HTTP error status is an answer too, not an exception."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_message(body: bytes) -> str:
    """The ``message`` of an MLflow error answer (its text if it is not MLflow's JSON)."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")


def check_answer(status: int, body: bytes, images: np.ndarray) -> np.ndarray:
    """The translated batch of a 200 answer to ``images``: same shape, integers within 0..255."""
    if status != 200:
        raise BadAnswer(f"HTTP {status} for a good request: {error_message(body)[:500]}")
    predictions = np.asarray(json.loads(body)["predictions"])
    if predictions.shape != images.shape or not np.issubdtype(predictions.dtype, np.integer):
        raise BadAnswer(f"expected integers shaped {images.shape}, got {predictions.dtype} "
                        f"shaped {predictions.shape}")  # fmt: skip
    if predictions.min() < 0 or predictions.max() > 255:
        raise BadAnswer(f"values outside 0..255: {predictions.min()}..{predictions.max()}")
    return predictions.astype(np.uint8)


def answers(url: str, batches: Sequence[np.ndarray], encoding: str) -> list[np.ndarray]:
    """The checked answer to each batch, one request at a time (the reference a load must repeat)."""
    return [check_answer(*post(url, encode_images(b, encoding)), b) for b in batches]


@dataclass(frozen=True)
class LoadCell:
    """Latencies (s) of requests of ``batch`` images of ``size``² sent ``concurrency`` at a time."""

    size: int
    concurrency: int
    batch: int
    latencies: tuple[float, ...]
    wall_s: float

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000)

    @property
    def images_per_s(self) -> float:
        return len(self.latencies) * self.batch / self.wall_s


def send_load(
    url: str, batches: Sequence[np.ndarray], expected: Sequence[np.ndarray], requests: int,
    concurrency: int, encoding: str,
) -> LoadCell:  # fmt: skip
    """``requests`` requests, ``concurrency`` at a time, request i sending ``batches[i % len]``.
    Every answer is checked (:func:`check_answer`) and must equal ``expected`` (same input, same
    output); the first bad one raises :class:`BadAnswer`."""
    bodies = [encode_images(batch, encoding) for batch in batches]

    def one_request(i: int) -> float:
        k = i % len(batches)
        start = time.perf_counter()
        status, body = post(url, bodies[k])
        latency = time.perf_counter() - start
        if not np.array_equal(check_answer(status, body, batches[k]), expected[k]):
            raise BadAnswer(f"request {i}: another answer to the same images (batch {k})")
        return latency

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = tuple(pool.map(one_request, range(requests)))
    wall_s = time.perf_counter() - start
    return LoadCell(batches[0].shape[1], concurrency, len(batches[0]), latencies, wall_s)


@dataclass(frozen=True)
class BadPayload:
    """A request the server must refuse with a 4xx whose message contains ``message``."""

    name: str
    body: bytes
    message: str
    content_type: str = JSON


def bad_payloads(max_pixels: int) -> list[BadPayload]:
    """Every kind of bad request; the pixel-limit ones are sized for a server limit of
    ``max_pixels``. Messages up to "ragged" are MLflow's own (it parses the JSON and enforces the
    uint8 N×H×W×3 signature before ``predict``), the pixel-limit ones the pyfunc model's."""
    image = np.zeros((8, 8, 3), np.uint8)

    def inputs(value: Any) -> bytes:
        return json.dumps(
            {"inputs": value.tolist() if isinstance(value, np.ndarray) else value}
        ).encode()

    shape, too_large = "does not match expected shape (-1, -1, -1, 3)", "out of bounds for uint8"
    ragged_rows = [[[0, 0, 0]] * 8] * 7 + [[[0, 0, 0]] * 5]
    strip = max_pixels // 2 + 1  # one such 1-pixel-high image fits the limit, two do not
    return [
        BadPayload("malformed JSON", b'{"inputs": [[[[1, 2, 3]', "valid JSON"),
        BadPayload("a JSON list, not an object", b"[1, 2, 3]", "must be a JSON dictionary"),
        BadPayload("neither inputs nor instances", json.dumps({"images": []}).encode(), "exactly one of the input fields"),
        BadPayload("text/plain", inputs(image[None]), "only supports the following content types", "text/plain"),
        BadPayload("value 300", inputs(np.full((1, 8, 8, 3), 300)), f"300 {too_large}"),
        BadPayload("value -1", inputs(np.full((1, 8, 8, 3), -1)), f"-1 {too_large}"),
        BadPayload("float 256.5", inputs(np.full((1, 8, 8, 3), 256.5)), f"256 {too_large}"),
        BadPayload("null value", inputs([[[[None, 0, 0]]]]), "NoneType"),
        BadPayload("HxWx3 without the batch axis", inputs(image), shape),
        BadPayload("RGBA (4 channels)", inputs(np.zeros((1, 8, 8, 4), np.uint8)), shape),
        BadPayload("grey (1 channel)", inputs(np.zeros((1, 8, 8, 1), np.uint8)), shape),
        BadPayload("empty batch", inputs([]), "Shape of input (0,)"),
        BadPayload("ragged batch (8x8 and 4x4)", inputs([image.tolist(), image[:4, :4].tolist()]), "inhomogeneous shape"),
        BadPayload("ragged instances (8x8 and 4x4)", json.dumps({"instances": [{"images": image.tolist()}, {"images": image[:4, :4].tolist()}]}).encode(), "inhomogeneous shape"),
        BadPayload("ragged rows", inputs([ragged_rows]), "inhomogeneous shape"),
        BadPayload("image above max_pixels", inputs(np.zeros((1, 1, max_pixels + 1, 3), np.uint8)), "an image may have at most"),
        BadPayload("batch above max_pixels", inputs(np.zeros((2, 1, strip, 3), np.uint8)), "a batch may hold at most"),
    ]  # fmt: skip


def check_bad_payload(
    url: str, payload: BadPayload, good: np.ndarray, good_answer: np.ndarray, encoding: str
) -> str:
    """Send ``payload``: it must get a 4xx naming the problem, and the good batch ``good`` must
    still get ``good_answer`` afterwards. The answer's message."""
    status, body = post(url, payload.body, payload.content_type)
    message = error_message(body)
    if not 400 <= status < 500 or payload.message not in message:
        raise BadAnswer(f"{payload.name}: HTTP {status}, expected a 4xx saying "
                        f"{payload.message!r}: {message[:1000]}")  # fmt: skip
    answer = check_answer(*post(url, encode_images(good, encoding)), good)
    if not np.array_equal(answer, good_answer):
        raise BadAnswer(f"after {payload.name}: another answer to the good request")
    return message
