"""Nodes of the data_processing pipeline: thin calls into :mod:`img2img.ingest`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from img2img.ingest.config import DataProcessingConfig
from img2img.ingest.pairing import REJECTED_COLUMNS, validate_candidates
from img2img.ingest.preprocess import build_tensor_caches
from img2img.ingest.source import materialise_source, scan_source
from img2img.ingest.splits import assign_splits

logger = logging.getLogger(__name__)


def pair_images(raw_root: Path, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bring in the configured dataset, find its pairs, decode and validate every one."""
    config = DataProcessingConfig.from_params(params)
    dataset_dir = materialise_source(raw_root, config.source)
    scan = scan_source(dataset_dir, config.source)
    pairs, rejected = validate_candidates(
        dataset_dir,
        scan,
        config.limits,
        size_mismatch=config.size_mismatch,
        workers=config.workers,
        path_prefix=dataset_dir.relative_to(raw_root.resolve()).as_posix(),
    )
    logger.info(
        "Paired %d image pairs from %s (%d rejected; see rejected_pairs)",
        len(pairs), dataset_dir, len(rejected),
    )  # fmt: skip
    return pairs, rejected


def split_pairs(
    unsplit_pairs: pd.DataFrame, pairing_rejections: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign train/val/test by content hash (the layout's own splits win); collect rejections."""
    config = DataProcessingConfig.from_params(params)
    pairs, leaked = assign_splits(unsplit_pairs, config.split_fractions, config.split_salt)
    rejected = pd.concat(
        [pairing_rejections, pd.DataFrame(leaked, columns=REJECTED_COLUMNS)], ignore_index=True
    )
    counts = pairs["split"].value_counts().to_dict()
    logger.info("Split sizes: %s", {s: counts.get(s, 0) for s in ("train", "val", "test")})
    return pairs, rejected


def preprocess_pairs(
    pairs: pd.DataFrame, raw_root: Path, params: dict[str, Any]
) -> tuple[dict, dict, dict]:
    """Resize every pair to ``load_size`` and pack uint8 tensor caches for train, val and test."""
    config = DataProcessingConfig.from_params(params)
    caches = build_tensor_caches(raw_root, pairs, config.load_size, workers=config.workers)
    return caches["train"], caches["val"], caches["test"]
