"""A PNG of kedro-viz as a user sees it: one pipeline, one dataset selected (its preview open).

Starts ``kedro viz run`` on 127.0.0.1 (a free port), waits for it, takes a headless-Chromium
screenshot, stops the server. Run it where the pipelines have run (e.g. after ``make run ENV=ci``)
so that the previews have data::

    .venv/bin/python scripts/viz_screenshot.py                      # -> kedro-viz.png
    .venv/bin/python scripts/viz_screenshot.py -o docs/kedro-viz-training.png \\
        --pipeline training --select training_history --project /tmp/project-copy

A fresh browser profile would show kedro-viz's "new feature" tour over the graph, and an offline
kedro-viz (no PyPI) announces an update to version "None": the page is served through a small local
proxy that switches the tour off (kedro-viz's own setting, kept in the page's localStorage), turns
CSS transitions off (no panel caught half-way) and reports no update. Exit codes: 0 done, 1 kedro-viz or Chromium failed, 2 Chromium not found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Added to the page's <head>: kedro-viz's settings live in localStorage["KedroViz"], and
# showFeatureHints: false hides the tour; no CSS transitions, so that the screenshot does not catch
# a panel half-way through sliding in.
QUIET_HEAD = (
    b"<script>localStorage.setItem('KedroViz', JSON.stringify("
    b"{...JSON.parse(localStorage.getItem('KedroViz') || '{}'), showFeatureHints: false}));"
    b"</script><style>*, *::before, *::after {transition: none !important;}</style></head>"
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("viz_screenshot: chromium not found. Install it (Debian/Ubuntu: "
              "sudo apt-get install -y chromium) or pass --chromium /path/to/chromium.",
              file=sys.stderr)  # fmt: skip
        return 2
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(quiet_proxy(stack.enter_context(kedro_viz(args, work))))
        page = f"{url}/?pid={args.pipeline}" + (f"&sn={args.select}" if args.select else "")
        return screenshot(chromium, page, args.output.resolve(), args.render_ms, work)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("kedro-viz.png"))
    parser.add_argument("--pipeline", default="training", help="registered pipeline to show")
    parser.add_argument("--select", default="training_history",
                        help="dataset or node whose panel (and preview) is open; '' for none")  # fmt: skip
    parser.add_argument("--project", type=Path, default=REPO, help="the Kedro project")
    parser.add_argument("--env", default=None, help="Kedro environment (kedro viz run --env)")
    parser.add_argument("--kedro", default=None, help="default: kedro beside this Python")
    parser.add_argument("--chromium", default=None, help="default: chromium on PATH")
    parser.add_argument("--wait-s", type=float, default=180, help="kedro-viz start-up limit")
    parser.add_argument("--render-ms", type=int, default=15000, help="page render time")
    return parser.parse_args(argv)


def find_chromium(given: str | None) -> str | None:
    if given:
        return given if os.access(given, os.X_OK) else None
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below 49152 (kedro-viz refuses the ephemeral range)."""
    for port in random.sample(range(20000, 49000), 500):
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind(("127.0.0.1", port))
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1")


@contextlib.contextmanager
def kedro_viz(args: argparse.Namespace, work: Path) -> Iterator[str]:
    """``kedro viz run`` in its own process group (it starts a server process), stopped on exit."""
    kedro = args.kedro or str(Path(sys.executable).with_name("kedro"))
    port = free_port()
    command = [kedro, "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--env", args.env] if args.env else []
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    log = work / "kedro-viz.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(command, cwd=args.project, env=env, stdout=sink,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/main", server, args.wait_s, log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def wait_until_up(url: str, server: subprocess.Popen, limit_s: float, log: Path) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and server.poll() is None:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5):
            return
        time.sleep(1)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    raise SystemExit(f"viz_screenshot: kedro viz did not answer on {url}; its log:\n{tail}")


def quieten(path: str, content_type: str, body: bytes) -> bytes:
    """The page without the feature tour or transitions; the version without an update."""
    if content_type == "text/html":
        return body.replace(b"</head>", QUIET_HEAD, 1)
    if path.split("?")[0] == "/api/version":
        return json.dumps({**json.loads(body), "is_outdated": False}).encode()
    return body


@contextlib.contextmanager
def quiet_proxy(upstream: str) -> Iterator[str]:
    """A local HTTP server passing GET requests to ``upstream``, answers :func:`quieten`-ed."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                with urllib.request.urlopen(upstream + self.path, timeout=60) as response:
                    status, body, kind = response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                status, body, kind = error.code, error.read(), error.headers
            body = quieten(self.path, kind.get_content_type(), body)
            self.send_response(status)
            self.send_header("Content-Type", kind.get("Content-Type", "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def screenshot(chromium: str, page: str, output: Path, render_ms: int, work: Path) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={work / 'chromium'}", "--window-size=1600,1000",
        "--hide-scrollbars", f"--virtual-time-budget={render_ms}", f"--screenshot={output}", page,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if not output.is_file() or output.stat().st_size == 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        print(f"viz_screenshot: chromium wrote no screenshot of {page}:\n{tail}", file=sys.stderr)
        return 1
    print(f"viz_screenshot: {page} -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
