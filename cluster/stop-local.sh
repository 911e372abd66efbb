#!/usr/bin/env bash
# Stop the Ray node that start-local.sh (or start-worker.sh) started: its own process group and
# session, nothing else (never `ray stop`, which would stop every Ray on the machine).
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
# Ray starts its workers and agents in process groups of their own, inside the session that setsid
# created for this node (session id = the pid we started): finish what is left of that session.
for _ in 1 2 3; do
  left=$(ps -e -o pid=,sid= | awk -v s="$PGID" '$2 == s {print $1}')
  [ -n "$left" ] || break
  kill -KILL $left 2>/dev/null || true
  sleep 0.5
done
rm -f "$PID_FILE"
if [ -f "$STATE/temp_dir" ]; then  # the head's session files (logs, sockets)
  rm -rf "$(cat "$STATE/temp_dir")" "$STATE/temp_dir"
fi
echo "stopped the Ray node of $STATE (process group $PGID)"
