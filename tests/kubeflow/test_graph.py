"""Graph, names and the cross-pod check on small synthetic Kedro pipelines."""

from __future__ import annotations

import re

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pickle import PickleDataset
from kfp import compiler

from img2img.kubeflow import (
    CrossPodDatasetError,
    build_kfp_pipeline,
    check_cross_pod_datasets,
    pipeline_graph,
    sanitise_name,
    settings_from_dict,
    task_names,
)
from img2img.kubeflow.config import KubeflowConfigError
from tests.kubeflow.conftest import read_package


def identity(*args):
    return args[0] if len(args) == 1 else args


def tiny_pipeline() -> Pipeline:
    return Pipeline(
        [
            Node(identity, ["raw", "params:a"], "features", name="make_features"),
            Node(identity, ["features", "params:a"], "model", name="fit_model"),
            Node(identity, ["model", "features"], "report", name="report"),
        ]
    )


def test_memory_dataset_crossing_pods_is_an_error_naming_it_and_its_nodes(tmp_path):
    catalog = DataCatalog(
        datasets={
            "raw": PickleDataset(filepath=str(tmp_path / "raw.pkl")),
            "features": MemoryDataset(),
            "model": PickleDataset(filepath=str(tmp_path / "model.pkl")),
        }
    )
    with pytest.raises(CrossPodDatasetError) as error:
        check_cross_pod_datasets(tiny_pipeline(), catalog, shared_dirs=[str(tmp_path)])
    message = str(error.value)
    assert "'features' is a MemoryDataset" in message
    assert "'make_features'" in message and "'fit_model'" in message and "'report'" in message
    assert "'model'" not in message  # persisted where every pod sees it
    assert "'raw'" not in message  # read by one node only
    assert "'report' is not in the catalog" not in message  # a final output may stay in memory


def test_dataset_absent_from_the_catalog_and_local_files_off_the_volume_are_errors(tmp_path):
    catalog = DataCatalog.from_config(
        {
            "features": {"type": "pickle.PickleDataset", "filepath": "data/02_intermediate/f.pkl"},
            "raw": {"type": "pickle.PickleDataset", "filepath": "/elsewhere/raw.pkl"},
        }
    )
    with pytest.raises(CrossPodDatasetError) as error:
        check_cross_pod_datasets(tiny_pipeline(), catalog, shared_dirs=["data"])
    message = str(error.value)
    assert "'model' is not in the catalog" in message and "'fit_model'" in message
    assert "features" not in message.split("'model'")[0]  # data/... is on the shared volume
    assert "/elsewhere" not in message  # raw is read, never passed between two nodes
    catalog = DataCatalog.from_config(
        {
            "features": {"type": "pickle.PickleDataset", "filepath": "/tmp/f.pkl"},
            "model": {"type": "pickle.PickleDataset", "filepath": "s3://bucket/model.pkl"},
        }
    )
    with pytest.raises(CrossPodDatasetError, match=r"'features' is stored at /tmp/f.pkl"):
        check_cross_pod_datasets(tiny_pipeline(), catalog, shared_dirs=["data", "/app/data"])


def test_graph_edges_follow_datasets_not_parameters():
    graph = pipeline_graph(tiny_pipeline())
    assert [t.node_name for t in graph.tasks] == ["make_features", "fit_model", "report"]
    assert graph.edges == {
        ("make-features", "fit-model"),
        ("make-features", "report"),
        ("fit-model", "report"),
    }
    assert graph.upstream("report") == ["fit-model", "make-features"]


def test_names_are_sanitised_valid_and_unique():
    assert sanitise_name("data_processing.pair_images") == "data-processing-pair-images"
    assert sanitise_name("Train GAN!") == "train-gan"
    assert sanitise_name("2nd_step") == "node-2nd-step"
    assert sanitise_name("___") == "node"
    long = sanitise_name("x" * 100)
    assert len(long) <= 40 and long != sanitise_name("x" * 99)
    mapping = task_names(["a_b", "a.b", "A-B", "a b", "identity([x,y]) -> [z]"])
    assert len(set(mapping.values())) == 5
    assert sorted(mapping.values()) == ["a-b", "a-b-2", "a-b-3", "a-b-4", "identity-x-y-z"]
    for name in mapping.values():
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name)


def test_clashing_node_names_compile_to_distinct_tasks(tmp_path):
    pipeline = Pipeline(
        [
            Node(identity, "a", "b", name="step_one"),
            Node(identity, "b", "c", name="step.one"),
            Node(identity, "c", "d"),  # Kedro's default name: identity([c]) -> [d]
        ]
    )
    settings = settings_from_dict(
        {"gpu": {"nodes": ["step.one"], "count": 2, "type": "NVIDIA_TESLA_T4"}}
    )
    kfp_pipeline = build_kfp_pipeline(
        pipeline, pipeline_name="p", env="kubeflow", image="img", settings=settings,
        cached_nodes={"step_one"},
    )  # fmt: skip
    compiler.Compiler().compile(kfp_pipeline, str(tmp_path / "p.yaml"))
    spec, _ = read_package(tmp_path / "p.yaml")
    tasks = spec["root"]["dag"]["tasks"]
    assert {t["taskInfo"]["name"] for t in tasks.values()} == {n.name for n in pipeline.nodes}
    names = {t["taskInfo"]["name"]: name for name, t in tasks.items()}
    assert tasks[names["step.one"]]["dependentTasks"] == [names["step_one"]]
    default_node = next(n.name for n in pipeline.nodes if n.name.startswith("identity"))
    label = spec["components"][tasks[names[default_node]]["componentRef"]["name"]]["executorLabel"]
    assert spec["deploymentSpec"]["executors"][label]["container"]["args"][3] == default_node
    gpu_label = spec["components"][tasks[names["step.one"]]["componentRef"]["name"]][
        "executorLabel"
    ]
    accelerator = spec["deploymentSpec"]["executors"][gpu_label]["container"]["resources"][
        "accelerator"
    ]
    assert accelerator["resourceType"] == "NVIDIA_TESLA_T4" and accelerator["resourceCount"] == "2"


def test_settings_reject_unknown_keys_and_bad_values():
    with pytest.raises(KubeflowConfigError, match=r"unknown key 'gpu\.cuont'"):
        settings_from_dict({"gpu": {"cuont": 1}})
    with pytest.raises(KubeflowConfigError, match=r"tasks\.train_gan"):
        settings_from_dict({"tasks": {"train_gan": {"gpus": 1}}})
    with pytest.raises(KubeflowConfigError, match="retries"):
        settings_from_dict({"task_defaults": {"retries": -1}})
    settings = settings_from_dict({"tasks": {"other": {"cpu_request": 2}}})
    assert settings.task("other").cpu_request == "2"
    assert settings.task("train_gan").retries == 3  # the built-in default survives
    assert settings.shared_dirs == ("data", "/app/data")


def test_environment_variables_and_secrets_reach_every_task(tmp_path):
    settings = settings_from_dict(
        {
            "env": {"MLFLOW_TRACKING_URI": "http://mlflow:5000"},
            "secret_env": {"mlflow-credentials": {"password": "MLFLOW_TRACKING_PASSWORD"}},
            "shared_volume": {"pvc_name": "vol", "mount_path": "/srv/project/data"},
            "project_root": "/srv/project",
        }
    )
    assert settings.shared_dirs == ("data", "/srv/project/data")
    kfp_pipeline = build_kfp_pipeline(
        tiny_pipeline(), pipeline_name="tiny", env="kubeflow", image="img", settings=settings
    )
    compiler.Compiler().compile(kfp_pipeline, str(tmp_path / "p.yaml"))
    spec, platform = read_package(tmp_path / "p.yaml")
    for label, executor in spec["deploymentSpec"]["executors"].items():
        env = {e["name"]: e["value"] for e in executor["container"]["env"]}
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        k8s = platform["deploymentSpec"]["executors"][label]
        assert k8s["secretAsEnv"][0]["keyToEnv"] == [
            {"envVar": "MLFLOW_TRACKING_PASSWORD", "secretKey": "password"}
        ]
        assert k8s["pvcMount"][0]["mountPath"] == "/srv/project/data"
    assert all(
        not t.get("cachingOptions", {}).get("enableCache")
        for t in spec["root"]["dag"]["tasks"].values()
    )
