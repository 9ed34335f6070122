# 8 concurrent clients create 500 resources (definition + volume each):
# every create succeeds and no minor or port is handed out twice.
. "$(dirname "$0")/lib.sh"
t_start_bus
t_start_drbdd
C=$DRBDCTL
N=500; P=8
worker() {
	local w=$1 i rc=0
	for ((i = w; i < N; i += P)); do
		$C rd c "res$i" >/dev/null && $C vd c "res$i" 64M >/dev/null || { echo "worker $w: res$i failed"; rc=1; }
	done
	return $rc
}
pids=()
for ((w = 0; w < P; w++)); do worker $w & pids+=($!); done
errors=0
for p in "${pids[@]}"; do wait "$p" || errors=$((errors + 1)); done
[ $errors -eq 0 ] && pass "all $P workers finished without errors" || fail "$errors workers saw errors"

rds=$($C -o json rd l)
vds=$($C -o json vd l)
n_rd=$(echo "$rds" | jq length); n_vd=$(echo "$vds" | jq length)
[ "$n_rd" = $N ] && pass "$N resource definitions" || fail "resource definitions: $n_rd"
[ "$n_vd" = $N ] && pass "$N volumes" || fail "volumes: $n_vd"
dup_ports=$(echo "$rds" | jq '[.[].port] | length - (unique | length)')
dup_minors=$(echo "$vds" | jq '[.[].minor] | length - (unique | length)')
[ "$dup_ports" = 0 ] && pass "zero duplicate ports" || fail "$dup_ports duplicate ports"
[ "$dup_minors" = 0 ] && pass "zero duplicate minors" || fail "$dup_minors duplicate minors"
range=$(echo "$rds" | jq '[.[].port] | (min >= 7000 and max <= 7999)')
[ "$range" = true ] && pass "ports within 7000-7999" || fail "ports out of range"

# Concurrent deletes and creates keep allocations consistent too.
pids=()
for ((w = 0; w < P; w++)); do
	( for ((i = w; i < 100; i += P)); do $C rd d "res$i" >/dev/null; $C rd c "new$i" >/dev/null && $C vd c "new$i" 64M >/dev/null; done ) &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: that would also wait for the bus and drbdd
rds=$($C -o json rd l); vds=$($C -o json vd l)
dup=$(echo "$rds" | jq '[.[].port] | length - (unique | length)')
dupm=$(echo "$vds" | jq '[.[].minor] | length - (unique | length)')
n=$(echo "$rds" | jq length)
[ "$dup" = 0 ] && [ "$dupm" = 0 ] && [ "$n" = $N ] && pass "after churn: $n definitions, no duplicates" ||
	fail "after churn: n=$n dup ports=$dup dup minors=$dupm"
t_done
