#!/bin/sh
# compare-works.sh BUILD_DIR - make test's check that make bench works:
# compare.sh with a few hundred requests on 2 connections, once; every
# path must print a line with figures. Not a timed test.
set -eu
out=$(N=300 PACE_MS=100 sh "$(dirname "$0")/compare.sh" "$1" 1 2)
echo "$out"
n='[0-9]+'
x='[0-9.]+'
echo "$out" | grep -Eq "^dunnod +2 +$n +$n +$x +$x$" || {
	echo "compare.sh printed no figures for dunnod" >&2
	exit 1
}
# each path: as fast as it goes, then paced at half, beside dunnod paced
for p in static greylist-pool greylist-new identity postgrey-pool \
    postgrey-new gross-pool gross-new; do
	echo "$out" | grep -Eq \
	    "^$p +2 +$n +$n +$x +$x +$n +$n +$n +$x$" || {
		echo "compare.sh printed no figures for $p" >&2
		exit 1
	}
done
