#!/bin/bash
# make e2e: the real cluster in dual stack (issue 37). Kubernetes 1.20 has it
# as alpha, behind the IPv6DualStack feature gate: controlplane.sh and node.sh
# with XCNI_K8S_DUAL=1 turn it on in the API server, the controller manager
# and the kubelets, with kind-config-dual.yaml's ranges (Services
# 10.96.0.0/16,fd00:10:96::/112; pods 10.244.0.0/16,fd00:10:244::/56, each
# node a /24 and a /64). xcni is installed as a kind user installs it on
# kind-config-dual.yaml without kube-proxy: `kubectl apply -k examples/kind`
# (xcni.yaml + kpr-patch.yaml, the same manifests as in IPv4: the entry point
# reads the node's spec.podCIDRs and gives xcnid --pod-cidr and --pod-cidr6).
#
#   control plane (xcni-k8s-cp, 192.0.2.1)
#     | xk8s-br (IPv4 only: 1.20's kubelet takes one --node-ip)
#   n1 (192.0.2.11)                 n2 (192.0.2.12)
#     s1, cl, fr                      s2
#
# Checked: each node's spec.podCIDRs has both families; every pod's
# status.podIPs has an IPv4 and an IPv6 address; pods reach each other across
# the nodes in both families (IPv6 in Geneve over the nodes' IPv4); a
# NetworkPolicy applied with kubectl separates both families (cl cut off from
# s2 over IPv4 and IPv6, fr still let in over both); Services of 1.20's alpha
# API (spec.ipFamilyPolicy, spec.ipFamilies, spec.clusterIPs): RequireDualStack
# and PreferDualStack get a ClusterIP of each family and one EndpointSlice per
# family, SingleStack with ipFamilies [IPv6] an IPv6 ClusterIP only, the
# default (no policy) an IPv4 one only; each reached over every family it has
# through xcni's kube-proxy replacement, under the policy; xcnictl status OK;
# xcnictl connectivity test --kubeconfig with the flows view on (flows-lib.sh):
# its table in both families green, the drops judged from the flow records
# (IPv6 ones too); the NodePort's IPv6 rows skipped by name (1.20's kubelet
# takes one --node-ip: the nodes have no IPv6 InternalIP);
# then uninstall and down as everywhere (lib.sh). ~4 min; run under
# flock /tmp/xcni-test.lock.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/flows-lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/conntest-lib.sh"
k8s_begin n1 n2
export XCNI_K8S_DUAL=1
k8s_cp_up
check "controlplane.sh env: dual stack (K8S_DUAL=1, two Service ranges)" \
	bash -c "[ '${K8S_DUAL:-}' = 1 ] && [ '$K8S_SERVICE_CIDR' = 10.96.0.0/16,fd00:10:96::/112 ]"
k8s_nodes_up
for n in "${NODES[@]}"; do
	c=$(kc get node "$n" -o jsonpath='{.spec.podCIDRs}')
	check "$n: spec.podCIDRs has an IPv4 /24 and an IPv6 /64 ($c)" \
		bash -c "grep -Eq '10\.244\.[0-9]+\.0/24' <<<'$c' && grep -Eq 'fd00:10:244:[0-9a-f:]*/64' <<<'$c'"
done
k8s_manifest kpr >"$TMP/xcni.yaml"
k8s_install "$TMP/xcni.yaml"
diag "figure: dual stack: DaemonSet apply -> rolled out ${INSTALL_ROLLOUT_MS:-?} ms, -> both nodes Ready ${INSTALL_READY_MS:-?} ms"
for n in "${NODES[@]}"; do
	p=$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni --field-selector "spec.nodeName=$n" -o jsonpath='{.items[0].metadata.name}')
	check "$n's agent $p: the init container recorded both pod CIDRs (/run/xcni/node.env: POD_CIDR, POD_CIDR6)" \
		bash -c "in_node $n cat /run/xcni/node.env | grep -q '^POD_CIDR=10\.244\.' && in_node $n cat /run/xcni/node.env | grep -q '^POD_CIDR6=fd00:10:244:'"
done

# ---- pods: both families, across the nodes ----
kc create namespace dual >/dev/null
check "pod s1 on n1 Ready" pod s1 dual n1 "app: mesh, name: s1" "$SERVE"
check "pod s2 on n2 Ready" pod s2 dual n2 "app: mesh, name: s2, guard: \"yes\"" "$SERVE"
check "pod cl on n1 Ready" pod cl dual n1 "role: client" "exec sleep 2147483647"
check "pod fr (role=friend) on n1 Ready" pod fr dual n1 "role: friend" "exec sleep 2147483647"
ips() { kc -n dual get pod "$1" -o jsonpath='{range .status.podIPs[*]}{.ip}{" "}{end}'; }
declare -A V4 V6
for p in s1 s2 cl fr; do
	a=$(ips "$p")
	V4[$p]=$(tr ' ' '\n' <<<"$a" | grep -m1 '\.')
	V6[$p]=$(tr ' ' '\n' <<<"$a" | grep -m1 ':')
	check "$p: status.podIPs has an IPv4 and an IPv6 address ($a)" \
		bash -c "[[ '${V4[$p]}' == 10.244.* ]] && [[ '${V6[$p]}' == fd00:10:244:* ]]"
done
v6url() { echo "http://[$1]:${2:-8080}/"; }
check "s1 (n1) fetches s2 (n2) over IPv4 ${V4[s2]}" \
	eventually 15 bash -c "wget_from dual s1 http://${V4[s2]}:8080/ | grep -qx hello-from-s2"
check "s1 (n1) fetches s2 (n2) over IPv6 ${V6[s2]}" \
	eventually 15 bash -c "wget_from dual s1 $(v6url "${V6[s2]}") | grep -qx hello-from-s2"
check "s2 (n2) fetches s1 (n1) over IPv6 ${V6[s1]}" \
	eventually 15 bash -c "wget_from dual s2 $(v6url "${V6[s1]}") | grep -qx hello-from-s1"
check "s2 (n2) fetches s1 (n1) over IPv4 ${V4[s1]}" \
	bash -c "wget_from dual s2 http://${V4[s1]}:8080/ | grep -qx hello-from-s1"
check "cl fetches s1 (same node) over IPv6" \
	bash -c "wget_from dual cl $(v6url "${V6[s1]}") | grep -qx hello-from-s1"

# ---- Services of 1.20's alpha API ----
{
	svc_yaml req dual 'ipFamilyPolicy: RequireDualStack' 'selector: {name: s2}' 'ports: [{port: 80, targetPort: 8080}]'
	svc_yaml pref dual 'ipFamilyPolicy: PreferDualStack' 'ipFamilies: [IPv6, IPv4]' 'selector: {name: s2}' 'ports: [{port: 80, targetPort: 8080}]'
	svc_yaml six dual 'ipFamilyPolicy: SingleStack' 'ipFamilies: [IPv6]' 'selector: {name: s2}' 'ports: [{port: 80, targetPort: 8080}]'
	svc_yaml plain dual 'selector: {name: s2}' 'ports: [{port: 80, targetPort: 8080}]'
} | kc apply -f - >"$TMP/svc.out" 2>&1
check "kubectl apply of 4 Services with ipFamilyPolicy/ipFamilies accepted" bash -c "! grep -qi error $TMP/svc.out || { cat $TMP/svc.out; exit 1; }"
cips() { kc -n dual get svc "$1" -o jsonpath='{range .spec.clusterIPs[*]}{@}{" "}{end}'; }
fams() { kc -n dual get svc "$1" -o jsonpath='{.spec.ipFamilyPolicy}:{range .spec.ipFamilies[*]}{@}{" "}{end}'; }
for s in req pref six plain; do diag "Service $s: $(fams "$s") clusterIPs $(cips "$s")"; done
check "RequireDualStack: clusterIPs IPv4 then IPv6 (the first family the API server's)" \
	bash -c "[[ '$(cips req)' =~ ^10\.96\.[0-9.]+\ fd00:10:96::[0-9a-f:]+\ \$ ]]"
check "PreferDualStack, ipFamilies [IPv6, IPv4]: clusterIPs IPv6 then IPv4 (spec.clusterIP the IPv6 one)" \
	bash -c "[[ '$(cips pref)' =~ ^fd00:10:96::[0-9a-f:]+\ 10\.96\.[0-9.]+\ \$ ]] && [[ \$(kc -n dual get svc pref -o jsonpath='{.spec.clusterIP}') == fd00:* ]]"
check "SingleStack [IPv6]: one IPv6 ClusterIP" bash -c "[[ '$(cips six)' =~ ^fd00:10:96::[0-9a-f:]+\ \$ ]]"
check "no ipFamilyPolicy: SingleStack, one IPv4 ClusterIP (the defaults)" \
	bash -c "[ '$(fams plain)' = 'SingleStack:IPv4 ' ] && [[ '$(cips plain)' =~ ^10\.96\.[0-9.]+\ \$ ]]"
check "the EndpointSlice controller: one v1beta1 slice per family for req (IPv4, IPv6)" \
	eventually 20 bash -c "[ \"\$(kc -n dual get endpointslices.v1beta1.discovery.k8s.io -l kubernetes.io/service-name=req -o jsonpath='{range .items[*]}{.addressType}{\"\\n\"}{end}' | sort | paste -sd' ')\" = 'IPv4 IPv6' ]"
REQ4=$(cips req | cut -d' ' -f1) REQ6=$(cips req | cut -d' ' -f2)
PREF6=$(cips pref | cut -d' ' -f1) PREF4=$(cips pref | cut -d' ' -f2)
SIX=$(cips six | cut -d' ' -f1) PLAIN=$(cips plain | cut -d' ' -f1)
check "cl (n1) -> Service req over IPv4 $REQ4:80 -> s2 (n2)" \
	eventually 20 bash -c "wget_from dual cl http://$REQ4/ | grep -qx hello-from-s2"
check "cl (n1) -> Service req over IPv6 [$REQ6]:80 -> s2 (n2)" \
	eventually 20 bash -c "wget_from dual cl $(v6url "$REQ6" 80) | grep -qx hello-from-s2"
check "cl -> Service pref over IPv6 and IPv4" \
	eventually 20 bash -c "wget_from dual cl $(v6url "$PREF6" 80) | grep -qx hello-from-s2 && wget_from dual cl http://$PREF4/ | grep -qx hello-from-s2"
check "cl -> Service six over IPv6 [$SIX]:80" eventually 20 bash -c "wget_from dual cl $(v6url "$SIX" 80) | grep -qx hello-from-s2"
check "cl -> Service plain over IPv4 $PLAIN:80" eventually 20 bash -c "wget_from dual cl http://$PLAIN/ | grep -qx hello-from-s2"

# ---- a NetworkPolicy separates both families ----
friends_only guarded-from-friends dual 'guard: "yes"'
fails_from() { ! kc -n "$1" exec "$2" -- sh -c "$BOUNDED"'; bounded 30 wget -q -O /dev/null "$1"' sh "$3" >/dev/null 2>&1; }
export -f fails_from
check "policy: cl cut off from s2 over IPv4" eventually 20 fails_from dual cl "http://${V4[s2]}:8080/"
check "policy: cl cut off from s2 over IPv6" eventually 20 fails_from dual cl "$(v6url "${V6[s2]}")"
check "policy: cl cut off from Service req over both (the backend is s2)" \
	bash -c "fails_from dual cl http://$REQ4/ && fails_from dual cl $(v6url "$REQ6" 80)"
check "policy: fr (friend) fetches s2 over IPv4 and IPv6" \
	eventually 15 bash -c "wget_from dual fr http://${V4[s2]}:8080/ | grep -qx hello-from-s2 && wget_from dual fr $(v6url "${V6[s2]}") | grep -qx hello-from-s2"
check "policy: fr fetches Service req over IPv4 and IPv6" \
	bash -c "wget_from dual fr http://$REQ4/ | grep -qx hello-from-s2 && wget_from dual fr $(v6url "$REQ6" 80) | grep -qx hello-from-s2"
check "policy: s1 still reached by cl over IPv6 (not selected)" \
	bash -c "wget_from dual cl $(v6url "${V6[s1]}") | grep -qx hello-from-s1"
kc -n dual delete networkpolicy guarded-from-friends >/dev/null
check "policy deleted: cl fetches s2 over IPv6 again" \
	eventually 20 bash -c "wget_from dual cl $(v6url "${V6[s2]}") | grep -qx hello-from-s2"

check "kubectl exec ds/xcni -- xcnictl status: Verdict OK" \
	bash -c "kc -n kube-system exec ds/xcni -c xcnid -- xcnictl status >$TMP/status.out 2>&1 && grep -q '^Verdict: *OK\$' $TMP/status.out || { sed 's/^/#   /' $TMP/status.out; exit 1; }"
k8s_agent_logs_clean

# ---- xcnictl connectivity test in both families (issue 39) ----
k8s_flows_enable
k8s_ct ct --tls "$TMP/flows/client"
k8s_ct_green ct flows pod-to-pod/same-node/ipv4 pod-to-pod/other-node/ipv4 pod-to-pod/other-node-udp/ipv4 \
	pod-to-service/clusterip/ipv4 outside-to-nodeport/backend-node/ipv4 outside-to-nodeport/other-node/ipv4 \
	policy/allowed/ipv4 policy/denied/ipv4 pod-to-pod/same-node/ipv6 pod-to-pod/other-node/ipv6 \
	pod-to-pod/other-node-udp/ipv6 pod-to-service/clusterip/ipv6 policy/allowed/ipv6 policy/denied/ipv6
check "  connectivity test: families IPv4 and IPv6 (the probe pods' podIPs)" \
	grep -q 'families IPv4 and IPv6' "$TMP/ct.out"
check "  policy/denied/ipv6: n2's flow record of the IPv6 connection denied it" \
	bash -c "grep -A1 '^  PASS  policy/denied/ipv6 ' $TMP/ct.out | grep -Eq '^        by .*n2 drop-policy-ingress'"
check "  SKIP outside-to-nodeport/*/ipv6: the nodes have no IPv6 address (1.20's kubelet: one --node-ip), named" \
	bash -c "grep -q '^  SKIP  outside-to-nodeport/backend-node/ipv6 .*n2 has no IPv6 address' $TMP/ct.out && grep -q '^  SKIP  outside-to-nodeport/other-node/ipv6 .*n1 has no IPv6 address' $TMP/ct.out"
k8s_ct_gone ct

# ---- uninstall, down ----
kc delete namespace dual --wait=true --timeout=90s >/dev/null 2>&1
k8s_uninstall "$TMP/xcni.yaml" kpr
k8s_down
diag "dual took $((($(now_ms) - T0) / 1000)) s"
finish
