#!/bin/bash
# Lab test for kmod/ on real kernels (make lab-kmod-check): drbdd-kmod-probe
# loads drbd and friends through libkmod, reports the kernel's DRBD version
# (the lab's dialect: 9.2.x by default, 8.4.11 with LAB_DRBD=8.4), and turns the
# `drbdsetup events2` output of a live 2-node resource (connect, resync,
# UpToDate) into the right JSON state.
#
#   tests/lab/test-kmod.sh [TEST...]    default: load events2
. "$(dirname "$0")/lab.sh"

PROBE=$LAB_BUILD/drbdd-kmod-probe
# What the probe must report for the module the guests boot (LAB_DRBD):
# the version from the module file itself, api/proto and capabilities of
# the dialect.
lab__kernel || exit 1
KVERSION=$(modinfo -b "$(dirname "$(dirname "$(lab__modules "$lab_kver")")")" -k "$lab_kver" -F version drbd)
case "$LAB_DRBD" in
8.4) API_PROTO="1 86-101" CAPS="1 false false" ;;
9) API_PROTO="2 118-124" CAPS="31 true true" ;;
esac

# jq on the host over JSON printed in the guest.
jget() { jq -r "$1" <<<"$2"; }

# (a) Modules: drbd absent before, loaded by the probe (with its option),
# version and capabilities right, a second load is a no-op, a missing
# module is a clear error.
test_load() {
	local vm out rc
	[ -x "$PROBE" ] || lab_fail "$PROBE missing: make $(basename "$LAB_BUILD")/drbdd-kmod-probe"
	for vm in vm1 vm2; do
		lab_expect_eq "$vm: drbd in /proc/modules before" 0 "$(lab_run $vm 'grep -c "^drbd " /proc/modules || true')"
		out=$(lab_run $vm "$PROBE --drbd-options usermode_helper=/bin/true load")
		lab_expect_eq "$vm: drbd load result" inserted "$(jget '.modules[] | select(.name == "drbd") | .result' "$out")"
		lab_expect_eq "$vm: drbd in /proc/modules after" 1 "$(lab_run $vm 'grep -c "^drbd " /proc/modules')"
		lab_expect_eq "$vm: usermode_helper option applied" /bin/true \
			"$(lab_run $vm 'cat /sys/module/drbd/parameters/usermode_helper')"
		lab_expect_eq "$vm: storage modules loaded" "dm_thin_pool dm_snapshot loop" \
			"$(lab_run $vm 'for m in dm_thin_pool dm_snapshot loop; do test -d /sys/module/$m && printf "%s " $m; done' | sed 's/ $//')"
		lab_expect_eq "$vm: version" "$KVERSION" "$(jget .drbd.version "$out")"
		lab_expect_eq "$vm: dialect" "$LAB_DRBD" "$(jget .drbd.dialect "$out")"
		lab_expect_eq "$vm: api/proto" "$API_PROTO" "$(jget '"\(.drbd.api) \(.drbd.proto_min)-\(.drbd.proto_max)"' "$out")"
		lab_expect_eq "$vm: capabilities" "$CAPS" \
			"$(jget '"\(.drbd.max_peers) \(.drbd.diskless_clients) \(.drbd.quorum)"' "$out")"
	done
	out=$(lab_run vm1 "$PROBE version")
	lab_expect_eq "version command" "$KVERSION $LAB_DRBD proc" "$(jget '"\(.version) \(.dialect) \(.source)"' "$out")"
	out=$(lab_run vm1 "$PROBE --iscsi load")
	lab_expect_eq "second load of drbd" already-loaded "$(jget '.modules[] | select(.name == "drbd") | .result' "$out")"
	lab_expect_eq "LIO modules" "ok ok ok" "$(jget '[.modules[] | select(.name | test("target")) | if .result == "failed" then "bad" else "ok" end] | join(" ")' "$out")"
	out=$(lab_run vm1 "$PROBE load no_such_module_xyz" 2>&1) && rc=0 || rc=$?
	lab_expect_eq "missing module exit code" 1 "$rc"
	[[ $out == *"Module 'no_such_module_xyz' not found in /lib/modules/"* ]] || lab_fail "unclear error: $out"
	echo "ok: missing module reported by name"
}

RES='resource r0 {
	protocol C;
	device /dev/drbd0;
	disk /dev/loop0;
	meta-disk internal;
	disk { resync-rate 4M; c-plan-ahead 0; }
	on vm1 { address 10.99.0.1:7789; }
	on vm2 { address 10.99.0.2:7789; }
}'

# State of r0 as the probe sees `drbdsetup events2 --now --statistics`.
now_state() { lab_run "$1" "drbdsetup events2 --now --statistics r0 | $PROBE events2 --strict"; }

# Fields of r0's one device / connection / peer device, as one line.
summary() {
	jget '.state.resources[0] as $r | $r.connections[0] as $c | $c.peer_devices[0] as $p |
		"role=\($r.role) disk=\($r.devices[0].disk) conn=\($c.connection) peer_role=\($c.peer_role) repl=\($p.replication) peer_disk=\($p.peer_disk)"' "$1"
}

# (b) events2: a 2-node DRBD 8.4 resource on loop devices; the live stream
# of each node is piped into the probe while the nodes connect and resync,
# and `events2 --now` snapshots are parsed before, during and after.
test_events2() {
	local vm out p1 p2 live
	for vm in vm1 vm2; do
		lab_run $vm "set -e
grep -q '^drbd ' /proc/modules || $PROBE --drbd-options usermode_helper=/bin/true load >/dev/null
mkdir -p /var/lock
truncate -s 32M /tmp/r0.img
losetup /dev/loop0 /tmp/r0.img
cat >/etc/drbd.d/r0.res <<'EOF'
$RES
EOF
drbdadm create-md --force r0 </dev/null >/dev/null 2>&1
# The long-lived stream, as drbdd will read it: drbdsetup | probe (through a
# FIFO: the guest has no /dev/fd for process substitution).
mkfifo /tmp/ev.fifo
tee /tmp/ev.log </tmp/ev.fifo | $PROBE events2 --each --strict >/tmp/states.jsonl 2>/tmp/probe.err &
drbdsetup events2 --timestamps --statistics all >/tmp/ev.fifo 2>/tmp/ev.err &
echo \$! >/tmp/ev.pid
sleep 0.3
drbdadm up r0"
	done

	lab_run -t 90 vm1 'for i in $(seq 60); do [ "$(drbdadm cstate r0)" = Connected ] && exit 0; sleep 1; done; cat /proc/drbd; exit 1' ||
		lab_fail "r0 did not connect"
	out=$(now_state vm1)
	lab_expect_eq "vm1 connected, both Inconsistent" \
		"role=Secondary disk=Inconsistent conn=Connected peer_role=Secondary repl=Established peer_disk=Inconsistent" "$(summary "$out")"
	lab_expect_eq "vm1 device minor/size" "0 32728" "$(jget '.state.resources[0].devices[0] | "\(.minor) \(.size_kib)"' "$out")"

	# A resync slow enough to watch. DRBD 9 synced the 32 MiB in one second
	# whatever its resync-rate said (set in the config or with
	# peer-device-options): there the network is throttled instead (netem,
	# 24 Mbit/s on vm1, removed once the resync is done).
	[ "$LAB_DRBD" = 9 ] && lab_run vm1 'tc qdisc add dev eth0 root netem rate 24mbit'
	lab_run vm1 'drbdadm primary --force r0'
	sleep 2
	out=$(now_state vm1)
	lab_expect_eq "vm1 during resync" \
		"role=Primary disk=UpToDate conn=Connected peer_role=Secondary repl=SyncSource peer_disk=Inconsistent" "$(summary "$out")"
	p1=$(jget '.state.resources[0].connections[0].peer_devices[0].sync_progress' "$out")
	out=$(now_state vm2)
	lab_expect_eq "vm2 during resync" \
		"role=Secondary disk=Inconsistent conn=Connected peer_role=Primary repl=SyncTarget peer_disk=UpToDate" "$(summary "$out")"
	sleep 1.5
	out=$(now_state vm1)
	p2=$(jget '.state.resources[0].connections[0].peer_devices[0].sync_progress' "$out")
	echo "resync progress on vm1: $p1% then $p2%"
	awk -v a="$p1" -v b="$p2" 'BEGIN { exit !(a > 0 && a < 100 && b > a && b <= 100) }' ||
		lab_fail "progress not advancing: '$p1' -> '$p2'"
	# The live stream is read while it happens, not only at its end.
	live=$(lab_run vm2 'tail -n 1 /tmp/states.jsonl')
	[[ $live == *'"replication":"SyncTarget"'* || $live == *'"peer_disk":"UpToDate"'* ]] ||
		lab_fail "vm2's live state lags: $live"
	echo "ok: vm2's live stream already shows the resync"

	lab_run -t 90 vm1 'for i in $(seq 60); do [ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && exit 0; sleep 1; done; cat /proc/drbd; exit 1' ||
		lab_fail "resync did not finish"
	[ "$LAB_DRBD" = 9 ] && lab_run vm1 'tc qdisc del dev eth0 root'
	out=$(now_state vm1)
	lab_expect_eq "vm1 after resync" \
		"role=Primary disk=UpToDate conn=Connected peer_role=Secondary repl=Established peer_disk=UpToDate" "$(summary "$out")"
	lab_expect_eq "no progress after resync" null "$(jget '.state.resources[0].connections[0].peer_devices[0].sync_progress' "$out")"
	lab_expect_eq "dump complete, nothing malformed" "true 0 0 0" \
		"$(jget '"\(.state.dump_complete) \(.invalid) \(.rejected) \(.dropped)"' "$out")"

	# End the live streams; their last state must match the snapshot.
	for vm in vm1 vm2; do
		lab_run $vm 'kill $(cat /tmp/ev.pid); sleep 1; echo "$(wc -l </tmp/ev.log) events2 lines streamed"'
		lab_expect_eq "$vm: probe warnings on the live stream" "" "$(lab_run $vm 'cat /tmp/probe.err /tmp/ev.err')"
	done
	live=$(lab_run vm1 'tail -n 1 /tmp/states.jsonl')
	lab_expect_eq "vm1 live stream final state" \
		"role=Primary disk=UpToDate conn=Connected peer_role=Secondary repl=Established peer_disk=UpToDate" "$(summary "{\"state\":$live}")"
	live=$(lab_run vm2 'tail -n 1 /tmp/states.jsonl')
	lab_expect_eq "vm2 live stream final state" \
		"role=Secondary disk=UpToDate conn=Connected peer_role=Primary repl=Established peer_disk=UpToDate" "$(summary "{\"state\":$live}")"
	# Every step of the connect and resync went by in vm2's stream.
	out=$(lab_run vm2 "jq -r '.resources[0].connections[0] | [.connection, (.peer_devices[0].replication // \"-\")] | join(\"/\")' /tmp/states.jsonl | uniq | tr '\n' ' '")
	echo "vm2 stream: $out"
	for want in Connecting/Off Connected/Established Connected/WFBitMapT Connected/SyncTarget; do
		[[ " $out" == *" $want "* ]] || lab_fail "vm2's stream never showed $want"
	done
	# 8.4 prints no done:, so progress is derived from out-of-sync / size;
	# its live stream updates out-of-sync only on state changes (progress
	# during a resync needs --now snapshots, as checked above).
	out=$(lab_run vm2 "jq -r '.resources[0].connections[0].peer_devices[0].sync_progress // empty' /tmp/states.jsonl | sort -un | tr '\n' ' '")
	echo "vm2 progress values in the live stream: $out"
	[ -n "$out" ] || lab_fail "no resync progress in vm2's stream"
	# The recorded stream replays to the same state through stdin.
	out=$(lab_run vm2 "$PROBE events2 --strict </tmp/ev.log")
	lab_expect_eq "vm2 replayed stream" \
		"role=Secondary disk=UpToDate conn=Connected peer_role=Primary repl=Established peer_disk=UpToDate" "$(summary "$out")"
	lab_run vm1 'drbdadm down r0'
	lab_run vm2 'drbdadm down r0'
}

main() {
	local t0 tests=("$@") t rc=0
	[ ${#tests[@]} -gt 0 ] || tests=(load events2)
	command -v jq >/dev/null || lab_die "jq is needed on the host"
	t0=$(lab__now)
	lab_start 2 --disks 64M --mem 512 || exit 1
	for t in "${tests[@]}"; do
		declare -F "test_$t" >/dev/null || lab_die "no test '$t'"
		lab_test "kmod $t" "test_$t" # not "|| rc=1": that would disable set -e inside
	done
	lab_summary || rc=1
	echo "lab: boot $(cat "$LAB_DIR/boot-seconds") s, total $(lab__since "$t0") s"
	exit $rc
}

main "$@"
