"""Bring the configured dataset into the raw data folder and list its candidate pairs.

``synthetic`` renders the built-in facades dataset as aligned AB files (regenerated only when its
parameters change), ``standard`` fetches a pix2pix dataset by name, the user layouts only check that
their folder is there.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from img2img.atomic import atomic_write_bytes
from img2img.ingest.config import SourceConfig, SyntheticConfig
from img2img.ingest.layouts import (
    ScanResult,
    resolve_inside,
    scan_aligned,
    scan_folders,
    scan_manifest,
)

logger = logging.getLogger(__name__)

SYNTHETIC_STAMP = ".synthetic.json"


def write_synthetic_dataset(dataset_dir: Path, config: SyntheticConfig) -> int:
    """Render the built-in facades pairs as AB PNGs in ``dataset_dir``; returns files written.

    A stamp file records the generator parameters: when they are unchanged and every file is there,
    nothing is rendered again. Generated files no longer part of the set are removed (only files
    matching the generator's own naming).
    """
    from img2img.ingest.synthetic import generate_facade_pairs, to_aligned_png

    wanted = {f"facade_{index:05d}.png" for index in range(config.n_pairs)}
    stamp = {"generator": "img2img.synthetic.facades/v1", "n_pairs": config.n_pairs,
             "size": config.size, "seed": config.seed}  # fmt: skip
    stamp_path = dataset_dir / SYNTHETIC_STAMP
    if (
        stamp_path.is_file()
        and json.loads(stamp_path.read_text()) == stamp
        and all((dataset_dir / name).is_file() for name in wanted)
    ):
        logger.info("Built-in dataset up to date in %s (%d pairs)", dataset_dir, config.n_pairs)
        return 0
    dataset_dir.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)
    for stale in sorted(dataset_dir.glob("facade_*.png")):
        if stale.name not in wanted:
            stale.unlink()
    written = 0
    for name, label_map, photo in generate_facade_pairs(config.n_pairs, config.size, config.seed):
        atomic_write_bytes(dataset_dir / f"{name}.png", to_aligned_png(label_map, photo))
        written += 1
    atomic_write_bytes(stamp_path, json.dumps(stamp, sort_keys=True).encode())
    logger.info("Rendered %d built-in facade pairs into %s", written, dataset_dir)
    return written


def materialise_source(raw_root: Path, source: SourceConfig) -> Path:
    """Make sure the dataset folder exists (rendering or downloading it if needed); return it."""
    raw_root.mkdir(parents=True, exist_ok=True)
    dataset_dir = resolve_inside(raw_root, source.folder)
    if source.kind == "synthetic":
        write_synthetic_dataset(dataset_dir, source.synthetic)
    elif source.kind == "standard":
        from img2img.ingest.download import OFFICIAL_MIRROR, fetch_standard_dataset

        fetched = fetch_standard_dataset(
            source.standard_name,
            raw_root,
            base_url=source.base_url or OFFICIAL_MIRROR,
            timeout=source.download_timeout,
            limits=source.archive_limits,
        )
        dataset_dir = resolve_inside(raw_root, fetched)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(
            f"{dataset_dir}: dataset folder not found. Put your images there (layout "
            f"'{source.kind}', see README 'Bring your own dataset') or set "
            "data_processing.source.dataset_dir"
        )
    return dataset_dir


def scan_source(dataset_dir: Path, source: SourceConfig) -> ScanResult:
    """Candidate pairs of the dataset folder, by layout."""
    if source.kind == "synthetic":
        return scan_aligned(dataset_dir, "AtoB")
    if source.kind in ("aligned", "standard"):
        return scan_aligned(dataset_dir, source.direction)
    if source.kind == "folders":
        return scan_folders(dataset_dir, source.source_dir, source.target_dir)
    return scan_manifest(dataset_dir, source.manifest)
