"""Model artifacts (state dicts + plain metadata) saved with torch, atomically, loaded safely."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TorchArtifactDataset(AbstractDataset[dict, dict]):
    """A dict of tensors and plain values (e.g. ``{"architecture": {...}, "state_dict": {...}}``).

    Loaded with ``torch.load(..., weights_only=True)``: no arbitrary pickles are executed, so a
    tampered file fails to load instead of running code.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> dict:
        import torch

        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath}: model artifact not found; run training first")
        try:
            return torch.load(self._filepath, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DatasetError(f"{self._filepath}: cannot load model artifact safely: {exc}") from exc

    def save(self, data: dict) -> None:
        atomic_torch_save(data, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
