#!/bin/bash
# Node agent on real kernels: drbdd turns desired state into LVs and DRBD
# devices, converges after kill -9 at every named step, and stays cheap after
# a restart. Two nodes (vm1, vm2; DRBD 8.4 needs two hosts per resource)
# share an etcd store that runs on vm1. Runs on the lab's dialect (LAB_DRBD:
# 9 by default; make check runs it on 8.4 too).
set -u
. "$(dirname "$0")/lab.sh"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.1:2379;"
both() { lab_run -t "${T:-120}" vm1 "$G$1" && lab_run -t "${T:-120}" vm2 "$G$1"; }

test_setup() {
	lab_run -t 120 vm1 "$G"'set -e; vg_setup; etcd_start; node_start --store $STORE'
	# vm2: drbd loaded before drbdd starts, as after an earlier run or by
	# another tool; drbdd's load-time usermode_helper must still apply.
	lab_run -t 120 vm2 "$G"'set -e; vg_setup
modprobe drbd
[ "$(cat /sys/module/drbd/parameters/usermode_helper)" != /bin/true ]
node_start --store $STORE
h=$(cat /sys/module/drbd/parameters/usermode_helper)
[ "$h" = /bin/true ] || { echo "usermode_helper is $h after drbdd started on a loaded drbd"; exit 1; }
grep -q "drbd was loaded before drbdd started: set its usermode_helper" /tmp/drbdd.log || { echo "drbdd did not say so"; tail /tmp/drbdd.log; exit 1; }
echo "ok: drbd loaded before drbdd: usermode_helper set through sysfs, and logged"'
	lab_run -t 60 vm1 "$G"'set -e
ctl n c vm1 10.99.0.1; ctl n c vm2 10.99.0.2
ctl sp c lvm vm1 pool1 drbdpool; ctl sp c lvm vm2 pool1 drbdpool
ctl rg c two --place-count 2
wait_until 30 dialect_reported 2 || { ctl n l; exit 1; }
ctl n l
echo "ok: both nodes report DRBD $LAB_DRBD from their kernels"
ver=$(sed -n "s/^version: \([^ ]*\).*/\1/p" /proc/drbd)
ctl n l | grep -q "^vm1 .* $ver " || { echo "node list does not show the kernel version $ver"; exit 1; }
echo "ok: node list shows the kernel version $ver"
wait_until 30 pools_reported || { ctl sp l; exit 1; }
ctl sp l'
}

test_lifecycle() {
	lab_run -t 240 vm1 "$G"'set -e
bus_up
dbus-monitor --address "$DBUS_SYSTEM_BUS_ADDRESS" "type=signal,interface=org.drbd.drbdd1.Manager" >/tmp/signals 2>&1 &
mon=$!
ctl rg spawn two r1 64M
wait_until 120 all_state r1 UpToDate || { ctl r l; tail -30 /tmp/drbdd.log; exit 1; }
echo "ok: r1 UpToDate on both nodes"; ctl r l
kill $mon
grep -q "string \"r1/vm1\"" /tmp/signals && grep -q "string \"observed\"" /tmp/signals || { echo "no Changed signal for the observed state"; head /tmp/signals; exit 1; }
echo "ok: observed state announced as D-Bus signals ($(grep -c "string \"observed\"" /tmp/signals) Changed signals)"
[ "$(our_lvs)" = "r1_00000 " ] && [ "$(kernel_resources)" = "r1 " ]
[ "$(stat -c %a $STATE/res/r1.res)" = 600 ]
drbdsetup show r1 | grep -Eq "ping-timeout[[:space:]]+$LAB_PING_TIMEOUT;" || { echo "node-wide --drbd-option net/ping-timeout not in the kernel"; drbdsetup show r1; exit 1; }
echo "ok: the node-wide DRBD option (ping-timeout $LAB_PING_TIMEOUT) is in effect"
ctl r set-primary vm1 r1
wait_until 30 is_primary r1
dev=$(dev_of r1)
head -c 4M /dev/urandom >/tmp/data; dd if=/tmp/data of=$dev bs=1M oflag=direct status=none
same_data $dev /tmp/data || { echo "read back differs"; exit 1; }
echo "ok: data written on vm1 through $dev"
sha256sum </tmp/data >/tmp/data.sum'
	lab_copy_out vm1 /tmp/data.sum "$LAB_DIR/data.sum"
	lab_copy_in vm2 "$LAB_DIR/data.sum" /tmp/data.sum
	lab_run -t 120 vm2 "$G"'set -e
[ "$(our_lvs)" = "r1_00000 " ] && [ "$(kernel_resources)" = "r1 " ]
ctl r set-primary vm2 r1
wait_until 60 is_primary r1 || { drbdsetup status r1; tail -20 /tmp/drbdd.log; exit 1; }
dev=$(dev_of r1)
same_sum $dev /tmp/data.sum 4194304 || { echo "vm2 reads different data"; exit 1; }
echo "ok: vm2 reads what vm1 wrote"
ctl vd set-size r1 0 96M
wait_until 90 size_at_least $dev $((96*1024*1024)) || { ctl r l; tail /tmp/drbdd.log; exit 1; }
echo "ok: grown online to $(dev_size $dev) bytes"
same_sum $dev /tmp/data.sum 4194304 || { echo "data changed by grow"; exit 1; }
echo "ok: data intact after grow"
ctl r set-primary vm2 r1 --clear
ctl rd d r1
wait_until 90 converged "" "" || { our_lvs; kernel_resources; exit 1; }
[ ! -e $STATE/res/r1.res ]
echo "ok: deleted on vm2 without leftovers"'
	lab_run -t 120 vm1 "$G"'set -e
wait_until 90 converged "" "" || { our_lvs; kernel_resources; exit 1; }
echo "ok: deleted on vm1 without leftovers"
ctl rg spawn two r2 96M
wait_until 120 all_state r2 UpToDate
ctl r set-primary vm1 r2
wait_until 30 is_primary r2
dev=$(dev_of r2)
if same_data $dev /tmp/data; then echo "old data readable in a new volume"; exit 1; fi
zeros $dev 4194304 || { echo "new volume not zeroed"; exit 1; }
echo "ok: a new volume in the same place reads zeros"
ctl r set-primary vm1 r2 --clear; ctl rd d r2
wait_until 90 converged "" ""'
}

# A replica's node loses power while the Primary writes: I/O goes on. It
# comes back cut off from its peer (the DRBD port blocked): its disk says
# UpToDate but is stale, so drbdd lists it as Connecting and does not
# promote it though asked to (that was a split brain on DRBD 9). Once the
# link works it resyncs, becomes Primary, and holds every byte.
test_poweroff() {
	lab_run -t 240 vm1 "$G"'set -e
ctl rg spawn two p1 32M
wait_until 120 all_state p1 UpToDate || { ctl r l p1; exit 1; }
ctl r set-primary vm1 p1; wait_until 30 is_primary p1
head -c 16M /dev/urandom >/tmp/p1
dd if=/tmp/p1 of=$(dev_of p1) bs=1M count=8 oflag=direct status=none'
	lab_poweroff vm2
	lab_run -t 120 vm1 "$G"'set -e
dev=$(dev_of p1)
dd if=/tmp/p1 of=$dev bs=1M skip=8 seek=8 count=8 oflag=direct status=none
same_data $dev /tmp/p1 || { echo "vm1 reads different data"; exit 1; }
echo "ok: vm1 went on writing with vm2 powered off"
sha256sum </tmp/p1 >/tmp/p1.sum' || return 1
	lab_copy_out vm1 /tmp/p1.sum "$LAB_DIR/p1.sum"
	local port
	port=$(lab_run vm1 "$G"'ctl -o json rd l | jq ".[] | select(.name == \"p1\") | .port"')
	[[ $port =~ ^[0-9]+$ ]] || { echo "no port for p1: '$port'"; return 1; }
	lab_restart vm2 || return 1
	lab_copy_in vm2 "$LAB_DIR/p1.sum" /tmp/p1.sum
	lab_run -t 240 vm2 "$G"'set -e
block_port '"$port"'
node_start --store $STORE
up_here() { drbdsetup status p1 2>/dev/null | grep -q "disk:"; }
wait_until 60 up_here || { ctl r l p1; exit 1; }
sleep 3
state_is p1 vm2 UpToDate && { echo "listed as UpToDate before any peer connected"; ctl r l p1; exit 1; }
if [ "$LAB_DRBD" = 9 ]; then
	drbdsetup status p1 | grep -q "disk:UpToDate" && state_is p1 vm2 Connecting || { drbdsetup status p1; ctl r l p1; exit 1; }
	echo "ok: back, not connected: the kernel says UpToDate, drbdd lists it as Connecting"
else
	echo "ok: back, not connected: listed as $(ctl -o json r l p1 | jq -r ".[] | select(.node == \"vm2\") | .state")"
fi
ctl r set-primary vm2 p1
sleep 8
is_primary p1 && { echo "promoted on stale data"; drbdsetup status p1; exit 1; }
grep -q "waits until a peer connected" /tmp/drbdd.log || { tail /tmp/drbdd.log; exit 1; }
echo "ok: asked to be Primary, it waits for its peer"
unblock_ports
wait_until 180 all_state p1 UpToDate || { ctl r l p1; drbdsetup status p1; exit 1; }
echo "ok: vm2 connected and resynced"
wait_until 60 is_primary p1 || { drbdsetup status p1; exit 1; }
same_sum $(dev_of p1) /tmp/p1.sum 16777216 || { echo "vm2 lacks data written while it was off"; exit 1; }
echo "ok: vm2 is Primary and holds all 16 MiB, including what was written while it was off"
dmesg | grep -qi "split-brain" && { echo "split brain"; exit 1; }
ctl r set-primary vm2 p1 --clear
ctl rd d p1
wait_until 90 converged "" ""'
	lab_run -t 120 vm1 "$G"'wait_until 90 converged "" ""'
}

# kill -9 at every named step of create, grow and delete; restart; converge.
test_crash_points() {
	T=900 lab_run -t 900 vm1 "$G"'set -e
crash_run() { # point, operation...
	local point=$1; shift
	node_stop
	DRBDD_FAULT=$point node_start --store $STORE
	"$@" >/dev/null
	wait_until 90 gone "$(node_pid)" || { echo "drbdd never reached $point"; tail -5 /tmp/drbdd.log; exit 1; }
	echo "killed at $point"
	node_start --store $STORE
}
for p in create:after-backing create:after-md create:after-up create:after-primary; do
	crash_run $p ctl rg spawn two c1 32M
	wait_until 120 all_state c1 UpToDate || { ctl r l; tail /tmp/drbdd.log; exit 1; }
	wait_until 30 converged "c1_00000 " "c1 " || { echo "LVs [$(our_lvs)] kernel [$(kernel_resources)]"; exit 1; }
	echo "ok: $p converged: c1 UpToDate on both nodes, one LV, one device"
	ctl rd d c1; wait_until 90 converged "" ""
done
ctl rg spawn two g1 32M; wait_until 120 all_state g1 UpToDate
for p in grow:after-backing grow:after-resize; do
	kib=$(( $(vd_kib g1) + 8192 ))
	crash_run $p ctl vd set-size g1 0 ${kib}K
	wait_until 90 size_at_least $(dev_of g1) $((kib*1024)) || { ctl r l; tail /tmp/drbdd.log; exit 1; }
	wait_until 30 converged "g1_00000 " "g1 "
	echo "ok: $p converged at $(dev_size $(dev_of g1)) bytes"
done
ctl rd d g1; wait_until 90 converged "" ""
for p in delete:after-down delete:after-remove; do
	ctl rg spawn two d1 32M; wait_until 120 all_state d1 UpToDate
	crash_run $p ctl rd d d1
	wait_until 90 converged "" "" || { echo "LVs [$(our_lvs)] kernel [$(kernel_resources)]"; exit 1; }
	[ "$(ctl -o json r l | jq length)" = 0 ]
	echo "ok: $p converged: nothing left"
done'
	lab_run -t 120 vm2 "$G"'set -e
wait_until 90 converged "" "" || { echo "vm2: LVs [$(our_lvs)] kernel [$(kernel_resources)]"; exit 1; }
echo "ok: vm2 has no leftovers either"'
}

# After a restart with N healthy resources: one events2 stream, one lvs, one
# vgs; no adjust, whatever N.
test_restart_cost() {
	T=600 lab_run -t 600 vm1 "$G"'set -e
for i in 1 2 3 4 5 6; do ctl rg spawn two h$i 8M; done
for i in 1 2 3 4 5 6; do wait_until 180 all_state h$i UpToDate; done
node_stop; node_start --store $STORE
passes_ok() { [ "$(agent_passes)" -ge 1 ]; }
wait_until 30 passes_ok
sleep 2
ctl node status | jq -c "{passes, \"commands-last-pass\", \"commands-total\", \"last-pass-usec\"}"
total=$(agent_total)
[ "$total" -le 3 ] || { echo "restart with 6 healthy resources ran $total commands"; exit 1; }
echo "ok: $total commands after a restart with 6 healthy resources"
for i in 1 2 3 4 5 6; do ctl rd d h$i; done
wait_until 120 converged "" ""'
}

# The API is answered while the agent is inside a slow command: drbdd runs
# with an lvcreate on PATH that waits 30 s before the real one (test only),
# and the calls below go to that daemon meanwhile (the agent ran on the API's
# event loop until issue 13, and they waited for lvcreate).
test_api_while_busy() {
	T=300 lab_run -t 300 vm1 "$G"'set -e
mkdir -p /tmp/slowbin
cat >/tmp/slowbin/lvcreate <<"EOS"
#!/bin/sh
touch /tmp/slow-inside
sleep 30
rm -f /tmp/slow-inside
exec /sbin/lvcreate "$@"
EOS
chmod +x /tmp/slowbin/lvcreate
rm -f /tmp/slow-inside
node_stop; PATH=/tmp/slowbin:$PATH node_start --store $STORE
ctl rg spawn two slow1 8M
inside() { [ -e /tmp/slow-inside ]; }
wait_until 60 inside || { echo "the agent never ran the slow lvcreate"; tail /tmp/drbdd.log; exit 1; }
ms() { local t=$(date +%s%N); "$@" >/dev/null || { echo "failed: $*"; exit 1; }; echo $(( ($(date +%s%N) - t) / 1000000 )); }
worst=0
for call in "ctl rd l" "ctl -o json r l" "ctl node status" "ctl rd c busy1" "ctl rd d busy1" "ctl sp l"; do
	t=$(ms $call)
	echo "  $call: $t ms (the agent inside lvcreate)"
	[ "$t" -gt "$worst" ] && worst=$t
done
inside || { echo "the slow lvcreate ended before the calls did: they may have waited for it"; exit 1; }
[ "$worst" -lt 5000 ] || { echo "an API call took $worst ms while the agent was busy"; exit 1; }
echo "ok: API reads and writes answered within $worst ms while the agent was inside a 30 s lvcreate"
wait_until 180 all_state slow1 UpToDate || { ctl r l slow1; tail /tmp/drbdd.log; exit 1; }
echo "ok: the slow create finished: slow1 UpToDate on both nodes"
node_stop; node_start --store $STORE
ctl rd d slow1
wait_until 90 converged "" ""'
	lab_run -t 120 vm2 "$G"'wait_until 90 converged "" ""'
}

main() {
	local t0 tests=("$@") t rc
	[ ${#tests[@]} -gt 0 ] || tests=(lifecycle api_while_busy poweroff crash_points restart_cost)
	t0=$(lab__now)
	lab_start 2 --disks 2G || exit 1
	lab_test "agent setup" test_setup
	for t in "${tests[@]}"; do
		lab_test "agent $t" "test_$t" # not "|| rc=1": that would disable set -e inside
	done
	lab_summary; rc=$?
	if [ $rc -ne 0 ]; then
		lab_run vm1 'echo "--- vm1 drbdd.log"; tail -40 /tmp/drbdd.log'
		lab_run vm2 'echo "--- vm2 drbdd.log"; tail -40 /tmp/drbdd.log'
	fi
	echo "lab: agent tests total $(lab__since "$t0") s"
	exit $rc
}
main "$@"
