"""Retraining over time, as a scheduler drives it (CI-sized, conf/ci, through KedroSession): switch
dataset, grow it, warm-start from the champion, a weaker model, a model below the baselines; and
caches of two data_processing runs (what a kill -9 while writing them leaves) are refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from img2img.gan.artifact import GeneratorArtifact
from img2img.ingest.caches import MixedCachesError
from img2img.ingest.synthetic import render_facade_pair
from tests.conftest import save_image
from tests.kedro_project import run_pipelines

MODEL = "img2img-generator"


def add_facades(project, start: int, count: int) -> None:
    """AB files (label map | photo) in data/01_raw/mine, as a user brings their own data."""
    for index in range(start, start + count):
        label, photo = render_facade_pair(7, index, 64)
        save_image(project / "data" / "01_raw" / "mine" / f"f{index:03d}.png",
                   np.concatenate([label, photo], axis=1))  # fmt: skip


def mine(**training) -> dict:
    params = {"data_processing": {"source": {"kind": "aligned", "dataset_dir": "mine"}}}
    return {**params, "training": training} if training else params


def outputs(project, catalog) -> tuple[GeneratorArtifact, pd.DataFrame, dict, dict, str]:
    reporting = project / "data" / "08_reporting"
    return (
        catalog.load("generator"),
        pd.read_csv(reporting / "training_history.csv"),
        json.loads((reporting / "gate_comparison.json").read_text()),
        json.loads((reporting / "registry_decision.json").read_text()),
        (reporting / "model_card.md").read_text(),
    )


def same_weights(a: GeneratorArtifact, b: GeneratorArtifact) -> bool:
    return all(torch.equal(a.state_dict[name], value) for name, value in b.state_dict.items())


@pytest.mark.slow
def test_switch_dataset_grow_it_warm_start_and_the_gate(project, mlflow_uri):
    # Data v0: the built-in synthetic facades -> the first champion.
    catalog = run_pipelines(project, ["train"])
    v0, _, _, decision, _ = outputs(project, catalog)
    assert decision["alias"] == "champion" and decision["version"] == "1"

    # Switch to the user's dataset: trained from the first epoch on it (the finished checkpoint of
    # v0 is set aside, not resumed), and the card credits the data the weights saw.
    add_facades(project, 0, 120)
    catalog = run_pipelines(project, ["train"], runtime_params=mine())
    v1, history, comparison, decision, card = outputs(project, catalog)
    train = catalog.load("train_tensors")
    assert list(history["epoch"]) == [1, 2] and set(history["train_pairs"]) == {len(train)}
    assert not same_weights(v1, v0)
    assert v1.lineage.data == train.data and v1.lineage.data.dataset == "data/01_raw/mine"
    assert v1.lineage.init.kind == "scratch" and "another dataset" in v1.lineage.init.note
    assert "`data/01_raw/mine`" in card and train.data.generation in card
    assert (project / "data" / "06_models" / "checkpoints-set-aside" / "set-aside-1.pt").is_file()
    # The gate re-scored champion v1 (trained on the synthetic facades) on mine's test images.
    test = catalog.load("test_tensors")
    assert comparison["champion_version"] == "1" and comparison["champion_status"] == "scored"
    assert comparison["eval_set"] == {"split": "test", "fingerprint": test.fingerprint,
                                      "n_images": len(test), "image_size": 32}  # fmt: skip
    assert (
        len(test) >= 10
        and comparison["differences"]["ssim"]["low"] <= comparison["differences"]["ssim"]["high"]
    )
    assert decision["champion_version"] == "1" and decision["eval_set"] == comparison["eval_set"]
    champion_version = str(
        MlflowClient(tracking_uri=mlflow_uri).get_model_version_by_alias(MODEL, "champion").version
    )

    # Grow the dataset (new pairs in the raw folder) and retrain from the champion: the warm-start
    # schedule, every configured epoch trained on v2's pair count, weights differ, lineage says so.
    add_facades(project, 120, 30)
    catalog = run_pipelines(project, ["train"], runtime_params=mine(init_from="champion"))
    v2, history, comparison, decision, card = outputs(project, catalog)
    train, test = catalog.load("train_tensors"), catalog.load("test_tensors")
    assert len(train) > v1.lineage.data.pairs["train"] and train.data.pairs["train"] == len(train)
    assert list(history["epoch"]) == [1, 2] and set(history["train_pairs"]) == {len(train)}
    assert not same_weights(v2, v1)
    assert v2.lineage.init.kind == "champion"
    assert v2.lineage.init.reference == f"models:/{MODEL}/{champion_version}"
    assert v2.lineage.init.discriminator and v2.lineage.init.trained_on
    assert f"champion models:/{MODEL}/{champion_version}" in card
    assert comparison["eval_set"]["fingerprint"] == test.fingerprint
    assert comparison["eval_set"]["n_images"] == len(test) == decision["eval_set"]["n_images"]
    assert comparison["champion_version"] == champion_version
    for name in ("ssim", "kid_mean"):
        assert (
            comparison["candidate"][name] is not None and comparison["champion"][name] is not None
        )
    assert decision["candidate_value"] is not None and decision["champion_value"] is not None
    tags = MlflowClient(tracking_uri=mlflow_uri).get_model_version(MODEL, decision["version"]).tags
    assert tags["lineage.init"].startswith(f"champion models:/{MODEL}/{champion_version}")
    assert tags["lineage.train_pairs"] == str(len(train))

    # A deliberately weaker configuration on the same data: never better beyond noise.
    weak = mine(optimizer={"lr": 1e-9}, seed=5)
    catalog = run_pipelines(project, ["train"], runtime_params=weak)
    *_, decision, _ = outputs(project, catalog)
    assert (
        decision["alias"] == "challenger" and "not better than the champion" in decision["reason"]
    )

    # A model below the trivial baselines is not crowned, even with no champion to beat.
    strict = {
        **weak,
        "packaging": {"model_name": "fresh-name", "gate": {"must_beat_baselines": ["ssim"]}},
    }
    catalog = run_pipelines(project, ["train"], runtime_params=strict)
    *_, comparison, decision, card = outputs(project, catalog)
    assert comparison["champion"] is None and decision["alias"] == "challenger"
    assert "does not beat the trivial baselines" in decision["reason"]
    assert "mean_training_target" in decision["reason"] and "**challenger**" in card


def test_caches_of_two_data_processing_runs_are_refused(project):
    run_pipelines(project, ["data_processing", "training"])
    generator = (project / "data" / "06_models" / "generator.pt").read_bytes()
    inputs = project / "data" / "05_model_input"
    shutil.copytree(inputs / "val_tensors", project / "old_val")
    other = {"data_processing": {"source": {"synthetic": {"seed": 1}}}}
    run_pipelines(project, ["data_processing"], runtime_params=other)
    # What a kill -9 between the saves of one run leaves: a new train cache next to an old val one.
    shutil.rmtree(inputs / "val_tensors")
    shutil.move(project / "old_val", inputs / "val_tensors")
    for pipeline in ("training", "evaluation"):
        with pytest.raises(
            MixedCachesError, match=r"different data_processing runs.*Re-run data_processing"
        ):
            run_pipelines(project, [pipeline], runtime_params=other)
    assert (project / "data" / "06_models" / "generator.pt").read_bytes() == generator
