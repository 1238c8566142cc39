#!/usr/bin/env bash
# Set up .venv/ (if needed) and run the test suite: bash scripts/run_tests.sh [pytest args]
# Default: tests/ and parity/ under the 'ci' Hypothesis profile. Long runs: --run-slow.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export GLOG_v=${GLOG_v:-3}  # MindSpore: errors only
if [ $# -eq 0 ]; then set -- tests parity; fi
exec python -m pytest "$@"
