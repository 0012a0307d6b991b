"""Kedro pipelines on Kubeflow Pipelines (KFP v2 SDK): one container task per Kedro node.

Plain functions; ``img2img kubeflow compile|schedule`` (``img2img.cli``) is a thin wrapper.
"""

from img2img.kubeflow.compile import (
    CompiledPipeline,
    build_kfp_pipeline,
    compile_pipeline,
    kedro_args,
)
from img2img.kubeflow.config import (
    KubeflowConfigError,
    KubeflowSettings,
    load_project,
    settings_from_dict,
)
from img2img.kubeflow.graph import (
    CrossPodDatasetError,
    KedroGraph,
    KedroTask,
    check_cross_pod_datasets,
    pipeline_graph,
    sanitise_name,
    task_names,
)
from img2img.kubeflow.schedule import ScheduleError, kfp_cron, schedule_recurring_run

__all__ = [
    "CompiledPipeline",
    "CrossPodDatasetError",
    "KedroGraph",
    "KedroTask",
    "KubeflowConfigError",
    "KubeflowSettings",
    "ScheduleError",
    "build_kfp_pipeline",
    "check_cross_pod_datasets",
    "compile_pipeline",
    "kedro_args",
    "kfp_cron",
    "load_project",
    "pipeline_graph",
    "sanitise_name",
    "schedule_recurring_run",
    "settings_from_dict",
    "task_names",
]
