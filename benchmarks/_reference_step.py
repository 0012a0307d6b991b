"""Time the reference pix2pix implementation's own training step (run as a subprocess).

    python benchmarks/_reference_step.py REF_PATH SIZE BATCH NETG STEPS [NGF]   (ndf = ngf)

REF_PATH is a local checkout of junyanz/pytorch-CycleGAN-and-pix2pix (not part of this project).
Builds its Pix2PixModel with its own option parser on the CPU, feeds random tensors (its data loading
is 1-2% of a step there), runs warm-up steps, then prints one JSON line with per-step seconds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time


def main() -> None:
    ref_path, size, batch, net_g, steps = sys.argv[1:6]
    ngf = sys.argv[6] if len(sys.argv) > 6 else "64"
    size, batch, steps = int(size), int(batch), int(steps)
    sys.path.insert(0, ref_path)
    with tempfile.TemporaryDirectory(prefix="pix2pix-ref-") as checkpoints:
        times = run(checkpoints, size, batch, net_g, ngf, steps)
    print("RESULT " + json.dumps({"step_seconds": times}))


def run(checkpoints: str, size: int, batch: int, net_g: str, ngf: str, steps: int) -> list[float]:
    import torch
    from models import create_model
    from options.train_options import TrainOptions

    sys.argv = [
        "train.py", "--dataroot", checkpoints, "--name", "bench", "--model", "pix2pix",
        "--netG", net_g, "--ngf", ngf, "--ndf", ngf, "--batch_size", str(batch), "--load_size", str(size),
        "--crop_size", str(size), "--checkpoints_dir", checkpoints, "--no_html",
    ]  # fmt: skip
    opt = TrainOptions().parse()
    opt.device = torch.device("cpu")
    model = create_model(opt)
    model.setup(opt)
    generator = torch.Generator().manual_seed(0)
    data = {
        "A": torch.rand(batch, 3, size, size, generator=generator) * 2 - 1,
        "B": torch.rand(batch, 3, size, size, generator=generator) * 2 - 1,
        "A_paths": ["a"] * batch,
        "B_paths": ["b"] * batch,
    }
    times = []
    for index in range(steps + 2):
        start = time.perf_counter()
        model.set_input(data)
        model.optimize_parameters()
        if index >= 2:
            times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
