#!/bin/bash
# Lab tests of iscsi-export on real LIO: vm1 exports LVs with build/drbdd-iscsi,
# vm2 logs in with libiscsi (build/drbdd-iscsi-check) and open-iscsi (iscsiadm)
# using CHAP; refusals, idempotency, orphans, locking and a clean teardown.
#
#   tests/lab/test-iscsi.sh [TEST...]     default: all, in order
#   LAB_BUILD=/abs/build-dir (default: the repo's build/)
. "$(dirname "$0")/lab.sh"

PREFIX=iqn.2026-11.org.drbd.drbdd
IQN=$PREFIX:vol1
INIT_A=iqn.2026-11.org.drbd.lab:vm2-libiscsi
INIT_K=iqn.2026-11.org.drbd.lab:vm2-kernel
INIT_M=iqn.2026-11.org.drbd.lab:vm2-mutual
INIT_NOACL=iqn.2026-11.org.drbd.lab:vm2-stranger
PASS_A=labsecret12345
PASS_K=kernelsecret123
PASS_M=mutualinit12345
PASS_T=mutualtarget987
CFS=/sys/kernel/config/target

# Prepended to every guest script: the tools, and expect_rc WANT CMD...
# which runs CMD, prints its output and fails unless it exits WANT.
guest_prelude() {
	cat <<EOF
set -e
B=$LAB_BUILD
ISCSI=\$B/drbdd-iscsi
CHECK=\$B/drbdd-iscsi-check
expect_rc() {
	local want=\$1 rc=0
	shift
	"\$@" >/tmp/out 2>/tmp/err || rc=\$?
	cat /tmp/out; sed 's/^/stderr: /' /tmp/err
	[ "\$rc" = "\$want" ] || { echo "FAILED: '\$*' exited \$rc, expected \$want" >&2; exit 1; }
	echo "ok: exit \$rc: \$*"
}
EOF
}
g() { # VM SCRIPT: run SCRIPT in VM with the prelude
	local vm=$1
	shift
	lab_run "$vm" "$(guest_prelude)
$*"
}

test_tools() {
	[ -x "$LAB_BUILD/drbdd-iscsi" ] || lab_fail "$LAB_BUILD/drbdd-iscsi missing: make BUILD=... iscsi"
	[ -x "$LAB_BUILD/drbdd-iscsi-check" ] || lab_fail "$LAB_BUILD/drbdd-iscsi-check missing"
	g vm1 'expect_rc 0 $ISCSI --help >/dev/null; for c in list show create remove grant revoke; do expect_rc 0 $ISCSI $c --help >/dev/null; done
expect_rc 2 $ISCSI frobnicate'
}

# Before the modules: a clear message and exit 6.
test_modules() {
	g vm1 "expect_rc 6 \$ISCSI list
grep -q target_core_mod /tmp/err
modprobe target_core_mod
modprobe target_core_iblock
modprobe iscsi_target_mod
ls $CFS"
}

test_setup() {
	g vm1 'pvcreate -q -y /dev/vda >/dev/null; vgcreate -q lab /dev/vda >/dev/null
for v in vol1:64M vol2:16M vol3:16M; do lvcreate -q -y -W y -L ${v#*:} -n ${v%:*} lab >/dev/null; done
lvs --noheadings -o lv_name,lv_size lab'
	# The kernel initiator on vm2: iscsid with its own initiator name.
	g vm2 "modprobe iscsi_tcp; modprobe sd_mod
echo InitiatorName=$INIT_K >/etc/iscsi/initiatorname.iscsi
mkdir -p /run/lock/iscsi /var/lib/iscsi
iscsid
for i in \$(seq 20); do r=0; iscsiadm -m session >/dev/null 2>&1 || r=\$?; [ \$r = 21 ] || [ \$r = 0 ] && break; sleep 0.5; done
echo \"iscsid up (iscsiadm -m session: \$r)\""
}

test_invalid_input() {
	g vm1 "expect_rc 2 \$ISCSI create Vol1 /dev/lab/vol1
expect_rc 2 \$ISCSI create 'a/../b' /dev/lab/vol1
expect_rc 2 \$ISCSI create vol1 /dev/../etc/passwd
expect_rc 2 \$ISCSI create vol1 /dev/lab/vol1 --portal 10.99.0.1:70000
DRBDD_ISCSI_PASSWORD=short expect_rc 2 \$ISCSI create vol1 /dev/lab/vol1 --initiator $INIT_A --user u
grep -q 'at least 12' /tmp/err
expect_rc 3 \$ISCSI create volx /dev/lab/nope
grep -q 'does not exist' /tmp/err
expect_rc 3 \$ISCSI show vol1
test -z \"\$(ls $CFS/core | grep iblock_7788)\" && echo 'ok: nothing created'"
}

test_create() {
	g vm1 "export DRBDD_ISCSI_PASSWORD=$PASS_A
expect_rc 0 \$ISCSI create vol1 /dev/lab/vol1 --portal 10.99.0.1 --initiator $INIT_A --user vm2user
DRBDD_ISCSI_PASSWORD=$PASS_K expect_rc 0 \$ISCSI grant vol1 $INIT_K --user vm2kernel
printf %s $PASS_T >/tmp/mpw
DRBDD_ISCSI_PASSWORD=$PASS_M expect_rc 0 \$ISCSI grant vol1 $INIT_M --user vm2mutual --mutual-user target1 --mutual-password-file /tmp/mpw
expect_rc 0 \$ISCSI -o json show vol1
[ \"\$(\$ISCSI -o json show vol1 | jq -r .device)\" = /dev/lab/vol1 ]
cat $CFS/iscsi/$IQN/tpgt_1/enable $CFS/iscsi/$IQN/tpgt_1/attrib/authentication $CFS/iscsi/$IQN/tpgt_1/attrib/generate_node_acls
cat $CFS/core/iblock_7788/vol1/wwn/vpd_unit_serial
# no trailing newline reached the kernel: it shows "vm2user\\n", 8 bytes
[ \"\$(wc -c <$CFS/iscsi/$IQN/tpgt_1/acls/$INIT_A/auth/userid)\" = 8 ] || { cat -A $CFS/iscsi/$IQN/tpgt_1/acls/$INIT_A/auth/userid; exit 1; }
ls $CFS/iscsi/$IQN/tpgt_1/np"
}

test_idempotent() {
	g vm1 "snap() { find $CFS/iscsi/$IQN $CFS/core/iblock_7788 | sort | md5sum; \$ISCSI -o json show vol1 | md5sum; }
before=\$(snap)
DRBDD_ISCSI_PASSWORD=$PASS_A expect_rc 0 \$ISCSI create vol1 /dev/lab/vol1 --portal 10.99.0.1 --initiator $INIT_A --user vm2user >/dev/null
after=\$(snap)
[ \"\$before\" = \"\$after\" ] || { echo 'FAILED: second create changed the tree'; exit 1; }
echo 'ok: second create left configfs as it was'
expect_rc 4 \$ISCSI create vol1 /dev/lab/vol2
grep -q 'bound to /dev/lab/vol1' /tmp/err
expect_rc 5 \$ISCSI create volbusy /dev/lab/vol1
grep -q 'exclusive use' /tmp/err
expect_rc 3 \$ISCSI show volbusy"
}

serial() { lab_run vm1 "$LAB_BUILD/drbdd-iscsi -o json show vol1 | jq -r .serial"; }

test_libiscsi() {
	local s
	s=$(serial)
	echo "serial $s"
	g vm2 "export DRBDD_ISCSI_PASSWORD=$PASS_A
expect_rc 0 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_A --user vm2user --write --expect-serial $s --expect-size 67108864
DRBDD_ISCSI_PASSWORD=$PASS_M DRBDD_ISCSI_MUTUAL_PASSWORD=$PASS_T expect_rc 0 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_M --user vm2mutual --mutual-user target1
expect_rc 0 \$CHECK -o json --portal 10.99.0.1 --target $IQN --initiator $INIT_A --user vm2user"
}

test_refusals() {
	g vm2 "DRBDD_ISCSI_PASSWORD=wrongsecret999 expect_rc 4 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_A --user vm2user
grep -q 'Authentication failure' /tmp/err
DRBDD_ISCSI_PASSWORD=$PASS_A expect_rc 4 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_NOACL --user vm2user
grep -q 'Authorization failure' /tmp/err
expect_rc 4 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_A
DRBDD_ISCSI_PASSWORD=$PASS_M DRBDD_ISCSI_MUTUAL_PASSWORD=wrongtarget999 expect_rc 4 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_M --user vm2mutual --mutual-user target1
grep -q 'mutual CHAP' /tmp/err
DRBDD_ISCSI_PASSWORD=$PASS_A expect_rc 4 \$CHECK --portal 10.99.0.1 --target $PREFIX:nosuchvol --initiator $INIT_A --user vm2user"
	# libiscsi-bin's own tool agrees (LAB-NOTES).
	g vm2 "expect_rc 0 iscsi-inq -i $INIT_A iscsi://vm2user%$PASS_A@10.99.0.1/$IQN/0
if iscsi-inq -i $INIT_A iscsi://vm2user%wrongsecret999@10.99.0.1/$IQN/0; then exit 1; fi
echo 'ok: iscsi-inq refused with a wrong secret'" | tail -n 3
}

# open-iscsi: the kernel initiator logs in with CHAP, writes 8 MiB through
# /dev/sdX; vm1 reads the same bytes from the LV.
test_iscsiadm() {
	local sum1 sum2
	g vm2 "n() { iscsiadm -m node -T $IQN -p 10.99.0.1:3260 \"\$@\"; }
n -o new >/dev/null
n -o update -n node.session.auth.authmethod -v CHAP
n -o update -n node.session.auth.username -v vm2kernel
n -o update -n node.session.auth.password -v wrongsecret999
expect_rc 24 n --login
n -o update -n node.session.auth.password -v $PASS_K
expect_rc 0 n --login
for i in \$(seq 50); do dev=\$(iscsiadm -m session -P 3 | awk '/Attached scsi disk/ { print \$4 }'); [ -n \"\$dev\" ] && [ -b /dev/\$dev ] && break; sleep 0.2; done
[ -b /dev/\$dev ] || { iscsiadm -m session -P 3; exit 1; }
echo \"disk: /dev/\$dev \$(blockdev --getsize64 /dev/\$dev) bytes\"
echo \$dev >/tmp/iscsi-dev"
	sum1=$(lab_run vm2 'set -eo pipefail; dev=$(cat /tmp/iscsi-dev)
head -c 8M /dev/urandom >/tmp/data
dd if=/tmp/data of=/dev/$dev bs=1M seek=4 oflag=direct status=none
sha256sum </tmp/data | cut -d" " -f1')
	lab_run vm1 "$LAB_BUILD/drbdd-iscsi show vol1 | grep 'acl:.*$INIT_K.*(logged in)'"
	sum2=$(lab_run vm1 'set -o pipefail; dd if=/dev/lab/vol1 bs=1M skip=4 count=8 iflag=direct status=none | sha256sum | cut -d" " -f1')
	lab_expect_eq "bytes written by vm2 through iSCSI, read on vm1 from the LV" "$sum1" "$sum2"
	g vm2 "expect_rc 0 iscsiadm -m node -T $IQN -p 10.99.0.1:3260 --logout
iscsiadm -m node -T $IQN -p 10.99.0.1:3260 -o delete"
}

test_revoke() {
	g vm1 "expect_rc 0 \$ISCSI revoke vol1 $INIT_A
expect_rc 0 \$ISCSI revoke vol1 $INIT_A
grep -q 'had no ACL' /tmp/out"
	g vm2 "DRBDD_ISCSI_PASSWORD=$PASS_A expect_rc 4 \$CHECK --portal 10.99.0.1 --target $IQN --initiator $INIT_A --user vm2user
grep -q 'Authorization failure' /tmp/err"
}

test_serial_stable() {
	local s1 s2
	s1=$(serial)
	g vm1 "expect_rc 0 \$ISCSI remove vol1
expect_rc 0 \$ISCSI create vol1 /dev/lab/vol1 --portal 10.99.0.1" >/dev/null
	s2=$(serial)
	lab_expect_eq "unit serial after remove + create" "$s1" "$s2"
}

test_orphans_and_lock() {
	g vm1 "for i in 1 2 3 4; do \$ISCSI create vol2 /dev/lab/vol2 --portal 10.99.0.1 >/tmp/c\$i.out 2>&1 & done
rc=0; for j in 1 2 3 4; do wait -n || rc=\$?; done
[ \$rc = 0 ] || { cat /tmp/c*.out; echo 'FAILED: a concurrent create failed'; exit 1; }
echo 'ok: 4 concurrent creates of vol2 succeeded'
expect_rc 0 \$ISCSI create vol3 /dev/lab/vol3 --portal 10.99.0.1
expect_rc 0 \$ISCSI list
expect_rc 0 \$ISCSI remove --orphans --keep vol1,vol2
grep -qx 'vol3 removed' /tmp/out
[ \"\$(\$ISCSI list | cut -d' ' -f1 | tr '\n' ' ')\" = 'vol1 vol2 ' ] || { \$ISCSI list; exit 1; }
echo 'ok: only vol1 and vol2 left'"
}

test_remove_clean() {
	g vm1 "expect_rc 0 \$ISCSI -o json remove vol1 vol2
expect_rc 0 \$ISCSI remove vol1
grep -q 'was not exported' /tmp/out
left=\$(ls $CFS/iscsi | grep -c '^$PREFIX' || true)
[ \"\$left\" = 0 ] || { ls $CFS/iscsi; exit 1; }
! ls $CFS/core | grep -q iblock_7788 || { ls -R $CFS/core; exit 1; }
[ -z \"\$(\$ISCSI list)\" ]
echo \"ok: no objects of ours left: iscsi/: \$(ls $CFS/iscsi | tr '\n' ' ') core/: \$(ls $CFS/core | tr '\n' ' ')\"
# the devices are free again
for v in vol1 vol2 vol3; do exec 3<>/dev/lab/\$v; exec 3>&-; done
lvremove -q -y lab/vol1 >/dev/null && echo 'ok: LV vol1 removable (not held)'"
}

main() {
	local t0 tests=("$@") t rc=0
	[ ${#tests[@]} -gt 0 ] || tests=(tools modules setup invalid_input create idempotent libiscsi refusals
		iscsiadm revoke serial_stable orphans_and_lock remove_clean)
	t0=$(lab__now)
	lab_start 2 --disks 1G || exit 1
	for t in "${tests[@]}"; do
		declare -F "test_$t" >/dev/null || lab_die "no test '$t'"
		# Not "lab_test ... || rc=1": on the left of || bash ignores set -e
		# inside the test function, and a failed step would go unnoticed.
		lab_test "$t" "test_$t"
	done
	lab_summary || rc=1
	echo "lab: boot $(cat "$LAB_DIR/boot-seconds") s, total $(lab__since "$t0") s"
	exit $rc
}

main "$@"
