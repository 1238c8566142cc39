#!/usr/bin/env bash
# Mutation testing against the default test run: bash scripts/mutation.sh [--help] [MODULE...]
# A slow run, not CI (docs/parity.md, "Mutation testing"). Installs the mutation extra
# (Cosmic Ray, pinned in requirements.txt) into .venv on first use; runs at nice 10.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py="$root/.venv/bin/python"
if [ ! -x "$py" ]; then
  bash "$root/scripts/setup_env.sh"
fi
if ! "$py" -c 'import cosmic_ray' 2>/dev/null; then
  echo "mutation: installing the [mutation] extra (Cosmic Ray) into .venv" >&2
  "$py" -m pip install --quiet --disable-pip-version-check -c "$root/requirements.txt" \
    --no-build-isolation -e "$root[torch,onnx,test,mutation]"
fi
export GLOG_v=${GLOG_v:-3}  # MindSpore: errors only
export PYTHONDONTWRITEBYTECODE=1
exec nice -n "${MUTATION_NICE:-10}" "$py" "$root/scripts/mutation_driver.py" "$@"
