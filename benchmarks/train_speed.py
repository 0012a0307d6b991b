"""Training speed of one pix2pix step: ours, and side by side with the reference implementation.

    python benchmarks/train_speed.py                       # both standard configurations, ours only
    python benchmarks/train_speed.py --reference PATH      # alternate ours / reference, print ratios
    python benchmarks/train_speed.py --config unet256_b1 --rounds 5 --steps 4
    python benchmarks/train_speed.py --env gpu --rounds 1 --warmup 10 --steps 50   # a recipe

``--env ENV`` times the training recipe of a configuration environment instead (conf/base with
conf/ENV over it, as ``kedro run --env ENV`` reads it: benchmarks/_recipe.py), on its
``training.device`` (``--device`` overrides it), e.g. conf/gpu's full pix2pix on a GPU
(benchmarks/gpu_check.sh). Random tensors of the crop size stand in for the data.

Configurations (same architecture and batch for both implementations):
  unet256_b1: unet_256 generator + basic PatchGAN (n_layers 3), batch 1, 256 px, ngf/ndf 64
  unet128_b8: unet_128 generator + basic PatchGAN, batch 8, 128 px, ngf/ndf 64
  unet128_ngf32_b4: the project's CPU default, unet_128 ngf/ndf 32, batch 4 (not in "all")

Our side runs as ``train_gan_model`` does (on the CPU with the allocator tuning of
img2img.gan.runtime; --no-keep-memory turns it off) with the default parameters; --override changes
them (JSON), e.g. ``'{"amp": "fp32"}'`` to time fp32 on a CPU where ``amp: auto`` picks bf16. The
precision path that ran and the CPU (or GPU) are printed with the figures.

PATH is a local checkout of junyanz/pytorch-CycleGAN-and-pix2pix (read and run locally; never part
of this project). Each measurement runs in a fresh subprocess (A B A B ...), warm-up steps excluded;
medians over rounds. Prints img/s, achieved GFLOP/s (FLOPs of one full step counted with
torch.utils.flop_counter), peak RSS (and GPU memory), and ours/reference.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from _subprocess import run_subprocess  # benchmarks/, on sys.path when run as a script

CONFIGS = {
    "unet256_b1": {"size": 256, "batch": 1, "net_g": "unet_256", "ngf": 64},
    "unet128_b8": {"size": 128, "batch": 8, "net_g": "unet_128", "ngf": 64},
    # the project's CPU default (conf/base/parameters_training.yml): ngf = ndf = 32, batch 4
    "unet128_ngf32_b4": {"size": 128, "batch": 4, "net_g": "unet_128", "ngf": 32},
}
STANDARD = ["unet256_b1", "unet128_b8"]  # what --config all runs
HERE = Path(__file__).resolve().parent


def config_params(name: str) -> dict:
    """Training parameters of a standard configuration (the defaults otherwise), on the CPU."""
    spec = CONFIGS[name]
    return {"batch_size": spec["batch"], "load_size": spec["size"], "crop_size": spec["size"],
            "device": "cpu", "generator": {"ngf": spec["ngf"]},
            "discriminator": {"ndf": spec["ngf"], "n_layers": 3}}  # fmt: skip


def ours(params: dict, steps: int, warmup: int = 2, keep_memory: bool = True) -> dict:
    """Time our train_step on ``params``' device in this process (called in a subprocess by main)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from img2img.gan.config import TrainConfig
    from img2img.gan.runtime import configure_runtime, keep_freed_memory, select_device
    from img2img.gan.trainer import Pix2PixTrainer

    config = TrainConfig.from_params(params)
    configure_runtime(config)
    device = select_device(config.device)
    trainer = Pix2PixTrainer(config, device)
    batch, size = config.batch_size, config.crop_size
    generator = torch.Generator().manual_seed(0)
    source = (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1).to(device)
    target = (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1).to(device)

    def step() -> None:
        trainer.train_step(source, target)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # On the CPU, as train_gan_model does: freed memory kept for the next step
    with keep_freed_memory(enabled=keep_memory and device.type == "cpu"):
        for _ in range(warmup):
            step()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        with FlopCounterMode(display=False) as counter:
            step()
    described = trainer.describe()
    gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    return {
        "step_seconds": times,
        "flops": counter.get_total_flops(),
        "batch": batch,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": gpu_mb,
        "precision": described["precision"],
        "device_name": described["device_name"],
    }


def recipe_line(name: str, params: dict) -> str:
    """What a recipe trains: architecture, widths, crops, batch and the runtime switches."""
    from img2img.gan.config import TrainConfig

    config = TrainConfig.from_params(params)
    g, d = config.generator, config.discriminator
    return (f"{name}: {g.arch} (depth {config.unet_depth}) ngf {g.ngf}, PatchGAN ndf {d.ndf} "
            f"n_layers {d.n_layers}, batch {config.batch_size}, {config.crop_size} px crops, "
            f"device {config.device}, amp {config.amp}, channels_last {config.channels_last}, "
            f"compile {config.compile}")  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    parser.add_argument("--env", help="time this configuration environment's training recipe "
                        "(e.g. gpu) instead of --config")  # fmt: skip
    parser.add_argument("--device", help="with --env: run here instead of training.device")
    parser.add_argument(
        "--reference", type=Path, help="local checkout of the reference implementation"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument(
        "--override",
        type=json.loads,
        default={},
        help="JSON of training parameters for our side, e.g. '{\"channels_last\": true}'",
    )
    parser.add_argument(
        "--no-keep-memory",
        action="store_true",
        help="ours without the glibc allocator tuning (img2img.gan.runtime), to measure it",
    )
    parser.add_argument("--_worker", help=argparse.SUPPRESS)  # JSON of the training parameters
    args = parser.parse_args()
    if args.env and args.reference:
        parser.error("--reference times the standard configurations (--config), not --env")
    if args.device and not args.env:
        parser.error("--device goes with --env (the standard configurations run on the CPU)")
    return args


def runs(args: argparse.Namespace) -> dict[str, dict]:
    """The training parameters to time, by name (--override applied)."""
    if args.env:
        from _recipe import training_recipe

        recipe = training_recipe(args.env)
        if args.device:
            recipe["device"] = args.device
        found = {f"env {args.env}": recipe}
    else:
        found = {name: config_params(name) for name in (STANDARD if args.config == "all" else [args.config])}  # fmt: skip
    return {name: {**params, **args.override} for name, params in found.items()}


def time_run(name: str, params: dict, args: argparse.Namespace) -> None:
    """``args.rounds`` fresh processes of ``params`` (and of the reference, with --reference)."""
    our_step, ref_step, flops, rss, gpu_mb, path, batch = [], [], 0, 0.0, 0.0, "", 1
    for _ in range(args.rounds):
        worker = [__file__, "--_worker", json.dumps(params), "--steps", str(args.steps),
                  "--warmup", str(args.warmup)]  # fmt: skip
        if args.no_keep_memory:
            worker.append("--no-keep-memory")
        result = run_subprocess(worker)
        our_step.append(statistics.median(result["step_seconds"]))
        flops, batch = result["flops"], result["batch"]
        rss, gpu_mb = max(rss, result["peak_rss_mb"]), max(gpu_mb, result["peak_gpu_mb"])
        path = f"{result['precision']} on {result['device_name']}"
        if args.reference:
            spec = CONFIGS[name]
            ref = run_subprocess([str(HERE / "_reference_step.py"), str(args.reference), str(spec["size"]),
                                  str(spec["batch"]), spec["net_g"], str(args.steps), str(spec["ngf"])])  # fmt: skip
            ref_step.append(statistics.median(ref["step_seconds"]))
    ours_s = statistics.median(our_step)
    gpu = f", peak GPU memory {gpu_mb:5.0f} MB" if gpu_mb else ""
    print(f"{name}: ours ran {path} (training.amp {params.get('amp', 'auto')})")
    print(f"{name}: ours {batch / ours_s:6.2f} img/s ({ours_s * 1000:6.0f} ms/step, "
          f"{flops / 1e9:5.1f} GFLOP/step, {flops / 1e9 / ours_s:5.1f} GFLOP/s, peak RSS {rss:5.0f} MB{gpu})")  # fmt: skip
    if ref_step:
        ref_s = statistics.median(ref_step)
        print(f"{name}: reference {batch / ref_s:6.2f} img/s ({ref_s * 1000:6.0f} ms/step, "
              f"{flops / 1e9 / ref_s:5.1f} GFLOP/s)   ratio ours/reference = {ref_s / ours_s:.2f}x")  # fmt: skip
        print(
            f"{name}: per-round ratios {[round(r / o, 2) for o, r in zip(our_step, ref_step, strict=True)]}"
        )


def main() -> int:
    args = parse_args()
    if args._worker:
        result = ours(json.loads(args._worker), args.steps, args.warmup, not args.no_keep_memory)
        print("RESULT " + json.dumps(result))
        return 0
    for name, params in runs(args).items():
        if args.env:
            print(recipe_line(name, params), flush=True)
        time_run(name, params, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
