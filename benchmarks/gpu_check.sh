#!/usr/bin/env bash
# GPU check: the CUDA paths once on a real GPU, in under 8 minutes on one GPU.
#   1. the machine: nvidia-smi, Python, torch, CUDA, cuDNN, the GPUs, ONNX Runtime's providers;
#   2. refuses (exit 2, "no CUDA device") where torch sees no CUDA device;
#   3. the tests marked gpu: pytest -m gpu tests/gpu (AMP bf16/fp16, channels-last, torch.compile,
#      pairs on the GPU, SyncBatchNorm, nccl DDP with >= 2 GPUs, translation, ONNX Runtime CUDA);
#   4. img/s of the conf/gpu training recipe (benchmarks/train_speed.py --env gpu), also at batch 16;
#   5. img/s of translation on the GPU (benchmarks/translate_speed.py --device cuda --env gpu).
# Every step has a time limit; the exit status is non-zero when any step failed or timed out.
# Output: the terminal, and $OUT/gpu_check.log when OUT is set.
#
# On a fresh GPU machine (x86_64 with an NVIDIA driver, Python 3.11, network):
#     git clone <this repository> img2img && cd img2img
#     benchmarks/gpu_check.sh
# creates .venv with `make install` when it is missing (python3.11 -m venv .venv &&
# .venv/bin/pip install -e ".[dev]"; torch==2.14.1 from PyPI is a CUDA build on x86_64) and says
# how long that took; later runs reuse it. With a Python that already has torch, numpy, pillow,
# pyyaml, onnx, onnxruntime, pytest and pytest-timeout (Kedro, MLflow and DVC are not needed),
# e.g. on a GPU image without network:
#     GPU_CHECK_PYTHON=python3 benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export KEDRO_DISABLE_TELEMETRY=true DO_NOT_TRACK=1

section() { printf '\n===== %s =====\n' "$*"; }

# The interpreter: GPU_CHECK_PYTHON, else .venv (made by `make install` when missing)
python_for_check() {
  if [[ -n "${GPU_CHECK_PYTHON:-}" ]]; then
    echo "$GPU_CHECK_PYTHON"
    return
  fi
  if [[ ! -f .venv/.installed ]]; then
    local python=${PYTHON:-python3.11} start=$SECONDS
    if ! command -v "$python" >/dev/null; then
      echo "gpu_check: $python not found: the project needs Python 3.11 for .venv; or set" \
        "GPU_CHECK_PYTHON to a Python that has torch (see the top of $0)" >&2
      return 1
    fi
    echo "gpu_check: no .venv here: make install (minutes: torch and its CUDA libraries)" >&2
    make install PYTHON="$python" >&2 || return 1
    echo "gpu_check: make install took $((SECONDS - start)) s" >&2
  fi
  echo .venv/bin/python
}

# The machine as torch sees it; exit status 3 when torch sees no CUDA device
machine() {
  if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "nvidia-smi: not found"; fi
  "$PY" - <<'EOF'
import platform

import torch

print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}")
print(f"CUDA available: {torch.cuda.is_available()}, devices: {torch.cuda.device_count()}")
for index in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(index)
    print(f"  cuda:{index}: {p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability "
          f"{p.major}.{p.minor}, {p.multi_processor_count} SMs")
if torch.cuda.is_available():
    print(f"bf16 supported: {torch.cuda.is_bf16_supported()}")
try:
    import onnxruntime

    providers = ", ".join(onnxruntime.get_available_providers())
    print(f"onnxruntime {onnxruntime.__version__}: {providers}")
except ImportError as exc:
    print(f"onnxruntime: not importable ({exc})")
raise SystemExit(0 if torch.cuda.is_available() else 3)
EOF
}

# step NAME SECONDS COMMAND...: run COMMAND for at most SECONDS; a failure is noted in `failures`
step() {
  local name=$1 limit=$2 start=$SECONDS rc
  shift 2
  section "$name (at most $limit s)"
  timeout --kill-after=5 "$limit" "$@"
  rc=$?
  if ((rc == 124 || rc == 137)); then
    failures+=("$name: timed out after $((SECONDS - start)) s")
  elif ((rc != 0)); then
    failures+=("$name: exit status $rc")
  fi
  echo "----- $name: exit status $rc after $((SECONDS - start)) s"
}

main() {
  local started=$SECONDS tests_log
  section "interpreter"
  PY=$(python_for_check) || return 1
  echo "python: $PY"
  section "machine"
  machine
  case $? in
    0) ;;
    3)
      echo "gpu_check: no CUDA device: torch.cuda.is_available() is False for $PY; run this on" \
        "a machine with an NVIDIA GPU and its driver"
      return 2
      ;;
    *)
      echo "gpu_check: $PY could not describe the machine (is torch installed?)"
      return 1
      ;;
  esac
  failures=()
  tests_log=$(mktemp)
  # -o timeout: pytest-timeout's limit per test (torch.compile's test sets its own)
  step "tests marked gpu" 280 bash -c 'set -o pipefail; "$0" -m pytest -m gpu tests/gpu -q -rs \
    -p no:cacheprovider -o timeout=90 2>&1 | tee "$1"' "$PY" "$tests_log"
  if grep -q "no CUDA device" "$tests_log"; then
    failures+=("tests marked gpu: skipped for want of CUDA, though torch sees a CUDA device")
  fi
  rm -f "$tests_log"
  step "training speed, conf/gpu recipe" 60 \
    "$PY" benchmarks/train_speed.py --env gpu --rounds 1 --warmup 10 --steps 50
  step "training speed, conf/gpu recipe at batch 16" 40 \
    "$PY" benchmarks/train_speed.py --env gpu --rounds 1 --warmup 5 --steps 20 \
    --override '{"batch_size": 16}'
  step "translation speed on the GPU" 50 \
    "$PY" benchmarks/translate_speed.py --device cuda --env gpu --sizes 256,512 --batches 1,8 \
    --rounds 5
  section "summary ($((SECONDS - started)) s)"
  if ((${#failures[@]})); then
    printf 'FAILED: %s\n' "${failures[@]}"
    return 1
  fi
  echo "all steps passed"
}

if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  main 2>&1 | tee "$OUT/gpu_check.log"
  exit "${PIPESTATUS[0]}"
fi
main
