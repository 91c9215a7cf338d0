#!/usr/bin/env bash
# One command on a fresh machine: install everything (scripts/setup.sh), then run hyperpeer.
#
#   scripts/launch.sh [NODE ARGS...]      one node with configs/dev.toml; extra arguments go to
#                                         `hyperpeer node`, e.g. --port 0 --data-dir /tmp/peer1
#   scripts/launch.sh -n N [--fresh] [--root DIR] [--base-port P] [-k K]
#                                         N peers on loopback: data dirs DIR/peer-1..N (default
#                                         .hyperpeer), each with its own wallet and libp2p key, HTTP
#                                         ports P..P+N-1 (default 8734; 0 = ephemeral), libp2p on an
#                                         ephemeral port, each bootstrapped to the peers started
#                                         before it, all trusting each other's attestations with
#                                         threshold K (default 1). --fresh wipes their data first.
#
# In multi-peer mode each peer's JSON "listening" line (url, peer_id, p2p addrs) goes to stdout
# and a summary line to stderr; peer logs go to DIR/peer-i/node.log.
# SIGINT/SIGTERM stop every node cleanly (in-flight requests finish, stores are flushed); the exit
# status is 0 when they all stopped cleanly.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${HYPERPEER_VENV:-$here/.venv}
config=${HYPERPEER_CONFIG:-$here/configs/dev.toml}

peers=0 fresh=0 root="$here/.hyperpeer" base_port=8734 k=1
if [ "${1:-}" = "-n" ]; then
  peers=${2:-}
  shift 2 || true
  while [ $# -gt 0 ]; do
    case "$1" in
      --fresh) fresh=1 ;;
      --root) root=$2; shift ;;
      --base-port) base_port=$2; shift ;;
      -k) k=$2; shift ;;
      *) echo "launch: unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  case "$peers" in ''|*[!0-9]*|0) echo "launch: -n needs a positive number" >&2; exit 2 ;; esac
fi

"$here/scripts/setup.sh"
cd "$here"

pids=()
stop() {
  trap - INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  exit "$status"
}
trap stop INT TERM

# start_node ARGS... — one node in the background.
start_node() {
  "$venv/bin/python" -m node.cli node --config "$config" "$@" &
  pids+=("$!")
}

if [ "$peers" = 0 ]; then
  start_node "$@"
else
  [ "$fresh" = 1 ] && rm -rf "$root"/peer-*
  mkdir -p "$root"
  # Wallets first, so that every peer can list all the others as trusted attesters.
  addrs=$("$venv/bin/python" - "$root" "$peers" <<'PY'
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devices.core import RsaWallet

root, n = Path(sys.argv[1]), int(sys.argv[2])


def address(i: int) -> str:
    directory = root / f"peer-{i}"
    directory.mkdir(parents=True, exist_ok=True)
    return RsaWallet.load_or_create(directory / "wallet.json").address


with ThreadPoolExecutor(n) as pool:
    print(",".join(pool.map(address, range(1, n + 1))))
PY
  )
  bootstrap=""
  for i in $(seq 1 "$peers"); do
    dir="$root/peer-$i"
    port=0
    [ "$base_port" != 0 ] && port=$((base_port + i - 1))
    fifo="$dir/stdout.fifo"
    rm -f "$fifo"
    mkfifo "$fifo"
    exec {fd}<>"$fifo"   # held open read-write: the node never blocks or sees a closed pipe
    start_node --data-dir "$dir" --port "$port" --set "p2p.listen=/ip4/127.0.0.1/tcp/0" \
      --set "p2p.bootstrap=$bootstrap" --set "trust.attesters=$addrs" --set "trust.k=$k" \
      >"$fifo" 2>>"$dir/node.log"
    if ! IFS= read -r -t 120 -u "$fd" line; then
      echo "launch: peer $i did not start (see $dir/node.log)" >&2
      stop
    fi
    echo "$line"
    read -r url peer_id maddr < <("$venv/bin/python" -c \
      'import json, sys; d = json.loads(sys.argv[1]); print(d["url"], d["peer_id"], d["p2p"][0])' "$line")
    echo "peer-$i  $url  $peer_id" >&2
    bootstrap="${bootstrap:+$bootstrap,}$maddr"
  done
fi

status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
