"""An MLflow tracking server that goes away mid-run never fails the run.

One policy for every place the project talks to MLflow during a run (the kedro-mlflow hook, the
project's MLflow datasets, the live training tracker, model registration): when a call fails
because a remote tracking server cannot be reached (connection refused or reset, timeout, transient
HTTP errors after MLflow's own retries), the run

- logs ONE warning per kind of record (artifacts, parameters, metrics, ...) naming the tracking URI
  and what was not logged (later misses of that kind go to the debug log),
- stops calling MLflow for the rest of the run (every later call would wait for the same retries),
- carries on: the local files are written as usual, and ``kedro run`` exits with 0.

Anything else (a server that answers with an error, an invalid parameter, a broken local SQLite
store, a full disk) is raised as before. A server unreachable when the run *starts* still fails the
run at once: a wrong ``MLFLOW_TRACKING_URI`` should be loud, not hours of training later.

Before a call counts as failed, MLflow's HTTP client retries it with exponential backoff
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, default 7, about 4 minutes; ``MLFLOW_HTTP_REQUEST_TIMEOUT``,
default 120 s per attempt). The project keeps those defaults (they ride out a server restart);
lower them to notice an outage sooner.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import mlflow
import requests
from kedro.framework.hooks import hook_impl
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException


class DropWarning(logging.Filter):
    """Drops the captured warnings (logger ``py.warnings``) whose text holds ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


# kedro-mlflow defines an MLflow PythonModel without type hints (KedroPipelineModel, unused here)
# and MLflow warns when the class is defined, in every `kedro` command: this module is where
# kedro-mlflow is first imported. MLflow forces that warning through any warnings filter, so it is
# dropped where Kedro's logging prints warnings. The project's own pyfunc model is type-hinted.
logging.getLogger("py.warnings").addFilter(DropWarning("Add type hints to the `predict` method"))
from kedro_mlflow.framework.hooks import MlflowHook  # noqa: E402

logger = logging.getLogger(__name__)
T = TypeVar("T")

_UNREACHABLE = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.RetryError,  # 429/5xx (e.g. a proxy in front of a dead server), retried
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_server_unreachable(exc: BaseException) -> bool:
    """True for an MLflow call that failed because the tracking server could not be reached.

    MLflow's REST client raises ``MlflowException`` with the ``requests`` error in its chain; a
    server that answered (``RestException``: bad request, not found, ...) does not count.
    """
    if not isinstance(exc, MlflowException | requests.exceptions.RequestException):
        return False
    return any(isinstance(e, _UNREACHABLE) for e in _chain(exc))


def _root_cause(exc: BaseException) -> str:
    root = list(_chain(exc))[-1]
    return f"{type(root).__name__}: {root}"


class TrackingOutage:
    """The state of the current run's tracking: up, or down since the first unreachable call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """A new run: the server is presumed up again."""
        with self._lock:
            self.cause: str | None = None
            self.not_logged: dict[str, list[str]] = {}

    @property
    def down(self) -> bool:
        return self.cause is not None

    def record(self, kind: str, what: str, exc: BaseException | None = None) -> None:
        """``what`` (of ``kind``) was not logged; the first of each kind is a warning."""
        with self._lock:
            if exc is not None and self.cause is None:
                self.cause = _root_cause(exc)
            first = kind not in self.not_logged
            self.not_logged.setdefault(kind, []).append(what)
        if first:
            logger.warning(
                "MLflow tracking server %s is unreachable (%s): %s not logged (%s), nor any later "
                "%s of this run. The run goes on and its local files are still written.",
                mlflow.get_tracking_uri(), self.cause, kind, what, kind,
            )  # fmt: skip
        else:
            logger.debug("MLflow unreachable: %s not logged (%s)", kind, what)

    def call(self, kind: str, what: str, action: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:  # fmt: skip
        """``action(*args, **kwargs)``, or None when the server is (or turns out to be) unreachable."""
        if self.down:
            self.record(kind, what)
            return None
        try:
            return action(*args, **kwargs)
        except Exception as exc:
            if not is_server_unreachable(exc):
                raise
            self.record(kind, what, exc)
            return None

    def summary(self) -> str:
        return "; ".join(
            f"{kind} ({len(items)}): {', '.join(items)}" for kind, items in self.not_logged.items()
        )


#: The process's tracking state, shared by the hook, the datasets, the tracker and packaging.
OUTAGE = TrackingOutage()


@contextlib.contextmanager
def _fail_fast() -> Iterator[None]:
    """One attempt, short timeout: for closing a run on a server already known to be unreachable."""
    names = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class TolerantMlflowHook(MlflowHook):
    """kedro-mlflow's hook (registered in settings.py instead of the plugin's own instance) whose
    MLflow calls during and after the run follow :data:`OUTAGE`'s policy."""

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        OUTAGE.reset()
        super().before_pipeline_run(run_params, pipeline, catalog)  # must reach the server

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        OUTAGE.call(
            "parameters", f"node {node.name}", super().before_node_run, node, catalog, inputs, is_async
        )  # fmt: skip

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        if OUTAGE.down and self._is_mlflow_enabled:
            self._close_run_locally(RunStatus.to_string(RunStatus.FINISHED))
        else:
            OUTAGE.call(
                "run status", self._left_running(),
                super().after_pipeline_run, run_params, pipeline, catalog,
            )  # fmt: skip
        if OUTAGE.down:
            logger.info(
                "MLflow run %s is incomplete; not logged: %s", self.run_id, OUTAGE.summary()
            )

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        # An unreachable server must not replace the pipeline's own error.
        if OUTAGE.down and self._is_mlflow_enabled:
            self._close_run_locally(RunStatus.to_string(RunStatus.FAILED))
        else:
            OUTAGE.call(
                "run status", self._left_running(),
                super().on_pipeline_error, error, run_params, pipeline, catalog,
            )  # fmt: skip

    def _left_running(self) -> str:
        return f"the end of run {self.run_id}, left RUNNING on the server"

    def _close_run_locally(self, status: str) -> None:
        """End this process's active runs; the server is tried once, without retries."""
        if self._already_active_mlflow:
            return  # kedro-mlflow leaves a run it did not open alone
        with _fail_fast():
            while mlflow.active_run():
                try:
                    mlflow.end_run(status)  # pops the run before it calls the server
                except Exception as exc:
                    if not is_server_unreachable(exc):
                        raise
                    OUTAGE.record("run status", self._left_running(), exc)
