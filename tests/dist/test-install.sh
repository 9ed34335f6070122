#!/bin/bash
# make install / uninstall (dist/install.mk) into a staging root: the files,
# their modes and paths for PREFIX=/usr and /usr/local, units that pass
# "systemd-analyze verify", a drbdd.conf that drbdd accepts, tmpfiles and
# sysusers that create /var/lib/drbdd (0700) and the group, a D-Bus policy
# that dbus-daemon loads, a bash completion that registers, man pages that
# format, Python bits that import; an edited drbdd.conf survives a second
# install; uninstall leaves nothing but it.
. "$(dirname "$0")/../integration/lib.sh"
t_need systemd-analyze systemd
t_need systemd-tmpfiles systemd
t_need systemd-sysusers systemd
t_need groff groff-base
t_need dbus-daemon dbus
PY=/usr/bin/python3
cd "$SRCDIR" || exit 1
MK=(make --no-print-directory -s BUILD="$BUILD")

D=$T_DIR/root
"${MK[@]}" install DESTDIR="$D" PREFIX=/usr >"$T_DIR/install.log" 2>&1 ||
	{ fail "make install: $(tail -5 "$T_DIR/install.log")"; t_done; exit 1; }

# ---- the files (PREFIX=/usr) ----
ext=$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
want="0644 etc/drbdd/drbdd.conf
0644 lib/systemd/system/drbd-nova-helper.service
0644 lib/systemd/system/drbdd.service
0755 usr/bin/drbdctl
0755 usr/bin/drbdd-iscsi-check
0644 usr/lib/python3/dist-packages/_drbdd$ext
0644 usr/lib/python3/dist-packages/drbd_cinder/__init__.py
0644 usr/lib/python3/dist-packages/drbd_cinder/client.py
0644 usr/lib/python3/dist-packages/drbd_cinder/driver.py
0644 usr/lib/python3/dist-packages/drbd_cinder/options.py
0644 usr/lib/sysusers.d/drbdd.conf
0644 usr/lib/tmpfiles.d/drbdd.conf
0755 usr/sbin/drbd-nova-helper
0755 usr/sbin/drbdd
0755 usr/sbin/drbdd-iscsi
0644 usr/share/bash-completion/completions/drbdctl
0644 usr/share/dbus-1/system.d/org.drbd.drbdd1.conf
0644 usr/share/man/man1/drbdctl.1
0644 usr/share/man/man1/drbdd-iscsi-check.1
0644 usr/share/man/man8/drbd-nova-helper.8
0644 usr/share/man/man8/drbdd-iscsi.8
0644 usr/share/man/man8/drbdd.8"
got=$(cd "$D" && find . -type f -printf '%m %P\n' | sed 's/^\([0-9]\{3\}\) /0\1 /' | sort)
# Files that later components register (nova-connector/, ...) are allowed
# beyond this list, but none of these may be missing or have another mode.
missing=$(comm -23 <(sort <<<"$want") <(printf '%s\n' "$got"))
[ -z "$missing" ] && pass "make install DESTDIR PREFIX=/usr: $(wc -l <<<"$got") files, modes as expected" ||
	fail "missing or wrong mode:$(printf ' [%s]' $missing); got: $got"
differ=
for f in sbin/drbdd bin/drbdctl sbin/drbdd-iscsi bin/drbdd-iscsi-check; do
	cmp -s "$D/usr/$f" "$BUILD/${f#*/}" || differ+=" $f"
done
[ -z "$differ" ] && pass "installed programs are the built ones" || fail "not the built ones:$differ"

# ---- systemd units ----
u=$D/lib/systemd/system/drbdd.service
grep -qx 'Type=notify' "$u" && grep -qx 'BusName=org.drbd.drbdd1' "$u" &&
	grep -qx 'ExecStart=/usr/sbin/drbdd --config=/etc/drbdd/drbdd.conf' "$u" &&
	pass "drbdd.service: Type=notify, BusName, ExecStart=/usr/sbin/drbdd" || fail "drbdd.service: $(grep -E '^(Type|BusName|ExecStart)=' "$u")"
# verify checks that ExecStart is executable and Documentation= man pages
# exist: an install with every path inside a scratch directory.
V=$T_DIR/verify
"${MK[@]}" install PREFIX="$V/usr" UNITDIR="$V/units" DBUSPOLICYDIR="$V/dbus" TMPFILESDIR="$V/tmpfiles" \
	SYSUSERSDIR="$V/sysusers" BASHCOMPDIR="$V/bc" CONFDIR="$V/etc" PYTHONDIR="$V/py" >>"$T_DIR/install.log" 2>&1 ||
	fail "make install PREFIX=$V/usr"
n=0
for unit in "$V"/units/*; do
	n=$((n + 1))
	out=$(cd "$T_DIR" && MANPATH=$V/usr/share/man systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ] &&
		pass "systemd-analyze verify $(basename "$unit")" || fail "systemd-analyze verify $(basename "$unit"): $out"
done
[ "$n" -ge 1 ] || fail "no unit installed"
# The sandbox may get tighter, never looser: systemd's exposure score of
# drbdd.service (0-100; 62 = "6.2 MEDIUM") is a ceiling. Tightened? Lower it.
DRBDD_EXPOSURE_MAX=62
if (cd "$T_DIR" && systemd-analyze security --offline=true --threshold=$DRBDD_EXPOSURE_MAX "$V/units/drbdd.service" \
	>"$T_DIR/security.out" 2>&1); then pass "drbdd.service exposure $(sed -n 's/.*exposure level for drbdd.service: //p' "$T_DIR/security.out") <= $DRBDD_EXPOSURE_MAX"
else fail "drbdd.service sandbox looser than $DRBDD_EXPOSURE_MAX: $(tail -1 "$T_DIR/security.out")"; fi

# ---- drbdd.conf: drbdd accepts it, and every default it shows ----
"$D/usr/sbin/drbdd" --config="$D/etc/drbdd/drbdd.conf" --help >/dev/null 2>"$T_DIR/conf.err" &&
	pass "drbdd reads the installed drbdd.conf" || fail "drbdd rejects drbdd.conf: $(cat "$T_DIR/conf.err")"
# (node-name's default is the host name; allowed-users shows an example, and
# this host may lack those users.)
sed -n 's/^#\([a-z-]* = \)/\1/p' "$D/etc/drbdd/drbdd.conf" | grep -Ev '^(node-name|allowed-users) = ' >"$T_DIR/defaults.conf"
keys=$(wc -l <"$T_DIR/defaults.conf")
"$D/usr/sbin/drbdd" --config="$T_DIR/defaults.conf" --help >/dev/null 2>"$T_DIR/conf.err" && [ "$keys" -ge 12 ] &&
	pass "all $keys commented settings in drbdd.conf are valid" || fail "commented settings ($keys): $(cat "$T_DIR/conf.err")"

# ---- tmpfiles, sysusers ----
systemd-tmpfiles --root="$D" --create drbdd.conf 2>"$T_DIR/tmpfiles.err"
[ "$(stat -c %a "$D/var/lib/drbdd" 2>/dev/null)" = 700 ] && pass "tmpfiles: /var/lib/drbdd 0700" ||
	fail "tmpfiles: $(stat -c %a "$D/var/lib/drbdd" 2>&1) $(cat "$T_DIR/tmpfiles.err")"
systemd-sysusers --root="$D" drbdd.conf 2>"$T_DIR/sysusers.err"
grep -q '^drbdd:x:' "$D/etc/group" 2>/dev/null && pass "sysusers: group drbdd" ||
	fail "sysusers: no group drbdd: $(cat "$T_DIR/sysusers.err")"

# ---- D-Bus policy, completion, man pages, Python ----
cat >"$T_DIR/policy-bus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><listen>unix:path=$T_DIR/policy.sock</listen><auth>EXTERNAL</auth>
<includedir>$D/usr/share/dbus-1/system.d</includedir></busconfig>
EOC
# On a host without the group drbdd (the package creates it) dbus-daemon
# drops that rule with a warning; anything else it says is a failure.
dbus-daemon --config-file="$T_DIR/policy-bus.conf" --nofork --nopidfile --print-address=3 \
	3>"$T_DIR/policy.addr" 2>"$T_DIR/policy.err" &
pid=$!
for _ in $(seq 100); do [ -s "$T_DIR/policy.addr" ] || ! kill -0 $pid 2>/dev/null && break; sleep 0.05; done
kill $pid 2>/dev/null; wait $pid 2>/dev/null
out=$(head -1 "$T_DIR/policy.addr")
err=$(grep -Ev 'Unknown group "drbdd"|Failed to set fd limit' "$T_DIR/policy.err")
case "$out" in unix:*) [ -z "$err" ] && pass "dbus-daemon loads the installed policy" || fail "dbus-daemon: $err" ;;
*) fail "dbus-daemon with the policy: $out $(cat "$T_DIR/policy.err")" ;; esac
# shellcheck disable=SC1091
(. "$D/usr/share/bash-completion/completions/drbdctl" && complete -p drbdctl) >/dev/null 2>&1 &&
	pass "bash completion registers for drbdctl" || fail "bash completion"
w=
for page in "$D"/usr/share/man/man*/*; do
	w+=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
done
[ -z "$w" ] && pass "man pages format without warnings" || fail "man pages: $w"
out=$(cd / && PYTHONPATH=$D/usr/lib/python3/dist-packages $PY -c '
import _drbdd, drbd_cinder.driver as d
print(_drbdd.__file__); print(d.__file__); print(d.DrbdDriver.__name__)' 2>&1)
[ "$(grep -c "^$D/usr/lib/python3/dist-packages/" <<<"$out")" = 2 ] && grep -qx DrbdDriver <<<"$out" &&
	pass "installed driver and extension import with $PY" || fail "python import: $out"

# ---- an edited drbdd.conf survives; uninstall leaves only it ----
echo "node-name = edited" >>"$D/etc/drbdd/drbdd.conf"
"${MK[@]}" install DESTDIR="$D" PREFIX=/usr >>"$T_DIR/install.log" 2>&1
grep -qx "node-name = edited" "$D/etc/drbdd/drbdd.conf" && pass "a second install keeps the edited drbdd.conf" ||
	fail "drbdd.conf overwritten"
(cd / && PYTHONPATH=$D/usr/lib/python3/dist-packages $PY -c 'import drbd_cinder.driver') 2>/dev/null # leaves __pycache__
"${MK[@]}" uninstall DESTDIR="$D" PREFIX=/usr >>"$T_DIR/install.log" 2>&1 || fail "make uninstall"
left=$(cd "$D" && find . -type f ! -path ./etc/drbdd/drbdd.conf ! -path './etc/*' ! -path './var/*' -printf '%P\n')
[ -z "$left" ] && pass "make uninstall removes every installed file" || fail "left after uninstall: $left"

# ---- PREFIX=/usr/local ----
L=$T_DIR/local
"${MK[@]}" install DESTDIR="$L" PREFIX=/usr/local >>"$T_DIR/install.log" 2>&1
pyver=$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ -x "$L/usr/local/sbin/drbdd" ] && [ -x "$L/usr/local/bin/drbdctl" ] &&
	[ -f "$L/usr/local/lib/python$pyver/dist-packages/drbd_cinder/driver.py" ] &&
	[ -f "$L/usr/local/share/man/man8/drbdd.8" ] &&
	grep -qx 'ExecStart=/usr/local/sbin/drbdd --config=/etc/drbdd/drbdd.conf' "$L"/lib/systemd/system/drbdd.service &&
	[ -f "$L/usr/share/dbus-1/system.d/org.drbd.drbdd1.conf" ] &&
	pass "PREFIX=/usr/local: programs, man, python$pyver under it; unit points there; policy where D-Bus reads it" ||
	fail "PREFIX=/usr/local: $(cd "$L" && find . -type f | sort)"
t_done
