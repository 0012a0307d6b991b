"""A folder of raw user data, handed to nodes as a path so they can scan any layout in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class DataRootDataset(AbstractDataset[None, Path]):
    """Loads the (created if absent) folder's path; the catalog names the folder, nodes read it.

    Example::

        raw_images:
          type: img2img.datasets.DataRootDataset
          path: data/01_raw
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> Path:
        self._path.mkdir(parents=True, exist_ok=True)
        return self._path

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._path}: a data root is read-only in the catalog")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
