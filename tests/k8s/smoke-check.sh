#!/bin/bash
# make check's smoke of the real Kubernetes (issue 37): xcni installed as a kind
# user installs it, on the control plane of tests/k8s/controlplane.sh and two
# nodes of tests/k8s/node.sh (XCNI_K8S_CNI=daemonset: no xcnid of the node's
# own, the node's /opt/cni/bin, /etc/cni/net.d and /sys/fs/bpf its own):
# - the xcni:dev image built offline from this build (tests/k8s/xcni-image.sh),
#   imported on each node with ctr;
# - examples/kind's manifests applied with kubectl, unchanged but for what a
#   kind user changes for another cluster: XCNI_K8S_DS=kpr (default) is
#   `kubectl apply -k examples/kind` (xcni.yaml + kpr-patch.yaml, applied here by
#   a JSON-patch of the same ops) with kpr-patch's API server host
#   kind-control-plane replaced by this one's 192.0.2.1; XCNI_K8S_DS=plain is
#   xcni.yaml itself, with the `kubernetes` Service's ClusterIP (10.96.0.1:443,
#   which the kubelet gives the pods) DNATed to the API server in the control
#   plane's netns, as kube-proxy would have it (there is none);
# - kubectl rollout status, both nodes Ready (the time from apply);
# - pods a (n1) and b (n2) reach each other; with kpr, b reaches a through a
#   ClusterIP Service (the controller-manager's v1beta1 EndpointSlice);
# - a NetworkPolicy cuts b off from a;
# - a Job's pod on n2 finishes and pod c gets its address while another
#   namespace's policy comes in; c reaches a, no agent refused a generation;
# - uninstall: kubectl delete -f, then examples/kind/uninstall.yaml applied and
#   deleted: no pin, conflist, plugin, xcni link, tc filter, XDP program or
#   nftables table of xcni left on either node; then everything down.
# Needs scripts/k8s-build.sh to have run, and make.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
CP=$XCNI_ROOT/tests/k8s/controlplane.sh
NODE=$XCNI_ROOT/tests/k8s/node.sh
NODES=(n1 n2)
DS=${XCNI_K8S_DS:-kpr}
now_ms() { date +%s%3N; }
T0=$(now_ms)

# Without the Kubernetes binaries (scripts/k8s-build.sh, which make check runs
# first unless XCNI_K8S_BUILD=0) or the node's packages (scripts/k8s-deps.sh):
# skipped, neither passed nor failed.
skip() {
	echo "ok 1 # SKIP $*"
	echo "0 passed, 0 failed"
	exit 0
}
bash "$XCNI_ROOT/scripts/k8s-build.sh" --bin-dir >/dev/null 2>&1 ||
	skip "Kubernetes 1.20 not built (scripts/k8s-build.sh; make check builds it unless XCNI_K8S_BUILD=0)"
for c in etcd containerd runc ctr /usr/lib/cni/host-local /usr/lib/cni/portmap; do
	command -v "$c" >/dev/null || skip "$c missing (scripts/k8s-deps.sh)"
done
for b in "$BUILD/xcnid" "$BUILD/xcni" /bin/busybox; do
	[ -x "$b" ] || { not_ok "$b exists (make; busybox-static)"; finish; exit 1; }
done
if ip netns list | grep -q '^xcni-k8s-' || [ -e /run/xcni-k8s ]; then
	not_ok "no other Kubernetes of tests/k8s up (xcni-k8s-* netns or /run/xcni-k8s exist)"
	finish
	exit 1
fi
LINKS0=$(ip -o link show | grep -c 'xk8s' || true)
MOUNTS0=$(grep -c 'xcni-k8s' /proc/self/mounts)
PIDS=()
TMP=$(mktemp -d /tmp/xcni-k8s-smoke.XXXXXX)

teardown() {
	local n
	for n in "${NODES[@]}"; do bash "$NODE" down "$n" >/dev/null 2>&1; done
	bash "$CP" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap teardown EXIT
trap 'exit 130' INT TERM

t=$(now_ms)
if BUILD=$BUILD bash "$XCNI_ROOT/tests/k8s/xcni-image.sh" "$TMP/xcni.tar" xcni:dev 2>"$TMP/image.log"; then
	ok "image xcni:dev built offline ($(du -h "$TMP/xcni.tar" | cut -f1), $(($(now_ms) - t)) ms)"
else
	not_ok "image xcni:dev built"
	sed 's/^/#   /' "$TMP/image.log"
	finish
	exit 1
fi

# Each node's pod CIDR a /29 (host-local: .2-.6): the Job's address comes back
# after three more pods on n2.
export XCNI_K8S_NODE_CIDR_MASK=${XCNI_K8S_NODE_CIDR_MASK:-29}
t0=$SECONDS
if ! bash "$CP" up >/dev/null; then
	not_ok "control plane up"
	finish
	exit 1
fi
ok "control plane up ($((SECONDS - t0)) s)"
eval "$(bash "$CP" env)"
kc() { ip netns exec "$K8S_NETNS" "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" "$@"; }
export -f kc
export K8S_NETNS K8S_BIN KUBECONFIG
PIDS+=($(cat "$(dirname "$KUBECONFIG")"/*.pid))
eventually() {
	local t=$1 end
	shift
	end=$((SECONDS + t))
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}

for n in "${NODES[@]}"; do
	if out=$(XCNI_K8S_CNI=daemonset XCNI_K8S_IMAGE=$TMP/xcni.tar bash "$NODE" up "$n" 2>&1); then
		eval "$(bash "$NODE" env "$n" | sed "s/^/${n}_/")"
		ok "node $n up (registered; xcni image imported)"
		PIDS+=($(cat /run/xcni-k8s/"$n"/*.pid))
	else
		not_ok "node $n up"
		tail -n 30 <<<"$out" | sed 's/^/#   /'
		finish
		exit 1
	fi
done
in_node() { # NODE CMD...: in that node's netns and mount namespace
	local h=${1}_NODE_HOLDER
	nsenter --net="/run/netns/xcni-k8s-$1" --mount="/proc/${!h}/ns/mnt" -- "${@:2}"
}

# ---- the manifests ----
python3 - "$XCNI_ROOT/examples/kind" "$DS" "$K8S_ADVERTISE" >"$TMP/xcni.yaml" <<'PY'
import sys, yaml
d, ds, adv = sys.argv[1:]
docs = [x for x in yaml.safe_load_all(open(d + "/xcni.yaml")) if x]
if ds == "kpr":
    # kustomization.yaml's patch, op by op (replace, add; "-" appends).
    for op in yaml.safe_load(open(d + "/kpr-patch.yaml")):
        v = op["value"]
        if isinstance(v, dict) and v.get("value") == "kind-control-plane":
            v = dict(v, value=adv)
        for doc in docs:
            if doc["kind"] != "DaemonSet":
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
if [ "$DS" = plain ]; then
	# kube-proxy's one rule this cluster needs, on each node as kube-proxy has
	# it (in the node's own stack: the wire then carries the API server's own
	# address; a DNAT off the node would bring replies from 10.96.0.1 up the
	# underlay, which xcnid drops, drop-src-frontend).
	for n in "${NODES[@]}"; do
		ip netns exec "xcni-k8s-$n" nft -f - <<EOF2
table ip kube-proxy-emul {
	chain out { type nat hook output priority -100; ip daddr 10.96.0.1 tcp dport 443 dnat to $K8S_ADVERTISE:6443; }
}
EOF2
	done
fi
diag "manifest: examples/kind/xcni.yaml$([ "$DS" = kpr ] && echo " + kpr-patch.yaml (API server $K8S_ADVERTISE)")"
t=$(now_ms)
kc apply -f "$TMP/xcni.yaml" >/dev/null
if kc -n kube-system rollout status ds/xcni --timeout=180s >/dev/null; then
	ok "kubectl rollout status ds/xcni: rolled out $(($(now_ms) - t)) ms after kubectl apply"
else
	not_ok "kubectl rollout status ds/xcni"
	kc -n kube-system get pods -o wide 2>&1 | sed 's/^/#   /'
	kc -n kube-system describe ds xcni 2>&1 | tail -n 10 | sed 's/^/#   /'
	for p in $(kc -n kube-system get pods -l app.kubernetes.io/name=xcni -o name); do
		kc -n kube-system logs "$p" -c install --tail=10 2>&1 | sed "s|^|#   $p install: |"
		kc -n kube-system logs "$p" -c xcnid --tail=10 2>&1 | sed "s|^|#   $p xcnid: |"
	done
fi
ready_nodes() { [ "$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{end}')" = TrueTrue ]; }
export -f ready_nodes
if eventually 120 ready_nodes; then
	ok "both nodes Ready $(($(now_ms) - t)) ms after kubectl apply"
else
	not_ok "both nodes Ready"
fi

# ---- pods ----
pod() { # NAME NS NODE LABELS COMMAND
	kc apply -f - >/dev/null <<EOF2 || return 1
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $2, labels: {$4}}
spec:
  nodeName: $3
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: xcni.test/busybox:1
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$5")]
EOF2
	kc -n "$2" wait --for=condition=Ready "pod/$1" --timeout=90s >/dev/null
}
ip_of() { kc -n "$1" get pod "$2" -o jsonpath='{.status.podIP}'; }
wget_from() { kc -n "$1" exec "$2" -- timeout 3 wget -q -O - "$3"; }
export -f wget_from
SERVE='mkdir -p /tmp/www && echo hello-from-$(hostname) >/tmp/www/index.html && httpd -p 8080 -h /tmp/www && exec sleep 2147483647'
kc create namespace web >/dev/null
kc create namespace batch >/dev/null
check "pod a on n1 Ready" pod a web n1 "app: a" "$SERVE"
check "pod b on n2 Ready" pod b web n2 "app: b" "$SERVE"
A=$(ip_of web a)
B=$(ip_of web b)
diag "a $A on n1, b $B on n2"
check "b (n2) fetches a (n1)" eventually 10 bash -c "wget_from web b http://$A:8080/ | grep -qx hello-from-a"
check "a (n1) fetches b (n2)" bash -c "wget_from web a http://$B:8080/ | grep -qx hello-from-b"
if [ "$DS" = kpr ]; then
	kc -n web create service clusterip a --tcp=80:8080 >/dev/null
	CIP=$(kc -n web get svc a -o jsonpath='{.spec.clusterIP}')
	check "b (n2) reaches a through ClusterIP $CIP:80 (xcnid --kube-proxy-replacement, v1beta1 slices)" \
		eventually 20 bash -c "wget_from web b http://$CIP/ | grep -qx hello-from-a"
fi

# ---- a policy ----
kc apply -f - >/dev/null <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-friends, namespace: web}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: friend}}
EOF2
check "NetworkPolicy a-from-friends: b cut off from a" \
	eventually 15 bash -c "! wget_from web b http://$A:8080/ >/dev/null 2>&1"
check "a still reaches b" bash -c "wget_from web a http://$B:8080/ | grep -qx hello-from-b"

# ---- a Job's address reused ----
kc apply -f - >/dev/null <<'EOF2'
apiVersion: batch/v1
kind: Job
metadata: {name: done, namespace: batch}
spec:
  backoffLimit: 0
  template:
    spec:
      nodeName: n2
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: xcni.test/busybox:1
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "echo finished"]
EOF2
check "the Job's pod on n2 Succeeded" \
	eventually 60 bash -c "[ \"\$(kc -n batch get pods -l job-name=done -o jsonpath='{.items[0].status.phase}')\" = Succeeded ]"
J=$(kc -n batch get pods -l job-name=done -o jsonpath='{.items[0].status.podIP}')
check "n2's host-local released the Job's address $J" \
	eventually 30 bash -c "[ -n '$J' ] && ! in_node n2 test -e /var/lib/cni/networks/xcni/$J"
# n2's other free addresses taken (host-local goes round its range).
for i in 1 2 3; do
	check "filler pod f$i on n2 Ready" pod "f$i" web n2 "app: f" "exec sleep 2147483647"
done
diag "n2's pods: $(kc -n web get pods -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP} {end}')"
kc apply -f - >/dev/null <<'EOF2' &
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: batch}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
EOF2
bg=$!
check "pod c on n2 Ready beside another namespace's deny-all coming in" pod c web n2 "app: c, role: friend" "exec sleep 2147483647"
wait $bg
C=$(ip_of web c)
check "c got the finished Job pod's address ($C = $J)" test "$C" = "$J"
check "c (role=friend) reaches a" eventually 15 bash -c "wget_from web c http://$A:8080/ | grep -qx hello-from-a"
check "b is still cut off from a" bash -c "! wget_from web b http://$A:8080/ >/dev/null 2>&1"
for p in $(kc -n kube-system get pods -l app.kubernetes.io/name=xcni -o name); do
	kc -n kube-system logs "$p" -c xcnid >"$TMP/${p##*/}.log" 2>&1
	check "$p: no generation refused or not applied (kubectl logs)" \
		bash -c "! grep -E 'not applied|compiling policy \(generation|is also the address of|claimed by pod' $TMP/${p##*/}.log"
done

# ---- uninstall ----
kc delete namespace web batch --wait=true --timeout=60s >/dev/null 2>&1
t=$(now_ms)
kc delete -f "$TMP/xcni.yaml" --wait=true --timeout=60s >/dev/null
check "kubectl delete -f: the xcni pods are gone" \
	eventually 60 bash -c "[ -z \"\$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni -o name)\" ]"
kc apply -f "$XCNI_ROOT/examples/kind/uninstall.yaml" >/dev/null
check "uninstall.yaml: its pods ran the uninstall on both nodes" \
	eventually 120 bash -c "[ \"\$(kc -n kube-system get pods -l app.kubernetes.io/name=xcni-uninstall -o jsonpath='{range .items[*]}{.status.phase}{end}')\" = RunningRunning ]"
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
	[ "$DS" = plain ] && ip netns exec "xcni-k8s-$n" nft delete table ip kube-proxy-emul
	check "$n: no tc filter or XDP program on eth0" \
		bash -c "[ -z \"\$(ip netns exec xcni-k8s-$n tc filter show dev eth0 ingress)\$(ip netns exec xcni-k8s-$n tc filter show dev eth0 egress)\" ] && ! ip -n xcni-k8s-$n link show eth0 | grep -q xdp"
	check "$n: /run/xcni empty" bash -c "[ -z \"\$(in_node $n ls -A /run/xcni 2>/dev/null)\" ]"
done

# ---- down ----
for n in "${NODES[@]}"; do
	PIDS+=($(find "/sys/fs/cgroup/pids/xcni-k8s-$n" -name cgroup.procs -exec cat {} + 2>/dev/null))
done
trap - EXIT
for n in "${NODES[@]}"; do check "node $n down" bash "$NODE" down "$n"; done
check "control plane down" bash "$CP" down
rm -rf "$TMP"
check "every process gone (${#PIDS[@]})" \
	bash -c "for p in ${PIDS[*]}; do [ ! -d /proc/\$p ] || [ \"\$(awk '{print \$3}' /proc/\$p/stat 2>/dev/null)\" = Z ] || { echo \"\$p \$(cat /proc/\$p/comm)\"; exit 1; }; done"
check "no xcni-k8s-* netns left" bash -c "! ip netns list | grep -q '^xcni-k8s-'"
check "no xk8s-* link left on the host" test "$(ip -o link show | grep -c xk8s || true)" = "$LINKS0"
check "no xcni-k8s-* cgroup left" bash -c "! ls -d /sys/fs/cgroup/*/xcni-k8s-* /sys/fs/cgroup/xcni-k8s-* 2>/dev/null | grep -q ."
check "no run dir left (/run/xcni-k8s)" test ! -e /run/xcni-k8s
check "the host's mounts as they were" test "$(grep -c 'xcni-k8s' /proc/self/mounts)" = "$MOUNTS0"
diag "smoke ($DS) took $((($(now_ms) - T0) / 1000)) s"
finish
