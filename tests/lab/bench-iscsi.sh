#!/bin/bash
# Bench of iscsi-export in the lab: fio throughput and latency on one LV, read
# locally on vm1 and through LIO iSCSI (exported with build/drbdd-iscsi,
# open-iscsi kernel initiator) from vm2, side by side with ratios.
#
# Both VMs run under QEMU TCG (software CPU emulation), so absolute numbers say
# little about real hardware; the ratio shows what the iSCSI path costs on top
# of the same block device. Native DRBD diskless access cannot be compared:
# the lab kernel has DRBD 8.4, which has no diskless clients.
#
#   tests/lab/bench-iscsi.sh      BENCH_SECONDS=5 per fio job (default)
. "$(dirname "$0")/lab.sh"

IQN=iqn.2026-11.org.drbd.drbdd:bench
INIT=iqn.2026-11.org.drbd.lab:vm2-bench
PASS=benchsecret1234
SECS=${BENCH_SECONDS:-5}

# name rw bs iodepth
JOBS=(
	"seq-read-1M-qd4 read 1M 4"
	"seq-write-1M-qd4 write 1M 4"
	"rand-read-4k-qd1 randread 4k 1"
	"rand-write-4k-qd1 randwrite 4k 1"
	"rand-read-4k-qd16 randread 4k 16"
)

setup() {
	lab_run vm1 "set -e
modprobe target_core_mod; modprobe target_core_iblock; modprobe iscsi_target_mod
pvcreate -q -y /dev/vda >/dev/null; vgcreate -q lab /dev/vda >/dev/null
lvcreate -q -y -W y -L 256M -n bench lab >/dev/null
dd if=/dev/urandom of=/dev/lab/bench bs=1M count=256 oflag=direct status=none
DRBDD_ISCSI_PASSWORD=$PASS $LAB_BUILD/drbdd-iscsi create bench /dev/lab/bench --portal 10.99.0.1 --initiator $INIT --user bench >/dev/null"
	lab_run vm2 "set -e
modprobe iscsi_tcp; modprobe sd_mod
echo InitiatorName=$INIT >/etc/iscsi/initiatorname.iscsi
mkdir -p /run/lock/iscsi /var/lib/iscsi
iscsid
sleep 1
n() { iscsiadm -m node -T $IQN -p 10.99.0.1:3260 \"\$@\"; }
n -o new >/dev/null
n -o update -n node.session.auth.authmethod -v CHAP
n -o update -n node.session.auth.username -v bench
n -o update -n node.session.auth.password -v $PASS
n --login >/dev/null
for i in \$(seq 50); do dev=\$(iscsiadm -m session -P 3 | awk '/Attached scsi disk/ { print \$4 }'); [ -n \"\$dev\" ] && [ -b /dev/\$dev ] && break; sleep 0.2; done
echo /dev/\$dev >/tmp/bench-dev
echo \"vm2: iSCSI disk /dev/\$dev\""
}

# fio VM DEV RW BS QD: prints "bw_KiB/s mean_lat_us p99_lat_us"
run_fio() {
	local vm=$1 dev=$2 rw=$3 bs=$4 qd=$5 dir
	case $rw in *read) dir=read ;; *) dir=write ;; esac
	lab_run -t $((SECS * 4 + 60)) "$vm" "fio --name=b --filename=$dev --direct=1 --ioengine=libaio --rw=$rw --bs=$bs \
--iodepth=$qd --runtime=$SECS --time_based --size=200M --randrepeat=0 --output-format=json 2>/dev/null |
jq -r '.jobs[0].$dir | \"\\(.bw) \\(.lat_ns.mean / 1000) \\(.clat_ns.percentile[\"99.000000\"] / 1000)\"'"
}

main() {
	local t0 j name rw bs qd l r dev
	t0=$(lab__now)
	lab_start 2 --disks 1G || exit 1
	setup || lab_die "setup failed"
	dev=$(lab_run vm2 'cat /tmp/bench-dev')
	printf '\n%-20s %-11s %12s %12s %8s\n' job metric "local vm1" "iSCSI vm2" "ratio"
	for j in "${JOBS[@]}"; do
		read -r name rw bs qd <<<"$j"
		l=$(run_fio vm1 /dev/lab/bench "$rw" "$bs" "$qd") || lab_die "fio on vm1 failed"
		r=$(run_fio vm2 "$dev" "$rw" "$bs" "$qd") || lab_die "fio on vm2 failed"
		awk -v n="$name" -v l="$l" -v r="$r" 'BEGIN {
			split(l, a, " "); split(r, b, " ")
			printf "%-20s %-11s %12.2f %12.2f %7.2fx\n", n, "MiB/s", a[1] / 1024, b[1] / 1024, (a[1] ? b[1] / a[1] : 0)
			printf "%-20s %-11s %12.0f %12.0f %7.2fx\n", "", "lat us", a[2], b[2], (a[2] ? b[2] / a[2] : 0)
			printf "%-20s %-11s %12.0f %12.0f %7.2fx\n", "", "p99 us", a[3], b[3], (a[3] ? b[3] / a[3] : 0)
		}'
	done
	echo
	echo "ratio = iSCSI / local (throughput: below 1 is slower; latency: above 1 is slower)"
	echo "QEMU TCG guests on a 2-core host: compare ratios, not absolute values."
	lab_run vm2 "iscsiadm -m node -T $IQN -p 10.99.0.1:3260 --logout >/dev/null" || true
	lab_run vm1 "$LAB_BUILD/drbdd-iscsi remove bench >/dev/null" || true
	echo "bench: total $(lab__since "$t0") s"
}

main "$@"
