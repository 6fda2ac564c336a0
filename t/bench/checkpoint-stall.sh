#!/bin/sh
# checkpoint-stall.sh - the worst pause other connections see across the
# daemon's once-a-minute checkpoint (review B4): the store is filled with
# RECORDS new triplets (dirty pages in the cache), then one connection
# sends one request at a time for 75 s, across the checkpoint 60 s after
# the store opened. loadgen's max_us is the longest any request waited.
#   t/bench/checkpoint-stall.sh [BUILD_DIR [RECORDS]]
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
records=${2:-200000}
tmp=$(mktemp -d)
trap 'set +e; { kill $pid && wait $pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
cat > "$tmp/policy.yaml" <<POLICY
listen:
  - inet: 127.0.0.1:0
checks:
  greylist: { delay: 5m, awl_clients: 0, awl_domains: 0,
              sweep_interval: 1s }
POLICY
"$build/policyd/policyd" -f -c "$tmp/policy.yaml" \
    --state-dir "$tmp/state" 2>"$tmp/log" &
pid=$!
start=$(date +%s)
wait_port "$tmp/log"
lg="$build/t/bench/loadgen"
"$lg" -c 4 -n "$records" 127.0.0.1 "$port" > /dev/null
echo "filled $records triplets in $(( $(date +%s) - start )) s"
# About 5,500 requests a second at one in flight: 75 s of them.
"$lg" -c 1 -n 420000 -s 1000000 127.0.0.1 "$port"
kill -TERM $pid
wait $pid
