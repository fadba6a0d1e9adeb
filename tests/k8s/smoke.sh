#!/bin/bash
# make e2e, today (issue 37): the control plane built from Debian's source comes
# up in its own namespace, answers what a client asks first (version,
# discovery), its controllers and scheduler act, and `down` leaves the host as
# it was. Needs scripts/k8s-build.sh to have run.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
CP=$XCNI_ROOT/tests/k8s/controlplane.sh

t0=$SECONDS
if ! bash "$CP" up >/dev/null; then
	not_ok "control plane up"
	finish
fi
ok "control plane up ($((SECONDS - t0)) s)"
eval "$(bash "$CP" env)"
kc() { ip netns exec "$K8S_NETNS" "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" "$@"; }
pids=$(cat "$(dirname "$KUBECONFIG")"/*.pid)
trap 'bash "$CP" down >/dev/null 2>&1' EXIT

# Polls a command for up to $1 seconds.
eventually() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 2; i++)); do
		"$@" && return 0
		sleep 0.5
	done
	"$@"
}

version=$(kc get --raw /version 2>&1)
diag "server /version: $(tr -d ' \n' <<<"$version")"
check "server says gitVersion v1.20.2 (stamped, not v0.0.0)" \
	grep -q '"gitVersion": "v1.20.2"' <<<"$version"
check "kubectl 1.20 says the same" bash -c "grep -q 'Server Version: v1.20.2' <<<\"\$(ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG version --short 2>&1)\""

apis=$(kc api-versions 2>&1)
diag "api-versions: $(paste -sd' ' <<<"$apis")"
check "networking.k8s.io/v1 served (NetworkPolicy)" grep -qx networking.k8s.io/v1 <<<"$apis"
check "discovery.k8s.io/v1beta1 served (EndpointSlice)" grep -qx discovery.k8s.io/v1beta1 <<<"$apis"
# The fact xcnid must live with on 1.19-1.20: its EndpointSlice list at v1 gets a 404.
check "discovery.k8s.io/v1 not served by 1.20" bash -c "! grep -qx discovery.k8s.io/v1 <<<\"\$1\"" _ "$apis"
check "GET discovery.k8s.io/v1 endpointslices is 404" \
	bash -c "ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get --raw /apis/discovery.k8s.io/v1/endpointslices 2>&1 | grep -q NotFound"

check "the kubernetes Service's endpoint is the advertise address $K8S_ADVERTISE:6443" \
	eventually 30 bash -c "[ \"\$(ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}')\" = $K8S_ADVERTISE:6443 ]"
check "the kubernetes Service has an EndpointSlice (v1beta1)" \
	eventually 30 bash -c "ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get endpointslices.v1beta1.discovery.k8s.io -n default -o name | grep -q ."
check "controller-manager: the default ServiceAccount made, with its token" \
	eventually 60 bash -c "ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get serviceaccount default -o jsonpath='{.secrets[0].name}' | grep -q default-token"
check "RBAC on: a service account with no binding may not list endpointslices" \
	bash -c "[ \"\$(ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG auth can-i list endpointslices.discovery.k8s.io --as system:serviceaccount:kube-system:xcni 2>/dev/null)\" = no ]"

# The vendored reflect2 1.0.1 under Go >= 1.18 killed the server on the first
# custom resource it decoded (fatal error: fault, in mapiterinit): Debian's
# 1.0.2 is built in instead (scripts/k8s-build.sh).
crd() {
	cat <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.smoke.xcni.test}
spec:
  group: smoke.xcni.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
EOF
}
cr() {
	cat <<'EOF'
apiVersion: smoke.xcni.test/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: 3, labels: {a: b, c: d}, list: [1, 2, 3]}
EOF
}
export -f crd cr
check "a CRD is established" bash -c "crd | ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG apply -f - &&
	ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG wait --for condition=established --timeout 60s crd/widgets.smoke.xcni.test"
check "a custom resource written, read back and listed; the server lives (reflect2 1.0.2)" \
	eventually 20 bash -c "cr | ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG apply -f - &&
	ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get widgets -o jsonpath='{.items[0].spec.labels.c}' | grep -qx d &&
	[ -d /proc/$(cat "$(dirname "$KUBECONFIG")/kube-apiserver.pid") ]"

# A pod with no node to go to: the scheduler says so.
kc run smoke --image=xcni.invalid/none --restart=Never >/dev/null 2>&1
check "scheduler: a pod with no nodes gets FailedScheduling" \
	eventually 60 bash -c "ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get events --field-selector involvedObject.name=smoke,reason=FailedScheduling -o name | grep -q ."
kc delete pod smoke --wait=false >/dev/null 2>&1

if command -v kubectl >/dev/null; then
	diag "the machine's kubectl against it: $(ip netns exec "$K8S_NETNS" kubectl --kubeconfig "$KUBECONFIG" version 2>&1 | paste -sd' ' | cut -c1-240)"
fi

trap - EXIT
check "control plane down" bash "$CP" down
check "its processes are gone" bash -c "for p in $(echo $pids); do [ ! -d /proc/\$p ] || exit 1; done"
check "its netns is gone" bash -c "[ ! -e /run/netns/$K8S_NETNS ]"
check "its run dir is gone" bash -c "[ ! -e \"$(dirname "$KUBECONFIG")\" ]"
check "the host's lo has no $K8S_ADVERTISE" bash -c "! ip -o addr show dev lo | grep -qw $K8S_ADVERTISE"
finish
