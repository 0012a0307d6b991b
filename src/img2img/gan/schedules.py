"""Learning-rate policies as multiplicative factors per epoch (for ``LambdaLR``)."""

from __future__ import annotations

import math
from collections.abc import Callable

from img2img.gan.config import TrainConfig


def lr_factor(config: TrainConfig) -> Callable[[int], float]:
    """Factor applied to the initial lr at 0-based ``epoch``.

    * linear (pix2pix): 1 for ``epochs`` epochs, then linear decay to 0 over ``epochs_decay``:
      ``1 - max(0, epoch + 1 - epochs) / (epochs_decay + 1)``.
    * cosine: half a cosine from 1 to 0 over all epochs.
    * step: multiplied by ``gamma`` every ``step_epochs`` epochs.
    """
    policy = config.lr_policy
    if policy.name == "linear":
        constant, decay = config.epochs, config.epochs_decay
        return lambda epoch: 1.0 - max(0, epoch + 1 - constant) / float(decay + 1)
    if policy.name == "cosine":
        total = config.total_epochs
        return lambda epoch: 0.5 * (1.0 + math.cos(math.pi * min(epoch, total) / total))
    if policy.name == "step":
        return lambda epoch: policy.gamma ** (epoch // policy.step_epochs)
    raise ValueError(f"unknown lr policy {policy.name!r}")
