# Hostile input: every case must get a typed error, the daemon must stay up,
# and the store must be byte-for-byte unchanged afterwards.
. "$(dirname "$0")/lib.sh"
t_start_bus
t_start_drbdd
C=$DRBDCTL
A=$DBUS_SYSTEM_BUS_ADDRESS
$C n c alpha 10.0.0.1 >/dev/null && $C n c beta 10.0.0.2 >/dev/null &&
	$C sp c lvm alpha p1 vg --capacity 10G >/dev/null && $C sp c lvm beta p1 vg --capacity 10G >/dev/null &&
	$C rd c good >/dev/null && $C vd c good 1G >/dev/null || { fail "setup"; t_done; exit 1; }

db="$T_DIR/state/store.db"
# Every key with its revisions, except the cluster's heartbeat (liveness lease
# renewals and leader key), which change with time, not with requests.
store_digest() {
	sqlite3 -readonly "$db" "select key, hex(value), create_rev, mod_rev, version from kv
		where key not like '/drbdd/alive/%' and key <> '/drbdd/leader' order by key" | sha256sum | cut -c1-16
}
before=$(store_digest)

# call WANT_ERROR METHOD SIG JSON-ARGS: a raw D-Bus call (build/drbdd-call
# marshals the JSON array by SIG, wrong signatures included).
CALL="$BUILD/drbdd-call"
call() {
	local want=$1 method=$2 sig=$3 args=$4 out
	# A reply takes milliseconds; none within 10 s means drbdd sent none.
	out=$(printf '%s' "$args" | timeout 10 "$CALL" "$method" "$sig" - 2>&1) || [ $? -ne 124 ] || out="no reply within 10 s"
	local desc="$method $(printf '%s' "$args" | tr -c '[:print:]' '?' | cut -c1-60)"
	if printf '%s' "$out" | grep -q "^ERROR org.*\.$want: "; then pass "$desc -> $want"
	else fail "$desc: wanted $want, got: $(echo "$out" | head -2 | cut -c1-200)"; fi
}
j() { jq -cn "$@"; }
IA=InvalidArgument

for name in 'a/b' '..' '../etc' 'x;rm' 'r}' 'r{' $'new\nline' ' ' '' 'a b' 'ä' '-lead' 'r"q' "r'q" 'r\q' 'r$x' 'r`id`' 'r*' \
	'a23456789012345678901234567890123456789012345678X'; do
	call $IA CreateResourceDefinition 'sa{sv}' "$(j --arg n "$name" '[$n, {}]')"
	call $IA DeleteResourceDefinition 's' "$(j --arg n "$name" '[$n]')"
done
call $IA CreateResourceDefinition 'sa{sv}' "$(j '[("a" * 1048576), {}]')"
call $IA CreateVolumeDefinition 'sta{sv}' "$(j '[("r" * 1048576), 1073741824, {}]')"
for name in 'a/b' '..' 'x;y' $'n\nl' '' '-a' 'a..b' '1.2.3.4'; do
	call $IA CreateNode 'ssa{sv}' "$(j --arg n "$name" '[$n, "10.0.0.9", {}]')"
done
call $IA CreateNode 'ssa{sv}' "$(j '[("n" * 1048576), "10.0.0.9", {}]')"
for addr in '10.0.0.1;' '10.0.0.1 }' '300.1.1.1' 'localhost' '' $'10.0.0.1\n' '10.0.0.1:7000'; do
	call $IA CreateNode 'ssa{sv}' "$(j --arg a "$addr" '["gamma", $a, {}]')"
done
# Multibyte characters at every length limit: the address's 45 bytes, names'
# 48, a node label's 63, property keys' and values' 64, a node name's 253,
# and the 64 characters a message quotes. A 2-, 3- or 4-byte character
# straddles each limit; messages must cut only between characters (sd-bus
# sends no error whose text is not UTF-8: the caller would get no reply).
x() { printf "%${1}s" | sed "s/ /${2:-a}/g"; }
for ch in é € 😀; do
	for n in 41 42 43 44 45; do
		call $IA CreateNode 'ssa{sv}' "$(j --arg a "$(x $n 1)$ch" '["gamma", $a, {}]')"
	done
	call $IA CreateNode 'ssa{sv}' "$(j --arg a "10.0.0.$ch" '["gamma", $a, {}]')"
	for len in 45 48 63 64 65 253; do
		for n in $((len - 3)) $((len - 2)) $((len - 1)) $len; do
			s="$(x $n)$ch"
			call $IA CreateResourceDefinition 'sa{sv}' "$(j --arg n "$s" '[$n, {}]')"
			call $IA CreateNode 'ssa{sv}' "$(j --arg n "$s" '[$n, "10.0.0.9", {}]')"
			call $IA CreateStoragePool 'sssa{sv}' "$(j --arg n "$s" '["alpha", $n, "lvm", {"volume-group": "vg"}]')"
			call $IA SetNodeProperty 'sss' "$(j --arg n "$s" '["alpha", $n, "v"]')"
			call $IA SetNodeProperty 'sss' "$(j --arg n "$s" '["alpha", "site", $n]')"
			call $IA CreateNode 'ssa{sv}' "$(j --arg n "$s" '["gamma", "10.0.0.3", {"properties": {"site": $n}}]')"
			call $IA CreateResourceDefinition 'sa{sv}' "$(j --arg n "$s" '["r1", {($n): 1}]')"
			call $IA ModifyResourceDefinition 'sa{sv}' "$(j --arg n "$s" '["good", {"drbd-options": {"net/protocol": $n}}]')"
			call $IA ModifyResourceDefinition 'sa{sv}' "$(j --arg n "$s" '["good", {"drbd-options": {($n): "C"}}]')"
			call $IA CreateSnapshot 'ssa{sv}' "$(j --arg n "$s" '["good", $n, {}]')"
		done
	done
	# Nothing but multibyte characters, beyond every limit.
	s=$(x 70 "$ch")
	call $IA CreateNode 'ssa{sv}' "$(j --arg a "$s" '["gamma", $a, {}]')"
	call $IA CreateResourceDefinition 'sa{sv}' "$(j --arg n "$s" '[$n, {}]')"
	call $IA CreateResourceDefinition 'sa{sv}' "$(j --arg n "$s" '["r1", {($n): 1}]')"
	call $IA SetNodeProperty 'sss' "$(j --arg n "$s" '["alpha", "site", $n]')"
done
# drbdctl gets its answer (exit 5, InvalidArgument) instead of waiting for one.
expect_rc 5 "drbdctl n c with a character across the address's 45th byte" -- \
	$C --timeout=10 n c gamma "$(x 44 1)€"
# Sizes in bytes: zero, below the minimum, above the maximum.
for size in 0 1 1048575 9223372036854775807; do
	call $IA CreateVolumeDefinition 'sta{sv}' "[\"good\", $size, {}]"
	call $IA ResizeVolumeDefinition 'sut' "[\"good\", 0, $size]"
done
call InvalidArgs CreateVolumeDefinition 'sxa{sv}' '["good", -1073741824, {}]'
call $IA SpawnResources 'ssta{sv}' '["DfltRscGrp", "sp1", 0, {}]'
# Unknown options, wrong option types.
call $IA CreateResourceDefinition 'sa{sv}' '["r1", {"no-such-option": "x"}]'
call $IA CreateResourceDefinition 'sa{sv}' '["r1", {"port": "7001"}]'
call $IA CreateResourceDefinition 'sa{sv}' '["r1", {"port": -5}]'
call $IA CreateResourceDefinition 'sa{sv}' '["r1", {"port": 99999}]'
call $IA CreateResourceDefinition 'sa{sv}' '["r1", {"resource-group": "../x"}]'
call $IA CreateResourceGroup 'sa{sv}' '["g1", {"place-count": 0}]'
call $IA CreateResourceGroup 'sa{sv}' '["g1", {"place-count": 4294967295}]'
call $IA CreateResourceGroup 'sa{sv}' '["g1", {"storage-pools": ["p/../x"]}]'
call $IA CreateResourceGroup 'sa{sv}' '["g1", {"storage-pools": "p1"}]'
call $IA CreateResourceGroup 'sa{sv}' '["g1", {"replicas-on-same": ["si;te"]}]'
# DRBD option values and keys that would inject into a .res file.
for v in 'C;' 'C}' 'C }' $'C\n}' 'C" ; shared-secret "x' 'D' '-1' ' ' 'C\\'; do
	call $IA ModifyResourceDefinition 'sa{sv}' "$(j --arg v "$v" '["good", {"drbd-options": {"net/protocol": $v}}]')"
done
for k in 'net/shared-secret' 'net/cram-hmac-alg' 'handlers/before-resync-target' 'net/protocol;x' 'net' '/protocol' 'disk/../net/protocol'; do
	call $IA ModifyResourceDefinition 'sa{sv}' "$(j --arg k "$k" '["good", {"drbd-options": {($k): "C"}}]')"
done
call $IA ModifyResourceDefinition 'sa{sv}' '["good", {"drbd-options": {"net/max-buffers": "-1"}}]'
call $IA ModifyResourceDefinition 'sa{sv}' '["good", {"drbd-options": {"net/max-buffers": "99999999999999999999"}}]'
call $IA ModifyResourceDefinition 'sa{sv}' '["good", {"drbd-options": {"net/max-buffers": "1e3"}}]'
call $IA ModifyResourceDefinition 'sa{sv}' '["good", {"drbd-options": {"net/max-buffers": 100}}]'
call $IA ModifyResourceDefinition 'sa{sv}' '["good", {"drbd-options": "x"}]'
call $IA ModifyResourceDefinition 'sa{sv}' "$(j '["good", {"drbd-options": {"net/protocol": ("C" * 1048576)}}]')"
call $IA CreateNode 'ssa{sv}' '["gamma", "10.0.0.3", {"properties": {"site;x": "a"}}]'
call $IA CreateNode 'ssa{sv}' '["gamma", "10.0.0.3", {"properties": {"site": "a}b"}}]'
call $IA CreateNode 'ssa{sv}' '["gamma", "10.0.0.3", {"properties": {"site": 5}}]'
call $IA CreateNode 'ssa{sv}' '["gamma", "10.0.0.3", {"drbd-version": "7"}]'
call $IA CreateStoragePool 'sssa{sv}' '["alpha", "p2", "zfs", {}]'
call $IA CreateStoragePool 'sssa{sv}' '["alpha", "p2", "file", {"directory": "/var/lib/../etc"}]'
call $IA CreateStoragePool 'sssa{sv}' '["alpha", "p2", "file", {"directory": "relative/dir"}]'
call $IA CreateStoragePool 'sssa{sv}' '["alpha", "p2", "lvm", {"volume-group": "vg;x"}]'
call $IA CreateStoragePool 'sssa{sv}' '["alpha", "p2", "lvm", {"volume-group": "vg", "capacity": -1}]'
call $IA CreateResource 'ssa{sv}' '["good", "alpha", {"diskless": "yes"}]'
call $IA CreateResource 'ssa{sv}' '["good", "alpha", {"diskless": true, "storage-pool": "p1"}]'
call $IA SetNodeProperty 'sss' '["alpha", "k/../x", "v"]'
call $IA GetResourceConfig 'ss' '["good", "../../etc/passwd"]'
# Nesting far too deep for an options dictionary.
call $IA CreateResourceDefinition 'sa{sv}' "$(j '["r1", (reduce range(0;12) as $i ({"x":"y"}; {"x": .}))]')"
# Wrong D-Bus signatures: answered with the standard InvalidArgs before any handler runs.
call InvalidArgs CreateResourceDefinition 's' '["r1"]'
call InvalidArgs CreateResourceDefinition 'ss' '["r1", "x"]'
call InvalidArgs CreateVolumeDefinition 'sua{sv}' '["good", 5, {}]'
call InvalidArgs CreateNode 'sss' '["a", "b", "c"]'
call InvalidArgs DeleteResourceDefinition 'u' '[5]'
call InvalidArgs ListResources '' '[]'
call UnknownMethod NoSuchMethod 's' '["x"]'
# The same with dbus-send, as an operator would.
out=$(dbus-send --system --print-reply --dest=org.drbd.drbdd1 /org/drbd/drbdd1 \
	org.drbd.drbdd1.Manager.DeleteResourceDefinition int32:5 2>&1)
echo "$out" | grep -q 'org.freedesktop.DBus.Error.InvalidArgs' && pass "dbus-send wrong signature -> InvalidArgs" ||
	fail "dbus-send wrong signature: $out"
out=$(dbus-send --system --print-reply --dest=org.drbd.drbdd1 /org/drbd/drbdd1 \
	org.drbd.drbdd1.Manager.DeleteResourceDefinition 'string:../../x' 2>&1)
echo "$out" | grep -q 'org.drbd.drbdd1.Error.InvalidArgument' && pass "dbus-send hostile name -> InvalidArgument" ||
	fail "dbus-send hostile name: $out"
out=$(dbus-send --system --print-reply --dest=org.drbd.drbdd1 /org/drbd/drbdd1 \
	org.drbd.drbdd1.Manager.DeleteResourceDefinition 'string:nosuch' 2>&1)
echo "$out" | grep -q 'org.drbd.drbdd1.Error.NotFound' && pass "dbus-send unknown name -> NotFound" ||
	fail "dbus-send unknown: $out"
# U+FFFF is a noncharacter: sd-bus refuses to read such a string (EBADMSG).
# libdbus (dbus-send) sends it; the answer is InvalidArgument, not Failed.
nc=$(printf 'gamma\xef\xbf\xbf')
for m in "DeleteNode string:$nc" "DeleteResourceDefinition string:$nc" \
	"SetNodeProperty string:alpha string:site string:$nc" "GetResourceConfig string:good string:$nc"; do
	set -- $m
	out=$(timeout 10 dbus-send --system --print-reply --dest=org.drbd.drbdd1 /org/drbd/drbdd1 \
		org.drbd.drbdd1.Manager.$1 "${@:2}" 2>&1)
	echo "$out" | grep -q 'org.drbd.drbdd1.Error.InvalidArgument: .*UTF-8' && pass "$1 with U+FFFF -> InvalidArgument" ||
		fail "$1 with U+FFFF: $out"
done
# drbdctl refuses bad input locally with clear errors and exit codes.
expect_rc 5 "drbdctl negative size" -- $C vd c good -5G
expect_rc 5 "drbdctl bare number size" -- $C vd c good 1000
expect_rc 5 "drbdctl enormous size" -- $C vd c good 99999999999999999999G
expect_rc 2 "drbdctl unknown option" -- $C rd c r1 --evil=1
expect_rc 5 "drbdctl injected option" -- $C rd m good --drbd-option 'net/protocol=C; }'

t_drbdd_alive && pass "daemon still running" || fail "daemon died"
after=$(store_digest)
[ "$before" = "$after" ] && pass "store unchanged ($after)" || fail "store changed: $before -> $after"
expect_match '^good ' "daemon still answers" -- $C rd l

# Safety net: an error text that is not UTF-8 as sd-bus accepts it is sent
# escaped, never dropped. WaitReady's "not ready" error quotes the state the
# agent observed, from the store: here one with a noncharacter in it.
"$CALL" CreateResource 'ssa{sv}' '["good", "alpha", {}]' >/dev/null
t_stop_drbdd
sqlite3 "$db" "begin; update meta set revision = revision + 1;
	insert into kv select '/drbdd/obs/alpha/good', cast('{\"state\": \"Odd\\uffff\", \"error\": \"x\\uffff\"}' as blob),
		revision, revision, 1, 0 from meta; commit;" || fail "store edit"
t_start_drbdd
out=$(timeout 10 "$CALL" WaitReady 'sst' '["good", "alpha", 0]' 2>&1) || [ $? -ne 124 ] || out="no reply within 10 s"
echo "$out" | grep -q '^ERROR org.drbd.drbdd1.Error.Timeout: .*Odd\\uffff' && pass "error text with U+FFFF sent escaped" ||
	fail "error text with U+FFFF: $out"
t_done
