"""Node of the training pipeline: a thin call into :mod:`img2img.gan`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from img2img.gan import TrainConfig
from img2img.gan.distributed import launch_training
from img2img.pipelines.training.tracking import MlflowTrainingTracker

logger = logging.getLogger(__name__)


def train_gan(
    train_tensors: dict,
    val_tensors: dict,
    checkpoint_root: Path,
    params: dict[str, Any],
) -> tuple[dict, dict, pd.DataFrame, dict[str, Image.Image]]:
    """Fit the conditional GAN on the training cache; sample grids come from the first val pairs.

    ``training.load_size: null`` means "as preprocessed" (the caches' size). With
    ``training.distributed.nproc_per_node`` > 1, or under ``torchrun``, training runs data-parallel
    (:func:`img2img.gan.distributed.launch_training`) and this returns process 0's result; the other
    processes of a ``torchrun`` group return empty outputs (see :mod:`img2img.train_distributed`).
    """
    params = dict(params)
    if params.get("load_size") is None:
        params["load_size"] = int(train_tensors["source"].shape[-1])
    config = TrainConfig.from_params(params)
    if len(train_tensors["pair_id"]) == 0:
        raise ValueError(
            "train_tensors is empty: the training split has no pairs "
            "(check data_processing.split.fractions and rejected_pairs.csv)"
        )
    samples = val_tensors if len(val_tensors["pair_id"]) else train_tensors
    count = min(config.num_samples, len(samples["pair_id"]))
    tracker = MlflowTrainingTracker(config.log_every_steps)
    result = launch_training(
        config,
        train_tensors["source"],
        train_tensors["target"],
        checkpoint_dir=checkpoint_root,
        sample_source_u8=samples["source"][:count],
        sample_target_u8=samples["target"][:count],
        callbacks=tracker,
    )
    if result is None:  # not process 0 of a torchrun group: process 0 returns the outputs
        return {}, {}, pd.DataFrame(), {}
    tracker.log_environment(result.environment)
    history = pd.DataFrame(result.history)
    grids = {
        f"epoch_{epoch:04d}": Image.fromarray(grid) for epoch, grid in result.sample_grids.items()
    }
    return result.generator, result.discriminator, history, grids
