#!/bin/sh
# cpu.sh - the processor time a request costs the server, split into user
# and system time, from the kernel's own account of the process
# (/proc/PID/stat, utime and stime: every thread, in ticks) over RUNS
# loadgen runs of N requests at CONNS connections, as fast as the replies
# come. dunnod first, then policyd on the path asked for, in one run.
#   t/bench/cpu.sh [BUILD_DIR] [pool|new|static|identity] [RUNS] [N] [CONNS]
# Why not perf: on this kind of virtual machine perf has no hardware
# counters and samples on a timer, whose interrupts wait for the kernel
# to enable them again; its samples pile up there and put three quarters
# of policyd's time in the kernel, where the kernel's own count says
# about half. Ticks are coarse (10 ms): the default 5 x 40,000 requests
# give some 50 to 200 ticks a server.
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
mode=${2:-pool}
runs=${3:-5}
n=${4:-40000}
conns=${5:-16}
tmp=$(mktemp -d)
pid=
dpid=
trap 'set +e
    [ -z "$pid" ] || { kill $pid && wait $pid; } 2>/dev/null; [ -z "$dpid" ] ||
    kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
lg="$build/t/bench/loadgen"
hz=$(getconf CLK_TCK)

case $mode in
pool|new) greylist_policy "$tmp/policy.yaml" ;;
static)
	static_policy "$tmp/policy.yaml"
	;;
identity)
	. "$top/t/bench/identity-setup.sh"
	printf 'metrics: { enabled: false }\n' >> "$tmp/policy.yaml"
	;;
*)
	echo "cpu.sh: the path is pool, new, static or identity" >&2
	exit 2
	;;
esac

# ticks PID - user and system ticks of the process so far
ticks() {
	# the fields after the command's name, which may hold blanks
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'
}
# measure NAME ARGS - RUNS runs; prints the figures per request
measure() {
	name=$1
	shift
	set -- $(ticks "$pid") "$@"
	u0=$1 s0=$2
	shift 2
	first=20000000
	for _ in $(seq "$runs"); do
		if [ "$mode" = new ] && [ "$name" = policyd ]; then
			# every run's triplets new to the daemon
			"$lg" -n "$n" -c "$conns" -s "$first" "$@" 127.0.0.1 \
			    "$port"
			first=$((first + n))
		else
			"$lg" -n "$n" -c "$conns" "$@" 127.0.0.1 "$port"
		fi
	done > "$tmp/runs"
	set -- $(ticks "$pid")
	rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' "$tmp/runs" | sort -n |
	    sed -n "$(( (runs + 1) / 2 ))p")
	awk -v name="$name" -v u="$(($1 - u0))" -v s="$(($2 - s0))" \
	    -v hz="$hz" -v req="$((runs * n))" -v rps="$rps" 'BEGIN {
		us = 1e6 / hz / req
		printf "%-8s rps %7d  user %5.2f us  system %5.2f us  " \
		    "total %5.2f us a request (%d + %d ticks)\n", name, rps,
		    u * us, s * us, (u + s) * us, u, s }'
}

"$build/t/bench/dunnod" 2>"$tmp/dlog" &
pid=$!
wait_port "$tmp/dlog" 100
measure dunnod
kill $pid && wait $pid 2>/dev/null || true
pid=

"$build/policyd/policyd" -f -c "$tmp/policy.yaml" --state-dir "$tmp/state" \
    2>"$tmp/log" &
pid=$!
wait_port "$tmp/log" 100
args=
case $mode in
pool) args="-m 1000" ;;
esac
case $mode in pool|identity)
	# shellcheck disable=SC2086
	"$lg" -n 2000 -c 4 $args 127.0.0.1 "$port" >/dev/null ;;
esac
# shellcheck disable=SC2086
measure policyd $args
if grep -E ': error: |rule="?[a-z_]+:error' "$tmp/log" >&2; then
	echo "cpu.sh: the daemon logged errors" >&2
	exit 1
fi
