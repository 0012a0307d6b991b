"""The epochs of a training run around :class:`~img2img.gan.trainer.Pix2PixTrainer`.

:func:`train_gan_model` reads as its four parts: :func:`_start` (the trainer, and the checkpoint it
resumes when it belongs to this run: :func:`img2img.gan.checkpoint.resumable_state`),
:func:`_run_epoch` (the steps of one epoch, with the non-finite guard), :func:`_end_epoch`
(history row, LR schedule, sample grid, callbacks, checkpoint) and :func:`_result` (the typed
artifacts). A time-budgeted run (``training.time_budget_minutes``) trains the steps that its plan
fits in the budget instead (the last epoch partial when they end inside it; its LR schedule steps per
step): :func:`_budget_step` times its first steps and plans (:mod:`img2img.gan.plan`), and
:func:`_revise_plan` plans again at an epoch end when the speed has changed since.
It runs in one process; :mod:`img2img.gan.launcher` runs it in several, giving each its
:class:`~img2img.gan.collectives.DistributedContext`. Process 0 alone writes checkpoints, logs and
calls the callbacks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from img2img.gan import checkpoint as ckpt
from img2img.gan.artifact import DiscriminatorArtifact, GeneratorArtifact, InitialWeights
from img2img.gan.collectives import (
    DistributedContext,
    all_ranks_agree,
    broadcast_from_main,
    max_over_ranks,
)
from img2img.gan.config import TrainConfig
from img2img.gan.data import iterate_batches, steps_per_epoch
from img2img.gan.plan import EpochEndCosts, TimeBudget, TrainingPlan, note_resumed
from img2img.gan.progress import Progress
from img2img.gan.runtime import configure_runtime, keep_freed_memory, select_device
from img2img.gan.trainer import Pix2PixTrainer, cpu_state
from img2img.gan.translation import sample_grid

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """Too many non-finite losses in a row: training stopped, the last good checkpoint is intact."""


class TrainingCallbacks(Protocol):  # pragma: no cover - a structural type
    def on_step(self, step: int, metrics: Mapping[str, float]) -> None: ...
    def on_epoch_end(
        self, epoch: int, metrics: Mapping[str, Any], sample_grid: np.ndarray | None
    ) -> None: ...


@dataclass(frozen=True)
class TrainingInputs:
    """What a run trains on and where it keeps its checkpoints, besides its configuration.

    ``source``/``target``: uint8 N×3×H×W pairs; ``sample_*``: pairs for the sample grids;
    ``identity``: the run (default: its parameters alone); ``initial``: weights to start from.
    Picklable: :mod:`img2img.gan.launcher` hands it to every training process."""

    source: torch.Tensor
    target: torch.Tensor
    checkpoint_dir: Path
    sample_source: torch.Tensor | None = None
    sample_target: torch.Tensor | None = None
    identity: ckpt.TrainingIdentity | None = None
    initial: InitialWeights | None = None
    callbacks: TrainingCallbacks | None = None

    def __post_init__(self) -> None:
        if len(self.source) == 0 or len(self.source) != len(self.target):
            raise ValueError(
                f"training needs as many sources as targets and at least one pair, got "
                f"{len(self.source)} sources and {len(self.target)} targets"
            )


@dataclass
class TrainResult:
    """The trained networks, one history row per epoch (``epoch_steps``: the steps it ran, fewer in
    a time-budgeted run's partial last epoch), the sample grids by epoch, where it trained, the
    steps and epochs it ran in all, and a time-budgeted run's plan."""

    generator: GeneratorArtifact
    discriminator: DiscriminatorArtifact
    history: list[dict[str, Any]]
    sample_grids: dict[int, np.ndarray] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    epochs: int = 0
    plan: TrainingPlan | None = None


@dataclass
class _Run:
    """The state of one training process between epochs."""

    config: TrainConfig
    trainer: Pix2PixTrainer
    context: DistributedContext
    identity: ckpt.TrainingIdentity
    inputs: TrainingInputs
    source: torch.Tensor  # the training pairs, on the device when they fit there
    target: torch.Tensor
    start_epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    grids: dict[int, np.ndarray] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)
    consecutive_bad: int = 0
    progress: Progress | None = None
    epoch_steps: int = 1  # steps per epoch
    budget: TimeBudget | None = None  # a time-budgeted run's clock

    @property
    def plan(self) -> TrainingPlan | None:
        return self.trainer.plan

    @property
    def total_epochs(self) -> int | None:
        """Epochs of the run; None while a time-budgeted run has no plan yet."""
        if self.budget is None:
            return self.config.total_epochs
        return self.plan.epochs if self.plan is not None else None

    @property
    def planned_steps_done(self) -> bool:
        """Whether a time-budgeted run has done its planned steps (maybe inside an epoch)."""
        return self.plan is not None and self.step >= self.plan.total_steps

    def finished(self, epochs_done: int) -> bool:
        """Whether the run is done after ``epochs_done`` epochs (and :attr:`step` steps)."""
        if self.budget is None:
            return epochs_done >= self.config.total_epochs
        return self.planned_steps_done

    def seconds_spent(self) -> float:
        return self.budget.spent() if self.budget is not None else 0.0

    @property
    def callbacks(self) -> TrainingCallbacks | None:
        return self.inputs.callbacks if self.context.is_main else None

    @property
    def checkpoint(self) -> Path:
        return Path(self.inputs.checkpoint_dir) / ckpt.LAST


def train_gan_model(
    config: TrainConfig,
    inputs: TrainingInputs,
    *,
    context: DistributedContext | None = None,
    device: torch.device | None = None,
) -> TrainResult:
    """Train ``config`` on ``inputs``: resume an unfinished checkpoint of the same identity, else
    start from the first epoch (any other checkpoint is set aside).

    ``context``: this process's place in a torch.distributed group whose default process group is
    already initialised (:mod:`img2img.gan.launcher` does that); ``device`` then is this process's.
    """
    started = time.perf_counter()  # a time budget counts from here
    context = context or DistributedContext()
    configure_runtime(config)
    budget = TimeBudget(config.time_budget_minutes, started) if config.budgeted else None
    run = _start(config, inputs, context, device or select_device(config.device), budget)
    device_type = run.trainer.device.type
    # On the CPU, freed memory stays in the allocator for the next step (img2img.gan.runtime).
    with keep_freed_memory(enabled=device_type == "cpu") as kept, contextlib.closing(run.progress):
        run.trainer.keeps_freed_memory = kept
        epoch = run.start_epoch
        while not run.finished(epoch):
            _end_epoch(run, epoch, _run_epoch(run, epoch))
            epoch += 1
    return _result(run)


def _start(
    config: TrainConfig, inputs: TrainingInputs, context: DistributedContext, device: torch.device,
    budget: TimeBudget | None,
) -> _Run:  # fmt: skip
    """The trainer, resumed from this run's unfinished checkpoint when there is one."""
    identity = inputs.identity or ckpt.TrainingIdentity(config.param_hash(), "")
    trainer = Pix2PixTrainer(config, device, context, inputs.initial)
    epoch_steps = steps_per_epoch(len(inputs.source), config.batch_size, context.world_size)
    run = _Run(config, trainer, context, identity, inputs, inputs.source, inputs.target,
               epoch_steps=epoch_steps, budget=budget)  # fmt: skip
    state = None
    if context.is_main:  # only process 0 reads the checkpoint folder
        epochs = None if config.budgeted else config.total_epochs
        state = ckpt.resumable_state(run.checkpoint, identity, epochs, config.resume)
        if state is not None and state.get("world_size", 1) != context.world_size:
            before, now = state.get("world_size", 1), context.world_size
            logger.warning("Resuming a checkpoint trained with %d process(es) on %d: the global batch "
                           "changes from %d to %d images", before, now, before * config.batch_size,
                           now * config.batch_size)  # fmt: skip
    if context.enabled:
        state = broadcast_from_main(state, device)
    if state is not None:
        _resume(run, state)
    elif context.is_main:
        origin = inputs.initial.origin.describe() if inputs.initial else "scratch"
        length = (f"for a time budget of {config.time_budget_minutes:g} min" if budget else
                  f"{config.total_epochs} epochs")  # fmt: skip
        logger.info("Training %s on %d pairs from %s", length, len(run.source), origin)
    if device.type == "cuda":  # the training data moves to the GPU once when it comfortably fits
        free, _ = torch.cuda.mem_get_info(device)
        if run.source.nbytes + run.target.nbytes < 0.25 * free:
            run.source, run.target = run.source.to(device), run.target.to(device)
    if budget is None:
        total, done = run.epoch_steps * config.total_epochs, run.epoch_steps * run.start_epoch
    else:
        total, done = (run.plan.total_steps if run.plan else None), run.step
    run.progress = Progress(total, done, quiet=not context.is_main)
    return run


def _resume(run: _Run, state: dict[str, Any]) -> None:
    """Continue after the checkpoint's epoch: weights, optimisers, schedules, a time budget's plan
    and the budget seconds spent by the calls before."""
    run.trainer.load_state(state)
    run.start_epoch, run.step = state["epoch"] + 1, state["step"]
    run.history = list(state["history"])
    if run.budget is not None:
        run.budget.spent_before = float(state.get("seconds_spent", 0.0))
    if run.context.is_main:
        logger.info("Resuming from %s after epoch %d", run.checkpoint, run.start_epoch)
        if run.plan is not None:
            note_resumed(run.plan, run.step, run.seconds_spent())


def _run_epoch(run: _Run, epoch: int) -> dict[str, Any]:
    """The steps of one epoch; the epoch's history row (mean losses, speed, skipped steps)."""
    config, trainer, context = run.config, run.trainer, run.context
    trainer.generator.train()
    trainer.discriminator.train()
    sums: dict[str, float] = {}
    good = bad = images = steps = 0
    started = last = time.perf_counter()
    lr = trainer.lr
    if context.enabled:  # dropout noise: different on every process, the same on resume
        torch.manual_seed((config.seed * 1_000_003 + epoch) * 65_537 + context.rank)
    for source, target in iterate_batches(
        run.source, run.target, batch_size=config.batch_size, load_size=config.load_size,
        crop_size=config.crop_size, flip=config.flip, seed=config.seed, epoch=epoch,
        device=trainer.device, rank=context.rank, world_size=context.world_size,
    ):  # fmt: skip
        lr = trainer.lr  # the learning rate of this step
        losses = trainer.train_step(source, target)
        run.step += 1
        steps += 1
        images += len(source) * context.world_size
        if run.budget is not None:
            last = _budget_step(run, epoch, last)
        if losses is None:
            bad += 1
            _non_finite(run, epoch)
        else:
            run.consecutive_bad = 0
            good += 1
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            _safe_callback(run.callbacks, "on_step", run.step, {**losses, "lr": lr}, warned=run.warned)  # fmt: skip
            run.progress.update(epoch, run.total_epochs, len(source) * context.world_size, losses)
        if run.planned_steps_done:  # the last epoch of a time-budgeted run may end early
            break
    seconds = time.perf_counter() - started
    return {"epoch": epoch + 1, "lr": lr, **{k: v / max(good, 1) for k, v in sums.items()},
            "img_per_s": images / seconds if seconds > 0 else 0.0, "nonfinite_steps": bad,
            "seconds": seconds, "step": run.step, "epoch_steps": steps,
            "train_pairs": len(run.source)}  # fmt: skip


def _budget_step(run: _Run, epoch: int, last: float) -> float:
    """After each step of a time-budgeted run: time it (from the end of the step before, ``last``)
    until every process has timed enough, then plan; step the LR schedule. The new ``last``."""
    trainer, budget, device = run.trainer, run.budget, run.trainer.device
    budget.time_step(time.perf_counter() - last, planned=run.plan is not None)
    if run.plan is None and all_ranks_agree(budget.meter.enough(budget.spent()), device):
        # every process has timed enough: plan
        slowest = max_over_ranks(budget.meter.seconds_per_step, device)
        plan = None
        if run.context.is_main:
            costs = _epoch_end_costs(run, epoch)
            plan = budget.make_plan(run.step, run.epoch_steps, slowest, costs)
        trainer.use_plan(broadcast_from_main(plan, device))  # process 0's plan, for all
        run.progress.set_total(run.plan.total_steps)
    trainer.step_schedulers()
    return time.perf_counter()


def _revise_plan(run: _Run) -> None:
    """At an epoch end of a time-budgeted run that has a plan and steps to go: plan again when the
    pace since the last (re)plan misses the budget (:func:`img2img.gan.plan.revise_plan`)."""
    budget, device = run.budget, run.trainer.device
    if budget is None or run.plan is None or run.planned_steps_done:
        return
    if not all_ranks_agree(budget.pace_known(), device):
        return
    slowest = max_over_ranks(budget.pace.seconds_per_step, device)
    plan = budget.revise(run.plan, run.step, slowest) if run.context.is_main else None
    plan = broadcast_from_main(plan, device)
    if plan is not None:
        run.trainer.use_plan(plan)
        run.progress.set_total(plan.total_steps)
        budget.restart_pace()


def _epoch_end_costs(run: _Run, epoch: int) -> EpochEndCosts:
    """One sample grid and one checkpoint save, timed (the checkpoint written aside, then deleted)."""
    started = time.perf_counter()
    _grid(run)
    saving = time.perf_counter()
    state = run.trainer.state_dict(epoch, run.step, run.history, run.identity, run.seconds_spent())
    checkpoint_seconds = time.perf_counter() - saving + ckpt.timed_save(state, run.checkpoint)
    return EpochEndCosts(saving - started, checkpoint_seconds, run.config.sample_every_epochs,
                         run.config.checkpoint_every_epochs)  # fmt: skip


def _non_finite(run: _Run, epoch: int) -> None:
    """A skipped step; too many in a row stop training with the last good checkpoint intact."""
    run.consecutive_bad += 1
    logger.warning("Non-finite loss at epoch %d step %d: step skipped", epoch + 1, run.step)
    limit = run.config.max_nonfinite_steps
    if run.consecutive_bad >= limit:
        raise NonFiniteLossError(
            f"{run.consecutive_bad} non-finite losses in a row (training.max_nonfinite_steps={limit}) "
            f"at epoch {epoch + 1}; the last good checkpoint in {run.inputs.checkpoint_dir} is "
            "intact. Lower training.optimizer.lr, set training.grad_clip_norm, or check the data."
        )


def _end_epoch(run: _Run, epoch: int, row: dict[str, Any]) -> None:
    """LR schedules, the history row, the sample grid, the callbacks and the checkpoint."""
    config, trainer, context = run.config, run.trainer, run.context
    if run.budget is None:  # a time-budgeted run steps its schedule per step
        trainer.step_schedulers()
    _revise_plan(run)  # a time-budgeted run whose speed changed: before deciding the last epoch
    run.history.append(row)
    run.progress.epoch_end(row, run.total_epochs)
    last_epoch = run.finished(epoch + 1)
    grid = None
    if (epoch + 1) % config.sample_every_epochs == 0 or last_epoch:
        grid = _grid(run)
        if grid is not None:
            run.grids[epoch + 1] = grid
    _safe_callback(run.callbacks, "on_epoch_end", epoch + 1, row, grid, warned=run.warned)
    if context.is_main and ((epoch + 1) % config.checkpoint_every_epochs == 0 or last_epoch):
        state = trainer.state_dict(epoch, run.step, run.history, run.identity, run.seconds_spent())
        ckpt.atomic_torch_save(state, run.checkpoint)


def _grid(run: _Run) -> np.ndarray | None:
    """Process 0's sample grid of the generator as it is now; None without samples."""
    samples, count = run.inputs.sample_source, run.config.num_samples
    if not run.context.is_main or samples is None or not len(samples):
        return None
    return sample_grid(run.trainer.evaluation_generator(), samples[:count],
                       run.inputs.sample_target[:count], run.config.crop_size, run.trainer.device)  # fmt: skip


def _result(run: _Run) -> TrainResult:
    config, trainer = run.config, run.trainer
    environment = trainer.describe()
    epochs = int(run.history[-1]["epoch"]) if run.history else 0
    generator = GeneratorArtifact(
        architecture=config.generator_architecture(),
        state_dict=cpu_state(trainer.evaluation_generator()),
        ema=trainer.ema is not None,
        epochs=epochs,
        train_config=config.to_dict(),
        environment=environment,
        training_seconds=float(sum(row.get("seconds", 0.0) for row in run.history)),
        plan=run.plan,
    )
    discriminator = DiscriminatorArtifact(
        config.discriminator_architecture(), cpu_state(trainer.discriminator)
    )
    return TrainResult(generator, discriminator, run.history, run.grids, environment, run.step,
                       epochs, run.plan)  # fmt: skip


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
