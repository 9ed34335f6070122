# Two drbdd's on one etcd (real etcd-server on loopback): shared state,
# concurrent allocation without duplicates, one leader with fail-over,
# re-placement of replicas of a lost node, and an etcd outage: writes fail
# fast with Unavailable, reads serve the last-known state, and everything
# resumes when etcd is back.
. "$(dirname "$0")/lib.sh"
start_etcd() { t_start_etcd; ETCD_PID=$T_ETCD_PID; }
start_etcd
EP=$T_ETCD_CP
# A long request timeout: the hung-etcd part below shows the loop answering
# while a write waits for etcd (test-store-outage.sh: the default's bound).
STORE="etcd:http://127.0.0.1:$EP?timeout-ms=3000"

# Second daemon on its own private bus (one name owner per bus).
T_start_second() {
	mkdir -p "$T_DIR/b"
	sed "s|$T_DIR/bus.sock|$T_DIR/b/bus.sock|" "$T_DIR/bus.conf" >"$T_DIR/b/bus.conf"
	dbus-daemon --config-file="$T_DIR/b/bus.conf" --nofork --nopidfile --print-address=3 3>"$T_DIR/b/bus.addr" 2>/dev/null &
	B_BUS_PID=$!
	for _ in $(seq 100); do [ -s "$T_DIR/b/bus.addr" ] && break; sleep 0.05; done
	B=$(head -1 "$T_DIR/b/bus.addr")
	# Its loop can be stalled on purpose by two calls (lib/fault.h).
	DRBDD_STALL=bus:ListResourceGroups=7000,bus:ListStoragePools=17000 \
		DBUS_SYSTEM_BUS_ADDRESS=$B "$DRBDD" --config=/dev/null --node-name=beta --state-dir="$T_DIR/b/state" --agent=no \
		--store "$STORE" --lease-ttl=2 --grace-period=3 >>"$T_DIR/b/drbdd.log" 2>&1 &
	B_PID=$!
	for _ in $(seq 100); do DBUS_SYSTEM_BUS_ADDRESS=$B "$DRBDCTL" version >/dev/null 2>&1 && return; sleep 0.05; done
	echo "FATAL: second drbdd did not start"; cat "$T_DIR/b/drbdd.log"; exit 1
}
t_start_bus
A=$DBUS_SYSTEM_BUS_ADDRESS
t_start_drbdd --agent=no --store "$STORE" --lease-ttl=2 --grace-period=3
T_start_second
trap 'kill $B_PID $B_BUS_PID $ETCD_PID 2>/dev/null; wait $B_PID $B_BUS_PID $ETCD_PID 2>/dev/null; t_cleanup' EXIT
CA() { DBUS_SYSTEM_BUS_ADDRESS=$A "$DRBDCTL" "$@"; }
CB() { DBUS_SYSTEM_BUS_ADDRESS=$B "$DRBDCTL" "$@"; }

expect_rc 0 "node alpha via drbdd A" -- CA n c alpha 10.0.0.1
expect_rc 0 "node beta via drbdd B" -- CB n c beta 10.0.0.2
expect_rc 0 "node gamma (no drbdd runs there)" -- CA n c gamma 10.0.0.3
for n in alpha beta gamma; do CA sp c lvm $n pool1 vg --capacity 100G >/dev/null; done
expect_match '^gamma ' "B sees what A wrote" -- CB n l

# Concurrent creates on both daemons: no duplicate ports or minors.
pids=()
for w in 0 1 2 3; do
	( for i in $(seq $w 4 199); do CA rd c a$i >/dev/null && CA vd c a$i 8M >/dev/null || echo "A a$i failed"; done ) >>"$T_DIR/conc.log" 2>&1 &
	pids+=($!)
	( for i in $(seq $w 4 199); do CB rd c b$i >/dev/null && CB vd c b$i 8M >/dev/null || echo "B b$i failed"; done ) >>"$T_DIR/conc.log" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
[ ! -s "$T_DIR/conc.log" ] && pass "400 creates on two daemons at once" || fail "creates failed: $(head -3 "$T_DIR/conc.log")"
rds=$(CA -o json rd l); vds=$(CB -o json vd l)
[ "$(echo "$rds" | jq length)" = 400 ] && pass "400 definitions" || fail "definitions: $(echo "$rds" | jq length)"
[ "$(echo "$rds" | jq '[.[].port] | length - (unique | length)')" = 0 ] && pass "no duplicate ports across daemons" || fail "duplicate ports"
[ "$(echo "$vds" | jq '[.[].minor] | length - (unique | length)')" = 0 ] && pass "no duplicate minors across daemons" || fail "duplicate minors"

# Exactly one leader; liveness shows the two running daemons (polled: on a
# loaded machine a 2 s lease can lapse and be renewed).
ok=
for _ in $(seq 40); do
	la=$(CA node status | jq '.cluster."is-leader"'); lb=$(CB node status | jq '.cluster."is-leader"')
	alive=$(CA node status | jq -r '.cluster.alive | sort | join(",")')
	[ "$la" != "$lb" ] && [ "$alive" = "alpha,beta" ] && { ok=1; break; }
	sleep 0.5
done
[ "$la" != "$lb" ] && pass "one leader (A: $la, B: $lb)" || fail "leaders: A=$la B=$lb"
[ "$alive" = "alpha,beta" ] && pass "liveness: alpha and beta alive, gamma not" || fail "alive: $alive"

# A replica on gamma (never alive) is re-placed after the grace period.
expect_rc 0 "rd r1" -- CA rd c r1
expect_rc 0 "vd r1" -- CA vd c r1 1G
expect_rc 0 "replica on gamma" -- CA r c gamma r1
expect_rc 0 "replica on beta" -- CA r c beta r1
ok=
for _ in $(seq 40); do
	CA -o json r l r1 | jq -e 'map(.node) | index("alpha") != null' >/dev/null && { ok=1; break; }
	sleep 0.5
done
[ -n "$ok" ] && pass "leader re-placed gamma's replica of r1 on alpha" || fail "no re-placement: $(CA r l r1)"
CA -o json r l r1 | jq -e 'map(.node) | index("gamma") != null' >/dev/null && pass "gamma's replica stays defined (data is not thrown away)" || fail "gamma's replica removed"

# Leader duties beyond re-placement: a resource with exactly two diskful
# replicas gets a tie-breaker only on a node that can vote (a live drbdd
# whose kernel runs DRBD 9: none here, this host has no DRBD; the lab's
# test-drbd9.sh shows the leader adding one); an allocation key whose
# resource is gone is freed.
expect_rc 0 "rd t1" -- CA rd c t1
expect_rc 0 "vd t1" -- CA vd c t1 1G
expect_rc 0 "diskful t1 on alpha" -- CA r c alpha t1
expect_rc 0 "diskful t1 on beta" -- CA r c beta t1
tb() { CA -o json r l t1 | jq '[.[] | select(."tie-breaker" == true)] | length'; }
sleep 11 # two leader passes (every 5 s)
[ "$(tb)" = 0 ] && pass "leader put no tie-breaker on a node that cannot vote" || fail "tie-breaker: $(CA r l t1)"
CA n c delta 10.0.0.4 >/dev/null && CA sp c lvm delta pool1 vg --capacity 100G >/dev/null
expect_rc 0 "third diskful replica of t1 on delta" -- CA r c delta t1
ok=; for _ in $(seq 40); do [ "$(tb)" = 0 ] && { ok=1; break; }; sleep 0.5; done
[ -n "$ok" ] && pass "no tie-breaker with three diskful replicas" || fail "tie-breaker stayed: $(CA r l t1)"
ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:$EP put /drbdd/alloc/port/007777 ghost-resource >/dev/null
ok=; for _ in $(seq 40); do
	[ -z "$(ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:$EP get --print-value-only /drbdd/alloc/port/007777)" ] && { ok=1; break; }
	sleep 0.5
done
[ -n "$ok" ] && pass "leader freed an allocation whose resource is gone" || fail "orphan allocation kept"

# A busy or stalled event loop does not cost the liveness lease (renewed on
# a thread of its own), unless the loop stalls past 6 TTLs (12 s here): a
# hung daemon must still be seen as gone. B's lease TTL is 2 s.
alive_key() { ETCDCTL_API=3 etcdctl --endpoints http://127.0.0.1:$EP get --keys-only /drbdd/alive/beta | grep -c beta; }
# watch_alive SECONDS: how many of the 0.2 s samples found beta's key missing.
watch_alive() {
	local gone=0
	for _ in $(seq $(($1 * 5))); do [ "$(alive_key)" = 1 ] || gone=$((gone + 1)); sleep 0.2; done
	echo $gone
}
[ "$(alive_key)" = 1 ] && pass "beta's liveness key exists" || fail "no liveness key for beta"
CB rg l >/dev/null 2>&1 & stall=$!
sleep 0.5
gone=$(watch_alive 6)
wait $stall
[ "$gone" = 0 ] && pass "B's loop stalled 7 s (3.5 lease TTLs): its liveness key never went away" ||
	fail "B's liveness key was missing in $gone samples during a 7 s stall"
CB sp l >/dev/null 2>&1 & stall=$!
sleep 0.5
gone=$(watch_alive 16)
wait $stall
[ "$gone" -gt 0 ] && pass "B's loop stalled 17 s (past 12 s): its lease lapsed" || fail "a hung B kept its lease"
ok=; for _ in $(seq 40); do [ "$(alive_key)" = 1 ] && { ok=1; break; }; sleep 0.25; done
[ -n "$ok" ] && pass "B registered again once its loop ran" || fail "B did not come back"
grep -q "no longer renewing the liveness lease" "$T_DIR/b/drbdd.log" && pass "B logged why it let the lease go" ||
	fail "no log line about the stalled loop"

# Leader fail-over: stop the leader, the other takes over.
if [ "$la" = true ]; then kill -TERM "$T_DRBDD_PID"; wait "$T_DRBDD_PID"; T_DRBDD_PID=; SURV=CB; else kill -TERM "$B_PID"; wait "$B_PID"; SURV=CA; fi
ok=
for _ in $(seq 40); do [ "$($SURV node status | jq '.cluster."is-leader"')" = true ] && { ok=1; break; }; sleep 0.25; done
[ -n "$ok" ] && pass "the surviving drbdd became leader" || fail "no fail-over: $($SURV node status | jq -c .cluster)"

# A hung etcd (stopped: takes connections, never answers): the first call
# waits its timeout (3 s here), the ones after it fail at once instead of each
# blocking the daemon again; reads come from the cache; once etcd answers, a
# probe notices within a fraction of a second.
kill -STOP "$ETCD_PID"
# While a write waits for the hung etcd on an API worker, the loop answers.
start=$(date +%s%N)
$SURV rd c hung0 >/dev/null 2>&1 & blocked=$!
sleep 0.3
expect_rc 0 "hung etcd: GetVersion answers while a write waits" -- $SURV version
expect_rc 0 "hung etcd: node status (on the loop) answers while a write waits" -- $SURV node status
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -0 $blocked 2>/dev/null && pass "hung etcd: both answered in ${ms} ms, the write still waiting" ||
	fail "hung etcd: the write was no longer waiting after ${ms} ms (did it block at all?)"
wait $blocked
start=$(date +%s%N); n=0
for i in 1 2 3 4 5 6 7 8 9 10; do $SURV rd c "hung$i" >/dev/null 2>&1; [ $? = 8 ] && n=$((n + 1)); done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $n = 10 ] && [ $ms -lt 3000 ] && pass "hung etcd: 10 more writes fail with Unavailable at once (${ms} ms for all)" ||
	fail "hung etcd: $n/10 Unavailable in ${ms} ms"
expect_match '^r1 ' "hung etcd: reads serve the last-known state" -- $SURV rd l
kill -CONT "$ETCD_PID"
start=$(date +%s%N); ok=
for _ in $(seq 100); do $SURV rd c unhung >/dev/null 2>&1 && { ok=1; break; }; sleep 0.05; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ -n "$ok" ] && [ $ms -lt 3000 ] && pass "etcd answers again: writes work after ${ms} ms" || fail "after SIGCONT: ok=$ok after ${ms} ms"

# Restart cycles: once etcd is healthy again, writes work within seconds.
for cycle in 1 2 3; do
	kill -KILL "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null
	$SURV rd c "cycle$cycle-down" >/dev/null 2>&1
	start_etcd
	start=$(date +%s%N); ok=
	for _ in $(seq 200); do $SURV rd c "cycle$cycle" >/dev/null 2>&1 && { ok=1; break; }; sleep 0.05; done
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ -n "$ok" ] && [ $ms -lt 3000 ] && pass "etcd restart $cycle: writes work ${ms} ms after etcd is healthy" ||
		fail "etcd restart $cycle: ok=$ok after ${ms} ms"
done

# etcd outage.
kill -TERM "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null
start=$(date +%s.%N)
expect_rc 8 "create during etcd outage -> exit 8 (Unavailable)" -- $SURV rd c during
el=$(echo "$(date +%s.%N) - $start" | bc)
[ "$(echo "$el < 5" | bc)" = 1 ] && pass "fails fast (${el}s)" || fail "took ${el}s"
expect_match "unavailable" "clear message" -- echo "$T_LAST_OUT"
expect_match '^r1 ' "reads serve the last-known state during the outage" -- $SURV rd l
start_etcd
ok=
for _ in $(seq 60); do $SURV rd c after >/dev/null 2>&1 && { ok=1; break; }; sleep 0.5; done
[ -n "$ok" ] && pass "writes work again once etcd is back, without manual steps" || fail "still failing after etcd restart"
t_done
