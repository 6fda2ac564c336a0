#!/bin/sh
# identity.sh - throughput of the identity-check path: every check of the
# seed policy on, SPF included (greylisting off), DNS answered by dnsd and
# cached after the first of loadgen's 1,000 host names. Every request is
# a new message (instance), so SPF is evaluated for each.
#   t/bench/identity.sh [BUILD_DIR]
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
tmp=$(mktemp -d)
trap 'set +e
    kill $dpid 2>/dev/null; { kill $ppid && wait $ppid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
. "$top/t/bench/identity-setup.sh"
"$build/policyd/policyd" -f -c "$tmp/policy.yaml" \
    --state-dir "$tmp/state" 2>"$tmp/log" &
ppid=$!
wait_port "$tmp/log"
lg="$build/t/bench/loadgen"
"$lg" -c 10 -n 5000 127.0.0.1 "$port" >/dev/null   # warm the cache
"$lg" -c 10 -n 200000 127.0.0.1 "$port"
"$lg" -c 100 -n 200000 127.0.0.1 "$port"
grep -c 'decision action="PREPEND Received-SPF: pass' "$tmp/log" |
    sed 's/^/SPF pass decisions: /'
