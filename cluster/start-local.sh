#!/usr/bin/env bash
# Start a Ray head node on this machine, token authentication on, dashboard and job API on
# 127.0.0.1 unless --host says otherwise. Prints the address to submit to and the token file.
#
#   cluster/start-local.sh [--port 6379] [--dashboard-port 8265] [--num-cpus N] [--num-gpus G]
#                          [--host 127.0.0.1] [--state DIR] [--temp-dir DIR]
#
# The head runs in its own process group (setsid); cluster/stop-local.sh stops exactly that group.
# Another machine joins with cluster/start-worker.sh HEAD_IP:PORT (same token file copied there).
set -euo pipefail
PORT=6379; DPORT=8265; HOST=127.0.0.1; NUM_CPUS=""; NUM_GPUS=""; TEMP_DIR=""
STATE=${CRNN_CLUSTER_STATE:-$HOME/.crnn/cluster}
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --dashboard-port) DPORT=$2; shift 2 ;;
    --host) HOST=$2; shift 2 ;;
    --num-cpus) NUM_CPUS=$2; shift 2 ;;
    --num-gpus) NUM_GPUS=$2; shift 2 ;;
    --state) STATE=$2; shift 2 ;;
    --temp-dir) TEMP_DIR=$2; shift 2 ;;
    *) echo "start-local.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
mkdir -p "$STATE"
# Ray's session files, sockets included: a short path (AF_UNIX socket paths stop at 107 bytes) of
# this head's own, not the machine-wide /tmp/ray that other Ray instances use.
TEMP_DIR=${TEMP_DIR:-/tmp/crnn-ray-$PORT}
if [ -f "$STATE/head.pid" ] && kill -0 "$(cat "$STATE/head.pid")" 2>/dev/null; then
  echo "start-local.sh: a head started from $STATE is running (pid $(cat "$STATE/head.pid")); stop it first" >&2
  exit 2
fi
TOKEN_FILE="$STATE/auth_token"
if [ ! -s "$TOKEN_FILE" ]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > "$TOKEN_FILE")
fi
export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$TOKEN_FILE"
if [ "$HOST" = "127.0.0.1" ]; then
  # single machine: keep every Ray listener on loopback (Ray otherwise picks the primary interface)
  export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
fi
ARGS=(--head --block --port="$PORT" --node-ip-address="$HOST" --dashboard-host="$HOST" --dashboard-port="$DPORT"
      --temp-dir="$TEMP_DIR")
[ -n "$NUM_CPUS" ] && ARGS+=(--num-cpus="$NUM_CPUS")
[ -n "$NUM_GPUS" ] && ARGS+=(--num-gpus="$NUM_GPUS")
setsid ray start "${ARGS[@]}" > "$STATE/head.log" 2>&1 < /dev/null &
echo $! > "$STATE/head.pid"
echo "$TEMP_DIR" > "$STATE/temp_dir"
for _ in $(seq 1 120); do
  code=$(python3 - "$HOST" "$DPORT" "$TOKEN_FILE" <<'PY' || true
import sys, urllib.request
host, port, token = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().strip()
req = urllib.request.Request(f"http://{host}:{port}/api/version", headers={"Authorization": f"Bearer {token}"})
try:
    print(urllib.request.urlopen(req, timeout=2).status)
except Exception:
    print(0)
PY
)
  [ "$code" = "200" ] && break
  if ! kill -0 "$(cat "$STATE/head.pid")" 2>/dev/null; then
    echo "start-local.sh: ray start exited; see $STATE/head.log" >&2; exit 1
  fi
  sleep 1
done
[ "$code" = "200" ] || { echo "start-local.sh: the dashboard did not answer on $HOST:$DPORT; see $STATE/head.log" >&2; exit 1; }
# The dashboard answers before the head's job agent is up ("No available agent to submit job"):
# wait until a no-op job is accepted, so that the first real submission goes through.
for i in $(seq 1 60); do
  if ray job submit --address "http://$HOST:$DPORT" --submission-id "start-local-ready-$i-$$" --no-wait -- true \
       > "$STATE/ready.log" 2>&1; then
    ready=1; break
  fi
  grep -q "No available agent" "$STATE/ready.log" || { echo "start-local.sh: job API check failed; see $STATE/ready.log" >&2; exit 1; }
  sleep 2
done
[ -n "${ready:-}" ] || { echo "start-local.sh: the job agent did not come up in 120 s; see $STATE/head.log" >&2; exit 1; }
cat <<MSG
Ray head up (pid $(cat "$STATE/head.pid"), process group of its own), token authentication on.
  cluster address  $HOST:$PORT          (workers: cluster/start-worker.sh $HOST:$PORT)
  job API          http://$HOST:$DPORT   (dashboard too; bound to $HOST)
  token file       $TOKEN_FILE
Submit:  RAY_AUTH_TOKEN_PATH=$TOKEN_FILE crnn submit --address http://$HOST:$DPORT --wait -- tune --data DIR --name EXP
Stop:    cluster/stop-local.sh
MSG
