"""The model card (Markdown): what the model does, on what data, how well, and how it was trained.

The data section describes the data the weights were trained on, from the generator artifact's
lineage (not whatever the data folders hold now); the gate section, the scores the promotion
decision compared (candidate and champion on the same images).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from img2img.evaluation.champion import GateComparison
from img2img.gan.artifact import GeneratorArtifact
from img2img.gan.lineage import Lineage
from img2img.packaging.gate import GateDecision

SCORES = ("ssim", "psnr", "l1", "fid", "kid_mean")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)


def _data_section(lineage: Lineage | None) -> list[str]:
    if lineage is None:
        return ["- unknown: this generator was saved by an img2img version without lineage"]
    data = lineage.data
    splits = ", ".join(f"{split} {count}" for split, count in data.pairs.items())
    lines = [
        f"- dataset: `{data.dataset}`; source = {data.source}",
        f"- pairs of that data version: {splits}; trained on the {data.pairs.get('train')} train pairs",
        f"- data generation: `{data.generation}`",
        f"- train fingerprint (pair ids + pixel hashes): `{data.fingerprints.get('train')}`",
        f"- DVC data version: {f'`{lineage.dvc_md5}` ({lineage.dvc_file})' if lineage.dvc_md5 else 'none (the dataset folder is not DVC-tracked)'}",
        f"- weights started from: {lineage.init.describe()}",
        (f"- code: git commit `{lineage.git_commit}`" + (" with uncommitted changes" if lineage.git_dirty else "")
         if lineage.git_commit else "- code: not a git checkout")
        + f"; MLflow run `{lineage.run_id}`; training identity `{lineage.identity[:16]}`",
    ]  # fmt: skip
    return lines


def _gate_section(
    model_name: str, comparison: GateComparison, decision: GateDecision | None, outcome: str
) -> list[str]:
    eval_set = comparison.eval_set
    lines = [
        "## Promotion gate",
        f"Candidate and champion scored in this run on the same {eval_set.get('n_images')} "
        f"{eval_set.get('split')} images (fingerprint `{eval_set.get('fingerprint')}`, "
        f"{eval_set.get('image_size')} px), {comparison.conventions}.",
        "",
        f"| metric | candidate | champion{f' (version {comparison.champion_version})' if comparison.champion_version else ''} | difference [interval] |",
        "| --- | --- | --- | --- |",
    ]  # fmt: skip
    for name in SCORES:
        difference = comparison.differences.get(name)
        interval = difference.describe() if difference else "-"
        champion = _fmt((comparison.champion or {}).get(name)) if comparison.champion else "-"
        lines.append(
            f"| {name} | {_fmt(comparison.candidate.get(name))} | {champion} | {interval} |"
        )
    lines.append("")
    if comparison.champion is None:
        lines.append(f"- champion: {comparison.champion_status}")
    if decision is not None:
        lines.append(
            f"- version {decision.version} of `{model_name}` is **{decision.alias}**: {decision.reason}"
        )
    else:
        lines.append(f"- not registered: {outcome}")
    return [*lines, ""]


def render_model_card(
    *, model_name: str, artifact: GeneratorArtifact, metrics: Mapping[str, Any],
    comparison: GateComparison, parity: Mapping[str, Any], decision: GateDecision | None,
    outcome: str = "", conventions: Mapping[str, Any] | None = None,
) -> str:  # fmt: skip
    """The card; ``conventions``: the evaluation's metric_conventions (how scores are computed)."""
    conventions = conventions or {}
    model_scores = metrics.get("model", {})
    baselines = metrics.get("baselines", {})
    lines = [
        f"# Model card: {model_name}",
        "",
        "## Task",
        "Paired image-to-image translation (pix2pix): a conditional GAN generator maps a source image to",
        "its target image. RGB uint8 images in, RGB uint8 images out, any size (padded by reflection to a",
        f"multiple of {artifact.size_multiple} px and cropped back).",
        "",
        "## Training data",
        *_data_section(artifact.lineage),
        "",
        *_model_section(artifact, parity),
        "",
        f"## Evaluation ({metrics.get('split', '?')} split, {metrics.get('n_images', '?')} images, "
        f"fingerprint `{metrics.get('eval_set_fingerprint', '?')}`, test_mode {metrics.get('test_mode', '?')})",
        "",
        "| metric | model | " + " | ".join(baselines) + " |",
        "| --- | --- | " + " | ".join("---" for _ in baselines) + " |",
    ]  # fmt: skip
    for name in SCORES:
        baseline_values = [_fmt(b.get(name)) for b in baselines.values()]
        lines.append(
            f"| {name} | {_fmt(model_scores.get(name))} | " + " | ".join(baseline_values) + " |"
        )
    lines += ["", "Conventions:"]
    lines += [f"- {k}: {v}" for k, v in conventions.get("conventions", {}).items()]
    lines += [f"- FID/KID status: {conventions.get('fid_status', '?')}", ""]
    lines += _gate_section(model_name, comparison, decision, outcome)
    lines += [
        "## Intended use and limitations",
        "- Translating images of the same kind and direction as the training pairs. Outside that",
        "  distribution the output is unreliable; GAN outputs can look plausible and still be wrong.",
        "- Quality numbers come from a small held-out split; FID on few images is biased upwards (see KID).",
        "- Not for decisions about people or for evidence: outputs are synthesised, not measured.",
        "",
    ]
    return "\n".join(lines)


def _model_section(artifact: GeneratorArtifact, parity: Mapping[str, Any]) -> list[str]:
    """Architecture, training recipe and environment, exports and their parity."""
    arch, config, environment = artifact.architecture, artifact.train_config, artifact.environment
    return [
        "## Model",
        f"- generator: {arch.get('arch')} (depth {arch.get('depth', '-')}, ngf {arch.get('ngf')}, norm "
        f"{arch.get('norm')}), trained at {artifact.crop_size} px; EMA weights: {artifact.ema}",
        f"- loss: {config.get('loss', {})}; optimizer: {config.get('optimizer', {})}; "
        f"lr policy: {config.get('lr_policy', {})}",
        f"- epochs: {artifact.epochs}, batch size {config.get('batch_size')}, seed {config.get('seed')}",
        *([f"- {artifact.plan.describe()}"] if artifact.plan else []),  # training.time_budget_minutes
        f"- trained on: {environment.get('device', '?')} ({environment.get('device_name', '?')}), torch "
        f"{environment.get('torch_version', '?')}, {environment.get('threads', '?')} threads, "
        f"{environment.get('precision', 'AMP ' + str(environment.get('amp_dtype', '?')))}; "
        f"training time {_fmt(artifact.training_seconds)} s",
        "- exports: torch.export program (.pt2) and ONNX (dynamic batch and size), max |diff| vs eager: "
        + ", ".join(f"{k} {v:.2e}" for k, v in parity.get("max_abs_diff", {}).items()),
    ]  # fmt: skip
