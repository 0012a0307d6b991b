"""Project-level contracts: the README's commands, CI, telemetry (kedro-viz: tests/test_kedro_viz.py)."""

from __future__ import annotations

import re

from tests.kedro_project import PROJECT_ROOT


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
