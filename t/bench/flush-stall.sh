#!/bin/sh
# flush-stall.sh - the worst pause other connections see while policyctl
# flushes the greylist table beside load (review B4).
#   t/bench/flush-stall.sh [BUILD_DIR [RECORDS]]
# Fills the store with RECORDS triplets (default 100,000) through the
# daemon, then runs loadgen (4 connections, one request in flight each,
# every request a new triplet: a write transaction) once alone and once
# while `policyctl greylist flush --all` runs. loadgen's max_us is the
# longest any request waited: a stalled loop shows there.
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
records=${2:-100000}
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
  greylist: { delay: 5m, awl_clients: 0, awl_domains: 0 }
POLICY
"$build/policyd/policyd" -f -c "$tmp/policy.yaml" \
    --state-dir "$tmp/state" 2>"$tmp/log" &
pid=$!
wait_port "$tmp/log"
lg="$build/t/bench/loadgen"
ctl="$build/policyd/policyctl -c $tmp/policy.yaml --state-dir $tmp/state"
"$lg" -c 4 -n "$records" 127.0.0.1 "$port" > /dev/null
$ctl stats | sed -n 's/^greylist */records: /p'
echo "alone:"
"$lg" -c 4 -n 30000 -s 1000000 127.0.0.1 "$port"
echo "beside policyctl greylist flush --all:"
"$lg" -c 4 -n 200000 -s 2000000 127.0.0.1 "$port" > "$tmp/lg" &
lpid=$!
sleep 0.5
start=$(date +%s.%N)
$ctl greylist flush --all
end=$(date +%s.%N)
wait $lpid
cat "$tmp/lg"
echo "flush took $(echo "$end - $start" | bc) s"
echo "greylist errors (on_error answers): $(grep -c 'rule=greylist:error' "$tmp/log" || true)"
kill -TERM $pid
wait $pid
