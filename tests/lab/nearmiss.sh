#!/bin/bash
# The rule that should have matched, named (issue 53 item 1): the shop of
# examples/store (frontend, backend-0/1, db-0 in namespace store; a default
# deny and two allow rules, db-from-backend with a label typo in from:
# app=backend-api where the backends are app=backend). The backends cannot
# reach the database; explain, policy get and policy selectors must name
# the rule, say its selector selects no pod, and name the label that exists
# (app=backend has 2). Then the fix (20-fix.yaml): the flow connects, the
# near miss is gone.
#
#   lab node n1 (netns xcl-n1, xcnid, pins /sys/fs/bpf/xcni-lab/n1)
#     store/frontend :8080  store/backend-0 :8080  store/backend-1 :8080  store/db-0 :5432
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite nearmiss
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
EX=$XCNI_ROOT/examples/store
# The sentence the typo must be named by (nearmiss.c's pol_nm_sentence).
TYPO='store/db-from-backend rule 0: from podSelector app=backend-api — selects no pod (app=backend has 2)'

# ctl ARGS...: xcnictl in node n1's netns, on its maps, as an operator would.
ctl() { nsenter --net=/run/netns/xcl-n1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" "$@"; }
# has FIXED CMD...: the command succeeds and its output holds FIXED (a fixed string).
has() {
	local want=$1 out rc; shift
	out=$("$@" 2>&1); rc=$?
	[ $rc -eq 0 ] && grep -qF -- "$want" <<<"$out" || { echo "exit $rc, wanted: $want"; echo "$out"; return 1; }
}
# json_is EXPR CMD...: the command's JSON output, as e, makes EXPR true.
json_is() {
	local expr=$1 out; shift
	out=$("$@") || { echo "exit $?"; return 1; }
	/usr/bin/python3 -c 'import json, sys; e = json.loads(sys.stdin.read()); sys.exit(0 if eval(sys.argv[1]) else 1)' "$expr" <<<"$out" ||
		{ echo "$out"; return 1; }
}
connects() { lab probe "$1" "$2" "$3" >/dev/null 2>&1; }
refused_by_policy() { local out rc; out=$(lab probe "$1" "$2" "$3" 2>&1); rc=$?; not_connected "$out" "$rc" || { echo "$out (exit $rc)"; return 1; }; }

check "lab up --nodes 1" lab up --nodes 1 || { finish; exit 1; }
check "apply the shop (examples/store/00-app.yaml)" lab apply -f "$EX/00-app.yaml" || { finish; exit 1; }
check "apply its policies, the typo among them (10-policies.yaml)" lab apply -f "$EX/10-policies.yaml"
remember_pids

check "frontend -> backend-0 8080/tcp connects (backend-from-frontend)" \
	connects store/frontend store/backend-0 8080/tcp
check "backend-0 -> db-0 5432/tcp does not (the typo)" \
	refused_by_policy store/backend-0 store/db-0 5432/tcp

# explain: the deny sentence, then the rule whose port matched and whose peer did not.
check "explain backend-0 -> db-0 5432/tcp: INGRESS names the rule and the near label" \
	has "INGRESS          deny: store/db-0 is isolated for ingress, nothing allows; store/db-from-backend, store/default-deny isolate it (node n1); near miss: $TYPO" \
	ctl explain store/backend-0 store/db-0 5432/tcp
check "  ... --json: ingress_near_misses is that sentence, the egress side has none" \
	json_is "e['verdict'] == 'denied' and e['ingress_near_misses'] == '''$TYPO''' and e['egress_near_misses'] is None" \
	ctl explain store/backend-0 store/db-0 5432/tcp --json
# The rule means the backends: app=backend-api names nothing like the frontend's
# app=frontend, so its denial is intended (docs/decisions/near-labels.md).
check "explain frontend -> db-0 5432/tcp: denied, no near miss (the rule means backends, not the frontend)" \
	json_is "e['verdict'] == 'denied' and e['ingress_near_misses'] is None" ctl explain store/frontend store/db-0 5432/tcp --json
check "explain backend-0 -> db-0 80/tcp: a port the rule does not take, no near miss" \
	json_is "e['verdict'] == 'denied' and e['ingress_near_misses'] is None" \
	ctl explain store/backend-0 store/db-0 80/tcp --json
check "explain backend-0 -> frontend 8080/tcp: isolated by default-deny alone, nothing near" \
	json_is "e['verdict'] == 'denied' and e['ingress_near_misses'] is None" \
	ctl explain store/backend-0 store/frontend 8080/tcp --json

# policy get: the isolated pod's allow rule that selects nothing, below its (empty) table.
check "policy get store/db-0: the allow rule that selects nothing, named with the near label" \
	has "ingress allow rules that select nothing (near misses):
  $TYPO" ctl policy get store/db-0

check "policy get store/db-0 -o json: the ingress row carries the near miss" \
	json_is "[x['near_misses'] for x in e if x['direction'] == 'ingress'] == ['''$TYPO'''] and all(x['near_misses'] is None for x in e if x['direction'] == 'egress')" \
	ctl policy get store/db-0 -o json

# flows: the drop's record names the same rule (the agent, with explain's function).
# dbrec EXPR [FLOWS-ARGS...]: every record of backend-0 -> db-0 5432/tcp (one at
# least) makes EXPR (over r) true; the agent takes the drop from its ring: 10 s at most.
cat >"$T/dbrec.py" <<'EOF'
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
recs = [r for r in recs if "source" in r and r["source"].get("pod") == "backend-0"
        and r["destination"].get("pod") == "db-0" and r["destination"].get("port") == 5432]
ok = recs and all(eval(sys.argv[1], {}, {"r": r}) for r in recs)
ok or print(json.dumps(recs, indent=1))
sys.exit(0 if ok else 1)
EOF
dbrec() {
	local expr=$1 out _; shift
	for _ in $(seq 50); do
		out=$(ctl flows --json "$@" | /usr/bin/python3 "$T/dbrec.py" "$expr" 2>&1) && return 0
		sleep 0.2
	done
	echo "$out"
	return 1
}
check "flows --json: backend-0 -> db-0 5432/tcp denied, isolated by the two, near_misses the typo's sentence" \
	dbrec "r['verdict'] == 'denied' and r['isolated_by'] == 'store/db-from-backend, store/default-deny' and r['near_misses'] == '''$TYPO'''"
check "flows -o wide: its line says 'near miss:' and the sentence" \
	bash -c "nsenter --net=/run/netns/xcl-n1 '$XCNICTL' --pin-dir '$LAB_PINS/n1' flows -o wide --to-pod store/db-0 | grep -F -- 'isolated by store/db-from-backend, store/default-deny; near miss: $TYPO'"
# The default views: the near miss on lines of its own under the row, wrapped
# to the width (flows 120, lab probe 100 columns), never cut.
cat >"$T/nmlines.py" <<'EOF'
import sys
indent, cols, typo = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lines = sys.stdin.read().split("\n")
i = [k for k, l in enumerate(lines) if l.startswith(" " * indent + "near miss: ")]
got = ""
if i:
    got = lines[i[0]].strip()
    for l in lines[i[0] + 1:]:
        if not l.startswith(" " * (indent + 2)) or l.startswith(" " * indent + "near miss"):
            break
        got += " " + l.strip()
# a 4th argument: only the near-miss lines must fit (monitor's row, its SUMMARY whole, may not)
wide = [l for k, l in enumerate(lines) if len(l) > cols and (len(sys.argv) < 5 or (i and k >= i[0]))]
ok = len(i) == 1 and got == "near miss: " + typo and not wide
ok or print("\n".join(lines) + f"\n(near miss lines at {i}, joined: {got!r}; over {cols}: {len(wide)})")
sys.exit(0 if ok else 1)
EOF
nmflows() { ctl flows --to-pod store/db-0 --from-pod store/backend-0 | /usr/bin/python3 "$T/nmlines.py" 5 120 "$TYPO"; }
check "flows (default text): the row, then '     near miss: ' and the whole sentence, every line <= 120 columns" nmflows
# (lab probe exits 1 on a denial: its output is what is checked.)
nmprobe() { { lab probe store/backend-0 store/db-0 5432/tcp || :; } | /usr/bin/python3 "$T/nmlines.py" 0 100 "$TYPO"; }
check "lab probe backend-0 -> db-0 5432/tcp: 'denied: ...', then the near miss wrapped at 100 columns, whole" nmprobe
probe_json() { lab probe "$@" --json || :; }
check "lab probe --json: near_misses is the sentence" \
	json_is "e['verdict'] == 'denied' and e['near_misses'] == '''$TYPO'''" probe_json store/backend-0 store/db-0 5432/tcp
nmintended() {
	local out
	out=$(lab probe store/frontend store/db-0 5432/tcp 2>&1)
	grep -q '^denied' <<<"$out" && ! grep -q 'near miss' <<<"$out" || { echo "$out"; return 1; }
}
check "lab probe frontend -> db-0 5432/tcp: denied, no near miss (intended)" nmintended
# monitor too (issue 70): the drop's row, then the near miss under it as flows
# prints it; none under the intended denial. mon_probe OUT FROM TO PORT [ARGS...]:
# monitor's first drop FROM -> TO into OUT while lab probe sends it.
mon_probe() {
	local out=$1 from=$2 to=$3 port=$4 mp
	shift 4
	ctl monitor --count 1 --timeout-ms 6000 -t drop --from-pod "$from" --to-pod "$to" "$@" >"$out" 2>&1 &
	mp=$!
	MINE+=("$mp")
	sleep 1
	lab probe "$from" "$to" "$port" >/dev/null 2>&1
	wait "$mp"
}
nmmon() { mon_probe "$T/mon.txt" store/backend-0 store/db-0 5432/tcp && /usr/bin/python3 "$T/nmlines.py" 5 120 "$TYPO" nm <"$T/mon.txt"; }
check "monitor backend-0 -> db-0 5432/tcp (default text): the drop, then '     near miss: ' and the whole sentence, its lines <= 120 columns" nmmon
nmmonjson() { mon_probe "$T/mon.json" store/backend-0 store/db-0 5432/tcp -o json && cat "$T/mon.json"; }
check "  ... monitor -o json: near_misses is the sentence" \
	json_is "e['reason'] == 'drop-policy-ingress' and e['near_misses'] == '''$TYPO'''" nmmonjson
nmmonwide() { mon_probe "$T/monw.txt" store/backend-0 store/db-0 5432/tcp -o wide && grep -q "NEAR-MISSES" "$T/monw.txt" && grep -qF -- "$TYPO" "$T/monw.txt" || { cat "$T/monw.txt"; return 1; }; }
check "  ... monitor -o wide: a NEAR-MISSES column with the sentence" nmmonwide
nmmonintended() {
	mon_probe "$T/mon2.txt" store/frontend store/db-0 5432/tcp &&
		grep -q ' denied ' "$T/mon2.txt" && ! grep -q 'near miss' "$T/mon2.txt" || { cat "$T/mon2.txt"; return 1; }
}
check "monitor frontend -> db-0 5432/tcp: denied, no near miss (intended)" nmmonintended
check "flows --node all --json (the merged records): the same near_misses" \
	dbrec "r['near_misses'] == '''$TYPO'''" --node all
# The UI's panel: the edge's decision and its flows name it (lab ui; xcnid --ui folds the same records).
nmui() {
	lab_ui_graph 9967 "$T/graph.json" || return 1
	/usr/bin/python3 -c 'import json, sys
g, typo = json.load(open(sys.argv[1])), sys.argv[2]
e = [e for e in g["edges"] if e["id"] == "pod:store/backend-0->pod:store/db-0"]
ok = len(e) == 1 and any(w["verdict"] == "denied" and w["text"].endswith("; near miss: " + typo) for w in e[0]["why"]) \
	and all(f["near_misses"] == typo for f in e[0]["recent"] if f["verdict"] == "denied")
ok or print(json.dumps(e, indent=1))
sys.exit(0 if ok else 1)' "$T/graph.json" "$TYPO"
}
check "lab ui /api/graph: backend-0 -> db-0's panel: 'denied ... isolate it; near miss: ' and the sentence, its flows' near_misses" nmui

# policy selectors: every selector, the empty one standing out.
check "policy selectors: db-from-backend's peer selects 0 pods, noted with the near label" \
	has "selects no pod (app=backend has 2)" ctl policy selectors
check "  ... the row: policy, rule, selector, 0 pods, 0 identities" \
	bash -c "nsenter --net=/run/netns/xcl-n1 '$XCNICTL' --pin-dir '$LAB_PINS/n1' policy selectors | grep -E '^store/db-from-backend +from 0 +podSelector app=backend-api +0 +0 +selects no pod'"
DB_ID=$(ctl explain store/backend-0 store/db-0 5432/tcp --json | jq_ 'd["dst_identity"]')
BE_ID=$(ctl explain store/frontend store/backend-0 8080/tcp --json | jq_ 'd["dst_identity"]')
diag "db-0's identity $DB_ID, backend-0's $BE_ID"
check "policy selectors -o json: db-from-backend applies to db-0 alone, by its identity" \
	json_is "[(x['pods'], x['pod_names'], x['identities']) for x in e if x['policy'] == 'store/db-from-backend' and x['direction'] == 'subject'] == [(1, ['store/db-0'], [$DB_ID])]" \
	ctl policy selectors -o json
check "  ... its peer: empty, with the note; backend-from-frontend's peer selects the frontend" \
	json_is "[(x['empty'], x['note']) for x in e if x['policy'] == 'store/db-from-backend' and x['direction'] == 'ingress'] == [(True, 'selects no pod (app=backend has 2)')] and [x['pod_names'] for x in e if x['policy'] == 'store/backend-from-frontend' and x['direction'] == 'ingress'] == [['store/frontend']]" \
	ctl policy selectors -o json
check "  ... default-deny applies to the 4 pods, 3 identities (the backends share one)" \
	json_is "[(x['pods'], len(x['identities']), $BE_ID in x['identities']) for x in e if x['policy'] == 'store/default-deny'] == [(4, 3, True)]" \
	ctl policy selectors -o json
check "policy selectors -n other: no policy there" \
	has "no NetworkPolicy or ClusterNetworkPolicy in namespace other" ctl policy selectors -n other

# The fix: the flow connects, nothing near is left.
check "apply the fix (20-fix.yaml: app=backend)" lab apply -f "$EX/20-fix.yaml"
check "backend-0 -> db-0 5432/tcp connects" connects store/backend-0 store/db-0 5432/tcp
check "  ... explained as allowed by store/db-from-backend rule 0" \
	json_is "e['verdict'] == 'allowed' and e['ingress_policy'] == 'store/db-from-backend' and e['ingress_near_misses'] is None" \
	ctl explain store/backend-0 store/db-0 5432/tcp --json
check "  ... its peer now selects the two backends, no note" \
	json_is "[(x['pods'], x['note']) for x in e if x['policy'] == 'store/db-from-backend' and x['direction'] == 'ingress'] == [(2, None)]" \
	ctl policy selectors -o json
check "  ... policy get store/db-0 names no near miss" \
	bash -c "! nsenter --net=/run/netns/xcl-n1 '$XCNICTL' --pin-dir '$LAB_PINS/n1' policy get store/db-0 | grep -q 'near misses'"

lab_down_checked
finish
