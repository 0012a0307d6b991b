"""Ingestion + validation + preprocessing speed on a real paired dataset.

    python benchmarks/ingest_speed.py [DATASET_DIR] [--load-size 256] [--direction BtoA]

Default dataset: ../shared/datasets/edges2shoes_handbags (2,400 aligned 512x256 JPEGs, photo LEFT,
edges RIGHT, so edges -> photo is BtoA). Prints pairs/s per stage and in total, and the peak RSS.
Runs the same library calls as the data_processing pipeline, without Kedro's I/O.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from img2img.datasets.tensor_cache import TensorCacheDataset
from img2img.ingest.config import DataProcessingConfig
from img2img.ingest.pairing import validate_candidates
from img2img.ingest.preprocess import build_tensor_caches
from img2img.ingest.source import scan_source
from img2img.ingest.splits import assign_splits

DEFAULT = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "edges2shoes_handbags"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--load-size", type=int, default=256)
    parser.add_argument("--direction", default="BtoA")
    parser.add_argument("--workers", default="auto")
    args = parser.parse_args()
    if not args.dataset.is_dir():
        print(f"{args.dataset}: dataset folder not found", file=sys.stderr)
        return 2
    params = {
        "source": {
            "kind": "aligned",
            "dataset_dir": args.dataset.name,
            "direction": args.direction,
        },
        "preprocess": {"load_size": args.load_size, "workers": args.workers},
    }
    config = DataProcessingConfig.from_params(params)
    root = args.dataset.resolve().parent
    dataset_dir = args.dataset.resolve()
    t0 = time.perf_counter()
    scan = scan_source(dataset_dir, config.source)
    t1 = time.perf_counter()
    pairs, rejected = validate_candidates(
        dataset_dir, scan, config.limits, workers=config.workers, path_prefix=dataset_dir.name
    )
    t2 = time.perf_counter()
    pairs, _ = assign_splits(pairs, config.split_fractions, config.split_salt)
    caches = build_tensor_caches(root, pairs, config.load_size, workers=config.workers)
    t3 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="img2img-bench-"))
    try:
        for split, cache in caches.items():
            TensorCacheDataset(str(out / f"{split}_tensors")).save(cache)
    finally:
        shutil.rmtree(out)
    t4 = time.perf_counter()
    n = len(pairs)
    print(
        f"dataset: {dataset_dir} ({n} pairs, {len(rejected)} rejected), load_size {args.load_size}"
    )
    print(f"scan:       {t1 - t0:7.2f} s")
    print(f"validate:   {t2 - t1:7.2f} s  {n / (t2 - t1):8.1f} pairs/s (decode + hash)")
    print(f"preprocess: {t3 - t2:7.2f} s  {n / (t3 - t2):8.1f} pairs/s (decode + resize + pack)")
    print(f"save:       {t4 - t3:7.2f} s")
    print(f"total:      {t4 - t0:7.2f} s  {n / (t4 - t0):8.1f} pairs/s")
    print(f"peak RSS:   {peak_rss_mb():7.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
