"""Serving under load, and bad payloads: `mlflow models serve` of the generator, measured and checked.

    python benchmarks/serve_load.py                          # the champion, 300 requests
    python benchmarks/serve_load.py --throwaway tiny --requests 60
    python benchmarks/serve_load.py runs:/<run id>/generator_pyfunc --sizes 256 --concurrency 1,4

MODEL: an MLflow model URI or a local pyfunc model folder; default the registered champion,
models:/img2img-generator@champion, in the project's tracking store (MLFLOW_TRACKING_URI, else
sqlite:///mlflow.db in the project, as conf/base/mlflow.yml). --throwaway registers an untrained
generator in a temporary store instead (tiny: 4 filters, runs anywhere; pix2pix: unet_256 with 64,
the paper's compute) so the benchmark needs no trained model.

Starts `mlflow models serve --env-manager local` on 127.0.0.1 at a free port, waits for /ping, then
for each (size, concurrency) sends its share of --requests single-image requests and checks every
answer (HTTP 200, shape, integers within 0..255, the same answer to the same image as a first
sequential pass). Prints p50/p95/p99 latency and images/s per cell with the CPU, then sends every
bad payload (tests/servers.py: bad_payloads) and checks that each gets a 4xx naming the problem and
that a good request still gets its answer. The server is stopped (its process group) at the end.
The server's pixel limit (IMG2IMG_SERVING_MAX_PIXELS) is set to the largest load image, so that the
over-limit payloads stay small; it does not change the answers. Client: standard library + numpy,
in threads on the same machine as the server (it takes CPU from the server).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from img2img.packaging.pyfunc import MAX_PIXELS_ENV

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the client lives in tests/servers.py
from tests.servers import (
    PIX2PIX_TRAINING,
    TINY_TRAINING,
    LoadCell,
    answers,
    bad_payloads,
    check_answer,
    check_bad_payload,
    encode_images,
    free_port,
    post,
    register_in_subprocess,
    send_load,
    serve_model,
    stop_process_group,
    wait_until_healthy,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHAMPION = "models:/img2img-generator@champion"
THROWAWAY = {"tiny": TINY_TRAINING, "pix2pix": PIX2PIX_TRAINING}


def integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=CHAMPION, help="model URI or folder")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI")
                        or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}")  # fmt: skip
    parser.add_argument("--throwaway", choices=sorted(THROWAWAY), help="serve an untrained model")
    parser.add_argument("--requests", type=int, default=300, help="in all, over the cells")
    parser.add_argument("--concurrency", type=integers, default=[1, 4, 8])
    parser.add_argument("--sizes", type=integers, default=[256, 512])
    parser.add_argument("--encoding", choices=("instances", "inputs"), default="instances")
    parser.add_argument("--distinct", type=int, default=4, help="different images per size")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if args.requests < 1 or args.distinct < 1 or min(args.sizes + args.concurrency) < 1:
        parser.error("--requests, --distinct, --sizes and --concurrency must be >= 1")
    return args


def machine() -> str:
    import torch  # the server's torch (same environment); the client itself does not use it

    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []  # fmt: skip
    cpu = names[0] if names else platform.processor() or "unknown CPU"
    return (f"CPU: {cpu}, {os.cpu_count()} logical cores; torch {torch.__version__} "
            f"(CPU capability {torch.backends.cpu.get_cpu_capability()}, "
            f"{torch.get_num_threads()} threads)")  # fmt: skip


def measure(url: str, args: argparse.Namespace) -> list[LoadCell]:
    """Every (size, concurrency) cell, after a first sequential pass that fixes the answers."""
    per_cell = max(1, args.requests // (len(args.sizes) * len(args.concurrency)))
    cells = []
    for size in args.sizes:
        rng = np.random.default_rng(size)
        batches = [rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
                   for _ in range(args.distinct)]  # fmt: skip
        expected = answers(url, batches, args.encoding)
        for concurrency in args.concurrency:
            cell = send_load(url, batches, expected, per_cell, concurrency, args.encoding)
            print(f"{size:>5}  {concurrency:>11}  {len(cell.latencies):>8}  "
                  f"{cell.percentile_ms(50):>8.0f}  {cell.percentile_ms(95):>8.0f}  "
                  f"{cell.percentile_ms(99):>8.0f}  {cell.images_per_s:>8.2f}", flush=True)  # fmt: skip
            cells.append(cell)
    return cells


def check_bad_payloads(url: str, max_pixels: int, encoding: str) -> None:
    good = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    good_answer = answers(url, [good], encoding)[0]
    print("\nBad payloads (each answered 4xx; a good request answered the same right after):")
    for payload in bad_payloads(max_pixels):
        message = check_bad_payload(url, payload, good, good_answer, encoding)
        reason = " ".join(message.rsplit("Error: ", 1)[-1].split())  # MLflow's, after its prefix
        print(f"  {payload.name}: {reason[:150]}")
    floats, zeros = np.full((1, 8, 8, 3), 0.7), np.zeros((1, 8, 8, 3), np.uint8)
    as_floats = check_answer(*post(url, encode_images(floats, "inputs")), floats)
    as_zeros = check_answer(*post(url, encode_images(zeros, encoding)), zeros)
    same = "the same as" if np.array_equal(as_floats, as_zeros) else "NOT the same as"
    print(
        f"  known gap: floats within 0..255 (0.7) get HTTP 200, {same} zeros: MLflow casts "
        "JSON numbers to the signature's uint8 before the model sees them"
    )


def serve_and_measure(model: str, tracking_uri: str, args: argparse.Namespace, log: Path) -> None:
    port, max_pixels = free_port(), max(args.sizes) ** 2
    env = {"MLFLOW_TRACKING_URI": tracking_uri, MAX_PIXELS_ENV: str(max_pixels)}
    server = serve_model(model, port, log, env, args.workers)
    try:
        try:
            wait_until_healthy(f"http://127.0.0.1:{port}/ping", server, timeout=300)
        except AssertionError as error:
            raise SystemExit(f"{error}\n{log.read_text()[-3000:]}") from error
        url = f"http://127.0.0.1:{port}/invocations"
        print(f"{machine()}\nmlflow models serve --env-manager local, {args.workers} worker(s), "
              f"model {model}, JSON '{args.encoding}', single-image requests, {max_pixels:,} "
              f"max pixels\n\n size  concurrency  requests    p50 ms    p95 ms    p99 ms  images/s",
              flush=True)  # fmt: skip
        measure(url, args)
        check_bad_payloads(url, max_pixels, args.encoding)
    finally:
        stop_process_group(server)


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        model, tracking_uri = args.model, args.tracking_uri
        if args.throwaway:
            print(f"Registering a throwaway {args.throwaway} generator...", flush=True)
            model, tracking_uri = register_in_subprocess(Path(tmp), THROWAWAY[args.throwaway])
        serve_and_measure(model, tracking_uri, args, Path(tmp) / "server.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
