"""Throughput of data-parallel training (torch.distributed) against one process.

    python benchmarks/ddp_speed.py [--nproc 2] [--rounds 3] [--epochs 3] [--device cpu|cuda]

Each round runs, in fresh processes and alternating: 1 process with batch b, N processes with
batch b each (global batch N*b, what DDP scales to), and 1 process with batch N*b (the same
global batch in one process). The figure is img/s over the epochs after the first (start-up, the
first epoch's allocations and the process spawn excluded), median over rounds.

On the CPU the N processes share the machine's cores (each gets cores/N threads), so the speed-up
measures how well the work splits, not extra hardware. On GPUs (``--device cuda --nproc`` = number
of GPUs, nccl) each process has a GPU of its own; use ``--size 256 --ngf 64 --batch 1`` for the
pix2pix recipe.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from _subprocess import run_subprocess  # benchmarks/, on sys.path when run as a script


def worker(
    nproc: int, batch: int, size: int, ngf: int, pairs: int, epochs: int, device: str
) -> dict:
    import tempfile

    import torch

    from img2img.gan.config import TrainConfig
    from img2img.gan.launcher import launch_training
    from img2img.gan.loop import TrainingInputs

    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, 256, (pairs, 3, size, size), dtype=torch.uint8, generator=generator)
    config = TrainConfig.from_params({
        "batch_size": batch, "load_size": size, "crop_size": size, "device": device,
        "epochs": epochs, "epochs_decay": 0, "num_samples": 0, "checkpoint_every_epochs": epochs,
        "generator": {"ngf": ngf}, "discriminator": {"ndf": ngf},
        "distributed": {"nproc_per_node": nproc},
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as checkpoints:
        result = launch_training(
            config, TrainingInputs(source, 255 - source, checkpoint_dir=checkpoints)
        )
    later = result.history[1:] or result.history
    images = sum(row["img_per_s"] * row["seconds"] for row in later)
    return {"img_per_s": images / sum(row["seconds"] for row in later),
            "threads": result.environment["threads"], "world_size": result.environment["world_size"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4, help="per process")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--_worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._worker:
        nproc, batch = args._worker
        result = worker(nproc, batch, args.size, args.ngf, args.pairs, args.epochs, args.device)
        print("RESULT " + json.dumps(result))
        return 0
    cases = {
        f"1 process, batch {args.batch}": (1, args.batch),
        f"{args.nproc} processes, batch {args.batch} each": (args.nproc, args.batch),
        f"1 process, batch {args.nproc * args.batch}": (1, args.nproc * args.batch),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    threads: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, (nproc, batch) in cases.items():
            command = [__file__, "--_worker", str(nproc), str(batch), "--size",
                       str(args.size), "--ngf", str(args.ngf), "--pairs", str(args.pairs),
                       "--epochs", str(args.epochs), "--device", args.device]  # fmt: skip
            result = run_subprocess(command)
            rates[name].append(result["img_per_s"])
            threads[name] = result["threads"]
    print(f"unet ngf {args.ngf}, {args.size} px, {args.pairs} pairs, {args.device}; median of "
          f"{args.rounds} rounds, epochs 2..{args.epochs}")  # fmt: skip
    base = statistics.median(rates[next(iter(cases))])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:32s} {median:7.2f} img/s  x{median / base:4.2f}  "
              f"({threads[name]} threads/process; rounds {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
