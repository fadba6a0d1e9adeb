# Shared by the lab suites (sourced after tests/lib.sh): the lab's commands, and
# the bookkeeping that proves a lab left nothing behind.
#
#   lab_suite NAME     XCNICTL, the binaries the lab starts, T (the suite's scratch
#                      directory, /tmp/xcni-NAME-test.*) and the lab's state under it
#   lab_preflight BIN...  every BIN executable and no other lab up, else the suite ends
#   lab_start BIN...   lab_preflight, then the EXIT trap: lab_cleanup
#   PIDS+=/remember_pids   processes the lab said it started (xcnid, listeners)
#   MINE+=(PID)        processes the suite started itself, stopped by PID first
#   leftovers          netns, pins, live processes and state a lab left (empty: none)
#   lab_down_checked   lab down as a check, then that nothing was left behind
#   lab_nic_check      n1's underlay is a real NIC with native XDP (XCNI_LAB_UL_NIC)
#   y_ns / y_pod / y_svc / y_webpol   manifests for lab apply, one document each
#   policy NAME        lab apply of stdin, kept as $T/NAME.yaml (an apply that
#                      fails is a not ok with its output)
#   unpolicy NAME...   lab delete of each, a not ok where one fails

LAB_PINS=/sys/fs/bpf/xcni-lab
LAB_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIDS=()
MINE=()

# The suites were written against kube-proxy's iptables layout, the lab's
# default until it became --kube-proxy none: a `lab up` that names no mode
# keeps that one here ($LAB_UP_KP, iptables), so their coverage stays what it
# was; the ones for xcnid's Services pass --kube-proxy none themselves, and
# tests/lab/run.sh checks the real default by calling xcnictl directly.
#
# Every node's maps sized for a lab's few pods, as --map-max (sizes a user
# set): written when an xcnid with its defaults made ~250 MiB of maps (about
# half of its start's CPU); since issue 67 the defaults make ~25 MiB
# (docs/decisions/map-sizes.md), and these keep the suites' sizes what their
# checks were written for. LAB_SMALL_MAPS=0 keeps the defaults;
# tests/lab/run.sh and the cni-netns suites start xcnid with them. A suite's
# own --map-max comes after these, and wins.
LAB_MAPS_A=xcni_ct=16384,xcni_ct6=16384,xcni_affinity=4096,xcni_svcbe=65536,xcni_svcslot=65536,xcni_policy=65536,xcni_pf24=65536,xcni_backend=65536,xcni_podname=16384
LAB_MAPS_B=xcni_endpoints=4096,xcni_endpoints6=4096,xcni_ifindex=4096,xcni_ifindex6=4096,xcni_polep=4096,xcni_polkey6=4096,xcni_sock_rn=4096,xcni_sock_rn6=4096,xcni_sock_flow=4096,xcni_sock_flow6=4096
lab() {
	if [ "${1:-}" = up ]; then
		shift
		[[ " $* " == *" --kube-proxy "* ]] || set -- --kube-proxy "${LAB_UP_KP:-iptables}" "$@"
		[ "${LAB_SMALL_MAPS:-1}" = 0 ] ||
			set -- --agent-arg "--map-max=$LAB_MAPS_A" --agent-arg "--map-max=$LAB_MAPS_B" "$@"
		set -- up "$@"
	fi
	"$XCNICTL" lab "$@"
}
# not_connected OUT RC: lab probe said a fate other than connected (denied,
# refused, no-backend, timeout) and exited 1; denied may name what denied it
# ("denied: isolated by x/p (ingress: nothing allows)").
not_connected() { [ "$2" = 1 ] && [[ $1 =~ ^(denied(: .+)?|refused|no-backend|timeout)$ ]]; }
# fate_word OUT: lab probe's fate word alone (what denied it, after ": ", left off).
fate_word() { printf '%s\n' "${1%%: *}"; }
jq_() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# in_node N CMD...: CMD in node n<N>'s network namespace (its host stack).
in_node() { local n=$1; shift; nsenter --net="/run/netns/xcl-n$n" "$@"; }

# lab_agent_restart PIDS NODE LOG ARGV...: NODE's xcnid stopped and ARGV
# started in its netns instead (its output in LOG; its PID appended to the
# caller's array named PIDS, which the caller's cleanup kills), written into
# the lab's state (lab.json, under the lab's .lock) as NODE's agent, so that
# lab apply waits for it and lab down stops it. Returns once it says ready
# (at most 20 s).
# lab_agent_stop PID: an agent told to stop (SIGTERM), waited for (5 s at
# most) until it is gone or a zombie.
lab_agent_stop() {
	local st
	kill "$1" 2>/dev/null
	for _ in $(seq 50); do
		st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.1
	done
}

lab_agent_restart() {
	local -n _pids=$1
	local node=$2 log=$3 xpid pid
	shift 3
	xpid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == '$node'][0]")
	lab_agent_stop "$xpid"
	: >"$log" # now: the job's child may open it after the wait below reads it
	nsenter --net="/run/netns/xcl-$node" "$@" >"$log" 2>&1 &
	pid=$!
	_pids+=("$pid")
	flock "$XCNI_LAB_DIR/.lock" /usr/bin/python3 - "$XCNI_LAB_DIR/lab.json" "$node" "$pid" <<'PY' || return 1
import json, os, sys
path, node, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
# /proc/PID/stat's field 22, counted after the comm's last ')' (as the lab does).
start = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])
d = json.load(open(path))
[n for n in d["nodes"] if n["name"] == node][0]["xcnid"] = {"pid": pid, "start": start}
with open(path + ".tmp", "w") as f:
    json.dump(d, f)
os.rename(path + ".tmp", path)
PY
	for _ in $(seq 200); do grep -q 'xcnid: ready' "$log" 2>/dev/null && return 0; sleep 0.1; done
	cat "$log"
	return 1
}
# tell_peer_pod NS NAME NODE: a Pod's manifest (after a ---) on NODE, label
# app=NAME, the lab's tell-peer listener on 8080/tcp (http) and 8081/udp
# (echo), answering "NS/NAME ADDR" with the source it saw.
tell_peer_pod() {
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n' "$2" "$1"
	printf '  labels: {app: %s}\n  annotations: {lab.xcni.io/server: tell-peer}\n' "$2"
	printf 'spec:\n  nodeName: %s\n  containers:\n  - name: c\n' "$3"
	printf '    ports: [{name: http, containerPort: 8080}, {name: echo, containerPort: 8081, protocol: UDP}]\n'
}
# fqdn_pod NAME NODE: a Pod's manifest (after a ---) in namespace fq, label app=NAME.
# fqdn_cnp NAME PRIORITY APP RULES: an Admin ClusterNetworkPolicy's, its subject fq's
# pods app=APP, its egress RULES (YAML list lines). tests/lab/fqdn.sh, bench/fqdn-race.sh.
fqdn_pod() {
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: fq, labels: {app: %s}}\n' "$1" "$1"
	printf 'spec: {nodeName: %s, containers: [{name: c}]}\n' "$2"
}
fqdn_cnp() {
	printf -- '---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n'
	printf 'metadata: {name: %s}\nspec:\n  tier: Admin\n  priority: %s\n' "$1" "$2"
	printf '  subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: fq}}, podSelector: {matchLabels: {app: %s}}}}\n  egress:\n%s\n' "$3" "$4"
}
# lab_outside_full_csum: the outside's links send full checksums. A process's
# packets on a veth carry a partial checksum (CHECKSUM_PARTIAL: the
# pseudo-header's, the rest left to an offload); native XDP sees the bytes
# only, and XDP_TX's frame leaves the skb and its offload behind, so under
# native NodePort acceleration the outside sends as a client on a wire does.
lab_outside_full_csum() {
	local d
	for d in $(ip netns exec xcl-out ls /sys/class/net | grep -vx lo); do
		ip netns exec xcl-out ethtool -K "$d" tx off >/dev/null
	done
}
# metric N REASON DIRECTION: node n<N>'s packet count, read as an operator would.
metric() {
	in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" metrics --json |
		jq_ "sum(m['packets'] for m in d if m['reason'] == '$2' and m['direction'] == '$3')"
}

leftovers() {
	local p st
	ip netns list | awk '{print $1}' | grep '^xcl-' | sed 's/^/netns /'
	[ -e "$LAB_PINS" ] && find "$LAB_PINS" | sed 's/^/pin /'
	for p in "${PIDS[@]}" "${MINE[@]}"; do
		# A zombie is gone; its new parent reaps it when it gets to it.
		st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
		[ -n "$st" ] && [ "$st" != Z ] && echo "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline"))"
	done
	[ -e "$XCNI_LAB_DIR" ] && echo "state dir $XCNI_LAB_DIR"
}
remember_pids() {
	local p
	for p in $(lab get --json 2>/dev/null | jq_ '" ".join(str(x) for x in [n["xcnidPid"] for n in d["nodes"]] + [p["serverPid"] for p in d["pods"]] + [d.get("outside", {}).get("serverPid", 0)] if x)' 2>/dev/null); do
		PIDS+=("$p")
	done
}
# stop_pids PID...: each killed and waited for; stop_mine: MINE's.
stop_pids() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
stop_mine() { stop_pids "${MINE[@]}"; }
lab_down_checked() {
	local left
	remember_pids
	check "lab down" lab down
	left=$(leftovers)
	check "nothing left behind (netns, pins, processes: xcnid, listeners, dnsmasq; state)" test -z "$left"
	[ -n "$left" ] && echo "$left" | sed 's/^/#   /'
	[ -n "${XCNI_LAB_UL_NIC:-}" ] &&
		check "the NICs $XCNI_LAB_UL_NIC are back in this netns under their names, no XDP on them" \
			bash -c "for d in ${XCNI_LAB_UL_NIC/:/ }; do ip link show \$d | grep -q . && ! ip link show \$d | grep -q prog/xdp || exit 1; done"
}
# lab_nic_check: with XCNI_LAB_UL_NIC (NODE_DEV:SWITCH_DEV, a VM's virtio-net
# NICs: scripts/kernels.sh) n1's ul0 is NODE_DEV, a real driver, its XDP native.
lab_nic_check() {
	diag "n1 ul0: $(ip netns exec xcl-n1 ethtool -i ul0 | head -n1); $(ip netns exec xcl-n1 ethtool -l ul0 2>&1 | grep -m1 -A4 Current | tr -s ' \n\t' ' ')"
	check "n1's ul0 is the NIC (${XCNI_LAB_UL_NIC%%:*}, driver virtio_net), its XDP native (xdp, not xdpgeneric)" \
		bash -c "ip netns exec xcl-n1 ethtool -i ul0 | grep -qx 'driver: virtio_net' &&
			ip -n xcl-n1 -d link show ul0 | grep -q 'prog/xdp id' && ! ip -n xcl-n1 -d link show ul0 | grep -q xdpgeneric"
	check "xcl-ul's port ul-n1 is the NIC ${XCNI_LAB_UL_NIC#*:} (virtio_net), on the bridge" \
		bash -c "ip netns exec xcl-ul ethtool -i ul-n1 | grep -qx 'driver: virtio_net' && ip -n xcl-ul link show ul-n1 | grep -q 'master br0'"
}
# lab_fallbacks_check: what this kernel lacks (by its version, xcnid(8) KERNEL)
# each agent logged, its fallback taken: tc clsact for from_overlay where TCX is
# missing (< 6.6), Geneve between families off (< 6.3) and, in a dual-stack lab
# (conntest's), each family over its own underlay; on newer kernels none.
lab_fallbacks_check() {
	local v log i=0 tcx=0 l3=0
	v=$(uname -r | awk -F. '{print $1 * 1000 + $2}')
	[ "$v" -lt 6006 ] && tcx=1
	[ "$v" -lt 6003 ] && l3=1
	# xcnid's probe failed on purpose (XCNI_PROBE_FAIL): the same fallback on any kernel.
	[ "${XCNI_PROBE_FAIL:-}" = adjust-room-decap-l3 ] && l3=1
	[ -n "${XCNI_ATTACH:-}" ] && tcx=-1 # forced either way: not the kernel's choice
	lab_fb() {
		for log in "$XCNI_LAB_DIR"/n*/xcnid.log; do
			i=$((i + 1))
			case $tcx in
			1) grep -q 'attach: from_overlay on ul0 ingress: tc clsact filter: TCX unavailable (bpf_link_create: .*TCX needs Linux >= 6.6)' "$log" ;;
			0) grep -q 'attach: from_overlay on ul0 ingress: TCX link' "$log" ;;
			esac || { echo "$log: from_overlay's attach not as kernel $(uname -r) wants (TCX fallback $tcx)"; return 1; }
			[ "$(grep -c 'lacks adjust-room-decap-l3 (Linux >= 6.3): Geneve between families .* is dropped' "$log")" = "$l3" ] ||
				{ echo "$log: adjust-room-decap-l3's warning not $l3 time(s)"; return 1; }
			# Without it a node of both underlay families sends each over its own
			# (said wherever the agent resolves its underlay: once or more).
			[ "$(grep -c 'tunnel family auto, each family over its own (the kernel lacks Geneve between families)' "$log" | sed 's/^[1-9][0-9]*$/1/')" = "$l3" ] ||
				{ echo "$log: the same-family overlay line: want it $([ "$l3" = 1 ] || echo "not ")logged"; return 1; }
		done
		[ "$i" -gt 0 ]
	}
	check "kernel $(uname -r): its fallbacks logged by each of the agents (tc clsact for TCX: $tcx, Geneve between families off: $l3)" lab_fb
}
lab_cleanup() {
	local left
	stop_mine
	remember_pids
	lab down >/dev/null 2>&1
	left=$(leftovers)
	if [ -n "$left" ]; then
		echo "# cleanup: the lab left things behind:"
		echo "$left" | sed 's/^/#   /'
	fi
	rm -rf "$T"
}
lab_suite() {
	XCNICTL=${XCNICTL:-$BUILD/xcnictl}
	export XCNI_BIN XCNID_BIN=${XCNID_BIN:-$BUILD/xcnid}
	# The lab's names (xcl-*, /sys/fs/bpf/xcni-lab) are global; its state is not:
	# never the real /run/xcni-lab.
	T=$(mktemp -d "/tmp/xcni-$1-test.XXXXXX")
	export XCNI_LAB_DIR=$T/lab
}
# A lab whose owner died with no chance to take it down (a session or CI job
# killed mid-suite) leaves its namespaces with not one process in them: no xcnid,
# no listener. That lab is nobody's; its names are the lab's own, so remove it.
# A lab with any process alive is someone's, and lab_preflight refuses to touch it.
stale_lab_sweep() {
	local ns all=()
	mapfile -t all < <(ip netns list | awk '{print $1}' | grep '^xcl-')
	[ ${#all[@]} -eq 0 ] && [ ! -e "$LAB_PINS" ] && return 0
	for ns in "${all[@]}"; do
		[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
	done
	diag "a lab with no process left in it (${all[*]:-pins only}): removing it"
	for ns in "${all[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$LAB_PINS"
}
lab_preflight() {
	local b
	for b in "$@"; do
		[ -x "$b" ] || { not_ok "$b exists (run make)"; finish; exit 1; }
	done
	stale_lab_sweep
	if ip netns list | grep -q '^xcl-' || [ -e "$LAB_PINS" ]; then
		not_ok "no other lab is up (xcl-* netns or $LAB_PINS exist: xcnictl lab down it first)"
		finish
		exit 1
	fi
}
lab_start() {
	lab_preflight "$@"
	trap lab_cleanup EXIT
}

# Manifests for `lab apply`, each one document after "---" (libyaml skips the
# empty first one): the suites' shared objects, written once.
#   y_ns NAME
#   y_pod NAME NS NODE [LABELS [PORTS]]  LABELS "app: web" ('' none), PORTS the
#                                        container's port list ('' none)
#   y_svc NAME NS SELECTOR PORTS [TYPE]
#   y_np NAME NS SELECTOR TYPES  a NetworkPolicy's head: podSelector matchLabels
#                    SELECTOR ("app: web"), policyTypes [TYPES]; its rules follow
#   y_webpol [NAME [deny]]  NetworkPolicy x/NAME (web-ingress): app=web takes TCP
#                    80 and UDP 81 from role=friend only; with deny, nothing
y_ns() { printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$1"; }
y_pod() {
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s%s}\n' "$1" "$2" "${4:+, labels: {$4\}}"
	printf 'spec:\n  nodeName: %s\n  containers: [{name: c%s}]\n' "$3" "${5:+, ports: [$5]}"
}
y_svc() {
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\nspec:\n' "$1" "$2"
	[ -z "${5:-}" ] || echo "  type: $5"
	printf '  selector: {%s}\n  ports: [%s]\n' "$3" "$4"
}
y_np() {
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: %s}\n' "$1" "$2"
	printf 'spec:\n  podSelector: {matchLabels: {%s}}\n  policyTypes: [%s]\n' "$3" "$4"
}
y_webpol() {
	y_np "${1:-web-ingress}" x "app: web" Ingress
	[ "${2:-}" = deny ] || printf '%s\n' '  ingress:' \
		'  - from: [{podSelector: {matchLabels: {role: friend}}}]' \
		'    ports: [{port: 80, protocol: TCP}, {port: 81, protocol: UDP}]'
}

# lab_ui_serve NETNS ADDR: xcnictl lab ui on ADDR in a netns of its own (its
# output in $T/labui.out), checked to serve.
lab_ui_serve() {
	ip netns add "$1" && ip -n "$1" link set lo up
	# nsenter, not ip netns exec: that remounts /sys, hiding the nodes' pins in /sys/fs/bpf.
	nsenter --net="/run/netns/$1" "$XCNICTL" lab ui --listen "$2" >"$T/labui.out" 2>&1 &
	MINE+=("$!")
	check "xcnictl lab ui --listen $2 serves" _lab_ui_served "$2"
}
_lab_ui_served() {
	for _ in $(seq 50); do grep -q "serving http://$1/" "$T/labui.out" && return 0; sleep 0.1; done
	cat "$T/labui.out"
	return 1
}

# lab_ui_graph PORT FILE: xcnictl lab ui on 127.0.0.1:PORT just long enough to
# save its /api/graph (the service map's data, every node's records merged) in FILE.
lab_ui_graph() {
	local pid _ rc=1
	"$XCNICTL" lab ui --listen "127.0.0.1:$1" >"$T/labui.$1.out" 2>&1 &
	pid=$!
	MINE+=("$pid")
	for _ in $(seq 50); do grep -q "serving http://127.0.0.1:$1/" "$T/labui.$1.out" && break; sleep 0.1; done
	curl -sf "http://127.0.0.1:$1/api/graph" >"$2" && rc=0 || cat "$T/labui.$1.out"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $rc
}

# lab_up_or_end ARGS...: lab up ARGS as a check (its output in $out, and as
# comments), the processes it started remembered; a failure ends the suite.
lab_up_or_end() {
	local rc
	out=$(lab up "$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	check "lab up $*" test "$rc" -eq 0 || { finish; exit 1; }
	remember_pids
}

# udp_flow_start OUT CMD...: CMD (udp_flow.py and its arguments, in a pod or
# netns) in the background into OUT, FLOW its PID (in MINE), waited for until
# its first ask is written.
udp_flow_start() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 &
	FLOW=$!
	MINE+=("$FLOW")
	for _ in $(seq 50); do grep -q '^0 ' "$out" 2>/dev/null && break; sleep 0.1; done
}

# udp_echo POD SPORT DST DPORT N [SIZE [WAIT]]: udp_echo.py in POD (prints how
# many were echoed); answered WANT POD ...: WANT of them were.
udp_echo() { local pod=$1; shift; lab exec "$pod" -- /usr/bin/python3 "$LAB_TESTS/udp_echo.py" "$@"; }
answered() {
	local want=$1 got
	shift
	got=$(udp_echo "$@") || return 1
	[ "$got" = "$want" ] || { echo "answered $got, wanted $want"; return 1; }
}

policy() {
	cat >"$T/$1.yaml"
	if ! lab apply -f "$T/$1.yaml" >"$T/apply.out" 2>&1; then
		not_ok "apply $1"
		sed 's/^/#   /' "$T/apply.out" | head -20
		return 1
	fi
}
unpolicy() {
	local f
	for f in "$@"; do
		lab delete -f "$T/$f.yaml" >/dev/null 2>&1 || not_ok "delete $f"
	done
}
