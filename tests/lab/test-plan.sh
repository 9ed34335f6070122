#!/bin/bash
# show-commands tells the truth: for a new replica on a thick LVM pool and on
# an LVM thin pool, `drbdctl r cmd` is taken before the agent acts, and the
# commands the agent then ran for that resource (its command log,
# DRBDD_EXEC_LOG, probes left out) are exactly those, in that order.
# Up to UpToDate: the create path and the initial sync of a lone replica.
# One VM, DRBD 9 (LAB_DRBD), the SQLite store.
set -u
. "$(dirname "$0")/lab.sh"
G=". $LAB_REPO/tests/lab/guest/node.sh;"

test_setup() {
	lab_run -t 180 vm1 "$G"'set -e; vg_setup
lvs drbdpool/thin >/dev/null 2>&1 || lvcreate -q -L 512M -Zy -T drbdpool/thin >/dev/null
export DRBDD_EXEC_LOG=/tmp/exec.log
rm -f $DRBDD_EXEC_LOG
node_start
ctl n c vm1 10.99.0.1
ctl sp c lvm vm1 thick drbdpool; ctl sp c lvm-thin vm1 thin drbdpool/thin
ctl rg c thick --place-count 1 --storage-pool thick
ctl rg c thin --place-count 1 --storage-pool thin
wait_until 60 pools_reported || { ctl sp l; exit 1; }
[ -s $DRBDD_EXEC_LOG ] || { echo "no command log"; exit 1; }
echo "ok: the agent logs its commands ($(wc -l <$DRBDD_EXEC_LOG) so far)"'
}

# create RD GROUP: show-commands before, the agent's commands after.
test_create() {
	lab_run -t 300 vm1 "$G"'set -e; rd='"$1"'
ctl rg spawn '"$2"' $rd 64M
ctl r cmd vm1 $rd >/tmp/$rd.shown
wait_until 180 all_state $rd UpToDate || { ctl r l $rd; tail -30 /tmp/drbdd.log; exit 1; }
echo "--- show-commands (before):"; cat /tmp/$rd.shown
grep -v "^#" /tmp/$rd.shown >/tmp/$rd.want
# What ran for this resource, without the read-only probes (lvs, vgs).
grep -E "(^|[ /])$rd([ /_]|\$)" /tmp/exec.log | grep -Ev "^(lvs|vgs) " >/tmp/$rd.ran || true
echo "--- the agent ran:"; cat /tmp/$rd.ran
n=$(wc -l </tmp/$rd.want)
[ "$n" -ge 4 ] || { echo "show-commands printed only $n commands"; exit 1; }
diff -u /tmp/$rd.want /tmp/$rd.ran || { echo "the agent ran other commands than show-commands printed"; exit 1; }
echo "ok: $rd: the agent ran exactly the $n commands show-commands printed, in order (up to UpToDate)"
ctl rd d $rd
wait_until 120 converged "" "" || { our_lvs; kernel_resources; exit 1; }
echo "ok: $rd deleted"'
}

main() {
	local t0 rc
	t0=$(lab__now)
	lab_start 1 --disks 2G || exit 1
	lab_test "plan setup" test_setup
	lab_test "plan create on thick LVM" test_create p1 thick
	lab_test "plan create on LVM thin" test_create p2 thin
	lab_summary; rc=$?
	[ $rc -eq 0 ] || lab_run vm1 'echo "--- vm1 drbdd.log"; tail -60 /tmp/drbdd.log'
	echo "lab: plan tests total $(lab__since "$t0") s"
	exit $rc
}
main "$@"
