#!/usr/bin/env bash
# Data-parallel training of an ms_acmix model through msrun, one worker per device.
set -uo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/run_distribute_train.sh [options] [-- extra scripts/train.py flags]

Trains one ms_acmix model with msrun, one data-parallel worker per device (Ascend: HCCL,
GPU: NCCL, CPU: MCCL). With no options: ACmix-ResNet (small) on scikit-learn's bundled
handwritten digits (written once to data/digits), 2 CPU workers, a few minutes.

Several machines: run the same command on each, with --nodes N --node-rank R (0 .. N-1)
--master-addr <node 0's address> --master-port P --output-dir DIR (a directory every node
sees at the same path, for resume). The global batch is nodes x workers x batch size (x
train.accumulation_steps); the learning rate scales with it (optimizer.lr_scale_batch).
If one node dies, the others stop within MS_NODE_TIMEOUT seconds (default 30) with an error.

Options:
  --config FILE       YAML config (default: ms_acmix/configs/acmix_digits.yaml)
  --model NAME        use ms_acmix/configs/NAME.yaml (acmix_resnet26/38/50, acmix_swin_tiny/small)
  --data-dir DIR      image folder with train/ and val/ class folders (data.dir)
  --workers N         workers on this machine = devices used (default: all devices; CPU: 2)
  --device D          CPU | GPU | Ascend (default: detected: Ascend, else GPU, else CPU)
  --output-dir DIR    run directory (default: outputs/<config>/<date-time>)
  --resume X          continue a run: 'latest' (newest run of this config), a run
                      directory, or a checkpoints/epoch_NNNN.ckpt file
  --epochs N, --batch-size N (per device), --lr LR
  --set SECTION.KEY=VALUE   override any config key, repeatable (e.g. --set aug.mixup=0)
  --pretrained FILE   fine-tune from a weights file (official .pth/.pth.tar, .ckpt, safetensors);
                      a classifier of another size is re-initialised
  --nodes N           machines taking part (default 1); every node runs this command
  --node-rank R       this machine's index, 0 .. N-1 (node 0 hosts the msrun scheduler)
  --master-addr HOST  node 0's address (default 127.0.0.1; required with --nodes > 1)
  --master-port P     msrun scheduler port (default: a free one; with --nodes > 1: 8118)
  -h, --help          this text

Outputs in the run directory: train.log, metrics.csv/json, curves.png, config.yaml,
checkpoints/ (epoch_NNNN.ckpt model weights, *_state.ckpt optimiser, best.ckpt), msrun_logs/.
Exit status: 0 on success, 2 on bad input (config, data, options), 1 if training failed.
EOF
}

die() { echo "error: $*" >&2; exit 2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_CONFIG="$REPO/ms_acmix/configs/acmix_digits.yaml"
CONFIG="$DEFAULT_CONFIG"
DEVICE="" WORKERS="" OUTPUT_DIR="" RESUME="" DATA_DIR="" MASTER_PORT=""
NODES=1 NODE_RANK=0 MASTER_ADDR=""
PASS=()

abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
need() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --config) need "$@"; CONFIG="$(abspath "$2")"; shift 2 ;;
    --model) need "$@"; CONFIG="$REPO/ms_acmix/configs/$2.yaml"
      [[ -f "$CONFIG" ]] || die "--model $2: no config $CONFIG (have: $(cd "$REPO/ms_acmix/configs" && ls *.yaml | sed 's/\.yaml$//' | tr '\n' ' '))"
      shift 2 ;;
    --data-dir) need "$@"; DATA_DIR="$(abspath "$2")"; shift 2 ;;
    --workers) need "$@"; WORKERS="$2"; shift 2 ;;
    --device) need "$@"; DEVICE="$2"; shift 2 ;;
    --output-dir) need "$@"; OUTPUT_DIR="$(abspath "$2")"; shift 2 ;;
    --resume) need "$@"; RESUME="$2"
      [[ "$2" == latest || "$2" == auto ]] || RESUME="$(abspath "$2")"; shift 2 ;;
    --master-port) need "$@"; MASTER_PORT="$2"; shift 2 ;;
    --master-addr) need "$@"; MASTER_ADDR="$2"; shift 2 ;;
    --nodes) need "$@"; NODES="$2"; shift 2 ;;
    --node-rank) need "$@"; NODE_RANK="$2"; shift 2 ;;
    --pretrained) need "$@"; PASS+=(--pretrained "$(abspath "$2")"); shift 2 ;;
    --epochs|--batch-size|--lr|--set) need "$@"; PASS+=("$1" "$2"); shift 2 ;;
    --) shift; PASS+=("$@"); break ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -f "$CONFIG" ]] || die "--config $CONFIG does not exist"
[[ "$NODES" =~ ^[1-9][0-9]*$ ]] || die "--nodes $NODES: must be a positive integer"
[[ "$NODES" -gt 1 || "$NODE_RANK" == 0 ]] || die "--node-rank $NODE_RANK needs --nodes > 1"
[[ "$NODE_RANK" =~ ^[0-9]+$ && "$NODE_RANK" -lt "$NODES" ]] \
  || die "--node-rank $NODE_RANK: must be an integer from 0 to $(( NODES - 1 )) (--nodes $NODES)"
if [[ -n "$MASTER_PORT" ]]; then
  [[ "$MASTER_PORT" =~ ^[0-9]+$ && "$MASTER_PORT" -ge 1024 && "$MASTER_PORT" -le 65535 ]] \
    || die "--master-port $MASTER_PORT: must be a port number from 1024 to 65535"
fi
if [[ "$NODES" -gt 1 ]]; then
  [[ -n "$MASTER_ADDR" ]] || die "--nodes $NODES needs --master-addr (node 0's address, the same on every node)"
  [[ -n "$OUTPUT_DIR" ]] || die "--nodes $NODES needs --output-dir (the same directory on every node; shared storage for --resume)"
  MASTER_PORT="${MASTER_PORT:-8118}"
fi
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
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
TOTAL_WORKERS=$(( NODES * WORKERS ))
PRE=(--workers "$TOTAL_WORKERS")
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
[[ "$NODES" -gt 1 ]] && LOG_DIR="$OUTPUT_DIR/msrun_logs/node$NODE_RANK"  # one folder per node
PID_DIR="$LOG_DIR/pids"
rm -rf "$PID_DIR"; mkdir -p "$PID_DIR"
export GLOG_v="${GLOG_v:-3}"                     # MindSpore C++ log: errors only
# seconds before a dead worker fails the job (another node's death is seen only this way)
export MS_NODE_TIMEOUT="${MS_NODE_TIMEOUT:-$([[ "$NODES" -gt 1 ]] && echo 30 || echo 15)}"
export ACMIX_PID_DIR="$PID_DIR" ACMIX_NODE_RANK="$NODE_RANK" ACMIX_LOCAL_WORKERS="$WORKERS"

if [[ "$NODES" -gt 1 ]]; then
  echo "msrun: node $NODE_RANK of $NODES, $WORKERS $DEVICE worker(s) here ($TOTAL_WORKERS in all)," \
    "scheduler $MASTER_ADDR:$MASTER_PORT, run directory $OUTPUT_DIR"
else
  echo "msrun: $WORKERS $DEVICE worker(s), port $MASTER_PORT, run directory $OUTPUT_DIR"
fi
START=$(date +%s)
msrun --worker_num="$TOTAL_WORKERS" --local_worker_num="$WORKERS" --master_addr="$MASTER_ADDR" \
  --master_port="$MASTER_PORT" --node_rank="$NODE_RANK" \
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
  ERRORS="$(grep -h '^error:' "$LOG_DIR"/worker_*.log 2>/dev/null | sort -u)"
  # ranks the scheduler (node 0) saw go silent: a worker or a whole node died
  LOST="$(grep -ho 'The node: [0-9]* is timed out' "$LOG_DIR"/scheduler.log 2>/dev/null \
    | grep -o '[0-9][0-9]*' | sort -un)"
  for r in $LOST; do
    echo "error: worker rank $r (node $(( r / WORKERS ))) stopped responding for" \
      "MS_NODE_TIMEOUT=${MS_NODE_TIMEOUT}s: its process or machine died, or the network failed;" \
      "this node's workers were stopped" >&2
  done
  if [[ -z "$LOST" && -z "$ERRORS" && "$NODES" -gt 1 ]]; then
    echo "error: this node's workers stopped without an error of their own: another node died" \
      "or the network failed (the scheduler runs on node 0, $MASTER_ADDR:$MASTER_PORT)" >&2
  fi
  [[ -n "$ERRORS" ]] && printf '%s\n' "$ERRORS" >&2
  echo "full logs: $LOG_DIR" >&2
  exit 1
fi
echo "done in ${ELAPSED}s (plus preflight); run directory: $OUTPUT_DIR"
