"""Helpers for tests that start a real server on 127.0.0.1 or another process, bounded in time."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    """Poll ``url`` until it answers 200; fail if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert process.poll() is None, f"the server behind {url} exited"
        assert time.monotonic() < deadline, f"{url} did not answer within {timeout:.0f} s"
        time.sleep(1)


def wait_for_file(
    path: Path, process: subprocess.Popen, timeout: float, output: Callable[[], str] = lambda: ""
) -> None:
    """Poll until ``path`` exists (a process's signal that it got there); fail, with ``output()``,
    if ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, (
            f"the process exited (code {process.returncode}) before {path} appeared\n{output()}"
        )
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout:.0f} s"
        time.sleep(0.05)
