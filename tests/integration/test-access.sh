# Only root and the configured users may call drbdd (the daemon checks the
# caller's uid itself); the shipped bus policy parses and restricts too;
# changes are announced with the Changed signal.
. "$(dirname "$0")/lib.sh"
t_start_bus
t_start_drbdd
C=$DRBDCTL
# nobody cannot reach the build under a checkout in /root (mode 0700 on
# every Debian install): it runs copies in $T_DIR (0755), so that what it
# meets is drbdd's and the bus's refusal, never the file system's.
mkdir -p "$T_DIR/bin"
cp "$DRBDCTL" "$DRBDD" "$T_DIR/bin/"
chmod 755 "$T_DIR/bin" "$T_DIR/bin/drbdctl" "$T_DIR/bin/drbdd"
NC=$T_DIR/bin/drbdctl
asuser() { setpriv --reuid=65534 --regid=65534 --clear-groups env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "$@"; }

expect_rc 0 "root may create" -- $C n c alpha 10.0.0.1
expect_rc 9 "nobody may not create (exit 9)" -- asuser $NC n c beta 10.0.0.2
expect_match "access denied" "clear access-denied message" -- echo "$T_LAST_OUT"
expect_rc 9 "nobody may not list" -- asuser $NC n l
expect_rc 0 "nobody may ask the version" -- asuser $NC version

# Resource names are for callers that may list them: a caller that may not
# sees no child objects in Introspect (anyone may introspect: the shipped
# policy allows it), and resource/NAME does not exist for it, whether NAME
# exists or not.
t_need busctl systemd
A=$DBUS_SYSTEM_BUS_ADDRESS
$C rd c secret-rd >/dev/null
RD=/org/drbd/drbdd1/resource
out=$(asuser busctl --address="$A" tree org.drbd.drbdd1 2>&1)
echo "$out" | grep -q "$RD\$" && ! echo "$out" | grep -q "secret" && pass "nobody: tree shows no resource names" ||
	fail "nobody's tree: $out"
out=$(asuser busctl --address="$A" call org.drbd.drbdd1 $RD org.freedesktop.DBus.Introspectable Introspect 2>&1)
echo "$out" | grep -q '^s "<!DOCTYPE' && ! echo "$out" | grep -q '<node name=' &&
	pass "nobody: Introspect of $RD works, without child nodes" || fail "nobody's Introspect: $out"
# probe NAME: what a caller learns about resource/NAME, with NAME blanked out.
probe() {
	local p=$RD/$1
	{ "${@:2}" busctl --address="$A" introspect org.drbd.drbdd1 $p; echo "rc=$?"
	  "${@:2}" busctl --address="$A" call org.drbd.drbdd1 $p org.freedesktop.DBus.Introspectable Introspect; echo "rc=$?"
	  "${@:2}" busctl --address="$A" call org.drbd.drbdd1 $p org.drbd.drbdd1.ResourceDefinition GetInfo; echo "rc=$?"
	} 2>&1 | sed "s|$1|NAME|g"
}
existing=$(probe secret_2drd asuser) missing=$(probe no_2dsuch asuser)
[ "$existing" = "$missing" ] && echo "$existing" | grep -q "Unknown object" &&
	pass "nobody: an existing resource object answers like a missing one" ||
	fail "nobody's probe: existing: $existing // missing: $missing"
out=$(busctl --address="$A" call org.drbd.drbdd1 $RD org.freedesktop.DBus.Introspectable Introspect 2>&1)
echo "$out" | grep -q '<node name=\\"secret_2drd\\"/>' && pass "root: Introspect of $RD names the resources" ||
	fail "root's Introspect: $out"
existing=$(probe secret_2drd) missing=$(probe no_2dsuch)
[ "$existing" != "$missing" ] && echo "$existing" | grep -q 'GetInfo' && echo "$existing" | grep -q '"secret-rd"' &&
	pass "root: the resource object is there" || fail "root's probe: $existing"
t_stop_drbdd
t_start_drbdd --allow-user=nobody
expect_rc 0 "allowed user nobody may create" -- asuser $NC n c beta 10.0.0.2
expect_match '^beta ' "and list" -- asuser $NC n l
out=$(asuser busctl --address="$A" tree org.drbd.drbdd1 2>&1)
echo "$out" | grep -q "$RD/secret_2drd" && pass "allowed user nobody: tree shows the resources" || fail "tree: $out"
existing=$(probe secret_2drd asuser)
echo "$existing" | grep -q '"secret-rd"' && pass "allowed user nobody: the resource object is there" ||
	fail "allowed probe: $existing"

# Signals on change.
dbus-monitor --address "$DBUS_SYSTEM_BUS_ADDRESS" "type='signal',interface='org.drbd.drbdd1.Manager'" >"$T_DIR/mon.log" 2>&1 &
mon=$!
sleep 0.5
$C rd c sig1 >/dev/null
$C rd d sig1 >/dev/null
sleep 0.5
kill $mon 2>/dev/null; wait $mon 2>/dev/null
if grep -q 'string "sig1"' "$T_DIR/mon.log" && grep -q 'string "created"' "$T_DIR/mon.log" &&
	grep -q 'string "deleted"' "$T_DIR/mon.log"; then pass "Changed signals for create and delete"
else fail "signals: $(cat "$T_DIR/mon.log" | head -20)"; fi

# Per-resource objects are introspectable and callable.
$C rd c obj-1 >/dev/null
out=$(busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" tree org.drbd.drbdd1 2>&1)
echo "$out" | grep -q '/org/drbd/drbdd1/resource/obj_2d1' && pass "object per resource definition" || fail "tree: $out"
out=$(busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" call org.drbd.drbdd1 /org/drbd/drbdd1/resource/obj_2d1 \
	org.drbd.drbdd1.ResourceDefinition GetInfo 2>&1)
echo "$out" | grep -q '"obj-1"' && pass "GetInfo on the resource object" || fail "GetInfo: $out"
out=$(busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect org.drbd.drbdd1 /org/drbd/drbdd1 2>&1)
echo "$out" | grep -q '.SpawnResources *method *ssta{sv} *o' && pass "introspection from the method table" || fail "introspect: $out"

# The shipped policy: a bus configured like the system bus with it.
pol="$SRCDIR/drbdd/dbus/org.drbd.drbdd1.conf"
mkdir -p "$T_DIR/sys.d"
cp "$pol" "$T_DIR/sys.d/"
cat >"$T_DIR/sysbus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T_DIR/sysbus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow receive_type="method_call"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_requested_reply="true" receive_type="method_return"/>
    <allow receive_requested_reply="true" receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <includedir>$T_DIR/sys.d</includedir>
</busconfig>
EOC
dbus-daemon --config-file="$T_DIR/sysbus.conf" --nofork --nopidfile --print-address=3 3>"$T_DIR/sysbus.addr" 2>"$T_DIR/sysbus.log" &
sysbus=$!
for _ in $(seq 100); do [ -s "$T_DIR/sysbus.addr" ] && break; sleep 0.05; done
SYS=$(head -1 "$T_DIR/sysbus.addr")
mkdir -p "$T_DIR/state2"
DBUS_SYSTEM_BUS_ADDRESS=$SYS "$DRBDD" --config=/dev/null --node-name=pol --state-dir="$T_DIR/state2" >>"$T_DIR/drbdd2.log" 2>&1 &
d2=$!
for _ in $(seq 100); do DBUS_SYSTEM_BUS_ADDRESS=$SYS $C version >/dev/null 2>&1 && break; sleep 0.05; done
expect_rc 0 "policy: root owns the name and may call" -- env DBUS_SYSTEM_BUS_ADDRESS=$SYS $C n l
expect_rc 9 "policy: other users are refused by the bus" -- setpriv --reuid=65534 --regid=65534 --clear-groups env DBUS_SYSTEM_BUS_ADDRESS=$SYS $NC n l
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env DBUS_SYSTEM_BUS_ADDRESS=$SYS "$T_DIR/bin/drbdd" --config=/dev/null --state-dir=/tmp/nobody-$$ 2>&1)
echo "$out" | grep -qi 'Failed to acquire bus name\|AccessDenied\|not allowed to own' && pass "policy: other users may not own the name" || fail "own: $out"
rm -rf /tmp/nobody-$$
kill $d2 $sysbus 2>/dev/null; wait $d2 $sysbus 2>/dev/null
t_done
