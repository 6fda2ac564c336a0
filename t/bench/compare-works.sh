#!/bin/sh
# compare-works.sh BUILD_DIR - make test's check that make bench works:
# compare.sh with a few hundred requests on 2 connections, once; every
# path must print a line with figures. Not a timed test.
set -eu
out=$(N=300 sh "$(dirname "$0")/compare.sh" "$1" 1 2)
echo "$out"
for p in dunnod static greylist-pool greylist-new identity; do
	echo "$out" | grep -Eq "^$p +2 +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+$" || {
		echo "compare.sh printed no figures for $p" >&2
		exit 1
	}
done
