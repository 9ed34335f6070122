#!/bin/bash
# A host attached through a resource's tie-breaker keeps it when a third
# diskful replica comes (docs/nova.md): the leader used to delete the
# tie-breaker as soon as a resource had other than two diskful replicas,
# under the host's I/O. Four VMs (DRBD 9): vm1, vm2 hold the replicas, vm3
# uses the tie-breaker as its client and writes, vm4 gets the third diskful
# replica. make lab-attached-tb-check (in make check-extended).
set -u
. "$(dirname "$0")/lab.sh"
[ "$LAB_DRBD" = 9 ] || lab_die "test-attached-tiebreaker.sh needs LAB_DRBD=9 (it is $LAB_DRBD)"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.3:2379;"
on() { local vm=$1; shift; lab_run -t "${T:-240}" "$vm" "$G$*"; }

test_setup() {
	on vm3 'set -e; etcd_start; node_start --store $STORE'
	for vm in vm1 vm2 vm4; do on $vm 'set -e; vg_setup; node_start --store $STORE'; done
	on vm3 'set -e
# vm4 joins only later: the tie-breaker must go to vm3.
for n in 1 2 3; do ctl n c vm$n 10.99.0.$n; done
for n in 1 2; do ctl sp c lvm vm$n pool1 drbdpool; done
ctl rg c mirror --place-count 2 --storage-pool pool1
three() { [ "$(ctl -o json n l | jq "[.[] | select(.kernel.version // \"\" | startswith(\"9.\"))] | length")" = 3 ]; }
wait_until 90 three || { ctl n l; exit 1; }
wait_until 60 pools_reported'
}

test_third_diskful() {
	on vm3 'set -e
ctl rd c t1 --resource-group mirror; ctl vd c t1 16M
ctl r c vm1 t1; ctl r c vm2 t1
tb() { [ "$(kind_of t1 vm3)" = TieBreaker ]; }
wait_until 60 tb || { echo "no tie-breaker on vm3"; ctl r l t1; exit 1; }
wait_until 120 all_state t1 UpToDate || { ctl r l t1; exit 1; }
ctl r attach vm3 t1; ctl r wr vm3 t1 >/dev/null
rm -f /tmp/tb.log; writer_start $(dev_of t1) /tmp/tb.log
wait_until 60 acks_at_least /tmp/tb.log 10 || { cat /tmp/tb.log; drbdsetup status t1; exit 1; }
echo "ok: vm3 attached through the tie-breaker of t1 and writing"
ctl n c vm4 10.99.0.4; ctl sp c lvm vm4 pool1 drbdpool
wait_until 60 pools_reported
ctl r c vm4 t1
client() { [ "$(kind_of t1 vm3)" = Diskless ]; }
wait_until 60 client || { echo "the attached tie-breaker did not become a client"; ctl r l t1; exit 1; }
echo "ok: a third diskful replica (vm4): the leader made the attached tie-breaker a client, not removed"'
	# vm4's initial sync under TCG: a request of its own, with time for it.
	T=600 on vm3 'set -e
wait_until 540 all_state t1 UpToDate || { ctl r l t1; exit 1; }
n=$(acks /tmp/tb.log)
wait_until 60 acks_at_least /tmp/tb.log $((n + 10))
[ "$(errs /tmp/tb.log)" = 0 ] || { grep err /tmp/tb.log | head -3; exit 1; }
writer_stop
verify_acks /tmp/tb.log $(dev_of t1)
echo "ok: vm4 synced; I/O went on throughout, every acknowledged write reads back"
ctl r detach vm3 t1
gone() { [ -z "$(kind_of t1 vm3)" ]; }
wait_until 60 gone || { ctl r l t1; exit 1; }
echo "ok: detached: the client (made for the attach by the leader) is removed; three diskful replicas stay"'
}

main() {
	local t0 rc
	t0=$(lab__now)
	lab_start 4 --disks 1G --mem 768 || exit 1
	lab_test "attached-tb setup" test_setup
	lab_test "attached-tb third diskful" test_third_diskful
	lab_summary; rc=$?
	[ $rc -eq 0 ] || for vm in vm1 vm2 vm3 vm4; do lab_run "$vm" "echo '--- $vm drbdd.log'; tail -20 /tmp/drbdd.log" 2>/dev/null; done
	echo "lab: attached tie-breaker test total $(lab__since "$t0") s"
	exit $rc
}
main "$@"
