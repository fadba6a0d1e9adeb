#!/bin/bash
# ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) end to end: the
# Admin tier above NetworkPolicy, the Baseline tier below it, Pass, priorities
# and audit mode, with real traffic. The lab of tests/lab/netpol.sh
# (namespaces x, y, z with pods a, b, c each, serving 80 and 81); each case
# applies policies with `xcnictl lab apply`, probes every ordered pod pair
# (`lab matrix`) and compares the table with what the API's text says.
#
# The views name what decided: `policy get` (TIER, ACTION, RULE-NAME, passed_by),
# `explain` (the walk Admin -> NetworkPolicy -> Baseline, a Pass included),
# `monitor` (tier and rule name of verdicts and tier drops) on x/a's node
# (flows' rule_name: test_flows; xcnid --flows would share the events ring
# with monitor).
#
# Every node's xcnid serves metrics (--metrics-addr 127.0.0.1:9962 in its
# netns): around the Admin Deny, Pass, audit and Baseline cases the counters
# xcni_policy_flows_total{tier,action,direction}, summed over the nodes, move
# in the cells those cases decide and in no other.
#
# CNP_NODES=N (default 1) spreads the pods over N nodes; CNP_FAMILY=ipv4|dual
# (default ipv4) runs the lab in that family (dual: every pair over both).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

XCNICTL=${XCNICTL:-$BUILD/xcnictl}
export XCNI_LAB_DIR=${XCNI_LAB_DIR:-$(mktemp -d /tmp/xcni-cnp.XXXXXX)}
EX=$XCNI_ROOT/examples/lab
T=$(mktemp -d /tmp/xcni-cnp-t.XXXXXX)
TIMEOUT=${CNP_TIMEOUT_MS:-400}
NODES=${CNP_NODES:-1}
FAMILY=${CNP_FAMILY:-ipv4}

cleanup() {
	"$XCNICTL" lab down >/dev/null 2>&1
	rm -rf "$T" "$XCNI_LAB_DIR"
}
trap cleanup EXIT

# shellcheck source=tests/lab/lib.sh
. "$HERE/lib.sh"
stale_lab_sweep

# matrix NAME PORT/PROTO EXPR: the table against EXPR (tests/lab/expect.py), re-probed once.
matrix() {
	local name=$1 pp=$2 expr=$3 try
	for try in 1 2; do
		if ! lab matrix "$pp" --json --timeout-ms "$TIMEOUT" >"$T/m.json" 2>"$T/m.err"; then
			sed 's/^/#   /' "$T/m.err" | head -10
		elif /usr/bin/python3 "$HERE/expect.py" "$T/m.json" "$expr" >"$T/diff"; then
			ok "$name: $pp${try/#2/ (RE-PROBED)}"
			return 0
		fi
		cat "$T/diff" 2>/dev/null
		sleep 1
	done
	not_ok "$name: $pp"
	"$XCNICTL" --node n1 policy list 2>&1 | sed 's/^/#   /' | head -20
}


# cnp NAME TIER PRIORITY SUBJECT-NS [ANNOTATIONS]: a ClusterNetworkPolicy
# whose subject is namespace SUBJECT-NS ("" every namespace) and whose ingress
# rules are stdin (YAML, indented as items of spec.ingress).
cnp() {
	local subj='{}'
	[ -n "$4" ] && subj="{matchLabels: {ns: $4}}"
	{
		cat <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: $1${5:+, annotations: $5}}
spec:
  tier: $2
  priority: $3
  subject: {namespaces: $subj}
  ingress:
EOF
		cat
	} | policy "$1"
}

# Prometheus: xcni_policy_flows_total of every node, summed (scrape FILE), and
# a cell's growth between two scrapes (pflows A B TIER ACTION [DIRECTION]).
MPORT=9962
scrape() {
	local n
	: >"$1"
	for n in $(seq 1 "$NODES"); do
		in_node "$n" /usr/bin/python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())
' "$MPORT" >>"$1" || echo "scrape-failed n$n" >>"$1"
	done
}
pflows() {
	local a b
	a=$(pfsum "$1" "$3" "$4" "${5:-ingress}") b=$(pfsum "$2" "$3" "$4" "${5:-ingress}")
	[ "$a" = missing ] || [ "$b" = missing ] && { echo missing; return; }
	echo $((b - a))
}
pfsum() {
	awk -v s="xcni_policy_flows_total{tier=\"$2\",action=\"$3\",direction=\"$4\"}" '
		/^scrape-failed/ { bad = 1 } $1 == s { t += $2; f++ } END { print (bad || !f) ? "missing" : t }' "$1"
}
# pcheck NAME A B TIER ACTION DIRECTION OP N: the growth of a cell compared with N (test OP).
pcheck() {
	local d
	d=$(pflows "$2" "$3" "$4" "$5" "$6")
	check "$1: $4/$5/$6 flows grew $7 $8 (got $d)" test "$d" "$7" "$8"
}
# pstill A B DIRECTION CELL...: those cells (TIER/ACTION) did not move.
pstill() {
	local a=$1 b=$2 dir=$3 c d got="" bad=0
	shift 3
	for c in "$@"; do
		d=$(pflows "$a" "$b" "${c%/*}" "${c#*/}" "$dir")
		got+=" $c=$d"
		[ "$d" = 0 ] || bad=1
	done
	check "  ... and no other $dir cell moved:$got" test "$bad" = 0
}
ALLCELLS=(admin/accept admin/deny admin/audit networkpolicy/accept networkpolicy/deny
	networkpolicy/audit baseline/accept baseline/deny baseline/audit default/accept)

check "lab up --nodes $NODES --ip-family $FAMILY (xcnid --metrics-addr 127.0.0.1:$MPORT)" \
	lab up --nodes "$NODES" --ip-family "$FAMILY" --agent-arg "--metrics-addr=127.0.0.1:$MPORT" ||
	{ finish; exit 1; }
check "apply namespaces x, y, z" lab apply -f "$EX/00-namespaces.yaml"
check "apply pods a, b, c in each" lab apply -f "$EX/10-pods.yaml" || { finish; exit 1; }
lab get --json >"$T/lab.json"
XA_NODE=$(/usr/bin/python3 -c 'import json,sys; print([p["node"] for p in json.load(open(sys.argv[1]))["pods"] if p["namespace"] == "x" and p["name"] == "a"][0])' "$T/lab.json")

# jsonok EXPR CMD...: CMD's JSON output (one document, or one per line) as j (a
# list for lines: l) makes EXPR true; else both are shown.
jsonok() {
	local expr=$1
	shift
	"$@" >"$T/j.out" 2>&1 || { echo "exit $?"; head -20 "$T/j.out"; return 1; }
	/usr/bin/python3 -c '
import json, sys
t = open(sys.argv[1]).read()
try:
    j = json.loads(t)
except ValueError:
    j = None
l = [json.loads(x) for x in t.splitlines() if x.strip().startswith("{")]
if not eval(sys.argv[2]):
    print(t[:3000]); sys.exit(1)' "$T/j.out" "$expr"
}
xa() { "$XCNICTL" --node "$XA_NODE" "$@"; }
matrix "no policy" 80/tcp "True"

# Bad input: refused naming the object and the field, nothing applied.
cat >"$T/bad.yaml" <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: bad}
spec: {tier: Baseline, priority: 1001, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
EOF
lab apply -f "$T/bad.yaml" >"$T/out" 2>&1
check "lab apply: priority 1001 refused, naming the field" \
	grep -q "ClusterNetworkPolicy bad: spec.priority: 1001 must be between 0 and 1000" "$T/out"
matrix "  ... nothing applied" 80/tcp "True"

# A NetworkPolicy in x that admits everyone; the Admin tier denies y above it.
cat >"$T/np-x.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
EOF
check "apply NetworkPolicy x/allow-all" lab apply -f "$T/np-x.yaml"
cnp deny-y Admin 10 x <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
scrape "$T/p0"
matrix "Admin Deny y -> x over a NetworkPolicy allow" 80/tcp "not (dns == 'x' and sns == 'y')"
scrape "$T/p1"
pcheck "Admin Deny (9 pairs y -> x)" "$T/p0" "$T/p1" admin deny ingress -ge 9
pcheck "  ... x's NetworkPolicy admitting x and z" "$T/p0" "$T/p1" networkpolicy accept ingress -ge 6
pstill "$T/p0" "$T/p1" ingress admin/accept admin/audit networkpolicy/deny networkpolicy/audit \
	baseline/accept baseline/deny baseline/audit default/accept
pstill "$T/p0" "$T/p1" egress "${ALLCELLS[@]}"

# Pass at a lower priority number: y/a skips the rest of the Admin tier; x's NetworkPolicy admits it.
cnp pass-ya Admin 5 x <<'EOF'
  - {name: ya, action: Pass, from: [{pods: {namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}}]}
EOF
matrix "Pass (priority 5) for y/a, then the NetworkPolicy" 80/tcp \
	"not (dns == 'x' and sns == 'y' and spod != 'a')"
# One flow each: y/a passes to the NetworkPolicy (no Admin cell), y/b is denied by the Admin tier.
scrape "$T/p0"
lab probe y/a x/a 80/tcp --timeout-ms "$TIMEOUT" >/dev/null 2>&1
scrape "$T/p1"
lab probe y/b x/a 80/tcp --timeout-ms "$TIMEOUT" >/dev/null 2>&1
scrape "$T/p2"
pcheck "Pass: y/a -> x/a counts as the NetworkPolicy's" "$T/p0" "$T/p1" networkpolicy accept ingress -ge 1
pstill "$T/p0" "$T/p1" ingress admin/accept admin/deny admin/audit networkpolicy/deny \
	baseline/accept baseline/deny default/accept
pcheck "  ... y/b -> x/a: the Admin Deny" "$T/p1" "$T/p2" admin deny ingress -ge 1
pstill "$T/p1" "$T/p2" ingress admin/accept admin/audit networkpolicy/accept networkpolicy/deny \
	baseline/accept baseline/deny default/accept

# The views, on x/a's node: policy get's tiers, actions, rule names and the Pass.
check "policy get x/a: y's entries Admin/deny by deny-y rule 0 \"no-y\"" \
	jsonok "[r for r in j if r.get('tier') == 'Admin' and r.get('action') == 'deny' and r.get('policy') == 'deny-y [Admin 10]' and r.get('rule_name') == 'no-y']" \
	xa policy get x/a --json
check "  ... y/a's: NetworkPolicy/allow by x/allow-all, passed_by pass-ya rule 0 (ya)" \
	jsonok "[r for r in j if r.get('tier') == 'NetworkPolicy' and r.get('action') == 'allow' and r.get('policy') == 'x/allow-all' and r.get('rule_name') is None and r.get('passed_by') == 'pass-ya [Admin 5] rule 0 (ya)']" \
	xa policy get x/a --json
check "  ... the text table has TIER, ACTION and RULE-NAME" \
	bash -c '"$@" | grep -q "RULE-NAME.*TIER.*ACTION" && "$@" | grep -q "no-y  *Admin  *deny"' _ \
	"$XCNICTL" --node "$XA_NODE" policy get x/a
# explain walks the tiers: a Pass, then the NetworkPolicy that decides; a Deny that decides.
check "explain y/a x/a 80/tcp: Admin Pass by pass-ya rule 0 \"ya\", then x/allow-all decides" \
	jsonok "j['ingress_tiers'] == 'Admin: Pass by pass-ya [Admin 5] rule 0 \"ya\" -> NetworkPolicy: x/allow-all rule 0 allows: decides' and j['ingress_tier'] == 'networkpolicy' and j['ingress_action'] == 'accept' and j['verdict'] == 'allowed'" \
	xa explain y/a x/a 80/tcp --json
check "explain y/b x/a 80/tcp: the Admin Deny decides, rule name no-y" \
	jsonok "j['ingress_tiers'] == 'Admin: deny-y [Admin 10] rule 0 \"no-y\" Deny: decides' and j['ingress_rule_name'] == 'no-y' and j['ingress_tier'] == 'admin' and j['ingress_action'] == 'deny' and j['verdict'] == 'denied'" \
	xa explain y/b x/a 80/tcp --json
out=$(xa explain y/a x/a 80/tcp 2>&1)
check "  ... the text shows INGRESS-TIERS" grep -q '^INGRESS-TIERS *Admin: Pass by pass-ya' <<<"$out"
echo "$out" | grep -i tiers | sed 's/^/#   /'
# monitor names tier and rule: y/b's Admin drop and y/a's NetworkPolicy verdict.
xa monitor --json --timeout-ms 2500 >"$T/ev.json" 2>"$T/ev.err" &
mon=$!
mon_subscribed "$mon" "xcl-$XA_NODE"
# The allowed probe first: the denied one waits its timeout for each family,
# which on a loaded machine ran past the monitor's window (a clean run's 25).
lab probe y/a x/a 80/tcp --timeout-ms "$TIMEOUT" >/dev/null 2>&1
lab probe y/b x/a 80/tcp --timeout-ms "$TIMEOUT" >/dev/null 2>&1
wait "$mon" || { echo "# monitor exited $?"; sed 's/^/#   /' "$T/ev.err"; }
check "monitor: y/b -> x/a drop-policy-admin, tier admin, 'deny ingress by deny-y [Admin 10] rule 0 \"no-y\"'" \
	jsonok "[e for e in l if e['reason'] == 'drop-policy-admin' and e['tier'] == 'admin' and e['rule_name'] == 'no-y' and e['verdict'] == 'deny ingress by deny-y [Admin 10] rule 0 \"no-y\"']" \
	cat "$T/ev.json"
check "  ... y/a -> x/a: a verdict by x/allow-all, tier networkpolicy" \
	jsonok "[e for e in l if e['type'] == 'verdict' and e['tier'] == 'networkpolicy' and e['policy'] == 'x/allow-all' and e['rule_name'] is None]" \
	cat "$T/ev.json"
# The same Pass at priority 20: deny-y (10) decides first.
sed -i 's/priority: 5/priority: 20/' "$T/pass-ya.yaml"
check "pass-ya to priority 20" lab apply -f "$T/pass-ya.yaml"
matrix "priority 10 Deny before priority 20 Pass" 80/tcp "not (dns == 'x' and sns == 'y')"
# Equal priorities: by name, "deny-y" before "pass-ya".
sed -i 's/priority: 20/priority: 10/' "$T/pass-ya.yaml"
check "pass-ya to priority 10 (equal: by name)" lab apply -f "$T/pass-ya.yaml"
matrix "equal priorities by name: deny-y first" 80/tcp "not (dns == 'x' and sns == 'y')"
# Port scoped: deny-y only for TCP 80; 81 follows the NetworkPolicy.
unpolicy pass-ya
cnp deny-y Admin 10 x <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}], protocols: [{tcp: {destinationPort: {number: 80}}}]}
EOF
matrix "Admin Deny for TCP 80 only" 80/tcp "not (dns == 'x' and sns == 'y')"
matrix "  ... 81 untouched" 81/tcp "True"

# Audit: the same Deny in audit mode drops nothing; back to enforce, it drops again.
cnp deny-y Admin 10 x "{xcni.io/policy-mode: audit}" <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
scrape "$T/p0"
matrix "audit mode: the Admin Deny drops nothing" 80/tcp "True"
scrape "$T/p1"
pcheck "audit mode: the 9 pairs y -> x audited" "$T/p0" "$T/p1" admin audit ingress -ge 9
cp "$T/p1" "$T/audited"
pstill "$T/p0" "$T/p1" ingress admin/accept admin/deny networkpolicy/deny networkpolicy/audit \
	baseline/accept baseline/deny baseline/audit default/accept
out=$("$XCNICTL" --node n1 explain y/b x/a 80/tcp 2>&1)
check "explain y/b x/a 80/tcp: audit, would deny, by deny-y rule 0 (no-y)" \
	bash -c "grep -q 'audit: would deny' <<<\"\$1\" && grep -q 'deny-y' <<<\"\$1\"" _ "$out"
echo "$out" | sed 's/^/#   /' | head -12
cnp deny-y Admin 10 x <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
scrape "$T/p0"
matrix "enforce again" 80/tcp "not (dns == 'x' and sns == 'y')"
scrape "$T/p1"
# The audit entries are gone: the counter keeps what they counted (no negative growth).
pcheck "enforce again: denied" "$T/p0" "$T/p1" admin deny ingress -ge 9
pcheck "  ... the audit entries replaced, what they counted kept" "$T/audited" "$T/p1" admin audit ingress -eq 0
pstill "$T/p0" "$T/p1" ingress admin/accept admin/audit networkpolicy/deny networkpolicy/audit \
	baseline/accept baseline/deny baseline/audit default/accept
# A tenant who may annotate its own Namespace puts x in audit mode: that
# audits x's NetworkPolicies, never the Admin Deny an administrator set over x.
cat >"$T/ns-x-audit.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}, annotations: {xcni.io/policy-mode: audit}}
EOF
check "the tenant annotates Namespace x xcni.io/policy-mode: audit" lab apply -f "$T/ns-x-audit.yaml"
scrape "$T/p0"
matrix "Namespace x in audit mode: the Admin Deny y -> x still drops" 80/tcp \
	"not (dns == 'x' and sns == 'y')"
scrape "$T/p1"
pcheck "  ... denied by the Admin tier" "$T/p0" "$T/p1" admin deny ingress -ge 9
pcheck "  ... not audited" "$T/p0" "$T/p1" admin audit ingress -eq 0
check "Namespace x back to enforce" lab apply -f "$EX/00-namespaces.yaml"
unpolicy deny-y
lab delete -f "$T/np-x.yaml" >/dev/null 2>&1 || not_ok "delete x/allow-all"
matrix "all removed" 80/tcp "True"

# An audited NetworkPolicy beside an enforced one isolating the same pods opens
# nothing: x admits z only, whatever the audited allow-all says.
cat >"$T/np-audit.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-z, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open-audit, namespace: x, annotations: {xcni.io/policy-mode: audit}}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
EOF
check "apply x/only-z (enforced) and x/open-audit (audit mode)" lab apply -f "$T/np-audit.yaml"
matrix "an audited allow-all beside an enforced NetworkPolicy opens nothing" 80/tcp \
	"dns != 'x' or sns == 'z'"
lab delete -f "$T/np-audit.yaml" >/dev/null 2>&1 || not_ok "delete x/only-z, x/open-audit"

# Baseline: z denies every namespace but its own, unless a NetworkPolicy selects the pod.
cnp base-z Baseline 100 z <<'EOF'
  - {name: same-ns, action: Accept, from: [{namespaces: {matchLabels: {ns: z}}}]}
  - {name: others, action: Deny, from: [{namespaces: {}}]}
EOF
scrape "$T/p0"
matrix "Baseline: z admits only z" 80/tcp "dns != 'z' or sns == 'z'"
scrape "$T/p1"
pcheck "Baseline: x and y -> z (18 pairs) denied" "$T/p0" "$T/p1" baseline deny ingress -ge 18
pcheck "  ... z -> z accepted" "$T/p0" "$T/p1" baseline accept ingress -ge 3
pstill "$T/p0" "$T/p1" ingress admin/accept admin/deny admin/audit networkpolicy/accept \
	networkpolicy/deny networkpolicy/audit baseline/audit default/accept
pstill "$T/p0" "$T/p1" egress "${ALLCELLS[@]}"
ZB_NODE=$(/usr/bin/python3 -c 'import json,sys; print([p["node"] for p in json.load(open(sys.argv[1]))["pods"] if p["namespace"] == "z" and p["name"] == "b"][0])' "$T/lab.json")
check "explain x/a z/b 80/tcp: no Admin rule, no NetworkPolicy, base-z rule 1 \"others\" denies" \
	jsonok "j['ingress_tiers'] == 'Admin: no rule decides -> NetworkPolicy: none isolates z/b for ingress -> Baseline: base-z [Baseline 100] rule 1 \"others\" Deny: decides' and j['ingress_tier'] == 'baseline'" \
	"$XCNICTL" --node "$ZB_NODE" explain x/a z/b 80/tcp --json
cat >"$T/np-za.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: za-from-x, namespace: z}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}}]}]
EOF
check "apply NetworkPolicy z/za-from-x" lab apply -f "$T/np-za.yaml"
matrix "a NetworkPolicy on z/a decides before Baseline" 80/tcp \
	"(dns != 'z' or sns == 'z') if dpod != 'a' or dns != 'z' else sns == 'x'"
# An Admin Accept above both.
cnp y-in-z Admin 1 z <<'EOF'
  - {action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
scrape "$T/p0"
matrix "Admin Accept above NetworkPolicy and Baseline" 80/tcp \
	"dns != 'z' or sns == 'y' or (sns == 'z' and dpod != 'a') or (dpod == 'a' and sns == 'x')"
scrape "$T/p1"
pcheck "Admin Accept: y -> z (9 pairs)" "$T/p0" "$T/p1" admin accept ingress -ge 9
unpolicy y-in-z base-z
lab delete -f "$T/np-za.yaml" >/dev/null 2>&1 || not_ok "delete z/za-from-x"

check "lab down" lab down
left=$(ip netns list | grep -c '^xcl-' || true)
[ "$left" = 0 ] && ok "no lab netns left" || not_ok "$left lab netns left"
finish
