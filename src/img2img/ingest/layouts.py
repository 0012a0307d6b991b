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


SYMLINK_OUTSIDE = "symlink points outside the data root"
SYMLINKED_DIR = "symlinked directory: not followed"


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


def _walk_files(
    root: Path, scan: ScanResult, under: Path | None = None, refused: dict[str, str] | None = None
) -> list[str]:
    """Relative POSIX paths of the image files below ``under`` (default ``root``), sorted.

    Hidden files are skipped; non-image files, symlinked directories and symlinks escaping the root
    are reported as rejections, and recorded in ``refused`` (relative path -> reason; a folder's
    path ends with ``/``) so that a partner of a refused file can say so.
    """
    start = under or root
    found: list[str] = []

    def refuse(rel: str, reason: str) -> None:
        scan.reject(rel.rstrip("/"), reason)
        if refused is not None:
            refused[rel] = reason

    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        current = Path(dirpath)
        for name in sorted(dirnames):
            if (current / name).is_symlink():
                refuse(f"{(current / name).relative_to(root).as_posix()}/", SYMLINKED_DIR)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = current / name
            rel = full.relative_to(root).as_posix()
            if not is_image_file(full):
                refuse(rel, f"skipped: extension '{full.suffix}' is not an image type")
                continue
            if full.is_symlink():
                try:
                    resolve_inside(root, full)
                except PathEscapesRoot:
                    refuse(rel, SYMLINK_OUTSIDE)
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


@dataclass
class _Side:
    """One folder of the two-folder layout: its files by key ('sub/dir/stem'), the keys found twice
    and the entries refused while scanning it (key, or folder key ending in '/' -> 'path: reason')."""

    folder: str
    files: dict[str, str] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)

    def no_partner(self, key: str) -> str:
        """Why a file of the other side whose key is ``key`` has no partner here."""
        for refused_key, why in self.refused.items():
            if key == refused_key or (refused_key.endswith("/") and key.startswith(refused_key)):
                return f"partner refused: {why}"
        return f"missing partner: no file named '{key}.*' in '{self.folder}/'"


def _scan_side(root: Path, folder: str, scan: ScanResult) -> _Side:
    """Index one side by key; keys present twice are ambiguous (every file of them is rejected)."""
    side = _Side(folder)
    refused: dict[str, str] = {}
    by_key: dict[str, list[str]] = defaultdict(list)
    for rel in _walk_files(root, scan, root / folder, refused):
        by_key[str(PurePosixPath(rel).relative_to(folder).with_suffix(""))].append(rel)
    for rel, reason in refused.items():
        inner = PurePosixPath(rel).relative_to(folder)
        key = f"{inner}/" if rel.endswith("/") else str(inner.with_suffix(""))
        side.refused[key] = f"{rel.rstrip('/')}: {reason}"
    for key, paths in by_key.items():
        if len(paths) == 1:
            side.files[key] = paths[0]
            continue
        side.ambiguous.add(key)
        for rel in paths:
            others = ", ".join(p for p in paths if p != rel)
            scan.reject(rel, f"ambiguous: same name as {others}; rename one of them")
    return side


def scan_folders(root: Path, source_dir: str, target_dir: str) -> ScanResult:
    """Pair ``<source_dir>/x.*`` with ``<target_dir>/x.*`` (same relative folder and stem).

    A file without a partner is rejected as ``missing partner``, or, when the partner exists but
    was refused while scanning (a symlink out of the root, a symlinked folder, a non-image file), as
    ``partner refused: <partner>: <why>``.
    """
    scan = ScanResult()
    missing = [d for d in (source_dir, target_dir) if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{root}: layout 'folders' needs the sub-folders '{source_dir}/' and '{target_dir}/'; "
            f"missing: {', '.join(missing)}"
        )
    sources, targets = _scan_side(root, source_dir, scan), _scan_side(root, target_dir, scan)
    for side, other in ((sources, targets), (targets, sources)):
        for key in sorted(side.files.keys() - other.files.keys() - other.ambiguous):
            scan.reject(side.files[key], other.no_partner(key))
        for key in sorted(side.files.keys() & other.ambiguous):
            scan.reject(
                side.files[key],
                f"partner is ambiguous: several files named '{key}.*' in '{other.folder}/'",
            )
    for key in sorted(sources.files.keys() & targets.files.keys()):
        scan.candidates.append(
            Candidate(
                pair_id=key,
                source=ImageRef(sources.files[key]),
                target=ImageRef(targets.files[key]),
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
    has_split = "split" in table.columns
    rows: list[tuple[str, str, str | None]] = []
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
        refs = [_manifest_ref(root, path, where, scan) for path in (source, target)]
        if refs[0] is not None and refs[1] is not None:
            rows.append((refs[0], refs[1], split))
    # Pair ids come from the source path, numbered in path order: the row order does not matter.
    taken: set[str] = set()
    for source, target, split in sorted(rows, key=lambda r: (r[0], r[1], r[2] or "")):
        scan.scanned_files += 2
        pair_id = _unique_id(str(PurePosixPath(source).with_suffix("")), taken)
        scan.candidates.append(Candidate(pair_id, ImageRef(source), ImageRef(target), split))
    return scan


def _manifest_ref(root: Path, path: str, where: str, scan: ScanResult) -> str | None:
    """The file a manifest entry names, relative to ``root``; None (and a rejection) if refused."""
    try:
        real = resolve_inside(root, path)
    except PathEscapesRoot:
        link = Path(path) if Path(path).is_absolute() else root / path
        reason = SYMLINK_OUTSIDE if link.is_symlink() else "path escapes the data root"
        scan.reject(f"{where} {path}", f"{reason}: refused")
        return None
    if not real.is_file():
        scan.reject(f"{where} {path}", "file not found")
        return None
    return real.relative_to(root.resolve()).as_posix()
