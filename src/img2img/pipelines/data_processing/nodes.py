"""Nodes of the data_processing pipeline: thin calls into :mod:`img2img.ingest`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from img2img.ingest.caches import TensorCache
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
) -> tuple[TensorCache, TensorCache, TensorCache]:
    """Resize every pair to ``load_size`` and pack uint8 tensor caches for train, val and test,
    all three under one data version (generation)."""
    config = DataProcessingConfig.from_params(params)
    dataset = raw_root.resolve() / config.source.folder
    if dataset.is_relative_to(Path.cwd().resolve()):  # as the project names it: data/01_raw/<name>
        dataset = dataset.relative_to(Path.cwd().resolve())
    caches = build_tensor_caches(raw_root, pairs, config.load_size, workers=config.workers,
                                 dataset=dataset.as_posix())  # fmt: skip
    data = caches["train"].data
    logger.info("Data generation %s: %s", data.generation[:12], dict(data.pairs))
    return caches["train"], caches["val"], caches["test"]
