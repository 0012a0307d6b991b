"""Kill ``kedro run`` with SIGKILL at seeded random moments, re-run it, and check what is left.

Used by ``tests/test_chaos.py`` (a few kills) and ``benchmarks/chaos_kill.py`` (many). A round:
pick a node of the pipeline and a delay (seeded), start ``kedro run`` in its own process group,
SIGKILL the whole group ``delay`` seconds after the node starts (the run may finish first: that is
counted), then run the pipeline again to completion. :func:`problems_left` lists what a user would
find wrong afterwards: an output that does not load, caches of two data generations, temporary
debris, an MLflow model version whose registration was never finished.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from img2img.preflight import SCRATCH

KEDRO = str(Path(sys.executable).with_name("kedro"))
MODEL_NAME = "img2img-generator"


@dataclass(frozen=True)
class Kill:
    node: str
    delay_s: float
    killed: bool  # False: the run finished before the moment came


def _command(pipeline: str, env: str) -> list[str]:
    return [KEDRO, "run", f"--pipelines={pipeline}", f"--env={env}"]


def _environment() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "400", "KEDRO_DISABLE_TELEMETRY": "true"}


def run_and_kill(project: Path, pipeline: str, env: str, node: str, delay_s: float,
                 timeout_s: float = 300) -> Kill:  # fmt: skip
    """Start the run; SIGKILL its process group ``delay_s`` after ``node`` starts."""
    started = threading.Event()
    process = subprocess.Popen(
        _command(pipeline, env), cwd=project, env=_environment(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip

    def watch() -> None:
        for line in process.stdout:
            if f"Running node: {node}:" in line:
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while not started.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            break
    killed = False
    if started.is_set():
        time.sleep(delay_s)
        killed = process.poll() is None
        if killed:
            os.killpg(process.pid, signal.SIGKILL)
    if process.wait(timeout=timeout_s) not in (0, -signal.SIGKILL):
        raise AssertionError(f"kedro run failed before the kill (exit {process.returncode})")
    return Kill(node, delay_s, killed)


def run_to_completion(project: Path, pipeline: str, env: str, timeout_s: float = 600) -> None:
    result = subprocess.run(
        _command(pipeline, env), cwd=project, env=_environment(), capture_output=True, text=True,
        timeout=timeout_s,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"re-run failed (exit {result.returncode}):\n{result.stdout[-4000:]}")


def draw_kills(
    nodes: list[str], count: int, seed: int, max_delay_s: float
) -> list[tuple[str, float]]:
    """``count`` (node, delay) pairs: every node once in a shuffled order before any repeats."""
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < count:
        order += rng.sample(nodes, len(nodes))
    return [(node, round(rng.uniform(0.0, max_delay_s), 2)) for node in order[:count]]


def debris(project: Path) -> list[str]:
    """Temporary files (``*.tmp``) or folders (hidden: a cache or an extraction being staged)
    anywhere under data/; the scratch root must be empty."""
    scratch = project / SCRATCH
    found = [str(p) for p in scratch.iterdir()] if scratch.is_dir() else []
    for path in (project / "data").rglob("*"):
        if scratch in path.parents or path == scratch:
            continue
        if path.name.endswith(".tmp") or (path.name.startswith(".") and path.is_dir()):
            found.append(str(path))
    return found


def unloadable_outputs(project: Path, pipeline: str, env: str) -> list[str]:
    """Every persisted output of ``pipeline`` that does not load, with the reason."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.io import MemoryDataset

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env) as session:
        catalog = session.load_context().catalog
        problems = []
        for name in sorted(pipelines[pipeline].all_outputs()):
            if name not in catalog or isinstance(catalog.get(name), MemoryDataset):
                continue
            if type(catalog.get(name)).__name__.endswith("MetricsHistoryDataset"):
                continue  # lives in the MLflow run only
            try:
                catalog.load(name)
            except Exception as exc:  # what a user's next step would hit
                problems.append(f"{name}: {exc}")
        return problems


def unfinished_registrations(tracking_uri: str) -> list[str]:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from img2img.packaging.gate import COMPLETE, REGISTRATION

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    except MlflowException:
        return []
    return [
        f"version {v.version}: {v.tags}" for v in versions if v.tags.get(REGISTRATION) != COMPLETE
    ]


def mixed_caches(project: Path) -> list[str]:
    from img2img.datasets.tensor_cache import TensorCacheDataset
    from img2img.ingest.caches import SPLITS, MixedCachesError, require_one_generation

    folder = project / "data" / "05_model_input"
    try:
        require_one_generation(
            *[TensorCacheDataset(str(folder / f"{split}_tensors")).load() for split in SPLITS]
        )
    except MixedCachesError as exc:
        return [str(exc)]
    return []


def problems_left(project: Path, pipeline: str, env: str, tracking_uri: str) -> list[str]:
    """What a user would find wrong after the last run completed (empty: nothing)."""
    return (
        [f"does not load: {p}" for p in unloadable_outputs(project, pipeline, env)]
        + [f"mixed caches: {p}" for p in mixed_caches(project)]
        + [f"temporary debris: {p}" for p in debris(project)]
        + [f"unfinished registration: {p}" for p in unfinished_registrations(tracking_uri)]
    )
