# systemd readiness (Type=notify in drbdd.service): drbdd sends READY=1 only
# once it owns its bus name and has registered in the cluster store; with
# etcd not reachable yet it serves the bus but is not ready, and becomes
# ready when etcd comes up. STOPPING=1 on SIGTERM.
. "$(dirname "$0")/lib.sh"
t_need etcd etcd-server
t_need etcdctl etcd-client

# A NOTIFY_SOCKET like systemd's: every datagram becomes a line in $1.
notify_listen() {
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2], "w").close()
while True:
    m = s.recv(4096).decode(errors="replace")
    with open(sys.argv[2], "a") as f:
        f.write(m.replace("\n", " ") + "\n")
' "$1" "$2" &
	NOTIFY_PID=$!
	for _ in $(seq 100); do [ -e "$2" ] && return 0; sleep 0.05; done
	echo "FATAL: notify listener did not start"; exit 1
}
wait_line() { # FILE REGEX SECONDS
	for _ in $(seq $(($3 * 10))); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
trap 'kill $NOTIFY_PID $ETCD_PID 2>/dev/null; wait $NOTIFY_PID $ETCD_PID 2>/dev/null; t_cleanup' EXIT
NOTIFY_PID= ETCD_PID=

t_start_bus
notify_listen "$T_DIR/notify.sock" "$T_DIR/notify.log"
export NOTIFY_SOCKET=$T_DIR/notify.sock

# SQLite: registered at once, so ready at once, after the registration.
t_start_drbdd --agent=no
if wait_line "$T_DIR/notify.log" '^READY=1' 10; then pass "READY=1 sent (SQLite store)"
else fail "no READY=1 within 10 s: $(cat "$T_DIR/notify.log")"; fi
reg=$(grep -n "registered" "$T_DIR/drbdd.log" | head -1 | cut -d: -f1)
rdy=$(grep -n " ready, store" "$T_DIR/drbdd.log" | head -1 | cut -d: -f1)
[ -n "$reg" ] && [ -n "$rdy" ] && [ "$reg" -lt "$rdy" ] && pass "ready only after the node registered" ||
	fail "log order registered=$reg ready=$rdy: $(cat "$T_DIR/drbdd.log")"
t_stop_drbdd
wait_line "$T_DIR/notify.log" '^STOPPING=1' 5 && pass "STOPPING=1 on SIGTERM" || fail "no STOPPING=1: $(cat "$T_DIR/notify.log")"

# etcd not there yet: the bus answers (t_start_drbdd waits for that), but
# drbdd is not ready; it becomes ready once etcd is reachable.
: >"$T_DIR/notify.log"
EP=$(port) PP=$(port)
t_start_drbdd --agent=no --store "etcd:http://127.0.0.1:$EP" --lease-ttl=3
sleep 2
if grep -q '^READY=1' "$T_DIR/notify.log"; then fail "READY=1 without a reachable store"
else pass "serves the bus, not ready while etcd is unreachable"; fi
etcd --name t --data-dir "$T_DIR/etcd" --listen-client-urls "http://127.0.0.1:$EP" \
	--advertise-client-urls "http://127.0.0.1:$EP" --listen-peer-urls "http://127.0.0.1:$PP" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PP" --initial-cluster "t=http://127.0.0.1:$PP" \
	>>"$T_DIR/etcd.log" 2>&1 &
ETCD_PID=$!
if wait_line "$T_DIR/notify.log" '^READY=1' 20; then pass "READY=1 once etcd is reachable"
else fail "no READY=1 after etcd came up: $(tail -5 "$T_DIR/drbdd.log")"; fi
t_stop_drbdd
t_done
