#!/bin/bash
# The devstack plugin (devstack/) without devstack: bashate on every file,
# then plugin.sh sourced phase by phase in stack.sh's order with devstack's
# functions replaced by recorders (sudo, apt_get, start_service, ... record
# their arguments and run nothing; iniset writes real ini files). Checks the
# resulting cinder.conf, drbdd.conf and tempest.conf, the order of the
# calls per phase, a compute-only node of a multi-node setup, a given
# DRBD_DEVICE, "make install" instead of packages, and the clean-up.
. "$(dirname "$0")/../integration/lib.sh"
t_need bashate python3-bashate
PLUGIN=$SRCDIR/devstack

# ---- bashate, with devstack's own settings (E006 long lines ignored;
# E005 and E042 errors) ----
out=$(cd "$PLUGIN" && bashate -v -iE006 -eE005,E042 plugin.sh settings override-defaults lib/* 2>&1)
rc=$?
n=$(grep -c '^Running bashate on' <<<"$out")
[ $rc = 0 ] && [ "$n" -ge 4 ] && pass "bashate: $n devstack files clean" || fail "bashate ($n files): $out"

# ---- the recorders ----
# scenario NAME: a fresh subshell environment in $T_DIR/NAME; REC is the
# record, one "PHASE| command args" per call.
recorders() {
	REC=$S/record
	: >"$REC"
	PHASE=load
	rec() { echo "$PHASE| $*" >>"$REC"; }
	is_service_enabled() {
		local s
		for s in "$@"; do [[ ",$ENABLED_SERVICES," == *",$s,"* ]] && return 0; done
		return 1
	}
	define_plugin() { rec define_plugin "$@"; }
	echo_summary() { :; }
	die() { rec die "$*"; echo "die: $*" >&2; exit 1; }
	install_package() { rec install_package "$@"; }
	apt_get() { rec apt_get "$@"; }
	DRBDD_UP=0
	start_service() { rec start_service "$@"; DRBDD_UP=1; }
	stop_service() { rec stop_service "$@"; DRBDD_UP=0; }
	make() { rec make "$@"; }
	truncate() { rec truncate "$@"; : >"$3"; }
	curl() { rec curl "$@"; }
	lsblk() { rec lsblk "$@"; }
	sleep() { :; }
	iniset() {
		rec iniset "$@"
		/usr/bin/python3 - "$@" <<'PY'
import configparser, sys
path, section, key, value = sys.argv[1:5]
c = configparser.ConfigParser(interpolation=None)
c.optionxform = str
c.read(path)
if section != "DEFAULT" and not c.has_section(section):
    c.add_section(section)
c.set(section, key, value)
with open(path, "w") as f:
    c.write(f)
PY
	}
	VG_EXISTS=0
	sudo() {
		rec sudo "$@"
		case "$1" in
		tee) shift; command tee "$@" ;;
		drbdctl) shift; fake_drbdctl "$@" ;;
		vgs) [ "$VG_EXISTS" = 1 ] ;;
		vgcreate) VG_EXISTS=1 ;;
		vgremove) VG_EXISTS=0 ;;
		lvs) [[ "$*" == *--noheadings* ]] && echo "  $DRBD_THINPOOL"; [[ "$*" == *--noheadings* ]] ;;
		losetup)
			[ "$2" = -f ] && echo /dev/loop7
			[ "$2" = -j ] && echo "/dev/loop7: [2049]:12 ($3)"
			return 0 ;;
		pvs) echo "  ${FAKE_PV_VG:-}" ;;
		esac
	}
	fake_drbdctl() {
		[ "$DRBDD_UP" = 1 ] || return 8
		case "$*" in
		"-o json rd l") echo '[{"name": "volume-1", "resource-group": "cinder"}, {"name": "other", "resource-group": "gold"}]' ;;
		"${DRBDCTL_FAIL:-none}"*) return 5 ;;
		"node create"*) return "${NODE_CREATE_RC:-0}" ;;
		esac
		return 0
	}
	# What devstack sets before plugins run.
	DEST=$S/dest DATA_DIR=$S/data STACK_USER=stack HOST_IP=10.0.0.5 SERVICE_HOST=10.0.0.1
	CINDER_CONF=$S/cinder.conf TEMPEST_CONFIG=$S/tempest.conf DRBD_CONF_FILE=$S/drbdd.conf
	DRBD_DIR=$SRCDIR DRBD_DEB_DIR=$S/debs
	mkdir -p "$DEST" "$DATA_DIR" "$DRBD_DEB_DIR"
	touch "$DRBD_DEB_DIR/drbdd_1_amd64.deb" "$DRBD_DEB_DIR/python3-drbd-cinder_1_amd64.deb"
}

# lib/cinder's calls of the backend hooks, as devstack makes them.
cinder_backends() { # HOOK: configure|init|cleanup
	local be
	for be in ${CINDER_ENABLED_BACKENDS//,/ }; do
		if type "$1_cinder_backend_${be%%:*}" >/dev/null 2>&1; then
			"$1_cinder_backend_${be%%:*}" "${be##*:}"
		fi
	done
}

phase() { # MODE [PHASE]
	PHASE="$*"
	# shellcheck disable=SC1091
	source "$PLUGIN/plugin.sh" "$@"
}

# stack.sh's order: override-defaults, settings, pre-install, install,
# configure_cinder, post-config, init_cinder, start_cinder, extra,
# test-config.
run_stack() {
	# shellcheck disable=SC1091
	source "$PLUGIN/override-defaults"
	# shellcheck disable=SC1091
	source "$PLUGIN/settings"
	phase stack pre-install
	phase stack install
	if is_service_enabled c-vol; then
		PHASE=configure_cinder
		iniset "$CINDER_CONF" DEFAULT enabled_backends "${CINDER_ENABLED_BACKENDS#*:}"
		cinder_backends configure
	fi
	phase stack post-config
	if is_service_enabled c-vol; then
		PHASE=init_cinder
		cinder_backends init
		PHASE=start_cinder
		rec START c-vol
	fi
	phase stack extra
	phase stack test-config
}
run_unstack() {
	phase unstack
	if is_service_enabled c-vol; then
		PHASE=cleanup_cinder
		cinder_backends cleanup
	fi
}

ini() { /usr/bin/python3 -c '
import configparser, sys
c = configparser.ConfigParser(interpolation=None); c.optionxform = str; c.read(sys.argv[1])
print(c.get(sys.argv[2], sys.argv[3], fallback="<unset>"))' "$@"; }
# line REGEX: the record's first line number matching REGEX (0: none).
line() { grep -nE -- "$1" "$S/record" | head -1 | cut -d: -f1 | grep . || echo 0; }
# in_order REGEX...: each matches, in this order.
in_order() {
	local prev=0 n r
	for r in "$@"; do
		n=$(line "$r")
		[ "$n" -gt "$prev" ] || { echo "'$r' at line $n, not after line $prev"; return 1; }
		prev=$n
	done
}

# ---- 1. one node with c-vol and tempest, from packages ----
S=$T_DIR/single
mkdir -p "$S"
(
	recorders
	ENABLED_SERVICES=c-api,c-sch,c-vol,n-cpu,etcd3,tempest
	CINDER_ENABLED_BACKENDS=
	run_stack
	echo "stack done" >>"$S/done"
	run_unstack
	phase clean
	echo "clean done" >>"$S/done"
) >"$S/out" 2>&1
[ "$(cat "$S/done" 2>/dev/null)" = "stack done
clean done" ] && pass "single node: stack, unstack and clean ran" || fail "single node: $(tail -5 "$S/out")"
node=$(uname -n)
got="$(ini "$S/cinder.conf" DEFAULT enabled_backends) $(ini "$S/cinder.conf" drbd-1 volume_driver)"
got+=" $(ini "$S/cinder.conf" drbd-1 volume_backend_name) $(ini "$S/cinder.conf" drbd-1 drbd_resource_group)"
got+=" $(ini "$S/cinder.conf" drbd-1 drbd_local_node) $(ini "$S/cinder.conf" drbd-1 drbd_transport)"
[ "$got" = "drbd-1 drbd_cinder.driver.DrbdDriver drbd-1 cinder $node drbd" ] &&
	pass "cinder.conf: enabled_backends = drbd-1 (override-defaults), [drbd-1] section" || fail "cinder.conf: $got"
grep -qx "node-name = $node" "$S/drbdd.conf" && grep -qx "allowed-users = stack" "$S/drbdd.conf" &&
	! grep -q '^store' "$S/drbdd.conf" && pass "drbdd.conf: node name, stack user allowed, SQLite store" ||
	fail "drbdd.conf: $(cat "$S/drbdd.conf")"
o=$(in_order '^stack pre-install\| install_package drbd-utils' \
	"^stack install\| apt_get build-dep $SRCDIR\$" \
	"^stack install\| apt_get install --no-install-recommends $S/debs/drbdd_1_amd64.deb $S/debs/python3-drbd-cinder_1_amd64.deb\$" \
	"^stack install\| sudo tee $S/drbdd.conf" '^stack install\| sudo usermod -a -G drbdd stack' \
	'^stack install\| start_service drbdd' \
	'^configure_cinder\| iniset .* drbd-1 volume_driver' \
	"^stack post-config\| sudo drbdctl node create $node 10.0.0.5" \
	"^stack post-config\| truncate -s 24G $S/data/drbd-pool.img" \
	"^stack post-config\| sudo losetup -f --show $S/data/drbd-pool.img" \
	'^stack post-config\| sudo vgcreate drbdpool /dev/loop7' \
	'^stack post-config\| sudo lvcreate -l 90%FREE -T drbdpool/thin' \
	"^stack post-config\| sudo drbdctl storage-pool create lvm-thin $node pool1 drbdpool/thin" \
	'^init_cinder\| sudo drbdctl resource-group create cinder --place-count=1 --storage-pool=pool1' \
	'^start_cinder\| START c-vol' \
	'^stack test-config\| iniset .*tempest.conf compute-feature-enabled volume_multiattach') &&
	pass "stack: packages, drbdd.conf, group, drbdd started; node, loop VG, pool, group; all before c-vol starts" ||
	fail "stack order: $o; record: $(cut -c1-110 "$S/record")"
[ "$(line 'make .*deb')" = 0 ] && pass "debs already in DRBD_DEB_DIR: no make deb" || fail "make deb ran with debs present"
devs=$(grep -E '\| sudo (vgcreate|pvcreate|lvcreate|wipefs|dd|mkfs)' "$S/record" | grep -vE 'vgcreate drbdpool /dev/loop7$|lvcreate -l 90%FREE -T drbdpool/thin$')
[ -z "$devs" ] && pass "no disk touched but the loop device" || fail "other disks: $devs"
# settings: what it says, outside devstack.
settings() {
	set +u
	define_plugin() { :; }
	# shellcheck disable=SC1091
	source "$PLUGIN/settings"
	echo "$DRBD_SUPPORTS_MULTIATTACH $DRBD_SUPPORTS_ONLINE_EXTEND $DRBD_SUPPORTS_REVERT"
}
read -r ma ext rev < <(settings)
# lvm-thin (the default pool): snapshots, and revert as the driver can.
want="$ma $ext $rev True DRBD DRBD"
got="$(ini "$S/tempest.conf" compute-feature-enabled volume_multiattach) $(ini "$S/tempest.conf" volume-feature-enabled extend_attached_volume)"
got+=" $(ini "$S/tempest.conf" volume-feature-enabled volume_revert) $(ini "$S/tempest.conf" volume-feature-enabled snapshot)"
got+=" $(ini "$S/tempest.conf" volume storage_protocol) $(ini "$S/tempest.conf" volume vendor_name)"
[ "$got" = "$want" ] &&
	pass "tempest.conf: multiattach, extend attached, revert, snapshot, DRBD: $got" || fail "tempest.conf: $got, wanted $want"
o=$(in_order '^unstack\| sudo drbdctl -o json rd l' '^unstack\| sudo drbdctl rd delete volume-1' \
	'^unstack\| sudo drbdctl rg delete cinder' "^unstack\| sudo drbdctl sp delete $node pool1" \
	"^unstack\| sudo drbdctl node delete $node" '^unstack\| stop_service drbdd' \
	'^unstack\| sudo vgremove -f drbdpool' '^unstack\| sudo losetup -d /dev/loop7' \
	'^clean\| sudo apt-get purge -y drbdd python3-drbd-cinder' '^clean\| sudo gpasswd -d stack drbdd')
[ -n "$o" ] && fail "unstack/clean order: $o; record: $(grep -E '^(unstack|cleanup|clean)' "$S/record" | cut -c1-100)" ||
	{ [ "$(line 'rd delete other')" = 0 ] && [ ! -e "$S/data/drbd-pool.img" ] &&
		pass "unstack: cinder's volumes, group, pool, node deleted, drbdd stopped, VG and loop gone; clean: purged, stack user out of group drbdd" ||
		fail "unstack deleted another group's volume or left the loop file"; }

# ---- 2. a compute-only node of a multi-node setup, from source ----
S=$T_DIR/compute
mkdir -p "$S"
(
	recorders
	ENABLED_SERVICES=n-cpu,placement-client
	DRBD_INSTALL_FROM=source
	run_stack
	echo done >"$S/done"
) >"$S/out" 2>&1
[ -s "$S/done" ] && grep -qx "store = etcd:http://10.0.0.1:2379" "$S/drbdd.conf" &&
	pass "compute node: drbdd joins the controller's etcd" || fail "compute node drbdd.conf: $(cat "$S/drbdd.conf" 2>&1) $(tail -3 "$S/out")"
o=$(in_order "^stack install\| make -C $SRCDIR NO_DEPS=1 install-build" \
	"^stack install\| sudo make -C $SRCDIR NO_DEPS=1 PREFIX=/usr PYTHONDIR=.* install" \
	'^stack install\| sudo systemd-sysusers drbdd.conf' '^stack install\| start_service drbdd' \
	'^stack install\| start_service drbd-nova-helper' \
	"^stack post-config\| sudo drbdctl node create $node 10.0.0.5")
[ -z "$o" ] && [ "$(line 'vgcreate|storage-pool create|resource-group create|losetup')" = 0 ] && [ ! -e "$S/cinder.conf" ] &&
	pass "compute node: make install, drbdd started, node registered; no storage, no group, no cinder.conf" ||
	fail "compute node: $o; $(cut -c1-100 "$S/record")"

# ---- 3. a given DRBD_DEVICE; a node that exists already ----
S=$T_DIR/device
mkdir -p "$S"
(
	recorders
	ENABLED_SERVICES=c-vol
	DRBD_DEVICE=/dev/vdz NODE_CREATE_RC=4 DRBDD_UP=1
	# shellcheck disable=SC1091
	source "$PLUGIN/settings"
	phase stack post-config
	echo done >"$S/done"
) >"$S/out" 2>&1
[ -s "$S/done" ] && [ "$(line 'vgcreate drbdpool /dev/vdz$')" != 0 ] && [ "$(line 'losetup|truncate')" = 0 ] &&
	pass "DRBD_DEVICE: the VG on it, no loop device; an existing node is fine" || fail "DRBD_DEVICE: $(cut -c1-100 "$S/record") $(tail -3 "$S/out")"

# ---- 4. refusals: a DRBD_DEVICE that is no block device; a failing drbdctl ----
S=$T_DIR/refuse
mkdir -p "$S"
touch "$S/file"
(
	recorders
	ENABLED_SERVICES=c-vol
	DRBD_DEVICE=$S/file
	# shellcheck disable=SC1091
	source "$PLUGIN/settings"
	phase stack pre-install
	echo done >"$S/done"
) >"$S/out" 2>&1
[ ! -e "$S/done" ] && grep -q "die.*not a block device" "$S/record" && [ "$(line 'install_package')" = 0 ] &&
	pass "pre-install refuses a DRBD_DEVICE that is not a block device, before anything" || fail "device refusal: $(cat "$S/record")"
rm -f "$S/done"
(
	recorders
	ENABLED_SERVICES=c-vol
	DRBDCTL_FAIL="storage-pool create" DRBDD_UP=1
	# shellcheck disable=SC1091
	source "$PLUGIN/settings"
	phase stack post-config
	echo done >"$S/done"
) >"$S/out" 2>&1
[ ! -e "$S/done" ] && grep -q "die.*drbdctl storage-pool create .*exit 5" "$S/record" &&
	pass "a failing drbdctl stops stack.sh (die)" || fail "drbdctl failure not fatal: $(tail -3 "$S/record")"

# ---- 5. the flags in devstack/settings are what the driver reports ----
DRV=$SRCDIR/cinder-backend/drbd_cinder/driver.py
# A value the driver computes (online_extend = cfg.drbd_transport == ... or
# cfg.drbd_nova_helper) is evaluated for the plugin's settings: this
# plugin's transport, and drbd_nova_helper at its default (True): the plugin
# starts drbd-nova-helper on every compute node.
drv=$(DRBD_TRANSPORT=$(. "$PLUGIN/settings" >/dev/null 2>&1; echo "$DRBD_TRANSPORT") /usr/bin/python3 - "$DRV" <<'PY'
import ast, os, sys, types
tree = ast.parse(open(sys.argv[1]).read())
vals = {"multiattach": set(), "online_extend_support": set()}
assigned = {}
revert = False
cfg = types.SimpleNamespace(drbd_transport=os.environ["DRBD_TRANSPORT"], drbd_nova_helper=True)
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        assigned[node.targets[0].id] = node.value
for node in ast.walk(tree):
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values):
            if isinstance(k, ast.Constant) and k.value in vals:
                if isinstance(v, ast.Name) and v.id in assigned:
                    v = ast.Constant(eval(compile(ast.Expression(assigned[v.id]), "driver.py", "eval"), {"cfg": cfg}))
                vals[k.value].add(ast.unparse(v))
    if isinstance(node, ast.FunctionDef) and node.name == "revert_to_snapshot":
        revert = True
def one(s):
    return s.pop() if len(s) == 1 else "/".join(sorted(s)) or "missing"
print(one(vals["multiattach"]), one(vals["online_extend_support"]), revert)
PY
)
[ "$drv" = "$ma $ext $rev" ] && pass "settings DRBD_SUPPORTS_* ($ma $ext $rev) match driver.py" ||
	fail "devstack/settings says '$ma $ext $rev', driver.py reports '$drv': change DRBD_SUPPORTS_* in devstack/settings"
t_done
