"""Node of the training pipeline: a thin call into :mod:`img2img.gan`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact
from img2img.gan.checkpoint import SCRATCH, TrainingIdentity
from img2img.gan.config import TrainConfig
from img2img.gan.data import steps_per_epoch
from img2img.gan.launcher import launch_training
from img2img.gan.lineage import Lineage, dvc_data_version, git_revision
from img2img.gan.loop import TrainingInputs
from img2img.gan.warm_start import initial_weights
from img2img.ingest.caches import TensorCache, require_one_generation
from img2img.packaging.warm_start import load_starting_point
from img2img.pipelines.training.tracking import MlflowTrainingTracker

logger = logging.getLogger(__name__)


def train_gan(
    train_tensors: TensorCache,
    val_tensors: TensorCache,
    checkpoint_root: Path,
    params: dict[str, Any],
    model_name: str,
) -> tuple[GeneratorArtifact | dict, DiscriminatorArtifact | dict, pd.DataFrame, dict[str, Image.Image]]:  # fmt: skip
    """Fit the conditional GAN on the training cache; sample grids come from the first val pairs.

    ``training.load_size: null`` means "as preprocessed" (the caches' size). ``training.init_from``
    names weights to start from (``auto``/``champion``: the registry's champion of ``model_name``,
    see :mod:`img2img.gan.warm_start`), trained with the ``training.warm_start`` schedule.
    ``training.time_budget_minutes`` trains the steps that fit in it instead of the epochs (the plan,
    :mod:`img2img.gan.plan`, is tagged on the MLflow run and kept in the artifact). With
    ``training.distributed.nproc_per_node`` > 1, or under ``torchrun``, training runs data-parallel (:func:`img2img.gan.launcher.launch_training`)
    and this returns process 0's result; the other processes of a ``torchrun`` group return empty
    outputs (see :mod:`img2img.train_distributed`).
    """
    params = dict(params)
    if params.get("load_size") is None:
        params["load_size"] = int(train_tensors.source.shape[-1])
    config = TrainConfig.from_params(params)
    data = require_one_generation(train_tensors, val_tensors)
    if len(train_tensors) == 0:
        raise ValueError(
            "train_tensors is empty: the training split has no pairs "
            "(check data_processing.split.fractions and rejected_pairs.csv)"
        )
    start = load_starting_point(config.init_from, model_name)
    initial, origin = initial_weights(config, start, data)
    run_config = config.for_warm_start() if initial is not None else config
    identity = TrainingIdentity(
        run_config.param_hash(), data.training_fingerprint(), origin.generator_sha256 or SCRATCH
    )
    samples = val_tensors if len(val_tensors) else train_tensors
    count = min(config.num_samples, len(samples))  # only these travel to training processes
    expected_steps = (  # one process's steps; unknown before a time budget is planned
        None if run_config.budgeted
        else run_config.total_epochs * steps_per_epoch(len(train_tensors), run_config.batch_size)
    )  # fmt: skip
    tracker = MlflowTrainingTracker(config.log_every_steps, expected_steps)
    inputs = TrainingInputs(train_tensors.source, train_tensors.target, checkpoint_root,
                            samples.source[:count], samples.target[:count], identity, initial, tracker)  # fmt: skip
    result = launch_training(run_config, inputs)
    if result is None:  # not process 0 of a torchrun group: process 0 returns the outputs
        return {}, {}, pd.DataFrame(), {}
    lineage = Lineage(data, identity.digest, config.recipe_hash(), origin, *git_revision(),
                      *dvc_data_version(data.dataset), run_id=tracker.run_id)  # fmt: skip
    tracker.log_environment(result.environment)
    tracker.log_tags(lineage.tags())
    if result.plan is not None:  # training.time_budget_minutes: the steps it planned, and why
        tracker.log_tags(result.plan.tags())
    history = pd.DataFrame(result.history)
    grids = {
        f"epoch_{epoch:04d}": Image.fromarray(grid) for epoch, grid in result.sample_grids.items()
    }
    return result.generator.with_lineage(lineage), result.discriminator, history, grids
