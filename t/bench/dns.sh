#!/bin/sh
# dns.sh - resolver throughput, cold and cached, against dnsd.
#   t/bench/dns.sh [BUILD_DIR [NAMES]]    (defaults: build, 20000)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
names=${2:-20000}
tmp=$(mktemp -d)
trap 'set +e; { kill $pid && wait $pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
i=0
while [ $i -lt "$names" ]; do
	echo "h$i.bulk.example. 300 IN A 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"
	i=$((i + 1))
done > "$tmp/zone"
"$build/t/dnsd/dnsd" "$tmp/zone" > "$tmp/port" &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	port=$(sed -n 's/^port //p' "$tmp/port")
	[ -n "$port" ] && break
	sleep 0.5
done
[ -n "$port" ] || { echo "dnsd did not start"; exit 1; }
"$build/t/bench/dnsbench" "$port" "$names"
