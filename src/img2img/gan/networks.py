"""Generators and discriminators of the pix2pix family (plain PyTorch).

* :class:`UnetGenerator`: encoder-decoder with skip connections, layer for layer the pix2pix
  ``unet_128`` / ``unet_256`` (4×4 stride-2 convolutions, LeakyReLU 0.2 down, ReLU up, no norm on the
  outermost and innermost down-convolutions, dropout in the inner ``ngf*8`` decoder blocks, ``tanh``
  output in [-1, 1]), for any depth >= 5.
* :class:`ResnetGenerator`: the 6/9 residual-block generator (second choice).
* The discriminators are :mod:`img2img.gan.discriminators`.

Architectures are described by plain dicts so that a saved generator can be rebuilt anywhere with
:func:`build_generator` (used by evaluation, packaging and inference).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

NORMS = ("batch", "instance", "none")
GENERATOR_ARCHS = ("unet", "resnet")
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def norm_layer(norm: str) -> Callable[[int], nn.Module] | None:
    """Factory of the normalisation layer (None for ``"none"``), as pix2pix configures them."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return None
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS}")


class UpConv(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (same parameters, same maths) with a faster CPU path for small inputs.

    On the CPU, PyTorch's transposed convolution spends most of its time preparing the weights when
    the input is small (the inner U-Net levels: 1x1 to 8x8 pixels with up to 8M weights), e.g.
    ~50 ms for a 2x2 input at ngf 64. Written as one matrix product followed by ``fold`` (col2im), the
    same layer costs a fraction of that (see ``benchmarks/train_speed.py``). Large inputs, CUDA, and
    exports (``fast_path = False``, see :func:`set_fast_path`) use the standard kernel.
    """

    fast_path: bool = True
    max_fast_columns: int = 128  # batch x height x width of the input (e.g. 1x8x8, 8x4x4)

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        if (
            not self.fast_path
            or output_size is not None
            or x.device.type != "cpu"
            or x.shape[0] * height * width > self.max_fast_columns
            or self.groups != 1
            or self.dilation != (1, 1)
            or self.output_padding != (0, 0)
            or x.dim() != 4
        ):
            return super().forward(x, output_size)
        batch, channels = x.shape[:2]
        out_channels = self.out_channels
        kernel, stride, padding = self.kernel_size, self.stride, self.padding
        columns = x.permute(0, 2, 3, 1).reshape(batch * height * width, channels)
        columns = columns @ self.weight.reshape(channels, out_channels * kernel[0] * kernel[1])
        columns = columns.view(batch, height * width, -1).transpose(1, 2)
        out_h = (height - 1) * stride[0] - 2 * padding[0] + kernel[0]
        out_w = (width - 1) * stride[1] - 2 * padding[1] + kernel[1]
        out = F.fold(columns, (out_h, out_w), kernel, padding=padding, stride=stride)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out


class DownConv(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same maths) with a faster CPU path for tiny outputs.

    The innermost U-Net down-convolution maps 2x2 pixels to 1x1 through 4M weights; PyTorch's CPU
    kernel takes ~8 ms for its backward pass at batch 1, ``unfold`` + one matrix product ~3 ms. Used
    when batch x output height x output width <= ``max_fast_columns``, on the CPU only, and never
    in exports (``fast_path = False``, see :func:`set_fast_path`).
    """

    fast_path: bool = True
    max_fast_columns: int = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            not self.fast_path
            or x.device.type != "cpu"
            or x.dim() != 4
            or self.groups != 1
            or self.dilation != (1, 1)
            or self.padding_mode != "zeros"
            or isinstance(self.padding, str)
        ):
            return super().forward(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        out_h = (x.shape[-2] + 2 * ph - kh) // sh + 1
        out_w = (x.shape[-1] + 2 * pw - kw) // sw + 1
        if x.shape[0] * out_h * out_w > self.max_fast_columns:
            return super().forward(x)
        columns = F.unfold(x, (kh, kw), padding=(ph, pw), stride=(sh, sw))  # N x C*k*k x L
        out = self.weight.reshape(self.out_channels, -1) @ columns  # N x O x L
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1)
        return out.view(x.shape[0], self.out_channels, out_h, out_w)


def set_fast_path(module: nn.Module, enabled: bool) -> nn.Module:
    """Switch every :class:`UpConv`/:class:`DownConv` in ``module`` to the fast (True) or standard
    (False) kernel; exports (torch.export, ONNX) use the standard one."""
    for layer in module.modules():
        if isinstance(layer, UpConv | DownConv):
            layer.fast_path = enabled
    return module


def unet_depth_for(crop_size: int) -> int:
    """Number of down-sampling levels that take ``crop_size`` down to 1×1 (256 -> 8, 128 -> 7)."""
    return int(math.log2(crop_size))


class UnetBlock(nn.Module):
    """One level of the U-Net: down-convolution, the inner levels, up-convolution, skip concat."""

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        input_channels: int | None = None,
        submodule: nn.Module | None = None,
        *,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        make_norm = norm_layer(norm)
        use_bias = norm != "batch"  # batch norm has its own shift; instance norm has none here
        input_channels = outer_channels if input_channels is None else input_channels
        down_conv = DownConv(input_channels, inner_channels, 4, 2, 1, bias=use_bias)
        down_relu = nn.LeakyReLU(0.2, inplace=True)
        up_relu = nn.ReLU(inplace=True)
        if outermost:
            up_conv = UpConv(inner_channels * 2, outer_channels, 4, 2, 1)
            layers = [down_conv, submodule, up_relu, up_conv, nn.Tanh()]
        elif innermost:
            up_conv = UpConv(inner_channels, outer_channels, 4, 2, 1, bias=use_bias)
            layers = [down_relu, down_conv, up_relu, up_conv]
            if make_norm:
                layers.append(make_norm(outer_channels))
        else:
            up_conv = UpConv(inner_channels * 2, outer_channels, 4, 2, 1, bias=use_bias)
            layers = [down_relu, down_conv]
            if make_norm:
                layers.append(make_norm(inner_channels))
            layers += [submodule, up_relu, up_conv]
            if make_norm:
                layers.append(make_norm(outer_channels))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net generator with ``depth`` down-sampling levels (input side divisible by 2**depth)."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        depth: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if depth < 5:
            raise ValueError(f"U-Net depth must be >= 5, got {depth}")
        self.depth = depth
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(depth - 5):
            block = UnetBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, dropout=dropout)
        block = UnetBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetBlock(
            out_channels,
            ngf,
            input_channels=in_channels,
            submodule=block,
            outermost=True,
            norm=norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str, dropout: float) -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        use_bias = norm != "batch"
        layers: list[nn.Module] = []
        for index in range(2):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=use_bias)]
            if make_norm:
                layers.append(make_norm(channels))
            if index == 0:
                layers.append(nn.ReLU(inplace=True))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """ResNet-block generator (Johnson et al.): 2 down-samplings, ``n_blocks`` blocks, 2 up."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.0,
        n_blocks: int = 9,
    ) -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        use_bias = norm != "batch"

        def normed(channels: int) -> list[nn.Module]:
            return [make_norm(channels)] if make_norm else []

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=use_bias),
            *normed(ngf),
            nn.ReLU(inplace=True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                *normed(ngf * mult * 2),
                nn.ReLU(inplace=True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1, bias=use_bias
                ),
                *normed(ngf * mult // 2),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(module: nn.Module, init_type: str = "normal", gain: float = 0.02) -> None:
    """pix2pix initialisation: conv weights by ``init_type``, norm weights N(1, gain), biases 0."""
    if init_type not in INIT_TYPES:
        raise ValueError(f"unknown init type {init_type!r}; expected one of {INIT_TYPES}")

    def initialise(layer: nn.Module) -> None:
        name = type(layer).__name__
        if parametrize.is_parametrized(layer, "weight"):  # spectral norm: initialise the raw weight
            weight = layer.parametrizations.weight.original
        else:
            weight = getattr(layer, "weight", None)
        if ("Conv" in name or "Linear" in name) and weight is not None:
            if init_type == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(weight, gain=gain)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
        elif "BatchNorm2d" in name and weight is not None:
            nn.init.normal_(weight, 1.0, gain)
            nn.init.zeros_(layer.bias)

    module.apply(initialise)


def build_generator(architecture: Mapping[str, Any]) -> nn.Module:
    """Rebuild a generator from its architecture dict (as saved in the generator artifact)."""
    arch = architecture.get("arch")
    common = {
        "in_channels": int(architecture.get("in_channels", 3)),
        "out_channels": int(architecture.get("out_channels", 3)),
        "ngf": int(architecture["ngf"]),
        "norm": architecture["norm"],
        "dropout": float(architecture.get("dropout", 0.0)),
    }
    if arch == "unet":
        return UnetGenerator(depth=int(architecture["depth"]), **common)
    if arch == "resnet":
        return ResnetGenerator(n_blocks=int(architecture["n_blocks"]), **common)
    raise ValueError(f"unknown generator arch {arch!r}; expected one of {GENERATOR_ARCHS}")
