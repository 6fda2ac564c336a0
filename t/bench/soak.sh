#!/bin/sh
# soak.sh - a long run at half the measured maximum with every check on,
# DNS through t/dnsd (issue 25): no error, resident memory flat (the last
# quarter's samples within 5% of the second quarter's), and the p99 of
# each sixth of the run within 1.5 times the first's.
#   t/bench/soak.sh [BUILD_DIR] [MINUTES] [RATE]
# MINUTES default 60; RATE default half of what 16 connections reach in
# a first measuring run. Greylisting cycles through 200,000 triplets (a
# mail server's known senders; a new one each request would only grow
# the store). Prints each sixth's p99 and the memory samples; exits 1
# when a bound is broken.
# The log goes through a pipe to a reader that keeps every line but the
# decisions (those that name an error too), as syslog or journald take
# it from a daemon: a decision line a request, 640 bytes at 12,800 a
# second, is 30 GB in the hour, and written to a file by the daemon
# itself its page cache and the file system's work grew on the loop
# (ext4's share of the daemon's time doubled by minute 14), a cost of
# the harness that no installed policyd pays. SOAK_LOG=file in the
# environment: the whole log into the file, as before.
set -eu
. "$(dirname "$0")/port.sh"
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
minutes=${2:-60}
rate=${3:-}
tmp=$(mktemp -d)
pid= dpid= rpid=
trap 'set +e
    [ -z "$pid" ] || { kill $pid && wait $pid; } 2>/dev/null; [ -z "$dpid" ] ||
    kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
. "$here/identity-setup.sh"
sed 's/^listen:/metrics: { interval: 10s }\n&/' "$tmp/policy.yaml" \
    > "$tmp/soak.yaml"
cat >> "$tmp/soak.yaml" <<POLICY
  greylist: { delay: 5m }
  backscatter: {}
  whitelist: {}
POLICY
if [ "${SOAK_LOG:-pipe}" = file ]; then
	"$build/policyd/policyd" -f -c "$tmp/soak.yaml" \
	    --state-dir "$tmp/state" 2>"$tmp/log" &
else
	mkfifo "$tmp/logpipe"
	# every line but a decision's, unless it names an error
	# (sed -u reads a byte a call: it fell behind, and the daemon
	# waited on the full pipe)
	grep --line-buffered -Pv \
	    ' info: decision (?!.*rule="?[a-z_]+:error)' \
	    < "$tmp/logpipe" > "$tmp/log" &
	rpid=$!
	"$build/policyd/policyd" -f -c "$tmp/soak.yaml" \
	    --state-dir "$tmp/state" 2>"$tmp/logpipe" &
fi
pid=$!
wait_port "$tmp/log"
lg="$build/t/bench/loadgen"
rss() { awk '/^VmRSS/ { print $2 }' /proc/$pid/status; }
if [ -z "$rate" ]; then
	max=$("$lg" -c 16 -n 40000 -m 200000 127.0.0.1 "$port" |
	    sed -n 's/.*rps=\([0-9]*\).*/\1/p')
	rate=$((max / 2))
	echo "maximum at 16 connections: $max requests/s; soak at $rate"
fi
seg=$((minutes * 60 / 6))
n=$((rate * seg))
: > "$tmp/rss"
i=0
fail=0
first=
while [ $i -lt 6 ]; do
	# a memory sample every 10 s of the segment, beside it
	( while sleep 10; do rss; done ) >> "$tmp/rss" &
	sampler=$!
	line=$("$lg" -c 16 -r "$rate" -n "$n" -s $((i * n)) -m 200000 \
	    127.0.0.1 "$port") || { echo "loadgen failed" >&2; fail=1; }
	kill $sampler 2>/dev/null || true
	wait $sampler 2>/dev/null || true
	p99=$(echo "$line" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p')
	echo "sixth $((i + 1)): $line rss_kib=$(rss)"
	[ -n "$first" ] || first=$p99
	if [ -n "$p99" ] && [ "$p99" -gt $((first * 3 / 2)) ]; then
		echo "p99 $p99 us is over 1.5 x the first's ($first us)" >&2
		fail=1
	fi
	i=$((i + 1))
done
# the reader has all of it once the daemon is gone
kill $pid && wait $pid || true
pid=
[ -z "$rpid" ] || wait $rpid || true
errors=$(grep -cE ': error: |rule="?[a-z_]+:error' "$tmp/log" || true)
echo "errors logged: $errors"
[ "$errors" -eq 0 ] || fail=1
# memory: the last quarter of the samples against the second
total=$(wc -l < "$tmp/rss")
q=$((total / 4))
if [ "$q" -gt 0 ]; then
	second=$(sed -n "$((q + 1)),$((2 * q))p" "$tmp/rss" |
	    awk '{ s += $1 } END { print int(s / NR) }')
	last=$(tail -n "$q" "$tmp/rss" | awk '{ s += $1 } END {
	    print int(s / NR) }')
	echo "resident memory: second quarter $second KiB, last $last KiB"
	if [ "$last" -gt $((second * 105 / 100)) ]; then
		echo "memory grew more than 5%" >&2
		fail=1
	fi
fi
exit $fail
