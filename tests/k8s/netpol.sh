#!/bin/bash
# make e2e: the upstream Kubernetes NetworkPolicy e2e cases, as data
# (tests/k8s/netpol-cases.yaml, run by tests/k8s/netpol.py), against the real
# cluster with xcni installed as a kind user installs it (tests/k8s/lib.sh):
#
#   control plane (xcni-k8s-cp, 192.0.2.1)
#     | xk8s-br
#   n1 (192.0.2.11)                 n2 (192.0.2.12)
#     x/a x/c y/b z/a z/c             x/b y/a y/c z/b
#     kube-proxy 1.20 (iptables)      kube-proxy 1.20 (iptables)
#     xcni DaemonSet (xcni.yaml)      xcni DaemonSet (xcni.yaml)
#
# NETPOL_K8S_DS=plain (default): examples/kind/xcni.yaml beside kube-proxy
# 1.20 in iptables mode on every node (tests/k8s/node.sh
# XCNI_K8S_KUBE_PROXY=iptables: built from the same source, the API server's
# 10.96.0.1 and every ClusterIP through its DNAT), xcni enforcing the policies;
# NETPOL_K8S_DS=kpr: xcni.yaml + kpr-patch.yaml, no kube-proxy (xcnid
# translates the Services). Namespaces x, y, z (ns=NAME), pods a, b, c in each
# (pod=NAME, name=NAME; busybox httpd on TCP 80 and 81 answering "NS/POD",
# ports named serve-80-tcp, serve-81-tcp), spread over both nodes so most
# pairs cross the overlay; a ClusterIP Service s-NAME per pod. Each case's
# policies applied with kubectl, the 9x9 reachability matrix probed from
# inside the pods (self-pairs left out) and compared with the case's
# expectation. Then the Service's own check: x/a's Service reached through
# kube-proxy's DNAT (its iptables rules on the node; with kpr, xcni's own
# translation) while xcni's policy on the backend admits only y, the drop
# counted by the backend node's agent. ~5 min; run under
# flock /tmp/xcni-test.lock. NETPOL_K8S_DS=kpr: 26/26 tables too (make e2e
# runs both).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DS=${NETPOL_K8S_DS:-plain}
k8s_begin n1 n2
k8s_up "$DS"
k8s_manifest "$DS" >"$TMP/xcni.yaml"
k8s_install "$TMP/xcni.yaml"

kc apply -f "$XCNI_ROOT/examples/lab/00-namespaces.yaml" >/dev/null
i=0
for ns in x y z; do
	for p in a b c; do
		node=n$((i % 2 + 1))
		i=$((i + 1))
		{
			pod_yaml "$p" "$ns" "$node" ", labels: {pod: \"$p\", name: \"$p\"}"
			container_yaml '  ' serve "mkdir -p /tmp/www && echo $ns/$p >/tmp/www/index.html && httpd -p 80 -h /tmp/www && httpd -p 81 -h /tmp/www && exec sleep 2147483647" \
				'ports:' '- {containerPort: 80, name: serve-80-tcp, protocol: TCP}' '- {containerPort: 81, name: serve-81-tcp, protocol: TCP}'
			svc_yaml "s-$p" "$ns" "selector: {name: \"$p\"}" 'ports: [{name: http, port: 80, targetPort: 80}, {name: http81, port: 81, targetPort: 81}]'
		} | kc apply -f - >/dev/null
	done
done
check "the 9 pods of x, y, z Ready" bash -c "kc wait --for=condition=Ready pod --all -n x --timeout=120s >/dev/null && kc wait --for=condition=Ready pod --all -n y --timeout=60s >/dev/null && kc wait --for=condition=Ready pod --all -n z --timeout=60s >/dev/null"
diag "pods: $(kc get pods -A -l pod -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}={.spec.nodeName},{.status.podIP} {end}')"

t=$(now_ms)
python3 "$K8S_DIR/netpol.py" "$K8S_DIR/netpol-cases.yaml" ${NETPOL_ONLY:+--only "$NETPOL_ONLY"} >"$TMP/netpol.out" 2>"$TMP/netpol.err"
while IFS= read -r line; do
	case $line in
	"PASS "*) ok "${line#PASS }" ;;
	"FAIL "*) not_ok "${line#FAIL }" ;;
	"cases: "*) diag "$line ($(($(now_ms) - t)) ms)"; echo "$line" >>"${XCNI_K8S_FIGURES:-/dev/null}" ;;
	*) echo "$line" ;;
	esac
done <"$TMP/netpol.out"
[ -s "$TMP/netpol.err" ] && sed 's/^/#   netpol.py: /' "$TMP/netpol.err" | tail -n 20
grep -q '^cases: ' "$TMP/netpol.out" || not_ok "netpol.py ran to its end"

# ---- the Service's translation (kube-proxy's DNAT, or xcni's), xcni's policy on the backend ----
VIA=$([ "$DS" = plain ] && echo "kube-proxy" || echo "xcni's Service translation")
kc apply -f - >/dev/null <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-a-from-ns-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
EOF2
CIP=$(kc -n x get svc s-a -o jsonpath='{.spec.clusterIP}')
XA=$(kc -n x get pod a -o jsonpath='{.status.podIP}')
XN=$(kc -n x get pod a -o jsonpath='{.spec.nodeName}')
ZN=$(kc -n z get pod b -o jsonpath='{.spec.nodeName}')
agent_metrics() { # NODE: xcnictl metrics --json in its agent pod
	kc -n kube-system exec "$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni --field-selector "spec.nodeName=$1" -o jsonpath='{.items[0].metadata.name}')" -c xcnid -- xcnictl metrics --json
}
# drops NODE REASON DIRECTION|any: the packets NODE's agent counted for REASON
# in DIRECTION (every direction: any), from xcnictl metrics --json.
export DROPS='
import json, sys
def rows(o):
    if isinstance(o, dict):
        yield o
        for v in o.values(): yield from rows(v)
    elif isinstance(o, list):
        for v in o: yield from rows(v)
print(sum(r.get("packets", 0) for r in rows(json.load(sys.stdin))
          if r.get("reason") == sys.argv[1] and sys.argv[2] in ("any", r.get("direction"))))'
drops() { agent_metrics "$1" | python3 -c "$DROPS" "$2" "$3"; }
# The refusal below is checked by what it adds, not by what earlier cases
# left: without kube-proxy's DNAT the drop is the backend node's, in the
# direction the path takes there (to-pod from a client on the same node,
# from-overlay from the other); with xcni's translation either node may count
# it, in any direction (the backend known before the packet leaves).
if [ "$DS" = plain ]; then
	[ "$ZN" = "$XN" ] && DIR=to-pod || DIR=from-overlay
	WHERE=$XN
else
	DIR=any
	WHERE=$(printf '%s\n' "$ZN" "$XN" | sort -u | tr '\n' ' ')
fi
drops_at() { local n t=0; for n in $WHERE; do t=$((t + $(drops "$n" drop-policy-ingress "$DIR"))); done; echo "$t"; }
d0=$(drops_at)
# y/b is on n1 with x/a, y/a on n2: one client on each node.
for src in y/a y/b z/b; do
	ns=${src%/*} p=${src#*/}
	node=$(kc -n "$ns" get pod "$p" -o jsonpath='{.spec.nodeName}')
	if [ "$ns" = y ]; then
		check "$src ($node) -> x/a's ClusterIP $CIP:80 through $VIA: answered by x/a" \
			eventually 15 bash -c "wget_from $ns $p http://$CIP/ | grep -qx x/a"
	else
		check "$src ($node) -> x/a's ClusterIP $CIP:80: refused by xcni's policy at the backend" \
			eventually 15 bash -c "! wget_from $ns $p http://$CIP/ >/dev/null 2>&1"
	fi
done
# The DNAT is kube-proxy's (its KUBE-SEP rule counted the packets), the
# drop xcni's (the destination node's drop-policy-ingress counter).
[ "$DS" != plain ] || check "kube-proxy's KUBE-SEP rule for x/a ($XA:80) on z/b's node counted the tries" \
	bash -c "ip netns exec xcni-k8s-$ZN iptables-save -c -t nat | grep -E '^\[[1-9][0-9]*:[0-9]+\] -A KUBE-SEP-.* -j DNAT .*--to-destination $XA:80'"
d1=$(drops_at)
check "z/b's refused tries counted drop-policy-ingress $DIR on ${WHERE% } (+$((d1 - d0)), xcnictl metrics in the agent pods)" \
	test "$((d1 - d0))" -gt 0
kc -n x delete networkpolicy x-a-from-ns-y >/dev/null
check "policy deleted: z/b reaches x/a through $VIA again" \
	eventually 15 bash -c "wget_from z b http://$CIP/ | grep -qx x/a"
k8s_agent_logs_clean

# ---- uninstall, down ----
kc delete namespace x y z --wait=true --timeout=90s >/dev/null 2>&1
k8s_uninstall "$TMP/xcni.yaml" "$DS"
k8s_down
diag "netpol ($DS) took $((($(now_ms) - T0) / 1000)) s"
finish
