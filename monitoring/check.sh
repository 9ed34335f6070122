#!/bin/bash
# Offline checks of monitoring/: the alert rules pass `promtool check rules`
# and their unit tests (`promtool test rules`), every alert has a test, and
# every query of the Grafana dashboard parses (as a recording rule, with the
# dashboard's variables filled in). The lab (tests/lab/test-metrics.sh) then
# runs both against a real Prometheus scraping real drbdd.
cd "$(dirname "$0")" || exit 1
fails=0
ok() { echo "  ok   $*"; }
no() { echo "  FAIL $*"; fails=$((fails + 1)); }
for p in promtool:prometheus jq:jq; do
	command -v "${p%%:*}" >/dev/null || { echo "  FAIL '${p%%:*}' not found: install Debian's ${p#*:}"; exit 1; }
done

out=$(promtool check rules drbdd-alerts.yml 2>&1) && ok "promtool check rules drbdd-alerts.yml" || no "check rules: $out"
out=$(cd tests && promtool test rules drbdd-alerts-test.yml 2>&1) && ok "promtool test rules" || no "test rules: $out"
for a in $(sed -n 's/^ *- alert: *//p' drbdd-alerts.yml); do
	grep -q "alertname: $a\$" tests/drbdd-alerts-test.yml || no "alert $a has no test in tests/drbdd-alerts-test.yml"
	grep -A3 "alertname: $a\$" tests/drbdd-alerts-test.yml | grep -q 'exp_labels' ||
		no "alert $a: no test where it fires"
done
[ "$fails" -eq 0 ] && ok "every alert has a test where it fires"

# Dashboard: valid JSON, every target's expr parses.
dash=grafana-dashboard.json
if jq -e '.panels | length > 0' "$dash" >/dev/null 2>&1; then
	ok "$dash is JSON with panels"
	tmp=$(mktemp)
	{
		echo "groups:"; echo "  - name: dashboard"; echo "    rules:"
		i=0
		jq -r '.. | objects | select(has("expr")) | .expr' "$dash" | sed 's/\$instance/vm1/g; s/\$resource/vol1/g; s/\$__rate_interval/1m/g; s/\$__range/1h/g' |
			while IFS= read -r e; do
				i=$((i + 1))
				printf '      - record: dashboard:q%d\n        expr: %s\n' "$i" "$(jq -Rn --arg e "$e" '$e')"
			done
	} >"$tmp"
	n=$(grep -c 'record:' "$tmp")
	out=$(promtool check rules "$tmp" 2>&1) && ok "all $n dashboard queries parse" || no "dashboard queries: $out"
	rm -f "$tmp"
else
	no "$dash: not JSON with panels"
fi
[ "$fails" -eq 0 ]
