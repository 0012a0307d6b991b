"""Speed of the built-in facades generator (render, and render + aligned PNG encoding).

    python benchmarks/synthetic_speed.py [--sizes 64 128 256 512] [--pairs 40] [--rounds 5]

For each size, rounds alternate the two stages (render only / render + ``to_aligned_png``) over the
same pair indices, and the median time per pair over rounds is printed with pairs/s. The target
is <= 15 ms per 256x256 pair for rendering. Optionally writes a preview grid of 8 pairs
(``--preview out.png``: label maps on the top row, photos under them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from img2img.ingest.synthetic import render_facade_pair, to_aligned_png


def _time_pairs(size: int, indices: range, encode: bool) -> float:
    """Seconds per pair for rendering (and optionally encoding) ``indices`` at ``size``."""
    start = time.perf_counter()
    for index in indices:
        label_map, photo = render_facade_pair(0, index, size)
        if encode:
            to_aligned_png(label_map, photo)
    return (time.perf_counter() - start) / len(indices)


def write_preview(path: Path, size: int, n_pairs: int = 8, seed: int = 0) -> None:
    """Save ``n_pairs`` pairs side by side: label maps above, photos below."""
    pairs = [render_facade_pair(seed, index, size) for index in range(n_pairs)]
    columns = [np.concatenate(pair, axis=0) for pair in pairs]
    Image.fromarray(np.concatenate(columns, axis=1)).save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--pairs", type=int, default=40, help="pairs per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preview", type=Path, help="write an 8-pair preview PNG here (256 px)")
    args = parser.parse_args()

    render_facade_pair(0, 0, 64)  # warm-up (imports, allocator)
    print(f"{'size':>5} {'render ms':>10} {'pairs/s':>8} {'+png ms':>8} {'pairs/s':>8}")
    for size in args.sizes:
        indices = range(args.pairs)
        render_times, total_times = [], []
        for _ in range(args.rounds):  # alternate A/B so a busy neighbour hits both alike
            render_times.append(_time_pairs(size, indices, encode=False))
            total_times.append(_time_pairs(size, indices, encode=True))
        render, total = statistics.median(render_times), statistics.median(total_times)
        print(
            f"{size:>5} {render * 1e3:>10.2f} {1 / render:>8.1f} {total * 1e3:>8.2f} {1 / total:>8.1f}"
        )
    if args.preview:
        write_preview(args.preview, 256)
        print(f"preview written to {args.preview}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
