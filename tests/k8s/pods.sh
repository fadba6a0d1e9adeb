#!/bin/bash
# make e2e (issue 37): pods on real kubelet nodes with xcni as their CNI. The
# control plane of tests/k8s/controlplane.sh and two nodes of tests/k8s/node.sh
# (xcnid a plain process on each, with the xcni service account), then:
# - the nodes register and turn Ready once xcni's conflist is there (times);
# - pod a on n1 serves HTTP, pod b on n2 fetches it every second and logs the
#   result (kubectl logs), and serves too; kubectl exec from a to b; the times
#   from create to Ready;
# - a NetworkPolicy applied with kubectl cuts b off from a (the time from apply
#   to the first refused probe, probed from b's netns every 50 ms), a stays
#   able to reach b;
# - n2's host-local range is two addresses: a Job's pod there finishes
#   (Succeeded: its Pod keeps status.podIP) and pod c, made while another
#   namespace's policy comes in, gets that address again; c (allowed by the
#   policy) reaches a, b is still cut off, and no agent refused a generation;
# - the policy deleted, b reaches a again;
# - everything down: no process, netns, link, mount, cgroup, pin or run dir
#   left, and the host's sysctls as they were.
# Outside make check; needs scripts/k8s-build.sh to have run, and make.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# A third node with the reference ptp plugin in xcni's place: pod start on it
# is the comparison (XCNI_K8S_REF=0: none).
REF=${XCNI_K8S_REF:-1}
SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes vm.panic_on_oom"
sysctls_now() { sysctl $SYSCTLS 2>/dev/null; }
SYSCTL0=$(sysctls_now)

# The bring-up and teardown are tests/k8s/lib.sh's, with nodes of node.sh's
# xcni mode (xcnid a plain process of the node).
k8s_preflight n1 n2
export K8S_CNI=xcni
# n2's host-local range: two addresses, so the second pod there gets the
# address of one that finished.
k8s_node_env() { [ "$1" != n2 ] || export XCNI_K8S_POD_RANGE=2; }
k8s_cp_up
k8s_nodes_up
check "kubectl get nodes: both Ready, InternalIP the underlay's" \
	bash -c "kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.addresses[?(@.type==\"InternalIP\")].address}={.status.conditions[?(@.type==\"Ready\")].status} {end}' |
		grep -q 'n1=192.0.2.11=True n2=192.0.2.12=True'"
diag "$(kc get nodes -o wide 2>&1 | sed 's/   */  /g' | paste -sd'|')"

# ---- pods ----
# pod and ip_of: lib.sh's (pod prints the ms from apply to Ready).
# pod_starts NODE N: N pods made one at a time on NODE, then deleted; "min p50 max"
# of their create-to-Ready times on stdout, or nothing if one was not Ready.
# The network namespace of a pod, through a process in its cgroup on its node.
pod_netns() {
	local uid node pid
	uid=$(kc -n "$1" get pod "$2" -o jsonpath='{.metadata.uid}')
	node=$(kc -n "$1" get pod "$2" -o jsonpath='{.spec.nodeName}')
	pid=$(find "/sys/fs/cgroup/pids/xcni-k8s-$node" -path "*pod$uid*" -name cgroup.procs -exec cat {} + 2>/dev/null | head -n1)
	[ -n "$pid" ] && echo "/proc/$pid/ns/net"
}
# fetch NETNS URL: one HTTP GET from that netns, 300 ms to connect.
fetch() { nsenter --net="$1" curl -s --max-time 1 --connect-timeout 0.3 "$2"; }
a_up() { fetch "$B_NS" "http://$A:8080/" >/dev/null; }
a_down() { ! a_up; }
ms_until() { # T CMD...: the ms from T (now_ms) to the probe CMD first passed (every 50 ms, 20 s at most)
	local s
	for _ in $(seq 400); do
		s=$(now_ms)
		if "${@:2}"; then
			echo $((s - $1))
			return 0
		fi
		sleep 0.05
	done
	return 1
}
export -f fetch

SERVE='mkdir -p /tmp/www && echo hello-from-$(hostname) >/tmp/www/index.html && httpd -p 8080 -h /tmp/www'
kc create namespace web >/dev/null
kc create namespace batch >/dev/null
pod_timed " (create to Ready)" a web n1 "app: a" "$SERVE && exec sleep 2147483647"
A=$(ip_of web a)
# b fetches a every second, and logs what it got (busybox 1.35's wget -T
# segfaults, Debian builds it without FEATURE_WGET_TIMEOUT; lib.sh's bounded).
PROBE="$BOUNDED; while true; do if r=\$(bounded 20 wget -q -O - http://$A:8080/ 2>&1); then echo \"ok \$r\"; else echo \"fail \$r\"; fi; sleep 1; done"
pod_timed "" b web n2 "app: b" "$SERVE && $PROBE"
B=$(ip_of web b)
diag "a $A on n1 (pod CIDR $n1_NODE_CIDR), b $B on n2 (pod CIDR $n2_NODE_CIDR)"
check "a's and b's addresses are of their nodes' pod CIDRs" \
	python3 -c "import ipaddress as i,sys; sys.exit(not (i.ip_address('$A') in i.ip_network('$n1_NODE_CIDR') and i.ip_address('$B') in i.ip_network('$n2_NODE_CIDR')))"
check "b (n2) fetched a (n1): kubectl logs b says 'ok hello-from-a'" \
	eventually 20 bash -c "kc -n web logs b | grep -q '^ok hello-from-a'"
check "kubectl exec a -- wget b: a (n1) fetches b (n2)" \
	bash -c "wget_from web a http://$B:8080/ | grep -qx hello-from-b"
check "node n1's netns fetches b on n2 (host to a remote pod over Geneve)" \
	bash -c "nsenter --net=/run/netns/xcni-k8s-n1 curl -s --max-time 3 http://$B:8080/ | grep -qx hello-from-b"
B_NS=$(pod_netns web b)
check "b's netns found through its cgroup ($B_NS)" test -n "$B_NS"

# ---- pod start, one after another ----
# Create to Ready as kubectl sees it (scheduling is skipped: nodeName), each pod
# alone on n1: the kubelet, containerd, the CNI ADD (xcni, host-local), the
# container start and the status back to the API server.
pod_starts() {
	local node=$1 n=$2 i t starts=()
	for i in $(seq "$n"); do
		t=$(pod "s$node-$i" web "$node" "app: s-$node" "exec sleep 2147483647") && starts+=("$t")
	done
	kc -n web delete pods -l "app=s-$node" --wait=true --timeout=60s >/dev/null 2>&1
	[ ${#starts[@]} -eq "$n" ] || return 1
	printf '%s\n' "${starts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "min %d, p50 %d, max %d ms", a[1], a[int((NR+1)/2)], a[NR]}'
}
NSTART=${XCNI_K8S_START_PODS:-10}
if st=$(pod_starts n1 "$NSTART"); then
	ok "pod start on n1 (xcni), $NSTART pods one at a time: $st"
else
	not_ok "pod start on n1: $NSTART pods Ready"
fi

# ---- a NetworkPolicy ----
policy() {
	np_yaml a-from-friends web '{matchLabels: {app: a}}' Ingress 'ingress:' '- from:' '  - podSelector: {matchLabels: {role: friend}}'
}
check "b reaches a from its netns before the policy" bash -c "fetch $B_NS http://$A:8080/ | grep -qx hello-from-a"
t=$(now_ms)
policy | kc apply -f - >/dev/null
applied=$(now_ms)
if enforced=$(ms_until "$t" a_down); then
	ok "policy a-from-friends enforced: b cut off from a ${enforced} ms after kubectl apply began (apply itself $((applied - t)) ms; probes every 50 ms)"
else
	not_ok "policy a-from-friends enforced within 20 s"
fi
check "b stays cut off (3 probes)" bash -c "for i in 1 2 3; do ! fetch $B_NS http://$A:8080/ >/dev/null || exit 1; done"
check "kubectl logs b: its own fetches fail now" \
	eventually 10 bash -c "kc -n web logs b --tail=2 | grep -q '^fail'"
check "a still reaches b (b is not selected)" \
	bash -c "wget_from web a http://$B:8080/ | grep -qx hello-from-b"

# ---- a Job's address reused while another namespace's policy changes ----
job_done 'app: done'
check "the Job's pod on n2 Succeeded" \
	eventually 60 bash -c "[ \"\$(kc -n batch get pods -l job-name=done -o jsonpath='{.items[0].status.phase}')\" = Succeeded ]"
JOBPOD=$(kc -n batch get pods -l job-name=done -o jsonpath='{.items[0].metadata.name}')
J=$(kc -n batch get pod "$JOBPOD" -o jsonpath='{.status.podIP}')
diag "the Job's pod $JOBPOD had $J; its Pod keeps it (phase Succeeded)"
check "the finished pod's status.podIP is still there ($J)" test -n "$J"
# Its sandbox is torn down (CNI DEL) by the kubelet after the container exits:
# then host-local's two addresses are b's and a free one.
check "n2's host-local has released the Job's address" \
	eventually 30 test ! -e "/run/xcni-k8s/n2/cni/ipam/xcni/$J"
np_yaml deny-all batch '{}' 'Ingress, Egress' | kc apply -f - >/dev/null &
bgapply=$!
pod_timed ", beside another namespace's deny-all coming in" c web n2 "app: c, role: friend" "exec sleep 2147483647"
wait $bgapply
C=$(ip_of web c)
check "c got the finished Job pod's address ($C = $J): host-local reused it" test "$C" = "$J"
check "c (role=friend) reaches a: the reused address is c's, allowed by the policy" \
	eventually 15 bash -c "wget_from web c http://$A:8080/ | grep -qx hello-from-a"
check "b is still cut off from a: the policy still applies" \
	bash -c "for i in 1 2 3; do ! fetch $B_NS http://$A:8080/ >/dev/null || exit 1; done"
check "batch's deny-all in the API" bash -c "kc -n batch get networkpolicy deny-all -o name | grep -q ."
for n in "${NODES[@]}"; do
	log=/run/xcni-k8s/$n/xcnid.log
	check "xcnid on $n: no generation refused or not applied (its log)" \
		bash -c "! grep -E 'not applied|compiling policy \(generation|is also the address of|claimed by pod' $log"
	diag "xcnid on $n: $(grep -c 'applied in' "$log") generations applied; last: $(grep 'applied in' "$log" | tail -n1 | cut -c1-160)"
done

# ---- the policy deleted ----
t=$(now_ms)
kc -n web delete networkpolicy a-from-friends >/dev/null
if back=$(ms_until "$t" a_up); then
	ok "policy deleted: b reaches a again ${back} ms after kubectl delete began"
else
	not_ok "b reaches a again within 20 s of the policy's delete"
fi

# ---- the same pod start with the reference ptp plugin ----
if [ "$REF" = 1 ]; then
	NODES+=(r1)
	K8S_CNI=ptp k8s_nodes_up r1
	if st=$(pod_starts r1 "$NSTART"); then
		ok "pod start on r1 (ptp), $NSTART pods one at a time: $st"
	else
		not_ok "pod start on r1: $NSTART pods Ready"
	fi
fi

# ---- down ----
kc delete namespace web batch --wait=false >/dev/null 2>&1
k8s_down
check "no pins left under /sys/fs/bpf/xcni-k8s" test ! -e /sys/fs/bpf/xcni-k8s
check "the host's sysctls as they were (the kubelet's: $SYSCTLS)" test "$(sysctls_now)" = "$SYSCTL0"
finish
