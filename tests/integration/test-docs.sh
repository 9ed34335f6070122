# The man pages cannot drift from the code: every command, short form and
# option of "drbdctl --help" is in drbdctl.1; every drbdd option and
# configuration key, D-Bus method and typed error is in drbdd.8; both pages
# format without groff warnings.
. "$(dirname "$0")/lib.sh"
C=$DRBDCTL
MAN1="$SRCDIR/drbdd/drbdctl/drbdctl.1"
MAN8="$SRCDIR/drbdd/drbdd.8"

t_need groff groff-base
t_need man man-db

# render FILE: the page as plain text, one long line per paragraph line,
# without hyphenation or adjustment (so words are never split).
render() {
	groff -man -Tutf8 -rLL=250n -rHY=0 -P-c -P-b -P-u "$1" 2>/dev/null | sed 's/\xe2\x80\x90/-/g; s/  */ /g'
}

for page in "$MAN1" "$MAN8"; do
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$warn" ] && pass "$(basename "$page"): no groff warnings" || fail "$(basename "$page"): $warn"
	man -l "$page" 2>/dev/null | head -1 | grep -q "$(basename "$page" | sed 's/\..*//' | tr a-z A-Z)" &&
		pass "$(basename "$page"): man -l shows it" || fail "$(basename "$page"): man -l"
done

text1=$(render "$MAN1")
text8=$(render "$MAN8")
help=$($C --help)

# ---- drbdctl.1 against drbdctl --help ------------------------------------------------
missing=
n_cmds=0
noun=
while IFS= read -r line; do
	if [[ $line =~ ^\ \ ([a-z-]+)(\ \(([a-z]+)\))?$ ]]; then
		noun=${BASH_REMATCH[1]} nalias=${BASH_REMATCH[3]}
		if [ "$noun" = version ]; then
			n_cmds=$((n_cmds + 1))
			grep -Eq "^ *version *$" <<<"$text1" || missing+=" version"
			noun=
		elif ! grep -Fq "$noun ($nalias)" <<<"$text1"; then
			missing+=" section:$noun($nalias)"
		fi
	elif [[ -n $noun && $line =~ ^\ {6}([a-z-]+)\ +([a-z]+)\  ]]; then
		verb=${BASH_REMATCH[1]} valias=${BASH_REMATCH[2]}
		n_cmds=$((n_cmds + 1))
		# "noun verb ... (nalias valias)" on one line of the COMMANDS section.
		grep -Eq "^ *$noun $verb( .*)? \($nalias $valias\)$" <<<"$text1" ||
			missing+=" $noun/$verb($nalias $valias)"
		while IFS= read -r opt; do
			[ -n "$opt" ] || continue
			grep -Fq -- "$opt" <<<"$text1" || missing+=" $noun/$verb:$opt"
		done < <($C "$noun" "$verb" --help | sed -n 's/^  \(--[a-z-]*\).*/\1/p')
	elif [[ -z $line ]]; then
		noun=
	fi
done <<<"$help"
[ "$n_cmds" -ge 25 ] && pass "found $n_cmds commands in drbdctl --help" || fail "only $n_cmds commands parsed from --help"
[ -z "$missing" ] && pass "every command, short form and option of drbdctl --help is in drbdctl.1" ||
	fail "missing from drbdctl.1:$missing"

# Global options, exit codes, environment.
missing=
for o in --output --timeout --help --version; do
	grep -Fq -- "$o" <<<"$text1" || missing+=" $o"
done
for code in $(sed -n 's/^ *EXIT_[A-Z_]* = \([0-9]*\),.*/\1/p' "$SRCDIR/drbdd/drbdctl/drbdctl.c"); do
	sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' <<<"$text1" | grep -Eq "^ *$code *$|^ *$code " || missing+=" exit:$code"
done
grep -q DBUS_SYSTEM_BUS_ADDRESS <<<"$text1" || missing+=" DBUS_SYSTEM_BUS_ADDRESS"
[ -z "$missing" ] && pass "drbdctl.1: global options, exit codes, environment" || fail "drbdctl.1 lacks:$missing"

# ---- drbdd.8 against drbdd --help, the config keys, the bus tables --------------------
missing=
for o in $("$DRBDD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -Fq -- "$o" <<<"$text8" || missing+=" $o"
done
for k in $(sed -n 's/.*streq(key, "\([a-z-]*\)").*/\1/p' "$SRCDIR/drbdd/drbdd.c"); do
	grep -Eq "^ *$k *$" <<<"$text8" || grep -Fq "$k = " <<<"$text8" || grep -Fq "$k," <<<"$text8" ||
		missing+=" key:$k"
done
for m in $(sed -n 's/^ *{ "\([A-Z][A-Za-z]*\)", ".*/\1/p' "$SRCDIR/drbdd/bus/manager-bus.c" | sort -u); do
	grep -Eq "\\b$m\\b" <<<"$text8" || missing+=" method:$m"
done
for e in $(sed -n 's/.*BUS_ERROR_PREFIX "\([A-Za-z]*\)".*/\1/p' "$SRCDIR/drbdd/bus/bus-error.h"); do
	grep -Fq "org.drbd.drbdd1.Error.$e" <<<"$text8" || missing+=" error:$e"
done
for f in /etc/drbdd/drbdd.conf /var/lib/drbdd org.drbd.drbdd1.conf DBUS_SYSTEM_BUS_ADDRESS; do
	grep -Fq "$f" <<<"$text8" || missing+=" $f"
done
[ -z "$missing" ] && pass "drbdd.8: every option, config key, method, error and file" || fail "drbdd.8 lacks:$missing"

# ---- drbd-nova-helper.8 against drbd-nova-helper --help ----------------------------
MANH="$SRCDIR/nova-connector/drbd-nova-helper.8"
warn=$(groff -man -Tutf8 -ww -z "$MANH" 2>&1)
[ -z "$warn" ] && pass "drbd-nova-helper.8: no groff warnings" || fail "drbd-nova-helper.8: $warn"
texth=$(render "$MANH")
missing=
n=0
for o in $("$BUILD/drbd-nova-helper" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	n=$((n + 1))
	grep -Fq -- "$o" <<<"$texth" || missing+=" $o"
done
[ "$n" -ge 8 ] && [ -z "$missing" ] && pass "drbd-nova-helper.8: all $n options of --help" ||
	fail "drbd-nova-helper.8 lacks:$missing ($n options)"

t_done
