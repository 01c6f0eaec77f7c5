#!/usr/bin/env bash
# GPU checks for the model path (bench/gpu_check.py): bf16 on CUDA, batched == one-at-a-time, device-side
# preprocessing vs the exact path, vision cache on == off, a step-time breakdown. PASS/FAIL per check.
#
# Run on a machine with a CUDA GPU, from the repository root:  bash bench/gpu_check.sh
#   bash bench/gpu_check.sh --cpu   the same checks on the CPU with .venv (a dry run where no GPU is lent)
# Uses .venv when its torch sees CUDA; else, when the system python has a CUDA torch (>= 2.4, the floor in
# pyproject.toml, so pip keeps it), a venv over it (.venv-gpu beside a CPU-only .venv) filled by
# scripts/install.sh with VLAGENT_TORCH=skip. Nothing else is downloaded: the tiny model is built on the
# spot. The checks are bounded to 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--cpu" ]; then
  [ -x .venv/bin/python ] || { echo "FAIL venv: no .venv (run scripts/install.sh)"; exit 1; }
  exec timeout 300 .venv/bin/python bench/gpu_check.py --device cpu
fi
cuda_ok() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
torch_new_enough() {
  "$1" -c 'import sys, torch; v = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(v < (2, 4))'
}
SYS=${PYTHON:-python3}
if [ -x .venv/bin/python ] && cuda_ok .venv/bin/python; then
  VENV=.venv
elif cuda_ok "$SYS"; then
  if ! torch_new_enough "$SYS"; then
    echo "FAIL torch: the system torch is older than 2.4; pip would replace it with a download (install a newer CUDA torch)"
    exit 1
  fi
  VENV=.venv
  [ -x .venv/bin/python ] && VENV=.venv-gpu  # a CPU-only .venv stays as it is
  [ -x "$VENV/bin/python" ] || "$SYS" -m venv --system-site-packages "$VENV"
  if ! VLAGENT_TORCH=skip VLAGENT_VENV="$VENV" PYTHON="$SYS" bash scripts/install.sh; then
    echo "FAIL install: scripts/install.sh could not install vlagent into $VENV (no network to the package index?)"
    exit 1
  fi
  cuda_ok "$VENV/bin/python" || { echo "FAIL cuda: $VENV's torch does not see the GPU after the install"; exit 1; }
else
  echo "FAIL cuda: no python here has a torch that sees a CUDA GPU (install a CUDA torch first, see README)"
  exit 1
fi
PY=$VENV/bin/python
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)'
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null || true
exec timeout 300 "$PY" bench/gpu_check.py
