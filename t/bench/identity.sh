#!/bin/sh
# identity.sh - throughput of the identity-check path: every check of the
# seed policy on, SPF included (greylisting off), DNS answered by dnsd and
# cached after the first of loadgen's 1,000 host names. Every request is
# a new message (instance), so SPF is evaluated for each.
#   t/bench/identity.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
tmp=$(mktemp -d)
trap 'kill $dpid $ppid 2>/dev/null; rm -rf "$tmp"' EXIT
{
	# With an SOA the NODATA answers (AAAA) are cached too, as on the
	# Internet; without one every request asked dnsd again.
	echo "example.net. 3600 IN SOA ns.example.net. h.example.net. 1 2 3 4 3600"
	echo "example.net. 3600 IN MX 10 mx.example.net."
	echo "example.net. 3600 IN TXT \"v=spf1 ip4:198.51.0.0/16 -all\""
	i=0
	while [ $i -lt 1000 ]; do
		echo "mail$i.example.net. 3600 IN A 198.51.$((i / 250)).$((i % 250))"
		i=$((i + 1))
	done
} > "$tmp/zone"
"$build/t/dnsd/dnsd" "$tmp/zone" > "$tmp/dport" &
dpid=$!
sleep 0.5
dport=$(sed -n 's/^port //p' "$tmp/dport")
cat > "$tmp/policy.yaml" <<POLICY
listen:
  - inet: 127.0.0.1:0
dns:
  nameservers: [127.0.0.1:$dport]
checks:
  helo: { on_fail: reject }
  dynamic: { on_fail: reject }
  dynamic_helo: { on_fail: { score: 1 } }
  rdns: { on_fail: reject }
  fcrdns: { on_fail: { score: 2 } }
  helo_dns: { on_fail: { score: 2 } }
  sender: { on_fail: reject }
  spf: {}
POLICY
"$build/policyd/policyd" -f -c "$tmp/policy.yaml" \
    --state-dir "$tmp/state" 2>"$tmp/log" &
ppid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
	port=$(sed -n 's/.*listening on inet:127\.0\.0\.1:\([0-9]*\).*/\1/p' \
	    "$tmp/log")
	[ -n "$port" ] && break
	sleep 0.2
done
lg="$build/t/bench/loadgen"
"$lg" -c 10 -n 5000 127.0.0.1 "$port" >/dev/null   # warm the cache
"$lg" -c 10 -n 200000 127.0.0.1 "$port"
"$lg" -c 100 -n 200000 127.0.0.1 "$port"
grep -c 'decision action="PREPEND Received-SPF: pass' "$tmp/log" |
    sed 's/^/SPF pass decisions: /'
