"""train end to end including packaging on conf/ci: exports, pyfunc round trip, registry gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.kedro_project import run_pipelines


def test_packaging_exports_registers_and_gates(project, mlflow_uri, tmp_path):
    uri = mlflow_uri
    # Enough test images (>= 10) for the gate's noise estimate.
    larger = {"data_processing": {"source": {"synthetic": {"n_pairs": 110}}}}
    run_pipelines(project, ["train"], runtime_params=larger)
    reporting = project / "data" / "08_reporting"
    parity = json.loads((reporting / "export_parity.json").read_text())
    assert max(parity["max_abs_diff"].values()) <= 1e-4
    first = json.loads((reporting / "registry_decision.json").read_text())
    assert (
        first["alias"] == "champion"
        and first["reason"] == "first registered model (no champion yet)"
    )
    card = (reporting / "model_card.md").read_text()
    assert (
        "train fingerprint" in card
        and "**champion**" in card
        and "weights started from: scratch" in card
    )
    assert " autocast on cpu (" in card or "fp32 on cpu (" in card  # the precision path that ran

    # The same model again: the gate re-scores the champion (version 1) on the same images, the
    # same way; identical models give identical scores, so it is no improvement: challenger.
    run_pipelines(project, ["evaluation", "packaging"], runtime_params=larger)
    comparison = json.loads((reporting / "gate_comparison.json").read_text())
    assert (
        comparison["champion_version"] == first["version"]
        and comparison["champion_status"] == "scored"
    )
    for name in ("ssim", "psnr", "l1", "kid_mean"):
        assert comparison["champion"][name] == pytest.approx(
            comparison["candidate"][name], rel=1e-3, abs=1e-4
        )
    second = json.loads((reporting / "registry_decision.json").read_text())
    assert second["alias"] == "challenger" and "not better than the champion" in second["reason"]
    assert second["metric"] == "kid_mean" and second["champion_version"] == first["version"]
    assert second["candidate_value"] == comparison["candidate"]["kid_mean"]
    assert second["champion_value"] == comparison["champion"]["kid_mean"]
    assert second["eval_set"] == comparison["eval_set"] and second["eval_set"]["n_images"] >= 10
    card = (reporting / "model_card.md").read_text()
    assert f"champion (version {first['version']})" in card and "**challenger**" in card
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("img2img-generator", "champion")
    challenger = client.get_model_version_by_alias("img2img-generator", "challenger")
    assert (str(champion.version), str(challenger.version)) == (first["version"], second["version"])
    tags = client.get_model_version("img2img-generator", second["version"]).tags
    assert tags["img2img_registration"] == "complete"
    assert tags["gate_eval_fingerprint"] == comparison["eval_set"]["fingerprint"]
    assert tags["lineage.data_generation"] and tags["gate_champion_value"] == repr(
        second["champion_value"]
    )

    # The registered pyfunc loads and predicts in a fresh process with only the project installed.
    script = (
        "import mlflow, numpy as np\n"
        "m = mlflow.pyfunc.load_model('models:/img2img-generator@champion')\n"
        "x = np.random.default_rng(0).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8)\n"
        "y = m.predict(x)\n"
        "print('OUT', y.shape, y.dtype)\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OUT (2, 45, 70, 3) uint8" in result.stdout
