#!/bin/sh
# dnsbl.sh - throughput and p99 of the identity checks with ten DNS lists
# on, beside the same policy without lists. dnsd answers every list (a
# few clients listed, the rest NXDOMAIN with the zone's SOA, so the
# negative answers are cached as on the Internet); each policy is run
# once to warm the resolver's cache and once measured over the same
# 50,000 requests (each a new message: no per-message memo helps).
#   t/bench/dnsbl.sh [BUILD_DIR]
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
tmp=$(mktemp -d)
ppid=
trap 'set +e
    kill $dpid 2>/dev/null; { kill $ppid && wait $ppid; } 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
. "$top/t/bench/identity-setup.sh"
kill $dpid
lists="zen.bl bl.ms bl.sc psbl.bl b.bc dbl.bl wl.ms list.wl bl.a bl.b"
for z in $lists; do
	echo "$z.test. 3600 IN SOA ns.$z.test. h.$z.test. 1 2 3 4 3600"
	echo "2.0.0.127.$z.test. 3600 IN A 127.0.0.2"
	echo "test.$z.test. 3600 IN A 127.0.1.2"
	# A few of loadgen's clients are listed (weights stay under reject).
	echo "7.0.51.198.$z.test. 3600 IN A 127.0.0.2"
done >> "$tmp/zone"
"$build/t/dnsd/dnsd" -l "$tmp/qlog" "$tmp/zone" > "$tmp/dport" &
dpid=$!
sleep 0.5
dport=$(sed -n 's/^port //p' "$tmp/dport")
sed -i "s/127.0.0.1:[0-9]*\]/127.0.0.1:$dport]/" "$tmp/policy.yaml"
printf '  cache_size: 1000000\n' > "$tmp/cache"
sed -i "/nameservers:/r $tmp/cache" "$tmp/policy.yaml"
cp "$tmp/policy.yaml" "$tmp/nolists.yaml"
{
	echo "  dnsbl:"
	echo "    lists:"
	for z in $lists; do
		case $z in
		dbl.*) echo "      - { zone: $z.test, type: domain, names: { sender: registered, helo: full }, weight: 1 }" ;;
		wl.*|list.*) echo "      - { zone: $z.test, weight: -1 }" ;;
		*) echo "      - { zone: $z.test, weight: 1 }" ;;
		esac
	done
} >> "$tmp/policy.yaml"
run() {
	"$build/policyd/policyd" -f -c "$1" --state-dir "$tmp/state" \
	    2>"$tmp/log" &
	ppid=$!
	wait_port "$tmp/log"
	lg="$build/t/bench/loadgen"
	"$lg" -c 10 -n 50000 127.0.0.1 "$port" >/dev/null  # warm the cache
	q0=$(wc -l < "$tmp/qlog")
	out=$("$lg" -c 10 -n 50000 127.0.0.1 "$port")
	echo "$2: $out dnsd_queries=$(($(wc -l < "$tmp/qlog") - q0))"
	kill $ppid
	wait $ppid 2>/dev/null || true
	ppid=
}
run "$tmp/nolists.yaml" "no lists "
run "$tmp/policy.yaml" "ten lists"
run "$tmp/nolists.yaml" "no lists "
run "$tmp/policy.yaml" "ten lists"
