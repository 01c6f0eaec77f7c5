#!/usr/bin/env bash
# The README's main-job command: installs vlagent, runs one episode on the embedded default (the synthetic
# login app driven by the scripted oracle policy), then one episode of the shipped nano Qwen2-VL
# (--model vlagent-nano, trained on the built-in apps only) on a phone-sized confirm dialog, and writes the
# trajectories and an HTML report under runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/vlagent run --out runs/demo "$@"
.venv/bin/vlagent run --model vlagent-nano --env synthetic:dialog --env-kwargs '{"size": "phone"}' --out runs/demo
.venv/bin/vlagent report runs/demo
