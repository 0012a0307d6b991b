"""`img2img kubeflow compile|schedule` through click, plus the image and conf/kubeflow contracts."""

from __future__ import annotations

import re
import time

import yaml
from click.testing import CliRunner

from img2img.cli import main
from img2img.kubeflow import kfp_cron
from tests.kedro_project import PROJECT_ROOT
from tests.kubeflow.conftest import read_package
from tests.servers import free_port


def test_compile_command_writes_the_yaml_and_takes_gpu_options(tmp_path, compiled):
    out = tmp_path / "pipeline.yaml"
    args = [
        "kubeflow", "compile", "--pipeline", "train", "--env", "kubeflow", "--image", "img:1",
        "-o", str(out), "--gpus", "2", "--gpu-type", "NVIDIA_TESLA_T4", "--pvc", "shared",
        "--project-path", str(PROJECT_ROOT),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "img2img-train: 8 tasks" in result.output
    assert re.search(r"train-gan\s+after: preprocess-pairs\s+\[gpu\]", result.output)
    # the gate's comparison runs after training and before registration
    assert re.search(r"rescore-champion\s+after: preprocess-pairs, train-gan\n", result.output)
    assert re.search(r"register-generator\s+after: .*rescore-champion", result.output)
    spec, platform = read_package(out)
    resources = spec["deploymentSpec"]["executors"]["exec-train-gan"]["container"]["resources"]
    assert resources["accelerator"] == {
        "count": "2", "resourceCount": "2", "type": "NVIDIA_TESLA_T4", "resourceType": "NVIDIA_TESLA_T4",
    }  # fmt: skip
    mounts = platform["deploymentSpec"]["executors"]["exec-pair-images"]["pvcMount"]
    assert mounts[0]["constant"] == "shared" and mounts[0]["mountPath"] == "/app/data"


def test_compile_command_fails_clearly(tmp_path, compiled):
    runner = CliRunner()
    base = [
        "kubeflow",
        "compile",
        "--project-path",
        str(PROJECT_ROOT),
        "-o",
        str(tmp_path / "p.yaml"),
    ]
    no_image = runner.invoke(main, base)
    assert no_image.exit_code == 1 and "no container image" in no_image.output
    unknown = runner.invoke(main, [*base, "--image", "i", "--pipeline", "nope"])
    assert unknown.exit_code == 1 and "'nope' is not a registered pipeline" in unknown.output
    bad_env = runner.invoke(main, [*base, "--image", "i", "--env", "nope"])
    assert bad_env.exit_code == 1 and "environment 'nope' not found" in bad_env.output
    assert not (tmp_path / "p.yaml").exists()


def test_schedule_help_and_a_closed_port_fails_fast_with_a_click_error(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(main, ["kubeflow", "schedule", "--help"])
    assert (
        help_text.exit_code == 0 and "--cron" in help_text.output and "--host" in help_text.output
    )
    package = tmp_path / "pipeline.yaml"
    package.write_text("pipelineInfo: {name: x}\n")
    start = time.monotonic()
    result = runner.invoke(
        main,
        ["kubeflow", "schedule", "--host", f"http://127.0.0.1:{free_port()}", "--package",
         str(package), "--cron", "0 3 * * 1", "--timeout", "3"],
    )  # fmt: skip
    assert time.monotonic() - start < 10
    assert result.exit_code == 1, result.output
    assert "Error: cannot reach the Kubeflow Pipelines API at http://127.0.0.1:" in result.output
    missing = runner.invoke(
        main, ["kubeflow", "schedule", "--host", "http://x", "--package", "no.yaml"]
    )
    assert missing.exit_code == 1 and "pipeline package not found" in missing.output
    bad_cron = runner.invoke(
        main,
        [
            "kubeflow",
            "schedule",
            "--host",
            "http://x",
            "--package",
            str(package),
            "--cron",
            "weekly",
        ],
    )
    assert bad_cron.exit_code == 1 and "expected 5" in bad_cron.output


def test_cron_expressions_become_six_fields():
    assert kfp_cron("0 3 * * 1") == "0 0 3 * * 1"
    assert kfp_cron("30 0 3 * * 1") == "30 0 3 * * 1"


def test_image_and_kubeflow_conf_agree():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    kubeflow = yaml.safe_load((PROJECT_ROOT / "conf" / "kubeflow" / "kubeflow.yml").read_text())
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert f"WORKDIR {kubeflow['project_root']}" in dockerfile
    assert kubeflow["shared_volume"]["mount_path"] == f"{kubeflow['project_root']}/data"
    assert "KEDRO_DISABLE_TELEMETRY=true" in dockerfile
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    for pin in ("torch==2.14.1", "torchvision==0.29.1"):
        assert pin in pyproject and pin in dockerfile
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    for path in (".venv", "data", "mlruns", "mlflow.db", ".git", "conf/local"):
        assert path in ignored
    mlflow = (PROJECT_ROOT / "conf" / "kubeflow" / "mlflow.yml").read_text()
    assert "${env_or_default:MLFLOW_TRACKING_URI," in mlflow
