#!/bin/bash
# DRBD 9 behaviour on the DRBD 9 kernel the lab builds (../shared/drbd9):
# tie-breakers and quorum, a diskless client that survives the power-off of
# a diskful node, quorum loss with the resource group's policy, online grow
# seen by the client, toggle-disk, adding and removing replicas live, peer
# slots. Three VMs: vm1 and vm2 hold the replicas (pool1), vm3 is the
# compute node (client, tie-breaker; pool3 for toggle-disk) and runs etcd.
set -u
. "$(dirname "$0")/lab.sh"
[ "$LAB_DRBD" = 9 ] || lab_die "test-drbd9.sh needs LAB_DRBD=9 (it is $LAB_DRBD)"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.3:2379;"
on() { local vm=$1; shift; lab_run -t "${T:-240}" "$vm" "$G$*"; }

test_setup() {
	on vm3 'set -e; vg_setup; etcd_start; node_start --store $STORE'
	on vm1 'set -e; vg_setup; node_start --store $STORE'
	on vm2 'set -e; vg_setup; node_start --store $STORE'
	on vm3 'set -e
ctl n c vm1 10.99.0.1 --property site=a; ctl n c vm2 10.99.0.2 --property site=b; ctl n c vm3 10.99.0.3 --property site=c
# Defined but never started: no live drbdd, no kernel report (sorts before vm3).
ctl n c ghost 10.99.0.9 --property site=d
ctl sp c lvm vm1 pool1 drbdpool; ctl sp c lvm vm2 pool1 drbdpool; ctl sp c lvm vm3 pool3 drbdpool
ctl rg c mirror --place-count 2 --storage-pool pool1 --replicas-on-different site
ctl rg c mirror-suspend --place-count 2 --storage-pool pool1 --drbd-option options/on-no-quorum=suspend-io
nine() { [ "$(ctl -o json n l | jq "[.[] | select(.kernel.version // \"\" | startswith(\"9.\"))] | length")" = 3 ]; }
wait_until 60 nine || { ctl n l; exit 1; }
wait_until 60 pools_reported
ctl n l'
}

# Two diskful replicas get their tie-breaker in the same step, so quorum is
# on from the first configuration; never on a node that cannot vote.
test_tiebreaker() {
	on vm3 'set -e
ctl rg spawn mirror t1 32M
ctl r l t1
[ "$(kind_of t1 vm1) $(kind_of t1 vm2) $(kind_of t1 vm3)" = "Diskful Diskful TieBreaker" ] ||
	{ echo "not two diskful replicas and a tie-breaker on vm3 right after spawn"; exit 1; }
[ -z "$(kind_of t1 ghost)" ] || { echo "a tie-breaker on ghost, a node that never ran drbdd"; exit 1; }
echo "ok: spawn placed 2 diskful replicas and the tie-breaker (on vm3, not on ghost) at once"
ctl r sc vm1 t1 | grep -Eq "quorum[[:space:]]+majority;" || { ctl r sc vm1 t1; exit 1; }
echo "ok: the first configuration already has quorum majority"
wait_until 120 all_state t1 UpToDate || { ctl r l t1; exit 1; }
drbdsetup show t1 | grep -Eq "quorum[[:space:]]+majority;" || { drbdsetup show t1; exit 1; }
echo "ok: quorum majority in the tie-breaker'"'"'s kernel"
ctl rd d t1'
}

test_client() {
	on vm3 'set -e
ctl rg spawn mirror c1 64M
wait_until 120 all_state c1 UpToDate || { ctl r l c1; exit 1; }
id=$(node_id_of c1 vm3)
ctl r c vm3 c1 --diskless
[ "$(kind_of c1 vm3)" = Diskless ] && [ "$(node_id_of c1 vm3)" = "$id" ] || { ctl r l c1; exit 1; }
echo "ok: attaching on vm3 turned its tie-breaker into a client (node-id $id kept)"
wait_until 60 state_is c1 vm3 Diskless
dev=$(dev_of c1); rm -f /tmp/acks1
writer_start $dev /tmp/acks1
wait_until 60 acks_at_least /tmp/acks1 20 || { cat /tmp/acks1; drbdsetup status c1; exit 1; }
drbdsetup status c1 | head -1 | grep -q role:Primary || { drbdsetup status c1; exit 1; }
echo "ok: vm3 (no disk) is Primary by opening the device and writes through vm1 and vm2"'
	lab_poweroff vm1
	on vm3 'set -e
n=$(acks /tmp/acks1)
wait_until 60 acks_at_least /tmp/acks1 $((n + 25)) || { echo "I/O stalled after vm1 lost power"; tail -3 /tmp/acks1; drbdsetup status c1; exit 1; }
[ "$(errs /tmp/acks1)" = 0 ] || { echo "writes failed after vm1 lost power"; grep err /tmp/acks1 | head -3; drbdsetup status c1 --verbose; dmesg | grep -i drbd | tail -25; exit 1; }
writer_stop
echo "ok: I/O went on with vm1 powered off: $(acks /tmp/acks1) writes acknowledged, none failed"
verify_acks /tmp/acks1 $(dev_of c1)
echo "ok: every acknowledged write is on the survivor vm2"'
	lab_restart vm1 || return 1
	on vm1 'set -e; node_start --store $STORE
wait_until 180 all_state c1 UpToDate || { ctl r l c1; drbdsetup status c1; exit 1; }
echo "ok: vm1 came back and resynced"'
}

# The client cut off from both diskful nodes: the group's on-no-quorum
# policy (io-error by default, suspend-io in mirror-suspend); the diskful
# side keeps quorum; no split brain afterwards.
test_quorum() {
	on vm3 'set -e
ctl rg spawn mirror-suspend q2 16M
wait_until 120 all_state q2 UpToDate || { ctl r l q2; exit 1; }
ctl r c vm3 q2 --diskless
wait_until 60 state_is q2 vm3 Diskless
ctl r sc vm3 q2 | grep -Eq "on-no-quorum[[:space:]]+suspend-io;" || { ctl r sc vm3 q2; exit 1; }
drbdsetup show --show-defaults q2 | grep -Eq "on-no-quorum[[:space:]]+suspend-io;" || { drbdsetup show --show-defaults q2; exit 1; }
drbdsetup show --show-defaults c1 | grep -Eq "on-no-quorum[[:space:]]+io-error;" || { drbdsetup show --show-defaults c1; exit 1; }
echo "ok: the kernel has on-no-quorum suspend-io for q2 (its group), io-error for c1 (the default)"
rm -f /tmp/acks-c1 /tmp/acks-q2
writer_start $(dev_of c1) /tmp/acks-c1; cp /run/writer.pid /run/writer-c1.pid
writer_start $(dev_of q2) /tmp/acks-q2; cp /run/writer.pid /run/writer-q2.pid
wait_until 60 acks_at_least /tmp/acks-c1 5 && wait_until 60 acks_at_least /tmp/acks-q2 5'
	lab_link vm3 down
	on vm3 'set -e
wait_until 60 errs_at_least /tmp/acks-c1 3 || { echo "c1 (io-error) did not fail writes without quorum"; tail -3 /tmp/acks-c1; drbdsetup status c1; exit 1; }
grep -q "^err [0-9]* 5$" /tmp/acks-c1 || { echo "c1 failed writes, but not with EIO"; grep err /tmp/acks-c1 | head -3; exit 1; }
echo "ok: c1 without quorum: writes fail with EIO (on-no-quorum io-error)"
n=$(acks /tmp/acks-q2); sleep 8
[ "$(acks /tmp/acks-q2)" -le $((n + 1)) ] && [ "$(errs /tmp/acks-q2)" = 0 ] && kill -0 $(cat /run/writer-q2.pid) ||
	{ echo "q2 (suspend-io) did not suspend"; tail -3 /tmp/acks-q2; exit 1; }
drbdsetup status q2 | grep -q "suspended:.*quorum" || { drbdsetup status q2; exit 1; }
echo "ok: q2 without quorum: I/O suspended, no error (on-no-quorum suspend-io)"'
	on vm1 'set -e
drbdsetup status c1 | grep -q "quorum:no" && { drbdsetup status c1; exit 1; }
echo "ok: the diskful side keeps quorum while vm3 is cut off"'
	lab_link vm3 up
	on vm3 'set -e
n=$(acks /tmp/acks-q2)
wait_until 120 acks_at_least /tmp/acks-q2 $((n + 5)) || { echo "q2 I/O did not resume with quorum back"; drbdsetup status q2; exit 1; }
[ "$(errs /tmp/acks-q2)" = 0 ]
echo "ok: q2 I/O resumed when quorum came back, no write failed"
n=$(acks /tmp/acks-c1)
wait_until 120 acks_at_least /tmp/acks-c1 $((n + 5)) || { echo "c1 writes did not succeed again"; drbdsetup status c1; exit 1; }
echo "ok: c1 writes succeed again"
kill $(cat /run/writer-c1.pid) $(cat /run/writer-q2.pid); sleep 1
verify_acks /tmp/acks-q2 $(dev_of q2)
for r in c1 q2; do
	wait_until 60 connected_to $r vm1 && wait_until 60 connected_to $r vm2 || { drbdsetup status $r; exit 1; }
done
echo "ok: vm3 reconnected to vm1 and vm2"'
	on vm1 'set -e
for r in c1 q2; do
	wait_until 60 all_state $r UpToDate || { drbdsetup status $r; exit 1; }
	drbdsetup status $r --verbose | grep -Eq "StandAlone|split" && { drbdsetup status $r --verbose; exit 1; }
done
dmesg | grep -i "split-brain" && { echo "split brain in the kernel log"; exit 1; }
echo "ok: no split brain on vm1"'
}

# Online grow with the client attached: the client sees the new size.
test_grow() {
	on vm3 'set -e
ctl vd set-size c1 0 96M
wait_until 120 size_at_least $(dev_of c1) $((96 * 1024 * 1024)) || { ctl v l c1; drbdsetup status c1; exit 1; }
echo "ok: the client on vm3 sees c1 grown to $(dev_size $(dev_of c1)) bytes"'
}

# toggle-disk both ways, a third diskful replica live, a replica removed
# live (survivors stay connected, its node-id is forgotten and not reused).
test_toggle() {
	on vm3 'set -e
dev=$(dev_of c1)
dd if=$dev bs=1M count=8 iflag=direct status=none | sha256sum >/tmp/c1.sum
id=$(node_id_of c1 vm3)
ctl r td vm3 c1 --storage-pool pool3
[ "$(kind_of c1 vm3)" = Diskful ] && [ "$(node_id_of c1 vm3)" = "$id" ]
wait_until 240 state_is c1 vm3 UpToDate || { ctl r l c1; drbdsetup status c1; tail -20 /tmp/drbdd.log; exit 1; }
[ "$(our_lvs)" = "c1_00000 " ] || { echo "no LV on vm3: [$(our_lvs)]"; exit 1; }
echo "ok: toggle-disk made the client on vm3 a third diskful replica (same node-id $id); synced"
same_sum $dev /tmp/c1.sum 8388608 || { echo "data differs on vm3"; exit 1; }
echo "ok: vm3 reads the same data from its own disk"
old=$(node_id_of c1 vm2)
ctl r d vm2 c1
echo "$old" >/tmp/vm2-id'
	# (The leader may already have put a tie-breaker there: c1 has two diskful replicas left.)
	on vm2 'set -e; wait_until 120 lv_gone c1_00000 || { echo "vm2: LVs [$(our_lvs)] kernel [$(kernel_resources)]"; exit 1; }
echo "ok: the replica on vm2 is gone with its LV"'
	local removed
	removed=$(lab_run vm3 'cat /tmp/vm2-id')
	on vm1 'set -e
node_id_of_removed() { echo '"$removed"'; }
wait_until 60 connected_to c1 vm3 || { drbdsetup status c1; exit 1; }
old=$(node_id_of_removed)
drbdsetup status c1 --verbose | grep -q " node-id:$old " && { echo "vm1 still has the removed node-id $old as a peer"; drbdsetup status c1 --verbose; exit 1; }
wait_until 60 grep -q "forgot removed peer node-id" /tmp/drbdd.log || { tail -20 /tmp/drbdd.log; exit 1; }
echo "ok: vm1 and vm3 stay connected; vm1 forgot the removed peer"'
	on vm3 'set -e
old=$(cat /tmp/vm2-id)
tb_on_vm2() { [ "$(kind_of c1 vm2)" = TieBreaker ]; }
wait_until 60 tb_on_vm2 || { echo "the leader added no tie-breaker to c1 (two diskful replicas)"; ctl r l c1; exit 1; }
echo "ok: the leader gave c1, down to two diskful replicas, a tie-breaker on vm2 (the live DRBD 9 node)"
ctl r c vm2 c1
[ "$(kind_of c1 vm2)" = Diskful ] || { ctl r l c1; exit 1; }
new=$(node_id_of c1 vm2)
[ "$new" != "$old" ] || { echo "node-id $old reused at once"; exit 1; }
echo "ok: r c vm2 made the tie-breaker a diskful replica, node-id $new (not the removed $old)"
wait_until 240 all_state c1 UpToDate || { ctl r l c1; exit 1; }
echo "ok: vm2 synced"
ctl r td vm3 c1 --diskless
wait_until 120 state_is c1 vm3 Diskless || { ctl r l c1; exit 1; }
wait_until 60 converged "" "c1 q2 " || { echo "vm3: LVs [$(our_lvs)] kernel [$(kernel_resources)]"; exit 1; }
echo "ok: toggle-disk --diskless: vm3 is a client again, its LV removed"
same_sum $(dev_of c1) /tmp/c1.sum 8388608 || { echo "data differs through the client"; exit 1; }
echo "ok: the data is intact"
rc=0; ctl r td vm1 c1 --diskless >/dev/null 2>&1 && ctl r td vm2 c1 --diskless 2>/tmp/err || rc=$?
[ $rc = 5 ] && grep -q "only diskful" /tmp/err || { echo "the last diskful replica could be made diskless (rc=$rc)"; ctl r l c1; exit 1; }
echo "ok: the last diskful replica cannot be made diskless: $(cat /tmp/err)"'
}

test_peer_slots() {
	on vm3 'set -e
ctl rd c ps --peer-slots 1; ctl vd c ps 16M
ctl r c vm1 ps; ctl r c vm2 ps
rc=0; ctl r c vm3 ps --storage-pool pool3 2>/tmp/err || rc=$?
[ $rc = 5 ] && grep -q "peer slot" /tmp/err || { echo "rc=$rc: $(cat /tmp/err)"; exit 1; }
echo "ok: a third diskful replica with 1 peer slot is refused: $(cat /tmp/err)"
ctl r c vm3 ps --diskless
wait_until 120 all_state ps UpToDate
echo "ok: a client needs no peer slot"'
}

# A one-replica volume on a thin pool (nothing to sync with) becomes
# UpToDate; the sizes drbdctl shows are what LVM and DRBD made.
test_thin_one() {
	on vm3 'set -e
lvcreate -q -y -L 256M -T drbdpool/thin >/dev/null
ctl sp c lvm-thin vm3 thin3 drbdpool/thin
wait_until 60 pools_reported
ctl rd c one; ctl vd c one 128M
ctl r c vm3 one --storage-pool thin3
wait_until 120 state_is one vm3 UpToDate || { ctl r l one; tail -20 /tmp/drbdd.log; exit 1; }
echo "ok: a one-replica volume on a thin pool is UpToDate"
ctl v l one
back=$(ctl -o json v l one | jq ".[0].\"backing-kib\"")
lv=$(lvs --noheadings --units k --nosuffix -o lv_size drbdpool/one_00000 | tr -d " " | cut -d. -f1)
[ "$back" = "$lv" ] || { echo "backing shown as $back KiB, the LV has $lv KiB"; exit 1; }
use=$(ctl -o json v l one | jq ".[0].\"usable-kib\"")
dev=$(blockdev --getsize64 $(dev_of one))
[ $((use * 1024)) = "$dev" ] || { echo "usable shown as $use KiB, the DRBD device has $dev bytes"; exit 1; }
echo "ok: the sizes shown are what LVM ($lv KiB) and DRBD ($dev bytes) made"'
}

# The dual-primary window of a live migration (docs/nova.md): vm1, a diskful
# node, is the source; vm3, the resource's tie-breaker used as it is, the
# destination. Both are Primary only while both are attached; the window
# closes after success, after a rollback, and with the destination's drbdd
# down at the moment of the detach. Both hosts write disjoint regions meanwhile
# (multiattach); the diskful replicas end identical. Then the host on the
# tie-breaker keeps it: a diskful replica goes, and the leader makes the
# tie-breaker a client instead of removing it under the writing host.
test_window() {
	on vm3 'set -e
ctl rg spawn mirror w1 32M
wait_until 120 all_state w1 UpToDate || { ctl r l w1; exit 1; }
[ "$(kind_of w1 vm3)" = TieBreaker ] || { ctl r l w1; exit 1; }
ctl r attach vm1 w1'
	on vm1 'set -e
ctl r wr vm1 w1 >/dev/null
one_primary_only w1 || { drbdsetup show w1; exit 1; }
echo "ok: one host attached: the kernel allows one primary"
rm -f /tmp/w1-src; writer_start $(dev_of w1) /tmp/w1-src 1024
wait_until 60 acks_at_least /tmp/w1-src 5 || { cat /tmp/w1-src; drbdsetup status w1; exit 1; }
role_is w1 Primary || { drbdsetup status w1; exit 1; }
echo "ok: the source vm1 is Primary and writing"'
	on vm3 'set -e
ctl r attach vm3 w1
[ "$(kind_of w1 vm3)" = TieBreaker ] || { ctl r l w1; exit 1; }
ctl r wr vm3 w1 >/dev/null
two_primaries w1 || { echo "wait-ready returned before the window was open here"; drbdsetup show w1; exit 1; }
rm -f /tmp/w1-dst; writer_start $(dev_of w1) /tmp/w1-dst 3072
wait_until 60 acks_at_least /tmp/w1-dst 5 || { cat /tmp/w1-dst; drbdsetup status w1; exit 1; }
role_is w1 Primary && drbdsetup status w1 | grep -q "^  vm1 role:Primary" || { drbdsetup status w1; exit 1; }
echo "ok: the destination vm3 attached through its tie-breaker: vm1 and vm3 both Primary, both writing"'
	on vm1 'set -e
two_primaries w1 || { drbdsetup show w1; exit 1; }
n=$(acks /tmp/w1-src); wait_until 30 acks_at_least /tmp/w1-src $((n + 5))
[ "$(errs /tmp/w1-src)" = 0 ] || { grep err /tmp/w1-src | head -3; exit 1; }
writer_stop
wait_until 30 role_is w1 Secondary || { drbdsetup status w1; exit 1; }
ctl r detach vm1 w1
wait_until 60 one_primary_only w1 || { drbdsetup show w1; exit 1; }
[ "$(kind_of w1 vm1)" = Diskful ] || { ctl r l w1; exit 1; }
echo "ok: migrated: vm1 stopped and detached; its kernel allows one primary again; its replica stays"
if dd if=/dev/zero of=$(dev_of w1) bs=4096 count=1 seek=7000 oflag=direct status=none 2>/dev/null; then
	echo "vm1 could write beside the Primary vm3 after the window closed"; exit 1; fi
echo "ok: vm1 cannot become Primary beside vm3 now"'
	lab_copy_out vm1 /tmp/w1-src "$LAB_DIR/w1-src" && lab_copy_in vm3 "$LAB_DIR/w1-src" /tmp/w1-src || return 1
	on vm3 'set -e
wait_until 60 one_primary_only w1 || { drbdsetup show w1; exit 1; }
role_is w1 Primary
echo "ok: vm3 kernel: window closed, vm3 the one Primary"
verify_acks /tmp/w1-src $(dev_of w1) 1024
echo "ok: every write vm1 acknowledged before the migration reads back on vm3"'
	# Rollback: a migration back to vm1 that is aborted (destination detached).
	on vm1 'set -e
ctl r attach vm1 w1; ctl r wr vm1 w1 >/dev/null
two_primaries w1 || { drbdsetup show w1; exit 1; }
rm -f /tmp/w1-rb; writer_start $(dev_of w1) /tmp/w1-rb 5120
wait_until 60 acks_at_least /tmp/w1-rb 3 || { cat /tmp/w1-rb; drbdsetup status w1; exit 1; }
role_is w1 Primary
echo "ok: a migration back: vm1 attached and Primary beside vm3"
writer_stop; wait_until 30 role_is w1 Secondary
ctl r detach vm1 w1
wait_until 60 one_primary_only w1 || { drbdsetup show w1; exit 1; }
echo "ok: rollback: the destination vm1 detached, window closed"'
	on vm3 'set -e
wait_until 60 one_primary_only w1 || { drbdsetup show w1; exit 1; }
role_is w1 Primary; [ "$(errs /tmp/w1-dst)" = 0 ]
echo "ok: vm3 still the one Primary, its writes never failed"'
	# drbdd restarted while the window is open: the window is desired state,
	# not memory; it stays open, and closes at the detach. (DRBD itself
	# carries allow-two-primaries to the connected peer, so a peer's kernel
	# follows even when its drbdd is down.)
	on vm1 'set -e; ctl r attach vm1 w1; ctl r wr vm1 w1 >/dev/null; two_primaries w1'
	on vm3 'set -e
two_primaries w1; node_stop KILL; node_start --store $STORE
sleep 3; two_primaries w1 || { echo "the window closed when vm3'"'"'s drbdd restarted"; drbdsetup show w1; exit 1; }
echo "ok: vm3'"'"'s drbdd killed and restarted with the window open: still open"'
	on vm1 'set -e; ctl r detach vm1 w1; wait_until 60 one_primary_only w1'
	on vm3 'set -e
wait_until 60 one_primary_only w1 || { drbdsetup show w1; tail -20 /tmp/drbdd.log; exit 1; }
obs_closed() { [ "$(ctl -o json r l w1 | jq -r ".[] | select(.node == \"vm3\") | .observed.\"two-primaries\"")" = false ]; }
wait_until 60 obs_closed || { ctl -o json r l w1; exit 1; }
echo "ok: detached after the restart: closed in vm3'"'"'s kernel and in what its drbdd reports"
writer_stop
wait_until 30 role_is w1 Secondary'
	local s1 s2
	s1=$(on vm1 'dd if=$(dev_of w1) bs=1M iflag=direct status=none | sha256sum')
	s2=$(on vm2 'dd if=$(dev_of w1) bs=1M iflag=direct status=none | sha256sum')
	[ -n "$s1" ] && [ "$s1" = "$s2" ] || { echo "vm1 and vm2 differ after both hosts wrote: $s1 / $s2"; return 1; }
	echo "ok: both hosts wrote disjoint regions; the diskful replicas vm1 and vm2 are identical"
	on vm3 'set -e
verify_acks /tmp/w1-dst $(dev_of w1) 3072
rm -f /tmp/w1-tb; writer_start $(dev_of w1) /tmp/w1-tb 5120
wait_until 60 acks_at_least /tmp/w1-tb 5 || { cat /tmp/w1-tb; exit 1; }
ctl r d vm2 w1
is_client() { [ "$(kind_of w1 vm3)" = Diskless ]; }
wait_until 60 is_client || { echo "the attached tie-breaker did not become a client"; ctl r l w1; exit 1; }
n=$(acks /tmp/w1-tb)
wait_until 60 acks_at_least /tmp/w1-tb $((n + 25)) || { drbdsetup status w1; exit 1; }
[ "$(errs /tmp/w1-tb)" = 0 ] || { grep err /tmp/w1-tb | head -3; exit 1; }
echo "ok: one diskful replica left: the leader made the attached tie-breaker a client; writes went on, none failed"
writer_stop
verify_acks /tmp/w1-tb $(dev_of w1) 5120
ctl r detach vm3 w1
gone_here() { [ -z "$(kind_of w1 vm3)" ]; }
wait_until 60 gone_here || { ctl r l w1; exit 1; }
echo "ok: vm3 detached: the client (the leader made it for the attach) is removed"
ctl rd d w1'
}

main() {
	local t0 tests=("$@") t rc
	[ ${#tests[@]} -gt 0 ] || tests=(tiebreaker client quorum grow toggle peer_slots thin_one window)
	t0=$(lab__now)
	lab_start 3 --disks 1G || exit 1
	lab_test "drbd9 setup" test_setup
	for t in "${tests[@]}"; do
		lab_test "drbd9 $t" "test_$t"
	done
	lab_summary; rc=$?
	if [ $rc -ne 0 ]; then
		for vm in vm1 vm2 vm3; do lab_run "$vm" "echo '--- $vm drbdd.log'; tail -30 /tmp/drbdd.log" 2>/dev/null; done
	fi
	echo "lab: DRBD 9 tests total $(lab__since "$t0") s"
	exit $rc
}
main "$@"
