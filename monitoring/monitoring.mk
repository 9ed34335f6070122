# monitoring/: alert rules and the Grafana dashboard (docs/metrics.md).
# Included by the top-level Makefile.
.PHONY: monitoring-check
# promtool check + test of the rules, every alert tested, every dashboard
# query parsed by Prometheus's own parser (offline, seconds).
monitoring-check:
	@monitoring/check.sh
CHECK_HOOKS += monitoring-check

# The lab proof (tests/lab/test-metrics.sh, DRBD 9, three VMs, a real
# Prometheus on the host): metrics, drbdctl r l and the alerts through client
# I/O, a power-off, a resync and a quorum loss; every dashboard query; the
# journal fields.
.PHONY: lab-metrics-check
lab-metrics-check: lab-deps all
	@LAB_DRBD=9 LAB_BUILD=$(abspath $(BUILD)) tests/lab/test-metrics.sh
CHECK_HOOKS += lab-metrics-check
