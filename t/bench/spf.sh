#!/bin/sh
# spf.sh - SPF evaluations per second with DNS cached, against dnsd.
#   t/bench/spf.sh [BUILD_DIR [N]]      (defaults: build, 200000)
# The record is a typical large sender's: include chains, a, mx, ip4.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
n=${2:-200000}
tmp=$(mktemp -d)
trap 'set +e; { kill $pid && wait $pid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
cat > "$tmp/zone" <<'ZONE'
bench.example. 3600 IN TXT "v=spf1 ip4:198.51.100.0/24 include:_spf1.bench.example include:_spf2.bench.example a mx ~all"
_spf1.bench.example. 3600 IN TXT "v=spf1 ip4:203.0.113.0/25 ip6:2001:db8::/32 -all"
_spf2.bench.example. 3600 IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
bench.example. 3600 IN A 192.0.2.200
bench.example. 3600 IN MX 10 mx.bench.example.
mx.bench.example. 3600 IN A 192.0.2.201
ZONE
"$build/t/dnsd/dnsd" "$tmp/zone" > "$tmp/port" &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
	port=$(sed -n 's/^port //p' "$tmp/port")
	[ -n "$port" ] && break
	sleep 0.2
done
"$build/t/bench/spfbench" "$port" bench.example "$n"
