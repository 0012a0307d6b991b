"""Training parameters (``training:`` in ``conf/base/parameters_training.yml``), validated up front.

Every error names the parameter as ``training.<key>`` and says what is wrong, before any work starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from img2img.gan.networks import GENERATOR_ARCHS, INIT_TYPES, NORMS, unet_depth_for

GAN_MODES = ("vanilla", "lsgan", "hinge")
LR_POLICIES = ("linear", "cosine", "step")
AUTO_BOOL = ("auto", True, False)
PREFIX = "training"
# Keys that do not change the trained weights: excluded from the parameter hash used by resume.
# ``distributed`` is left out too: the number of processes is checked on resume on its own (a
# changed world size changes the global batch; it is allowed, with a warning).
NON_RESULT_KEYS = frozenset(
    {"resume", "checkpoint_every_epochs", "num_samples", "sample_every_epochs", "log_every_steps",
     "distributed"}
)  # fmt: skip
BACKENDS = ("auto", "nccl", "gloo")


class TrainingParameterError(ValueError):
    """A training parameter has a bad value; the message names it."""


@dataclass(frozen=True)
class GeneratorConfig:
    arch: str = "unet"
    ngf: int = 64
    norm: str = "batch"
    dropout: float = 0.5
    depth: int | None = None
    n_blocks: int = 9


@dataclass(frozen=True)
class DiscriminatorConfig:
    ndf: int = 64
    n_layers: int = 3
    norm: str = "batch"
    spectral_norm: bool = False
    num_scales: int = 1


@dataclass(frozen=True)
class InitConfig:
    type: str = "normal"
    gain: float = 0.02


@dataclass(frozen=True)
class LossConfig:
    gan_mode: str = "vanilla"
    lambda_l1: float = 100.0


@dataclass(frozen=True)
class OptimizerConfig:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999


@dataclass(frozen=True)
class LrPolicyConfig:
    name: str = "linear"
    step_epochs: int = 50
    gamma: float = 0.1


@dataclass(frozen=True)
class EmaConfig:
    enabled: bool = False
    decay: float = 0.999


@dataclass(frozen=True)
class DistributedConfig:
    """Data-parallel training (``img2img.gan.distributed``); ``batch_size`` is per process."""

    nproc_per_node: int | str = 1  # processes the train_gan node launches; auto = number of GPUs
    backend: str = "auto"  # auto: nccl on CUDA, gloo on the CPU
    sync_batchnorm: bool = True  # CUDA only: batch norm statistics over the global batch
    timeout_minutes: int = 30  # a collective waiting longer than this fails the run


@dataclass(frozen=True)
class WarmStartConfig:
    """The schedule of a run that starts from saved weights (a warm start, see ``init_from``)."""

    epochs: int = 5
    epochs_decay: int = 5
    lr: float | None = None  # null: optimizer.lr


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    device: str = "auto"
    epochs: int = 100
    epochs_decay: int = 100
    batch_size: int = 1
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    init: InitConfig = field(default_factory=InitConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_policy: LrPolicyConfig = field(default_factory=LrPolicyConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    init_from: str = "auto"  # auto | none | champion | a generator artifact file or its folder
    warm_start: WarmStartConfig = field(default_factory=WarmStartConfig)
    grad_clip_norm: float | None = None
    max_nonfinite_steps: int = 10
    amp: str | bool = "auto"
    channels_last: str | bool = "auto"
    compile: bool = False
    deterministic: bool = False
    num_threads: int | None = None
    checkpoint_every_epochs: int = 5
    resume: str = "auto"
    sample_every_epochs: int = 1
    num_samples: int = 4
    log_every_steps: int = 50

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.epochs_decay

    @property
    def unet_depth(self) -> int:
        return self.generator.depth or unet_depth_for(self.crop_size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def for_warm_start(self) -> TrainConfig:
        """This configuration with the warm-start schedule (epochs, decay epochs, learning rate)."""
        warm = self.warm_start
        optimizer = dataclasses.replace(self.optimizer, lr=warm.lr or self.optimizer.lr)
        return dataclasses.replace(
            self, epochs=warm.epochs, epochs_decay=warm.epochs_decay, optimizer=optimizer
        )

    def param_hash(self) -> str:
        """sha256 of the parameters that determine the trained weights (resume compatibility)."""
        relevant = {k: v for k, v in self.to_dict().items() if k not in NON_RESULT_KEYS}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()

    def recipe_hash(self) -> str:
        """sha256 of the training recipe: :meth:`param_hash` whatever ``init_from`` says. Two runs
        of one recipe differ only in their data and starting weights (``init_from: auto``)."""
        return dataclasses.replace(self, init_from="auto").param_hash()

    def generator_architecture(self) -> dict[str, Any]:
        """Plain dict that :func:`img2img.gan.networks.build_generator` rebuilds the generator from
        (saved in the generator artifact); ``size_multiple``: input sides must be multiples of it."""
        g = self.generator
        arch: dict[str, Any] = {"arch": g.arch, "in_channels": 3, "out_channels": 3, "ngf": g.ngf,
                                "norm": g.norm, "dropout": g.dropout}  # fmt: skip
        if g.arch == "unet":
            arch["depth"] = self.unet_depth
        else:
            arch["n_blocks"] = g.n_blocks
        arch["crop_size"] = self.crop_size
        arch["size_multiple"] = 2**self.unet_depth if g.arch == "unet" else 4
        return arch

    def discriminator_architecture(self) -> dict[str, Any]:
        return {"in_channels": 6, **dataclasses.asdict(self.discriminator)}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainConfig:
        if not isinstance(params, Mapping):
            raise TrainingParameterError(f"{PREFIX} must be a mapping, got {type(params).__name__}")
        config = _build(cls, params, PREFIX)
        _check_values(config)
        return config


def _build(kind: type, values: Mapping[str, Any], path: str) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise TrainingParameterError(f"{path} must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise TrainingParameterError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    kwargs = {}
    for name, value in values.items():
        default = fields[name].default_factory() if callable(fields[name].default_factory) else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{path}.{name}")
        else:
            kwargs[name] = value
    return kind(**kwargs)


def _int(value: Any, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TrainingParameterError(
            f"{PREFIX}.{name} must be an integer >= {minimum}, got {value!r}"
        )


def _number(
    value: Any, name: str, low: float, high: float | None = None, *, open_low=False
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bound = (
            f"in ({low}, {high}]"
            if open_low
            else f"in [{low}, {high if high is not None else 'inf'}]"
        )
        raise TrainingParameterError(f"{PREFIX}.{name} must be a number {bound}, got {value!r}")


def _choice(value: Any, name: str, choices: tuple) -> None:
    if value not in choices:
        raise TrainingParameterError(
            f"{PREFIX}.{name} must be one of {list(choices)}, got {value!r}"
        )


def _check_values(c: TrainConfig) -> None:
    _int(c.seed, "seed", 0)
    if not isinstance(c.device, str) or not (
        c.device in ("auto", "cpu", "cuda", "mps") or c.device.startswith("cuda:")
    ):
        raise TrainingParameterError(
            f"{PREFIX}.device must be auto, cpu, cuda, cuda:N or mps, got {c.device!r}"
        )
    _int(c.epochs, "epochs", 0)
    _int(c.epochs_decay, "epochs_decay", 0)
    if c.total_epochs < 1:
        raise TrainingParameterError(f"{PREFIX}.epochs + {PREFIX}.epochs_decay must be >= 1")
    _int(c.batch_size, "batch_size", 1)
    _int(c.load_size, "load_size", 1)
    _int(c.crop_size, "crop_size", 1)
    if c.crop_size > c.load_size:
        raise TrainingParameterError(
            f"{PREFIX}.crop_size ({c.crop_size}) must be <= {PREFIX}.load_size ({c.load_size})"
        )
    g, d = c.generator, c.discriminator
    _choice(g.arch, "generator.arch", GENERATOR_ARCHS)
    _int(g.ngf, "generator.ngf", 1)
    _choice(g.norm, "generator.norm", NORMS)
    _number(g.dropout, "generator.dropout", 0.0, 0.99)
    _int(g.n_blocks, "generator.n_blocks", 1)
    if g.arch == "unet":
        if g.depth is not None:
            _int(g.depth, "generator.depth", 5)
        depth = c.unet_depth
        if depth < 5:
            raise TrainingParameterError(
                f"{PREFIX}.crop_size ({c.crop_size}) is too small for a U-Net (needs >= 32 px)"
            )
        if c.crop_size % 2**depth:
            raise TrainingParameterError(
                f"{PREFIX}.crop_size ({c.crop_size}) must be divisible by 2**depth = {2**depth} for "
                f"a U-Net of depth {depth} ({PREFIX}.generator.depth); use a power of two such as "
                "128 or 256, or set generator.depth"
            )
    elif c.crop_size % 4:
        raise TrainingParameterError(
            f"{PREFIX}.crop_size ({c.crop_size}) must be divisible by 4 for the resnet generator"
        )
    _int(d.ndf, "discriminator.ndf", 1)
    _int(d.n_layers, "discriminator.n_layers", 1)
    _choice(d.norm, "discriminator.norm", NORMS)
    _int(d.num_scales, "discriminator.num_scales", 1)
    if d.num_scales > 3:
        raise TrainingParameterError(f"{PREFIX}.discriminator.num_scales must be 1, 2 or 3")
    if not isinstance(d.spectral_norm, bool):
        raise TrainingParameterError(f"{PREFIX}.discriminator.spectral_norm must be true or false")
    _choice(c.init.type, "init.type", INIT_TYPES)
    _number(c.init.gain, "init.gain", 0.0, open_low=True)
    _choice(c.loss.gan_mode, "loss.gan_mode", GAN_MODES)
    _number(c.loss.lambda_l1, "loss.lambda_l1", 0.0)
    _number(c.optimizer.lr, "optimizer.lr", 0.0, open_low=True)
    _number(c.optimizer.beta1, "optimizer.beta1", 0.0, 0.999999)
    _number(c.optimizer.beta2, "optimizer.beta2", 0.0, 0.999999)
    _choice(c.lr_policy.name, "lr_policy.name", LR_POLICIES)
    _int(c.lr_policy.step_epochs, "lr_policy.step_epochs", 1)
    _number(c.lr_policy.gamma, "lr_policy.gamma", 0.0, 1.0, open_low=True)
    if not isinstance(c.ema.enabled, bool):
        raise TrainingParameterError(f"{PREFIX}.ema.enabled must be true or false")
    _number(c.ema.decay, "ema.decay", 0.0, 0.999999)
    if c.grad_clip_norm is not None:
        _number(c.grad_clip_norm, "grad_clip_norm", 0.0, open_low=True)
    _int(c.max_nonfinite_steps, "max_nonfinite_steps", 1)
    _choice(c.amp, "amp", AUTO_BOOL)
    _choice(c.channels_last, "channels_last", AUTO_BOOL)
    for name in ("compile", "deterministic", "flip"):
        if not isinstance(getattr(c, name), bool):
            raise TrainingParameterError(f"{PREFIX}.{name} must be true or false")
    if c.num_threads is not None:
        _int(c.num_threads, "num_threads", 1)
    _int(c.checkpoint_every_epochs, "checkpoint_every_epochs", 1)
    _choice(c.resume, "resume", ("auto", "never"))
    _int(c.sample_every_epochs, "sample_every_epochs", 1)
    # At least one: the sample grids are a declared output of the DVC training stage.
    _int(c.num_samples, "num_samples", 1)
    if not isinstance(c.init_from, str) or not c.init_from.strip():
        raise TrainingParameterError(
            f"{PREFIX}.init_from must be auto, none, champion or the path of a generator artifact, "
            f"got {c.init_from!r}"
        )
    warm = c.warm_start
    _int(warm.epochs, "warm_start.epochs", 0)
    _int(warm.epochs_decay, "warm_start.epochs_decay", 0)
    if warm.epochs + warm.epochs_decay < 1:
        raise TrainingParameterError(
            f"{PREFIX}.warm_start.epochs + {PREFIX}.warm_start.epochs_decay must be >= 1"
        )
    if warm.lr is not None:
        _number(warm.lr, "warm_start.lr", 0.0, open_low=True)
    _int(c.log_every_steps, "log_every_steps", 1)
    nproc = c.distributed.nproc_per_node
    if nproc != "auto":
        _int(nproc, "distributed.nproc_per_node (or auto)", 1)
    _choice(c.distributed.backend, "distributed.backend", BACKENDS)
    if not isinstance(c.distributed.sync_batchnorm, bool):
        raise TrainingParameterError(f"{PREFIX}.distributed.sync_batchnorm must be true or false")
    _int(c.distributed.timeout_minutes, "distributed.timeout_minutes", 1)
