#!/bin/bash
# Real Cinder on drbdd: cinder-api, cinder-scheduler and cinder-volume from
# the Debian packages (SQLite, a private RabbitMQ on 127.0.0.1, noauth),
# the DRBD driver as [drbd] backend, drbdd on a private bus; then
# openstack_scenario.py drives the volume life cycle with python3-cinderclient.
# Every process started here is stopped on exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../.." && pwd)}
export SRCDIR
. "$SRCDIR/tests/integration/lib.sh"
PY3=/usr/bin/python3
START=$(date +%s)
PIDS=()

oc_cleanup() {
	local rc=$?
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# epmd was started by the Erlang VM for our private port; stop it by
	# that port only.
	[ -n "${EPMD_PORT:-}" ] && ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1
	[ "$rc" -ne 0 ] && T_FAILS=$((T_FAILS + 1))
	t_cleanup
	exit "$rc"
}
trap oc_cleanup EXIT

free_port() {
	$PY3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD until it succeeds.
wait_for() {
	local secs=$1 what=$2; shift 2
	local end=$(($(date +%s) + secs))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "FATAL: $what did not come up within ${secs}s"
			return 1
		fi
		sleep 0.5
	done
	echo "  up   $what ($(($(date +%s) - START))s)"
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- drbdd ------------------------------------------------------------------
t_start_bus
t_start_drbdd
$PY3 - <<EOF || exit 1
import sys
sys.path.insert(0, "$HERE")
import drbdd_fixture
f = drbdd_fixture.DrbddFixture()
f.address = "$DBUS_SYSTEM_BUS_ADDRESS"
f.define_cluster()
EOF
echo "  up   drbdd with nodes, pools, groups cinder and gold ($(($(date +%s) - START))s)"

# ---- RabbitMQ ---------------------------------------------------------------
AMQP_PORT=$(free_port)
EPMD_PORT=$(free_port)
DIST_PORT=$(free_port)
R=$T_DIR/rabbit
mkdir -p "$R/mnesia" "$R/log"
echo '[].' >"$R/enabled_plugins"
cat >"$R/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
EOF
(
	export HOME=$R RABBITMQ_NODENAME=drbdck$$@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_DIST_PORT=$DIST_PORT
	export ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
	export RABBITMQ_MNESIA_BASE=$R/mnesia RABBITMQ_LOG_BASE=$R/log
	export RABBITMQ_CONFIG_FILE=$R/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$R/enabled_plugins
	export RABBITMQ_CONF_ENV_FILE=$R/none RABBITMQ_ADVANCED_CONFIG_FILE=$R/advanced.config
	export RABBITMQ_PID_FILE=$R/rabbit.pid
	exec /usr/lib/rabbitmq/bin/rabbitmq-server
) >"$R/server.out" 2>&1 &
PIDS+=($!)
wait_for 90 "rabbitmq on 127.0.0.1:$AMQP_PORT" tcp_open "$AMQP_PORT" || { tail -20 "$R/server.out"; exit 1; }

# ---- Cinder -----------------------------------------------------------------
API_PORT=$(free_port)
C=$T_DIR/cinder
mkdir -p "$C/state" "$C/lock"
cat >"$C/cinder.conf" <<EOF
[DEFAULT]
host = ckhost
state_path = $C/state
auth_strategy = noauth
transport_url = rabbit://guest:guest@127.0.0.1:$AMQP_PORT/
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $API_PORT
osapi_volume_workers = 1
api_paste_config = /etc/cinder/api-paste.ini
enabled_backends = drbd
default_volume_type = drbd
report_interval = 2
periodic_interval = 2
scheduler_driver_init_wait_time = 30
debug = true
use_stderr = false

[database]
connection = sqlite:///$C/cinder.sqlite

[oslo_concurrency]
lock_path = $C/lock

[coordination]
backend_url = file://$C/state

[drbd]
volume_driver = drbd_cinder.driver.DrbdDriver
volume_backend_name = drbd
drbd_dbus_address = $DBUS_SYSTEM_BUS_ADDRESS
drbd_resource_group = cinder
drbd_resource_groups = gold
drbd_transport = drbd
drbd_ready_timeout = 5
drbd_timeout = 30
EOF
T0=$(date +%s)
cinder-manage --config-file "$C/cinder.conf" db sync >"$C/db-sync.log" 2>&1 ||
	{ echo "FATAL: cinder-manage db sync failed"; tail -20 "$C/db-sync.log"; exit 1; }
echo "  ok   cinder-manage db sync ($(($(date +%s) - T0))s)"

start_service() {
	local name=$1
	"/usr/bin/$name" --config-file "$C/cinder.conf" --log-file "$C/$name.log" >"$C/$name.out" 2>&1 &
	PIDS+=($!)
}
service_up() { grep -q "$2" "$C/$1.log" 2>/dev/null; }

# cinder-volume first, so that the scheduler's start-up request for
# capabilities finds it.
start_service cinder-volume
wait_for 90 "cinder-volume (driver initialised)" service_up cinder-volume "Driver initialization completed successfully" ||
	{ tail -30 "$C/cinder-volume.log"; exit 1; }
start_service cinder-scheduler
start_service cinder-api
wait_for 90 "cinder-api on 127.0.0.1:$API_PORT" tcp_open "$API_PORT" || { tail -30 "$C/cinder-api.log"; exit 1; }
wait_for 60 "cinder-scheduler (capabilities received)" service_up cinder-scheduler "Received volume service update from .*ckhost@drbd" ||
	{ tail -30 "$C/cinder-scheduler.log"; exit 1; }

# ---- the scenario -------------------------------------------------------------
if [ -n "${OC_HOLD:-}" ]; then # debugging: keep everything up for a while
	echo "CINDER_ENDPOINT=http://127.0.0.1:$API_PORT/v3 CINDER_LOG_DIR=$C DRBDD_BUS=$DBUS_SYSTEM_BUS_ADDRESS"
	sleep "$OC_HOLD"
fi
CINDER_ENDPOINT=http://127.0.0.1:$API_PORT/v3 CINDER_LOG_DIR=$C DRBDD_BUS=$DBUS_SYSTEM_BUS_ADDRESS \
	timeout 240 $PY3 "$HERE/openstack_scenario.py"
rc=$?
[ $rc -ne 0 ] && { echo "  (cinder logs in $C)"; T_FAILS=$((T_FAILS + 1)); }
echo "  openstack-check took $(($(date +%s) - START))s"
exit $rc
