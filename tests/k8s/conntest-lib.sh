# xcnictl connectivity test and the cluster-wide flows view in tests/k8s's real
# cluster (issues 39 and 38), sourced after lib.sh and flows-lib.sh: life.sh's
# steps 8 and 9 (make e2e) and what smoke-check.sh (k8s-smoke) shares of them.
#
#   k8s_ct NAME ARGS...      xcnictl connectivity test --kubeconfig ARGS from the
#                            control plane's netns (a workstation): its output in
#                            $TMP/NAME.out (also printed, as # lines), its exit in CT_RC
#   k8s_ct_green NAME JUDGE TEST...
#                            the checks of a green run: exit 0, no FAIL, each TEST
#                            (NAME/FAMILY) PASS; JUDGE flows: the drops judged from
#                            the flow records (policy/denied by n2's record naming
#                            drop-policy-ingress and the isolating policy), counters:
#                            from the counters, the reason said
#   k8s_ct_dns NAME FAMILY   pod-to-dns/FAMILY passed, answered with the kubernetes
#                            Service's ClusterIP (read here with kubectl)
#   k8s_ct_gone NAME         the namespace went (its pods, Services, policies),
#                            the time the run printed as a figure
#   k8s_flows_in_pod NS NODE NODES...
#                            a pod of NS on NODE with a service account allowed to
#                            list the agents (pods in kube-system, nodes) and the
#                            flows client certificate mounted (a Secret copied from
#                            flows-certs.sh's files): xcnictl flows --cluster inside
#                            it (in-cluster config) answered by every one of NODES
#   k8s_flows_follow_relist NODE NODES...
#                            xcnictl flows --kubeconfig --follow while NODE's agent
#                            pod is deleted (the DaemonSet makes a new one): the
#                            lost agent named once, the new one picked up, NODES'
#                            records kept coming

k8s_ct() {
	local name=$1 t
	shift
	t=$(now_ms)
	ip netns exec "$K8S_NETNS" "$BUILD/xcnictl" connectivity test --kubeconfig "$KUBECONFIG" "$@" \
		>"$TMP/$name.out" 2>&1
	CT_RC=$?
	CT_MS=$(($(now_ms) - t))
	sed 's/^/#   /' "$TMP/$name.out"
}

k8s_ct_green() {
	local name=$1 judge=$2 tn out=$TMP/$1.out
	shift 2
	check "connectivity test --kubeconfig ($name): exit 0 ($CT_RC), every test run passed, $CT_MS ms" \
		bash -c "[ $CT_RC = 0 ] && grep -q '^[0-9]* passed, 0 failed' $out && ! grep -q '^  FAIL' $out"
	for tn in "$@"; do
		check "  PASS $tn" grep -Eq "^  PASS  $tn " "$out"
	done
	if [ "$judge" = flows ]; then
		check "  the drops judged from the flow records of the run (the agents over mTLS)" \
			grep -q '^connectivity test: drops judged from the flow records of the run' "$out"
		check "  policy/denied: n2's flow record denied it, drop-policy-ingress, isolated by xcni-conntest/guard" \
			grep -Eq '^        by .*n2 drop-policy-ingress \(isolated by xcni-conntest/guard\)' "$out"
	else
		check "  the drops judged from the counters, and why said (no flows client certificate)" \
			grep -q "^connectivity test: drops judged from each node's drop counters, not from flow records: no flows client certificate" "$out"
		check "  policy/denied blocked by a drop-policy-* counted on n2" grep -Eq '^        by .*n2 drop-policy' "$out"
	fi
}

k8s_ct_dns() {
	local kip
	kip=$(kc get svc kubernetes -o jsonpath='{.spec.clusterIP}')
	check "  PASS pod-to-dns/$2: kube-dns answered kubernetes.default.svc.cluster.local with the kubernetes Service's ClusterIP $kip" \
		grep -Eq "^  PASS  pod-to-dns/$2 .*kubernetes\.default\.svc\.cluster\.local = $kip\): connected [0-9]+ A+ record\(s\):.* $kip( |\$)" "$TMP/$1.out"
}

k8s_ct_gone() {
	local s
	s=$(sed -n 's/^connectivity test: namespace xcni-conntest deleted and gone (\([0-9.]*\) s.*/\1/p' "$TMP/$1.out")
	diag "figure: connectivity test ($1): namespace xcni-conntest deleted and gone in ${s:-?} s ($(grep -o 'the pods [0-9.]* s, then the namespace [0-9.]* s' "$TMP/$1.out"))"
	check "  namespace xcni-conntest gone (its pods, Services, policies with it)" \
		bash -c "! kc get namespace xcni-conntest >/dev/null 2>&1 && [ -z \"\$(kc get pods,svc,netpol -A -o name 2>/dev/null | grep xcni-conntest)\" ]"
}

k8s_flows_in_pod() {
	local ns=$1 node=$2
	shift 2
	kc -n "$ns" create secret generic xcni-flows-client --from-file="$TMP/flows/client/tls.crt" \
		--from-file="$TMP/flows/client/tls.key" --from-file="$TMP/flows/client/ca.crt" >/dev/null
	kc apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: ServiceAccount
metadata: {name: flows-viewer, namespace: $ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: xcni-flows-viewer}
rules:
- {apiGroups: [""], resources: [pods, nodes], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: xcni-flows-viewer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: xcni-flows-viewer}
subjects:
- {kind: ServiceAccount, name: flows-viewer, namespace: $ns}
---
apiVersion: v1
kind: Pod
metadata: {name: flows-viewer, namespace: $ns}
spec:
  nodeName: $node
  serviceAccountName: flows-viewer
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: xcni:dev
    imagePullPolicy: Never
    command: [sleep, infinity]
    volumeMounts: [{name: tls, mountPath: /etc/xcni/flows-client, readOnly: true}]
  volumes:
  - {name: tls, secret: {secretName: xcni-flows-client, defaultMode: 0400}}
EOF2
	check "pod $ns/flows-viewer (xcni:dev, service account flows-viewer, the client certificate mounted) on $node Ready" \
		kc -n "$ns" wait --for=condition=Ready pod/flows-viewer --timeout=90s
	check "  in it: xcnictl flows --cluster --tls /etc/xcni/flows-client (its service account, the agents at their nodes' addresses): exit 0" \
		bash -c "kc -n $ns exec flows-viewer -- xcnictl flows --cluster --tls /etc/xcni/flows-client --json >$TMP/flows-pod.json 2>$TMP/flows-pod.err || { cat $TMP/flows-pod.err; exit 1; }"
	check "  every node's agent answered the pod: $*" k8s_flows_all_nodes "$TMP/flows-pod.json" "$@"
	kc delete clusterrolebinding xcni-flows-viewer >/dev/null 2>&1
	kc delete clusterrole xcni-flows-viewer >/dev/null 2>&1
}

k8s_flows_follow_relist() {
	local node=$1 old pid i
	shift
	old=$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni --field-selector "spec.nodeName=$node" \
		-o jsonpath='{.items[0].metadata.name}')
	# Started directly (not through the k8s_flows function, whose subshell
	# would be $!): the PID killed below and at teardown is xcnictl's own.
	ip netns exec "$K8S_NETNS" "$BUILD/xcnictl" flows --kubeconfig "$KUBECONFIG" \
		--tls "$TMP/flows/client" --follow --json >"$TMP/follow.json" 2>"$TMP/follow.err" &
	pid=$!
	BG_PIDS+=("$pid")
	sleep 3
	kc -n kube-system delete pod "$old" --wait=false >/dev/null
	check "  $node's agent pod $old deleted: its DaemonSet's new one Ready" \
		eventually 90 bash -c "p=\$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni --field-selector spec.nodeName=$node -o jsonpath='{.items[0].metadata.name}'); [ -n \"\$p\" ] && [ \"\$p\" != $old ] && [ \"\$(kc -n kube-system get pod \$p -o jsonpath='{.status.containerStatuses[0].ready}')\" = true ]"
	# The follow re-lists every few seconds: the new agent is asked.
	check "  --follow names $node's agent lost, and picks up the new one" \
		eventually 30 bash -c "grep -q 'flows: node $node: agent pod $old .*no longer' $TMP/follow.err && grep -q 'flows: node $node: agent pod .* asked from now on' $TMP/follow.err"
	check "  $node's loss said once" test "$(grep -c "flows: node $node: agent pod $old .*no longer" "$TMP/follow.err")" = 1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	sed 's/^/#   /' "$TMP/follow.err" | head -20
}
