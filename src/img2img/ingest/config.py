"""The ``data_processing`` parameters, validated once before any work starts.

Built and checked with :mod:`img2img.config`: every error names the parameter
(``data_processing.<key>``) and what is wrong with it, all of them at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from img2img.config import Checks, parse
from img2img.ingest.caches import SPLITS
from img2img.ingest.download import ArchiveLimits
from img2img.ingest.images import ImageLimits

SOURCE_KINDS = ("synthetic", "aligned", "folders", "manifest", "standard")
DIRECTIONS = ("AtoB", "BtoA")
SIZE_MISMATCH_POLICIES = ("reject", "resize")
PREFIX = "data_processing"
SYNTHETIC_DIR = "facades_synthetic"


@dataclass(frozen=True)
class SyntheticConfig:
    n_pairs: int = 400
    size: int = 256
    seed: int = 0


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "synthetic"
    dataset_dir: str | None = None  # None: the standard dataset's name, or facades_synthetic
    direction: str = "AtoB"
    source_dir: str = "A"
    target_dir: str = "B"
    manifest: str = "manifest.csv"
    standard_name: str = "facades"
    base_url: str | None = None
    download_timeout: float = 30.0
    download_max_members: int = ArchiveLimits.max_members
    download_max_unpacked_bytes: int = ArchiveLimits.max_unpacked_bytes
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    @property
    def folder(self) -> str:
        """The dataset folder under the raw data root."""
        if self.dataset_dir:
            return self.dataset_dir
        return self.standard_name if self.kind == "standard" else SYNTHETIC_DIR

    @property
    def archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(self.download_max_members, self.download_max_unpacked_bytes)


@dataclass(frozen=True)
class ValidationConfig:
    min_size: int = ImageLimits.min_size
    max_pixels: int = ImageLimits.max_pixels
    size_mismatch: str = "reject"


@dataclass(frozen=True)
class SplitConfig:
    fractions: Mapping[str, float] = field(
        default_factory=lambda: {"train": 0.8, "val": 0.1, "test": 0.1}
    )
    salt: str = "img2img"


@dataclass(frozen=True)
class PreprocessConfig:
    load_size: int = 286
    workers: int | str | None = None  # None or auto: one per CPU core


@dataclass(frozen=True)
class DataProcessingConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    @property
    def limits(self) -> ImageLimits:
        return ImageLimits(
            self.validation.min_size, self.validation.max_pixels, f"{PREFIX}.validation"
        )

    @property
    def size_mismatch(self) -> str:
        return self.validation.size_mismatch

    @property
    def split_fractions(self) -> dict[str, float]:
        """Every split's fraction (0 for one not given)."""
        return {name: float(self.split.fractions.get(name, 0.0)) for name in SPLITS}

    @property
    def split_salt(self) -> str:
        return str(self.split.salt)

    @property
    def load_size(self) -> int:
        return self.preprocess.load_size

    @property
    def workers(self) -> int | None:
        return None if self.preprocess.workers in (None, "auto") else self.preprocess.workers

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DataProcessingConfig:
        return parse(cls, params, PREFIX, _check)


def _check(c: DataProcessingConfig, check: Checks) -> None:
    _check_source(c.source, check)
    check.integer(c.validation.min_size, "validation.min_size", 1)
    check.integer(c.validation.max_pixels, "validation.max_pixels", 1)
    check.choice(c.validation.size_mismatch, "validation.size_mismatch", SIZE_MISMATCH_POLICIES)
    _check_fractions(c.split.fractions, check)
    check.integer(c.preprocess.load_size, "preprocess.load_size", 8)
    if c.preprocess.workers not in (None, "auto"):
        check.integer(c.preprocess.workers, "preprocess.workers (or auto)", 1)


def _check_source(source: SourceConfig, check: Checks) -> None:
    check.choice(source.kind, "source.kind", SOURCE_KINDS)
    check.choice(source.direction, "source.direction", DIRECTIONS)
    folder = source.folder
    if not isinstance(folder, str) or folder.startswith("/") or ".." in folder:
        check.fail(
            "source.dataset_dir", f"must be a folder name under the raw data root, got {folder!r}"
        )
    for name in ("source_dir", "target_dir", "manifest", "standard_name"):
        check.text(getattr(source, name), f"source.{name}")
    check.number(source.download_timeout, "source.download_timeout", 0.0, open_low=True)
    check.integer(source.download_max_members, "source.download_max_members", 1)
    check.integer(source.download_max_unpacked_bytes, "source.download_max_unpacked_bytes", 1)
    synthetic = source.synthetic
    check.integer(synthetic.n_pairs, "source.synthetic.n_pairs", 1)
    check.integer(synthetic.size, "source.synthetic.size", 32)
    check.integer(synthetic.seed, "source.synthetic.seed", 0)


def _check_fractions(value: Any, check: Checks) -> None:
    name = "split.fractions"
    if not isinstance(value, Mapping):
        check.fail(name, "must be a mapping like {train: 0.8, val: 0.1, test: 0.1}")
        return
    unknown = sorted(set(value) - set(SPLITS))
    if unknown:
        check.fail(name, f"has unknown split(s) {unknown}; allowed: {list(SPLITS)}")
        return
    fractions = {split: value.get(split, 0.0) for split in SPLITS}
    bad = [s for s, f in fractions.items() if isinstance(f, bool) or not isinstance(f, int | float)
           or not 0.0 <= f <= 1.0]  # fmt: skip
    if bad:
        check.fail(name, f"must be numbers between 0 and 1, got {fractions}")
        return
    total = sum(fractions.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        check.fail(name, f"must sum to 1, got {total:g} ({fractions})")
    if fractions["train"] <= 0:
        check.fail(f"{name}.train", "must be > 0")
