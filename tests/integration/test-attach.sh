# Attachments and the dual-primary window (docs/nova.md), on the real drbdd
# without a kernel: who is attached, the client an attach creates and its
# detach removes, allow-two-primaries in every host's configuration exactly
# while two hosts are attached (checked by drbdadm), refusals that leave the
# store untouched, and the state surviving a restart.
. "$(dirname "$0")/lib.sh"
t_start_bus
t_start_drbdd
C=$DRBDCTL
db=$T_DIR/state/store.db

for n in alpha:1 beta:2 gamma:3; do
	$C n c "${n%%:*}" "10.0.0.${n##*:}" >/dev/null || fail "node ${n%%:*}"
done
$C n c old84 10.0.0.5 --drbd-version 8.4 >/dev/null || fail "node old84"
for n in alpha beta old84; do $C sp c lvm $n pool1 drbdpool --capacity 10G >/dev/null || fail "pool $n"; done
$C rg c gold --place-count 2 --storage-pool pool1 >/dev/null || fail "rg gold"
$C rg spawn gold vol1 64M >/dev/null || fail "spawn vol1"

attached() { $C -o json r l "$1" | jq -r '[.[] | select(.attached) | .node] | sort | join(",")'; }
kind() { $C -o json r l "$1" | jq -r --arg n "$2" '.[] | select(.node == $n) |
	if ."tie-breaker" then "tie-breaker" elif .diskless then "client" else "diskful" end'; }
two_pri() {  # RESOURCE NODE: 1 when NODE's configuration allows two primaries, 0 when not
	local cfg
	cfg=$($C r sc "$2" "$1") || { echo "show-config failed"; return; }
	printf '%s\n' "$cfg" | grep -c 'allow-two-primaries yes'
}
t_need drbdadm drbd-utils
t_need jq jq

diskful=$($C -o json r l vol1 | jq -r '[.[] | select(.diskless == false) | .node] | sort | join(" ")')
src=${diskful%% *}
client=gamma
[ "$diskful" = "alpha beta" ] && pass "vol1 on alpha and beta" || fail "vol1 placed on '$diskful'"

expect_rc 0 "attach on a diskful node" -- $C r attach alpha vol1
[ "$(attached vol1)" = alpha ] && pass "alpha is attached" || fail "attached: '$(attached vol1)'"
expect_match 'alpha +7000 .*yes *$' "r l shows Attached yes" -- $C r l vol1
[ "$(two_pri vol1 alpha)" = 0 ] && pass "one host: no allow-two-primaries" || fail "window open with one host"
expect_rc 0 "attach again is a no-op" -- $C r attach alpha vol1

expect_rc 0 "attach on a node without a replica (migration destination)" -- $C r attach gamma vol1
[ "$(kind vol1 gamma)" = client ] && pass "attach created a diskless client on gamma" || fail "gamma: '$(kind vol1 gamma)'"
[ "$($C -o json r l vol1 | jq -r '.[] | select(.node == "gamma") | ."attach-created"')" = true ] &&
	pass "the client is marked attach-created" || fail "no attach-created mark"
[ "$(attached vol1)" = alpha,gamma ] && pass "alpha and gamma attached" || fail "attached: '$(attached vol1)'"
since=$($C -o json rd l | jq -r '.[] | select(.name == "vol1") | ."window-since"')
now=$(date +%s)
[ "$since" -le "$now" ] && [ "$since" -gt $((now - 60)) ] && pass "the definition records when the window opened" ||
	fail "window-since: '$since'"
for n in alpha beta gamma; do
	[ "$(two_pri vol1 $n)" = 1 ] && pass "window open: allow-two-primaries yes for $n" || fail "no window for $n"
done
f=$T_DIR/vol1-gamma.res
$C r sc gamma vol1 > "$f"
if drbdadm -c "$f" dump all >/dev/null 2>"$T_DIR/err"; then pass "drbdadm parses the window's configuration"
else fail "drbdadm: $(head -3 "$T_DIR/err")"; fi

expect_rc 7 "delete of an attached replica -> exit 7 (Busy)" -- $C r d gamma vol1
expect_match 'attached on node' "the message says why" -- sh -c "$C r d gamma vol1 2>&1; true"
expect_rc 7 "delete of an attached definition -> exit 7" -- $C rd d vol1

# A restart changes nothing.
t_stop_drbdd; t_start_drbdd
[ "$(attached vol1)" = alpha,gamma ] && [ "$(two_pri vol1 beta)" = 1 ] && pass "after a restart: same holders, window open" ||
	fail "after restart: attached '$(attached vol1)'"

# Migration done: the source detaches; the window closes; alpha keeps its disk.
expect_rc 0 "detach the source" -- $C r detach alpha vol1
[ "$(attached vol1)" = gamma ] && pass "gamma alone attached" || fail "attached: '$(attached vol1)'"
[ "$($C -o json rd l | jq -r '.[] | select(.name == "vol1") | ."window-since"')" = null ] &&
	pass "window-since gone with the window" || fail "window-since left behind"
for n in alpha gamma; do
	[ "$(two_pri vol1 $n)" = 0 ] && pass "window closed for $n" || fail "window still open for $n"
done
[ "$(kind vol1 alpha)" = diskful ] && pass "detach keeps a replica it did not create" || fail "alpha: '$(kind vol1 alpha)'"
expect_rc 0 "detach again is a no-op" -- $C r detach alpha vol1
expect_rc 0 "detach the last host" -- $C r detach gamma vol1
[ -z "$(kind vol1 gamma)" ] && pass "detach removed the client its attach made" || fail "gamma: '$(kind vol1 gamma)'"
expect_rc 0 "delete works once detached" -- $C r d beta vol1
expect_rc 0 "definition deletable once detached" -- $C rd d vol1

# Refusals leave the store as it was.
store_digest() {
	sqlite3 -readonly "$db" "select key, hex(value) from kv where key not like '/drbdd/alive/%'
		and key <> '/drbdd/leader' order by key" | sha256sum | cut -c1-16
}
t_need sqlite3 sqlite3
$C rg c bronze --place-count 2 --storage-pool pool1 --drbd-option net/protocol=A >/dev/null || fail "rg bronze"
$C rg spawn bronze vol2 64M >/dev/null || fail "spawn vol2"
expect_rc 0 "attach vol2 (protocol A) on one host" -- $C r attach alpha vol2
before=$(store_digest)
expect_rc 7 "a second host with protocol A -> exit 7" -- $C r attach gamma vol2
expect_match 'protocol C' "the message names protocol C" -- sh -c "$C r attach gamma vol2 2>&1; true"
[ "$(store_digest)" = "$before" ] && pass "refused attach left the store untouched" || fail "store changed"

$C rd c vol3 >/dev/null && $C vd c vol3 64M >/dev/null && $C r c alpha vol3 >/dev/null || fail "vol3"
expect_rc 0 "attach vol3 on alpha" -- $C r attach alpha vol3
before=$(store_digest)
expect_rc 7 "a second host on a DRBD 8.4 node -> exit 7" -- $C r attach old84 vol3
expect_match 'DRBD 9' "the message names DRBD 9" -- sh -c "$C r attach old84 vol3 2>&1; true"
[ "$(store_digest)" = "$before" ] && pass "refused attach left the store untouched" || fail "store changed"

expect_rc 3 "attach on an unknown node -> exit 3" -- $C r attach nosuch vol3
expect_rc 3 "attach of an unknown resource -> exit 3" -- $C r attach alpha nosuch
expect_rc 5 "hostile node name -> exit 5" -- $C r attach 'a;b' vol3
expect_rc 3 "detach of an unknown resource -> exit 3" -- $C r detach alpha nosuch
out=$(printf '%s' '["vol3", "beta", {"force": true}]' | timeout 10 "$BUILD/drbdd-call" Attach 'ssa{sv}' - 2>&1)
echo "$out" | grep -q 'InvalidArgument' && pass "unknown option -> InvalidArgument" || fail "unknown option: $out"
[ "$(store_digest)" = "$before" ] && pass "bad calls left the store untouched" || fail "store changed"

# The compute helper's report: which domains use which replica.
rep() { printf '%s' "$2" | timeout 10 "$BUILD/drbdd-call" ReportDomains 'sa{sv}' - 2>&1; }
out=$(rep ok '["alpha", {"vol3": ["instance-0001", "inst ä 2"]}]')
[ "$out" = "[]" ] && pass "ReportDomains" || fail "ReportDomains: $out"
[ "$($C -o json r l vol3 | jq -c '.[] | select(.node == "alpha") | ."used-by"')" = '["instance-0001","inst ä 2"]' ] &&
	pass "used-by in the listing" || fail "used-by: $($C -o json r l vol3)"
expect_match 'alpha .*instance-0001,inst ä 2 *$' "r l shows the domains in Attached" -- $C r l vol3
before=$(store_digest)
for bad in '["alpha", {"vol3": "instance-0001"}]' '["alpha", {"a/b": ["x"]}]' '["alpha", {"vol3": ["bad\nname"]}]' \
	'["alpha", {"vol3": [""]}]' '["a;b", {}]'; do
	out=$(rep x "$bad")
	echo "$out" | grep -q 'InvalidArgument' && pass "ReportDomains refuses $bad" || fail "ReportDomains $bad: $out"
done
out=$(rep x '["nosuch", {}]')
echo "$out" | grep -q 'NotFound' && pass "ReportDomains of an unknown node -> NotFound" || fail "unknown node: $out"
[ "$(store_digest)" = "$before" ] && pass "refused reports left the store untouched" || fail "store changed"
out=$(rep ok '["alpha", {}]')
[ "$($C -o json r l vol3 | jq -c '.[] | select(.node == "alpha") | ."used-by"')" = '[]' ] &&
	pass "a new report replaces the old" || fail "used-by after empty report"
t_done
