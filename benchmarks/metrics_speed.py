"""Speed of the evaluation metrics on this machine.

    python benchmarks/metrics_speed.py [--pairs 500] [--size 256] [--fid-images 48]

Prints SSIM+PSNR+L1 pairs/s over ``--pairs`` uint8 pairs at ``--size`` px (real images from
../shared/datasets/edges2shoes_handbags when present, else random), the FID and KID arithmetic on
``--pairs`` 2048-d feature vectors per side, and Inception feature extraction images/s for FID/KID
(when the TF-Inception weights are installed). Times are medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from img2img.metrics import locate_inception_weights
from img2img.metrics.distribution import fid_from_features, kid_from_features
from img2img.metrics.image_quality import per_image_scores
from img2img.metrics.inception import InceptionWeights, inception_features

SHARED = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "datasets"
    / "edges2shoes_handbags"
    / "train"
)


def load_pairs(count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    files = sorted(SHARED.glob("*.jpg"))[:count] if SHARED.is_dir() else []
    if len(files) < count:
        generator = torch.Generator().manual_seed(0)
        a = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)
        b = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)
        return a, b
    halves = []
    for path in files:
        image = np.asarray(Image.open(path).convert("RGB").resize((2 * size, size)))
        halves.append((image[:, :size], image[:, size:]))
    a = torch.from_numpy(np.stack([h[0] for h in halves])).permute(0, 3, 1, 2).contiguous()
    b = torch.from_numpy(np.stack([h[1] for h in halves])).permute(0, 3, 1, 2).contiguous()
    return a, b


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fid-images", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    a, b = load_pairs(args.pairs, args.size)
    per_image_scores(a[:8], b[:8])  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        per_image_scores(a, b)
        times.append(time.perf_counter() - start)
    seconds = median(times)
    print(f"SSIM+PSNR+L1: {args.pairs} pairs at {args.size} px in {seconds:.2f} s "
          f"(median of {args.repeats}): {args.pairs / seconds:.1f} pairs/s")  # fmt: skip
    rng = np.random.default_rng(0)
    real = rng.normal(size=(args.pairs, 2048))
    fake = rng.normal(size=(args.pairs, 2048)) * 1.1 + 0.05
    fid_times, kid_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fid_from_features(real, fake)
        fid_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        kid_from_features(real, fake)
        kid_times.append(time.perf_counter() - start)
    print(f"FID arithmetic ({args.pairs} vs {args.pairs} x 2048): {median(fid_times):.3f} s; "
          f"KID (100 subsets): {median(kid_times):.3f} s")  # fmt: skip
    weights = locate_inception_weights()
    if not isinstance(weights, InceptionWeights):
        print(f"Inception features: skipped ({weights.status})")
        return 0
    inception_features(a[:4], weights)  # load + warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        inception_features(a[: args.fid_images], weights, batch_size=16)
        times.append(time.perf_counter() - start)
    seconds = median(times)
    print(f"Inception features (FID/KID): {args.fid_images} images in {seconds:.2f} s "
          f"(median of {args.repeats}): {args.fid_images / seconds:.2f} images/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
