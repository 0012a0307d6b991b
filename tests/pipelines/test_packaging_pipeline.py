"""train end to end including packaging on conf/ci: exports, pyfunc round trip, registry gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mlflow.tracking import MlflowClient

from tests.kedro_project import run_pipelines


def test_packaging_exports_registers_and_gates(project, mlflow_uri, tmp_path):
    uri = mlflow_uri
    run_pipelines(project, ["train"])
    reporting = project / "data" / "08_reporting"
    parity = json.loads((reporting / "export_parity.json").read_text())
    assert max(parity["max_abs_diff"].values()) <= 1e-4
    first = json.loads((reporting / "registry_decision.json").read_text())
    assert first["alias"] == "champion" and first["reason"] == "first registered model"
    card = (reporting / "model_card.md").read_text()
    assert "training manifest content hash" in card and "**champion**" in card

    # The same model again is not better by the margin: it becomes the challenger.
    run_pipelines(project, ["packaging"])
    second = json.loads((reporting / "registry_decision.json").read_text())
    assert second["alias"] == "challenger" and "does not beat" in second["reason"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("img2img-generator", "champion")
    challenger = client.get_model_version_by_alias("img2img-generator", "challenger")
    assert (str(champion.version), str(challenger.version)) == (first["version"], second["version"])

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
