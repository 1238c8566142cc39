#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: PyTorch exactness and benchmark rows on CUDA,
# MindSpore on the GPU where it is importable; one Markdown report (its path is printed).
# Runs with the machine's own python3 (or $PYTHON) and the repository on PYTHONPATH: no
# .venv, no setup_env.sh, no MindSpore needed. Without a GPU: one line, exit 2.
# Options: bash scripts/device_check.sh --help
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" "$ROOT/ms_acmix/cli/device_check.py" "$@"
