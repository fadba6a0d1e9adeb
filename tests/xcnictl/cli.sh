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
#    with COMP_WORDS, its COMPREPLY checked;
#  - one filter vocabulary: every word of `xcnictl filters` run against every
#    command it lists (taken, its bad value refused naming the word), refused
#    by every command it does not list (exit 2, named), the same rows under
#    either spelling of one meaning, and every word in docs/xcnictl.1 FILTERS.

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
	for c in 'lab COMMAND \[ARGS\]' 'flows \[FILTERS\]' 'version ' 'completion bash\|zsh\|fish'; do
		grep -Eq \"^  \$c( +[A-Z][a-z]* |$)\" <<<\"\$out\" || { echo \"no \$c\"; exit 1; }
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
	"service snat|" "service self|" "explain|x/a y/b 80/tcp" "version|" "filters|"
)
# Against the real data plane's ($REAL, xcnid --once above): maps the suite does not make.
OUT_REAL=("tunnel list|" "service sockets|" "fqdn list|")
# Commands that print no table (they change something, or write a script, or
# are checked elsewhere: lab above, monitor and flows in their suites, tunnel
# get: no tunnel in either set of maps; tunnel list's print layer; status,
# sysdump and connectivity test need an agent or a lab: lab-status, lab-conntest;
# ui serves the agents' map: lab-flows-relay-3nodes; policy suggest writes
# NetworkPolicies as YAML, its replay table on stderr: lab-suggest; policy
# selectors reads the agent's objects: lab-nearmiss; policy status reads the agents'
# files: lab-status).
OUT_NOT="config set|prefilter add|prefilter del|completion|lab|monitor|flows|tunnel get|status|sysdump|connectivity test|connectivity probe|ui|policy suggest|policy selectors|policy status"
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
# Ages move with the clock between the three runs (ct: age_s, idle_s;
# config: uptime_s).
def still(v):
	if isinstance(v, dict):
		return {k: still(x) for k, x in v.items() if k not in ("age_s", "idle_s", "uptime_s")}
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
# ct list -j and -o json the same, but for the seconds (age_s, idle_s) that
# may tick between the two calls.
j_is_json() {
	local a b
	a=$("$XCNICTL" --pin-dir "$PIN" -j ct list | sed -E 's/"(age_s|idle_s)": *[0-9]+//g')
	b=$("$XCNICTL" --pin-dir "$PIN" -o json ct list | sed -E 's/"(age_s|idle_s)": *[0-9]+//g')
	[ -n "$a" ] && [ "$a" = "$b" ]
}
check "-j is -o json" j_is_json

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
# Cilium's and Hubble's verbs (issue 70 item 5): the command that does it named.
check "hubble observe: did you mean flows" wrong '^xcnictl: error: unknown command observe; did you mean flows\?$' x observe
check "cilium ... ls: did you mean endpoint list" wrong '^xcnictl: error: unknown command ls; did you mean endpoint list\?$' x ls
# xcnictl help [COMMAND] is --help's (was: unknown command help).
check "xcnictl help: the global help" has '^Usage: xcnictl \[OPTIONS\] COMMAND' x help
check "xcnictl help policy suggest: that command's help" has '^Usage: xcnictl policy suggest' x help policy suggest
# ... for every command with a parser of its own: the same text as CMD --help, its options'.
same_help() {
	local a b
	a=$("$XCNICTL" help "$@" 2>&1) b=$("$XCNICTL" "$@" --help 2>&1)
	[ "$a" = "$b" ] && grep -q '^  -' <<<"$a" || { printf 'help:\n%s\n--help:\n%s\n' "$a" "$b"; return 1; }
}
for c in flows status sysdump "policy suggest" "connectivity test" "connectivity probe" ui "lab up"; do
	# shellcheck disable=SC2086 # the command's words
	check "xcnictl help $c: $c --help's text" same_help $c
done
check "the global help's --node all names policy status and policy suggest" \
	bash -c "'$XCNICTL' --help | tr -s ' \n' ' ' | grep -q 'all: every node, for flows, monitor, status, sysdump, explain, policy status and policy suggest'"

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
check "every command's --help from its option table: an option a line, with its help" \
	python3 "$XCNI_ROOT/tests/xcnictl/help_rows.py" "$XCNICTL"
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
check "completion: --node's value all (every lab node)" comp 'monitor --node ' all
check "completion: monitor's -t values" comp 'monitor -t ' drop verdict trace
check "completion: monitor takes flows' words" comp 'monitor --from-p' --from-pod
check "completion: flows' filters" comp 'flows --fr' --from
check "completion: completion's shells" comp 'completion ' bash zsh
check "completion: no flag of another command" comp 'metrics --i'
check "completion zsh: #compdef, bashcompinit, then the bash function" bash -c "
	z=\$('$XCNICTL' completion zsh) && b=\$('$XCNICTL' completion bash) &&
	[ \"\$(head -1 <<<\"\$z\")\" = '#compdef xcnictl' ] && grep -q '^autoload -U +X bashcompinit && bashcompinit\$' <<<\"\$z\" &&
	[ \"\$(tail -n \$(wc -l <<<\"\$b\") <<<\"\$z\")\" = \"\$b\" ]"
check "completion tcsh: exit 2, naming it" has '^xcnictl: error: completion tcsh: no such shell \(bash, zsh or fish\)$' x completion tcsh
if command -v zsh >/dev/null; then
	check "completion zsh: loads in zsh" zsh -fc "source <('$XCNICTL' completion zsh) && whence -w _xcnictl"
fi

# -- one filter vocabulary (lib/observe/vocab.h; xcnictl filters)
# A good and a bad value of each word; "-" for one that takes none.
declare -A VOCAB_OK=(
	[pod]=x/a [ip]=10.244.1.5 [namespace]=x [identity]=42 [verdict]=denied
	[reason]=drop-policy-ingress [type]=drop [label]=app=web [from]=x/a [to]=ns:y
	[from-pod]=x/a [to-pod]=y/b [from-ip]=10.244.1.5 [to-ip]=10.0.0.0/8
	[from-namespace]=x [to-namespace]=y [from-label]=app=web [to-label]=!canary
	[from-identity]=42 [to-identity]=reserved:world [port]=80 [from-port]=40000
	[to-port]=443 [protocol]=tcp [service]=y/web [since]=5m [until]=1h [last]=3
	[first]=3 [not]=-
)
declare -A VOCAB_BAD=(
	[pod]=x [ip]=10.0.0.300 [namespace]=a/b [identity]=reserved:moon [verdict]=maybe
	[reason]=drop-moon [type]=moon [label]="a b" [from]=x/a/b [to]=pod:x
	[from-pod]=a/b/c [to-pod]=a/b/c [from-ip]=web [to-ip]=10.0.0.0/33
	[from-namespace]=a/b [to-namespace]=a/b [from-label]="a b" [to-label]="!a=b"
	[from-identity]=moon [to-identity]=moon [port]=0 [from-port]=65536 [to-port]=http
	[protocol]=tcpx [service]=web [since]=-5m [until]=soon [last]=0 [first]=many [not]=-
)
# The arguments of a command that takes some, and the maps it reads.
declare -A VOCAB_ARGS=([policy get]=x/a)
vocab_pin() { case $1 in "tunnel list" | "service sockets" | monitor) echo "$REAL" ;; *) echo "$PIN" ;; esac; }
# vocab_run CMD WORD VALUE: the command line of CMD with --WORD VALUE (stdout and stderr).
vocab_run() {
	local cmd=$1 w=$2 v=$3 args
	local -a wv=("--$w")
	[ "$v" = - ] || wv+=("$v")
	[ "$w" = not ] && wv+=(--pod x/a)
	# shellcheck disable=SC2206 # the command's words
	args=($cmd ${VOCAB_ARGS[$cmd]:-})
	case $cmd in
	flows) "$XCNICTL" flows --flows-socket "/nonexistent/$XCT_TAG.sock" "${wv[@]}" ;;
	monitor) "$XCNICTL" --pin-dir "$REAL" monitor --timeout-ms 50 "${wv[@]}" ;;
	*) "$XCNICTL" --pin-dir "$(vocab_pin "$cmd")" "${args[@]}" "${wv[@]}" ;;
	esac
}
VOCAB_JSON=$("$XCNICTL" filters -o json)
vocab_words() { python3 -c 'import json, sys; [print(w["word"].split("--")[-1]) for w in json.loads(sys.argv[1])]' "$VOCAB_JSON"; }
vocab_cmds() { python3 -c 'import json, sys
for w in json.loads(sys.argv[1]):
	if w["word"].split("--")[-1] == sys.argv[2]: print("\n".join(w["commands"].split(", ")))' "$VOCAB_JSON" "$1"; }
# Every command of --help that parses flags of the tables (the own parsers: flows alone;
# policy suggest's --namespace is the namespace its policies are for, checked in lab-suggest).
VOCAB_ALL=$(help_cmds | grep -Evx 'lab|status|sysdump|connectivity test|connectivity probe|ui|version|completion|filters|policy suggest')
check "filters: the vocabulary, every word with a value and a meaning" \
	json_is 'len(j) >= 20 and all(w["word"].startswith("-") and w["meaning"] and w["commands"] for w in j)' "$XCNICTL" filters -o json
check "filters: --pod, --ip, -n/--namespace, --identity in flows, monitor and the map views" bash -c "
	out=\$('$XCNICTL' filters)
	for w in '--pod ' '--ip ' '-n, --namespace ' '--identity '; do
		grep -E -- \"^\$w.* flows, endpoint list, ct list, .*monitor \" <<<\"\$out\" >/dev/null || { echo \"\$w: \$(grep -- \"\$w\" <<<\"\$out\")\"; exit 1; }
	done"
vocab_all_valued() {
	local w
	for w in $(vocab_words); do
		[ -n "${VOCAB_OK[$w]:-}" ] && [ -n "${VOCAB_BAD[$w]:-}" ] || { echo "no values for --$w"; return 1; }
	done
}
check "filters: every word has good and bad values in this table" vocab_all_valued
# vocab_takes CMD WORD: taken (exit 0, or 1 for what the command found: no
# xcnid, no such pod in these maps), never a usage error.
vocab_takes() {
	local out rc
	out=$(vocab_run "$1" "$2" "${VOCAB_OK[$2]}" 2>&1); rc=$?
	[ $rc -le 1 ] && ! grep -Eq 'unknown flag|takes no|needs a value' <<<"$out" || { echo "exit $rc: $out"; return 1; }
}
# vocab_bad CMD WORD: a bad value: exit 2, naming --WORD and the value.
vocab_bad() {
	local out rc v=${VOCAB_BAD[$2]}
	[ "$v" = - ] && return 0
	out=$(vocab_run "$1" "$2" "$v" 2>&1); rc=$?
	[ $rc -eq 2 ] && grep -Fq -- "--$2 $v" <<<"$out" || { echo "exit $rc: $out"; return 1; }
}
# vocab_refused CMD WORD: a command not listed for WORD: exit 2, the word named.
vocab_refused() {
	local out rc
	out=$(vocab_run "$1" "$2" "${VOCAB_OK[$2]}" 2>&1); rc=$?
	[ $rc -eq 2 ] && grep -Eq -- "(takes no|unknown flag) --$2( |\$|;)" <<<"$out" || { echo "exit $rc: $out"; return 1; }
}
while read -r w; do
	takers=$(vocab_cmds "$w")
	while read -r c; do
		[ -n "$c" ] || continue
		check "vocabulary: $c takes --$w ${VOCAB_OK[$w]}" vocab_takes "$c" "$w"
		check "vocabulary: $c refuses --$w ${VOCAB_BAD[$w]}, naming it" vocab_bad "$c" "$w"
	done <<<"$takers"
	# The commands of the tables that do not list it refuse it (one refusal
	# each of the rest is enough for the words only flows takes).
	n=0
	while read -r c; do
		grep -qx -- "$c" <<<"$takers" && continue
		[[ $takers == flows && $((n++)) -ge 2 ]] && continue
		check "vocabulary: $c refuses --$w (not its word)" vocab_refused "$c" "$w"
	done <<<"$VOCAB_ALL"$'\n'flows$'\n'monitor
done < <(vocab_words)
# One meaning, two spellings: the same rows.
same_rows() { # same_rows 'ARGS A' 'ARGS B'
	local a b
	# shellcheck disable=SC2086 # the words
	a=$(x $1 -o json) && b=$(x $2 -o json) || { echo "exit"; return 1; }
	# A flow's age and idle time are read from the clock at each call: the
	# two calls may sit on either side of a second (seen: 17 against 18).
	a=$(sed -E 's/"(age_s|idle_s)":[0-9]+/"\1":0/g' <<<"$a")
	b=$(sed -E 's/"(age_s|idle_s)":[0-9]+/"\1":0/g' <<<"$b")
	[ "$a" = "$b" ] && [ "$a" != "[]" ] || { printf '%s\n--\n%s\n' "$a" "$b"; return 1; }
}
for c in "endpoint list" "ct list" "ipcache list" "identity list" "policy list"; do
	check "vocabulary: $c -n x is --namespace x" same_rows "$c -n x" "$c --namespace x"
done
# --pod by name or by address: one pod (both its families); --ip: that address.
for c in "endpoint list" "ct list" "policy list" "identity list" "ipcache list"; do
	check "vocabulary: $c --pod x/a is --pod 10.244.1.5 (x/a's address)" same_rows "$c --pod x/a" "$c --pod 10.244.1.5"
done
for c in "endpoint list" "policy list" "identity list"; do
	check "vocabulary: $c --pod x/a is --ip 10.244.1.5 (one address of one family)" same_rows "$c --pod x/a" "$c --ip 10.244.1.5"
done
check "vocabulary: --identity 42 (x/a's) is --pod x/a in identity list" same_rows "identity list --identity 42" "identity list --pod x/a"
# --label: the label set of the row's identity (42 is k8s:app=a in namespace x).
for c in "endpoint list" "ct list" "identity list" "ipcache list" "policy list"; do
	check "vocabulary: $c --label app=a is --identity 42 (its label set's)" same_rows "$c --label app=a" "$c --identity 42"
done
check "vocabulary: identity list --label app=a,!tier: 42 alone" json_is '[r["identity"] for r in j] == [42]' x identity list --label 'app=a,!tier' -o json
check "vocabulary: identity list --label app!=a: 43 and the reserved ones, not 42" json_is '42 not in [r["identity"] for r in j] and 43 in [r["identity"] for r in j]' x identity list --label 'app!=a' -o json
check "vocabulary: monitor --verdict takes flows' values, and its old allow/deny" bash -c "
	for v in allowed forwarded denied audit FORWARDED DROPPED AUDIT allow deny; do
		'$XCNICTL' --pin-dir '$REAL' monitor --timeout-ms 20 --verdict \$v >/dev/null || { echo \"\$v: exit \$?\"; exit 1; }
	done"
check "vocabulary: completion offers -n beside --namespace" comp 'ct list -' -n --namespace
# -n is a filter, not a global letter: the command's, before or after it.
short_n() {
	local out rc
	out=$("$XCNICTL" -n x flows --flows-socket "/nonexistent/$XCT_TAG.sock" 2>&1); rc=$?
	[ $rc = 1 ] && grep -q 'no xcnid answers' <<<"$out" || { echo "flows: exit $rc: $out"; return 1; }
	out=$("$XCNICTL" flows --node n1 -n x 2>&1); rc=$?
	! grep -q 'unexpected argument' <<<"$out" || { echo "flows --node n1 -n x: $out"; return 1; }
	same_rows "-n x ct list" "ct list --namespace x"
}
check "vocabulary: -n x anywhere on the line, flows' and the map views' (was: flows: unexpected argument x)" short_n
vocab_in_man() {
	local sec w
	sec=$(awk '/^\.SH FILTERS/ {on=1; next} on && /^\.SH / {exit} on' "$XCNI_ROOT/docs/xcnictl.1" | sed 's/\\-/-/g')
	[ -n "$sec" ] || { echo "no FILTERS section"; return 1; }
	for w in $(vocab_words); do
		grep -Eq -- "--$w([^a-z-]|$)" <<<"$sec" || { echo "no --$w"; return 1; }
	done
}
check "vocabulary: every word in docs/xcnictl.1 FILTERS" vocab_in_man
# flows' default text against a stand-in xcnid: columns in line on long names, rows in
# time order, BY wrapped not cut, a no-backend row naming its Service (issue 70 item 6).
check "flows text: columns in line, time order, BY whole, the no-backend Service named" \
	python3 "$XCNI_ROOT/tests/xcnictl/flows_text.py" "$XCNICTL"
# Completion (issue 70 item 8): every word of the one table of fates, the user's
# aliases of xcnictl, fish's script of its own.
check "completion: --verdict offers every fate word (no-backend, timeout, refused, dropped too)" \
	comp 'flows --verdict ' allowed denied audit forwarded refused no-backend timeout dropped
comp_alias() {
	bash --norc -c 'shopt -s expand_aliases; alias xc="xcnictl --node all"
		source <("$1" completion bash) || exit 3
		complete -p xc | grep -q -- "-F _xcnictl"' _ "$XCNICTL"
}
check "completion bash: registered for an alias of xcnictl too (alias xc='xcnictl --node all')" comp_alias
comp_fish() {
	local out
	out=$("$XCNICTL" completion fish) || return 1
	grep -qx 'complete -c xcnictl -n __fish_use_subcommand -a flows' <<<"$out" &&
		grep -q "^complete -c xcnictl -l verdict -r -a '.*no-backend timeout dropped'" <<<"$out" &&
		grep -q "completion names pod" <<<"$out" || { echo "$out" | head -5; return 1; }
}
check "completion fish: commands, flags, the fate words, the live pod names" comp_fish
# sysdump (issue 70 item 8): in a lab without --node it warns (not a silent, empty
# archive), and it carries the lab's policy objects.
sd_lab() {
	local d out list
	d=$(mktemp -d) || return 1
	mkdir -p "$d/lab/manifests" && echo '{}' >"$d/lab/lab.json"
	echo '{"kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"web"}}' \
		>"$d/lab/manifests/networkpolicy.web.deny.json"
	out=$(XCNI_LAB_DIR="$d/lab" "$XCNICTL" --pin-dir "$d/nopins" sysdump -f "$d/out.tgz" 2>&1)
	echo "$out"
	# The listing read whole first: grep -q leaving early would end tar by
	# SIGPIPE, a failure under pipefail (once in a clean run).
	list=$(tar tzf "$d/out.tgz")
	grep -q 'a lab is up: its nodes are left out (--node all' <<<"$out" &&
		grep -q '/policies/networkpolicy.web.deny.json$' <<<"$list" &&
		grep -q '/local/policy-selectors.json$' <<<"$list"
	local rc=$?
	rm -rf "$d"
	return $rc
}
check "sysdump in a lab without --node: warns; the policy objects and selectors in the archive" sd_lab
