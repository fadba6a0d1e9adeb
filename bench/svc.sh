#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Services: new TCP connections to a ClusterIP with 10, 1k and 10k Services
# programmed, xcni's BPF translation (xcnid --kube-proxy-replacement) next to
# kube-proxy's iptables and nftables layouts, in one run; and the time from a
# Service change to the maps. See bench/README.md. Must run as root; takes
# /tmp/xcni-test.lock itself for the whole run (don't wrap it in flock).
#
#   bash bench/svc.sh [-s SIZES] [-t SECONDS] [-r ROUNDS] [-n SERVICES]
#                     [-e ENDPOINTS] [-a REPS] [-S SECTIONS] [-U] [--check]
#
#   -s  Service counts of section 1, increasing, comma separated (default 10,1000,10000)
#   -t  seconds per connection measurement (default 3)
#   -r  rounds of section 1; each measures every layout once per size (default 1)
#   -n  Services of section 2 (default 10000)
#   -e  endpoints per Service in section 2 (default 10)
#   -a  repetitions of each section 2 measurement (default 3)
#   -S  sections, comma separated: 1 connections, 2 programming time (default 1,2)
#   -U  don't pin clients to CPU 0 and servers to CPU 1
#   --check  the benchmark's own check (tests/run.sh, under the caller's lock):
#       10 Services, every layout must take a connection to the ClusterIP to
#       the server pod through its own rules; no timing, no section 2
#
# Environment: XCNI_BIN (plugin; xcnid, xcnictl next to it), CNI_DIR
# (host-local), IPTABLES (default iptables), BUILD, CC.
set -euo pipefail

BENCH=svc
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNI_BIN=${XCNI_BIN:-$BUILD/xcni}
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
IPTABLES=${IPTABLES:-iptables}
SIZES=10,1000,10000
SECS=3
ROUNDS=1
NPROG=10000
NEPS=10
REPS=3
SECTIONS=1,2
PIN_CPUS=1
CHECK=0

args=()
for a in "$@"; do
	if [[ $a == --check ]]; then CHECK=1; else args+=("$a"); fi
done
set -- "${args[@]+"${args[@]}"}"
opts 0 "s:SIZES t:SECS r:ROUNDS n:NPROG e:NEPS a:REPS S:SECTIONS U=PIN_CPUS=0" "$@"


# A check passed: a progress line, or TAP for tests/run.sh with --check (where
# a failure is a "not ok" line too).
passed() { if ((CHECK)); then echo "ok - $*"; else say "$*: ok"; fi; }
if ((CHECK)); then
	SIZES=10 SECTIONS=1 ROUNDS=1
	die() { echo "not ok - $BENCH: $*"; exit 1; }
fi
[[ $SIZES =~ ^[0-9]+(,[0-9]+)*$ ]] || die "-s must list Service counts (got '$SIZES')"
IFS=, read -r -a SIZE_LIST <<<"$SIZES"
prev=1
for s in "${SIZE_LIST[@]}"; do
	num_in "$s" 2 30000 && ((s > prev)) || die "-s: sizes must increase, each 2..30000 (got '$SIZES')"
	prev=$s
done
num_in "$SECS" 1 60 || die "-t must be 1..60 (got '$SECS')"
num_in "$ROUNDS" 1 10 || die "-r must be 1..10 (got '$ROUNDS')"
num_in "$NPROG" 1 30000 || die "-n must be 1..30000 (got '$NPROG')"
num_in "$NEPS" 1 100 || die "-e must be 1..100 (got '$NEPS')"
num_in "$REPS" 1 20 || die "-a must be 1..20 (got '$REPS')"
[[ $SECTIONS =~ ^[12](,[12])*$ ]] || die "-S must list sections 1, 2 (got '$SECTIONS')"
run_section() { [[ ,$SECTIONS, == *,$1,* ]]; }
need ip nsenter timeout taskset python3 flock nft "$IPTABLES-restore" "$IPTABLES" "$CC"
[[ -x $CNI_DIR/host-local ]] || die "reference plugin not found: $CNI_DIR/host-local"
[[ -x $XCNI_BIN ]] || die "xcni plugin not found: $XCNI_BIN (run make first)"
XCNI_BIN=$(readlink -f "$XCNI_BIN")
XDIR=$(dirname "$XCNI_BIN")
XCNID_BIN=$XDIR/xcnid
XCNICTL_BIN=$XDIR/xcnictl
LIBXCNI=$XDIR/libxcni.a
for b in "$XCNID_BIN" "$XCNICTL_BIN" "$LIBXCNI"; do [[ -e $b ]] || die "not found next to the plugin: $b"; done

# The machine-wide lock: other helpers' tests must not share the CPUs with
# the measurement. --check runs inside tests/run.sh, whose caller holds it.
if ((!CHECK)); then
	exec 9>/tmp/xcni-test.lock
	say "waiting for /tmp/xcni-test.lock"
	flock -w 1800 9 || die "could not take /tmp/xcni-test.lock in 30 min"
fi

pin_cpus

mkdir -p "$BUILD"
CONN_RATE=$BUILD/conn_rate
APPLY_WAIT=$BUILD/apply_wait
SVC_PROG=$BUILD/svc_prog
BPF_FLAGS=$(pkg-config --cflags --libs libbpf 2>/dev/null || echo -lbpf)
tool "$CONN_RATE" conn_rate
# shellcheck disable=SC2086
tool "$APPLY_WAIT" apply_wait $BPF_FLAGS
# shellcheck disable=SC2046
$CC -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/user" -I"$ROOT/bpf" \
	$(pkg-config --cflags jansson libbpf) -o "$SVC_PROG" "$HERE/svc_prog.c" "$LIBXCNI" \
	$(pkg-config --libs libmnl jansson libbpf yaml-0.1 libcurl)

PREFIX="xsvc$$"
NODE_NAME=n1
declare -A SUBNET=([k]=10.99.96.0/24 [p]=10.99.97.0/24 [g]=10.99.98.0/24 [r]=10.99.99.0/24)
VIP=10.111.255.254 # the Service under test (last in kube-proxy's chain)
VPORT=80
TPORT=8080 # the server pod's port (targetPort)
POD_CIDR=10.99.96.0/22 # the pods of both nodes, for kube-proxy's masquerade rule
FILL_NET=10.98 # the other Services' endpoints: pods on another node (never reached)
declare -A PIN=([k]=/sys/fs/bpf/$PREFIX-k [p]=/sys/fs/bpf/$PREFIX-p [g]=/sys/fs/bpf/$PREFIX-g
	[r]=/sys/fs/bpf/$PREFIX-r)
CNI_PATH_DIRS=$CNI_DIR
[[ $XDIR == "$CNI_DIR" ]] || CNI_PATH_DIRS="$CNI_DIR:$XDIR"

TMP=""
PINS=() DAEMONS=() SERVER_PIDS=() NETNS=() ADDED=()
declare -A IP=() GEN=([k]=0 [p]=0 [g]=0 [r]=0)

cni_bin() { echo "$XCNI_BIN"; }
cni_path() { echo "$CNI_PATH_DIRS"; }

on_exit cni_teardown DAEMONS PINS

TMP=$(mktemp -d /tmp/xcni-bench-svc.XXXXXX)
RESULTS=$TMP/results.tsv
echo -e "round\tsize\tlayout\ttarget\tconn_s\tp50_us\tp99_us" >"$RESULTS"

add_ns() {
	NETNS=("$1" "${NETNS[@]}") # deleted in reverse order of creation
	ip netns add "$1" && ip -n "$1" link set lo up
}


# start_node N [xcnid flags...]: node netns, xcnid on its manifest dir $TMP/m-N.
start_node() {
	local n=$1 pid _
	shift
	add_ns "$(node_ns "$n")" || die "creating netns $(node_ns "$n") failed"
	[[ ! -e ${PIN[$n]} ]] || die "pin dir ${PIN[$n]} already exists"
	PINS+=("${PIN[$n]}")
	mkdir -p "$TMP/m-$n"
	nsenter --net="/var/run/netns/$(node_ns "$n")" "$XCNID_BIN" --pin-dir "${PIN[$n]}" \
		--pod-cidr "${SUBNET[$n]}" --node-name "$NODE_NAME" --manifests "$TMP/m-$n" \
		--no-masquerade "$@" >"$TMP/xcnid-$n.log" 2>&1 &
	pid=$!
	DAEMONS+=("$pid")
	for _ in $(seq 100); do
		[[ -e ${PIN[$n]}/prog_to_pod ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -e ${PIN[$n]}/prog_to_pod ]] || { cat "$TMP/xcnid-$n.log" >&2; die "xcnid ($n) did not come up"; }
	cat >"$TMP/$n.conf" <<EOF
{"cniVersion":"1.0.0","name":"$PREFIX-$n","type":"$(basename "$XCNI_BIN")","mtu":1500,"stateDir":"$TMP/state-$n","pinDir":"${PIN[$n]}","ipam":{"type":"host-local","ranges":[[{"subnet":"${SUBNET[$n]}"}]],"dataDir":"$TMP/ipam-$n"}}
EOF
}

# apply NODE APPLY_WAIT-ARGS...: one generation through the node's manifest
# dir; apply_wait's line in $out (not a subshell: GEN must count).
apply() {
	local n=$1
	shift
	GEN[$n]=$((GEN[$n] + 1))
	"$APPLY_WAIT" apply "${PIN[$n]}" "$TMP/m-$n" "${GEN[$n]}" -t 120000 "$@" >"$TMP/apply.out" ||
		{ tail -n 20 "$TMP/xcnid-$n.log" >&2; die "$n: generation ${GEN[$n]} was not applied"; }
	out=$(cat "$TMP/apply.out")
}

# ---------------------------------------------------------------------------
# Section 1: connections from a pod to a ClusterIP (and to the pod directly,
# and from the node to the pod), N Services programmed.
#
#   node k: xcnid --kube-proxy-replacement     node p: xcnid (Services left to kube-proxy)
#   +-------+   +-------+                      +-------+   +-------+
#   | k-cli |   | k-srv |                      | p-cli |   | p-srv |
#   +-eth0--+   +-eth0--+                      +-eth0--+   +-eth0--+
#       | from_pod: VIP -> srv, redirect           | from_pod: to the stack ->
#   ----+---------------------------+----      ----+ PREROUTING nat: iptables
#                                                    (KUBE-SERVICES ...) or nftables
#                                                    (table ip kube-proxy) -> srv
#
# Layouts: xcni (node k: the Services as manifests, through the agent), ipt
# (node p: kube-proxy's iptables rules, iptables-restore), nft (node p:
# kube-proxy's nftables table, nft -f). The Service under test is VIP:80 ->
# srv:8080, named last; the other N-1 have one endpoint each on another node.
# xref (node r, built as node k, not with --check): xcni at the smallest size
# all along, measured in every round next to the others, so "xcni at N
# Services against xcni at the smallest" is a ratio from the same rounds, not
# from minutes apart on a machine whose load changes.
if run_section 1; then
	NODES1=(k r p) XNODES=(k r)
	((CHECK)) && NODES1=(k p) XNODES=(k)
	# One namespace holds every Service (up to 30,000): no share of the maps (default 50%).
	for n in "${XNODES[@]}"; do start_node "$n" --kube-proxy-replacement --service-ns-share=100; done
	start_node p
	for n in "${NODES1[@]}"; do
		for p in cli srv; do
			ns=$(pod_ns "$n" "$p")
			add_ns "$ns" || die "creating netns $ns failed"
			ADDED+=("$n $p")
			res=$(cni ADD "$n" "$p" 2>"$TMP/add.err") ||
				{ cat "$TMP/add.err" >&2; [[ -z $res ]] || echo "$res" >&2; die "$n: CNI ADD pod $p failed"; }
			IP[$n-$p]=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$res") ||
				die "$n: CNI ADD pod $p: no address in the result: $res"
		done
		# The client closes first and opens thousands of connections a second.
		ip netns exec "$(pod_ns "$n" cli)" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
			net.ipv4.tcp_tw_reuse=1 || die "$n: setting the client's sysctls failed"
		ip netns exec "$(node_ns "$n")" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
			net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_forward=1 || die "$n: setting the node's sysctls failed"
		srv=$(pod_ns "$n" srv)
		ip netns exec "$srv" "${ON_SERVER[@]}" "$CONN_RATE" server -b "${IP[$n-srv]}" -p $TPORT \
			>"$TMP/$n-srv.log" 2>&1 &
		SERVER_PIDS+=("$!")
		wait_listen "$srv" $TPORT "$!" || { cat "$TMP/$n-srv.log" >&2; die "$n: conn_rate server did not start"; }
	done
	say "pods: node k ${IP[k-cli]} -> ${IP[k-srv]}, node p ${IP[p-cli]} -> ${IP[p-srv]}"

	# Manifests for node k, made cumulatively: size S adds the Services its
	# predecessor lacks (fill-S-*.yaml), so the sizes are applied in order.
	# The rules for node p, one file per size and layout.
	python3 - "$TMP" "$SIZES" "$NODE_NAME" "${IP[k-cli]}" "${IP[k-srv]}" "${IP[p-srv]}" \
		"$VIP" "$VPORT" "$TPORT" "$FILL_NET" "$POD_CIDR" "${IP[r-cli]:--}" "${IP[r-srv]:--}" \
		"${IP[p-cli]}" <<'PY'
import base64, hashlib, ipaddress, os, sys
tmp, sizes, node, kcli, ksrv, psrv, vip, vport, tport, fill_net, pod_cidr, rcli, rsrv, pcli = sys.argv[1:]
sizes = [int(s) for s in sizes.split(",")]
vport, tport = int(vport), int(tport)
base = int(ipaddress.ip_address("10.96.0.1"))
def cip(i): return str(ipaddress.ip_address(base + i))
def ep(i): return f"{fill_net}.{i // 250}.{i % 250 + 1}"
def svc_yaml(name, ip, eps, epnode):
    e = "".join(f"\n  - addresses: [\"{a}\"]\n    nodeName: {epnode}" for a in eps)
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: bench\n"
            f"spec:\n  clusterIP: {ip}\n  selector:\n    app: {name}\n  ports:\n"
            f"  - name: http\n    port: {vport}\n    protocol: TCP\n    targetPort: {tport}\n---\n"
            f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n"
            f"  namespace: bench\n  labels:\n    kubernetes.io/service-name: {name}\n"
            f"addressType: IPv4\nports:\n- name: http\n  port: {tport}\n  protocol: TCP\n"
            f"endpoints:{e}\n")
for x, cli, srv in (("k", kcli, ksrv), ("r", rcli, rsrv)):
    if cli == "-":
        continue
    os.makedirs(f"{tmp}/{x}-base", exist_ok=True)
    open(f"{tmp}/{x}-base/00-base.yaml", "w").write(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n---\n"
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: cli\n  namespace: bench\nspec:\n  nodeName: {node}\n"
        f"status:\n  podIP: {cli}\n---\n"
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: srv\n  namespace: bench\n  labels:\n    app: zz-target\n"
        f"spec:\n  nodeName: {node}\nstatus:\n  podIP: {srv}\n---\n" +
        svc_yaml("zz-target", vip, [srv], node))
# Node p's pods too, without the Service (kube-proxy's rules serve it there):
# an agent that follows cluster state keeps a pod it has not seen closed.
os.makedirs(f"{tmp}/p-base", exist_ok=True)
open(f"{tmp}/p-base/00-base.yaml", "w").write(
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n---\n"
    f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: cli\n  namespace: bench\nspec:\n  nodeName: {node}\n"
    f"status:\n  podIP: {pcli}\n---\n"
    f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: srv\n  namespace: bench\n  labels:\n    app: zz-target\n"
    f"spec:\n  nodeName: {node}\nstatus:\n  podIP: {psrv}\n")
have = 0
for s in sizes:
    d = f"{tmp}/k-fill-{s}"
    os.makedirs(d, exist_ok=True)
    want = s - 1  # the fillers; the target makes s
    for c in range(have, want, 500):
        open(f"{d}/fill-{c:05d}.yaml", "w").write("---\n".join(
            svc_yaml(f"s{i:05d}", cip(i), [ep(i)], "n2") for i in range(c, min(c + 500, want))))
    have = want

def b32(s): return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:16]
for s in sizes:
    svcs = [(f"bench/s{i:05d}:http", cip(i), ep(i)) for i in range(s - 1)]
    svcs.append(("bench/zz-target:http", vip, psrv))  # last, the worst case of a chain
    # kube-proxy's iptables layout (pkg/proxy/iptables), as user/lab/kproxy.c renders it.
    decl = [":KUBE-SERVICES - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]",
            ":KUBE-NODEPORTS - [0:0]"]
    rules = ["-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
             "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
             "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
             "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
             "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
             "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
             "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"]
    svcrules, seprules = [], []
    for spn, ip, e in svcs:
        sc, sp = "KUBE-SVC-" + b32(spn + "tcp"), "KUBE-SEP-" + b32(spn + "tcp" + e)
        decl += [f":{sc} - [0:0]", f":{sp} - [0:0]"]
        svcrules.append(f"-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"{spn} cluster IP\" -m tcp --dport {vport} -j {sc}")
        seprules += [f"-A {sc} ! -s {pod_cidr} -d {ip}/32 -p tcp -m comment --comment \"{spn} cluster IP\" -m tcp --dport {vport} -j KUBE-MARK-MASQ",
                     f"-A {sc} -m comment --comment \"{spn} -> {e}:{tport}\" -j {sp}",
                     f"-A {sp} -s {e}/32 -m comment --comment \"{spn}\" -j KUBE-MARK-MASQ",
                     f"-A {sp} -p tcp -m comment --comment \"{spn}\" -m tcp -j DNAT --to-destination {e}:{tport}"]
    svcrules.append("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    filt = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
            ":KUBE-SERVICES - [0:0]",
            "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
            "COMMIT"]
    nat = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
           ":POSTROUTING ACCEPT [0:0]"] + decl + rules + svcrules + seprules + ["COMMIT"]
    open(f"{tmp}/ipt-{s}.rules", "w").write("\n".join(nat + filt) + "\n")
    # kube-proxy's nftables layout (pkg/proxy/nftables): one verdict map from
    # daddr . proto . dport to a service chain, numgen to an endpoint chain.
    m, chains = [], []
    for spn, ip, e in svcs:
        ns, rest = spn.split("/")
        name, port = rest.split(":")
        sc = f"service-{b32(spn + 'tcp')[:8]}-{ns}/{name}/tcp/{port}"
        ec = f"endpoint-{b32(spn + 'tcp' + e)[:8]}-{ns}/{name}/tcp/{port}__{e}/{tport}"
        m.append(f"{ip} . tcp . {vport} : goto {sc}")
        cnt = " counter" if name == "zz-target" else ""
        chains.append(f"chain {sc} {{\n ip daddr {ip} tcp dport {vport} ip saddr != {pod_cidr} jump mark-for-masquerade\n"
                      f" numgen random mod 1 vmap {{ 0 : goto {ec} }}\n}}\n"
                      f"chain {ec} {{\n ip saddr {e} jump mark-for-masquerade\n meta l4proto tcp{cnt} dnat to {e}:{tport}\n}}")
    nft = ("table ip kube-proxy {\n"
           " map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = {\n  " +
           ",\n  ".join(m) + " } }\n"
           " map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }\n"
           " map service-nodeports { type inet_proto . inet_service : verdict; }\n"
           " set nodeport-ips { type ipv4_addr; }\n"
           " chain nat-prerouting { type nat hook prerouting priority -100; policy accept; jump services; }\n"
           " chain nat-output { type nat hook output priority -100; policy accept; jump services; }\n"
           " chain nat-postrouting { type nat hook postrouting priority 100; policy accept; jump masquerading; }\n"
           " chain filter-forward { type filter hook forward priority -110; policy accept; ct state new jump service-endpoints-check; }\n"
           " chain filter-output { type filter hook output priority -110; policy accept; ct state new jump service-endpoints-check; }\n"
           " chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }\n"
           " chain mark-for-masquerade { meta mark set meta mark or 0x4000; }\n"
           " chain masquerading { meta mark and 0x4000 == 0 return; meta mark set meta mark xor 0x4000; masquerade fully-random; }\n"
           " chain services { ip daddr . meta l4proto . th dport vmap @service-ips; ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports; }\n" +
           "\n".join(chains) + "\n}\n")
    open(f"{tmp}/nft-{s}.nft", "w").write(nft)
open(f"{tmp}/none.rules", "w").write(
    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
PY
	apply k -m "$TMP/k-base"
	apply p -m "$TMP/p-base"
	if ((!CHECK)); then
		# Node r: the smallest size, for good (its fill files copied: apply moves them).
		cp -r "$TMP/k-fill-${SIZE_LIST[0]}" "$TMP/r-fill"
		apply r -m "$TMP/r-base"
		apply r -m "$TMP/r-fill"
		nsvc=$("$APPLY_WAIT" count "${PIN[r]}/xcni_svc")
		((nsvc == SIZE_LIST[0])) || die "xref: xcni_svc holds $nsvc frontends, ${SIZE_LIST[0]} Services applied"
		[[ -z $(ip netns exec "$(node_ns r)" nft list ruleset 2>&1) ]] || die "xref: node r has netfilter rules"
	fi
	is_x() { [[ $1 == xcni || $1 == xref ]]; }

	pns() { ip netns exec "$(node_ns p)" "$@"; }
	# load_p LAYOUT SIZE: node p holds exactly that layout's rules (or none).
	# (10k Services' nftables rules take the kernel ~15 s to validate: a
	# layout already in place is not loaded again.)
	P_LOADED=
	load_p() {
		[[ $P_LOADED != "$1-$2" ]] || return 0
		P_LOADED=
		pns nft flush ruleset || return 1
		case $1 in
		ipt) pns "$IPTABLES-restore" <"$TMP/ipt-$2.rules" || return 1 ;;
		nft) pns nft -f "$TMP/nft-$2.nft" || return 1 ;;
		esac
		P_LOADED=$1-$2
	}
	# target_hits LAYOUT: new connections the target's DNAT rule took on node p.
	target_hits() {
		case $1 in
		ipt) pns "$IPTABLES" -t nat -L "KUBE-SEP-$(python3 -c 'import base64,hashlib,sys; print(base64.b32encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode()[:16])' "bench/zz-target:httptcp${IP[p-srv]}")" -v -x -n |
			awk '/DNAT/ {print $1}' ;;
		nft) pns nft list ruleset | sed -nE '/zz-target/,/^\t}/ s/.*counter packets ([0-9]+).*/\1/p' | head -n 1 ;;
		esac
	}
	no_rules_k() { # node k: nothing in netfilter, so only BPF can translate
		[[ -z $(ip netns exec "$(node_ns k)" nft list ruleset 2>&1) ]]
	}

	# measure ROUND SIZE LAYOUT TARGET: one conn_rate run, into RESULTS.
	measure() {
		local n=p from dst port out
		[[ $3 == xcni ]] && n=k
		[[ $3 == xref ]] && n=r
		case $4 in
		svc) from=$(pod_ns "$n" cli) dst=$VIP port=$VPORT ;;
		pod) from=$(pod_ns "$n" cli) dst=${IP[$n-srv]} port=$TPORT ;;
		node) from=$(node_ns "$n") dst=${IP[$n-srv]} port=$TPORT ;;
		esac
		out=$(timeout $((SECS + 40)) ip netns exec "$from" "${ON_CLIENT[@]}" "$CONN_RATE" client \
			-c "$dst" -p "$port" -d "$SECS" -w 1 2>"$TMP/conn.err") ||
			{ cat "$TMP/conn.err" >&2; die "$3 $4 ($2 Services): conn_rate client failed"; }
		read -r rate p50 p99 < <(sed -E 's/.*rate=([0-9.]+).*p50_us=([0-9.]+).*p99_us=([0-9.]+).*/\1 \2 \3/' <<<"$out")
		[[ $rate =~ ^[0-9.]+$ ]] || die "cannot parse conn_rate output: $out"
		printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$rate" "$p50" "$p99" >>"$RESULTS"
		say "round $1, $2 Services, $3, $4: $rate conn/s, p50 $p50 us, p99 $p99 us"
		CONNS=$(sed -E 's/.*conns=([0-9]+).*/\1/' <<<"$out")
	}
	probe() { # probe NETNS IP PORT: one connection (conn_rate's exchange) within 2 s
		timeout 10 ip netns exec "$1" "$CONN_RATE" client -c "$2" -p "$3" -d 1 -w 0 -t 2 >/dev/null 2>&1
	}

	LAYOUTS=(xcni ipt nft)
	((CHECK)) || LAYOUTS=(xcni xref ipt nft)
	for s in "${SIZE_LIST[@]}"; do
		apply k -m "$TMP/k-fill-$s"
		say "$s Services: node k applied through the agent ($out)"
		nsvc=$("$APPLY_WAIT" count "${PIN[k]}/xcni_svc")
		((nsvc == s)) || die "xcni: xcni_svc holds $nsvc frontends, $s Services applied"
		# Every layout checked before timing: the ClusterIP reaches the server
		# through that layout's own rules and nothing else.
		no_rules_k || die "xcni: node k has netfilter rules: $(ip netns exec "$(node_ns k)" nft list ruleset | head)"
		probe "$(pod_ns k cli)" "$VIP" $VPORT || die "xcni: $VIP:$VPORT does not reach the server ($s Services)"
		load_p none "$s"
		! probe "$(pod_ns p cli)" "$VIP" $VPORT || die "node p without rules: $VIP:$VPORT answered"
		for l in ipt nft; do
			load_p "$l" "$s" || die "$l: loading the $s-Service rules failed"
			h0=$(target_hits "$l")
			probe "$(pod_ns p cli)" "$VIP" $VPORT || die "$l: $VIP:$VPORT does not reach the server ($s Services)"
			h1=$(target_hits "$l")
			((h1 > h0)) || die "$l: the connection did not take the target's DNAT rule ($h0 -> $h1)"
			passed "$s Services: $l: pod -> $VIP:$VPORT reaches ${IP[p-srv]}:$TPORT through the layout's DNAT rule (counter $h0 -> $h1)"
		done
		passed "$s Services: xcni: pod -> $VIP:$VPORT reaches ${IP[k-srv]}:$TPORT with $nsvc BPF frontends and no netfilter rule"
		if ((!CHECK)); then
			probe "$(pod_ns r cli)" "$VIP" $VPORT || die "xref: $VIP:$VPORT does not reach the server"
			passed "xref: pod -> $VIP:$VPORT reaches ${IP[r-srv]}:$TPORT with ${SIZE_LIST[0]} BPF frontends"
		fi
		((CHECK)) && continue
		for ((r = 1; r <= ROUNDS; r++)); do
			for ((i = 0; i < ${#LAYOUTS[@]}; i++)); do
				# Rotating; round 1 starts where the checks left node p (nft).
				l=${LAYOUTS[(i + r + 1) % ${#LAYOUTS[@]}]}
				is_x "$l" || load_p "$l" "$s" || die "$l: loading the rules failed"
				is_x "$l" || h0=$(target_hits "$l")
				measure "$r" "$s" "$l" svc
				if ! is_x "$l"; then
					h1=$(target_hits "$l")
					# Every counted connection (and the warm-up's) took the rules.
					((h1 - h0 >= CONNS)) || die "$l: DNAT counter grew by $((h1 - h0)), $CONNS connections counted"
				fi
				measure "$r" "$s" "$l" pod
				measure "$r" "$s" "$l" node
			done
		done
	done
	if ((CHECK)); then
		echo "3 passed, 0 failed"
		exit 0
	fi
fi

# ---------------------------------------------------------------------------
# Section 2: programming time. Through the agent (node g: xcnid
# --kube-proxy-replacement on a manifest dir; apply_wait renames the files in
# and polls applied_gen, which xcnid sets after the Service maps are written),
# then the writer alone (svc_prog: svc_build + svcsync on maps with no agent).
PROG_TSV=$TMP/prog.tsv
: >"$PROG_TSV"
if run_section 2; then
	start_node g --kube-proxy-replacement
	read -r MOVED_EP ORIG_EP < <(python3 - "$TMP" "$NPROG" "$NEPS" "$VPORT" "$TPORT" <<'PY'
import ipaddress, os, sys
tmp, n, neps, vport, tport = sys.argv[1:]
n, neps = int(n), int(neps)
svc0, ep0 = int(ipaddress.ip_address("10.96.0.1")), int(ipaddress.ip_address("10.128.0.0"))
ip = lambda x: str(ipaddress.ip_address(x))
def one(i, moved=False):
    eps = [ip(ep0 + i * neps + j) for j in range(neps)]
    if moved:
        eps[neps // 2] = ip(ep0 + 0x200000 + i)
    e = "".join(f"\n- addresses: [\"{a}\"]\n  nodeName: n2" for a in eps)
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: s{i:05d}\n  namespace: bench\n"
            f"spec:\n  clusterIP: {ip(svc0 + i)}\n  selector:\n    app: s{i:05d}\n  ports:\n"
            f"  - name: http\n    port: {vport}\n    protocol: TCP\n    targetPort: {tport}\n---\n"
            f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s{i:05d}-1\n"
            f"  namespace: bench\n  labels:\n    kubernetes.io/service-name: s{i:05d}\n"
            f"addressType: IPv4\nports:\n- name: http\n  port: {tport}\n  protocol: TCP\n"
            f"endpoints:{e}\n")
os.makedirs(f"{tmp}/g-stage", exist_ok=True)
open(f"{tmp}/g-stage/00-ns.yaml", "w").write("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n")
c = n // 2  # the changed Service has a file of its own
for k in range(0, n, 500):
    open(f"{tmp}/g-stage/svc-{k:05d}.yaml", "w").write("---\n".join(one(i) for i in range(k, min(k + 500, n)) if i != c))
for v in (0, 1):
    os.makedirs(f"{tmp}/g-chg/{v}", exist_ok=True)
    open(f"{tmp}/g-chg/{v}/svc-changed.yaml", "w").write(one(c, moved=bool(v)))
print(ip(ep0 + 0x200000 + c), ip(ep0 + c * neps + neps // 2))
PY
)
	cp "$TMP/g-chg/0/svc-changed.yaml" "$TMP/g-stage/"
	mkdir -p "$TMP/g-out" "$TMP/g-one"
	want_slots=$((NPROG * NEPS))
	counts() { echo "$("$APPLY_WAIT" count "${PIN[g]}/xcni_svc") $("$APPLY_WAIT" count "${PIN[g]}/xcni_svcslot") $("$APPLY_WAIT" count "${PIN[g]}/xcni_backend")"; }
	for ((r = 1; r <= REPS; r++)); do
		apply g -m "$TMP/g-stage"
		printf 'agent\tall\t%s\n' "$(sed -E 's/.*total_ms=([0-9.]+).*/\1/' <<<"$out")" >>"$PROG_TSV"
		read -r c_svc c_slot c_be < <(counts)
		say "agent: $NPROG Services x $NEPS endpoints from empty, rep $r: $out; maps: $c_svc frontends, $c_slot slots, $c_be backends"
		((c_svc == NPROG && c_slot == want_slots && c_be == want_slots)) ||
			die "agent: the maps hold $c_svc/$c_slot/$c_be, expected $NPROG/$want_slots/$want_slots"
		for ((k = 1; k <= REPS; k++)); do
			cp "$TMP/g-chg/$((k % 2))/svc-changed.yaml" "$TMP/g-one/"
			apply g -f "$TMP/g-one/svc-changed.yaml"
			printf 'agent\tone\t%s\n' "$(sed -E 's/.*total_ms=([0-9.]+).*/\1/' <<<"$out")" >>"$PROG_TSV"
			read -r c_svc c_slot c_be < <(counts)
			((c_svc == NPROG && c_slot == want_slots && c_be == want_slots)) ||
				die "agent: after one change the maps hold $c_svc/$c_slot/$c_be"
			say "agent: one endpoint changed, rep $r.$k: $out"
		done
		# The endpoint the last change put in is a backend, the one it took out is not.
		if ((REPS % 2)); then has=$MOVED_EP gone=$ORIG_EP; else has=$ORIG_EP gone=$MOVED_EP; fi
		"$SVC_PROG" "${PIN[g]}" --has-backend "$has:$TPORT" && ! "$SVC_PROG" "${PIN[g]}" --has-backend "$gone:$TPORT" ||
			die "agent: after the last change xcni_backend should hold $has:$TPORT and not $gone:$TPORT"
		[[ $r -eq $REPS ]] && break
		apply g -o "$TMP/g-out"
		printf 'agent\tdelete\t%s\n' "$(sed -E 's/.*total_ms=([0-9.]+).*/\1/' <<<"$out")" >>"$PROG_TSV"
		read -r c_svc c_slot c_be < <(counts)
		((c_svc == 0 && c_slot == 0 && c_be == 0)) || die "agent: after delete the maps hold $c_svc/$c_slot/$c_be"
		say "agent: everything deleted, rep $r: $out"
		# Back into the stage (apply -o moved every file out), the changed
		# Service as it started, so each rep's first change is a change.
		mv "$TMP/g-out/"* "$TMP/g-stage/"
		cp "$TMP/g-chg/0/svc-changed.yaml" "$TMP/g-stage/"
	done
	grep -E "generation [0-9]+: [0-9]+ frontends" "$TMP/xcnid-g.log" | tail -n 3 | sed 's/^/svc: xcnid: /' || true

	# The writer alone, on maps xcnid made (it is stopped first: one writer).
	kill "${DAEMONS[-1]}" && wait "${DAEMONS[-1]}" 2>/dev/null || true
	rm -rf "${PIN[g]}"
	nsenter --net="/var/run/netns/$(node_ns g)" "$XCNID_BIN" --pin-dir "${PIN[g]}" --pod-cidr "${SUBNET[g]}" \
		--node-name "$NODE_NAME" --manifests "$TMP/g-out" --no-masquerade --kube-proxy-replacement \
		>"$TMP/xcnid-g2.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [[ -e ${PIN[g]}/prog_to_pod ]] && break; sleep 0.1; done
	kill "$pid" && wait "$pid" 2>/dev/null || true
	[[ -e ${PIN[g]}/xcni_svc ]] || die "xcnid did not pin the Service maps"
	# svc_incr + svcsync_apply_delta (xcnid's way), then -F: svc_build and the
	# whole list compared every step (before svc_incr), on the same maps.
	for w in svcsync svcsync-whole; do
		f=; [[ $w == svcsync ]] || f=-F
		"$SVC_PROG" "${PIN[g]}" -n "$NPROG" -e "$NEPS" -r "$REPS" $f >"$TMP/svc_prog.out" || { cat "$TMP/svc_prog.out"; die "svc_prog $f failed"; }
		sed "s/^/svc: svc_prog $f: /" "$TMP/svc_prog.out"
		awk -v w="$w" '/^step=(all|one|delete)/ { split($1, a, "="); for (i = 2; i <= NF; i++) { split($i, b, "="); v[b[1]] = b[2] }
			printf "%s\t%s\t%s\t%s\t%s\n", w, a[2], v["total_ms"], v["build_ms"], v["sync_ms"] + v["cleanup_ms"] }' \
			"$TMP/svc_prog.out" >>"$PROG_TSV"
	done
fi

# ---------------------------------------------------------------------------
# Summary.
python3 - "$RESULTS" "$PROG_TSV" "$BUILD/bench-svc.json" "$SECS" "$ROUNDS" "$IPTABLES" "$NPROG" "$NEPS" <<'PY'
import csv, json, os, statistics as stat, sys
tsv, ptsv, out, secs, rounds, ipt, nprog, neps = sys.argv[1:]
med = stat.median
doc, lines = {"seconds": int(secs), "rounds": int(rounds), "iptables": ipt}, []
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
if rows:
    sizes = sorted({int(r["size"]) for r in rows})
    res = {}
    for r in rows:
        res.setdefault((int(r["size"]), r["layout"], r["target"]), []).append(r)
    def m(s, l, t, k):
        return med(float(r[k]) for r in res[(s, l, t)])
    print(f"\n{'Services':>8}  {'layout':<6}{'to ClusterIP: conn/s':>21}{'p50 us':>9}{'p99 us':>9}"
          f"{'to pod: conn/s':>16}{'p50 us':>9}{'node to pod: conn/s':>21}{'p50 us':>9}")
    table = []
    for s in sizes:
        for l in ("xcni", "xref", "ipt", "nft"):
            if (s, l, "svc") not in res:
                continue
            e = {"size": s, "layout": l}
            for t in ("svc", "pod", "node"):
                e[t] = {k: m(s, l, t, k) for k in ("conn_s", "p50_us", "p99_us")}
            table.append(e)
            print(f"{s:>8}  {l:<6}{e['svc']['conn_s']:>21.0f}{e['svc']['p50_us']:>9.1f}{e['svc']['p99_us']:>9.1f}"
                  f"{e['pod']['conn_s']:>16.0f}{e['pod']['p50_us']:>9.1f}{e['node']['conn_s']:>21.0f}{e['node']['p50_us']:>9.1f}")
    doc["connections"] = table
    print(f"\n{'Services':>8}  {'xcni/ipt conn/s':>16}{'xcni/nft conn/s':>16}{'xcni/ipt p50':>14}"
          f"{'ipt vs 10: svc p50':>20}{'pod p50':>9}{'node p50':>10}")
    lo = sizes[0]
    for s in sizes:
        g = lambda l, t, k: m(s, l, t, k)
        print(f"{s:>8}  {g('xcni','svc','conn_s') / g('ipt','svc','conn_s'):>15.2f}x"
              f"{g('xcni','svc','conn_s') / g('nft','svc','conn_s'):>15.2f}x"
              f"{g('xcni','svc','p50_us') / g('ipt','svc','p50_us'):>13.2f}x"
              f"{g('ipt','svc','p50_us') / m(lo,'ipt','svc','p50_us'):>19.2f}x"
              f"{g('ipt','pod','p50_us') / m(lo,'ipt','pod','p50_us'):>8.2f}x"
              f"{g('ipt','node','p50_us') / m(lo,'ipt','node','p50_us'):>9.2f}x")
    hi = sizes[-1]
    x = lambda s, k: m(s, "xcni", "svc", k)
    if (hi, "xref", "svc") in res:
        print(f"\n{'Services':>8}  {'xcni/xref: svc conn/s':>22}{'pod conn/s':>12}{'svc p50':>9}   (xref: xcni at {lo} Services, same rounds)")
        for s in sizes:
            print(f"{s:>8}  {x(s, 'conn_s') / m(s, 'xref', 'svc', 'conn_s'):>21.2f}x"
                  f"{m(s, 'xcni', 'pod', 'conn_s') / m(s, 'xref', 'pod', 'conn_s'):>11.2f}x"
                  f"{x(s, 'p50_us') / m(s, 'xref', 'svc', 'p50_us'):>8.2f}x")
        lines.append((f"xcni conn/s at {hi} Services >= 0.95x at {lo} (xref, same rounds)", x(hi, "conn_s") / m(hi, "xref", "svc", "conn_s"), lambda v: v >= 0.95, "%.2fx"))
    lines.append((f"xcni conn/s at {hi} Services >= 0.95x at {lo} (minutes apart)", x(hi, "conn_s") / x(lo, "conn_s"), lambda v: v >= 0.95, "%.2fx"))
    lines.append((f"xcni conn p50 at {hi} <= 0.6x iptables' at {hi}", x(hi, "p50_us") / m(hi, "ipt", "svc", "p50_us"), lambda v: v <= 0.6, "%.2fx"))
    worst = min(x(s, "conn_s") / m(s, "nft", "svc", "conn_s") for s in sizes)
    lines.append(("xcni conn/s >= nftables' at every size (worst)", worst, lambda v: v >= 1.0, "%.2fx"))
    # On a shared machine a rate is set by its 3 s window's preemptions (a
    # p99 of a scheduler tick, ~4 ms) more than by the layout: each round's
    # ratio side by side, the same round's two windows, and the p50s, which
    # a preempted connection moves much less.
    if int(rounds) > 1:
        byr = {(int(r["round"]), int(r["size"]), r["layout"]): r for r in rows if r["target"] == "svc"}
        rs = sorted({k[0] for k in byr})
        print(f"\n{'Services':>8}  {'xcni/nft per round:':<20}{'conn/s':>{7 * len(rs)}}  {'p50':>{7 * len(rs)}}"
              f"  p99 ms, xcni/nft")
        for s in sizes:
            if not all((r, s, l) in byr for r in rs for l in ("xcni", "nft")):
                continue
            g = lambda r, l, k: float(byr[(r, s, l)][k])
            print(f"{s:>8}  {'':<20}" + "".join(f"{g(r, 'xcni', 'conn_s') / g(r, 'nft', 'conn_s'):>6.2f}x" for r in rs)
                  + "  " + "".join(f"{g(r, 'xcni', 'p50_us') / g(r, 'nft', 'p50_us'):>6.2f}x" for r in rs)
                  + "  " + " ".join(f"{g(r, 'xcni', 'p99_us') / 1000:.1f}/{g(r, 'nft', 'p99_us') / 1000:.1f}" for r in rs))
    worst_p50 = max(x(s, "p50_us") / m(s, "nft", "svc", "p50_us") for s in sizes)
    lines.append(("xcni conn p50 <= nftables' at every size (worst)", worst_p50, lambda v: v <= 1.0, "%.2fx"))
prow = list(csv.reader(open(ptsv), delimiter="\t")) if os.path.exists(ptsv) else []
if prow:
    p = {}
    for r in prow:
        p.setdefault((r[0], r[1]), []).append([float(x) for x in r[2:]])
    print(f"\n{'programming time, ms':<56}{'median':>8}{'min':>9}{'max':>9}  n")
    names = {"all": f"{nprog} Services x {neps} endpoints, from empty", "one": "one endpoint changed",
             "delete": "every Service deleted"}
    doc["programming_ms"] = {}
    for who in ("agent", "svcsync", "svcsync-whole"):
        for k in ("all", "one", "delete"):
            if (who, k) in p:
                v = [r[0] for r in p[(who, k)]]
                extra = ""
                if who != "agent":
                    extra = f"   (svc_build {med(r[1] for r in p[(who, k)]):.1f}, maps {med(r[2] for r in p[(who, k)]):.1f})"
                doc["programming_ms"][f"{who}-{k}"] = {"median": med(v), "all": v}
                print(f"{who + ': ' + names[k]:<56}{med(v):>8.1f}{min(v):>9.1f}{max(v):>9.1f}  {len(v)}{extra}")
    for who in ("agent", "svcsync"):
        if (who, "all") in p:
            lines.append((f"{who}: {nprog} x {neps} from empty <= 1000 ms", med(r[0] for r in p[(who, "all")]), lambda v: v <= 1000, "%.1f ms"))
        if (who, "one") in p:
            lines.append((f"{who}: one endpoint change <= 50 ms", med(r[0] for r in p[(who, "one")]), lambda v: v <= 50, "%.1f ms"))
print()
doc["targets"] = []
for name, v, ok, fmt in lines:
    doc["targets"].append({"target": name, "value": v, "met": ok(v)})
    print(f"TARGET: {name:<50} -> {fmt % v}  {'MET' if ok(v) else 'NOT MET'}")
json.dump(doc, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
