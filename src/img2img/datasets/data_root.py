"""A folder handed to nodes as a path: raw user data they scan in any layout (loaded), or a folder
a node filled itself (saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class DataRootDataset(AbstractDataset[Path, Path]):
    """Loads the (created if absent) folder's path; the catalog names the folder, nodes read it.

    Saving is how a node that wrote files into the folder itself declares it as its output (so
    kedro-viz and ``kedro run --to-outputs`` see who writes it): the node returns the folder's path;
    a different folder is refused, since the files would not be where the catalog says.

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

    def save(self, data: Path) -> None:
        if not isinstance(data, str | Path) or Path(data).resolve() != self._path.resolve():
            raise DatasetError(
                f"{self._path}: the node returned {data!r}, not this folder's path: it must write "
                "into the folder the catalog names and return that path"
            )
        self._path.mkdir(parents=True, exist_ok=True)

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
