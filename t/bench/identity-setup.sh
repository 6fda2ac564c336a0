# identity-setup.sh - sourced by identity.sh and instructions.sh: with
# $build and $tmp set, writes the zone of loadgen's 1,000 host names and
# its sender domain, starts dnsd on it ($dpid, its port in $dport) and
# writes $tmp/policy.yaml with every identity check and SPF on.
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
# dnsd says its port once it listens: wait for it (a busy machine can
# take longer than any fixed pause)
dport=
for _ in $(seq 100); do
	dport=$(sed -n 's/^port //p' "$tmp/dport")
	[ -n "$dport" ] && break
	sleep 0.1
done
[ -n "$dport" ] || { echo "dnsd did not start" >&2; exit 1; }
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
