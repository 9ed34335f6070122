# Bash completion for drbdctl: static objects, verbs and options checked
# against "drbdctl --help" and the per-command help, and dynamic names
# (nodes, pools, groups, resources) from a running drbdd.
. "$(dirname "$0")/lib.sh"
COMPLETION="$SRCDIR/drbdd/drbdctl/drbdctl.bash-completion"
C=$DRBDCTL

# shellcheck disable=SC1090
. "$COMPLETION" || { fail "sourcing $COMPLETION"; t_done; exit; }

# comp WORD...: completes the last word of "drbdctl WORD..." and prints the
# candidates sorted, space separated. An empty last word means "after a space".
comp() {
	COMP_WORDS=("$C" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_drbdctl
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect_comp WANT DESCRIPTION -- WORD...: the candidates must be exactly WANT.
expect_comp() {
	local want=$1 desc=$2; shift 3
	local got
	got=$(comp "$@")
	if [ "$got" = "$want" ]; then pass "$desc"; else fail "$desc: got '$got', wanted '$want'"; fi
}

# expect_comp_has WORD DESCRIPTION -- WORD...: the candidates must include WORD.
expect_comp_has() {
	local want=$1 desc=$2; shift 3
	local got
	got=" $(comp "$@") "
	if [[ $got == *" $want "* ]]; then pass "$desc"; else fail "$desc: '$want' not in '$got'"; fi
}

complete -p drbdctl 2>/dev/null | grep -q _drbdctl && pass "complete -F _drbdctl drbdctl registered" ||
	fail "completion not registered"

# ---- static: objects, verbs, options ------------------------------------------------
expect_comp "e export n node r rd resource resource-definition resource-group rg s snapshot sp storage-pool v vd version volume volume-definition" \
	"objects with aliases" -- ""
expect_comp "resource resource-definition resource-group" "objects by prefix" -- resource
expect_comp "--help --output= --timeout= --version -V -h -o -t" "global options" -- -
expect_comp "json table" "values of -o" -- -o ""
expect_comp "json" "values of --output=" -- --output = j
expect_comp "c create d delete l list set-property sp st status" "node verbs" -- node ""
expect_comp "c create d delete l list set-property sp st status" "node verbs via alias" -- -o json n ""
expect_comp "--help" "--help instead of a verb" -- node -
expect_comp "c create d delete l list m modify s spawn" "resource-group verbs" -- rg ""
expect_comp "ap at attach auto-place c cmd create d delete detach dt l list primary sc set-primary show-commands show-config td toggle-disk wait-ready wr" "resource verbs" -- r ""
expect_comp "c create d delete l list set-size size" "volume-definition verbs" -- vd ""
expect_comp "" "nothing after version" -- version ""
expect_comp "" "nothing after an unknown object" -- bogus ""
expect_comp "--drbd-version= --help --property=" "node create options" -- n c alpha 10.0.0.1 -
expect_comp "--diskless" "resource create: --d..." -- r c --d
expect_comp "--auto-place= --diskless --help --storage-pool=" "resource create options (alias)" -- r c -
expect_comp "--diskless-on-remaining --drbd-option=" "rg modify: --d..." -- rg m gold --d
expect_comp "--help --node=" "sp list options" -- sp l -
expect_comp "--help" "options of a command without options" -- rd d -
expect_comp "8.4 9" "--drbd-version values" -- n c alpha 10.0.0.1 --drbd-version ""
expect_comp "file lvm lvm-thin" "storage drivers" -- sp c ""
expect_comp "lvm lvm-thin" "storage drivers by prefix" -- sp create lv

# Every object, verb, short form and option in drbdctl's own help is offered.
help=$($C --help)
nouns=$(comp "")
for n in $(printf '%s\n' "$help" | sed -n 's/^  \([a-z-]*\)\( (\([a-z]*\))\)\{0,1\}$/\1 \3/p'); do
	[[ " $nouns " == *" $n "* ]] || fail "object '$n' from --help not completed"
done
pass "every object of --help is completed"
missing=
cur_noun=
while IFS= read -r line; do
	if [[ $line =~ ^\ \ ([a-z-]+)( \(([a-z]+)\))?$ ]]; then
		cur_noun=${BASH_REMATCH[1]}
	elif [[ -n $cur_noun && $line =~ ^\ {6}([a-z-]+)\ +([a-z]+)\  ]]; then
		verb=${BASH_REMATCH[1]} alias=${BASH_REMATCH[2]}
		verbs=" $(comp "$cur_noun" "") "
		[[ $verbs == *" $verb "* && $verbs == *" $alias "* ]] || missing+=" $cur_noun/$verb($alias)"
		# Options from the command's own help.
		opts=" $(comp "$cur_noun" "$verb" -) "
		for o in $($C "$cur_noun" "$verb" --help | sed -n 's/^  \(--[a-z-]*\)\(=[A-Z]*\)\{0,1\} .*/\1\2/p'); do
			case $o in *=*) o=${o%%=*}= ;; esac
			[[ $opts == *" $o "* ]] || missing+=" $cur_noun/$verb:$o"
		done
	elif [[ $line == "" ]]; then
		cur_noun=
	fi
done <<<"$help"
[ -z "$missing" ] && pass "every verb, alias and option of the help is completed" ||
	fail "not completed:$missing"

# ---- dynamic names from a running daemon -------------------------------------------
t_start_bus
t_start_drbdd
$C n c alpha 10.0.0.1 --property site=a >/dev/null &&
	$C n c beta 10.0.0.2 --property name=tricky >/dev/null &&
	$C n c gamma 10.0.0.3 >/dev/null &&
	$C sp c lvm alpha pool1 drbdpool --capacity 100G >/dev/null &&
	$C sp c lvm alpha fast drbdpool --capacity 100G >/dev/null &&
	$C sp c lvm beta pool2 drbdpool --capacity 100G >/dev/null &&
	$C rg c gold >/dev/null && $C rg c silver >/dev/null &&
	$C rd c vol1 >/dev/null && $C rd c vol2 --resource-group gold >/dev/null &&
	$C vd c vol1 1G >/dev/null &&
	pass "objects for dynamic completion created" || fail "setup of objects"

expect_comp "alpha beta gamma" "node names (n d)" -- n d ""
expect_comp "alpha" "node names by prefix" -- node set-property al
expect_comp "gold silver" "resource groups (rg m)" -- rg m ""
expect_comp "gold silver" "resource groups for spawn" -- rg spawn ""
expect_comp "" "no names for spawn's new resource name" -- rg spawn gold ""
expect_comp "vol1 vol2" "resource definitions (rd d)" -- rd d ""
expect_comp "vol1 vol2" "resource definitions (vd c)" -- vd c v
expect_comp "vol1 vol2" "resources for r ap" -- r ap ""
expect_comp "vol1 vol2" "r primary NODE: resources" -- r primary alpha ""
expect_comp "alpha beta gamma" "r c: first argument is a node" -- r c ""
expect_comp "vol1 vol2" "r c: second argument is a resource" -- r c alpha ""
expect_comp "vol1 vol2" "options do not count as arguments" -- r c --diskless alpha ""
expect_comp "vol1 vol2" "option values do not count either" -- r c --storage-pool fast alpha ""
expect_comp "gold silver" "--resource-group values" -- rd c vol3 --resource-group ""
expect_comp "gold" "--resource-group=g" -- rd c vol3 --resource-group = g
expect_comp "alpha beta gamma" "--node values" -- sp l --node ""
expect_comp "fast pool1" "pools of the node (sp d alpha)" -- sp d alpha ""
expect_comp "pool2" "pools of the node (sp d beta)" -- sp d beta ""
expect_comp "fast pool1 pool2" "--storage-pool of rg: all pools" -- rg c x --storage-pool ""
expect_comp "fast pool1" "--storage-pool of r c: the node's pools" -- r c alpha vol1 --storage-pool ""
expect_comp "alpha beta gamma" "works after global options" -- -t 5 -o json n d ""
expect_comp "alpha beta gamma" "works after --output=json" -- --output = json n d ""
# A property called "name" must not show up as a node name.
[[ " $(comp n d "") " != *" tricky "* ]] && pass "nested 'name' keys ignored" || fail "nested name leaked"

# Without a daemon: no names, no error, no hang.
t_stop_drbdd
start=$(date +%s)
expect_comp "" "no daemon: no names" -- n d ""
[ $(($(date +%s) - start)) -le 5 ] && pass "no daemon: returns quickly" || fail "no daemon: slow"

# Static completion runs on bash builtins alone (no jq, python, sed).
(
	PATH=/nonexistent
	COMP_WORDS=("$C" rg "")
	COMP_CWORD=2
	_drbdctl 2>/dev/null
	[ "${#COMPREPLY[@]}" -eq 10 ]
) && pass "static completion needs no external tools" || fail "static completion needs external tools"

t_done
