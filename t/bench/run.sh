#!/bin/sh
# run.sh - throughput of policyd on loopback with the static-rules path.
#   t/bench/run.sh [BUILD_DIR [POLICY]]
#     BUILD_DIR default build; POLICY default t/bench/bench.yaml
#     (t/bench/bench-greylist.yaml measures the greylist path)
# Starts policyd with the policy on a free port, runs loadgen in
# a few shapes, stops policyd. Report the printed lines in
# doc/performance.md together with the machine they came from.
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
policy=${2:-$top/t/bench/bench.yaml}
tmp=$(mktemp -d)
trap 'set +e; { kill $pid && wait $pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
"$build/policyd/policyd" -f -c "$policy" \
    --state-dir "$tmp/state" 2>"$tmp/log" &
pid=$!
wait_port "$tmp/log"
lg="$build/t/bench/loadgen"
"$lg" -c 1 -n 50000 127.0.0.1 "$port"
"$lg" -c 10 -n 200000 127.0.0.1 "$port"
"$lg" -c 100 -n 200000 127.0.0.1 "$port"
"$lg" -c 10 -p 16 -n 500000 127.0.0.1 "$port"
kill -TERM $pid
wait $pid
