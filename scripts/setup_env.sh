#!/usr/bin/env bash
# Create .venv/ at the repository root and install requirements.txt into it.
# Idempotent: does nothing when .venv already holds exactly these requirements.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 11))'; then
  echo "setup_env: MindSpore 2.10 wheels need Python 3.9-3.11; $py is $("$py" --version 2>&1)." \
       "Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
echo "setup_env: installing requirements.txt into $venv (MindSpore and torch: a few minutes)"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt"
echo "$want" > "$stamp"
echo "setup_env: ready"
