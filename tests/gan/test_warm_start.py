"""Which saved weights a run starts from: init_from auto / champion / a file, and the fit checks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact, weights_sha256
from img2img.gan.config import TrainConfig
from img2img.gan.discriminators import build_discriminator
from img2img.gan.lineage import Lineage, WeightsOrigin
from img2img.gan.networks import build_generator
from img2img.gan.warm_start import StartingPoint, initial_weights
from img2img.ingest.caches import DataVersion
from img2img.packaging.warm_start import load_starting_point

BASE = {"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}, "discriminator": {"ndf": 4}}


def data(generation_seed: str, dataset: str = "data/01_raw/mine") -> DataVersion:
    fingerprints = {s: f"{generation_seed}-{s}" for s in ("train", "val", "test")}
    return DataVersion.create(fingerprints, {"train": 8, "val": 1, "test": 1}, dataset, "AtoB")


def champion(config: TrainConfig, trained_on: DataVersion, **overrides) -> StartingPoint:
    generator = build_generator(config.generator_architecture())
    discriminator = build_discriminator(config.discriminator_architecture())
    lineage = Lineage(trained_on, "identity", config.recipe_hash())
    artifact = GeneratorArtifact(
        config.generator_architecture(), generator.state_dict(), lineage=lineage
    )
    start = StartingPoint(
        artifact,
        DiscriminatorArtifact(config.discriminator_architecture(), discriminator.state_dict()),
        WeightsOrigin(kind="champion", reference="models:/g/3"),
    )
    return dataclasses.replace(start, **overrides)


def test_auto_warm_starts_a_retraining_on_new_data_only():
    config = TrainConfig.from_params(BASE)  # init_from: auto
    old, new = data("v1"), data("v2")
    start = champion(config, old)
    weights, origin = initial_weights(config, start, new)
    assert weights is not None and origin.kind == "champion" and origin.discriminator
    assert origin.generator_sha256 == weights_sha256(start.generator.state_dict)
    assert origin.trained_on == old.generation
    same_data, why = initial_weights(config, start, old)
    assert same_data is None and "this same data" in why.note and why.kind == "scratch"
    other_recipe = TrainConfig.from_params({**BASE, "loss": {"lambda_l1": 10.0}})
    assert "other training parameters" in initial_weights(other_recipe, start, new)[1].note
    elsewhere = data("v2", dataset="data/01_raw/shoes")
    assert "another dataset (data/01_raw/mine)" in initial_weights(config, start, elsewhere)[1].note


def test_champion_warm_starts_whenever_the_weights_fit():
    config = TrainConfig.from_params({**BASE, "init_from": "champion"})
    start = champion(
        config,
        data("v1"),
    )
    assert initial_weights(config, start, data("v1"))[0] is not None  # same data: asked for it
    wider = TrainConfig.from_params({**BASE, "init_from": "champion", "generator": {"ngf": 8}})
    weights, origin = initial_weights(wider, start, data("v2"))
    assert weights is None and "does not fit" in origin.note and "ngf 4" in origin.note
    other_d = TrainConfig.from_params(
        {**BASE, "init_from": "champion", "discriminator": {"ndf": 8}}
    )
    weights, origin = initial_weights(other_d, start, data("v2"))
    assert weights is not None and weights.discriminator is None and not origin.discriminator


def test_warm_start_schedule_and_recipe():
    config = TrainConfig.from_params({**BASE, "epochs": 20, "epochs_decay": 20,
                                      "warm_start": {"epochs": 3, "epochs_decay": 2, "lr": 1e-4}})  # fmt: skip
    warm = config.for_warm_start()
    assert (warm.epochs, warm.epochs_decay, warm.optimizer.lr) == (3, 2, 1e-4)
    assert warm.param_hash() != config.param_hash()
    assert config.recipe_hash() == dataclasses.replace(config, init_from="none").recipe_hash()
    assert (
        TrainConfig.from_params({**BASE, "warm_start": {"epochs": 1}}).for_warm_start().optimizer.lr
        == 2e-4
    )


def test_starting_points_from_files_and_folders(tmp_path):
    config = TrainConfig.from_params(BASE)
    start = champion(config, data("v1"))
    start.generator.save(tmp_path / "generator.pt")
    from_file = load_starting_point(str(tmp_path / "generator.pt"), "unused")
    assert from_file.origin.kind == "file" and from_file.discriminator is None
    assert torch.equal(from_file.generator.state_dict["model.model.0.weight"],
                       start.generator.state_dict["model.model.0.weight"])  # fmt: skip
    start.discriminator.save(tmp_path / "discriminator.pt")
    from_folder = load_starting_point(str(tmp_path), "unused")
    assert from_folder.discriminator is not None and from_folder.origin.reference == str(tmp_path)
    assert load_starting_point("none", "unused") == StartingPoint()
    with pytest.raises(FileNotFoundError, match="neither a generator artifact file nor a folder"):
        load_starting_point(str(tmp_path / "missing.pt"), "unused")
