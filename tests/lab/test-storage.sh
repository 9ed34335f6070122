#!/bin/bash
# Lab tests of the agent's storage layer (drbdd/storage/storage*.c) on real LVM
# (thick and thin, on the VM's disk) and loop devices (file pool on ext4),
# through build/drbdd-storage-tool: create, probe against vgs/lvs, grow,
# snapshots, volume from snapshot, clone, revert, idempotence, refusals, and
# "a removed volume's data never shows in a later volume" for each backend.
#
#   tests/lab/test-storage.sh [TEST...]     default: all, in order
#   LAB_BUILD=/abs/build-dir (default: the repo's build/)
. "$(dirname "$0")/lab.sh"

# Prepended to every guest script: the tool, the pools and small checks.
guest_prelude() {
	cat <<EOF
set -eo pipefail
T=$LAB_BUILD/drbdd-storage-tool
EOF
	cat <<'EOF'
THICK='{"name":"thick","driver":"lvm","volume-group":"lab"}'
THIN='{"name":"thin","driver":"lvm-thin","volume-group":"lab","thin-pool":"tpool"}'
FILES='{"name":"files","driver":"file","directory":"/srv/drbdd-files"}'
# st POOL [--pool POOL...] COMMAND ARGS: must succeed; prints the tool's JSON
st() {
	local out rc=0
	out=$("$T" --pool "$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] || { echo "FAILED: storage-tool ${*: -3}: exit $rc: $out" >&2; exit 1; }
	printf '%s\n' "$out"
}
# dev POOL COMMAND ARGS: must succeed; prints the device path
dev() { st "$@" | jq -r .device; }
# st_err ERRNO POOL COMMAND ARGS: must fail with ERRNO
st_err() {
	local want=$1 out rc=0 got
	shift
	out=$("$T" --pool "$@" 2>&1) || rc=$?
	got=$(jq -r .errno <<<"$out" 2>/dev/null || true)
	[ "$rc" = 1 ] && [ "$got" = "$want" ] ||
		{ echo "FAILED: storage-tool ${*:2}: exit $rc, errno '$got', expected $want: $out" >&2; exit 1; }
	echo "ok: ${*:2} -> $want: $(jq -r .message <<<"$out")"
}
eq() { [ "$2" = "$3" ] || { echo "FAILED: $1: expected '$2', got '$3'" >&2; exit 1; }; echo "ok: $1 = '$3'"; }
# put DEV FILE: write FILE at 1 MiB into DEV (past anything lvcreate zeroes)
put() { dd if="$2" of="$1" bs=1M seek=1 oflag=direct conv=notrunc status=none; }
# sum DEV: sha256 of the 8 MiB at 1 MiB
sum() { dd if="$1" bs=1M skip=1 count=8 iflag=direct status=none | sha256sum | cut -c1-64; }
hash() { sha256sum <"$1" | cut -c1-64; }
# zeros DEV: the first 9 MiB (where put writes) read as zeros
zeros() {
	if dd if="$1" bs=1M count=9 iflag=direct status=none | cmp -s -n $((9 << 20)) - /dev/zero; then
		echo "ok: $1 reads zeros where the removed volume had data"
	else
		echo "FAILED: $1 shows old data" >&2; exit 1
	fi
}
kib() { awk '{ printf "%d", $1 }' <<<"$1"; }
pe() { lvs --noheadings -o seg_pe_ranges "lab/$1" | tr -d ' '; }
EOF
}

g() { # VM SCRIPT: run SCRIPT in VM with the prelude
	local vm=$1
	shift
	lab_run "$vm" "$(guest_prelude)
$*"
}

test_setup() {
	[ -x "$LAB_BUILD/drbdd-storage-tool" ] || lab_fail "$LAB_BUILD/drbdd-storage-tool missing: make BUILD=... storage-tool"
	g vm1 '"$T" --help >/dev/null
modprobe loop
pvcreate -q -y /dev/vda >/dev/null; vgcreate -q lab /dev/vda >/dev/null
lvcreate -q -y -L 512M -T lab/tpool >/dev/null
lvcreate -q -y -L 256M -n files lab >/dev/null
mkfs.ext4 -q /dev/lab/files; mkdir -p /srv/drbdd-files; mount /dev/lab/files /srv/drbdd-files
head -c 8M /dev/urandom >/tmp/A; head -c 8M /dev/urandom >/tmp/B
lvs lab'
}

test_invalid() {
	g vm1 'st_err EINVAL "$THICK" create "../etc" 64M
st_err EINVAL "$THICK" create "-rf" 64M
st_err EINVAL "$THIN" create snapshot1 64M
out=$("$T" --pool "{\"name\":\"bad\",\"driver\":\"lvm\",\"volume-group\":\"lab;reboot\"}" probe 2>&1) && exit 1
echo "ok: refused: $out"'
}

test_thick() {
	g vm1 'eq "device" /dev/lab/v1 "$(dev "$THICK" create v1 64M)"
eq "create again" /dev/lab/v1 "$(dev "$THICK" create v1 64M)"
eq "tag" drbdd "$(lvs --noheadings -o lv_tags lab/v1 | tr -d " ")"
st_err EEXIST "$THICK" create v1 128M
read -r size free ext <<<"$(vgs --noheadings --units k --nosuffix -o vg_size,vg_free,vg_extent_size lab)"
p=$(st "$THICK" probe)
eq "probe total = vgs vg_size" "$(kib $size)" "$(jq .[0].total_kib <<<"$p")"
eq "probe free = vgs vg_free" "$(kib $free)" "$(jq .[0].free_kib <<<"$p")"
eq "probe extent = vgs vg_extent_size" "$(kib $ext)" "$(jq .[0].extent_kib <<<"$p")"
eq "probe volumes (not the ext4 LV, not the thin pool)" "v1:65536" "$(jq -r ".[0].volumes|map(.name+\":\"+(.size_kib|tostring))|join(\",\")" <<<"$p")"
st "$THICK" resize v1 100M >/dev/null
eq "grown" 104857600 "$(blockdev --getsize64 /dev/lab/v1)"
st "$THICK" resize v1 64M >/dev/null
eq "never shrunk" 104857600 "$(blockdev --getsize64 /dev/lab/v1)"
st_err EOPNOTSUPP "$THICK" snapshot-create v1 s1
st_err EOPNOTSUPP "$THICK" clone v1 v9
exec 3</dev/lab/v1
st_err EBUSY "$THICK" remove v1
exec 3<&-
lvchange -q -an lab/v1
eq "attach activates" /dev/lab/v1 "$(dev "$THICK" attach v1)"
test -b /dev/lab/v1'
}

# Thick extents are reused as they are: the control shows that plain
# lvremove + lvcreate leaks, then the same with the storage layer does not.
test_thick_wipe() {
	g vm1 'lvcreate -q -y -W y -Z y -L 64M -n ctl lab >/dev/null; put /dev/lab/ctl /tmp/A; r1=$(pe ctl)
lvremove -q -y lab/ctl; lvcreate -q -y -W y -Z y -L 64M -n ctl2 lab >/dev/null
eq "control: the next LV gets the same extents" "$r1" "$(pe ctl2)"
eq "control: plain lvremove leaves the data readable" "$(hash /tmp/A)" "$(sum /dev/lab/ctl2)"
lvremove -q -y lab/ctl2
st "$THICK" create w1 64M >/dev/null; put /dev/lab/w1 /tmp/B; r2=$(pe w1)
eq "data written" "$(hash /tmp/B)" "$(sum /dev/lab/w1)"
t0=$(date +%s.%N); st "$THICK" remove w1 >/dev/null; t1=$(date +%s.%N)
echo "remove (blkdiscard --zeroout of 64 MiB + lvremove): $(awk -v a=$t0 -v b=$t1 "BEGIN { printf \"%.1f\", b - a }") s"
st "$THICK" remove w1 >/dev/null; echo "ok: remove again"
st "$THICK" create w2 64M >/dev/null
eq "w2 on the extents w1 had" "$r2" "$(pe w2)"
zeros /dev/lab/w2
st "$THICK" remove w2 >/dev/null; st "$THICK" remove v1 >/dev/null'
}

test_thin() {
	g vm1 'eq "device" /dev/lab/t1 "$(dev "$THIN" create t1 64M)"
dev "$THIN" create t1 64M >/dev/null; echo "ok: create again"
put /dev/lab/t1 /tmp/A
p=$(st "$THIN" probe)
read -r size dp mp <<<"$(lvs --noheadings --units k --nosuffix -o lv_size,data_percent,metadata_percent lab/tpool)"
eq "probe total = thin pool size" "$(kib $size)" "$(jq .[0].total_kib <<<"$p")"
eq "probe data_percent" "$dp" "$(jq -r ".[0].data_percent" <<<"$p" | awk "{ printf \"%.2f\", \$1 }")"
eq "probe metadata_percent" "$mp" "$(jq -r ".[0].metadata_percent" <<<"$p" | awk "{ printf \"%.2f\", \$1 }")"
eq "probe free" "$(awk -v s=$size -v d=$dp "BEGIN { u = s * d / 100; u = (u == int(u)) ? u : int(u) + 1; printf \"%d\", s - u }")" "$(jq .[0].free_kib <<<"$p")"
eq "probe virtual" 65536 "$(jq .[0].virtual_kib <<<"$p")"
eq "probe zeroing" true "$(jq .[0].zeroing <<<"$p")"
st "$THIN" snapshot-create t1 s1 >/dev/null
st "$THIN" snapshot-create t1 s1 >/dev/null; echo "ok: snapshot again"
put /dev/lab/t1 /tmp/B
eq "from-snapshot device" /dev/lab/t2 "$(dev "$THIN" from-snapshot s1 t2)"
dev "$THIN" from-snapshot s1 t2 >/dev/null; echo "ok: from-snapshot again"
eq "volume from snapshot has the old data" "$(hash /tmp/A)" "$(sum /dev/lab/t2)"
eq "the volume has the new data" "$(hash /tmp/B)" "$(sum /dev/lab/t1)"
eq "clone device" /dev/lab/t3 "$(dev "$THIN" clone t1 t3)"
dev "$THIN" clone t1 t3 >/dev/null; echo "ok: clone again"
eq "clone has the current data" "$(hash /tmp/B)" "$(sum /dev/lab/t3)"
exec 3</dev/lab/t1
st_err EBUSY "$THIN" revert t1 s1
exec 3<&-
st "$THIN" revert t1 s1 >/dev/null
eq "reverted to the snapshot" "$(hash /tmp/A)" "$(sum /dev/lab/t1)"
st "$THIN" revert t1 s1 >/dev/null; echo "ok: revert again"
p=$(st "$THIN" probe)
eq "after revert: snapshot kept, volumes" "s1:snap:t1 t1::s1 t2::s1 t3::" "$(jq -r "[.[0].volumes[]|.name+\":\"+(if .snapshot then \"snap\" else \"\" end)+\":\"+(.origin//\"\")]|join(\" \")" <<<"$p")"
st "$THIN" snapshot-create t1 s1 >/dev/null; echo "ok: snapshot-create after revert: still the same snapshot"
st "$THIN" resize t1 128M >/dev/null
eq "grown" 134217728 "$(blockdev --getsize64 /dev/lab/t1)"
eq "data kept" "$(hash /tmp/A)" "$(sum /dev/lab/t1)"
lvchange -q -an lab/t1
eq "attach activates" /dev/lab/t1 "$(dev "$THIN" attach t1)"
test -b /dev/lab/t1
st_err EINVAL "$THIN" remove s1
st "$THIN" snapshot-remove s1 >/dev/null; st "$THIN" snapshot-remove s1 >/dev/null
! lvs lab/s1 >/dev/null 2>&1; echo "ok: snapshot removed (twice)"
lvs -o lv_name,lv_attr,lv_size,pool_lv,origin,lv_tags lab'
}

test_thin_wipe() {
	g vm1 'eq "t3 holds data" "$(hash /tmp/B)" "$(sum /dev/lab/t3)"
st "$THIN" remove t3 >/dev/null; st "$THIN" remove t3 >/dev/null; echo "ok: removed twice"
st "$THIN" create t4 64M >/dev/null
zeros /dev/lab/t4
for v in t1 t2 t4; do st "$THIN" remove $v >/dev/null; done
eq "thin pool empty" "" "$(lvs --noheadings -o lv_name -S "pool_lv=tpool" lab | tr -d " ")"'
}

test_file() {
	g vm1 'F=/srv/drbdd-files/f1.img
eq "device" /dev/drbdd/f1 "$(dev "$FILES" create f1 64M)"
loop=$(readlink /dev/drbdd/f1)
eq "loop device of our file, direct I/O" "$F 1" "$(losetup -n -l -O BACK-FILE,DIO "$loop" | awk "{ print \$1, \$2 }")"
eq "sparse" 0 "$(du -k $F | cut -f1)"
dev "$FILES" create f1 64M >/dev/null
eq "create again: same loop device" "$loop" "$(readlink /dev/drbdd/f1)"
eq "one loop device" 1 "$(losetup -n -j $F | wc -l)"
st_err EEXIST "$FILES" create f1 128M
put /dev/drbdd/f1 /tmp/A
st "$FILES" resize f1 128M >/dev/null
eq "grown (loop capacity)" 134217728 "$(blockdev --getsize64 /dev/drbdd/f1)"
eq "data kept" "$(hash /tmp/A)" "$(sum /dev/drbdd/f1)"
# As after a reboot: no loop device, no link.
losetup -d "$loop"; rm /dev/drbdd/f1
dev "$FILES" attach f1 >/dev/null
eq "re-attached: data" "$(hash /tmp/A)" "$(sum /dev/drbdd/f1)"
loop=$(readlink /dev/drbdd/f1)
dev "$FILES" attach f1 >/dev/null
eq "attach again keeps the link" "$loop" "$(readlink /dev/drbdd/f1)"
ln -sfn /dev/loop7 /dev/drbdd/f1
dev "$FILES" attach f1 >/dev/null
eq "stale link repaired" "$loop" "$(readlink /dev/drbdd/f1)"
eq "still one loop device" 1 "$(losetup -n -j $F | wc -l)"
p=$(st "$FILES" probe)
eq "probe total = statvfs" "$(stat -f -c "%b %S" /srv/drbdd-files | awk "{ printf \"%d\", \$1 * \$2 / 1024 }")" "$(jq .[0].total_kib <<<"$p")"
eq "probe volumes" "f1:131072:true" "$(jq -r ".[0].volumes|map(.name+\":\"+(.size_kib|tostring)+\":\"+(.active|tostring))|join(\",\")" <<<"$p")"
st_err EOPNOTSUPP "$FILES" snapshot-create f1 s1
st_err EOPNOTSUPP "$FILES" clone f1 f9
# Held exclusively (mounted here; DRBD holds it the same way): not removed.
dev "$FILES" create f9 16M >/dev/null; mkfs.ext4 -q /dev/drbdd/f9; mkdir -p /mnt/f9; mount /dev/drbdd/f9 /mnt/f9
st_err EBUSY "$FILES" remove f9
umount /mnt/f9; st "$FILES" remove f9 >/dev/null
st "$FILES" remove f1 >/dev/null
test ! -e $F && test ! -L /dev/drbdd/f1 && echo "ok: file and link gone"
eq "loop device detached" "" "$(losetup -n -j $F)"
st "$FILES" remove f1 >/dev/null; echo "ok: remove again"
dev "$FILES" create f1 128M >/dev/null
zeros /dev/drbdd/f1
st "$FILES" remove f1 >/dev/null'
}

test_probe_all() {
	g vm1 'st "$THICK" create a1 8M >/dev/null; st "$THIN" create a2 8M >/dev/null; st "$FILES" create a3 8M >/dev/null
p=$(st "$THICK" --pool "$THIN" --pool "$FILES" probe)
eq "three reports, no errors" "thick:a1 thin:a2 files:a3" "$(jq -r "map(select(has(\"errno\")|not)|.pool+\":\"+(.volumes|map(.name)|join(\",\")))|join(\" \")" <<<"$p")"
p=$("$T" --pool "$THICK" --pool "{\"name\":\"gone\",\"driver\":\"lvm\",\"volume-group\":\"nosuch\"}" probe) && exit 1
eq "a missing VG fails only its pool" "thick: gone:ENOENT" "$(jq -r "map(.pool+\":\"+(.errno//\"\"))|join(\" \")" <<<"$p")"
jq -r ".[1].message" <<<"$p"
st "$THICK" remove a1 >/dev/null; st "$THIN" remove a2 >/dev/null; st "$FILES" remove a3 >/dev/null'
}

main() {
	local t0 tests=("$@") t rc=0
	[ ${#tests[@]} -gt 0 ] || tests=(setup invalid thick thick_wipe thin thin_wipe file probe_all)
	t0=$(lab__now)
	lab_start 1 --disks 2G || exit 1
	for t in "${tests[@]}"; do
		declare -F "test_$t" >/dev/null || lab_die "no test '$t'"
		# Not "lab_test ... || rc=1": bash would ignore set -e inside the test.
		lab_test "$t" "test_$t"
	done
	lab_summary || rc=1
	echo "lab: boot $(cat "$LAB_DIR/boot-seconds") s, total $(lab__since "$t0") s"
	exit $rc
}

main "$@"
