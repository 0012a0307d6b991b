"""train = data_processing + training + evaluation on conf/ci through KedroSession."""

from __future__ import annotations

import json

import pandas as pd
from mlflow.tracking import MlflowClient

from tests.kedro_project import run_pipelines


def test_evaluation_outputs_and_tracking(project, mlflow_uri):
    run_pipelines(project, ["train"])
    reporting = project / "data" / "08_reporting"
    metrics = json.loads((reporting / "metrics.json").read_text())
    per_image = pd.read_parquet(reporting / "per_image_metrics.parquet")
    assert list(per_image.columns) == ["pair_id", "ssim", "psnr", "l1"]
    assert len(per_image) == metrics["n_images"] > 0
    assert metrics["split"] in ("test", "val") and metrics["test_mode"] == "train"
    model = metrics["model"]
    assert abs(model["ssim"] - per_image["ssim"].mean()) < 1e-9
    distribution = pd.read_csv(reporting / "ssim_distribution.csv")  # the DVC plot
    assert distribution["pairs"].sum() == len(per_image)
    assert set(metrics["baselines"]) == {"copy_source", "mean_training_target"}
    # The metrics file holds numbers and short labels (`dvc metrics show` stays a table); how
    # they are computed, and why a score is missing, is in its own file.
    leaves = _leaves(metrics)
    assert all(not isinstance(v, str) or len(v) <= 64 for v in leaves), leaves
    conventions = json.loads((reporting / "metric_conventions.json").read_text())
    assert {"ssim", "psnr", "l1", "fid", "kid"} <= set(conventions["conventions"])
    # FID/KID: a number from verified weights, or null with the reason (never another network)
    if conventions["fid_status"] == "ok":
        assert model["fid"] >= 0 and model["kid_mean"] is not None
    else:
        assert model["fid"] is None and model["kid_mean"] is None and conventions["fid_status"]
    assert "lpips" not in model and "not computed" in conventions["lpips_status"]
    predictions = list((project / "data" / "07_model_output" / "test_predictions").rglob("*.png"))
    assert len(predictions) == len(per_image)
    html = (reporting / "evaluation_report.html").read_text()
    assert "Scores on the test split" in html and "data:image/png;base64," in html
    assert conventions["conventions"]["ssim"] in html and "lpips_status" in html

    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.search_runs([client.get_experiment_by_name("img2img").experiment_id])[0]
    split = metrics["split"]
    assert abs(run.data.metrics[f"evaluation.{split}.ssim"] - model["ssim"]) < 1e-9
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "metrics.json",
        "metric_conventions.json",
        "evaluation_report.html",
        "per_image_metrics.parquet",
        "test_predictions",
    } <= artifacts
    logged = client.list_artifacts(run.info.run_id, "test_predictions")
    assert (
        len(logged) >= 1
    )  # the folder of predicted PNGs (by split sub-folder when pair ids have one)


def _leaves(tree: object) -> list:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in _leaves(value)]
    return [tree]
