#!/bin/bash
# xcnictl policy suggest's round trip (issue 53 item 7) on the lab app
# (examples/lab: namespaces x, y, z with pods a, b, c; x denies all ingress
# but y/b to x/a on serve-80-tcp):
#
#   record   lab matrix 80/TCP on 2 nodes: every pod pair probed once, each
#            flow recorded allowed or denied by the node that judged it
#   suggest  policy suggest --namespace x from the agents (flows --node all)
#            and from the same records in a file: the same policies; the
#            replay agrees with every record (exit 0, no row "NO")
#   apply    x's own policies deleted, the suggestion applied (audit mode
#            first: nothing denied, then enforced): lab matrix 80/TCP is
#            what was recorded, cell for cell
#
# With fates no rule decided in the window (issue 70 item 1: x/a -> z/c 81/TCP
# refused, nothing listens; x/a -> svc/z/none, a Service without endpoints:
# no-backend), suggest reads them, sets them aside and counts them; the
# replay names x's own policies it set aside (stderr, a comment atop the YAML).
#
# and what the suggestion must be: a default deny, x/a let in from y/b by
# its port's name, x's egress by peer labels with y and z by namespace name;
# a recorded flow the suggestion would deny makes it exit 1.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite suggest
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
EX="$XCNI_ROOT/examples/lab"
TIMEOUT=700

check "lab up --nodes 2" lab up --nodes 2 || { finish; exit 1; }
remember_pids
check "apply the lab app: namespaces, pods, x's default deny and allow" \
	lab apply -f "$EX/00-namespaces.yaml" -f "$EX/10-pods.yaml" -f "$EX/20-default-deny.yaml" \
	-f "$EX/30-allow.yaml"
remember_pids

rows() { /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["rows"], sort_keys=True))' "$1"; }
check "record: lab matrix 80/TCP" bash -c \
	"'$XCNICTL' lab matrix 80/TCP --json --timeout-ms $TIMEOUT >'$T/rec.json' 2>'$T/rec.err'"
diag "recorded: $(rows "$T/rec.json")"
check "recorded: y/b reaches x/a, y/a does not, x reaches z" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["rows"]
sys.exit(0 if r["y/b"]["x/a"] and not r["y/a"]["x/a"] and r["x/a"]["z/c"] else 1)' "$T/rec.json"

cat >"$T/none.yaml" <<'EOF2'
apiVersion: v1
kind: Service
metadata: {name: none, namespace: z}
spec:
  selector: {pod: nobody}
  ports: [{name: http, protocol: TCP, port: 8080, targetPort: 80}]
EOF2
check "a Service without endpoints: z/none" lab apply -f "$T/none.yaml"
check "x/a -> z/c 9/TCP: refused (nothing listens)" bash -c \
	"[ \"\$('$XCNICTL' lab probe x/a z/c 9/TCP 2>&1)\" = refused ]"
check "x/a -> svc/z/none 8080/TCP: no-backend" bash -c \
	"[ \"\$('$XCNICTL' lab probe x/a svc/z/none 8080/TCP 2>&1)\" = no-backend ]"

# The agents record an allowed flow at their next conntrack walk, spaced by the
# walks' own cost: wait (15 s at most) until every pair the matrix saw connect
# to or from x has its record, so suggest reads what was recorded.
all_recorded() {
	"$XCNICTL" flows --node all -o json >"$T/flows.jsonl" 2>"$T/flows.err" &&
	/usr/bin/python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
seen, unsettled = set(), False
for line in open(sys.argv[2]):
    if line.strip():
        r = json.loads(line)
        s, d = r.get("source") or {}, r.get("destination") or {}
        seen.add(("%s/%s" % (s.get("namespace"), s.get("pod")), "%s/%s" % (d.get("namespace"), d.get("pod"))))
        # the probe to svc/z/none: allowed until its SYN has gone unanswered 1.5 s
        unsettled |= d.get("port") == 8080 and r.get("verdict") == "allowed"
want = {(a, b) for a in rows for b in rows[a] if rows[a][b] and a != b and (a.startswith("x/") or b.startswith("x/"))}
sys.exit(0 if want <= seen and not unsettled else 1)' "$T/rec.json" "$T/flows.jsonl" &&
	grep -q '"verdict":"refused"' "$T/flows.jsonl"
}
wait_until 15 all_recorded || diag "not every connected pair has its record after 15 s"
diag "$(wc -l <"$T/flows.jsonl") flow records"
check "suggest from the agents: exit 0, the replay agrees with every record" bash -c \
	"'$XCNICTL' policy suggest --namespace x >'$T/sug.yaml' 2>'$T/sug.table'"
sed 's/^/#   /' "$T/sug.table" | head -60
check "the window's refused record: set aside, counted" \
	grep -qE 'records set aside \(no rule decided them\): .*[0-9]+ refused' "$T/sug.table"
check "the replay names x's policies it set aside, on stderr and atop the YAML" bash -c \
	"grep -q 'the replay set aside the NetworkPolicies of x: .*default-deny.*allow-a-from-y-b\\|the replay set aside the NetworkPolicies of x: .*allow-a-from-y-b.*default-deny' '$T/sug.table' &&
	 head -1 '$T/sug.yaml' | grep -q '^# the replay set aside the NetworkPolicies of x: '"
check "the replay table: rows, none NO" bash -c \
	"grep -q 'RECORDED' '$T/sug.table' && grep -q 'y/b.*x/a.*80/tcp.*allowed.*allowed.*yes' '$T/sug.table' &&
	 ! grep -qw NO '$T/sug.table'"
check "suggest --from-flows FILE: the same policies" bash -c \
	"[ -s '$T/sug.yaml' ] && '$XCNICTL' policy suggest --namespace x --from-flows '$T/flows.jsonl' 2>/dev/null | cmp - '$T/sug.yaml'"
# What the policies say, read back as objects.
pols() { /usr/bin/python3 -c '
import json, sys, yaml
docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
print(eval(sys.argv[2], {}, dict(docs=docs)))' "$@"; }
check "a default deny of both directions" test "$(pols "$T/sug.yaml" \
	'sorted(docs["suggest-default-deny"]["spec"]["policyTypes"]) == ["Egress", "Ingress"] and docs["suggest-default-deny"]["spec"]["podSelector"] == {}')" = True
check "x/a let in from y/b alone, by name serve-80-tcp, y by kubernetes.io/metadata.name" \
	test "$(pols "$T/sug.yaml" 'docs["suggest-a"]["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}], "ports": [{"protocol": "TCP", "port": "serve-80-tcp"}]}]')" = True
check "x/b: no ingress rule (nothing reached it), egress to y and z by labels" \
	test "$(pols "$T/sug.yaml" '"ingress" not in docs["suggest-b"]["spec"] and len(docs["suggest-b"]["spec"]["egress"]) == 6')" = True

check "--audit: every policy annotated xcni.io/policy-mode: audit" bash -c \
	"'$XCNICTL' policy suggest --namespace x --from-flows '$T/flows.jsonl' --audit 2>/dev/null >'$T/audit.yaml' &&
	 [ \$(grep -c 'xcni.io/policy-mode: audit' '$T/audit.yaml') = \$(grep -c '^kind: NetworkPolicy' '$T/audit.yaml') ]"
check "a bad record: named by line and field, exit 1, nothing written" bash -c \
	"echo '{\"verdict\":\"maybe\"}' | '$XCNICTL' policy suggest -n x --from-flows - 2>'$T/bad.err' >'$T/bad.out';
	 [ \$? = 1 ] && grep -q -- '-:1: flow record: verdict' '$T/bad.err' && [ ! -s '$T/bad.out' ]"

# Every fate a record can have, no-backend's too (the agents' own records of
# it depend on how the Service is translated): set aside and counted, exit 0.
{ cat "$T/flows.jsonl"; for v in no-backend timeout forwarded dropped; do
	printf '{"family":"ipv4","protocol":"TCP","verdict":"%s","source":{"ip":"10.244.9.9","port":1,"namespace":"x","pod":"a"},"destination":{"ip":"10.96.9.9","port":8080}}\n' "$v"; done; } >"$T/fates.jsonl"
check "every verdict in the window: exit 0, the same policies, the fates counted" bash -c \
	"'$XCNICTL' policy suggest -n x --from-flows '$T/fates.jsonl' 2>'$T/fates.err' | cmp - '$T/sug.yaml' &&
	 grep -qE 'records set aside .*refused, 1 no-backend, [0-9]+ timeout, 1 dropped' '$T/fates.err'" ||
	sed 's/^/#   /' "$T/fates.err" | tail -3

# ICMP: NetworkPolicy cannot allow it without every port, so the suggestion
# leaves it out, and its replay says so (exit 1, the row NO).
x_a=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['namespace'] == 'x' and p['name'] == 'a'][0]")
y_a=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['namespace'] == 'y' and p['name'] == 'a'][0]")
{ cat "$T/flows.jsonl"; printf '{"family":"ipv4","protocol":"ICMP","verdict":"allowed","source":{"ip":"%s","port":0,"namespace":"x","pod":"a"},"destination":{"ip":"%s","port":0,"namespace":"y","pod":"a"}}\n' "$x_a" "$y_a"; } >"$T/icmp.jsonl"
check "a recorded ping it cannot allow: exit 1, its row NO, said left out" bash -c \
	"'$XCNICTL' policy suggest -n x --from-flows '$T/icmp.jsonl' >/dev/null 2>'$T/icmp.err'; [ \$? = 1 ] &&
	 grep -q 'x/a *y/a *icmp *allowed *denied *NO' '$T/icmp.err' && grep -q 'left out: ICMP' '$T/icmp.err'" ||
	sed 's/^/#   /' "$T/icmp.err" | tail -5

check "x's own policies deleted" lab delete -f "$EX/30-allow.yaml" -f "$EX/20-default-deny.yaml"
check "the suggestion in audit mode applied" bash -c "[ -s '$T/audit.yaml' ] && '$XCNICTL' lab apply -f '$T/audit.yaml'"
check "audit mode: every pair connects (nothing enforced)" bash -c \
	"'$XCNICTL' lab matrix 80/TCP --json --timeout-ms $TIMEOUT >'$T/aud.json' 2>/dev/null;
	 /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[\"rows\"]; sys.exit(0 if all(all(v.values()) for v in r.values()) else 1)' '$T/aud.json'"
check "the suggestion enforced (kubectl apply's YAML, as written)" bash -c "[ -s '$T/sug.yaml' ] && '$XCNICTL' lab apply -f '$T/sug.yaml'"
"$XCNICTL" lab matrix 80/TCP --json --timeout-ms $TIMEOUT >"$T/after.json" 2>"$T/after.err"
same_rows() { /usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(f))["rows"] for f in sys.argv[1:3])
sys.exit(0 if a == b and len(a) == 9 else 1)' "$@"; }
check "lab matrix 80/TCP is what was recorded, cell for cell (9 x 9)" same_rows "$T/rec.json" "$T/after.json" ||
	diag "after: $(rows "$T/after.json")"

lab_down_checked
finish
