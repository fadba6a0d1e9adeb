#!/bin/bash
# make e2e (issue 55): egress by DNS name on real kubelet nodes, the policy
# applied with kubectl. The control plane of tests/k8s/controlplane.sh and two
# nodes of tests/k8s/node.sh whose xcnid runs --kube-proxy-replacement
# --fqdn-policy (no kube-proxy: the DNS Service's ClusterIP is xcnid's; node.sh
# gives its ClusterRole examples/kind/kpr-rbac.yaml's EndpointSlices), then:
# - the ClusterNetworkPolicy CRD (policy.networking.k8s.io v1alpha2, its
#   schema left open: xcnid validates) applied;
# - the cluster DNS: kube-system/kube-dns, a ClusterIP Service over pod
#   kube-system/dns on n1 running the host's dnsmasq (its loader and libraries
#   through a hostPath of the node's root, --user= as the image has no
#   /etc/passwd; the busybox image has no DNS server): api.example.test is
#   198.51.100.1, other.example.test 198.51.100.2, both on the control plane
#   netns's lo (the nodes' default route), HTTP on 18080 there (outside);
# - pod fq/c on n2 (answers over Geneve: read by from_overlay) under an Admin
#   ClusterNetworkPolicy applied with kubectl: Accept domainNames
#   [api.example.test], Deny networks 198.51.100.0/24;
# - c is refused 198.51.100.1:18080 before asking; resolves api.example.test
#   (the ClusterIP, once n2 holds kube-dns's UDP backend) and then reaches it; resolves other.example.test and is
#   still refused 198.51.100.2; xcnictl fqdn list on n2 names fq/c,
#   api.example.test, 198.51.100.1; xcnid refused no generation;
# - everything down.
# Outside make check; needs scripts/k8s-build.sh to have run, and make.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

k8s_preflight n1 n2
command -v dnsmasq >/dev/null || k8s_skip "dnsmasq missing (the cluster DNS's server)"
export K8S_CNI=xcni
CG2=/sys/fs/cgroup/unified
[ "$(stat -f -c %T $CG2 2>/dev/null)" = cgroup2fs ] || CG2=/sys/fs/cgroup
k8s_node_env() { export XCNI_K8S_XCNID_ARGS="--kube-proxy-replacement --fqdn-policy --cgroup-root $CG2/xcni-k8s-$1"; }
k8s_cp_up
k8s_nodes_up
# --kube-proxy-replacement reads EndpointSlices: node.sh gives xcnid
# kpr-rbac.yaml's rule beside xcni.yaml's ClusterRole, as kustomization.yaml
# does (without it every Service here had no backend: n2 refused the ClusterIP
# itself with a port unreachable).
check "ClusterRole xcni lists EndpointSlices (node.sh added examples/kind/kpr-rbac.yaml)" bash -c \
	"kc get clusterrole xcni -o jsonpath='{.rules[*].resources}' | grep -q endpointslices"

# ---- outside: the control plane's netns (the nodes' default route) serves
# 198.51.100.1 and .2 on its lo, HTTP on 18080 ----
check "the control plane's netns holds 198.51.100.1 and .2 (its lo)" bash -c \
	"ip -n $K8S_NETNS addr add 198.51.100.1/32 dev lo && ip -n $K8S_NETNS addr add 198.51.100.2/32 dev lo"
mkdir -p "$TMP/www" && echo outside >"$TMP/www/index.html"
# Killed before k8s_down, which kills no BG_PIDS (left running, it held the
# test lock's descriptor it inherited)
nsenter --net="/run/netns/$K8S_NETNS" busybox httpd -f -p 18080 -h "$TMP/www" &
BG_PIDS+=($!)

# ---- the CRD, the cluster DNS, the pod, the policy ----
k8s_cnp_crd

LD=$(readlink -f /lib64/ld-linux-*.so.2 | head -1) # the real file: the link is absolute
LIBS=/h/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
kc apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  volumes: [{name: h, hostPath: {path: /}}]
  containers:
  - name: main
    image: xcni.test/busybox:1
    imagePullPolicy: Never
    volumeMounts: [{name: h, mountPath: /h, readOnly: true}]
    command: ["/h$LD", "--library-path", "$LIBS", "/h/usr/sbin/dnsmasq", "-k", "--user=", "-C", "/dev/null",
              "--pid-file=", "--no-resolv", "--no-hosts", "--port=53",
              "--host-record=api.example.test,198.51.100.1,300",
              "--host-record=other.example.test,198.51.100.2,300", "--cache-size=0",
              "--log-queries", "--log-facility=-"]
    readinessProbe: {tcpSocket: {port: 53}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  selector: {k8s-app: kube-dns}
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
EOF2
check "kube-system/dns (dnsmasq) Ready on n1" \
	bash -c "kc -n kube-system wait --for=condition=Ready pod/dns --timeout=90s >/dev/null"
DNS=$(kc -n kube-system get svc kube-dns -o jsonpath='{.spec.clusterIP}')
DNS_EP=$(ip_of kube-system dns)
diag "kube-dns $DNS:53, backend $DNS_EP on n1"
kc create namespace fq >/dev/null
kc label namespace fq kubernetes.io/metadata.name=fq >/dev/null # 1.20 does not set it
check "pod fq/c on n2 Ready" pod c fq n2 "app: c" 'exec sleep 2147483647'
kc apply -f - >/dev/null <<'EOF2'
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: fq-c}
spec:
  tier: Admin
  priority: 10
  subject:
    pods:
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: fq}}
      podSelector: {matchLabels: {app: c}}
  egress:
  - {action: Accept, to: [{domainNames: [api.example.test]}]}
  - {action: Deny, to: [{networks: [198.51.100.0/24]}]}
EOF2
ok "ClusterNetworkPolicy fq-c applied with kubectl"

get() { kc -n fq exec c -- sh -c "$BOUNDED"'; bounded 20 wget -q -O - "$1"' sh "http://$1:18080/" 2>/dev/null | grep -qx outside; }
# resolves NAME: busybox nslookup asks the ClusterIP (UDP); the answer's address on stdout.
resolves() { kc -n fq exec c -- nslookup "$1" "${2:-$DNS}" 2>/dev/null | grep -oE '198\.51\.100\.[0-9]+' | tail -1; }
refused_get() { ! get "$1"; }
resolves_to() { local got; got=$(resolves "$1" "${3:-}"); echo "$1: '$got'"; [ "$got" = "$2" ]; }
# What a failed resolve saw: the raw answer, the server's log.
resolve_diag() {
	kc -n fq exec c -- nslookup "$1" "$2" 2>&1 | sed 's/^/#   nslookup: /'
	kc -n kube-system logs dns 2>&1 | tail -n 8 | sed 's/^/#   dnsmasq: /'
	kc get endpointslices -n kube-system -o yaml 2>&1 | sed 's/^/#   slice: /'
	nsenter --net=/run/netns/xcni-k8s-n2 "$BUILD/xcnictl" --pin-dir /sys/fs/bpf/xcni-k8s/n2 service list 2>&1 | sed 's/^/#   n2 service: /'
	tail -n 30 /run/xcni-k8s/n2/xcnid.log | sed 's/^/#   n2 xcnid: /'
}
check "c is refused 198.51.100.1:18080 before asking (fq-c's Deny)" eventually 20 refused_get 198.51.100.1
# The DNS pod itself first (an endpoint of the Service: its answers count), then the ClusterIP.
check "c resolves api.example.test through the DNS pod $DNS_EP: 198.51.100.1" \
	eventually 20 resolves_to api.example.test 198.51.100.1 "$DNS_EP" || resolve_diag api.example.test "$DNS_EP"
# n2's xcnid lists EndpointSlices with back-off (up to 30 s) from the 403 it
# had before the patch: kube-dns's UDP frontend there has its backend first.
svc_active() { nsenter --net=/run/netns/xcni-k8s-n2 "$BUILD/xcnictl" --pin-dir /sys/fs/bpf/xcni-k8s/n2 service list -o json |
	python3 -c 'import json,sys; sys.exit(not any((r.get("address"), r.get("port"), str(r.get("proto")).lower(), r.get("active")) == (sys.argv[1], 53, "udp", 1) for r in json.load(sys.stdin)))' "$1"; }
check "n2 translates $DNS:53/udp to kube-dns's one backend (xcnictl service list)" eventually 45 svc_active "$DNS"
check "c resolves api.example.test through the ClusterIP $DNS: 198.51.100.1" \
	eventually 10 resolves_to api.example.test 198.51.100.1 || resolve_diag api.example.test "$DNS"
check "c reaches 198.51.100.1:18080 (learned from the answer, read by n2's from_overlay)" get 198.51.100.1
check "c resolves other.example.test: 198.51.100.2" resolves_to other.example.test 198.51.100.2 "$DNS_EP"
check "c is still refused 198.51.100.2:18080 (no rule names other.example.test)" refused_get 198.51.100.2
list() { nsenter --net=/run/netns/xcni-k8s-n2 "$BUILD/xcnictl" --pin-dir /sys/fs/bpf/xcni-k8s/n2 fqdn list -o json; }
check "xcnictl fqdn list on n2: fq/c, api.example.test, 198.51.100.1" bash -c \
	"$(declare -f list); list | python3 -c 'import json,sys; sys.exit(not any(r[\"pod\"] == \"fq/c\" and r[\"name\"] == \"api.example.test\" and r[\"address\"] == \"198.51.100.1\" for r in json.load(sys.stdin)))'"
for n in n1 n2; do
	check "xcnid on $n refused no generation (its log)" bash -c "! grep -q 'generation .* refused\|stopped at' /run/xcni-k8s/$n/xcnid.log"
done

kill "${BG_PIDS[@]}" 2>/dev/null
wait "${BG_PIDS[@]}" 2>/dev/null
BG_PIDS=()
k8s_down
finish
