"""kedro-viz reads well: every dataset sits in the data layer of its data/ folder, and the outputs a
user wants to look at have a preview of the right kind (built with `kedro viz build`); the
screenshot script shows one."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from PIL import Image

from img2img.evaluation.evaluate import ssim_distribution
from img2img.gan.trainer import STEP_METRICS
from img2img.ingest.pairing import REJECTED_COLUMNS
from tests.kedro_project import PROJECT_ROOT, make_project_copy

SCRIPT = PROJECT_ROOT / "scripts" / "viz_screenshot.py"
CATALOG = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())
GLOBALS = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "globals.yml").read_text())
# Outside the numbered data folders: new user images are raw data, MLflow metrics are reporting.
LAYER_EXCEPTIONS = {"inference_inputs": "raw", "evaluation_scores": "reporting"}
PREVIEWS = {
    "training_samples": "ImagePreview",
    "test_predictions": "ImagePreview",
    "metrics": "TablePreview",
    "per_image_metrics": "TablePreview",
    "rejected_pairs": "TablePreview",
    "pairing_rejections": "TablePreview",
    "inference_report": "TablePreview",
    "training_history": "PlotlyPreview",
    "ssim_distribution": "PlotlyPreview",
}


def location(name: str) -> str | None:
    """The file or folder of a catalog entry (or of the dataset it wraps), globals resolved."""
    entry = CATALOG[name]
    while not {"filepath", "path"} & set(entry) and isinstance(entry.get("dataset"), dict):
        entry = entry["dataset"]
    path = entry.get("filepath") or entry.get("path")
    return path and re.sub(r"\$\{globals:([\w.]+)\}", lambda m: GLOBALS[m[1]], path)


def viz_options(name: str) -> dict:
    return CATALOG[name].get("metadata", {}).get("kedro-viz", {})


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_entry_has_the_layer_of_its_data_folder(name):
    path = location(name)
    folder = re.match(r"data/\d\d_(\w+)(/|$)", path or "")
    expected = LAYER_EXCEPTIONS.get(name) or (folder and folder[1])
    assert expected, f"{name}: neither in a numbered data/ folder nor in LAYER_EXCEPTIONS"
    assert viz_options(name).get("layer") == expected, f"{name} ({path}): layer {expected}"


def write_outputs(project: Path) -> None:
    """Small stand-ins for the files a run writes, with the columns the code writes."""

    def at(name: str) -> Path:
        path = project / location(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    rows = np.random.default_rng(0).random((3, len(STEP_METRICS)))
    history = pd.DataFrame(rows, columns=list(STEP_METRICS)).assign(epoch=[1, 2, 3])
    history.to_csv(at("training_history"), index=False)
    for name, count in (("training_samples", 3), ("test_predictions", 5)):
        at(name).mkdir(exist_ok=True)
        for index in range(count):
            image = np.full((16, 16 * (1 + (name == "training_samples")), 3), index * 40, np.uint8)
            Image.fromarray(image).save(at(name) / f"{name[:5]}_{index:04d}.png")
    per_image = pd.DataFrame({"pair_id": ["a", "b"], "ssim": [0.3, 0.42], "psnr": [15.0, 16.0]})
    per_image.to_parquet(at("per_image_metrics"))
    ssim_distribution(per_image).to_csv(at("ssim_distribution"), index=False)
    at("metrics").write_text(json.dumps({"test": {"ssim": 0.36, "fid": 200.0}}))
    for name in ("rejected_pairs", "pairing_rejections"):
        pd.DataFrame([["x.png", "unreadable"]], columns=REJECTED_COLUMNS).to_csv(
            at(name), index=False
        )
    report = [["a.png", "out/a.png", "translated", ""], ["b.png", "", "failed", "too big"]]
    pd.DataFrame(report, columns=["input", "output", "status", "reason"]).to_csv(
        at("inference_report"), index=False
    )


@pytest.fixture(scope="module")
def viz_api(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("viz")
    project = make_project_copy(tmp / "project")
    write_outputs(project)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"}  # fmt: skip
    kedro = Path(sys.executable).parent / "kedro"
    result = subprocess.run([str(kedro), "viz", "build", "--include-previews"], cwd=project,
                            env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project / "build" / "api"


def data_nodes(api: Path, graph: str = "main") -> dict[str, dict]:
    nodes = json.loads((api / graph).read_text())["nodes"]
    return {node["name"]: node for node in nodes if node["type"] == "data"}


@pytest.mark.slow
def test_viz_build_shows_every_registered_pipeline_and_node(viz_api):
    bootstrap_project(PROJECT_ROOT)
    registered = dict(pipelines.items())
    main = json.loads((viz_api / "main").read_text())
    assert {p["id"] for p in main["pipelines"]} == set(registered)
    for name, pipe in registered.items():
        data = json.loads((viz_api / "pipelines" / name).read_text())
        task_names = {n["name"] for n in data["nodes"] if n["type"] == "task"}
        assert {node.name for node in pipe.nodes} <= task_names, name
        datasets = {n["name"] for n in data["nodes"] if n["type"] == "data"}
        assert {d for d in pipe.datasets() if not d.startswith("params:")} <= datasets, name


@pytest.mark.slow
def test_viz_build_puts_every_dataset_of_every_pipeline_in_a_layer(viz_api):
    pipelines = sorted(p.name for p in (viz_api / "pipelines").iterdir())
    assert {"train", "inference", "training", "evaluation"} <= set(pipelines)
    for graph in ["main", *(f"pipelines/{name}" for name in pipelines)]:
        unlayered = sorted(n for n, node in data_nodes(viz_api, graph).items() if not node["layer"])
        assert not unlayered, f"{graph}: datasets without a layer: {unlayered}"
    assert {"train_tensors", "evaluation_scores"} <= set(data_nodes(viz_api))
    inference = json.loads((viz_api / "pipelines" / "inference").read_text())
    names = {node["id"]: node["name"] for node in inference["nodes"]}
    edges = {(names[e["source"]], names[e["target"]]) for e in inference["edges"]}
    assert ("translate_folder", "inference_outputs") in edges  # the folder is the node's output
    assert ("inference_outputs", "translate_folder") not in edges


@pytest.mark.slow
def test_viz_build_has_the_previews_a_user_clicks_on(viz_api):
    pipelines = {**data_nodes(viz_api), **data_nodes(viz_api, "pipelines/inference")}
    details = {name: json.loads((viz_api / "nodes" / pipelines[name]["id"]).read_text())
               for name in PREVIEWS}  # fmt: skip
    kinds = {name: detail["preview_type"] for name, detail in details.items()}
    assert kinds == PREVIEWS
    assert all(detail["preview"] for detail in details.values())
    newest = Image.open(io.BytesIO(base64.b64decode(details["training_samples"]["preview"])))
    assert np.asarray(newest).max() == 80  # training_0002.png, the latest epoch only
    plotted = {trace["name"] for trace in details["training_history"]["preview"]["data"]}
    panels = viz_options("training_history")["preview_args"]["panels"]
    assert plotted == {column for columns in panels.values() for column in columns}
    assert details["ssim_distribution"]["preview"]["data"][0]["type"] == "bar"
    assert ["test.ssim", 0.36] in details["metrics"]["preview"]["data"]


def test_screenshot_script_says_when_chromium_is_missing(tmp_path):
    command = [sys.executable, str(SCRIPT), "-o", str(tmp_path / "shot.png"),
               "--chromium", str(tmp_path / "no-chromium")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "chromium not found" in result.stderr and "apt-get install -y chromium" in result.stderr
    assert not (tmp_path / "shot.png").exists()


def test_screenshot_page_has_no_tour_no_transitions_and_no_update_banner():
    spec = importlib.util.spec_from_file_location("viz_screenshot", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = script.quieten("/?pid=training", "text/html", b"<html><head><title/></head></html>")
    assert b"showFeatureHints: false" in page and b"transition: none" in page
    assert page.startswith(b"<html><head><title/><script>") and page.endswith(b"</head></html>")
    offline = b'{"installed": "12.5.0", "is_outdated": true, "latest": "None"}'
    version = json.loads(script.quieten("/api/version", "application/json", offline))
    assert version == {"installed": "12.5.0", "is_outdated": False, "latest": "None"}
    assert script.quieten("/api/main", "application/json", b'{"nodes": []}') == b'{"nodes": []}'


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_screenshot_shows_the_selected_dataset_with_its_preview(viz_api, tmp_path):
    shot = tmp_path / "shot.png"
    command = [sys.executable, str(SCRIPT), "-o", str(shot), "--project", str(viz_api.parents[1]),
               "--pipeline", "training", "--select", "training_history"]  # fmt: skip
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert image.shape == (1000, 1600, 3)
    panel, graph = image[200, 1200], image[500, 800]  # the side panel is open, fully
    assert panel.sum() > graph.sum() + 30, (panel, graph)
    plot = image[650:950, 1150:1560]  # the preview: coloured curves on a dark background
    assert (plot.max(axis=2) - plot.min(axis=2) > 100).sum() > 200
