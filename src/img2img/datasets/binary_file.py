"""Opaque bytes (exported models) written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class BinaryFileDataset(AbstractDataset[bytes, bytes]):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> bytes:
        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath}: file not found; run the pipeline that writes it")
        return self._filepath.read_bytes()

    def save(self, data: bytes) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._filepath.parent, prefix=f".{self._filepath.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self._filepath)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
