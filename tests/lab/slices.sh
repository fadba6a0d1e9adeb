#!/bin/bash
# Selector-less Services with EndpointSlices written by hand, and pods that
# terminate with a grace period, on a lab of LAB_NODES nodes (default 3) in
# either kube-proxy mode (LAB_KUBE_PROXY=iptables, the default: the lab's
# kube-proxy rules; none: xcnid --kube-proxy-replacement in BPF), IPv4 or
# dual stack (LAB_IP_FAMILY=dual: every probe over both families). Every
# listener answers "NS/POD", so each probe says which endpoint served it.
#
#   xcl-n1: s/c (client)  s/b1 s/b3  s/t1 (app=t, grace 120 s)
#   xcl-nN: s/cn (client) s/b2       s/t2 (app=t, applied later)     (N: the last node)
#   xcl-out: lab probe outside nI NODEPORT
#
#   s/manual  no selector, ports http 8080 and alt 8081, its endpoints in three
#             slices: A (http 80, alt 81: b1), B (http 80: b2 and b3 neither
#             ready nor serving), C (a port "nosuch" no Service port has: b3)
#   s/later   a slice applied before its Service
#   s/tc s/tl        ClusterIP, internalTrafficPolicy Cluster / Local -> app=t
#   s/ec s/el        NodePort 30080 / 30090, externalTrafficPolicy Cluster / Local -> app=t
#
# Upstream's "should fallback to terminating endpoints when there are no ready
# endpoints with internalTrafficPolicy/externalTrafficPolicy=Cluster/Local":
# t1 deleted with its grace period keeps serving through all four while it is
# the only backend (Local: from its own node only); once t2 is ready the
# Cluster ones use t2 alone, the Local ones t1 on t1's node (kube-proxy falls
# back per node) and t2 on t2's.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
KP=${LAB_KUBE_PROXY:-iptables}
NODES=${LAB_NODES:-3}
FAMILY=${LAB_IP_FAMILY:-ipv4}
lab_suite "slices-$KP-$NODES-$FAMILY"
LAST=n$NODES
FAMS=4
DS=
[ "$FAMILY" = dual ] && { FAMS="4 6"; DS="ipFamilyPolicy: PreferDualStack,"; }

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
check "lab up --nodes $NODES --kube-proxy $KP --ip-family $FAMILY" \
	lab up --nodes "$NODES" --kube-proxy "$KP" --ip-family "$FAMILY" || { finish; exit 1; }
remember_pids

pod() { # NAME NODE LABELS [GRACE]
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: s, labels: {$3}}
spec:
  nodeName: $2
  ${4:+terminationGracePeriodSeconds: $4}
  containers:
  - name: c
    image: agnhost:2.47
    ports: [{name: http, containerPort: 80}, {name: alt, containerPort: 81}]
EOF
}
svc() { # NAME SPEC-YAML (flow style, without braces)
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: s}\nspec: {%s %s}\n' "$1" "$DS" "$2"
}
ip_of() { # POD FAM
	lab get --json | jq_ "[p['ip' if '$2' == '4' else 'ip6'] for p in d['pods'] if p['namespace'] == 's' and p['name'] == '$1'][0]"
}
ep() { # POD NODE READY SERVING TERMINATING FAM: one endpoint, flow style
	printf '{addresses: ["%s"], nodeName: %s, conditions: {ready: %s, serving: %s, terminating: %s}}' \
		"$(ip_of "$1" "$6")" "$2" "$3" "$4" "$5"
}
slice() { # NAME SERVICE FAM PORTS ENDPOINTS... (the slice of that family: NAME, NAME-v6)
	local name=$1 s=$2 fam=$3 ports=$4 e
	shift 4
	[ "$fam" = 6 ] && name=$name-v6
	printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: %s, namespace: s, labels: {kubernetes.io/service-name: %s}}\n' "$name" "$s"
	printf 'addressType: IPv%s\nports: %s\nendpoints:%s\n' "$fam" "$ports" "$([ $# = 0 ] && echo ' []')"
	for e in "$@"; do printf -- '- %s\n' "$e"; done
}
# answers FROM TO PORT N FAM: the distinct answers of N probes ("-": one was blocked)
answers() {
	local i
	for i in $(seq "$4"); do
		lab probe "$1" "$2" "$3" --family "$5" --json --timeout-ms 700 | jq_ 'd.get("answer") or "-"'
	done 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//'
}
# expect FROM TO PORT N WANT WHAT: for every family, N probes answered by WANT exactly
expect() {
	local f got
	for f in $FAMS; do
		got=$(answers "$1" "$2" "$3" "$4" "$f")
		check "$6 (IPv$f: $1 -> $2 $3, $4 probes: want '$5', got '$got')" test "$got" = "$5"
	done
}

{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: s}\n'
	pod c n1 "role: client"
	pod b1 n1 "role: backend"
	pod b3 n1 "role: backend"
	pod b2 "$LAST" "role: backend"
	[ "$NODES" -gt 1 ] && pod cn "$LAST" "role: client"
} >"$T/pods.yaml"
check "apply namespace s, clients, backends b1 b3 (n1) b2 ($LAST)" lab apply -f "$T/pods.yaml"
CN=s/c; [ "$NODES" -gt 1 ] && CN=s/cn

# ---- selector-less Service, several slices, two ports -----------------------------
svc manual "ports: [{name: http, port: 8080}, {name: alt, port: 8081}]" >"$T/manual.yaml"
check "apply Service s/manual (no selector)" lab apply -f "$T/manual.yaml"
expect s/c svc/s/manual 8080/tcp 1 - "no slice yet: no endpoints, refused"
for f in $FAMS; do
	slice a manual "$f" "[{name: http, port: 80}, {name: alt, port: 81}]" "$(ep b1 n1 true true false "$f")"
	slice b manual "$f" "[{name: http, port: 80}]" "$(ep b2 "$LAST" true true false "$f")" \
		"$(ep b3 n1 false false false "$f")"
	slice c manual "$f" "[{name: nosuch, port: 80}]" "$(ep b3 n1 true true false "$f")"
done >"$T/slices.yaml"
out=$(lab apply -f "$T/slices.yaml" 2>&1)
check "apply slices A, B, C: created" test "$(grep -c '^endpointslice s/[abc]\(-v6\)\? created$' <<<"$out")" = "$(($(wc -w <<<"$FAMS") * 3))"
echo "$out" | sed 's/^/# /'
expect s/c svc/s/manual 8080/tcp 24 "s/b1 s/b2" "http 8080 -> b1 (slice A) and b2 (slice B); never b3 (not ready, not serving; or a port no Service port names)"
expect s/c svc/s/manual 8081/tcp 6 "s/b1" "alt 8081 -> b1 alone (slice A has the port, B not)"
[ "$NODES" -gt 1 ] && expect "$CN" svc/s/manual 8080/tcp 16 "s/b1 s/b2" "from $LAST too"
if [ "$KP" = none ]; then
	check "cluster state: the hand-written slices as applied, beside the Service" \
		bash -c "test -e $XCNI_LAB_DIR/manifests/endpointslice.s.a.json -a -e $XCNI_LAB_DIR/manifests/endpointslice.s.c.json && /usr/bin/python3 $XCNI_ROOT/tests/lab/agent_objs.py $XCNI_LAB_DIR/manifests Service s manual | grep -q ."
else
	check "kube-proxy rules: no DNAT to b3 on n1" bash -c "! nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep -q -- '--to-destination $(ip_of b3 4):'"
fi

# A slice before its Service: kept, used once the Service is there.
for f in $FAMS; do slice l later "$f" "[{port: 80}]" "$(ep b2 "$LAST" true true false "$f")"; done >"$T/later-slice.yaml"
out=$(lab apply -f "$T/later-slice.yaml" 2>&1)
check "a slice naming a Service that does not exist: kept, and said (got: $(head -n1 <<<"$out"))" \
	grep -q '^endpointslice s/l created (its Service does not exist yet' <<<"$out"
svc later "ports: [{port: 9090}]" >"$T/later.yaml"
check "apply Service s/later (no selector)" lab apply -f "$T/later.yaml"
expect s/c svc/s/later 9090/tcp 3 "s/b2" "s/later uses the slice applied before it"

# Bad input: nothing of the manifest applied, the field named.
for f in $FAMS; do slice ok manual "$f" "[{name: http, port: 80}]" "$(ep b3 n1 true true false "$f")"; done >"$T/bad.yaml"
printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: wrong, namespace: s, labels: {kubernetes.io/service-name: manual}}\naddressType: IPv4\nports: [{name: http, port: 80}]\nendpoints: [{addresses: ["fd00:10:244:1::99"]}]\n' >>"$T/bad.yaml"
out=$(lab apply -f "$T/bad.yaml" 2>&1); RC=$?
check "an IPv6 address in an IPv4 slice: exit 1, names the slice and field, nothing changed (got: $(grep wrong <<<"$out"))" \
	bash -c "[ $RC = 1 ] && grep -q 'EndpointSlice s/wrong: endpoints\[0\].addresses\[0\]: .*not a valid IPv4 address' <<<\"\$1\" && grep -q 'nothing changed' <<<\"\$1\"" _ "$out"
check "... the valid slice beside it (s/ok) was not applied" test ! -e "$XCNI_LAB_DIR/slices/s.ok.json"
expect s/c svc/s/manual 8080/tcp 12 "s/b1 s/b2" "... and s/manual still goes to b1 and b2 alone"

# Conditions: serving and terminating alone is a fallback.
for f in $FAMS; do slice a manual "$f" "[{name: http, port: 80}, {name: alt, port: 81}]" "$(ep b1 n1 false true true "$f")"; done >"$T/a-term.yaml"
check "slice A: b1 ready false, serving, terminating" lab apply -f "$T/a-term.yaml"
expect s/c svc/s/manual 8080/tcp 12 "s/b2" "http: b2 is ready: the terminating b1 gets nothing"
expect s/c svc/s/manual 8081/tcp 4 "s/b1" "alt: b1 is the only endpoint, terminating and serving: still used"

# lab delete of a slice.
for f in $FAMS; do slice a manual "$f" "[]"; done >"$T/a-del.yaml"
out=$(lab delete -f "$T/a-del.yaml" 2>&1)
check "lab delete slice A: deleted" grep -q '^endpointslice s/a deleted$' <<<"$out"
expect s/c svc/s/manual 8081/tcp 1 - "alt: no endpoints left, refused"
expect s/c svc/s/manual 8080/tcp 8 "s/b2" "http: b2 alone"

# ---- terminating pods: upstream's four fallbacks --------------------------------------
{
	svc tc "selector: {app: t}, ports: [{port: 80, targetPort: http}]"
	svc tl "selector: {app: t}, internalTrafficPolicy: Local, ports: [{port: 80, targetPort: http}]"
	svc ec "type: NodePort, selector: {app: t}, ports: [{port: 80, targetPort: http, nodePort: 30080}]"
	svc el "type: NodePort, externalTrafficPolicy: Local, selector: {app: t}, ports: [{port: 80, targetPort: http, nodePort: 30090}]"
} >"$T/tsvc.yaml"
pod t1 n1 "app: t" 120 >"$T/t1.yaml"
pod t2 "$LAST" "app: t" >"$T/t2.yaml"
check "apply s/t1 (n1, grace 120 s) and Services tc tl ec el" lab apply -f "$T/t1.yaml" -f "$T/tsvc.yaml"
expect s/c svc/s/tc 80/tcp 2 "s/t1" "before: tc reaches t1"
out=$(lab delete -f "$T/t1.yaml" 2>&1)
check "lab delete s/t1: terminating, not deleted (got: $out)" grep -qx 'pod s/t1 terminating (grace period 120s)' <<<"$out"
check "lab get: s/t1 is there, terminating" test "$(lab get --json | jq_ "[p['terminating'] for p in d['pods'] if p['name'] == 't1'][0]")" = True
if [ "$KP" = none ]; then
	conds() { /usr/bin/python3 - "$XCNI_LAB_DIR/manifests" "$XCNI_ROOT/tests/lab" <<'PY'
import fnmatch, sys
sys.path.insert(0, sys.argv[2])
from agent_objs import objects
for _, o in objects(sys.argv[1]):
    if o["kind"] != "EndpointSlice" or o["metadata"]["namespace"] != "s" or not fnmatch.fnmatchcase(o["metadata"]["name"], "tc-*"):
        continue
    for e in o["endpoints"]:
        c = e["conditions"]
        print(e["targetRef"]["name"], c["ready"], c["serving"], c["terminating"])
PY
	}
	check "tc's EndpointSlice(s): t1 ready false, serving true, terminating true (got: $(conds | sort -u | tr '\n' ' '))" \
		test "$(conds | sort -u)" = "t1 False True True"
fi
expect s/c svc/s/tc 80/tcp 3 "s/t1" "ITP Cluster, only t1 terminating: served by it from its node"
expect s/c svc/s/tl 80/tcp 3 "s/t1" "ITP Local, only t1 terminating: served by it from its node"
expect outside n1 30080/tcp 3 "s/t1" "ETP Cluster: outside -> n1's NodePort served by terminating t1"
expect outside n1 30090/tcp 3 "s/t1" "ETP Local: outside -> n1's NodePort (t1's node) served by terminating t1"
if [ "$NODES" -gt 1 ]; then
	expect "$CN" svc/s/tc 80/tcp 3 "s/t1" "ITP Cluster: from $LAST too"
	expect "$CN" svc/s/tl 80/tcp 1 - "ITP Local: from $LAST (no local endpoint) nothing"
	expect outside "$LAST" 30080/tcp 3 "s/t1" "ETP Cluster: outside -> $LAST's NodePort served by t1"
	expect outside "$LAST" 30090/tcp 1 - "ETP Local: outside -> $LAST's NodePort (no local endpoint) nothing"
fi
out=$(lab apply -f "$T/t1.yaml" 2>&1); RC=$?
check "apply s/t1 while it terminates: exit 1, said (got: $(head -n1 <<<"$out"))" \
	bash -c "[ $RC = 1 ] && grep -q 'Pod s/t1: is terminating' <<<\"\$1\"" _ "$out"

check "apply s/t2 ($LAST, ready)" lab apply -f "$T/t2.yaml"
expect s/c svc/s/tc 80/tcp 8 "s/t2" "ITP Cluster with t2 ready: t2 alone, not the terminating t1"
expect outside n1 30080/tcp 6 "s/t2" "ETP Cluster with t2 ready: t2 alone"
if [ "$NODES" -gt 1 ]; then
	expect s/c svc/s/tl 80/tcp 6 "s/t1" "ITP Local from n1: its own terminating t1 (kube-proxy falls back per node)"
	expect "$CN" svc/s/tl 80/tcp 6 "s/t2" "ITP Local from $LAST: t2"
	expect outside n1 30090/tcp 6 "s/t1" "ETP Local at n1: its own terminating t1"
	expect outside "$LAST" 30090/tcp 6 "s/t2" "ETP Local at $LAST: t2"
else
	expect s/c svc/s/tl 80/tcp 6 "s/t2" "ITP Local: the ready t2, not the terminating t1"
	expect outside n1 30090/tcp 6 "s/t2" "ETP Local: the ready t2"
fi
out=$(lab delete -f "$T/t1.yaml" 2>&1)
check "lab delete s/t1 again: still terminating, the time left said (got: $out)" grep -q '^pod s/t1 terminating ([0-9]*s left)$' <<<"$out"
out=$(lab delete --now -f "$T/t1.yaml" 2>&1)
check "lab delete --now s/t1: deleted (got: $out)" grep -qx 'pod s/t1 deleted' <<<"$out"
check "... gone from lab get" bash -c "! $XCNICTL lab get --json | grep -q '\"t1\"'"
expect s/c svc/s/tl 80/tcp 3 "$([ "$NODES" -gt 1 ] && echo - || echo s/t2)" "ITP Local from n1 after t1 is gone"

# A grace period that ends: the next command removes the pod.
pod t3 n1 "app: t3" 1 >"$T/t3.yaml"
check "apply s/t3 (grace 1 s)" lab apply -f "$T/t3.yaml"
check "lab delete s/t3: terminating" bash -c "$XCNICTL lab delete -f $T/t3.yaml | grep -qx 'pod s/t3 terminating (grace period 1s)'"
sleep 1.2
out=$(lab apply -f "$T/t2.yaml" 2>&1)
check "the next apply after its grace period removes s/t3 (got: $(tr '\n' ' ' <<<"$out"))" grep -qx 'pod s/t3 deleted' <<<"$out"
check "... gone from lab get" bash -c "! $XCNICTL lab get --json | grep -q '\"t3\"'"

lab_down_checked
finish
