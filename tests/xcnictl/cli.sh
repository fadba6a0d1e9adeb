# shellcheck shell=bash
# CLI conventions, sourced by tests/xcnictl/run.sh at its end (its maps, its
# pretend lab $LAB and its helpers x, lx, check, has, json_is, exits):
#  - global options in every position, for table commands and the lab's;
#  - -o json|jsonl|yaml|wide for every command that prints (a table below,
#    checked against --help so a new command must join it): json parsed by
#    python, yaml by python3-yaml (else the yaml module of the tests' own
#    libyaml-free fallback: none, so it is required), jsonl line by line, all
#    three the same data; wide at least the text's columns;
#  - a misspelt command, subcommand or flag: named, the nearest suggested,
#    one or two lines, exit 2, nothing on stdout;
#  - version/--version of xcnictl, xcnid and xcni: the fields, the commit and
#    its date (not the build's);
#  - completion: `xcnictl completion bash` sourced in bash, _xcnictl called
#    with COMP_WORDS, its COMPREPLY checked.

# -- --help: every command, with a purpose
help_cmds() { "$XCNICTL" --help | python3 -c '
import re, sys
on = False
for l in sys.stdin.read().splitlines():
	if l == "Commands:": on = True; continue
	if on and not l.strip(): break
	m = re.match(r"^  ([a-z]+)(?: ([a-z]+)(?= |$))?", l)
	if on and m: print(" ".join(w for w in m.groups() if w))'
}
check "--help lists lab, flows, version and completion" bash -c "
	out=\$('$XCNICTL' --help)
	for c in 'lab COMMAND \[ARGS\]' 'flows \[FILTERS\]' 'version ' 'completion bash\|zsh'; do
		grep -Eq \"^  \$c +[A-Z][a-z]* \" <<<\"\$out\" || { echo \"no \$c\"; exit 1; }
	done"
check "--help: every command line has a purpose" bash -c "
	'$XCNICTL' --help | awk '/^Commands:/ {on=1; next} on && /^\$/ {exit} on' |
	awk '/^  [a-z]/ && NF < 2 { print; bad = 1 } END { exit bad }'"

# -- global options anywhere
glob_pos() { # glob_pos OPTION...: the same JSON in every position of the option
	local a b c
	a=$(x "$@" endpoint list) && b=$(x endpoint "$@" list) && c=$(x endpoint list "$@") || return 1
	python3 -c 'import json, sys; v = [json.loads(s) for s in sys.argv[1:]]; sys.exit(0 if v[0] == v[1] == v[2] and len(v[0]) >= 3 else 1)' "$a" "$b" "$c" ||
		{ printf '%s\n' "$a" "$b" "$c"; return 1; }
}
for o in "-j" "--json" "-o json" "-ojson" "--output json" "--output=json" "-vj"; do
	# shellcheck disable=SC2086 # the option's words
	check "global $o before, inside and after the command" glob_pos $o
done
check "-v before the command" exits 0 x -v endpoint list
check "--pin-dir after the command" exits 0 "$XCNICTL" endpoint list --pin-dir "$PIN"
check "-h after the noun: its commands" has '^  endpoint get IP' "$XCNICTL" endpoint -h
check "xcnictl -v lab get (was: unknown command: lab)" has '^n1 ' lx -v lab get
check "xcnictl --json lab get" json_is '[n["name"] for n in j["nodes"]] == ["n1", "n2"]' lx --json lab get
check "xcnictl lab get -j" json_is '[n["name"] for n in j["nodes"]] == ["n1", "n2"]' lx lab get -j
check "xcnictl lab -o json get" json_is '[n["name"] for n in j["nodes"]] == ["n1", "n2"]' lx lab -o json get
check "xcnictl -o yaml lab get: the JSON's data" bash -c "
	[ \"\$(XCNI_LAB_DIR=$LAB '$XCNICTL' -o yaml lab get | python3 -c 'import yaml, sys, json; print(json.dumps(yaml.safe_load(sys.stdin)))')\" = \
	  \"\$(XCNI_LAB_DIR=$LAB '$XCNICTL' lab get -j | python3 -c 'import sys, json; print(json.dumps(json.load(sys.stdin)))')\" ]"
check "xcnictl -h lab get: lab get's help" has '^Usage: xcnictl lab get' lx -h lab get
check "-o json on a lab command that writes no table: exit 2, naming it" \
	has 'o json: xcnictl lab down writes no table' lx -o json lab down
check "--node on a lab command: exit 2" exits 2 lx --node n1 lab get
check "lab exec's command keeps its own flags" exits 2 lx lab exec x/nope ls -v -j

# -- -o for every command that prints
# "NAME [SUB]|ARGS": every command of --help that writes a table or record.
# Against the suite's maps ($PIN):
OUT_ROWS=(
	"endpoint list|" "endpoint get|10.244.1.5" "ct list|" "ct get|tcp 10.244.1.5:40000 10.96.0.1:443"
	"metrics list|" "metrics get|drop-spoof-ip" "metrics|" "config|"
	"prefilter list|" "hook list|" "identity list|" "identity get|42" "ipcache list|"
	"ipcache get|8.8.8.8" "policy list|" "policy get|x/a" "service list|" "service get|10.96.0.20:80/tcp"
	"service snat|" "service self|" "explain|x/a y/b 80/tcp" "version|"
)
# Against the real data plane's ($REAL, xcnid --once above): maps the suite does not make.
OUT_REAL=("tunnel list|" "service sockets|")
# Commands that print no table (they change something, or write a script, or
# are checked elsewhere: lab above, monitor and flows in their suites, tunnel
# get: no tunnel in either set of maps; tunnel list's print layer; status,
# sysdump and connectivity test need an agent or a lab: lab-status, lab-conntest).
OUT_NOT="config set|prefilter add|prefilter del|completion|lab|monitor|flows|tunnel get|status|sysdump|connectivity test"
out_table_complete() {
	local want have
	want=$(printf '%s\n' "${OUT_ROWS[@]%%|*}" "${OUT_REAL[@]%%|*}" | sort)
	have=$(help_cmds | grep -Evx "$OUT_NOT" | sort -u)
	[ "$want" = "$have" ] || { diff <(echo "$want") <(echo "$have"); return 1; }
}
check "-o table: every printing command of --help is in it" out_table_complete
# out_same NAME ARGS...: json, jsonl and yaml hold the same data; wide has the text's columns and maybe more.
OUT_PIN=$PIN
ox() { "$XCNICTL" --pin-dir "$OUT_PIN" "$@"; }
out_same() {
	local j y l t w
	j=$(ox "$@" -o json) || { echo "json: exit $?"; return 1; }
	y=$(ox "$@" -o yaml) || { echo "yaml: exit $?"; return 1; }
	l=$(ox -o jsonl "$@") || { echo "jsonl: exit $?"; return 1; }
	t=$(ox "$@" 2>/dev/null) && w=$(ox "$@" --output=wide 2>/dev/null) || { echo "text/wide failed"; return 1; }
	python3 - "$j" "$y" "$l" "$t" "$w" <<'PY' || { printf '%s\n--\n' "$j" "$y" "$l"; return 1; }
import json, sys, yaml
j, y, l, t, w = sys.argv[1:]
jv = json.loads(j)
yv = yaml.safe_load(y)
lv = [json.loads(s) for s in l.splitlines()]
if not isinstance(jv, list):
	lv = lv[0] if len(lv) == 1 else lv
# Ages move with the clock between the three runs (ct: age_s, idle_s).
def still(v):
	if isinstance(v, dict):
		return {k: still(x) for k, x in v.items() if k not in ("age_s", "idle_s")}
	return [still(x) for x in v] if isinstance(v, list) else v
jv, yv, lv = still(jv), still(yv), still(lv)
ok = jv == yv == lv
tw, ww = t.splitlines(), w.splitlines()
# Tables: wide's header has every text column; records: every text line's title.
hdr = lambda s: s[0].split() if s else []
ok = ok and (set(hdr(tw)) <= set(hdr(ww)) if t and t[:1].isupper() and "  " in tw[0] and len(tw) > 1 else len(ww) >= len(tw))
sys.exit(0 if ok else 1)
PY
}
for row in "${OUT_ROWS[@]}"; do
	# shellcheck disable=SC2086 # the command's words
	check "-o json|jsonl|yaml|wide: ${row%%|*} ${row#*|}" out_same ${row%%|*} ${row#*|}
done
OUT_PIN=$REAL
for row in "${OUT_REAL[@]}"; do
	# shellcheck disable=SC2086 # the command's words
	check "-o json|jsonl|yaml|wide: ${row%%|*} ${row#*|} (xcnid's maps)" out_same ${row%%|*} ${row#*|}
done
check "-o wide: ct list shows the JSON-only columns (SADDR, REV-NAT)" has '^PROTO +SRC +DST +SADDR .* REV-NAT$' x ct list -o wide
check "-o wide: a command without more columns prints the text" bash -c \
	"[ \"\$('$XCNICTL' --pin-dir $PIN identity list)\" = \"\$('$XCNICTL' --pin-dir $PIN identity list -o wide)\" ]"
check "-o xml: exit 2, naming xml and the formats" \
	has '^xcnictl: error: -o xml: not an output format \(text, wide, json, jsonl or yaml\)$' x ct list -o xml
check "-o xml exits 2" exits 2 x ct list -o xml
check "-j is -o json" bash -c "[ \"\$('$XCNICTL' --pin-dir $PIN -j ct list)\" = \"\$('$XCNICTL' --pin-dir $PIN -o json ct list)\" ]"

# -- wrong words: named, the nearest suggested, short, exit 2
# wrong 'STDERR REGEX' ARGS...: exit 2, stdout empty, at most 2 lines on stderr, one matching.
wrong() {
	local re=$1 out err rc; shift
	out=$("$@" 2>/tmp/xcni-cli-err.$$); rc=$?
	err=$(cat /tmp/xcni-cli-err.$$); rm -f /tmp/xcni-cli-err.$$
	[ $rc -eq 2 ] && [ -z "$out" ] && [ "$(wc -l <<<"$err")" -le 2 ] && grep -Eq -- "$re" <<<"$err" ||
		{ echo "exit $rc; stdout: $out; stderr: $err"; return 1; }
}
check "misspelt flag: named, the nearest suggested" \
	wrong '^xcnictl: error: unknown flag --namespce for ct list; did you mean --namespace\?$' x ct list --namespce x
check "misspelt global flag before the command" \
	wrong 'unknown flag --jsn for ct list; did you mean --json\?$' x --jsn ct list
check "misspelt short flag" wrong 'unknown flag -x for ct list$' x ct list -x
check "a flag of another command: named" wrong '^xcnictl: error: metrics takes no --ip ' x metrics --ip 10.0.0.1
check "misspelt command" wrong '^xcnictl: error: unknown command lba; did you mean lab\?$' x lba get
check "misspelt subcommand" wrong '^xcnictl: error: ct: unknown subcommand lsit; did you mean list\?$' x ct lsit
check "missing subcommand: the choices" wrong '^xcnictl: error: ct: missing subcommand \(one of list, get\)$' x ct
check "misspelt lab command" wrong '^xcnictl: error: lab: unknown command gte; did you mean get\?$' lx lab gte
check "misspelt lab flag" wrong 'unknown flag --dn for lab up; did you mean --dns\?$' lx lab up --dn
check "misspelt flows flag" wrong 'unknown flag --form for flows; did you mean --from\?$' x flows --form x/a
check "a flag's value missing" wrong '^xcnictl: error: --pod: needs a value$' x ct list --pod
check "nothing near: no suggestion, the help named" wrong '^  \(xcnictl --help lists the commands\)$' x frobnicate

# -- version
HEAD_C=$(git -C "$XCNI_ROOT" rev-parse --short=12 HEAD 2>/dev/null)
HEAD_D=$(cd "$XCNI_ROOT" && TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
# ver_ok PROG ARGS...: the JSON's fields, from this tree's commit and its date.
ver_ok() {
	local prog=$1; shift
	json_is "j['program'] == '$prog' and set(j) == {'program', 'version', 'commit', 'build_date', 'libbpf', 'bpf_abi'}
		and j['bpf_abi'] == $(awk '/#define XCNI_ABI_VERSION/ { print $3 }' "$XCNI_ROOT/bpf/xcni_shared.h")
		and j['libbpf'].startswith('v') and j['commit'].split('-')[0] == ('$HEAD_C' or j['commit'])
		and j['build_date'] == ('$HEAD_D' or j['build_date'])" "$@"
}
check "xcnictl version -o json: the fields, this commit and its date" ver_ok xcnictl "$XCNICTL" version -o json
check "xcnictl --version -j" ver_ok xcnictl "$XCNICTL" --version -j
check "xcnid --version -o json" ver_ok xcnid "$XCNID" --version -o json
check "xcnid version -o json" ver_ok xcnid "$XCNID" version -o json
check "xcni --version -o json (the plugin, for people)" ver_ok xcni "$BUILD/xcni" --version -o json
check "xcni version: one line, in the text form" \
	has "^xcni [0-9.]+ \(commit [0-9a-f]{12}(-dirty)?, built [0-9T:Z-]+\) libbpf v[0-9.]+, BPF ABI [0-9]+$" "$BUILD/xcni" version
check "xcnid --version -o yaml" has '^program: xcnid$' "$XCNID" --version -o yaml
check "xcnid --version -o xml: exit 2" exits 2 "$XCNID" --version -o xml
check "xcni's CNI VERSION still answers CNI" json_is '"1.1.0" in j["supportedVersions"]' \
	env CNI_COMMAND=VERSION "$BUILD/xcni" </dev/null
check "xcnictl --help: --version" has '^  --version ' "$XCNICTL" --help
check "xcnid --help: --version" has '^  --version ' "$XCNID" --help

# -- completion
# comp 'WORDS' [WANT...]: completing the last word of "xcnictl WORDS" offers every WANT.
comp() {
	local line=$1; shift
	bash --norc -c '
		source <("$1" completion bash) || exit 3
		complete -p xcnictl | grep -q -- "-F _xcnictl" || { echo "complete -p: $(complete -p xcnictl)"; exit 4; }
		read -ra COMP_WORDS <<<"xcnictl $2"
		[[ $2 == *" " || -z $2 ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_xcnictl
		shift 2
		for w in "$@"; do
			printf "%s\n" "${COMPREPLY[@]}" | grep -qx -- "$w" || { echo "no $w in: ${COMPREPLY[*]}"; exit 1; }
		done
		[ $# -gt 0 ] || [ ${#COMPREPLY[@]} -eq 0 ] || { echo "wanted none: ${COMPREPLY[*]}"; exit 1; }' \
		_ "$XCNICTL" "$line" "$@"
}
# shellcheck disable=SC2046 # one word a command
check "completion: every command of --help at the first word" comp '' $(help_cmds | cut -d' ' -f1 | sort -u)
check "completion: commands by prefix" comp 'c' ct config completion
check "completion: a noun's subcommands" comp 'ct ' list get
check "completion: a command's flags" comp 'ct list --na' --namespace
check "completion: global flags anywhere" comp 'ct list --ou' --output
check "completion: an option's value is no command word" comp '--node n1 ct l' list
check "completion: -o's values" comp 'ct list -o ' text wide json jsonl yaml
check "completion: the lab's commands" comp 'lab ' up down apply delete get probe matrix exec ui
check "completion: a lab command's flags" comp 'lab up --no' --nodes --node-port-range --node-port-mode
check "completion: flows' filters" comp 'flows --fr' --from
check "completion: completion's shells" comp 'completion ' bash zsh
check "completion: no flag of another command" comp 'metrics --i'
check "completion zsh: #compdef, bashcompinit, then the bash function" bash -c "
	z=\$('$XCNICTL' completion zsh) && b=\$('$XCNICTL' completion bash) &&
	[ \"\$(head -1 <<<\"\$z\")\" = '#compdef xcnictl' ] && grep -q '^autoload -U +X bashcompinit && bashcompinit\$' <<<\"\$z\" &&
	[ \"\$(tail -n \$(wc -l <<<\"\$b\") <<<\"\$z\")\" = \"\$b\" ]"
check "completion fish: exit 2, naming it" has '^xcnictl: error: completion fish: no such shell \(bash or zsh\)$' x completion fish
if command -v zsh >/dev/null; then
	check "completion zsh: loads in zsh" zsh -fc "source <('$XCNICTL' completion zsh) && whence -w _xcnictl"
fi
