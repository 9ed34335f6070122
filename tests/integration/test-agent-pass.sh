# A reconcile pass over unchanged resources runs no command and writes
# nothing to the store: the real agent code with recorded commands
# (tests/bench/bench-agent-pass.c: SQLite store, a simulated volume group,
# the kernel state as events2 lines; no DRBD here). Without the storage
# probe's gating the steady pass runs lvs and vgs; with a write per pass it
# writes. Counts only, no time is asserted.
. "$(dirname "$0")/lib.sh"
out=$("$BUILD/bench-agent-pass" 0 20 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
[ $rc = 0 ] && pass "bench-agent-pass reached a steady pass for 0 and 20 resources" ||
	fail "bench-agent-pass exit $rc"
[ "$(printf '%s\n' "$out" | awk '/steady pass: commands/ { print $4 + $5 }')" = 0 ] &&
	pass "steady pass: no command (no lvs/vgs when nothing changed)" || fail "steady pass ran commands"
[ "$(printf '%s\n' "$out" | awk '/steady pass: store writes/ { print $5 + $6 }')" = 0 ] &&
	pass "steady pass: no store write" || fail "steady pass wrote to the store"
t_done
