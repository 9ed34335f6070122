# drbd-nova-helper on this host, where no libvirtd runs: usage errors, the
# node property it sets, and what it does while libvirt or drbdd is
# unreachable (logs once, keeps retrying, stops cleanly on SIGTERM). What it
# does with domains is proven against a real libvirtd and QEMU in the lab
# (cinder-backend/tests/lab_scenario.py, lab-openstack-check).
. "$(dirname "$0")/lib.sh"
H=$BUILD/drbd-nova-helper
[ -x "$H" ] || { fail "$H missing (make)"; t_done; exit 1; }

expect_rc 2 "unknown option -> exit 2" -- "$H" --bogus
expect_rc 2 "--interval 0 -> exit 2" -- "$H" --interval 0
expect_rc 2 "--interval 12x -> exit 2" -- "$H" --interval 12x
expect_rc 2 "--window-grace -1 -> exit 2" -- "$H" --window-grace -1
expect_rc 2 "an extra argument -> exit 2" -- "$H" extra
expect_match 'Usage: drbd-nova-helper' "--help" -- "$H" --help
expect_match '^drbd-nova-helper [0-9]' "--version" -- "$H" --version

# No drbdd, no libvirtd: --once fails (1) and says why.
expect_rc 1 "--once without libvirt -> exit 1" -- "$H" --once --connect qemu+unix:///system?socket=$T_DIR/none.sock
grep -q "libvirt at .* is not reachable" <<<"$T_LAST_OUT" && pass "it says libvirt is not reachable" ||
	fail "no libvirt message: $T_LAST_OUT"

t_start_bus
t_start_drbdd
$DRBDCTL n c alpha 10.0.0.1 >/dev/null || fail "node alpha"
"$H" --once --node alpha --nova-host compute-a.example --connect "qemu+unix:///system?socket=$T_DIR/none.sock" \
	>"$T_DIR/once.out" 2>&1
[ "$($DRBDCTL -o json n l | jq -r '.[] | select(.name == "alpha") | .properties."nova-host"')" = compute-a.example ] &&
	pass "--nova-host sets the node's nova-host property" || fail "nova-host: $($DRBDCTL -o json n l)"

# The helper's decisions about replicas, with libvirt's built-in test driver
# (test:///default: one running domain "test" that uses no DRBD volume) as
# a stand-in hypervisor: no domain here uses anything, which is what these
# decisions are about. The lab (lab-nova-check) runs the helper against a
# real libvirtd and QEMU.
for n in beta:2 gamma:3; do $DRBDCTL n c "${n%%:*}" "10.0.0.${n##*:}" >/dev/null || fail "node ${n%%:*}"; done
for n in beta gamma; do $DRBDCTL sp c lvm $n pool1 drbdpool --capacity 10G >/dev/null || fail "pool $n"; done
$DRBDCTL rg c gold --place-count 2 --storage-pool pool1 >/dev/null && $DRBDCTL rg spawn gold w1 64M >/dev/null &&
	$DRBDCTL rg spawn gold o1 64M >/dev/null || fail "resources"
# A window alpha holds that no domain here ever used: closed after 10 x grace.
$DRBDCTL r attach beta w1 >/dev/null && $DRBDCTL r attach alpha w1 >/dev/null || fail "attach w1"
# A client an attach made here that no domain references: an orphan.
$DRBDCTL r attach alpha o1 >/dev/null || fail "attach o1"
TEST_LV="--connect test:///default --node alpha"
"$H" --once $TEST_LV --window-grace 1 --orphan-grace 1 >"$T_DIR/o1.json" 2>"$T_DIR/o1.log"
jq -e '.orphans == [] and ."windows-closed" == []' "$T_DIR/o1.json" >/dev/null &&
	pass "first pass: clocks start, nothing acted on" || fail "first pass: $(cat "$T_DIR/o1.json")"
"$H" $TEST_LV --interval 1 --window-grace 1 --orphan-grace 2 >"$T_DIR/run.log" 2>&1 &
hp=$!
attached() { $DRBDCTL -o json r l "$1" | jq -r '[.[] | select(.attached) | .node] | sort | join(",")'; }
for _ in $(seq 40); do [ "$(attached w1)" = beta ] && break; sleep 0.5; done
[ "$(attached w1)" = beta ] && grep -q "closing the dual-primary window of 'w1'.*never started" "$T_DIR/run.log" &&
	pass "a window no domain here ever used: alpha detached after 10 x window-grace, logged" ||
	fail "window: attached '$(attached w1)'; $(grep -i window "$T_DIR/run.log" | tail -2)"
for _ in $(seq 20); do grep -q "orphaned client: 'o1'" "$T_DIR/run.log" && break; sleep 0.5; done
grep -q "orphaned client: 'o1'" "$T_DIR/run.log" && [ "$(attached o1)" = alpha ] &&
	pass "an orphaned client is reported, and stays while the group does not allow removing it" ||
	fail "orphan: $(grep -i orphan "$T_DIR/run.log" | tail -2); attached '$(attached o1)'"
[ "$(grep -c "orphaned client: 'o1'" "$T_DIR/run.log")" = 1 ] && pass "reported once" || fail "reported more than once"
$DRBDCTL rg m gold --remove-orphans >/dev/null || fail "rg m --remove-orphans"
for _ in $(seq 20); do [ -z "$(attached o1)" ] && break; sleep 0.5; done
[ -z "$(attached o1)" ] && [ "$($DRBDCTL -o json r l o1 | jq '[.[] | select(.node == "alpha")] | length')" = 0 ] &&
	grep -q "detaching orphaned client 'o1'" "$T_DIR/run.log" &&
	pass "remove-orphans: the helper detached it, the client is gone" || fail "orphan not removed: $(tail -3 "$T_DIR/run.log")"
kill $hp; wait $hp

# Running, both unreachable in turn: it stays up, logs each once, stops on SIGTERM.
"$H" --node alpha --interval 1 --connect "qemu+unix:///system?socket=$T_DIR/none.sock" >"$T_DIR/helper.log" 2>&1 &
pid=$!
sleep 4
kill -0 $pid 2>/dev/null && pass "keeps running while libvirt is unreachable" || fail "it exited: $(cat "$T_DIR/helper.log")"
n=$(grep -c "not reachable" "$T_DIR/helper.log")
[ "$n" = 1 ] && pass "logs the outage once over 4 passes" || fail "$n messages: $(cat "$T_DIR/helper.log")"
t0=$(date +%s%N)
kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
wait $pid; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] && [ $ms -lt 5000 ] && grep -q "stopping" "$T_DIR/helper.log" && pass "SIGTERM: exit 0 after ${ms} ms" ||
	fail "SIGTERM: rc=$rc after ${ms} ms: $(tail -3 "$T_DIR/helper.log")"
t_done
