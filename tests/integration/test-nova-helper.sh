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
