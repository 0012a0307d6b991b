"""Live MLflow logging during training that can never stop training.

The engine calls these hooks every step and every epoch. When MLflow fails (a tracking server gone
away, a full disk), the tracker warns once, stops logging, and training carries on: the local
history and sample grids are still written through the catalog. An unreachable server is reported
through :mod:`img2img.mlflow_outage`, so the rest of the run stops calling it too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import mlflow
import numpy as np
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from img2img.mlflow_outage import OUTAGE, is_server_unreachable

logger = logging.getLogger(__name__)
KIND, WHAT = "live training metrics", "step and epoch losses, sample grids, environment tags"
#: A run expected to take fewer than this many × ``log_every_steps`` steps logs more often, so its
#: per-step curves still have about this many points (a conf/ci run has 36 steps in all).
MIN_STEP_POINTS = 10


def step_interval(log_every_steps: int, expected_steps: int | None) -> int:
    """Log every this many steps: ``log_every_steps``, or less where the run is expected to be too
    short for :data:`MIN_STEP_POINTS` points at that interval (never below 1)."""
    interval = max(1, log_every_steps)
    if expected_steps is not None:
        interval = min(interval, max(1, expected_steps // MIN_STEP_POINTS))
    return interval


class MlflowTrainingTracker:
    """Engine callbacks: per-step losses (the first step, then every :func:`step_interval`),
    per-epoch metrics and grids."""

    def __init__(self, log_every_steps: int = 50, expected_steps: int | None = None) -> None:
        self.log_every_steps = step_interval(log_every_steps, expected_steps)
        run = mlflow.active_run()
        self.enabled = run is not None
        # The run is named explicitly, so the tracker also logs from the training process 0 that
        # img2img.gan.launcher starts (a fresh process, with no active MLflow run of its own).
        self.run_id = run.info.run_id if run is not None else None
        self.tracking_uri = mlflow.get_tracking_uri()
        self.failure: str | None = None
        self._client: MlflowClient | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def _log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        entries = [Metric(key, value, now, step) for key, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=entries)

    def _safely(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        if OUTAGE.down:
            self.enabled = False
            OUTAGE.record(KIND, WHAT)
            return
        try:
            action(*args, **kwargs)
        except Exception as exc:  # tracking must never kill training
            self.enabled = False
            self.failure = f"{type(exc).__name__}: {exc}"
            if is_server_unreachable(exc):
                OUTAGE.record(KIND, WHAT, exc)
                return
            logger.warning(
                "MLflow tracking failed (%s); training continues without live tracking, and the "
                "local training history and sample grids are still written.",
                self.failure,
            )

    @staticmethod
    def _numbers(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
        return {
            f"{prefix}{key}": float(value)
            for key, value in metrics.items()
            if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
        }

    def on_step(self, step: int, metrics: Mapping[str, Any]) -> None:
        if step == 1 or step % self.log_every_steps == 0:
            self._safely(self._log_metrics, self._numbers(metrics, "step/"), step)

    def on_epoch_end(
        self, epoch: int, metrics: Mapping[str, Any], sample_grid: np.ndarray | None = None
    ) -> None:
        self._safely(self._log_metrics, self._numbers(metrics, "epoch/"), epoch)
        if sample_grid is not None:
            self._safely(lambda: self.client.log_image(
                self.run_id, sample_grid, f"training_samples/epoch_{epoch:04d}.png"))  # fmt: skip

    def log_environment(self, environment: Mapping[str, Any]) -> None:
        self.log_tags({f"env.{key}": str(value) for key, value in environment.items()})

    def log_tags(self, tags: Mapping[str, str]) -> None:
        entries = [RunTag(key, value) for key, value in tags.items()]
        self._safely(lambda: self.client.log_batch(self.run_id, tags=entries))
