"""Translate folders or files of new images with a packaged model (plain Python, no Kedro).

A model is an MLflow model URI (``models:/img2img-generator@champion``, ``runs:/<id>/generator_pyfunc``)
or an export file (``data/06_models/generator.pt2``; TorchScript files from older packaging too), loaded by
:func:`img2img.inference.model.load_translator`. Images of any size are accepted (padded to the
generator's size multiple and cropped back).

Nothing is lost:

* every output is ``<output>/<path relative to its input root>.png`` (a file given directly: its
  name); inputs whose outputs would share a name (``a.jpg`` and ``a.png``, or ``d1/x.png`` and
  ``d2/x.png`` given as ``d1 d2``) are all refused before anything is translated, and so is an
  output that would replace its own input; a file reached twice is translated once;
* unreadable inputs are reported and skipped, never abort the batch; an existing output is never
  overwritten unless asked; an output folder inside an input folder is not read as input.

Memory is bounded: inputs are decoded as they are translated, never all at once. At most
``batch_size`` decoded images are held (consecutive images of one shape form a batch), plus that
batch's stacked copy or its outputs, so the images in memory never exceed
``2 × batch_size × max_pixels × 3`` bytes (8-bit RGB; ``max_pixels`` is the per-image pixel limit);
the model's own working memory comes on top.
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from img2img.atomic import atomic_output
from img2img.inference.config import TRANSLATE_BATCH
from img2img.inference.model import Translator
from img2img.ingest.images import ImageLimits, ImageRejected, is_image_file, load_rgb

logger = logging.getLogger(__name__)

# How the pixel limit is named in :func:`load_rgb`'s reasons (the ingestion parameter).
PIXEL_LIMIT_KEY = "data_processing.validation.max_pixels"


@dataclass(frozen=True)
class Outcome:
    input: str
    output: str | None
    status: str  # translated | skipped | failed
    reason: str = ""


@dataclass(frozen=True)
class Job:
    """One input image and the output it is translated into."""

    input: Path
    output: Path


@dataclass(frozen=True)
class Plan:
    """What a run will do: ``jobs`` to translate, and ``outcomes`` already decided (missing inputs,
    name clashes, existing outputs)."""

    jobs: list[Job]
    outcomes: list[Outcome]


def collect_inputs(
    inputs: Iterable[str | Path], output_dir: Path | None = None
) -> tuple[list[tuple[Path, Path]], list[Outcome]]:
    """(file, path relative to its input root) for every image file; missing inputs and folders
    without an image are outcomes. Files under ``output_dir`` inside an input folder are left out."""
    found, problems = [], []
    for item in inputs:
        root = Path(item)
        if root.is_dir():
            images = [(p, p.relative_to(root)) for p in _images_under(root, output_dir)]
            if not images:
                problems.append(Outcome(str(root), None, "failed", "no image files in the folder"))
            found += images
        elif root.is_file():
            found.append((root, Path(root.name)))
        else:
            problems.append(Outcome(str(root), None, "failed", "no such file or folder"))
    return found, problems


def _images_under(root: Path, output_dir: Path | None) -> list[Path]:
    resolved_root = root.resolve()
    skip = output_dir.resolve() if output_dir is not None else None
    if skip is not None and (skip == resolved_root or resolved_root not in skip.parents):
        skip = None  # only an output folder strictly inside the input folder is left out
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file() and is_image_file(p) and (skip is None or skip not in p.resolve().parents)
    ]


def plan_outputs(files: Sequence[tuple[Path, Path]], output_dir: Path, overwrite: bool) -> Plan:
    """Name every file's output; refuse clashes and self-replacements, skip existing outputs."""
    by_output: dict[Path, list[Path]] = defaultdict(list)
    seen: set[Path] = set()
    for path, relative in files:
        if path.resolve() not in seen:  # the same file reached twice is translated once
            seen.add(path.resolve())
            by_output[(output_dir / relative).with_suffix(".png")].append(path)
    jobs, outcomes = [], []
    for target, paths in by_output.items():
        if len(paths) > 1:
            names = ", ".join(str(p) for p in paths)
            reason = f"output name clash: {names} would all be written to {target}; rename them"
            outcomes += [Outcome(str(p), None, "failed", reason) for p in paths]
        elif target.resolve() == paths[0].resolve():
            reason = "the output would replace the input itself; choose another output folder"
            outcomes.append(Outcome(str(paths[0]), None, "failed", reason))
        elif target.exists() and not overwrite:
            reason = "output exists (use --overwrite)"
            outcomes.append(Outcome(str(paths[0]), str(target), "skipped", reason))
        else:
            jobs.append(Job(paths[0], target))
    return Plan(jobs, outcomes)


class _Run:
    """Decodes jobs one by one and translates them batch by batch (see the module's memory bound)."""

    def __init__(self, translator: Translator, batch_size: int, progress_total: int | None) -> None:
        """``progress_total``: the number of jobs, to show a progress bar; None: no bar."""
        self.translator = translator
        self.batch_size = batch_size
        self.outcomes: list[Outcome] = []
        self.pending: list[tuple[Job, np.ndarray]] = []
        self.bar = None
        if progress_total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=progress_total, unit="img")

    def add(self, job: Job, image: np.ndarray) -> None:
        if self.pending and self.pending[0][1].shape != image.shape:
            self.flush()
        self.pending.append((job, image))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def fail(self, job: Job, reason: str) -> None:
        self.outcomes.append(Outcome(str(job.input), None, "failed", reason))
        if self.bar is not None:
            self.bar.update(1)

    def flush(self) -> None:
        if not self.pending:
            return
        jobs = [job for job, _ in self.pending]
        stacked = np.stack([image for _, image in self.pending])
        self.pending.clear()  # the decoded images are freed; only the stacked copy remains
        translated = self.translator(stacked)
        del stacked
        for job, result in zip(jobs, translated, strict=True):
            self.outcomes.append(_write(job, result))
        if self.bar is not None:
            self.bar.update(len(jobs))

    def close(self) -> None:
        self.flush()
        if self.bar is not None:
            self.bar.close()


def _write(job: Job, result: np.ndarray) -> Outcome:
    try:
        with atomic_output(job.output) as handle:
            Image.fromarray(result).save(handle, format="PNG")
    except OSError as exc:
        return Outcome(str(job.input), None, "failed", f"cannot write {job.output}: {exc}")
    return Outcome(str(job.input), str(job.output), "translated")


def translate_files(
    inputs: Sequence[str | Path],
    translator: Translator,
    output_dir: Path,
    *,
    overwrite: bool = False,
    limits: ImageLimits | None = None,
    batch_size: int = TRANSLATE_BATCH,
    progress: bool | None = None,
    pixel_limit_name: str = PIXEL_LIMIT_KEY,
) -> list[Outcome]:
    """Translate every image under ``inputs`` into ``output_dir`` (same relative names, PNG).

    ``limits`` default to ingestion's (:class:`ImageLimits`, any size from 1 pixel); a reason that
    names the pixel limit calls it ``pixel_limit_name`` (e.g. a command-line option)."""
    limits = limits or ImageLimits(min_size=1)
    output_dir = Path(output_dir)
    files, problems = collect_inputs(inputs, output_dir)
    plan = plan_outputs(files, output_dir, overwrite)
    show = sys.stderr.isatty() if progress is None else progress
    run = _Run(translator, batch_size, len(plan.jobs) if show else None)
    for job in plan.jobs:
        try:
            image = load_rgb(job.input, limits)
        except ImageRejected as exc:
            run.fail(job, exc.reason.replace(PIXEL_LIMIT_KEY, pixel_limit_name))
            continue
        run.add(job, image)
        del image
    run.close()
    outcomes = problems + plan.outcomes + run.outcomes
    for outcome in outcomes:
        if outcome.status != "translated":
            logger.warning("%s: %s (%s)", outcome.input, outcome.status, outcome.reason)
    return outcomes
