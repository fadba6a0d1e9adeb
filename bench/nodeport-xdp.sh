#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# NodePort from outside (issue 42): 64-byte UDP packets per second delivered
# at the backend, the NodePort node's cost per packet, TCP request/response
# latency and new connections/s, from a network namespace on the lab's
# underlay bridge to node n1's NodePorts, one backend on n1 (local) and one
# on n2 (remote). Setups side by side, rounds interleaved (the order turns
# every round), one lab per setup and round. See bench/README.md
# ("nodeport-xdp"). Must run as root, after `make`; takes /tmp/xcni-test.lock
# itself for the whole run (don't wrap it in flock).
#
#   bash bench/nodeport-xdp.sh [-r ROUNDS] [-t SECONDS] [-n RR] [-c SECONDS]
#                              [-x XDP_MODES] [-a ACCEL_MODES] [-k KP_MODES]
#                              [-f FAMILY] [-g GENERATOR] [-U] [-p ROUNDS]
#
#   -r  rounds (default 3)
#   -t  seconds per packet-rate measurement (default 3)
#   -n  TCP round trips per RR measurement, after 500 uncounted (default 5000)
#   -c  seconds per connection-rate measurement after 1 s of warm-up (default 2;
#       0: no RR and no connection rate)
#   -x  XDP modes of the tc path's setups, comma separated: native, generic, tc
#       (XCNI_LAB_XDP: where the prefilter runs; default native)
#   -a  acceleration modes (xcnid --nodeport-acceleration): native, generic
#       (default native; a setup each, XDP attached in the same mode). Only
#       when `xcnid --help` lists the option, else a line says it was skipped
#   -k  kube-proxy modes, comma separated: iptables, nftables (default both;
#       one the lab lacks is skipped with a line saying so)
#   -f  ipv4 (default) or dual: a dual-stack lab, and every row again over
#       the IPv6 underlay addresses (frames of 70 bytes + FCS: IPv6's least)
#   -g  flood (default: bench/np_flood.c, sendmmsg on a packet socket; goes
#       on when the path refuses frames) or trafgen (netsniff-ng's, TX ring;
#       stops at the first refused frame, so -U only)
#   -U  no pinning: the generator, and with it every hop of the path (veth
#       runs the receiver on the sender's CPU), on one CPU, as issue 42's
#       figures were measured. Default: generator on CPU 0, and RPS on its
#       bridge port sends every later hop (bridge, n1, n2, the pod) to CPU 1
#   -p  rounds of the per-packet micro-benchmark after the labs (default 20;
#       0: none): bench/pkt_bench.c built with -DPKT_BENCH_PREFILTER, its
#       NodePort rows with the prefilter at tc (--xdp-mode tc) and without,
#       the prefilter's hit and miss at tc and at XDP (BPF_PROG_TEST_RUN)
#
#   netns xnpx<pid>-g: g0 192.168.77.200/24 (fd00:77::c8)     lab netns xcl-ul
#     generator (CPU 0), RR and conn clients  ── veth ── br0 port ulg<pid>
#                                                       (RPS -> CPU 1)
#                         ┌─────────────────────────────┴───────┐
#     xcl-n1 ul0 192.168.77.1 (NodePort node)         xcl-n2 ul0 192.168.77.2
#       pod npx/bl (local backend)                      pod npx/br (remote backend)
#
#   npx/loc NodePort 30100/udp (sink), 30110/tcp (pingpong), 30120/tcp (conn_rate) -> bl
#   npx/rem NodePort 30101/udp, 30111/tcp, 30121/tcp                               -> br
#
# Setups (each its own `xcnictl lab up --nodes 2`):
#   xcni-MODE   --kube-proxy none, XCNI_LAB_XDP=MODE: today's tc path (from_overlay)
#               rows local, remote; floor (the same frames from a source on the
#               prefilter deny list, dropped at XDP: `xcnictl prefilter add`);
#               the first one also: ceiling (the generator into a drop program
#               at its own bridge port's tc ingress; pinned, that drop runs on
#               CPU 1 and costs it more than the floor's XDP drop: read it as
#               CPU 1's, bench/README.md)
#   accel-MODE  the same with --agent-arg --nodeport-acceleration=MODE
#   kp-MODE     --kube-proxy MODE (xcnid as the first xcni setup's XDP mode)
# Per row: sent/s (generator), delivered/s (the backend pod's UDP counters:
# InDatagrams + NoPorts + InErrors, which counts RcvbufErrors; floor: the deny-list
# entry's drops), n1's BPF ns per run of the XDP program and of from_overlay
# and their sum per packet (kernel.bpf_stats_enabled=1 during the run, put
# back after), softirq ns per packet (/proc/stat: CPU 1, or both with -U:
# every hop, not n1's alone).
#
# Environment: BUILD (default <repo>/build), CC, CLANG.
set -euo pipefail

# shellcheck disable=SC2034 # lib.sh's messages name it
BENCH=nodeport-xdp
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNICTL=$BUILD/xcnictl
CLANG=${CLANG:-clang}
ROUNDS=3 SECS=3 RR_N=5000 CR_SECS=2 XDPS=native ACCELS=native KPS=iptables,nftables
FAMILY=ipv4 GEN=flood PIN=1 PB_ROUNDS=20 NFT_BENCH=0

opts 0 "r:ROUNDS t:SECS n:RR_N c:CR_SECS x:XDPS a:ACCELS k:KPS f:FAMILY g:GEN U=PIN=0 p:PB_ROUNDS" "$@"

num_in "$ROUNDS" 1 20 || die "-r must be 1..20 (got '$ROUNDS')"
num_in "$SECS" 1 60 || die "-t must be 1..60 (got '$SECS')"
num_in "$RR_N" 100 1000000 || die "-n must be 100..1000000 (got '$RR_N')"
num_in "$CR_SECS" 0 60 || die "-c must be 0..60 (got '$CR_SECS')"
num_in "$PB_ROUNDS" 0 1000 || die "-p must be 0..1000 (got '$PB_ROUNDS')"
[[ $XDPS =~ ^(native|generic|tc)(,(native|generic|tc))*$ ]] || die "-x: native, generic, tc, comma separated (got '$XDPS')"
[[ $ACCELS =~ ^(native|generic)(,(native|generic))*$ ]] || die "-a: native, generic, comma separated (got '$ACCELS')"
[[ $KPS =~ ^((iptables|nftables)(,(iptables|nftables))*)?$ ]] || die "-k: iptables, nftables, comma separated (got '$KPS')"
[[ $FAMILY == ipv4 || $FAMILY == dual ]] || die "-f: ipv4 or dual (got '$FAMILY')"
[[ $GEN == flood || $GEN == trafgen ]] || die "-g: flood or trafgen (got '$GEN')"
[[ $GEN == flood ]] || ((!PIN)) || die "-g trafgen needs -U: trafgen stops at the first frame the other CPU's backlog refuses"
need ip tc ethtool nsenter timeout taskset python3 flock bpftool sysctl "$CC" "$CLANG"
[[ $GEN == flood ]] || need trafgen
(($(nproc) >= 2)) || ((!PIN)) || die "pinning needs 2 CPUs (-U runs on one)"
for b in "$XCNICTL" "$BUILD/xcnid" "$BUILD/xcni"; do [[ -x $b ]] || die "$b not found (make first)"; done
export XCNI_BIN=$BUILD/xcni XCNID_BIN=$BUILD/xcnid

TAG=xnpx$$
GNS=$TAG-g
GPORT=ulg$$ # the generator's port on the lab's bridge (in xcl-ul)
GEN4=192.168.77.200 GEN6=fd00:77::c8
W=$(mktemp -d /tmp/$TAG.XXXXXX)
export XCNI_LAB_DIR=$W/lab
UP=0 NS_bl='' NS_br='' NO_TCP=''
PIDS=()
STATS0=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
	local p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$GNS" 2>/dev/null || true
	if ((UP)); then "$XCNICTL" lab down >/dev/null 2>&1 || true; fi
	sysctl -qw kernel.bpf_stats_enabled="$STATS0" || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the tools ---------------------------------------------------------------------
FLOOD=$W/np_flood PP=$W/pingpong CR=$W/conn_rate DROP=$W/drop.o
tool "$FLOOD" np_flood
tool "$PP" pingpong
tool "$CR" conn_rate
$CLANG -O2 -g -target bpf -Wall -Wextra -Werror -I"/usr/include/$($CC -dumpmachine)" \
	-c "$HERE/drop.bpf.c" -o "$DROP" || die "compiling drop.bpf.c failed"
PB=$W/pkt_bench
if ((PB_ROUNDS)); then
	# A tree with the XDP fast path (np_accel in xdp_underlay's rodata): its
	# rows too (pkt_bench.c's XCNI_HAS_NPACCEL, branch xdp42).
	pbdef=(-DPKT_BENCH_PREFILTER)
	grep -q 'np_accel' "$BUILD/gen/xdp_underlay.skel.h" && pbdef+=(-DXCNI_HAS_NPACCEL)
	# shellcheck disable=SC2046 # pkg-config's flags are separate words
	$CC -O2 -Wall "${pbdef[@]}" -I"$BUILD/gen" -I"$ROOT/bpf" -o "$PB" "$HERE/pkt_bench.c" \
		$(pkg-config --libs libbpf 2>/dev/null || echo -lbpf) || die "compiling pkt_bench.c (-DPKT_BENCH_PREFILTER) failed"
fi

# ---- the setups --------------------------------------------------------------------
SETUPS=()
IFS=, read -ra xdps <<<"$XDPS"
for m in "${xdps[@]}"; do SETUPS+=("xcni-$m"); done
# The help texts read whole first: with pipefail, `grep -q` ending the pipe
# early would make a match look like a failure (SIGPIPE to the writer).
XCNID_HELP=$("$BUILD/xcnid" --help 2>&1 || true)
LABUP_HELP=$("$XCNICTL" lab up --help 2>&1 || true)
if grep -q -- --nodeport-acceleration <<<"$XCNID_HELP"; then
	IFS=, read -ra accels <<<"$ACCELS"
	for m in "${accels[@]}"; do SETUPS+=("accel-$m"); done
else
	say "skipped: xcnid has no --nodeport-acceleration (the accel-* setups)"
fi
IFS=, read -ra kps <<<"$KPS"
for m in "${kps[@]+"${kps[@]}"}"; do
	if grep -q -- "--kube-proxy.*$m" <<<"$LABUP_HELP"; then
		SETUPS+=("kp-$m")
	elif [[ $m == nftables && $FAMILY == ipv4 ]]; then
		# No lab mode: kube-proxy's nftables layout written by this script on
		# n1 of an iptables lab, kube-proxy's iptables rules removed there.
		say "the lab has no --kube-proxy nftables: kp-nftables is kube-proxy's nftables layout, built by this script on n1"
		SETUPS+=("kp-nftables")
		need nft iptables
		NFT_BENCH=1
	else
		say "skipped: the lab has no --kube-proxy $m (lab up --help; the script's own layout is IPv4 only)"
	fi
done
FIRST_XCNI=${SETUPS[0]}
FAMS=(4)
[[ $FAMILY == dual ]] && FAMS=(4 6)

DS=
[[ $FAMILY == dual ]] && DS="ipFamilyPolicy: PreferDualStack, "
cat >"$W/npx.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: npx}
---
apiVersion: v1
kind: Pod
metadata: {name: bl, namespace: npx, labels: {app: bl}}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: br, namespace: npx, labels: {app: br}}
spec: {nodeName: n2, containers: [{name: c}]}
---
apiVersion: v1
kind: Service
metadata: {name: loc, namespace: npx}
spec: {type: NodePort, ${DS}selector: {app: bl}, ports: [{name: u, port: 9, protocol: UDP, targetPort: 9, nodePort: 30100}, {name: rr, port: 80, targetPort: 7000, nodePort: 30110}, {name: cr, port: 81, targetPort: 7001, nodePort: 30120}]}
---
apiVersion: v1
kind: Service
metadata: {name: rem, namespace: npx}
spec: {type: NodePort, ${DS}selector: {app: br}, ports: [{name: u, port: 9, protocol: UDP, targetPort: 9, nodePort: 30101}, {name: rr, port: 80, targetPort: 7000, nodePort: 30111}, {name: cr, port: 81, targetPort: 7001, nodePort: 30121}]}
EOF

ON_GEN=() ON_SRV=()
if ((PIN)); then ON_GEN=(taskset -c 0) ON_SRV=(taskset -c 1); fi

lab_json() { "$XCNICTL" lab get --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# up SETUP: the lab, the pods and Services, the servers, the generator's netns.
up() {
	local s=$1 xdp kp=none args=() ns
	case $s in
	xcni-*) xdp=${s#xcni-} ;;
	accel-*) xdp=${s#accel-} args=(--agent-arg "--nodeport-acceleration=${s#accel-}") ;;
	kp-*) kp=${s#kp-} xdp=${FIRST_XCNI#xcni-} ;;
	esac
	if [[ $s == kp-nftables ]] && ((NFT_BENCH)); then kp=iptables; fi
	[[ $xdp == native || $xdp == generic || $xdp == tc ]] || xdp=native
	UP=1
	XCNI_LAB_XDP=$xdp "$XCNICTL" lab up --nodes 2 --kube-proxy "$kp" --ip-family "$FAMILY" \
		"${args[@]+"${args[@]}"}" >"$W/up.log" 2>&1 || { cat "$W/up.log" >&2; die "$s: lab up failed"; }
	"$XCNICTL" lab apply -f "$W/npx.yaml" >"$W/apply.log" 2>&1 || { cat "$W/apply.log" >&2; die "$s: lab apply failed"; }
	if [[ $s == kp-nftables ]] && ((NFT_BENCH)); then nft_layout || return 1; fi
	for p in bl br; do
		ns=$(lab_json "[p['netns'] for p in d['pods'] if p['name'] == '$p'][0]")
		[[ $ns == /* ]] || ns=/run/netns/$ns
		if [[ $p == bl ]]; then NS_bl=$ns; else NS_br=$ns; fi
		# A UDP socket on 9 that is never read: the kernel counts and drops at
		# its receive buffer (no ICMP port unreachable for every packet).
		nsenter --net="$ns" "${ON_SRV[@]+"${ON_SRV[@]}"}" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("::", 9))
time.sleep(100000)' >/dev/null 2>&1 &
		PIDS+=($!)
		nsenter --net="$ns" "${ON_SRV[@]+"${ON_SRV[@]}"}" "$PP" server -b :: -p 7000 >/dev/null 2>&1 &
		PIDS+=($!)
		nsenter --net="$ns" "${ON_SRV[@]+"${ON_SRV[@]}"}" "$CR" server -b :: -p 7001 >/dev/null 2>&1 &
		PIDS+=($!)
	done
	# (up runs under `if`, where set -e does not hold: every step checked.)
	{ ip netns add "$GNS" &&
		ip -n "$GNS" link add g0 type veth peer name "$GPORT" netns xcl-ul &&
		ip -n xcl-ul link set "$GPORT" master br0 up &&
		ip -n "$GNS" addr add "$GEN4/24" dev g0 &&
		{ [[ $FAMILY != dual ]] || ip -n "$GNS" addr add "$GEN6/64" dev g0 nodad; } &&
		ip -n "$GNS" link set lo up &&
		ip -n "$GNS" link set g0 up &&
		# Full checksums from the outside, as a NIC delivers them: a veth
		# passes the sender's partial ones on, which native XDP_TX cannot
		# carry to another node (xdp42's fast path, its lab test does the same).
		ip netns exec "$GNS" ethtool -K g0 tx off >/dev/null &&
		ip netns exec "$GNS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 &&
		{ ((!PIN)) || ip netns exec xcl-ul sh -c "echo 2 > /sys/class/net/$GPORT/queues/rx-0/rps_cpus"; }
	} || die "$s: the generator's netns $GNS"
	N1MAC=$(ip -n xcl-n1 -br link show ul0 | awk '{ print $3 }')
	[[ -n $N1MAC ]] || die "$s: no MAC for n1's ul0"
	# n1's programs: on ul0 the XDP one (if any) and the tc/TCX ingress one;
	# and every program attached anywhere in n1 (ul0's egress, xcni0, the
	# pods' veths), for the cost of all of n1's hooks.
	read -r XDP_ID FO_ID ALL_IDS < <(ip netns exec xcl-n1 bpftool net show -j | python3 -c '
import json, sys
xdp, ing, every = 0, 0, set()
for d in json.load(sys.stdin):
    for e in d.get("xdp", []):
        every.add(e["id"])
        if e.get("devname") == "ul0":
            xdp = e["id"]
    for e in d.get("tc", []):
        every.add(e["prog_id"])
        if e.get("devname") == "ul0" and e.get("kind", "").endswith("ingress"):
            ing = e["prog_id"]
print(xdp, ing, ",".join(str(i) for i in sorted(every)))')
	((FO_ID)) || die "$s: no tc ingress program on n1's ul0"
	# Every server listening, and each path answering once (neighbours, conntrack).
	for _ in $(seq 50); do
		[[ -n $(nsenter --net="$NS_br" ss -Hltn 'sport = :7001') &&
			-n $(nsenter --net="$NS_bl" ss -Hltn 'sport = :7001') ]] && break
		sleep 0.1
	done
	# A TCP path that does not answer (xdp42's native fast path to a remote
	# backend, from a client on the underlay's own subnet, in one try) is
	# said, and that setup's TCP rows left out; its packet rates still count.
	NO_TCP=
	for f in "${FAMS[@]}"; do
		for port in 30110 30111; do
			if ! ip netns exec "$GNS" "$PP" client -c "$(n1 "$f")" -p "$port" -n 10 -w 0 -t 5 >/dev/null 2>&1; then
				say "$s: no answer from $(n1 "$f"):$port/tcp (family $f): its TCP rows left out"
				echo "NOTCP $s $f $port" >>"$W/res"
				NO_TCP=1
			fi
		done
	done
	if [[ $s == kp-nftables ]] && ((NFT_BENCH)) && (($(nft_used) < 2)); then
		say "kp-nftables: the connections did not go through the nftables DNAT"
		return 1
	fi
}
# nft_layout: on n1, kube-proxy's iptables rules out and its nftables mode's
# layout (pkg/proxy/nftables) in for the two Services' NodePorts: the
# service-nodeports verdict map for local addresses, an external chain
# (ETP Cluster: mark for masquerade), a service chain (numgen over one
# endpoint), an endpoint chain (DNAT), masquerading at postrouting, the
# filter-forward check kube-proxy keeps.
nft_layout() {
	local bl br
	bl=$(lab_json "[p['ip'] for p in d['pods'] if p['name'] == 'bl'][0]")
	br=$(lab_json "[p['ip'] for p in d['pods'] if p['name'] == 'br'][0]")
	ip netns exec xcl-n1 iptables -t nat -F
	ip netns exec xcl-n1 iptables -t nat -X
	ip netns exec xcl-n1 iptables -t filter -F
	ip netns exec xcl-n1 iptables -t filter -X
	python3 - "$bl" "$br" >"$W/kp.nft" <<'EOF'
import sys
bl, br = sys.argv[1:]
eps = [("loc", "udp", 30100, bl, 9), ("loc", "tcp", 30110, bl, 7000), ("loc", "tcp", 30120, bl, 7001),
       ("rem", "udp", 30101, br, 9), ("rem", "tcp", 30111, br, 7000), ("rem", "tcp", 30121, br, 7001)]
m, chains = [], []
for name, proto, np, ip, port in eps:
    tag = f"{name}{np}"
    # kube-proxy's names carry slashes (service-HASH-ns/name/proto/port), which
    # this nft (1.0.6) takes in no form: the same parts joined by dashes.
    ext, svc = f"external-{tag}-npx-{name}-{proto}", f"service-{tag}-npx-{name}-{proto}"
    ep = f"endpoint-{tag}-npx-{name}-{proto}-{ip.replace('.', '_')}-{port}"
    m.append(f"{proto} . {np} : goto {ext}")
    chains.append(f" chain {ext} {{ jump mark-for-masquerade; goto {svc}; }}\n"
                  f" chain {svc} {{ numgen random mod 1 vmap {{ 0 : goto {ep} }}; }}\n"
                  f" chain {ep} {{ ip saddr {ip} jump mark-for-masquerade; meta l4proto {proto} counter dnat to {ip}:{port}; }}")
print("table ip kube-proxy {\n"
      " map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }\n"
      " map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }\n"
      " map service-nodeports { type inet_proto . inet_service : verdict; elements = { " + ", ".join(m) + " } }\n"
      " chain nat-prerouting { type nat hook prerouting priority -100; policy accept; jump services; }\n"
      " chain nat-output { type nat hook output priority -100; policy accept; jump services; }\n"
      " chain nat-postrouting { type nat hook postrouting priority 100; policy accept; jump masquerading; }\n"
      " chain filter-forward { type filter hook forward priority -110; policy accept; ct state new jump service-endpoints-check; }\n"
      " chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }\n"
      " chain mark-for-masquerade { meta mark set meta mark or 0x4000; }\n"
      " chain masquerading { meta mark and 0x4000 == 0 return; meta mark set meta mark xor 0x4000; masquerade fully-random; }\n"
      " chain services { ip daddr . meta l4proto . th dport vmap @service-ips; "
      "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports; }\n"
      + "\n".join(chains) + "\n}")
EOF
	ip netns exec xcl-n1 nft -f "$W/kp.nft" || { say "kp-nftables: nft -f failed"; return 1; }
	if ip netns exec xcl-n1 iptables-save -t nat | grep -q '^-A KUBE'; then
		say "kp-nftables: kube-proxy's iptables rules still on n1"
		return 1
	fi
}
# nft_used: the endpoint chains' DNAT counters (0 unless kp-nftables): the layout served.
nft_used() {
	ip netns exec xcl-n1 nft list table ip kube-proxy 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}
down() {
	local p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
	ip netns del "$GNS" 2>/dev/null || true
	"$XCNICTL" lab down >/dev/null || die "lab down failed"
	UP=0
}
n1() { if [[ $1 == 6 ]]; then echo fd00:77::1; else echo 192.168.77.1; fi; }
src() { if [[ $1 == 6 ]]; then echo "$GEN6"; else echo "$GEN4"; fi; }

# snap NETNS: "delivered xdp_ns xdp_cnt fo_ns fo_cnt all_ns softirq_ticks"
snap() {
	local d=0 cpus
	# IPv4: the "Udp:" value line of snmp; IPv6: snmp6's named counters.
	[[ -n $1 ]] && d=$(nsenter --net="$1" awk '
		/^Udp:/ && $2 ~ /^[0-9]/ { n += $2 + $3 + $4 }
		$1 ~ /^Udp6(InDatagrams|NoPorts|InErrors)$/ { n += $2 }
		END { print n + 0 }' /proc/net/snmp /proc/net/snmp6)
	if ((PIN)); then cpus='^cpu1 '; else cpus='^cpu[0-9]+ '; fi
	printf '%s %s %s\n' "$d" "$(prog_stats)" "$(awk -v re="$cpus" '$0 ~ re { n += $8 } END { print n }' /proc/stat)"
}
# prog_stats: "xdp_ns xdp_cnt fo_ns fo_cnt all_ns" (bpf stats of n1's programs).
prog_stats() {
	bpftool prog show -j | python3 -c '
import json, sys
xdp, fo, every = int(sys.argv[1]), int(sys.argv[2]), {int(i) for i in sys.argv[3].split(",") if i}
p = {d["id"]: d for d in json.load(sys.stdin)}
g = lambda i, k: p.get(i, {}).get(k, 0)
print(g(xdp, "run_time_ns"), g(xdp, "run_cnt"), g(fo, "run_time_ns"), g(fo, "run_cnt"),
      sum(g(i, "run_time_ns") for i in every))' "$XDP_ID" "$FO_ID" "$ALL_IDS"
}

# generate FAMILY PORT: the generator for SECS; prints packets sent.
generate() {
	local out
	if [[ $GEN == trafgen ]]; then
		if [[ $1 == 6 ]]; then
			echo "{ eth(da=$N1MAC), ipv6(sa=$GEN6, da=$(n1 6), hoplimit=64), udp(sp=40000, dp=$2), fill(0x41, 8) }" >"$W/t.cfg"
		else
			echo "{ eth(da=$N1MAC), ipv4(saddr=$GEN4, daddr=$(n1 4), ttl=64, df), udp(sp=40000, dp=$2), fill(0x41, 18) }" >"$W/t.cfg"
		fi
		out=$(ip netns exec "$GNS" timeout --preserve-status -s INT "$SECS" trafgen -i "$W/t.cfg" -o g0 -P 1 -C 2>&1) ||
			{ echo "$out" >&2; die "trafgen failed"; }
		tr -d '\r' <<<"$out" | awk '/packets outgoing/ { print $1 }'
	else
		out=$(ip netns exec "$GNS" "${ON_GEN[@]+"${ON_GEN[@]}"}" "$FLOOD" g0 "$N1MAC" "$(src "$1")" \
			"$(n1 "$1")" "$2" "$SECS") || die "np_flood failed"
		sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out"
	fi
}

# pps ROUND SETUP ROW FAMILY PORT BACKEND_NETNS|floor|ceiling: one packet-rate row.
pps() {
	local r=$1 s=$2 row=$3 f=$4 port=$5 be=$6 ns='' a b sent pf1=0 cidr
	case $be in
	floor)
		cidr=$(src "$f")/32
		[[ $f == 6 ]] && cidr=$(src "$f")/128
		"$XCNICTL" --node n1 prefilter add "$cidr" >/dev/null || die "$s: prefilter add $cidr"
		;;
	ceiling)
		ip netns exec xcl-ul tc qdisc add dev "$GPORT" clsact &&
			# nsenter, not ip netns exec: that one mounts the netns's sysfs over
			# /sys, hiding the bpffs tc loads through (under tests/sandbox.sh
			# the sandbox's own at /sys/fs/bpf: "mkdir /sys/fs/bpf/tc/ failed").
			nsenter --net=/run/netns/xcl-ul tc filter add dev "$GPORT" ingress bpf direct-action obj "$DROP" sec tc ||
			die "attaching drop.bpf.o at $GPORT's tc ingress"
		;;
	*) ns=$be ;;
	esac
	a=$(snap "$ns")
	sent=$(generate "$f" "$port")
	b=$(snap "$ns")
	case $be in
	floor)
		pf1=$("$XCNICTL" --node n1 prefilter list --json | python3 -c "import json,sys; print(sum(e['packets'] for e in json.load(sys.stdin) if e['cidr'] == '$cidr'))")
		"$XCNICTL" --node n1 prefilter del "$cidr" >/dev/null || die "$s: prefilter del $cidr"
		;;
	ceiling) ip netns exec xcl-ul tc qdisc del dev "$GPORT" clsact ;;
	esac
	python3 - "$r" "$s" "$row" "$f" "$SECS" "$sent" "$be" "$pf1" "$a" "$b" >>"$W/res" <<'EOF'
import sys
r, s, row, f, secs, sent, be, pf = sys.argv[1:9]
a = [int(x) for x in sys.argv[9].split()]
b = [int(x) for x in sys.argv[10].split()]
secs, sent = float(secs), int(sent)
d = [y - x for x, y in zip(a, b)]
deliv = {"floor": int(pf), "ceiling": sent}.get(be, d[0])
# A program that saw under 1% of the frames (the ceiling's, from_overlay
# behind the floor's drop) ran for other packets: no figure.
seen = lambda c: c and c * 100 >= deliv
xdp_ns = d[1] / d[2] if seen(d[2]) else 0
fo_ns = d[3] / d[4] if seen(d[4]) else 0
pkts = max(d[2], d[4])
bpf = (d[1] + d[3]) / pkts if seen(pkts) else 0
every = d[5] / pkts if seen(pkts) else 0
# /proc/stat counts USER_HZ (100) ticks: 10 ms each.
sirq = d[6] * 1e7 / deliv if deliv else 0
print(f"PPS {r} {s} {row} {f} {sent / secs:.0f} {deliv / secs:.0f} {xdp_ns:.1f} {fo_ns:.1f} {bpf:.1f} {sirq:.0f} {every:.1f}")
EOF
	tail -n1 "$W/res" | awk '{ printf "  %-14s %-8s v%s  sent/s %8s  delivered/s %8s  xdp %6s  from_overlay %6s  n1 bpf/pkt %6s (all hooks %6s) ns  softirq/pkt %6s ns\n", $3, $4, $5, $6, $7, $8, $9, $10, $12, $11 }'
}

# rr ROUND SETUP ROW FAMILY RR_PORT CR_PORT
rr() {
	local out
	((CR_SECS)) || return 0
	[[ -z $NO_TCP ]] || return 0
	out=$(ip netns exec "$GNS" "${ON_GEN[@]+"${ON_GEN[@]}"}" "$PP" client -c "$(n1 "$4")" -p "$5" -n "$RR_N" -w 500 -t 60) ||
		die "$2: pingpong to $(n1 "$4"):$5 failed"
	echo "RR $1 $2 $3 $4 $(sed -n 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p' <<<"$out")" >>"$W/res"
	out=$(ip netns exec "$GNS" "${ON_GEN[@]+"${ON_GEN[@]}"}" "$CR" client -c "$(n1 "$4")" -p "$6" -d "$CR_SECS" -w 1) ||
		die "$2: conn_rate to $(n1 "$4"):$6 failed"
	echo "CRR $1 $2 $3 $4 $(sed -n 's/.*rate=\([0-9.]*\) p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2 \3/p' <<<"$out")" >>"$W/res"
	tail -n2 "$W/res" | awk '$1 == "RR" { printf "  %-14s %-8s v%s  RR p50 %s us p99 %s us", $3, $4, $5, $6, $7 } $1 == "CRR" { printf "   conn/s %s (p50 %s us)\n", $6, $7 }'
}

# ---- the run -----------------------------------------------------------------------
lab_lock
sysctl -qw kernel.bpf_stats_enabled=1
say "$(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: ratios from one interleaved run)"
if ((PIN)); then where="pinned: generator CPU 0, the path CPU 1 (RPS)"; else where="unpinned: the whole path on the generator's CPU"; fi
# With XCNI_LAB_UL_NIC (a VM's virtio-net NICs as n1's underlay) the node's
# receive path runs where the NICs' interrupts go: pinned, every queue's on CPU 1.
NIC_IRQS=()
if ((PIN)) && [[ -n ${XCNI_LAB_UL_NIC:-} ]]; then
	for d in ${XCNI_LAB_UL_NIC/:/ }; do
		v=$(basename "$(readlink "/sys/class/net/$d/device")")
		mapfile -t -O "${#NIC_IRQS[@]}" NIC_IRQS < <(awk -F: -v v="$v-" 'index($0, v) {gsub(/ /, "", $1); print $1}' /proc/interrupts)
	done
	((${#NIC_IRQS[@]})) || die "XCNI_LAB_UL_NIC=$XCNI_LAB_UL_NIC: no interrupts of theirs in /proc/interrupts"
	for q in "${NIC_IRQS[@]}"; do echo 1 >"/proc/irq/$q/smp_affinity_list"; done
	where+=", the NICs' ${#NIC_IRQS[@]} interrupts CPU 1"
fi
say "setups: ${SETUPS[*]}; $ROUNDS rounds, ${SECS} s a rate, generator $GEN, $where"
: >"$W/res"
declare -A BROKEN=()
n=${#SETUPS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	for ((j = 0; j < n; j++)); do
		s=${SETUPS[(j + r - 1) % n]}
		[[ -n ${BROKEN[$s]:-} ]] && continue
		say "round $r: $s (load $(cut -d' ' -f1-3 /proc/loadavg))"
		if ! up "$s"; then
			# Only the script's own layout may fail this way: the run goes on without it.
			say "$s: dropped from the run"
			BROKEN[$s]=1
			down
			continue
		fi
		[[ $s == "$FIRST_XCNI" ]] && pps "$r" "$s" ceiling 4 30100 ceiling
		for f in "${FAMS[@]}"; do
			pps "$r" "$s" local "$f" 30100 "$NS_bl"
			pps "$r" "$s" remote "$f" 30101 "$NS_br"
			[[ $s == kp-* ]] || pps "$r" "$s" floor "$f" 30100 floor
			rr "$r" "$s" local "$f" 30110 30120
			rr "$r" "$s" remote "$f" 30111 30121
		done
		down
	done
done
sysctl -qw kernel.bpf_stats_enabled="$STATS0"
if ((PB_ROUNDS)); then
	say "pkt_bench, $PB_ROUNDS rounds (BPF_PROG_TEST_RUN; load $(cut -d' ' -f1-3 /proc/loadavg))"
	"$PB" "/sys/fs/bpf/$TAG-pb" "$PB_ROUNDS" >"$W/pb" || say "pkt_bench failed (the rows above stand)"
	grep -E 'NodePort|prefilter|^xdp' "$W/pb" | sed 's/^/  /'
	python3 - "$W/pb" <<'EOF'
import re, sys
ns = {}
for line in open(sys.argv[1]):
    m = re.match(r"(.*\S)\s+([0-9.]+) ns/packet", line)
    if m:
        ns[m.group(1)] = float(m.group(2))
for b in ("local", "remote"):
    base = [v for k, v in ns.items() if k.startswith(f"NodePort from outside, {b} backend (")]
    tc = ns.get(f"NodePort from outside, {b} backend, prefilter at tc (miss)")
    xdp = ns.get("prefilter at XDP (xdp_underlay), miss: NodePort frame passed")
    if base and tc and xdp:
        print(f"  NodePort {b}: prefilter at tc {tc:.1f} ns (+{tc - base[0]:.1f} over from_overlay alone, "
              f"{(tc / base[0] - 1) * 100:+.1f}%); at XDP {base[0]:.1f} + {xdp:.1f} = {base[0] + xdp:.1f} ns")
EOF
fi
say "done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
((!${#NIC_IRQS[@]})) || say "the NICs' interrupts per CPU: $(for q in "${NIC_IRQS[@]}"; do awk -v q="$q:" '$1 == q {printf "%s %s/%s ", $NF, $2, $3}' /proc/interrupts; done)"
cp "$W/res" "${OUT:-/tmp/nodeport-xdp.last}"
say "raw rows in ${OUT:-/tmp/nodeport-xdp.last}"

# ---- the tables --------------------------------------------------------------------
python3 - "$W/res" "$FIRST_XCNI" <<'EOF'
import statistics as st, sys
from collections import defaultdict
path, tc = sys.argv[1], sys.argv[2]
P, R, C = defaultdict(list), defaultdict(list), defaultdict(list)
for line in open(path):
    w = line.split()
    if w[0] == "PPS":
        P[(w[2], w[3], w[4])].append([int(r) for r in [w[1]]] + [float(x) for x in w[5:]])
    elif w[0] == "RR" and len(w) >= 7:
        R[(w[2], w[3], w[4])].append((int(w[1]), float(w[5]), float(w[6])))
    elif w[0] == "NOTCP":
        print(f"TCP: {w[1]} v{w[2]}: no answer at port {w[3]}: its TCP rows left out")
    elif w[0] == "CRR" and len(w) >= 8:
        C[(w[2], w[3], w[4])].append((int(w[1]), float(w[5]), float(w[6])))
med = lambda xs: st.median(xs) if xs else 0
def col(d, k, i):
    return med([x[i] for x in d.get(k, [])])
def rounds(d, k, i):
    return {x[0]: x[i] for x in d.get(k, [])}
keys = sorted(P, key=lambda k: (k[2], k[1], k[0]))
print("\nPackets per second (64-byte UDP, one flow; medians over the rounds)\n")
print("| setup | row | fam | sent/s | delivered/s | XDP ns/run | from_overlay ns/run | n1 BPF ns/pkt | n1 all hooks ns/pkt | softirq ns/pkt |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for k in keys:
    print(f"| {k[0]} | {k[1]} | v{k[2]} | {col(P, k, 1):,.0f} | {col(P, k, 2):,.0f} | {col(P, k, 3):.0f} | "
          f"{col(P, k, 4):.0f} | {col(P, k, 5):.0f} | {col(P, k, 7):.0f} | {col(P, k, 6):,.0f} |")
if R:
    print("\nTCP from outside: 1-byte RR (pingpong) and new connections (conn_rate)\n")
    print("| setup | row | fam | RR p50 us | RR p99 us | conn/s | conn p50 us |")
    print("|---|---|---|---:|---:|---:|---:|")
    for k in sorted(R, key=lambda k: (k[2], k[1], k[0])):
        print(f"| {k[0]} | {k[1]} | v{k[2]} | {col(R, k, 1):.1f} | {col(R, k, 2):.1f} | "
              f"{col(C, k, 1):,.0f} | {col(C, k, 2):.1f} |")

def ratio(num, den, what, d=P, i=2, inv=False):
    a, b = col(d, num, i), col(d, den, i)
    if not a or not b:
        return None
    ra, rb = rounds(d, num, i), rounds(d, den, i)
    per = [ra[r] / rb[r] for r in sorted(ra) if r in rb and rb[r]]
    v = a / b
    print(f"RATIO: {num[0]} {num[1]} v{num[2]} / {den[0]} {den[1]} v{den[2]}: {what} {v:.2f}x"
          f"  (rounds: {' '.join(f'{x:.2f}' for x in per)})")
    return v
print()
setups = sorted({k[0] for k in P})
fams = sorted({k[2] for k in P})
for f in fams:
    for s in [s for s in setups if s.startswith(("xcni-", "accel-"))]:
        for row in ("local", "remote"):
            ratio((s, row, f), (s, "floor", f), "delivered/s vs the floor")
    for s in [s for s in setups if s.startswith(("xcni-", "accel-")) and s != tc]:
        for row in ("local", "remote"):
            ratio((s, row, f), (tc, row, f), "delivered/s")
    for s in [s for s in setups if s.startswith(("xcni-", "accel-"))]:
        for kp in [k for k in setups if k.startswith("kp-")]:
            for row in ("local", "remote"):
                ratio((s, row, f), (kp, row, f), "delivered/s")
    for row in ("local", "remote"):
        ratio((tc, row, f), (tc, "ceiling", "4"), "delivered/s vs the ceiling")
    ratio((tc, "floor", f), (tc, "ceiling", "4"), "dropped/s vs the ceiling")
# The goals of issue 42, for every accelerated setup against the tc path.
# A ratio that cannot be made (nothing delivered, no TCP row) says so.
def goal(what, v, ok):
    if v is None:
        print(f"TARGET: {what} -> no figure (nothing delivered, or no row)  NOT MET")
    else:
        print(f"TARGET: {what} -> {v:.2f}x {'MET' if ok(v) else 'NOT MET'}")
acc = [s for s in setups if s.startswith("accel-")]
for f in fams:
    for s in acc:
        for row, fl in (("local", 0.8), ("remote", 0.6)):
            goal(f"{s} {row} v{f} >= {fl} of the floor",
                 ratio((s, row, f), (s, "floor", f), "delivered/s vs the floor"), lambda v: v >= fl)
            goal(f"{s} {row} v{f} n1 BPF ns/pkt <= 1/3 of the tc path's",
                 ratio((s, row, f), (tc, row, f), "n1 BPF ns/pkt", i=5), lambda v: v <= 1 / 3)
            goal(f"{s} {row} v{f} >= 2x kube-proxy iptables",
                 ratio((s, row, f), ("kp-iptables", row, f), "delivered/s"), lambda v: v >= 2)
            goal(f"{s} {row} v{f} RR p50 <= 0.8x the tc path",
                 ratio((s, row, f), (tc, row, f), "RR p50", d=R, i=1), lambda v: v <= 0.8)
            goal(f"{s} {row} v{f} conn/s >= 1.5x the tc path",
                 ratio((s, row, f), (tc, row, f), "conn/s", d=C, i=1), lambda v: v >= 1.5)
for f in fams:
    for row in ("local", "remote"):
        for kp in [k for k in setups if k.startswith("kp-")]:
            if (kp, row, f) in R:
                ratio((tc, row, f), (kp, row, f), "RR p50", d=R, i=1)
                ratio((tc, row, f), (kp, row, f), "conn/s", d=C, i=1)
EOF
