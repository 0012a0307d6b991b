"""Run a benchmark measurement in a fresh Python process and read its ``RESULT {json}`` line."""

from __future__ import annotations

import json
import subprocess
import sys


def run_subprocess(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"benchmark subprocess failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
