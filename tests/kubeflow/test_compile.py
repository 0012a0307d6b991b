"""The compiled KFP v2 YAML of the project's pipelines: tasks, edges, containers, resources."""

from __future__ import annotations

import re

import pytest

from tests.kubeflow.conftest import IMAGE

PIPELINES = ["train", "__default__"]


def kedro_edges(pipeline) -> set[tuple[str, str]]:
    """(producer, consumer) node names, computed from the nodes' inputs and outputs."""
    edges = set()
    for producer in pipeline.nodes:
        for consumer in pipeline.nodes:
            shared = set(producer.outputs) & set(consumer.inputs)
            if any(not (d.startswith("params:") or d == "parameters") for d in shared):
                edges.add((producer.name, consumer.name))
    return edges


def tasks_by_node(spec) -> dict[str, tuple[str, dict]]:
    """Kedro node name (the task's display name) -> (task name, task)."""
    return {
        task["taskInfo"]["name"]: (name, task)
        for name, task in spec["root"]["dag"]["tasks"].items()
    }


def executor(spec, task) -> dict:
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]


@pytest.mark.parametrize("name", PIPELINES)
def test_one_task_per_node_and_edges_are_exactly_the_dataset_dependencies(
    name, compiled, registered_pipelines
):
    spec, _ = compiled[name]
    pipeline = registered_pipelines[name]
    by_node = tasks_by_node(spec)
    assert set(by_node) == {node.name for node in pipeline.nodes}
    assert len(spec["root"]["dag"]["tasks"]) == len(pipeline.nodes)
    task_to_node = {task_name: node for node, (task_name, _) in by_node.items()}
    compiled_edges = {
        (task_to_node[parent], node)
        for node, (_, task) in by_node.items()
        for parent in task.get("dependentTasks", [])
    }
    assert compiled_edges == kedro_edges(pipeline)
    assert ("pair_images", "split_pairs") in compiled_edges
    assert ("train_gan", "register_generator") in compiled_edges
    for task_name in task_to_node:  # valid Kubernetes/KFP names
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", task_name) and len(task_name) <= 63


@pytest.mark.parametrize("name", PIPELINES)
def test_each_container_runs_its_node_with_env_kubeflow(name, compiled):
    spec, _ = compiled[name]
    for node, (_, task) in tasks_by_node(spec).items():
        container = executor(spec, task)["container"]
        assert container["image"] == IMAGE
        assert container["command"] == ["kedro", "run"]
        assert container["args"] == ["--pipelines", name, "--nodes", node, "--env", "kubeflow"]
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        assert env["IMG2IMG_MLFLOW_RUN_NAME"] == f"{name}.{node}"


def test_training_task_requests_a_gpu_resources_and_retries(compiled):
    spec, platform = compiled["train"]
    by_node = tasks_by_node(spec)
    train_name, train = by_node["train_gan"]
    resources = executor(spec, train)["container"]["resources"]
    assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert resources["accelerator"]["resourceCount"] == "1"
    assert resources["resourceCpuRequest"] == "4"
    assert resources["resourceMemoryRequest"] == "16Gi"
    assert train["retryPolicy"]["maxRetryCount"] == 3
    assert train["retryPolicy"]["backoffDuration"] == "120s"
    k8s = platform["deploymentSpec"]["executors"][f"exec-{train_name}"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in k8s[
        "tolerations"
    ]
    assert any(m["mountPath"] == "/dev/shm" for m in k8s["emptyDirMounts"])
    for node, (_, task) in by_node.items():
        if node != "train_gan":
            assert "accelerator" not in executor(spec, task)["container"].get("resources", {})
        assert task["retryPolicy"]["maxRetryCount"] >= 1, node


def test_caching_is_on_for_data_processing_only(compiled, registered_pipelines):
    spec, _ = compiled["train"]
    data_processing = {node.name for node in registered_pipelines["data_processing"].nodes}
    for node, (_, task) in tasks_by_node(spec).items():
        enabled = task.get("cachingOptions", {}).get("enableCache", False)
        assert enabled == (node in data_processing), node
        # cached tasks take `data_version`, so a new value invalidates their cache entries
        assert ("inputs" in task) == (node in data_processing), node
    assert spec["root"]["inputDefinitions"]["parameters"]["data_version"]["defaultValue"]


def test_every_task_mounts_the_shared_data_volume_at_the_project_data_folder(compiled):
    spec, platform = compiled["train"]
    executors = platform["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    for config in executors.values():
        assert config["pvcMount"] == [
            {
                "constant": "img2img-data",
                "mountPath": "/app/data",
                "pvcNameParameter": {"runtimeValue": {"constant": "img2img-data"}},
            }
        ]
