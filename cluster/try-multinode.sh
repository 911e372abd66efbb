#!/usr/bin/env bash
# A real multi-node Ray cluster on one Linux machine: a head and N worker nodes, each a separate Ray
# node with an address of its own, joined with start-local.sh and start-worker.sh exactly as separate
# machines would be, token authentication on. For trying the cluster flows, and for the tests.
#
#   cluster/try-multinode.sh up   [--workers 2] [--num-cpus 1] [--port 6379] [--dashboard-port 8265] [--state DIR]
#   cluster/try-multinode.sh kill I [--state DIR]     # lose worker node I: SIGKILL every process of it
#   cluster/try-multinode.sh start I [--state DIR]    # worker node I (re)joins, as a replacement machine would
#   cluster/try-multinode.sh down [--state DIR]       # stop every node, remove the namespaces
#
# Isolation: as root with network namespaces (Linux `ip netns`), worker node I runs in its own
# namespace with address 10.77.K.(10+I) on a veth bridge whose address 10.77.K.1 is the head's; no
# traffic leaves the machine. Without them (no root, or CRNN_MULTINODE_ISOLATION=loopback), the head
# binds 127.0.0.10 and worker node I 127.0.0.(10+I), each with ports of its own.
# Every node sees the same filesystem, so STATE/shared is "a shared mount at the same path on every
# node": use it for datasets, --experiments and the --storage of Ray Train checkpoints.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ACTION=${1:-}; shift || true
WORKERS=2; NUM_CPUS=1; PORT=6379; DPORT=8265; STATE=${CRNN_MULTINODE_STATE:-$HOME/.crnn/multinode}; INDEX=""
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --num-cpus) NUM_CPUS=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --dashboard-port) DPORT=$2; shift 2 ;;
    --state) STATE=$2; shift 2 ;;
    [0-9]*) INDEX=$1; shift ;;
    *) echo "try-multinode.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done

kill_session() {  # SIGKILL every process of session $1 (a session start-*.sh created with setsid)
  local sid=$1 pids
  for _ in 1 2 3; do
    pids=$(ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s {print $1}')
    [ -n "$pids" ] || return 0
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
}

start_worker() {  # worker node $1 joins the head, in its own namespace (created once) or on its loopback alias
  local i=$1 mode k ip head_ip
  read -r mode k < "$STATE/mode"
  # shellcheck disable=SC1091
  . "$STATE/cluster.env"
  head_ip=$(cat "$STATE/head_ip")
  local args=(--token-file "$STATE/head/auth_token" --num-cpus "$NUM_CPUS" --state "$STATE/w$i" --temp-dir "/tmp/crnn-mn$k-w$i")
  if [ "$mode" = netns ]; then
    ip=10.77.$k.$((10 + i))
    if ! ip netns list | grep -q "^crnn$k-w$i\b"; then
      ip netns add "crnn$k-w$i"
      ip link add "crnn${k}w${i}h" type veth peer name "crnn${k}w${i}n"
      ip link set "crnn${k}w${i}n" netns "crnn$k-w$i"
      ip link set "crnn${k}w${i}h" master "crnn${k}br" up
      ip netns exec "crnn$k-w$i" ip addr add "$ip/24" dev "crnn${k}w${i}n"
      ip netns exec "crnn$k-w$i" ip link set "crnn${k}w${i}n" up
      ip netns exec "crnn$k-w$i" ip link set lo up
    fi
    ip netns exec "crnn$k-w$i" "$HERE/start-worker.sh" "$head_ip:$PORT" "${args[@]}" --node-ip-address "$ip" > /dev/null
  else  # one host: every listener of this node on ports of its own
    ip=127.0.0.$((10 + i))
    local base=$((PORT + 100 * i))
    "$HERE/start-worker.sh" "$head_ip:$PORT" "${args[@]}" --node-ip-address "$ip" -- \
      --node-manager-port=$((base + 1)) --object-manager-port=$((base + 2)) --metrics-export-port=$((base + 3)) \
      --dashboard-agent-listen-port=$((base + 4)) --dashboard-agent-grpc-port=$((base + 5)) \
      --runtime-env-agent-port=$((base + 6)) --min-worker-port=$((base + 10)) --max-worker-port=$((base + 60)) > /dev/null
  fi
}

up() {
  mkdir -p "$STATE/shared"
  local k=$(( PORT % 200 + 20 )) head_ip mode
  if [ "${CRNN_MULTINODE_ISOLATION:-auto}" != loopback ] && [ "$(id -u)" = 0 ] && ip netns add "crnn$k-probe" 2>/dev/null; then
    ip netns del "crnn$k-probe"
    mode=netns; head_ip=10.77.$k.1
    ip link add "crnn${k}br" type bridge
    ip addr add "$head_ip/24" dev "crnn${k}br"
    ip link set "crnn${k}br" up
  else
    # not 127.0.0.1 itself: Ray rewrites that to the machine's LAN address when a node joins
    mode=loopback; head_ip=127.0.0.10
  fi
  echo "$mode $k" > "$STATE/mode"
  printf 'PORT=%s\nNUM_CPUS=%s\n' "$PORT" "$NUM_CPUS" > "$STATE/cluster.env"  # what start I reuses
  "$HERE/start-local.sh" --host "$head_ip" --port "$PORT" --dashboard-port "$DPORT" --num-cpus "$NUM_CPUS" \
    --state "$STATE/head" --temp-dir "/tmp/crnn-mn$k-h" > "$STATE/head.out"
  echo "$head_ip" > "$STATE/head_ip"
  for i in $(seq 1 "$WORKERS"); do start_worker "$i"; done
  local want=$((WORKERS + 1)) alive=0
  for _ in $(seq 1 120); do
    alive=$(RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$STATE/head/auth_token" python3 - "$head_ip:$PORT" <<'PY' 2>/dev/null || echo 0
import sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print(sum(1 for n in ray.nodes() if n["Alive"]))
PY
)
    [ "$alive" -ge "$want" ] && break
    sleep 1
  done
  [ "$alive" -ge "$want" ] || { echo "try-multinode.sh: only $alive of $want nodes joined; see $STATE/w*/head.log" >&2; exit 1; }
  cat <<MSG
Ray cluster of $want nodes up ($mode): head $head_ip:$PORT, workers $(for i in $(seq 1 "$WORKERS"); do [ "$mode" = netns ] && printf '10.77.%s.%s ' "$k" $((10 + i)) || printf '127.0.0.%s ' $((10 + i)); done)
  job API       http://$head_ip:$DPORT
  token file    $STATE/head/auth_token
  shared folder $STATE/shared   (the same path on every node)
Submit:  RAY_AUTH_TOKEN_PATH=$STATE/head/auth_token crnn submit --address http://$head_ip:$DPORT --wait -- tune ...
Lose a worker node:  cluster/try-multinode.sh kill 1 --state $STATE
Stop:    cluster/try-multinode.sh down --state $STATE
MSG
}

kill_worker() {
  [ -n "$INDEX" ] && [ -f "$STATE/w$INDEX/head.pid" ] || { echo "try-multinode.sh: no worker node $INDEX in $STATE" >&2; exit 2; }
  kill_session "$(cat "$STATE/w$INDEX/head.pid")"
  echo "killed worker node $INDEX (session $(cat "$STATE/w$INDEX/head.pid"))"
}

down() {
  [ -f "$STATE/mode" ] || { echo "try-multinode.sh: nothing started from $STATE"; exit 0; }
  read -r mode k < "$STATE/mode"
  for dir in "$STATE"/w*; do
    [ -f "$dir/head.pid" ] || continue
    kill_session "$(cat "$dir/head.pid")"
    "$HERE/stop-local.sh" --state "$dir" --now > /dev/null
  done
  "$HERE/stop-local.sh" --state "$STATE/head" --now > /dev/null
  if [ "$mode" = netns ]; then
    for ns in $(ip netns list | awk '{print $1}' | grep "^crnn$k-w" || true); do ip netns del "$ns"; done
    ip link del "crnn${k}br" 2>/dev/null || true
  fi
  rm -f "$STATE/mode" "$STATE/cluster.env" "$STATE/head_ip"
  echo "stopped the cluster of $STATE"
}

case "$ACTION" in
  up) up ;;
  kill) kill_worker ;;
  start)
    [ -n "$INDEX" ] && [ -f "$STATE/mode" ] || { echo "try-multinode.sh: start I needs a cluster in $STATE" >&2; exit 2; }
    rm -f "$STATE/w$INDEX/head.pid"; start_worker "$INDEX"; echo "worker node $INDEX (re)joining" ;;
  down) down ;;
  *) echo "usage: try-multinode.sh up|kill I|start I|down [options] (see the header of this script)" >&2; exit 2 ;;
esac
