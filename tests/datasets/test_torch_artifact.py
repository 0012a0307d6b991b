"""Model artifacts: typed, atomic save, safe (weights_only) load."""

from __future__ import annotations

import pytest
import torch
from kedro.io import DatasetError

from img2img.datasets import TorchArtifactDataset
from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
from img2img.gan.config import TrainConfig
from img2img.gan.lineage import Lineage, WeightsOrigin
from img2img.gan.networks import build_generator
from img2img.ingest.caches import DataVersion


class NotAllowed:
    """A class a weights_only load must refuse to instantiate."""


def generator_artifact(lineage: Lineage | None = None) -> GeneratorArtifact:
    config = TrainConfig.from_params({"load_size": 32, "crop_size": 32, "generator": {"ngf": 4}})
    model = build_generator(config.generator_architecture())
    return GeneratorArtifact(config.generator_architecture(), model.state_dict(), ema=True, epochs=3,
                             train_config=config.to_dict(), lineage=lineage)  # fmt: skip


LINEAGE = Lineage(
    DataVersion.create({"train": "a", "val": "b", "test": "c"}, {"train": 3, "val": 1, "test": 1},
                       "data/01_raw/x", "left half of AB files (AtoB)"),
    identity="i" * 64, init=WeightsOrigin(kind="champion", reference="models:/g/1", generator_sha256="s"),
    git_commit="abc", git_dirty=False, dvc_file="data/01_raw/x.dvc", dvc_md5="m.dir", run_id="r",
)  # fmt: skip


@pytest.mark.parametrize("lineage", [LINEAGE, None], ids=["with lineage", "without"])
def test_generator_round_trip_keeps_every_field(tmp_path, lineage):
    dataset = TorchArtifactDataset(str(tmp_path / "models" / "g.pt"), kind="generator")
    artifact = generator_artifact(lineage)
    dataset.save(artifact)
    loaded = dataset.load()
    assert isinstance(loaded, GeneratorArtifact) and loaded.lineage == lineage
    assert (loaded.architecture, loaded.ema, loaded.epochs) == (artifact.architecture, True, 3)
    assert loaded.size_multiple == 32 and loaded.crop_size == 32
    for name, value in artifact.state_dict.items():
        assert torch.equal(loaded.state_dict[name], value), name
    assert loaded.build()(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_discriminator_round_trip_and_the_wrong_kind_is_refused(tmp_path):
    dataset = TorchArtifactDataset(str(tmp_path / "d.pt"), kind="discriminator")
    dataset.save(DiscriminatorArtifact({"in_channels": 6, "ndf": 4}, {"w": torch.ones(2)}))
    assert torch.equal(dataset.load().state_dict["w"], torch.ones(2))
    with pytest.raises(DatasetError, match="expected a DiscriminatorArtifact"):
        dataset.save(generator_artifact())
    with pytest.raises(DatasetError, match="kind must be one of"):
        TorchArtifactDataset(str(tmp_path / "x.pt"), kind="critic")


def test_arbitrary_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"payload": NotAllowed()}, path)
    with pytest.raises(DatasetError, match="cannot load generator artifact safely"):
        TorchArtifactDataset(str(path)).load()


def test_a_file_without_architecture_and_weights_is_named(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(1)}, path)
    with pytest.raises(DatasetError, match=r"other\.pt: not a generator artifact"):
        TorchArtifactDataset(str(path)).load()


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    dataset = TorchArtifactDataset(str(tmp_path / "g.pt"))
    dataset.save(generator_artifact())

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(generator_artifact(LINEAGE))
    monkeypatch.undo()
    assert dataset.load().lineage is None
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]


def test_missing_artifact_says_what_to_run(tmp_path):
    with pytest.raises(DatasetError, match="run training first"):
        TorchArtifactDataset(str(tmp_path / "nope.pt")).load()
