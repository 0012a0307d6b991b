"""A JSON document (kedro-datasets' ``json.JSONDataset``) that kedro-viz previews as a table."""

import json
import math
from collections.abc import Iterator
from typing import Any

from kedro.io import DatasetError
from kedro_datasets._typing import TablePreview
from kedro_datasets.json import JSONDataset


class JSONTableDataset(JSONDataset):
    """``json.JSONDataset`` (same arguments; loads and saves the same object) plus
    :meth:`preview`: one table row per value, named by its dotted key (``baselines.copy_source.l1``).

    Example::

        metrics:
          type: img2img.datasets.JSONTableDataset
          filepath: data/08_reporting/metrics.json
    """

    def preview(self, nrows: int = 200) -> TablePreview:
        """The first ``nrows`` (key, value) rows, in kedro-viz's table format (pandas' ``split``
        orientation); lists are shown as JSON text."""
        if not self._exists():
            raise DatasetError(
                f"{self._filepath}: not written yet; run the pipeline that writes it"
            )
        rows = list(flatten(self.load()))[:nrows]
        return TablePreview(
            {
                "index": list(range(len(rows))),
                "columns": ["key", "value"],
                "data": [[key, value] for key, value in rows],
            }
        )


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, scalar) for every leaf of nested dicts; a list is one leaf (JSON text)."""
    if isinstance(value, dict):
        if not value and prefix:
            yield prefix, "{}"
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        yield prefix or "value", json.dumps(value)
    elif isinstance(value, float) and not math.isfinite(value):
        yield prefix or "value", str(value)  # NaN is not JSON: kedro-viz sends previews as JSON
    else:
        yield prefix or "value", value
