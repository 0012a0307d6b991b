"""Settings of the Kubeflow compilation (``conf/<env>/kubeflow.yml``) and loading the project."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.config import MissingConfigException

from img2img.project_config import config_loader

# Defaults when the chosen environment has no kubeflow.yml; conf/kubeflow/kubeflow.yml spells
# them out with comments.
DEFAULTS: dict[str, Any] = {
    "image": None,
    "pipeline_name": "img2img-{pipeline}",
    "project_root": "/app",  # WORKDIR of the image (see Dockerfile)
    "shared_volume": {"pvc_name": "img2img-data", "mount_path": "/app/data"},
    "env": {},  # environment variables of every task
    "secret_env": {},  # {secret name: {key in the secret: ENV_VAR}}
    "cached_pipelines": ["data_processing"],  # nodes of these registered pipelines are cached
    "task_defaults": {
        "cpu_request": "1",
        "memory_request": "4Gi",
        "cpu_limit": None,
        "memory_limit": None,
        "retries": 1,
        "backoff_duration": "30s",
        "caching": None,  # None: cached iff the node is in `cached_pipelines`
    },
    "tasks": {  # per Kedro node name, over task_defaults
        "train_gan": {
            "cpu_request": "4",
            "memory_request": "16Gi",
            "retries": 3,
            "backoff_duration": "120s",
        }
    },
    "gpu": {
        "nodes": ["train_gan"],
        "count": 1,
        "type": "nvidia.com/gpu",
        "node_selector": {},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "shm_size_limit": "8Gi",  # /dev/shm as a memory-backed emptyDir (PyTorch needs more than 64M)
    },
}
TASK_KEYS = set(DEFAULTS["task_defaults"])
FREE_FORM = ("tasks", "env", "secret_env", "gpu.node_selector")  # keys are names, not settings


class KubeflowConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TaskSettings:
    cpu_request: str | None = None
    memory_request: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None
    retries: int = 0
    backoff_duration: str | None = None
    caching: bool | None = None


@dataclass(frozen=True)
class GpuSettings:
    nodes: tuple[str, ...] = ()
    count: int = 1
    type: str = "nvidia.com/gpu"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    shm_size_limit: str | None = None


@dataclass(frozen=True)
class KubeflowSettings:
    image: str | None
    pipeline_name: str
    project_root: str
    pvc_name: str
    mount_path: str
    env: dict[str, str]
    secret_env: dict[str, dict[str, str]]
    cached_pipelines: tuple[str, ...]
    task_defaults: TaskSettings
    tasks: dict[str, TaskSettings]
    gpu: GpuSettings

    @property
    def shared_dirs(self) -> tuple[str, ...]:
        """Where a dataset must live to be seen by every pod (relative and absolute forms)."""
        mount = PurePosixPath(self.mount_path)
        dirs = [str(mount)]
        if mount.is_relative_to(self.project_root):
            dirs.insert(0, str(mount.relative_to(self.project_root)))
        return tuple(dirs)

    def task(self, node_name: str) -> TaskSettings:
        return self.tasks.get(node_name, self.task_defaults)


def _merge(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base and where not in FREE_FORM:
            raise KubeflowConfigError(
                f"kubeflow.yml: unknown key '{where + '.' if where else ''}{key}'"
            )
        if isinstance(value, dict) and isinstance(base.get(key), dict) and where != "tasks":
            merged[key] = _merge(base[key], value, key if not where else f"{where}.{key}")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _task(values: dict[str, Any], where: str) -> TaskSettings:
    unknown = set(values) - TASK_KEYS
    if unknown:
        raise KubeflowConfigError(f"kubeflow.yml: unknown key(s) {sorted(unknown)} in {where}")
    values = {k: (str(v) if k in TASK_KEYS - {"retries", "caching"} and v is not None else v)
              for k, v in values.items()}  # fmt: skip
    retries = values.get("retries") or 0
    if not isinstance(retries, int) or retries < 0:
        raise KubeflowConfigError(f"kubeflow.yml: {where}.retries must be an integer >= 0")
    return TaskSettings(**{**values, "retries": retries})


def settings_from_dict(raw: dict[str, Any] | None) -> KubeflowSettings:
    """Validate ``kubeflow.yml`` (merged over ``DEFAULTS``); unknown keys are errors."""
    merged = _merge(DEFAULTS, raw or {})
    defaults = merged["task_defaults"]
    tasks = {
        node: _task({**defaults, **(values or {})}, f"tasks.{node}")
        for node, values in merged["tasks"].items()
    }
    gpu = dict(merged["gpu"])
    if not isinstance(gpu["count"], int) or gpu["count"] < 0:
        raise KubeflowConfigError("kubeflow.yml: gpu.count must be an integer >= 0")
    return KubeflowSettings(
        image=merged["image"],
        pipeline_name=str(merged["pipeline_name"]),
        project_root=str(merged["project_root"]),
        pvc_name=str(merged["shared_volume"]["pvc_name"]),
        mount_path=str(merged["shared_volume"]["mount_path"]),
        env={str(k): str(v) for k, v in merged["env"].items()},
        secret_env={
            str(s): {str(k): str(v) for k, v in m.items()} for s, m in merged["secret_env"].items()
        },
        cached_pipelines=tuple(merged["cached_pipelines"]),
        task_defaults=_task(defaults, "task_defaults"),
        tasks=tasks,
        gpu=GpuSettings(
            nodes=tuple(gpu["nodes"]),
            count=gpu["count"],
            type=str(gpu["type"]),
            node_selector={str(k): str(v) for k, v in (gpu["node_selector"] or {}).items()},
            tolerations=tuple(gpu["tolerations"] or ()),
            shm_size_limit=gpu["shm_size_limit"],
        ),
    )


@dataclass
class KedroProject:
    path: Path
    env: str
    pipelines: dict[str, Any]
    catalog: Any
    kubeflow: dict[str, Any] = field(default_factory=dict)


def load_project(project_path: Path, env: str) -> KedroProject:
    """Bootstrap the Kedro project and resolve ``env``'s catalog and ``kubeflow.yml`` offline.

    The config loader and catalog are built as ``KedroContext`` builds them (the project's
    ``settings``), but without a ``KedroSession``: its hooks (kedro-mlflow) would contact the
    tracking server of ``env``, which need not be reachable from where the pipeline is compiled.
    """
    from kedro.framework.project import pipelines, settings

    project_path = Path(project_path).resolve()
    try:
        loader = config_loader(project_path, env)
    except FileNotFoundError as exc:
        raise KubeflowConfigError(str(exc)) from exc
    loader.config_patterns.setdefault("kubeflow", ["kubeflow*", "kubeflow*/**"])
    try:
        credentials = loader["credentials"]
    except MissingConfigException:
        credentials = {}
    catalog = settings.DATA_CATALOG_CLASS.from_config(
        catalog=loader["catalog"], credentials=credentials
    )
    try:
        kubeflow = dict(loader["kubeflow"])
    except MissingConfigException:
        kubeflow = {}
    return KedroProject(project_path, env, dict(pipelines.items()), catalog, kubeflow)
