#!/bin/bash
# Observability on real DRBD 9 (docs/metrics.md): a real Prometheus on the
# host scrapes the /metrics of drbdd on three VMs (through --forward, host
# 127.0.0.1 only) and evaluates monitoring/drbdd-alerts.yml (its `for`
# durations and ranges shortened, the expressions unchanged). In sequence: a
# diskless client used by I/O, a replica degraded by a power-off (and a
# replica stuck in a transient state meanwhile), out-of-sync data after the
# reconnect, quorum lost by the client (and the store with it on the other
# nodes). For each, the metrics, `drbdctl r l` and the alerts must show it,
# and clear after recovery. Then every query of the Grafana dashboard must
# return data from this run, and `journalctl RESOURCE=` must find drbdd's
# messages. vm1, vm2: replicas (pool1); vm3: client/tie-breaker, etcd.
set -u
. "$(dirname "$0")/lab.sh"
[ "$LAB_DRBD" = 9 ] || lab_die "test-metrics.sh needs LAB_DRBD=9 (it is $LAB_DRBD)"
for p in prometheus:prometheus promtool:prometheus curl:curl jq:jq; do
	command -v "${p%%:*}" >/dev/null || lab_die "'${p%%:*}' not found: install Debian's ${p#*:} (make deps)"
done
G=". $LAB_REPO/tests/lab/guest/node.sh; STORE=etcd:http://10.99.0.3:2379;"
on() { local vm=$1; shift; lab_run -t "${T:-240}" "$vm" "$G$*"; }
# Every drbdd serves /metrics on the forwarding NIC (LAB_FWD_IP), so the
# host's Prometheus reaches it; stuck after 20 s to see that alarm quickly.
DRBDD_OPTS="--store \$STORE --metrics-address=$LAB_FWD_IP --metrics-port=9944 --metrics-stuck-after=20"
SCRAPE=2

PROM_PID=
prom_start() {
	local port
	port=$(lab__free_tcp_port) || return 1
	mkdir -p "$LAB_DIR/prom"
	# The rules as shipped, with minutes made seconds (the lab runs minutes).
	sed -e 's/for: 30s/for: 4s/; s/for: 1m/for: 6s/; s/for: 5m/for: 10s/; s/for: 15m/for: 10s/; s/\[15m\]/[20s]/' \
		"$LAB_REPO/monitoring/drbdd-alerts.yml" >"$LAB_DIR/prom/alerts.yml"
	promtool check rules "$LAB_DIR/prom/alerts.yml" >/dev/null || { echo "shortened rules do not parse"; return 1; }
	{
		printf 'global:\n  scrape_interval: %ss\n  evaluation_interval: %ss\n  scrape_timeout: %ss\n' $SCRAPE $SCRAPE $SCRAPE
		printf 'rule_files:\n  - %s\n' "$LAB_DIR/prom/alerts.yml"
		printf 'scrape_configs:\n  - job_name: drbdd\n    static_configs:\n'
		for vm in vm1 vm2 vm3; do
			printf '      - targets: ["127.0.0.1:%s"]\n        labels: {instance: %s}\n' "$(lab_forward $vm 9944)" $vm
		done
	} >"$LAB_DIR/prom/prometheus.yml"
	promtool check config "$LAB_DIR/prom/prometheus.yml" >/dev/null || { cat "$LAB_DIR/prom/prometheus.yml"; return 1; }
	timeout 3600 prometheus --config.file="$LAB_DIR/prom/prometheus.yml" --storage.tsdb.path="$LAB_DIR/prom/data" \
		--web.listen-address=127.0.0.1:$port >"$LAB_DIR/prom/prometheus.log" 2>&1 &
	PROM_PID=$!
	PROM="http://127.0.0.1:$port"
	for _ in $(seq 100); do curl -sf "$PROM/-/ready" >/dev/null && return 0; sleep 0.3; done
	echo "prometheus did not start"; tail -5 "$LAB_DIR/prom/prometheus.log"; return 1
}
prom_stop() { [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null; PROM_PID=; }

# q EXPR: the instant query's result (JSON array); n EXPR: its length.
q() { curl -sf --get "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'; }
qn() { q "$1" | jq length; }
# has EXPR: the query returns at least one series.
has() { [ "$(qn "$1")" -gt 0 ] 2>/dev/null; }
# firing ALERT [LABEL=VALUE...]: the alert fires with those labels.
firing() {
	local name=$1 f='.labels.alertname == $a and .state == "firing"' kv; shift
	for kv in "$@"; do f+=" and .labels.${kv%%=*} == \"${kv#*=}\""; done
	curl -sf "$PROM/api/v1/alerts" | jq -e --arg a "$name" "any(.data.alerts[]; $f)" >/dev/null
}
not_firing() { ! firing "$@"; }
# wait_for SECS DESC CMD...: polls CMD every second.
wait_for() {
	local t=$1 desc=$2 end; shift 2
	end=$(( $(date +%s) + t ))
	while [ "$(date +%s)" -lt $end ]; do "$@" && { echo "ok: $desc"; return 0; }; sleep 1; done
	echo "FAIL after ${t}s: $desc"
	return 1
}
# ctl_shows VM RES NODE REGEX: `drbdctl r l RES` on VM: NODE's row matches REGEX.
ctl_row() { lab_run "$1" "$G ctl r l $2" | awk -v n="$3" '$2 == n'; }
ctl_shows() { ctl_row "$1" "$2" "$3" | grep -Eq -- "$4"; }
ctl_clean() { ! ctl_row "$1" "$2" "$3" | grep -Eq 'degraded|quorum lost|out-of-sync|split brain|suspended|diskless,'; }

test_setup() {
	on vm3 "set -e; vg_setup; etcd_start; node_start $DRBDD_OPTS"
	# vm1 logs to the journal (structured fields), checked at the end.
	# vm1, vm2: a thin pool too (thin1), for a replica that waits for its peer.
	on vm1 "set -e; vg_setup; lvcreate -q -y -L 128M -T drbdpool/thin >/dev/null; mkdir -p /run/systemd/journal /var/log/journal
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup # journald needs it
(/lib/systemd/systemd-journald >/tmp/journald.log 2>&1 &); sleep 1
DRBDD_LOG_TARGET=journal node_start $DRBDD_OPTS"
	on vm2 "set -e; vg_setup; lvcreate -q -y -L 128M -T drbdpool/thin >/dev/null; node_start $DRBDD_OPTS"
	on vm3 'set -e
ctl n c vm1 10.99.0.1 --property site=a; ctl n c vm2 10.99.0.2 --property site=b; ctl n c vm3 10.99.0.3 --property site=c
ctl sp c lvm vm1 pool1 drbdpool; ctl sp c lvm vm2 pool1 drbdpool; ctl sp c lvm vm3 pool3 drbdpool
ctl sp c lvm-thin vm1 thin1 drbdpool/thin; ctl sp c lvm-thin vm2 thin1 drbdpool/thin
# A slow resync (2 MiB/s), so that out-of-sync data after a reconnect is seen.
ctl rg c mirror --place-count 2 --storage-pool pool1 --replicas-on-different site \
	--drbd-option disk/c-plan-ahead=0 --drbd-option disk/resync-rate=2048
nine() { [ "$(ctl -o json n l | jq "[.[] | select(.kernel.version // \"\" | startswith(\"9.\"))] | length")" = 3 ]; }
wait_until 60 nine || { ctl n l; exit 1; }
wait_until 60 pools_reported
ctl rg spawn mirror m1 96M
wait_until 180 all_state m1 UpToDate || { ctl r l m1; exit 1; }
ctl r l m1'
	wait_for 60 "Prometheus scrapes all three drbdd" eval '[ "$(q "sum(up{job=\"drbdd\"})" | jq -r ".[0].value[1]")" = 3 ]' || return 1
	wait_for 30 "drbd_device_state of m1 is UpToDate on vm1 and vm2" \
		eval '[ "$(qn "drbd_device_state{name=\"m1\",drbd_device_state=\"UpToDate\"} == 1")" = 2 ]' || return 1
	has 'drbd_resource_role{instance="vm1",name="m1",drbd_resource_role="Secondary"} == 1' && echo "ok: role metric" ||
		{ echo "no role metric"; return 1; }
	has 'drbdd_build_info{instance="vm2",node="vm2"}' && has 'drbdd_storage_pool_total_bytes{instance="vm1",pool="pool1"} > 0' &&
		has 'drbdd_replicas_desired{instance="vm1",kind="diskful"} >= 1' && has 'drbdd_agent_reconcile_passes_total{instance="vm3"} > 0' &&
		echo "ok: control-plane metrics (build info, pools, replicas, reconcile passes)" || { echo "control-plane metrics missing"; return 1; }
	# Real DRBD 9 events2 lines, for tests/unit/test-metrics.c.
	lab_run vm1 'drbdsetup events2 --now --statistics all' >"$LAB_DIR/events2-vm1.txt" && cat "$LAB_DIR/events2-vm1.txt"
}

test_client_io() {
	on vm3 'set -e
ctl r c vm3 m1 --diskless
wait_until 60 state_is m1 vm3 Diskless
rm -f /tmp/acks; writer_start $(dev_of m1) /tmp/acks
wait_until 60 acks_at_least /tmp/acks 10'
	wait_for 30 "vm3's device is a client (metrics)" has 'drbd_device_client{instance="vm3",name="m1"} == 1' || return 1
	# In use: DRBD 9 promotes the writer's node (9.2.19's events2 has no open:).
	wait_for 30 "vm3 is Primary (metrics)" has 'drbd_resource_role{instance="vm3",name="m1",drbd_resource_role="Primary"} == 1' || return 1
	wait_for 30 "alert DrbdDisklessClientInUse fires for vm3" firing DrbdDisklessClientInUse instance=vm3 name=m1 || return 1
	wait_for 30 "drbdctl r l: vm3 Diskless, healthy" eval 'ctl_shows vm3 m1 vm3 "Diskless" && ctl_clean vm3 m1 vm3' || return 1
	not_firing DrbdReplicaDegraded && echo "ok: nothing degraded yet" || { echo "DrbdReplicaDegraded fires on a healthy cluster"; return 1; }
}

test_degraded() {
	lab_poweroff vm2
	# Writes while vm2 is away: they are out of sync with it.
	on vm3 'set -e; dd if=/dev/urandom of=$(dev_of m1) bs=1M count=40 seek=8 oflag=direct status=none'
	wait_for 60 "vm1's connection to vm2 is not Connected (metrics)" \
		has 'drbd_connection_state{instance="vm1",name="m1",conn_name="vm2",drbd_connection_state="Connected"} == 0' || return 1
	wait_for 60 "alert DrbdReplicaDegraded fires (vm1 -> vm2)" firing DrbdReplicaDegraded instance=vm1 name=m1 conn_name=vm2 || return 1
	wait_for 60 "alert DrbddDown fires for vm2" firing DrbddDown instance=vm2 || return 1
	wait_for 60 "drbdctl r l: vm1 degraded(vm2 ...)" ctl_shows vm3 m1 vm1 'degraded\(vm2 [A-Za-z]+\)' || return 1
	ctl_row vm3 m1 vm1
	# A replica that cannot finish while vm2 is away: a new thin volume waits
	# for every peer (to start zeroed, not by copying zeros), stuck in a
	# transient state.
	on vm3 'set -e; ctl rd c s1; ctl vd c s1 16M; ctl r c vm1 s1 --storage-pool thin1; ctl r c vm2 s1 --storage-pool thin1'
	wait_for 90 "vm1's replica of s1 raises the stuck-transient alarm (metrics)" \
		has 'drbdd_alarm_stuck_transient{instance="vm1",resource="s1"} == 1' || return 1
	wait_for 30 "alert DrbddResourceStuckTransient fires for s1" firing DrbddResourceStuckTransient instance=vm1 resource=s1 || return 1
	wait_for 90 "alert DrbddNodeMissing fires for vm2 (leader's view)" firing DrbddNodeMissing node=vm2 || return 1
}

test_resync() {
	lab_restart vm2 || return 1
	on vm2 "set -e; node_start $DRBDD_OPTS"
	wait_for 90 "drbdctl r l shows out-of-sync data towards vm2 after the reconnect" \
		ctl_shows vm3 m1 vm1 'out-of-sync [0-9.]+%\(vm2\)' || return 1
	ctl_row vm3 m1 vm1
	wait_for 60 "out-of-sync bytes towards vm2 seen by Prometheus" \
		has 'max_over_time(drbd_peerdevice_outofsync_bytes{instance="vm1",name="m1",conn_name="vm2"}[3m]) > 1048576' || return 1
	wait_for 60 "resync progress exported" has 'max_over_time(drbd_peerdevice_resync_done_ratio{name="m1"}[3m])' || return 1
	on vm3 'wait_until 240 all_state m1 UpToDate && wait_until 120 all_state s1 UpToDate' || return 1
	wait_for 60 "out of sync back to 0 (metrics)" eval '! has "drbd_peerdevice_outofsync_bytes{name=\"m1\"} > 0"' || return 1
	wait_for 60 "DrbdReplicaDegraded cleared" not_firing DrbdReplicaDegraded || return 1
	wait_for 60 "DrbddDown cleared" not_firing DrbddDown || return 1
	wait_for 60 "stuck-transient alarm cleared" eval '! has "drbdd_alarm_stuck_transient == 1"' || return 1
	wait_for 60 "DrbddResourceStuckTransient, DrbddNodeMissing cleared" \
		eval 'not_firing DrbddResourceStuckTransient && not_firing DrbddNodeMissing' || return 1
	wait_for 60 "drbdctl r l: vm1 healthy again" ctl_clean vm3 m1 vm1 || return 1
}

test_quorum() {
	on vm3 'writer_stop'
	lab_link vm3 down
	wait_for 60 "vm3's client lost quorum (metrics)" has 'drbd_device_quorum{instance="vm3",name="m1"} == 0' || return 1
	wait_for 60 "alert DrbdQuorumLost fires for vm3" firing DrbdQuorumLost instance=vm3 name=m1 || return 1
	wait_for 60 "drbdctl r l on vm3: quorum lost" ctl_shows vm3 m1 vm3 'quorum lost' || return 1
	ctl_row vm3 m1 vm3
	# etcd runs on vm3: vm1 and vm2 lost the store too.
	wait_for 60 "alert DrbddStoreUnreachable fires for vm1" firing DrbddStoreUnreachable instance=vm1 || return 1
	# The agents must not tear anything down while the store is away.
	on vm1 'sleep 10; lvs drbdpool/s1_00000 >/dev/null && ! { cat /tmp/drbdd.log; journalctl --no-pager 2>/dev/null; } | grep -q "is removed from"' ||
		{ echo "vm1 tore s1 down while the store was unreachable"; return 1; }
	echo "ok: s1 and m1 stay on vm1 while the store is unreachable"
	lab_link vm3 up
	wait_for 90 "quorum back (metrics)" has 'drbd_device_quorum{instance="vm3",name="m1"} == 1' || return 1
	wait_for 60 "DrbdQuorumLost cleared" not_firing DrbdQuorumLost || return 1
	wait_for 120 "store reachable again (metrics), DrbddStoreUnreachable cleared" \
		eval 'has "min(drbdd_store_up) == 1" && not_firing DrbddStoreUnreachable' || {
		q 'drbdd_store_up'; curl -s "$PROM/api/v1/alerts" | jq -c '.data.alerts[] | select(.state == "firing") | .labels'; return 1; }
	wait_for 60 "drbdctl r l on vm3: healthy again" ctl_clean vm3 m1 vm3 || return 1
	wait_for 60 "no DRBD alert fires any more" eval '! curl -sf "$PROM/api/v1/alerts" | jq -e "any(.data.alerts[]; .state == \"firing\" and (.labels.alertname | startswith(\"Drbd\")))" >/dev/null' || {
		curl -s "$PROM/api/v1/alerts" | jq -c '.data.alerts[] | select(.state == "firing") | .labels'; return 1; }
}

test_dashboard() {
	local end start exprs e n=0 bad=0
	end=$(date +%s); start=$T0
	exprs=$(jq -r '.. | objects | select(has("expr")) | .expr' "$LAB_REPO/monitoring/grafana-dashboard.json" |
		sed 's/\$instance/.*/g; s/\$resource/.*/g; s/\$__rate_interval/10s/g; s/\$__range/1h/g')
	while IFS= read -r e; do
		n=$((n + 1))
		local r
		r=$(curl -s --get "$PROM/api/v1/query_range" --data-urlencode "query=$e" --data-urlencode "start=$start" \
			--data-urlencode "end=$end" --data-urlencode "step=5")
		if [ "$(jq -r .status <<<"$r")" != success ]; then
			echo "FAIL query does not run: $e: $(jq -r .error <<<"$r")"; bad=$((bad + 1))
		elif [ "$(jq '.data.result | length' <<<"$r")" -lt 1 ]; then
			echo "FAIL no data in this run: $e"; bad=$((bad + 1))
		fi
	done <<<"$exprs"
	echo "dashboard: $n queries, $bad without data"
	[ "$n" -ge 40 ] && [ "$bad" = 0 ]
	# The variables' queries too.
	has 'group by (instance) (drbdd_build_info)' && has 'group by (name) (drbd_resource_role_code)' || return 1
}

test_journal() {
	on vm1 'set -e
journalctl --no-pager RESOURCE=m1 | grep "'"'m1' is up on node 'vm1'"'" || { journalctl --no-pager | tail -20; exit 1; }
journalctl --no-pager -o verbose RESOURCE=m1 | grep -q "NODE=vm1"
journalctl --no-pager RESOURCE=s1 | grep -q "'"'s1' is up"'"
[ -z "$(journalctl --no-pager RESOURCE=m1 | grep "'"'s1'"'")" ]
echo "ok: journalctl RESOURCE=m1 / RESOURCE=s1 find the agent'"'"'s messages about each, with NODE=vm1"'
}

main() {
	local tests=("$@") t rc
	[ ${#tests[@]} -gt 0 ] || tests=(client_io degraded resync quorum dashboard journal)
	T0=$(date +%s)
	lab_start 3 --disks 1G --forward vm1:9944 --forward vm2:9944 --forward vm3:9944 || exit 1
	# In this shell: every lab_test runs in a subshell of its own.
	trap 'rc=$?; prom_stop; lab__on_exit $rc' EXIT
	prom_start || exit 1
	lab_test "metrics setup" test_setup
	for t in "${tests[@]}"; do
		lab_test "metrics $t" "test_$t"
	done
	lab_summary; rc=$?
	if [ $rc -ne 0 ]; then
		for vm in vm1 vm2 vm3; do lab_run "$vm" "echo '--- $vm drbdd.log'; tail -30 /tmp/drbdd.log" 2>/dev/null; done
	fi
	echo "lab: metrics tests total $(( $(date +%s) - T0 )) s"
	exit $rc
}
main "$@"
