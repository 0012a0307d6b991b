"""A recurring run of a compiled pipeline on a Kubeflow Pipelines server."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WEEKLY = "0 3 * * 1"  # Mondays 03:00 (the cluster's time zone)


class ScheduleError(RuntimeError):
    pass


@dataclass(frozen=True)
class ScheduledRun:
    recurring_run_id: str
    experiment_id: str
    cron: str


def kfp_cron(expression: str) -> str:
    """A cron expression as KFP wants it: 6 fields, seconds first (robfig/cron).

    Standard 5-field expressions (``0 3 * * 1``) get ``0`` seconds prepended; 6 fields pass.
    """
    fields = expression.split()
    if len(fields) == 5:
        return " ".join(["0", *fields])
    if len(fields) == 6:
        return " ".join(fields)
    raise ScheduleError(
        f"cron expression {expression!r} has {len(fields)} fields; expected 5 "
        "(minute hour day month weekday) or 6 (seconds first)"
    )


def check_reachable(host: str, timeout: float = 10.0) -> None:
    """Fail fast, with the address, when nothing answers at ``host`` (the SDK would retry)."""
    parts = urlsplit(host if "://" in host else f"http://{host}")
    if not parts.hostname:
        raise ScheduleError(f"not a URL: {host!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ScheduleError(
            f"cannot reach the Kubeflow Pipelines API at {host} ({parts.hostname}:{port}): {exc}"
        ) from exc


def schedule_recurring_run(
    host: str,
    package: Path,
    *,
    cron: str = WEEKLY,
    experiment: str = "img2img",
    name: str | None = None,
    namespace: str | None = None,
    params: dict[str, Any] | None = None,
    enable_caching: bool | None = None,
    max_concurrency: int = 1,
    connect_timeout: float = 10.0,
) -> ScheduledRun:
    """Create (or find) ``experiment`` and a recurring run of the compiled ``package`` in it.

    ``max_concurrency`` 1 and no catch-up: runs share one data volume, so two must never overlap
    and missed schedules are not replayed. ``enable_caching`` None keeps the compiled per-task
    settings; False re-runs every task (new raw data on the volume is not part of KFP's cache key).
    """
    package = Path(package)
    if not package.is_file():
        raise ScheduleError(f"pipeline package not found: {package}")
    cron = kfp_cron(cron)
    check_reachable(host, connect_timeout)

    import kfp

    try:
        client = kfp.Client(host=host, namespace=namespace or "kubeflow")
        exp = client.create_experiment(name=experiment, namespace=namespace)
        run = client.create_recurring_run(
            experiment_id=exp.experiment_id,
            job_name=name or f"{package.stem}-recurring",
            cron_expression=cron,
            pipeline_package_path=str(package),
            params=params or {},
            enable_caching=enable_caching,
            max_concurrency=max_concurrency,
            no_catchup=True,
        )
    except Exception as exc:  # the SDK raises ApiException, urllib3 and value errors
        raise ScheduleError(
            f"Kubeflow Pipelines at {host} refused the recurring run: {exc}"
        ) from exc
    return ScheduledRun(run.recurring_run_id, exp.experiment_id, cron)
