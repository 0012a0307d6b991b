"""Training progress for people: a tqdm bar on a terminal, plain log lines otherwise (at most every
``interval`` seconds), and one line per finished epoch with losses, D outputs, speed and ETA."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


def _of(total: int | None) -> str:
    """A total for ``done/total``: ``?`` while unknown (a time-budgeted run before its plan)."""
    return "?" if total is None else str(total)


def duration(seconds: float) -> str:
    """``H:MM:SS``, or ``?`` for an unknown (infinite) time."""
    if not math.isfinite(seconds):
        return "?"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Steps done of ``total_steps`` (from ``start_step`` when resumed; None: not known yet, see
    :meth:`set_total`); silent when ``quiet`` (the processes other than process 0 of a distributed
    run)."""

    def __init__(
        self, total_steps: int | None, start_step: int, interval: float = 30.0, quiet: bool = False
    ) -> None:
        self.total, self.done, self.interval = total_steps, start_step, interval
        self.first_step, self.images = start_step, 0
        self.start = time.perf_counter()
        self.last_log = self.start
        self.bar = None
        self.quiet = quiet
        if sys.stderr.isatty() and not quiet:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def set_total(self, total_steps: int) -> None:
        """The total once known (a time-budgeted run's plan)."""
        self.total = total_steps
        if self.bar is not None:
            self.bar.total = total_steps
            self.bar.refresh()

    def update(
        self, epoch: int, total_epochs: int | None, batch_images: int, losses: Mapping[str, float]
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
            self.bar.set_description(f"epoch {epoch + 1}/{_of(total_epochs)}")
            self.bar.set_postfix(
                {**{k: f"{v:.3f}" for k, v in summary.items()}, "img/s": f"{rate:.1f}"}
            )
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last_log >= self.interval or self.done == self.total:
            self.last_log = now
            logger.info(
                "epoch %d/%s step %d/%s | %s | %.2f img/s | ETA %s",
                epoch + 1, _of(total_epochs), self.done, _of(self.total),
                " ".join(f"{k} {v:.3f}" for k, v in summary.items()), rate, self.eta(),
            )  # fmt: skip

    def epoch_end(self, row: Mapping[str, Any], total_epochs: int | None) -> None:
        """One log line per finished epoch (above the bar on a terminal)."""
        if self.quiet:
            return
        line = (
            f"epoch {row['epoch']}/{_of(total_epochs)} done in {row['seconds']:.1f} s | "
            f"G_GAN {row.get('loss_G_GAN', math.nan):.3f} G_L1 {row.get('loss_G_L1', math.nan):.3f} "
            f"D(real) {row.get('d_real_mean', math.nan):.2f} D(fake) "
            f"{row.get('d_fake_mean', math.nan):.2f} | {row['img_per_s']:.2f} img/s | lr "
            f"{row['lr']:.2e} | ETA {self.eta()}"
        )
        if row.get("nonfinite_steps"):
            line += f" | {row['nonfinite_steps']} non-finite steps skipped"
        if self.bar is not None:
            self.bar.write(line)
        else:
            logger.info(line)

    def eta(self) -> str:
        """Time left at this run's rate so far (steps done since it started or resumed)."""
        if self.total is None:
            return "?"
        elapsed = time.perf_counter() - self.start
        steps_per_s = (self.done - self.first_step) / elapsed if elapsed > 0 else 0.0
        return duration((self.total - self.done) / steps_per_s if steps_per_s > 0 else math.inf)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
