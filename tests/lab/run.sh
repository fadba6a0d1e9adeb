#!/bin/bash
# End-to-end tests of `xcnictl lab`: a one-node cluster made of network
# namespaces, pods created from real manifests through the real xcni binary.
#
#   netns xcl-n1 (node n1: xcnid, pins under /sys/fs/bpf/xcni-lab/n1)
#     xc<hash> 10.244.1.1/32 ──veth── eth0 10.244.1.x/32   netns xcl-x.a  (listens 80/tcp, 81/udp)
#     xc<hash> 10.244.1.1/32 ──veth── eth0 10.244.1.y/32   netns xcl-x.b
#     xc<hash> 10.244.1.1/32 ──veth── eth0 ...             netns xcl-y.a, xcl-y.b
#
# The lab's state lives under a mktemp directory ($XCNI_LAB_DIR), never the real
# /run/xcni-lab. The lab's names (xcl-*, /sys/fs/bpf/xcni-lab) are global, so the
# suite refuses to run next to a lab that is up. `xcnictl lab down` runs on exit,
# and the suite checks that it left no netns, pin or process behind.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite lab
# exited WANT PATTERN: the last command ($RC, $out) exited WANT and said PATTERN.
exited() {
	echo "$out"
	[ "$RC" -eq "$1" ] && echo "$out" | grep -q -- "$2"
}


lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"

# ---- up --------------------------------------------------------------------------
check "lab up --nodes 1 (xcnictl itself: the default mode)" "$XCNICTL" lab up --nodes 1
remember_pids
default_none() {
	[ "$("$XCNICTL" lab get --json | jq_ 'd["kubeProxy"]')" = none ] &&
		[ "$("$XCNICTL" --node n1 config --json | jq_ 'd[0]["node_port_mode"] if isinstance(d, list) else d["node_port_mode"]')" = snat ]
}
check "the default mode is kube-proxy none: lab get says so, n1's xcnid translates Services (NODE-PORT-MODE snat)" default_none
PIN=$LAB_PINS/n1
check "node n1: netns xcl-n1, xcnid pinned its programs under $PIN" \
	bash -c "ip netns list | grep -q '^xcl-n1' && [ -e $PIN/prog_from_pod ] && [ -e $PIN/prog_to_pod ]"
node_object() {
	test "$(jq_ 'd["spec"]["podCIDR"], d["status"]["addresses"][0]["address"]' \
		<"$XCNI_LAB_DIR/manifests/node.n1.json")" = "10.244.1.0/24 192.168.77.1"
}
check "Node object n1 in the cluster state (podCIDR, InternalIP on the underlay)" node_object
out=$(lab up --nodes 1 2>&1); RC=$?
check "lab up on a lab that is up: exit 1, saying so" \
	exited 1 'a lab is up already'

# ---- apply -------------------------------------------------------------------------
cat >"$T/pods.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {ns: y}}
EOF
for ns in x y; do for p in a b; do cat >>"$T/pods.yaml" <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $p, namespace: $ns, labels: {pod: $p}}
spec:
  containers:
    - name: srv
      image: registry.k8s.io/e2e-test-images/agnhost:2.47
      ports:
        - {containerPort: 80, name: serve-80-tcp, protocol: TCP}
        - {containerPort: 81, name: serve-81-udp, protocol: UDP}
EOF
done; done
check "apply namespaces x, y and pods a, b in each" lab apply -f "$T/pods.yaml"
remember_pids
GET=$(lab get --json)
declare -A IP
for p in x/a x/b y/a y/b; do
	IP[$p]=$(echo "$GET" | jq_ "[q['ip'] for q in d['pods'] if q['namespace'] + '/' + q['name'] == '$p'][0]")
done
check "4 pods, each with its own IP in 10.244.1.0/24 (${IP[*]})" \
	bash -c "[ \$(printf '%s\n' ${IP[*]} | grep -c '^10\.244\.1\.') -eq 4 ] && [ \$(printf '%s\n' ${IP[*]} | sort -u | wc -l) -eq 4 ]"
INSPECT=$(echo "$GET" | jq_ "[n['inspect'] for n in d['nodes'] if n['name'] == 'n1'][0]")
check "lab get names the command that inspects node n1 (--json inspect, text INSPECT)" \
	bash -c "[ '$INSPECT' = 'xcnictl --node n1 ct list' ] && \"$XCNICTL\" lab get | grep -q ' xcnictl --node n1 ct list'"
check "pod x/a holds its IP on eth0 in netns xcl-x.a" \
	bash -c "ip -n xcl-x.a -o addr show dev eth0 | grep -q 'inet ${IP[x/a]}/32'"
check "Pod object x/a written as the API server holds it: spec.nodeName n1, status.podIP" \
	bash -c "[ \"\$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"spec\"][\"nodeName\"], d[\"status\"][\"podIP\"], d[\"metadata\"][\"labels\"][\"pod\"])' $XCNI_LAB_DIR/manifests/pod.x.a.json)\" = 'n1 ${IP[x/a]} a' ]"
check "no half-written files in the cluster state (only .xcni-generation is hidden)" \
	bash -c "[ -z \"\$(ls -A $XCNI_LAB_DIR/manifests | grep '^\.' | grep -v '^\.xcni-generation$')\" ]"
applied=$("$XCNICTL" --pin-dir "$PIN" config --json 2>/dev/null | jq_ 'd["applied_gen"]' 2>/dev/null)
# grep reads all of it: with -q it could stop early, and under pipefail the
# help's SIGPIPE would fail the test.
if [ "${XCNI_LAB_NO_WAIT:-}" != 1 ] && "$XCNID_BIN" --help 2>&1 | grep -- --manifests >/dev/null; then
	check "apply returned once xcnid applied the sync token (applied_gen $applied = .xcni-generation)" \
		test "$applied" = "$(cat "$XCNI_LAB_DIR/manifests/.xcni-generation")"
else
	diag "xcnid does not read manifests (or XCNI_LAB_NO_WAIT=1): sync wait not tested"
fi
check "applying the same manifest again changes nothing (all unchanged)" \
	bash -c "[ \"\$(\"$XCNICTL\" lab apply -f $T/pods.yaml | grep -vc unchanged)\" -eq 0 ]"

# matrix_all PORT/PROTO: every ordered pair (diagonal included) connected, over
# TCP answered by the destination itself
matrix_all() {
	# Over TCP the listener that answered names itself: it must be the destination.
	lab matrix "$1" --json | jq_ 'sys.exit(0 if len(d["pods"]) == 4 and all(all(r.values()) and len(r) == 4 for r in d["rows"].values()) and (d["protocol"] != "tcp" or all(a == dst for s, row in d["answers"].items() for dst, a in row.items())) else 1)'
}
check "matrix 80/TCP: all 16 pairs connected (no policy yet)" matrix_all 80/tcp
check "matrix 81/UDP: all 16 pairs connected" matrix_all 81/udp
# Flow records are on by default: lab up gave the agent no flag, and it
# answers xcnictl flows with the matrix's connections (to-pod: one node).
# A conntrack walk (every second) after the matrix: within 10 s.
flows_on() {
	"$XCNICTL" flows --node n1 --json --to-port 81 --protocol udp | /usr/bin/python3 -c 'import json, sys
l = [json.loads(x) for x in sys.stdin if x.strip()]
sys.exit(0 if len(l) >= 12 and all(r["verdict"] == "allowed" and r["observation_point"] == "to-pod" and r["entry_point"] == "from-pod" for r in l) else 1)' ||
		{ "$XCNICTL" flows --node n1 --to-port 81; return 1; }
}
check "flows on by default after lab up: n1's xcnid answers xcnictl flows, the matrix's 12 UDP connections between pods allowed at to-pod" wait_until 10 flows_on
check "matrix text: a header row, one row per pod, all '.', and the legend" \
	bash -c "out=\$(\"$XCNICTL\" lab matrix 80/tcp); echo \"\$out\"; [ \$(echo \"\$out\" | wc -l) -eq 6 ] && [ \$(echo \"\$out\" | sed -n 2,5p | grep -o '\.' | wc -l) -eq 16 ] && ! echo \"\$out\" | sed -n 2,5p | grep -q '[A-Z]' && [ \"\$(echo \"\$out\" | tail -1)\" = '(. connected, D denied, R refused, N no-backend, T timeout)' ]"
# Several ports at once: a JSON line per port in the order given, every pair of
# 80/tcp and 81/udp connected, 9999/tcp (nobody serves it) blocked everywhere;
# one timeout for all of them, not one per port.
matrix_multi() {
	local t0 t1
	t0=$(date +%s%N)
	lab matrix 80/tcp 9999/tcp 81/udp --json --timeout-ms 700 >"$T/multi.json" || return 1
	t1=$(date +%s%N)
	echo "took $(((t1 - t0) / 1000000)) ms"
	/usr/bin/python3 - "$T/multi.json" <<'PY'
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
assert [(m["port"], m["protocol"]) for m in ls] == [(80, "tcp"), (9999, "tcp"), (81, "udp")], ls
want = [True, False, True]
for m, w in zip(ls, want):
    assert len(m["rows"]) == 4 and all(len(r) == 4 and all(v == w for v in r.values()) for r in m["rows"].values()), m
    assert all(v == ("connected" if w else "refused") for r in m["verdicts"].values() for v in r.values()), m["verdicts"]
PY
}
check "matrix 80/tcp 9999/tcp 81/udp: a JSON line each, in order; 9999 refused (verdicts), the others connected" matrix_multi
out=$(lab matrix 80/tcp 81/udp --svg "$T/two.svg" 2>&1); RC=$?
check "matrix with two ports and --svg: exit 2, said, nothing written" \
	bash -c '[ "$1" = 2 ] && grep -q "one PORT/PROTO" <<<"$2" && [ ! -e "$3" ]' _ "$RC" "$out" "$T/two.svg"
out=$(lab matrix $(seq -f '%g/tcp' 1 17) 2>&1); RC=$?
check "matrix with 17 ports: exit 2, saying at most 16" \
	bash -c '[ "$1" = 2 ] && grep -q "at most 16" <<<"$2"' _ "$RC" "$out"
check "probe x/a -> y/b 80/tcp: connected, exit 0" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe x/a y/b 80/tcp)\" = connected ]"
check "the TCP listener of y/b answers with its name" \
	bash -c "echo hi | \"$XCNICTL\" lab exec x/a -- socat -T2 - TCP:${IP[y/b]}:80 | grep -qx y/b"
check "the UDP listener of y/b echoes" \
	bash -c "echo hello-udp | \"$XCNICTL\" lab exec x/a -- socat -T2 - UDP:${IP[y/b]}:81 | grep -qx hello-udp"
out=$(lab probe x/a y/b 9999/tcp); RC=$?
check "probe to a port nobody serves (9999/tcp): refused (the pod answered RST), exit 1" test "$out-$RC" = "refused-1"
out=$(lab probe x/a y/b 9999/udp --timeout-ms 500); RC=$?
check "probe to 9999/udp: refused (ICMP port unreachable), exit 1" test "$out-$RC" = "refused-1"
lab probe x/a q/zz 80/tcp >/dev/null 2>&1; RC=$?
check "probe to an unknown pod: exit 2" test "$RC" -eq 2
lab probe x/a y/b 80 >/dev/null 2>&1; rc1=$?
lab probe x/a y/b 80/icmp >/dev/null 2>&1; rc2=$?
check "probe with a malformed PORT/PROTO: exit 2" test "$rc1-$rc2" = "2-2"
out=$(lab probe x/a y/b 80/sctp 2>&1); RC=$?
check "probe over SCTP: exit 2, saying this kernel has no SCTP sockets" \
	exited 2 'no SCTP sockets'
check "exec runs a command in the pod's netns" \
	bash -c "\"$XCNICTL\" lab exec y/a -- ip -o addr show dev eth0 | grep -q 'inet ${IP[y/a]}/32'"

# ---- updates in place ----------------------------------------------------------------
srv_pid() { lab get --json | jq_ "[q['serverPid'] for q in d['pods'] if q['namespace'] + '/' + q['name'] == '$1'][0]"; }
pid0=$(srv_pid x/a)
sed 's/metadata: {name: a, namespace: x, labels: {pod: a}}/metadata: {name: a, namespace: x, labels: {pod: a, tier: web}}/' \
	"$T/pods.yaml" >"$T/pods-relabel.yaml"
out=$(lab apply -f "$T/pods-relabel.yaml"); RC=$?
check "a label change: pod x/a configured, the others unchanged" \
	bash -c "[ $RC -eq 0 ] && [ \"\$(grep configured <<<\"\$1\")\" = 'pod x/a configured (n1, ${IP[x/a]})' ]" _ "$out"
check "  ... same IP, same listener, the object carries the new label" \
	bash -c "[ \"\$(\"$XCNICTL\" lab get --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print([q[\"ip\"] for q in d[\"pods\"] if q[\"namespace\"] == \"x\" and q[\"name\"] == \"a\"][0])')\" = ${IP[x/a]} ] &&
		 [ \"$(srv_pid x/a)\" = $pid0 ] && grep -q '\"tier\": \"web\"' $XCNI_LAB_DIR/manifests/pod.x.a.json"
# Only x/a gets port 8080: every other pod keeps 80.
/usr/bin/python3 - "$T/pods-relabel.yaml" "$T/pods-ports.yaml" <<'EOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
docs = [d.replace("containerPort: 80, name: serve-80-tcp", "containerPort: 8080, name: serve-8080-tcp")
        if "name: a, namespace: x" in d else d for d in docs]
open(sys.argv[2], "w").write("\n---\n".join(docs))
EOF
check "a port change in x/a: applied" lab apply -f "$T/pods-ports.yaml"
check "  ... a new listener: 8080/tcp connected, 80/tcp not, same IP" \
	bash -c "\"$XCNICTL\" lab probe y/a x/a 8080/tcp && ! \"$XCNICTL\" lab probe y/a x/a 80/tcp && [ \"$(srv_pid x/a)\" != $pid0 ] &&
		 ip -n xcl-x.a -o addr show dev eth0 | grep -q 'inet ${IP[x/a]}/32'"
PIDS+=("$(srv_pid x/a)")

# ---- validation: all or nothing --------------------------------------------------------
snap() { ls -A "$XCNI_LAB_DIR/manifests" | grep -v '^\.xcni-generation$'; cat "$XCNI_LAB_DIR/lab.json"; ip netns list | awk '{print $1}' | sort; }
before=$(snap)
cat >"$T/bad.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: x}
spec:
  containers: [{name: srv, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: x}
spec:
  containers: [{name: srv, ports: [{containerPort: 70000}]}]
EOF
out=$(lab apply -f "$T/bad.yaml" 2>&1); RC=$?
check "a bad port: exit 1, the message names the object and the field" \
	exited 1 'Pod x/d: spec.containers\[0\].ports\[0\].containerPort: 70000'
check "  ... and nothing changed (not even the valid pod x/c)" test "$(snap)" = "$before"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: e, namespace: x}\nspec:\n  nodeName: n7\n  containers: [{name: srv}]\n' >"$T/bad-node.yaml"
out=$(lab apply -f "$T/bad-node.yaml" 2>&1); RC=$?
check "spec.nodeName that is no lab node: exit 1, naming the field" \
	exited 1 'Pod x/e: spec.nodeName: n7'
check "  ... nothing changed" test "$(snap)" = "$before"
out=$(printf 'kind: [\n' | lab apply -f - 2>&1); RC=$?
check "unparsable YAML on stdin: exit 1, naming the line" exited 1 '<stdin>: line [0-9]'

# ---- delete ----------------------------------------------------------------------------
yb_host=$(ip -n xcl-n1 -o route show "${IP[y/b]}" | awk '{print $3}')
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: y}\n' >"$T/yb.yaml"
check "delete pod y/b" lab delete -f "$T/yb.yaml"
check "  ... its netns, its host veth $yb_host and its object are gone" \
	bash -c "! ip netns list | grep -q '^xcl-y.b' && [ -n '$yb_host' ] && ! ip -n xcl-n1 link show '$yb_host' 2>/dev/null && [ ! -e $XCNI_LAB_DIR/manifests/pod.y.b.json ]"
check "  ... its IPAM lease ${IP[y/b]} is released" test ! -e "$XCNI_LAB_DIR/n1/ipam/xcni-lab/${IP[y/b]}"
check "  ... and the lab no longer lists it" bash -c "! \"$XCNICTL\" lab get | grep -q '^y/b '"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n' >"$T/nsx.yaml"
check "delete namespace x takes its pods along" lab delete -f "$T/nsx.yaml"
check "  ... no pod of x left, no netns xcl-x.*" \
	bash -c "! \"$XCNICTL\" lab get | grep -q '^x/' && ! ip netns list | grep -q '^xcl-x\.'"

# ---- down ------------------------------------------------------------------------------
remember_pids
check "lab down" lab down
check "  ... leaves no netns, pin, process or state behind" test -z "$(leftovers)"
check "lab down with no lab: nothing to do, exit 0" lab down
check "lab get with no lab: exit 1" bash -c "! \"$XCNICTL\" lab get"

finish
