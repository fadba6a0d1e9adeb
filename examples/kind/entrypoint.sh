#!/bin/bash
# Entry point of the xcni image (examples/kind/Dockerfile), used by the DaemonSet
# in examples/kind/xcni.yaml. Nothing is downloaded: everything installed on the
# node comes from the image.
#
#   xcni-entrypoint install        (init container)
#       mount bpffs at /sys/fs/bpf if nothing is there (the mount reaches the node
#       through mountPropagation: Bidirectional), read this node's pod CIDRs
#       (spec.podCIDRs: one per family in a dual-stack or IPv6-only cluster, else
#       spec.podCIDR) from the API server, install the plugin and the reference
#       plugins into the node's CNI bin dir, and record the pod CIDRs and the
#       network configuration (one host-local range set per family) for the
#       agent in $XCNI_RUN_DIR (node.env, the conflist).
#   xcni-entrypoint agent [XCNID-ARGS...]   (the agent container)
#       xcnid --once --pod-cidr <this node's IPv4> --pod-cidr6 <its IPv6>
#       [--cgroup-root $XCNI_CGROUP_ROOT] XCNID-ARGS... (programs loaded and
#       pinned; each --pod-cidr flag only for a family the node has), then the
#       network configuration into the node's CNI conf dir,
#       then exec xcnid with the same flags. The runtime reports the
#       network ready once a configuration exists, so no pod is ever handed to
#       the plugin before the data plane it needs is there.
#   xcni-entrypoint conflist CIDR[,CIDR]
#       print the network configuration install writes for these pod CIDRs (at
#       most one IPv4 and one IPv6).
#   xcni-entrypoint ready          (the agent's readiness probe)
#       true once the agent of this container (PID 1, not a pin an earlier
#       one left) has applied its first generation of cluster state.
#   xcni-entrypoint uninstall      (examples/kind/uninstall.yaml's init container)
#       what install and the agent put on the node goes: the conflist, the
#       plugin and the reference plugins install added (not the node's own),
#       `xcnid --uninstall` (tc filters, XDP, xcni0, socket LB's cgroup links,
#       nftables tables, pins),
#       $XCNI_RUN_DIR. The node is then as kind made it: no CNI.
#
# The conflist is 05-xcni.conflist: the runtime (containerd, CRI-O) takes the
# first file of the conf dir in lexical order, so xcni's sorts before kindnet's
# 10-kindnet.conflist and the other usual names; the others stay on the node,
# unused while xcni's is there, and are the node's again after uninstall.
#
# Environment:
#   NODE_NAME          this node (downward API spec.nodeName); required by install
#   POD_CIDR           skip the API and use these pod CIDRs (CIDR or IPV4,IPV6)
#   XCNI_CNI_BIN_DIR   default /host/opt/cni/bin (the node's /opt/cni/bin)
#   XCNI_CNI_CONF_DIR  default /host/etc/cni/net.d
#   XCNI_RUN_DIR       default /run/xcni
#   XCNI_SHARE_DIR     what the image carries for the node, default /usr/local/lib/xcni
#   XCNI_MTU           optional "mtu" of the network configuration (default: the
#                      plugin's, capped by xcnid at the underlay MTU - 50)
#   XCNI_MOUNT_BPFFS   0: do not mount bpffs (tests)
#   XCNI_ATTACH        auto, tcx or tc (tc clsact, which a kernel without TCX
#                      gets anyway): install writes it into the conflist as the
#                      plugin's "attach" (xcni.yaml gives the install container
#                      tc: a TCX attach holds RTNL across an RCU grace period),
#                      and xcnid reads the agent container's for its own devices
#   XCNI_CGROUP_ROOT   the node's cgroup v2 root as mounted in this container
#                      (kpr-patch.yaml: /host/sys/fs/cgroup): agent gives xcnid
#                      --cgroup-root with it (socket LB) when it is a cgroup2
#                      mount, and logs that socket LB is off otherwise (a cgroup
#                      v1 host, whose hierarchy is not the node's own)
#   XCNI_UNDERLAY_DEV  the underlay device uninstall cleans (default eth0, as
#                      xcni.yaml's --underlay-dev)
#   XCNI_SA_DIR        service account token and CA (default: where the kubelet
#                      mounts them)
set -euo pipefail

CNI_BIN_DIR=${XCNI_CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_CONF_DIR=${XCNI_CNI_CONF_DIR:-/host/etc/cni/net.d}
RUN_DIR=${XCNI_RUN_DIR:-/run/xcni}
SHARE=${XCNI_SHARE_DIR:-/usr/local/lib/xcni}
CONFLIST=05-xcni.conflist
# What earlier xcni images wrote (it sorted after kindnet's): removed when seen.
OLD_CONFLISTS="10-xcni.conflist"
PIN_DIR=/sys/fs/bpf/xcni
# Which reference plugins install added (the node had none): uninstall removes those only.
INSTALLED=.xcni-installed
SA=${XCNI_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}

log() { echo "xcni-entrypoint: $*" >&2; }
die() { log "$*"; exit 1; }

is_ipv4_cidr() {
	[[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$ ]]
}
# Hex groups and colons (at most one "::"), a length 1..128: the shape the API
# server writes; xcnid and host-local parse it for real.
is_ipv6_cidr() {
	[[ $1 =~ ^[0-9a-fA-F:]+/([1-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$ ]] && [[ $1 == *:*:* ]] &&
		[[ $1 != *:::* ]] && [ "$(grep -o '::' <<<"$1" | wc -l)" -le 1 ]
}
# "CIDR[,CIDR]" into CIDR4 and CIDR6: at most one of each family, at least one.
split_cidrs() {
	local c
	CIDR4= CIDR6=
	[[ $1 != ,* && $1 != *, ]] || return 1
	IFS=, read -ra _cidrs <<<"$1"
	[ "${#_cidrs[@]}" -ge 1 ] && [ "${#_cidrs[@]}" -le 2 ] || return 1
	for c in "${_cidrs[@]}"; do
		if is_ipv4_cidr "$c" && [ -z "$CIDR4" ]; then
			CIDR4=$c
		elif is_ipv6_cidr "$c" && [ -z "$CIDR6" ]; then
			CIDR6=$c
		else
			return 1
		fi
	done
}

# The network configuration for pod CIDRs $1 (IPv4 or "") and $2 (IPv6 or ""),
# on stdout: one host-local range set per family, as kubelet's dual-stack
# conflists have it. portmap is chained when the node has it (hostPort).
conflist() {
	local portmap=${3:-1}
	jq -n --arg v4 "$1" --arg v6 "$2" --argjson portmap "$portmap" --arg mtu "${XCNI_MTU:-}" \
		--arg attach "${XCNI_ATTACH:-}" '{
		cniVersion: "1.0.0",
		name: "xcni",
		plugins: ([
			({
				type: "xcni",
				ipam: { type: "host-local",
					ranges: ([$v4, $v6] | map(select(. != "") | [{ subnet: . }])) }
			} + (if $mtu == "" then {} else { mtu: ($mtu | tonumber) } end)
			  + (if $attach == "" then {} else { attach: $attach } end))
		] + (if $portmap == 1 then
			[{ type: "portmap", capabilities: { portMappings: true } }]
		else [] end))
	}'
}

# This node's pod CIDRs from the API server, with the pod's service account:
# spec.podCIDRs joined by commas (spec.podCIDR where the list is missing).
# A list with a field selector (verb list, which the ClusterRole grants) rather
# than a get of the node, so the role needs nothing beyond list and watch.
# The token goes to curl through a pipe (-H @FILE, written by the shell's own
# printf), never on its command line: /proc/PID/cmdline is readable by every
# user of the node and by every pod sharing its PID namespace (hostPID).
node_pod_cidr() {
	local host=$KUBERNETES_SERVICE_HOST port=${KUBERNETES_SERVICE_PORT:-443}
	[[ $host == *:* ]] && host="[$host]"
	curl -sS --fail --max-time 10 --cacert "$SA/ca.crt" \
		-H @<(printf 'Authorization: Bearer %s\n' "$(<"$SA/token")") \
		"https://$host:$port/api/v1/nodes?fieldSelector=metadata.name%3D$NODE_NAME" |
		jq -r '.items[0].spec | (.podCIDRs // [.podCIDR // empty]) | join(",")'
}

# Copy $1 to $2 through a temporary name in $2's directory: a runtime calling the
# plugin meanwhile sees the old file or the new one, never half of one.
install_file() {
	local tmp
	tmp="$(dirname "$2")/.$(basename "$2").xcni-tmp"
	cp "$1" "$tmp"
	chmod 0755 "$tmp"
	mv -f "$tmp" "$2"
}

do_install() {
	local cidr=${POD_CIDR:-} portmap=0 f

	if [ "${XCNI_MOUNT_BPFFS:-1}" != 0 ]; then
		if ! awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { found = 1 } END { exit !found }' /proc/mounts; then
			log "mounting bpffs at /sys/fs/bpf"
			mount -t bpf bpf /sys/fs/bpf
		fi
	fi

	if [ -z "$cidr" ]; then
		[ -n "${NODE_NAME:-}" ] || die "NODE_NAME is not set (downward API spec.nodeName)"
		[ -n "${KUBERNETES_SERVICE_HOST:-}" ] || die "KUBERNETES_SERVICE_HOST is not set"
		# The controller manager allocates the pod CIDR soon after the node
		# registers; wait for it (5 minutes, then let the kubelet restart us).
		for _ in $(seq 150); do
			cidr=$(node_pod_cidr) || cidr=
			[ -n "$cidr" ] && break
			log "node $NODE_NAME has no spec.podCIDR yet; waiting"
			sleep 2
		done
		[ -n "$cidr" ] || die "node $NODE_NAME: no spec.podCIDR (is the controller manager allocating node CIDRs?)"
	fi
	split_cidrs "$cidr" || die "pod CIDR $cidr: xcni needs an IPv4 CIDR, an IPv6 one, or one of each"
	log "node ${NODE_NAME:-?}: pod CIDR ${CIDR4:-(no IPv4)} ${CIDR6:-(no IPv6)}"

	mkdir -p "$CNI_BIN_DIR/xcni.d" "$CNI_CONF_DIR" "$RUN_DIR"
	# The plugin comes with its own libraries and loader (xcni.d/), so it runs
	# whatever the node has installed.
	for f in "$SHARE"/node/xcni.d/*; do
		install_file "$f" "$CNI_BIN_DIR/xcni.d/$(basename "$f")"
	done
	install_file "$SHARE/node/xcni" "$CNI_BIN_DIR/xcni"
	# The node's own reference plugins stay: kind builds them statically,
	# Debian's (in the image) need the node's glibc to be >= 2.34. Only a
	# missing one is installed, and recorded for uninstall.
	for f in host-local loopback portmap; do
		if [ ! -e "$CNI_BIN_DIR/$f" ]; then
			install_file "$SHARE/cni/$f" "$CNI_BIN_DIR/$f"
			grep -qx "$f" "$CNI_BIN_DIR/xcni.d/$INSTALLED" 2>/dev/null ||
				echo "$f" >>"$CNI_BIN_DIR/xcni.d/$INSTALLED"
			log "installed $f (the node had none)"
		fi
	done
	[ -x "$CNI_BIN_DIR/portmap" ] && portmap=1

	{
		printf 'POD_CIDR=%s\n' "$CIDR4"
		[ -z "$CIDR6" ] || printf 'POD_CIDR6=%s\n' "$CIDR6"
	} >"$RUN_DIR/.node.env.tmp"
	mv -f "$RUN_DIR/.node.env.tmp" "$RUN_DIR/node.env"
	# For the agent to install once its data plane is pinned.
	conflist "$CIDR4" "$CIDR6" "$portmap" >"$RUN_DIR/.$CONFLIST.tmp"
	mv -f "$RUN_DIR/.$CONFLIST.tmp" "$RUN_DIR/$CONFLIST"
	log "installed xcni into $CNI_BIN_DIR; the agent writes $CNI_CONF_DIR/$CONFLIST once it is up"
}

# --cgroup-root for xcnid in CGROUP (none when XCNI_CGROUP_ROOT is unset): the
# node's cgroup v2 root holds the node's processes and its pods' (a kind node
# has a cgroup namespace of its own), so socket LB reaches this node alone. On
# a cgroup v1 (or hybrid) host it is a tmpfs of v1 hierarchies: socket LB off.
cgroup_root() {
	local dir=${XCNI_CGROUP_ROOT:-} fs
	CGROUP=()
	[ -n "$dir" ] || return 0
	fs=$(stat -f -c %T "$dir" 2>/dev/null) || fs=
	if [ "$fs" = cgroup2fs ]; then
		CGROUP=(--cgroup-root "$dir")
	else
		log "socket LB off: $dir is ${fs:-missing}, not a cgroup v2 mount (a cgroup v1 host): no --cgroup-root for xcnid, so host-network clients do not reach ClusterIPs"
	fi
}

do_agent() {
	local cidr=${POD_CIDR:-} pod=()

	if [ -z "$cidr" ] && [ -r "$RUN_DIR/node.env" ]; then
		cidr=$(sed -n 's/^POD_CIDR6\{0,1\}=\(.\)/\1/p' "$RUN_DIR/node.env" | paste -sd,)
	fi
	[ -n "$cidr" ] || die "no pod CIDR: $RUN_DIR/node.env missing (the init container writes it)"
	split_cidrs "$cidr" || die "pod CIDR $cidr: not an IPv4 CIDR, an IPv6 one, or one of each"
	[ -z "$CIDR4" ] || pod+=(--pod-cidr "$CIDR4")
	[ -z "$CIDR6" ] || pod+=(--pod-cidr6 "$CIDR6")
	[ -r "$RUN_DIR/$CONFLIST" ] || die "no $RUN_DIR/$CONFLIST (the init container writes it)"
	cgroup_root
	# Programs and maps first (xcnid --once pins them and leaves them running)...
	xcnid --once "${pod[@]}" "${CGROUP[@]}" "$@" || die "xcnid --once failed: no network configuration written"
	# ... then the configuration that makes the runtime start handing pods to xcni.
	mkdir -p "$CNI_CONF_DIR"
	cp "$RUN_DIR/$CONFLIST" "$CNI_CONF_DIR/.$CONFLIST.tmp"
	mv -f "$CNI_CONF_DIR/.$CONFLIST.tmp" "$CNI_CONF_DIR/$CONFLIST"
	for f in $OLD_CONFLISTS; do rm -f "$CNI_CONF_DIR/$f"; done
	others=$(cd "$CNI_CONF_DIR" && ls -1 | grep -E '\.(conf|conflist|json)$' | grep -vx "$CONFLIST" | paste -sd' ' || true)
	log "data plane pinned; wrote $CNI_CONF_DIR/$CONFLIST${others:+ (first in order: the runtime uses it, not $others)}"
	exec xcnid "${pod[@]}" "${CGROUP[@]}" "$@"
}

# Ready: xcnid is this container's PID 1 (the entry point exec'd it), and its
# xcni_config (rewritten with applied_gen 0 at every start) says it applied a
# generation of the cluster state. A pin alone would outlive the agent.
do_ready() {
	[ "$(cat /proc/1/comm 2>/dev/null)" = xcnid ] || { log "xcnid is not running"; return 1; }
	xcnictl --pin-dir "$PIN_DIR" config --json |
		jq -e '(if type == "array" then .[0] else . end) | (.applied_gen // 0) > 0' >/dev/null
}

do_uninstall() {
	local f
	# The conflist first: no new pod is handed to a plugin that is going.
	for f in "$CONFLIST" $OLD_CONFLISTS; do rm -f "$CNI_CONF_DIR/$f"; done
	if command -v xcnid >/dev/null; then
		xcnid --uninstall --pin-dir "$PIN_DIR" --underlay-dev "${XCNI_UNDERLAY_DEV:-eth0}" ||
			die "xcnid --uninstall failed"
	fi
	if [ -r "$CNI_BIN_DIR/xcni.d/$INSTALLED" ]; then
		while read -r f; do
			case $f in host-local | loopback | portmap) rm -f "$CNI_BIN_DIR/$f" ;; esac
		done <"$CNI_BIN_DIR/xcni.d/$INSTALLED"
	fi
	rm -rf "$CNI_BIN_DIR/xcni" "$CNI_BIN_DIR/xcni.d" "$CNI_BIN_DIR/.xcni.xcni-tmp"
	rm -rf "${RUN_DIR:?}"/* "$RUN_DIR"/.[!.]* 2>/dev/null
	log "uninstalled: $CNI_CONF_DIR/$CONFLIST, the plugin, pins and tables are gone"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
install) do_install ;;
agent) do_agent "$@" ;;
ready) do_ready ;;
uninstall) do_uninstall ;;
conflist)
	[ $# -ge 1 ] || die "conflist CIDR[,CIDR]"
	split_cidrs "$1" || die "$1: not an IPv4 CIDR, an IPv6 one, or one of each"
	conflist "$CIDR4" "$CIDR6"
	;;
*) die "usage: xcni-entrypoint install | agent [XCNID-ARGS...] | ready | uninstall | conflist CIDR[,CIDR]" ;;
esac
