# port.sh - sourced by the benchmarks (and greylist_policy, below):
# wait_port LOG [TRIES] sets $port to
# the port policyd logged it listens on (inet:127.0.0.1:N), trying every
# 0.2 s (TRIES, default 50); without it, prints the log and exits 1. The
# log may not exist yet: the shell that started policyd in the
# background may not have opened it when we first look.
# greylist_policy FILE - the benches' greylisting policy: a 5-minute
# delay, no auto-whitelist, no metrics (they cost per second, not per
# request)
# static_policy FILE - an access rule that answers every request DUNNO,
# no check, no metrics: the least policyd does for a request
static_policy() {
	cat > "$1" <<POLICY
listen:
  - inet: 127.0.0.1:0
metrics: { enabled: false }
access:
  - name: all
    client: 0.0.0.0/0
    action: DUNNO
POLICY
}

greylist_policy() {
	cat > "$1" <<POLICY
listen:
  - inet: 127.0.0.1:0
metrics: { enabled: false }
checks:
  greylist: { delay: 5m, awl_clients: 0, awl_domains: 0 }
POLICY
}

wait_port() {
	port=
	for _ in $(seq "${2:-50}"); do
		port=$(sed -n 's/.*listening on inet:127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		    "$1" 2>/dev/null || true)
		[ -n "$port" ] && return 0
		sleep 0.2
	done
	cat "$1" 2>/dev/null
	echo "policyd did not start listening" >&2
	exit 1
}
