"""Time-budgeted training (``training.time_budget_minutes``): measure, plan, keep the plan.

A budgeted run cannot know beforehand how many steps fit in its minutes; it learns it from its own
first steps (:class:`ThroughputMeter`):

1. :data:`WARMUP_STEPS` steps are not timed (the first steps are slow: the allocator, oneDNN
   primitives, cuDNN autotuning, ``torch.compile``); their time is spent all the same.
2. The next steps are timed, each from the end of the step before to its own end (preparing the
   batch counts, the epoch ends do not), until at least :data:`MEASURED_STEPS` steps and
   :data:`MEASURE_FRACTION` of the budget (at most :data:`MEASURE_MAX_SECONDS`) are timed, or
   measuring took :data:`HURRY_FRACTION` of the budget, or less than that is left (a budget too
   small to measure in: the warm-up steps' mean, an over-estimate, is used when nothing is timed).
3. The loop then times one sample grid and one checkpoint save (:class:`EpochEndCosts`), and
   :func:`plan_steps` finds the most steps whose cost fits in what is left of the budget: the steps
   at the measured speed, the sample grids and checkpoints their epoch ends will write (counted
   exactly, the last, possibly partial, epoch's included), the final result (one more checkpoint's
   worth) and a :data:`MARGIN_FRACTION` margin for what is not measured (callbacks, jitter). Those
   non-step seconds are the plan's reserve.

The steps before the plan run at the initial learning rate (every policy starts at factor 1); then
the schedule is :func:`img2img.gan.schedules.lr_factor_per_step` over
:attr:`TrainingPlan.total_steps`.

4. The machine's speed can change during a run (a shared machine, thermal limits, a resume on
   another host). At every epoch end after the plan, once the steps since the last (re)plan (or
   since a resume, after its warm-up steps) are timed as long as in step 2, :func:`revise_plan`
   projects when the plan ends at that speed; when that misses the planned end (the budget
   less the margin) by more than the margin either way, it plans again from there. The schedule
   is not restarted: the steps still to go take the rest of the current schedule, stretched or
   squeezed (:attr:`TrainingPlan.revisions`), so the learning rate never jumps and the last
   planned step still ends the decay. Near the end of a run no further step may fit before the
   margin; the revision then spends the margin on the steps that fit in the budget itself, and
   only a budget truly spent stops the run before its learning rate has decayed.

Every checkpoint holds the plan and the budget seconds spent so far: a resumed run keeps the plan
(the same schedule to the same last step); it does not measure and plan again, it only revises
the plan when its own speed misses it. With several processes each one measures, the slowest
speed counts, and process 0 plans for all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

logger = logging.getLogger(__name__)

WARMUP_STEPS = 3  # first steps, not timed
MEASURED_STEPS = 5  # timed steps, at least
MEASURE_FRACTION = 0.1  # of the budget, timed at least...
MEASURE_MAX_SECONDS = 30.0  # ...but no more than this
HURRY_FRACTION = 0.25  # of the budget measuring, or left: plan with what is timed
MARGIN_FRACTION = 0.03  # of the budget, kept for what is not measured (callbacks, jitter)


def _ends(first: int, last: int, every: int) -> int:
    """Epochs ``n`` in ``first..last`` (1-based) that write: ``n % every == 0``, and the last one."""
    if last < first:
        return 0
    return last // every - (first - 1) // every + (last % every != 0)


@dataclass(frozen=True)
class EpochEndCosts:
    """What a run's epoch ends cost besides its steps: one sample grid (0 without samples), one
    checkpoint save, each timed once when planning, and how often each is written."""

    sample_grid_seconds: float
    checkpoint_seconds: float
    sample_every_epochs: int
    checkpoint_every_epochs: int

    def seconds(self, first_epoch: int, last_epoch: int) -> float:
        """The ends of epochs ``first_epoch..last_epoch`` (1-based), then the final result (its
        weights copied out once more: bounded by one more checkpoint)."""
        grids = _ends(first_epoch, last_epoch, self.sample_every_epochs)
        checkpoints = _ends(first_epoch, last_epoch, self.checkpoint_every_epochs)
        return grids * self.sample_grid_seconds + (checkpoints + 1) * self.checkpoint_seconds


@dataclass(frozen=True)
class TrainingPlan:
    """How a time-budgeted run trains: ``total_steps`` optimisation steps over all its epochs (the
    last epoch partial when they do not fill it), the learning-rate schedule laid over them."""

    budget_minutes: float
    total_steps: int
    steps_per_epoch: int
    seconds_per_step: float  # measured (the slowest process's)
    reserve_seconds: float  # planned besides the steps: grids, checkpoints, final result, margin
    planned_at_step: int  # steps done when planned: warm-up and measurement, at the initial lr
    planned_at_seconds: float  # budget seconds spent by then (model building included)
    costs: EpochEndCosts | None = None  # timed when planning (None: a plan saved before revisions)
    # Each revision (steps done then, total steps before): the steps from there to the new total
    # take the rest of the schedule before it (img2img.gan.schedules.lr_factor_per_step).
    revisions: tuple[tuple[int, int], ...] = ()

    @property
    def first_total_steps(self) -> int:
        """The total of the first plan: the schedule's shape is laid over it."""
        return self.revisions[0][1] if self.revisions else self.total_steps

    @property
    def epochs(self) -> int:
        return -(-self.total_steps // self.steps_per_epoch)

    @property
    def partial_last_epoch(self) -> bool:
        return self.total_steps % self.steps_per_epoch != 0

    def epochs_text(self) -> str:
        plural = "" if self.epochs == 1 else "s"
        partial = f", the last one {self.total_steps % self.steps_per_epoch} of {self.steps_per_epoch} steps"
        return f"{self.epochs} epoch{plural}" + (partial if self.partial_last_epoch else "")

    def describe(self) -> str:
        """One sentence for people (the model card, the MLflow tag ``plan``)."""
        totals = [str(before) for _, before in self.revisions] + [str(self.total_steps)]
        if len(totals) > 6:  # the first plan and the last few
            totals = [totals[0], "...", *totals[-3:]]
        revised = (f"; re-planned {len(self.revisions)} time{'s' if len(self.revisions) > 1 else ''} "
                   f"as the speed changed ({' -> '.join(totals)} steps)")  # fmt: skip
        return (f"Trained for {self.total_steps} steps ({self.epochs_text()}) planned for a budget of "
                f"{self.budget_minutes:g} minutes, measured {self.seconds_per_step:.4g} s/step"
                + (revised if self.revisions else ""))  # fmt: skip

    def tags(self) -> dict[str, str]:
        """The plan as flat string tags (MLflow run)."""
        values = {**self.to_dict(), "revisions": len(self.revisions)}  # a count: tags are short
        return {"plan": self.describe(), **{f"plan.{k}": str(v) for k, v in values.items()}}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingPlan:
        """From :meth:`to_dict` (a plan saved before revisions has no costs and no revisions)."""
        known = {f.name: values[f.name] for f in fields(cls) if f.name in values}
        costs = known.get("costs")
        known["costs"] = EpochEndCosts(**costs) if costs is not None else None
        known["revisions"] = tuple(
            (int(at), int(before)) for at, before in known.get("revisions", ())
        )
        return cls(**known)


def plan_steps(*, budget_minutes: float, spent_seconds: float, steps_done: int,
               steps_per_epoch: int, seconds_per_step: float, costs: EpochEndCosts) -> TrainingPlan:  # fmt: skip
    """The most steps whose cost fits in the budget left, and never fewer than ``steps_done``
    (at least 1): a budget spent before planning trains no further."""
    budget = budget_minutes * 60.0
    reserve, cost = _costing(budget, steps_done, steps_per_epoch, seconds_per_step, costs)
    total = _most_steps_fitting(cost, budget - spent_seconds, steps_done, seconds_per_step)
    return TrainingPlan(budget_minutes, total, steps_per_epoch, seconds_per_step, reserve(total),
                        steps_done, spent_seconds, costs)  # fmt: skip


def _most_steps_fitting(cost: Callable[[int], float], left: float, steps_done: int,
                        seconds_per_step: float) -> int:  # fmt: skip
    """The largest total whose ``cost`` fits in ``left`` seconds, never below ``steps_done``
    (at least 1)."""
    low = max(1, steps_done)
    high = low + max(0, int(left / max(seconds_per_step, 1e-9)))
    while low < high:  # cost grows with the steps
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= left else (low, middle - 1)
    return low


def _costing(budget: float, steps_done: int, steps_per_epoch: int, seconds_per_step: float,
             costs: EpochEndCosts) -> tuple[Callable[[int], float], Callable[[int], float]]:  # fmt: skip
    """``reserve(total)``: the seconds besides the steps still to come in a plan of ``total`` steps
    (epoch ends from the one in progress, the final result, the margin); ``cost(total)``: those
    and the steps."""
    margin = MARGIN_FRACTION * budget
    current_epoch = max(1, -(-steps_done // steps_per_epoch))  # in progress: its end is to come

    def reserve(total: int) -> float:
        return costs.seconds(current_epoch, -(-total // steps_per_epoch)) + margin

    def cost(total: int) -> float:
        return (total - steps_done) * seconds_per_step + reserve(total)

    return reserve, cost


def revise_plan(plan: TrainingPlan, *, spent_seconds: float, steps_done: int,
                seconds_per_step: float) -> TrainingPlan | None:  # fmt: skip
    """At an epoch end, with ``seconds_per_step`` timed since the last (re)plan: a revised plan when
    ``plan`` would end more than the margin away from its aim (the budget less the margin), else
    None. The revised plan fits what is left at that speed; it keeps the first plan's start and
    adds a revision, so the schedule continues from this step. When no step fits before the
    margin, the steps that fit in the budget itself take the rest of the schedule; never fewer
    than ``steps_done``: a budget already spent stops the run here."""
    if plan.costs is None or steps_done >= plan.total_steps:
        return None
    budget = plan.budget_minutes * 60.0
    margin = MARGIN_FRACTION * budget
    reserve, cost = _costing(budget, steps_done, plan.steps_per_epoch, seconds_per_step, plan.costs)
    ends = spent_seconds + cost(plan.total_steps) - margin  # when the plan would end
    if abs(ends - (budget - margin)) <= margin:
        return None
    total = _most_steps_fitting(cost, budget - spent_seconds, steps_done, seconds_per_step)
    into_margin = total <= steps_done  # nothing fits before the margin: squeeze the rest into it
    if into_margin:  # rather than stop before the learning rate has decayed
        total = _most_steps_fitting(cost, budget + margin - spent_seconds, steps_done, seconds_per_step)  # fmt: skip
    if total == plan.total_steps:
        return None
    revised = replace(plan, total_steps=total, seconds_per_step=seconds_per_step,
                      reserve_seconds=reserve(total),
                      revisions=(*plan.revisions, (steps_done, plan.total_steps)))  # fmt: skip
    logger.info(
        "Re-planning the time budget at step %d: the speed is now %.4g s/step (planned %.4g), so "
        "the plan of %d steps would end at %.1f s of the %g min budget; now %d steps (%s)%s",
        steps_done, seconds_per_step, plan.seconds_per_step, plan.total_steps, ends,
        plan.budget_minutes, revised.total_steps, revised.epochs_text(),
        ": the budget is spent, training stops here before the learning rate has fully decayed"
        if revised.total_steps <= steps_done
        else ", the rest of the schedule squeezed into the margin" if into_margin else "",
    )  # fmt: skip
    return revised


@dataclass
class ThroughputMeter:
    """Seconds per step from a run's first steps, the first :data:`WARMUP_STEPS` untimed."""

    budget_seconds: float
    untimed_steps: int = WARMUP_STEPS  # 0: a process already warm (timing a plan's pace)
    warmup_steps: int = 0
    warmup_seconds: float = 0.0
    steps: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        if self.warmup_steps < self.untimed_steps:
            self.warmup_steps += 1
            self.warmup_seconds += seconds
        else:
            self.steps += 1
            self.seconds += seconds

    def measured(self) -> bool:
        """Whether :data:`MEASURED_STEPS` steps and :data:`MEASURE_FRACTION` of the budget (at most
        :data:`MEASURE_MAX_SECONDS`) are timed."""
        wanted = min(MEASURE_FRACTION * self.budget_seconds, MEASURE_MAX_SECONDS)
        return self.steps >= MEASURED_STEPS and self.seconds >= wanted

    def enough(self, spent_seconds: float) -> bool:
        """Whether to plan now (``spent_seconds``: of the budget, so far, starting up included):
        when enough is timed, or measuring took :data:`HURRY_FRACTION` of the budget, or less than
        that is left."""
        hurry = HURRY_FRACTION * self.budget_seconds
        measuring = self.warmup_seconds + self.seconds
        return self.measured() or measuring >= hurry or self.budget_seconds - spent_seconds <= hurry

    @property
    def seconds_per_step(self) -> float:
        """The mean timed step; the mean warm-up step (an over-estimate) when none was timed."""
        if self.steps:
            return self.seconds / self.steps
        return self.warmup_seconds / max(1, self.warmup_steps)


@dataclass
class TimeBudget:
    """A budgeted run's clock: the budget seconds spent by earlier (resumed) training calls and
    since this one ``started`` (``time.perf_counter()``); its throughput meter before the plan,
    and ``pace``, the speed since the plan or its last revision (or since a resume)."""

    minutes: float
    started: float
    spent_before: float = 0.0
    meter: ThroughputMeter = field(init=False)
    pace: ThroughputMeter = field(init=False)

    def __post_init__(self) -> None:
        self.meter = ThroughputMeter(self.seconds)
        self.pace = ThroughputMeter(self.seconds)

    def time_step(self, seconds: float, planned: bool) -> None:
        """One step's seconds: to the first plan's meter, or once ``planned`` to the pace."""
        (self.pace if planned else self.meter).add(seconds)

    def pace_known(self) -> bool:
        """Whether the pace since the last (re)plan is timed as long as the first plan's speed."""
        return self.pace.measured()

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0

    def spent(self) -> float:
        return self.spent_before + time.perf_counter() - self.started

    def make_plan(self, steps_done: int, steps_per_epoch: int, seconds_per_step: float,
                  costs: EpochEndCosts) -> TrainingPlan:  # fmt: skip
        """The plan after ``steps_done`` steps (``seconds_per_step``: the slowest process's), logged."""
        plan = plan_steps(budget_minutes=self.minutes, spent_seconds=self.spent(),
                          steps_done=steps_done, steps_per_epoch=steps_per_epoch,
                          seconds_per_step=seconds_per_step, costs=costs)  # fmt: skip
        announce(plan, self.meter)
        self.restart_pace()
        return plan

    def revise(
        self, plan: TrainingPlan, steps_done: int, seconds_per_step: float
    ) -> TrainingPlan | None:
        """:func:`revise_plan` now (``seconds_per_step``: the slowest process's pace)."""
        return revise_plan(plan, spent_seconds=self.spent(), steps_done=steps_done,
                           seconds_per_step=seconds_per_step)  # fmt: skip

    def restart_pace(self) -> None:
        """Time the pace afresh from the next step (after a (re)plan: the process is warm)."""
        self.pace = ThroughputMeter(self.seconds, untimed_steps=0)


def announce(plan: TrainingPlan, meter: ThroughputMeter) -> None:
    """The plan's INFO line, and a warning when the budget fits less than one epoch."""
    logger.info(
        "Time budget %g min: measured %.4g s/step over %d steps (after %d warm-up steps); planned %d "
        "steps (%s), %.1f s reserved for sample grids, checkpoints, the final result and a margin; "
        "%.1f s spent so far", plan.budget_minutes, plan.seconds_per_step, meter.steps,
        meter.warmup_steps, plan.total_steps, plan.epochs_text(), plan.reserve_seconds,
        plan.planned_at_seconds,
    )  # fmt: skip
    epoch_seconds = plan.steps_per_epoch * plan.seconds_per_step
    if plan.total_steps <= plan.planned_at_step:
        logger.warning(
            "The time budget of %g min is used up by the warm-up and the speed measurement (%d "
            "steps, %.1f s): training stops there, before the learning rate decays. One epoch (%d "
            "steps) takes about %.1f s at this speed.", plan.budget_minutes, plan.total_steps,
            plan.planned_at_seconds, plan.steps_per_epoch, epoch_seconds,
        )  # fmt: skip
    elif plan.total_steps < plan.steps_per_epoch:
        logger.warning(
            "The time budget of %g min fits %d steps, less than one epoch (%d steps, about %.1f s "
            "at this speed): training those, the learning rate decaying over them.",
            plan.budget_minutes, plan.total_steps, plan.steps_per_epoch, epoch_seconds,
        )  # fmt: skip


def note_resumed(plan: TrainingPlan, step: int, spent_seconds: float) -> None:
    """Resuming a plan: what is left of the budget and what the plan's steps still need."""
    left = plan.budget_minutes * 60.0 - spent_seconds
    needed = (plan.total_steps - step) * plan.seconds_per_step
    logger.info(
        "Resuming the time-budget plan at step %d of %d: %.1f s of the %g min budget spent, %.1f s "
        "left; the steps to go take about %.1f s at the planned %.4g s/step", step,
        plan.total_steps, spent_seconds, plan.budget_minutes, left, needed, plan.seconds_per_step,
    )  # fmt: skip
    if needed > left:
        logger.warning(
            "The rest of the plan (%d steps, about %.1f s) no longer fits in the %.1f s of budget "
            "left: the plan is kept, so the learning rate still decays to its end at step %d, and "
            "the run ends after its budget.", plan.total_steps - step, needed, left,
            plan.total_steps,
        )  # fmt: skip
