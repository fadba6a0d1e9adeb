# The bring-up that tests/k8s's DaemonSet suites share (sourced after
# tests/lib.sh): the control plane of controlplane.sh, kubelet nodes of node.sh
# in XCNI_K8S_CNI=daemonset mode, the xcni:dev image built offline
# (xcni-image.sh), examples/kind's manifests rendered for this cluster, and the
# teardown checks that nothing is left. Used by smoke-check.sh (make check's
# k8s-smoke) and life.sh (make e2e).
#
#   k8s_preflight NODE...   skip without the binaries; fail if another cluster
#                           of tests/k8s is up; sets NODES, TMP; traps teardown
#   k8s_image               build xcni:dev into $TMP/xcni.tar
#   k8s_cp_up; k8s_nodes_up bring them up (kc, in_node, *_NODE_HOLDER set);
#                           nodes of node.sh's mode K8S_CNI (default
#                           daemonset), each with what k8s_node_env NODE (a
#                           function of the caller's, if any) exports
#   k8s_up DS               k8s_cp_up, k8s_nodes_up; DS plain: the nodes run
#                           kube-proxy 1.20 (iptables), checked per node
#   friends_only NAME NS LABEL  NetworkPolicy NS/NAME applied: pods with LABEL
#                           ("app: a") take ingress from role=friend only
#   k8s_cnp_crd             the ClusterNetworkPolicy CRD (policy.networking.k8s.io
#                           v1alpha2, schema left open: xcnid validates) applied
#   job_done [LABELS]       Job batch/done applied: one busybox pod on n2 (its
#                           template labelled LABELS, "app: done") that ends
#   k8s_manifest DS         examples/kind rendered: kpr (kpr-patch.yaml, API
#                           server host this one's) or plain (xcni.yaml; with
#                           XCNI_K8S_KUBE_PROXY=iptables the nodes run
#                           kube-proxy 1.20, else one nft DNAT stands in)
#   k8s_install FILE [DS]   kubectl apply; rollout status of DaemonSet DS (xcni);
#                           every node Ready
#   pod NAME NS NODE LABELS COMMAND (prints the ms from apply to Ready);
#   ip_of NS NAME; wget_from NS POD URL
#   k8s_agent_logs_clean    no agent refused a generation (kubectl logs; copied
#                           into $XCNI_K8S_KEEP when set)
#   k8s_uninstall FILE      delete -f + uninstall.yaml; nothing of xcni left
#   k8s_down                every node and the control plane down; checked
# The cluster takes the whole machine's Kubernetes: run the suite under
# flock /tmp/xcni-test.lock (tests/run.sh does). pods.sh and services.sh
# (make e2e) use the same bring-up with K8S_CNI=xcni: xcnid a plain process of
# each node, no image, no DaemonSet.
K8S_DIR=$XCNI_ROOT/tests/k8s
CP=$K8S_DIR/controlplane.sh
NODE=$K8S_DIR/node.sh
now_ms() { date +%s%3N; }

# Without the Kubernetes binaries (scripts/k8s-build.sh, which make check runs
# first unless XCNI_K8S_BUILD=0) or the node's packages (scripts/k8s-deps.sh):
# skipped, neither passed nor failed.
k8s_skip() {
	echo "ok 1 # SKIP $*"
	echo "0 passed, 0 failed"
	exit 0
}

k8s_begin() { # NODE...: T0 (the suite's start), the preflight on these nodes, the image
	T0=$(now_ms)
	k8s_preflight "$@"
	k8s_image
}
# What a killed run left (its namespaces and run directories, no process in
# them: a machine stopped mid-suite; CI failed on it on 2026-11-29) is taken
# down by the scripts that made it. A Kubernetes with any live process in it
# is another run's, and is left alone: the check below refuses to start.
k8s_take_down_stale() {
	local ns n live=
	for ns in $(ip netns list | awk '/^xcni-k8s-/ {print $1}'); do
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || live=1
	done
	for n in /run/xcni-k8s/*/*.pid; do
		[ -e "$n" ] && kill -0 "$(cat "$n")" 2>/dev/null && live=1
	done
	[ -z "$live" ] || return 0
	for n in $({ ip netns list | awk '/^xcni-k8s-/ {print substr($1, 10)}'; ls /run/xcni-k8s 2>/dev/null; } | sort -u); do
		case $n in
		cp) echo "# a killed run's control plane left: taken down"; bash "$CP" down >/dev/null 2>&1 ;;
		*) echo "# a killed run's node $n left: taken down"; bash "$NODE" down "$n" >/dev/null 2>&1 ;;
		esac
	done
	rmdir /run/xcni-k8s 2>/dev/null || true
}
k8s_preflight() {
	NODES=("$@")
	bash "$XCNI_ROOT/scripts/k8s-build.sh" --bin-dir >/dev/null 2>&1 ||
		k8s_skip "Kubernetes 1.20 not built (scripts/k8s-build.sh; make check builds it unless XCNI_K8S_BUILD=0)"
	local c b
	for c in etcd containerd runc ctr /usr/lib/cni/host-local /usr/lib/cni/portmap; do
		command -v "$c" >/dev/null || k8s_skip "$c missing (scripts/k8s-deps.sh)"
	done
	for b in "$BUILD/xcnid" "$BUILD/xcni" /bin/busybox; do
		[ -x "$b" ] || { not_ok "$b exists (make; busybox-static)"; finish; exit 1; }
	done
	k8s_take_down_stale
	if ip netns list | grep -q '^xcni-k8s-' || [ -e /run/xcni-k8s ]; then
		not_ok "no other Kubernetes of tests/k8s up (xcni-k8s-* netns or /run/xcni-k8s exist)"
		finish
		exit 1
	fi
	LINKS0=$(ip -o link show | grep -c 'xk8s' || true)
	MOUNTS0=$(grep -c 'xcni-k8s' /proc/self/mounts)
	PIDS=()
	TMP=$(mktemp -d /tmp/xcni-k8s-suite.XXXXXX)
	trap k8s_teardown EXIT
	trap 'exit 130' INT TERM
}

# Background processes a suite starts (an xcnictl flows --follow): killed by
# their PIDs at teardown, so none outlives the suite holding the test lock's
# descriptor it inherited (one did, for ~20 min, on 2026-11-26).
BG_PIDS=()

k8s_teardown() {
	local n p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for n in "${NODES[@]}"; do bash "$NODE" down "$n" >/dev/null 2>&1; done
	bash "$CP" down >/dev/null 2>&1
	rm -rf "$TMP"
}

k8s_image() {
	local t
	t=$(now_ms)
	if BUILD=$BUILD bash "$K8S_DIR/xcni-image.sh" "$TMP/xcni.tar" xcni:dev 2>"$TMP/image.log"; then
		ok "image xcni:dev built offline ($(du -h "$TMP/xcni.tar" | cut -f1), $(($(now_ms) - t)) ms)"
	else
		not_ok "image xcni:dev built"
		sed 's/^/#   /' "$TMP/image.log"
		finish
		exit 1
	fi
}

kc() { ip netns exec "$K8S_NETNS" "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" "$@"; }
eventually() { # SECONDS CMD...: every 0.5 s until it succeeds
	local t=$1 end
	shift
	end=$((SECONDS + t))
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}
in_node() { # NODE CMD...: in that node's netns and mount namespace
	local h=${1//-/_}_NODE_HOLDER
	nsenter --net="/run/netns/xcni-k8s-$1" --mount="/proc/${!h}/ns/mnt" -- "${@:2}"
}
pod() { # NAME NS NODE LABELS COMMAND: a bare pod on NODE; the ms to Ready on stdout
	local t
	t=$(now_ms)
	{
		pod_yaml "$1" "$2" "$3" ", labels: {$4}"
		container_yaml '  ' main "$5"
	} | kc apply -f - >/dev/null || return 1
	kc -n "$2" wait --for=condition=Ready "pod/$1" --timeout=90s >/dev/null || return 1
	echo $(($(now_ms) - t))
}
pod_timed() { # NOTE NAME NS NODE LABELS COMMAND: pod(), its ms to Ready in an ok line (NOTE after them), or described
	local t
	if t=$(pod "${@:2}"); then
		ok "pod $2 on $4 Ready in $t ms$1"
	else
		not_ok "pod $2 on $4 Ready"
		kc -n "$3" describe pod "$2" | tail -n 15 | sed 's/^/#   /'
	fi
}
ip_of() { kc -n "$1" get pod "$2" -o jsonpath='{.status.podIP}'; }
# Manifests written more than once: kc apply -f - reads them (each opens with ---).
svc_yaml() { # NAME NS SPEC-LINE...: a Service
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: "%s", namespace: "%s"}\nspec:\n' "$1" "$2"
	printf '  %s\n' "${@:3}"
}
pod_yaml() { # NAME NS NODE METADATA: a bare pod down to its containers: (container_yaml '  ' next); METADATA: more fields, each after ", "
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: "%s", namespace: "%s"%s}\nspec:\n' "$1" "$2" "$4"
	printf '  nodeName: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n' "$3"
}
deploy_yaml() { # NAME NS REPLICAS [POD-SPEC-LINE...]: a Deployment of pods app=NAME down to containers: (container_yaml '      ' next)
	printf -- '---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: "%s", namespace: "%s"}\nspec:\n' "$1" "$2"
	printf '  replicas: %s\n  selector: {matchLabels: {app: %s}}\n  template:\n    metadata: {labels: {app: %s}}\n    spec:\n' "$3" "$1" "$1"
	printf '      %s\n' "${@:4}" 'terminationGracePeriodSeconds: 1' 'containers:'
}
container_yaml() { # INDENT NAME COMMAND [LINE...]: a busybox container (a list item) running sh -c COMMAND; LINEs in it
	local l
	printf '%s- name: %s\n%s  image: xcni.test/busybox:1\n%s  imagePullPolicy: Never\n' "$1" "$2" "$1" "$1"
	printf '%s  command: ["/bin/sh", "-c", %s]\n' "$1" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")"
	for l in "${@:4}"; do printf '%s  %s\n' "$1" "$l"; done
}
np_yaml() { # NAME NS POD-SELECTOR TYPES [SPEC-LINE...]: a NetworkPolicy (TYPES: "Ingress, Egress")
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "%s", namespace: "%s"}\n' "$1" "$2"
	printf 'spec:\n  podSelector: %s\n  policyTypes: [%s]\n' "$3" "$4"
	printf '  %s\n' "${@:5}"
}
# In a pod, "bounded TENTHS CMD...": CMD in the background, killed after TENTHS
# tenths of a second, reaped by the same shell; CMD's status (143 if killed).
# Not busybox timeout(1): it forks a watchdog that the pod's PID 1 inherits,
# and a PID 1 that is `sleep` never reaps it (a zombie a call: thousands a
# run, on a host of pid_max 32768); not wget -T, which Debian's busybox
# answers with a segfault (built without FEATURE_WGET_TIMEOUT).
BOUNDED='bounded() { _t=$1; shift; "$@" & _p=$!; _i=0; while kill -0 $_p 2>/dev/null && [ $_i -lt $_t ]; do sleep 0.1; _i=$((_i+1)); done; kill $_p 2>/dev/null; wait $_p; }'
wget_from() { kc -n "$1" exec "$2" -- sh -c "$BOUNDED"'; bounded 30 wget -q -O - "$1"' sh "$3"; }
SERVE='mkdir -p /tmp/www && echo hello-from-$(hostname) >/tmp/www/index.html && httpd -p 8080 -h /tmp/www && exec sleep 2147483647'
export BOUNDED
export -f kc wget_from eventually in_node

k8s_cp_up() {
	local t0=$SECONDS
	if ! bash "$CP" up >/dev/null; then
		not_ok "control plane up"
		finish
		exit 1
	fi
	ok "control plane up ($((SECONDS - t0)) s)"
	eval "$(bash "$CP" env)"
	export K8S_NETNS K8S_BIN KUBECONFIG
	PIDS+=($(cat "$(dirname "$KUBECONFIG")"/*.pid))
}

k8s_nodes_up() { # [NODE...] (default: every one of NODES)
	local n out v mode=${K8S_CNI:-daemonset}
	for n in "${@:-${NODES[@]}}"; do
		if out=$(
			[ "$(type -t k8s_node_env)" = function ] && k8s_node_env "$n"
			XCNI_K8S_CNI=$mode XCNI_K8S_IMAGE=$TMP/xcni.tar bash "$NODE" up "$n" 2>&1
		); then
			v=${n//-/_}
			eval "$(bash "$NODE" env "$n" | sed "s/^/${v}_/")"
			export "${v}_NODE_HOLDER"
			if [ "$mode" = daemonset ]; then
				ok "node $n up (registered; xcni image imported)"
			else
				ok "node $n up and Ready (CNI $mode): $(cat "/run/xcni-k8s/$n/times")"
			fi
			PIDS+=($(cat /run/xcni-k8s/"$n"/*.pid))
		else
			not_ok "node $n up"
			tail -n 30 <<<"$out" | sed 's/^/#   /'
			finish
			exit 1
		fi
	done
}

k8s_up() {
	local n
	[ "$1" = plain ] && export XCNI_K8S_KUBE_PROXY=iptables
	k8s_cp_up
	k8s_nodes_up
	[ "$1" = plain ] || return 0
	for n in "${NODES[@]}"; do
		check "$n: kube-proxy 1.20 (iptables) runs and wrote the kubernetes Service's rule" \
			eventually 30 bash -c "ip netns exec xcni-k8s-$n iptables-save -t nat | grep -q 'default/kubernetes:https.*-j KUBE-SVC-'"
	done
}
friends_only() {
	kc apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: $1, namespace: $2}
spec:
  podSelector: {matchLabels: {$3}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: friend}}
EOF
}
k8s_cnp_crd() { # the ClusterNetworkPolicy CRD applied, checked Established
	kc apply -f - >/dev/null <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusternetworkpolicies.policy.networking.k8s.io
  # a *.k8s.io group: the API server wants this annotation, a URL or a value
  # starting "unapproved" (then it says so in the CRD's status)
  annotations: {api-approved.kubernetes.io: "unapproved, test only"}
spec:
  group: policy.networking.k8s.io
  scope: Cluster
  names: {kind: ClusterNetworkPolicy, plural: clusternetworkpolicies, singular: clusternetworkpolicy, shortNames: [cnp]}
  versions:
  - name: v1alpha2
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
EOF
	check "CRD clusternetworkpolicies.policy.networking.k8s.io Established" \
		bash -c "kc wait --for=condition=Established crd/clusternetworkpolicies.policy.networking.k8s.io --timeout=60s >/dev/null"
}
job_done() {
	kc apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: done, namespace: batch}
spec:
  backoffLimit: 0
  template:
${1:+    metadata: {labels: {$1\}\}
}    spec:
      nodeName: n2
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: main, image: xcni.test/busybox:1, imagePullPolicy: Never,
                    command: ["/bin/sh", "-c", "echo finished"]}]
EOF
}
k8s_manifest() { # kpr|plain: examples/kind as a kind user applies it, for this cluster
	python3 - "$XCNI_ROOT/examples/kind" "$1" "$K8S_ADVERTISE" <<'PY'
import sys, yaml
d, ds, adv = sys.argv[1:]
docs = [x for x in yaml.safe_load_all(open(d + "/xcni.yaml")) if x]
if ds == "kpr":
    # kustomization.yaml's patches, op by op (replace, add; "-" appends):
    # kpr-patch.yaml on the DaemonSet, kpr-rbac.yaml on the ClusterRole.
    ops = [("DaemonSet", op) for op in yaml.safe_load(open(d + "/kpr-patch.yaml"))]
    ops += [("ClusterRole", op) for op in yaml.safe_load(open(d + "/kpr-rbac.yaml"))]
    for kind, op in ops:
        v = op["value"]
        if isinstance(v, dict) and v.get("value") == "kind-control-plane":
            v = dict(v, value=adv)
        for doc in docs:
            if doc["kind"] != kind:
                continue
            *path, last = op["path"].strip("/").split("/")
            o = doc
            for p in path:
                o = o[int(p)] if isinstance(o, list) else o[p]
            if last == "-":
                o.append(v)
            elif isinstance(o, list):
                o[int(last)] = v
            else:
                o[last] = v
print(yaml.safe_dump_all(docs), end="")
PY
	if [ "$1" = plain ] && [ -z "${XCNI_K8S_KUBE_PROXY:-}" ]; then
		# Without kube-proxy on the nodes (node.sh XCNI_K8S_KUBE_PROXY),
		# kube-proxy's one rule this cluster needs, on each node as it has
		# it (in the node's own stack: the wire then carries the API server's
		# own address; a DNAT off the node would bring replies from 10.96.0.1
		# up the underlay, which xcnid drops, drop-src-frontend).
		local n
		for n in "${NODES[@]}"; do
			ip netns exec "xcni-k8s-$n" nft -f - <<EOF2
table ip kube-proxy-emul {
	chain out { type nat hook output priority -100; ip daddr 10.96.0.1 tcp dport 443 dnat to $K8S_ADVERTISE:6443; }
}
EOF2
		done
	fi
}

ready_nodes() {
	[ "$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{end}')" = "$(printf 'True%.0s' "${NODES[@]}")" ]
}

k8s_ds_diag() {
	local p
	kc -n kube-system get pods -o wide 2>&1 | sed 's/^/#   /'
	kc -n kube-system describe ds xcni 2>&1 | tail -n 10 | sed 's/^/#   /'
	for p in $(kc -n kube-system get pods -l app.kubernetes.io/name=xcni -o name); do
		kc -n kube-system logs "$p" -c install --tail=10 2>&1 | sed "s|^|#   $p install: |"
		kc -n kube-system logs "$p" -c xcnid --tail=10 2>&1 | sed "s|^|#   $p xcnid: |"
	done
}

k8s_install() { # FILE [DS]: sets INSTALL_ROLLOUT_MS, INSTALL_READY_MS
	local t ds=${2:-xcni}
	t=$(now_ms)
	kc apply -f "$1" >/dev/null
	if kc -n kube-system rollout status "ds/$ds" --timeout=180s >/dev/null; then
		INSTALL_ROLLOUT_MS=$(($(now_ms) - t))
		ok "kubectl rollout status ds/$ds: rolled out $INSTALL_ROLLOUT_MS ms after kubectl apply"
	else
		not_ok "kubectl rollout status ds/$ds"
		k8s_ds_diag
	fi
	if eventually 120 ready_nodes; then
		INSTALL_READY_MS=$(($(now_ms) - t))
		ok "all ${#NODES[@]} nodes Ready $INSTALL_READY_MS ms after kubectl apply"
	else
		not_ok "all ${#NODES[@]} nodes Ready"
	fi
}

k8s_agent_logs_clean() {
	local p
	for p in $(kc -n kube-system get pods -l app.kubernetes.io/name=xcni -o name); do
		kc -n kube-system logs "$p" -c xcnid >"$TMP/${p##*/}.log" 2>&1
		[ -z "${XCNI_K8S_KEEP:-}" ] || cp "$TMP/${p##*/}.log" "$XCNI_K8S_KEEP/"
		check "$p: no generation refused or not applied (kubectl logs)" \
			bash -c "! grep -E 'not applied|compiling policy \(generation|is also the address of|claimed by pod' $TMP/${p##*/}.log"
	done
}

k8s_uninstall() { # FILE [DS]
	local t n p links
	t=$(now_ms)
	kc delete -f "$1" --wait=true --timeout=60s >/dev/null
	# The DaemonSet's pods go through the garbage collector, then the kubelet's
	# grace period (10 s): on a loaded machine (k37c's run, two suites at a
	# time) that once took over 60 s; bounded at 120 s.
	check "kubectl delete -f: the xcni pods are gone" \
		eventually 120 bash -c "[ -z \"\$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni -o name)\" ]"
	kc apply -f "$XCNI_ROOT/examples/kind/uninstall.yaml" >/dev/null
	check "uninstall.yaml: its pods ran the uninstall on every node" \
		eventually 120 bash -c "[ \"\$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni-uninstall -o jsonpath='{range .items[*]}{.status.phase}{end}')\" = $(printf 'Running%.0s' "${NODES[@]}") ]"
	for p in $(kc -n kube-system get pods -l app.kubernetes.io/name=xcni-uninstall -o name); do
		diag "$p: $(kc -n kube-system logs "$p" -c uninstall 2>&1 | tail -n 3 | paste -sd'|')"
	done
	kc delete -f "$XCNI_ROOT/examples/kind/uninstall.yaml" --wait=true --timeout=60s >/dev/null
	diag "uninstalled in $(($(now_ms) - t)) ms"
	for n in "${NODES[@]}"; do
		check "$n: no pins in its /sys/fs/bpf/xcni" in_node "$n" test ! -e /sys/fs/bpf/xcni
		check "$n: no 05-xcni.conflist; /etc/cni/net.d empty" bash -c "[ -z \"\$(ls -A /run/xcni-k8s/$n/cni/net.d)\" ]"
		check "$n: /opt/cni/bin as it was (host-local loopback portmap)" \
			test "$(ls -A "/run/xcni-k8s/$n/cni/bin" | paste -sd' ')" = "host-local loopback portmap"
		links=$(ip -n "xcni-k8s-$n" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | paste -sd' ')
		check "$n: no link of xcni (xcni0...): the node's links are $links" test "$links" = "lo eth0"
		check "$n: no nftables table of xcni" bash -c "! ip netns exec xcni-k8s-$n nft list tables | grep -q xcni"
		[ "${2:-}" = plain ] && [ -z "${XCNI_K8S_KUBE_PROXY:-}" ] && ip netns exec "xcni-k8s-$n" nft delete table ip kube-proxy-emul
		check "$n: no tc filter or XDP program on eth0" \
			bash -c "[ -z \"\$(ip netns exec xcni-k8s-$n tc filter show dev eth0 ingress)\$(ip netns exec xcni-k8s-$n tc filter show dev eth0 egress)\" ] && ! ip -n xcni-k8s-$n link show eth0 | grep -q xdp"
		check "$n: /run/xcni empty" bash -c "[ -z \"\$(in_node $n ls -A /run/xcni 2>/dev/null)\" ]"
	done
}

k8s_down() {
	local n
	for n in "${NODES[@]}"; do
		PIDS+=($(find "/sys/fs/cgroup/pids/xcni-k8s-$n" -name cgroup.procs -exec cat {} + 2>/dev/null))
	done
	# Each PID with its start time (/proc/PID/stat field 22), read now: a
	# short-lived process of a node may be gone and its PID reused by another
	# (an rm of the other suite running beside) by the time of the check.
	local -a live=()
	local p st
	for p in "${PIDS[@]}"; do
		st=$(awk '{print $22}' "/proc/$p/stat" 2>/dev/null) && live+=("$p:$st")
	done
	trap - EXIT
	for n in "${NODES[@]}"; do check "node $n down" bash "$NODE" down "$n"; done
	check "control plane down" bash "$CP" down
	rm -rf "$TMP"
	check "every process gone (${#live[@]})" bash -c 'for ps in "$@"; do
		f=$(awk "{print \$3, \$22}" "/proc/${ps%:*}/stat" 2>/dev/null) && [ -n "$f" ] || continue
		[ "${f% *}" != Z ] && [ "${f#* }" = "${ps#*:}" ] || continue
		echo "${ps%:*} $(cat "/proc/${ps%:*}/comm")"; exit 1
	done' _ "${live[@]}"
	check "no xcni-k8s-* netns left" bash -c "! ip netns list | grep -q '^xcni-k8s-'"
	check "no xk8s-* link left on the host" test "$(ip -o link show | grep -c xk8s || true)" = "$LINKS0"
	check "no xcni-k8s-* cgroup left" bash -c "! ls -d /sys/fs/cgroup/*/xcni-k8s-* /sys/fs/cgroup/xcni-k8s-* 2>/dev/null | grep -q ."
	check "no run dir left (/run/xcni-k8s)" test ! -e /run/xcni-k8s
	check "the host's mounts as they were" test "$(grep -c 'xcni-k8s' /proc/self/mounts)" = "$MOUNTS0"
}
