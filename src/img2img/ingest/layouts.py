"""Find candidate (source, target) pairs in a dataset directory, for each supported layout.

Layouts:

* ``aligned``: each file holds source and target side by side (pix2pix "AB" files); ``direction``
  says which half is the source. Split folders ``train/ val/ test/`` are honoured.
* ``folders``: ``A/`` and ``B/`` (names configurable) paired by relative path and file stem, with
  optional split folders inside each.
* ``manifest``: a CSV with ``source,target[,split]`` columns, paths relative to the dataset directory.

Scanning only looks at names; decoding and validation happen in :mod:`img2img.ingest.pairing`.
Nothing found is dropped silently: files that cannot form a pair are returned as rejections.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from img2img.ingest.images import is_image_file

SPLIT_ALIASES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}


class PathEscapesRoot(ValueError):
    """A path (manifest entry or symlink) points outside the dataset directory."""


@dataclass(frozen=True)
class ImageRef:
    """One side of a pair: a file relative to the dataset directory and the region used."""

    relpath: str
    region: str = "full"  # full | left | right (halves of an aligned AB file)


@dataclass(frozen=True)
class Candidate:
    pair_id: str
    source: ImageRef
    target: ImageRef
    split: str | None  # None: assign by content hash later


@dataclass
class ScanResult:
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    scanned_files: int = 0

    def reject(self, path: str, reason: str) -> None:
        self.rejected.append({"path": path, "reason": reason})


def resolve_inside(root: Path, path: str | os.PathLike[str]) -> Path:
    """Resolve ``path`` (relative to ``root`` or absolute) and refuse anything outside ``root``.

    Symlinks are followed before the check, so a link pointing out of the root is refused too.
    """
    root_real = root.resolve()
    candidate = Path(path)
    full = candidate if candidate.is_absolute() else root / candidate
    real = full.resolve()
    if not real.is_relative_to(root_real):
        raise PathEscapesRoot(f"{path}: path escapes the data root {root}")
    return real


def _walk_files(root: Path, scan: ScanResult, under: Path | None = None) -> list[str]:
    """Relative POSIX paths of the image files below ``under`` (default ``root``), sorted.

    Hidden files are skipped; non-image files, symlinked directories and symlinks escaping the root
    are reported as rejections.
    """
    start = under or root
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        current = Path(dirpath)
        for name in sorted(dirnames):
            if (current / name).is_symlink():
                rel = (current / name).relative_to(root).as_posix()
                scan.reject(rel, "symlinked directory: not followed")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = current / name
            rel = full.relative_to(root).as_posix()
            if not is_image_file(full):
                scan.reject(rel, f"skipped: extension '{full.suffix}' is not an image type")
                continue
            if full.is_symlink():
                try:
                    resolve_inside(root, full)
                except PathEscapesRoot:
                    scan.reject(rel, "symlink points outside the data root")
                    continue
            scan.scanned_files += 1
            found.append(rel)
    return sorted(found)


def _split_of(relpath: str, depth: int = 0) -> str | None:
    parts = PurePosixPath(relpath).parts
    if len(parts) > depth + 1:
        return SPLIT_ALIASES.get(parts[depth].lower())
    return None


def _unique_id(base: str, taken: set[str]) -> str:
    pair_id, n = base, 1
    while pair_id in taken:
        n += 1
        pair_id = f"{base}~{n}"
    taken.add(pair_id)
    return pair_id


def scan_aligned(root: Path, direction: str) -> ScanResult:
    """Every image file is one pair: its left half is A, its right half is B."""
    scan = ScanResult()
    source_region, target_region = ("left", "right") if direction == "AtoB" else ("right", "left")
    taken: set[str] = set()
    for rel in _walk_files(root, scan):
        pair_id = _unique_id(str(PurePosixPath(rel).with_suffix("")), taken)
        scan.candidates.append(
            Candidate(
                pair_id=pair_id,
                source=ImageRef(rel, source_region),
                target=ImageRef(rel, target_region),
                split=_split_of(rel),
            )
        )
    return scan


def _index_by_stem(root: Path, side_dir: str, scan: ScanResult) -> tuple[dict[str, str], set[str]]:
    """Map 'sub/dir/stem' -> relative path for one side; stems present twice are ambiguous."""
    side_root = root / side_dir
    by_key: dict[str, list[str]] = defaultdict(list)
    for rel in _walk_files(root, scan, under=side_root):
        inner = PurePosixPath(rel).relative_to(side_dir)
        by_key[str(inner.with_suffix(""))].append(rel)
    index: dict[str, str] = {}
    ambiguous: set[str] = set()
    for key, paths in by_key.items():
        if len(paths) == 1:
            index[key] = paths[0]
        else:
            ambiguous.add(key)
            for rel in paths:
                others = ", ".join(p for p in paths if p != rel)
                scan.reject(rel, f"ambiguous: same name as {others}; rename one of them")
    return index, ambiguous


def scan_folders(root: Path, source_dir: str, target_dir: str) -> ScanResult:
    """Pair ``<source_dir>/x.*`` with ``<target_dir>/x.*`` (same relative folder and stem)."""
    scan = ScanResult()
    missing = [d for d in (source_dir, target_dir) if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{root}: layout 'folders' needs the sub-folders '{source_dir}/' and '{target_dir}/'; "
            f"missing: {', '.join(missing)}"
        )
    sources, ambiguous_src = _index_by_stem(root, source_dir, scan)
    targets, ambiguous_tgt = _index_by_stem(root, target_dir, scan)
    for key in sorted(sources.keys() - targets.keys() - ambiguous_tgt):
        scan.reject(sources[key], f"missing partner: no file named '{key}.*' in '{target_dir}/'")
    for key in sorted(targets.keys() - sources.keys() - ambiguous_src):
        scan.reject(targets[key], f"missing partner: no file named '{key}.*' in '{source_dir}/'")
    for key in sorted(sources.keys() & ambiguous_tgt):
        scan.reject(
            sources[key], f"partner is ambiguous: several files named '{key}.*' in '{target_dir}/'"
        )
    for key in sorted(targets.keys() & ambiguous_src):
        scan.reject(
            targets[key], f"partner is ambiguous: several files named '{key}.*' in '{source_dir}/'"
        )
    for key in sorted(sources.keys() & targets.keys()):
        scan.candidates.append(
            Candidate(
                pair_id=key,
                source=ImageRef(sources[key]),
                target=ImageRef(targets[key]),
                split=_split_of(key),
            )
        )
    return scan


def scan_manifest(root: Path, manifest_name: str) -> ScanResult:
    """Read ``source,target[,split]`` rows; every bad row becomes a rejection naming its line."""
    manifest_path = resolve_inside(root, manifest_name)
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: manifest file not found")
    try:
        table = pd.read_csv(manifest_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{manifest_path}: cannot parse manifest CSV: {exc}") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = {"source", "target"} - set(table.columns)
    if missing:
        raise ValueError(
            f"{manifest_path}: manifest needs columns source,target[,split]; missing "
            f"{sorted(missing)}, found {list(table.columns)}"
        )
    scan = ScanResult()
    taken: set[str] = set()
    has_split = "split" in table.columns
    for row_number, row in enumerate(table.itertuples(index=False), start=2):  # line 1 = header
        source, target = row.source.strip(), row.target.strip()
        where = f"{manifest_name}:{row_number}"
        if not source or not target:
            scan.reject(where, "manifest row has an empty source or target")
            continue
        split_value = row.split.strip().lower() if has_split else ""
        split = SPLIT_ALIASES.get(split_value) if split_value else None
        if split_value and split is None:
            scan.reject(where, f"unknown split '{row.split}' (expected train, val or test)")
            continue
        refs = []
        for path in (source, target):
            try:
                real = resolve_inside(root, path)
            except PathEscapesRoot:
                scan.reject(f"{where} {path}", "path escapes the data root: refused")
                break
            if not real.is_file():
                scan.reject(f"{where} {path}", "file not found")
                break
            refs.append(real.relative_to(root.resolve()).as_posix())
        else:
            scan.scanned_files += 2
            pair_id = _unique_id(str(PurePosixPath(refs[0]).with_suffix("")), taken)
            scan.candidates.append(Candidate(pair_id, ImageRef(refs[0]), ImageRef(refs[1]), split))
    return scan
