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

from img2img.config import Checks, parse
from img2img.gan.networks import GENERATOR_ARCHS, INIT_TYPES, NORMS, unet_depth_for

GAN_MODES = ("vanilla", "lsgan", "hinge")
LR_POLICIES = ("linear", "cosine", "step")
AUTO_BOOL = ("auto", True, False)
# auto (= true): bf16 autocast on CUDA (fp16 without bf16) and on CPUs with native bf16 (AMX or
# AVX512-BF16), fp32 elsewhere; bf16 / fp32 (= false) force a path (img2img.gan.runtime.amp_dtype).
AMP_CHOICES = (*AUTO_BOOL, "bf16", "fp32")
PREFIX = "training"
# Keys that do not change the trained weights: excluded from the parameter hash used by resume.
# ``distributed`` is left out too: the number of processes is checked on resume on its own (a
# changed world size changes the global batch; it is allowed, with a warning).
NON_RESULT_KEYS = frozenset(
    {"resume", "checkpoint_every_epochs", "num_samples", "sample_every_epochs", "log_every_steps",
     "distributed"}
)  # fmt: skip
BACKENDS = ("auto", "nccl", "gloo")
# Keys that change the trained weights only when set: left out of the parameter hash while null, so
# the runs (checkpoints, champions) of a configuration that does not use them keep their identity.
UNSET_NOT_HASHED = frozenset({"time_budget_minutes"})


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
    lambda_feat: float = 0.0  # pix2pixHD's feature matching on D's hidden layers; 0 = off


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
    """Data-parallel training (``img2img.gan.launcher``); ``batch_size`` is per process."""

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
    # Train for this many minutes instead of epochs + epochs_decay (whose proportion stays the
    # schedule's shape): img2img.gan.plan measures the speed and plans the steps that fit.
    time_budget_minutes: float | None = None
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

    @property
    def budgeted(self) -> bool:
        """Whether the run trains for ``time_budget_minutes`` (planned steps) instead of epochs."""
        return self.time_budget_minutes is not None

    def for_warm_start(self) -> TrainConfig:
        """This configuration with the warm-start schedule (epochs, decay epochs, learning rate);
        a time budget stays: it replaces the warm start's epoch counts as it replaces the others."""
        warm = self.warm_start
        optimizer = dataclasses.replace(self.optimizer, lr=warm.lr or self.optimizer.lr)
        return dataclasses.replace(
            self, epochs=warm.epochs, epochs_decay=warm.epochs_decay, optimizer=optimizer
        )

    def param_hash(self) -> str:
        """sha256 of the parameters that determine the trained weights (resume compatibility)."""
        relevant = {k: v for k, v in self.to_dict().items() if k not in NON_RESULT_KEYS
                    and not (k in UNSET_NOT_HASHED and v is None)}  # fmt: skip
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
        return parse(cls, params, PREFIX, _check)


def _check(c: TrainConfig, check: Checks) -> None:
    check.integer(c.seed, "seed", 0)
    if not isinstance(c.device, str) or not (
        c.device in ("auto", "cpu", "cuda", "mps") or c.device.startswith("cuda:")
    ):
        check.fail("device", f"must be auto, cpu, cuda, cuda:N or mps, got {c.device!r}")
    _check_schedule(c, check)
    if check.integer(c.load_size, "load_size", 1) & check.integer(c.crop_size, "crop_size", 1):
        if c.crop_size > c.load_size:
            check.fail(
                "crop_size", f"({c.crop_size}) must be <= {PREFIX}.load_size ({c.load_size})"
            )
        _check_generator(c, check)
    d = c.discriminator
    check.integer(d.ndf, "discriminator.ndf", 1)
    check.integer(d.n_layers, "discriminator.n_layers", 1)
    check.choice(d.norm, "discriminator.norm", NORMS)
    check.choice(d.num_scales, "discriminator.num_scales", (1, 2, 3))
    check.boolean(d.spectral_norm, "discriminator.spectral_norm")
    _check_optimisation(c, check)
    _check_runtime(c, check)


def _check_schedule(c: TrainConfig, check: Checks) -> None:
    counts = check.integer(c.epochs, "epochs", 0) & check.integer(c.epochs_decay, "epochs_decay", 0)
    if counts and c.total_epochs < 1:
        check.fail(f"epochs + {PREFIX}.epochs_decay", "must be >= 1")
    if c.time_budget_minutes is not None:
        check.number(c.time_budget_minutes, "time_budget_minutes (or null)", 0.0, open_low=True)
    check.integer(c.batch_size, "batch_size", 1)
    check.choice(c.lr_policy.name, "lr_policy.name", LR_POLICIES)
    check.integer(c.lr_policy.step_epochs, "lr_policy.step_epochs", 1)
    check.number(c.lr_policy.gamma, "lr_policy.gamma", 0.0, 1.0, open_low=True)
    if not isinstance(c.init_from, str) or not c.init_from.strip():
        check.fail("init_from", "must be auto, none, champion or the path of a generator "
                                f"artifact, got {c.init_from!r}")  # fmt: skip
    warm = c.warm_start
    counts = check.integer(warm.epochs, "warm_start.epochs", 0) & check.integer(
        warm.epochs_decay, "warm_start.epochs_decay", 0
    )
    if counts and warm.epochs + warm.epochs_decay < 1:
        check.fail(f"warm_start.epochs + {PREFIX}.warm_start.epochs_decay", "must be >= 1")
    if warm.lr is not None:
        check.number(warm.lr, "warm_start.lr", 0.0, open_low=True)


def _check_generator(c: TrainConfig, check: Checks) -> None:
    g = c.generator
    check.choice(g.arch, "generator.arch", GENERATOR_ARCHS)
    check.integer(g.ngf, "generator.ngf", 1)
    check.choice(g.norm, "generator.norm", NORMS)
    check.number(g.dropout, "generator.dropout", 0.0, 0.99)
    check.integer(g.n_blocks, "generator.n_blocks", 1)
    if g.arch == "unet":
        if g.depth is not None and not check.integer(g.depth, "generator.depth", 5):
            return
        depth = c.unet_depth
        if depth < 5:
            check.fail("crop_size", f"({c.crop_size}) is too small for a U-Net (needs >= 32 px)")
        elif c.crop_size % 2**depth:
            check.fail("crop_size", f"({c.crop_size}) must be divisible by 2**depth = {2**depth} for "
                                    f"a U-Net of depth {depth} ({PREFIX}.generator.depth); use a power "
                                    "of two such as 128 or 256, or set generator.depth")  # fmt: skip
    elif c.crop_size % 4:
        check.fail("crop_size", f"({c.crop_size}) must be divisible by 4 for the resnet generator")


def _check_optimisation(c: TrainConfig, check: Checks) -> None:
    check.choice(c.init.type, "init.type", INIT_TYPES)
    check.number(c.init.gain, "init.gain", 0.0, open_low=True)
    check.choice(c.loss.gan_mode, "loss.gan_mode", GAN_MODES)
    check.number(c.loss.lambda_l1, "loss.lambda_l1", 0.0)
    check.number(c.loss.lambda_feat, "loss.lambda_feat", 0.0)
    check.number(c.optimizer.lr, "optimizer.lr", 0.0, open_low=True)
    check.number(c.optimizer.beta1, "optimizer.beta1", 0.0, 0.999999)
    check.number(c.optimizer.beta2, "optimizer.beta2", 0.0, 0.999999)
    check.boolean(c.ema.enabled, "ema.enabled")
    check.number(c.ema.decay, "ema.decay", 0.0, 0.999999)
    if c.grad_clip_norm is not None:
        check.number(c.grad_clip_norm, "grad_clip_norm", 0.0, open_low=True)
    check.integer(c.max_nonfinite_steps, "max_nonfinite_steps", 1)


def _check_runtime(c: TrainConfig, check: Checks) -> None:
    check.choice(c.amp, "amp", AMP_CHOICES)
    check.choice(c.channels_last, "channels_last", AUTO_BOOL)
    for name in ("compile", "deterministic", "flip"):
        check.boolean(getattr(c, name), name)
    if c.num_threads is not None:
        check.integer(c.num_threads, "num_threads", 1)
    check.integer(c.checkpoint_every_epochs, "checkpoint_every_epochs", 1)
    check.choice(c.resume, "resume", ("auto", "never"))
    check.integer(c.sample_every_epochs, "sample_every_epochs", 1)
    # At least one: the sample grids are a declared output of the DVC training stage.
    check.integer(c.num_samples, "num_samples", 1)
    check.integer(c.log_every_steps, "log_every_steps", 1)
    nproc = c.distributed.nproc_per_node
    if nproc != "auto":
        check.integer(nproc, "distributed.nproc_per_node (or auto)", 1)
    check.choice(c.distributed.backend, "distributed.backend", BACKENDS)
    check.boolean(c.distributed.sync_batchnorm, "distributed.sync_batchnorm")
    check.integer(c.distributed.timeout_minutes, "distributed.timeout_minutes", 1)
