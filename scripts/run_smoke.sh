#!/usr/bin/env bash
# Set up .venv/ (if needed) and forward every model in both frameworks: bash scripts/run_smoke.sh [--full] [--graph]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh"
export GLOG_v=${GLOG_v:-3}
exec "$root/.venv/bin/python" "$root/scripts/smoke.py" "$@"
