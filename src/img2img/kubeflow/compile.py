"""A registered Kedro pipeline as a KFP v2 pipeline: one container task per node."""

# No `from __future__ import annotations`: KFP reads the component and pipeline functions'
# annotations as types.
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.pipeline import Pipeline
from kfp import compiler, dsl, kubernetes

from img2img.kubeflow.config import (
    KubeflowConfigError,
    KubeflowSettings,
    load_project,
    settings_from_dict,
)
from img2img.kubeflow.graph import KedroGraph, KedroTask, check_cross_pod_datasets, pipeline_graph

KEDRO_COMMAND = ["kedro", "run"]
RUN_NAME_ENV = "IMG2IMG_MLFLOW_RUN_NAME"  # conf/kubeflow/mlflow.yml names each task's MLflow run


@dataclass(frozen=True)
class CompiledPipeline:
    path: Path
    kfp_name: str
    graph: KedroGraph
    cached: frozenset[str]  # task names with caching on
    gpu_tasks: frozenset[str]


def kedro_args(pipeline_name: str, node_name: str, env: str) -> list[str]:
    """Arguments of ``kedro run`` for one node (the container's command is ``kedro run``)."""
    return ["--pipelines", pipeline_name, "--nodes", node_name, "--env", env]


def kfp_pipeline_name(template: str, pipeline_name: str) -> str:
    name = template.format(pipeline=pipeline_name)
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", name.lower())).strip("-")


def cached_node_names(pipelines: dict[str, Pipeline], settings: KubeflowSettings) -> set[str]:
    """Nodes of the registered pipelines listed in ``cached_pipelines``."""
    names = set()
    for pipe in settings.cached_pipelines:
        if pipe not in pipelines:
            raise KubeflowConfigError(
                f"kubeflow.yml: cached_pipelines names '{pipe}', which is not a registered "
                f"pipeline ({', '.join(sorted(pipelines))})"
            )
        names |= {node.name for node in pipelines[pipe].nodes}
    return names


def _node_component(task: KedroTask, image: str, args: list[str], takes_data_version: bool):
    """A container component named after the task, with the node's ``kedro run`` baked in."""
    if takes_data_version:
        # Unused by the container: the value only enters KFP's cache key, so a new data version
        # re-runs the cached tasks.
        def component(data_version: str):
            return dsl.ContainerSpec(image=image, command=KEDRO_COMMAND, args=args)
    else:

        def component():
            return dsl.ContainerSpec(image=image, command=KEDRO_COMMAND, args=args)

    # KFP derives the component (and task) name from the function name: `a_b` -> `a-b`.
    component.__name__ = component.__qualname__ = task.name.replace("-", "_")
    component.__doc__ = f"Kedro node '{task.node_name}': kedro run {' '.join(args)}"
    return dsl.container_component(component)


def _configure_task(
    task: dsl.PipelineTask,
    kedro_task: KedroTask,
    settings: KubeflowSettings,
    kedro_pipeline: str,
    cached: bool,
    gpu: bool,
) -> None:
    options = settings.task(kedro_task.node_name)
    task.set_display_name(kedro_task.node_name)
    if options.cpu_request:
        task.set_cpu_request(options.cpu_request)
    if options.cpu_limit:
        task.set_cpu_limit(options.cpu_limit)
    if options.memory_request:
        task.set_memory_request(options.memory_request)
    if options.memory_limit:
        task.set_memory_limit(options.memory_limit)
    if options.retries:
        task.set_retry(num_retries=options.retries, backoff_duration=options.backoff_duration)
    task.set_caching_options(cached)
    for name, value in settings.env.items():
        task.set_env_variable(name, value)
    task.set_env_variable(RUN_NAME_ENV, f"{kedro_pipeline}.{kedro_task.node_name}")
    for secret, key_to_env in settings.secret_env.items():
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env=key_to_env)
    kubernetes.mount_pvc(task, pvc_name=settings.pvc_name, mount_path=settings.mount_path)
    if gpu:
        task.set_accelerator_type(settings.gpu.type)
        task.set_accelerator_limit(settings.gpu.count)
        for key, value in settings.gpu.node_selector.items():
            kubernetes.add_node_selector(task, label_key=key, label_value=value)
        for toleration in settings.gpu.tolerations:
            kubernetes.add_toleration(task, **toleration)
        if settings.gpu.shm_size_limit:
            kubernetes.empty_dir_mount(
                task, volume_name="dshm", mount_path="/dev/shm", medium="Memory",
                size_limit=settings.gpu.shm_size_limit,
            )  # fmt: skip


def task_options(
    graph: KedroGraph, settings: KubeflowSettings, cached_nodes: Iterable[str] = ()
) -> dict[str, tuple[bool, bool]]:
    """Task name -> (caching on, requests GPUs).

    Caching: the node's ``tasks.<node>.caching`` when set, else on for ``cached_nodes``.
    """
    cached_nodes = set(cached_nodes)
    options = {}
    for t in graph.tasks:
        caching = settings.task(t.node_name).caching
        options[t.name] = (
            caching if caching is not None else t.node_name in cached_nodes,
            t.node_name in settings.gpu.nodes and settings.gpu.count > 0,
        )
    return options


def build_kfp_pipeline(
    pipeline: Pipeline,
    *,
    pipeline_name: str,
    env: str,
    image: str,
    settings: KubeflowSettings,
    cached_nodes: Iterable[str] = (),
):
    """The KFP pipeline (a ``dsl.pipeline`` graph component) for a Kedro pipeline.

    One task per node, running ``kedro run --pipelines pipeline_name --nodes <node> --env env``
    in ``image``; ``.after()`` edges exactly where a node consumes another node's output. Every
    task mounts the shared volume; GPU nodes (``settings.gpu.nodes``) request accelerators.
    Cached tasks take the pipeline parameter ``data_version`` (only part of the cache key).
    """
    graph = pipeline_graph(pipeline)
    options = task_options(graph, settings, cached_nodes)
    components = {
        t.name: _node_component(
            t, image, kedro_args(pipeline_name, t.node_name, env), options[t.name][0]
        )
        for t in graph.tasks
    }

    @dsl.pipeline(
        name=kfp_pipeline_name(settings.pipeline_name, pipeline_name),
        description=f"Kedro pipeline '{pipeline_name}' (env '{env}'), one task per node.",
    )
    def kfp_pipeline(data_version: str = "unversioned"):
        tasks: dict[str, dsl.PipelineTask] = {}
        for kedro_task in graph.tasks:  # topological: upstream tasks exist already
            cached, gpu = options[kedro_task.name]
            component = components[kedro_task.name]
            task = component(data_version=data_version) if cached else component()
            if task.name != kedro_task.name:  # pragma: no cover - KFP renamed it
                raise RuntimeError(f"KFP named task {kedro_task.name!r} {task.name!r}")
            _configure_task(task, kedro_task, settings, pipeline_name, cached, gpu)
            upstream = graph.upstream(kedro_task.name)
            if upstream:
                task.after(*(tasks[name] for name in upstream))
            tasks[kedro_task.name] = task

    return kfp_pipeline


def compile_pipeline(
    project_path: Path,
    pipeline_name: str,
    env: str,
    output: Path,
    *,
    image: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> CompiledPipeline:
    """Load the project with ``env``, check it can run pod by pod, write the KFP v2 YAML."""
    project = load_project(project_path, env)
    raw = dict(project.kubeflow)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            raw[key] = {**(raw.get(key) or {}), **value}
        else:
            raw[key] = value
    settings = settings_from_dict(raw)
    image = image or settings.image
    if not image:
        raise KubeflowConfigError("no container image: pass --image or set `image` in kubeflow.yml")
    if pipeline_name not in project.pipelines:
        raise KubeflowConfigError(
            f"'{pipeline_name}' is not a registered pipeline "
            f"({', '.join(sorted(project.pipelines))})"
        )
    pipeline = project.pipelines[pipeline_name]
    check_cross_pod_datasets(pipeline, project.catalog, settings.shared_dirs)
    cached_nodes = cached_node_names(project.pipelines, settings)
    kfp_pipeline = build_kfp_pipeline(
        pipeline,
        pipeline_name=pipeline_name,
        env=env,
        image=image,
        settings=settings,
        cached_nodes=cached_nodes,
    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline_func=kfp_pipeline, package_path=str(output))
    graph = pipeline_graph(pipeline)
    options = task_options(graph, settings, cached_nodes)
    return CompiledPipeline(
        path=output,
        kfp_name=kfp_pipeline_name(settings.pipeline_name, pipeline_name),
        graph=graph,
        cached=frozenset(name for name, (cached, _) in options.items() if cached),
        gpu_tasks=frozenset(name for name, (_, gpu) in options.items() if gpu),
    )
