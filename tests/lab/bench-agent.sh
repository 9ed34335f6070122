#!/bin/bash
# Agent bench on real kernels: reconcile time and number of commands in the
# first pass after a drbdd restart, with 0 and with N healthy resources
# (N=${BENCH_AGENT_N:-100}), side by side.
set -u
. "$(dirname "$0")/lab.sh"
N=${BENCH_AGENT_N:-100}
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.1:2379;"
lab_start 2 --disks 4G >/dev/null || exit 1
lab_run -t 120 vm1 "$G"'set -e; vg_setup; etcd_start; node_start --store $STORE' >/dev/null
lab_run -t 120 vm2 "$G"'set -e; vg_setup; node_start --store $STORE' >/dev/null
lab_run -t 60 vm1 "$G"'set -e
ctl n c vm1 10.99.0.1; ctl n c vm2 10.99.0.2
ctl sp c lvm vm1 pool1 drbdpool; ctl sp c lvm vm2 pool1 drbdpool
ctl rg c two --place-count 2 --drbd-option disk/c-max-rate=500M' >/dev/null || exit 1
# API latency on the node whose agent is idle, and while it is inside a
# slow command (an lvcreate on PATH that waits, test only): 1000
# ListResourceDefinitions calls each, side by side (issue 13: the agent runs
# on a thread of its own; goal p99 <= 50 ms busy).
api_latency() {
	lab_run -t 600 vm1 "$G"'set -e
mkdir -p /tmp/slowbin
printf "#!/bin/sh\ntouch /tmp/slow-inside\nwhile [ -e /tmp/slow-hold ]; do sleep 0.2; done\nrm -f /tmp/slow-inside\nexec /sbin/lvcreate \"\$@\"\n" >/tmp/slowbin/lvcreate
chmod +x /tmp/slowbin/lvcreate
node_stop; PATH=/tmp/slowbin:$PATH node_start --store $STORE
ok() { [ "$(agent_passes)" -ge 1 ]; }
wait_until 300 ok
idle=$($LAB_BUILD/drbdd-waiters --measure=1000 0 0 x vm1 1000 | sed -n "s/^reads: //p")
touch /tmp/slow-hold
ctl rg spawn two busy1 4M >/dev/null
inside() { [ -e /tmp/slow-inside ]; }
wait_until 60 inside
busy=$($LAB_BUILD/drbdd-waiters --measure=1000 0 0 x vm1 1000 | sed -n "s/^reads: //p")
inside || echo "(the slow command ended during the measurement)"
rm -f /tmp/slow-hold
echo "  agent idle:                 $idle"
echo "  agent inside a slow command: $busy"
wait_until 120 all_state busy1 UpToDate >/dev/null
ctl rd d busy1
node_stop; node_start --store $STORE'
}
printf '\nAPI latency on a node with an agent, DRBD %s in QEMU/TCG (lab, 2 cores):\n' "$LAB_DRBD"
api_latency || exit 1

measure() { # prints "usec commands-total commands-in-pass | steady: usec commands writes"
	lab_run -t 600 vm1 "$G"'set -e
node_stop; node_start --store $STORE
ok() { [ "$(agent_passes)" -ge 1 ]; }
wait_until 300 ok
first=$(ctl node status | jq -r "\"\(.\"last-pass-usec\") \(.\"commands-total\") \(.\"commands-last-pass\")\"")
# A steady pass: the periodic one (every 30 s), nothing changed since.
sleep 2; p=$(agent_passes)
more() { [ "$(agent_passes)" -gt "$p" ]; }
wait_until 120 more
steady=$(ctl node status | jq -r "\"\(.\"last-pass-usec\") \(.\"commands-last-pass\") \(.\"store-writes-last-pass\")\"")
echo "$first $steady"'
}
read -r u0 c0 p0 s0 sc0 sw0 < <(measure)
start=$(lab__now)
lab_run -t 7200 vm1 "$G"'set -e
for i in $(seq '"$N"'); do ctl rg spawn two b$i 4M >/dev/null; done
ready() { [ "$(ctl -o json r l | jq "[.[] | select(.state == \"UpToDate\")] | length")" -ge $(('"$N"' * 2)) ]; }
wait_until 7000 ready' || exit 1
created=$(lab__since "$start")
read -r u1 c1 p1 s1 sc1 sw1 < <(measure)
printf '\nnode agent after a restart (first reconcile pass), DRBD %s in QEMU/TCG:\n' "$LAB_DRBD"
printf '  %-28s %12s %12s\n' "" "0 resources" "$N resources"
printf '  %-28s %12s %12s\n' "reconcile pass (ms)" "$((u0 / 1000))" "$((u1 / 1000))"
printf '  %-28s %12s %12s\n' "commands since start" "$c0" "$c1"
printf '  %-28s %12s %12s\n' "commands in that pass" "$p0" "$p1"
printf '  %-28s %12s %12s\n' "a later pass (ms)" "$((s0 / 1000))" "$((s1 / 1000))"
printf '  %-28s %12s %12s\n' "  its commands" "$sc0" "$sc1"
printf '  %-28s %12s %12s\n' "  its store writes" "$sw0" "$sw1"
awk -v a="$u0" -v b="$u1" -v n="$N" 'BEGIN { printf "  ratio of pass times: %.2f (%.2f ms per resource)\n", (a ? b / a : 0), (b - a) / 1000 / n }'
printf '  creating %d 2-replica resources until UpToDate took %s s\n' "$N" "$created"
lab_stop 0
