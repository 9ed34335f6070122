#!/bin/bash
# Real Cinder with volumes really provisioned: a lab of QEMU VMs (vm1,
# vm2: the lab's DRBD (9 by default), lvm-thin pools, drbdd with its node
# agent, etcd on vm1; with LAB_NOVA=1 (make lab-nova-check) also vm3, a
# compute node without storage, and libvirtd and drbd-nova-helper on the
# compute nodes vm1 and vm3) and,
# on this host, a controller-only drbdd (--agent=no) on a private bus, joined
# to the lab's etcd through a port QEMU forwards from 127.0.0.1 to vm1;
# cinder-api, -scheduler and -volume from the Debian packages use it through
# the driver. lab_scenario.py then drives create -> snapshot -> revert ->
# clone -> attach/detach (DRBD and iSCSI) -> (LAB_NOVA=1: os-brick, Nova's
# volume driver, live migration of a domain there and back, a rollback,
# multiattach) -> extend (while attached with LAB_NOVA=1) -> delete and checks the
# kernels in the VMs at each step. Everything started here is stopped on exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../.." && pwd)}
export SRCDIR
# The private bus, drbdd start/stop and $T_DIR (kept on failure) come from
# the integration tests' library; BUILD is resolved there.
. "$SRCDIR/tests/integration/lib.sh"
export BUILD
LAB_BUILD=$BUILD
. "$SRCDIR/tests/lab/lab.sh"
. "$HERE/cinder-services.sh"
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.1:2379;"
SCENARIO_PID=

lc_cleanup() {
	local rc=$1
	oc_stop
	[ -n "$SCENARIO_PID" ] && kill -TERM "$SCENARIO_PID" 2>/dev/null && wait "$SCENARIO_PID" 2>/dev/null
	[ "$rc" -ne 0 ] && T_FAILS=$((T_FAILS + 1))
	t_cleanup
	lab__on_exit "$rc"
}

LAB_NOVA=${LAB_NOVA:-0}
export LAB_NOVA
if [ "$LAB_NOVA" = 1 ]; then VMS="vm1 vm2 vm3"; else VMS="vm1 vm2"; fi
lab_start $(wc -w <<<"$VMS") --disks 8G --forward vm1:2379 || { t_cleanup; exit 1; }
trap 'lc_cleanup $?' EXIT
ETCD_PORT=$(lab_forward vm1 2379) || exit 1

# ---- the lab: etcd on vm1, drbdd agents on vm1 and vm2 ------------------------
setup='vg_setup; lvs drbdpool/thin >/dev/null 2>&1 || lvcreate -q -L 7G -Zy -T drbdpool/thin >/dev/null
modprobe target_core_mod; modprobe target_core_iblock; modprobe iscsi_target_mod'
lab_run -t 120 vm1 "$G set -e; $setup; etcd_start; node_start --store \$STORE" || exit 1
lab_run -t 120 vm2 "$G set -e; $setup; node_start --store \$STORE" || exit 1
if [ "$LAB_NOVA" = 1 ]; then
	lab_run -t 120 vm3 "$G set -e; node_start --store \$STORE" || exit 1
	for vm in vm1 vm3; do
		lab_run -t 240 $vm "$G set -e; libvirt_start; nova_helper_start" || exit 1
	done
	lab_run -t 60 vm1 "$G set -e; ctl n c vm3 10.99.0.3" || exit 1
fi
lab_run -t 60 vm1 "$G"'set -e
ctl n c vm1 10.99.0.1; ctl n c vm2 10.99.0.2
ctl sp c lvm-thin vm1 pool1 drbdpool/thin; ctl sp c lvm-thin vm2 pool1 drbdpool/thin
ctl rg c cinder --place-count 2
wait_until 60 pools_reported || { ctl sp l; exit 1; }' || exit 1
echo "  up   lab: vm1, vm2 with lvm-thin pools, etcd on vm1$([ "$LAB_NOVA" = 1 ] && echo "; vm3 compute; libvirtd on vm1, vm3") ($(($(date +%s) - OC_START))s)"

# ---- drbdd on this host: controller only, the lab's etcd ----------------------
t_start_bus
T_NODE=ckhost t_start_drbdd --agent=no --store "etcd:http://127.0.0.1:$ETCD_PORT"
lc_nodes_seen() { [ "$("$BUILD/drbdctl" -o json n l | jq -r 'map(.name) | sort | join(" ")')" = "$VMS" ]; }
oc_wait_for 30 "drbdd on this host (controller only) sees $VMS through 127.0.0.1:$ETCD_PORT" lc_nodes_seen ||
	{ tail -20 "$T_DIR/drbdd.log"; exit 1; }

# ---- RabbitMQ and Cinder ----------------------------------------------------
oc_start_rabbit "$T_DIR" || exit 1
oc_start_cinder "$T_DIR" "$DBUS_SYSTEM_BUS_ADDRESS" "drbd_resource_group = cinder
drbd_transport = auto
drbd_ready_timeout = 300
drbd_timeout = 120" || exit 1

# ---- the scenario -------------------------------------------------------------
# In the background, so that a signal to this script is handled at once
# (bash runs traps only between foreground commands) and stops it too.
CINDER_ENDPOINT=http://127.0.0.1:$API_PORT/v3 CINDER_LOG_DIR=$OC_CONF_DIR DRBDD_BUS=$DBUS_SYSTEM_BUS_ADDRESS \
	PYTHONPATH=$HERE:${PYTHONPATH:-} timeout 1500 $PY3 "$HERE/lab_scenario.py" &
SCENARIO_PID=$!
wait "$SCENARIO_PID"
rc=$?
SCENARIO_PID=
if [ $rc -ne 0 ]; then
	echo "  (cinder logs in $OC_CONF_DIR)"
	lab_run vm1 'echo "--- vm1 drbdd.log"; tail -40 /tmp/drbdd.log'
	lab_run vm2 'echo "--- vm2 drbdd.log"; tail -30 /tmp/drbdd.log'
	for vm in $([ "$LAB_NOVA" = 1 ] && echo vm1 vm3); do
		lab_run $vm "echo '--- $vm nova-helper.log'; tail -20 /tmp/nova-helper.log; echo '--- libvirtd.log'; grep -v 'dnsmasq\|GDBus\|firewalld\|/dev/kvm' /tmp/libvirtd.log | tail -10"
	done
fi
echo "  lab-openstack-check took $(($(date +%s) - OC_START))s"
exit $rc
