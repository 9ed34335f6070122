#!/bin/bash
# Real Cinder on drbdd: cinder-api, cinder-scheduler and cinder-volume from
# the Debian packages (SQLite, a private RabbitMQ on 127.0.0.1, noauth),
# the DRBD driver as [drbd] backend, drbdd on a private bus; then
# openstack_scenario.py drives the volume life cycle with python3-cinderclient.
# drbdd here has no node agent (no DRBD on this host): see
# lab-openstack-check.sh for the same flow with volumes provisioned in the lab.
# Every process started here is stopped on exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../.." && pwd)}
export SRCDIR
. "$SRCDIR/tests/integration/lib.sh"
. "$HERE/cinder-services.sh"

oc_cleanup() {
	local rc=$?
	oc_stop
	[ "$rc" -ne 0 ] && T_FAILS=$((T_FAILS + 1))
	t_cleanup
	exit "$rc"
}
trap oc_cleanup EXIT

# ---- drbdd ------------------------------------------------------------------
t_start_bus
t_start_drbdd
$PY3 - <<PYEOF || exit 1
import sys
sys.path.insert(0, "$HERE")
import drbdd_fixture
f = drbdd_fixture.DrbddFixture()
f.address = "$DBUS_SYSTEM_BUS_ADDRESS"
f.define_cluster()
PYEOF
echo "  up   drbdd with nodes, pools, groups cinder and gold ($(($(date +%s) - OC_START))s)"

# ---- RabbitMQ and Cinder ----------------------------------------------------
oc_start_rabbit "$T_DIR" || exit 1
oc_start_cinder "$T_DIR" "$DBUS_SYSTEM_BUS_ADDRESS" "drbd_resource_group = cinder
drbd_resource_groups = gold
drbd_transport = drbd
drbd_ready_timeout = 5
drbd_timeout = 30" || exit 1
C=$OC_CONF_DIR

# ---- the scenario -------------------------------------------------------------
if [ -n "${OC_HOLD:-}" ]; then # debugging: keep everything up for a while
	echo "CINDER_ENDPOINT=http://127.0.0.1:$API_PORT/v3 CINDER_LOG_DIR=$C DRBDD_BUS=$DBUS_SYSTEM_BUS_ADDRESS"
	sleep "$OC_HOLD"
fi
CINDER_ENDPOINT=http://127.0.0.1:$API_PORT/v3 CINDER_LOG_DIR=$C DRBDD_BUS=$DBUS_SYSTEM_BUS_ADDRESS \
	timeout 240 $PY3 "$HERE/openstack_scenario.py"
rc=$?
[ $rc -ne 0 ] && { echo "  (cinder logs in $C)"; T_FAILS=$((T_FAILS + 1)); }
echo "  openstack-check took $(($(date +%s) - OC_START))s"
exit $rc
