# Acknowledged writes survive outside readers of the SQLite store and a kill -9.
# An operator's `sqlite3 store.db ...`, a backup with `.backup`, a monitoring
# script: each opens and closes the database while drbdd commits. If drbdd has
# lost its own locks on the file, such a reader thinks it is the last user,
# deletes -wal/-shm, and every commit after that is gone at the next crash.
. "$(dirname "$0")/lib.sh"
t_need sqlite3 sqlite3
t_start_bus
t_start_drbdd
C=$DRBDCTL
db="$T_DIR/state/store.db"
acked="$T_DIR/acked"
: >"$acked"

# drbdd holds a POSIX lock on its database file while it runs (SQLite in WAL
# mode keeps a shared lock; losing it is what lets a reader delete the WAL).
holds_lock() {
	local ino
	ino=$(stat -c %i "$db") || return 1
	grep -Eq "^[0-9]+: POSIX +ADVISORY +(READ|WRITE) +$T_DRBDD_PID +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks
}
# No descriptor of drbdd points at a deleted store file (a WAL that a reader
# unlinked under it).
no_deleted_fd() {
	! ls -l "/proc/$T_DRBDD_PID/fd" 2>/dev/null | grep -q "$T_DIR/state/.*(deleted)"
}

# writer ID: creates resource definitions until told to stop (at most 150,
# each takes a TCP port), and records a name only once drbdctl has returned
# success (acknowledged).
writer() {
	local i=0
	while [ ! -e "$T_DIR/stop" ] && [ $i -lt 150 ]; do
		i=$((i + 1))
		if "$C" rd c "w$1-$i" >/dev/null 2>&1; then echo "w$1-$i" >>"$acked"; fi
	done
}

for round in 1 2; do
	rm -f "$T_DIR/stop"
	"$C" rd c "before$round" >/dev/null && echo "before$round" >>"$acked" || fail "round $round: first create"
	if holds_lock; then pass "round $round: drbdd holds a lock on store.db"
	else fail "round $round: drbdd holds no lock on store.db ($(grep -c . /proc/locks) locks in /proc/locks)"; fi

	writer "a$round" & wa=$!
	writer "b$round" & wb=$!
	# Outside readers and backups while the writers run, each opening and
	# closing the database (the last one to close would delete the WAL).
	ok=0
	for k in 1 2 3 4 5; do
		sleep 0.3
		r=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1) && [ "$r" = ok ] && ok=$((ok + 1))
		sqlite3 -readonly "$db" 'select count(*) from kv' >/dev/null 2>&1
		sqlite3 "$db" ".backup '$T_DIR/backup-$round-$k.db'" 2>/dev/null
	done
	[ "$ok" -eq 5 ] && pass "round $round: outside integrity_check reads ok while drbdd writes" ||
		fail "round $round: only $ok/5 outside integrity checks said ok"
	"$C" rd c "after$round" >/dev/null && echo "after$round" >>"$acked" || fail "round $round: create after the readers"
	sleep 0.5
	touch "$T_DIR/stop"
	wait "$wa" "$wb"

	[ -e "$db-wal" ] && pass "round $round: store.db-wal still exists" || fail "round $round: store.db-wal was deleted under drbdd"
	no_deleted_fd && pass "round $round: drbdd has no descriptor of a deleted store file" ||
		fail "round $round: drbdd writes into a deleted file: $(ls -l /proc/$T_DRBDD_PID/fd | grep deleted | head -2)"
	holds_lock && pass "round $round: drbdd still holds its lock after the readers" ||
		fail "round $round: drbdd lost its lock on store.db"

	# The backups are complete databases.
	b="$T_DIR/backup-$round-5.db"
	[ "$(sqlite3 "$b" 'PRAGMA integrity_check' 2>&1)" = ok ] &&
		sqlite3 "$b" "select count(*) from kv where key like '%/before$round'" | grep -qx 1 &&
		pass "round $round: a .backup taken while drbdd runs is whole and has the writes before it" ||
		fail "round $round: backup $b is not a whole copy"

	# Crash: every acknowledged write must be there after the restart.
	n_acked=$(wc -l <"$acked")
	t_stop_drbdd KILL
	# Round 2 runs every call on the event loop (no API workers), round 1 on workers.
	if [ $round = 1 ]; then t_start_drbdd --api-workers=0; else t_start_drbdd; fi
	have=$("$C" -o json rd l | jq -r '.[].name' | sort)
	missing=$(sort "$acked" | comm -23 - <(printf '%s\n' "$have"))
	if [ -z "$missing" ]; then pass "round $round: all $n_acked acknowledged resource definitions survived kill -9"
	else fail "round $round: $(printf '%s\n' "$missing" | wc -l) of $n_acked acknowledged lost after kill -9, e.g. $(printf '%s\n' "$missing" | head -3 | tr '\n' ' ')"; fi
done
t_done
