#!/bin/bash
# kill -9 at each step of bringing up a DRBD 8.4 diskless client (attach):
# the restarted drbdd finishes the attach, I/O through the client works.
# The steps exist on 8.4 only (DRBD 9 brings a client up with one "up"):
# make lab-drbd84-check runs it with LAB_DRBD=8.4.
set -u
. "$(dirname "$0")/lab.sh"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.1:2379;"
[ "$LAB_DRBD" = 8.4 ] || lab_die "test-crash-attach.sh tests DRBD 8.4's attach steps: run it with LAB_DRBD=8.4"

test_setup() {
	lab_run -t 120 vm1 "$G"'set -e; vg_setup; etcd_start; node_start --store $STORE'
	lab_run -t 120 vm2 "$G"'set -e; vg_setup; node_start --store $STORE'
	lab_run -t 60 vm1 "$G"'set -e
ctl n c vm1 10.99.0.1; ctl n c vm2 10.99.0.2
ctl sp c lvm vm2 pool1 drbdpool
wait_until 30 pools_reported'
}

test_crash_attach() {
	T=600 lab_run -t 600 vm1 "$G"'set -e
connected_client() { state_is a1 vm1 Diskless && drbdsetup status a1 | grep -q "vm2\|peer\|connection:Connected\|role:"; }
for p in attach:after-new-resource attach:after-new-minor; do
	# DRBD 8.4 brings a resource up only with both hosts defined: the
	# diskful replica on vm2 comes up together with the client on vm1.
	ctl rd c a1; ctl vd c a1 16M; ctl r c vm2 a1
	node_stop
	DRBDD_FAULT=$p node_start --store $STORE
	ctl r c vm1 a1 --diskless
	wait_until 90 gone "$(node_pid)" || { echo "drbdd never reached $p"; exit 1; }
	echo "killed at $p"
	node_start --store $STORE
	wait_until 180 state_is a1 vm2 UpToDate || { ctl r l a1; tail -20 /tmp/drbdd.log; exit 1; }
	wait_until 90 state_is a1 vm1 Diskless || { ctl r l a1; drbdsetup status a1; tail -20 /tmp/drbdd.log; exit 1; }
	ctl r set-primary vm1 a1
	wait_until 60 is_primary a1 || { drbdsetup status a1; tail -20 /tmp/drbdd.log; exit 1; }
	dev=$(dev_of a1)
	head -c 2M /dev/urandom >/tmp/x; dd if=/tmp/x of=$dev bs=1M oflag=direct status=none
	same_data $dev /tmp/x || { echo "I/O through the client failed"; exit 1; }
	echo "ok: $p converged; I/O through the diskless client on vm1"
	ctl r set-primary vm1 a1 --clear
	ctl rd d a1
	wait_until 90 converged "" "" || { echo "LVs [$(our_lvs)] kernel [$(kernel_resources)]"; exit 1; }
done'
}

main() {
	local t0 rc
	t0=$(lab__now)
	lab_start 2 --disks 1G || exit 1
	lab_test "attach setup" test_setup
	lab_test "attach crash points" test_crash_attach
	lab_summary; rc=$?
	[ $rc -ne 0 ] && lab_run vm1 'tail -40 /tmp/drbdd.log'
	echo "lab: attach tests total $(lab__since "$t0") s"
	exit $rc
}
main "$@"
