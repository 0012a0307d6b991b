"""The pix2pix training loop: device choice, AMP, EMA, non-finite guard, checkpoints, exact resume.

:class:`Pix2PixTrainer` owns the networks and optimisers and performs one optimisation step
(:meth:`Pix2PixTrainer.train_step`, also what ``benchmarks/train_speed.py`` times);
:func:`train_gan_model` runs the epochs around it.

The step is the pix2pix step, with the same maths as the reference implementation:
``fake = G(A)``; D is updated on ``D(A, fake.detach())`` and ``D(A, B)`` (loss halved); then G on the
adversarial loss of ``D(A, fake)`` (D frozen) plus ``lambda_l1 * |fake - B|``. What makes it faster
on a CPU is how the work is done, not what is computed: fused Adam (one pass over the weights instead
of a dozen), matrix-product convolutions for the small inner U-Net levels
(:class:`~img2img.gan.networks.UpConv`, :class:`~img2img.gan.networks.DownConv`), no gradients for
frozen D weights, ``set_to_none`` grads, freed memory kept by the allocator
(:func:`~img2img.gan.runtime.keep_freed_memory`), D in channels_last (see
:func:`memory_formats`). ``benchmarks/train_speed.py`` measures each against the reference.

With several processes (:mod:`img2img.gan.distributed`) both networks are wrapped in
``DistributedDataParallel``. D sees the fake and the real pairs in one call of the wrapper
(:class:`RealFakeDiscriminator`: one forward per backward, as DDP requires); G's adversarial pass
uses the unwrapped D, whose weights are frozen and identical on every process.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from img2img.gan import checkpoint as ckpt
from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact, InitialWeights
from img2img.gan.config import TrainConfig
from img2img.gan.data import iterate_batches, steps_per_epoch
from img2img.gan.distributed import (
    DistributedContext,
    all_ranks_agree,
    broadcast_from_main,
    mean_over_ranks,
)
from img2img.gan.losses import discriminator_loss, generator_adversarial_loss, realness
from img2img.gan.networks import build_discriminator, build_generator, init_weights
from img2img.gan.runtime import keep_freed_memory
from img2img.gan.schedules import lr_factor

logger = logging.getLogger(__name__)
# What Pix2PixTrainer.train_step returns (means over the processes of a distributed run).
STEP_METRICS = (
    "loss_G_GAN",
    "loss_G_L1",
    "loss_D_real",
    "loss_D_fake",
    "d_real_mean",
    "d_fake_mean",
)


class NonFiniteLossError(RuntimeError):
    """Too many non-finite losses in a row: training stopped, the last good checkpoint is intact."""


class TrainingCallbacks(Protocol):  # pragma: no cover - a structural type
    def on_step(self, step: int, metrics: Mapping[str, float]) -> None: ...
    def on_epoch_end(
        self, epoch: int, metrics: Mapping[str, Any], sample_grid: np.ndarray | None
    ) -> None: ...


@dataclass
class TrainResult:
    generator: GeneratorArtifact
    discriminator: DiscriminatorArtifact
    history: list[dict[str, Any]]
    sample_grids: dict[int, np.ndarray] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)


def select_device(name: str) -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. An unavailable explicit device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"training.device is {name!r} but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"training.device is {name!r} but MPS is not available here")
    return device


def _resolve_auto(value: str | bool, default: bool) -> bool:
    return default if value == "auto" else bool(value)


def memory_formats(channels_last: str | bool, device: torch.device) -> tuple[bool, bool]:
    """Whether (G, D) run in channels_last for ``training.channels_last``.

    ``auto``: both on CUDA (tensor-core friendly). On the CPU only D: measured on the 2-core
    benchmark machine, channels_last G is 3-10 % slower (its transposed convolutions and skip
    concatenations), channels_last D 2-3 % faster at unet_256/batch 1 and unet_128/batch 8.
    ``true``/``false`` force both on/off.
    """
    if channels_last == "auto":
        return device.type == "cuda", device.type in ("cuda", "cpu")
    return bool(channels_last), bool(channels_last)


class ExponentialMovingAverage:
    """EMA of a model's parameters (buffers are copied): the weights used for evaluation."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)


class RealFakeDiscriminator(nn.Module):
    """``D(fake pair), D(real pair)`` in one call: the D update's single forward under DDP."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, fake_pair: torch.Tensor, real_pair: torch.Tensor) -> tuple[Any, Any]:
        return self.discriminator(fake_pair), self.discriminator(real_pair)


def _has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class Pix2PixTrainer:
    """Networks, optimisers, schedulers, AMP and EMA for one training run (one process of it)."""

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device,
        context: DistributedContext | None = None,
        initial: InitialWeights | None = None,
    ) -> None:
        self.config = config
        self.device = device
        self.context = context or DistributedContext()
        self.generator = build_generator(config.generator_architecture())
        self.discriminator = build_discriminator(config.discriminator_architecture())
        init_weights(self.generator, config.init.type, config.init.gain)
        init_weights(self.discriminator, config.init.type, config.init.gain)
        if initial is not None:  # a warm start: before the EMA copy and the DDP wrappers
            self.generator.load_state_dict(dict(initial.generator))
            if initial.discriminator is not None:
                self.discriminator.load_state_dict(dict(initial.discriminator))
        self.channels_last, self.d_channels_last = memory_formats(config.channels_last, device)

        def memory_format(channels_last: bool) -> torch.memory_format:
            return torch.channels_last if channels_last else torch.preserve_format

        self.generator.to(device=device, memory_format=memory_format(self.channels_last))
        self.discriminator.to(device=device, memory_format=memory_format(self.d_channels_last))
        self.amp_dtype: torch.dtype | None = None
        if _resolve_auto(config.amp, device.type == "cuda") and device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        # Fused Adam: one vectorised pass per step (CPU and CUDA); identical update rule.
        fused = device.type in ("cpu", "cuda")
        betas = (config.optimizer.beta1, config.optimizer.beta2)
        self.optimizer_g = torch.optim.Adam(
            self.generator.parameters(), config.optimizer.lr, betas=betas, fused=fused
        )
        self.optimizer_d = torch.optim.Adam(
            self.discriminator.parameters(), config.optimizer.lr, betas=betas, fused=fused
        )
        factor = lr_factor(config)
        self.scheduler_g = torch.optim.lr_scheduler.LambdaLR(self.optimizer_g, factor)
        self.scheduler_d = torch.optim.lr_scheduler.LambdaLR(self.optimizer_d, factor)
        self.ema = (
            ExponentialMovingAverage(self.generator, config.ema.decay)
            if config.ema.enabled
            else None
        )
        self.keeps_freed_memory = False  # set by train_gan_model (img2img.gan.runtime)
        self.sync_batchnorm = False
        g_step: nn.Module = self.generator
        d_pair: nn.Module = RealFakeDiscriminator(self.discriminator)
        if self.context.enabled:
            g_step, d_pair = self._data_parallel(g_step, d_pair)
        self.g_step, self.d_pair, self.d_step = g_step, d_pair, self.discriminator
        if config.compile:
            self.g_step = torch.compile(g_step)
            self.d_pair = torch.compile(d_pair)
            self.d_step = torch.compile(self.discriminator)

    def _data_parallel(self, g_step: nn.Module, d_pair: nn.Module) -> tuple[nn.Module, nn.Module]:
        """DDP wrappers (SyncBatchNorm first, on CUDA, when batch norm is used)."""
        if _has_batch_norm(self.generator) or _has_batch_norm(self.discriminator):
            if self.device.type == "cuda" and self.config.distributed.sync_batchnorm:
                # Converted in place of the BatchNorm layers; the parameters (and so the
                # optimisers and the EMA's mapping) stay the same objects.
                g_step = nn.SyncBatchNorm.convert_sync_batchnorm(g_step)
                d_pair = nn.SyncBatchNorm.convert_sync_batchnorm(d_pair)
                self.generator, self.discriminator = g_step, d_pair.discriminator
                self.sync_batchnorm = True
            elif self.context.is_main:
                logger.warning(
                    "Batch norm with %d processes on %s: each process normalises over its own "
                    "%d images (SyncBatchNorm needs CUDA%s)", self.context.world_size,
                    self.device.type, self.config.batch_size,
                    "" if self.device.type != "cuda" else " and training.distributed.sync_batchnorm",
                )  # fmt: skip
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return (
            DistributedDataParallel(g_step, device_ids=device_ids),
            DistributedDataParallel(d_pair, device_ids=device_ids),
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _clip(self, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        if self.config.grad_clip_norm is not None:
            self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip_norm)

    def train_step(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, float] | None:
        """One D update and one G update; None when a loss was non-finite (the step is skipped)."""
        mode, lambda_l1 = self.config.loss.gan_mode, self.config.loss.lambda_l1
        if self.channels_last:
            source = source.contiguous(memory_format=torch.channels_last)
            target = target.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            fake = self.g_step(source)
        # --- discriminator -----------------------------------------------------------------
        self.discriminator.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        with self._autocast():
            pred_fake, pred_real = self.d_pair(
                torch.cat([source, fake.detach()], 1), torch.cat([source, target], 1)
            )
            loss_d_real, loss_d_fake = discriminator_loss(mode, pred_real, pred_fake)
            loss_d = (loss_d_real + loss_d_fake) * 0.5
        if not all_ranks_agree(torch.isfinite(loss_d), self.device):
            return None
        self.scaler.scale(loss_d).backward()
        self._clip(self.discriminator, self.optimizer_d)
        self.scaler.step(self.optimizer_d)
        # --- generator ---------------------------------------------------------------------
        self.discriminator.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        with self._autocast():
            pred_fake_for_g = self.d_step(torch.cat([source, fake], 1))
            loss_g_gan = generator_adversarial_loss(mode, pred_fake_for_g)
            loss_g_l1 = (fake.float() - target.float()).abs().mean() * lambda_l1
            loss_g = loss_g_gan + loss_g_l1
        if not all_ranks_agree(torch.isfinite(loss_g), self.device):
            self.scaler.update()
            return None
        self.scaler.scale(loss_g).backward()
        self._clip(self.generator, self.optimizer_g)
        self.scaler.step(self.optimizer_g)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.generator)
        values = [loss_g_gan.item(), loss_g_l1.item(), loss_d_real.item(), loss_d_fake.item(),
                  realness(mode, pred_real), realness(mode, pred_fake)]  # fmt: skip
        return dict(zip(STEP_METRICS, mean_over_ranks(values, self.device), strict=True))

    def evaluation_generator(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.generator

    # --- checkpoints ---------------------------------------------------------------------------
    def state(
        self, epoch: int, step: int, history: list[dict[str, Any]], identity: ckpt.TrainingIdentity
    ) -> dict[str, Any]:
        return {
            "identity": identity.to_dict(),
            "epoch": epoch,
            "step": step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "scheduler_g": self.scheduler_g.state_dict(),
            "scheduler_d": self.scheduler_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "rng": ckpt.capture_rng_state(),
            "history": history,
            "world_size": self.context.world_size,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer_g.load_state_dict(state["optimizer_g"])
        self.optimizer_d.load_state_dict(state["optimizer_d"])
        self.scheduler_g.load_state_dict(state["scheduler_g"])
        self.scheduler_d.load_state_dict(state["scheduler_d"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.model.load_state_dict(state["ema"])
        ckpt.restore_rng_state(state["rng"])


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


class _Progress:
    """tqdm on a terminal, plain log lines (at most every ``interval`` s) otherwise."""

    def __init__(
        self, total_steps: int, start_step: int, interval: float = 30.0, quiet: bool = False
    ) -> None:
        self.total, self.done, self.interval = total_steps, start_step, interval
        self.first_step, self.images = start_step, 0
        self.start = time.perf_counter()
        self.last_log = self.start
        self.bar = None
        self.quiet = quiet  # the processes other than process 0 of a distributed run
        if sys.stderr.isatty() and not quiet:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def update(
        self, epoch: int, total_epochs: int, batch_images: int, losses: Mapping[str, float]
    ) -> None:
        """Count one finished step of ``batch_images`` images; rates are over this run's steps."""
        self.done += 1
        self.images += batch_images
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.start
        rate = self.images / elapsed if elapsed > 0 else 0.0
        summary = {"G_GAN": losses.get("loss_G_GAN", math.nan), "G_L1": losses.get("loss_G_L1", math.nan),
                   "D": (losses.get("loss_D_real", math.nan) + losses.get("loss_D_fake", math.nan)) / 2}  # fmt: skip
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch + 1}/{total_epochs}")
            self.bar.set_postfix(
                {**{k: f"{v:.3f}" for k, v in summary.items()}, "img/s": f"{rate:.1f}"}
            )
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last_log >= self.interval or self.done == self.total:
            self.last_log = now
            logger.info(
                "epoch %d/%d step %d/%d | %s | %.2f img/s | ETA %s",
                epoch + 1, total_epochs, self.done, self.total,
                " ".join(f"{k} {v:.3f}" for k, v in summary.items()), rate, self._eta(),
            )  # fmt: skip

    def epoch_end(self, row: Mapping[str, Any], total_epochs: int) -> None:
        """One log line per finished epoch (above the bar on a terminal)."""
        if self.quiet:
            return
        line = (
            f"epoch {row['epoch']}/{total_epochs} done in {row['seconds']:.1f} s | "
            f"G_GAN {row.get('loss_G_GAN', math.nan):.3f} G_L1 {row.get('loss_G_L1', math.nan):.3f} "
            f"D(real) {row.get('d_real_mean', math.nan):.2f} D(fake) "
            f"{row.get('d_fake_mean', math.nan):.2f} | {row['img_per_s']:.2f} img/s | lr "
            f"{row['lr']:.2e} | ETA {self._eta()}"
        )
        if row.get("nonfinite_steps"):
            line += f" | {row['nonfinite_steps']} non-finite steps skipped"
        if self.bar is not None:
            self.bar.write(line)
        else:
            logger.info(line)

    def _eta(self) -> str:
        """Time left at this run's rate so far (steps done since it started or resumed)."""
        elapsed = time.perf_counter() - self.start
        steps_per_s = (self.done - self.first_step) / elapsed if elapsed > 0 else 0.0
        return _duration((self.total - self.done) / steps_per_s if steps_per_s > 0 else math.inf)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def sample_grid(
    generator: nn.Module,
    source_u8: torch.Tensor,
    target_u8: torch.Tensor,
    crop_size: int,
    device: torch.device,
) -> np.ndarray:
    """Rows of ``source | generated | target`` (center crops), as an H×W×3 uint8 array."""
    from img2img.translate import center_crop, translate_images

    source = center_crop(source_u8, crop_size)
    target = center_crop(target_u8, crop_size)
    generated = translate_images(
        generator, source, test_mode="train", batch_size=len(source), device=device, seed=0
    )
    rows = torch.cat([source, generated, target], dim=3)  # N×3×H×3W
    grid = torch.cat(list(rows), dim=1)  # 3×(N·H)×3W
    return grid.permute(1, 2, 0).contiguous().numpy()


def _safe_callback(callbacks: Any, name: str, *args: Any, warned: set[str]) -> None:
    method = getattr(callbacks, name, None) if callbacks is not None else None
    if method is None:
        return
    try:
        method(*args)
    except Exception as exc:  # a callback must never kill training
        if name not in warned:
            warned.add(name)
            logger.warning("Training callback %s failed (%s); training continues", name, exc)


def configure_runtime(config: TrainConfig) -> None:
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    random.seed(config.seed)
    np.random.seed(config.seed % 2**32)
    torch.manual_seed(config.seed)


def environment(trainer: Pix2PixTrainer) -> dict[str, Any]:
    device = trainer.device
    context = trainer.context
    return {
        "world_size": context.world_size,
        "backend": str(torch.distributed.get_backend()) if context.enabled else "none",
        "sync_batchnorm": trainer.sync_batchnorm,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_version": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "amp_dtype": str(trainer.amp_dtype).replace("torch.", "") if trainer.amp_dtype else "none",
        "channels_last": trainer.channels_last,
        "channels_last_discriminator": trainer.d_channels_last,
        "cpu_allocator_keeps_freed_memory": trainer.keeps_freed_memory,
        "compile": trainer.config.compile,
        "fused_adam": True,
    }


def train_gan_model(
    config: TrainConfig,
    train_source_u8: torch.Tensor,
    train_target_u8: torch.Tensor,
    *,
    checkpoint_dir: Path,
    sample_source_u8: torch.Tensor | None = None,
    sample_target_u8: torch.Tensor | None = None,
    callbacks: Any = None,
    context: DistributedContext | None = None,
    device: torch.device | None = None,
    identity: ckpt.TrainingIdentity | None = None,
    initial: InitialWeights | None = None,
) -> TrainResult:
    """Train from uint8 N×3×H×W tensors; checkpoints go to ``checkpoint_dir``.

    ``identity`` names the run (parameters, data fingerprint, starting weights; default: the
    parameters alone). With ``config.resume == "auto"`` an unfinished checkpoint of the same identity
    is continued; any other checkpoint is set aside (:func:`img2img.gan.checkpoint.resumable_state`)
    and training starts from the first epoch. ``initial``: weights to start from (a warm start)
    instead of a random initialisation.

    ``context``: this process's place in a torch.distributed group whose default process group is
    already initialised (see :mod:`img2img.gan.distributed`, which calls this); ``device`` then is
    this process's device. Process 0 alone writes checkpoints, logs and calls ``callbacks``.
    """
    if len(train_source_u8) == 0 or len(train_source_u8) != len(train_target_u8):
        raise ValueError(
            f"training needs as many sources as targets and at least one pair, got "
            f"{len(train_source_u8)} sources and {len(train_target_u8)} targets"
        )
    context = context or DistributedContext()
    if not context.is_main:
        callbacks = None
    configure_runtime(config)
    device = device or select_device(config.device)
    identity = identity or ckpt.TrainingIdentity(config.param_hash(), "")
    trainer = Pix2PixTrainer(config, device, context, initial)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_path = checkpoint_dir / ckpt.LAST
    history: list[dict[str, Any]] = []
    start_epoch, step = 0, 0
    state = None
    if context.is_main:
        state = ckpt.resumable_state(checkpoint_path, identity, config.total_epochs, config.resume)
        if state is not None and state.get("world_size", 1) != context.world_size:
            logger.warning(
                "Resuming a checkpoint trained with %d process(es) on %d: the global batch changes "
                "from %d to %d images", state.get("world_size", 1), context.world_size,
                state.get("world_size", 1) * config.batch_size, context.world_size * config.batch_size,
            )  # fmt: skip
    if context.enabled:  # only process 0 reads the checkpoint folder
        state = broadcast_from_main(state, device)
    if state is not None:
        trainer.load_state(state)
        start_epoch, step, history = state["epoch"] + 1, state["step"], list(state["history"])
        if context.is_main:
            logger.info("Resuming from %s after epoch %d", checkpoint_path, start_epoch)
        del state
    elif context.is_main:
        logger.info("Training %d epochs on %d pairs from %s", config.total_epochs,
                    len(train_source_u8), initial.origin.describe() if initial else "scratch")  # fmt: skip
    # Move the training data to the device once when it comfortably fits there.
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if train_source_u8.nbytes + train_target_u8.nbytes < 0.25 * free:
            train_source_u8, train_target_u8 = (
                train_source_u8.to(device),
                train_target_u8.to(device),
            )
    epoch_steps = steps_per_epoch(len(train_source_u8), config.batch_size, context.world_size)
    progress = _Progress(epoch_steps * config.total_epochs, epoch_steps * start_epoch,
                         quiet=not context.is_main)  # fmt: skip
    grids: dict[int, np.ndarray] = {}
    warned: set[str] = set()
    consecutive_bad = 0
    # On the CPU, freed memory stays in the allocator for the next step (img2img.gan.runtime).
    with keep_freed_memory(enabled=device.type == "cpu") as kept, contextlib.closing(progress):
        trainer.keeps_freed_memory = kept
        for epoch in range(start_epoch, config.total_epochs):
            trainer.generator.train()
            trainer.discriminator.train()
            sums: dict[str, float] = {}
            good_steps = bad_steps = images = 0
            started = time.perf_counter()
            if context.enabled:  # dropout noise: different on every process, the same on resume
                torch.manual_seed((config.seed * 1_000_003 + epoch) * 65_537 + context.rank)
            for source, target in iterate_batches(
                train_source_u8, train_target_u8, batch_size=config.batch_size, load_size=config.load_size,
                crop_size=config.crop_size, flip=config.flip, seed=config.seed, epoch=epoch, device=device,
                rank=context.rank, world_size=context.world_size,
            ):  # fmt: skip
                losses = trainer.train_step(source, target)
                step += 1
                images += len(source) * context.world_size
                if losses is None:
                    bad_steps += 1
                    consecutive_bad += 1
                    logger.warning(
                        "Non-finite loss at epoch %d step %d: step skipped", epoch + 1, step
                    )
                    if consecutive_bad >= config.max_nonfinite_steps:
                        raise NonFiniteLossError(
                            f"{consecutive_bad} non-finite losses in a row (training.max_nonfinite_steps="
                            f"{config.max_nonfinite_steps}) at epoch {epoch + 1}; the last good checkpoint "
                            f"in {checkpoint_dir} is intact. Lower training.optimizer.lr, set "
                            "training.grad_clip_norm, or check the data."
                        )
                    continue
                consecutive_bad = 0
                good_steps += 1
                for key, value in losses.items():
                    sums[key] = sums.get(key, 0.0) + value
                _safe_callback(callbacks, "on_step", step, losses, warned=warned)
                progress.update(
                    epoch, config.total_epochs, len(source) * context.world_size, losses
                )
            seconds = time.perf_counter() - started
            row: dict[str, Any] = {
                "epoch": epoch + 1,
                "lr": trainer.optimizer_g.param_groups[0]["lr"],
            }
            row.update({k: v / max(good_steps, 1) for k, v in sums.items()})
            row.update({"img_per_s": images / seconds if seconds > 0 else 0.0, "nonfinite_steps": bad_steps,
                        "seconds": seconds, "step": step, "train_pairs": len(train_source_u8)})  # fmt: skip
            trainer.scheduler_g.step()
            trainer.scheduler_d.step()
            history.append(row)
            progress.epoch_end(row, config.total_epochs)
            last_epoch = epoch + 1 == config.total_epochs
            grid = None
            if (
                context.is_main
                and sample_source_u8 is not None
                and len(sample_source_u8)
                and config.num_samples
                and ((epoch + 1) % config.sample_every_epochs == 0 or last_epoch)
            ):
                grid = sample_grid(trainer.evaluation_generator(), sample_source_u8[: config.num_samples],
                                   sample_target_u8[: config.num_samples], config.crop_size, device)  # fmt: skip
                grids[epoch + 1] = grid
            _safe_callback(callbacks, "on_epoch_end", epoch + 1, row, grid, warned=warned)
            if context.is_main and (
                (epoch + 1) % config.checkpoint_every_epochs == 0 or last_epoch
            ):
                ckpt.atomic_torch_save(
                    trainer.state(epoch, step, history, identity), checkpoint_path
                )
    generator = trainer.evaluation_generator()
    env = environment(trainer)
    return TrainResult(
        generator=GeneratorArtifact(
            architecture=config.generator_architecture(),
            state_dict=_cpu_state(generator),
            ema=trainer.ema is not None,
            epochs=config.total_epochs,
            train_config=config.to_dict(),
            environment=env,
            training_seconds=float(sum(row.get("seconds", 0.0) for row in history)),
        ),
        discriminator=DiscriminatorArtifact(
            config.discriminator_architecture(), _cpu_state(trainer.discriminator)
        ),
        history=history,
        sample_grids=grids,
        environment=env,
    )
