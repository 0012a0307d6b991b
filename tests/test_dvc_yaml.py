"""dvc.yaml tells DVC the truth: every Kedro stage depends on all the code its nodes run, the
parameters they read and the files they load, and declares every file they write."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from tests.import_graph import closure, module_files
from tests.kedro_project import PROJECT_ROOT

DVC = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
CATALOG = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())
KEDRO_STAGES = {name: stage for name, stage in DVC["stages"].items() if "kedro run" in stage["cmd"]}
# Read and written by the stage itself across runs, never an input from another stage.
PERSISTENT = {"training_checkpoints": "data/06_models/checkpoints", "fid_cache": None}


def _pipeline(stage: dict):
    name = stage["cmd"].split("--pipelines=")[1].split()[0]
    return importlib.import_module(f"img2img.pipelines.{name}.pipeline").create_pipeline()


def _entry(dataset: str) -> dict | None:
    if dataset in CATALOG:
        return CATALOG[dataset]
    if dataset.endswith("_tensors"):  # the "{split}_tensors" pattern
        entry = CATALOG["{split}_tensors"]
        return {**entry, "path": entry["path"].replace("{split}", dataset.removesuffix("_tensors"))}
    return None


def _types(entry: dict) -> list[str]:
    inner = entry.get("dataset")
    return [entry["type"], *(_types(inner) if isinstance(inner, dict) else [])]


def _location(entry: dict) -> str | None:
    inner = entry.get("dataset")
    if isinstance(inner, dict):
        return _location(inner)
    return entry.get("filepath") or entry.get("path")


def _covered(path: str, declared: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def _names(items: list) -> list[str]:
    return [next(iter(item)) if isinstance(item, dict) else item for item in items]


@pytest.mark.parametrize("stage_name", sorted(KEDRO_STAGES))
def test_stage_depends_on_every_module_its_nodes_and_datasets_run(stage_name):
    stage = KEDRO_STAGES[stage_name]
    pipeline = _pipeline(stage)
    roots = {node.func.__module__ for node in pipeline.nodes}
    for dataset in pipeline.datasets():
        entry = _entry(dataset)
        for type_name in _types(entry) if entry else []:
            if type_name.startswith("img2img."):
                module, _, cls = type_name.rpartition(".")
                roots.add(getattr(importlib.import_module(module), cls).__module__)
    files = {str(module_files()[m].relative_to(PROJECT_ROOT)) for m in closure(*roots)}
    missing = sorted(f for f in files if not _covered(f, stage["deps"]))
    assert not missing, f"{stage_name}: dvc.yaml deps miss code its nodes run: {missing}"


@pytest.mark.parametrize("stage_name", sorted(KEDRO_STAGES))
def test_stage_declares_the_parameters_it_reads(stage_name):
    stage = KEDRO_STAGES[stage_name]
    declared = [key for entry in stage["params"] for keys in entry.values() for key in keys]
    read = {i.removeprefix("params:") for i in _pipeline(stage).inputs() if i.startswith("params:")}
    missing = sorted(k for k in read if not any(k == d or k.startswith(f"{d}.") for d in declared))
    assert not missing, f"{stage_name}: parameters read but not declared to DVC: {missing}"
    assert all(list(entry) == ["conf/resolved_parameters.yml"] for entry in stage["params"])


@pytest.mark.parametrize("stage_name", sorted(KEDRO_STAGES))
def test_stage_declares_the_files_it_reads_and_writes(stage_name):
    stage = KEDRO_STAGES[stage_name]
    pipeline = _pipeline(stage)
    written = [
        *_names(stage["outs"]),
        *_names(stage.get("metrics", [])),
        *_names(stage.get("plots", [])),
    ]
    for dataset in pipeline.inputs() - {i for i in pipeline.inputs() if i.startswith("params:")}:
        location = _location(_entry(dataset))
        if dataset not in PERSISTENT:
            assert location and _covered(location, stage["deps"]), (
                f"{stage_name}: {dataset} ({location}) not a dep"
            )
    for dataset in pipeline.outputs():
        location = _location(_entry(dataset) or {})
        if location:  # datasets with a local file (MLflow metrics have none)
            assert _covered(location, written), f"{stage_name}: {dataset} ({location}) not declared"
    if "training_checkpoints" in pipeline.inputs():
        outs = {
            name: spec
            for item in stage["outs"]
            if isinstance(item, dict)
            for name, spec in item.items()
        }
        assert outs[PERSISTENT["training_checkpoints"]] == {"persist": True}


def test_parameters_stage_always_runs_and_writes_the_snapshot_the_stages_read():
    parameters = DVC["stages"]["parameters"]
    assert parameters["always_changed"] is True
    assert _names(parameters["outs"]) == ["conf/resolved_parameters.yml"]
    assert Path(PROJECT_ROOT / "src/img2img/project_config.py").is_file()
