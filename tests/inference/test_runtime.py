"""The served generator's path: the cheapest one that passes parity with the TorchScript export is
chosen, a path that fails parity (or cannot run) never is, and `load_translator` on a real export
still translates as the eager generator does."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import img2img.inference.runtime as runtime
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator, init_weights
from img2img.inference.model import (
    ExportMetadata,
    deployable_generator,
    load_translator,
    translate_uint8,
)
from img2img.inference.runtime import (
    BF16_CRITERION,
    EXPORT_BF16,
    FP32_CRITERION,
    LARGE_PASS_PIXELS,
    ONNXRUNTIME_FP32,
    PATH_ENV,
    REFERENCE,
    BySize,
    Costs,
    InferencePath,
    Parity,
    candidate_paths,
    onnx_beside,
    probe_batch,
    requested_path,
    select_path,
)
from img2img.packaging.export import example_input, to_exported_program, to_onnx

LEVEL = 2 / 255  # one uint8 level of the generator's [-1, 1] output


class Shifted(nn.Module):
    """A stand-in generator: tanh of the input, plus ``shift``."""

    def __init__(self, shift: float = 0.0) -> None:
        super().__init__()
        self.shift = shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) + self.shift


class Broken(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("no kernel for this CPU")


def path(name: str, model: nn.Module, criterion=FP32_CRITERION) -> InferencePath:
    return InferencePath(name, model, criterion)


PROBE = probe_batch(32)


def flat(cost: dict[str, float]) -> Costs:
    return Costs(small=cost, large=cost)


def test_the_cheapest_path_that_passes_parity_is_chosen():
    candidates = [path(REFERENCE, Shifted()), path("a", Shifted(1e-6)), path("b", Shifted())]
    assert (
        select_path(candidates, PROBE, flat({REFERENCE: 1.0, "a": 0.3, "b": 0.5})).small.name == "a"
    )
    assert (
        select_path(candidates, PROBE, flat({REFERENCE: 1.0, "a": 0.7, "b": 0.5})).large.name == "b"
    )
    chosen = select_path(candidates, PROBE, flat({REFERENCE: 1.0, "a": 1.2, "b": 1.0}))
    assert chosen.small.name == chosen.large.name == REFERENCE  # the reference wins ties
    assert [check.problem for check in chosen.checks] == [None, None]
    assert chosen.module() is candidates[0].model


def test_small_and_large_passes_can_run_different_paths():
    candidates = [path(REFERENCE, Shifted()), path("a", Shifted(2e-5)), path("b", Shifted(-2e-5))]
    costs = Costs(small={REFERENCE: 1.0, "a": 0.5, "b": 0.9}, large={REFERENCE: 1.0, "b": 0.4})
    selection = select_path(candidates, PROBE, costs)
    assert (selection.small.name, selection.large.name) == ("a", "b")
    assert f"a below {LARGE_PASS_PIXELS:,} pixels per pass, b from there" in selection.describe()
    module = selection.module()
    assert isinstance(module, BySize)
    small = torch.zeros(1, 3, 8, 8)
    large = torch.zeros(2, 3, 256, 256)  # exactly LARGE_PASS_PIXELS
    assert torch.allclose(module(small), torch.full_like(small, 2e-5))
    assert torch.allclose(module(large), torch.full_like(large, -2e-5))
    assert torch.allclose(module(large[:, :, :255]), torch.full_like(large[:, :, :255], 2e-5))


def test_a_path_that_fails_parity_or_raises_is_never_chosen():
    off = path("off", Shifted(1e-3))  # 1e-3 > PARITY_TOLERANCE, though well within one level
    candidates = [path(REFERENCE, Shifted()), off, path("broken", Broken())]
    costs = Costs(small={REFERENCE: 1.0, "off": 0.0}, large={REFERENCE: 1.0, "broken": 0.0})
    selection = select_path(candidates, PROBE, costs)
    assert selection.small.name == selection.large.name == REFERENCE
    problems = {check.name: check.problem for check in selection.checks}
    assert "allowed: max |diff| 0.0001" in problems["off"]
    assert "RuntimeError: no kernel for this CPU" in problems["broken"]
    assert "off not eligible" in selection.describe()


def levels_off(levels: int, count: int) -> Parity:
    """Parity of an output ``levels`` uint8 levels off in its first ``count`` of 300 values."""
    reference = torch.full((1, 3, 10, 10), -1 + 100 * LEVEL)  # exactly level 100
    mask = torch.arange(300).reshape(reference.shape) < count
    return Parity.between(reference + levels * LEVEL * mask, reference)


def test_parity_counts_uint8_levels_and_the_bf16_criterion_bounds_them():
    one_level = levels_off(1, 300)
    assert (one_level.max_levels, one_level.within_one_level) == (1, 1.0)
    assert one_level.max_abs_float == pytest.approx(LEVEL)
    assert BF16_CRITERION.admits(one_level) and not FP32_CRITERION.admits(one_level)
    assert FP32_CRITERION.admits(levels_off(0, 300))
    assert levels_off(2, 3).within_one_level == 0.99 and BF16_CRITERION.admits(levels_off(2, 3))
    assert not BF16_CRITERION.admits(levels_off(2, 4))  # 98.7 % within one level
    assert levels_off(4, 1).max_levels == 4 and BF16_CRITERION.admits(levels_off(4, 1))
    assert not BF16_CRITERION.admits(levels_off(5, 1))  # one value 5 levels off


def test_bf16_is_a_candidate_only_on_a_cpu_with_bf16_units_and_onnx_only_when_given(monkeypatch):
    script = Shifted()
    monkeypatch.setattr(runtime, "cpu_bf16_units", lambda: ())
    assert [p.name for p in candidate_paths(script, None, "cpu")] == [REFERENCE]
    monkeypatch.setattr(runtime, "cpu_bf16_units", lambda: ("AMX-BF16",))
    names = [p.name for p in candidate_paths(script, b"onnx", "cpu")]
    assert names == [REFERENCE, ONNXRUNTIME_FP32, EXPORT_BF16]
    assert [p.name for p in candidate_paths(script, b"onnx", "cuda")] == [REFERENCE]


@pytest.mark.parametrize("name", ["generator.pt2", "generator.torchscript.pt"])
def test_the_onnx_export_is_found_beside_the_export_file(tmp_path, name):
    export = tmp_path / name  # the program, or TorchScript from older packaging
    assert onnx_beside(export) is None
    (tmp_path / "generator.onnx").write_bytes(b"")
    assert onnx_beside(export) == tmp_path / "generator.onnx"
    assert onnx_beside(tmp_path / "other.pt2") is None


def test_the_path_can_be_pinned_by_the_environment():
    assert requested_path({}) is None and requested_path({PATH_ENV: ""}) is None
    assert requested_path({PATH_ENV: REFERENCE}) == REFERENCE
    with pytest.raises(ValueError, match=f"{PATH_ENV} must be one of export-fp32, "):
        requested_path({PATH_ENV: "fp16"})


def export_tiny_generator(folder: Path) -> tuple[GeneratorArtifact, Path]:
    """A tiny generator (ngf 4, 32 px), initialised as training starts, exported into ``folder``
    as packaging does: the torch.export program and ONNX side by side. (Also used by tests/gpu.)"""
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    torch.manual_seed(0)
    generator = build_generator(config.generator_architecture())
    init_weights(generator, config.init.type, config.init.gain)
    artifact = GeneratorArtifact(config.generator_architecture(), generator.state_dict())
    model, example = deployable_generator(artifact), example_input(artifact)
    script = folder / "generator.pt2"
    script.write_bytes(to_exported_program(model, ExportMetadata.of(artifact)))
    (folder / "generator.onnx").write_bytes(to_onnx(model, example))
    return artifact, script


@pytest.fixture
def exported(tmp_path) -> tuple[GeneratorArtifact, Path]:
    return export_tiny_generator(tmp_path)


@pytest.mark.parametrize("pinned", [None, REFERENCE, ONNXRUNTIME_FP32])
def test_load_translator_translates_as_the_eager_generator(exported, pinned, monkeypatch, caplog):
    artifact, script = exported
    monkeypatch.setenv(PATH_ENV, pinned or "")  # empty: the fastest path
    with caplog.at_level(logging.INFO, logger=runtime.__name__):
        translator = load_translator(script)
    logged = [r.getMessage() for r in caplog.records if "Generator runs on cpu" in r.getMessage()]
    assert len(logged) == 1  # once, when the model loads
    assert pinned is None or f" as {pinned}; " in logged[0]
    eager = deployable_generator(artifact)
    rng = np.random.default_rng(1)
    small_pass = rng.integers(0, 256, (3, 45, 70, 3), dtype=np.uint8)
    large_pass = rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)  # LARGE_PASS_PIXELS
    for images in (small_pass, large_pass):
        translated = translator(images)
        expected = translate_uint8(eager, images, artifact.size_multiple)
        levels = np.abs(translated.astype(int) - expected.astype(int))
        assert translated.shape == images.shape and translated.dtype == np.uint8
        assert levels.max() <= (1 if pinned else BF16_CRITERION.max_levels)
        assert (levels <= 1).mean() >= BF16_CRITERION.min_within_one_level


def test_an_onnx_export_of_another_model_beside_the_file_is_not_used(exported, monkeypatch, caplog):
    artifact, script = exported
    other = deployable_generator(artifact)
    with torch.no_grad():
        other.model.model[0].weight.add_(0.5)
    script.with_name("generator.onnx").write_bytes(to_onnx(other, example_input(artifact)))
    monkeypatch.setenv(PATH_ENV, ONNXRUNTIME_FP32)
    images = np.random.default_rng(2).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    with caplog.at_level(logging.INFO, logger=runtime.__name__):
        translated = load_translator(script)(images)
    assert f"as {REFERENCE}; parity vs {REFERENCE}: {ONNXRUNTIME_FP32} not eligible" in caplog.text
    eager = translate_uint8(deployable_generator(artifact), images, artifact.size_multiple)
    assert np.abs(translated.astype(int) - eager.astype(int)).max() <= 1


def test_a_pinned_path_that_is_not_available_here_runs_the_reference(exported, monkeypatch, caplog):
    _, script = exported
    script.with_name("generator.onnx").unlink()  # the program alone: no ONNX Runtime path
    monkeypatch.setenv(PATH_ENV, ONNXRUNTIME_FP32)
    with caplog.at_level(logging.INFO, logger=runtime.__name__):
        load_translator(script)
    assert f"{PATH_ENV}={ONNXRUNTIME_FP32}: not available here; running {REFERENCE}" in caplog.text
    assert f"as {REFERENCE}; parity vs {REFERENCE}: no other path here" in caplog.text


def test_the_gate_rescores_the_champion_on_the_reference_path(monkeypatch):
    import os
    from types import SimpleNamespace

    import img2img.pipelines.evaluation.nodes as nodes
    from img2img.inference.runtime import PATH_ENV, REFERENCE

    monkeypatch.setenv(PATH_ENV, "export-bf16")  # what a user pinned for translate
    seen = []
    monkeypatch.setattr(nodes, "find_champion", lambda client, name: SimpleNamespace(version=3))
    monkeypatch.setattr(
        nodes, "load_translator", lambda uri: seen.append((uri, os.environ.get(PATH_ENV)))
    )
    champion, status = nodes._registered_champion("g")
    assert champion is not None and champion.version == "3"
    assert status == "scored" and seen == [("models:/g/3", REFERENCE)]
    assert os.environ[PATH_ENV] == "export-bf16"  # restored after loading
