# WaitReady learns of observed state written by another node's agent through
# the service's observed-state watch (drbdd/service/service-watch.h), not
# only through the safety-net poll (2 s): a pending call is answered within
# a second of the observed object appearing in the store. The "agent" here
# is etcdctl writing the object a node's agent would write.
. "$(dirname "$0")/lib.sh"
t_start_etcd
t_start_bus
t_start_drbdd --agent=no --store "etcd:$T_ETCD_URL"
C=$DRBDCTL
CALL="$BUILD/drbdd-call"

expect_rc 0 "node alpha" -- $C n c alpha 10.0.0.1
expect_rc 0 "node beta" -- $C n c beta 10.0.0.2
for n in alpha beta; do $C sp c lvm $n thick vg --capacity 100G >/dev/null; done
expect_rc 0 "rg thick" -- $C rg c thick --storage-pool thick
expect_rc 0 "spawn w1 (two diskful replicas)" -- $C rg spawn thick w1 1G

# wait_observed NODE DESC: WaitReady for w1 on NODE, then the observed object
# of a replica that finished its initial sync appears; the call must return
# it within a second (the safety net alone would take up to 2 s).
wait_observed() {
	local node=$1 desc=$2 start rc ms
	$CALL WaitReady sst "[\"w1\",\"$node\",20000000]" >"$T_DIR/wait-$node.out" 2>&1 &
	local wpid=$!
	sleep 0.5 # pending, and its watch open
	start=$(date +%s%N)
	t_etcdctl put "/drbdd/obs/$node/w1" '{"state": "UpToDate", "initial-sync": true, "kernel": {"role": "Secondary"}}' >/dev/null
	wait $wpid; rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	if [ $rc -eq 0 ] && grep -q UpToDate "$T_DIR/wait-$node.out" && [ $ms -lt 1000 ]; then
		pass "$desc: answered ${ms} ms after the observed object was written"
	else
		fail "$desc: rc=$rc after ${ms} ms: $(head -3 "$T_DIR/wait-$node.out")"
	fi
}
expect_rc 10 "w1 on alpha not ready yet" -- $C r wr alpha w1 --timeout 1
wait_observed alpha "WaitReady on alpha"
# Once more, with the watch opened afresh (nothing was pending in between).
wait_observed beta "WaitReady on beta"
t_drbdd_alive && pass "drbdd alive" || fail "drbdd died"
t_done
