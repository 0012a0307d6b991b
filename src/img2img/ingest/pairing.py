"""Decode and validate candidate pairs; produce the ``pairs`` table and the rejections.

Decoding runs in a thread pool (Pillow releases the GIL while decoding and resizing), so both cores
work without copying pixels between processes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

import numpy as np
import pandas as pd

from img2img.ingest.images import ImageLimits, ImageRejected, check_min_size, load_rgb, pixel_sha256
from img2img.ingest.layouts import Candidate, ImageRef, ScanResult

PAIR_COLUMNS = [
    "pair_id",
    "source_path",
    "target_path",
    "split",
    "width",
    "height",
    "source_sha256",
    "target_sha256",
    "source_region",
    "target_region",
    "target_width",
    "target_height",
]
REJECTED_COLUMNS = ["path", "reason"]

T = TypeVar("T")
R = TypeVar("R")


class NoValidPairsError(RuntimeError):
    """The dataset has no usable pair; the message says what was scanned and why it was rejected."""


def default_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None) -> Iterator[R]:
    """Ordered map over a thread pool (a plain loop for one worker)."""
    workers = workers or default_workers()
    if workers == 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="img2img-io") as pool:
        yield from pool.map(fn, items, chunksize=1)


def crop_region(rgb: np.ndarray, region: str) -> np.ndarray:
    """The part of a decoded file one side of a pair uses (halves of an aligned AB image)."""
    if region == "full":
        return rgb
    half = rgb.shape[1] // 2
    if region == "left":
        return rgb[:, :half]
    if region == "right":
        return rgb[:, half : 2 * half]
    raise ValueError(f"unknown image region {region!r}")


def load_pair(
    root: Path, candidate: Candidate, limits: ImageLimits
) -> tuple[np.ndarray, np.ndarray]:
    """Decode both sides of a candidate (an AB file is decoded once); raises ImageRejected."""
    source_file = load_rgb(root / candidate.source.relpath, limits)
    if candidate.target.relpath == candidate.source.relpath:
        target_file = source_file
    else:
        target_file = load_rgb(root / candidate.target.relpath, limits)
    return (
        crop_region(source_file, candidate.source.region),
        crop_region(target_file, candidate.target.region),
    )


@dataclass(frozen=True)
class _Outcome:
    row: dict[str, object] | None
    rejection: dict[str, str] | None


def _validate(
    root: Path, prefix: str, candidate: Candidate, limits: ImageLimits, size_mismatch: str
) -> _Outcome:
    def shown(ref: ImageRef) -> str:
        return str(PurePosixPath(prefix) / ref.relpath)

    try:
        source, target = load_pair(root, candidate, limits)
        check_min_size(
            root / candidate.source.relpath, source, limits, f"source ({candidate.source.region})"
        )
        check_min_size(
            root / candidate.target.relpath, target, limits, f"target ({candidate.target.region})"
        )
    except ImageRejected as exc:
        side = candidate.target if exc.path == str(root / candidate.target.relpath) else None
        return _Outcome(None, {"path": shown(side or candidate.source), "reason": exc.reason})
    if source.shape != target.shape and size_mismatch == "reject":
        return _Outcome(
            None,
            {
                "path": shown(candidate.source),
                "reason": (
                    f"size mismatch: source {source.shape[1]}x{source.shape[0]}, target "
                    f"{shown(candidate.target)} {target.shape[1]}x{target.shape[0]} "
                    "(set data_processing.validation.size_mismatch: resize to accept)"
                ),
            },
        )
    row = {
        "pair_id": candidate.pair_id,
        "source_path": shown(candidate.source),
        "target_path": shown(candidate.target),
        "split": candidate.split,
        "width": source.shape[1],
        "height": source.shape[0],
        "source_sha256": pixel_sha256(source),
        "target_sha256": pixel_sha256(target),
        "source_region": candidate.source.region,
        "target_region": candidate.target.region,
        "target_width": target.shape[1],
        "target_height": target.shape[0],
    }
    return _Outcome(row, None)


_SPLIT_PREFERENCE = {"train": 0, "val": 1, "test": 2, None: 3}
DUPLICATE_RULE = (
    "the pair kept is the first by split (train, val, test, none), then source path, then "
    "target path (character order)"
)


def drop_duplicates(pairs: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Keep one pair per (source, target) pixel content; every other one is a rejection naming it.

    Which one is kept does not depend on the order files are listed or rows written: the first by
    split (a training copy before a validation, test or unassigned one), then by source path, then
    by target path, compared character by character (``B.png`` before ``a.png``), then by pair id.
    """
    order = pairs.assign(
        _rank=pairs["split"].map(lambda s: _SPLIT_PREFERENCE.get(s, 3))
    ).sort_values(["_rank", "source_path", "target_path", "pair_id"], kind="stable")
    duplicated = order.duplicated(["source_sha256", "target_sha256"], keep="first")
    kept = order[~duplicated]
    first_of = {(row.source_sha256, row.target_sha256): row for row in kept.itertuples(index=False)}
    rejected = []
    for row in order[duplicated].itertuples(index=False):
        first = first_of[(row.source_sha256, row.target_sha256)]
        rejected.append(
            {
                "path": row.source_path,
                "reason": (
                    f"duplicate pair: same pixels as the kept pair '{first.pair_id}' "
                    f"({first.source_path} -> {first.target_path}); {DUPLICATE_RULE}"
                ),
            }
        )
    kept = kept.drop(columns="_rank").sort_values("pair_id", kind="stable")
    return kept.reset_index(drop=True), rejected


def validate_candidates(
    root: Path,
    scan: ScanResult,
    limits: ImageLimits,
    size_mismatch: str = "reject",
    workers: int | None = None,
    path_prefix: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode every candidate; return ``(pairs, rejected)`` tables.

    Paths in both tables are ``path_prefix/<path relative to root>`` (the prefix is the dataset's
    folder under the raw data root, so paths stay meaningful after the run).
    """
    rejected: list[dict[str, str]] = [
        {"path": str(PurePosixPath(path_prefix) / r["path"]), "reason": r["reason"]}
        for r in scan.rejected
    ]
    rows = []
    outcomes = parallel_map(
        lambda c: _validate(root, path_prefix, c, limits, size_mismatch), scan.candidates, workers
    )
    for outcome in outcomes:
        if outcome.row is not None:
            rows.append(outcome.row)
        else:
            rejected.append(outcome.rejection)
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    pairs["split"] = pairs["split"].astype(object)
    pairs, duplicates = drop_duplicates(pairs)
    rejected.extend(duplicates)
    if pairs.empty:
        raise NoValidPairsError(describe_failure(root, scan, rejected))
    return pairs, pd.DataFrame(rejected, columns=REJECTED_COLUMNS)


def describe_failure(root: Path, scan: ScanResult, rejected: list[dict[str, str]]) -> str:
    if not scan.candidates and not rejected:
        return (
            f"{root}: no valid pair found: the folder holds no image files "
            "(check data_processing.source.kind and dataset_dir)"
        )
    counts = Counter(r["reason"].split(":")[0] for r in rejected)
    summary = "; ".join(f"{n} x {reason}" for reason, n in counts.most_common())
    examples = "\n".join(f"  {r['path']}: {r['reason']}" for r in rejected[:10])
    return (
        f"{root}: no valid pair found. Scanned {scan.scanned_files} image file(s), "
        f"{len(scan.candidates)} candidate pair(s); every one was rejected ({summary}).\n"
        f"First rejections:\n{examples}"
    )
