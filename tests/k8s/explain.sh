#!/bin/bash
# make e2e: explain and policy status through the agents in a real cluster
# (issue 53 items 4 and 8), as a kind user runs them from a workstation. Two
# kubelet nodes of tests/k8s/node.sh, xcni installed kube-proxy-free
# (xcni.yaml + kpr-patch.yaml, tests/k8s/lib.sh) and the flows relay enabled as
# docs/kind.md says (flows-certs.sh --apply, flows-patch.yaml;
# tests/k8s/flows-lib.sh). Pods ex/a on n1 (app=a, serving 8080), ex/b and
# ex/c on n2 (c role=friend); NetworkPolicy ex/a-from-friends isolates a for
# ingress, letting role=friend in. Then from the control plane's netns (where a
# workstation's kubeconfig reaches the API server and the nodes):
#  1. xcnictl explain --kubeconfig --tls: b (n2) -> a (n1) 8080/tcp: one
#     verdict, denied by ingress at n1 (isolated by ex/a-from-friends), the
#     egress side allowed by default at n2: each side read by its own node's
#     agent; c -> a allowed by the policy at n1; the text says the same;
#     NetworkPolicy ex/a-from-backend's from: has a label typo (tier=backnd,
#     b is tier=backend): b -> a still denied, and explain names the rule and
#     the label that exists (its near miss, filled in by n1's agent);
#  2. xcnictl policy status --kubeconfig: ex/a-from-friends enforced on 2/2
#     nodes, exit 0; with NAME, one row per node;
#  3. the policy version's Event: one Event (reason Enforced) on the
#     NetworkPolicy, "enforced on 2/2 nodes, S s after the change", count 2 (one
#     object, written by the one writer from both agents' reports: Leases in
#     namespace xcni); the policy changed: one more for the new
#     version, none repeated (2 in all); a ClusterNetworkPolicy's Event (the
#     CRD of k8s_cnp_crd) in namespace default, 2/2;
#  4. a request=explain with an option word for SRC refused (400, named).
# Before 1: each agent runs with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN alone,
# no new privileges, a seccomp filter, a read-only root (issue 65 item 6).
# ~4 min on an idle machine; run under flock /tmp/xcni-test.lock.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/flows-lib.sh"
T0=$(now_ms)
k8s_preflight n1 n2
k8s_image
k8s_cp_up
k8s_nodes_up
k8s_manifest kpr >"$TMP/xcni.yaml"
k8s_install "$TMP/xcni.yaml"
k8s_flows_enable

# The agent with least privilege (issue 65 item 6): each node's xcnid (the
# kubelet's containers are this host's processes) runs with CAP_BPF,
# CAP_PERFMON and CAP_NET_ADMIN alone, no new privileges, a seccomp filter
# (RuntimeDefault) and a read-only root.
agent_least() {
	local pid n=0 eff st
	for pid in $(pgrep -x xcnid); do
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '--k8s-api in-cluster' || continue
		st=$(cat "/proc/$pid/status")
		eff=$(awk '$1 == "CapEff:" { print $2 }' <<<"$st")
		[ "$((16#$eff))" -eq $(((1 << 39) | (1 << 38) | (1 << 12))) ] &&
			grep -Eq '^NoNewPrivs:\s+1' <<<"$st" && grep -Eq '^Seccomp:\s+2' <<<"$st" &&
			awk '$5 == "/" { split($6, o, ","); ro = o[1] == "ro" } END { exit !ro }' "/proc/$pid/mountinfo" ||
			{ echo "xcnid $pid: CapEff $eff, $(grep -E '^(NoNewPrivs|Seccomp):' <<<"$st" | paste -sd' ')"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -eq 2 ] || { echo "$n agents found"; return 1; }
}
check "each node's xcnid: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN alone (no CAP_SYS_ADMIN), no new privileges, seccomp, read-only root" agent_least

kc create namespace ex >/dev/null
check "pod ex/a (n1, app=a) Ready" pod a ex n1 "app: a" "$SERVE"
check "pod ex/b (n2, tier=backend) Ready" pod b ex n2 "app: b, tier: backend" "exec sleep 2147483647"
check "pod ex/c (n2, role=friend) Ready" pod c ex n2 "app: c, role: friend" "exec sleep 2147483647"
friends_only a-from-friends ex 'app: a'
EA=$(ip_of ex a)
check "c (n2) reaches a (n1); b (n2) is cut off (ex/a-from-friends)" \
	eventually 20 bash -c "wget_from ex c http://$EA:8080/ | grep -qx hello-from-a && ! wget_from ex b http://$EA:8080/ >/dev/null 2>&1"

# The workstation's xcnictl: the control plane's netns, the client certificate.
xk() { ip netns exec "$K8S_NETNS" "$BUILD/xcnictl" "$@" --kubeconfig "$KUBECONFIG" --tls "$TMP/flows/client"; }
export -f xk
export BUILD TMP K8S_NETNS KUBECONFIG

# ---- 1. explain across the nodes ----
check "explain --kubeconfig ex/b ex/a 8080/tcp -o json: exit 0" \
	bash -c "xk -o json explain ex/b ex/a 8080/tcp >$TMP/ex-ba.json 2>$TMP/ex-ba.err || { cat $TMP/ex-ba.err; exit 1; }"
exjson() { # FILE EXPR: a Python expression over the record r
	python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
ok or print(json.dumps(r)[:3000])
sys.exit(0 if ok else 1)
PY
}
export -f exjson
check "  one verdict: denied by ingress at n1, isolated by ex/a-from-friends; egress allowed by default at n2" \
	exjson "$TMP/ex-ba.json" 'r["verdict"] == "denied" and r["verdict_text"] == "denied: by ingress at the destination" and r["egress"] == "allow" and r["egress_node"] == "n2" and r["egress_reason"] == "default" and r["ingress"] == "deny" and r["ingress_node"] == "n1" and r["ingress_reason"] == "isolated" and "ex/a-from-friends" in (r["ingress_isolated_by"] or "")'
check "explain --kubeconfig ex/c ex/a 8080/tcp: allowed at n1 by ex/a-from-friends" \
	bash -c "xk -o json explain ex/c ex/a 8080/tcp >$TMP/ex-ca.json && exjson $TMP/ex-ca.json 'r[\"verdict\"] == \"allowed\" and r[\"ingress_policy\"] == \"ex/a-from-friends\" and r[\"ingress_node\"] == \"n1\" and r[\"egress_node\"] == \"n2\"'"
check "  text: VERDICT allowed: both sides allow, and the ingress side names the policy (node n1)" \
	bash -c "xk explain ex/c ex/a 8080/tcp >$TMP/ex-ca.txt && grep -q '^VERDICT .*allowed: both sides allow' $TMP/ex-ca.txt && grep -q '^INGRESS .*ex/a-from-friends.*node n1' $TMP/ex-ca.txt || { cat $TMP/ex-ca.txt; exit 1; }"
check "explain --kubeconfig without --tls (nor XCNI_FLOWS_TLS): a usage error naming --tls, exit 2" \
	bash -c "env -u XCNI_FLOWS_TLS ip netns exec $K8S_NETNS $BUILD/xcnictl explain ex/b ex/a 8080/tcp --kubeconfig $KUBECONFIG 2>&1 >/dev/null | grep -q -- '--tls DIR'; [ \${PIPESTATUS[0]} = 2 ]"

# ---- 1b. the label typo: the rule that should have matched, named ----
# ex/a-from-backend takes 8080/TCP from tier=backnd where b is tier=backend:
# b stays cut off, and explain (the ingress side read by n1's agent, from its
# own store) names the rule and the label that exists, as flows and policy get
# say it in the lab (tests/lab/nearmiss.sh).
np_yaml a-from-backend ex '{matchLabels: {app: a}}' Ingress 'ingress:' '- from:' \
	'  - podSelector: {matchLabels: {tier: backnd}}' '  ports: [{port: 8080, protocol: TCP}]' |
	kc apply -f - >/dev/null
export TYPO='ex/a-from-backend rule 0: from podSelector tier=backnd — selects no pod (tier=backend has 1)'
check "ex/a-from-backend (from tier=backnd, a typo) in force on 2/2 nodes; b (n2) -> a (n1) still denied" \
	eventually 20 bash -c "xk policy status ex/a-from-backend 2>&1 | grep -q 'enforced on 2/2 nodes' && ! wget_from ex b http://$EA:8080/ >/dev/null 2>&1"
check "explain --kubeconfig ex/b ex/a 8080/tcp -o json: ingress_near_misses names the typo's rule and tier=backend; egress none" \
	bash -c "xk -o json explain ex/b ex/a 8080/tcp >$TMP/ex-typo.json && exjson $TMP/ex-typo.json 'r[\"verdict\"] == \"denied\" and __import__(\"os\").environ[\"TYPO\"] in (r[\"ingress_near_misses\"] or \"\") and r[\"egress_near_misses\"] is None'"
check "  text: the INGRESS line says '; near miss: ' and that sentence" \
	bash -c "xk explain ex/b ex/a 8080/tcp >$TMP/ex-typo.txt && grep '^INGRESS ' $TMP/ex-typo.txt | grep -qF \"; near miss: \" && grep '^INGRESS ' $TMP/ex-typo.txt | grep -qF \"\$TYPO\" || { cat $TMP/ex-typo.txt; exit 1; }"
grep '^INGRESS ' "$TMP/ex-typo.txt" | sed 's/^/# /'

# ---- 2. policy status ----
check "policy status --kubeconfig: ex/a-from-friends enforced on 2/2 nodes, exit 0" \
	eventually 20 bash -c "xk policy status >$TMP/ps.txt 2>&1 && grep -Eq '^ex/a-from-friends +NetworkPolicy +2/2 ' $TMP/ps.txt"
check "policy status --kubeconfig ex/a-from-friends: a row per node, both enforced" \
	bash -c "xk policy status ex/a-from-friends >$TMP/ps1.txt && grep -q 'enforced on 2/2 nodes' $TMP/ps1.txt && grep -Eq '^n1 +enforced ' $TMP/ps1.txt && grep -Eq '^n2 +enforced ' $TMP/ps1.txt || { cat $TMP/ps1.txt; exit 1; }"

# ---- 2b. status of every node ----
# status --kubeconfig asks each Node's agent through its relay (request=status),
# as lab-flows-relay-3nodes checks on the lab's; here the Nodes are a real
# cluster's and each agent a DaemonSet pod (issue 70).
kstatus() {
	xk status >"$TMP/st.txt" 2>"$TMP/st.err"
	local rc=$?
	xk status --json >"$TMP/st.json" 2>/dev/null
	[ $rc = 0 ] || { echo "exit $rc"; cat "$TMP/st.txt" "$TMP/st.err"; return 1; }
	python3 - "$TMP/st.txt" "$TMP/st.json" <<'PY'
import json, re, sys
text, j = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
lines = {l.split()[0]: l for l in text.splitlines() if re.match(r"n\d ", l)}
ok = (sorted(lines) == ["n1", "n2"]
      and all(re.match(r"n\d +OK +xcnid \S+, up \S+, \d+ of \d+ syncs failed$", l) for l in lines.values())
      and "Overall:     OK: 2 of 2 nodes OK" in text
      and j["verdict"] == "OK" and sorted(n["node"] for n in j["nodes"]) == ["n1", "n2"]
      and all(n["agent"]["running"] and n["agent"]["version"] for n in j["nodes"]))
ok or print(text + json.dumps(j)[:2000])
sys.exit(0 if ok else 1)
PY
}
check "status --kubeconfig: n1 and n2 a line each, OK with xcnid's version, uptime and syncs; Overall OK: 2 of 2 nodes OK; --json the same; exit 0" \
	eventually 10 kstatus
sed 's/^/# /' "$TMP/st.txt"

# ---- 3. the policy version's Event ----
events() { # NAME: the Enforced Events on NetworkPolicy ex/NAME, as JSON lines
	kc -n ex get events --field-selector "involvedObject.name=$1,reason=Enforced" -o json |
		python3 -c 'import json,sys; [print(json.dumps(e)) for e in json.load(sys.stdin)["items"]]'
}
export -f events
evcheck() { # NAME N: N Events, the newest "enforced on 2/2 nodes, S s after the change", count 2
	events "$1" >"$TMP/ev.json"
	python3 - "$TMP/ev.json" "$2" <<'PY'
import json, re, sys
es = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = len(es) == int(sys.argv[2]) and all(
    re.match(r"enforced on 2/2 nodes, [0-9.]+ s after the change", e["message"]) and e["count"] == 2
    and e["involvedObject"]["kind"] == "NetworkPolicy" and e["type"] == "Normal" for e in es)
ok or print(json.dumps(es)[:3000])
sys.exit(0 if ok else 1)
PY
}
export -f evcheck
check "Event on ex/a-from-friends: one, 'enforced on 2/2 nodes, S s after the change', count 2 (both agents' reports)" \
	eventually 20 evcheck a-from-friends 1
kc -n ex describe networkpolicy a-from-friends >"$TMP/describe.txt" 2>&1
diag "kubectl $(kc version --short 2>/dev/null | paste -sd' '): describe networkpolicy ex/a-from-friends shows $(grep -c Enforced "$TMP/describe.txt") Enforced line(s)"
kc -n ex patch networkpolicy a-from-friends --type=json \
	-p '[{"op":"add","path":"/spec/ingress/0/ports","value":[{"port":8080,"protocol":"TCP"}]}]' >/dev/null
check "policy changed (a port added): one Event more for its new version, 2 in all, each 2/2" \
	eventually 20 evcheck a-from-friends 2
sleep 2
check "  no Event repeated after that (still 2)" evcheck a-from-friends 2
events a-from-friends | python3 -c 'import json,sys; [print("# Event: x%d %s" % (e["count"], e["message"])) for e in map(json.loads, sys.stdin)]'
# One writer (issue 65 item 4): each agent's report in a Lease of its own in
# namespace xcni, one holder of xcni-policy-events, and every Event written by it.
onewriter() {
	kc -n xcni get leases -o json >"$TMP/leases.json" && events a-from-friends >"$TMP/ev.json" &&
		python3 - "$TMP/leases.json" "$TMP/ev.json" <<'PY'
import json, sys
ls = {l["metadata"]["name"]: l for l in json.load(open(sys.argv[1]))["items"]}
es = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
holder = ls.get("xcni-policy-events", {}).get("spec", {}).get("holderIdentity")
writers = {e["metadata"].get("annotations", {}).get("xcni.io/writer") for e in es}
ok = holder in ("n1", "n2") and {"applied.n1", "applied.n2"} <= set(ls) and writers == {holder}
ok or print("holder", holder, "leases", sorted(ls), "writers", writers)
sys.exit(0 if ok else 1)
PY
}
check "one writer: Lease xcni/xcni-policy-events held by n1 or n2, reports applied.n1 and applied.n2, both Events written by the holder" onewriter
# The requests each agent made for them (its metrics, on the node's loopback):
# Event writes by the holder alone, at most 3 a version; the other's reports only.
evreqs() {
	local n holder nev
	nev=$(kc -n ex get events --field-selector reason=Enforced -o name | wc -l)
	holder=$(kc -n xcni get lease xcni-policy-events -o jsonpath='{.spec.holderIdentity}')
	for n in n1 n2; do
		ip netns exec "xcni-k8s-$n" curl -s --max-time 5 http://127.0.0.1:9962/metrics |
			awk -v n="$n" -v h="$holder" '/^xcni_policy_event_requests_total/ { split($1, k, "\""); r[k[2]] = $2 }
				END { printf "%s %s report=%d elect=%d list=%d event=%d\n", n, (n == h ? "holder" : "other"), r["report"], r["elect"], r["list"], r["event"] }'
	done >"$TMP/evreqs.txt"
	sed 's/^/# requests for the Events: /' "$TMP/evreqs.txt"
	awk -v v="$nev" '$2 == "other" && $6 != "event=0" { bad = 1 } $2 == "holder" { split($6, e, "="); if (e[2] < v || e[2] > 3 * v) bad = 1; h++ }
		END { exit bad || h != 1 || v < 2 }' "$TMP/evreqs.txt"
}
check "requests per agent (metrics): Event requests by the holder alone, 1..3 a version (the Events of ns ex); the other agent none" evreqs
sed 's/^/# /' "$TMP/ps1.txt"

# ---- 3b. a ClusterNetworkPolicy's Event ----
# Cluster-scoped: its Events live in namespace default (the API server's rule
# for an object without a namespace), involvedObject without one.
k8s_cnp_crd
kc label namespace ex kubernetes.io/metadata.name=ex >/dev/null # 1.20 does not set it
kc apply -f - >/dev/null <<'EOF'
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ex-c-out}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: ex}}}
  egress: [{action: Accept, to: [{networks: [198.51.100.0/24]}]}]
EOF
cnpev() { # the Enforced Events on ClusterNetworkPolicy ex-c-out: one, 2/2, count 2
	kc -n default get events --field-selector involvedObject.name=ex-c-out,reason=Enforced -o json >"$TMP/cnpev.json"
	python3 - "$TMP/cnpev.json" <<'PY'
import json, re, sys
es = json.load(open(sys.argv[1]))["items"]
ok = len(es) == 1 and all(
    re.match(r"enforced on 2/2 nodes, [0-9.]+ s after the change", e["message"]) and e["count"] == 2
    and e["involvedObject"]["kind"] == "ClusterNetworkPolicy" and not e["involvedObject"].get("namespace")
    and e["type"] == "Normal" for e in es)
ok or print(json.dumps(es)[:3000])
sys.exit(0 if ok else 1)
PY
}
export -f cnpev
check "Event on ClusterNetworkPolicy ex-c-out (namespace default): one, 'enforced on 2/2 nodes, S s after the change', count 2" \
	eventually 30 cnpev
check "  policy status --kubeconfig: 'Admin 20 ex-c-out' or ex-c-out enforced on 2/2 nodes" \
	eventually 20 bash -c "xk policy status 2>&1 | grep -E 'ex-c-out' | grep -q ' 2/2 '"
python3 -c 'import json,sys; [print("# CNP Event: x%d %s" % (e["count"], e["message"])) for e in json.load(open(sys.argv[1]))["items"]]' "$TMP/cnpev.json"
kc describe clusternetworkpolicy ex-c-out >"$TMP/cnp-describe.txt" 2>&1
diag "kubectl describe clusternetworkpolicy ex-c-out: $(grep -c Enforced "$TMP/cnp-describe.txt") Enforced line(s)"
kc delete clusternetworkpolicy ex-c-out >/dev/null

# ---- 4. the relay's request refused ----
check "request=explain with src=--pin-dir=/: refused, the argument named" \
	bash -c "ip netns exec $K8S_NETNS curl -s --cacert $TMP/flows/client/ca.crt --cert $TMP/flows/client/tls.crt --key $TMP/flows/client/tls.key --connect-to xcni-flows:4244:$(kc get node n1 -o jsonpath='{.status.addresses[0].address}'):4244 'https://xcni-flows:4244/v1/flows?request=explain&src=--pin-dir%3D/&dst=ex/a&port=8080/tcp' | grep -q \"explain's src\""

kc delete namespace ex --wait=true --timeout=90s >/dev/null 2>&1
k8s_agent_logs_clean
k8s_uninstall "$TMP/xcni.yaml" kpr
k8s_down
diag "explain.sh took $((($(now_ms) - T0) / 1000)) s"
finish
