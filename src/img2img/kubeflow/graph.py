"""A Kedro pipeline as a graph of pod-sized tasks: names, edges, and what must cross pods."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from kedro.pipeline import Pipeline

# A KFP task name ends up in Kubernetes object names: a DNS-1123 label (<= 63 characters,
# lowercase letters, digits, '-', starting and ending with a letter or digit). Argo adds its own
# prefixes and suffixes, so stay well below the limit.
MAX_TASK_NAME = 40
MEMORY_TYPE_SUFFIXES = ("MemoryDataset",)  # kedro.io MemoryDataset, SharedMemoryDataset


class CrossPodDatasetError(ValueError):
    """A dataset produced in one pod and consumed in another cannot be shared."""


@dataclass(frozen=True)
class KedroTask:
    """One KFP task: a single Kedro node run in its own pod."""

    name: str  # the KFP task name (sanitised, unique)
    node_name: str  # the Kedro node name passed to `kedro run --nodes`
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class KedroGraph:
    tasks: tuple[KedroTask, ...]  # in Kedro's topological order
    edges: frozenset[tuple[str, str]]  # (upstream task, downstream task)

    def task(self, name: str) -> KedroTask:
        return next(t for t in self.tasks if t.name == name)

    def upstream(self, name: str) -> list[str]:
        return sorted(parent for parent, child in self.edges if child == name)


def sanitise_name(name: str) -> str:
    """A Kedro node name as a KFP task name: lowercase letters, digits and single dashes.

    ``data_processing.pair_images`` -> ``data-processing-pair-images``. Names longer than
    ``MAX_TASK_NAME`` are cut and given a short hash of the full name, so they stay distinct.
    """
    clean = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "node"
    if not clean[0].isalpha():
        clean = f"node-{clean}"
    if len(clean) > MAX_TASK_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        clean = f"{clean[: MAX_TASK_NAME - 9].rstrip('-')}-{digest}"
    return clean


def task_names(node_names: Iterable[str]) -> dict[str, str]:
    """Node name -> unique KFP task name; collisions after sanitising get ``-2``, ``-3``, ...

    Deterministic: names are assigned in sorted order of the node names.
    """
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for node_name in sorted(set(node_names)):
        base = sanitise_name(node_name)
        candidate, counter = base, 1
        while candidate in used:
            counter += 1
            candidate = f"{base}-{counter}"
        used.add(candidate)
        mapping[node_name] = candidate
    return mapping


def is_parameter(dataset: str) -> bool:
    return dataset == "parameters" or dataset.startswith("params:")


def pipeline_graph(pipeline: Pipeline) -> KedroGraph:
    """One task per node; an edge A -> B iff B consumes a dataset that A produces (not params)."""
    names = task_names(node.name for node in pipeline.nodes)
    producer = {out: node.name for node in pipeline.nodes for out in node.outputs}
    edges = {
        (names[producer[ds]], names[node.name])
        for node in pipeline.nodes
        for ds in node.inputs
        if ds in producer and not is_parameter(ds)
    }
    tasks = tuple(
        KedroTask(names[node.name], node.name, tuple(node.inputs), tuple(node.outputs))
        for node in pipeline.nodes
    )
    return KedroGraph(tasks=tasks, edges=frozenset(edges))


def cross_pod_datasets(pipeline: Pipeline) -> dict[str, tuple[str, list[str]]]:
    """Dataset -> (producing node, consuming nodes) for every dataset passed between nodes."""
    producer = {out: node.name for node in pipeline.nodes for out in node.outputs}
    crossing: dict[str, tuple[str, list[str]]] = {}
    for node in pipeline.nodes:
        for ds in node.inputs:
            if ds in producer and not is_parameter(ds):
                crossing.setdefault(ds, (producer[ds], []))[1].append(node.name)
    return crossing


def _dataset_config(catalog: Any, name: str) -> dict[str, Any] | None:
    resolver = getattr(catalog, "config_resolver", None)
    if resolver is None:
        return None
    config = resolver.config.get(name)
    if config is None and (
        resolver.match_dataset_pattern(name) or resolver.match_user_catch_all_pattern(name)
    ):
        config = resolver.resolve_pattern(name)
    return config


def _local_paths(config: Mapping[str, Any]) -> list[str]:
    """Every ``filepath``/``path`` of a dataset config (also of wrapped ``dataset:`` configs)."""
    paths = []
    for key, value in config.items():
        if key in ("filepath", "path") and isinstance(value, str):
            paths.append(value)
        elif isinstance(value, Mapping):
            paths.extend(_local_paths(value))
    return paths


def _is_shared_path(path: str, shared_dirs: Iterable[str]) -> bool:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path) and not path.startswith("file://"):
        return True  # object storage, HTTP, ...: every pod sees it
    local = PurePosixPath(path.removeprefix("file://"))
    return any(local.is_relative_to(PurePosixPath(d)) for d in shared_dirs)


def check_cross_pod_datasets(
    pipeline: Pipeline, catalog: Any, shared_dirs: Iterable[str] = ("data",)
) -> None:
    """Fail when a dataset passed between two nodes would not survive the trip between pods.

    Each node runs in its own pod, so a dataset produced by one node and read by another must be
    persisted where both pods see it. Errors (all listed at once): a ``MemoryDataset`` or a dataset
    absent from the catalog (Kedro would make it a ``MemoryDataset``), and a local file outside
    ``shared_dirs`` (the folders on the shared volume, relative to the project root, or absolute
    paths inside the container). Parameters are not datasets here.
    """
    shared_dirs = tuple(shared_dirs)
    problems = []
    for ds, (producer, consumers) in sorted(cross_pod_datasets(pipeline).items()):
        between = f"produced by node '{producer}' and consumed by node(s) " + ", ".join(
            f"'{c}'" for c in sorted(consumers)
        )
        ds_type = catalog.get_type(ds) if ds in catalog else None
        if ds_type is None:
            problems.append(
                f"'{ds}' is not in the catalog (a MemoryDataset), {between}: add it to the catalog"
            )
            continue
        if ds_type.endswith(MEMORY_TYPE_SUFFIXES):
            problems.append(f"'{ds}' is a {ds_type.rsplit('.', 1)[-1]}, {between}")
            continue
        config = _dataset_config(catalog, ds) or {}
        outside = [p for p in _local_paths(config) if not _is_shared_path(p, shared_dirs)]
        if outside:
            problems.append(
                f"'{ds}' is stored at {', '.join(outside)}, outside the shared volume "
                f"({', '.join(shared_dirs)}), {between}"
            )
    if problems:
        raise CrossPodDatasetError(
            "Each Kedro node runs in its own pod, so these datasets would be lost between pods:\n  - "
            + "\n  - ".join(problems)
            + "\nPersist them in the catalog of the chosen environment (a file under the shared "
            "volume or object storage)."
        )
