"""Assign train/val/test splits by content, so they are stable and leak-free.

Pairs that share an image (same source or same target pixels) form one group; a group always lands
in one split. Groups without a split from the layout are placed by a hash of their content, so a pair
keeps its split when the dataset grows. Where the layout's own split folders put pieces of one group in
different splits, the copies outside the group's first split (train, then val, then test) are rejected
as leakage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pandas as pd

from img2img.ingest.caches import SPLITS

_RANK = {name: rank for rank, name in enumerate(SPLITS)}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def hash_fraction(key: str, salt: str) -> float:
    """A uniform number in [0, 1) derived from ``key`` (stable across runs and machines)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_for_fraction(value: float, fractions: Mapping[str, float]) -> str:
    cumulative = 0.0
    for name in SPLITS:
        cumulative += fractions.get(name, 0.0)
        if value < cumulative:
            return name
    return next(name for name in reversed(SPLITS) if fractions.get(name, 0.0) > 0)


def assign_splits(
    pairs: pd.DataFrame, fractions: Mapping[str, float], salt: str
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Return ``pairs`` with a filled ``split`` column, and the rejected leakage copies.

    ``pairs`` needs ``pair_id``, ``source_path``, ``source_sha256``, ``target_sha256`` and ``split``
    (the layout's split or None/NA).
    """
    groups = _UnionFind()
    for src, tgt in zip(pairs["source_sha256"], pairs["target_sha256"], strict=True):
        groups.union(f"s:{src}", f"t:{tgt}")
    # Images of one content are one node regardless of side: an image used as a source in one pair and
    # as a target in another still links them.
    for src, tgt in zip(pairs["source_sha256"], pairs["target_sha256"], strict=True):
        groups.union(f"s:{src}", f"t:{src}")
        groups.union(f"s:{tgt}", f"t:{tgt}")
    group_of = [groups.find(f"s:{src}") for src in pairs["source_sha256"]]

    given = pairs["split"].where(pairs["split"].notna(), None)
    first_given: dict[str, str] = {}
    for group, split in zip(group_of, given, strict=True):
        if split is not None and (
            group not in first_given or _RANK[split] < _RANK[first_given[group]]
        ):
            first_given[group] = split

    splits: list[str | None] = []
    rejected: list[dict[str, str]] = []
    for group, split, pair_id, path in zip(
        group_of, given, pairs["pair_id"], pairs["source_path"], strict=True
    ):
        if group in first_given:
            chosen = first_given[group]
            if split is not None and split != chosen:
                rejected.append(
                    {
                        "path": path,
                        "reason": (
                            f"leakage guard: pair '{pair_id}' in split '{split}' shares an image "
                            f"with a pair in split '{chosen}'"
                        ),
                    }
                )
                splits.append(None)
                continue
            splits.append(chosen)
        else:
            splits.append(split_for_fraction(hash_fraction(group, salt), fractions))
    result = pairs.assign(split=splits)
    result = result[result["split"].notna()].reset_index(drop=True)
    return result, rejected
