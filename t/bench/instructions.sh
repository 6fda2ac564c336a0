#!/bin/sh
# instructions.sh - instructions policyd executes per request, counted by
# callgrind: repeatable whatever else the machine is doing, unlike
# requests per second. Two runs of N and 2N requests after the same
# warm-up; the difference divided by N is the cost of one request.
#   t/bench/instructions.sh [BUILD_DIR] [N] [identity|greylist]
# identity (default): the identity.sh policy, every identity check and
# SPF, DNS cached. greylist: greylisting alone, every request a new
# triplet (a Berkeley DB write transaction). pool: greylisting 1,000
# known triplets over and over (each a retry within the minute: a read
# transaction). pre: greylist with the shipped PRE modules too
# (backscatter, whitelist: their store reads).
# CONNS=C in the environment: loadgen's connections (default 10, where
# a loop turn answers several requests; CONNS=1 is a turn a request, what
# a lightly loaded server pays: the turn's costs all on the one request).
# METRICS=off in the environment: no metrics file and no store figures
# (they cost per second, not per request: a run's length is not N's).
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
n=${2:-5000}
mode=${3:-identity}
tmp=$(mktemp -d)
dpid=
trap 'set +e; kill $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
case $mode in
identity)
	. "$top/t/bench/identity-setup.sh"
	;;
greylist|pool)
	cat > "$tmp/policy.yaml" <<POLICY
listen:
  - inet: 127.0.0.1:0
checks:
  greylist: { delay: 5m, awl_clients: 0, awl_domains: 0 }
POLICY
	;;
pre)
	cat > "$tmp/policy.yaml" <<POLICY
listen:
  - inet: 127.0.0.1:0
checks:
  greylist: { delay: 5m, awl_clients: 0, awl_domains: 0 }
  backscatter: {}
  whitelist: {}
POLICY
	;;
*)
	echo "instructions.sh: mode is identity, greylist, pool or pre" >&2
	exit 2
	;;
esac
# run COUNT FIRST - total instructions of a daemon that answered COUNT
# requests (loadgen numbers them from FIRST: new triplets every run)
run() {
	rm -rf "$tmp/log" "$tmp/cg.out" "$tmp/state"
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
	    "$build/policyd/policyd" -f -c "$tmp/policy.yaml" \
	    --state-dir "$tmp/state" 2>"$tmp/log" &
	vpid=$!
	wait_port "$tmp/log" 100
	"$build/t/bench/loadgen" -c "$conns" -n 2000 $lgpool 127.0.0.1 "$port" \
	    >/dev/null
	"$build/t/bench/loadgen" -c "$conns" -n "$1" -s 100000 $lgpool 127.0.0.1 \
	    "$port" \
	    >/dev/null
	kill -TERM $vpid
	wait $vpid || true
	# a daemon that failed (a store that would not open) answers fast
	# and wrongly: its count would look like a saving
	if grep -E ': error: |rule=[a-z_]+:error' "$tmp/log" >&2; then
		echo "instructions.sh: the daemon logged errors" >&2
		exit 1
	fi
	sed -n 's/^summary: //p' "$tmp/cg.out"
}
conns=${CONNS:-10}
lgpool=
[ "$mode" != pool ] || lgpool="-m 1000"
if [ "${METRICS:-on}" = off ]; then
	printf 'metrics: { enabled: false }\n' >> "$tmp/policy.yaml"
fi
a=$(run "$n")
b=$(run $((2 * n)))
echo "instructions per request ($mode): $(( (b - a) / n )) (N=$n, $conns connections)"
