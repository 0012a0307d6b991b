"""Live MLflow logging during training that can never stop training.

The engine calls these hooks every step and every epoch. When MLflow fails (a tracking server gone
away, a full disk), the tracker warns once, stops logging, and training carries on: the local
history and sample grids are still written through the catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import mlflow
import numpy as np

logger = logging.getLogger(__name__)


class MlflowTrainingTracker:
    """Engine callbacks: per-step losses (every ``log_every_steps``), per-epoch metrics and grids."""

    def __init__(self, log_every_steps: int = 50) -> None:
        self.log_every_steps = max(1, log_every_steps)
        self.enabled = mlflow.active_run() is not None
        self.failure: str | None = None

    def _safely(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        try:
            action(*args, **kwargs)
        except Exception as exc:  # tracking must never kill training
            self.enabled = False
            self.failure = f"{type(exc).__name__}: {exc}"
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
        if step % self.log_every_steps == 0:
            self._safely(mlflow.log_metrics, self._numbers(metrics, "step/"), step=step)

    def on_epoch_end(
        self, epoch: int, metrics: Mapping[str, Any], sample_grid: np.ndarray | None = None
    ) -> None:
        self._safely(mlflow.log_metrics, self._numbers(metrics, "epoch/"), step=epoch)
        if sample_grid is not None:
            self._safely(mlflow.log_image, sample_grid, f"training_samples/epoch_{epoch:04d}.png")

    def log_environment(self, environment: Mapping[str, Any]) -> None:
        tags = {f"env.{key}": str(value) for key, value in environment.items()}
        self._safely(mlflow.set_tags, tags)
