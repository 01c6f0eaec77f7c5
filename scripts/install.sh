#!/usr/bin/env bash
# Creates .venv and installs vlagent with everything its envs and tests use.
# torch==2.13.0 is pinned first so pip takes the CPU build (a bare `torch` can pull a multi-GB CUDA build);
# on a GPU machine install your CUDA torch before running this and set VLAGENT_TORCH=skip.
# VLAGENT_VENV names another folder than .venv (bench/gpu_check.sh uses one beside a CPU-only .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VLAGENT_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if [ "${VLAGENT_TORCH:-}" != "skip" ]; then
  "$VENV/bin/python" -m pip install -q "torch==${VLAGENT_TORCH:-2.13.0}"
fi
"$VENV/bin/python" -m pip install -q -e ".[test]"
