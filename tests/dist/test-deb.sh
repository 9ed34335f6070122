#!/bin/bash
# The Debian packages (make deb, already run by make deb-check): lintian
# shows no error and no tag beyond tests/dist/lintian-kept; in a lab VM (a
# tmpfs overlay over this host's /: a system where they were never
# installed) dpkg installs them without starting anything, drbdd runs from
# its unit's ExecStart on the real system bus with the installed policy and
# answers "drbdctl node list" for root and for an allowed member of the
# group drbdd, not for another user; the driver imports from the installed
# paths; purge leaves nothing behind.
. "$(dirname "$0")/../lab/lab.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
DEBS=$BUILD/deb

for p in lintian:lintian dpkg-deb:dpkg; do
	command -v "${p%%:*}" >/dev/null || { echo "FAIL ${p%%:*} not found: install Debian's ${p#*:} (make deps)"; exit 1; }
done
ls "$DEBS"/drbdd_*.deb "$DEBS"/python3-drbd-cinder_*.deb >/dev/null ||
	{ echo "FAIL no packages in $DEBS: run make deb"; exit 1; }

t_lintian() {
	local tags unexpected
	tags=$(lintian -I "$DEBS"/*.changes 2>&1 | grep -E '^[EWI]: ' | sed 's/ \[.*//' | sort -u)
	echo "$tags"
	unexpected=$(comm -23 <(printf '%s\n' "$tags" | sed '/^$/d') <(grep -E '^[EWI]: ' "$SRC/tests/dist/lintian-kept" | sort -u))
	[ -z "$unexpected" ] || lab_fail "lintian tags not in tests/dist/lintian-kept: $unexpected"
}

# The maintainer scripts: no start on install (only a try-restart after
# an upgrade), a stop on removal, purge removes the state.
t_scripts() {
	local d=$LAB_DIR/control
	rm -rf "$d" && dpkg-deb -e "$DEBS"/drbdd_*.deb "$d"
	! grep -nE 'deb-systemd-invoke (\$_dh_action|start|restart)' "$d/postinst" ||
		lab_fail "postinst starts drbdd"
	grep -q 'deb-systemd-invoke try-restart drbdd.service' "$d/postinst" || lab_fail "postinst: no try-restart"
	grep -q 'deb-systemd-invoke stop drbdd.service' "$d/prerm" || lab_fail "prerm does not stop drbdd on removal"
	grep -q 'rm -rf /var/lib/drbdd' "$d/postrm" || lab_fail "postrm purge keeps /var/lib/drbdd"
	echo "postinst: enable, no start; try-restart on upgrade; prerm: stop on removal; postrm purge removes /var/lib/drbdd"
}

t_install() {
	lab_run vm1 "set -e
		export DEBIAN_FRONTEND=noninteractive
		# man-db's trigger rebuilds its index over 9p for a minute.
		rm -f /var/lib/man-db/auto-update
		dpkg -i $DEBS/drbdd_*.deb $DEBS/python3-drbd-cinder_*.deb
		dpkg-query -W -f='\${Package} \${Status}\n' drbdd python3-drbd-cinder | grep -c 'install ok installed' | grep -qx 2
		getent group drbdd
		test \"\$(stat -c %a /var/lib/drbdd)\" = 700
		! pgrep -x drbdd
		test -f /usr/share/dbus-1/system.d/org.drbd.drbdd1.conf
		test -x /usr/sbin/drbdd
		man -w drbdd drbdctl drbdd-iscsi drbdd-iscsi-check >/dev/null
		cd / && /usr/bin/python3 -c 'import _drbdd, drbd_cinder.driver as d; print(_drbdd.__file__); print(d.__file__)' |
			grep -c '^/usr/lib/python3/dist-packages/' | grep -qx 2
		echo installed, nothing started"
}

# The system bus as systemd would run it (its own config, with the policy
# from /usr/share/dbus-1/system.d), then drbdd by its unit's ExecStart.
t_run_unit() {
	lab_run vm1 "set -e
		mkdir -p /run/dbus
		dbus-daemon --system --fork
		useradd -m -G drbdd alice
		useradd -m bob
		printf 'allowed-users = alice, bob\nagent = no\n' >>/etc/drbdd/drbdd.conf
		cmd=\$(sed -n 's/^ExecStart=//p' /lib/systemd/system/drbdd.service)
		echo \"ExecStart: \$cmd\"
		read -ra argv <<<\"\$cmd\"
		\"\${argv[@]}\" >/tmp/drbdd.log 2>&1 &
		for i in \$(seq 100); do drbdctl version >/dev/null 2>&1 && break; sleep 0.1; done
		drbdctl node list
		drbdctl node create vm1 10.99.0.1
		runuser -u alice -- drbdctl node list | grep -q vm1
		echo 'alice (group drbdd, allowed-users): drbdctl node list works'
		rc=0; runuser -u bob -- drbdctl node list >/tmp/bob.out 2>&1 || rc=\$?
		test \$rc = 9 || { echo \"bob: exit \$rc, wanted 9 (access denied): \$(cat /tmp/bob.out)\"; exit 1; }
		echo 'bob (not in group drbdd): access denied by the D-Bus policy'
		kill %1; wait %1 || true"
}

t_purge() {
	lab_run vm1 "set -e
		dpkg --purge python3-drbd-cinder drbdd
		left=\$(ls -d /var/lib/drbdd /etc/drbdd /lib/systemd/system/drbdd.service /usr/sbin/drbdd \
			/usr/share/dbus-1/system.d/org.drbd.drbdd1.conf /usr/lib/python3/dist-packages/drbd_cinder 2>/dev/null || true)
		test -z \"\$left\" || { echo \"left after purge: \$left\"; exit 1; }
		echo purged, nothing left"
}

lab_test "lintian" t_lintian
lab_start 1 --disks 64M
lab_test "maintainer scripts" t_scripts
lab_test "dpkg -i: installed, group, /var/lib/drbdd 0700, nothing started" t_install
lab_test "drbdd by its unit's ExecStart: on the bus, drbdctl node list, policy" t_run_unit
lab_test "dpkg --purge" t_purge
lab_summary
exit $?
