#!/usr/bin/env bash
# One command on a fresh machine: install everything (scripts/setup.sh), then run a node with
# configs/dev.toml. Extra arguments go to `hyperpeer node`, e.g.
#   scripts/launch.sh --port 0 --data-dir /tmp/peer1
# SIGINT/SIGTERM stop the node cleanly (in-flight requests finish, the store is flushed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${HYPERPEER_VENV:-$here/.venv}
config=${HYPERPEER_CONFIG:-$here/configs/dev.toml}

"$here/scripts/setup.sh"

pids=()
stop() {
  trap - INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  exit "$status"
}
trap stop INT TERM

# start_node ARGS... — one peer in the background; a multi-peer mode (-n N) calls it N times.
start_node() {
  "$venv/bin/python" -m node.cli node --config "$config" "$@" &
  pids+=("$!")
}

cd "$here"
start_node "$@"
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
