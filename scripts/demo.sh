#!/usr/bin/env bash
# The README's main-job command: installs vlagent, runs one episode on the embedded default (a synthetic
# app driven by the scripted oracle policy, since no model that runs on a CPU ships with vlagent) and
# writes the trajectory and an HTML report under runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/vlagent run --out runs/demo "$@"
.venv/bin/vlagent report runs/demo
