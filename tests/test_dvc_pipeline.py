"""`dvc repro` and the scheduled retraining script in scratch git repositories, on conf/ci sizes:
nothing changed is a no-op; a change of code, data or parameters (from any environment) retrains;
the script refuses to run without data and works with an unset tracking secret. The helpers here
(a scratch repository, the stages that ran, merging the job's pull request) serve
tests/test_retrain_script.py too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from img2img.gan.artifact import GeneratorArtifact
from tests.kedro_project import PROJECT_ROOT

GIT_USER = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
STAGES = ("data_processing", "training", "evaluation", "packaging")


def run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, f"{command} failed:\n{output[-6000:]}"
    return output


def scratch_repo(repo: Path, tmp_path: Path, **extra_env: str) -> dict[str, str]:
    """A git repository holding the project's tracked files; the environment to run it in."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True,
                             check=True).stdout  # fmt: skip
    for name in filter(None, tracked.decode().split("\0")):
        if (PROJECT_ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, repo / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "KEDRO_ENV": "ci",
           "KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           **GIT_USER, **extra_env}  # fmt: skip
    run(["git", "init", "-q"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "init"], repo, env)
    return env


def ran(output: str) -> set[str]:
    return {stage for stage in (*STAGES, "parameters") if f"Running stage '{stage}'" in output}


@pytest.mark.slow
def test_dvc_repro_retrains_on_every_change_and_nothing_else(tmp_path):
    repo = tmp_path / "repo"
    env = scratch_repo(repo, tmp_path, MLFLOW_TRACKING_URI="")  # an unset CI secret: ""
    reporting = repo / "data" / "08_reporting"

    # No DVC remote: the scheduled job has no data to retrain on, and says so before any work.
    refused = subprocess.run(
        ["bash", "scripts/retrain.sh"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "no DVC remote" in refused.stderr
    assert not (repo / "dvc.lock").exists()

    # Opted in to the built-in data; the empty tracking URI means the embedded store.
    first = run(["bash", "scripts/retrain.sh"], repo, {**env, "RETRAIN_ALLOW_BUILTIN_DATA": "1"})
    assert ran(first) == {"parameters", *STAGES} and "embedded store" in first
    assert (repo / "mlflow.db").is_file()
    report = (reporting / "retrain_report.md").read_text()
    assert "## Promotion gate" in report and "**champion**" in report and "model.ssim" in report
    assert (reporting / "retrain_samples.png").is_file() and "(retrain_samples.png)" in report
    again = run(["dvc", "repro"], repo, env)  # kedro itself reads the empty URI as unset too
    assert ran(again) == {"parameters"}, again[-2000:]
    merge_pull_request(repo, env)

    # The plots of dvc.yaml: loss curves, D outputs, the per-image SSIM distribution.
    plots = json.loads(run(["dvc", "plots", "show", "--json"], repo, env))["data"]
    values = {name: entry[0]["content"]["data"]["values"] for name, entry in plots.items()}
    assert {row["epoch"] for row in values["Adversarial losses"]} == {"1", "2"}
    metrics = json.loads((reporting / "metrics.json").read_text())
    distribution = values["Per-image SSIM distribution (evaluated split)"]
    assert sum(int(row["pairs"]) for row in distribution) == metrics["n_images"]
    shown = run(["dvc", "metrics", "show"], repo, env)  # a table of numbers, no prose
    assert "model.ssim" in shown and "conventions" not in shown and "not computed" not in shown

    # Only the code changes: training runs again from the first epoch (its finished checkpoint is
    # set aside, never resumed into a zero-epoch run), and so does everything after it.
    generator = repo / "data" / "06_models" / "generator.pt"
    before = GeneratorArtifact.load(generator)
    losses = repo / "src" / "img2img" / "gan" / "losses.py"
    losses.write_text(losses.read_text() + "\n# a change in the GAN code\n")
    code_change = run(["dvc", "repro"], repo, env)
    assert ran(code_change) == {"parameters", "training", "evaluation", "packaging"}
    assert "Resuming" not in code_change
    assert (repo / "data" / "06_models" / "checkpoints-set-aside" / "set-aside-1.pt").is_file()
    history = pd.read_csv(reporting / "training_history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert GeneratorArtifact.load(generator).lineage.run_id != before.lineage.run_id

    # Only the data changes (a parameter of the ci environment, which DVC sees through the
    # parameters snapshot): everything runs on the new data, and `dvc params diff` shows why.
    ci_params = repo / "conf" / "ci" / "parameters_data_processing.yml"
    ci_params.write_text(ci_params.read_text().replace("n_pairs: 40", "n_pairs: 48"))
    data_change = run(["dvc", "repro"], repo, env)
    assert ran(data_change) == {"parameters", *STAGES}, data_change[-2000:]
    grown = GeneratorArtifact.load(generator)
    assert sum(grown.lineage.data.pairs.values()) == 48
    assert set(pd.read_csv(reporting / "training_history.csv")["train_pairs"]) == {
        grown.lineage.data.pairs["train"]
    }
    assert grown.lineage.data.generation != before.lineage.data.generation
    # new data for the same recipe and dataset folder: warm-started from the champion (version 1)
    assert grown.lineage.init.kind == "champion" and grown.lineage.init.reference.endswith("/1")
    diff = run(["dvc", "params", "diff"], repo, env)
    assert "data_processing.source.synthetic.n_pairs" in diff and "48" in diff
    card = (reporting / "model_card.md").read_text()
    assert (
        grown.lineage.data.generation in card
        and "train " + str(grown.lineage.data.pairs["train"]) in card
    )

    # Raw data versioned as the README says (the built-in dataset is rendered into data/01_raw):
    # data_processing runs once more, its outputs do not change, so nothing downstream runs.
    run(["dvc", "add", "data/01_raw/facades_synthetic"], repo, env)
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/01_raw/facades_synthetic.dvc"], cwd=repo,
                             env=env).returncode  # fmt: skip
    assert ignored == 1, "the .dvc file of a raw dataset must not be git-ignored"
    after_add = run(["dvc", "repro"], repo, env)
    assert ran(after_add) == {"parameters", "data_processing"}, after_add[-2000:]

    # An experiment, exactly as README documents it: DVC edits conf/base in place, re-runs training
    # onwards (not data_processing) and records the parameter and the metrics.
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "data v2"], repo, env)
    experiment = run(["dvc", "exp", "run", "--set-param",
                      "conf/base/parameters_training.yml:training.seed=7"], repo, env)  # fmt: skip
    assert ran(experiment) == {"parameters", "training", "evaluation", "packaging"}
    shown = run(["dvc", "exp", "show", "--json"], repo, env)
    experiments = [exp["revs"][0] for base in json.loads(shown) for exp in base.get("experiments") or []]  # fmt: skip
    assert len(experiments) == 1, shown
    recorded = experiments[0]["data"]
    assert recorded["params"]["conf/resolved_parameters.yml"]["data"]["training"]["seed"] == 7
    assert "ssim" in recorded["metrics"]["data/08_reporting/metrics.json"]["data"]["model"]

    # Everything DVC caches round-trips through a remote.
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], repo, env)
    run(["dvc", "push"], repo, env)
    original = generator.read_bytes()
    raw_image = sorted((repo / "data" / "01_raw" / "facades_synthetic").rglob("*.png"))[0]
    raw_original = raw_image.read_bytes()
    generator.unlink()
    raw_image.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    run(["dvc", "pull"], repo, env)
    assert generator.read_bytes() == original and raw_image.read_bytes() == raw_original


def merge_pull_request(repo: Path, env: dict[str, str]) -> None:
    """What merging the retraining job's pull request commits: its add-paths."""
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "retrain.yml").read_text())
    step = next(
        s
        for s in workflow["jobs"]["retrain"]["steps"]
        if "create-pull-request" in s.get("uses", "")
    )
    for path in step["with"]["add-paths"].split():
        run(["bash", "-O", "globstar", "-c", f"git add -- {path} 2>/dev/null || true"], repo, env)
    run(["git", "commit", "-qm", "merge the retraining pull request"], repo, env)
