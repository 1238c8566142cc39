#!/usr/bin/env bash
# Data-parallel training of an ms_acmix model through msrun, one worker per device.
set -uo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/run_distribute_train.sh [options] [-- extra scripts/train.py flags]

Trains one ms_acmix model with msrun, one data-parallel worker per device (Ascend: HCCL,
GPU: NCCL, CPU: MCCL). With no options: ACmix-ResNet (small) on scikit-learn's bundled
handwritten digits (written once to data/digits), 2 CPU workers, a few minutes.

Options:
  --config FILE       YAML config (default: configs/acmix_digits.yaml)
  --model NAME        use configs/NAME.yaml (acmix_resnet26/38/50, acmix_swin_tiny/small)
  --data-dir DIR      image folder with train/ and val/ class folders (data.dir)
  --workers N         number of workers = devices used (default: all devices; CPU: 2)
  --device D          CPU | GPU | Ascend (default: detected: Ascend, else GPU, else CPU)
  --output-dir DIR    run directory (default: outputs/<config>/<date-time>)
  --resume X          continue a run: 'latest' (newest run of this config), a run
                      directory, or a checkpoints/epoch_NNNN.ckpt file
  --epochs N, --batch-size N (per device), --lr LR
  --set SECTION.KEY=VALUE   override any config key, repeatable (e.g. --set aug.mixup=0)
  --master-port P     msrun scheduler port (default: a free one)
  -h, --help          this text

Outputs in the run directory: train.log, metrics.csv/json, curves.png, config.yaml,
checkpoints/ (epoch_NNNN.ckpt model weights, *_state.ckpt optimiser, best.ckpt), msrun_logs/.
Exit status: 0 on success, 2 on bad input (config, data, options), 1 if training failed.
EOF
}

die() { echo "error: $*" >&2; exit 2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_CONFIG="$REPO/configs/acmix_digits.yaml"
CONFIG="$DEFAULT_CONFIG"
DEVICE="" WORKERS="" OUTPUT_DIR="" RESUME="" DATA_DIR="" MASTER_PORT=""
PASS=()

abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --config) need "$@"; CONFIG="$(abspath "$2")"; shift 2 ;;
    --model) need "$@"; CONFIG="$REPO/configs/$2.yaml"
      [[ -f "$CONFIG" ]] || die "--model $2: no config $CONFIG (have: $(cd "$REPO/configs" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' '))"
      shift 2 ;;
    --data-dir) need "$@"; DATA_DIR="$(abspath "$2")"; shift 2 ;;
    --workers) need "$@"; WORKERS="$2"; shift 2 ;;
    --device) need "$@"; DEVICE="$2"; shift 2 ;;
    --output-dir) need "$@"; OUTPUT_DIR="$(abspath "$2")"; shift 2 ;;
    --resume) need "$@"; RESUME="$2"
      [[ "$2" == latest || "$2" == auto ]] || RESUME="$(abspath "$2")"; shift 2 ;;
    --master-port) need "$@"; MASTER_PORT="$2"; shift 2 ;;
    --epochs|--batch-size|--lr|--set) need "$@"; PASS+=("$1" "$2"); shift 2 ;;
    --) shift; PASS+=("$@"); break ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -f "$CONFIG" ]] || die "--config $CONFIG does not exist"
cd "$REPO"

# Create or refresh .venv/ from requirements.txt (a no-op when it is current); ACMIX_NO_SETUP=1
# skips this and uses whatever python and msrun are on PATH.
if [[ "${ACMIX_NO_SETUP:-0}" != 1 ]]; then
  bash "$REPO/scripts/setup_env.sh" || die "could not set up .venv/ (see above)"
fi
# msrun starts "python" from PATH: put the project's virtual environment first.
[[ -x "$REPO/.venv/bin/python" ]] && export PATH="$REPO/.venv/bin:$PATH"
command -v msrun >/dev/null || die "msrun not found on PATH: install mindspore (pip install -r requirements.txt)"

count_devices() {
  case "$1" in
    Ascend) ls /dev/davinci[0-9]* 2>/dev/null | wc -l ;;
    GPU) command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -c '^GPU' || echo 0 ;;
    CPU) env -u OMP_NUM_THREADS nproc ;;  # nproc alone obeys OMP_NUM_THREADS
  esac
}
if [[ -z "$DEVICE" ]]; then
  if [[ "$(count_devices Ascend)" -gt 0 ]]; then DEVICE=Ascend
  elif [[ "$(count_devices GPU)" -gt 0 ]]; then DEVICE=GPU
  else DEVICE=CPU; fi
fi
case "$DEVICE" in CPU|GPU|Ascend) ;; *) die "--device $DEVICE: must be CPU, GPU or Ascend" ;; esac
NDEV="$(count_devices "$DEVICE")"
[[ "$NDEV" -gt 0 ]] || die "--device $DEVICE: no $DEVICE device found on this machine"
if [[ -z "$WORKERS" ]]; then
  if [[ "$DEVICE" == CPU ]]; then WORKERS=$(( NDEV < 2 ? NDEV : 2 )); else WORKERS="$NDEV"; fi
fi
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "--workers $WORKERS: must be a positive integer"
unit="$DEVICE devices"; [[ "$DEVICE" == CPU ]] && unit="CPU cores"
[[ "$WORKERS" -le "$NDEV" ]] || die "--workers $WORKERS is more than the $NDEV $unit of this machine"

# The default run: write the bundled digits once (no download).
if [[ "$CONFIG" == "$DEFAULT_CONFIG" && -z "$DATA_DIR" && ! -f "$REPO/data/digits/.complete" ]]; then
  echo "preparing the default dataset (scikit-learn digits) in data/digits ..."
  python scripts/prepare_digits.py --out data/digits || exit 2
fi

ARGS=(--config "$CONFIG" --device "$DEVICE" "${PASS[@]}")
[[ -n "$DATA_DIR" ]] && ARGS+=(--data-dir "$DATA_DIR")
PRE=(--workers "$WORKERS")
[[ -n "$OUTPUT_DIR" ]] && PRE+=(--output-dir "$OUTPUT_DIR")
[[ -n "$RESUME" ]] && PRE+=(--resume "$RESUME")

# Preflight: config, data, output directory and resume target, before any worker starts.
PRE_OUT="$(python scripts/train.py --preflight "${ARGS[@]}" "${PRE[@]}" 2>&1)"; rc=$?
if [[ $rc -ne 0 ]]; then  # the reason is on its "error:" line
  printf '%s\n' "$PRE_OUT" | grep -v -e '^\[WARNING\]' >&2
  exit "$rc"
fi
printf '%s\n' "$PRE_OUT" | grep -v -e '^OUTPUT_DIR=' -e '^RESUME=' -e '^\[WARNING\]'
OUTPUT_DIR="$(printf '%s\n' "$PRE_OUT" | sed -n 's/^OUTPUT_DIR=//p')"
RESUME="$(printf '%s\n' "$PRE_OUT" | sed -n 's/^RESUME=//p')"
RUN_ARGS=("${ARGS[@]}" --output-dir "$OUTPUT_DIR")
[[ -n "$RESUME" ]] && RUN_ARGS+=(--resume "$RESUME")

if [[ -z "$MASTER_PORT" ]]; then
  MASTER_PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
LOG_DIR="$OUTPUT_DIR/msrun_logs"
PID_DIR="$LOG_DIR/pids"
rm -rf "$PID_DIR"; mkdir -p "$PID_DIR"
export GLOG_v="${GLOG_v:-3}"                     # MindSpore C++ log: errors only
export MS_NODE_TIMEOUT="${MS_NODE_TIMEOUT:-15}"  # seconds before a dead worker fails the job
export ACMIX_PID_DIR="$PID_DIR"

echo "msrun: $WORKERS $DEVICE worker(s), port $MASTER_PORT, run directory $OUTPUT_DIR"
START=$(date +%s)
msrun --worker_num="$WORKERS" --local_worker_num="$WORKERS" --master_port="$MASTER_PORT" \
  --log_dir="$LOG_DIR" --join=True --tail_worker_log=0 \
  scripts/train.py "${RUN_ARGS[@]}" &
MSRUN_PID=$!

kill_leftovers() {  # workers and scheduler registered their pids; end any still alive
  local f pid
  for f in "$PID_DIR"/*; do
    [[ -f "$f" ]] || continue
    pid="$(basename "$f")"
    if kill -0 "$pid" 2>/dev/null && grep -q "scripts/train.py" "/proc/$pid/cmdline" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
}
on_signal() {
  echo "interrupted: stopping msrun and its workers" >&2
  kill -INT "$MSRUN_PID" 2>/dev/null
  sleep 2; kill -9 "$MSRUN_PID" 2>/dev/null; kill_leftovers
  exit 130
}
trap on_signal INT TERM HUP

wait "$MSRUN_PID"; rc=$?
kill_leftovers
ELAPSED=$(( $(date +%s) - START ))
if [[ $rc -ne 0 ]]; then
  echo "training failed after ${ELAPSED}s (msrun exit $rc). Worker errors:" >&2
  grep -h '^error:' "$LOG_DIR"/worker_*.log 2>/dev/null | sort -u >&2
  echo "full logs: $LOG_DIR" >&2
  exit 1
fi
echo "done in ${ELAPSED}s (plus preflight); run directory: $OUTPUT_DIR"
