"""Discriminators of the pix2pix family (plain PyTorch).

* :class:`PatchDiscriminator`: conditional PatchGAN on ``cat(source, target_or_fake)``, optionally
  spectrally normalised, and :class:`MultiScaleDiscriminator` (2-3 scales, average-pool
  downsampling). Both return their hidden activations too when asked (``with_features``, as
  :class:`LogitsAndFeatures`: pix2pixHD's feature matching).
* :class:`RealFakeDiscriminator`: D on the fake and the real pairs in one call (the D update).
* :func:`build_discriminator`: one from its architecture dict (as the artifact saves it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from img2img.gan.networks import norm_layer


class LogitsAndFeatures(NamedTuple):
    """A discriminator's logits (a tensor, or one per scale) and its hidden activations, per scale
    and layer (what feature matching compares)."""

    logits: torch.Tensor | list[torch.Tensor]
    features: list[list[torch.Tensor]]


class PatchDiscriminator(nn.Module):
    """PatchGAN: a grid of real/fake logits, each seeing a patch (70×70 for ``n_layers=3``)."""

    def __init__(
        self,
        in_channels: int = 6,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "batch",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        use_bias = norm != "batch"
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = [
            wrap(nn.Conv2d(in_channels, ndf, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers.append(wrap(nn.Conv2d(ndf * previous, ndf * mult, 4, stride, 1, bias=use_bias)))
            if make_norm:
                layers.append(make_norm(ndf * mult))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        layers.append(wrap(nn.Conv2d(ndf * mult, 1, 4, 1, 1)))
        self.model = nn.Sequential(*layers)

    def forward(
        self, x: torch.Tensor, with_features: bool = False
    ) -> torch.Tensor | LogitsAndFeatures:
        """The logits; ``with_features``: with the activation of every hidden layer too."""
        if not with_features:
            return self.model(x)
        features = []
        for layer in self.model:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                features.append(x)
        return LogitsAndFeatures(x, [features])


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` PatchGANs on the input at full, 1/2, 1/4 ... resolution; returns a list."""

    def __init__(self, num_scales: int, **patch_kwargs: Any) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(**patch_kwargs) for _ in range(num_scales))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(
        self, x: torch.Tensor, with_features: bool = False
    ) -> list[torch.Tensor] | LogitsAndFeatures:
        outputs, features = [], []
        for index, discriminator in enumerate(self.scales):
            if index:
                x = self.downsample(x)
            if with_features:
                judged = discriminator(x, with_features=True)
                outputs.append(judged.logits)
                features.extend(judged.features)
            else:
                outputs.append(discriminator(x))
        return LogitsAndFeatures(outputs, features) if with_features else outputs


class RealFakeDiscriminator(nn.Module):
    """``D(fake pair), D(real pair)`` in one call: the D update's single forward under DDP.

    A D with batch norm sees them one kind at a time, as pix2pix's (its statistics are per kind).
    Any other D treats every image alone, so both kinds go through it as one batch: the same
    outputs, one pass of twice the batch (faster on a CPU), and a spectral norm's weights are
    computed once instead of twice."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.one_batch = not has_batch_norm(discriminator)

    def forward(
        self, fake_pair: torch.Tensor, real_pair: torch.Tensor, with_features: bool = False
    ) -> tuple[Any, Any]:
        if not self.one_batch:
            return (self.discriminator(fake_pair, with_features=with_features),
                    self.discriminator(real_pair, with_features=with_features))  # fmt: skip
        both = self.discriminator(torch.cat([fake_pair, real_pair]), with_features=with_features)
        count = len(fake_pair)
        return _rows(both, slice(None, count)), _rows(both, slice(count, None))


def _rows(output: Any, rows: slice) -> Any:
    """Those images' part of a discriminator's output (a tensor, a list of them per scale, or
    :class:`LogitsAndFeatures`)."""
    if isinstance(output, torch.Tensor):
        return output[rows]
    if isinstance(output, LogitsAndFeatures):
        return LogitsAndFeatures(
            _rows(output.logits, rows), [_rows(s, rows) for s in output.features]
        )
    return [_rows(item, rows) for item in output]


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def build_discriminator(architecture: Mapping[str, Any]) -> nn.Module:
    kwargs = {
        "in_channels": int(architecture.get("in_channels", 6)),
        "ndf": int(architecture["ndf"]),
        "n_layers": int(architecture["n_layers"]),
        "norm": architecture["norm"],
        "spectral_norm": bool(architecture.get("spectral_norm", False)),
    }
    num_scales = int(architecture.get("num_scales", 1))
    if num_scales == 1:
        return PatchDiscriminator(**kwargs)
    return MultiScaleDiscriminator(num_scales, **kwargs)
