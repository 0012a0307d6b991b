"""The report of a scheduled retraining run (``scripts/retrain.sh``), for the pull request it opens.

It says what was trained on what (the generator's lineage and history), what the promotion gate
decided with both scores on the same images, how the metrics moved against a base revision
(``dvc metrics diff``), and shows a grid of sample translations (source | generated | target),
copied next to the report so the pull request displays it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from img2img.evaluation.champion import GateComparison
from img2img.gan.artifact import GeneratorArtifact

SAMPLES = "retrain_samples.png"


@dataclass(frozen=True)
class ReportInputs:
    """Where the run's outputs are (the catalog's paths)."""

    reporting: Path = Path("data/08_reporting")
    generator: Path = Path("data/06_models/generator.pt")

    @property
    def decision(self) -> Path:
        return self.reporting / "registry_decision.json"

    @property
    def comparison(self) -> Path:
        return self.reporting / "gate_comparison.json"

    @property
    def history(self) -> Path:
        return self.reporting / "training_history.csv"

    @property
    def samples(self) -> Path:
        return self.reporting / "training_samples"


def _metrics_diff(base_rev: str) -> str:
    result = subprocess.run(["dvc", "metrics", "diff", base_rev, "--md", "--all"],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else (
        f"(no metrics to compare with {base_rev}: {result.stderr.strip() or 'none'})"
    )  # fmt: skip


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _gate_lines(decision: dict, comparison: GateComparison) -> list[str]:
    eval_set = comparison.eval_set
    lines = [
        f"- **{decision.get('alias') or 'not registered'}** (version {decision.get('version')}): "
        f"{decision.get('reason')}",
        f"- evaluation set: {eval_set.get('n_images')} {eval_set.get('split')} images, fingerprint "
        f"`{eval_set.get('fingerprint')}`, {eval_set.get('image_size')} px",
        "",
        f"| metric | candidate | champion (version {comparison.champion_version or '-'}) |",
        "| --- | --- | --- |",
    ]
    for name in ("ssim", "psnr", "l1", "fid", "kid_mean"):
        champion = (comparison.champion or {}).get(name, "-")
        lines.append(f"| {name} | {_fmt(comparison.candidate.get(name))} | {_fmt(champion)} |")
    if comparison.champion is None:
        lines.append(f"\nchampion: {comparison.champion_status}")
    return lines


def write_retrain_report(
    output: Path, base_rev: str, env: str, inputs: ReportInputs | None = None
) -> Path:
    """Write the report to ``output`` and the sample grid beside it; returns the report's path."""
    inputs = inputs or ReportInputs()
    decision = json.loads(inputs.decision.read_text())
    comparison = GateComparison.from_dict(json.loads(inputs.comparison.read_text()))
    lineage = GeneratorArtifact.load(inputs.generator).lineage
    history = pd.read_csv(inputs.history)
    grids = sorted(inputs.samples.glob("epoch_*.png"))
    output.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Retraining report",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}; configuration: {env}",
        f"- trained {len(history)} epochs on {int(history['train_pairs'].iloc[-1])} pairs"
        if "train_pairs" in history else f"- trained {len(history)} epochs",
    ]  # fmt: skip
    if lineage is not None:
        lines += [
            f"- data generation `{lineage.data.generation}` ({lineage.data.dataset}: "
            + ", ".join(f"{k} {v}" for k, v in lineage.data.pairs.items()) + ")",
            f"- started from: {lineage.init.describe()}",
            f"- code: `{lineage.git_commit}`; MLflow run `{lineage.run_id}`",
        ]  # fmt: skip
    lines += ["", "## Promotion gate", "", *_gate_lines(decision, comparison), ""]
    lines += [f"## Metrics compared with {base_rev}", "", _metrics_diff(base_rev), ""]
    if grids:
        shutil.copyfile(grids[-1], output.parent / SAMPLES)
        lines += ["## Sample translations (source | generated | target)", "",
                  f"![samples from {grids[-1].stem}]({SAMPLES})", ""]  # fmt: skip
    output.write_text("\n".join(lines))
    return output
