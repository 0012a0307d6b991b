"""The fastest way to run a served generator here that still answers as its fp32 export.

Paths (:data:`EXPORT_FP32`, :data:`ONNXRUNTIME_FP32`, :data:`EXPORT_BF16`):

* ``export-fp32``: the export as packaged (a ``torch.export`` program; TorchScript for models
  packaged before it: :func:`img2img.inference.model.load_export`); the reference every other path
  is checked against, and the only path on a device other than the CPU.
* ``onnxruntime-fp32``: the ONNX export on ONNX Runtime's CPU execution provider, where one is at
  hand (``generator.onnx`` beside a ``generator.pt2`` file, the ``generator_onnx`` artifact of a
  registered model).
* ``export-bf16``: the export under bf16 autocast, only on a CPU with native bf16 units
  (:func:`~img2img.gan.runtime.cpu_bf16_units`; elsewhere bf16 is emulated and slow).

**Parity** (:func:`select_path`): every path runs the probe batch (:func:`probe_batch`: a noise
image and a smooth gradient, one size multiple square) and is compared with the reference's output.
An fp32 path must stay within packaging's export tolerance (:data:`FP32_CRITERION`: max |float
difference| <= ``PARITY_TOLERANCE``, which after quantisation is at most 1 uint8 level). bf16 cannot
meet a float tolerance of 1e-4; it is held to :data:`BF16_CRITERION` on the uint8 output a caller
gets: no value more than 4 levels off and at least 99 % of values within 1 level. A path that
fails its criterion, or raises, is never chosen.

**Speed**: a static rule, :data:`RELATIVE_COST` (seconds per image relative to
``export-fp32``, for forward passes of fewer and of at least :data:`LARGE_PASS_PIXELS` pixels),
from ``benchmarks/translate_speed.py``; among the paths that pass parity the cheapest is chosen for
each size of pass (the reference on ties), and :class:`BySize` switches between the two where they
differ: bf16 (AMX) pays off on large passes only, ONNX Runtime is ahead on small ones. No timing at
load time: on a busy 2-core machine a probe of a second or two measures the neighbours more than
the paths. ``IMG2IMG_INFERENCE_PATH`` (:data:`PATH_ENV`) pins one path for ``img2img translate``, the
inference pipeline and the served model alike (``export-fp32``: the export's own output).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from img2img.gan.runtime import cpu_bf16_units, cpu_capability
from img2img.gan.translation import quantize_to_uint8, to_model_input
from img2img.packaging.config import PARITY_TOLERANCE

logger = logging.getLogger(__name__)

EXPORT_FP32, ONNXRUNTIME_FP32, EXPORT_BF16 = (
    "export-fp32",
    "onnxruntime-fp32",
    "export-bf16",
)
REFERENCE = EXPORT_FP32
PATHS = (EXPORT_FP32, ONNXRUNTIME_FP32, EXPORT_BF16)
#: Names one path to use instead of the fastest; it must still pass parity, else the reference
#: runs.
PATH_ENV = "IMG2IMG_INFERENCE_PATH"
#: N×H×W of one forward pass from which the ``large`` costs apply (2 images of 256², 8 of 128²).
LARGE_PASS_PIXELS = 2 * 256 * 256


@dataclass(frozen=True)
class Costs:
    """Seconds per image of each path (any unit; a path not listed counts as infinitely slow), for
    forward passes of fewer (``small``) and of at least (``large``) :data:`LARGE_PASS_PIXELS`
    pixels."""

    small: Mapping[str, float]
    large: Mapping[str, float]


#: By CPU kind (:func:`cpu_kind`), relative to export-fp32; from benchmarks/translate_speed.py
#: (conf/base generator: 128, 256 and 512 px, batches 1-8) on the Intel Xeon with AVX-512 +
#: AMX-BF16 + AVX512-BF16, 1 thread, measured against the TorchScript export (the other core
#: busy). Passes of up to 65k pixels: onnxruntime-fp32 1.26-1.74x faster, bf16 0.68-1.19x; from
#: 131k pixels: onnxruntime-fp32 1.23-1.67x, bf16 1.42-2.70x. Measured again against the
#: torch.export program (quiet machine, 5 rounds): onnxruntime-fp32 0.62 (small) and 0.67 (large),
#: export-bf16 1.05 and 0.44 — the same choices. The AVX2-only row repeats the fp32 figures: not
#: measured on an AVX2 CPU yet (run the benchmark there and correct it; :data:`PATH_ENV` pins a
#: path meanwhile).
RELATIVE_COST: Mapping[str, Costs] = {
    "bf16-units": Costs(
        small={EXPORT_FP32: 1.0, ONNXRUNTIME_FP32: 0.66, EXPORT_BF16: 1.1},
        large={EXPORT_FP32: 1.0, ONNXRUNTIME_FP32: 0.7, EXPORT_BF16: 0.45},
    ),
    "no-bf16-units": Costs(
        small={EXPORT_FP32: 1.0, ONNXRUNTIME_FP32: 0.66},
        large={EXPORT_FP32: 1.0, ONNXRUNTIME_FP32: 0.7},
    ),
}


@dataclass(frozen=True)
class Parity:
    """How far one path's output is from the reference's on the same input."""

    max_abs_float: float  # max |difference| of the float outputs in [-1, 1]
    max_levels: int  # max |difference| of the uint8 outputs
    within_one_level: float  # fraction of uint8 output values at most 1 level off

    @classmethod
    def between(cls, output: torch.Tensor, reference: torch.Tensor) -> Parity:
        levels = (quantize_to_uint8(output).int() - quantize_to_uint8(reference).int()).abs()
        return cls(
            max_abs_float=float((output.float() - reference.float()).abs().max()),
            max_levels=int(levels.max()),
            within_one_level=int((levels <= 1).sum()) / levels.numel(),
        )

    def describe(self) -> str:
        return (
            f"max |diff| {self.max_abs_float:.2g} ({self.max_levels} levels), "
            f"{self.within_one_level:.2%} within 1 level"
        )


@dataclass(frozen=True)
class ParityCriterion:
    """The largest differences from the reference a path may show to be chosen."""

    max_abs_float: float = math.inf
    max_levels: int = 255
    min_within_one_level: float = 0.0

    def admits(self, parity: Parity) -> bool:
        return (
            parity.max_abs_float <= self.max_abs_float
            and parity.max_levels <= self.max_levels
            and parity.within_one_level >= self.min_within_one_level
        )

    def describe(self) -> str:
        limits = []
        if self.max_abs_float < math.inf:
            limits.append(f"max |diff| {self.max_abs_float:g}")
        if self.max_levels < 255:
            limits.append(f"max {self.max_levels} levels")
        if self.min_within_one_level > 0:
            limits.append(f">= {self.min_within_one_level:.0%} within 1 level")
        return ", ".join(limits) or "any output"


FP32_CRITERION = ParityCriterion(max_abs_float=PARITY_TOLERANCE)
BF16_CRITERION = ParityCriterion(max_levels=4, min_within_one_level=0.99)


@dataclass(frozen=True)
class InferencePath:
    """One way to run the generator: a module taking float N×3×H×W in [-1, 1], as the export."""

    name: str
    model: nn.Module
    criterion: ParityCriterion


@dataclass(frozen=True)
class PathCheck:
    """A candidate's parity on the probe; ``problem`` says why it cannot be chosen (None: it can)."""

    name: str
    parity: Parity | None
    problem: str | None

    def describe(self) -> str:
        if self.problem is None:
            return f"{self.name} passes ({self.parity.describe() if self.parity else ''})"
        return f"{self.name} not eligible: {self.problem}"


@dataclass(frozen=True)
class Selection:
    """The path for small and for large forward passes (the same one, or two), and the checks."""

    small: InferencePath
    large: InferencePath
    checks: tuple[PathCheck, ...]

    def module(self) -> nn.Module:
        """What to run: the one path, or :class:`BySize` switching between the two."""
        if self.small is self.large:
            return self.small.model
        return BySize(self.small.model, self.large.model)

    def describe(self) -> str:
        chosen = self.small.name
        if self.small is not self.large:
            chosen += f" below {LARGE_PASS_PIXELS:,} pixels per pass, {self.large.name} from there"
        others = "; ".join(check.describe() for check in self.checks) or "no other path here"
        return f"{chosen}; parity vs {REFERENCE}: {others}"


class BySize(nn.Module):
    """``small`` on forward passes of fewer than ``pixels`` pixels (N×H×W), ``large`` on others."""

    def __init__(self, small: nn.Module, large: nn.Module, pixels: int = LARGE_PASS_PIXELS) -> None:
        super().__init__()
        self.small, self.large, self.pixels = small, large, pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count, _, height, width = x.shape
        return (self.large if count * height * width >= self.pixels else self.small)(x)


class OnnxRuntimeModule(nn.Module):
    """An ONNX export on ONNX Runtime, called as the torch module is (output on the CPU). The
    session opens on the first call (a model that ONNX Runtime cannot open fails the parity probe,
    not the load) with torch's thread count, so both runtimes use the same cores. ``providers``:
    ONNX Runtime's execution providers in order of preference (the served path uses the CPU's;
    ``CUDAExecutionProvider`` needs the onnxruntime-gpu package, see ``tests/gpu``)."""

    def __init__(
        self,
        onnx_model: bytes | str,
        threads: int | None = None,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        super().__init__()
        self.onnx_model = onnx_model
        self.threads = threads
        self.providers = tuple(providers)
        self.session: Any = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads or torch.get_num_threads()
            options.log_severity_level = 3  # errors only
            self.session = onnxruntime.InferenceSession(
                self.onnx_model, options, providers=list(self.providers)
            )
        name = self.session.get_inputs()[0].name
        inputs = {name: x.detach().cpu().float().contiguous().numpy()}
        return torch.from_numpy(self.session.run(None, inputs)[0])


class Bf16Autocast(nn.Module):
    """``model`` under CPU bf16 autocast, its output back in fp32."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(x).float()


def cpu_kind() -> str:
    """The key of :data:`RELATIVE_COST` for this CPU."""
    return "bf16-units" if cpu_bf16_units() else "no-bf16-units"


def candidate_paths(
    export: nn.Module, onnx_model: bytes | str | None, device: str
) -> list[InferencePath]:
    """The paths this device can run, the reference (``export`` itself) first."""
    paths = [InferencePath(EXPORT_FP32, export, FP32_CRITERION)]
    if torch.device(device).type != "cpu":
        return paths
    if onnx_model is not None:
        paths.append(InferencePath(ONNXRUNTIME_FP32, OnnxRuntimeModule(onnx_model), FP32_CRITERION))
    if cpu_bf16_units():
        paths.append(InferencePath(EXPORT_BF16, Bf16Autocast(export), BF16_CRITERION))
    return paths


def probe_images(side: int, count: int = 2) -> np.ndarray:
    """``count`` side×side RGB uint8 images, alternately seeded uniform noise and a smooth colour
    gradient (bf16's rounding shows more on smooth images)."""
    noise = np.random.default_rng(0).integers(0, 256, (count, side, side, 3), dtype=np.uint8)
    rows, cols = np.mgrid[0:side, 0:side] * 255 // max(side - 1, 1)
    gradient = np.stack([cols, rows, (rows + cols) // 2], axis=-1).astype(np.uint8)
    noise[1::2] = gradient
    return noise


def probe_batch(size_multiple: int) -> torch.Tensor:
    """The probe every path runs: :func:`probe_images` one size multiple square, as model input."""
    images = torch.from_numpy(probe_images(size_multiple)).permute(0, 3, 1, 2)
    return to_model_input(images, torch.device("cpu"))


def select_path(
    candidates: Sequence[InferencePath], probe: torch.Tensor, costs: Costs
) -> Selection:
    """For small and for large passes, the cheapest candidate by ``costs`` among those whose
    output on ``probe`` meets their criterion against that of ``candidates[0]``, the reference
    (always eligible; chosen on ties)."""
    reference, *others = candidates
    if not others:
        return Selection(reference, reference, ())
    device = next(iter(reference.model.parameters()), probe).device
    with torch.no_grad():
        expected = reference.model(probe.to(device)).cpu()
    checks, eligible = [], [reference]
    for path in others:
        check = _check(path, probe, expected)
        checks.append(check)
        if check.problem is None:
            eligible.append(path)

    def cheapest(cost: Mapping[str, float]) -> InferencePath:
        return min(eligible, key=lambda path: cost.get(path.name, math.inf))

    return Selection(cheapest(costs.small), cheapest(costs.large), tuple(checks))


def _check(path: InferencePath, probe: torch.Tensor, expected: torch.Tensor) -> PathCheck:
    try:
        with torch.no_grad():
            parity = Parity.between(path.model(probe).cpu(), expected)
    except Exception as exc:  # a path that cannot run here is not a reason to fail the load
        return PathCheck(path.name, None, f"failed on the probe ({type(exc).__name__}: {exc})")
    if not path.criterion.admits(parity):
        return PathCheck(
            path.name, parity, f"{parity.describe()}; allowed: {path.criterion.describe()}"
        )
    return PathCheck(path.name, parity, None)


def onnx_beside(export: Path) -> Path | None:
    """The ONNX export packaging writes beside an export (``generator.pt2`` -> ``generator.onnx``;
    from older packaging ``generator.torchscript.pt`` -> ``generator.onnx``), if that file exists."""
    stem = export.name.removesuffix(".pt2").removesuffix(".pt").removesuffix(".torchscript")
    onnx_file = export.with_name(f"{stem}.onnx")
    return onnx_file if onnx_file.is_file() else None


def requested_path(environ: Mapping[str, str]) -> str | None:
    """The path :data:`PATH_ENV` names (None: unset or empty, the fastest); a ValueError for a
    name that is not one of :data:`PATHS`."""
    name = environ.get(PATH_ENV) or None
    if name is not None and name not in PATHS:
        raise ValueError(f"{PATH_ENV} must be one of {', '.join(PATHS)}, got {name!r}")
    return name


@contextlib.contextmanager
def pinned_path(name: str) -> Iterator[None]:
    """Models loaded inside the block run ``name`` (:data:`PATH_ENV` set for the block): the gate
    re-scores the champion on :data:`REFERENCE`, as the candidate is scored, not on bf16."""
    saved = os.environ.get(PATH_ENV)
    os.environ[PATH_ENV] = name
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(PATH_ENV, None)
        else:
            os.environ[PATH_ENV] = saved


def fastest_path(
    export: nn.Module, onnx_model: bytes | str | None, device: str, size_multiple: int
) -> Selection:
    """:func:`select_path` over :func:`candidate_paths` with this CPU's :data:`RELATIVE_COST`, or
    the one path :data:`PATH_ENV` asks for; the path chosen is logged (INFO)."""
    candidates = candidate_paths(export, onnx_model, device)
    costs = RELATIVE_COST[cpu_kind()]
    requested = requested_path(os.environ)
    if requested is not None:
        if requested not in {path.name for path in candidates}:
            logger.warning("%s=%s: not available here; running %s", PATH_ENV, requested, REFERENCE)
        candidates = [path for path in candidates if path.name in (REFERENCE, requested)]
        pinned = {requested: 0.0, REFERENCE: 1.0}
        costs = Costs(small=pinned, large=pinned)
    selection = select_path(candidates, probe_batch(size_multiple), costs)
    hardware = f"cpu ({cpu_capability()})" if torch.device(device).type == "cpu" else device
    note = f" ({PATH_ENV}={requested})" if requested else ""
    logger.info("Generator runs on %s as %s%s", hardware, selection.describe(), note)
    return selection
