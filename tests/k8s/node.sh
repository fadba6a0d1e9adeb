#!/bin/bash
# A kubelet node of the control plane of tests/k8s/controlplane.sh (issue 37),
# made the way kind makes one, with xcni as its CNI:
#
#   tests/k8s/node.sh up NAME     start node NAME (or say it is up); it registers
#                                 and turns Ready; prints its run dir
#   tests/k8s/node.sh down NAME   stop it and remove everything it made; the Node
#                                 object too, when the control plane is up
#   tests/k8s/node.sh env NAME    shell lines: NODE_NS, NODE_IP, NODE_RUN, NODE_PIN,
#                                 NODE_CIDR, NODE_HOLDER (a PID in its mount namespace)
#   tests/k8s/node.sh list        the nodes up
#
# NAME: 1-10 of [a-z0-9-]. What a node is:
# - network: netns xcni-k8s-NAME, its eth0 a veth whose peer xk8s-NAME is a port
#   of the bridge xk8s-br in the control plane's netns (192.0.2.254/24 on it, made
#   by the first node); eth0 has 192.0.2.N/24 (the lowest free from .11, or
#   $XCNI_K8S_NODE_IP), a default route to 192.0.2.254, forwarding on. The API
#   server's 192.0.2.1 is on the control plane's lo, one hop away; every node
#   reaches every other on the bridge (xcni's Geneve underlay).
# - mounts: its own mount namespace, private, held by a `sleep` (NODE_HOLDER) and
#   entered by every process of the node: a tmpfs on /run (the host's
#   /run/xcni-k8s bound back in; containerd's shims want /run/containerd/s), on
#   /var/lib (libcni's cache in /var/lib/cni) and on /var/log (the kubelet's pod
#   logs); the copies of the host's netns mounts dropped (they would keep other
#   namespaces alive); and the three sysctls a kubelet would set on the whole
#   host (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1) shown
#   to it as already set: files bound over /proc/sys's, read only by this node.
# - cgroups: xcni-k8s-NAME in every hierarchy of /sys/fs/cgroup (the v1
#   controllers, name=systemd, the v2 `unified`): the node's daemons in
#   xcni-k8s-NAME/node, its pods under xcni-k8s-NAME/kubepods (the kubelet's
#   --cgroup-root, cgroupfs driver).
# - containerd (Debian's 1.6) with its root, state, socket and runc root under
#   the run dir, snapshotter overlayfs, its CNI bin and conf dirs the node's own;
#   the images a node needs built offline (tests/cri/mkimage.py: Debian's
#   busybox-static, also the pause image) and imported with ctr.
# - kubelet (built by scripts/k8s-build.sh): a client certificate for
#   system:node:NAME (group system:nodes) from the control plane's CA, remote
#   runtime, --node-ip, its root dir under the run dir; x509 + webhook auth
#   for the API server's calls (logs, exec); clusterDNS $XCNI_K8S_CLUSTER_DNS
#   (default 10.96.0.10, kind's: pods' resolv.conf names it, whether or not a
#   DNS Service is there); on a dual-stack control plane (controlplane.sh
#   XCNI_K8S_DUAL=1) the IPv6DualStack feature gate (and kube-proxy's), its
#   --node-ip still the one IPv4 address (1.20's kubelet takes one).
# - xcni: xcnid as a plain process of the node (not the DaemonSet; -v: each
#   generation applied is logged, in xcnid.log of the run dir), with the
#   service account and ClusterRole of examples/kind/xcni.yaml (applied, less
#   the DaemonSet) through a kubeconfig holding that account's token; pins under
#   /sys/fs/bpf/xcni-k8s/NAME; Geneve over eth0. The conflist (xcni + host-local
#   over the Node's spec.podCIDR, $XCNI_K8S_POD_RANGE addresses of it when set:
#   a tiny range makes host-local reuse addresses) is written once xcnid has
#   pinned its programs, so the runtime reports the network ready then, as the
#   DaemonSet's entry point does.
# XCNI_K8S_CNI=ptp: the reference ptp plugin instead, no xcnid (comparisons).
# XCNI_K8S_CNI=daemonset: no xcnid and no conflist of the node's own: xcni comes
# from examples/kind/xcni.yaml's DaemonSet, applied by the caller, from the image
# XCNI_K8S_IMAGE (a docker archive, tests/k8s/xcni-image.sh) imported here with
# ctr. The node then has what a kind node has for it: /opt/cni/bin (host-local,
# loopback, portmap copied in), /etc/cni/net.d (overlays of the host's /opt and
# /etc in the node's mount namespace, their upper dirs in the run dir, each bound
# to the node's own $RUN/cni/bin and $RUN/cni/net.d), a bpffs of its own on
# /sys/fs/bpf, and every mount of the namespace shared (within it) for the
# DaemonSet's mountPropagation: Bidirectional. containerd's CNI dirs are then
# /opt/cni/bin and /etc/cni/net.d. up returns once the Node has its pod CIDR
# (it turns Ready when the DaemonSet's agent writes its conflist).
# XCNI_K8S_KUBE_PROXY=iptables: kube-proxy 1.20 (built with the kubelet) runs
# on the node too, iptables mode, in the node's netns (its rules there; the
# admin kubeconfig; --cluster-cidr the cluster's, so pod sources are not
# masqueraded; the host's conntrack sysctls left alone), started once the Node
# is registered: the DaemonSet beside it is examples/kind/xcni.yaml itself.
# Every process runs under `nice -n 10`, is started with a pid file and stopped
# by its PID; down kills what is left in the node's cgroups by PID, runs
# `xcnid --uninstall`, deletes the netns (its veth goes with it), the cgroups,
# the pins and the run dir. Nothing of a node is left on the host.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
. "$ROOT/tests/lib/node_conf.sh"
CP=$ROOT/tests/k8s/controlplane.sh
TOP=${XCNI_K8S_TOP:-/run/xcni-k8s}
BR=xk8s-br
BR_IP=192.0.2.254
UL_PREFIX=192.0.2
PIN_TOP=/sys/fs/bpf/xcni-k8s
IMAGE_PAUSE=xcni.test/pause:1
IMAGE_BUSYBOX=xcni.test/busybox:1
READY_TIMEOUT=${XCNI_K8S_NODE_TIMEOUT:-180}
# The kubelet's --cluster-dns (clusterDNS), kind's and kubeadm's: the tenth of
# the Service range. Pods of dnsPolicy ClusterFirst get it as their resolver;
# a suite that wants names puts its DNS Service at this ClusterIP (life.sh).
CLUSTER_DNS=${XCNI_K8S_CLUSTER_DNS:-10.96.0.10}
# xcni, or ptp: the reference plugin in xcni's place (no agent; a node of its
# own, for comparisons such as pod start; nothing routes to other nodes).
CNI=${XCNI_K8S_CNI:-xcni}
NICE=(nice -n 10)
# Sized for a node of tens of pods, as the lab's agents are (tests/lab/lib.sh):
# the defaults preallocate ~250 MiB per agent.
MAPS_A=xcni_ct=16384,xcni_ct6=16384,xcni_affinity=4096,xcni_svcbe=65536,xcni_svcslot=65536,xcni_policy=65536,xcni_pf24=65536,xcni_backend=65536,xcni_podname=16384
MAPS_B=xcni_endpoints=4096,xcni_endpoints6=4096,xcni_ifindex=4096,xcni_ifindex6=4096,xcni_polep=4096,xcni_polkey6=4096,xcni_sock_rn=4096,xcni_sock_rn6=4096,xcni_sock_flow=4096,xcni_sock_flow6=4096

log() { printf 'node %s: %s\n' "${NAME:-?}" "$*" >&2; }
die() { log "$*"; exit 1; }
now_ms() { date +%s%3N; }

cp_env() {
	eval "$(bash "$CP" env)"
	CP_RUN=$(dirname "$KUBECONFIG")
}
kc() { ip netns exec "$K8S_NETNS" "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" "$@"; }
cp_up() { [ -r "$CP_RUN/kube-apiserver.pid" ] && [ -d "/proc/$(cat "$CP_RUN/kube-apiserver.pid")" ]; }

set_names() {
	NAME=$1
	[[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,9}$ ]] || die "NAME: 1-10 of [a-z0-9-], not '$NAME'"
	RUN=$TOP/$NAME
	NS=xcni-k8s-$NAME
	PEER=xk8s-$NAME
	CG=xcni-k8s-$NAME
	PIN=$PIN_TOP/$NAME
	SOCK=$RUN/containerd.sock
}

# ---- processes: one pid file each, its comm checked before a signal ----
pid_of() { # component [comm] -> its PID while that process is the one started
	local f=$RUN/$1.pid pid
	[ -r "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
	[ "$(cat "/proc/$pid/comm")" = "$(cut -c1-15 <<<"${2:-$1}")" ] || return 1
	echo "$pid"
}

stop_pid() { # label pid: TERM, up to 15 s, then KILL
	local name=$1 pid=$2 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 150); do
		[ -d "/proc/$pid" ] || break
		# A child of this shell: reaped here, or it stays a zombie.
		wait "$pid" 2>/dev/null || true
		sleep 0.1
	done
	if [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
		log "$name (pid $pid) still there after 15 s: KILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	log "$name stopped (pid $pid)"
}

stop() { # component [comm]
	local pid
	pid=$(pid_of "$@") || { rm -f "$RUN/$1.pid"; return 0; }
	stop_pid "$1" "$pid"
	rm -f "$RUN/$1.pid"
}

# The cgroup directories of the node in every hierarchy (relative path $1).
cg_dirs() {
	local h
	for h in /sys/fs/cgroup/*/; do
		[ -e "$h/cgroup.procs" ] && echo "${h%/}/$CG${1:+/$1}"
	done
	# A pure cgroup v2 host: one hierarchy, at /sys/fs/cgroup itself.
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo "/sys/fs/cgroup/$CG${1:+/$1}"; fi
}

cg_make() { # relative path under the node's cgroup
	local d parent
	for d in $(cg_dirs "$1"); do
		mkdir -p "$d"
		# A v1 cpuset child has no CPUs until given its parent's.
		for f in cpuset.cpus cpuset.mems; do
			parent=$(dirname "$d")
			if [ -e "$d/$f" ] && [ -z "$(cat "$d/$f")" ]; then
				[ -n "$(cat "$parent/$f")" ] || cat "$(dirname "$parent")/$f" >"$parent/$f"
				cat "$parent/$f" >"$d/$f"
			fi
		done
	done
}

cg_pids() { # every PID in the node's cgroups
	local d
	for d in $(cg_dirs); do
		[ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

cg_remove() {
	local d i left
	for i in $(seq 50); do
		left=0
		for d in $(cg_dirs); do
			[ -d "$d" ] || continue
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
			[ -d "$d" ] && left=1
		done
		[ $left -eq 0 ] && return 0
		sleep 0.2
	done
	log "warning: cgroups left: $(for d in $(cg_dirs); do [ -d "$d" ] && printf '%s ' "$d"; done)"
	return 1
}

# start component comm binary args...: in the node's netns and mount namespace,
# in its cgroup xcni-k8s-NAME/node, niced; nsenter, sh and nice exec in place,
# so $! is the component's PID.
start() {
	local name=$1 comm=$2 holder cgs
	shift 2
	holder=$(pid_of holder sleep) || die "its mount namespace holder is gone"
	cgs=$(cg_dirs node | sed 's|$|/cgroup.procs|' | paste -sd' ')
	nsenter --net="/run/netns/$NS" --mount="/proc/$holder/ns/mnt" -- /bin/sh -c \
		'cgs=$1; shift; for f in $cgs; do echo $$ >"$f"; done; exec "$@"' \
		sh "$cgs" "${NICE[@]}" "$@" >"$RUN/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
	sleep 0.3
	pid_of "$name" "$comm" >/dev/null || { tail -n 20 "$RUN/$name.log" >&2; die "$name did not start"; }
	log "$name started (pid $(cat "$RUN/$name.pid"))"
}

in_node() { # CMD...: in the node's netns and mount namespace
	local holder
	holder=$(pid_of holder sleep) || die "its mount namespace holder is gone"
	nsenter --net="/run/netns/$NS" --mount="/proc/$holder/ns/mnt" -- "$@"
}

wait_for() { # seconds what cmd...
	local t=$1 what=$2 end
	shift 2
	end=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || { log "timed out after $t s waiting for $what"; return 1; }
		sleep 0.2
	done
}

# ---- the underlay ----
pick_ip() {
	local i used
	if [ -n "${XCNI_K8S_NODE_IP:-}" ]; then
		echo "$XCNI_K8S_NODE_IP"
		return
	fi
	used=$(cat "$TOP"/*/node.ip 2>/dev/null || true)
	for i in $(seq 11 250); do
		grep -qx "$UL_PREFIX.$i" <<<"$used" || { echo "$UL_PREFIX.$i"; return; }
	done
	die "no free address in $UL_PREFIX.11-250"
}

underlay_up() {
	if ! ip -n "$K8S_NETNS" link show "$BR" >/dev/null 2>&1; then
		ip -n "$K8S_NETNS" link add "$BR" type bridge
		ip -n "$K8S_NETNS" addr add "$BR_IP/24" dev "$BR"
		ip -n "$K8S_NETNS" link set "$BR" up
		log "bridge $BR ($BR_IP/24) made in $K8S_NETNS"
	fi
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$K8S_NETNS" link add "$PEER" type veth peer name eth0 netns "$NS"
	ip -n "$K8S_NETNS" link set "$PEER" master "$BR" up
	ip -n "$NS" addr add "$NODE_IP/24" dev eth0
	ip -n "$NS" link set eth0 up
	ip -n "$NS" route add default via "$BR_IP"
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward=1
	log "netns $NS: eth0 $NODE_IP/24 on $BR (peer $PEER)"
}

# ---- certificates and kubeconfigs, from the control plane's CA ----
ssl() { openssl "$@" 2>>"$RUN/pki/openssl.log"; }
node_pki() {
	local p=$RUN/pki ext=$RUN/pki/kubelet.ext
	mkdir -p "$p"
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=clientAuth" >"$ext"
	ssl req -newkey rsa:2048 -nodes -subj "/CN=system:node:$NAME/O=system:nodes" \
		-keyout "$p/kubelet.key" -out "$p/kubelet.csr"
	ssl x509 -req -in "$p/kubelet.csr" -CA "$CP_RUN/pki/ca.crt" -CAkey "$CP_RUN/pki/ca.key" \
		-CAcreateserial -CAserial "$p/ca.srl" -days 30 -extfile "$ext" -out "$p/kubelet.crt"
	# The kubelet's serving certificate, for the API server's calls (logs, exec).
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" "subjectAltName=IP:$NODE_IP,DNS:$NAME" >"$ext"
	ssl req -newkey rsa:2048 -nodes -subj "/CN=$NAME" -keyout "$p/serving.key" -out "$p/serving.csr"
	ssl x509 -req -in "$p/serving.csr" -CA "$CP_RUN/pki/ca.crt" -CAkey "$CP_RUN/pki/ca.key" \
		-CAserial "$p/ca.srl" -days 30 -extfile "$ext" -out "$p/serving.crt"
	rm -f "$p"/*.csr "$ext"
	chmod 600 "$p"/*.key
	cp "$CP_RUN/pki/ca.crt" "$p/ca.crt"
	kubeconfig_write "$RUN/kubelet.kubeconfig" "https://$K8S_ADVERTISE:6443" "$p/ca.crt" "system:node:$NAME" \
		--client-certificate "$p/kubelet.crt" --client-key "$p/kubelet.key" --embed-certs
}

# The service account, ClusterRole and binding of examples/kind/xcni.yaml (not
# its DaemonSet), and a kubeconfig with that account's token for xcnid.
xcni_identity() {
	local tok secret f=$RUN/xcnid.kubeconfig
	# With --kube-proxy-replacement, kpr-rbac.yaml's rules too (EndpointSlices),
	# as kustomization.yaml adds them: xcni.yaml alone does not grant them.
	python3 - "$ROOT/examples/kind" "${XCNI_K8S_XCNID_ARGS:-}" >"$RUN/xcni-rbac.yaml" <<'EOF'
import sys, yaml
d, args = sys.argv[1], sys.argv[2].split()
docs = [x for x in yaml.safe_load_all(open(d + "/xcni.yaml")) if x and x["kind"] != "DaemonSet"]
if "--kube-proxy-replacement" in args:
    for op in yaml.safe_load(open(d + "/kpr-rbac.yaml")):
        assert op["op"] == "add" and op["path"] == "/rules/-", op
        for x in docs:
            if x["kind"] == "ClusterRole":
                x["rules"].append(op["value"])
print(yaml.safe_dump_all(docs), end="")
EOF
	kc apply -f - <"$RUN/xcni-rbac.yaml" >/dev/null
	wait_for 60 "the xcni service account's token" \
		bash -c "ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG -n kube-system get sa xcni -o jsonpath='{.secrets[0].name}' | grep -q ."
	secret=$(kc -n kube-system get sa xcni -o jsonpath='{.secrets[0].name}')
	tok=$(kc -n kube-system get secret "$secret" -o jsonpath='{.data.token}' | base64 -d)
	kubeconfig_write "$f" "https://$K8S_ADVERTISE:6443" "$RUN/pki/ca.crt" xcni --token "$tok"
	chmod 600 "$f"
}

# ---- the mount namespace ----
# Run by the holder (unshare'd, private propagation), then it sleeps.
# shellcheck disable=SC2016
MNT_SETUP='
set -e
run=$1 top=$2
for m in $(awk "\$3 == \"nsfs\" {print \$2}" /proc/self/mounts | sort -r); do umount -n "$m" 2>/dev/null || true; done
mount -n -t tmpfs -o mode=0755,size=64m xcni-k8s-varlib /var/lib
mount -n -t tmpfs -o mode=0755,size=512m xcni-k8s-varlog /var/log
mkdir /var/lib/.xcni-k8s
mount -n --bind "$top" /var/lib/.xcni-k8s
mount -n -t tmpfs -o mode=0755,size=64m xcni-k8s-run /run
mkdir -p "$top" /run/containerd /run/lock /var/lib/cni
mount -n --move /var/lib/.xcni-k8s "$top"
rmdir /var/lib/.xcni-k8s
if [ "$3" = daemonset ]; then
	for d in etc opt; do
		mkdir -p "$run/ovl/$d-up" "$run/ovl/$d-work"
		mount -n -t overlay -o "lowerdir=/$d,upperdir=$run/ovl/$d-up,workdir=$run/ovl/$d-work" "xcni-k8s-$d" "/$d"
	done
	mkdir -p /etc/cni/net.d /opt/cni/bin
	mount -n --bind "$run/cni/net.d" /etc/cni/net.d
	mount -n --bind "$run/cni/bin" /opt/cni/bin
	mount -n -t bpf xcni-k8s-bpf /sys/fs/bpf
	mount -n --make-rshared /
fi
for kv in vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1; do
	f=$run/sysctl/$(echo "${kv%=*}" | tr / .)
	echo "${kv#*=}" >"$f"
	mount -n --bind "$f" "/proc/sys/${kv%=*}"
done
echo ok >"$run/mnt.ready"
exec sleep 2147483647
'

mnt_up() {
	mkdir -p "$RUN/sysctl" "$RUN/cni/bin" "$RUN/cni/net.d"
	cg_make node
	# The holder in the node's cgroup too: what it starts stays there.
	nsenter --net="/run/netns/$NS" -- unshare --mount --propagation private -- /bin/sh -c \
		'cgs=$1; shift; for f in $cgs; do echo $$ >"$f"; done; exec /bin/sh -c "$@"' \
		sh "$(cg_dirs node | sed 's|$|/cgroup.procs|' | paste -sd' ')" "$MNT_SETUP" sh "$RUN" "$TOP" "$CNI" \
		>"$RUN/holder.log" 2>&1 </dev/null &
	echo $! >"$RUN/holder.pid"
	wait_for 10 "the mount namespace" test -e "$RUN/mnt.ready" ||
		{ cat "$RUN/holder.log" >&2; die "mount namespace setup failed"; }
	pid_of holder sleep >/dev/null || { cat "$RUN/holder.log" >&2; die "the holder is gone"; }
	log "mount namespace held by pid $(cat "$RUN/holder.pid")"
}

# ---- containerd ----
containerd_conf() {
	mkdir -p "$RUN/containerd/"{root,state,tmp,plugins,opt} "$RUN/runc" "$RUN/cni/bin" "$RUN/cni/net.d" \
		"$RUN/cni/ipam" "$RUN/cni/xcni-state"
	local bin_dir=$RUN/cni/bin conf_dir=$RUN/cni/net.d
	if [ "$CNI" = daemonset ]; then
		# A kind node's own reference plugins (files: the entry point leaves
		# those it finds, and removes only what it installed).
		cp /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap "$RUN/cni/bin/"
		bin_dir=/opt/cni/bin conf_dir=/etc/cni/net.d
	else
		ln -sf "$BUILD/xcni" "$RUN/cni/bin/xcni"
		ln -sf /usr/lib/cni/ptp "$RUN/cni/bin/ptp"
		ln -sf /usr/lib/cni/host-local "$RUN/cni/bin/host-local"
		ln -sf /usr/lib/cni/loopback "$RUN/cni/bin/loopback"
	fi
	containerd_config "$RUN/containerd" "$RUN/containerd/state" "$SOCK" "$IMAGE_PAUSE" "$bin_dir" "$conf_dir" \
		overlayfs "$RUN/runc" "${XCNI_K8S_CONTAINERD_LOG:-info}" >"$RUN/containerd/config.toml"
}

images() {
	local img tar
	for img in "$IMAGE_PAUSE" "$IMAGE_BUSYBOX"; do
		tar=$RUN/image-${img//[:\/]/_}.tar
		# The pods' image has every applet in /bin (sleep, httpd, wget...).
		python3 "$ROOT/tests/cri/mkimage.py" $([ "$img" = "$IMAGE_BUSYBOX" ] && echo --applets) \
			"$tar" "$img" /bin/busybox
		timeout 60 ctr -a "$SOCK" -n k8s.io images import --snapshotter overlayfs "$tar" >/dev/null
		rm -f "$tar"
	done
	log "images $IMAGE_PAUSE and $IMAGE_BUSYBOX built offline and imported"
	if [ "$CNI" = daemonset ]; then
		timeout 120 ctr -a "$SOCK" -n k8s.io images import --snapshotter overlayfs "$XCNI_K8S_IMAGE" >/dev/null
		log "image $XCNI_K8S_IMAGE imported"
	fi
}

# ---- kubelet ----
kubelet_conf() {
	cat >"$RUN/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $RUN/pki/serving.crt
tlsPrivateKeyFile: $RUN/pki/serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $RUN/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /$CG
failSwapOn: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
serializeImagePulls: false
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
protectKernelDefaults: false
rotateCertificates: false
clusterDNS: [$CLUSTER_DNS]
EOF
	[ "${K8S_DUAL:-0}" != 1 ] || printf 'featureGates: {IPv6DualStack: true}\n' >>"$RUN/kubelet.yaml"
}

# ---- xcni: the agent and the network configuration ----
node_cidr() { kc get node "$NAME" -o jsonpath='{.spec.podCIDR}' 2>/dev/null; }

conflist() { # the node's pod CIDR
	python3 - "$1" "${XCNI_K8S_POD_RANGE:-0}" "$RUN" "$PIN" "$CNI" >"$RUN/cni/.05-xcni.conflist" <<'EOF'
import ipaddress, json, sys
cidr, n, run, pin, cni = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
r = {"subnet": cidr}
if n:
    net = ipaddress.ip_network(cidr)
    # The gateway is the CIDR's first address: pods from the second on.
    r["rangeStart"] = str(net.network_address + 2)
    r["rangeEnd"] = str(net.network_address + 1 + n)
ipam = {"type": "host-local", "ranges": [[r]], "dataDir": run + "/cni/ipam"}
if cni == "ptp":
    plugin = {"type": "ptp", "ipMasq": False, "ipam": ipam}
else:
    plugin = {"type": "xcni", "stateDir": run + "/cni/xcni-state", "pinDir": pin, "ipam": ipam}
print(json.dumps({"cniVersion": "1.0.0", "name": cni, "plugins": [plugin]}, indent=1))
EOF
	# Through a temporary name in the conf dir itself, as the DaemonSet's entry
	# point does: containerd 1.6 (since 1.6.?: "ignore event from cni conf dir:
	# CREATE") reloads on a write, a remove or a rename *from* a name of the dir,
	# never on a create, and a file moved in from elsewhere is only a create:
	# the node stayed NotReady ("cni plugin not initialized") with the conflist
	# in place.
	mv "$RUN/cni/.05-xcni.conflist" "$RUN/cni/net.d/.05-xcni.conflist.tmp"
	mv "$RUN/cni/net.d/.05-xcni.conflist.tmp" "$RUN/cni/net.d/05-xcni.conflist"
}

node_ready() {
	[ "$(kc get node "$NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

up() {
	local t0 t_kubelet t_reg t_xcnid t_ready cidr
	cp_env
	cp_up || die "the control plane is not up (tests/k8s/controlplane.sh up)"
	case $CNI in xcni | ptp) ;; daemonset) [ -r "${XCNI_K8S_IMAGE:-}" ] || die "XCNI_K8S_CNI=daemonset: XCNI_K8S_IMAGE (tests/k8s/xcni-image.sh) missing" ;; *) die "XCNI_K8S_CNI: xcni, ptp or daemonset, not '$CNI'" ;; esac
	[ -x "$BUILD/xcnid" ] && [ -x "$BUILD/xcni" ] || die "$BUILD/xcnid or $BUILD/xcni missing (make)"
	if pid_of kubelet >/dev/null; then
		log "already up ($RUN)"
		echo "$RUN"
		return 0
	fi
	[ -e "/run/netns/$NS" ] && die "netns $NS exists but the node is not up: '$0 down $NAME' first"
	[ -e "$RUN" ] && die "$RUN exists but the node is not up: '$0 down $NAME' first"
	[ -e "$PIN" ] && die "$PIN exists: another node $NAME, or one not taken down"
	mkdir -p "$TOP"
	NODE_IP=$(pick_ip)
	mkdir -p "$RUN"
	echo "$NODE_IP" >"$RUN/node.ip"
	echo "$CNI" >"$RUN/cni.mode"
	t0=$(now_ms)
	trap 'rc=$?; trap - EXIT; if [ $rc -ne 0 ]; then keep=/tmp/xcni-k8s-$NAME-failed.$$; mkdir -p $keep; cp $RUN/*.log $keep/ 2>/dev/null; if [ "${XCNI_K8S_KEEP_FAILED:-0}" = 1 ]; then log "up failed: logs in $keep; left up (XCNI_K8S_KEEP_FAILED)"; else log "up failed: logs in $keep; cleaning up"; down; fi; fi; exit $rc' EXIT

	trap 'exit 130' INT TERM
	underlay_up
	node_pki
	[ "$CNI" != xcni ] || xcni_identity
	mnt_up
	containerd_conf
	start containerd containerd containerd --config "$RUN/containerd/config.toml"
	wait_for 30 "containerd's socket" timeout 5 ctr -a "$SOCK" version ||
		{ tail -n 20 "$RUN/containerd.log" >&2; die "containerd did not answer"; }
	images
	kubelet_conf
	t_kubelet=$(now_ms)
	start kubelet kubelet "$K8S_BIN/kubelet" --config "$RUN/kubelet.yaml" \
		--kubeconfig "$RUN/kubelet.kubeconfig" --root-dir "$RUN/kubelet" \
		--container-runtime remote --container-runtime-endpoint "unix://$SOCK" \
		--hostname-override "$NAME" --node-ip "$NODE_IP" \
		--pod-infra-container-image "$IMAGE_PAUSE" --v=1
	wait_for "$READY_TIMEOUT" "the Node's spec.podCIDR" bash -c "[ -n \"\$(ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG get node $NAME -o jsonpath='{.spec.podCIDR}' 2>/dev/null)\" ] || { [ -d /proc/$(cat "$RUN/kubelet.pid") ] || exit 0; exit 1; }" ||
		{ tail -n 30 "$RUN/kubelet.log" >&2; die "no Node $NAME with a pod CIDR"; }
	pid_of kubelet >/dev/null || { tail -n 30 "$RUN/kubelet.log" >&2; die "kubelet exited"; }
	t_reg=$(now_ms)
	cidr=$(node_cidr)
	echo "$cidr" >"$RUN/node.cidr"
	log "registered, pod CIDR $cidr ($((t_reg - t_kubelet)) ms after the kubelet started)"

	case ${XCNI_K8S_KUBE_PROXY:-} in
	"") ;;
	iptables)
		# 0: the global nf_conntrack_max and timeouts are the host's, not the node's.
		start kube-proxy kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig "$KUBECONFIG" \
			--hostname-override "$NAME" --bind-address "$NODE_IP" --proxy-mode iptables \
			--cluster-cidr "$K8S_CLUSTER_CIDR" --conntrack-max-per-core 0 \
			--conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
			--metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
			--oom-score-adj 0 --v=1 "--feature-gates=IPv6DualStack=$([ "${K8S_DUAL:-0}" = 1 ] && echo true || echo false)"
		;;
	*) die "XCNI_K8S_KUBE_PROXY: iptables or unset, not '$XCNI_K8S_KUBE_PROXY'" ;;
	esac
	if [ "$CNI" = daemonset ]; then
		log "xcni comes from the DaemonSet: not waiting for Ready"
		trap - EXIT
		echo "$RUN"
		return 0
	elif [ "$CNI" = ptp ]; then
		t_xcnid=$(now_ms)
		conflist "$cidr"
		log "CNI: the reference ptp plugin (no xcnid, no routes to other nodes); conflist written"
	else
		mkdir -p "$PIN_TOP"
		start xcnid xcnid "$BUILD/xcnid" --pin-dir "$PIN" --kubeconfig "$RUN/xcnid.kubeconfig" \
			--node-name "$NAME" --pod-cidr "$cidr" --underlay-dev eth0 --node-ip "$NODE_IP" \
			--xdp-mode generic --service-cidr "$K8S_SERVICE_CIDR" --metrics-addr 127.0.0.1:9962 \
			--map-max "$MAPS_A" --map-max "$MAPS_B" -v ${XCNI_K8S_XCNID_ARGS:-}
		wait_for 60 "xcnid's pins" test -e "$PIN/prog_to_pod" ||
			{ tail -n 30 "$RUN/xcnid.log" >&2; die "xcnid did not pin its programs"; }
		wait_for 60 "xcnid ready" grep -q 'xcnid: ready' "$RUN/xcnid.log" ||
			{ tail -n 30 "$RUN/xcnid.log" >&2; die "xcnid not ready"; }
		t_xcnid=$(now_ms)
		conflist "$cidr"
		log "xcnid ready in $((t_xcnid - t_reg)) ms; $RUN/cni/net.d/05-xcni.conflist written"
	fi
	wait_for "${XCNI_K8S_NODE_READY_TIMEOUT:-$READY_TIMEOUT}" "the Node Ready" node_ready ||
		{ tail -n 30 "$RUN/kubelet.log" >&2; die "Node $NAME not Ready"; }
	t_ready=$(now_ms)
	printf 'kubelet_to_registered_ms=%s kubelet_to_ready_ms=%s conflist_to_ready_ms=%s up_ms=%s\n' \
		$((t_reg - t_kubelet)) $((t_ready - t_kubelet)) $((t_ready - t_xcnid)) $((t_ready - t0)) >"$RUN/times"
	log "Ready: $(cat "$RUN/times")"
	trap - EXIT
	echo "$RUN"
}

down() {
	local p pids i holder
	cp_env 2>/dev/null || true
	stop kube-proxy
	stop kubelet
	stop xcnid
	stop containerd
	# What the runtime left (shims, pods' processes): every PID in the node's
	# cgroups, the holder last.
	holder=$(pid_of holder sleep || true)
	for i in 1 2 3 4 5; do
		pids=$(cg_pids | grep -vx "${holder:-0}" || true)
		[ -z "$pids" ] && break
		[ $i -eq 1 ] && log "killing what is left in its cgroups: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.3
	done
	# The DaemonSet's pins, in the node's own bpffs (normally gone with
	# uninstall.yaml): xcnid --uninstall while the mount namespace is there.
	if [ "$(cat "$RUN/cni.mode" 2>/dev/null)" = daemonset ] && [ -n "$holder" ] &&
		nsenter --mount="/proc/$holder/ns/mnt" test -e /sys/fs/bpf/xcni; then
		nsenter --net="/run/netns/$NS" --mount="/proc/$holder/ns/mnt" "$BUILD/xcnid" --uninstall \
			--pin-dir /sys/fs/bpf/xcni --underlay-dev eth0 >"$RUN/uninstall.log" 2>&1 ||
			log "xcnid --uninstall: $(tail -n 3 "$RUN/uninstall.log" | paste -sd' ')"
		log "the DaemonSet's pins were left: xcnid --uninstall run"
	fi
	stop holder sleep
	if [ -e "/run/netns/$NS" ]; then
		if [ -e "$PIN" ]; then
			# nsenter, not ip netns exec: that one mounts a new /sys, without bpffs.
			nsenter --net="/run/netns/$NS" "$BUILD/xcnid" --uninstall --pin-dir "$PIN" --underlay-dev eth0 \
				>"$RUN/uninstall.log" 2>&1 || log "xcnid --uninstall: $(tail -n 3 "$RUN/uninstall.log" | paste -sd' ')"
		fi
		pids=$(ip netns pids "$NS" 2>/dev/null || true)
		[ -z "$pids" ] || log "warning: left in netns $NS: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
		ip netns del "$NS"
		log "netns $NS removed (its eth0 and $PEER with it)"
	fi
	if [ -e "$PIN" ]; then
		rm -rf "$PIN"
		log "pins $PIN removed"
	fi
	rmdir "$PIN_TOP" 2>/dev/null || true
	cg_remove && log "cgroups $CG removed"
	if [ -d "$RUN" ]; then
		rm -rf --one-file-system "$RUN"
		log "run dir $RUN removed"
	fi
	rmdir "$TOP" 2>/dev/null || true
	if [ -n "${K8S_NETNS:-}" ] && cp_up; then
		kc delete node "$NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
		# The last node's bridge goes; the control plane's netns stays.
		if ! ls "$TOP"/*/node.ip >/dev/null 2>&1 && ip -n "$K8S_NETNS" link show "$BR" >/dev/null 2>&1; then
			ip -n "$K8S_NETNS" link del "$BR"
			log "bridge $BR removed"
		fi
	fi
}

cmd=${1:-}
case $cmd in
up | down | env) [ $# -eq 2 ] || die "usage: $0 $cmd NAME"; set_names "$2" ;;
list) ;;
*) die "usage: $0 up|down|env NAME, or list" ;;
esac
case $cmd in
up) up ;;
down) down ;;
env)
	printf 'NODE_NS=%s\nNODE_IP=%s\nNODE_RUN=%s\nNODE_PIN=%s\nNODE_CIDR=%s\nNODE_HOLDER=%s\n' \
		"$NS" "$(cat "$RUN/node.ip" 2>/dev/null)" "$RUN" "$PIN" "$(cat "$RUN/node.cidr" 2>/dev/null)" \
		"$(pid_of holder sleep 2>/dev/null || true)"
	;;
list) for f in "$TOP"/*/node.ip; do [ -e "$f" ] && basename "$(dirname "$f")"; done ;;
esac
