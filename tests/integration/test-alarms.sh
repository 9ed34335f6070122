# The leader's alarms on /metrics (docs/metrics.md): a dual-primary window
# (two hosts attached) and a domain running through a diskless client on a
# node with a storage pool of the resource's group (as the compute helper
# reports it); both gone once the situation ends.
. "$(dirname "$0")/lib.sh"
t_need curl curl
t_start_bus
t_start_drbdd --metrics-port=0 --agent=no
port=$(grep -o 'Metrics on http://[^ ]*' "$T_DIR/drbdd.log" | tail -1 | sed 's|.*:\([0-9]*\)/metrics|\1|')
URL="http://127.0.0.1:$port/metrics"
C=$DRBDCTL
for n in alpha:1 beta:2 gamma:3; do $C n c "${n%%:*}" "10.0.0.${n##*:}" >/dev/null || fail "node ${n%%:*}"; done
for n in alpha beta gamma; do $C sp c lvm $n pool1 drbdpool --capacity 10G >/dev/null || fail "pool $n"; done
$C rg c gold --place-count 2 --storage-pool pool1 >/dev/null && $C rd c vol1 --resource-group gold >/dev/null &&
	$C vd c vol1 64M >/dev/null && $C r c alpha vol1 >/dev/null && $C r c beta vol1 >/dev/null || fail "vol1"
$C r attach alpha vol1 >/dev/null && $C r attach gamma vol1 >/dev/null || fail "attach"
printf '%s' '["gamma", {"vol1": ["instance-7"]}]' | "$BUILD/drbdd-call" ReportDomains 'sa{sv}' - >/dev/null ||
	fail "ReportDomains"

# scraped RE SECONDS: a scrape matches RE within SECONDS (the leader's pass runs every 5 s).
scraped() {
	local end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt $end ]; do curl -sf "$URL" | grep -Eq "$1" && return 0; sleep 0.5; done
	return 1
}
scraped '^drbdd_alarm_running_disklessly\{resource="vol1",node="gamma"\} 1$' 20 &&
	pass "drbdd_alarm_running_disklessly{vol1, gamma} 1" || fail "no running-disklessly alarm: $(curl -sf "$URL" | grep alarm)"
scraped '^drbdd_dual_primary_window_open_seconds\{resource="vol1"\} [0-9]' 5 &&
	pass "drbdd_dual_primary_window_open_seconds{vol1}" || fail "no window gauge"
scraped '^drbdd_alarm_dual_primary_window_too_long\{resource="vol1"\} 0$' 5 &&
	pass "drbdd_alarm_dual_primary_window_too_long{vol1} 0 (just opened)" || fail "window too-long gauge"
curl -sf "$URL" | grep -q 'drbdd_alarm_running_disklessly{resource="vol1",node="alpha"}' &&
	fail "alpha (diskful) reported as running disklessly" || pass "a diskful replica raises no diskless alarm"
$C r detach gamma vol1 >/dev/null || fail "detach"
gone() { ! curl -sf "$URL" | grep -q "$1"; }
end=$(($(date +%s) + 20))
while [ "$(date +%s)" -lt $end ] && ! { gone 'window_open_seconds{resource="vol1"}' &&
	gone 'running_disklessly{resource="vol1"'; }; do sleep 0.5; done
gone 'window_open_seconds{resource="vol1"}' && gone 'running_disklessly{resource="vol1"' &&
	pass "detached: both alarms gone" || fail "alarms left: $(curl -sf "$URL" | grep 'vol1')"
t_done
