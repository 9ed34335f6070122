#!/bin/bash
# Lab smoke tests (make lab-check): two real kernels under QEMU; DRBD on LVM,
# LVM thin snapshots, an LIO iSCSI target via configfs, the project's drbdd,
# and the harness's own primitives (channel, copy, link, power-off, restart).
#
#   tests/lab/smoke.sh [TEST...]    default: all, in the order below
. "$(dirname "$0")/lab.sh"

IQN=iqn.2024-01.org.drbd.lab:vm2.lun0
INITIATOR=iqn.2024-01.org.drbd.lab:vm1
CHAP_USER=labuser
CHAP_PASS=labsecret12345

# Harness primitives: exit codes, stdout/stderr, timeouts, binary copies.
test_channel() {
	local out rc tmp
	out=$(lab_run vm1 'echo out; echo err >&2; exit 7' 2>/dev/null) && rc=0 || rc=$?
	lab_expect_eq "exit code" 7 "$rc"
	lab_expect_eq "stdout" out "$out"
	out=$(lab_run vm1 'echo err >&2' 2>&1 >/dev/null)
	lab_expect_eq "stderr" err "$out"
	lab_expect_eq "argv quoting" "a b|c" "$(lab_run vm1 printf '%s|%s' 'a b' c)"
	lab_expect_eq "hostname" vm2 "$(lab_run vm2 hostname)"
	lab_expect_eq "LAB_BUILD in the guest" "$LAB_BUILD" "$(lab_run vm1 'echo $LAB_BUILD')"
	lab_run -t 2 vm1 'sleep 30' && rc=0 || rc=$?
	lab_expect_eq "guest timeout exit code" 124 "$rc"
	tmp=$(mktemp -d)
	head -c 200000 /dev/urandom >"$tmp/blob"
	lab_copy_in vm1 "$tmp/blob" /root/in/blob
	lab_expect_eq "copy in" "$(sha256sum <"$tmp/blob")" "$(lab_run vm1 'sha256sum </root/in/blob')"
	lab_copy_out vm1 /root/in/blob "$tmp/back"
	cmp "$tmp/blob" "$tmp/back" || lab_fail "copy out differs"
	echo "ok: copy out"
	rm -rf "$tmp"
	lab_run vm1 'busybox ping -c 1 -W 5 vm2 >/dev/null' || lab_fail "vm1 cannot ping vm2"
	echo "ok: vm1 reaches vm2 on the lab network"
}

# Both VMs: a volume group "lab" on the first data disk.
lvm_setup() {
	local vm
	for vm in vm1 vm2; do
		lab_run "$vm" 'set -e
pvcreate -q -y /dev/vda
vgcreate -q lab /dev/vda
vgs --noheadings -o vg_name lab'
	done
}

# (a) DRBD 8.4 replicates an LV from vm1 to vm2; vm2 reads back the data.
test_drbd() {
	local vm sum1 sum2 res
	lvm_setup
	res='resource r0 {
	protocol C;
	device /dev/drbd0;
	disk /dev/lab/r0;
	meta-disk internal;
	net { cram-hmac-alg sha256; shared-secret "lab"; }
	on vm1 { address 10.99.0.1:7789; }
	on vm2 { address 10.99.0.2:7789; }
}'
	for vm in vm1 vm2; do
		lab_run "$vm" "set -e
lvcreate -q -y -W y -L 32M -n r0 lab
test -b /dev/lab/r0
cat >/etc/drbd.d/r0.res <<'EOF'
$res
EOF
modprobe drbd
drbdadm create-md --force r0 </dev/null
drbdadm up r0"
	done
	lab_run vm1 'set -e; drbdadm primary --force r0; head -n 2 /proc/drbd'
	# The guests run the dialect the lab was started with (LAB_DRBD).
	lab_expect_eq "kernel DRBD dialect" "$LAB_DRBD" "$(lab_run vm1 'sed -n "s/^version: \(8\.4\|9\)\..*/\1/p" /proc/drbd')"
	lab_run -t 120 vm1 'for i in $(seq 120); do
	[ "$(drbdadm dstate r0)" = UpToDate/UpToDate ] && [ "$(drbdadm cstate r0)" = Connected ] && exit 0
	sleep 1
done
cat /proc/drbd; exit 1'
	echo "ok: initial sync done"
	sum1=$(lab_run vm1 'set -eo pipefail
head -c 16M /dev/urandom >/tmp/data
dd if=/tmp/data of=/dev/drbd0 bs=1M oflag=direct status=none
sha256sum </tmp/data | cut -d" " -f1')
	lab_run vm1 'set -e; drbdadm secondary r0; drbdadm role r0'
	lab_run vm2 'set -e; drbdadm primary r0; drbdadm role r0'
	sum2=$(lab_run vm2 'set -eo pipefail
dd if=/dev/drbd0 bs=1M count=16 iflag=direct status=none | sha256sum | cut -d" " -f1')
	lab_expect_eq "checksum read on vm2" "$sum1" "$sum2"
	lab_run vm2 'drbdadm secondary r0; drbdsetup status r0'
}

# (b) LVM thin pool and a thin snapshot keep separate contents.
test_thin() {
	local before after snap cur
	lab_run vm1 'vgs lab >/dev/null 2>&1 || { pvcreate -q -y /dev/vda && vgcreate -q lab /dev/vda; }'
	before=$(lab_run vm1 'set -eo pipefail
lvcreate -q -y -W y -L 256M -T lab/pool >&2
lvcreate -q -y -W y -V 128M -T lab/pool -n thin1 >&2
head -c 8M /dev/urandom >/tmp/a
dd if=/tmp/a of=/dev/lab/thin1 bs=1M oflag=direct status=none
sha256sum </tmp/a | cut -d" " -f1')
	lab_run vm1 'set -e
lvcreate -q -y -s -n snap1 lab/thin1
lvchange -q -ay -K lab/snap1
test -b /dev/lab/snap1
lvs -o lv_name,pool_lv,origin,lv_attr lab'
	after=$(lab_run vm1 'set -eo pipefail
head -c 8M /dev/urandom >/tmp/b
dd if=/tmp/b of=/dev/lab/thin1 bs=1M oflag=direct status=none
sha256sum </tmp/b | cut -d" " -f1')
	snap=$(lab_run vm1 'set -o pipefail; dd if=/dev/lab/snap1 bs=1M count=8 iflag=direct status=none | sha256sum | cut -d" " -f1')
	cur=$(lab_run vm1 'set -o pipefail; dd if=/dev/lab/thin1 bs=1M count=8 iflag=direct status=none | sha256sum | cut -d" " -f1')
	lab_expect_eq "snapshot keeps the old data" "$before" "$snap"
	lab_expect_eq "origin has the new data" "$after" "$cur"
	[ "$before" != "$after" ] || lab_fail "random data repeated"
	lab_expect_eq "origin of snap1" thin1 "$(lab_run vm1 'lvs --noheadings -o origin lab/snap1 | tr -d " "')"
}

# (c) An LIO iSCSI target built in configfs on vm2 (iblock on an LV, ACL with
# CHAP), logged into from vm1 with libiscsi over the lab network.
test_lio() {
	local out rc
	lab_run vm2 'vgs lab >/dev/null 2>&1 || { pvcreate -q -y /dev/vda && vgcreate -q lab /dev/vda; }'
	lab_run vm2 "set -e
lvcreate -q -y -W y -L 48M -n lun0 lab
modprobe target_core_mod
modprobe target_core_iblock
modprobe iscsi_target_mod
cd /sys/kernel/config/target
mkdir -p core/iblock_0/lun0
printf %s udev_path=/dev/lab/lun0 >core/iblock_0/lun0/control
printf 1 >core/iblock_0/lun0/enable
tpg=iscsi/$IQN/tpgt_1
mkdir -p \$tpg/lun/lun_0 \$tpg/np/10.99.0.2:3260
ln -s /sys/kernel/config/target/core/iblock_0/lun0 \$tpg/lun/lun_0/lab_lun
acl=\$tpg/acls/$INITIATOR
mkdir -p \$acl/lun_0
ln -s /sys/kernel/config/target/\$tpg/lun/lun_0 \$acl/lun_0/lab_map
printf %s $CHAP_USER >\$acl/auth/userid
printf %s $CHAP_PASS >\$acl/auth/password
printf 1 >\$tpg/attrib/authentication
printf 0 >\$tpg/attrib/generate_node_acls
printf 1 >\$tpg/enable
ls /sys/kernel/config/target/iscsi
cat \$tpg/lun/lun_0/lab_lun/info 2>/dev/null | head -n 3 || true"
	out=$(lab_run vm2 'ls /sys/kernel/config/target/iscsi')
	[[ $out == *"$IQN"* ]] || lab_fail "target $IQN not in configfs: $out"
	echo "ok: $IQN in /sys/kernel/config/target/iscsi"
	out=$(lab_run vm1 "iscsi-readcapacity16 -i $INITIATOR iscsi://$CHAP_USER%$CHAP_PASS@10.99.0.2/$IQN/0")
	echo "$out"
	[[ $out == *"Total size:50331648"* ]] || lab_fail "unexpected capacity from the target"
	lab_run vm1 "iscsi-inq -i $INITIATOR iscsi://$CHAP_USER%$CHAP_PASS@10.99.0.2/$IQN/0" | head -n 5
	out=$(lab_run vm1 "iscsi-inq -i $INITIATOR iscsi://$CHAP_USER%wrongsecret99@10.99.0.2/$IQN/0" 2>&1) && rc=0 || rc=$?
	[ "$rc" != 0 ] || lab_fail "a wrong CHAP secret was accepted"
	echo "ok: wrong CHAP secret refused (rc=$rc)"
}

# (d) The project's drbdd runs in a guest on a private bus; drbdctl answers.
test_drbdd() {
	[ -z "${LAB_BUILD_FAILED:-}" ] || lab_fail "'make all' failed; not testing a stale build"
	[ -x "$LAB_BUILD/drbdd" ] || lab_fail "build/drbdd missing ($LAB_BUILD/drbdd): run make all"
	[ -x "$LAB_BUILD/drbdctl" ] || lab_fail "build/drbdctl missing ($LAB_BUILD/drbdctl): run make all"
	lab_run -t 60 vm1 'set -e
addr=$(dbus-daemon --session --print-address --fork --nopidfile 2>/tmp/dbus.err) || { cat /tmp/dbus.err; exit 1; }
echo "bus: $addr"
export DBUS_SYSTEM_BUS_ADDRESS=$addr
echo "$addr" >/tmp/lab-bus
nohup "$LAB_BUILD/drbdd" --state-dir /tmp/drbdd-state --node-name vm1 >/tmp/drbdd.log 2>&1 &
for i in $(seq 20); do
	if "$LAB_BUILD/drbdctl" node list >/tmp/drbdctl.out 2>&1; then
		cat /tmp/drbdctl.out
		echo "drbdctl node list: exit 0 after ~${i}s"
		exit 0
	fi
	sleep 1
done
echo "drbdctl node list never succeeded; last output:"; cat /tmp/drbdctl.out
echo "drbdd log:"; tail -n 30 /tmp/drbdd.log
exit 1'
}

# Faults: link down/up, hard power-off, restart (the disk keeps its VG).
test_faults() {
	local rc
	lab_link vm2 down
	lab_run vm1 'busybox ping -c 2 -W 2 vm2 >/dev/null' && lab_fail "vm2 answers with its link down"
	echo "ok: vm2 unreachable with link down"
	lab_link vm2 up
	lab_run vm1 'for i in 1 2 3 4 5; do busybox ping -c 1 -W 2 vm2 >/dev/null && exit 0; done; exit 1' ||
		lab_fail "vm2 unreachable after link up"
	echo "ok: vm2 reachable after link up"
	lab_run vm2 'vgs lab >/dev/null 2>&1 || { pvcreate -q -y /dev/vda && vgcreate -q lab /dev/vda; }; sync'
	lab_poweroff vm2
	lab_vm_running vm2 && lab_fail "vm2 still running after power-off"
	lab_run vm2 true 2>/dev/null && rc=0 || rc=$?
	lab_expect_eq "lab_run on a powered-off VM" 255 "$rc"
	lab_restart vm2
	lab_expect_eq "hostname after restart" vm2 "$(lab_run vm2 hostname)"
	lab_expect_eq "VG after restart" lab "$(lab_run vm2 'vgs --noheadings -o vg_name lab | tr -d " "')"
	lab_run vm1 'busybox ping -c 1 -W 5 vm2 >/dev/null' || lab_fail "vm2 unreachable after restart"
	echo "ok: vm2 back on the network"
}

# A lab run that fails, or is killed, leaves no VM behind.
test_hygiene() {
	local out dir pid
	out=$(bash -c '. "$1/lab.sh"; unset LAB_DIR; lab_start 1 --disks 64M >/dev/null 2>&1 || exit 9; echo "$LAB_DIR"; exit 3' _ "$LAB_HOME" 2>/dev/null) && rc=0 || rc=$?
	lab_expect_eq "exit status of a failing lab script" 3 "$rc"
	dir=$out
	[ -n "$dir" ] || lab_fail "the child lab did not start"
	pgrep -f "qemu-system-x86_64 .*$dir/" >/dev/null && lab_fail "a VM of $dir outlived its failing script"
	rm -rf "$dir"
	echo "ok: a failing lab script stopped its VM"
	# exec: the script's own process sleeps (nothing else holds our output pipe open).
	bash -c '. "$1/lab.sh"; unset LAB_DIR; lab_start 1 --disks 64M >/dev/null 2>&1 || exit 9; echo "$LAB_DIR" >"$2"; exec sleep 600' _ "$LAB_HOME" "$LAB_DIR/child.dir" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 120); do [ -s "$LAB_DIR/child.dir" ] && break; sleep 1; done
	dir=$(cat "$LAB_DIR/child.dir")
	[ -n "$dir" ] && pgrep -f "qemu-system-x86_64 .*$dir/" >/dev/null || lab_fail "the child lab did not start"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true # 137: it was killed, as intended
	for _ in $(seq 30); do pgrep -f "qemu-system-x86_64 .*$dir/" >/dev/null || break; sleep 0.5; done
	pgrep -f "qemu-system-x86_64 .*$dir/" >/dev/null && lab_fail "a VM of $dir outlived its SIGKILLed script"
	rm -rf "$dir"
	echo "ok: a SIGKILLed lab script's VM was stopped by its watchdog"
}

main() {
	local t0 tests=("$@") t rc=0
	[ ${#tests[@]} -gt 0 ] || tests=(channel drbd thin lio drbdd faults hygiene)
	t0=$(lab__now)
	lab_start 2 || exit 1
	for t in "${tests[@]}"; do
		declare -F "test_$t" >/dev/null || lab_die "no test '$t'"
		# Not "|| rc=1": bash would ignore set -e inside the test function.
		lab_test "$t" "test_$t"
	done
	lab_summary || rc=1
	echo "lab: boot $(cat "$LAB_DIR/boot-seconds") s, total $(lab__since "$t0") s"
	exit $rc
}

main "$@"
