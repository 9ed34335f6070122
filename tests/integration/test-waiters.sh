# Pending WaitReady calls cannot make drbdd unresponsive: they are bounded per
# caller user and in total (Busy beyond), dropped when their caller leaves the
# bus, answered together by one check per replica, and API calls keep being
# served while thousands are pending. (Figures: make bench.)
. "$(dirname "$0")/lib.sh"
t_start_bus
WAITERS="$BUILD/drbdd-waiters"
C=$DRBDCTL

setup() {
	$C n c alpha 10.0.0.1 >/dev/null && $C n c beta 10.0.0.2 >/dev/null &&
		$C sp c lvm alpha pool vg --capacity 100G >/dev/null && $C sp c lvm beta pool vg --capacity 100G >/dev/null &&
		$C rg c gg --storage-pool pool --place-count 2 >/dev/null &&
		for r in "$@"; do $C rg spawn gg "$r" 8M >/dev/null || return 1; done
}
# answers FILE NAME: how many calls the summary line of FILE counts as NAME.
answers() { tail -1 "$1" | jq -r --arg n "$2" '.answers[$n] // 0'; }
pending() { tail -1 "$1" | jq -r '.pending'; }
# taken FILE: waits until the drbdd-waiters writing FILE says drbdd took its calls.
taken() {
	for _ in $(seq 600); do grep -q '^taken' "$1" && return 0; sleep 0.1; done
	return 1
}
BUSY=org.drbd.drbdd1.Error.Busy
TIMEOUT=org.drbd.drbdd1.Error.Timeout
NOTFOUND=org.drbd.drbdd1.Error.NotFound

# ---- 1. Per caller user: root may hold 300; a caller that leaves frees its share.
t_start_drbdd --max-waits-per-user=300
setup k1 k2 s0 s1 || { fail "setup"; t_done; exit 1; }
"$WAITERS" --hold-ms=120000 3 100 k1 alpha 600000 >"$T_DIR/hold1" 2>&1 & hold1=$!
taken "$T_DIR/hold1" && pass "300 WaitReady calls pending from one user" || fail "holder 1: $(cat "$T_DIR/hold1")"
"$WAITERS" 1 10 k2 alpha 1000 >"$T_DIR/over" 2>&1
[ "$(answers "$T_DIR/over" $BUSY)" = 10 ] && pass "the next 10 from the same user get Busy at once" ||
	fail "over the per-user limit: $(tail -1 "$T_DIR/over")"
expect_match 'too many pending WaitReady calls from user 0 \(300' "Busy says which limit" -- \
	sh -c "$BUILD/drbdd-call WaitReady sst '[\"k2\",\"alpha\",1000000]'; true"
expect_rc 0 "reads work while they are pending" -- $C rd l
kill "$hold1"; wait "$hold1" 2>/dev/null
# The caller left: its 300 are dropped, so the user's share is free again.
ok=0
for _ in $(seq 50); do
	"$WAITERS" 1 10 k2 alpha 300 >"$T_DIR/after" 2>&1
	[ "$(answers "$T_DIR/after" $TIMEOUT)" = 10 ] && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass "calls of a caller that left the bus are dropped (the next 10 wait and time out)" ||
	fail "after the caller left: $(tail -1 "$T_DIR/after")"
t_stop_drbdd

# ---- 2. In total: at most 200 from anyone.
t_start_drbdd --max-waits=200
"$WAITERS" 3 80 k1 alpha 1500 >"$T_DIR/total" 2>&1
[ "$(answers "$T_DIR/total" $BUSY)" = 40 ] && [ "$(answers "$T_DIR/total" $TIMEOUT)" = 200 ] &&
	pass "240 calls with max-waits=200: 200 wait (and time out), 40 get Busy" || fail "total limit: $(tail -1 "$T_DIR/total")"
t_stop_drbdd

# ---- 3. Thousands pending (default limits, several users' worth from root):
# API reads and writes are served, and one change answers all of a replica's calls.
t_start_drbdd --max-waits-per-user=4096
"$WAITERS" --hold-ms=600000 --spread=2 30 100 s alpha 600000 >"$T_DIR/many" 2>&1 & many=$!
"$WAITERS" --hold-ms=600000 10 100 k1 beta 600000 >"$T_DIR/k1" 2>&1 & k1=$!
if taken "$T_DIR/many" && taken "$T_DIR/k1"; then pass "4000 WaitReady calls pending"; else fail "holders: $(cat "$T_DIR/many" "$T_DIR/k1" | head -5)"; fi
"$WAITERS" 1 100 k2 alpha 1000 >"$T_DIR/over" 2>&1
[ "$(answers "$T_DIR/over" $BUSY)" = 4 ] && [ "$(answers "$T_DIR/over" $TIMEOUT)" = 96 ] &&
	pass "the total (4096 by default) holds: 96 of the next 100 wait, 4 get Busy" ||
	fail "default total limit: $(tail -1 "$T_DIR/over")"
ok=0
for i in $(seq 20); do $C rd c "free$i" >/dev/null && $C rd l >/dev/null && ok=$((ok + 1)); done
[ $ok = 20 ] && pass "20 writes and 20 reads served while 4096 calls are pending" || fail "only $ok/20 write+read rounds worked"
expect_rc 0 "deleting k1 answers its 1000 pending calls" -- $C rd d k1
for _ in $(seq 100); do kill -0 "$k1" 2>/dev/null || break; sleep 0.1; done
kill "$k1" 2>/dev/null; wait "$k1" 2>/dev/null
n=$(answers "$T_DIR/k1" $NOTFOUND)
[ "$n" = 1000 ] && pass "all 1000 calls on k1 answered NotFound after the delete" || fail "k1: $(tail -1 "$T_DIR/k1")"
kill "$many"; wait "$many" 2>/dev/null
expect_rc 0 "drbdd still serves after the holders left" -- $C rd l
t_drbdd_alive && pass "drbdd alive" || fail "drbdd died"
t_done
