# /metrics: options, what the control plane exports (checked by Prometheus's
# own parser, promtool), and hostile HTTP (huge headers and URLs, bodies,
# unknown paths and methods, slowloris): clear 4xx, bounded connections,
# bounded memory, the daemon stays up and answers D-Bus all along.
. "$(dirname "$0")/lib.sh"
t_need curl curl
t_need promtool prometheus

metrics_port() { grep -o 'Metrics on http://[^ ]*' "$T_DIR/drbdd.log" | tail -1 | sed 's|.*:\([0-9]*\)/metrics|\1|'; }

# ---- options ------------------------------------------------------------
expect_match "Invalid metrics-address 'localhost'" "metrics-address must be numeric" -- \
	bash -c "! '$DRBDD' --config=/dev/null --metrics-address=localhost 2>&1"
expect_match "Invalid metrics-port '70000'" "metrics-port out of range is refused" -- \
	bash -c "! '$DRBDD' --config=/dev/null --metrics-port=70000 2>&1"
expect_match "Invalid metrics 'maybe'" "metrics takes yes or no" -- \
	bash -c "! '$DRBDD' --config=/dev/null --metrics=maybe 2>&1"
expect_match "Invalid metrics-stuck-after '0'" "metrics-stuck-after must be positive" -- \
	bash -c "! '$DRBDD' --config=/dev/null --metrics-stuck-after=0 2>&1"

t_start_bus
t_start_drbdd --metrics-port=0 --agent=no
port=$(metrics_port)
[ -n "$port" ] && pass "listening on 127.0.0.1:$port (loopback by default)" || fail "no 'Metrics on' line: $(tail -3 "$T_DIR/drbdd.log")"
grep -q 'Metrics on http://127.0.0.1:' "$T_DIR/drbdd.log" && pass "default address is loopback" || fail "not loopback"

URL="http://127.0.0.1:$port/metrics"
$DRBDCTL n c alpha 10.0.0.1 >/dev/null || fail "node create"
$DRBDCTL n l >/dev/null
$DRBDCTL rd d nosuch >/dev/null 2>&1
sleep 1.2 # one collection period
curl -sf "$URL" >"$T_DIR/m1" && pass "GET /metrics 200" || fail "GET /metrics"
expect_match "" "promtool check metrics accepts the output" -- bash -c "promtool check metrics <'$T_DIR/m1'"
for re in 'drbdd_build_info\{version="[^"]+",node="alpha"\} 1' \
	'drbdd_api_requests_total\{method="CreateNode",result="ok"\} 1' \
	'drbdd_api_requests_total\{method="DeleteResourceDefinition",result="NotFound"\} 1' \
	'drbdd_api_request_duration_seconds_bucket\{method="ListNodes",le="\+Inf"\} 1' \
	'drbdd_api_request_duration_seconds_count\{method="CreateNode"\} 1' \
	'drbdd_leader\{node="alpha"\} 1' 'drbdd_leader_info\{leader="alpha"\} 1' 'drbdd_node_up\{node="alpha"\} 1' \
	'drbdd_store_up 1' 'drbdd_store_round_seconds_count [1-9]' '^# TYPE drbdd_api_requests_total counter' \
	'^# TYPE drbdd_api_request_duration_seconds histogram'; do
	grep -Eq "$re" "$T_DIR/m1" && pass "exports /$re/" || fail "no /$re/ in /metrics"
done
grep -q '^drbd_' "$T_DIR/m1" && fail "DRBD metrics without an agent" || pass "no drbd_* series without an agent"
h=$(curl -s -D - -o /dev/null "$URL")
printf '%s' "$h" | grep -qi '^Content-Type: text/plain; version=0.0.4' && pass "Prometheus text content type" || fail "content type: $h"
[ "$(curl -s -I -o /dev/null -w '%{http_code}' "$URL")" = 200 ] && pass "HEAD /metrics 200" || fail "HEAD"

# ---- hostile HTTP -------------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "$@"; }
big=$(head -c 40000 /dev/zero | tr '\0' a)
[ "$(code "http://127.0.0.1:$port/")" = 404 ] && pass "unknown path / -> 404" || fail "/ not 404"
[ "$(code "http://127.0.0.1:$port/metrics/../etc/passwd")" = 404 ] && pass "path traversal -> 404" || fail "traversal not 404"
[ "$(code "http://127.0.0.1:$port/metricsX")" = 404 ] && pass "/metricsX -> 404" || fail "/metricsX not 404"
[ "$(code -X DELETE "$URL")" = 405 ] && pass "DELETE -> 405" || fail "DELETE not 405"
r=$(head -c 50000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X POST -T - -m 10 "$URL")
[ "$r" = 405 ] && pass "POST with a 50 MB body -> 405 at once" || fail "POST with a body: $r"
[ "$(code -H "X-Big: $big" "$URL")" = 431 ] && pass "40 KB header -> 431" || fail "big header not 431"
[ "$(code "$URL?$big")" = 414 ] && pass "40 KB URL -> 414" || fail "big URL not 414"
hdrs=(); for i in $(seq 2000); do hdrs+=(-H "X-$i: v"); done
r=$(code "${hdrs[@]}" "$URL"); [ "${r:0:1}" = 4 ] && pass "2000 headers -> $r" || fail "2000 headers: $r"
rss0=$(awk '/VmRSS/ {print $2}' /proc/$T_DRBDD_PID/status)
for i in $(seq 100); do code -H "X-Big: $big" "$URL" >/dev/null; done
rss1=$(awk '/VmRSS/ {print $2}' /proc/$T_DRBDD_PID/status)
[ $((rss1 - rss0)) -lt 8192 ] && pass "100 huge requests: RSS $rss0 -> $rss1 KiB" || fail "RSS grew $rss0 -> $rss1 KiB"

# Slowloris: 60 connections that never finish their headers.
socks() { ls -l /proc/$T_DRBDD_PID/fd 2>/dev/null | grep -c socket; }
base=$(socks)
fds=()
for i in $(seq 60); do
	exec {fd}<>/dev/tcp/127.0.0.1/$port && printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&$fd && fds+=($fd)
done
sleep 0.5
n=$(socks)
[ $((n - base)) -le 32 ] && pass "60 slow clients: at most 32 connections held ($((n - base)))" || fail "$((n - base)) connections held"
expect_match "alpha" "D-Bus API answers during the slowloris" -- $DRBDCTL n l
start=$(date +%s%N)
r=$(code -m 30 "$URL")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$r" = 200 ] && [ "$ms" -lt 12000 ] && pass "a scrape during the slowloris gets through in ${ms} ms (idle timeout 5 s)" ||
	fail "scrape during slowloris: $r after $ms ms"
sleep 6
n=$(socks)
[ $((n - base)) -le 1 ] && pass "idle slow clients dropped after the 5 s timeout" || fail "$((n - base)) connections still held"
for fd in "${fds[@]}"; do exec {fd}>&-; done
[ "$(code "$URL")" = 200 ] && pass "serves normally afterwards" || fail "not serving afterwards"
t_drbdd_alive && pass "drbdd still running" || fail "drbdd died"
curl -s "$URL" | grep -Eq 'drbdd_metrics_http_requests_total\{code="404"\} [1-9]' && pass "4xx replies are counted" ||
	fail "no drbdd_metrics_http_requests_total{code=\"404\"}"
t_stop_drbdd

# A port that was asked for must work: a busy one is fatal, with the reason;
# the default port busy is only a warning.
/usr/bin/python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(60)' "$port" & holder=$!
sleep 0.5
expect_match "Failed to serve metrics on 127.0.0.1 port $port: Address already in use" \
	"an explicitly configured busy port is a clear error" -- \
	bash -c "! timeout 20 '$DRBDD' --config=/dev/null --node-name=alpha --state-dir='$T_DIR/state' --agent=no --metrics-port=$port 2>&1"
kill $holder; wait $holder 2>/dev/null

# ---- off switch, config file ------------------------------------------------
: >"$T_DIR/drbdd.log"
t_start_drbdd --metrics=no --agent=no
grep -q 'Metrics on' "$T_DIR/drbdd.log" && fail "--metrics=no still serves" || pass "--metrics=no: no endpoint"
[ "$(code "$URL")" = 000 ] && pass "--metrics=no: nothing listens on the port" || fail "something answers on $port"
t_stop_drbdd
printf 'metrics-address = ::1\nmetrics-port = 0\n' >"$T_DIR/m.conf"
: >"$T_DIR/drbdd.log"
"$DRBDD" --config="$T_DIR/m.conf" --node-name=alpha --state-dir="$T_DIR/state" --agent=no >>"$T_DIR/drbdd.log" 2>&1 &
T_DRBDD_PID=$!
for _ in $(seq 100); do grep -q 'Metrics on' "$T_DIR/drbdd.log" && break; sleep 0.05; done
p6=$(metrics_port)
grep -q 'Metrics on http://\[::1\]:' "$T_DIR/drbdd.log" && [ "$(code "http://[::1]:$p6/metrics")" = 200 ] &&
	pass "metrics-address = ::1 from drbdd.conf" || fail "IPv6 from the config: $(tail -2 "$T_DIR/drbdd.log")"
t_stop_drbdd
t_done
