#!/bin/sh
# paced.sh - what a request costs the daemon at a given rate, against
# dunnod at the same rate: processor time and system calls per request,
# counted by perf stat over the daemon alone (its threads too) while
# loadgen paces 16 connections. At full speed a loop turn answers many
# requests and shares its costs (epoll_wait, the log's write, the group
# commit's) among them; at the soak's rate a turn carries one or two,
# and this, not the cost at full speed, is what sets p99 there.
#   t/bench/paced.sh [BUILD_DIR] [RATE] [SECONDS]
# RATE default 12826 (the hour's), SECONDS default 20, after 20 s of
# warming at the same rate. The policy is the soak's (every identity
# check and SPF with DNS from t/dnsd, greylisting with the PRE modules,
# 200,000 triplets cycled). Prints, for each, "NAME: cpu_us=X
# syscalls=Y p50_us= p99_us=" per request.
set -eu
. "$(dirname "$0")/port.sh"
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
rate=${2:-12826}
secs=${3:-20}
tmp=$(mktemp -d)
pid= dpid=
trap 'set +e; [ -z "$pid" ] || { kill $pid && wait $pid; } 2>/dev/null;
    [ -z "$dpid" ] || kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
command -v perf >/dev/null || {
	echo "paced.sh: perf is not installed" >&2
	exit 2
}
lg="$build/t/bench/loadgen"
n=$((rate * secs))
# measure NAME - the server $pid on $port: warm, then count
measure() {
	"$lg" -c 16 -r "$rate" -n $((rate * 20)) -m 200000 127.0.0.1 "$port" \
	    >/dev/null
	perf stat -x, -e raw_syscalls:sys_enter,task-clock -p $pid \
	    -o "$tmp/perf" &
	sp=$!
	sleep 0.2
	line=$("$lg" -c 16 -r "$rate" -n "$n" -s $((rate * 20)) -m 200000 \
	    127.0.0.1 "$port")
	kill -INT $sp
	wait $sp || true
	lat=$(echo "$line" |
	    sed -n 's/.* \(p50_us=[0-9]*\) \(p99_us=[0-9]*\).*/\1 \2/p')
	awk -F, -v n="$n" -v name="$1" -v lat="$lat" '
	    $3 == "raw_syscalls:sys_enter" { sc = $1 }
	    $3 == "task-clock" { ms = $1 }
	    END { printf "%s: cpu_us=%.1f syscalls=%.2f %s\n", name,
		ms * 1000 / n, sc / n, lat }' "$tmp/perf"
}
. "$here/identity-setup.sh"
cat >> "$tmp/policy.yaml" <<POLICY
  greylist: { delay: 5m }
  backscatter: {}
  whitelist: {}
POLICY
# The log through a pipe, as syslog or journald take it (soak.sh): the
# decisions' lines are dropped.
mkfifo "$tmp/logpipe"
grep --line-buffered -v ' info: decision ' < "$tmp/logpipe" > "$tmp/log" &
"$build/policyd/policyd" -f -c "$tmp/policy.yaml" --state-dir "$tmp/state" \
    2>"$tmp/logpipe" &
pid=$!
wait_port "$tmp/log"
measure policyd
kill $pid && wait $pid || true
"$build/t/bench/dunnod" 2>"$tmp/dlog" &
pid=$!
wait_port "$tmp/dlog"
measure dunnod
