#!/usr/bin/env bash
# Join this machine to a running head as a worker node, with the head's token.
#   cluster/start-worker.sh HEAD_IP:PORT [--token-file FILE] [--num-cpus N] [--num-gpus G] [--state DIR]
#                           [--node-ip-address IP] [--temp-dir DIR]
# Copy the head's token file here first (scp; it is a secret). Stop with cluster/stop-local.sh --state DIR.
# --node-ip-address: the address the other nodes reach this one at (default: Ray's guess);
# --temp-dir: this node's session files (several nodes on one machine need one each).
# Anything after -- goes to `ray start` as it is (e.g. ports for several nodes on one host).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: start-worker.sh HEAD_IP:PORT [--token-file FILE] [--num-cpus N] [--num-gpus G] [--state DIR] [--node-ip-address IP] [--temp-dir DIR]" >&2; exit 2; }
ADDRESS=$1; shift
STATE=${CRNN_CLUSTER_STATE:-$HOME/.crnn/worker}
TOKEN_FILE=""; TEMP_DIR=""; EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --token-file) TOKEN_FILE=$2; shift 2 ;;
    --num-cpus) EXTRA+=(--num-cpus="$2"); shift 2 ;;
    --num-gpus) EXTRA+=(--num-gpus="$2"); shift 2 ;;
    --state) STATE=$2; shift 2 ;;
    --node-ip-address) EXTRA+=(--node-ip-address="$2"); shift 2 ;;
    --temp-dir) EXTRA+=(--temp-dir="$2"); TEMP_DIR=$2; shift 2 ;;
    --) shift; EXTRA+=("$@"); break ;;
    *) echo "start-worker.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$STATE"
if [ -n "$TEMP_DIR" ]; then echo "$TEMP_DIR" > "$STATE/temp_dir"; fi  # stop-local.sh removes it
TOKEN_FILE=${TOKEN_FILE:-$HOME/.crnn/cluster/auth_token}
[ -s "$TOKEN_FILE" ] || { echo "start-worker.sh: no token at $TOKEN_FILE; copy the head's token file here" >&2; exit 2; }
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$TOKEN_FILE"
setsid ray start --address="$ADDRESS" --block "${EXTRA[@]}" > "$STATE/head.log" 2>&1 < /dev/null &
echo $! > "$STATE/head.pid"
echo "worker joining $ADDRESS (pid $(cat "$STATE/head.pid")); log: $STATE/head.log; stop: cluster/stop-local.sh --state $STATE"
