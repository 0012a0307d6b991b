"""Learning-rate policies as multiplicative factors (for ``LambdaLR``), per epoch or per step.

A run of ``epochs`` + ``epochs_decay`` epochs steps its schedule once per epoch (:func:`lr_factor`).
A time-budgeted run (``training.time_budget_minutes``, :mod:`img2img.gan.plan`) lays the same policy
over the optimisation steps its plan fits in the budget (:func:`lr_factor_per_step`): the recipe's
epochs become equal shares of those steps, so ``epochs`` : ``epochs_decay`` stays the proportion of
the constant and the decay phase, and the last step ends the decay as the last epoch does. A plan
revised during the run (the machine's speed changed) keeps its schedule up to the revision and
stretches or squeezes the rest of it over the new number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from img2img.gan.config import TrainConfig


def lr_factor(config: TrainConfig) -> Callable[[int], float]:
    """Factor applied to the initial lr at 0-based ``epoch``.

    * linear (pix2pix): 1 for ``epochs`` epochs, then linear decay to 0 over ``epochs_decay``:
      ``1 - max(0, epoch + 1 - epochs) / (epochs_decay + 1)``.
    * cosine: half a cosine from 1 to 0 over all epochs.
    * step: multiplied by ``gamma`` every ``step_epochs`` epochs.
    """
    return _laid_over(config, config.total_epochs)


def lr_factor_per_step(
    config: TrainConfig, total_steps: int, revisions: Sequence[tuple[int, int]] = ()
) -> Callable[[int], float]:
    """Factor applied to the initial lr at 0-based optimisation ``step`` of a run planned for
    ``total_steps`` steps: :func:`lr_factor`'s policy with each recipe epoch worth
    ``total_steps / total_epochs`` steps.

    ``revisions``: ``(steps done, total steps before)`` for each time the plan changed its total
    (:func:`img2img.gan.plan.revise_plan`); the policy is laid over the first plan's total, and
    after each revision the steps to the new total map linearly onto the rest of the schedule
    before it (continuous at the revision, the last step on the last step).

    * linear: 1 for ``round(total_steps * epochs / total_epochs)`` steps, then pix2pix's decay over
      the other ``d`` steps (the last step at ``1 / (d + 1)``).
    * cosine: half a cosine from 1 to 0 over ``total_steps``.
    * step: multiplied by ``gamma`` every ``step_epochs / total_epochs`` of the steps.
    """
    if total_steps < 1:
        raise ValueError(f"a plan has at least one step, got {total_steps}")
    if not revisions:
        return _laid_over(config, total_steps)
    factor = _laid_over(config, revisions[0][1])
    afters = [before for _, before in revisions[1:]] + [total_steps]
    spans = [(at, before, after) for (at, before), after in zip(revisions, afters, strict=True)]

    def revised(step: int) -> float:
        unit = float(step)
        for at, before, after in reversed(spans):  # back to the first plan's steps
            if unit >= at:
                unit = _stretched(unit, at, before, after)
        return factor(unit)

    return revised


def _stretched(step: float, at: int, before: int, after: int) -> float:
    """``step`` (from ``at``) of a plan revised at step ``at`` from ``before`` to ``after`` total
    steps, as a step of the plan before: ``at`` stays, ``after - 1`` becomes ``before - 1``."""
    if after - 1 <= at:
        return float(before - 1)
    return at + (step - at) * (before - 1 - at) / (after - 1 - at)


def _laid_over(config: TrainConfig, units: int) -> Callable[[float], float]:
    """The policy over ``units`` (epochs or steps), ``units / total_epochs`` of them per epoch."""
    policy, epochs = config.lr_policy, config.total_epochs
    if policy.name == "linear":
        constant = round(config.epochs * units / epochs)  # exactly ``epochs`` when units == epochs
        decay = units - constant
        return lambda unit: 1.0 - max(0, unit + 1 - constant) / float(decay + 1)
    if policy.name == "cosine":
        return lambda unit: 0.5 * (1.0 + math.cos(math.pi * min(unit, units) / units))
    if policy.name == "step":
        every = policy.step_epochs * units  # integers: exactly unit // step_epochs over epochs
        return lambda unit: policy.gamma ** ((unit * epochs) // every)
    raise ValueError(f"unknown lr policy {policy.name!r}")
