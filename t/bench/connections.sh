#!/bin/sh
# connections.sh - many connections at once (issue 25): 4,096 connections
# each keeping one request outstanding, and 10,000 connections that each
# send one request at the same moment, every one answered (loadgen exits
# non-zero on an error or 10 s without a reply); meanwhile a separate
# client (prober.py) asks every 50 ms and must never wait more than 1 s.
#   t/bench/connections.sh [BUILD_DIR]
set -eu
. "$(dirname "$0")/port.sh"
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pid= probe=
trap 'set +e; [ -z "$probe" ] || kill $probe 2>/dev/null; [ -z "$pid" ] ||
    { kill $pid && wait $pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
cat > "$tmp/policy.yaml" <<POLICY
listen:
  - inet: 127.0.0.1:0
max_connections: 12000
metrics: { enabled: false }
checks:
  greylist: { delay: 5m, awl_clients: 0, awl_domains: 0 }
POLICY
"$build/policyd/policyd" -f -c "$tmp/policy.yaml" --state-dir "$tmp/state" \
    2>"$tmp/log" &
pid=$!
wait_port "$tmp/log"
python3 "$here/prober.py" "$port" 50 > "$tmp/probe" &
probe=$!
sleep 1
lg="$build/t/bench/loadgen"
echo "4096 connections, one request outstanding each:"
"$lg" -c 4096 -n 40960 127.0.0.1 "$port"
echo "10000 connections, one request each, at once:"
"$lg" -c 10000 -n 10000 -s 1000000 127.0.0.1 "$port"
sleep 1
kill -TERM $probe
wait $probe || true
probe=
echo "the separate client, every 50 ms: $(cat "$tmp/probe")"
kill -TERM $pid
wait $pid || true
pid=
errs=$(grep -c "error\|refusing" "$tmp/log" || true)
echo "policyd errors and refusals logged: $errs"
if awk '{ for (i = 1; i <= NF; i++) { split($i, a, "=");
    if (a[1] == "max_ms" && a[2] + 0 > 1000) bad = 1 } }
    END { exit !bad }' "$tmp/probe"; then
	echo "the separate client waited more than 1 s" >&2
	exit 1
fi
