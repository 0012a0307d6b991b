"""Fail before work: a run's parameter blocks are all checked before its first node."""

from __future__ import annotations

import mlflow
import pytest

from img2img.config import ParameterError
from img2img.preflight import VALIDATORS, blocks_read, validate_blocks
from img2img.project_config import config_loader
from tests.kedro_project import make_project_copy, run_pipelines


def test_blocks_are_read_from_node_inputs():
    inputs = ["raw_images", "params:training", "params:packaging.model_name", "params:evaluation"]
    assert blocks_read(inputs) == ["evaluation", "packaging", "training"]
    assert blocks_read(["parameters"]) == sorted(VALIDATORS)
    assert blocks_read(["generator"]) == []


@pytest.mark.parametrize("env", ["base", "local", "ci", "gpu", "kubeflow"])
def test_every_shipped_environment_passes(env, project_root):
    parameters = config_loader(project_root, env)["parameters"]
    validate_blocks(parameters, VALIDATORS)  # raises on any bad value


def test_training_load_size_null_means_the_preprocessed_size():
    parameters = {"data_processing": {"preprocess": {"load_size": 64}},
                  "training": {"load_size": None, "crop_size": 128}}  # fmt: skip
    with pytest.raises(ParameterError, match=r"training\.crop_size \(128\) must be <= .*\(64\)"):
        validate_blocks(parameters, ["training"])
    parameters["training"]["crop_size"] = 64
    validate_blocks(parameters, ["training"])


def test_blocks_the_run_does_not_read_are_not_checked():
    validate_blocks({"training": {"batch_size": 0}}, ["evaluation", "packaging"])
    validate_blocks({"unknown_block": {"x": 1}}, ["unknown_block"])


def test_a_bad_run_stops_before_its_first_node_naming_every_problem(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path / "project")
    monkeypatch.chdir(project)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    bad = {"evaluation": {"split": "bogus"}, "training": {"batch_size": 0, "colour": "red"},
           "packaging": {"gate": {"margin": -1}}}  # fmt: skip
    with pytest.raises(ParameterError) as error:
        run_pipelines(project, ["train"], runtime_params=bad)
    message = str(error.value)
    assert "nothing was run" in message and len(error.value.problems) == 4
    for name in ("evaluation.split", "training.batch_size", "training: unknown key(s) ['colour']",
                 "packaging.gate.margin"):  # fmt: skip
        assert name in message
    written = [p for p in (project / "data").rglob("*") if p.is_file()]
    assert written == []  # not even data processing ran
    experiment = mlflow.MlflowClient(uri).get_experiment_by_name("img2img")
    assert (
        experiment is None or mlflow.MlflowClient(uri).search_runs([experiment.experiment_id]) == []
    )
