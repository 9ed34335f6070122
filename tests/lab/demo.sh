#!/bin/bash
# make demo: the product's main job on real kernels, narrated and timed.
# Three lab VMs: vm1 and vm2 hold replicas, vm3 is a compute node (and runs
# etcd, the cluster store). Every step is checked; the demo exits non-zero
# as soon as one fails.
set -u
. "$(dirname "$0")/lab.sh"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.3:2379;"
T0=$(lab__now)
step_no=0
step() { step_no=$((step_no + 1)); STEP_T=$(lab__now); printf '\n\033[1m[%d] %s\033[0m\n' "$step_no" "$*"; }
done_() { printf '    ... done in %ss\n' "$(lab__since "$STEP_T")"; }
die() { printf '\n\033[1;31mDEMO FAILED at step %d: %s\033[0m\n' "$step_no" "$*"; exit 1; }
run() { local vm=$1; shift; lab_run -t "${T:-180}" "$vm" "$G$*" | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }

step "Build the product and boot three real Linux kernels (DRBD $LAB_DRBD, LVM) under QEMU"
if [ -z "${DEMO_NO_BUILD:-}" ]; then make -C "$LAB_REPO" -s all >/dev/null || die "build failed"; fi
lab_start 3 --disks 1G || die "lab did not boot"
done_

step "Start etcd on vm3 and drbdd on every node, all sharing that store"
run vm3 'set -e; etcd_start; node_start --store $STORE' || die "vm3"
run vm1 'set -e; vg_setup; node_start --store $STORE' || die "vm1"
run vm2 'set -e; vg_setup; node_start --store $STORE' || die "vm2"
run vm1 'set -e
ctl node create vm1 10.99.0.1 --property site=a
ctl node create vm2 10.99.0.2 --property site=b
ctl node create vm3 10.99.0.3 --property site=c
ctl storage-pool create lvm vm1 pool1 drbdpool
ctl storage-pool create lvm vm2 pool1 drbdpool
ctl resource-group create mirrored --place-count 2 --storage-pool pool1 --replicas-on-different site
wait_until 60 dialect_reported 3 && wait_until 60 pools_reported
ctl node list; echo; ctl storage-pool list' || die "cluster setup"
done_

step "Create a replicated 128 MiB volume: drbdd places it on two sites and syncs it"
run vm1 'set -e
ctl resource-group spawn mirrored vol1 128M
wait_until 150 all_state vol1 UpToDate || { ctl r l vol1; exit 1; }
ctl volume list vol1' || die "vol1 not UpToDate on both replicas"
done_

step "Write data on vm1 (Primary), every write acknowledged by both replicas (protocol C)"
run vm1 'set -e
ctl resource set-primary vm1 vol1
wait_until 60 is_primary vol1
head -c 16M /dev/urandom >/tmp/payload
dd if=/tmp/payload of=$(dev_of vol1) bs=1M oflag=direct status=none
sha256sum </tmp/payload | tee /tmp/payload.sum' || die "write failed"
lab_copy_out vm1 /tmp/payload.sum "$LAB_DIR/payload.sum" || die "copy"
done_

step "Attach natively on a compute node: a 1-replica volume on vm2 used through a diskless DRBD client on vm3"
run vm1 'set -e
ctl resource-definition create scratch --resource-group mirrored
ctl volume-definition create scratch 64M
ctl resource create vm2 scratch
ctl resource create vm3 scratch --diskless
wait_until 120 state_is scratch vm2 UpToDate || { ctl r l scratch; exit 1; }
ctl resource set-primary vm3 scratch
ctl resource list scratch' || die "diskless attach"
run vm3 'set -e
wait_until 60 is_primary scratch
dev=$(dev_of scratch)
head -c 8M /dev/urandom >/tmp/s; dd if=/tmp/s of=$dev bs=1M oflag=direct status=none
same_data $dev /tmp/s && echo "vm3 (no local disk) wrote and read 8 MiB through $dev: data served by vm2"' || die "I/O through the diskless client"
done_

step "Checksummed writes on vm1, then pull its power cord mid-stream"
# Each write is acknowledged (dd with O_DIRECT|O_SYNC returned) to an
# observer on vm3 before the next one starts; vm1's own output dies with it.
lab_run vm3 'rm -f /tmp/acks; nohup /usr/bin/python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 9000)); s.listen(1); c, _ = s.accept()
with open(\"/tmp/acks\", \"ab\", buffering=0) as f:
    while True:
        d = c.recv(65536)
        if not d: break
        f.write(d)
" >/dev/null 2>&1 &
sleep 1' || die "observer on vm3"
lab_run -t 120 vm1 "$G"'dev=$(dev_of vol1); i=0
exec 3>/dev/tcp/10.99.0.3/9000 || exit 1
while [ $i -lt 100000 ]; do
	printf "%-4096s" "block $i $(date +%s%N)" >/tmp/blk
	dd if=/tmp/blk of=$dev bs=4096 seek=$((4096 + i)) count=1 oflag=direct,dsync status=none || break
	echo "ack $i $(sha256sum </tmp/blk | cut -c1-16)" >&3
	i=$((i + 1))
done' >/dev/null 2>&1 &
WRITER=$!
sleep 10
lab_poweroff vm1
wait $WRITER 2>/dev/null
sleep 1
lab_copy_out vm3 /tmp/acks "$LAB_DIR/acks" || die "no acknowledgement log on vm3"
acks=$(grep -c '^ack' "$LAB_DIR/acks")
[ "$acks" -gt 0 ] || die "no write was acknowledged"
echo "    vm1 powered off after $acks acknowledged 4 KiB writes"
done_

step "Promote the survivor vm2 and verify every acknowledged write"
lab_copy_in vm2 "$LAB_DIR/acks" /tmp/acks
lab_copy_in vm2 "$LAB_DIR/payload.sum" /tmp/payload.sum
run vm2 'set -e
ctl resource set-primary vm2 vol1
wait_until 90 is_primary vol1 || { drbdsetup status vol1; tail /tmp/drbdd.log; exit 1; }
dev=$(dev_of vol1)
same_sum $dev /tmp/payload.sum 16777216 && echo "the 16 MiB written before the failure are intact"
bad=0
while read -r _ i sum; do
	[ ${#sum} -eq 16 ] || continue # a line cut by the power-off: never acknowledged
	got=$(dd if=$dev bs=4096 skip=$((4096 + i)) count=1 status=none | sha256sum | cut -c1-16)
	[ "$got" = "$sum" ] || { echo "write $i lost or damaged"; bad=$((bad + 1)); }
done </tmp/acks
[ $bad -eq 0 ] && echo "all $(wc -l </tmp/acks) acknowledged writes are present on vm2"
[ $bad -eq 0 ]' || die "data lost"
done_

step "Bring vm1 back: drbdd starts, reattaches its LV and resyncs from vm2"
lab_restart vm1 || die "vm1 did not come back"
run vm1 'set -e; node_start --store $STORE' || die "drbdd on vm1"
run vm1 'set -e
for i in $(seq 60); do
	s=$(ctl -o json r l vol1 | jq -r ".[] | select(.node == \"vm1\") | .state")
	echo "vm1: $s"
	case "$s" in UpToDate) break ;; esac
	sleep 2
done
wait_until 120 all_state vol1 UpToDate
ctl resource list vol1' || die "vm1 did not resync"
done_

step "Stop etcd: volumes keep serving I/O, changes fail fast, the last-known state still shows; then restart it"
run vm3 'pkill -x etcd; sleep 1; ! pgrep -x etcd >/dev/null' || die "etcd did not stop"
run vm2 'set -e
dev=$(dev_of vol1 2>/dev/null || echo /dev/drbd1000)
head -c 4M /dev/urandom >/tmp/during; dd if=/tmp/during of=/dev/drbd1000 bs=1M seek=64 oflag=direct status=none
echo "wrote 4 MiB to vol1 with etcd down"
t0=$(date +%s%N); rc=0; ctl rd c during-outage 2>/tmp/err || rc=$?
echo "rd create: exit $rc after $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat /tmp/err)"
[ $rc -eq 8 ]
ctl resource list vol1' || die "behaviour during the etcd outage"
run vm3 'set -e; etcd_start' || die "etcd restart"
run vm2 'set -e; wait_until 60 ctl rd c after-outage; echo "changes accepted again"' || die "no recovery after etcd came back"
done_

step "Cut vm2 off the network (etcd and DRBD): the API on the other nodes keeps working"
lab_link vm2 down
run vm3 'set -e
ctl resource-definition create after-cut
ctl resource-definition list | grep after-cut' || die "API on vm3 during vm2's outage"
lab_link vm2 up
done_

printf '\n\033[1;32mDemo complete in %ss: replicated, attached natively, survived a power cut without losing an acknowledged write, resynced.\033[0m\n' "$(lab__since "$T0")"
lab_stop 0
