# Lab harness library: boots 1-4 real Linux kernels under QEMU (TCG) on an
# isolated network and drives them through an in-guest agent. Source it from
# bash; see docs/lab.md for the design and tests/lab/smoke.sh for a user.
#
#   lab_start N [--disks SIZE...] [--mem MiB] [--forward VM:PORT...]
#                                               boot vm1..vmN in parallel
#   lab_forward VM PORT                         host port forwarded to VM:PORT
#   lab_run [-t SECS] VM CMD...                 guest rc, stdout, stderr
#   lab_copy_in VM LOCAL REMOTE / lab_copy_out VM REMOTE LOCAL
#   lab_poweroff VM / lab_link VM up|down / lab_restart VM / lab_stop
#
# VM is "vm1".."vm4" or "1".."4". Harness errors (VM not running, no answer)
# print "lab: ..." on stderr and return 255, like ssh.
#
# State lives in files under $LAB_DIR (one run), so subshells, background
# jobs and a second process (tests/lab/lab run ...) can drive the same VMs.

LAB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_HOME/../.." && pwd)
: "${LAB_BUILD:=$LAB_REPO/build}"
: "${LAB_MEM:=1024}"
: "${LAB_SMP:=1}"
: "${LAB_BOOT_TIMEOUT:=300}"
: "${LAB_RUN_TIMEOUT:=300}"
: "${LAB_NET:=10.99.0}"
: "${LAB_FWD_IP:=10.0.2.15}"
: "${LAB_TMP:=/tmp}"
LAB_PORTS_DIR=$LAB_TMP/drbdd-lab.ports
# The DRBD dialect the guests run: 9 (built from LAB_DRBD9_SRC, the default)
# or 8.4 (Debian's own module).
: "${LAB_DRBD:=9}"
export LAB_DRBD
: "${LAB_DRBD9_SRC:=$(cd "$LAB_HOME/../../.." && pwd)/shared/drbd9/drbd-9.2.19.tar.gz}"
LAB_KERNEL_MODULES="virtio_pci 9pnet_virtio 9p overlay"

if [ -z "${LAB_CACHE:-}" ]; then
	if mkdir -p /var/cache/drbdd-lab 2>/dev/null && [ -w /var/cache/drbdd-lab ]; then
		LAB_CACHE=/var/cache/drbdd-lab
	else
		LAB_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/drbdd-lab
	fi
fi

lab_log() { echo "lab: $*" >&2; }
lab_die() { lab_log "$*"; exit 1; }
lab__now() { echo "${EPOCHREALTIME/,/.}"; }
lab__since() { awk -v a="$1" -v b="$(lab__now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- kernel cache -----------------------------------------------------------

# lab_deps: make sure a Debian kernel is unpacked in $LAB_CACHE and an
# initramfs for it exists. Downloads with apt-get only when the kernel is not
# cached yet. LAB_KERNEL_PKG=linux-image-X-amd64 picks a given kernel.
lab_deps() {
	local pkg kver dir tmp lk
	mkdir -p "$LAB_CACHE" || return 1
	case "$LAB_CACHE" in "$LAB_TMP"/*) lab_log "LAB_CACHE must not be under $LAB_TMP (the guests mount a tmpfs there)"; return 1 ;; esac
	exec {lk}>"$LAB_CACHE/.lock"
	flock "$lk"
	pkg=${LAB_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')}
	if [ -z "$pkg" ]; then
		if [ -s "$LAB_CACHE/current" ]; then
			pkg=linux-image-$(<"$LAB_CACHE/current")
		else
			lab_log "cannot resolve linux-image-amd64 (apt-get update?)"
			exec {lk}>&-
			return 1
		fi
	fi
	kver=${pkg#linux-image-}
	dir=$LAB_CACHE/$kver
	if [ ! -e "$dir/.ok" ]; then
		lab_log "fetching $pkg into $LAB_CACHE"
		rm -rf "$dir" "$dir.new"
		tmp=$(mktemp -d "$LAB_CACHE/.dl.XXXXXX")
		if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1; apt-get download -q -o APT::Sandbox::User=root "$pkg"; }); then
			lab_log "apt-get download $pkg failed"
			rm -rf "$tmp"
			exec {lk}>&-
			return 1
		fi
		mkdir -p "$dir.new/root" &&
			dpkg-deb -x "$tmp"/*.deb "$dir.new/root" &&
			cp "$dir.new/root/boot/vmlinuz-$kver" "$dir.new/vmlinuz" &&
			rm -rf "$dir.new/root/usr" "$dir.new/root/boot" &&
			depmod -b "$dir.new/root" "$kver" &&
			touch "$dir.new/.ok" && mv "$dir.new" "$dir"
		local rc=$?
		rm -rf "$tmp"
		if [ $rc != 0 ]; then
			lab_log "unpacking $pkg failed"
			exec {lk}>&-
			return 1
		fi
	fi
	echo "$kver" >"$LAB_CACHE/current.new" && mv "$LAB_CACHE/current.new" "$LAB_CACHE/current"
	lab__initrd "$kver" >/dev/null && { [ "$LAB_DRBD" = 8.4 ] || lab__drbd9 "$kver"; }
	local rc=$?
	exec {lk}>&-
	return $rc
}

# lab__drbd9 KVER: build the DRBD 9 modules for KVER from $LAB_DRBD9_SRC once
# (cached per kernel and source checksum) and lay out a second module tree,
# $LAB_CACHE/KVER/root-drbd9, with them in place of Debian's 8.4 drbd.ko
# (hard links to the unpacked tree otherwise, so it costs no space).
lab__drbd9() {
	local kver=$1 dir=$LAB_CACHE/$1 sum b tree=$LAB_CACHE/$1/root-drbd9 t0 m
	if [ ! -r "$LAB_DRBD9_SRC" ]; then
		if [ -e "$tree/.ok" ]; then # built before from a source that is gone now: keep using it
			lab_log "DRBD 9 source $LAB_DRBD9_SRC missing; using the module built before ($(cat "$tree/.ok"))"
			return 0
		fi
		lab_log "DRBD 9 source missing: $LAB_DRBD9_SRC"
		lab_log "  put LINBIT's drbd-9.x release tarball there or set LAB_DRBD9_SRC=PATH;"
		lab_log "  LAB_DRBD=8.4 runs the lab on Debian's DRBD 8.4 module instead"
		return 1
	fi
	sum=$(sha256sum "$LAB_DRBD9_SRC" | cut -c1-12)
	b=$dir/drbd9-$sum
	if [ ! -e "$b/.ok" ]; then
		[ -d "/usr/src/linux-headers-$kver" ] || "$LAB_REPO/tools/install-deps" <(echo "linux-headers-$kver") || {
			lab_log "linux-headers-$kver is needed to build DRBD 9"; return 1; }
		command -v spatch >/dev/null || "$LAB_REPO/tools/install-deps" <(echo coccinelle) || return 1
		lab_log "building DRBD 9 ($(basename "$LAB_DRBD9_SRC")) for $kver, once (one to three minutes on 2 cores)"
		t0=$(lab__now)
		rm -rf "$b" "$b.new" && mkdir -p "$b.new/src" &&
			tar -xzf "$LAB_DRBD9_SRC" -C "$b.new/src" --strip-components=1 || { lab_log "cannot unpack $LAB_DRBD9_SRC"; return 1; }
		# SPAAS=false: never ask LINBIT's online spatch service (unreachable here).
		if ! make -C "$b.new/src" -j"$(nproc)" module KDIR="/usr/src/linux-headers-$kver" KVER="$kver" SPAAS=false \
			>"$b.new/build.log" 2>&1; then
			lab_log "building DRBD 9 failed; last lines of $b.new/build.log:"
			tail -n 20 "$b.new/build.log" | sed 's/^/lab: | /' >&2
			return 1
		fi
		# All of them: drbd_transport_tcp needs handshake.ko (built in a
		# subfolder) on kernels without net/handshake, such as 6.1.
		mkdir -p "$b.new/ko" && find "$b.new/src/drbd/build-current/" -name '*.ko' -exec cp {} "$b.new/ko/" \; &&
			[ -e "$b.new/ko/drbd.ko" ] && rm -rf "$b.new/src" && touch "$b.new/.ok" && mv "$b.new" "$b" ||
			{ lab_log "DRBD 9 build left no drbd.ko"; return 1; }
		rm -rf "$tree"
		lab_log "DRBD 9 built in $(lab__since "$t0") s"
	fi
	if [ ! -e "$tree/.ok" ] || [ "$(cat "$tree/.ok")" != "$sum" ]; then
		rm -rf "$tree" "$tree.new"
		cp -al "$dir/root" "$tree.new" || return 1
		rm -rf "$tree.new/lib/modules/$kver/kernel/drivers/block/drbd"
		m=$tree.new/lib/modules/$kver/updates/drbd9
		mkdir -p "$m" && cp "$b/ko/"*.ko "$m/" &&
			depmod -b "$tree.new" "$kver" &&
			[ "$(modinfo -b "$tree.new" -k "$kver" -F version drbd)" != 8.4.11 ] &&
			modprobe -d "$tree.new" -S "$kver" --show-depends drbd_transport_tcp >/dev/null &&
			echo "$sum" >"$tree.new/.ok" && mv "$tree.new" "$tree" || { lab_log "cannot lay out the DRBD 9 module tree"; return 1; }
	fi
}

# lab__modules KVER: the module tree the guests boot with for $LAB_DRBD.
lab__modules() {
	case "$LAB_DRBD" in
	8.4) echo "$LAB_CACHE/$1/root/lib/modules" ;;
	9) echo "$LAB_CACHE/$1/root-drbd9/lib/modules" ;;
	*) lab_log "LAB_DRBD must be 9 or 8.4, not '$LAB_DRBD'"; return 1 ;;
	esac
}

# lab__initrd KVER: print the path of the initramfs for KVER, building it when
# the stage-1 init, busybox or the module list changed.
lab__initrd() {
	local kver=$1 dir=$LAB_CACHE/$1 sum out tmp m
	sum=$(cat "$LAB_HOME/guest/initramfs-init" /bin/busybox <(echo "$LAB_KERNEL_MODULES") | sha1sum | cut -c1-12)
	out=$dir/initrd-$sum.img
	if [ ! -s "$out" ]; then
		tmp=$(mktemp -d) || return 1
		mkdir -p "$tmp"/{bin,dev,proc,sys,modules}
		cp /bin/busybox "$tmp/bin/busybox"
		cp "$LAB_HOME/guest/initramfs-init" "$tmp/init"
		chmod 755 "$tmp/init" "$tmp/bin/busybox"
		mknod "$tmp/dev/console" c 5 1 2>/dev/null
		for m in $LAB_KERNEL_MODULES; do
			modprobe -d "$dir/root" -S "$kver" --show-depends "$m" || { rm -rf "$tmp"; return 1; }
		done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r m; do
			cp "$m" "$tmp/modules/" && basename "$m" >>"$tmp/modules/order"
		done
		(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.new" && mv "$out.new" "$out"
		rm -rf "$tmp"
		[ -s "$out" ] || { lab_log "building the initramfs failed"; return 1; }
	fi
	echo "$out"
}

lab__kernel() { # sets lab_kver, lab_vmlinuz, lab_initrd, fetching on first use
	lab_kver=${LAB_KVER:-$(cat "$LAB_CACHE/current" 2>/dev/null)}
	if [ -z "$lab_kver" ] || [ ! -e "$LAB_CACHE/$lab_kver/.ok" ] ||
		{ [ "$LAB_DRBD" = 9 ] && [ ! -e "$LAB_CACHE/$lab_kver/root-drbd9/.ok" ]; }; then
		lab_deps || return 1
		lab_kver=$(<"$LAB_CACHE/current")
	fi
	lab_vmlinuz=$LAB_CACHE/$lab_kver/vmlinuz
	lab_initrd=$(lab__initrd "$lab_kver") || return 1
}

# ---- run directory, ports, process hygiene --------------------------------

lab__vm() { # normalise "vm2" / "2" to "vm2"; fail for VMs not in this run
	local n=${1#vm}
	if [[ ! $n =~ ^[1-9]$ ]] || [ -z "${LAB_DIR:-}" ] || [ ! -d "$LAB_DIR/vm$n" ]; then
		lab_log "no such VM '$1' (LAB_DIR=${LAB_DIR:-unset})"
		return 1
	fi
	echo "vm$n"
}

lab__alive() { # PID is alive, not a zombie, and one of this run's QEMUs
	local pid=$1 st
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	st=$(<"/proc/$pid/stat") 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$LAB_DIR/" || return 1
}

lab__pid() { cat "$LAB_DIR/$1/qemu.pid" 2>/dev/null || true; } # empty when powered off (safe under set -e)

lab_vm_running() { # VM: true when its QEMU runs
	local vm
	vm=$(lab__vm "$1") || return 1
	lab__alive "$(lab__pid "$vm")"
}

# Claim a UDP port for the run's multicast segment, unique among lab runs on
# this host (claims of dead runs are reclaimed) and not bound by anything.
lab__claim_port() {
	local lk p i owner odir
	mkdir -p "$LAB_PORTS_DIR" || return 1
	exec {lk}>"$LAB_PORTS_DIR/.lock"
	flock "$lk"
	for ((i = 0; i < 200; i++)); do
		p=$((40000 + (RANDOM * 32768 + RANDOM) % 20000))
		if [ -e "$LAB_PORTS_DIR/$p" ]; then
			read -r owner odir <"$LAB_PORTS_DIR/$p"
			if kill -0 "$owner" 2>/dev/null || [ -d "$odir" ]; then
				continue
			fi
		fi
		ss -Huan 2>/dev/null | awk '{ print $4 }' | grep -q ":$p\$" && continue
		echo "$$ $LAB_DIR" >"$LAB_PORTS_DIR/$p"
		exec {lk}>&-
		echo "$p"
		return 0
	done
	exec {lk}>&-
	lab_log "no free UDP port for the lab network"
	return 1
}

# A TCP port on 127.0.0.1 that nothing listens on (QEMU binds it at start;
# a clash with another program in between makes QEMU fail loudly).
lab__free_tcp_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 20000))
		ss -Htln 2>/dev/null | awk '{ print $4 }' | grep -q ":$p\$" || { echo "$p"; return 0; }
	done
	lab_log "no free TCP port for a forward"
	return 1
}

# lab_forward VM PORT: the host port (on 127.0.0.1) forwarded to PORT on VM.
lab_forward() {
	local vm v
	vm=$(lab__vm "$1") || return 255
	lab__env || return 255
	v=LAB_FWD_${vm}_$2
	[ -n "${!v:-}" ] || { lab_log "no forward to $vm:$2 (lab_start --forward $vm:$2)"; return 1; }
	echo "${!v}"
}

# Kill every QEMU of the run (hard), then release the port claim.
lab__kill_all() {
	local f pid
	for f in "$LAB_DIR"/vm*/qemu.pid; do
		[ -e "$f" ] || continue
		pid=$(<"$f")
		lab__alive "$pid" && kill -KILL "$pid" 2>/dev/null
	done
	for f in "$LAB_DIR"/vm*/qemu.pid; do
		[ -e "$f" ] || continue
		pid=$(<"$f")
		for _ in $(seq 50); do lab__alive "$pid" || break; sleep 0.1; done
		rm -f "$f"
	done
	[ -n "${LAB_PORT:-}" ] && rm -f "$LAB_PORTS_DIR/$LAB_PORT"
}

# A watchdog reaps the VMs should the harness die without running its traps
# (SIGKILL, OOM): it polls the owner's pid once a second.
lab__watchdog() {
	local owner=$1
	(
		trap '' INT HUP TERM
		exec </dev/null >/dev/null 2>&1
		while kill -0 "$owner" 2>/dev/null; do sleep 1; done
		lab__kill_all
		rm -f "$LAB_DIR"/vm*/disk*.img "$LAB_DIR"/vm*/*.in "$LAB_DIR"/vm*/*.out
	) &
	echo $! >"$LAB_DIR/watchdog.pid"
}

lab__on_exit() {
	local rc=$1
	trap - EXIT INT TERM HUP
	lab_stop "$rc"
	exit "$rc"
}

# ---- starting VMs -----------------------------------------------------------

# lab_start N [--disks SIZE...] [--mem MiB] [--forward VM:PORT...] [--detach | --shell]
# Boots vm1..vmN in parallel, each with its own data disks (sparse files,
# virtio-blk: /dev/vda, /dev/vdb, ... in the guest; default one 2G disk), and
# waits until every agent answers.
#   --forward VM:PORT  a free TCP port on the host's 127.0.0.1 reaches PORT
#             on VM (lab_forward VM PORT prints it). The VM gets a second
#             NIC, eth1 = $LAB_FWD_IP, on a QEMU user network with
#             restrict=on: nothing from the guest leaves through it, only
#             the host's connections to the forwarded ports come in. Creates $LAB_DIR (exported) and installs
# EXIT/INT/TERM/HUP traps that call lab_stop; call it from the main shell of
# the test script, not from a $(...) or pipeline.
#   --detach  no traps and no watchdog: the VMs stay up until lab_stop
#             (tests/lab/lab start).
#   --shell   vm1 runs in the foreground with a root shell on its serial
#             console on this terminal; returns when vm1 powers off.
lab_start() {
	local n=$1 disks=() fwds=() detach=0 shell=0 t0 i vm d f
	shift || true
	[[ $n =~ ^[1-4]$ ]] || { lab_log "lab_start: N must be 1..4"; return 1; }
	while [ $# -gt 0 ]; do
		case "$1" in
		--disks) shift; while [ $# -gt 0 ] && [[ $1 != --* ]]; do disks+=("$1"); shift; done ;;
		--mem) LAB_MEM=$2; shift 2 ;;
		--forward) shift; while [ $# -gt 0 ] && [[ $1 != --* ]]; do fwds+=("$1"); shift; done ;;
		--detach) detach=1; shift ;;
		--shell) shell=1; shift ;;
		*) lab_log "lab_start: unknown option $1"; return 1 ;;
		esac
	done
	[ ${#disks[@]} -gt 0 ] || disks=(2G)
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] && { lab_log "a lab is already running in $LAB_DIR"; return 1; }
	command -v qemu-system-x86_64 >/dev/null || { lab_log "qemu-system-x86_64 missing: make deps"; return 1; }
	[ -x /lib/systemd/systemd-udevd ] || { lab_log "udev missing on the host: make deps"; return 1; }
	case "$LAB_HOME$LAB_BUILD" in *" "*) lab_log "paths with spaces are not supported"; return 1 ;; esac
	lab__kernel || return 1

	t0=$(lab__now)
	LAB_DIR=$(mktemp -d "$LAB_TMP/drbdd-lab.XXXXXX") || return 1
	export LAB_DIR
	LAB_DETACHED=$detach
	if [ $detach = 0 ]; then
		trap 'lab__on_exit $?' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		trap 'exit 129' HUP
	fi
	LAB_PORT=$(lab__claim_port) || return 1
	LAB_MCAST=239.255.$((RANDOM % 256)).$((RANDOM % 254 + 1))
	{
		echo "LAB_N=$n"
		echo "LAB_PORT=$LAB_PORT"
		echo "LAB_MCAST=$LAB_MCAST"
		echo "LAB_MEM=$LAB_MEM"
		echo "LAB_SMP=$LAB_SMP"
		echo "LAB_BUILD=$LAB_BUILD"
		echo "LAB_OWNER=$$"
		echo "LAB_DETACHED=$detach"
		echo "LAB_KVER=$lab_kver"
		echo "LAB_DRBD=$LAB_DRBD"
		echo "LAB_9P_CACHE=${LAB_9P_CACHE:-}"
		for f in "${fwds[@]}"; do
			[[ $f =~ ^vm([1-4]):([0-9]{1,5})$ ]] && [ "${BASH_REMATCH[1]}" -le "$n" ] ||
				{ lab_log "lab_start: --forward wants vmI:PORT with I <= $n, not '$f'"; return 1; }
			echo "LAB_FWD_vm${BASH_REMATCH[1]}_${BASH_REMATCH[2]}=$(lab__free_tcp_port)"
		done
	} >"$LAB_DIR/lab.env"
	. "$LAB_DIR/lab.env"
	[ $detach = 1 ] || lab__watchdog $$
	lab_log "run dir $LAB_DIR, kernel $lab_kver, network $LAB_NET.0/24 on udp $LAB_MCAST:$LAB_PORT"

	for ((i = 1; i <= n; i++)); do
		d=$LAB_DIR/vm$i
		mkdir -p "$d"
		local k=0 s
		for s in "${disks[@]}"; do
			k=$((k + 1))
			truncate -s "$s" "$d/disk$k.img" || return 1
		done
	done
	if [ $shell = 1 ]; then
		for ((i = 2; i <= n; i++)); do
			lab__qemu_start "vm$i" || return 1
		done
		lab_log "vm1: root shell on this terminal (Ctrl-a x kills QEMU); exit the shell to stop the lab"
		[ "$n" -gt 1 ] && lab_log "other terminals: LAB_DIR=$LAB_DIR $LAB_HOME/lab run vm2 CMD..."
		lab__qemu_start vm1 --foreground
		return
	fi
	for ((i = 1; i <= n; i++)); do
		lab__qemu_start "vm$i" || return 1
	done
	local rc=0
	for ((i = 1; i <= n; i++)); do
		lab_wait "vm$i" || rc=1
	done
	[ $rc = 0 ] || { lab_log "boot failed; console logs in $LAB_DIR/vm*/console.log"; return 1; }
	lab_log "$n VM(s) up in $(lab__since "$t0") s"
	echo "$(lab__since "$t0")" >"$LAB_DIR/boot-seconds"
}

lab__env() { # load the run's parameters (for processes other than the starter)
	[ -n "${LAB_DIR:-}" ] && [ -r "$LAB_DIR/lab.env" ] || { lab_log "no lab running (LAB_DIR=${LAB_DIR:-unset})"; return 1; }
	[ -n "${LAB_PORT:-}" ] || . "$LAB_DIR/lab.env"
}

# lab__qemu_start VM [--foreground]: launch QEMU for VM. In the foreground
# (lab-shell) the serial console is this terminal and a shell runs on it.
lab__qemu_start() {
	local vm=$1 fg=${2:-} i d args disk k=0 append
	i=${vm#vm}
	d=$LAB_DIR/$vm
	lab__env || return 1
	[ -n "${lab_vmlinuz:-}" ] || lab__kernel || return 1
	rm -f "$d/qmp.ok"
	for p in agent qmp; do
		for s in in out; do [ -p "$d/$p.$s" ] || mkfifo "$d/$p.$s"; done
	done
	append="console=ttyS0 panic=-1 net.ifnames=0 ipv6.disable=1 mitigations=off"
	append+=" 8250.nr_uarts=1 loglevel=${LAB_LOGLEVEL:-4}"
	append+=" lab.name=$vm lab.ip=$LAB_NET.$i lab.net=$LAB_NET"
	append+=" lab.stage2=$LAB_HOME/guest/stage2 lab.modules=$(lab__modules "$lab_kver")"
	# cache=loose is faster, but a guest may then not see files changed on
	# the host after it read them; the interactive shell uses cache=none.
	local cache=${LAB_9P_CACHE:-loose}
	[ "$fg" = --foreground ] && cache=${LAB_9P_CACHE:-none}
	append+=" lab.build=$LAB_BUILD lab.9pcache=$cache lab.drbd=$LAB_DRBD"
	[ "$fg" = --foreground ] && append+=" lab.shell=1"
	local fwd hostfwd=
	for fwd in $(compgen -v "LAB_FWD_${vm}_"); do
		hostfwd+=",hostfwd=tcp:127.0.0.1:${!fwd}-$LAB_FWD_IP:${fwd##*_}"
	done
	[ -n "$hostfwd" ] && append+=" lab.fwdip=$LAB_FWD_IP"
	# shellcheck disable=SC2054 # commas are QEMU syntax
	args=(
		-name "lab-$vm,debug-threads=on" -accel tcg -cpu max -smp "$LAB_SMP" -m "$LAB_MEM"
		-nodefaults -no-user-config -display none -no-reboot
		-kernel "$lab_vmlinuz" -initrd "$lab_initrd" -append "$append"
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
		-device virtio-serial-pci
		-chardev "pipe,id=agent,path=$d/agent"
		-device virtserialport,chardev=agent,name=lab.agent
		-chardev "pipe,id=qmp,path=$d/qmp" -mon chardev=qmp,mode=control
		-netdev "socket,id=net0,mcast=$LAB_MCAST:$LAB_PORT,localaddr=127.0.0.1"
		-device "virtio-net-pci,netdev=net0,id=nic0,mac=52:54:00:99:00:0$i"
		-device virtio-rng-pci
	)
	if [ -n "$hostfwd" ]; then
		args+=(-netdev "user,id=net1,restrict=on,net=${LAB_FWD_IP%.*}.0/24$hostfwd"
			-device "virtio-net-pci,netdev=net1,id=nic1,mac=52:54:00:99:01:0$i")
	fi
	for disk in "$d"/disk*.img; do
		[ -e "$disk" ] || continue
		k=$((k + 1))
		args+=(-drive "file=$disk,if=none,id=disk$k,format=raw,cache=unsafe,discard=unmap"
			-device "virtio-blk-pci,drive=disk$k,serial=lab-$vm-disk$k")
	done
	if [ "$fg" = --foreground ]; then
		# In the foreground so that QEMU keeps the terminal as stdin.
		args+=(-serial mon:stdio -pidfile "$d/qemu.pid")
		echo "qemu-system-x86_64 ${args[*]}" >"$d/qemu.cmdline"
		qemu-system-x86_64 "${args[@]}"
		return
	fi
	args+=(-chardev "file,id=console,path=$d/console.log,append=on" -serial chardev:console)
	echo "qemu-system-x86_64 ${args[*]}" >"$d/qemu.cmdline"
	echo "==== lab: $vm start $(date '+%F %T') ====" >>"$d/console.log"
	local setsid=
	[ "${LAB_DETACHED:-0}" = 1 ] && setsid=setsid # survive the terminal's hangup
	$setsid qemu-system-x86_64 "${args[@]}" </dev/null >>"$d/qemu.log" 2>&1 &
	echo $! >"$d/qemu.pid"
	disown $! # no "Killed" notice from bash on a hard power-off
}

# lab_wait VM [SECS]: wait until VM's agent answers (after boot or restart).
lab_wait() {
	local vm t0 out
	vm=$(lab__vm "$1") || return 255
	t0=$(lab__now)
	out=$(LAB_QUIET=1 lab_run -t "${2:-$LAB_BOOT_TIMEOUT}" "$vm" 'echo ready') || {
		lab_log "$vm did not come up; see $LAB_DIR/$vm/console.log"
		tail -n 20 "$LAB_DIR/$vm/console.log" | sed "s/^/lab: $vm| /" >&2
		return 1
	}
	[ "$out" = ready ] || { lab_log "$vm agent answered '$out'"; return 1; }
	lab_log "$vm ready after $(lab__since "$t0") s"
}

# ---- control channel --------------------------------------------------------

# lab_run [-t SECS] VM CMD...: run CMD in VM as root (cwd /root, stdin
# /dev/null, env from /etc/lab.env: LAB_NAME, LAB_IP, LAB_BUILD). One
# argument is a bash script; several are quoted into one command line.
# Prints the command's stdout and stderr; returns its exit code (124 when
# the guest-side timeout, default $LAB_RUN_TIMEOUT, fired; 255 when the
# harness could not get an answer).
lab_run() {
	local tmo=$LAB_RUN_TIMEOUT vm script
	if [ "${1:-}" = -t ]; then tmo=$2; shift 2; fi
	vm=$(lab__vm "${1:-}") || return 255
	shift
	[ $# -gt 0 ] || { lab_log "lab_run: no command"; return 255; }
	if [ $# = 1 ]; then script=$1; else script=$(printf '%q ' "$@"); fi
	lab__rpc "$vm" "$tmo" "$script"
}

# lab__rpc VM TIMEOUT SCRIPT: one request/response over the agent channel.
lab__rpc() {
	local vm=$1 tmo=$2 script=$3 d=$LAB_DIR/$1 lk fin fout id b64 n pid
	local line state=wait rc=255 deadline tmp of ef t0
	pid=$(lab__pid "$vm")
	lab__alive "$pid" || { lab_log "$vm is not running"; return 255; }
	t0=$(lab__now)
	tmp=$(mktemp -d "$LAB_DIR/.rpc.XXXXXX") || return 255
	exec {lk}>"$d/agent.lock"
	flock "$lk"
	exec {fin}<>"$d/agent.in" {fout}<>"$d/agent.out" {of}>"$tmp/out" {ef}>"$tmp/err"
	id=$$-$BASHPID-$RANDOM$RANDOM
	b64=$(printf '%s\n' "$script" | base64 -w 76)
	n=$(printf '%s\n' "$b64" | wc -l)
	printf 'REQ %s %s %s\n%s\n' "$id" "$tmo" "$n" "$b64" >&"$fin"
	# The guest kills the command after TIMEOUT (+5 s for KILL); allow for
	# transfer time on top, then give up.
	deadline=$((SECONDS + tmo + 30 + ${#b64} / 20000))
	while :; do
		if ! IFS= read -r -t 1 -u "$fout" line; then
			if ! lab__alive "$pid"; then
				lab_log "$vm stopped while running: ${script%%$'\n'*}"
				break
			fi
			if [ $SECONDS -ge $deadline ]; then
				lab_log "$vm: no answer after ${tmo}s: ${script%%$'\n'*}"
				break
			fi
			continue
		fi
		case "$state:$line" in
		"wait:RESP $id "*) rc=${line##* }; state=out ;;
		wait:*) ;;
		"out:ERR $id") state=err ;;
		out:*) printf '%s\n' "$line" >&"$of" ;;
		"err:END $id") state=end; break ;;
		err:*) printf '%s\n' "$line" >&"$ef" ;;
		esac
	done
	exec {fin}>&- {fout}>&- {of}>&- {ef}>&- {lk}>&-
	if [ $state = end ]; then
		base64 -d <"$tmp/out"
		base64 -d <"$tmp/err" >&2
	else
		rc=255
	fi
	rm -rf "$tmp"
	[ -n "${LAB_QUIET:-}" ] ||
		printf '%s %s rc=%s %ss: %s\n' "$(date +%T)" "$vm" "$rc" "$(lab__since "$t0")" \
			"${script%%$'\n'*}" >>"$LAB_DIR/commands.log"
	return "$rc"
}

# lab_copy_in VM LOCAL REMOTE: copy a (small) file into the guest, keeping
# its mode; REMOTE's directory is created.
lab_copy_in() {
	local vm=$1 src=$2 dst=$3 mode
	[ -f "$src" ] || { lab_log "lab_copy_in: no file $src"; return 255; }
	mode=$(stat -c %a "$src")
	lab_run "$vm" "set -e
mkdir -p \"\$(dirname $(printf %q "$dst"))\"
base64 -d >$(printf %q "$dst") <<'LAB_EOF'
$(base64 -w 76 "$src")
LAB_EOF
chmod $mode $(printf %q "$dst")"
}

# lab_copy_out VM REMOTE LOCAL: copy a (small) file out of the guest.
lab_copy_out() {
	local vm=$1 src=$2 dst=$3 rc
	lab_run "$vm" cat "$src" >"$dst.lab-tmp"
	rc=$?
	if [ $rc = 0 ]; then mv "$dst.lab-tmp" "$dst"; else rm -f "$dst.lab-tmp"; fi
	return $rc
}

# ---- QEMU monitor (QMP over a pipe) and fault primitives ------------------

# lab_qmp VM JSON-COMMAND: send one QMP command, print its reply line;
# returns 1 on a QMP error, 255 when QEMU does not answer.
lab_qmp() {
	local vm d pid lk fin fout line id rc=255 deadline
	vm=$(lab__vm "$1") || return 255
	d=$LAB_DIR/$vm
	pid=$(lab__pid "$vm")
	lab__alive "$pid" || { lab_log "$vm is not running"; return 255; }
	exec {lk}>"$d/qmp.lock"
	flock "$lk"
	exec {fin}<>"$d/qmp.in" {fout}<>"$d/qmp.out"
	deadline=$((SECONDS + 30))
	if [ ! -e "$d/qmp.ok" ]; then
		printf '{"execute":"qmp_capabilities","id":"lab-caps"}\n' >&"$fin"
		while [ $SECONDS -lt $deadline ]; do
			IFS= read -r -t 1 -u "$fout" line || continue
			[[ $line == *'"id": "lab-caps"'* ]] && { touch "$d/qmp.ok"; break; }
		done
	fi
	id=lab-$RANDOM$RANDOM
	printf '%s\n' "${2%\}},\"id\":\"$id\"}" >&"$fin"
	while [ $SECONDS -lt $deadline ]; do
		IFS= read -r -t 1 -u "$fout" line || { lab__alive "$pid" || break; continue; }
		line=${line%$'\r'}
		case "$line" in
		*"\"id\": \"$id\""*)
			echo "$line"
			[[ $line == '{"return"'* ]] && rc=0 || rc=1
			break
			;;
		esac
	done
	exec {fin}>&- {fout}>&- {lk}>&-
	[ $rc != 255 ] || lab_log "$vm: no QMP answer"
	return $rc
}

# lab_link VM up|down: plug or unplug VM's network cable (QMP set_link).
lab_link() {
	local up
	case "$2" in up) up=true ;; down) up=false ;; *) lab_log "lab_link: up or down"; return 255 ;; esac
	lab_qmp "$1" "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"net0\",\"up\":$up}}" >/dev/null
}

# lab_poweroff VM: hard power-off (SIGKILL to QEMU); disks keep what was
# written (cache=unsafe only drops flushes; the host page cache survives).
lab_poweroff() {
	local vm pid
	vm=$(lab__vm "$1") || return 255
	pid=$(lab__pid "$vm")
	if lab__alive "$pid"; then
		kill -KILL "$pid"
		for _ in $(seq 100); do lab__alive "$pid" || break; sleep 0.1; done
		lab_log "$vm powered off"
	fi
	rm -f "$LAB_DIR/$vm/qemu.pid"
}

# lab_restart VM: hard power-off (if running), boot again with the same
# disks, wait for the agent.
lab_restart() {
	local vm t0
	vm=$(lab__vm "$1") || return 255
	t0=$(lab__now)
	lab_poweroff "$vm"
	lab__qemu_start "$vm" || return 1
	lab_wait "$vm" || return 1
	lab_log "$vm restarted in $(lab__since "$t0") s"
}

# lab_stop [RC]: kill every VM of the run. With RC 0 (default) and no
# LAB_KEEP=1 the run dir goes; otherwise it stays (disk images removed unless
# LAB_KEEP=1) and the console logs' tails are printed.
lab_stop() {
	local rc=${1:-0} f
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] || return 0
	[ -n "${LAB_PORT:-}" ] || . "$LAB_DIR/lab.env" 2>/dev/null
	if [ -r "$LAB_DIR/watchdog.pid" ]; then
		kill "$(<"$LAB_DIR/watchdog.pid")" 2>/dev/null
		rm -f "$LAB_DIR/watchdog.pid"
	fi
	if [ "$rc" != 0 ]; then # the kernel log says more than the console
		for f in "$LAB_DIR"/vm*; do
			lab__alive "$(lab__pid "${f##*/}")" || continue
			LAB_QUIET=1 lab__rpc "${f##*/}" 10 'dmesg -T' >"$f/dmesg.log" 2>&1
		done
	fi
	lab__kill_all
	if [ "$rc" = 0 ] && [ "${LAB_KEEP:-0}" != 1 ]; then
		rm -rf "$LAB_DIR"
	else
		[ "${LAB_KEEP:-0}" = 1 ] || rm -f "$LAB_DIR"/vm*/disk*.img
		rm -f "$LAB_DIR"/vm*/*.in "$LAB_DIR"/vm*/*.out
		if [ "$rc" != 0 ]; then
			for f in "$LAB_DIR"/vm*/console.log; do
				[ -e "$f" ] || continue
				lab_log "---- last lines of $f"
				tail -n 15 "$f" | sed 's/^/lab: | /' >&2
			done
		fi
		lab_log "run dir kept: $LAB_DIR (vm*/console.log, vm*/dmesg.log, commands.log)"
	fi
	unset LAB_DIR LAB_PORT
}

# ---- small test framework ---------------------------------------------------

# lab_test NAME FUNC [ARGS...]: run FUNC in a subshell with errexit, time
# it, record PASS/FAIL in $LAB_DIR/results. Output is indented.
lab_test() {
	local name=$1 t0 rc secs
	shift
	t0=$(lab__now)
	echo "---- $name"
	(set -eo pipefail; "$@") 2>&1 | sed -u 's/^/    /'
	rc=${PIPESTATUS[0]}
	secs=$(lab__since "$t0")
	if [ "$rc" = 0 ]; then
		echo "PASS $name (${secs}s)"
		echo "PASS $secs $name" >>"$LAB_DIR/results"
	else
		echo "FAIL $name (${secs}s, rc=$rc)"
		echo "FAIL $secs $name" >>"$LAB_DIR/results"
	fi
	return "$rc"
}

# lab_summary: print the results table; return 1 if any test failed.
lab_summary() {
	local fails
	echo "==== lab results"
	sed 's/^\([A-Z]*\) \([0-9.]*\) \(.*\)/\1 \3 (\2s)/' "$LAB_DIR/results"
	fails=$(grep -c '^FAIL' "$LAB_DIR/results")
	[ "$fails" = 0 ]
}

lab_fail() { echo "FAILED: $*" >&2; exit 1; }

# lab_expect_eq WHAT EXPECTED ACTUAL
lab_expect_eq() {
	[ "$2" = "$3" ] || lab_fail "$1: expected '$2', got '$3'"
	echo "ok: $1 = '$3'"
}
