#!/usr/bin/env bash
# GPU checks for the model path (bench/gpu_check.py): bf16 on CUDA, batched == one-at-a-time, device-side
# preprocessing vs the exact path, vision cache on == off, a step-time breakdown. PASS/FAIL per check.
#
# Run on a machine with a CUDA GPU, from the repository root:  bash bench/gpu_check.sh
# Uses .venv when it exists and its torch sees CUDA; otherwise creates it the way scripts/install.sh does
# (VLAGENT_TORCH=skip when the system python already has a CUDA torch). Nothing else is downloaded: the
# tiny model is built on the spot. Bounded to 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda_ok() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
if [ -x .venv/bin/python ] && cuda_ok .venv/bin/python; then
  PY=.venv/bin/python
elif cuda_ok "${PYTHON:-python3}"; then
  # A CUDA torch is installed system-wide: a venv that sees it, then vlagent as install.sh installs it.
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv --system-site-packages .venv
  VLAGENT_TORCH=skip bash scripts/install.sh
  PY=.venv/bin/python
else
  echo "FAIL cuda: no python here has a torch that sees a CUDA GPU (install a CUDA torch first, see README)"
  exit 1
fi
"$PY" -c 'import torch; print("python", __import__("sys").version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)'
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null || true
exec timeout 300 "$PY" bench/gpu_check.py
