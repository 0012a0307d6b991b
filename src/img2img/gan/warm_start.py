"""Warm starts: training that begins from saved weights (the registry's champion, or a file).

The caller finds the weights (:mod:`img2img.packaging.warm_start` reads the registry and files);
this module decides whether to use them:

* ``init_from: auto`` (the default) warm-starts from the champion only when it is a retraining of
  the same model on new data: the champion was trained with the same recipe (training parameters)
  on the same dataset folder, whose data has changed since. A new recipe, another dataset, or the
  same data again (a code change) trains from scratch.
* ``init_from: champion`` or a path: whenever the weights fit.

Weights fit when the generator builds with the same weight shapes (otherwise the run starts from
scratch, and says so); the discriminator is reused when it fits too, else it starts fresh. A
warm-started run trains with its own schedule (``training.warm_start``,
:meth:`img2img.gan.config.TrainConfig.for_warm_start`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from img2img.gan.artifact import (
    DiscriminatorArtifact,
    GeneratorArtifact,
    InitialWeights,
    same_shapes,
    weights_sha256,
)
from img2img.gan.config import TrainConfig
from img2img.gan.lineage import WeightsOrigin
from img2img.ingest.caches import DataVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartingPoint:
    """Saved weights a run was asked to start from; ``generator`` None: there are none (the
    origin's note says why)."""

    generator: GeneratorArtifact | None = None
    discriminator: DiscriminatorArtifact | None = None
    origin: WeightsOrigin = field(default_factory=WeightsOrigin)


def _spec(architecture: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(architecture.items()))


def _not_a_retraining(config: TrainConfig, start: StartingPoint, data: DataVersion) -> str | None:
    """Why ``init_from: auto`` does not warm-start from ``start`` (None: it does)."""
    lineage = start.generator.lineage if start.generator is not None else None
    if lineage is None:
        return (
            f"{start.origin.reference} has no lineage to compare with (saved by an older img2img)"
        )
    if lineage.recipe != config.recipe_hash():
        return f"{start.origin.reference} was trained with other training parameters"
    if lineage.data.dataset != data.dataset:
        return f"{start.origin.reference} was trained on another dataset ({lineage.data.dataset})"
    if lineage.data.generation == data.generation:
        return f"{start.origin.reference} was trained on this same data"
    return None


def _scratch(note: str) -> tuple[None, WeightsOrigin]:
    logger.warning("Warm start: %s; training from scratch with the full schedule", note)
    return None, WeightsOrigin(note=note)


def initial_weights(
    config: TrainConfig, start: StartingPoint, data: DataVersion
) -> tuple[InitialWeights | None, WeightsOrigin]:
    """The weights a run of ``config`` on ``data`` starts from (None: random initialisation) and
    the record of where they come from."""
    if start.generator is None:
        if start.origin.note:  # asked for weights that are not there
            log = logger.info if config.init_from == "auto" else logger.warning
            log("Training from scratch: %s", start.origin.note)
        return None, start.origin
    if config.init_from == "auto" and (reason := _not_a_retraining(config, start, data)):
        note = f"init_from: auto, and {reason}"
        logger.info("Training from scratch with the full schedule: %s", note)
        return None, WeightsOrigin(note=note)
    wanted = config.generator_architecture()
    if not same_shapes(start.generator.architecture, wanted):
        return _scratch(f"{start.origin.reference} was not used: its generator "
                        f"({_spec(dict(start.generator.architecture))}) does not fit this "
                        f"configuration's ({_spec(wanted)})")  # fmt: skip
    discriminator = None
    if start.discriminator is not None and same_shapes(
        start.discriminator.architecture, config.discriminator_architecture()
    ):
        discriminator = start.discriminator.state_dict
    else:
        logger.warning("Warm start: %s has no discriminator that fits this configuration; the "
                       "discriminator starts from scratch", start.origin.reference)  # fmt: skip
    lineage = start.generator.lineage
    origin = dataclasses.replace(
        start.origin,
        generator_sha256=weights_sha256(start.generator.state_dict),
        discriminator=discriminator is not None,
        trained_on=lineage.data.generation if lineage else "",
    )
    logger.info("Warm start from %s", origin.describe())
    return InitialWeights(start.generator.state_dict, discriminator, origin), origin
