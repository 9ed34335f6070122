# The D-Bus fuzz corpus (tests/fuzz/corpus/dbus/, one call per file; see
# tests/fuzz/fuzz.mk) replayed against the real drbdd by build/drbdd-fuzz: each
# call gets a reply within 3 s, a method return or a typed error (and the one in
# the file's "expect"), drbdd stays up, and the store stays sound. Files marked
# "known-defect" count as XFAIL, and fail once they pass (then drop the mark);
# FUZZ_STRICT=1 fails on them at once; FUZZ_CORPUS=FILE|DIR... replays others
# (e.g. a finding of make fuzz-live).
. "$(dirname "$0")/lib.sh"
t_need dbus-daemon dbus
t_need sqlite3 sqlite3
FUZZ="$BUILD/drbdd-fuzz"
[ -x "$FUZZ" ] || { fail "$FUZZ missing: run make $FUZZ"; t_done; exit 1; }
t_start_bus
t_start_drbdd --agent=no

strict=
[ -n "${FUZZ_STRICT:-}" ] && strict=--strict
# shellcheck disable=SC2086 # FUZZ_CORPUS may name several files
out=$("$FUZZ" replay --timeout=3 --pid="$T_DRBDD_PID" $strict ${FUZZ_CORPUS:-"$SRCDIR/tests/fuzz/corpus/dbus"} \
	2>"$T_DIR/fuzz.log")
rc=$?
printf '%s\n' "$out" | grep -v '^  ok ' | sed '$d' | cut -c1-160
summary=$(printf '%s\n' "$out" | tail -1)
[ "$rc" -eq 0 ] && pass "$summary" || fail "$summary (exit $rc)"

t_drbdd_alive && pass "drbdd still running" || fail "drbdd died"
integrity=$(sqlite3 -readonly "$T_DIR/state/store.db" 'PRAGMA integrity_check' 2>&1)
[ "$integrity" = ok ] && pass "store: PRAGMA integrity_check ok" || fail "store: $integrity"
expect_match '^fz0 ' "drbdctl rd l still answers" -- "$DRBDCTL" rd l
t_done
