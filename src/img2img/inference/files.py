"""Translate folders or files of new images with a packaged model (plain Python, no Kedro).

A model is an MLflow model URI (``models:/img2img-generator@champion``, ``runs:/<id>/generator_pyfunc``)
or an exported TorchScript file (``data/06_models/generator.torchscript.pt``), loaded by
:func:`img2img.inference.model.load_translator`. Images of any size are accepted (padded to the generator's size multiple and cropped back); images of one size are batched.
Unreadable inputs are reported and skipped, never abort the batch, and an existing output is never
overwritten unless asked.
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
from img2img.inference.model import Translator
from img2img.ingest.images import ImageLimits, ImageRejected, is_image_file, load_rgb

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    input: str
    output: str | None
    status: str  # translated | skipped | failed
    reason: str = ""


def collect_inputs(inputs: Iterable[str | Path]) -> tuple[list[tuple[Path, Path]], list[Outcome]]:
    """(file, path relative to its input root) for every image file; missing inputs are outcomes."""
    found, problems = [], []
    for item in inputs:
        root = Path(item)
        if root.is_dir():
            found += [
                (p, p.relative_to(root))
                for p in sorted(root.rglob("*"))
                if p.is_file() and is_image_file(p)
            ]
        elif root.is_file():
            found.append((root, Path(root.name)))
        else:
            problems.append(Outcome(str(root), None, "failed", "no such file or folder"))
    return found, problems


def translate_files(
    inputs: Sequence[str | Path],
    translator: Translator,
    output_dir: Path,
    *,
    overwrite: bool = False,
    limits: ImageLimits | None = None,
    progress: bool | None = None,
) -> list[Outcome]:
    """Translate every image under ``inputs`` into ``output_dir`` (same relative names, PNG)."""
    limits = limits or ImageLimits(min_size=1, max_pixels=100_000_000)
    output_dir = Path(output_dir)
    files, outcomes = collect_inputs(inputs)
    by_shape: dict[tuple[int, ...], list[tuple[Path, Path, np.ndarray]]] = defaultdict(list)
    for path, relative in files:
        target = (output_dir / relative).with_suffix(".png")
        if target.exists() and not overwrite:
            outcomes.append(
                Outcome(str(path), str(target), "skipped", "output exists (use --overwrite)")
            )
            continue
        try:
            image = load_rgb(path, limits)
        except ImageRejected as exc:
            outcomes.append(Outcome(str(path), None, "failed", exc.reason))
            continue
        by_shape[image.shape].append((path, target, image))
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(v) for v in by_shape.values()), unit="img")
    for items in by_shape.values():
        translated = translator(np.stack([image for _, _, image in items]))
        for (path, target, _), result in zip(items, translated, strict=True):
            with atomic_output(target) as handle:
                Image.fromarray(result).save(handle, format="PNG")
            outcomes.append(Outcome(str(path), str(target), "translated"))
        if bar is not None:
            bar.update(len(items))
    if bar is not None:
        bar.close()
    for outcome in outcomes:
        if outcome.status != "translated":
            logger.warning("%s: %s (%s)", outcome.input, outcome.status, outcome.reason)
    return outcomes
