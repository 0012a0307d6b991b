"""The ``data_processing`` parameters, validated once before any work starts.

Every error names the parameter (``data_processing.<key>``) and what is wrong with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from img2img.ingest.caches import SPLITS
from img2img.ingest.images import ImageLimits

SOURCE_KINDS = ("synthetic", "aligned", "folders", "manifest", "standard")
DIRECTIONS = ("AtoB", "BtoA")
SIZE_MISMATCH_POLICIES = ("reject", "resize")
PREFIX = "data_processing"


class ParameterError(ValueError):
    """A parameter has a bad value; the message names it."""


def _section(params: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = params.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(f"{path}.{key} must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(section: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = set(section) - allowed
    if unknown:
        raise ParameterError(
            f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )


def _int(section: Mapping[str, Any], key: str, default: int, path: str, minimum: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{path}.{key} must be an integer, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{path}.{key} must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class SyntheticConfig:
    n_pairs: int = 400
    size: int = 256
    seed: int = 0


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "synthetic"
    dataset_dir: str = "facades_synthetic"
    direction: str = "AtoB"
    source_dir: str = "A"
    target_dir: str = "B"
    manifest: str = "manifest.csv"
    standard_name: str = "facades"
    base_url: str | None = None
    download_timeout: float = 30.0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class DataProcessingConfig:
    source: SourceConfig
    limits: ImageLimits
    size_mismatch: str
    split_fractions: dict[str, float]
    split_salt: str
    load_size: int
    workers: int | None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DataProcessingConfig:
        if not isinstance(params, Mapping):
            raise ParameterError(f"{PREFIX} must be a mapping, got {type(params).__name__}")
        _check_keys(params, {"source", "validation", "split", "preprocess"}, PREFIX)
        source = _parse_source(_section(params, "source", PREFIX))
        validation = _section(params, "validation", PREFIX)
        vpath = f"{PREFIX}.validation"
        _check_keys(validation, {"min_size", "max_pixels", "size_mismatch"}, vpath)
        limits = ImageLimits(
            min_size=_int(validation, "min_size", 32, vpath, minimum=1),
            max_pixels=_int(validation, "max_pixels", 40_000_000, vpath, minimum=1),
        )
        size_mismatch = validation.get("size_mismatch", "reject")
        if size_mismatch not in SIZE_MISMATCH_POLICIES:
            raise ParameterError(
                f"{vpath}.size_mismatch must be one of {SIZE_MISMATCH_POLICIES}, "
                f"got {size_mismatch!r}"
            )
        split = _section(params, "split", PREFIX)
        spath = f"{PREFIX}.split"
        _check_keys(split, {"fractions", "salt"}, spath)
        fractions = _parse_fractions(
            split.get("fractions", {"train": 0.8, "val": 0.1, "test": 0.1})
        )
        salt = str(split.get("salt", "img2img"))
        preprocess = _section(params, "preprocess", PREFIX)
        ppath = f"{PREFIX}.preprocess"
        _check_keys(preprocess, {"load_size", "workers"}, ppath)
        load_size = _int(preprocess, "load_size", 286, ppath, minimum=8)
        workers = preprocess.get("workers")
        if workers is not None and workers != "auto":
            workers = _int(preprocess, "workers", 1, ppath, minimum=1)
        return cls(
            source=source,
            limits=limits,
            size_mismatch=size_mismatch,
            split_fractions=fractions,
            split_salt=salt,
            load_size=load_size,
            workers=None if workers == "auto" else workers,
        )


def _parse_fractions(value: Any) -> dict[str, float]:
    path = f"{PREFIX}.split.fractions"
    if not isinstance(value, Mapping):
        raise ParameterError(f"{path} must be a mapping like {{train: 0.8, val: 0.1, test: 0.1}}")
    unknown = set(value) - set(SPLITS)
    if unknown:
        raise ParameterError(f"{path}: unknown split(s) {sorted(unknown)}; allowed: {SPLITS}")
    fractions = {}
    for name in SPLITS:
        fraction = value.get(name, 0.0)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ParameterError(f"{path}.{name} must be a number, got {fraction!r}")
        if not 0.0 <= fraction <= 1.0:
            raise ParameterError(f"{path}.{name} must be between 0 and 1, got {fraction}")
        fractions[name] = float(fraction)
    total = sum(fractions.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ParameterError(f"{path} must sum to 1, got {total:g} ({fractions})")
    if fractions["train"] <= 0:
        raise ParameterError(f"{path}.train must be > 0")
    return fractions


def _parse_source(source: Mapping[str, Any]) -> SourceConfig:
    path = f"{PREFIX}.source"
    allowed = {
        "kind", "dataset_dir", "direction", "source_dir", "target_dir", "manifest",
        "standard_name", "base_url", "download_timeout", "synthetic",
    }  # fmt: skip
    _check_keys(source, allowed, path)
    kind = source.get("kind", "synthetic")
    if kind not in SOURCE_KINDS:
        raise ParameterError(f"{path}.kind must be one of {SOURCE_KINDS}, got {kind!r}")
    direction = source.get("direction", "AtoB")
    if direction not in DIRECTIONS:
        raise ParameterError(f"{path}.direction must be one of {DIRECTIONS}, got {direction!r}")
    standard_name = str(source.get("standard_name", "facades"))
    default_dir = standard_name if kind == "standard" else "facades_synthetic"
    dataset_dir = source.get("dataset_dir") or default_dir
    if not isinstance(dataset_dir, str) or dataset_dir.startswith("/") or ".." in dataset_dir:
        raise ParameterError(
            f"{path}.dataset_dir must be a folder name under the raw data root, got {dataset_dir!r}"
        )
    synthetic = _section(source, "synthetic", path)
    synpath = f"{path}.synthetic"
    _check_keys(synthetic, {"n_pairs", "size", "seed"}, synpath)
    timeout = source.get("download_timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ParameterError(f"{path}.download_timeout must be a positive number, got {timeout!r}")
    return SourceConfig(
        kind=kind,
        dataset_dir=dataset_dir,
        direction=direction,
        source_dir=str(source.get("source_dir", "A")),
        target_dir=str(source.get("target_dir", "B")),
        manifest=str(source.get("manifest", "manifest.csv")),
        standard_name=standard_name,
        base_url=source.get("base_url"),
        download_timeout=float(timeout),
        synthetic=SyntheticConfig(
            n_pairs=_int(synthetic, "n_pairs", 400, synpath, minimum=1),
            size=_int(synthetic, "size", 256, synpath, minimum=32),
            seed=_int(synthetic, "seed", 0, synpath, minimum=0),
        ),
    )
