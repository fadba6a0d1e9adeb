#!/bin/bash
# make e2e (issue 37): Services through kube-proxy-free xcni on real kubelet
# nodes. The control plane of tests/k8s/controlplane.sh (its controller-manager's
# EndpointSlice controller makes the slices, discovery.k8s.io/v1beta1 on 1.20)
# and two nodes of tests/k8s/node.sh whose xcnid runs with
# --kube-proxy-replacement and socket LB on the node's cgroup v2 directory
# (--cgroup-root, as examples/kind/kpr-patch.yaml gives a kind node's cgroup v2
# root; no kube-proxy anywhere), then:
# - a Deployment of two HTTP servers pinned to n1, a ClusterIP Service and a
#   NodePort Service in front of them; their EndpointSlice (v1beta1) lists both;
# - a pod on n2 reaches the ClusterIP (kubectl exec wget, several times: both
#   backends answer) and the NodePort Service's ClusterIP;
# - a process of node n2 (in its cgroup: socket LB) reaches the NodePort on
#   n1's address, n1's the NodePort on n2's (no backend there), n2's the
#   ClusterIP; a process of n2's netns outside the node's cgroup (no socket LB)
#   is refused at n1 as a spoof (drop-outside-spoof: a plain packet on the
#   underlay claiming a node's address, by design); the control plane's netns
#   (a client off the nodes) reaches the NodePort on n2;
# - a LoadBalancer Service (its status.loadBalancer.ingress set as a cloud's
#   controller sets it) and an externalIP, each routed to a node from the control
#   plane's netns, reached from there and from the client pod; a headless and an
#   ExternalName Service beside them;
# - a backend deleted: the Deployment's new pod is in the slice and the
#   ClusterIP still answers; the Service deleted: the ClusterIP stops answering;
# - xcnid said once it reads EndpointSlices as v1beta1, refused no generation;
# - everything down, as pods.sh checks.
# Outside make check; needs scripts/k8s-build.sh to have run, and make.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The bring-up and teardown are tests/k8s/lib.sh's, with nodes of node.sh's
# xcni mode (xcnid a plain process of the node), here with these flags.
k8s_preflight n1 n2
export K8S_CNI=xcni
# The node's cgroup in the v2 hierarchy (hybrid: /sys/fs/cgroup/unified).
CG2=/sys/fs/cgroup/unified
[ "$(stat -f -c %T $CG2 2>/dev/null)" = cgroup2fs ] || CG2=/sys/fs/cgroup
XARGS=${XCNI_K8S_XCNID_ARGS:-}
k8s_node_env() { export XCNI_K8S_XCNID_ARGS="--kube-proxy-replacement --cgroup-root $CG2/xcni-k8s-$1 $XARGS"; }
k8s_cp_up
k8s_nodes_up
diag "xcnid on each node: --kube-proxy-replacement --cgroup-root $CG2/xcni-k8s-NODE $XARGS"

# ---- backends, Services ----
kc create namespace svc >/dev/null
{
	deploy_yaml web svc 2 'nodeSelector: {kubernetes.io/hostname: n1}'
	container_yaml '      ' main 'mkdir -p /tmp/www && echo hello-from-$(hostname) >/tmp/www/index.html && httpd -p 8080 -h /tmp/www && exec sleep 2147483647' \
		'readinessProbe:' '  tcpSocket: {port: 8080}' '  periodSeconds: 1'
	svc_yaml web svc 'selector: {app: web}' 'ports: [{port: 80, targetPort: 8080, protocol: TCP}]'
	svc_yaml web-np svc 'type: NodePort' 'selector: {app: web}' 'ports: [{port: 81, targetPort: 8080, nodePort: 30080, protocol: TCP}]'
	pod_yaml client svc n2 ''
	container_yaml '  ' main 'exec sleep 2147483647'
} | kc apply -f - >/dev/null
t=$(now_ms)
check "Deployment web: 2 replicas available on n1" \
	bash -c "kc -n svc rollout status deployment/web --timeout=120s >/dev/null"
check "pod client on n2 Ready" bash -c "kc -n svc wait --for=condition=Ready pod/client --timeout=90s >/dev/null"
diag "Deployment and client Ready in $(($(now_ms) - t)) ms"
CIP=$(kc -n svc get svc web -o jsonpath='{.spec.clusterIP}')
NPIP=$(kc -n svc get svc web-np -o jsonpath='{.spec.clusterIP}')
diag "Service web $CIP:80, web-np $NPIP:81 nodePort 30080; backends $(kc -n svc get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP}@{.spec.nodeName} {end}')"
check "EndpointSlice of web (discovery.k8s.io/v1beta1, the controller-manager's) lists both backends" \
	eventually 30 bash -c "[ \$(kc get --raw /apis/discovery.k8s.io/v1beta1/namespaces/svc/endpointslices?labelSelector=kubernetes.io/service-name%3Dweb | python3 -c 'import json,sys; print(sum(len(s.get(\"endpoints\") or []) for s in json.load(sys.stdin)[\"items\"]))') = 2 ]"
for n in "${NODES[@]}"; do
	check "xcnid on $n: EndpointSlices read as discovery.k8s.io/v1beta1 (its log)" \
		grep -q 'discovery.k8s.io/v1beta1' "/run/xcni-k8s/$n/xcnid.log"
done

# wget from the client pod; the backend's answer on stdout.
from_client() { wget_from svc client "$1"; }
export -f from_client
t=$(now_ms)
if eventually 20 bash -c "from_client http://$CIP/ | grep -q '^hello-from-web-'"; then
	ok "client on n2 reaches ClusterIP $CIP:80 (backends on n1) $(($(now_ms) - t)) ms after the slice had both"
else
	not_ok "client on n2 reaches ClusterIP $CIP:80"
	from_client "http://$CIP/" 2>&1 | sed 's/^/#   /'
	tail -n 20 /run/xcni-k8s/n2/xcnid.log | sed 's/^/#   /'
fi
seen=$(for i in $(seq 12); do from_client "http://$CIP/"; done 2>/dev/null | sort -u)
diag "12 requests to $CIP answered by: $(paste -sd' ' <<<"$seen")"
check "both backends answered through the ClusterIP (12 requests)" test "$(grep -c '^hello-from-web-' <<<"$seen")" = 2
check "client on n2 reaches the NodePort Service's ClusterIP $NPIP:81" \
	bash -c "from_client http://$NPIP:81/ | grep -q '^hello-from-web-'"
# on_node NODE CMD: a process of the node (its netns, its cgroup: socket LB's).
on_node() {
	nsenter --net="/run/netns/xcni-k8s-$1" sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' \
		sh "$CG2/xcni-k8s-$1/node" "${@:2}"
}
export -f on_node
export CG2
check "a process of node n2 reaches NodePort $n1_NODE_IP:30080 (n1, where the backends are; socket LB)" \
	eventually 10 bash -c "on_node n2 curl -s --max-time 2 http://$n1_NODE_IP:30080/ | grep -q '^hello-from-web-'"
check "a process of node n1 reaches NodePort $n2_NODE_IP:30080 (n2, no backend there)" \
	eventually 10 bash -c "on_node n1 curl -s --max-time 2 http://$n2_NODE_IP:30080/ | grep -q '^hello-from-web-'"
check "a process of node n2 reaches ClusterIP $CIP:80" \
	bash -c "on_node n2 curl -s --max-time 2 http://$CIP/ | grep -q '^hello-from-web-'"
spoof() { nsenter --net=/run/netns/xcni-k8s-n1 "$BUILD/xcnictl" --pin-dir /sys/fs/bpf/xcni-k8s/n1 metrics get drop-outside-spoof 2>/dev/null | awk '$1 ~ /^drop-outside-spoof/ && $2 == "from-overlay" {print $3}'; }
sp0=$(spoof)
check "n2's netns outside the node's cgroup (no socket LB) to NodePort $n1_NODE_IP:30080: refused" \
	bash -c "! nsenter --net=/run/netns/xcni-k8s-n2 curl -s --max-time 2 http://$n1_NODE_IP:30080/"
sp1=$(spoof)
check "... at n1 as drop-outside-spoof from-overlay (a plain packet claiming node n2's address: ${sp0:-0} -> ${sp1:-0})" \
	test "${sp1:-0}" -gt "${sp0:-0}"
check "the control plane's netns reaches NodePort $n2_NODE_IP:30080 (a client off the nodes)" \
	eventually 10 bash -c "ip netns exec $K8S_NETNS curl -s --max-time 2 http://$n2_NODE_IP:30080/ | grep -q '^hello-from-web-'"

# ---- LoadBalancer, externalIPs, headless, ExternalName ----
# No cloud here: web-lb's load-balancer address is given as a load balancer's
# controller gives it (status.loadBalancer.ingress, the status subresource),
# and the control plane's netns (a client off the nodes) routes it to n2, which
# has no backend, as an announcer would; web-eip's externalIP to n1. The
# headless and the ExternalName Service have no address to translate: the
# agents must program the rest beside them (their logs, below).
LBIP=198.51.100.10 EIP=198.51.100.11
{
	svc_yaml web-lb svc 'type: LoadBalancer' 'selector: {app: web}' 'ports: [{port: 82, targetPort: 8080, nodePort: 30082, protocol: TCP}]'
	svc_yaml web-eip svc 'selector: {app: web}' "externalIPs: [$EIP]" 'ports: [{port: 83, targetPort: 8080, protocol: TCP}]'
	svc_yaml web-headless svc 'clusterIP: None' 'selector: {app: web}' 'ports: [{port: 80, targetPort: 8080}]'
	svc_yaml web-ext svc 'type: ExternalName' 'externalName: web.svc.cluster.local'
} | kc apply -f - >/dev/null
# kubectl 1.20 has no patch --subresource: the Service with its status PUT
# to the status subresource.
lb_status() {
	kc -n svc get svc web-lb -o json |
		python3 -c 'import json, sys; s = json.load(sys.stdin); s["status"] = {"loadBalancer": {"ingress": [{"ip": sys.argv[1]}]}}; print(json.dumps(s))' "$LBIP" |
		kc replace --raw /api/v1/namespaces/svc/services/web-lb/status -f - >/dev/null &&
		[ "$(kc -n svc get svc web-lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}')" = "$LBIP" ]
}
check "LoadBalancer web-lb: status.loadBalancer.ingress $LBIP set through the status subresource" lb_status
ip -n "$K8S_NETNS" route add "$LBIP/32" via "$n2_NODE_IP"
ip -n "$K8S_NETNS" route add "$EIP/32" via "$n1_NODE_IP"
check "the control plane's netns reaches LoadBalancer IP $LBIP:82, routed to n2 (no backend there)" \
	eventually 15 bash -c "ip netns exec $K8S_NETNS curl -s --max-time 2 http://$LBIP:82/ | grep -q '^hello-from-web-'"
check "the control plane's netns reaches web-lb's NodePort $n2_NODE_IP:30082" \
	eventually 10 bash -c "ip netns exec $K8S_NETNS curl -s --max-time 2 http://$n2_NODE_IP:30082/ | grep -q '^hello-from-web-'"
check "the control plane's netns reaches externalIP $EIP:83, routed to n1 (the backends' node)" \
	eventually 15 bash -c "ip netns exec $K8S_NETNS curl -s --max-time 2 http://$EIP:83/ | grep -q '^hello-from-web-'"
check "client on n2 reaches LoadBalancer IP $LBIP:82 from inside the cluster" \
	eventually 10 bash -c "from_client http://$LBIP:82/ | grep -q '^hello-from-web-'"
check "client on n2 reaches externalIP $EIP:83 from inside the cluster" \
	eventually 10 bash -c "from_client http://$EIP:83/ | grep -q '^hello-from-web-'"
ip -n "$K8S_NETNS" route del "$LBIP/32" 2>/dev/null
ip -n "$K8S_NETNS" route del "$EIP/32" 2>/dev/null

# ---- a backend replaced ----
old=$(kc -n svc get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
kc -n svc delete pod "$old" --wait=false >/dev/null
check "backend $old deleted: the Deployment's replacement is Ready" \
	eventually 60 bash -c "[ \"\$(kc -n svc get deployment web -o jsonpath='{.status.availableReplicas}')\" = 2 ] && ! kc -n svc get pod $old >/dev/null 2>&1"
seen=$(for i in $(seq 12); do from_client "http://$CIP/"; done 2>/dev/null | sort -u)
check "after the replacement both answering backends are the current ones (not $old)" \
	bash -c "[ \$(grep -c '^hello-from-web-' <<<'$seen') = 2 ] && ! grep -q 'hello-from-$old' <<<'$seen'"

# ---- the Service deleted ----
kc -n svc delete svc web >/dev/null
check "Service web deleted: its ClusterIP no longer answers" \
	eventually 15 bash -c "! from_client http://$CIP/ >/dev/null 2>&1"
for n in "${NODES[@]}"; do
	log=/run/xcni-k8s/$n/xcnid.log
	check "xcnid on $n: no generation refused or not applied (its log)" \
		bash -c "! grep -E 'not applied|compiling policy \(generation|is also the address of|claimed by pod' $log"
	diag "xcnid on $n: $(grep -c 'applied in' "$log") generations applied"
done

# ---- down ----
kc delete namespace svc --wait=false >/dev/null 2>&1
k8s_down
check "no pins left under /sys/fs/bpf/xcni-k8s" test ! -e /sys/fs/bpf/xcni-k8s
finish
