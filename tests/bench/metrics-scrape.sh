#!/bin/bash
# Scraping must not slow the API: the same reads and writes against drbdd
# (SQLite store, 200 resource definitions) without anyone scraping /metrics,
# with curl fetching it every second, and with a real Prometheus scraping it
# every second, side by side.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
t_need prometheus prometheus
echo "== metrics: API latency without and with a 1 s Prometheus scrape (SQLite store, 200 resource definitions)"
t_start_bus
t_start_drbdd --metrics-port=0
port=$(grep -o 'Metrics on http://127.0.0.1:[0-9]*' "$T_DIR/drbdd.log" | sed 's/.*://')
"$DRBDCTL" n c alpha 10.0.0.1 >/dev/null && "$DRBDCTL" sp c lvm alpha pool vg --capacity 1T >/dev/null &&
	"$DRBDCTL" rg c one --storage-pool pool --place-count 1 >/dev/null || T_FAILS=1
for i in $(seq 0 47); do "$DRBDCTL" rg spawn one "w$i" 8M >/dev/null || T_FAILS=1; done
"$BUILD/bench-create" 152 1 "$T_DRBDD_PID" >/dev/null || T_FAILS=1
# Writes create and delete again, so every round reads the same store.
writes_ms() {
	local start=$(date +%s%N)
	for i in $(seq 100); do "$DRBDCTL" rd c "$1$i" >/dev/null && "$DRBDCTL" rd d "$1$i" >/dev/null || T_FAILS=1; done
	echo "$(( ($(date +%s%N) - start) / 200000000 )) ms per drbdctl rd c / rd d (100 each, incl. process start)"
}
measure() {
	echo "$1 $("$BUILD/drbdd-waiters" --measure=10000 0 0 w0 alpha 1000 | grep '^reads')"
	echo "$1 $(writes_ms "$2")"
}
measure "no scrape:        " a
# The scrape alone (curl every second), then a real Prometheus (which also
# costs CPU of its own on this machine).
( while sleep 1; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done ) & looper=$!
measure "curl every 1 s:   " c
kill "$looper"; wait "$looper" 2>/dev/null
pport=$(( 30000 + RANDOM % 20000 ))
cat >"$T_DIR/prom.yml" <<EOC
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: drbdd
    static_configs: [{targets: ["127.0.0.1:$port"]}]
EOC
prometheus --config.file="$T_DIR/prom.yml" --storage.tsdb.path="$T_DIR/prom" \
	--web.listen-address=127.0.0.1:$pport >"$T_DIR/prom.log" 2>&1 & prom=$!
for _ in $(seq 100); do
	curl -s --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode 'query=up{job="drbdd"} == 1' |
		grep -q '"value"' && break
	sleep 0.3
done
sleep 3
before=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^drbdd_metrics_http_requests_total{code="200"} //p')
measure "Prometheus, 1 s:   " b
after=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^drbdd_metrics_http_requests_total{code="200"} //p')
echo "scrapes served during the measurement: $(( ${after:-0} - ${before:-0} - 1 ))," \
	"/metrics size $(curl -s "http://127.0.0.1:$port/metrics" | wc -c) bytes"
[ $(( ${after:-0} - ${before:-0} )) -ge 3 ] || { echo "FAIL Prometheus did not scrape"; T_FAILS=1; }
kill "$prom"; wait "$prom" 2>/dev/null
t_stop_drbdd
[ "$T_FAILS" -eq 0 ]
