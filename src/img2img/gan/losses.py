"""Adversarial losses (vanilla BCE, LSGAN, hinge), summed over the scales of a multi-scale D, and
pix2pixHD's feature matching.

With one discriminator scale (the pix2pix default) every loss is exactly the pix2pix one; with
several (pix2pixHD style) the per-scale losses are added, so each scale pulls as hard as a single D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Logits = torch.Tensor | list[torch.Tensor]


def _as_list(logits: Logits) -> list[torch.Tensor]:
    return logits if isinstance(logits, list | tuple) else [logits]


def _single(mode: str, logits: torch.Tensor, real: bool, for_generator: bool) -> torch.Tensor:
    logits = logits.float()
    if mode == "vanilla":
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, torch.full_like(logits, 1.0 if real else 0.0))
    if mode == "hinge":
        if for_generator:
            return -logits.mean()
        return F.relu(1.0 - logits).mean() if real else F.relu(1.0 + logits).mean()
    raise ValueError(f"unknown gan_mode {mode!r}")


def discriminator_loss(
    mode: str, real_logits: Logits, fake_logits: Logits
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss on real pairs, loss on fake pairs), each summed over discriminator scales."""
    reals, fakes = _as_list(real_logits), _as_list(fake_logits)
    if len(reals) != len(fakes):
        raise ValueError(f"{len(reals)} real but {len(fakes)} fake discriminator outputs")
    loss_real = sum(_single(mode, r, True, False) for r in reals)
    loss_fake = sum(_single(mode, f, False, False) for f in fakes)
    return loss_real, loss_fake


def generator_adversarial_loss(mode: str, fake_logits: Logits) -> torch.Tensor:
    """The generator's adversarial loss (summed over scales): fool the discriminator on its fakes."""
    return sum(_single(mode, f, True, True) for f in _as_list(fake_logits))


def realness(mode: str, logits: Logits) -> float:
    """Mean "D says real" score, averaged over scales, to watch for collapse in the history.

    vanilla: mean of sigmoid(logits), a probability in [0, 1] (0.5 = D cannot tell).
    lsgan and hinge: mean of the raw outputs (lsgan targets 1 for real, 0 for fake; hinge pushes
    real above +1 and fake below -1).
    """
    values = [x.detach().float() for x in _as_list(logits)]
    if mode == "vanilla":
        return float(sum(torch.sigmoid(v).mean() for v in values) / len(values))
    return float(sum(v.mean() for v in values) / len(values))


def feature_matching_loss(
    fake_features: list[list[torch.Tensor]], real_features: list[list[torch.Tensor]]
) -> torch.Tensor:
    """pix2pixHD's feature matching: the L1 distance between D's hidden activations on the fake
    and on the real pairs (the real ones are targets, no gradient), each layer weighted
    4 / (number of layers), averaged over the scales."""
    if len(fake_features) != len(real_features):
        raise ValueError(f"{len(fake_features)} fake but {len(real_features)} real feature scales")
    return sum(
        4.0 / len(fakes) / len(fake_features) * F.l1_loss(fake.float(), real.detach().float())
        for fakes, reals in zip(fake_features, real_features, strict=True)
        for fake, real in zip(fakes, reals, strict=True)
    )
