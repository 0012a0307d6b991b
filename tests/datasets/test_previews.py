"""kedro-viz previews: images side by side, CSV columns as a Plotly figure, JSON as a table; the
MLflow wrapper keeps its inner dataset's preview; a file not written yet is a clear error."""

from __future__ import annotations

import base64
import inspect
import io
import json

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from PIL import Image

from img2img.datasets import (
    CSVPlotDataset,
    JSONTableDataset,
    PartitionedImageDataset,
    TolerantMlflowArtifactDataset,
)
from tests.conftest import random_rgb, save_image


def preview_type(dataset) -> str:
    """What kedro-viz sends as ``preview_type`` (the return annotation's name)."""
    annotation = inspect.signature(dataset.preview).return_annotation
    return getattr(annotation, "__name__", str(annotation))


def decoded(preview: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(preview))))


def image_folder(path, **kwargs) -> PartitionedImageDataset:
    return PartitionedImageDataset(
        path=str(path), dataset={"type": "pillow.ImageDataset"}, filename_suffix=".png", **kwargs
    )


def test_images_preview_first_or_newest_side_by_side_enlarged(tmp_path):
    for epoch, shade in ((1, 10), (2, 20), (10, 30)):
        save_image(tmp_path / f"epoch_{epoch:04d}.png", np.full((8, 6, 3), shade, np.uint8))
    folder = image_folder(tmp_path)
    assert preview_type(folder) == "ImagePreview"
    newest = decoded(folder.preview(count=1, newest=True, min_height=20))
    assert newest.shape == (24, 18, 3) and (newest == 30).all()  # epoch_0010, enlarged 3×
    strip = decoded(folder.preview(count=2, min_height=8))
    assert strip.shape == (8, 6 + 4 + 6, 3)
    assert (
        (strip[:, :6] == 10).all() and (strip[:, 6:10] == 255).all() and (strip[:, 10:] == 20).all()
    )
    assert decoded(folder.preview(count=9, min_height=1)).shape[1] == 3 * 6 + 2 * 4


def test_images_preview_errors_name_the_folder(tmp_path):
    with pytest.raises(DatasetError, match=r"missing: no images yet"):
        image_folder(tmp_path / "missing").preview()
    save_image(tmp_path / "a.png", random_rgb(0, 4, 4))
    with pytest.raises(DatasetError, match=r"count must be a positive integer: 0"):
        image_folder(tmp_path).preview(count=0)


def test_csv_plot_preview_stacks_one_panel_per_group(tmp_path):
    path = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [1, 2], "loss": [3.0, float("nan")], "d_real": [0.5, 0.6]}).to_csv(
        path, index=False
    )
    dataset = CSVPlotDataset(filepath=str(path))
    assert preview_type(dataset) == "PlotlyPreview"
    figure = dataset.preview(x="epoch", panels={"loss": ["loss"], "D": ["d_real"]}, title="t")
    json.dumps(figure, allow_nan=False)  # what kedro-viz sends the browser
    loss, d_real = figure["data"]
    assert loss["x"] == [1, 2] and loss["y"] == [3.0, None] and loss["yaxis"] == "y"
    assert d_real["yaxis"] == "y2" and loss["type"] == "scatter"
    top, bottom = figure["layout"]["yaxis"]["domain"], figure["layout"]["yaxis2"]["domain"]
    assert top[1] == 1 and bottom[0] == 0 and bottom[1] < top[0]
    assert figure["layout"]["xaxis"]["anchor"] == "y2"  # the x axis under the bottom panel
    default = dataset.preview(kind="bar")
    assert [t["name"] for t in default["data"]] == ["loss", "d_real"]
    assert {t["type"] for t in default["data"]} == {"bar"}


def test_csv_plot_preview_errors_name_the_file_and_the_problem(tmp_path):
    path = tmp_path / "history.csv"
    with pytest.raises(DatasetError, match=r"history\.csv: not written yet"):
        CSVPlotDataset(filepath=str(path)).preview()
    pd.DataFrame({"epoch": [1], "loss": [1.0]}).to_csv(path, index=False)
    dataset = CSVPlotDataset(filepath=str(path))
    with pytest.raises(
        DatasetError, match=r"history\.csv: no column 'lr' to plot \(it has epoch, loss\)"
    ):
        dataset.preview(x="epoch", panels={"": ["lr"]})
    with pytest.raises(DatasetError, match=r"history\.csv: preview kind 'pie'"):
        dataset.preview(kind="pie")


def test_json_table_preview_flattens_nested_keys(tmp_path):
    path = tmp_path / "metrics.json"
    dataset = JSONTableDataset(filepath=str(path))
    with pytest.raises(DatasetError, match=r"metrics\.json: not written yet"):
        dataset.preview()
    dataset.save({"test": {"ssim": 0.5, "kid": [1, 2]}, "fid": float("nan"), "notes": {}})
    assert dataset.load()["test"]["ssim"] == 0.5  # loads and saves like json.JSONDataset
    assert preview_type(dataset) == "TablePreview"
    table = dataset.preview()
    assert table["columns"] == ["key", "value"]
    assert table["data"] == [
        ["test.ssim", 0.5],
        ["test.kid", "[1, 2]"],
        ["fid", "nan"],
        ["notes", "{}"],
    ]
    assert dataset.preview(nrows=1)["index"] == [0]


def test_mlflow_wrapper_previews_through_its_inner_dataset(tmp_path):
    pd.DataFrame({"epoch": [1], "loss": [1.0]}).to_csv(tmp_path / "h.csv", index=False)
    wrapped = TolerantMlflowArtifactDataset(
        dataset={"type": "img2img.datasets.CSVPlotDataset", "filepath": str(tmp_path / "h.csv")}
    )
    assert preview_type(wrapped) == "PlotlyPreview"
    assert wrapped.preview()["data"][0]["y"] == [1.0]
    stock = TolerantMlflowArtifactDataset(
        dataset={"type": "pandas.CSVDataset", "filepath": str(tmp_path / "h.csv")}
    )
    assert preview_type(stock) == "TablePreview" and stock.preview()["data"] == [[1, 1.0]]
    no_preview = TolerantMlflowArtifactDataset(
        dataset={"type": "img2img.datasets.AtomicFileDataset", "filepath": str(tmp_path / "m.md")}
    )
    assert not hasattr(no_preview, "preview")
