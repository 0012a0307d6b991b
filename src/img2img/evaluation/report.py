"""The evaluation report: one self-contained HTML page (inline CSS and PNGs, no network needed).

Contents: the metric table with its conventions, baselines for context, histograms of per-image SSIM
and PSNR, the best, worst and a random sample of test pairs (source | generated | target), and the
training curves.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.6rem;margin:.6rem 0}
.ok{background:#e8f5e9;border:1px solid #9ccc9c;padding:.6rem;margin:.6rem 0}
figure{display:inline-block;margin:.4rem;text-align:center;font-size:.8rem}
img{image-rendering:auto;max-width:100%}code{background:#f4f4f4;padding:0 .2rem}
"""


@dataclass(frozen=True)
class Example:
    """One test pair shown in the report."""

    pair_id: str
    source: np.ndarray  # H×W×3 uint8
    generated: np.ndarray
    target: np.ndarray
    scores: Mapping[str, float]


def png_data_uri(image: np.ndarray | Image.Image) -> str:
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_uri(figure: Figure) -> str:
    """PNG data URI of a figure (the object API: no pyplot, no global backend change)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if not np.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_format(c)}</td>'
            if isinstance(c, int | float)
            else f"<td>{_format(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def histograms(per_image: pd.DataFrame, columns: Sequence[str] = ("ssim", "psnr")) -> str:
    present = [c for c in columns if c in per_image.columns and len(per_image)]
    if not present:
        return "<p>No per-image scores.</p>"
    figure = Figure(figsize=(4.5 * len(present), 3))
    axes = figure.subplots(1, len(present))
    for axis, column in zip(np.atleast_1d(axes), present, strict=True):
        values = per_image[column].replace([np.inf, -np.inf], np.nan).dropna()
        axis.hist(values, bins=min(30, max(5, len(values) // 3)), color="#4a78b5")
        axis.set_title(f"per-image {column.upper()} (N={len(values)})")
        axis.set_xlabel(column)
    return f'<img alt="histograms" src="{_figure_uri(figure)}">'


def training_curves(history: pd.DataFrame | None) -> str:
    if history is None or history.empty or "epoch" not in history.columns:
        return "<p>No training history available.</p>"
    loss_columns = [c for c in history.columns if c.startswith("loss")]
    d_columns = [c for c in history.columns if c.startswith("d_") and c.endswith("mean")]
    panels = [cols for cols in (loss_columns, d_columns) if cols]
    if not panels:
        return "<p>The training history has no loss columns.</p>"
    figure = Figure(figsize=(5.5 * len(panels), 3.2))
    axes = figure.subplots(1, len(panels))
    for axis, columns in zip(np.atleast_1d(axes), panels, strict=True):
        for column in columns:
            axis.plot(history["epoch"], history[column], label=column)
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
    return f'<img alt="training curves" src="{_figure_uri(figure)}">'


def example_grid(examples: Sequence[Example], score_keys: Sequence[str] = ("ssim", "psnr")) -> str:
    if not examples:
        return "<p>None.</p>"
    figures = []
    for example in examples:
        strip = np.concatenate([example.source, example.generated, example.target], axis=1)
        caption = ", ".join(
            f"{k.upper()} {example.scores[k]:.3g}" for k in score_keys if k in example.scores
        )
        figures.append(
            f'<figure><img src="{png_data_uri(strip)}" alt="{html.escape(example.pair_id)}">'
            f"<figcaption>{html.escape(example.pair_id)} — {caption}</figcaption></figure>"
        )
    return "<p>source | generated | target</p>" + "".join(figures)


def render_report(
    *,
    title: str,
    metrics: Mapping[str, Any],
    per_image: pd.DataFrame,
    examples: Mapping[str, Sequence[Example]],
    history: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    conventions: Mapping[str, Any] | None = None,
) -> str:
    """HTML text of the report.

    ``metrics`` is the evaluation's metrics dict: ``{"model": {...}, "baselines": {name: {...}},
    ...}``; ``conventions`` how they are computed: ``{"conventions": {metric: text}, "fid_status":
    ..., ...}``; ``examples`` maps a section title (e.g. "best", "worst", "random") to the pairs to
    show.
    """
    model_scores: Mapping[str, Any] = metrics.get("model", {})
    baselines: Mapping[str, Mapping[str, Any]] = metrics.get("baselines", {})
    names = list(model_scores)
    rows = [["model", *[model_scores.get(n) for n in names]]]
    rows += [[name, *[scores.get(n) for n in names]] for name, scores in baselines.items()]
    sections = [f"<h1>{html.escape(title)}</h1>"]
    for note in notes:
        css = "warn" if note.lower().startswith(("warning", "the model does not")) else "ok"
        sections.append(f'<div class="{css}">{html.escape(note)}</div>')
    sections.append("<h2>Scores on the test split</h2>" + _table(rows, ["", *names]))
    conventions = conventions or {}
    how = conventions.get("conventions", {})
    if how:
        sections.append(
            "<h2>Conventions</h2>"
            + _table([[k, str(v)] for k, v in how.items()], ["metric", "how it is computed"])
        )
    extra = {k: v for k, v in metrics.items() if k not in {"model", "baselines"}}
    extra |= {k: v for k, v in conventions.items() if k != "conventions"}
    if extra:
        flat = [[k, v if isinstance(v, int | float) else str(v)] for k, v in extra.items()]
        sections.append("<h2>Run</h2>" + _table(flat, ["key", "value"]))
    sections.append("<h2>Per-image distributions</h2>" + histograms(per_image))
    for name, chosen in examples.items():
        sections.append(f"<h2>{html.escape(name)}</h2>" + example_grid(chosen))
    sections.append("<h2>Training curves</h2>" + training_curves(history))
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>"
    )
