# Guest-side helpers for tests that run drbdd inside lab VMs. Sourced by
# lab_run scripts: . "$LAB_REPO_DIR/tests/lab/guest/node.sh"
STATE=${STATE:-/var/lib/drbdd}
BUSFILE=/run/drbdd-test-bus
C="$LAB_BUILD/drbdctl"
LAB_PING_TIMEOUT=${LAB_PING_TIMEOUT:-30} # tenths of a second

bus_up() {
	if [ -s "$BUSFILE" ] && DBUS_SYSTEM_BUS_ADDRESS=$(cat "$BUSFILE") dbus-send --system --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1; then
		export DBUS_SYSTEM_BUS_ADDRESS=$(cat "$BUSFILE")
		return 0
	fi
	local addr
	addr=$(dbus-daemon --session --print-address --fork --nopidfile) || return 1
	echo "$addr" >"$BUSFILE"
	export DBUS_SYSTEM_BUS_ADDRESS=$addr
}

# node_start [drbdd options...]: starts drbdd (agent on) and waits for it.
node_start() {
	bus_up || return 1
	mkdir -p "$STATE"
	# Lab only: DRBD's default ping-timeout (0.5 s) is too tight for QEMU's
	# software emulation on 2 busy cores (PingAck timeouts made connections
	# flap); production keeps DRBD's default.
	# Lab only, likewise: etcd inside a guest under software emulation
	# answers 10-50 times slower than on hardware, and a request now gives
	# up after 750 ms by default (docs/store.md); the lab allows 3 s.
	local a args=()
	for a in "$@"; do
		case $a in etcd:*\?*) ;; etcd:*) a="$a?timeout-ms=3000" ;; esac
		args+=("$a")
	done
	nohup "$LAB_BUILD/drbdd" --node-name "$(hostname)" --state-dir "$STATE" --agent=yes \
		--drbd-option net/ping-timeout=$LAB_PING_TIMEOUT "${args[@]}" >>/tmp/drbdd.log 2>&1 &
	echo $! >/run/drbdd-test.pid
	for _ in $(seq 100); do
		"$C" node status >/dev/null 2>&1 && return 0
		kill -0 "$(cat /run/drbdd-test.pid)" 2>/dev/null || break
		sleep 0.2
	done
	echo "drbdd did not start:"; tail -20 /tmp/drbdd.log
	return 1
}

node_pid() { cat /run/drbdd-test.pid 2>/dev/null; }
node_alive() { kill -0 "$(node_pid)" 2>/dev/null; }
node_stop() { local p; p=$(node_pid); [ -n "$p" ] && kill -${1:-TERM} "$p" 2>/dev/null; for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }

ctl() { bus_up && "$C" "$@"; }

# wait_until SECONDS CMD...: polls CMD until it succeeds.
wait_until() {
	local t=$1; shift
	local end=$(( $(date +%s) + t ))
	while [ "$(date +%s)" -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
	echo "timed out after ${t}s waiting for: $*"
	return 1
}

# state_is RES NODE STATE: the replica's observed state starts with STATE.
state_is() {
	ctl -o json r l "$1" | jq -e --arg n "$2" --arg s "$3" '.[] | select(.node == $n) | .state | startswith($s)' >/dev/null
}
# all_state RES STATE: every diskful replica of RES is in STATE.
all_state() {
	ctl -o json r l "$1" | jq -e --arg s "$2" '[.[] | select(.diskless == false) | .state | startswith($s)] | all and (length > 0)' >/dev/null
}

# Our LVs and DRBD resources on this node, sorted, space separated.
our_lvs() { lvs --noheadings -o lv_name drbdpool 2>/dev/null | tr -d ' ' | grep -E '_[0-9]{5}$' | sort | tr '\n' ' '; }
kernel_resources() { drbdsetup status 2>/dev/null | awk '/^[^ #]/ {print $1}' | sort | tr '\n' ' '; }

vg_setup() {
	vgs drbdpool >/dev/null 2>&1 && return 0
	pvcreate -q -y /dev/vda >/dev/null && vgcreate -q drbdpool /dev/vda >/dev/null
}

# etcd_start: a one-member etcd on this VM's lab address (for the cluster store).
etcd_start() {
	pgrep -x etcd >/dev/null && return 0
	mkdir -p /var/lib/etcd-lab
	# Also on eth1 when the host forwards a port to it (lab_start --forward).
	local fwd listen="http://$LAB_IP:2379,http://127.0.0.1:2379"
	fwd=$(ip -4 -o addr show dev eth1 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
	[ -n "$fwd" ] && listen+=",http://$fwd:2379"
	nohup etcd --name "$(hostname)" --data-dir /var/lib/etcd-lab \
		--listen-client-urls "$listen" --advertise-client-urls "http://$LAB_IP:2379" \
		--listen-peer-urls "http://127.0.0.1:2380" --initial-advertise-peer-urls "http://127.0.0.1:2380" \
		--initial-cluster "$(hostname)=http://127.0.0.1:2380" >/tmp/etcd.log 2>&1 &
	for _ in $(seq 100); do
		ETCDCTL_API=3 etcdctl --endpoints "http://$LAB_IP:2379" endpoint health >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "etcd did not start"; tail -20 /tmp/etcd.log; return 1
}

node_versions() { ctl -o json n l | jq -r 'map(."drbd-version") | join(",")'; }
# dialect_reported N: N nodes, each with the lab's dialect ($LAB_DRBD) from its kernel.
dialect_reported() {
	ctl -o json n l | jq -e --arg d "$LAB_DRBD" --argjson n "$1" \
		'length == $n and all(.[]; ."drbd-version" == $d and (.kernel.version // "" | startswith($d + ".")))' >/dev/null
}
pools_reported() { ctl -o json sp l | jq -e 'length > 0 and all(.[]; ."capacity-kib" > 0)' >/dev/null; }
# This node's role: the first line ("r1 role:Primary"); later lines hold
# the peers' ("peer role:Primary" on 8.4, "vm2 role:Primary" on 9).
is_primary() { drbdsetup status "$1" 2>/dev/null | head -n 1 | grep -q ' role:Primary'; }
dev_size() { local m=${1#/dev/drbd}; echo $(( $(cat /sys/block/drbd$m/size) * 512 )); }
size_at_least() { local m=${1#/dev/drbd}; [ $(( $(cat /sys/block/drbd$m/size 2>/dev/null || echo 0) * 512 )) -ge "$2" ]; }
converged() { [ "$(our_lvs)" = "$1" ] && [ "$(kernel_resources)" = "$2" ]; }
vd_kib() { ctl -o json vd l "$1" | jq '.[0]."size-kib"'; }
agent_total() { ctl node status | jq '."commands-total"'; }
agent_passes() { ctl node status | jq '.passes'; }
dev_of() { ctl -o json vd l "$1" | jq -r '.[0].device'; }
versions_are() { [ "$(node_versions)" = "$1" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# same_data DEV FILE: the first bytes of DEV equal FILE (no process substitution in the lab).
same_data() {
	local n; n=$(stat -c %s "$2")
	head -c "$n" "$1" >/tmp/same_data.$$ || return 1
	cmp -s /tmp/same_data.$$ "$2"; local rc=$?; rm -f /tmp/same_data.$$; return $rc
}
same_sum() { [ "$(head -c "$3" "$1" | sha256sum)" = "$(cat "$2")" ]; }
# moved_kib RES: KiB RES's first volume moved since it came up: /proc/drbd's
# ns:/nr: on 8.4; on 9 (whose counters showed 0 after a full resync) the size
# of the last resync the kernel announced ("will sync N KB"), 0 if none.
moved_kib() {
	if [ "$LAB_DRBD" = 9 ]; then
		dmesg | sed -n "s|.*drbd $1/0 .*Began resync as Sync[A-Za-z]* (will sync \([0-9]*\) KB.*|\1|p" | tail -n 1 | grep . || echo 0
		return
	fi
	local m; m=$(dev_of "$1"); m=${m#/dev/drbd}
	awk -v m="$m:" '$1 == m { f = 1; next } f { for (i = 1; i <= NF; i++) if ($i ~ /^n[sr]:/) { split($i, a, ":"); t += a[2] } print t + 0; exit }' /proc/drbd
}
zeros() { [ "$(head -c "$2" "$1" | tr -d '\0' | wc -c)" = 0 ]; }

# Snapshot / export helpers (tests/lab/test-snapshots.sh).
not_primary() { ! drbdsetup status "$1" 2>/dev/null | grep -q 'role:Primary'; }
lv_gone() { ! lvs drbdpool/"$1" >/dev/null 2>&1; }
# not_all_uptodate RES: some replica of RES left UpToDate (a revert started).
not_all_uptodate() { ctl -o json r l "$1" | jq -e 'any(.[]; .diskless == false and .state != "UpToDate")' >/dev/null; }
lio_has() { "$LAB_BUILD/drbdd-iscsi" show "$1" >/dev/null 2>&1; }
lio_gone() { ! lio_has "$1"; }

# DRBD 9 scenarios (tests/lab/test-drbd9.sh).
# writer_start DEV LOG [BASE]: a process that keeps DEV open (on DRBD 9 that
# makes this node Primary) and writes a numbered 4 KiB block every 0.2 s with
# O_SYNC, from block BASE (default 1024: 4 MiB) on. Each outcome is a line in
# LOG: "ok N SUM" only once the write returned (acknowledged), "err N ERRNO"
# when it failed.
writer_start() {
	nohup /usr/bin/python3 -c '
import hashlib, os, sys, time
dev, log, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(dev, os.O_RDWR | os.O_SYNC)
out = open(log, "a", buffering=1)
i = 0
while True:
    blk = ("block %d %f" % (i, time.time())).ljust(4096).encode()
    try:
        os.pwrite(fd, blk, (base + i) * 4096)
        out.write("ok %d %s\n" % (i, hashlib.sha256(blk).hexdigest()[:16]))
    except OSError as e:
        out.write("err %d %d\n" % (i, e.errno))
    i += 1
    time.sleep(0.2)
' "$1" "$2" "${3:-1024}" >/dev/null 2>&1 &
	echo $! >/run/writer.pid
}
writer_stop() { local p; p=$(cat /run/writer.pid 2>/dev/null) || return 0; kill "$p" 2>/dev/null; wait_until 30 gone "$p"; rm -f /run/writer.pid; }
acks() { local n; n=$(grep -c '^ok' "$1" 2>/dev/null); echo "${n:-0}"; }
errs() { local n; n=$(grep -c '^err' "$1" 2>/dev/null); echo "${n:-0}"; }
acks_at_least() { [ "$(acks "$1")" -ge "$2" ]; }
errs_at_least() { [ "$(errs "$1")" -ge "$2" ]; }
# verify_acks LOG DEV [BASE]: every acknowledged block reads back (O_DIRECT: from DRBD, not the page cache).
verify_acks() {
	local bad=0 n=0 _ i sum got base=${3:-1024}
	grep '^ok' "$1" >/tmp/verify_acks.$$
	while read -r _ i sum; do
		[ ${#sum} -eq 16 ] || continue
		n=$((n + 1))
		got=$(dd if="$2" bs=4096 skip=$((base + i)) count=1 iflag=direct status=none | sha256sum | cut -c1-16)
		[ "$got" = "$sum" ] || { echo "acknowledged write $i lost or damaged"; bad=$((bad + 1)); }
	done </tmp/verify_acks.$$
	rm -f /tmp/verify_acks.$$
	echo "$n acknowledged writes checked, $bad bad"
	[ $bad -eq 0 ] && [ $n -gt 0 ]
}
# Dual-primary window (test-drbd9.sh window): the kernel's net options of RES
# allow two primaries; this node's own role.
two_primaries() { drbdsetup show "$1" 2>/dev/null | grep -Eq "allow-two-primaries[[:space:]]+yes;"; }
one_primary_only() { ! two_primaries "$1"; }
my_role() { drbdsetup status "$1" 2>/dev/null | head -1 | sed -n 's/.* role:\([A-Za-z]*\).*/\1/p'; }
role_is() { [ "$(my_role "$1")" = "$2" ]; }
# kind_of RES NODE: Diskful, Diskless or TieBreaker as drbdctl lists it.
kind_of() { ctl r l "$1" | awk -v n="$2" '$2 == n { print $5 }'; }
node_id_of() { ctl -o json r l "$1" | jq -r --arg n "$2" '.[] | select(.node == $n) | ."node-id"'; }
# connected_to RES PEER: this node's connection to PEER is established.
connected_to() { drbdsetup status "$1" 2>/dev/null | grep -q "^  $2 role:"; }

# block_port PORT: this node sends nothing from or to TCP PORT (tc drop on
# eth0): its DRBD connections on that port cannot form. unblock_ports undoes it.
block_port() {
	tc qdisc add dev eth0 root handle 1: prio &&
		tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dport "$1" 0xffff action drop &&
		tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip sport "$1" 0xffff action drop
}
unblock_ports() { tc qdisc del dev eth0 root 2>/dev/null || true; }

# ---- libvirt on a compute VM (lab-openstack-check: live migration) ----------
# A system libvirtd running QEMU (TCG) as root without cgroups, namespaces or
# relabelling (the lab's root is a tmpfs overlay), listening on the lab
# segment only, without authentication, for migrations between the VMs.
libvirt_start() {
	# libvirtd looks its default QEMU user up before it reads qemu.conf (the
	# Debian package libvirt-daemon-system creates them; here the overlay).
	getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
	getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
	mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu
	cat >/etc/libvirt/qemu.conf <<EOC
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
cgroup_controllers = [ ]
namespaces = [ ]
migration_address = "$LAB_IP"
migration_host = "$LAB_IP"
EOC
	cat >/etc/libvirt/libvirtd.conf <<EOC
listen_tls = 0
listen_tcp = 1
listen_addr = "$LAB_IP"
auth_tcp = "none"
unix_sock_rw_perms = "0700"
EOC
	nohup libvirtd --listen >>/tmp/libvirtd.log 2>&1 &
	echo $! >/run/libvirtd-test.pid
	local pid=$! _
	for _ in $(seq 360); do
		virsh -c qemu:///system version >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	echo "libvirtd did not start:"; tail -20 /tmp/libvirtd.log
	return 1
}
# domain_start NAME DISK_XML_FILE: a QEMU domain with that disk, started
# paused: QEMU opens the disk (DRBD 9 promotes), the guest never runs.
domain_start() {
	cat >/tmp/$1.xml <<EOC
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
$(cat "$2")
    <memballoon model='none'/>
  </devices>
</domain>
EOC
	virsh -q define /tmp/$1.xml >/dev/null && virsh -q start --paused "$1"
}
domain_running() { virsh -q domstate "$1" 2>/dev/null | grep -Eq 'running|paused'; }
domain_gone() { ! domain_running "$1"; }
# domblk_bytes DOMAIN TARGET: the disk's capacity as the guest sees it.
domblk_bytes() { virsh domblkinfo "$1" "$2" | awk '/Capacity:/ {print $2}'; }
domblk_at_least() { [ "$(domblk_bytes "$1" "$2")" -ge "$3" ]; }
# drbd-nova-helper in the background (the lab's compute VMs), short graces.
nova_helper_start() {
	bus_up || return 1
	nohup "$LAB_BUILD/drbd-nova-helper" --interval 2 --window-grace 15 "$@" >>/tmp/nova-helper.log 2>&1 &
	echo $! >/run/nova-helper.pid
}
# iscsid_start INITIATOR: open-iscsi's iscsid with that initiator name (for
# os-brick's ISCSIConnector in lab-openstack-check).
iscsid_start() {
	modprobe iscsi_tcp
	mkdir -p /etc/iscsi /run/lock/iscsi
	echo "InitiatorName=$1" >/etc/iscsi/initiatorname.iscsi
	pgrep -x iscsid >/dev/null || iscsid
	wait_until 10 pgrep -x iscsid
}
