#!/usr/bin/env bash
# Stop the Ray node that start-local.sh (or start-worker.sh) started: its own process group and
# session, nothing else (never `ray stop`, which would stop every Ray on the machine).
#   cluster/stop-local.sh [--state DIR] [--now]
# --now: SIGKILL at once instead of letting the node drain (which takes Ray about 35 s).
set -euo pipefail
STATE=${CRNN_CLUSTER_STATE:-$HOME/.crnn/cluster}; NOW=""
while [ $# -gt 0 ]; do
  case "$1" in
    --state) STATE=$2; shift 2 ;;
    --now) NOW=1; shift ;;
    *) echo "stop-local.sh: unknown option $1 (accepted: --state DIR, --now)" >&2; exit 2 ;;
  esac
done
PID_FILE="$STATE/head.pid"
[ -f "$PID_FILE" ] || { echo "stop-local.sh: nothing started from $STATE" >&2; exit 0; }
PGID=$(cat "$PID_FILE")
if [ -z "$NOW" ] && kill -0 -- "-$PGID" 2>/dev/null; then
  kill -TERM -- "-$PGID" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 1; done
fi
kill -KILL -- "-$PGID" 2>/dev/null || true  # some Ray agents ignore SIGTERM while draining: finish the group
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
