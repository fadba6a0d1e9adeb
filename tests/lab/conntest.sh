#!/bin/bash
# xcnictl connectivity test in a 2-node dual-stack lab with DNS and xcnid's
# Services (--kube-proxy none); endpoint list against the maps; the lab's
# API-server rules (a namespaced object needs its Namespace; delete -f takes
# identity-only manifests).
#
#   netns xcl-out 198.51.100.1, 2001:db8:100::1 (the outside: NodePorts, masquerade)
#        │ route 192.168.77.0/24 via xcl-ul (broken on purpose once, then put back)
#   xcl-n1: xcni-conntest/client, stranger, echo-same; kube-system/dns
#   xcl-n2: xcni-conntest/echo-other, guarded (NetworkPolicy guard: access=yes only)
#   Services xcni-conntest/echo (ClusterIP), echo-np (NodePort), both -> echo-other
#
# Green on a healthy lab (20 tests: 10 per family); a deny-all NetworkPolicy
# applied in the probe namespace (kept with --keep) fails the tests it blocks,
# each named with the policy drop that explains it; a route of the outside
# deleted fails the outside tests, naming them and that xcni counted no drop.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
lab_suite conntest
unset XCNI_LAB_XDP
NS=xcni-conntest
CT() { "$XCNICTL" connectivity test "$@"; }
# out_has REGEX CMD...: CMD's output (stdout and stderr) has a line matching REGEX (grep -E).
out_has() {
	local re=$1 out
	shift
	out=$("$@" 2>&1)
	echo "$out"
	grep -Eq -- "$re" <<<"$out"
}
# out_lines CMD... -- REGEX...: CMD's output has lines matching each REGEX, in that order.
out_lines() {
	local cmd=() out
	while [ "$1" != -- ]; do cmd+=("$1"); shift; done
	shift
	out=$("${cmd[@]}" 2>&1)
	echo "$out"
	/usr/bin/python3 -c '
import re, sys
lines = sys.stdin.read().splitlines(); i = 0
for rx in sys.argv[1:]:
    while i < len(lines) and not re.search(rx, lines[i]):
        i += 1
    if i == len(lines):
        sys.exit("no line matches " + rx)
    i += 1' "$@" <<<"$out"
}
# exits_with RC CMD...
exits_with() {
	local want=$1 rc
	shift
	"$@"; rc=$?
	echo "exit $rc, want $want"
	[ "$rc" = "$want" ]
}
# nothing_of_ns: no pod, Service, policy or Namespace of the probe namespace left.
nothing_of_ns() {
	local left f
	left=$(lab get --json | jq_ "[p['name'] for p in d['pods'] if p['namespace'] == '$NS'] + [s['name'] for s in d.get('services', []) if s['namespace'] == '$NS']")
	echo "pods and Services of $NS: $left"
	for f in "$XCNI_LAB_DIR"/manifests/*".$NS."*; do
		[ -e "$f" ] && { echo "left: $f"; return 1; }
	done
	[ "$left" = "[]" ]
}

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
check "lab up: 2 nodes, dual stack, DNS, --kube-proxy none" \
	lab up --nodes 2 --dns --ip-family dual --kube-proxy none || { finish; exit 1; }
remember_pids
lab_fallbacks_check

# ---- the lab as the API server would -------------------------------------------------------------------
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: q}\nspec: {containers: [{name: c}]}\n' >"$T/pod-q.yaml"
check "lab apply: a Pod in a namespace that does not exist is refused (exit 1)" exits_with 1 lab apply -f "$T/pod-q.yaml"
check "  ... naming it as the API server does" \
	out_has '^lab apply: .*pod-q.yaml: Pod q/b: metadata.namespace: namespace "q" not found$' lab apply -f "$T/pod-q.yaml"
check "  ... nothing created" bash -c "! $XCNICTL lab get | grep -q '^q/b '"
cat >"$T/svc-np-q.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: s, namespace: q}
spec: {selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: r}
spec: {podSelector: {}}
EOF
check "  ... a Service and a NetworkPolicy too, each named" \
	out_lines lab apply -f "$T/svc-np-q.yaml" -- 'Service q/s: metadata.namespace: namespace "q" not found$' \
	'NetworkPolicy r/p: metadata.namespace: namespace "r" not found$' '^lab apply: nothing changed$' 
# The Namespace after its pod in the file: applied first all the same, as kubectl orders them.
{ cat "$T/pod-q.yaml"; printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: q}\nspec: {podSelector: {}}\n'
  printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: q}\n'; } >"$T/pod-then-ns.yaml"
check "the Pod before its Namespace in one manifest: applied (Namespaces first)" \
	out_lines lab apply -f "$T/pod-then-ns.yaml" -- '^namespace q created$' '^pod q/b created'
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: d}\nspec: {containers: [{name: c}]}\n' >"$T/pod-d.yaml"
check "  ... the default namespace needs no manifest (the API server makes it)" lab apply -f "$T/pod-d.yaml"
printf '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"p","namespace":"q"}}\n' >"$T/id-np.json"
check "lab delete -f of an identity-only NetworkPolicy (kind, name, namespace; no spec): deleted" \
	out_has '^networkpolicy q/p deleted$' lab delete -f "$T/id-np.json"
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b","namespace":"q"}}\n' >"$T/id-pod.json"
check "lab delete -f of an identity-only Pod: deleted" \
	out_has '^pod q/b deleted$' lab delete -f "$T/id-pod.json"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: default}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: q}\n' >"$T/id-ns.yaml"
check "  ... and of an identity-only Pod and Namespace, in YAML" \
	out_lines lab delete -f "$T/id-ns.yaml" -- '^pod default/d deleted$' '^namespace q deleted$'
printf '{"apiVersion":"v1","metadata":{"name":"b"}}\n' >"$T/no-kind.json"
check "  ... a manifest without kind is still refused, naming the field" \
	out_has 'kind: required' lab delete -f "$T/no-kind.json"

# ---- connectivity test: green ------------------------------------------------------------------------------
names_has() { # names_has KIND WORD...: completion names KIND lists each WORD
	local out k=$1
	shift
	out=$("$XCNICTL" completion names "$k") || return 1
	echo "$out"
	for w in "$@"; do grep -qx -- "$w" <<<"$out" || return 1; done
}
check "completion names: the lab's live nodes" names_has node n1 n2
check "completion names: its namespaces and pods (DNS's)" names_has namespace kube-system
check "xcnictl --help lists connectivity test" out_has '^  connectivity test( |$)' "$XCNICTL" --help
check "  ... with its purpose" out_has '^ .*Deploy probe pods in the lab' "$XCNICTL" --help
check "connectivity with no subcommand or another: exit 2, naming it" \
	out_has 'unknown subcommand bogus' exits_with 2 "$XCNICTL" connectivity bogus
check "connectivity test --help: the tests and options" out_has '^  policy/denied +stranger -> denied \(by policy\)$' CT --help
check "connectivity test --list: 10 tests per family" test "$(CT --list | wc -l)" = 20
check "connectivity test: every test passes (exit 0)" \
	out_has '^20 passed, 0 failed, 0 skipped .*namespace xcni-conntest removed$' CT
check "  ... nothing of $NS left (pods, Services, policy, Namespace)" nothing_of_ns
"$XCNICTL" -o json connectivity test --test 'pod-to-pod/same-node/*' >"$T/green.json"; RC=$?
check "-o json before the command: one JSON object, 2 passed, exit 0" \
	python3 "$(dirname "$0")/ct_report.py" "$T/green.json" --exit 0 \
	--pass pod-to-pod/same-node/ipv4 --pass pod-to-pod/same-node/ipv6
check "  ... and the exit 0" test "$RC" = 0
# A run stopped by SIGTERM midway (a blocked test holds it 3 s): no more tests, the namespace still goes.
"$XCNICTL" connectivity test --timeout-ms 3000 --test 'policy/denied/*' --test 'pod-to-pod/*' >"$T/term.out" 2>&1 &
CTPID=$!; MINE+=("$CTPID")
wait_until 20 grep -q 'PASS  pod-to-pod/other-node-udp/ipv6' "$T/term.out"
sleep 0.5
kill -TERM "$CTPID"
wait "$CTPID"; RC=$?
sed 's/^/#   /' "$T/term.out"
check "connectivity test stopped by SIGTERM: exit 2" test "$RC" = 2
check "  ... said, and the namespace removed all the same" \
	grep -q 'interrupted: the tests stop here' "$T/term.out"
check "  ... nothing of $NS left" nothing_of_ns
check "--test 'policy/*': the four policy tests alone" out_has '^4 passed, 0 failed, 0 skipped' CT --test 'policy/*'
check "  ... policy/denied passes by a policy drop, named" \
	out_has 'by n2 drop-policy-ingress' CT --test 'policy/denied/ipv4'
check "  ... its line says denied (the probe's verdict word), the allowed one connected" \
	out_lines CT --test 'policy/*/ipv4' -- '^  PASS  policy/allowed/ipv4 .*client -> .*: connected ' \
	'^  PASS  policy/denied/ipv4 .*stranger -> .*: denied$'
check "pod-to-dns: the probe lists the answer's address (echo's ClusterIP, the lab's DNS)" \
	out_has '^  PASS  pod-to-dns/ipv4 .*1 A record\(s\): [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' CT --test 'pod-to-dns/ipv4'
check "connectivity probe --qtype MX: exit 2, naming it" \
	out_has '--qtype MX: want A or AAAA' exits_with 2 "$XCNICTL" connectivity probe --to 10.0.0.1 --dns x --qtype MX
check "--test of no test: exit 2, naming it" out_has '--test nosuch: no test matches' CT --test nosuch
check "  ... exit 2" exits_with 2 CT --test nosuch
check "--node n2 --node n1: the client on n2" out_has '^connectivity test: namespace xcni-conntest on n2 and n1$' \
	CT --node n2 --node n1 --test 'pod-to-pod/*/ipv4'
check "--manifest: the probe namespace as a cluster would take it" \
	out_has '^  ports: \[\{port: 80, targetPort: 8080, nodePort: 30039, protocol: TCP\}\]$' CT --manifest

# cluster_manifest: --manifest with no lab up and two nodes: every object, on those nodes.
cluster_manifest() {
	XCNI_LAB_DIR=$T/nolab "$XCNICTL" connectivity test --manifest --node kind-worker --node kind-worker2 |
		/usr/bin/python3 -c '
import sys, yaml
d = list(yaml.safe_load_all(sys.stdin))
kinds = [x["kind"] + "/" + x["metadata"]["name"] for x in d]
print(kinds)
assert kinds == ["Namespace/xcni-conntest", "Pod/client", "Pod/stranger", "Pod/echo-same", "Pod/echo-other",
                 "Pod/guarded", "NetworkPolicy/guard", "Service/echo", "Service/echo-np"], kinds
nodes = {x["metadata"]["name"]: x["spec"]["nodeName"] for x in d if x["kind"] == "Pod"}
assert nodes == {"client": "kind-worker", "stranger": "kind-worker", "echo-same": "kind-worker",
                 "echo-other": "kind-worker2", "guarded": "kind-worker2"}, nodes
assert d[4]["spec"]["containers"][0]["command"][:3] == ["xcnictl", "lab", "serve"]
assert d[-1]["spec"]["ipFamilyPolicy"] == "PreferDualStack"
# A cluster deletes a pod after its grace period (30 s unset; sleep as PID 1
# ignores SIGTERM): the namespace goes in seconds, not a minute.
grace = {x["metadata"]["name"]: x["spec"].get("terminationGracePeriodSeconds") for x in d if x["kind"] == "Pod"}
assert set(grace.values()) == {1}, grace'
}
check "--manifest with no lab up, --node kind-worker --node kind-worker2: a cluster's manifest" cluster_manifest
check "  ... without the two nodes: exit 2, saying to name them" \
	out_has 'no lab is up; for a cluster, name its two nodes' env XCNI_LAB_DIR="$T/nolab" "$XCNICTL" connectivity test --manifest
check "-o json with --list: refused, saying why (not ignored)" \
	out_lines exits_with 2 "$XCNICTL" -o json connectivity test --list -- "-o json: a run's result; --list runs no test" '^exit 2, want 2$'
check "-o yaml after the command: refused, naming the formats" \
	out_lines exits_with 2 "$XCNICTL" connectivity test -o yaml -- '-o yaml: want text or json' '^exit 2, want 2$'

# ---- endpoint list against the maps (the probe namespace kept) ------------------------------------------
check "connectivity test --keep: the namespace stays" out_has 'namespace xcni-conntest kept' CT --keep --test 'pod-to-pod/same-node/ipv4'
# ep_check N: every pod row of node n<N> has the ipcache's identity for its IPv4 and IPv6,
# that identity's labels, the namespace and name lab get gives its address, and node n<N>.
ep_check() {
	local n=$1
	"$XCNICTL" --node "n$n" endpoint list --json >"$T/ep.json" &&
	"$XCNICTL" --node "n$n" ipcache list --json >"$T/ipc.json" &&
	"$XCNICTL" --node "n$n" identity list --json >"$T/id.json" &&
	lab get --json >"$T/lab.json" || return 1
	/usr/bin/python3 - "$T" "n$n" <<'EOF'
import json, sys
t, node = sys.argv[1], sys.argv[2]
ep = json.load(open(t + "/ep.json")); ipc = json.load(open(t + "/ipc.json"))
ids = {i["identity"]: i["labels"] for i in json.load(open(t + "/id.json"))}
lab = json.load(open(t + "/lab.json"))
pods = {p["ip"]: p for p in lab["pods"] if p["ip"]}
byip = {e["prefix"].split("/")[0]: e["identity"] for e in ipc if e["prefix"].endswith(("/32", "/128"))}
assert len(ep) == sum(1 for p in lab["pods"] if p["node"] == node and not p.get("hostNetwork")), (len(ep), node)
for e in ep:
    p = pods[e["ip"]]
    want = (p["namespace"], p["name"], node)
    got = (e["namespace"], e["pod"], e["node"])
    assert got == want, (e["ip"], got, want)
    assert e["ip6"] == p["ip6"], (e["ip6"], p["ip6"])
    assert e["identity"] == byip[e["ip"]] == byip[e["ip6"]], (e["ip"], e["identity"], byip.get(e["ip"]), byip.get(e["ip6"]))
    assert e["identity"] != 0 and e["labels"] == ids[e["identity"]], (e["ip"], e["labels"])
    assert "ns:kubernetes.io/metadata.name=" + p["namespace"] in e["labels"], e["labels"]
    print("ok", e["ip"], e["ip6"], got, e["identity"], e["policy"])
EOF
}
check "endpoint list on n1: identity = ipcache's (both families), labels = identity list's, pod and node = lab get's" ep_check 1
check "endpoint list on n2: the same" ep_check 2
check "  ... guarded (its ingress isolated by policy guard): POLICY ingress" \
	out_has '^.*xcni-conntest +guarded +n2 .* ingress$' "$XCNICTL" --node n2 endpoint list
check "  ... echo-other: open" out_has '^.*xcni-conntest +echo-other +n2 .* open$' "$XCNICTL" --node n2 endpoint list
cat >"$T/audit.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: aud, namespace: $NS, annotations: {xcni.io/policy-mode: audit}}
spec: {podSelector: {matchLabels: {app: echo-other}}, policyTypes: [Ingress]}
EOF
check "an audit-mode NetworkPolicy isolating echo-other's ingress" lab apply -f "$T/audit.yaml"
check "  ... endpoint list: echo-other ingress,audit" \
	out_has '^.*xcni-conntest +echo-other +n2 .* ingress,audit$' "$XCNICTL" --node n2 endpoint list
printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: aud, namespace: %s}\n' "$NS" >"$T/audit-id.yaml"
check "  ... deleted by its identity alone; echo-other open again" \
	bash -c "$XCNICTL lab delete -f $T/audit-id.yaml && $XCNICTL --node n2 endpoint list | grep -Eq '^.*xcni-conntest +echo-other +n2 .* open$'"
check "endpoint list --pod $NS/guarded on n1: a hint naming n2" \
	out_has "pod $NS/guarded: not an endpoint of this node; it runs on node n2 \\(xcnictl --node n2 endpoint list --pod $NS/guarded" \
	"$XCNICTL" --node n1 endpoint list --pod "$NS/guarded"

# ---- connectivity probe: what the cluster's run execs in its pods (the namespace still kept) ------------
pod_ip() { lab get --json | /usr/bin/python3 -c 'import json,sys; print([p["ip"] for p in json.load(sys.stdin)["pods"] if p["namespace"]+"/"+p["name"]==sys.argv[1]][0])' "$1"; }
GIP=$(pod_ip "$NS/guarded")
check "connectivity probe in client -> guarded $GIP:8080: one JSON line, connected, guarded's answer" \
	out_has '^\{"result":"connected","answer":"xcni-conntest/guarded","ms":[0-9]+\}$' \
	lab exec "$NS/client" -- "$XCNICTL" connectivity probe --to "$GIP" --port 8080/tcp
check "  ... in stranger: timeout (the policy's drop answers nothing), exit 0" \
	out_has '^\{"result":"timeout","answer":"","ms":[0-9]+\}$' \
	lab exec "$NS/stranger" -- "$XCNICTL" connectivity probe --to "$GIP" --port 8080/tcp --timeout-ms 300
check "  ... client -> echo-other 9999/tcp (no policy, nothing listens): refused, exit 0" \
	out_has '^\{"result":"refused","answer":"","ms":[0-9]+\}$' \
	lab exec "$NS/client" -- "$XCNICTL" connectivity probe --to "$(pod_ip "$NS/echo-other")" --port 9999/tcp --timeout-ms 1000
check "  ... --to not an address: exit 2, naming it" \
	out_lines exits_with 2 "$XCNICTL" connectivity probe --to nope --port 8080/tcp -- \
	'^connectivity probe: --to nope: not an IPv4 or IPv6 address' '^exit 2, want 2$'
check "  ... --port 80/sctp: exit 2" \
	out_lines exits_with 2 "$XCNICTL" connectivity probe --to "$GIP" --port 80/sctp -- \
	'want PORT/tcp or PORT/udp' '^exit 2, want 2$'
check "connectivity test --kubeconfig with --in-cluster: exit 2" \
	out_lines exits_with 2 "$XCNICTL" connectivity test --kubeconfig /nonexistent --in-cluster -- \
	'one or the other' '^exit 2, want 2$'
check "connectivity test --kubeconfig FILE that is not there: exit 2, naming it" \
	out_lines exits_with 2 "$XCNICTL" connectivity test --kubeconfig "$T/no-such-kubeconfig" -- \
	"$T/no-such-kubeconfig" '^exit 2, want 2$'

# ---- connectivity test: a deny-all in the probe namespace ------------------------------------------------
cat >"$T/deny-all.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: $NS}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
EOF
check "a deny-all NetworkPolicy in $NS (kept from the run before)" lab apply -f "$T/deny-all.yaml"
# -o json and --junit: the progress lines on stderr, the result on stdout and in the file.
CT --timeout-ms 500 -o json --junit "$T/deny.xml" >"$T/deny.json" 2>"$T/deny.out"; RC=$?
sed 's/^/#   /' "$T/deny.out"
check "connectivity test: exit 1" test "$RC" = 1
check "  ... -o json and --junit: the failures named, the JUnit XML as CI parses it" \
	python3 "$(dirname "$0")/ct_report.py" "$T/deny.json" "$T/deny.xml" --exit 1 \
	--fail pod-to-pod/same-node/ipv4 --fail pod-to-service/clusterip/ipv6 --pass policy/denied/ipv4
check "  ... pod-to-pod/same-node/ipv4 failed, named" grep -q '^  FAIL  pod-to-pod/same-node/ipv4 ' "$T/deny.out"
check "  ... with what was expected, what happened and the drop (egress policy on n1)" \
	grep -Pzq 'FAIL  pod-to-pod/same-node/ipv4 [^\n]*\n +expected: connected[^\n]*\n +got: +denied[^\n]*\n +drops: +n1 drop-policy-egress from-pod' "$T/deny.out"
check "  ... pod-to-service, pod-to-outside, pod-to-dns, outside-to-nodeport failed too" \
	bash -c "for t in pod-to-service/clusterip pod-to-outside pod-to-dns outside-to-nodeport/backend-node; do grep -q \"^  FAIL  \$t/ipv6 \" $T/deny.out || exit 1; done"
check "  ... policy/denied still passes (blocked by policy, as it must be)" grep -q '^  PASS  policy/denied/ipv4 ' "$T/deny.out"
check "  ... the namespace removed, the deny-all with it" nothing_of_ns

# ---- connectivity test: a drop during a test that connects ----------------------------------------------
# stranger floods guarded with UDP its policy refuses (drop-policy-ingress on n2) from
# its first datagram until pod-to-pod/same-node/ipv4 has run (60 s at most: a slow
# machine, a VM under TCG, starts python in seconds): it connects, and still fails on the drop.
check "connectivity test --keep (the probe namespace back)" CT --keep --test 'policy/allowed/ipv4'
GIP=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'guarded'][0]")
ip netns exec "xcl-$NS.stranger" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 60
s.sendto(b"x", (sys.argv[1], 9999))
open(sys.argv[2], "w").close()
while time.time() < end:
    s.sendto(b"x", (sys.argv[1], 9999))
    time.sleep(0.001)' "$GIP" "$T/flooding" &
FLOOD=$!; MINE+=("$FLOOD")
for _ in $(seq 600); do [ -e "$T/flooding" ] && break; sleep 0.1; done
sleep 0.5
CT --test 'pod-to-pod/same-node/ipv4' >"$T/flood.out" 2>&1; RC=$?
kill "$FLOOD" 2>/dev/null
wait "$FLOOD"
sed 's/^/#   /' "$T/flood.out"
check "connectivity test during the flood: exit 1" test "$RC" = 1
check "  ... pod-to-pod/same-node/ipv4 connected, and failed on the drop it saw, named" \
	grep -Pzq 'FAIL  pod-to-pod/same-node/ipv4 [^\n]*\n +expected: connected[^\n]*\n +got: +connected: xcni-conntest/echo-same\n +drops: +n2 drop-policy-ingress' "$T/flood.out"

# ---- connectivity test: a route broken -------------------------------------------------------------------
check "the outside loses its route back to the nodes (ip -n xcl-out route del 192.168.77.0/24)" \
	ip -n xcl-out route del 192.168.77.0/24
CT --test '*/ipv4' >"$T/route.out" 2>&1; RC=$?
check "route restored" ip -n xcl-out route add 192.168.77.0/24 via 198.51.100.254
sed 's/^/#   /' "$T/route.out"
check "connectivity test (IPv4): exit 1" test "$RC" = 1
check "  ... the outside tests failed, named: NodePorts and masquerade" \
	bash -c "grep -q '^  FAIL  outside-to-nodeport/backend-node/ipv4 ' $T/route.out && grep -q '^  FAIL  outside-to-nodeport/other-node/ipv4 ' $T/route.out && grep -q '^  FAIL  pod-to-outside/ipv4 ' $T/route.out"
check "  ... saying xcni counted no drop (lost outside its programs)" \
	grep -Pzq 'FAIL  pod-to-outside/ipv4 [^\n]*\n[^\n]*\n[^\n]*\n +drops: +none counted by xcni' "$T/route.out"
check "  ... the rest passed: 7 of 10" grep -q '^7 passed, 3 failed, 0 skipped' "$T/route.out"
check "with the route back: green again" out_has '^20 passed, 0 failed' CT
# The outside's gateway, its entry made stale and used, is probed back to REACHABLE:
# the outside's link-local address is the probes' source (lab/underlay.h). Without
# one the entry turned FAILED, and a route lookup a minute later (the kernel's router
# probing) made it INCOMPLETE with no probe left: the next packet went with it (6.1
# under emulation lost the last test's outside-to-nodeport/backend-node/ipv6 so).
gw_probed() {
	local gw=2001:db8:100::254 mac st
	ip netns exec xcl-out sysctl -qw net.ipv6.neigh.eth0.delay_first_probe_time=1 &&
		ip netns exec xcl-out ping -6 -c 1 -W 2 fd00:77::254 >/dev/null || return 1
	mac=$(ip -n xcl-out -6 neigh show "$gw" dev eth0 | awk '$2 == "lladdr" {print $3}')
	ip -n xcl-out neigh change "$gw" dev eth0 lladdr "$mac" nud stale router || return 1
	ip netns exec xcl-out ping -6 -c 1 -W 2 fd00:77::254 >/dev/null
	wait_until 10 bash -c "ip -n xcl-out -6 neigh show $gw | grep -Eq 'REACHABLE|FAILED'"
	st=$(ip -n xcl-out -6 neigh show "$gw")
	echo "the gateway's entry: $st"
	grep -q REACHABLE <<<"$st"
}
check "the outside's gateway entry, stale and used: probed back to REACHABLE (the outside's link-local its source)" gw_probed

lab_down_checked
finish
