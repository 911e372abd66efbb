#!/usr/bin/env bash
# Stop the Ray node that start-local.sh (or start-worker.sh) started: its own process group, nothing
# else (never `ray stop`, which would stop every Ray on the machine).
#   cluster/stop-local.sh [--state DIR]
set -euo pipefail
STATE=${CRNN_CLUSTER_STATE:-$HOME/.crnn/cluster}
[ "${1:-}" = "--state" ] && STATE=$2
PID_FILE="$STATE/head.pid"
[ -f "$PID_FILE" ] || { echo "stop-local.sh: nothing started from $STATE" >&2; exit 0; }
PGID=$(cat "$PID_FILE")
if kill -0 -- "-$PGID" 2>/dev/null; then
  kill -TERM -- "-$PGID" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 1; done
  # some Ray agents ignore SIGTERM while draining: finish the group
  kill -KILL -- "-$PGID" 2>/dev/null || true
fi
rm -f "$PID_FILE"
if [ -f "$STATE/temp_dir" ]; then  # the head's session files (logs, sockets)
  rm -rf "$(cat "$STATE/temp_dir")" "$STATE/temp_dir"
fi
echo "stopped the Ray node of $STATE (process group $PGID)"
