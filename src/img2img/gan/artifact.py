"""The saved networks of a training run, typed, and where their weights come from.

:class:`GeneratorArtifact` is ``data/06_models/generator.pt``: the architecture to rebuild the
generator from, its weights (the EMA weights when training kept them), how it was trained (a
time-budgeted run's :class:`~img2img.gan.plan.TrainingPlan` included) and its
:class:`Lineage`: the data version it was trained on, the weights it started from, the training
identity, the git commit, the DVC data version and the MLflow run. :class:`DiscriminatorArtifact` is
``data/06_models/discriminator.pt``. Both are saved as plain values and tensors (``torch.save``,
atomically) and loaded with ``weights_only=True``: one :meth:`~GeneratorArtifact.save` and one
:meth:`~GeneratorArtifact.load` for every reader (evaluation, packaging, the card, warm starts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from img2img.gan.checkpoint import atomic_torch_save
from img2img.gan.discriminators import build_discriminator
from img2img.gan.lineage import Lineage, WeightsOrigin
from img2img.gan.networks import build_generator
from img2img.gan.plan import TrainingPlan

ARTIFACT_FORMAT = 2
# Architecture keys that do not change the weights' shapes (a warm start may change them).
NON_SHAPE_KEYS = frozenset({"crop_size"})


class ArtifactError(ValueError):
    """A saved model artifact is missing, unreadable or not what it should be."""


def weights_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the names, shapes and bytes of a state dict (order-independent)."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _load(path: str | Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: {what} not found; run training first")
    try:
        values = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load {what} safely: {exc}") from exc
    if not isinstance(values, Mapping) or not {"architecture", "state_dict"} <= set(values):
        raise ArtifactError(f"{path}: not a {what} (no architecture and weights)")
    return dict(values)


@dataclass(frozen=True)
class DiscriminatorArtifact:
    architecture: Mapping[str, Any]
    state_dict: Mapping[str, torch.Tensor]

    def build(self) -> nn.Module:
        model = build_discriminator(dict(self.architecture))
        model.load_state_dict(dict(self.state_dict))
        return model

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": dict(self.architecture), "state_dict": dict(self.state_dict)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DiscriminatorArtifact:
        return cls(dict(values["architecture"]), dict(values["state_dict"]))

    def save(self, path: str | Path) -> None:
        atomic_torch_save(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> DiscriminatorArtifact:
        return cls.from_dict(_load(path, "discriminator artifact"))


@dataclass(frozen=True)
class GeneratorArtifact:
    """A trained generator: rebuild it with :meth:`build`; its inputs' sides must be multiples of
    :attr:`size_multiple`; it was trained on :attr:`crop_size` px crops."""

    architecture: Mapping[str, Any]
    state_dict: Mapping[str, torch.Tensor]
    ema: bool = False
    epochs: int = 0
    train_config: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    training_seconds: float = 0.0
    lineage: Lineage | None = None  # None: saved by an img2img without lineage
    plan: TrainingPlan | None = None  # a time-budgeted run's plan (training.time_budget_minutes)

    @property
    def size_multiple(self) -> int:
        return int(self.architecture["size_multiple"])

    @property
    def crop_size(self) -> int:
        return int(self.architecture["crop_size"])

    def build(self) -> nn.Module:
        model = build_generator(dict(self.architecture))
        model.load_state_dict(dict(self.state_dict))
        return model

    def with_lineage(self, lineage: Lineage) -> GeneratorArtifact:
        return replace(self, lineage=lineage)

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(format=ARTIFACT_FORMAT, architecture=dict(self.architecture),
                      state_dict=dict(self.state_dict), train_config=dict(self.train_config),
                      environment=dict(self.environment),
                      lineage=self.lineage.to_dict() if self.lineage else None,
                      plan=self.plan.to_dict() if self.plan else None)  # fmt: skip
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GeneratorArtifact:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        kwargs["lineage"] = Lineage.from_dict(values["lineage"]) if values.get("lineage") else None
        kwargs["plan"] = TrainingPlan.from_dict(values["plan"]) if values.get("plan") else None
        return cls(**kwargs)

    def save(self, path: str | Path) -> None:
        atomic_torch_save(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> GeneratorArtifact:
        values = _load(path, "generator artifact")
        try:
            return cls.from_dict(values)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{path}: malformed generator artifact ({exc!r})") from exc


def same_shapes(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether two architecture specs build networks with the same weight shapes."""

    def shape_keys(spec: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in spec.items() if k not in NON_SHAPE_KEYS}

    return shape_keys(saved) == shape_keys(wanted)


@dataclass(frozen=True)
class InitialWeights:
    """Weights a training run starts from instead of a random initialisation."""

    generator: Mapping[str, torch.Tensor]
    discriminator: Mapping[str, torch.Tensor] | None
    origin: WeightsOrigin
