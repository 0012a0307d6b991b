"""Find the weights a training run was asked to start from (``training.init_from``).

* ``none``: nothing (random initialisation).
* ``champion`` and ``auto``: the registry's ``champion`` version of ``packaging.model_name``; every
  version registered by :mod:`img2img.packaging.gate` carries the generator and discriminator
  artifacts next to its exports. No champion yet (the first run), or one registered without
  weights: the run starts from scratch, and says why. (Whether ``auto`` uses it is decided by
  :func:`img2img.gan.warm_start.initial_weights`.)
* a path: a generator artifact file (``generator.pt``), or a folder holding ``generator.pt`` and,
  optionally, ``discriminator.pt``. A path that does not exist is an error.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
from img2img.gan.lineage import WeightsOrigin
from img2img.gan.warm_start import StartingPoint
from img2img.packaging.registry import DISCRIMINATOR_WEIGHTS, GENERATOR_WEIGHTS, find_champion
from img2img.scratch import scratch_directory

GENERATOR_FILE, DISCRIMINATOR_FILE = "generator.pt", "discriminator.pt"


def load_starting_point(init_from: str, model_name: str) -> StartingPoint:
    """The saved weights ``init_from`` names (see the module docstring)."""
    if init_from == "none":
        return StartingPoint()
    if init_from in ("champion", "auto"):
        return _champion(model_name, init_from)
    return _from_path(Path(init_from))


def _from_path(path: Path) -> StartingPoint:
    generator_file = path / GENERATOR_FILE if path.is_dir() else path
    if not generator_file.is_file():
        raise FileNotFoundError(
            f"training.init_from: {path} is neither a generator artifact file nor a folder "
            f"holding {GENERATOR_FILE}"
        )
    discriminator_file = generator_file.with_name(DISCRIMINATOR_FILE) if path.is_dir() else None
    discriminator = (
        DiscriminatorArtifact.load(discriminator_file)
        if discriminator_file is not None and discriminator_file.is_file()
        else None
    )
    origin = WeightsOrigin(kind="file", reference=str(path))
    return StartingPoint(GeneratorArtifact.load(generator_file), discriminator, origin)


def _champion(model_name: str, init_from: str) -> StartingPoint:
    version = find_champion(MlflowClient(), model_name)
    if version is None:
        note = f"init_from: {init_from}, but {model_name} has no champion yet"
        return StartingPoint(origin=WeightsOrigin(note=note))
    reference = f"models:/{model_name}/{version.version}"
    with scratch_directory(prefix="champion-") as tmp:
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=reference, dst_path=tmp))
        generator_file = next(folder.rglob(GENERATOR_WEIGHTS), None)
        discriminator_file = next(folder.rglob(DISCRIMINATOR_WEIGHTS), None)
        if generator_file is None:
            note = (f"init_from: {init_from}, but {reference} carries no training weights "
                    "(registered by an img2img without warm starts)")  # fmt: skip
            return StartingPoint(origin=WeightsOrigin(note=note))
        generator = GeneratorArtifact.load(generator_file)
        discriminator = (
            DiscriminatorArtifact.load(discriminator_file) if discriminator_file else None
        )
    return StartingPoint(
        generator, discriminator, WeightsOrigin(kind="champion", reference=reference)
    )
