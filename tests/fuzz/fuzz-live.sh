#!/bin/bash
# make fuzz-live [DURATION=60] [SEED=N]: fuzzes the real drbdd over D-Bus for DURATION
# seconds (tests/fuzz/drbdd-fuzz.c; see tests/fuzz/fuzz.mk), then checks the store.
# Exit 0 when there was no finding; the private bus and state are kept on failure.
. "$(dirname "$0")/../integration/lib.sh"
t_need dbus-daemon dbus
t_need sqlite3 sqlite3
FUZZ="$BUILD/drbdd-fuzz"
[ -x "$FUZZ" ] || { fail "$FUZZ missing: run make $FUZZ"; exit 1; }

DURATION=${DURATION:-60}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
FINDINGS="$BUILD/fuzz/dbus-findings-$SEED"
mkdir -p "$BUILD/fuzz"
rm -rf "$FINDINGS"

t_start_bus
# --agent=no: a controller only; nothing the calls ask for touches this machine.
t_start_drbdd --agent=no
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DRBDD_PID/status" 2>/dev/null; }
rss_before=$(rss)
"$FUZZ" live --seed="$SEED" --duration="$DURATION" --pid="$T_DRBDD_PID" --findings="$FINDINGS" 2>"$T_DIR/fuzz.log"
rc=$?
grep -m 20 '^FINDING' "$T_DIR/fuzz.log" | cut -c1-300
echo
echo "after the run (drbdd's resident memory: ${rss_before:-?} KiB before, $(rss || true) KiB after):"
case $rc in
0) pass "no findings" ;;
1) fail "findings: calls saved in $FINDINGS; replay one with" \
	"FUZZ_CORPUS=FILE bash tests/integration/test-fuzz-dbus.sh, keep it in tests/fuzz/corpus/dbus/" ;;
*) fail "drbdd-fuzz failed (exit $rc): $(tail -3 "$T_DIR/fuzz.log")" ;;
esac
# listings DIR: what drbdctl lists of every kind of object, as JSON, into DIR.
listings() {
	mkdir -p "$1"
	for what in n sp rg rd vd r s e; do
		expect_rc 0 "drbdctl $what l" -- "$DRBDCTL" -o json "$what" l
		printf '%s\n' "$T_LAST_OUT" >"$1/$what"
	done
}
if t_drbdd_alive; then
	pass "drbdd alive"
	listings "$T_DIR/before"
	kill -TERM "$T_DRBDD_PID"
	wait "$T_DRBDD_PID"
	st=$?
	T_DRBDD_PID=
	[ "$st" -eq 0 ] && pass "drbdd stops cleanly" || fail "drbdd exit status $st on SIGTERM"
else
	fail "drbdd died (log: $T_DIR/drbdd.log)"
	T_DRBDD_PID=
fi
integrity=$(sqlite3 "$T_DIR/state/store.db" 'PRAGMA integrity_check' 2>&1)
[ "$integrity" = ok ] && pass "store: PRAGMA integrity_check ok" || fail "store: integrity_check: $integrity"
# The store must also make sense to drbdd: restarted on it, it lists the same.
t_start_drbdd --agent=no
listings "$T_DIR/after"
if [ -d "$T_DIR/before" ]; then
	d=$(diff -r "$T_DIR/before" "$T_DIR/after" | head -20)
	[ -z "$d" ] && pass "restarted drbdd lists the same objects" || fail "listings differ after a restart: $d"
fi
[ "$T_FAILS" -eq 0 ] || echo "seed $SEED: repeat with make fuzz-live SEED=$SEED DURATION=$DURATION"
t_done
