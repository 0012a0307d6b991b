"""Promotion gate against a real SQLite registry, export parity, pyfunc input checks, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator
from img2img.packaging.config import PackagingConfig, PackagingParameterError
from img2img.packaging.export import (
    ExportParityError,
    check_parity,
    deployable_generator,
    example_input,
    to_onnx,
    to_torchscript,
)
from img2img.packaging.pyfunc import translate_uint8
from img2img.packaging.registry import choose_gate_metric, promote


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    registry.create_registered_model("g")
    return registry


def new_version(client: MlflowClient) -> str:
    return str(client.create_model_version("g", source="file:///tmp/none").version)


def test_gate_first_champion_worse_challenger_better_moves(client):
    first = promote(
        client, "g", new_version(client), "kid_mean", 0.5, higher_is_better=False, margin=0.01
    )
    assert first.alias == "champion" and first.reason == "first registered model"
    worse = promote(
        client, "g", new_version(client), "kid_mean", 0.6, higher_is_better=False, margin=0.01
    )
    assert worse.alias == "challenger" and worse.champion_value == 0.5
    within_margin = promote(client, "g", new_version(client), "kid_mean", 0.495, False, 0.01)
    assert within_margin.alias == "challenger"
    better = promote(
        client, "g", new_version(client), "kid_mean", 0.3, higher_is_better=False, margin=0.01
    )
    assert better.alias == "champion" and "beats" in better.reason
    assert str(client.get_model_version_by_alias("g", "champion").version) == better.version
    assert client.get_model_version("g", better.version).tags["gate_decision"] == "champion"


def test_gate_metric_falls_back_when_kid_is_null():
    candidates = [
        {"name": "kid_mean", "higher_is_better": False},
        {"name": "ssim", "higher_is_better": True},
    ]
    assert choose_gate_metric({"kid_mean": None, "ssim": 0.4}, candidates) == ("ssim", 0.4, True)
    with pytest.raises(ValueError, match="none of the gate metrics"):
        choose_gate_metric({"kid_mean": None}, candidates)


@pytest.fixture
def artifact():
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    generator = build_generator(config.generator_architecture())
    return {"architecture": config.generator_architecture(), "state_dict": generator.state_dict()}


def test_exports_match_eager_and_a_mismatch_fails(artifact):
    model = deployable_generator(artifact)
    example = example_input(artifact)
    script, onnx_model = to_torchscript(model, example), to_onnx(model, example)
    inputs = [example_input(artifact, batch=1), example_input(artifact, batch=3, scale=2)]
    report = check_parity(model, script, onnx_model, inputs)
    assert report["input_shapes"] == [[1, 3, 32, 32], [3, 3, 64, 64]]
    broken = deployable_generator(artifact)
    with torch.no_grad():
        broken.model.model[0].weight.add_(0.5)  # eager model no longer matches the exports
    with pytest.raises(ExportParityError, match="differ"):
        check_parity(broken, script, onnx_model, inputs)


def test_pyfunc_translation_pads_any_size_and_checks_channels(artifact):
    model = deployable_generator(artifact)
    images = np.random.default_rng(0).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)
    out = translate_uint8(model, images, size_multiple=32)
    assert out.shape == images.shape and out.dtype == np.uint8
    with pytest.raises(ValueError, match="3 channels"):
        translate_uint8(model, images[..., :1], size_multiple=32)
    with pytest.raises(ValueError, match="uint8"):
        translate_uint8(model, images.astype(np.float32), size_multiple=32)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model_name": ""}, "model_name"),
        ({"gate": {"margin": -1}}, r"gate\.margin"),
        ({"gate": {"metrics": [{"name": "ssim"}]}}, r"gate\.metrics"),
        ({"colour": 1}, "unknown key"),
    ],
)
def test_bad_packaging_parameters(params, message):
    with pytest.raises(PackagingParameterError, match=message):
        PackagingConfig.from_params(params)
