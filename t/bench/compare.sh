#!/bin/sh
# compare.sh - policyd against the do-nothing responder dunnod, in one
# run on one machine: requests per second and p99 for each path, as
# ratios to dunnod (make bench). A machine's speed changes from run to
# run on shared virtual machines: only figures of the same run compare.
#   t/bench/compare.sh [BUILD_DIR] [RUNS] [CONNECTIONS...]
# Paths: static (an access rule decides), greylist-pool (1,000 known
# triplets, cycled), greylist-new (a new triplet each request: a write),
# identity (every identity check and SPF, DNS from t/dnsd, the cache
# warmed first); then Debian's postgrey and gross greylisting the same
# two ways (postgrey-pool, postgrey-new, gross-pool, gross-new), with
# NSLOW requests a run (default N / 10: they are slow). A run that fails
# (no reply for 10 s, a connection refused) prints "failed".
# RUNS (default 3) runs of each; the median is printed. CONNECTIONS
# default: 1 16 256. One request outstanding per connection, as
# Postfix's smtpd does. dunnod runs beside the server the whole time:
# each run of a path comes right after a run of dunnod with the same
# connections and requests, and RATIO and P99/DNNO are the medians of
# those pairs' ratios (this kind of machine's speed moves by a third
# within minutes; a dunnod figure from the start of the bench made the
# ratios of the paths measured later move with it). The dunnod line is
# dunnod's own median.
# Two measurements of each path: as fast as the replies come (RPS and
# P99 there: with every connection always waiting, p99 is mostly the
# queue, connections / RPS), and paced at half that path's RPS, with
# dunnod paced at the same rate right after it (P99@HALF and dunnod's):
# the latency a request sees at a load the server carries, which is
# what smtpd waits for on a busy day that is not an overload (PACE_MS in
# the environment: how long each paced run lasts, default 2000). POLICYD in the environment: another policyd
# binary against the same dunnod and loadgen (an older build). PATHS in
# the environment: those paths only (dunnod is always measured).
set -eu
. "$(dirname "$0")/port.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
runs=${2:-3}
shift 2 2>/dev/null || shift $#
conns=${*:-1 16 256}
# 4,096 connections need as many descriptors, on both sides
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
tmp=$(mktemp -d)
pid=
dpid=
dnpid=
trap 'set +e
    [ -z "$pid" ] || { kill $pid && wait $pid; } 2>/dev/null; [ -z "$dpid" ] ||
    kill $dpid 2>/dev/null; [ -z "$dnpid" ] || kill $dnpid 2>/dev/null
    rm -rf "$tmp"' EXIT
# interrupted (^C, a CI timeout's TERM): the EXIT trap still runs, and the
# daemon frees its shared memory
# (PIPE: output into a pipe that closed, as | head does)
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 141' PIPE
lg="$build/t/bench/loadgen"
policyd=${POLICYD:-$build/policyd/policyd}
n=${N:-40000}

# start CMD... - a server in the background, its port in $port
start() {
	"$@" 2>"$tmp/log" &
	pid=$!
	wait_port "$tmp/log" 100
}
# free_port - a TCP port nobody listens on, in $port
free_port() {
	port=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}
# start_other NAME - postgrey or gross on a free port, in $pid and $port;
# 1 if it did not listen within 10 s
start_other() {
	free_port
	rm -rf "$tmp/other"
	mkdir -p "$tmp/other"
	case $1 in
	postgrey)
		postgrey --inet="127.0.0.1:$port" --dbdir="$tmp/other" \
		    --delay=300 --user="$(id -un)" --group="$(id -gn)" \
		    --pidfile="$tmp/other/pid" >"$tmp/other/log" 2>&1 &
		;;
	gross)
		# gross keeps its triplets in memory; -r: no peer
		printf 'host = 127.0.0.1\nport = %s\nprotocol = postfix\n%s\n' \
		    "$port" "grey_delay = 300" > "$tmp/other/grossd.conf"
		grossd -d -r -f "$tmp/other/grossd.conf" -u "$(id -un)" \
		    >"$tmp/other/log" 2>&1 &
		;;
	esac
	pid=$!
	for _ in $(seq 50); do
		python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" \
		    2>/dev/null && return 0
		sleep 0.2
	done
	echo "$1 did not listen:" >&2
	cat "$tmp/other/log" >&2
	stop
	return 1
}
# stop - the server in $pid ended: TERM, and KILL if it has not gone
# within 10 s (postgrey once sat in select for minutes after a TERM
# that came as 256 connections closed, and the bench waited with it)
stop() {
	kill -TERM $pid 2>/dev/null || true
	for _ in $(seq 100); do
		# gone, or a zombie that wait reaps
		case $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) in
		''|Z*) break ;;
		esac
		sleep 0.1
	done
	kill -KILL $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	pid=
}
# measure ARGS - median rps and p99 over RUNS loadgen runs (N requests;
# NR in the environment: that many instead). With fresh set (the new-
# triplet paths), the runs number their requests from $next on, each
# run after the one before, so every run's triplets are new to the
# daemon, as the path's name says (a run that repeated the one before
# it would measure retries, not new triplets). It runs in a subshell:
# the caller moves $next past them (skip).
next=10000000
fresh=
# PAIR set in the environment: each run after a run of dunnod ($dnport)
# with the same connections and requests (not the path's -m or -s);
# prints also the medians of the runs' rps and p99 ratios to dunnod's.
measure() {
	s=$next
	: > "$tmp/druns"
	for _ in $(seq "$runs"); do
		if [ -n "$fresh" ]; then
			first="-s $s"
			s=$((s + ${NR:-$n}))
		else
			first=
		fi
		if [ -n "${PAIR:-}" ]; then
			"$lg" -n "${NR:-$n}" -c "$c" 127.0.0.1 "$dnport" \
			    >> "$tmp/druns" || {
				echo failed failed failed failed
				return 0
			}
		fi
		# shellcheck disable=SC2086
		"$lg" -n "${NR:-$n}" $first "$@" 127.0.0.1 "$port" || {
			echo failed failed failed failed
			return 0
		}
	done > "$tmp/runs"
	m=$(( (runs + 1) / 2 ))
	r=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' "$tmp/runs" | sort -n |
	    sed -n "${m}p")
	p=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' "$tmp/runs" | sort -n |
	    sed -n "${m}p")
	if [ -n "${PAIR:-}" ]; then
		# run i of the path against run i of dunnod
		pr=$(paste -d ' ' "$tmp/runs" "$tmp/druns" | awk '{
			h = NF / 2 # the path fields, then dunnod fields
			for (i = 1; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[1] == "rps")
					if (i <= h) a = kv[2]; else b = kv[2]
				if (kv[1] == "p99_us")
					if (i <= h) x = kv[2]; else y = kv[2]
			}
			printf "%.4f %.4f\n", a / b, x / y }')
		rr=$(echo "$pr" | awk '{ print $1 }' | sort -n | sed -n "${m}p")
		pp=$(echo "$pr" | awk '{ print $2 }' | sort -n | sed -n "${m}p")
		echo "$r $p $rr $pp"
	else
		echo "$r $p"
	fi
}
# skip COUNT - past what measure's runs of COUNT requests numbered
skip() {
	next=$((next + runs * $1))
}

# the benches' two policies, with room for 4,096 connections
static_policy "$tmp/static.yaml"
greylist_policy "$tmp/greylist.yaml"
for f in static greylist; do
	sed 's/^metrics:.*/max_connections: 5000\n&/' "$tmp/$f.yaml" \
	    > "$tmp/$f.2" && mv "$tmp/$f.2" "$tmp/$f.yaml"
done

# identity: loadgen's 1,000 host names and its sender domain in dnsd
. "$(dirname "$0")/identity-setup.sh"
sed 's/^listen:/max_connections: 5000\nmetrics: { enabled: false }\n&/' \
    "$tmp/policy.yaml" > "$tmp/identity.yaml"

# ratio A B - A / B to two places ("-" when either failed)
ratio() {
	case "$1$2" in *failed*) echo - ; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
nslow=${NSLOW:-$((n / 10 > 300 ? n / 10 : 300))}

# dunnod, beside every server for the whole bench
"$build/t/bench/dunnod" 2>"$tmp/dnlog" &
dnpid=$!
wait_port "$tmp/dnlog" 100
dnport=$port
printf '%-14s %6s %9s %8s %6s %8s %8s %9s %9s %6s\n' PATH CONNS RPS \
    P99_US RATIO P99/DNNO HALF P99@HALF DNNO@HALF RATIO
for c in $conns; do
	port=$dnport
	set -- $(measure -c "$c")
	d_rps=$1 d_p99=$2
	printf '%-14s %6s %9s %8s %6s %8s\n' dunnod "$c" "$d_rps" \
	    "$d_p99" 1.00 1.00
	for path in ${PATHS:-static greylist-pool greylist-new identity \
	    postgrey-pool postgrey-new gross-pool gross-new}; do
		rm -rf "$tmp/state"
		case $path in
		static) policy=$tmp/static.yaml; args="" ;;
		*-pool) policy=$tmp/greylist.yaml; args="-m 1000" ;;
		*-new) policy=$tmp/greylist.yaml; args="" ;;
		identity) policy=$tmp/identity.yaml; args="" ;;
		esac
		num=$n
		case $path in
		postgrey-*|gross-*)
			other=${path%-*}
			if ! command -v "$( [ "$other" = gross ] && echo grossd ||
			    echo postgrey)" >/dev/null; then
				printf '%-14s %6s not installed (make deps-test)\n' \
				    "$path" "$c"
				continue
			fi
			start_other "$other" || {
				printf '%-14s %6s did not start\n' "$path" "$c"
				continue
			}
			num=$nslow
			;;
		*)
			start "$policyd" -f -c "$policy" \
			    --state-dir "$tmp/state"
			;;
		esac
		case $path in *-pool|identity)
			# shellcheck disable=SC2086
			"$lg" -n 2000 -c 4 $args 127.0.0.1 "$port" >/dev/null ||
			    true
		esac
		case $path in *-new) fresh=1 ;; *) fresh= ;; esac
		# shellcheck disable=SC2086
		set -- $(PAIR=1 NR=$num measure -c "$c" $args)
		rps=$1 p99=$2 r_rps=${3:-} r_p99=${4:-}
		skip "$num"
		if [ "$rps" = failed ]; then
			stop
			printf '%-14s %6s %9s\n' "$path" "$c" failed
			continue
		fi
		# paced at half: PACE_MS (default 2,000) worth, the same on
		# dunnod
		half=$((rps / 2 > 0 ? rps / 2 : 1))
		nr=$((half * ${PACE_MS:-2000} / 1000))
		[ "$nr" -ge 200 ] || nr=200
		# shellcheck disable=SC2086
		set -- $(NR=$nr measure -c "$c" -r "$half" $args)
		h_p99=$2
		skip "$nr"
		stop
		fresh=
		# policyd's new-triplet path: every request was a first sight
		# (a retry would be "greylist:early"); figures that are not
		# what the path's name says are not printed
		case $path in greylist-new)
			if grep -q 'rule="greylist:early' "$tmp/log"; then
				printf '%-14s %6s failed: a run repeated triplets\n' \
				    "$path" "$c"
				continue
			fi
		esac
		port=$dnport
		set -- $(NR=$nr measure -c "$c" -r "$half")
		hd_p99=$2
		printf '%-14s %6s %9s %8s %6s %8s %8s %9s %9s %6s\n' "$path" \
		    "$c" "$rps" "$p99" "$(printf %.2f "$r_rps")" \
		    "$(printf %.2f "$r_p99")" "$half" "$h_p99" "$hd_p99" \
		    "$(ratio "$h_p99" "$hd_p99")"
	done
done
exit 0
