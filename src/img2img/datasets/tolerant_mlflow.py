"""kedro-mlflow's artifact and metrics datasets, tolerant of an MLflow server that went away.

The local save always happens; logging to MLflow follows :mod:`img2img.mlflow_outage` (one warning
per kind, then no more MLflow calls in this run). Use them in the catalog exactly like kedro-mlflow's
``MlflowArtifactDataset`` / ``MlflowMetricsHistoryDataset`` (same arguments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro_mlflow.io.artifacts import MlflowArtifactDataset
from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset

from img2img.mlflow_outage import OUTAGE


def _tolerant(mlflow_class: type) -> type:
    """A subclass of kedro-mlflow's dynamic ``Mlflow<Dataset>`` class with a tolerant ``_save``."""

    class Tolerant(mlflow_class):
        def _save(self, data: Any) -> None:
            if not self._logging_activated:
                super()._save(data)
                return
            what = _describe_target(self)
            if OUTAGE.down:  # save locally only, without waiting on the server again
                self._logging_activated = False
                try:
                    super()._save(data)
                finally:
                    self._logging_activated = True
                OUTAGE.record("artifacts", what)
                return
            # The local save comes first and raises as usual; only the upload can be tolerated
            # (a local save never raises MLflow's errors).
            OUTAGE.call("artifacts", what, super()._save, data)

    # kedro-mlflow recognises its datasets by the "Mlflow" prefix (switch_catalog_logging).
    Tolerant.__name__ = mlflow_class.__name__
    Tolerant.__qualname__ = mlflow_class.__qualname__
    return Tolerant


def _describe_target(dataset: Any) -> str:
    """The local path, relative to the project when inside it."""
    for attribute in ("_filepath", "_path"):
        if getattr(dataset, attribute, None) is not None:
            path = Path(str(getattr(dataset, attribute)))
            return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return type(dataset).__name__  # pragma: no cover


class TolerantMlflowArtifactDataset(MlflowArtifactDataset):
    """``MlflowArtifactDataset`` (the wrapped dataset saved locally, then logged as an artifact)
    whose artifact upload does not fail the run when the tracking server is unreachable."""

    def __new__(cls, dataset: str | dict, **kwargs: Any):
        instance = MlflowArtifactDataset.__new__(cls, dataset, **kwargs)
        # kedro-mlflow builds a fresh class per instance; swap in its tolerant subclass (no new
        # state, so no re-initialisation). Not an instance of cls, so __init__ is not called again.
        instance.__class__ = _tolerant(type(instance))
        return instance


class TolerantMlflowMetricsHistoryDataset(MlflowMetricsHistoryDataset):
    """``MlflowMetricsHistoryDataset`` whose save does not fail the run when the tracking server is
    unreachable (it has no local file: the metrics are in the run's other outputs)."""

    def _save(self, data: Any) -> None:
        if not self._logging_activated:
            return
        OUTAGE.call(
            "metrics", f"{self._prefix or 'metrics'}: {', '.join(data)}", super()._save, data
        )
