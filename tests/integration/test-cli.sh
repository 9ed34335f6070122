# drbdctl end to end against the real daemon: the object model, placement,
# sizes, configuration (checked by drbdadm), JSON output, exit codes, and
# persistence across a restart.
. "$(dirname "$0")/lib.sh"
t_start_bus
t_start_drbdd
C=$DRBDCTL

expect_rc 0 "node create alpha" -- $C node create alpha 10.0.0.1 --property site=a --property rack=r1
expect_rc 0 "node create beta (alias n c)" -- $C n c beta 10.0.0.2 --property site=b --property rack=r1
expect_rc 0 "node create gamma" -- $C n c gamma 10.0.0.3 --property site=c --property rack=r2
expect_rc 0 "node create delta (diskless only)" -- $C n c delta 10.0.0.4 --property site=d
expect_rc 4 "duplicate node -> exit 4 (Exists)" -- $C n c alpha 10.0.0.9
expect_match '^alpha +10\.0\.0\.1 +9 ' "node list shows alpha" -- $C n l
for n in alpha beta gamma; do
	expect_rc 0 "storage pool on $n" -- $C sp c lvm $n pool1 drbdpool --capacity 100G
done
expect_rc 3 "pool on unknown node -> exit 3" -- $C sp c lvm nosuch pool1 vg
expect_match 'pool1 +alpha +lvm +drbdpool +100 GiB +100 GiB' "pool list shows capacity" -- $C sp l --node alpha

expect_rc 0 "rg create gold" -- $C rg c gold --place-count 2 --storage-pool pool1 --replicas-on-different site --drbd-option net/protocol=C
expect_match '^gold +2 +pool1 +site' "rg list" -- $C rg l
expect_rc 0 "rg spawn gold vol1 10G" -- $C rg spawn gold vol1 10G
expect_match '^vol1 +gold +7000 +1 +7' "rd list shows port 7000" -- $C rd l
expect_match 'vol1 +0 +1000 +10 GiB +/dev/drbd1000' "vd list shows minor 1000" -- $C vd l vol1

# Two diskful replicas on different sites. No tie-breaker: no node here runs
# a drbdd with a DRBD 9 kernel (this host has none), and a tie-breaker goes
# only where it can vote (placement with live nodes: unit and lab tests).
json=$($C -o json r l vol1)
n_diskful=$(echo "$json" | jq '[.[] | select(.diskless == false)] | length')
n_tb=$(echo "$json" | jq '[.[] | select(."tie-breaker" == true)] | length')
sites=$(echo "$json" | jq -r '.[] | select(.diskless == false) | .node' | sort | tr '\n' ' ')
ids=$(echo "$json" | jq -r '[.[]."node-id"] | sort | map(tostring) | join(",")')
[ "$n_diskful" = 2 ] && pass "autoplace: 2 diskful replicas ($sites)" || fail "autoplace: diskful=$n_diskful"
[ "$n_tb" = 0 ] && pass "autoplace: no tie-breaker on nodes that cannot vote" || fail "autoplace: tie-breakers=$n_tb"
[ "$ids" = "0,1" ] && pass "node-ids 0,1" || fail "node-ids: $ids"

# Sizes: usable >= requested, backing extent-aligned, metadata for 7 peer slots.
v=$(echo "$json" | jq -c '[.[] | select(.diskless == false)][0].volumes[0]')
req=$(echo "$v" | jq '."requested-kib"'); use=$(echo "$v" | jq '."usable-kib"'); back=$(echo "$v" | jq '."backing-kib"')
if [ "$use" -ge "$req" ] && [ $((back % 4096)) -eq 0 ] && [ "$req" -eq 10485760 ]; then
	pass "sizes: requested $req usable $use backing $back"
else fail "sizes: $v"; fi
expect_match 'vol1 +pool1 +0 +1000 +/dev/drbd1000 +10 GiB' "volume list (v l)" -- $C v l vol1

# The exact configuration, checked by the real parser.
node=$(echo "$json" | jq -r '[.[] | select(.diskless == false)][0].node')
$C r sc "$node" vol1 >"$T_DIR/vol1.res"
if grep -q 'shared-secret' "$T_DIR/vol1.res" && grep -q 'protocol *C' "$T_DIR/vol1.res" &&
	! grep -q 'quorum' "$T_DIR/vol1.res"; then
	pass "show-config has secret and protocol, no quorum with two hosts"
else fail "show-config: $(cat "$T_DIR/vol1.res")"; fi
if drbdadm -c "$T_DIR/vol1.res" dump all >/dev/null 2>"$T_DIR/dump.err"; then
	pass "drbdadm accepts the rendered configuration"
else fail "drbdadm rejects it: $(cat "$T_DIR/dump.err")"; fi
[ "$(stat -c %a "$T_DIR/state/store.db")" = 600 ] && pass "store file is mode 0600" || fail "store mode $(stat -c %a "$T_DIR/state/store.db")"
# show-commands: the agent's own plan for a new replica, recorded (not a copy
# of it): the lvcreate, create-md and up the agent runs, in its order; then
# on the initial-sync source (the lowest node-id; thick LVM: a full sync)
# the forced primary, and nothing more on the other replica.
src=$(echo "$json" | jq -r '[.[] | select(.diskless == false)] | min_by(."node-id") | .node')
other=$(echo "$json" | jq -r '[.[] | select(.diskless == false)] | max_by(."node-id") | .node')
cat >"$T_DIR/cmds.want" <<EOF
# write (mode 0600) /var/lib/drbdd/res/vol1.res
lvcreate --yes --wipesignatures y --zero y --addtag drbdd --size ${back}k --name vol1_00000 drbdpool
drbdadm -c /var/lib/drbdd/drbd.conf create-md --force --max-peers=7 vol1/0
drbdadm -c /var/lib/drbdd/drbd.conf up vol1
EOF
if $C r cmd "$other" vol1 >"$T_DIR/cmds.got" && diff -u "$T_DIR/cmds.want" "$T_DIR/cmds.got" >"$T_DIR/cmds.diff"; then
	pass "show-commands: the agent's create plan (lvcreate, create-md, up)"
else fail "show-commands on $other: $(cat "$T_DIR/cmds.diff")"; fi
cat >>"$T_DIR/cmds.want" <<EOF
drbdadm -c /var/lib/drbdd/drbd.conf primary --force vol1
drbdadm -c /var/lib/drbdd/drbd.conf secondary vol1
EOF
if $C r cmd "$src" vol1 >"$T_DIR/cmds.got" && diff -u "$T_DIR/cmds.want" "$T_DIR/cmds.got" >"$T_DIR/cmds.diff"; then
	pass "show-commands: on the sync source, the initial sync follows"
else fail "show-commands on $src: $(cat "$T_DIR/cmds.diff")"; fi
expect_rc 3 "show-commands on a node without the replica -> NotFound" -- $C r cmd delta vol1
if $C -o json rd l | jq -e '.[0] | has("secret") | not' >/dev/null; then pass "secret not listed"; else fail "secret leaked in rd list"; fi

# Failure domains that cannot be met.
expect_rc 0 "rg create wide (3 racks needed)" -- $C rg c wide --place-count 3 --replicas-on-different rack
expect_rc 6 "spawn wide -> exit 6 (NoSpace)" -- $C rg spawn wide vol2 1G
expect_match "cannot place" "clear placement error" -- echo "$T_LAST_OUT"
if $C -o json rd l | jq -e 'map(.name) | index("vol2") == null' >/dev/null; then pass "vol2 not present"; else fail "vol2 leaked"; fi
expect_rc 6 "spawn too big -> NoSpace" -- $C rg spawn gold huge 200G
expect_rc 0 "manual replica: diskless on gamma" -- $C r c gamma vol1 --diskless
expect_rc 4 "second replica on same node -> Exists" -- $C r c gamma vol1 --diskless
expect_rc 0 "grow volume" -- $C vd set-size vol1 0 12G
expect_rc 5 "shrink refused" -- $C vd set-size vol1 0 1G

# DRBD 8.4 nodes: at most two replicas.
expect_rc 0 "node old84 (DRBD 8.4)" -- $C n c old84 10.0.0.5 --drbd-version 8.4
expect_rc 0 "pool on old84" -- $C sp c lvm old84 pool1 drbdpool --capacity 100G
expect_rc 0 "rd legacy" -- $C rd c legacy
expect_rc 0 "vd legacy" -- $C vd c legacy 1G
expect_rc 0 "replica legacy on old84" -- $C r c old84 legacy
expect_rc 0 "replica legacy on alpha" -- $C r c alpha legacy
expect_rc 5 "third replica with DRBD 8.4 refused" -- $C r c beta legacy
$C r sc old84 legacy >"$T_DIR/legacy.res"
if /usr/lib/drbd/drbdadm-84 -c "$T_DIR/legacy.res" dump all >/dev/null 2>"$T_DIR/dump84.err"; then
	pass "drbdadm 8.4 accepts the 8.4 configuration"
else fail "8.4 parser rejects: $(cat "$T_DIR/dump84.err")"; fi
grep -q 'node-id' "$T_DIR/legacy.res" && fail "8.4 config has node-id" || pass "8.4 config has no node-id"

# Usage errors and help.
expect_rc 2 "unknown verb -> exit 2" -- $C rd frobnicate
expect_rc 2 "unknown option -> exit 2" -- $C rd c x --no-such-option
expect_match "Usage: drbdctl resource-definition create" "per-command --help" -- $C rd c --help
expect_match "Exit status" "top-level --help" -- $C --help

# Persistence: restart and compare every listing.
snap() { for k in n sp rg rd vd r v; do $C -o json $k l; done; }
before=$(snap)
t_stop_drbdd TERM
t_start_drbdd
after=$(snap)
[ "$before" = "$after" ] && pass "state identical after restart" || fail "state differs after restart"
t_stop_drbdd KILL
t_start_drbdd
after=$(snap)
[ "$before" = "$after" ] && pass "state identical after kill -9" || fail "state differs after kill -9"

expect_rc 0 "rd delete vol1" -- $C rd d vol1
expect_rc 3 "deleted rd -> not found" -- $C r l vol1
expect_rc 0 "rd reuse" -- $C rd c reuse
expect_match '"volume": 0' "vd create prints JSON" -- $C -o json vd c reuse 1G
expect_match 'reuse +0 +1000 ' "minor 1000 reused after delete" -- $C vd l reuse
t_done
