#!/bin/bash
# A Kubernetes 1.20 control plane on this machine (issue 37): etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler, built by
# scripts/k8s-build.sh, in a network namespace of their own.
#
#   tests/k8s/controlplane.sh up     start it (or say it is up); print the kubeconfig
#   tests/k8s/controlplane.sh down   stop it: every process by its own PID, the
#                                    namespace and the run dir removed
#   tests/k8s/controlplane.sh env    print shell lines: KUBECONFIG, K8S_BIN, K8S_NETNS
#   tests/k8s/controlplane.sh restart-apiserver
#                                    stop kube-apiserver (TERM) and start it again,
#                                    etcd and the rest left running
#
# The namespace ($XCNI_K8S_NETNS, default xcni-k8s-cp) keeps every address
# and port off the host: etcd on its 127.0.0.1:2379, the API server on :6443
# with the advertise address $XCNI_K8S_ADVERTISE (default 192.0.2.1, TEST-NET-1)
# on the namespace's lo. The API server wants a non-loopback advertise address:
# it writes it as the endpoint of the `kubernetes` Service, and an endpoint in
# 127.0.0.0/8 fails validation. kubectl reaches it from inside the namespace:
#   ip netns exec xcni-k8s-cp kubectl --kubeconfig $RUN/admin.kubeconfig ...
# Everything the control plane writes is under $XCNI_K8S_RUN (default
# /run/xcni-k8s/cp): certificates and keys made with openssl, kubeconfigs,
# etcd's data, one log and one pid file per process.
#
# XCNI_K8S_DUAL=1 (at up): dual stack, 1.20's alpha (the IPv6DualStack feature
# gate on the API server, the controller manager and, in node.sh, the kubelet):
# --service-cluster-ip-range 10.96.0.0/16,fd00:10:96::/112 and --cluster-cidr
# 10.244.0.0/16,fd00:10:244::/56 (kind-config-dual.yaml's), each node a /24 and
# a /64 (--node-cidr-mask-size-ipv4/-ipv6; 1.20 refuses --node-cidr-mask-size
# beside two ranges). The API server's own address and the nodes' stay IPv4
# (1.20's kubelet takes one --node-ip). env then prints K8S_DUAL=1; up
# records the choice in the run dir, so env and restart-apiserver keep it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${XCNI_K8S_RUN:-/run/xcni-k8s/cp}
NS=${XCNI_K8S_NETNS:-xcni-k8s-cp}
ADV=${XCNI_K8S_ADVERTISE:-192.0.2.1}
DUAL=${XCNI_K8S_DUAL:-0}
[ -r "$RUN/dual" ] && [ "${1:-}" != up ] && DUAL=$(cat "$RUN/dual")
case $DUAL in 0 | 1) ;; *) echo "controlplane: XCNI_K8S_DUAL: 0 or 1, not '$DUAL'" >&2; exit 1 ;; esac
if [ "$DUAL" = 1 ]; then
	SERVICE_CIDR=${XCNI_K8S_SERVICE_CIDR:-10.96.0.0/16,fd00:10:96::/112}
	CLUSTER_CIDR=${XCNI_K8S_CLUSTER_CIDR:-10.244.0.0/16,fd00:10:244::/56}
	GATES=(--feature-gates IPv6DualStack=true)
	MASKS=(--node-cidr-mask-size-ipv4 "${XCNI_K8S_NODE_CIDR_MASK:-24}" --node-cidr-mask-size-ipv6 64)
else
	SERVICE_CIDR=${XCNI_K8S_SERVICE_CIDR:-10.96.0.0/16}
	CLUSTER_CIDR=${XCNI_K8S_CLUSTER_CIDR:-10.244.0.0/16}
	GATES=()
	MASKS=(--node-cidr-mask-size "${XCNI_K8S_NODE_CIDR_MASK:-24}")
fi
# Each node's spec.podCIDR is a /$XCNI_K8S_NODE_CIDR_MASK of it (default 24; the
# smoke's /29 makes host-local reuse an address within a few pods).
SERVICE_CIDR4=${SERVICE_CIDR%%,*}
KUBERNETES_SVC_IP=${SERVICE_CIDR4%.*/*}.1 # 10.96.0.1: the first of the (IPv4) range
APISERVER_PORT=6443
READY_TIMEOUT=${XCNI_K8S_READY_TIMEOUT:-180}
# Start order; down stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

log() { printf 'controlplane: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

in_ns() { ip netns exec "$NS" "$@"; }

bin_dir() {
	bash "$ROOT/scripts/k8s-build.sh" --bin-dir ||
		die "Kubernetes is not built: run scripts/k8s-build.sh (or make e2e)"
}

kc() { in_ns "$K8S_BIN/kubectl" --kubeconfig "$RUN/admin.kubeconfig" "$@"; }

# ---- processes: one pid file each, checked against its name before a signal ----
pid_of() { # component -> its PID if that process is still the one started
	local f=$RUN/$1.pid pid
	[ -r "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
	[ "$(cat "/proc/$pid/comm")" = "$(cut -c1-15 <<<"$1")" ] || return 1
	echo "$pid"
}

start() { # component binary args... ; in the namespace, its own session
	local name=$1
	shift
	# ip netns exec and nice exec the command in place: $! is the component's PID.
	# Niced: the machine is shared.
	ip netns exec "$NS" nice -n 10 "$@" >"$RUN/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
	sleep 0.5
	pid_of "$name" >/dev/null || { tail -n 20 "$RUN/$name.log" >&2; die "$name did not start"; }
	log "$name started (pid $(cat "$RUN/$name.pid"))"
}

stop() { # component: TERM, up to 15 s, then KILL
	local name=$1 pid i
	pid=$(pid_of "$name") || { rm -f "$RUN/$name.pid"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 150); do
		[ -d "/proc/$pid" ] || break
		sleep 0.1
	done
	if [ -d "/proc/$pid" ]; then
		log "$name (pid $pid) still there after 15 s: KILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$RUN/$name.pid"
	log "$name stopped (pid $pid)"
}

# ---- certificates ----
ssl() { openssl "$@" 2>>"$RUN/pki/openssl.log"; }

ca() {
	ssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=xcni-k8s-ca" \
		-keyout "$RUN/pki/ca.key" -out "$RUN/pki/ca.crt"
}

# cert name CN [O] [subjectAltName] [serverAuth|clientAuth]
cert() {
	local name=$1 cn=$2 o=${3:-} san=${4:-} usage=${5:-clientAuth} subj ext
	subj="/CN=$cn${o:+/O=$o}"
	ext=$RUN/pki/$name.ext
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$usage"
		[ -n "$san" ] && echo "subjectAltName=$san"
	} >"$ext"
	ssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$RUN/pki/$name.key" -out "$RUN/pki/$name.csr"
	ssl x509 -req -in "$RUN/pki/$name.csr" -CA "$RUN/pki/ca.crt" -CAkey "$RUN/pki/ca.key" \
		-CAcreateserial -days 30 -extfile "$ext" -out "$RUN/pki/$name.crt"
	rm -f "$RUN/pki/$name.csr" "$ext"
}

. "$ROOT/tests/lib/node_conf.sh"
kubeconfig() { # name cert-name
	kubeconfig_write "$RUN/$1.kubeconfig" "https://$ADV:$APISERVER_PORT" "$RUN/pki/ca.crt" "$2" \
		--client-certificate "$RUN/pki/$2.crt" --client-key "$RUN/pki/$2.key" --embed-certs
}

make_pki() {
	mkdir -p "$RUN/pki"
	ca
	cert apiserver kube-apiserver "" \
		"IP:$ADV,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
		serverAuth
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
	cert admin kubernetes-admin system:masters
	cert controller-manager system:kube-controller-manager
	cert scheduler system:kube-scheduler
	# The service accounts' token keys.
	ssl genrsa -out "$RUN/pki/sa.key" 2048
	ssl rsa -in "$RUN/pki/sa.key" -pubout -out "$RUN/pki/sa.pub"
	chmod 600 "$RUN"/pki/*.key
	kubeconfig admin admin
	kubeconfig controller-manager controller-manager
	kubeconfig scheduler scheduler
}

wait_ready() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$READY_TIMEOUT" ]; do
		if [ "$(kc get --raw /readyz 2>/dev/null)" = ok ]; then
			log "kube-apiserver ready after $((SECONDS - t0)) s"
			return 0
		fi
		pid_of kube-apiserver >/dev/null || { tail -n 30 "$RUN/kube-apiserver.log" >&2; die "kube-apiserver exited"; }
		sleep 1
	done
	tail -n 30 "$RUN/kube-apiserver.log" >&2
	die "kube-apiserver not ready in $READY_TIMEOUT s"
}

apiserver() {
	local p=$RUN/pki
	start kube-apiserver "$K8S_BIN/kube-apiserver" \
		--etcd-servers http://127.0.0.1:2379 \
		--advertise-address "$ADV" --bind-address 0.0.0.0 --secure-port $APISERVER_PORT --insecure-port 0 \
		--tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
		--client-ca-file "$p/ca.crt" \
		--kubelet-client-certificate "$p/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$p/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types InternalIP,ExternalIP,Hostname \
		--service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
		--allow-privileged=true --profiling=false "${GATES[@]}"
}

up() {
	K8S_BIN=$(bin_dir)
	if pid_of kube-apiserver >/dev/null; then
		log "already up ($RUN)"
		echo "$RUN/admin.kubeconfig"
		return 0
	fi
	[ -e "/run/netns/$NS" ] && die "netns $NS exists but the control plane is not up: run '$0 down' first"
	mkdir -p "$RUN"
	rm -rf "${RUN:?}"/*
	echo "$K8S_BIN" >"$RUN/bin"
	echo "$DUAL" >"$RUN/dual"
	local t0=$SECONDS
	# A failed start leaves nothing behind but its logs, copied out first.
	trap 'rc=$?; trap - EXIT; if [ $rc -ne 0 ]; then keep=/tmp/xcni-k8s-cp-failed.$$; mkdir -p $keep; cp $RUN/*.log $keep/ 2>/dev/null; log "up failed: logs in $keep; cleaning up"; down; fi; exit $rc' EXIT
	ip netns add "$NS"
	in_ns ip link set lo up
	in_ns ip addr add "$ADV/32" dev lo
	make_pki

	start etcd etcd --name xcni-cp --data-dir "$RUN/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster xcni-cp=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
		--quota-backend-bytes 1073741824
	apiserver
	wait_ready
	local p=$RUN/pki
	start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig "$RUN/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$RUN/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$RUN/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --port 0 --leader-elect=false \
		--service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
		--cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" \
		--use-service-account-credentials=true \
		--allocate-node-cidrs=true --cluster-cidr "$CLUSTER_CIDR" --service-cluster-ip-range "$SERVICE_CIDR" \
		"${MASKS[@]}" "${GATES[@]}" \
		--controllers '*,bootstrapsigner,tokencleaner' --profiling=false
	start kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig "$RUN/scheduler.kubeconfig" \
		--authentication-kubeconfig "$RUN/scheduler.kubeconfig" \
		--authorization-kubeconfig "$RUN/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --port 0 --leader-elect=false --profiling=false
	trap - EXIT
	log "up in $((SECONDS - t0)) s: ip netns exec $NS $K8S_BIN/kubectl --kubeconfig $RUN/admin.kubeconfig"
	echo "$RUN/admin.kubeconfig"
}

down() {
	local i pids
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		stop "${COMPONENTS[$i]}"
	done
	if [ -e "/run/netns/$NS" ]; then
		pids=$(ip netns pids "$NS" 2>/dev/null || true)
		[ -z "$pids" ] || log "warning: left in netns $NS: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
		ip netns del "$NS"
		log "netns $NS removed (and with it $ADV on its lo)"
	fi
	if [ -d "$RUN" ]; then
		rm -rf "$RUN"
		log "run dir $RUN removed"
	fi
	rmdir "$(dirname "$RUN")" 2>/dev/null || true
}

# The API server alone stopped (TERM) and started again with the same flags,
# etcd and the rest left running: its clients' watches end, they re-list.
restart_apiserver() {
	K8S_BIN=$(cat "$RUN/bin")
	pid_of kube-apiserver >/dev/null || die "kube-apiserver is not running"
	stop kube-apiserver
	apiserver
	wait_ready
}

case ${1:-} in
up) up ;;
down) down ;;
restart-apiserver) restart_apiserver ;;
env)
	K8S_BIN=$(cat "$RUN/bin" 2>/dev/null || bin_dir)
	printf 'KUBECONFIG=%s\nK8S_BIN=%s\nK8S_NETNS=%s\nK8S_ADVERTISE=%s\nK8S_SERVICE_CIDR=%s\nK8S_CLUSTER_CIDR=%s\nK8S_DUAL=%s\n' \
		"$RUN/admin.kubeconfig" "$K8S_BIN" "$NS" "$ADV" "$SERVICE_CIDR" "$CLUSTER_CIDR" "$DUAL"
	;;
*) die "usage: $0 up|down|env|restart-apiserver" ;;
esac
