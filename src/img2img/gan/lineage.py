"""Lineage of trained weights: the data they were trained on, where they started, which code.

Recorded in the generator artifact (:class:`img2img.gan.artifact.GeneratorArtifact`) and repeated by
the MLflow run, the registered model version and the model card, so each of them says what the
weights really saw, not what the data folders hold today.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from img2img.ingest.caches import DataVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsOrigin:
    """Where a training run's weights started: from scratch, the registry's champion, or a file."""

    kind: str = "scratch"  # scratch | champion | file
    reference: str = ""  # models:/<name>/<version>, or the file
    generator_sha256: str = ""  # of the starting generator weights
    discriminator: bool = False  # whether the discriminator started from them too
    trained_on: str = ""  # data generation the starting weights were trained on, when known
    note: str = ""  # why a requested warm start did not happen

    def describe(self) -> str:
        if self.kind == "scratch":
            return "scratch (random initialisation)" + (f"; {self.note}" if self.note else "")
        parts = [f"{self.kind} {self.reference}"]
        parts.append("generator and discriminator" if self.discriminator else "generator only")
        if self.trained_on:
            parts.append(f"trained on data generation {self.trained_on[:12]}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Lineage:
    """What the weights of an artifact are made of, for the card, the MLflow run and the registry."""

    data: DataVersion  # the data the weights were trained on
    identity: str  # the training identity: parameters + data fingerprint + starting weights
    recipe: str = ""  # TrainConfig.recipe_hash() of the configuration asked for
    init: WeightsOrigin = field(default_factory=WeightsOrigin)
    git_commit: str | None = None
    git_dirty: bool | None = None
    dvc_file: str | None = None  # the .dvc file of the raw dataset, when DVC tracks it
    dvc_md5: str | None = None  # the data version recorded in it
    run_id: str | None = None  # the MLflow run that trained the weights

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "data": self.data.to_dict(), "init": asdict(self.init)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Lineage:
        known = {f.name for f in fields(cls)} - {"data", "init"}
        return cls(
            data=DataVersion.from_dict(values["data"]),
            init=WeightsOrigin(**values.get("init", {})),
            **{k: v for k, v in values.items() if k in known},
        )

    def tags(self) -> dict[str, str]:
        """The lineage as flat string tags (MLflow run and model version)."""
        tags = {
            "lineage.data_generation": self.data.generation,
            "lineage.train_fingerprint": self.data.fingerprints.get("train", ""),
            "lineage.train_pairs": str(self.data.pairs.get("train", "")),
            "lineage.dataset": self.data.dataset,
            "lineage.identity": self.identity,
            "lineage.init": self.init.describe(),
            "lineage.git_commit": str(self.git_commit) + (" (uncommitted changes)" if self.git_dirty else ""),
        }  # fmt: skip
        if self.dvc_md5:
            tags["lineage.dvc_data"] = f"{self.dvc_file} md5 {self.dvc_md5}"
        if self.run_id:
            tags["lineage.run_id"] = self.run_id
        return tags


CODE_PATHS = ("src", "pyproject.toml")  # what "uncommitted changes" to the code looks at


def git_revision(path: str | Path = ".") -> tuple[str | None, bool | None]:
    """(commit, whether the code has uncommitted changes) of the git work tree at ``path``;
    (None, None) outside one. Only :data:`CODE_PATHS` count: DVC rewrites ``dvc.lock`` and the
    reports during a run, and the parameters are recorded on their own."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()  # fmt: skip

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def dvc_data_version(dataset: str | Path) -> tuple[str | None, str | None]:
    """(the ``.dvc`` file, the data version (md5) recorded in it) of a DVC-tracked dataset folder,
    or (None, None) when DVC does not track it."""
    dvc_file = Path(f"{Path(dataset).as_posix().rstrip('/')}.dvc")
    if not dvc_file.is_file():
        return None, None
    try:
        outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs") or []
        md5 = next((str(out["md5"]) for out in outs if "md5" in out), None)
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
        logger.warning("%s: cannot read the DVC data version (%s)", dvc_file, exc)
        return str(dvc_file), None
    return str(dvc_file), md5
