"""Model artifacts (:mod:`img2img.gan.artifact`): saved atomically with torch, loaded safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from img2img.gan.artifact import ArtifactError, DiscriminatorArtifact, GeneratorArtifact

KINDS = {"generator": GeneratorArtifact, "discriminator": DiscriminatorArtifact}


class TorchArtifactDataset(AbstractDataset[Any, Any]):
    """A :class:`~img2img.gan.artifact.GeneratorArtifact` or ``DiscriminatorArtifact`` (``kind``).

    Loaded with ``torch.load(..., weights_only=True)``: no arbitrary pickles are executed, so a
    tampered file fails to load instead of running code.

    Example::

        generator:
          type: img2img.datasets.TorchArtifactDataset
          filepath: data/06_models/generator.pt
          kind: generator
    """

    def __init__(
        self, filepath: str, kind: str = "generator", metadata: dict[str, Any] | None = None
    ) -> None:
        if kind not in KINDS:
            raise DatasetError(f"{filepath}: kind must be one of {sorted(KINDS)}, got {kind!r}")
        self._filepath = Path(filepath)
        self._kind = KINDS[kind]
        self.metadata = metadata

    def load(self) -> Any:
        try:
            return self._kind.load(self._filepath)
        except ArtifactError as exc:
            raise DatasetError(str(exc)) from exc

    def save(self, data: Any) -> None:
        if not isinstance(data, self._kind):
            raise DatasetError(
                f"{self._filepath}: expected a {self._kind.__name__}, got {type(data).__name__}"
            )
        data.save(self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "kind": self._kind.__name__}
