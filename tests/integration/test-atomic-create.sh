# Spawn, restore and clone are one store transaction each: drbdd killed at
# the fault point before the commit leaves nothing of the new resource (no
# definition, replica or port/minor/node-id allocation), killed right after
# it leaves all of it (definition, volumes, replicas placed). The real daemon
# on SQLite, then (ATOMIC_STORE=etcd, run by the first pass) on a real etcd;
# no DRBD on the host, so no agent acts.
. "$(dirname "$0")/lib.sh"
t_need jq jq
MODE=${ATOMIC_STORE:-sqlite}
echo "  (store: $MODE)"
if [ "$MODE" = etcd ]; then
	t_start_etcd
	START_ARGS=(--agent=no --store "etcd:$T_ETCD_URL" --lease-ttl=2 --grace-period=3)
	# store_kv: "key value" a line, every key of drbdd's.
	store_kv() {
		t_etcdctl get --prefix /drbdd/ -w json |
			jq -r '.kvs[]? | (.key | @base64d) + " " + ((.value // "") | @base64d)'
	}
else
	t_need sqlite3 sqlite3
	START_ARGS=(--agent=no)
	store_kv() { sqlite3 -readonly "$T_DIR/state/store.db" "select key || ' ' || cast(value as text) from kv"; }
fi
t_start_bus
t_start_drbdd "${START_ARGS[@]}"
C=$DRBDCTL

expect_rc 0 "node alpha" -- $C n c alpha 10.0.0.1
expect_rc 0 "node beta" -- $C n c beta 10.0.0.2
expect_rc 0 "thin pool alpha" -- $C sp c lvm-thin alpha thin vg/tp --capacity 100G
expect_rc 0 "thin pool beta" -- $C sp c lvm-thin beta thin vg/tp --capacity 100G
expect_rc 0 "rg thin" -- $C rg c thin --storage-pool thin
expect_rc 0 "spawn t1" -- $C rg spawn thin t1 1G
expect_rc 0 "snapshot t1 s1" -- $C s c t1 s1

# keys_of NAME: the store keys that belong to resource NAME: its definition,
# its replicas and node-ids, and the port and minor keys it holds.
keys_of() {
	store_kv | awk -v n="$1" '$1 == "/drbdd/rd/" n || index($1, "/drbdd/res/" n "/") == 1 ||
		index($1, "/drbdd/alloc/node-id/" n "/") == 1 || ($1 ~ "^/drbdd/alloc/(port|minor)/" && $2 == n) { print $1 }' | sort
}

# desired_keys: every key but liveness and leadership.
desired_keys() { store_kv | awk '$1 !~ "^/drbdd/alive/" && $1 != "/drbdd/leader" { print $1 }' | sort; }

# crash_at POINT CMD...: runs CMD against a drbdd that dies (SIGKILL) at
# POINT, then starts drbdd again without faults.
crash_at() {
	local point=$1; shift
	t_stop_drbdd
	DRBDD_FAULT=$point t_start_drbdd "${START_ARGS[@]}"
	"$@" >"$T_DIR/crash.out" 2>&1 && fail "$point: the call was answered: $(head -3 "$T_DIR/crash.out")"
	for _ in $(seq 100); do t_drbdd_alive || break; sleep 0.05; done
	if t_drbdd_alive; then fail "$point: drbdd still alive"; t_stop_drbdd KILL; else wait "$T_DRBDD_PID" 2>/dev/null; fi
	T_DRBDD_PID=
	t_start_drbdd "${START_ARGS[@]}"
}

# nothing_of POINT NAME: no trace of NAME in the store or the API.
nothing_of() {
	local keys
	keys=$(keys_of "$2")
	[ -z "$keys" ] && pass "$1: no key of '$2' left" || fail "$1: keys left: $(echo $keys)"
	n=$($C -o json rd l | jq --arg n "$2" '[.[] | select(.name == $n)] | length')
	[ "$n" = 0 ] && pass "$1: no definition '$2'" || fail "$1: definition '$2' listed"
}

# whole NAME DISKFUL VOLUMES: NAME is complete: definition with VOLUMES
# volumes (minors held), DISKFUL diskful replicas with their node-ids held,
# its port held; what a call that returned would have made.
whole() {
	local point=$1 name=$2 diskful=$3 vols=$4 keys
	n=$($C -o json vd l "$name" | jq 'length')
	[ "$n" = "$vols" ] && pass "$point: '$name' has $vols volume(s)" || fail "$point: '$name' volumes: $n"
	n=$($C -o json r l "$name" | jq '[.[] | select(.diskless == false)] | length')
	[ "$n" = "$diskful" ] && pass "$point: '$name' has $diskful diskful replica(s)" || fail "$point: '$name' diskful: $n"
	keys=$(keys_of "$name")
	n=$(echo "$keys" | grep -c '^/drbdd/alloc/minor/')
	[ "$n" = "$vols" ] && pass "$point: '$name' holds $vols minor(s)" || fail "$point: minors: $n"
	n=$(echo "$keys" | grep -c '^/drbdd/alloc/port/')
	[ "$n" = 1 ] && pass "$point: '$name' holds its port" || fail "$point: ports: $n"
	r=$(echo "$keys" | grep -c "^/drbdd/res/$name/")
	n=$(echo "$keys" | grep -c "^/drbdd/alloc/node-id/$name/")
	[ "$n" = "$r" ] && [ "$r" -ge "$diskful" ] && pass "$point: a node-id per replica ($r)" ||
		fail "$point: $r replicas, $n node-ids"
}

crash_at spawn:before-commit $C rg spawn thin sp1 1G
nothing_of spawn:before-commit sp1
crash_at spawn:after-commit $C rg spawn thin sp2 1G
whole spawn:after-commit sp2 2 1

crash_at restore:before-commit $C s restore t1 s1 rs1
nothing_of restore:before-commit rs1
crash_at restore:after-commit $C s restore t1 s1 rs2
whole restore:after-commit rs2 2 1
src=$($C -o json rd l | jq -c '.[] | select(.name=="rs2") | .source | [.kind, .resource, .snapshot]')
[ "$src" = '["snapshot","t1","s1"]' ] && pass "restore:after-commit: rs2 records its source" || fail "rs2 source: $src"

crash_at clone:before-commit $C rd clone t1 cl1
nothing_of clone:before-commit cl1
crash_at clone:after-commit $C rd clone t1 cl2
whole clone:after-commit cl2 2 1
src=$($C -o json rd l | jq -c '.[] | select(.name=="cl2") | .source | [.kind, .resource]')
[ "$src" = '["clone","t1"]' ] && pass "clone:after-commit: cl2 records its source" || fail "cl2 source: $src"

# The names are free again after a crash before the commit.
expect_rc 0 "spawn sp1 after its crash" -- $C rg spawn thin sp1 1G
expect_rc 0 "restore rs1 after its crash" -- $C s restore t1 s1 rs1
expect_rc 0 "clone cl1 after its crash" -- $C rd clone t1 cl1

# A failing step leaves nothing either: placement refused for lack of room.
before=$(desired_keys | sha256sum)
expect_rc 6 "spawn too large -> NoSpace" -- $C rg spawn thin big 500G
after=$(desired_keys | sha256sum)
[ "$before" = "$after" ] && pass "a refused spawn wrote nothing" || fail "a refused spawn changed the store"

if [ "$MODE" = sqlite ]; then
	if ATOMIC_STORE=etcd bash "$0"; then pass "the same on etcd"; else fail "the same on etcd"; fi
fi
t_done
