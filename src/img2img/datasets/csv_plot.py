"""A CSV table (kedro-datasets' ``pandas.CSVDataset``) that kedro-viz previews as a Plotly chart."""

import math
from typing import Any

import pandas as pd
from kedro.io import DatasetError
from kedro_datasets._typing import PlotlyPreview
from kedro_datasets.pandas import CSVDataset

KINDS = {"line": {"type": "scatter", "mode": "lines+markers"}, "bar": {"type": "bar"}}
PANEL_GAP = 0.1  # fraction of the plot height between two stacked panels (room for a title)


class CSVPlotDataset(CSVDataset):
    """``pandas.CSVDataset`` (same arguments; loads and saves the same DataFrame) plus
    :meth:`preview`: columns plotted against one column, for kedro-viz.

    Example::

        training_history:
          type: img2img.datasets.CSVPlotDataset
          filepath: data/08_reporting/training_history.csv
          metadata:
            kedro-viz:
              preview_args:
                x: epoch
                panels: {losses: [loss_G_GAN, loss_D_real], "D outputs": [d_real_mean]}
    """

    def preview(
        self,
        x: str | None = None,
        panels: dict[str, list[str]] | None = None,
        kind: str = "line",
        title: str | None = None,
    ) -> PlotlyPreview:
        """A Plotly figure (as a dict): for each panel (title -> columns, stacked top to bottom,
        sharing the x axis), its columns against ``x``. Defaults: ``x`` is the first column, one
        panel of every other numeric column. ``kind``: ``line`` or ``bar``."""
        if not self._exists():
            raise DatasetError(
                f"{self._filepath}: not written yet; run the pipeline that writes it"
            )
        table = self.load()
        x = x or str(table.columns[0])
        panels = panels or {"": [c for c in table.select_dtypes("number").columns if c != x]}
        self._check(table, x, panels, kind)
        return PlotlyPreview(plotly_figure(table, x, panels, kind, title or ""))

    def _check(self, table: pd.DataFrame, x: str, panels: dict[str, list[str]], kind: str) -> None:
        if kind not in KINDS:
            raise DatasetError(
                f"{self._filepath}: preview kind {kind!r} is not one of {list(KINDS)}"
            )
        wanted = [x, *(column for columns in panels.values() for column in columns)]
        missing = [column for column in wanted if column not in table.columns]
        if missing:
            raise DatasetError(
                f"{self._filepath}: no column {', '.join(map(repr, missing))} to plot "
                f"(it has {', '.join(map(str, table.columns))})"
            )


def plotly_figure(
    table: pd.DataFrame, x: str, panels: dict[str, list[str]], kind: str, title: str
) -> dict[str, Any]:
    """Plotly's figure JSON (``data`` and ``layout``): one y axis per panel, its title above it
    (kedro-viz's side panel is narrow: no room for rotated axis titles), legend below."""
    height = (1 - PANEL_GAP * (len(panels) - 1)) / len(panels)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}, "anchor": _axis_id(len(panels) - 1)},
        "barmode": "group",
        "showlegend": True,
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.15},
        "annotations": [],
    }
    for index, (panel, columns) in enumerate(panels.items()):
        top = 1 - index * (height + PANEL_GAP)
        layout[f"yaxis{index + 1 if index else ''}"] = {
            "domain": [max(0.0, top - height), top],
            "anchor": "x",
        }
        layout["annotations"].append(
            {"text": panel, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0,
             "y": top, "xanchor": "left", "yanchor": "bottom"}
        )  # fmt: skip
        data += [
            {**KINDS[kind], "name": column, "x": _values(table[x]), "y": _values(table[column]),
             "xaxis": "x", "yaxis": _axis_id(index)}
            for column in columns
        ]  # fmt: skip
    return {"data": data, "layout": layout}


def _axis_id(index: int) -> str:
    return f"y{index + 1 if index else ''}"


def _values(column: pd.Series) -> list[Any]:
    """JSON-ready values: NumPy scalars as Python ones, NaN and infinities as None (a gap)."""
    values = column.tolist()
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
