#!/bin/bash
# Snapshots, restore, clone, revert, WaitReady and iSCSI export through drbdd
# on real kernels: two nodes (vm1, vm2) on lvm-thin pools, etcd on vm1.
set -u
. "$(dirname "$0")/lab.sh"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.1:2379;"
INI=iqn.2026-01.org.example:vm2
PASS=lab-secret-12345

thin_setup() {
	echo 'vg_setup; lvs drbdpool/thin >/dev/null 2>&1 || lvcreate -q -L 1.5G -Zy -T drbdpool/thin >/dev/null'
}

test_setup() {
	lab_run -t 120 vm1 "$G"'set -e; '"$(thin_setup)"'; etcd_start; node_start --store $STORE'
	lab_run -t 120 vm2 "$G"'set -e; '"$(thin_setup)"'; node_start --store $STORE'
	lab_run -t 60 vm1 "$G"'set -e
ctl n c vm1 10.99.0.1; ctl n c vm2 10.99.0.2
ctl sp c lvm-thin vm1 pool1 drbdpool/thin; ctl sp c lvm-thin vm2 pool1 drbdpool/thin
ctl rg c two --place-count 2
wait_until 30 pools_reported || { ctl sp l; exit 1; }
ctl sp l'
}

test_snapshots() {
	T=600 lab_run -t 600 vm1 "$G"'set -e
snap_ready() { [ "$(ctl -o json s l "$1" | jq -r --arg s "$2" ".[] | select(.name == \$s) | .state")" = ready ]; }
lv_exists() { lvs drbdpool/"$1" >/dev/null 2>&1; }
ctl rg spawn two s1 64M
ctl r wait-ready vm1 s1 --timeout 180 || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
echo "ok: WaitReady returned once s1 was UpToDate on vm1"
ctl r wait-ready vm2 s1 --timeout 120
ctl r set-primary vm1 s1; wait_until 30 is_primary s1
dev=$(dev_of s1)
head -c 4M /dev/urandom >/tmp/A; head -c 4M /dev/urandom >/tmp/B
dd if=/tmp/A of=$dev bs=1M oflag=direct status=none
ctl s c s1 snapA
wait_until 60 snap_ready s1 snapA || { ctl s l; tail -20 /tmp/drbdd.log; exit 1; }
lv_exists s1_00000.snapA
grep -q "Snapshot .snapA. of .s1. taken (I/O suspended)" /tmp/drbdd.log
echo "ok: snapshot ready on both nodes, taken with I/O suspended"; ctl s l
dd if=/tmp/B of=$dev bs=1M oflag=direct status=none
same_data $dev /tmp/B

ctl s restore s1 snapA s1r
ctl r wait-ready vm1 s1r --timeout 180 || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
ctl r wait-ready vm2 s1r --timeout 180
ctl r set-primary vm1 s1r; wait_until 30 is_primary s1r
same_data $(dev_of s1r) /tmp/A || { echo "restored volume lacks the snapshot data"; exit 1; }
echo "ok: restore s1@snapA -> s1r reads the old data"
# Cinder grows a restored volume right after asking for it. Made certain
# here: drbdd on vm1 (the initial-sync source) dies right after "up", the
# grow arrives while every replica is still Inconsistent, then drbdd comes
# back. The resize must wait for the initial sync (8.4 cannot promote for it
# before; this used to retry "Need access to UpToDate data" forever).
node_stop
DRBDD_FAULT=create:after-up node_start --store $STORE
ctl s restore s1 snapA s1g
wait_until 120 gone "$(node_pid)" || { echo "drbdd never reached create:after-up"; exit 1; }
node_start --store $STORE --agent=no # the API only, to ask for the grow
[ "$(ctl -o json r l s1g | jq -r ".[] | select(.node == \"vm1\") | .\"node-id\"")" = 0 ] ||
	{ echo "vm1 is not the initial-sync source of s1g"; ctl r l s1g; exit 1; }
ctl vd set-size s1g 0 96M
node_stop
node_start --store $STORE
ctl r wait-ready vm1 s1g --timeout 240 || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
ctl r wait-ready vm2 s1g --timeout 240
wait_until 120 size_at_least $(dev_of s1g) 100663296 || { cat /proc/drbd; tail -20 /tmp/drbdd.log; exit 1; }
ctl r set-primary vm1 s1g; wait_until 30 is_primary s1g
same_data $(dev_of s1g) /tmp/A || { echo "restored and grown volume lacks the snapshot data"; exit 1; }
ctl r set-primary vm1 s1g --clear; wait_until 30 not_primary s1g; ctl rd d s1g
echo "ok: restore + immediate grow -> 96 MiB, snapshot data intact"

ctl rd clone s1 s1c
ctl r wait-ready vm1 s1c --timeout 180 || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
ctl r set-primary vm1 s1c; wait_until 30 is_primary s1c
same_data $(dev_of s1c) /tmp/B || { echo "clone lacks the current data"; exit 1; }
echo "ok: clone s1 -> s1c reads the current data"

rc=0; ctl s revert s1 snapA 2>/tmp/err || rc=$?
[ $rc = 7 ] || { echo "revert while Primary: exit $rc"; exit 1; }
echo "ok: revert while Primary refused: $(cat /tmp/err)"
ctl r set-primary vm1 s1 --clear; wait_until 30 not_primary s1
# The kernel has demoted; drbdd refuses (Busy) until the agents have also
# reported it (observed state, after OBSERVE_DELAY): retry while it says so.
revert_s1() { ctl s revert s1 snapA 2>/tmp/err; }
wait_until 30 revert_s1 || { echo "revert after clearing Primary: $(cat /tmp/err)"; exit 1; }
rc=0; ctl r wait-ready vm1 s1 --timeout 1 2>/tmp/err || rc=$?
[ $rc = 10 ] || { echo "WaitReady right after the revert: rc=$rc $(cat /tmp/err)"; exit 1; }
echo "ok: WaitReady does not answer ready right after the revert"
wait_until 60 not_all_uptodate s1 || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
wait_until 180 all_state s1 UpToDate || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
ctl r wait-ready vm1 s1 --timeout 180
ctl r wait-ready vm2 s1 --timeout 180
ctl r set-primary vm1 s1; wait_until 30 is_primary s1
same_data $(dev_of s1) /tmp/A || { echo "reverted volume lacks the snapshot data"; exit 1; }
echo "ok: revert s1 to snapA reads the old data again"
# Sent + received since the revert brought s1 up again: the whole 64 MiB.
kib=$(moved_kib s1)
[ "$kib" -ge 60000 ] || { echo "revert did not sync the volume in full (${kib} KiB moved)"; cat /proc/drbd; exit 1; }
echo "ok: the revert synced the full volume (${kib} KiB)"

rc=0; ctl rd d s1 2>/tmp/err || rc=$?
[ $rc = 7 ] && echo "ok: rd with snapshots refused: $(cat /tmp/err)"
ctl s d s1 snapA
wait_until 60 lv_gone s1_00000.snapA || { lvs; exit 1; }
echo "ok: snapshot LV removed on vm1"
for r in s1 s1r s1c; do ctl r set-primary vm1 $r --clear; ctl rd d $r; done
wait_until 120 converged "" "" || { our_lvs; kernel_resources; exit 1; }'
	lab_run -t 120 vm2 "$G"'set -e
wait_until 120 converged "" "" || { our_lvs; kernel_resources; exit 1; }
! lvs drbdpool/s1_00000.snapA >/dev/null 2>&1
echo "ok: vm2 has no leftovers (volumes, snapshots)"'
}

test_iscsi() {
	lab_run -t 300 vm1 "$G"'set -e
modprobe target_core_mod; modprobe target_core_iblock; modprobe iscsi_target_mod
exported() { [ "$(ctl -o json e l e1 | jq -r ".[0].state")" = exported ]; }
ctl rg spawn two e1 32M
ctl r wait-ready vm1 e1 --timeout 180
printf %s '"$PASS"' >/tmp/pw
ctl e c e1 --initiator '"$INI"' --chap-username vm2user --chap-password-file /tmp/pw
wait_until 60 exported || { ctl e l; tail -20 /tmp/drbdd.log; exit 1; }
ctl e l
$LAB_BUILD/drbdd-iscsi show e1'
	lab_run -t 120 vm2 "$G"'set -e
DRBDD_ISCSI_PASSWORD='"$PASS"' $LAB_BUILD/drbdd-iscsi-check --portal 10.99.0.1 --target iqn.2026-11.org.drbd.drbdd:e1 --initiator '"$INI"' --user vm2user --write
echo "ok: vm2 logged in with CHAP, wrote and read through the drbdd export"
rc=0; DRBDD_ISCSI_PASSWORD=wrong-secret-999 $LAB_BUILD/drbdd-iscsi-check --portal 10.99.0.1 --target iqn.2026-11.org.drbd.drbdd:e1 --initiator '"$INI"' --user vm2user || rc=$?
[ $rc = 4 ] && echo "ok: wrong secret refused"'
	lab_run -t 120 vm1 "$G"'set -e
exported() { [ "$(ctl -o json e l e1 | jq -r ".[0].state")" = exported ]; }
node_stop; $LAB_BUILD/drbdd-iscsi remove e1; ! $LAB_BUILD/drbdd-iscsi show e1 >/dev/null 2>&1
node_start --store $STORE
wait_until 60 lio_has e1 || { tail -20 /tmp/drbdd.log; exit 1; }
echo "ok: export re-created from the desired state after a restart"'
	lab_run -t 120 vm2 "$G"'set -e
DRBDD_ISCSI_PASSWORD='"$PASS"' $LAB_BUILD/drbdd-iscsi-check --portal 10.99.0.1 --target iqn.2026-11.org.drbd.drbdd:e1 --initiator '"$INI"' --user vm2user'
	lab_run -t 300 vm1 "$G"'set -e
ctl e d e1
wait_until 60 lio_gone e1 || { $LAB_BUILD/drbdd-iscsi list; exit 1; }
wait_until 30 not_primary e1
echo "ok: unexport removed the target and gave up Primary"
ctl rd d e1; wait_until 120 converged "" ""'
}

# kill -9 while I/O is suspended for a snapshot: the restarted drbdd resumes
# I/O (no frozen volume) and the snapshot still completes.
test_crash_snapshot() {
	T=600 lab_run -t 600 vm1 "$G"'set -e
snap_ready() { [ "$(ctl -o json s l "$1" | jq -r --arg s "$2" ".[] | select(.name == \$s) | .state")" = ready ]; }
io_running() { ! drbdsetup status "$1" 2>/dev/null | grep -q "suspended:user"; }
ctl rg spawn two k1 32M
ctl r wait-ready vm1 k1 --timeout 180
ctl r wait-ready vm2 k1 --timeout 120
node_stop
DRBDD_FAULT=snapshot:after-suspend node_start --store $STORE
ctl s c k1 snapK
wait_until 90 gone "$(node_pid)" || { echo "drbdd never reached snapshot:after-suspend"; exit 1; }
echo "killed at snapshot:after-suspend: $(drbdsetup status k1 | head -1)"
node_start --store $STORE
wait_until 60 io_running k1 || { drbdsetup status k1; tail -20 /tmp/drbdd.log; exit 1; }
echo "ok: I/O resumed after the restart"
wait_until 120 snap_ready k1 snapK || { ctl s l; tail -20 /tmp/drbdd.log; exit 1; }
echo "ok: the snapshot completed after the crash"
snap_gone() { ! ctl -o json s l k1 | grep -q snapK; }
ctl s d k1 snapK
wait_until 60 snap_gone
ctl rd d k1; wait_until 120 converged "" ""
echo "ok: cleaned up"'
}

# A new volume on thin pools needs no initial sync (every replica reads
# zeros): UpToDate through new-current-uuid --clear-bitmap, no block
# provisioned on the peer; also when drbdd is killed right after that step.
# A revert, whose snapshots are not zeros, keeps the full sync.
test_zeroed() {
	T=600 lab_run -t 600 vm1 "$G"'set -e
lv_used() { lvs --noheadings -o data_percent drbdpool/"$1" | tr -d " "; }
ctl rg spawn two z1 256M
ctl r wait-ready vm1 z1 --timeout 120
ctl r wait-ready vm2 z1 --timeout 120
echo "ok: z1 (256 MiB) UpToDate on both nodes; thin usage on vm1: $(lv_used z1_00000)%"
node_stop
DRBDD_FAULT=create:after-new-uuid node_start --store $STORE
ctl rg spawn two z2 256M
wait_until 120 gone "$(node_pid)" || { echo "drbdd never reached create:after-new-uuid"; exit 1; }
echo "killed at create:after-new-uuid: $(drbdsetup status z2 | tr "\n" " ")"
node_start --store $STORE
ctl r wait-ready vm1 z2 --timeout 120
ctl r wait-ready vm2 z2 --timeout 120
echo "ok: z2 UpToDate on both nodes after the restart"'
	# On each node: z1's thin usage (%), KiB z1 moved over the network,
	# zeroed starts logged for z1 and z2 (the "." stands for the quote).
	local facts='s=$(lvs --noheadings -o data_percent drbdpool/z1_00000 | tr -d " "); echo "${s%%.*}"
moved_kib z1; grep -c "z1. starts out zeroed" /tmp/drbdd.log; grep -c "z2. starts out zeroed" /tmp/drbdd.log'
	local o1 o2 n1 n2 used2 moved
	o1=$(lab_run vm1 "$G$facts") || true
	o2=$(lab_run vm2 "$G$facts") || true
	line() { local v; v=$(echo "$1" | sed -n "$2p"); [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 999999; }
	n1=$(($(line "$o1" 3) + $(line "$o2" 3)))
	n2=$(($(line "$o1" 4) + $(line "$o2" 4)))
	used2=$(line "$o2" 1)
	moved=$(($(line "$o1" 2) + $(line "$o2" 2)))
	[ "$n1" = 1 ] && [ "$n2" = 1 ] || { echo "FAIL: zeroed start logged z1 $n1 times, z2 $n2 times (want 1 each)"; return 1; }
	[ "$used2" -lt 5 ] && [ "$moved" -lt 1024 ] ||
		{ echo "FAIL: z1 on vm2 is ${used2}% provisioned, ${moved} KiB moved: zeros were copied"; return 1; }
	echo "ok: one zeroed start each for z1 and z2; z1 on vm2 ${used2}% provisioned, ${moved} KiB moved (no initial sync)"
	lab_run -t 300 vm1 "$G"'set -e
ctl rd d z1; ctl rd d z2
wait_until 120 converged "" "" || { our_lvs; kernel_resources; exit 1; }
echo "ok: cleaned up"'
}

main() {
	local t0 tests=("$@") rc
	[ ${#tests[@]} -gt 0 ] || tests=(zeroed snapshots iscsi crash_snapshot)
	t0=$(lab__now)
	lab_start 2 --disks 2G || exit 1
	lab_test "snapshot setup" test_setup
	for t in "${tests[@]}"; do
		lab_test "snapshot $t" "test_$t"
	done
	lab_summary; rc=$?
	if [ $rc -ne 0 ]; then
		lab_run vm1 'echo "--- vm1 drbdd.log"; tail -60 /tmp/drbdd.log'
		lab_run vm2 'echo "--- vm2 drbdd.log"; tail -40 /tmp/drbdd.log'
	fi
	echo "lab: snapshot tests total $(lab__since "$t0") s"
	exit $rc
}
main "$@"
