"""Model artifacts (state dicts + plain metadata) saved with torch, atomically, loaded safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from img2img.gan.checkpoint import atomic_torch_save


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
            raise DatasetError(
                f"{self._filepath}: cannot load model artifact safely: {exc}"
            ) from exc

    def save(self, data: dict) -> None:
        atomic_torch_save(data, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
