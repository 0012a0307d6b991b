"""One pix2pix optimisation step and the state around it: :class:`Pix2PixTrainer`.

The trainer owns the networks, the optimisers and schedulers, AMP and the EMA of the generator;
:meth:`Pix2PixTrainer.train_step` is one D update and one G update (also what
``benchmarks/train_speed.py`` times); :meth:`Pix2PixTrainer.state_dict` and
:meth:`Pix2PixTrainer.load_state` are what a checkpoint holds of it. The epochs around it are
:mod:`img2img.gan.loop`.

The step is the pix2pix step, with the same maths as the reference implementation:
``fake = G(A)``; D is updated on ``D(A, fake.detach())`` and ``D(A, B)`` (loss halved); then G on the
adversarial loss of ``D(A, fake)`` (D frozen) plus ``lambda_l1 * |fake - B|``. With
``loss.lambda_feat`` G also matches D's hidden activations on the real pair, taken from the D
update (pix2pixHD's feature matching, without a further pass of D).

What makes it faster on a CPU is how the work is done, not what is computed: fused Adam (one pass
over the weights instead of a dozen), matrix-product convolutions for the small inner U-Net levels
(:class:`~img2img.gan.networks.UpConv`, :class:`~img2img.gan.networks.DownConv`), no gradients for
frozen D weights, ``set_to_none`` grads, freed memory kept by the allocator
(:func:`~img2img.gan.runtime.keep_freed_memory`), D in channels_last (see
:func:`~img2img.gan.runtime.memory_formats`), fake and real pairs as one batch of a D without batch
norm (:class:`~img2img.gan.discriminators.RealFakeDiscriminator`). ``benchmarks/train_speed.py``
measures each against the reference.

With several processes both networks are wrapped in ``DistributedDataParallel``. D sees the fake
and the real pairs in one call of the wrapper (``RealFakeDiscriminator``: one forward per backward,
as DDP requires); G's adversarial pass uses the unwrapped D, whose weights are frozen and identical
on every process.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR

from img2img.gan import checkpoint as ckpt
from img2img.gan.artifact import InitialWeights
from img2img.gan.collectives import DistributedContext, all_ranks_agree, mean_over_ranks
from img2img.gan.config import TrainConfig
from img2img.gan.discriminators import RealFakeDiscriminator, build_discriminator, has_batch_norm
from img2img.gan.losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    realness,
)
from img2img.gan.networks import build_generator, init_weights
from img2img.gan.plan import TrainingPlan
from img2img.gan.runtime import amp_dtype, cpu_model, memory_formats, precision_path
from img2img.gan.schedules import lr_factor, lr_factor_per_step

logger = logging.getLogger(__name__)

GENERATOR_LOSSES = ("loss_G_GAN", "loss_G_L1")
DISCRIMINATOR_METRICS = ("loss_D_real", "loss_D_fake", "d_real_mean", "d_fake_mean")
STEP_METRICS = (*GENERATOR_LOSSES, *DISCRIMINATOR_METRICS)  # what every step reports, in order
FEATURE_MATCHING_METRIC = "loss_G_feat"  # with loss.lambda_feat > 0


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


class _Judged(NamedTuple):
    """What D's update leaves for G's: D's logits and losses on both kinds, and (feature matching)
    its activations on the real pairs."""

    real: Any
    fake: Any
    loss_real: torch.Tensor
    loss_fake: torch.Tensor
    real_features: list[list[torch.Tensor]] | None


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
        self.amp_dtype = amp_dtype(config.amp, device)
        if self.context.is_main:
            logger.info("Precision: %s (training.amp: %s)", precision_path(self.amp_dtype, device),
                        config.amp)  # fmt: skip
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
        self.plan: TrainingPlan | None = None  # a time-budgeted run's, once planned
        self.scheduler_g, self.scheduler_d = self._schedulers()
        self.ema = (
            ExponentialMovingAverage(self.generator, config.ema.decay)
            if config.ema.enabled
            else None
        )
        self.keeps_freed_memory = False  # set by the loop (img2img.gan.runtime.keep_freed_memory)
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

    def _schedulers(self) -> tuple[LambdaLR, LambdaLR]:
        """G's and D's schedules: per epoch, or per step in a time-budgeted run, at factor 1 until
        it has a plan (img2img.gan.plan). A lambda, not a callable object: LambdaLR saves none of it."""
        self._planned_factor: Callable[[int], float] = lambda step: 1.0
        budgeted = self.config.budgeted
        factor = (lambda step: self._planned_factor(step)) if budgeted else lr_factor(self.config)
        return LambdaLR(self.optimizer_g, factor), LambdaLR(self.optimizer_d, factor)

    def _data_parallel(self, g_step: nn.Module, d_pair: nn.Module) -> tuple[nn.Module, nn.Module]:
        """DDP wrappers (SyncBatchNorm first, on CUDA, when batch norm is used)."""
        if has_batch_norm(self.generator) or has_batch_norm(self.discriminator):
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
        if self.channels_last:
            source = source.contiguous(memory_format=torch.channels_last)
            target = target.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            fake = self.g_step(source)
        judged = self._update_discriminator(source, target, fake)
        if judged is None:
            return None
        g_losses = self._update_generator(source, target, fake, judged.real_features)
        if g_losses is None:
            return None
        if self.ema is not None:
            self.ema.update(self.generator)
        mode = self.config.loss.gan_mode
        d_values = (judged.loss_real.item(), judged.loss_fake.item(),
                    realness(mode, judged.real), realness(mode, judged.fake))  # fmt: skip
        values = {**g_losses, **dict(zip(DISCRIMINATOR_METRICS, d_values, strict=True))}
        return dict(zip(values, mean_over_ranks(list(values.values()), self.device), strict=True))

    def _update_discriminator(
        self, source: torch.Tensor, target: torch.Tensor, fake: torch.Tensor
    ) -> _Judged | None:
        """D's update on the fake (detached) and real pairs; None when its loss is not finite."""
        matching = self.config.loss.lambda_feat > 0
        self.discriminator.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        real_features = None
        with self._autocast():
            pred_fake, pred_real = self.d_pair(
                torch.cat([source, fake.detach()], 1), torch.cat([source, target], 1),
                with_features=matching,
            )  # fmt: skip
            if matching:  # the real pairs' activations are G's targets (as in pix2pixHD)
                real_features = pred_real.features  # the loss detaches them
                pred_fake, pred_real = pred_fake.logits, pred_real.logits
            loss_real, loss_fake = discriminator_loss(
                self.config.loss.gan_mode, pred_real, pred_fake
            )
            loss_d = (loss_real + loss_fake) * 0.5
        if not all_ranks_agree(torch.isfinite(loss_d), self.device):
            return None
        self.scaler.scale(loss_d).backward()
        self._clip(self.discriminator, self.optimizer_d)
        self.scaler.step(self.optimizer_d)
        return _Judged(pred_real, pred_fake, loss_real, loss_fake, real_features)

    def _update_generator(
        self, source: torch.Tensor, target: torch.Tensor, fake: torch.Tensor,
        real_features: list[list[torch.Tensor]] | None,
    ) -> dict[str, float] | None:  # fmt: skip
        """G's update (D frozen): its adversarial, L1 and (with real_features) feature-matching
        losses, or None when their sum is not finite."""
        loss = self.config.loss
        self.discriminator.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        matching = real_features is not None
        with self._autocast():
            judged = self.d_step(torch.cat([source, fake], 1), with_features=matching)
            logits = judged.logits if matching else judged
            adversarial = generator_adversarial_loss(loss.gan_mode, logits)
            l1 = (fake.float() - target.float()).abs().mean() * loss.lambda_l1
            losses = dict(zip(GENERATOR_LOSSES, (adversarial, l1), strict=True))
            if matching:
                losses[FEATURE_MATCHING_METRIC] = loss.lambda_feat * feature_matching_loss(
                    judged.features, real_features
                )
            loss_g = sum(losses.values())
        if not all_ranks_agree(torch.isfinite(loss_g), self.device):
            self.scaler.update()
            return None
        self.scaler.scale(loss_g).backward()
        self._clip(self.generator, self.optimizer_g)
        self.scaler.step(self.optimizer_g)
        self.scaler.update()
        return {name: value.item() for name, value in losses.items()}

    def use_plan(self, plan: TrainingPlan) -> None:
        """A time-budgeted run's plan (or its revision): from now on its schedule is laid over the
        planned steps. A revision keeps the factor of the step to come (img2img.gan.schedules)."""
        self.plan = plan
        self._planned_factor = lr_factor_per_step(self.config, plan.total_steps, plan.revisions)
        # Re-created at the step they have reached (their first step() re-takes it), so the step
        # to come already trains at this plan's rate.
        self.scheduler_g, self.scheduler_d = (
            LambdaLR(
                scheduler.optimizer, scheduler.lr_lambdas[0], last_epoch=scheduler.last_epoch - 1
            )
            for scheduler in (self.scheduler_g, self.scheduler_d)
        )

    def step_schedulers(self) -> None:
        """After every epoch, or every step of a time-budgeted run."""
        self.scheduler_g.step()
        self.scheduler_d.step()

    @property
    def lr(self) -> float:
        """The learning rate the next step uses (G's; D's follows the same schedule)."""
        return float(self.optimizer_g.param_groups[0]["lr"])

    def evaluation_generator(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.generator

    # --- checkpoints ---------------------------------------------------------------------------
    def state_dict(
        self, epoch: int, step: int, history: list[dict[str, Any]], identity: ckpt.TrainingIdentity,
        seconds_spent: float = 0.0,
    ) -> dict[str, Any]:  # fmt: skip
        """Everything a checkpoint needs to continue exactly after ``epoch`` (0-based); a
        time-budgeted run's plan and the budget seconds spent (``seconds_spent``) too."""
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
            "plan": self.plan.to_dict() if self.plan is not None else None,
            "seconds_spent": seconds_spent,
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
        if state.get("plan") is not None:
            self.use_plan(TrainingPlan.from_dict(state["plan"]))

    def describe(self) -> dict[str, Any]:
        """Where and how this trainer runs (MLflow tags, the model card)."""
        device, context = self.device, self.context
        return {
            "world_size": context.world_size,
            "backend": str(torch.distributed.get_backend()) if context.enabled else "none",
            "sync_batchnorm": self.sync_batchnorm,
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else cpu_model(),
            "torch_version": str(torch.__version__),
            "threads": torch.get_num_threads(),
            "amp_dtype": str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "none",
            "precision": precision_path(self.amp_dtype, device),
            "channels_last": self.channels_last,
            "channels_last_discriminator": self.d_channels_last,
            "cpu_allocator_keeps_freed_memory": self.keeps_freed_memory,
            "compile": self.config.compile,
            "fused_adam": True,
        }


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``module``'s state dict on the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
