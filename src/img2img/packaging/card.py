"""The model card (Markdown): what the model does, on what data, how well, and how it was trained."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd


def manifest_hash(pairs: pd.DataFrame) -> str:
    """Content hash of the training manifest: pair ids, pixel hashes and splits, order-independent."""
    rows = pairs[["pair_id", "source_sha256", "target_sha256", "split"]].astype(str)
    lines = sorted("\t".join(row) for row in rows.itertuples(index=False, name=None))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _direction(pairs: pd.DataFrame) -> str:
    """Which side is the source: a half of aligned AB files (AtoB = left) or separate files."""
    regions = set(pairs.get("source_region", pd.Series(dtype=str)))
    if regions == {"left"}:
        return "left half of AB files (AtoB)"
    if regions == {"right"}:
        return "right half of AB files (BtoA)"
    return "separate source files (folders or manifest layout)"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)


def render_model_card(
    *, model_name: str, artifact: Mapping[str, Any], metrics: Mapping[str, Any], pairs: pd.DataFrame,
    parity: Mapping[str, Any], decision: Mapping[str, Any] | None,
) -> str:  # fmt: skip
    arch = artifact["architecture"]
    config = artifact.get("train_config", {})
    environment = artifact.get("environment", {})
    splits = pairs["split"].value_counts().to_dict()
    model_scores = metrics.get("model", {})
    lines = [
        f"# Model card: {model_name}",
        "",
        "## Task",
        "Paired image-to-image translation (pix2pix): a conditional GAN generator maps a source image to",
        "its target image. RGB uint8 images in, RGB uint8 images out, any size (padded by reflection to a",
        f"multiple of {arch.get('size_multiple')} px and cropped back).",
        "",
        "## Data",
        f"- pairs: {len(pairs)} ({', '.join(f'{k} {v}' for k, v in sorted(splits.items()))})",
        f"- training manifest content hash (sha256): `{manifest_hash(pairs)}`",
        f"- dataset folder: `{str(pairs['source_path'].iloc[0]).split('/')[0] if len(pairs) else '-'}`; "
        f"source = {_direction(pairs)}",
        "",
        "## Model",
        f"- generator: {arch.get('arch')} (depth {arch.get('depth', '-')}, ngf {arch.get('ngf')}, norm "
        f"{arch.get('norm')}), trained at {arch.get('crop_size')} px; EMA weights: {artifact.get('ema', False)}",
        f"- loss: {config.get('loss', {})}; optimizer: {config.get('optimizer', {})}; "
        f"lr policy: {config.get('lr_policy', {})}",
        f"- epochs: {artifact.get('epochs')}, batch size {config.get('batch_size')}, seed {config.get('seed')}",
        f"- trained on: {environment.get('device', '?')} ({environment.get('device_name', '?')}), torch "
        f"{environment.get('torch_version', '?')}, {environment.get('threads', '?')} threads, AMP "
        f"{environment.get('amp_dtype', '?')}; training time {_fmt(artifact.get('training_seconds'))} s",
        "- exports: TorchScript and ONNX (dynamic batch and size), max |diff| vs eager: "
        + ", ".join(f"{k} {v:.2e}" for k, v in parity.get("max_abs_diff", {}).items()),
        "",
        f"## Evaluation ({metrics.get('split', '?')} split, {metrics.get('n_images', '?')} images, "
        f"test_mode {metrics.get('test_mode', '?')})",
        "",
        "| metric | model | " + " | ".join(metrics.get("baselines", {})) + " |",
        "| --- | --- | " + " | ".join("---" for _ in metrics.get("baselines", {})) + " |",
    ]
    for name in ("ssim", "psnr", "l1", "fid", "kid_mean"):
        baseline_values = [_fmt(b.get(name)) for b in metrics.get("baselines", {}).values()]
        lines.append(
            f"| {name} | {_fmt(model_scores.get(name))} | " + " | ".join(baseline_values) + " |"
        )
    lines += ["", "Conventions:"]
    lines += [f"- {k}: {v}" for k, v in metrics.get("conventions", {}).items()]
    lines += [f"- FID/KID status: {metrics.get('fid_status', '?')}", ""]
    if decision:
        lines += [
            "## Registry",
            f"- version {decision['version']} of `{model_name}` is **{decision['alias']}**: {decision['reason']}",
            "",
        ]
    lines += [
        "## Intended use and limitations",
        "- Translating images of the same kind and direction as the training pairs. Outside that",
        "  distribution the output is unreliable; GAN outputs can look plausible and still be wrong.",
        "- Quality numbers come from a small held-out split; FID on few images is biased upwards (see KID).",
        "- Not for decisions about people or for evidence: outputs are synthesised, not measured.",
        "",
    ]
    return "\n".join(lines)
