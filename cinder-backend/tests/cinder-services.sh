# Real Cinder services for the end-to-end checks (sourced by
# openstack-check.sh and lab-openstack-check.sh): a private RabbitMQ on
# 127.0.0.1, cinder-api, cinder-scheduler and cinder-volume from the Debian
# packages with SQLite and noauth, this driver as the [drbd] backend.
# oc_stop stops every process started here (call it from the EXIT trap).
PY3=/usr/bin/python3
OC_START=${OC_START:-$(date +%s)}
OC_PIDS=()
OC_HOST=ckhost

oc_stop() {
	local i pid kids=()
	# cinder-volume runs its backend in a child process: stop those too.
	for pid in "${OC_PIDS[@]}"; do
		kids+=($(pgrep -P "$pid" 2>/dev/null))
	done
	for ((i = ${#OC_PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${OC_PIDS[i]}" 2>/dev/null
	done
	for pid in "${OC_PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for pid in "${kids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	OC_PIDS=()
	# epmd was started by the Erlang VM for our private port; stop it by
	# that port only.
	[ -n "${EPMD_PORT:-}" ] && ERL_EPMD_PORT=$EPMD_PORT epmd -kill >/dev/null 2>&1
	return 0
}

oc_free_port() {
	$PY3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# oc_wait_for SECONDS DESCRIPTION CMD...: polls CMD until it succeeds.
oc_wait_for() {
	local secs=$1 what=$2; shift 2
	local end=$(($(date +%s) + secs))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "FATAL: $what did not come up within ${secs}s"
			return 1
		fi
		sleep 0.5
	done
	echo "  up   $what ($(($(date +%s) - OC_START))s)"
}

oc_tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# oc_start_rabbit DIR: RabbitMQ on a free port of 127.0.0.1; sets AMQP_PORT.
oc_start_rabbit() {
	local R=$1/rabbit
	AMQP_PORT=$(oc_free_port)
	EPMD_PORT=$(oc_free_port)
	local dist_port
	dist_port=$(oc_free_port)
	mkdir -p "$R/mnesia" "$R/log"
	echo '[].' >"$R/enabled_plugins"
	cat >"$R/rabbitmq.conf" <<EOC
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
EOC
	(
		export HOME=$R RABBITMQ_NODENAME=drbdck$$@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
		export RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_DIST_PORT=$dist_port
		export ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
		export RABBITMQ_MNESIA_BASE=$R/mnesia RABBITMQ_LOG_BASE=$R/log
		export RABBITMQ_CONFIG_FILE=$R/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$R/enabled_plugins
		export RABBITMQ_CONF_ENV_FILE=$R/none RABBITMQ_ADVANCED_CONFIG_FILE=$R/advanced.config
		export RABBITMQ_PID_FILE=$R/rabbit.pid
		exec /usr/lib/rabbitmq/bin/rabbitmq-server
	) >"$R/server.out" 2>&1 &
	OC_PIDS+=($!)
	oc_wait_for 90 "rabbitmq on 127.0.0.1:$AMQP_PORT" oc_tcp_open "$AMQP_PORT" || { tail -20 "$R/server.out"; return 1; }
}

# oc_start_cinder DIR BUS_ADDRESS [DRBD-OPTION-LINES]: writes DIR/cinder.conf
# (the [drbd] section gets the driver, the bus and the extra lines), syncs the
# database and starts the three services; sets API_PORT and OC_CONF_DIR.
oc_start_cinder() {
	local C=$1/cinder bus=$2 extra=${3:-}
	OC_CONF_DIR=$C
	API_PORT=$(oc_free_port)
	mkdir -p "$C/state" "$C/lock"
	cat >"$C/cinder.conf" <<EOC
[DEFAULT]
host = $OC_HOST
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
drbd_dbus_address = $bus
$extra
EOC
	local t0
	t0=$(date +%s)
	cinder-manage --config-file "$C/cinder.conf" db sync >"$C/db-sync.log" 2>&1 ||
		{ echo "FATAL: cinder-manage db sync failed"; tail -20 "$C/db-sync.log"; return 1; }
	echo "  ok   cinder-manage db sync ($(($(date +%s) - t0))s)"
	# cinder-volume first, so that the scheduler's start-up request for
	# capabilities finds it.
	oc__service "$C" cinder-volume
	oc_wait_for 90 "cinder-volume (driver initialised)" oc__logged "$C" cinder-volume "Driver initialization completed successfully" ||
		{ tail -30 "$C/cinder-volume.log"; return 1; }
	oc__service "$C" cinder-scheduler
	oc__service "$C" cinder-api
	oc_wait_for 90 "cinder-api on 127.0.0.1:$API_PORT" oc_tcp_open "$API_PORT" || { tail -30 "$C/cinder-api.log"; return 1; }
	oc_wait_for 60 "cinder-scheduler (capabilities received)" oc__logged "$C" cinder-scheduler "Received volume service update from .*$OC_HOST@drbd" ||
		{ tail -30 "$C/cinder-scheduler.log"; return 1; }
}

oc__service() {
	"/usr/bin/$2" --config-file "$1/cinder.conf" --log-file "$1/$2.log" >"$1/$2.out" 2>&1 &
	OC_PIDS+=($!)
}
oc__logged() { grep -q "$3" "$1/$2.log" 2>/dev/null; }
