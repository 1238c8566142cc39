#!/usr/bin/env bash
# Create .venv/ at the repository root and install the project into it, editable, with the
# exact versions of requirements.txt (the constraints file) and every extra the repository's
# commands and tests need. Idempotent: does nothing when .venv already holds exactly this set-up.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.setup.sha256"
# The compiled attention kernel (setup.py) is part of the install: its sources count too.
want=$(cat "$root/requirements.txt" "$root/pyproject.toml" "$root/setup.py" \
           "$root"/torch_ref/models/_csrc/* "$0" | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 11))'; then
  echo "setup_env: MindSpore 2.10 wheels need Python 3.9-3.11; $py is $("$py" --version 2>&1)." \
       "Set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
echo "setup_env: installing the project and requirements.txt into $venv (MindSpore and torch:" \
     "a few minutes)"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$root/requirements.txt")
"${pip[@]}" setuptools
"${pip[@]}" --no-build-isolation -e "$root[torch,onnx,test,dev]"
echo "$want" > "$stamp"
echo "setup_env: ready"
