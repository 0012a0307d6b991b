"""benchmarks/gpu_check.sh and the benchmark code it runs: it refuses without CUDA, the conf/gpu
recipe it times is the one Kedro resolves, and the timing code runs (on the CPU here, on the GPU
where there is one).

torch and the project are imported inside the tests (see conftest.py: skipping costs no import).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from tests.benchmark_scripts import benchmark_module
from tests.conftest import PROJECT_ROOT
from tests.gpu.conftest import no_cuda_reason
from tests.gpu.shared import DEVICES


@pytest.mark.skipif(no_cuda_reason() is None, reason="this machine has CUDA: the script would run")
def test_gpu_check_refuses_clearly_without_a_cuda_device(tmp_path):
    env = {**os.environ, "GPU_CHECK_PYTHON": sys.executable, "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(PROJECT_ROOT / "benchmarks" / "gpu_check.sh")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gpu_check: no CUDA device" in done.stdout
    assert "CUDA available: False" in done.stdout  # the machine's description came first
    assert (tmp_path / "gpu_check.log").read_text() == done.stdout  # the whole output, logged


def test_the_recipe_read_without_kedro_is_the_one_kedro_resolves():
    from img2img.project_config import config_loader

    with benchmark_module("train_speed"):
        from _recipe import parameters, training_recipe

    for env in ("gpu", "ci", "kubeflow"):
        assert parameters(env) == dict(config_loader(PROJECT_ROOT, env)["parameters"]), env
    gpu = training_recipe("gpu")
    assert (gpu["crop_size"], gpu["load_size"], gpu["generator"]["ngf"]) == (256, 286, 64)
    assert gpu["batch_size"] == 1 and gpu["epochs"] == 100  # conf/gpu over conf/base
    assert gpu["generator"]["norm"] == "batch"  # from conf/base, kept by the soft merge
    with pytest.raises(FileNotFoundError, match="'nowhere' not found"):
        parameters("nowhere")


def test_train_speed_runs_the_gpu_recipe_with_overrides():
    with benchmark_module("train_speed") as bench:
        args = argparse.Namespace(
            env="gpu", device="cpu", override={"batch_size": 16}, config="all"
        )
        ((name, params),) = bench.runs(args).items()
        assert name == "env gpu" and params["device"] == "cpu" and params["batch_size"] == 16
        line = bench.recipe_line(name, params)
    assert "unet (depth 8) ngf 64" in line and "batch 16, 256 px crops, device cpu" in line


@pytest.mark.parametrize("device", DEVICES)
def test_train_speed_times_steps_on_the_device(device):
    from tests.gan.test_loop import TINY

    with benchmark_module("train_speed") as bench:
        result = bench.ours({**TINY, "device": device}, steps=2, warmup=1)
    assert len(result["step_seconds"]) == 2 and all(s > 0 for s in result["step_seconds"])
    assert result["batch"] == TINY["batch_size"] and result["flops"] > 0
    assert f"autocast on {device}" in result["precision"] or result["precision"].startswith("fp32")
    assert (result["peak_gpu_mb"] > 0) == (device == "cuda")


@pytest.mark.gpu  # on the CPU: tests/inference/test_translate_speed_benchmark.py
def test_translate_speed_times_the_paths_a_gpu_serves():
    from img2img.gan.artifact import GeneratorArtifact
    from img2img.gan.config import TrainConfig
    from img2img.gan.networks import build_generator

    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    architecture = config.generator_architecture()
    artifact = GeneratorArtifact(architecture, build_generator(architecture).state_dict())
    with benchmark_module("translate_speed") as bench:
        rows = bench.measure(artifact, sizes=[32], batches=[2], rounds=1, bf16=False, device="cuda")
        assert bench.device_line("cuda").startswith("GPU: ")
    assert [row.path for row in rows] == ["eager-fp32", "export-fp32"]
    assert all(row.images_per_second > 0 for row in rows)
