"""`dvc repro` of the whole pipeline in a scratch git repository, on conf/ci sizes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kedro_project import PROJECT_ROOT


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


@pytest.mark.slow
def test_retrain_script_and_dvc_repro_reproducible_incremental_with_remote_round_trip(tmp_path):
    repo = tmp_path / "repo"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (PROJECT_ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, repo / name)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KEDRO_ENV": "ci",
           "KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    run(["git", "init", "-q"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "init"], repo, env)

    first = run(["bash", "scripts/retrain.sh"], repo, env)  # the scheduled retraining job
    assert "no DVC remote configured" in first
    assert all(
        f"Running stage '{s}'" in first
        for s in ("data_processing", "training", "evaluation", "packaging")
    )
    assert (repo / "data" / "08_reporting" / "metrics.json").is_file()
    report = (repo / "data" / "08_reporting" / "retrain_report.md").read_text()
    assert "Metrics compared with HEAD" in report and "model.ssim" in report
    assert "Data and pipelines are up to date" in run(["dvc", "repro"], repo, env)

    # The plots of dvc.yaml: loss curves, D outputs, the per-image SSIM distribution.
    plots = json.loads(subprocess.run(["dvc", "plots", "show", "--json"], cwd=repo, env=env,
                                      capture_output=True, text=True, check=True).stdout)["data"]  # fmt: skip
    values = {name: entry[0]["content"]["data"]["values"] for name, entry in plots.items()}
    assert {row["epoch"] for row in values["Training losses"]} == {"1", "2"}
    metrics = json.loads((repo / "data" / "08_reporting" / "metrics.json").read_text())
    distribution = values["Per-image SSIM distribution (evaluated split)"]
    assert sum(int(row["pairs"]) for row in distribution) == metrics["n_images"]
    run(["dvc", "plots", "show"], repo, env)
    assert (repo / "dvc_plots" / "index.html").is_file()

    # Raw data versioned as the README says (`dvc add data/01_raw/<name>`): the .dvc file gets past
    # .gitignore; the new files in data/01_raw re-run data_processing once, whose outputs do not
    # change, so training is not re-run (the images round-trip through the remote below).
    run(["dvc", "add", "data/01_raw/facades_synthetic"], repo, env)
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/01_raw/facades_synthetic.dvc"],
                             cwd=repo, env=env).returncode  # fmt: skip
    assert ignored == 1, "the .dvc file of a raw dataset must not be git-ignored"
    after_add = run(["dvc", "repro"], repo, env)
    assert "Running stage 'data_processing'" in after_add
    assert "Running stage 'training'" not in after_add, after_add[-2000:]
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo, env)

    params = repo / "conf" / "base" / "parameters_training.yml"
    params.write_text(params.read_text().replace("  seed: 0", "  seed: 1", 1))
    status = run(["dvc", "status"], repo, env)
    assert "training:" in status and "data_processing:" not in status
    assert "model.ssim" in run(["dvc", "metrics", "show"], repo, env)

    # An experiment, exactly as README documents it: DVC edits conf/base in place, re-runs training
    # onwards (not data_processing) and records the parameter and the metrics.
    experiment = run(["dvc", "exp", "run", "--set-param",
                      "conf/base/parameters_training.yml:training.seed=7"], repo, env)  # fmt: skip
    assert "Running stage 'training'" in experiment
    assert "Running stage 'data_processing'" not in experiment
    assert "  seed: 7" in params.read_text()
    shown = subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, env=env, capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    experiments = [exp["revs"][0] for base in json.loads(shown) for exp in base.get("experiments") or []]  # fmt: skip
    assert len(experiments) == 1, shown
    recorded = experiments[0]["data"]
    assert recorded["params"]["conf/base/parameters_training.yml"]["data"]["training"]["seed"] == 7
    assert "ssim" in recorded["metrics"]["data/08_reporting/metrics.json"]["data"]["model"]

    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], repo, env)
    run(["dvc", "push"], repo, env)
    generator = repo / "data" / "06_models" / "generator.pt"
    original = generator.read_bytes()
    raw_image = sorted((repo / "data" / "01_raw" / "facades_synthetic").rglob("*.png"))[0]
    raw_original = raw_image.read_bytes()
    generator.unlink()
    raw_image.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    run(["dvc", "pull"], repo, env)
    assert generator.read_bytes() == original
    assert raw_image.read_bytes() == raw_original
