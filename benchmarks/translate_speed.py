"""Translation speed of the served generator on the CPU (or a GPU): eager, the torch.export program,
ONNX Runtime and bf16 autocast (and TorchScript, which the program replaced), each with its parity
against eager fp32.

    python benchmarks/translate_speed.py                      # conf/base generator, random weights
    python benchmarks/translate_speed.py --generator data/06_models/generator.pt
    python benchmarks/translate_speed.py --sizes 256,512 --batches 1,4 --rounds 5 --threads 1
    python benchmarks/translate_speed.py --device cuda --env gpu --sizes 256,512 --batches 1,8

On a machine where other work is running, pass ``--threads 1``: torch's OpenMP threads wait for a
core the neighbour holds, and two threads then run up to 30x slower than one (seen on the 2-core
benchmark machine while a training ran).

Paths (each through ``translate_uint8``, as served: uint8 in, quantised uint8 out):
``eager-fp32`` (``deployable_generator``: the reference), ``export-fp32`` (the ``torch.export``
program as packaged), ``torchscript-fp32`` (the export packaging wrote before, for comparison),
``onnxruntime-fp32`` (CPU execution provider) and, where the CPU has bf16 units (``--bf16 always``:
everywhere, emulated), ``eager-bf16`` and ``export-bf16`` (torch bf16 autocast around the module).

Without ``--generator`` the generator is conf/base's architecture (``--env ENV``: that environment's,
e.g. conf/gpu's unet_256) with random weights (seeded, initialised as training starts): speed does
not depend on the weights, parity does a little. ``--device cuda``: the paths a GPU serves,
eager-fp32 and export-fp32 (what ``load_translator(..., device="cuda")`` runs), on the GPU.
Per size and batch: two warm-up calls per path (TorchScript's profiling executor optimises on the
second), then ``--rounds`` rounds alternating the paths (A B C ... A B C ...), one call each;
images/s from the median call. Default sizes: 128, 256 and 512 px, those the generator takes
(multiples of its size multiple). Parity: each path's output vs eager fp32 on the same images (noise
and smooth gradients, :func:`img2img.inference.runtime.probe_images`): max |float diff|, max uint8
difference in levels, share of values more than 1 level off, and whether the path meets the
criterion ``img2img translate`` and the pyfunc choose by (:mod:`img2img.inference.runtime`). The
last lines give each path's seconds per image relative to export-fp32 (geometric mean) for
forward passes below and from ``LARGE_PASS_PIXELS`` pixels: the figures behind ``RELATIVE_COST``.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from _recipe import training_recipe  # benchmarks/, on sys.path when run as a script
from torch import nn

from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator, init_weights
from img2img.gan.runtime import cpu_bf16_units, cpu_capability, cpu_model
from img2img.gan.translation import to_model_input
from img2img.inference.model import (
    ExportMetadata,
    deployable_generator,
    load_export,
    translate_uint8,
)
from img2img.inference.runtime import (
    BF16_CRITERION,
    EXPORT_BF16,
    EXPORT_FP32,
    FP32_CRITERION,
    LARGE_PASS_PIXELS,
    ONNXRUNTIME_FP32,
    Bf16Autocast,
    InferencePath,
    OnnxRuntimeModule,
    Parity,
    probe_images,
)
from img2img.packaging.export import example_input, to_exported_program, to_onnx

REFERENCE, BASELINE, TORCHSCRIPT = "eager-fp32", EXPORT_FP32, "torchscript-fp32"
DEFAULT_SIZES = (128, 256, 512)


@dataclass(frozen=True)
class Row:
    size: int
    batch: int
    path: str
    images_per_second: float
    parity: Parity
    meets_criterion: bool


def base_generator(seed: int, env: str = "base") -> GeneratorArtifact:
    """conf/base's (or ``env``'s) generator architecture with random weights, initialised as
    training starts."""
    config = TrainConfig.from_params(training_recipe(env))
    torch.manual_seed(seed)
    generator = build_generator(config.generator_architecture())
    init_weights(generator, config.init.type, config.init.gain)
    return GeneratorArtifact(config.generator_architecture(), generator.state_dict())


def build_paths(
    artifact: GeneratorArtifact, bf16: bool, device: str = "cpu"
) -> list[InferencePath]:
    """Every path ``device`` serves, the reference first, with the parity criterion the selection
    holds it to (off the CPU: eager and the program in fp32, the latter what a GPU serves)."""
    eager = deployable_generator(artifact)
    example = example_input(artifact)
    program, _ = load_export(to_exported_program(eager, ExportMetadata.of(artifact)), device)
    paths = [
        InferencePath(REFERENCE, eager.to(device), FP32_CRITERION),
        InferencePath(BASELINE, program, FP32_CRITERION),
    ]
    if torch.device(device).type != "cpu":
        return paths
    paths.append(InferencePath(TORCHSCRIPT, torchscript(eager, example), FP32_CRITERION))
    onnx_path = OnnxRuntimeModule(to_onnx(eager, example))
    paths.append(InferencePath(ONNXRUNTIME_FP32, onnx_path, FP32_CRITERION))
    if bf16:
        paths.append(InferencePath("eager-bf16", Bf16Autocast(eager), BF16_CRITERION))
        paths.append(InferencePath(EXPORT_BF16, Bf16Autocast(program), BF16_CRITERION))
    return paths


def torchscript(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """The traced TorchScript module packaging exported before the ``torch.export`` program."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.trace(model, example, check_trace=False), buffer)
        return torch.jit.load(io.BytesIO(buffer.getvalue())).eval()


def parity_of(paths: list[InferencePath], images: np.ndarray) -> dict[str, Parity]:
    """Each path's output on ``images`` (sides a multiple of the size multiple) vs the first's."""
    device = next(paths[0].model.parameters()).device
    x = to_model_input(torch.from_numpy(images).permute(0, 3, 1, 2), device)
    with torch.no_grad():
        expected = paths[0].model(x).cpu()
        return {path.name: Parity.between(path.model(x).cpu(), expected) for path in paths}


def time_paths(
    paths: list[InferencePath], images: np.ndarray, size_multiple: int, rounds: int,
    warmup: int = 2,
) -> dict[str, float]:  # fmt: skip
    """Median seconds of one ``translate_uint8`` call on ``images`` per path, the paths alternating
    within each round; ``warmup`` calls per path first, not timed."""

    def call(model: nn.Module) -> None:
        translate_uint8(model, images, size_multiple, batch_size=len(images))

    for path in paths:
        for _ in range(warmup):
            call(path.model)
    seconds: dict[str, list[float]] = {path.name: [] for path in paths}
    for _ in range(rounds):
        for path in paths:
            start = time.perf_counter()
            call(path.model)
            seconds[path.name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def measure(
    artifact: GeneratorArtifact, sizes: list[int], batches: list[int], rounds: int, bf16: bool,
    device: str = "cpu",
) -> list[Row]:  # fmt: skip
    paths = build_paths(artifact, bf16, device)
    rows = []
    for size in sizes:
        for batch in batches:
            images = probe_images(size, batch)
            parity = parity_of(paths, images)
            seconds = time_paths(paths, images, artifact.size_multiple, rounds)
            for path in paths:
                rows.append(Row(size, batch, path.name, batch / seconds[path.name],
                                parity[path.name], path.criterion.admits(parity[path.name])))  # fmt: skip
            print(f"  {size} px, batch {batch}: done", flush=True)
    return rows


def table(rows: list[Row]) -> str:
    by_config = {(r.size, r.batch, r.path): r for r in rows}
    lines = [f"{'size':>5} {'batch':>5}  {'path':<17} {'img/s':>7} {'vs export':>10}  "
             f"{'max|float diff|':>15} {'max levels':>10} {'>1 level':>9}  criterion"]  # fmt: skip
    for r in rows:
        speedup = r.images_per_second / by_config[(r.size, r.batch, BASELINE)].images_per_second
        lines.append(
            f"{r.size:>5} {r.batch:>5}  {r.path:<17} {r.images_per_second:>7.2f} {speedup:>9.2f}x  "
            f"{r.parity.max_abs_float:>15.2g} {r.parity.max_levels:>10} "
            f"{1 - r.parity.within_one_level:>9.3%}  {'meets' if r.meets_criterion else 'FAILS'}"
        )
    return "\n".join(lines)


def relative_cost(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Seconds per image relative to export-fp32 by size of forward pass (``small``: below
    ``LARGE_PASS_PIXELS`` pixels, ``large``), geometric mean over the sizes and batches in it."""
    baseline = {(r.size, r.batch): r.images_per_second for r in rows if r.path == BASELINE}
    ratios: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        kind = "large" if r.batch * r.size * r.size >= LARGE_PASS_PIXELS else "small"
        ratio = baseline[(r.size, r.batch)] / r.images_per_second
        ratios.setdefault(kind, {}).setdefault(r.path, []).append(ratio)
    return {kind: {path: math.exp(statistics.mean(map(math.log, values)))
                   for path, values in paths.items()} for kind, paths in ratios.items()}  # fmt: skip


def cpu_line() -> str:
    import onnxruntime

    return (f"{cpu_model()} ({cpu_capability()}), {torch.get_num_threads()} torch threads of "
            f"{os.cpu_count()} cores, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")  # fmt: skip


def device_line(device: str) -> str:
    """``CPU: ...``, or the GPU's name, torch's CUDA version and the CPU beside it."""
    if torch.device(device).type != "cuda":
        return f"CPU: {cpu_line()}"
    return (f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__} (CUDA "
            f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}); CPU: {cpu_line()}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, help="a generator artifact (generator.pt)")
    parser.add_argument("--seed", type=int, default=0, help="random weights' seed (no --generator)")
    parser.add_argument("--env", default="base", help="no --generator: the generator architecture "
                        "of this configuration environment (default: base)")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu (default) | cuda | cuda:N")
    parser.add_argument("--sizes", help="square image sides, comma-separated (default: 128,256,512 "
                        "where the generator takes them)")  # fmt: skip
    parser.add_argument("--batches", default="1,4", help="batch sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch and ONNX Runtime threads")
    parser.add_argument("--bf16", choices=["auto", "always", "never"], default="auto",
                        help="auto: where the CPU has bf16 units")  # fmt: skip
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    artifact = (
        GeneratorArtifact.load(args.generator)
        if args.generator
        else base_generator(args.seed, args.env)
    )
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [
        size for size in DEFAULT_SIZES if size % artifact.size_multiple == 0]  # fmt: skip
    if not sizes or any(size % artifact.size_multiple for size in sizes):
        parser.error(f"--sizes must be multiples of the generator's {artifact.size_multiple}")
    on_cpu = torch.device(args.device).type == "cpu"
    bf16 = on_cpu and (args.bf16 == "always" or (args.bf16 == "auto" and bool(cpu_bf16_units())))
    architecture = {
        k: artifact.architecture[k] for k in ("arch", "ngf", "depth") if k in artifact.architecture
    }
    weights = (f"weights of {args.generator}" if args.generator else
               f"RANDOM weights (seed {args.seed}, conf/{args.env}): speed does not depend on them, "
               "parity does a little")  # fmt: skip
    print(device_line(args.device))
    print(
        f"generator: {architecture}, size multiple {artifact.size_multiple}, {weights}", flush=True
    )
    batches = [int(b) for b in args.batches.split(",")]
    rows = measure(artifact, sizes, batches, args.rounds, bf16, args.device)
    print(table(rows))
    for kind, costs in relative_cost(rows).items():
        print(f"seconds per image relative to export-fp32, {kind} passes (geometric mean; "
              f"large: from {LARGE_PASS_PIXELS:,} pixels): "
              + ", ".join(f"{path} {cost:.2f}" for path, cost in costs.items()))  # fmt: skip
    print(f"criteria: fp32 paths {FP32_CRITERION.describe()}; bf16 {BF16_CRITERION.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
