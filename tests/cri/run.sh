#!/bin/bash
# Real-client integration test: drive a CNI plugin through containerd's CRI,
# the path kubelet uses (RunPodSandbox -> go-cni -> libcni -> plugin).
#
# Starts a private containerd (own root/state/socket/plugin dirs in a temp dir,
# run in its own mount namespace with a private tmpfs on /run/containerd so the
# shims' hard-coded socket dir never touches the system's), imports an offline
# busybox "pause" image, runs 3 pod sandboxes over CRI runtime.v1, checks their
# IPs/netns/connectivity, stops (twice, as kubelet may) and removes them, and
# checks that the plugin left nothing behind. Cleans up everything on exit.
#
# env: CRI_PLUGIN=xcni|ptp (default xcni: $XCNI_BIN; ptp: /usr/lib/cni/ptp)
#      CRI_NET_PREFIX=10.99.7 (a /24 nothing else on the host uses)
#      CRI_SNAPSHOTTER=overlayfs|native   CRI_KEEP_LOG=FILE (copy containerd's log)
#      CRI_STRICT_HOST=1: the full before/after diff of ip link / ip netns /
#        mounts must be empty (off by default: other suites may run alongside)
#      CRI_DEBUG_CLEANUP=1: trace the cleanup
# Needs root, containerd, runc, busybox-static, python3-grpcio,
# python3-grpc-tools, containernetworking-plugins (else it prints a SKIP).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

PY=/usr/bin/python3
CRI_PLUGIN=${CRI_PLUGIN:-xcni}
NET_PREFIX=${CRI_NET_PREFIX:-10.99.7}
SUBNET=$NET_PREFIX.0/24
NET_NAME=xcni-cri
SNAPSHOTTER=${CRI_SNAPSHOTTER:-overlayfs}
IMAGE=xcni.test/cri-pause:$XCT_TAG
CG_NAME=xcni-cri-$XCT_TAG
PODS=(pod-a pod-b pod-c)

skip_all() { echo "# SKIP $*"; echo "0 passed, 0 failed"; exit 0; }

case $CRI_PLUGIN in
xcni) PLUGIN_BIN=$XCNI_BIN ;;
ptp) PLUGIN_BIN=$CNI_REF_DIR/ptp ;;
*) echo "CRI_PLUGIN must be xcni or ptp" >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || skip_all "needs root"
for b in containerd ctr runc containerd-shim-runc-v2 unshare nsenter ip ping timeout; do
	command -v "$b" >/dev/null || skip_all "$b not installed"
done
[ -x /bin/busybox ] || skip_all "busybox-static not installed"
$PY -c 'import grpc, grpc_tools' 2>/dev/null || skip_all "python3-grpcio/python3-grpc-tools not installed"
for p in host-local loopback; do
	[ -x "$CNI_REF_DIR/$p" ] || skip_all "$CNI_REF_DIR/$p missing (containernetworking-plugins)"
done

diag "plugin under test: $CRI_PLUGIN ($PLUGIN_BIN), subnet $SUBNET, snapshotter $SNAPSHOTTER"
if [ ! -x "$PLUGIN_BIN" ]; then
	not_ok "plugin binary $PLUGIN_BIN exists"
	finish; exit
fi
if ip -4 addr show | grep -qF "inet $NET_PREFIX." || ip -4 route show table all | grep -qF "$NET_PREFIX."; then
	not_ok "subnet $SUBNET unused on this host (set CRI_NET_PREFIX)"
	finish; exit
fi

# ---- host state before --------------------------------------------------
# The verdicts below are on what this test can own: its pods' host-side links
# (by ifindex+name), its pods' netns (by inode+cookie), mounts under its temp dir or on
# /run/containerd, its cgroups, its /var/lib/cni entries. A full before/after
# diff of `ip link`, `ip netns` and the mount table is printed too, and is a
# verdict only with CRI_STRICT_HOST=1 (other suites may be running alongside).
STRICT=${CRI_STRICT_HOST:-0}
links_now() { ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort; }
netns_now() { ip netns list 2>/dev/null | awk '{print $1}' | sort; }
mounts_now() { awk '{print $2, $3}' /proc/self/mounts | sort; }
LINKS0=$(links_now)
NETNS0=$(netns_now)
MOUNTS0=$(mounts_now)
RUN0=$(ls -d /run/containerd /run/mount 2>/dev/null)
FWD0=$(cat /proc/sys/net/ipv4/ip_forward)
HAD_VARLIBCNI=0; [ -e /var/lib/cni ] && HAD_VARLIBCNI=1
HAD_RESULTS=0; [ -e /var/lib/cni/results ] && HAD_RESULTS=1
MADE_RUN_CTRD=0

T=$(mktemp -d /tmp/xcni-cri.XXXXXX)
chmod 711 "$T"
SOCK=$T/containerd.sock
GEN=$T/gen
LOG=$T/containerd.log
STATE=$T/state
CPID=
CMNT=
SB_IDS=()
PEERS=()   # "ifindex: name" of the host end of each pod's eth0
NS_INOS=() # "net:[inode] cookie" of each pod's netns (inodes get reused, cookies don't)
_cleaned=

CRI_T=60 # seconds per CRI call (cleanup lowers it)
cri() { timeout $((CRI_T + 30)) "$PY" "$HERE/cri_client.py" --gen "$GEN" --sock "$SOCK" --timeout "$CRI_T" "$@"; }
ctr_() { timeout 60 ctr -a "$SOCK" -n k8s.io "$@"; }
jget() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1], ""))' "$1"; }
alive() { [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null; }

# wait_for SECS CMD...: retry CMD every 0.2 s until it succeeds or SECS pass.
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# Prints the netns cookie (SO_NETNS_COOKIE, never reused) of the current netns.
COOKIE_PY='import socket, struct; s = socket.socket(); print(struct.unpack("Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])'

# in_pod NETNS CMD...: run CMD in the pod netns. The netns is bind-mounted in
# containerd's private mount namespace, so enter that first to see it.
in_pod() {
	local ns=$1; shift
	timeout 20 nsenter --mount="/proc/$CPID/ns/mnt" -- nsenter --net="$ns" -- "$@"
}

# PIDs of what our containerd left: processes in our cgroups (pause
# containers), the pid files the shims wrote, processes in containerd's private
# mount namespace, and shims (their command line names our socket).
our_pids() {
	local f p x
	for f in /sys/fs/cgroup/"$CG_NAME" /sys/fs/cgroup/*/"$CG_NAME"; do
		[ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
	for f in "$STATE"/io.containerd.runtime.v2.task/*/*/{init,shim}.pid; do
		[ -f "$f" ] && x=$(cat "$f" 2>/dev/null) && echo "$x"
	done
	if [ -n "$CMNT" ]; then
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$CMNT" ] && echo "${p#/proc/}"
		done
	fi
	for f in $(grep -laF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null); do
		p=${f#/proc/}; p=${p%/cmdline}
		[ "$p" != "$$" ] && [ "$p" != "$BASHPID" ] && echo "$p"
	done
}

cleanup() {
	[ -n "$_cleaned" ] && return
	stop_xcnid
	_cleaned=1; [ -n "${CRI_DEBUG_CLEANUP:-}" ] && set -x
	local id p
	# 1. Remove sandboxes through CRI while containerd runs (CNI DEL frees IPs).
	CRI_T=15
	if alive && [ -f "$GEN/cri_client_ready" ]; then
		for id in $(cri list 2>/dev/null | $PY -c 'import json,sys; [print(p["id"]) for p in json.load(sys.stdin)]' 2>/dev/null); do
			SB_IDS+=("$id")
			cri stop "$id" >/dev/null 2>&1
			cri remove "$id" >/dev/null 2>&1
		done
	fi
	# 2. Stop containerd by PID.
	if alive; then
		kill -TERM "$CPID" 2>/dev/null
		for _ in $(seq 50); do alive || break; sleep 0.2; done
		alive && kill -KILL "$CPID" 2>/dev/null
		for _ in $(seq 25); do alive || break; sleep 0.2; done
	fi
	# 3. Kill what it left: pause processes, shims. With no process left in
	#    the private mount namespace its mounts (rootfs, shm, netns) go away.
	for _ in 1 2 3; do
		p=$(our_pids | sort -u | grep -vx "$$")
		[ -z "$p" ] && break
		# shellcheck disable=SC2086
		kill -KILL $p 2>/dev/null
		sleep 0.3
	done
	# 4. Anything still mounted under the temp dir in this namespace.
	awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r |
		while read -r p; do umount -n -l "$p" 2>/dev/null; done
	# 5. cgroups runc created under our parent.
	for p in /sys/fs/cgroup/"$CG_NAME" /sys/fs/cgroup/*/"$CG_NAME"; do
		[ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	# 6. libcni's result cache (go-cni uses /var/lib/cni; CRI can't change it).
	rm -f /var/lib/cni/results/"$NET_NAME"-* 2>/dev/null
	for id in "${SB_IDS[@]}"; do rm -f /var/lib/cni/results/cni-loopback-"$id"-* 2>/dev/null; done
	[ $HAD_RESULTS = 0 ] && rmdir /var/lib/cni/results 2>/dev/null
	[ $HAD_VARLIBCNI = 0 ] && rmdir /var/lib/cni 2>/dev/null
	# 7. Only if leaked: CRI-named netns that appeared during the test, host
	#    ends of our pods' eth0 (same ifindex and name as recorded).
	for p in $(comm -13 <(echo "$NETNS0") <(netns_now) | grep '^cni-'); do ip netns delete "$p" 2>/dev/null; done
	for p in "${PEERS[@]}"; do
		ip -o link show | grep -q "^${p}[@:]" && ip link delete dev "${p#*: }" 2>/dev/null
	done
	# 8. ptp turns on forwarding; restore it. The mountpoint for our private
	#    /run/containerd tmpfs; the temp dir.
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$FWD0" ] && echo "$FWD0" >/proc/sys/net/ipv4/ip_forward
	[ $MADE_RUN_CTRD = 1 ] && rmdir /run/containerd 2>/dev/null
	[ -n "${CRI_KEEP_LOG:-}" ] && [ -f "$LOG" ] && cp "$LOG" "$CRI_KEEP_LOG"
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dump_log() { [ -f "$LOG" ] && tail -n "${1:-30}" "$LOG" | sed 's/^/#   log: /'; }

# ---- CNI bin + conf -----------------------------------------------------
mkdir -p "$T"/{root,state,tmp,plugins,opt,cni-bin,cni-conf,ipam,xcni-state,runc}
ln -s "$PLUGIN_BIN" "$T/cni-bin/$CRI_PLUGIN"
ln -s "$CNI_REF_DIR/host-local" "$T/cni-bin/host-local"
ln -s "$CNI_REF_DIR/loopback" "$T/cni-bin/loopback"
IPAM='"ipam":{"type":"host-local","ranges":[[{"subnet":"'$SUBNET'"}]],"dataDir":"'$T/ipam'"}'
case $CRI_PLUGIN in
xcni) PCONF='{"type":"xcni","mtu":1400,"stateDir":"'$T/xcni-state'","pinDir":"/sys/fs/bpf/'$XCT_TAG'",'$IPAM'}' ;;
ptp) PCONF='{"type":"ptp","mtu":1400,"ipMasq":false,'$IPAM'}' ;;
esac
echo '{"cniVersion":"1.0.0","name":"'$NET_NAME'","plugins":['"$PCONF"']}' >"$T/cni-conf/10-$NET_NAME.conflist"
if [ "$CRI_PLUGIN" = xcni ]; then
	check "xcnid started for this suite (pins under /sys/fs/bpf/$XCT_TAG)" \
		start_xcnid "/sys/fs/bpf/$XCT_TAG" --pod-cidr "$SUBNET" --no-masquerade
fi

# ---- containerd config ----------------------------------------------------
. "$HERE/../lib/node_conf.sh"
containerd_config "$T" "$STATE" "$SOCK" "$IMAGE" "$T/cni-bin" "$T/cni-conf" "$SNAPSHOTTER" "$T/runc" \
	>"$T/config.toml"

# ---- start containerd -----------------------------------------------------
# The runc shim of containerd 1.6 puts its sockets in /run/containerd/s (not
# configurable): give containerd a mount namespace with a private tmpfs there.
# Drop the copies of the host's netns bind mounts (/run/netns/*) in it, so it
# does not keep other namespaces alive. mount -n: no /run/mount/utab.
if [ ! -e /run/containerd ]; then mkdir /run/containerd && MADE_RUN_CTRD=1; fi
unshare --mount --propagation private -- /bin/sh -c '
	for m in $(awk "\$3 == \"nsfs\" {print \$2}" /proc/self/mounts); do umount -n "$m"; done
	mount -n -t tmpfs -o mode=0711,size=16m xcni-cri-run /run/containerd &&
		exec containerd --config "$1"' sh "$T/config.toml" >"$LOG" 2>&1 &
CPID=$!
if wait_for 30 bash -c "kill -0 $CPID && [ -S '$SOCK' ] && timeout 5 ctr -a '$SOCK' version"; then
	CMNT=$(readlink "/proc/$CPID/ns/mnt")
	ok "containerd started (pid $CPID, own mount ns)"
else
	not_ok "containerd started"; dump_log; finish; exit
fi
if [ "$CMNT" = "$(readlink /proc/self/ns/mnt)" ]; then
	not_ok "containerd runs in a private mount namespace"; finish; exit
fi

# ---- CRI client stubs, sandbox image ----------------------------------------
if "$PY" "$HERE/cri_client.py" --gen "$GEN" gen >/dev/null; then
	touch "$GEN/cri_client_ready"
else
	not_ok "generate CRI python stubs"; finish; exit
fi
if "$PY" "$HERE/mkimage.py" "$T/pause.tar" "$IMAGE" /bin/busybox &&
	out=$(ctr_ images import --snapshotter "$SNAPSHOTTER" "$T/pause.tar" 2>&1); then
	ok "sandbox image $IMAGE built offline and imported"
else
	not_ok "sandbox image built and imported"; printf '%s\n' "${out:-}" | sed 's/^/#   /'; finish; exit
fi

# ---- CRI: Version, readiness ------------------------------------------------
if wait_for 30 cri version && v=$(cri version); then
	ok "CRI Version: $v"
else
	not_ok "CRI Version"; dump_log; finish; exit
fi
net_ready() { cri status-runtime | grep -q '"NetworkReady": true'; }
image_known() { [ -n "$(cri image "$IMAGE" | jget id)" ]; }
check "CRI Status reports NetworkReady (CNI config loaded)" wait_for 30 net_ready
check "CRI ImageStatus finds the sandbox image" wait_for 30 image_known

# ---- run pods ------------------------------------------------------------------
declare -A SBID IP NS
for pod in "${PODS[@]}"; do
	uid=$($PY -c 'import uuid; print(uuid.uuid4())')
	if out=$(cri run "$pod" "$uid" default "/$CG_NAME" 2>&1); then
		SBID[$pod]=$(jget id <<<"$out")
		SB_IDS+=("${SBID[$pod]}")
		ok "RunPodSandbox $pod (uid $uid) -> ${SBID[$pod]:0:12}"
	else
		not_ok "RunPodSandbox $pod"; printf '%s\n' "$out" | sed 's/^/#   /'; dump_log 20
	fi
done

in_subnet() { $PY -c 'import ipaddress,sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$SUBNET"; }
for pod in "${PODS[@]}"; do
	[ -n "${SBID[$pod]:-}" ] || continue
	if ! st=$(cri status "${SBID[$pod]}" 2>&1); then
		not_ok "PodSandboxStatus $pod"; printf '%s\n' "$st" | sed 's/^/#   /'; continue
	fi
	IP[$pod]=$(jget ip <<<"$st")
	NS[$pod]=$(jget netns <<<"$st")
	state=$(jget state <<<"$st")
	if [ "$state" = SANDBOX_READY ] && [ -n "${IP[$pod]}" ] && in_subnet "${IP[$pod]}"; then
		ok "PodSandboxStatus $pod: READY, ip ${IP[$pod]} in $SUBNET"
	else
		not_ok "PodSandboxStatus $pod: READY with an ip in $SUBNET"; echo "#   $st"
	fi
	if [ -n "${NS[$pod]}" ] && in_pod "${NS[$pod]}" ip -4 -o addr show dev eth0 | grep -qF " ${IP[$pod]}/"; then
		ok "$pod netns ${NS[$pod]##*/} has ${IP[$pod]} on eth0"
	else
		not_ok "$pod netns '${NS[$pod]}' has ${IP[$pod]} on eth0"
		[ -n "${NS[$pod]}" ] && in_pod "${NS[$pod]}" ip addr 2>&1 | sed 's/^/#   /'
	fi
	# host end of the pod's eth0 pair (veth/netkit "eth0@ifN"): must go on DEL
	peer=$([ -n "${NS[$pod]}" ] && in_pod "${NS[$pod]}" ip -o link show dev eth0 2>/dev/null | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')
	[ -n "$peer" ] && PEERS+=("$(ip -o link show | awk -F': ' -v i="$peer" '$1 == i {sub(/@.*/, "", $2); print i ": " $2}')")
	ino=$([ -n "${NS[$pod]}" ] && in_pod "${NS[$pod]}" readlink /proc/self/ns/net 2>/dev/null)
	cookie=$([ -n "${NS[$pod]}" ] && in_pod "${NS[$pod]}" "$PY" -c "$COOKIE_PY" 2>/dev/null)
	[ -n "$ino" ] && [ -n "$cookie" ] && NS_INOS+=("$ino $cookie")
	mtu=$([ -n "${NS[$pod]}" ] && in_pod "${NS[$pod]}" cat /sys/class/net/eth0/mtu 2>/dev/null)
	if [ "$mtu" = 1400 ]; then ok "$pod eth0 mtu 1400"; else not_ok "$pod eth0 mtu 1400 (got '${mtu}')"; fi
done

ips=$(for pod in "${PODS[@]}"; do echo "${IP[$pod]:-}"; done | grep -v '^$')
if [ "$(sort -u <<<"$ips" | wc -l)" = "${#PODS[@]}" ]; then
	ok "pod IPs distinct: $(echo $ips)"
else
	not_ok "pod IPs distinct: $(echo $ips)"
fi

# ---- connectivity --------------------------------------------------------------
ping_pods() {
	local from=$1 to=$2
	if [ -n "${NS[$from]:-}" ] && [ -n "${IP[$to]:-}" ] && out=$(in_pod "${NS[$from]}" ping -c1 -W2 "${IP[$to]}" 2>&1); then
		ok "ping $from -> $to (${IP[$to]})"
	else
		not_ok "ping $from -> $to (${IP[$to]:-?})"; printf '%s\n' "${out:-}" | sed 's/^/#   /'
	fi
}
ping_pods pod-a pod-b
ping_pods pod-c pod-a

diag "host ends of the pods' eth0: $(printf '%s, ' "${PEERS[@]}")pod netns: ${NS_INOS[*]}"
[ "${#PEERS[@]}" = "${#PODS[@]}" ] || not_ok "found the host end (eth0@ifN) of every pod's eth0"

# ---- stop (twice: the second CNI DEL has no netns) and remove -------------------
for pod in "${PODS[@]}"; do
	id=${SBID[$pod]:-}
	[ -n "$id" ] || continue
	check "StopPodSandbox $pod" cri stop "$id"
	check "StopPodSandbox $pod again (CNI DEL without netns)" cri stop "$id"
	check "RemovePodSandbox $pod" cri remove "$id"
	check_fails "PodSandboxStatus $pod fails after removal" cri status "$id"
done
check "RemovePodSandbox of an unknown id is a no-op" cri remove 0000000000000000000000000000000000000000000000000000000000000000
list_empty() { [ "$(cri list)" = "[]" ]; }
check "ListPodSandbox is empty" list_empty

# ---- nothing left behind (containerd still running) -----------------------------
peers_left() { local p; for p in "${PEERS[@]}"; do ip -o link show | grep "^${p}[@:]"; done; }
peers_gone() { [ -z "$(peers_left)" ]; }
if wait_for 10 peers_gone; then
	ok "host ends of the pods' eth0 are gone"
else
	not_ok "host ends of the pods' eth0 are gone: $(peers_left | tr '\n' ' ')"
fi
no_routes() { ! ip -4 route show table all | grep -F "$NET_PREFIX."; }
# host-local keeps one file per lease, named by the address
no_leases() { local f r=0; for f in "$T/ipam/$NET_NAME"/*.*.*.*; do [ -e "$f" ] && echo "${f##*/}" && r=1; done; return $r; }
no_netns_files() { [ -z "$(ls -A "$STATE/io.containerd.grpc.v1.cri/netns" 2>/dev/null)" ]; }
no_nsfs_mounts() { ! grep -w nsfs "/proc/$CPID/mountinfo"; }
no_cni_cache() { local f r=0; for f in /var/lib/cni/results/"$NET_NAME"-*; do [ -e "$f" ] && echo "$f" && r=1; done; return $r; }
no_cri_netns() { ! ip netns list 2>/dev/null | grep '^cni-'; }
check "no host routes into $SUBNET left" no_routes
check "host-local lease dir has no leases" no_leases
check "no pod netns left in containerd's netns dir" no_netns_files
check "no nsfs mounts left in containerd's mount ns" no_nsfs_mounts
check "no CNI result cache entries left for $NET_NAME" no_cni_cache
check "no CRI netns (cni-*) in ip netns" no_cri_netns
# after removal only containerd itself is left: no shim, pause, plugin daemon
leftover_procs() { our_pids | sort -u | grep -vx "$CPID" | while read -r p; do echo "$p $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)"; done; }
no_leftover_procs() { wait_for 10 eval '[ -z "$(leftover_procs)" ]' || { leftover_procs; return 1; }; }
check "no shim, pause or plugin process left besides containerd" no_leftover_procs
if [ "$CRI_PLUGIN" = xcni ]; then
	diag "xcni stateDir after removal: $(cd "$T/xcni-state" 2>/dev/null && find . -mindepth 1 | tr '\n' ' ')"
fi
# shellcheck disable=SC2154 # _t_fail: lib.sh
[ "$_t_fail" -gt 0 ] && dump_log 40

# ---- clean up, then verify the host is as we found it --------------------------
cleanup
ctrd_gone() { ! kill -0 "$CPID" 2>/dev/null; }
# Each named when one stays: a loaded make check saw one once, right after containerd stopped.
no_procs() {
	local p
	wait_for 5 eval '[ -z "$(our_pids)" ]' && return 0
	for p in $(our_pids); do
		echo "pid $p ($(cat "/proc/$p/comm" 2>/dev/null)): $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
	return 1
}
no_cgroups() { ! ls -d /sys/fs/cgroup/"$CG_NAME" /sys/fs/cgroup/*/"$CG_NAME" 2>/dev/null; }
# A pod netns still alive is held by a process or an nsfs mount somewhere.
# Find holders by inode, then confirm by cookie (another netns created since
# may have been given the same inode number).
netns_held() {
	local e ino ck f pid mp mnt seen=" "
	for e in "${NS_INOS[@]}"; do
		ino=${e% *}; ck=${e#* }
		for f in /proc/[0-9]*/ns/net; do
			[ "$(readlink "$f" 2>/dev/null)" = "$ino" ] || continue
			pid=${f#/proc/}; pid=${pid%%/*}
			[ "$(timeout 10 nsenter --net="$f" -- "$PY" -c "$COOKIE_PY" 2>/dev/null)" = "$ck" ] &&
				echo "pid $pid ($(cat /proc/$pid/comm 2>/dev/null)) is in pod netns $ino"
		done
		for f in $(grep -lF " $ino " /proc/[0-9]*/mountinfo 2>/dev/null); do
			pid=${f#/proc/}; pid=${pid%%/*}
			mnt=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null) || continue
			case $seen in *" $mnt$ino "*) continue ;; esac
			seen="$seen$mnt$ino "
			for mp in $(awk -v i="$ino" '$4 == i {print $5}' "$f"); do
				[ "$(timeout 10 nsenter --mount="/proc/$pid/ns/mnt" -- nsenter --net="$mp" -- "$PY" -c "$COOKIE_PY" 2>/dev/null)" = "$ck" ] &&
					echo "pod netns $ino is mounted on $mp (mount ns of pid $pid)"
			done
		done
	done
}
pod_netns_gone() {
	[ "${#NS_INOS[@]}" = "${#PODS[@]}" ] || { echo "pod netns not all recorded"; return 1; }
	wait_for 5 eval '[ -z "$(netns_held)" ]' || { netns_held; return 1; }
}
no_our_mounts() { ! grep -E " ($T|/run/containerd)[/ ]" /proc/self/mounts; }
tmp_gone() { [ ! -e "$T" ]; }
run_same() { [ "$(ls -d /run/containerd /run/mount 2>/dev/null)" = "$RUN0" ]; }
varlibcni_same() { [ $HAD_VARLIBCNI = 1 ] || [ ! -e /var/lib/cni ]; }
fwd_same() { [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$FWD0" ]; }
check "containerd stopped" ctrd_gone
check "no process left in containerd's mount namespace or our cgroups" no_procs
check "cgroups removed" no_cgroups
check "host ends of the pods' eth0 still gone" peers_gone
check "pods' netns destroyed (no process or mount holds them)" pod_netns_gone
check "no mounts under the temp dir or on /run/containerd" no_our_mounts
check "ip_forward as before" fwd_same
check "temp dir removed" tmp_gone
check "/run/containerd, /run/mount as before" run_same
check "/var/lib/cni as before" varlibcni_same

# full before/after diff of ip link / ip netns / mounts
host_diff() {
	local what=$1 before=$2 now=$3 d
	d=$(diff <(echo "$before") <(echo "$now") | grep '^[<>]')
	if [ -z "$d" ]; then
		[ "$STRICT" = 1 ] && ok "$what exactly as before" || diag "$what exactly as before"
	elif [ "$STRICT" = 1 ]; then
		not_ok "$what exactly as before"; head -n 20 <<<"$d" | sed 's/^/#   /'
	else
		diag "$what differs from before by $(grep -c '^>' <<<"$d") added, $(grep -c '^<' <<<"$d") gone, not attributed to this test by the checks above (other activity on the host?)"
	fi
}
sleep 0.5
host_diff "ip link" "$LINKS0" "$(links_now)"
host_diff "ip netns" "$NETNS0" "$(netns_now)"
host_diff "mount table" "$MOUNTS0" "$(mounts_now)"
finish
