"""A file written atomically (temporary file, then rename): bytes, or text with an encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from img2img.atomic import atomic_write_bytes


class AtomicFileDataset(AbstractDataset[bytes | str, bytes | str]):
    """Exported models (bytes) and reports such as the model card (``encoding: utf-8``: text).

    A crash while saving leaves the previous file intact.
    """

    def __init__(
        self, filepath: str, encoding: str | None = None, metadata: dict[str, Any] | None = None
    ):
        self._filepath = Path(filepath)
        self._encoding = encoding
        self.metadata = metadata

    def load(self) -> bytes | str:
        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath}: file not found; run the pipeline that writes it")
        data = self._filepath.read_bytes()
        return data.decode(self._encoding) if self._encoding else data

    def save(self, data: bytes | str) -> None:
        payload = data.encode(self._encoding or "utf-8") if isinstance(data, str) else data
        atomic_write_bytes(self._filepath, payload)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "encoding": self._encoding}
