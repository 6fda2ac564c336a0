#!/bin/sh
# bigstore.sh - policyd with a big store (issue 25: 10 million triplets):
# how long it takes to start, its resident memory, and what a request
# for a known triplet costs against the same with a small store.
#   t/bench/bigstore.sh [BUILD_DIR] [TRIPLETS] [SMALL]
# TRIPLETS default 10,000,000 (filled through the daemon, new triplets
# at full speed: minutes, and some 2 GB of disk), SMALL 10,000. The
# known-triplet runs cycle through all of a store's triplets (loadgen
# -m), 16 connections.
set -eu
. "$(dirname "$0")/port.sh"
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
big=${2:-10000000}
small=${3:-10000}
tmp=${BIGSTORE_DIR:-$(mktemp -d)}
pid=
trap 'set +e
    [ -z "$pid" ] || { kill $pid && wait $pid; } 2>/dev/null; [ -n "${BIGSTORE_DIR:-}" ] ||
    rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
greylist_policy "$tmp/policy.yaml"
lg="$build/t/bench/loadgen"
start() {
	: > "$tmp/log.$1"
	t0=$(date +%s.%N)
	"$build/policyd/policyd" -f -c "$tmp/policy.yaml" \
	    --state-dir "$tmp/state.$1" 2>"$tmp/log.$1" &
	pid=$!
	wait_port "$tmp/log.$1" 600
	t1=$(date +%s.%N)
	echo "$1: started in $(awk -v a="$t0" -v b="$t1" 'BEGIN {
	    printf "%.2f", b - a }') s (to listening, from exec)"
}
stop() {
	kill -TERM $pid
	wait $pid || true
	pid=
}
rss() { awk '/^VmRSS/ { print $2 " KiB" }' /proc/$pid/status; }
for size in $small $big; do
	start $size
	if [ ! -e "$tmp/filled.$size" ]; then
		"$lg" -c 16 -n "$size" 127.0.0.1 "$port" > "$tmp/fill.$size"
		echo "$size: filled: $(cat "$tmp/fill.$size")"
		touch "$tmp/filled.$size"
		stop
		start $size
	fi
	echo "$size: resident memory after start: $(rss)"
	n=$((size < 200000 ? size * 4 : 800000))
	echo "$size: known triplets: $("$lg" -c 16 -n "$n" -m "$size" \
	    127.0.0.1 "$port")"
	echo "$size: resident memory after: $(rss)"
	stop
done
