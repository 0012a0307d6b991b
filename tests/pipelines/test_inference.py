"""Inference: the `img2img translate` CLI, the inference pipeline, and `mlflow models serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from img2img.cli import main
from img2img.config import ParameterError
from img2img.pipelines.inference import create_pipeline, nodes
from tests.conftest import random_rgb, save_image
from tests.kedro_project import make_project_copy, run_pipelines
from tests.servers import free_port, wait_until_healthy


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project copy after `train` on conf/ci (so it has exports and a registered champion)."""
    tmp = tmp_path_factory.mktemp("inference")
    project = make_project_copy(tmp / "project")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    old_cwd, old_uri = Path.cwd(), os.environ.get("MLFLOW_TRACKING_URI")
    os.chdir(project)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        run_pipelines(project, ["train"])
        yield project, uri
    finally:
        os.chdir(old_cwd)
        if old_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_uri


def make_inputs(folder: Path) -> None:
    save_image(folder / "a.png", random_rgb(0, 40, 56))
    save_image(folder / "sub" / "b.jpg", random_rgb(1, 64, 64))
    Image.fromarray(random_rgb(2, 30, 30)).convert("L").save(folder / "gray.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")


def test_cli_translates_folders_reports_bad_files_and_never_overwrites(trained, tmp_path):
    project, _ = trained
    make_inputs(tmp_path / "in")
    export = project / "data" / "06_models" / "generator.pt2"
    runner = CliRunner()
    args = [
        "translate",
        str(tmp_path / "in"),
        "--model",
        str(export),
        "--output",
        str(tmp_path / "out"),
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output  # the corrupt file failed
    assert "3 translated, 0 skipped, 1 failed" in result.output
    assert "corrupt.jpg" in result.output
    out_a = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert out_a.shape == (40, 56, 3)  # original size restored
    assert (tmp_path / "out" / "sub" / "b.png").is_file() and (
        tmp_path / "out" / "gray.png"
    ).is_file()
    before = (tmp_path / "out" / "a.png").stat().st_mtime_ns
    again = runner.invoke(main, args)
    assert "0 translated, 3 skipped, 1 failed" in again.output
    assert (tmp_path / "out" / "a.png").stat().st_mtime_ns == before
    assert "3 translated" in runner.invoke(main, [*args, "--overwrite"]).output
    (tmp_path / "in" / "corrupt.jpg").unlink()
    assert runner.invoke(main, args).exit_code == 0  # everything already done
    missing = runner.invoke(
        main, ["translate", str(tmp_path / "in"), "--model", "nope.pt", "--output", "x"]
    )
    assert missing.exit_code != 0 and "no such model file" in missing.output


def test_inference_pipeline_uses_the_champion(trained, monkeypatch):
    project, uri = trained
    monkeypatch.chdir(project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    make_inputs(project / "data" / "inference_inputs")
    run_pipelines(project, ["inference"])
    report = pd.read_csv(project / "data" / "08_reporting" / "inference_report.csv")
    assert sorted(report["status"]) == ["failed", "translated", "translated", "translated"]
    assert (project / "data" / "07_model_output" / "inference_outputs" / "sub" / "b.png").is_file()
    run_pipelines(project, ["inference"])  # a second run keeps what the first one translated
    again = pd.read_csv(project / "data" / "08_reporting" / "inference_report.csv")
    assert sorted(again["status"]) == ["failed", "skipped", "skipped", "skipped"]


def test_inference_node_uses_the_ingestion_pixel_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(nodes, "load_translator", lambda model, device, batch: lambda x: 255 - x)
    save_image(tmp_path / "in" / "big.png", random_rgb(0, 10, 10))
    save_image(tmp_path / "in" / "small.png", random_rgb(1, 4, 4))
    params = {"model": "stub", "device": "cpu", "output_dir": str(tmp_path / "out")}
    folder, report = nodes.translate_folder(tmp_path / "in", params, 50)
    assert folder == tmp_path / "out" and (folder / "small.png").is_file()
    assert dict(
        zip(report["input"].map(lambda p: Path(p).name), report["status"], strict=True)
    ) == {
        "big.png": "failed",
        "small.png": "translated",
    }
    assert "data_processing.validation.max_pixels=50" in report["reason"][0]
    with pytest.raises(ParameterError, match=r"data_processing\.validation\.max_pixels"):
        nodes.translate_folder(tmp_path / "in", params, 0)
    node = create_pipeline().nodes[0]
    assert "params:data_processing.validation.max_pixels" in node.inputs
    # kedro-viz draws the folder it writes as its output, not as an input
    assert node.outputs == ["inference_outputs", "inference_report"]
    assert "inference_outputs" not in node.inputs


@pytest.mark.slow
def test_mlflow_models_serve_answers_an_image_batch(trained, tmp_path):
    _, uri = trained
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", "models:/img2img-generator@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/ping", server)
        images = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
        body = json.dumps({"inputs": images.tolist()}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = np.asarray(json.loads(response.read())["predictions"])
        assert predictions.shape == (2, 32, 48, 3)
        assert predictions.min() >= 0 and predictions.max() <= 255
        assert np.issubdtype(predictions.dtype, np.integer)
    finally:
        server.terminate()
        server.wait(timeout=30)
