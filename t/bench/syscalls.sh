#!/bin/sh
# syscalls.sh - system calls policyd makes per request, counted by strace
# over a daemon that answered N requests and one that answered 2N (the
# difference over N: start-up and shutdown cancel out). On the machines
# this project runs on a system call costs microseconds: this, not the
# instruction count, is what limits requests per second.
#   t/bench/syscalls.sh [BUILD_DIR] [N] [greylist|pre|static] [MAX]
# Prints "system calls per request (MODE): X" and, with -v in
# SYSCALLS_VERBOSE=1, strace's table of the 2N run. With MAX, exits 1
# when X is over it (the test suite's guard against a system call per
# request creeping back, as getpid() once did: 51 per request).
# Metrics off: they cost per second, not per request.
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
n=${2:-3000}
mode=${3:-greylist}
max=${4:-}
tmp=$(mktemp -d)
trap 'set +e; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
case $mode in
static)
	static_policy "$tmp/policy.yaml"
	;;
greylist|pre)
	greylist_policy "$tmp/policy.yaml"
	if [ "$mode" = pre ]; then
		printf '  backscatter: {}\n  whitelist: {}\n' >> "$tmp/policy.yaml"
	fi
	;;
*)
	echo "syscalls.sh: mode is greylist, pre or static" >&2
	exit 2
	;;
esac
count() {
	rm -rf "$tmp/state" "$tmp/log"
	strace -f -c -o "$tmp/st.$1" "$build/policyd/policyd" -f \
	    -c "$tmp/policy.yaml" --state-dir "$tmp/state" 2>"$tmp/log" &
	spid=$!
	wait_port "$tmp/log" 100
	"$build/t/bench/loadgen" -c 10 -n "$1" -s 100000 127.0.0.1 \
	    "$port" >/dev/null
	# strace's child is policyd: stop it, strace follows.
	kill -TERM $(pgrep -P $spid) 2>/dev/null || kill -TERM $spid
	wait $spid || true
	awk '/^[ 0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" \
	    { s += $4 } END { print s }' "$tmp/st.$1"
}
a=$(count "$n")
b=$(count $((2 * n)))
per=$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
echo "system calls per request ($mode): $per (N=$n; $a, $b)"
[ "${SYSCALLS_VERBOSE:-0}" = 1 ] && cat "$tmp/st.$((2 * n))"
if [ -n "$max" ] && awk -v p="$per" -v m="$max" 'BEGIN { exit !(p > m) }'; then
	echo "more than $max system calls per request" >&2
	exit 1
fi
exit 0
