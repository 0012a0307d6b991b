"""Project-level contracts: the README's commands, CI, telemetry, kedro-viz."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from tests.kedro_project import PROJECT_ROOT, make_project_copy


def readme_commands() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", quick_start, flags=re.S)
    lines = (line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


def test_readme_quick_start_is_the_two_make_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert [c for c in commands if c.startswith("make ")] == ["make run", "make test"]
    ci_lines = [
        line.strip()
        for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci_lines == ["make test"]


def test_makefile_creates_the_venv_and_installs_the_project():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "-m venv $(VENV)" in makefile
    assert 'pip install --quiet -e ".[dev]"' in makefile
    assert re.search(
        r"^run: install\n\t\$\(BIN\)/kedro run --pipelines=\$\(PIPELINE\)", makefile, re.M
    )
    assert re.search(r"^PIPELINE \?= train$", makefile, re.M)


def test_telemetry_is_off_for_the_project():
    assert "consent: false" in (PROJECT_ROOT / ".telemetry").read_text()
    assert "KEDRO_DISABLE_TELEMETRY := true" in (PROJECT_ROOT / "Makefile").read_text()


def test_kedro_viz_build_shows_every_registered_pipeline_and_node(tmp_path):
    project = make_project_copy(tmp_path / "project")
    bootstrap_project(PROJECT_ROOT)
    registered = {name: pipe for name, pipe in pipelines.items()}
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run(
        [str(kedro), "viz", "build"], cwd=project, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    api = project / "build" / "api"
    main = json.loads((api / "main").read_text())
    assert {p["id"] for p in main["pipelines"]} == set(registered)
    for name, pipe in registered.items():
        data = json.loads((api / "pipelines" / name).read_text())
        task_names = {n["name"] for n in data["nodes"] if n["type"] == "task"}
        assert {node.name for node in pipe.nodes} <= task_names, name
        datasets = {n["name"] for n in data["nodes"] if n["type"] == "data"}
        assert {d for d in pipe.datasets() if not d.startswith("params:")} <= datasets, name
