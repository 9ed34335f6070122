# Shared helpers for integration tests: a private dbus-daemon per test run,
# the real drbdd on it, assertions. Source this file; it sets traps.
set -u

SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRCDIR/$BUILD" ;; esac
DRBDD="$BUILD/drbdd"
DRBDCTL="$BUILD/drbdctl"

T_DIR=$(mktemp -d /tmp/drbdd-it.XXXXXX)
T_FAILS=0
T_COUNT=0
T_DBUS_PID=
T_DRBDD_PID=

t_cleanup() {
	[ -n "$T_DRBDD_PID" ] && kill -TERM "$T_DRBDD_PID" 2>/dev/null && wait "$T_DRBDD_PID" 2>/dev/null
	[ -n "${T_ETCD_PID:-}" ] && kill -TERM "$T_ETCD_PID" 2>/dev/null && wait "$T_ETCD_PID" 2>/dev/null
	[ -n "$T_DBUS_PID" ] && kill -TERM "$T_DBUS_PID" 2>/dev/null && wait "$T_DBUS_PID" 2>/dev/null
	if [ "$T_FAILS" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T_DIR"
	else
		echo "  (test files kept in $T_DIR)"
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# Starts a private bus that behaves like the system bus: anyone may connect,
# only the policy below decides, and drbdd does its own uid check.
t_start_bus() {
	cat >"$T_DIR/bus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T_DIR/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOC
	chmod 755 "$T_DIR"
	dbus-daemon --config-file="$T_DIR/bus.conf" --nofork --nopidfile --print-address=3 3>"$T_DIR/bus.addr" 2>"$T_DIR/bus.log" &
	T_DBUS_PID=$!
	for _ in $(seq 100); do [ -s "$T_DIR/bus.addr" ] && break; sleep 0.05; done
	export DBUS_SYSTEM_BUS_ADDRESS=$(head -1 "$T_DIR/bus.addr")
	[ -n "$DBUS_SYSTEM_BUS_ADDRESS" ] || { echo "FATAL: dbus-daemon did not start"; cat "$T_DIR/bus.log"; exit 1; }
}

# Starts drbdd with its state in $T_DIR/state; extra arguments are passed on.
t_start_drbdd() {
	mkdir -p "$T_DIR/state"
	"$DRBDD" --config=/dev/null --node-name=${T_NODE:-alpha} --state-dir="$T_DIR/state" "$@" \
		>>"$T_DIR/drbdd.log" 2>&1 &
	T_DRBDD_PID=$!
	for _ in $(seq 200); do
		"$DRBDCTL" version >/dev/null 2>&1 && return 0
		kill -0 "$T_DRBDD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "FATAL: drbdd did not come up"; cat "$T_DIR/drbdd.log"; exit 1
}

# Starts (or restarts, on the same ports and data) a real etcd on loopback
# with its data in $T_DIR/etcd; sets T_ETCD_URL (also as T_ETCD_EP) and
# T_ETCD_PID (t_cleanup stops it). t_etcdctl runs etcdctl on it.
t_start_etcd() {
	t_need etcd etcd-server
	t_need etcdctl etcd-client
	[ -n "${T_ETCD_CP:-}" ] || { T_ETCD_CP=$(t_free_port); T_ETCD_PP=$(t_free_port); }
	T_ETCD_URL=http://127.0.0.1:$T_ETCD_CP
	T_ETCD_EP=$T_ETCD_URL
	etcd --name t --data-dir "$T_DIR/etcd" --listen-client-urls "$T_ETCD_URL" --advertise-client-urls "$T_ETCD_URL" \
		--listen-peer-urls http://127.0.0.1:$T_ETCD_PP --initial-advertise-peer-urls http://127.0.0.1:$T_ETCD_PP \
		--initial-cluster t=http://127.0.0.1:$T_ETCD_PP >>"$T_DIR/etcd.log" 2>&1 &
	T_ETCD_PID=$!
	for _ in $(seq 100); do t_etcdctl endpoint health >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "FATAL: etcd did not start"; tail "$T_DIR/etcd.log"; exit 1
}
t_etcdctl() { ETCDCTL_API=3 etcdctl --endpoints "$T_ETCD_URL" "$@"; }
t_free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

t_stop_drbdd() {
	kill -${1:-TERM} "$T_DRBDD_PID" 2>/dev/null
	wait "$T_DRBDD_PID" 2>/dev/null
	T_DRBDD_PID=
}

t_drbdd_alive() { kill -0 "$T_DRBDD_PID" 2>/dev/null; }

# t_need PROGRAM PACKAGE: fail the test at once (never skip) when PROGRAM is
# missing, naming the Debian package that provides it (make deps installs it).
t_need() {
	command -v "$1" >/dev/null && return 0
	echo "  FAIL '$1' not found: install Debian's $2 (make deps)"
	T_FAILS=$((T_FAILS + 1))
	exit 1
}

pass() { T_COUNT=$((T_COUNT + 1)); echo "  ok   $*"; }
fail() { T_COUNT=$((T_COUNT + 1)); T_FAILS=$((T_FAILS + 1)); echo "  FAIL $*"; }

# expect_rc RC DESCRIPTION -- CMD...: runs CMD, checks its exit code.
expect_rc() {
	local want=$1 desc=$2; shift 3
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -eq "$want" ]; then pass "$desc"; else fail "$desc (exit $rc, wanted $want): $(echo "$out" | head -3)"; fi
	T_LAST_OUT=$out
}

# expect_match REGEX DESCRIPTION -- CMD...: CMD must succeed and print REGEX.
expect_match() {
	local re=$1 desc=$2; shift 3
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -Eq -- "$re"; then pass "$desc"
	else fail "$desc (exit $rc, no /$re/): $(echo "$out" | head -5)"; fi
	T_LAST_OUT=$out
}

t_done() {
	echo "  $((T_COUNT - T_FAILS))/$T_COUNT passed"
	[ "$T_FAILS" -eq 0 ]
}
