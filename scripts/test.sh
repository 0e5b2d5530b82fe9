#!/usr/bin/env bash
# Set everything up and run every test: unit, integration, notebooks (nbval) and
# real-browser tests (JupyterLab in headless Chromium). Extra arguments go to pytest;
# --soak runs the long versions of the concurrency, kill and fuzz tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# Tests build their own demo store, never the user's.
export GEOLABEL_DEMO_STORE="$PWD/test-artifacts/demo/demo.sqlite"
# Independent tests run on a worker per core (pytest-xdist), the slow ones first.
exec .venv/bin/python -m pytest --nbval-lax -n auto --maxprocesses=4 tests notebooks "$@"
