# monitoring/: alert rules and the Grafana dashboard (docs/metrics.md).
# Included by the top-level Makefile.
.PHONY: monitoring-check
# promtool check + test of the rules, every alert tested, every dashboard
# query parsed by Prometheus's own parser (offline, seconds).
monitoring-check:
	@monitoring/check.sh
CHECK_HOOKS += monitoring-check
