"""benchmarks/translate_speed.py: its helpers import and a tiny run (32 px, one round) reports
every path with its speed and parity."""

from __future__ import annotations

import pytest
import torch

from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.networks import build_generator
from tests.benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("translate_speed") as module:
        yield module


def test_the_default_generator_is_conf_bases_with_seeded_random_weights(bench):
    first, second = bench.base_generator(0), bench.base_generator(0)
    assert first.architecture["ngf"] == 32 and first.size_multiple == 128  # conf/base: 128 px crops
    assert all(torch.equal(first.state_dict[k], second.state_dict[k]) for k in first.state_dict)
    assert not torch.equal(first.state_dict["model.model.0.weight"],
                           bench.base_generator(1).state_dict["model.model.0.weight"])  # fmt: skip


@pytest.fixture
def one_thread():
    """One torch thread: a busy neighbour on a 2-core machine slows two threads tenfold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_tiny_run_reports_every_path_with_speed_and_parity(bench, one_thread):
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    torch.manual_seed(0)
    architecture = config.generator_architecture()
    artifact = GeneratorArtifact(architecture, build_generator(architecture).state_dict())
    rows = bench.measure(artifact, sizes=[32], batches=[1, 2], rounds=1, bf16=True)
    paths = ["eager-fp32", "export-fp32", "torchscript-fp32", "onnxruntime-fp32", "eager-bf16",
             "export-bf16"]  # fmt: skip
    assert [(r.batch, r.path) for r in rows] == [(b, p) for b in (1, 2) for p in paths]
    assert all(r.images_per_second > 0 for r in rows)
    reference = [r for r in rows if r.path == "eager-fp32"]
    assert all(r.parity.max_levels == 0 and r.meets_criterion for r in reference)
    assert all(r.parity.max_abs_float <= 1e-4 for r in rows if r.path.endswith("fp32"))
    table = bench.table(rows)
    assert len(table.splitlines()) == 1 + len(rows) and "export-bf16" in table
    costs = bench.relative_cost(rows)["small"]  # 32² and 2 × 32² pixels: small passes
    assert costs["export-fp32"] == pytest.approx(1.0) and set(costs) == set(paths)
