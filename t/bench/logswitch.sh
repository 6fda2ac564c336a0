#!/bin/sh
# logswitch.sh - what a log file switch costs the requests around it:
# greylisting with a new triplet each request (a write each), paced at
# RATE a second over 16 connections for SECONDS, with Berkeley DB's 4 MiB
# log files switching several times a second. Prints loadgen's p99 and
# max, the longest decision the daemon logged (us=) and the log files
# made. Berkeley DB syncs a file as it leaves it, on the thread that
# filled it (the loop); the store's writeback thread keeps little for
# that sync to write.
#   t/bench/logswitch.sh [BUILD_DIR] [RATE] [SECONDS]
# POLICYD in the environment: another binary (an older build), to
# compare in one run.
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
rate=${2:-24000}
secs=${3:-4}
policyd=${POLICYD:-$build/policyd/policyd}
tmp=$(mktemp -d)
pid=
trap 'set +e
    [ -z "$pid" ] || { kill $pid && wait $pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
greylist_policy "$tmp/policy.yaml"
"$policyd" -f -c "$tmp/policy.yaml" --state-dir "$tmp/state" 2>"$tmp/log" &
pid=$!
wait_port "$tmp/log"
line=$("$build/t/bench/loadgen" -c 16 -r "$rate" -n $((rate * secs)) \
    -s 10000000 127.0.0.1 "$port")
kill -TERM $pid
wait $pid || true
pid=
maxus=$(sed -n 's/.* us=\([0-9]*\).*/\1/p' "$tmp/log" | sort -n | tail -n 1)
files=$(ls "$tmp/state" | grep -c '^log\.' || true)
echo "$line longest_decision_us=$maxus log_files=$files"
