#!/usr/bin/env bash
# Set everything up, build the synthetic demo store and open the quickstart in JupyterLab.
# Extra arguments go to `geolabel demo` (for example --no-browser on a server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/geolabel demo "$@"
