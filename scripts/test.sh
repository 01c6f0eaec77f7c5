#!/usr/bin/env bash
# The README's test command: installs the system programs and the Python environment, then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/install.sh
export MINIWOB_CHROME_BINARY=${MINIWOB_CHROME_BINARY:-/usr/lib/chromium/chromium}
export MINIWOB_CHROMEDRIVER=${MINIWOB_CHROMEDRIVER:-/usr/bin/chromedriver}
.venv/bin/ruff check actions agent envs model prompts tests bench
.venv/bin/python -m pytest -q tests "$@"
