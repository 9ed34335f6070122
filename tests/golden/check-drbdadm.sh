#!/bin/sh
# Checks generated .res files with drbd-utils' own parser: drbdadm (DRBD 9) or drbdadm-84.
#
# usage: check-drbdadm.sh 9|8.4 FILE...
# Exit 0 when every file passes, 1 when one is rejected (drbdadm's message on
# stdout), 2 on usage errors, 77 when the parser for the dialect is missing.
#
# Each file is checked twice:
#  1. "drbdadm -c FILE dump all": the whole grammar, option names and value
#     ranges, duplicate node-ids, minors and addresses.
#  2. drbdadm looks closer at resources that have this machine as a host, and
#     refuses "dump NAME" for the others. So in a copy the first host of each
#     resource is renamed to "uname -n" and "dump NAME" and a dry-run
#     "-d up NAME" (which builds the drbdsetup command lines, option by
#     option) must pass too.
# DRBDADM and DRBDADM_84 override the tools' paths.
set -u

[ $# -ge 2 ] || { echo "usage: $0 9|8.4 FILE..." >&2; exit 2; }
dialect=$1
shift

tool=
case $dialect in
9)
	tool=${DRBDADM:-}
	[ -n "$tool" ] || tool=$(command -v drbdadm 2>/dev/null)
	[ -n "$tool" ] || tool=/usr/sbin/drbdadm
	;;
8.4)
	tool=${DRBDADM_84:-}
	for t in /usr/lib/drbd/drbdadm-84 /lib/drbd/drbdadm-84; do
		[ -n "$tool" ] || { [ -x "$t" ] && tool=$t; }
	done
	;;
*)
	echo "unknown DRBD dialect '$dialect'" >&2
	exit 2
	;;
esac
if [ -z "$tool" ] || [ ! -x "$tool" ]; then
	echo "skipped: no drbdadm for DRBD $dialect"
	exit 77
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
me=$(uname -n)

# run TOOL-ARGS...: runs the tool, prints its stderr (without the modinfo noise
# of a machine without the DRBD module) and fails on a non-zero exit.
run() {
	if ! "$tool" "$@" >"$tmp/out" 2>"$tmp/err"; then
		echo "$tool $*:"
		grep -v '^modinfo: ' "$tmp/err"
		return 1
	fi
}

for file in "$@"; do
	[ -r "$file" ] || { echo "cannot read $file"; exit 2; }
	run -c "$file" dump all || exit 1

	names=$(sed -n 's/^resource "\([A-Za-z0-9_-]*\)" {$/\1/p' "$file")
	[ -n "$names" ] || { echo "$file: no resource found"; exit 1; }
	for name in $names; do
		grep -q "^resource $name {" "$tmp/out" || { echo "$file: resource $name missing from the dump"; exit 1; }
	done

	# Host names are quoted in generated files, so the rename is exact.
	if grep -q "\"$me\"" "$file"; then
		continue
	fi
	for name in $names; do
		host=$(awk -v r="resource \"$name\" {" '
			$0 == r { inres = 1; next }
			inres && $1 == "on" { gsub(/"/, "", $2); print $2; exit }' "$file")
		[ -n "$host" ] || { echo "$file: resource $name has no host"; exit 1; }
		sed "s/\"$host\"/\"$me\"/g" "$file" >"$tmp/local.res"
		run -c "$tmp/local.res" dump "$name" || exit 1
		run -d -c "$tmp/local.res" up "$name" || exit 1
	done
done
exit 0
