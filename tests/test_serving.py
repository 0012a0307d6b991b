"""`mlflow models serve --env-manager local` of a registered generator, for real on 127.0.0.1: a
small concurrent load answered right and the same way every time, every bad payload answered with a
4xx naming the problem, and the server still answering after each (benchmarks/serve_load.py runs
the same client at size)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from img2img.packaging.pyfunc import MAX_PIXELS_ENV
from tests.servers import (
    TINY_TRAINING,
    answers,
    bad_payloads,
    check_answer,
    check_bad_payload,
    encode_images,
    error_message,
    free_port,
    post,
    register_in_subprocess,
    send_load,
    serve_model,
    stop_process_group,
    wait_until_healthy,
)

SIZE = 64
MAX_PIXELS = SIZE * SIZE  # the server's limit: a good image fits exactly, a pixel more does not


@dataclass(frozen=True)
class Served:
    url: str
    good: list[np.ndarray]  # 1×SIZE×SIZE×3 batches
    expected: list[np.ndarray]  # their answers, one request at a time


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("serving")
    model_uri, tracking_uri = register_in_subprocess(directory, TINY_TRAINING)
    port = free_port()
    env = {"MLFLOW_TRACKING_URI": tracking_uri, MAX_PIXELS_ENV: str(MAX_PIXELS)}
    server = serve_model(model_uri, port, directory / "server.log", env)
    try:
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}/ping", server, timeout=120)
        except AssertionError as error:
            log = (directory / "server.log").read_text()[-3000:]
            raise AssertionError(f"{error}\n{log}") from error
        url = f"http://127.0.0.1:{port}/invocations"
        rng = np.random.default_rng(0)
        good = [rng.integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8) for _ in range(3)]
        yield Served(url, good, answers(url, good, "instances"))
    finally:
        stop_process_group(server)
    assert server.poll() is not None


def test_a_concurrent_load_is_answered_right_and_the_same_way_every_time(served):
    cell = send_load(served.url, served.good, served.expected, requests=12, concurrency=4,
                     encoding="instances")  # fmt: skip
    assert len(cell.latencies) == 12 and cell.images_per_s > 0
    assert cell.percentile_ms(50) <= cell.percentile_ms(99)
    # The other JSON encoding, and a batch of three in one request, get the same answers.
    assert all(map(np.array_equal, answers(served.url, served.good, "inputs"), served.expected))
    batch = np.concatenate(served.good[:2])  # 2 × 64² pixels: above the limit for one request
    status, body = post(served.url, encode_images(batch))
    assert status == 400 and "a batch may hold at most 4,096 pixels" in error_message(body)


@pytest.mark.parametrize("payload", bad_payloads(MAX_PIXELS), ids=lambda payload: payload.name)
def test_a_bad_payload_gets_a_4xx_naming_the_problem_and_the_server_goes_on(served, payload):
    message = check_bad_payload(served.url, payload, served.good[0], served.expected[0], "inputs")
    assert payload.message in message


def test_in_range_floats_are_truncated_by_mlflow_before_the_model_sees_them(served):
    """A known gap: MLflow casts JSON numbers to the signature's uint8 before ``predict`` runs, so
    0.7 arrives as 0 (floats above 255 or below 0 do get a 400, see the bad payloads)."""
    floats, zeros = np.full((1, 8, 8, 3), 0.7), np.zeros((1, 8, 8, 3), np.uint8)
    as_floats = check_answer(*post(served.url, encode_images(floats, "inputs")), floats)
    assert np.array_equal(as_floats, check_answer(*post(served.url, encode_images(zeros)), zeros))
