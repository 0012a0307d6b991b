"""Training speed of one pix2pix step: ours, and side by side with the reference implementation.

    python benchmarks/train_speed.py                       # both standard configurations, ours only
    python benchmarks/train_speed.py --reference PATH      # alternate ours / reference, print ratios
    python benchmarks/train_speed.py --config unet256_b1 --rounds 5 --steps 4

Configurations (same architecture and batch for both implementations):
  unet256_b1: unet_256 generator + basic PatchGAN (n_layers 3), batch 1, 256 px, ngf/ndf 64
  unet128_b8: unet_128 generator + basic PatchGAN, batch 8, 128 px, ngf/ndf 64
  unet128_ngf32_b4: the project's CPU default, unet_128 ngf/ndf 32, batch 4 (not in "all")

Our side runs as ``train_gan_model`` does on the CPU (allocator tuning of img2img.gan.runtime on;
--no-keep-memory turns it off) with the default parameters; --override changes them (JSON), e.g.
``'{"amp": "fp32"}'`` to time fp32 on a CPU where ``amp: auto`` picks bf16. The precision path that
ran and the CPU are printed with the figures.

PATH is a local checkout of junyanz/pytorch-CycleGAN-and-pix2pix (read and run locally; never part
of this project). Each measurement runs in a fresh subprocess (A B A B ...), warm-up steps excluded;
medians over rounds. Prints img/s, achieved GFLOP/s (FLOPs of one full step counted with
torch.utils.flop_counter), peak RSS, and ours/reference.
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


def ours(size: int, batch: int, ngf: int, steps: int, overrides: dict, warmup: int = 2) -> dict:
    """Time our train_step in this process (called in a subprocess by main)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from img2img.gan.config import TrainConfig
    from img2img.gan.runtime import configure_runtime
    from img2img.gan.trainer import Pix2PixTrainer

    config = TrainConfig.from_params(
        {"batch_size": batch, "load_size": size, "crop_size": size, "device": "cpu",
         "generator": {"ngf": ngf}, "discriminator": {"ndf": ngf, "n_layers": 3}, **overrides}
    )  # fmt: skip
    configure_runtime(config)
    trainer = Pix2PixTrainer(config, torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    target = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    for _ in range(warmup):
        trainer.train_step(source, target)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        trainer.train_step(source, target)
        times.append(time.perf_counter() - start)
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(source, target)
    return {
        "step_seconds": times,
        "flops": counter.get_total_flops(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "precision": trainer.describe()["precision"],
        "cpu": trainer.describe()["device_name"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    parser.add_argument(
        "--reference", type=Path, help="local checkout of the reference implementation"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
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
    parser.add_argument("--_worker", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._worker:
        size, batch, ngf, steps = args._worker
        from img2img.gan.runtime import keep_freed_memory

        with keep_freed_memory(enabled=not args.no_keep_memory):  # as train_gan_model does on CPU
            print("RESULT " + json.dumps(ours(size, batch, ngf, steps, args.override)))
        return 0
    names = STANDARD if args.config == "all" else [args.config]
    for name in names:
        spec = CONFIGS[name]
        our_step, ref_step, flops, rss, path = [], [], 0, 0.0, ""
        for _ in range(args.rounds):
            worker = [__file__, "--_worker", str(spec["size"]), str(spec["batch"]), str(spec["ngf"]),
                      str(args.steps), "--override", json.dumps(args.override)]  # fmt: skip
            if args.no_keep_memory:
                worker.append("--no-keep-memory")
            result = run_subprocess(worker)
            our_step.append(statistics.median(result["step_seconds"]))
            flops, rss = result["flops"], max(rss, result["peak_rss_mb"])
            path = f"{result['precision']} on {result['cpu']}"
            if args.reference:
                ref = run_subprocess([str(HERE / "_reference_step.py"), str(args.reference), str(spec["size"]),
                                      str(spec["batch"]), spec["net_g"], str(args.steps), str(spec["ngf"])])  # fmt: skip
                ref_step.append(statistics.median(ref["step_seconds"]))
        ours_s = statistics.median(our_step)
        print(f"{name}: ours ran {path} (training.amp {args.override.get('amp', 'auto')})")
        print(f"{name}: ours {spec['batch'] / ours_s:6.2f} img/s ({ours_s * 1000:6.0f} ms/step, "
              f"{flops / 1e9:5.1f} GFLOP/step, {flops / 1e9 / ours_s:5.1f} GFLOP/s, peak RSS {rss:5.0f} MB)")  # fmt: skip
        if ref_step:
            ref_s = statistics.median(ref_step)
            print(f"{name}: reference {spec['batch'] / ref_s:6.2f} img/s ({ref_s * 1000:6.0f} ms/step, "
                  f"{flops / 1e9 / ref_s:5.1f} GFLOP/s)   ratio ours/reference = {ref_s / ours_s:.2f}x")  # fmt: skip
            print(
                f"{name}: per-round ratios {[round(r / o, 2) for o, r in zip(our_step, ref_step, strict=True)]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
