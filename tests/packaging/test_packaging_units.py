"""Promotion gate decisions and their application to a real SQLite registry, export parity, pyfunc
input checks, config."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from img2img.config import ParameterError
from img2img.evaluation.champion import GateComparison
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator
from img2img.inference.model import (
    ExportMetadata,
    deployable_generator,
    is_exported_program,
    load_export,
    load_translator,
    translate_uint8,
)
from img2img.metrics.paired import bootstrap_difference
from img2img.packaging.config import GateConfig, PackagingConfig
from img2img.packaging.export import (
    ExportParityError,
    check_parity,
    example_input,
    to_exported_program,
    to_onnx,
)
from img2img.packaging.gate import (
    COMPLETE,
    INCOMPLETE,
    REGISTRATION,
    apply_decision,
    baseline_losses,
    decide,
    finish_interrupted_registrations,
)
from tests.exports import legacy_torchscript

EVAL_SET = {"split": "test", "fingerprint": "f" * 64, "n_images": 40, "image_size": 32}
BASELINES = {"copy_source": {"ssim": 0.05, "kid_mean": 0.3}, "mean_training_target": {"ssim": 0.3}}


def comparison(candidate_ssim: np.ndarray | None, champion_ssim: np.ndarray | None,
               **candidate: float) -> GateComparison:  # fmt: skip
    """A comparison on 40 images; per-image SSIM arrays give the scores and the paired test."""
    scores = {"ssim": float(candidate_ssim.mean()), "kid_mean": None, **candidate}
    if champion_ssim is None:
        return GateComparison(EVAL_SET, scores)
    return GateComparison(
        EVAL_SET, scores, champion_version="1", champion={"ssim": float(champion_ssim.mean()), "kid_mean": None},
        champion_status="scored", differences={"ssim": bootstrap_difference("ssim", candidate_ssim, champion_ssim)},
    )  # fmt: skip


def ssim_values(mean: float, seed: int = 0, spread: float = 0.05) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, spread, 40)


def test_first_model_becomes_champion_only_when_it_beats_the_baselines():
    gate = GateConfig()
    first = decide(comparison(ssim_values(0.6), None), BASELINES, gate)
    assert first.alias == "champion" and "first registered model" in first.reason
    weak = decide(comparison(ssim_values(0.2), None), BASELINES, gate)
    assert weak.alias == "challenger" and "mean_training_target" in weak.reason
    assert decide(comparison(ssim_values(0.2), None), BASELINES,
                  GateConfig(must_beat_baselines=())).alias == "champion"  # fmt: skip


def test_baseline_losses_compare_every_listed_metric_with_a_value():
    assert baseline_losses({"ssim": 0.5, "kid_mean": 0.1}, BASELINES, ("kid_mean", "ssim")) == []
    losses = baseline_losses({"ssim": 0.5, "kid_mean": 0.4}, BASELINES, ("kid_mean", "ssim"))
    assert losses == ["kid_mean 0.4 vs 0.3 for 'copy_source'"]
    assert "no value" in baseline_losses({"psnr": 20.0}, BASELINES, ("psnr",))[0]


def test_champion_moves_only_for_an_improvement_beyond_noise_and_margin():
    gate = GateConfig(metrics=("kid_mean", "ssim"))  # no KID here: SSIM decides
    champion = ssim_values(0.50, seed=1)
    better = decide(comparison(champion + 0.05, champion), BASELINES, gate)
    assert (
        better.alias == "champion" and better.metric == "ssim" and "beyond noise" in better.reason
    )
    assert better.champion_version == "1" and better.improvement["low"] > 0
    assert better.candidate_value == pytest.approx(champion.mean() + 0.05)
    noisy = decide(comparison(ssim_values(0.505, seed=2), champion), BASELINES, gate)
    assert noisy.alias == "challenger" and "not better than the champion" in noisy.reason
    assert noisy.improvement["low"] < 0 < noisy.improvement["high"]
    margin = decide(comparison(champion + 0.05, champion), BASELINES, GateConfig(margin=0.1))
    assert margin.alias == "challenger"
    worse = decide(comparison(champion - 0.05, champion), BASELINES, gate)
    assert worse.alias == "challenger" and worse.improvement["high"] < 0


def test_lower_is_better_metrics_count_a_decrease_as_an_improvement():
    champion = ssim_values(0.5, seed=3)
    lower = comparison(champion, champion)
    l1_candidate, l1_champion = champion * 10, champion * 10 + 1.0  # candidate's L1 is lower
    lower = GateComparison(EVAL_SET, {**lower.candidate, "l1": float(l1_candidate.mean())}, "1",
                           {**lower.champion, "l1": float(l1_champion.mean())}, "scored",
                           {"l1": bootstrap_difference("l1", l1_candidate, l1_champion)})  # fmt: skip
    decision = decide(lower, BASELINES, GateConfig(metrics=("l1",), must_beat_baselines=()))
    assert decision.alias == "champion" and decision.improvement["estimate"] == pytest.approx(1.0)


def test_a_champion_that_could_not_be_rescored_is_not_replaced():
    broken = GateComparison(EVAL_SET, {"ssim": 0.9}, champion_version="3",
                            champion_status="version 3 could not be loaded")  # fmt: skip
    decision = decide(broken, BASELINES, GateConfig())
    assert decision.alias == "challenger" and "could not be re-scored" in decision.reason


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    registry.create_registered_model("g")
    return registry


def new_version(client: MlflowClient) -> str:
    return str(client.create_model_version("g", source="file:///tmp/none").version)


def test_apply_decision_sets_alias_and_tags_and_refuses_a_changed_champion(client):
    gate = GateConfig()
    first = apply_decision(client, "g", new_version(client),
                           decide(comparison(ssim_values(0.6), None), BASELINES, gate), {"lineage.x": "y"})  # fmt: skip
    assert first.alias == "champion" and first.version == "1"
    tags = client.get_model_version("g", "1").tags
    assert tags["gate_decision"] == "champion" and tags["lineage.x"] == "y"
    assert (
        tags["gate_eval_fingerprint"] == EVAL_SET["fingerprint"] and tags["gate_eval_size"] == "40"
    )
    champion = ssim_values(0.5, seed=1)
    better = decide(
        comparison(champion + 0.05, champion), BASELINES, gate
    )  # compared with version 1
    moved = apply_decision(client, "g", new_version(client), better, {})
    assert moved.alias == "champion"
    assert str(client.get_model_version_by_alias("g", "champion").version) == moved.version == "2"
    stale = apply_decision(
        client, "g", new_version(client), better, {}
    )  # version 1 is no longer champion
    assert stale.alias == "challenger" and "changed since evaluation" in stale.reason
    assert str(client.get_model_version_by_alias("g", "champion").version) == "2"


def test_registrations_a_kill_interrupted_are_finished_or_deleted(client):
    def incomplete() -> str:
        tags = {REGISTRATION: INCOMPLETE}
        return str(client.create_model_version("g", source="file:///tmp/none", tags=tags).version)

    decided = apply_decision(client, "g", incomplete(),
                             decide(comparison(ssim_values(0.6), None), BASELINES, GateConfig()), {})  # fmt: skip
    assert client.get_model_version("g", decided.version).tags[REGISTRATION] == COMPLETE
    undecided = incomplete()  # killed before the gate's tags and alias
    aliased = incomplete()  # killed after the alias, before it was marked complete
    client.set_registered_model_alias("g", "challenger", aliased)
    assert sorted(finish_interrupted_registrations(client, "g")) == sorted(
        [
            f"version {aliased} (challenger): completed",
            f"version {undecided}: deleted (registration never decided)",
        ]
    )
    versions = {
        str(v.version): v.tags[REGISTRATION] for v in client.search_model_versions("name = 'g'")
    }
    assert versions == {decided.version: COMPLETE, aliased: COMPLETE}
    assert finish_interrupted_registrations(client, "g") == []  # nothing left to do
    assert finish_interrupted_registrations(client, "no-such-model") == []


@pytest.fixture
def artifact():
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    generator = build_generator(config.generator_architecture())
    return GeneratorArtifact(config.generator_architecture(), generator.state_dict())


def test_the_program_serves_any_batch_and_size_multiple_and_loads_without_warnings(artifact):
    model = deployable_generator(artifact)
    program = to_exported_program(model, ExportMetadata.of(artifact))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded, metadata = load_export(program)
    assert not caught, [str(w.message) for w in caught]  # torch.jit.load warns on every load
    assert metadata == ExportMetadata.of(artifact) and is_exported_program(program)
    side = artifact.size_multiple  # one multiple square: a 1×1 bottleneck
    for shape in [(1, 3, side, side), (3, 3, side, 2 * side), (2, 3, 3 * side, side)]:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        with torch.no_grad():
            assert torch.equal(loaded(x), model(x)), shape


def test_a_torchscript_export_from_older_packaging_still_translates(artifact, tmp_path):
    model = deployable_generator(artifact)
    legacy = tmp_path / "generator.torchscript.pt"
    legacy.write_bytes(
        legacy_torchscript(model, example_input(artifact), ExportMetadata.of(artifact))
    )
    assert not is_exported_program(legacy)
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 24, 3), dtype=np.uint8)
    expected = translate_uint8(model, images, artifact.size_multiple)
    assert np.abs(load_translator(legacy)(images).astype(int) - expected).max() <= 1


def test_a_file_that_is_no_export_is_refused_by_name(tmp_path):
    bogus = tmp_path / "generator.pt2"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=f"{bogus}: not a generator export"):
        load_translator(bogus)


def test_exports_match_eager_and_a_mismatch_fails(artifact):
    model = deployable_generator(artifact)
    example = example_input(artifact)
    script = to_exported_program(model, ExportMetadata.of(artifact))
    onnx_model = to_onnx(model, example)
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
        ({"gate": {"metrics": ["fid"]}}, r"gate\.metrics"),
        ({"gate": {"must_beat_baselines": "ssim"}}, r"gate\.must_beat_baselines"),
        ({"register": "yes"}, "register"),
        ({"colour": 1}, "unknown key"),
    ],
)
def test_bad_packaging_parameters(params, message):
    with pytest.raises(ParameterError, match=message):
        PackagingConfig.from_params(params)
