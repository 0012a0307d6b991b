"""training.time_budget_minutes: the plan (measured speed, steps that fit, reserve), the per-step LR
schedule laid over it, partial last epochs, resume keeping the plan; epoch mode unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import time

import pytest
import torch

from img2img.config import ParameterError
from img2img.gan import loop as engine_module
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.checkpoint import LAST, TrainingIdentity, load_checkpoint, resumable_state
from img2img.gan.config import NON_RESULT_KEYS, TrainConfig
from img2img.gan.loop import TrainingInputs, train_gan_model
from img2img.gan.plan import (
    MARGIN_FRACTION,
    WARMUP_STEPS,
    EpochEndCosts,
    ThroughputMeter,
    TrainingPlan,
    announce,
    plan_steps,
    revise_plan,
)
from img2img.gan.progress import Progress
from img2img.gan.schedules import lr_factor, lr_factor_per_step
from tests.gan.test_loop import TINY, _raising_callback, pairs

BASE_LR = 2e-4
BUDGETED = {**TINY, "epochs": 1, "epochs_decay": 1, "ema": {"enabled": True, "decay": 0.9}}


class LearningRates:
    """Callbacks recording the learning rate of every step (``step`` is 1-based)."""

    def __init__(self) -> None:
        self.by_step: dict[int, float] = {}

    def on_step(self, step, metrics):
        self.by_step[step] = metrics["lr"]

    def on_epoch_end(self, epoch, metrics, grid):
        pass


def assert_schedule(config: TrainConfig, plan: TrainingPlan, rates: dict[int, float]) -> None:
    """Every recorded step ran at the plan's learning rate: 1 before the plan, then the policy
    (revised, when the plan was)."""
    factor = lr_factor_per_step(config, plan.total_steps, plan.revisions)
    for step, lr in rates.items():
        expected = 1.0 if step <= plan.planned_at_step else factor(step - 1)
        assert lr == pytest.approx(BASE_LR * expected, rel=1e-9, abs=1e-15), step


def fully_decayed_lr(plan: TrainingPlan) -> float:
    """The linear policy's last rate over the first plan (1 : 1 recipe): 1 / (decay steps + 1)."""
    first = plan.first_total_steps
    return BASE_LR / (first - round(first / 2) + 1)


# --- end to end -------------------------------------------------------------------------------


def test_a_budgeted_run_ends_within_its_budget_fully_decayed_with_the_ema_saved(tmp_path, caplog):
    budget = 0.25  # minutes
    config = TrainConfig.from_params({**BUDGETED, "time_budget_minutes": budget})
    source, target = pairs(8)  # 4 steps per epoch
    rates = LearningRates()
    inputs = TrainingInputs(source, target, tmp_path, sample_source=source[:2],
                            sample_target=target[:2], callbacks=rates)  # fmt: skip
    with caplog.at_level("INFO", logger="img2img.gan.plan"):
        started = time.perf_counter()
        result = train_gan_model(config, inputs)
        wall = time.perf_counter() - started
    plan = result.plan
    print(f"budget {budget * 60:.1f} s, ran {wall:.2f} s ({wall / (budget * 60) - 1:+.1%}): {plan}")
    assert abs(wall - budget * 60) <= 0.1 * budget * 60, (wall, plan)
    assert "Time budget 0.25 min: measured" in caplog.text and "reserved for" in caplog.text
    # The planned steps ran, the last epoch partial when they end inside it.
    assert result.steps == plan.total_steps == sum(row["epoch_steps"] for row in result.history)
    assert result.epochs == plan.epochs == len(result.history) == result.generator.epochs
    assert result.history[-1]["epoch_steps"] == (plan.total_steps - 1) % 4 + 1
    assert sorted(rates.by_step) == list(range(1, plan.total_steps + 1))
    # The schedule is laid over exactly that plan and ends fully decayed (linear: 1 / (d + 1)).
    assert_schedule(config, plan, rates.by_step)
    assert rates.by_step[plan.total_steps] == pytest.approx(fully_decayed_lr(plan))
    assert rates.by_step[plan.total_steps] < 0.02 * BASE_LR
    assert result.history[-1]["lr"] == rates.by_step[plan.total_steps]
    # The final checkpoint, sample grid and EMA weights are there; the plan travels with them.
    state = load_checkpoint(tmp_path / LAST)
    assert state["step"] == plan.total_steps and state["plan"] == plan.to_dict()
    assert state["seconds_spent"] == pytest.approx(wall, abs=1.0)
    assert result.generator.ema and result.generator.plan == plan
    for name, weights in result.generator.state_dict.items():
        assert torch.equal(weights, state["ema"][name]), name
    assert max(result.sample_grids) == plan.epochs
    assert sorted(p.name for p in tmp_path.iterdir()) == [LAST]  # the timed probe save is gone


class Stop(Exception):
    pass


class StopHalfway(LearningRates):
    """Stops the run at an epoch end past half its plan, once a checkpoint holds the plan."""

    def __init__(self, checkpoint) -> None:
        super().__init__()
        self.checkpoint = checkpoint

    def on_epoch_end(self, epoch, metrics, grid):
        state = load_checkpoint(self.checkpoint)
        if state and state["plan"] and metrics["step"] >= state["plan"]["total_steps"] // 2:
            raise Stop


def test_a_resumed_budgeted_run_keeps_its_plan_and_continues_its_schedule(
    tmp_path, caplog, monkeypatch
):
    budget = 0.15
    config = TrainConfig.from_params(
        {**BUDGETED, "time_budget_minutes": budget, "checkpoint_every_epochs": 1}
    )
    source, target = pairs(8)
    interrupted = StopHalfway(tmp_path / LAST)
    with monkeypatch.context() as patch, pytest.raises(Stop):
        patch.setattr(engine_module, "_safe_callback", _raising_callback)  # let the Stop through
        train_gan_model(config, TrainingInputs(source, target, tmp_path, callbacks=interrupted))
    state = load_checkpoint(tmp_path / LAST)
    plan, done = TrainingPlan.from_dict(state["plan"]), state["step"]
    assert plan.planned_at_step < done < plan.total_steps and state["seconds_spent"] > 0
    resumed_rates = LearningRates()
    with caplog.at_level("INFO", logger="img2img.gan.plan"):
        started = time.perf_counter()
        resumed = train_gan_model(config, TrainingInputs(source, target, tmp_path, callbacks=resumed_rates))  # fmt: skip
        wall = time.perf_counter() - started
    assert f"Resuming the time-budget plan at step {done} of {plan.total_steps}" in caplog.text
    assert "Time budget" not in caplog.text  # not measured and planned again
    # The same plan (revised only if the resumed speed missed it); the resumed steps continue the
    # interrupted schedule to its last step, fully decayed.
    final = resumed.plan
    kept = ("budget_minutes", "steps_per_epoch", "planned_at_step", "planned_at_seconds", "costs")
    assert all(getattr(final, name) == getattr(plan, name) for name in kept)
    assert final.revisions[: len(plan.revisions)] == plan.revisions
    assert (
        final.revisions[len(plan.revisions) :] == ()
        or final.revisions[len(plan.revisions)][0] > done
    )
    assert resumed.steps == final.total_steps
    assert sorted(resumed_rates.by_step) == list(range(done + 1, final.total_steps + 1))
    before = {step: lr for step, lr in interrupted.by_step.items() if step <= done}
    assert_schedule(config, final, before)
    assert_schedule(config, final, resumed_rates.by_step)
    assert resumed_rates.by_step[final.total_steps] == pytest.approx(fully_decayed_lr(final))
    assert [row["epoch"] for row in resumed.history] == list(range(1, final.epochs + 1))
    spent = state["seconds_spent"] + wall
    print(f"budget {budget * 60:.1f} s: {state['seconds_spent']:.2f} s to the checkpoint + {wall:.2f} s resumed = {spent:.2f} s")  # fmt: skip
    assert wall < 0.8 * budget * 60  # the budget spent before the interruption counts


class ChangingSpeed(LearningRates):
    """Callbacks that make steps slower (they run between the timed steps): by as long as a step
    takes once ``slow_from`` seconds have passed, or by ``seconds`` until ``slow_until``."""

    def __init__(
        self, *, slow_from: float = math.inf, slow_until: float = 0.0, seconds: float = 0.0
    ):
        super().__init__()
        self.slow_from, self.slow_until, self.seconds = slow_from, slow_until, seconds
        self.started = self.last = time.perf_counter()
        self.intervals: list[float] = []

    def on_step(self, step, metrics):
        super().on_step(step, metrics)
        now = time.perf_counter()
        self.intervals.append(now - self.last)
        if now - self.started >= self.slow_from:  # a step's time again: half the speed
            time.sleep(sorted(self.intervals)[len(self.intervals) // 4])
        elif now - self.started < self.slow_until:
            time.sleep(self.seconds)
        self.last = time.perf_counter()


def budgeted_run(tmp_path, budget: float, callbacks: ChangingSpeed):
    config = TrainConfig.from_params({**BUDGETED, "time_budget_minutes": budget})
    inputs = TrainingInputs(*pairs(8), tmp_path, callbacks=callbacks)
    started = time.perf_counter()
    result = train_gan_model(config, inputs)
    wall = time.perf_counter() - started
    print(f"budget {budget * 60:.1f} s, ran {wall:.2f} s ({wall / (budget * 60) - 1:+.1%}): {result.plan.describe()}")  # fmt: skip
    return config, result, wall


def assert_ends_fully_decayed_without_jumps(
    config, result, rates: dict[int, float], folder
) -> None:
    plan = result.plan
    assert result.steps == plan.total_steps == max(rates)
    assert_schedule(config, plan, rates)
    lrs = [rates[step] for step in sorted(rates)]
    assert all(
        later <= earlier * (1 + 1e-9) for earlier, later in itertools.pairwise(lrs)
    )  # never up
    assert lrs[-1] == pytest.approx(fully_decayed_lr(plan))
    assert (
        load_checkpoint(folder / LAST)["plan"] == plan.to_dict()
    )  # a resume keeps the revised plan


def test_a_run_that_slows_down_replans_and_still_ends_within_its_budget(tmp_path, caplog):
    budget = 0.15  # minutes: the plan at ~1.5 s, half the speed from 3 s on
    rates = ChangingSpeed(slow_from=3.0)
    with caplog.at_level("INFO", logger="img2img.gan.plan"):
        config, result, wall = budgeted_run(tmp_path, budget, rates)
    plan = result.plan
    assert abs(wall - budget * 60) <= 0.1 * budget * 60, plan
    assert plan.revisions and plan.total_steps < plan.first_total_steps  # fewer steps than planned
    assert "Re-planning the time budget at step" in caplog.text
    assert f"re-planned {len(plan.revisions)} time" in plan.describe()
    assert_ends_fully_decayed_without_jumps(config, result, rates.by_step, tmp_path)


def test_a_run_that_speeds_up_after_planning_uses_its_budget(tmp_path):
    budget = 0.15  # minutes: 20 ms longer steps while the speed is measured, then full speed
    rates = ChangingSpeed(slow_until=2.5, seconds=0.02)
    config, result, wall = budgeted_run(tmp_path, budget, rates)
    plan = result.plan
    assert abs(wall - budget * 60) <= 0.1 * budget * 60, plan
    assert plan.revisions and plan.total_steps > plan.first_total_steps
    assert_ends_fully_decayed_without_jumps(config, result, rates.by_step, tmp_path)


def test_a_budget_used_up_before_planning_trains_no_further_and_says_so(tmp_path, caplog):
    config = TrainConfig.from_params({**BUDGETED, "time_budget_minutes": 0.001})  # 60 ms
    source, target = pairs(8)
    with caplog.at_level("WARNING", logger="img2img.gan.plan"):
        result = train_gan_model(config, TrainingInputs(source, target, tmp_path, source, target))
    assert "is used up by the warm-up and the speed measurement" in caplog.text
    steps = result.plan.planned_at_step  # planned at once: less than a quarter of the budget left
    assert result.steps == result.plan.total_steps == steps <= WARMUP_STEPS < 4
    assert result.epochs == 1 and result.history[-1]["epoch_steps"] == steps  # a partial epoch
    assert sorted(result.sample_grids) == [1] and load_checkpoint(tmp_path / LAST)["step"] == steps


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"name": "linear"}, [1.0, 1.0, 2 / 3, 1 / 3]),
        ({"name": "cosine"}, [0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]),
        ({"name": "step", "step_epochs": 1, "gamma": 0.5}, [1.0, 0.5, 0.25, 0.125]),
    ],
)
def test_epoch_mode_keeps_one_learning_rate_per_epoch(tmp_path, policy, expected):
    config = TrainConfig.from_params({**TINY, "epochs": 2, "epochs_decay": 2, "lr_policy": policy})
    rates = LearningRates()
    result = train_gan_model(config, TrainingInputs(*pairs(4), tmp_path, callbacks=rates))
    assert [row["lr"] for row in result.history] == pytest.approx([BASE_LR * e for e in expected])
    assert [rates.by_step[s] for s in range(1, 9)] == [row["lr"] for row in result.history for _ in range(2)]  # fmt: skip
    assert result.plan is None and load_checkpoint(tmp_path / LAST)["plan"] is None
    assert result.steps == 8 and result.epochs == 4


# --- the plan ---------------------------------------------------------------------------------


def brute_force_total(budget_s, spent, done, per_epoch, per_step, costs: EpochEndCosts) -> int:
    """The most steps whose cost fits, every epoch end counted one by one."""

    def cost(total: int) -> float:
        first, last = max(1, math.ceil(done / per_epoch)), math.ceil(total / per_epoch)
        ends = range(first, last + 1)
        grids = sum(1 for n in ends if n % costs.sample_every_epochs == 0 or n == last)
        saves = sum(1 for n in ends if n % costs.checkpoint_every_epochs == 0 or n == last)
        return ((total - done) * per_step + grids * costs.sample_grid_seconds
                + (saves + 1) * costs.checkpoint_seconds + MARGIN_FRACTION * budget_s)  # fmt: skip

    total = done
    while cost(total + 1) <= budget_s - spent:
        total += 1
    return total


@pytest.mark.parametrize("done", [20, 23, 30])
def test_the_plan_is_the_most_steps_whose_steps_and_epoch_ends_fit(done):
    costs = EpochEndCosts(0.5, 1.0, sample_every_epochs=2, checkpoint_every_epochs=5)
    plan = plan_steps(budget_minutes=1.0, spent_seconds=10.01, steps_done=done, steps_per_epoch=10,
                      seconds_per_step=0.0931, costs=costs)  # fmt: skip
    assert plan.total_steps == brute_force_total(60.0, 10.01, done, 10, 0.0931, costs)
    steps_seconds = (plan.total_steps - done) * 0.0931
    assert steps_seconds + plan.reserve_seconds <= 60 - 10.01 < steps_seconds + plan.reserve_seconds + 1.6  # fmt: skip
    assert plan.reserve_seconds > MARGIN_FRACTION * 60 + costs.checkpoint_seconds
    assert (plan.planned_at_step, plan.planned_at_seconds, plan.steps_per_epoch) == (
        done,
        10.01,
        10,
    )


COSTS = EpochEndCosts(0.5, 1.0, sample_every_epochs=2, checkpoint_every_epochs=5)


def first_plan(seconds_per_step: float = 0.1) -> TrainingPlan:
    return plan_steps(budget_minutes=1.0, spent_seconds=5.0, steps_done=20, steps_per_epoch=10,
                      seconds_per_step=seconds_per_step, costs=COSTS)  # fmt: skip


def test_a_plan_on_pace_is_kept_and_one_that_misses_is_revised_to_fit(caplog):
    plan = (
        first_plan()
    )  # 367 steps from step 20 at 5.0 s: 150 steps, 7 grids and 3 saves make 26.5 s
    on_pace, late, early = (
        revise_plan(plan, spent_seconds=spent, steps_done=170, seconds_per_step=0.1)
        for spent in (26.5, 29.0, 24.0)  # a plan misses when 3 % (1.8 s) away from its end
    )
    assert on_pace is None and late.total_steps < plan.total_steps < early.total_steps
    with caplog.at_level("INFO", logger="img2img.gan.plan"):
        slower = revise_plan(plan, spent_seconds=26.5, steps_done=170, seconds_per_step=0.15)
        faster = revise_plan(plan, spent_seconds=26.5, steps_done=170, seconds_per_step=0.06)
    for revised, pace in ((slower, 0.15), (faster, 0.06)):
        fresh = plan_steps(budget_minutes=1.0, spent_seconds=26.5, steps_done=170, steps_per_epoch=10,
                           seconds_per_step=pace, costs=COSTS)  # fmt: skip
        assert revised.total_steps == fresh.total_steps and revised.seconds_per_step == pace
        assert revised.revisions == ((170, plan.total_steps),)
        assert revised.first_total_steps == plan.total_steps
        assert (revised.planned_at_step, revised.planned_at_seconds) == (
            20,
            5.0,
        )  # the first plan's
    assert slower.total_steps < plan.total_steps < faster.total_steps
    assert (
        "Re-planning the time budget at step 170: the speed is now 0.15 s/step (planned 0.1)"
        in caplog.text
    )
    again = revise_plan(slower, spent_seconds=40.0, steps_done=250, seconds_per_step=0.3)
    assert again.revisions == ((170, plan.total_steps), (250, slower.total_steps))
    spent = revise_plan(plan, spent_seconds=59.0, steps_done=170, seconds_per_step=0.1)
    assert spent.total_steps == 170  # the budget is gone: stop here
    assert TrainingPlan.from_dict(again.to_dict()) == again


def test_a_revision_near_the_end_spends_the_margin_rather_than_stop_before_the_decay(caplog):
    config = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 1})
    plan = first_plan()  # 367 steps; at step 360, 7 steps and their epoch ends cost 3.7 s + margin
    with caplog.at_level("INFO", logger="img2img.gan.plan"):
        squeezed = revise_plan(plan, spent_seconds=56.5, steps_done=360, seconds_per_step=0.1)
        spent = revise_plan(plan, spent_seconds=59.5, steps_done=360, seconds_per_step=0.1)
    # Ends at 60.2 s: late, and no step fits before the margin. The steps that fit in the budget
    # itself take the rest of the schedule, so the last one still ends the decay.
    assert 360 < squeezed.total_steps < plan.total_steps
    left = (squeezed.total_steps - 360) * 0.1 + squeezed.reserve_seconds - MARGIN_FRACTION * 60
    assert 56.5 + left <= 60.0
    factor = lr_factor_per_step(config, squeezed.total_steps, squeezed.revisions)
    assert factor(squeezed.total_steps - 1) == pytest.approx(lr_factor_per_step(config, 367)(366))
    assert "the rest of the schedule squeezed into the margin" in caplog.text
    assert spent.total_steps == 360  # not one step fits in the budget: stop, and say so
    assert "the budget is spent, training stops here" in caplog.text


def test_a_revised_schedule_continues_at_the_revision_and_ends_the_decay_on_the_last_step():
    config = TrainConfig.from_params({**TINY, "epochs": 1, "epochs_decay": 1})
    first = lr_factor_per_step(config, 100)
    for total in (80, 160):  # fewer steps (slower), more steps (faster), revised at step 70
        factor = lr_factor_per_step(config, total, [(70, 100)])
        assert [factor(s) for s in range(71)] == [first(s) for s in range(71)]
        assert factor(total - 1) == pytest.approx(first(99)) == pytest.approx(1 / 51)
        values = [factor(s) for s in range(total)]
        assert all(b <= a for a, b in itertools.pairwise(values))
    # revised twice: from 100 to 120 steps at step 30 (still constant), then to 90 at step 60
    twice = lr_factor_per_step(config, 90, [(30, 100), (60, 120)])
    once = lr_factor_per_step(config, 120, [(30, 100)])
    assert [twice(s) for s in range(61)] == [once(s) for s in range(61)]
    assert twice(89) == pytest.approx(1 / 51)


def test_a_plan_saved_before_revisions_loads_and_is_never_revised():
    old = {k: v for k, v in first_plan().to_dict().items() if k not in ("costs", "revisions")}
    plan = TrainingPlan.from_dict(old)
    assert (
        plan.costs is None and plan.revisions == () and plan.first_total_steps == plan.total_steps
    )
    assert revise_plan(plan, spent_seconds=20.0, steps_done=170, seconds_per_step=1.0) is None


def test_budgets_too_small_train_what_fits_and_say_so(caplog):
    costs = EpochEndCosts(0.0, 0.1, 1, 1)
    spent = plan_steps(budget_minutes=1.0, spent_seconds=61.0, steps_done=8, steps_per_epoch=100,
                       seconds_per_step=0.1, costs=costs)  # fmt: skip
    short = plan_steps(budget_minutes=0.1, spent_seconds=1.0, steps_done=8, steps_per_epoch=1000,
                       seconds_per_step=0.01, costs=costs)  # fmt: skip
    assert spent.total_steps == 8 and 8 < short.total_steps < 1000
    with caplog.at_level("WARNING", logger="img2img.gan.plan"):
        announce(spent, ThroughputMeter(60.0))
        announce(short, ThroughputMeter(6.0))
    assert "used up by the warm-up and the speed measurement (8 steps" in caplog.text
    assert f"fits {short.total_steps} steps, less than one epoch (1000 steps" in caplog.text


def test_throughput_is_timed_after_the_warm_up_until_enough_is_timed():
    meter = ThroughputMeter(budget_seconds=5.0)  # wants 5 steps and 10 % of the budget timed
    for _ in range(3):
        meter.add(0.2)  # warm-up: slow, not timed
    for _ in range(4):
        meter.add(0.1)
    assert not meter.enough(spent_seconds=2.0)
    meter.add(0.1)
    assert meter.enough(spent_seconds=2.0) and meter.seconds_per_step == pytest.approx(0.1)
    slow = ThroughputMeter(budget_seconds=10.0)
    for _ in range(3):
        slow.add(1.0)  # the warm-up alone took over a quarter of the budget: plan with it
    assert slow.enough(spent_seconds=4.0) and slow.seconds_per_step == pytest.approx(1.0)
    late = ThroughputMeter(budget_seconds=10.0)
    late.add(0.1)
    assert late.enough(spent_seconds=8.0)  # started late (slow start-up): less than 25 % left


def test_the_plan_describes_itself_and_survives_the_artifact(tmp_path):
    plan = TrainingPlan(15.0, 1234, 100, 0.5, 42.0, 12, 8.5)
    assert plan.epochs == 13 and plan.partial_last_epoch
    assert plan.describe() == ("Trained for 1234 steps (13 epochs, the last one 34 of 100 steps) "
                               "planned for a budget of 15 minutes, measured 0.5 s/step")  # fmt: skip
    assert plan.tags()["plan.total_steps"] == "1234" and plan.tags()["plan"] == plan.describe()
    revised = dataclasses.replace(plan, total_steps=1100, revisions=((300, 1234),))
    assert revised.describe().endswith(
        "; re-planned 1 time as the speed changed (1234 -> 1100 steps)"
    )
    many = dataclasses.replace(
        plan, total_steps=900, revisions=tuple((100 * i, 1000 + i) for i in range(1, 9))
    )
    assert (
        "re-planned 8 times as the speed changed (1001 -> ... -> 1007 -> 1008 -> 900 steps)"
        in many.describe()
    )
    assert many.tags()["plan.revisions"] == "8"
    config = TrainConfig.from_params({**TINY, "time_budget_minutes": 15})
    from img2img.gan.networks import build_generator

    model = build_generator(config.generator_architecture())
    GeneratorArtifact(config.generator_architecture(), model.state_dict(), plan=plan).save(tmp_path / "g.pt")  # fmt: skip
    assert GeneratorArtifact.load(tmp_path / "g.pt").plan == plan


def test_progress_shows_unknown_totals_until_the_plan(caplog):
    progress = Progress(None, 0, interval=0.0, quiet=False)
    progress.bar = None  # plain log lines, as when not on a terminal
    with caplog.at_level("INFO", logger="img2img.gan.progress"):
        progress.update(0, None, 2, {})
        progress.set_total(10)
        progress.update(0, 5, 2, {})
    assert "epoch 1/? step 1/? " in caplog.text and "ETA ?" in caplog.text
    assert "epoch 1/5 step 2/10 " in caplog.text


# --- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy", [{"name": "linear"}, {"name": "cosine"}, {"name": "step", "step_epochs": 2}]
)
def test_a_schedule_over_as_many_steps_as_epochs_is_the_epoch_schedule(policy):
    config = TrainConfig.from_params({**TINY, "epochs": 3, "epochs_decay": 4, "lr_policy": policy})
    per_epoch, per_step = lr_factor(config), lr_factor_per_step(config, config.total_epochs)
    assert [per_step(e) for e in range(7)] == [per_epoch(e) for e in range(7)]


def test_schedules_laid_over_steps_keep_the_recipe_proportions():
    def factors(policy: dict, epochs: int, decay: int, steps: int) -> list[float]:
        config = TrainConfig.from_params({**TINY, "epochs": epochs, "epochs_decay": decay, "lr_policy": policy})  # fmt: skip
        factor = lr_factor_per_step(config, steps)
        return [factor(s) for s in range(steps)]

    # linear 1 : 3 over 8 steps: 2 constant steps, then pix2pix's decay over 6 (the last at 1/7)
    assert factors({"name": "linear"}, 1, 3, 8) == pytest.approx([1, 1, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7])  # fmt: skip
    cosine = factors({"name": "cosine"}, 1, 3, 8)
    assert cosine[0] == 1.0 and cosine[4] == pytest.approx(0.5) and cosine[7] < 0.04
    # step every 1 of 4 recipe epochs = every 2 of 8 steps
    step = {"name": "step", "step_epochs": 1, "gamma": 0.5}
    assert factors(step, 2, 2, 8) == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    with pytest.raises(ValueError, match="at least one step"):
        lr_factor_per_step(TrainConfig.from_params(TINY), 0)


# --- parameters, identity, resume -------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, "15", True])
def test_the_budget_is_null_or_a_positive_number(bad):
    with pytest.raises(ParameterError, match=r"training\.time_budget_minutes \(or null\) must be a number in \(0\.0, inf\]"):  # fmt: skip
        TrainConfig.from_params({**TINY, "time_budget_minutes": bad})
    assert TrainConfig.from_params({**TINY, "time_budget_minutes": 0.5}).budgeted
    assert not TrainConfig.from_params(TINY).budgeted


def test_the_budget_is_part_of_the_identity_and_recipe_only_when_set():
    unset = TrainConfig.from_params(TINY)
    values = {k: v for k, v in unset.to_dict().items() if k not in NON_RESULT_KEYS}
    del values["time_budget_minutes"]  # null: hashed as before the key existed
    assert unset.param_hash() == hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()  # fmt: skip
    hashes = {TrainConfig.from_params({**TINY, "time_budget_minutes": m}).param_hash() for m in (None, 15, 30)}  # fmt: skip
    recipes = {TrainConfig.from_params({**TINY, "time_budget_minutes": m}).recipe_hash() for m in (None, 15, 30)}  # fmt: skip
    assert len(hashes) == len(recipes) == 3


def test_a_warm_start_keeps_the_budget_with_its_own_schedule_shape():
    config = TrainConfig.from_params({**TINY, "time_budget_minutes": 5, "epochs": 9, "epochs_decay": 1,
                                      "warm_start": {"epochs": 1, "epochs_decay": 3}})  # fmt: skip
    warm = config.for_warm_start()
    assert warm.time_budget_minutes == 5
    factor = lr_factor_per_step(warm, 8)  # 1 : 3 of the planned steps, not 9 : 1
    assert [factor(s) for s in (1, 2, 7)] == pytest.approx([1.0, 6 / 7, 1 / 7])


def test_a_budgeted_checkpoint_is_finished_when_its_planned_steps_are_done(tmp_path, caplog):
    identity = TrainingIdentity("p", "d")
    plan = TrainingPlan(1.0, 10, 4, 0.1, 1.0, 5, 2.0).to_dict()
    base = {"identity": identity.to_dict(), "epoch": 1}
    for state, resumed in [({"step": 8, "plan": plan}, True), ({"step": 8, "plan": None}, True),
                           ({"step": 10, "plan": plan}, False)]:  # fmt: skip
        torch.save({**base, **state}, tmp_path / LAST)
        with caplog.at_level("WARNING"):
            assert (resumable_state(tmp_path / LAST, identity, None) is not None) == resumed
    assert "finished run (step 10 of 10 planned)" in caplog.text


@pytest.mark.slow
def test_data_parallel_processes_train_one_plan(tmp_path):
    """Each process measures, process 0 plans from the slowest speed and all train its steps: a
    process stopping at another step than the others would leave them waiting (timeout: 1 min)."""
    from img2img.gan.launcher import launch_training

    budget = 0.1
    config = TrainConfig.from_params({**BUDGETED, "time_budget_minutes": budget,
                                      "distributed": {"nproc_per_node": 2, "timeout_minutes": 1}})  # fmt: skip
    result = launch_training(config, TrainingInputs(*pairs(8), tmp_path))
    plan = result.plan
    assert result.environment["world_size"] == 2 and plan.steps_per_epoch == 2
    assert result.steps == plan.total_steps == result.history[-1]["step"] > plan.planned_at_step
    assert (
        result.epochs == plan.epochs and load_checkpoint(tmp_path / LAST)["plan"] == plan.to_dict()
    )
