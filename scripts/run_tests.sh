#!/usr/bin/env bash
# Set up .venv/ (if needed) and run the test suite: bash scripts/run_tests.sh [pytest args]
# Default: tests/ and parity/ under the 'ci' Hypothesis profile. Long runs: --run-slow.
# Prints the branch coverage of the product packages, subprocesses included (pyproject.toml
# [tool.coverage.*]); --no-cov turns it off.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh"
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export GLOG_v=${GLOG_v:-3}  # MindSpore: errors only
if [ $# -eq 0 ]; then set -- tests parity; fi
# one data file per process beside this one, whatever the process's working directory
export COVERAGE_FILE=${COVERAGE_FILE:-$root/.coverage}
exec python -m pytest --cov --cov-report=term:skip-covered "$@"
