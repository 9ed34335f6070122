# Snapshots, restore, clone, revert, WaitReady, iSCSI exports and ownership:
# the desired-state side against the real daemon (no DRBD on the host, so
# no agent acts; tests/lab/test-snapshots.sh covers the node side).
. "$(dirname "$0")/lib.sh"
t_start_bus
t_start_drbdd
C=$DRBDCTL
CALL="$BUILD/drbdd-call"

# expect_fail_match REGEX DESCRIPTION -- CMD...: CMD must fail and print REGEX.
expect_fail_match() {
	local re=$1 desc=$2; shift 3
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -Eq -- "$re"; then pass "$desc"
	else fail "$desc (exit $rc, no /$re/): $(echo "$out" | head -5)"; fi
}

expect_rc 0 "node alpha" -- $C n c alpha 10.0.0.1
expect_rc 0 "node beta" -- $C n c beta 10.0.0.2
expect_rc 0 "thin pool alpha" -- $C sp c lvm-thin alpha thin vg/tp --capacity 100G
expect_rc 0 "thin pool beta" -- $C sp c lvm-thin beta thin vg/tp --capacity 100G
expect_rc 0 "thick pool alpha" -- $C sp c lvm alpha thick vg --capacity 100G
expect_rc 0 "thick pool beta" -- $C sp c lvm beta thick vg --capacity 100G
expect_rc 0 "rg thin" -- $C rg c thin --storage-pool thin
expect_rc 0 "rg thick" -- $C rg c thick --storage-pool thick
expect_rc 0 "spawn t1 (thin)" -- $C rg spawn thin t1 1G
expect_rc 0 "spawn k1 (thick)" -- $C rg spawn thick k1 1G

# Snapshots: desired state, validation, typed errors.
expect_rc 0 "snapshot create t1 s1" -- $C snapshot create t1 s1
expect_rc 4 "duplicate snapshot -> Exists" -- $C s c t1 s1
expect_fail_match 'snapshots need lvm-thin pools' "thick pool refused with a clear message" -- $C s c k1 s1
expect_rc 5 "thick pool -> InvalidArgument" -- $C s c k1 s1
expect_rc 5 "reserved name 'revert'" -- $C s c t1 revert
expect_rc 5 "invalid name" -- $C s c t1 'a/b'
expect_rc 3 "snapshot of missing rd -> NotFound" -- $C s c nosuch s1
expect_match '^t1 +s1 +alpha,beta +0:1 GiB .* pending' "snapshot list: pending until nodes report" -- $C s l t1
n=$($C -o json s l t1 | jq '.[0].nodes | length')
[ "$n" = 2 ] && pass "snapshot covers both diskful replicas" || fail "snapshot nodes: $n"
expect_fail_match 'org.drbd.drbdd1.Error.InvalidArgument: snapshots need' "CreateSnapshot typed error on bus" -- \
	$CALL CreateSnapshot 'ssa{sv}' '["k1","xx",{}]'
expect_fail_match 'InvalidArgument.*bogus' "CreateSnapshot refuses unknown options" -- $CALL CreateSnapshot 'ssa{sv}' '["t1","xx",{"bogus":1}]'

# Restore of a pending snapshot is desired state at once (the agents take the
# snapshot first); the new rd records its source and sits on the same nodes.
expect_rc 0 "restore of a pending snapshot" -- $C s restore t1 s1 t2
src=$($C -o json rd l | jq -c '.[] | select(.name=="t2") | .source | [.kind, .resource, .snapshot]')
[ "$src" = '["snapshot","t1","s1"]' ] && pass "t2 records its source" || fail "t2 source: $src"
nodes=$($C -o json r l t2 | jq -r '[.[] | select(.diskless == false) | .node] | sort | join(",")')
[ "$nodes" = "alpha,beta" ] && pass "restore on the snapshot's nodes" || fail "restore placement: $nodes"
expect_rc 7 "snapshot read by a pending restore cannot be deleted" -- $C s d t1 s1
expect_rc 0 "delete t2" -- $C rd d t2
expect_rc 7 "revert to a pending snapshot -> Busy" -- $C s revert t1 s1
expect_rc 3 "restore of a missing snapshot -> NotFound" -- $C s r t1 nosuch t2

# Clone is desired state at once: same nodes and pools, same size, source recorded.
expect_rc 0 "clone t1 -> c1" -- $C rd clone t1 c1
expect_match '/org/drbd/drbdd1/resource/c2' "CloneResource returns the object path" -- \
	$CALL CloneResource 'ssa{sv}' '["t1","c2",{"place-count":1}]'
nodes=$($C -o json r l c1 | jq -r '[.[] | select(.diskless == false) | .node + ":" + ."storage-pool"] | sort | join(",")')
[ "$nodes" = "alpha:thin,beta:thin" ] && pass "clone on the source's nodes and pools" || fail "clone placement: $nodes"
n=$($C -o json r l c2 | jq '[.[] | select(.diskless == false)] | length')
[ "$n" = 1 ] && pass "clone place-count 1" || fail "clone c2 diskful: $n"
size=$($C -o json vd l c1 | jq '.[0]."size-kib"')
[ "$size" = 1048576 ] && pass "clone has the source's size" || fail "clone size $size"
expect_rc 5 "clone of a thick resource -> InvalidArgument" -- $C rd clone k1 k2
expect_rc 4 "clone onto an existing name -> Exists" -- $C rd clone t1 k1
expect_rc 7 "source with a pending clone cannot be deleted" -- $C rd d t1

# Deleting: rd with snapshots is Busy; snapshot delete; NotFound after.
expect_rc 0 "delete clones" -- sh -c "$C rd d c1 && $C rd d c2"
expect_fail_match "has 1 snapshot" "rd with snapshots -> Busy with the reason" -- $C rd d t1
expect_rc 7 "rd with snapshots -> Busy" -- $C rd d t1
expect_rc 0 "snapshot delete" -- $C s d t1 s1
expect_rc 3 "snapshot delete again -> NotFound" -- $C s d t1 s1
expect_match '^\[\]$' "no snapshots left (json)" -- sh -c "$C -o json s l t1 | jq -c ."

# WaitReady: no agent reports, so it times out without blocking the daemon.
start=$(date +%s%N)
$CALL WaitReady sst '["t1","alpha",1500000]' >"$T_DIR/wait.out" 2>&1 &
wpid=$!
sleep 0.3
expect_rc 0 "daemon answers while WaitReady is pending" -- $C n l
wait $wpid; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -ne 0 ] && grep -q 'org.drbd.drbdd1.Error.Timeout' "$T_DIR/wait.out" && [ $ms -ge 1400 ] && [ $ms -lt 5000 ]; then
	pass "WaitReady times out with Error.Timeout after ${ms} ms"
else
	fail "WaitReady timeout: rc=$rc ${ms}ms $(cat "$T_DIR/wait.out")"
fi
expect_rc 10 "drbdctl r wait-ready --timeout 1 -> exit 10" -- $C r wait-ready alpha t1 --timeout 1
expect_rc 3 "WaitReady on a node without replica -> NotFound" -- $C r wr gamma t1 --timeout 1
expect_fail_match 'Error.NotFound' "WaitReady on a missing rd -> NotFound" -- $CALL WaitReady sst '["nosuch","alpha",1000000]'
# Many pending waits at once; deleting the resource answers them (NotFound), not the timer.
wpids=
for i in 1 2 3 4 5; do $CALL WaitReady sst '["k1","alpha",30000000]' >"$T_DIR/w$i.out" 2>&1 & wpids="$wpids $!"; done
sleep 0.5
expect_rc 0 "delete k1 while 5 WaitReady calls are pending" -- $C rd d k1
wait $wpids
n=$(grep -l 'Error.NotFound' "$T_DIR"/w[1-5].out | wc -l)
[ "$n" = 5 ] && pass "pending WaitReady calls answered NotFound on delete" || fail "answered: $n"

# iSCSI export desired state.
echo 'secret-abcdef-123' >"$T_DIR/pw"
expect_rc 2 "export without CHAP -> usage" -- $C export create t1 --initiator iqn.2026-01.org.example:vm
expect_match 'exported from alpha: iqn.2026-11.org.drbd.drbdd:t1 LUN 0 at 10.0.0.1:3260' "export create" -- \
	$C export create t1 --initiator iqn.2026-01.org.example:vm --chap-username u1 --chap-password-file "$T_DIR/pw"
expect_match '"target-lun": <uint32 0>|target-lun.*0' "ExportIscsi returns target-lun" -- \
	$CALL ExportIscsi 'sa{sv}' '["t1",{"initiator":"iqn.2026-01.org.example:vm2","chap-username":"u2","chap-password":"another-secret-1"}]'
expect_match 't1 +alpha +iqn.2026-11.org.drbd.drbdd:t1 +10.0.0.1:3260 +iqn.2026-01.org.example:vm,iqn.2026-01.org.example:vm2 +pending' \
	"export list (both initiators, pending without agent)" -- $C e l
if $C -o json e l | grep -q 'secret'; then fail "export list leaks the CHAP secret"; else pass "export list hides CHAP secrets"; fi
expect_match 'alpha' "export made alpha the Primary" -- sh -c "$C -o json rd l | jq -r '.[] | select(.name==\"t1\") | .primary'"
expect_fail_match InvalidArgument "short CHAP secret -> InvalidArgument" -- \
	$CALL ExportIscsi 'sa{sv}' '["t1",{"initiator":"iqn.2026-01.org.example:vm","chap-username":"u","chap-password":"short"}]'
expect_fail_match InvalidArgument "bad initiator -> InvalidArgument" -- \
	$CALL ExportIscsi 'sa{sv}' '["t1",{"initiator":"foo","chap-username":"u","chap-password":"long-enough-secret"}]'
expect_fail_match 'Error.Busy' "export from another node -> Busy" -- \
	$CALL ExportIscsi 'sa{sv}' '["t1",{"node":"beta","initiator":"iqn.2026-01.org.example:vm","chap-username":"u","chap-password":"long-enough-secret"}]'
expect_rc 0 "revoke one initiator" -- $C e d t1 --initiator iqn.2026-01.org.example:vm2
expect_rc 3 "revoke it again -> NotFound" -- $C e d t1 --initiator iqn.2026-01.org.example:vm2
expect_rc 0 "remove the export" -- $C e d t1
expect_rc 3 "remove again -> NotFound" -- $C e d t1
expect_match '^null$' "unexport gave the Primary role back" -- sh -c "$C -o json rd l | jq '.[] | select(.name==\"t1\") | .primary'"
# Target names are lower case ('_' -> '-'): Cinder's CV_<uuid> exports as cv-<uuid>.
expect_rc 0 "spawn CV_Up_1 (thin)" -- $C rg spawn thin CV_Up_1 1G
expect_match 'iqn.2026-11.org.drbd.drbdd:cv-up-1 ' "upper case and '_' in the rd: target cv-up-1" -- \
	$C export create CV_Up_1 --initiator iqn.2026-01.org.example:vm --chap-username u1 --chap-password-file "$T_DIR/pw"
expect_match '"lio-volume": "cv-up-1"' "export carries its LIO name" -- sh -c "$C -o json e l CV_Up_1"
expect_rc 0 "spawn cv-up-1 (thin)" -- $C rg spawn thin cv-up-1 1G
expect_fail_match "Error.Exists" "a second rd with the same target name -> Exists" -- \
	$CALL ExportIscsi 'sa{sv}' '["cv-up-1",{"initiator":"iqn.2026-01.org.example:vm","chap-username":"u","chap-password":"long-enough-secret"}]'
expect_rc 0 "remove the CV_Up_1 export" -- $C e d CV_Up_1
expect_rc 0 "now cv-up-1 may have it" -- \
	$CALL ExportIscsi 'sa{sv}' '["cv-up-1",{"initiator":"iqn.2026-01.org.example:vm","chap-username":"u","chap-password":"long-enough-secret"}]'
expect_rc 0 "remove the cv-up-1 export" -- $C e d cv-up-1
expect_rc 0 "delete CV_Up_1" -- $C rd d CV_Up_1
expect_rc 0 "delete cv-up-1" -- $C rd d cv-up-1

# Ownership.
expect_rc 0 "manage t1" -- $CALL ManageResource 'sa{sv}' '["t1",{"owner":"cinder","volume-id":"1234-abcd"}]'
expect_fail_match 'Error.Exists' "manage twice -> Exists" -- $CALL ManageResource 'sa{sv}' '["t1",{"owner":"cinder"}]'
expect_match '"volume-id": "1234-abcd"' "owner on the rd" -- sh -c "$C -o json rd l | jq '.[] | select(.name==\"t1\") | .owner'"
expect_rc 0 "unmanage t1" -- $C rd unmanage t1
expect_rc 0 "manage again after unmanage" -- $C rd manage t1
expect_rc 3 "manage missing rd -> NotFound" -- $C rd manage nosuch

# Introspection lists the new methods from the same table.
intro=$(busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect org.drbd.drbdd1 /org/drbd/drbdd1 2>/dev/null || true)
miss=
for m in CreateSnapshot DeleteSnapshot ListSnapshots RestoreSnapshot RevertToSnapshot CloneResource WaitReady \
	ExportIscsi UnexportIscsi ListExports ManageResource UnmanageResource; do
	echo "$intro" | grep -q "\.$m " || miss="$miss $m"
done
[ -z "$miss" ] && pass "introspection lists the new methods" || fail "not introspected:$miss"
t_drbdd_alive && pass "drbdd still running" || fail "drbdd died"
t_done
