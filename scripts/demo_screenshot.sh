#!/usr/bin/env bash
# A screenshot of `img2img demo` translating one example, taken with headless Chromium:
#   1. starts `img2img demo` on a free port of 127.0.0.1 with the options given after OUT.png;
#   2. opens /?example=<name> (the page translates that example as it opens) and saves OUT.png;
#   3. stops the server.
#
#   scripts/demo_screenshot.sh docs/demo.png                       # champion, first example
#   scripts/demo_screenshot.sh shot.png --model data/06_models/generator.pt2
#   DEMO_EXAMPLE=facade_00024 scripts/demo_screenshot.sh shot.png --examples data/05_model_input/val_tensors
#
# Run it where `img2img demo` would run (the project root: data/, mlflow.db). Environment:
# DEMO_EXAMPLE (default: the first example listed), IMG2IMG (default: `img2img` on PATH, else
# .venv/bin/img2img of this checkout), CHROMIUM (default: chromium, chromium-browser or
# google-chrome on PATH; Debian: `apt-get install chromium`), DEMO_WINDOW (default 1200,700).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT.png [img2img demo options]" >&2
  exit 2
fi
out="$1"
shift
repo="$(cd "$(dirname "$0")/.." && pwd)"
img2img="${IMG2IMG:-$(command -v img2img || echo "$repo/.venv/bin/img2img")}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$chromium" ]; then
  echo "no Chromium found: install it (apt-get install chromium) or set CHROMIUM" >&2
  exit 1
fi
python="$(dirname "$img2img")/python"
[ -x "$python" ] || python=python3
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
work="$(mktemp -d)"
"$img2img" demo --port "$port" "$@" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# The model loads before the server answers: wait for /health, or report why the server stopped.
for _ in $(seq 240); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "img2img demo stopped:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  "$python" -c "import urllib.request; urllib.request.urlopen('$url/health', timeout=2)" \
    2>/dev/null && break
  sleep 0.5
done

example="${DEMO_EXAMPLE:-$("$python" -c "
import json, sys, urllib.request
examples = json.load(urllib.request.urlopen('$url/examples'))
if not examples:
    sys.exit('the server lists no examples: pass --examples DIR')
print(examples[0]['name'])
")}"
query="$("$python" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$example")"
mkdir -p "$(dirname "$out")"
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --window-size="${DEMO_WINDOW:-1200,700}" \
  --virtual-time-budget=10000 --screenshot="$out" "$url/?example=$query" >"$work/chromium.log" 2>&1 || {
  cat "$work/chromium.log" >&2
  exit 1
}
[ -s "$out" ] || { echo "Chromium wrote no screenshot" >&2; cat "$work/chromium.log" >&2; exit 1; }
echo "screenshot of $url/?example=$query -> $out"
