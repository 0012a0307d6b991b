"""Resize validated pairs to ``load_size`` and pack them as uint8 tensor caches per split.

A cache is a :class:`~img2img.ingest.caches.TensorCache`: uint8 N×3×L×L source and target arrays
(NumPy here; :class:`img2img.datasets.TensorCacheDataset` stores them as ``.npy`` files and hands
torch tensors to training), the pair ids and the run's data version, so training never decodes an
image again. Arrays are preallocated and filled in
place by a thread pool: peak memory is the caches plus a few images in flight. No torch here: it costs
~0.6 GB of resident memory just to import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from img2img.ingest.caches import SPLITS, TensorCache, describe_source, split_caches
from img2img.ingest.images import ImageLimits
from img2img.ingest.layouts import Candidate, ImageRef
from img2img.ingest.pairing import load_pair, parallel_map

# pix2pix resizes with bicubic interpolation (torchvision's Resize(BICUBIC) on PIL images).
RESIZE_FILTER = Image.Resampling.BICUBIC


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """H×W×3 uint8 -> size×size×3 uint8 (bicubic); a no-op when already that size."""
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size, size), RESIZE_FILTER))


def build_tensor_caches(
    raw_root: Path,
    pairs: pd.DataFrame,
    load_size: int,
    limits: ImageLimits | None = None,
    workers: int | None = None,
    dataset: str = "",
) -> dict[str, TensorCache]:
    """One cache per split (``train``, ``val``, ``test``; empty splits give N = 0), all of one
    data version; ``dataset`` names the dataset folder in it.

    ``pairs`` paths are relative to ``raw_root`` (as written by the pairing step).
    """
    limits = limits or ImageLimits(min_size=1, max_pixels=2**62)
    arrays = {}
    for split in SPLITS:
        rows = pairs[pairs["split"] == split].sort_values("pair_id", kind="stable")
        n = len(rows)
        source = np.empty((n, 3, load_size, load_size), dtype=np.uint8)
        target = np.empty((n, 3, load_size, load_size), dtype=np.uint8)
        # N×H×W×3 views of the N×3×H×W storage: decoded images are copied straight in.
        source_hwc = source.transpose(0, 2, 3, 1)
        target_hwc = target.transpose(0, 2, 3, 1)
        candidates = [
            Candidate(
                pair_id=row.pair_id,
                source=ImageRef(row.source_path, row.source_region),
                target=ImageRef(row.target_path, row.target_region),
                split=split,
            )
            for row in rows.itertuples(index=False)
        ]

        def load(
            index_candidate: tuple[int, Candidate],
            source_hwc: np.ndarray = source_hwc,
            target_hwc: np.ndarray = target_hwc,
        ) -> None:
            index, candidate = index_candidate
            src, tgt = load_pair(raw_root, candidate, limits)
            source_hwc[index] = resize_square(src, load_size)
            target_hwc[index] = resize_square(tgt, load_size)

        for _ in parallel_map(load, list(enumerate(candidates)), workers):
            pass
        arrays[split] = (source, target, [c.pair_id for c in candidates])
    return split_caches(arrays, dataset or str(raw_root), describe_source(pairs))
