#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Where a BPF-terminated UDP tunnel loses GRO, and whether decapsulating at XDP
# gets it back (issue 42, "the overlay's own throughput"). Two network
# namespaces joined by a veth; the sender's inner traffic goes through a kernel
# VXLAN device (MTU-sized frames: the receiver's native XDP program turns off
# TSO on the sender's end, as on a NIC), the receiver terminates the tunnel:
#   xdpdecap  bench/xdp_decap_gro.bpf.c's xdp_decap, native XDP: strips the
#             outer headers before the veth's NAPI GRO; GRO merges the inner TCP
#   tcdecap   native xdp_pass + tc_decap at tc ingress (xcni's from_overlay
#             today): UDP to a port no tunnel socket owns gets no GRO
#   vxlan     native xdp_pass + a kernel VXLAN device (its socket's tunnel GRO)
#   plain     native xdp_pass, no tunnel at all (MTU-sized TCP, GRO): the ceiling
# GRO on the receiving veth in every leg. Prints per leg iperf3 Gbit/s (median of
# the rounds) and the size of the TCP packets the receiver's stack saw (tshark
# on the device that delivers the inner packets: the size GRO left), then the
# ratios. Must run as root; ip/tc/iperf3/tshark/clang.
#
# (tcdecap's size is the tunnel frame's at the tap, before tc: no GRO.)
#
#   bash bench/xdp-decap-gro.sh [-r ROUNDS] [-t SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
BENCH=xdp-decap-gro
. bench/lib.sh
need ip tc iperf3 tshark clang ethtool
ROUNDS=3 T=4
opts - "r:ROUNDS t:T" "$@"
A=xcni-gro-a B=xcni-gro-b
W=$(mktemp -d /tmp/xcni-gro.XXXXXX)
SRV=""
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	ip netns del $A 2>/dev/null
	ip netns del $B 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c bench/xdp_decap_gro.bpf.c -o "$W/decap.o" || exit 1

# one leg: echo "Gbit/s median-TCP-size max-TCP-size"
leg() {
	local mode=$1 inner=b0 mac
	ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
	ip netns add $A && ip netns add $B || return 1
	ip -n $A link add a0 type veth peer name b0 netns $B
	ip -n $A addr add 192.0.2.1/24 dev a0
	ip -n $B addr add 192.0.2.2/24 dev b0
	ip -n $A link set lo up; ip -n $B link set lo up
	ip -n $A link set a0 up; ip -n $B link set b0 up
	ip netns exec $B ethtool -K b0 gro on >/dev/null
	if [ "$mode" = xdpdecap ]; then
		ip -n $B link set b0 xdpdrv obj "$W/decap.o" program xdp_decap
	else
		ip -n $B link set b0 xdpdrv obj "$W/decap.o" program xdp_pass
	fi
	if [ "$mode" = plain ]; then
		ip -n $A addr add 10.99.0.1/32 dev a0; ip -n $A route add 10.99.0.2/32 dev a0
		ip -n $B addr add 10.99.0.2/32 dev b0; ip -n $B route add 10.99.0.1/32 dev b0
	else
		ip -n $A link add vx0 type vxlan id 42 remote 192.0.2.2 local 192.0.2.1 dstport 4789 dev a0
		ip -n $A link set vx0 mtu 1450 up
		ip -n $A addr add 10.99.0.1/24 dev vx0
		case $mode in
		vxlan)
			ip -n $B link add vx0 type vxlan id 42 remote 192.0.2.1 local 192.0.2.2 dstport 4789 dev b0
			ip -n $B link set vx0 mtu 1450 up
			ip -n $B addr add 10.99.0.2/24 dev vx0
			inner=vx0 ;;
		tcdecap)
			tc -n $B qdisc add dev b0 clsact
			tc -n $B filter add dev b0 ingress bpf da obj "$W/decap.o" sec tc ;&
		xdpdecap)
			# the inner packets arrive on b0 itself (no device of the tunnel)
			ip -n $B addr add 10.99.0.2/32 dev b0
			ip -n $B route add 10.99.0.1/32 dev b0 ;;
		esac
		mac=$(ip -n $B -o link show $inner | grep -o 'link/ether [^ ]*' | cut -d' ' -f2)
		ip -n $A neigh add 10.99.0.2 lladdr "$mac" dev vx0 nud permanent
	fi
	ip netns exec $B iperf3 -s -1 >/dev/null 2>&1 &
	SRV=$!
	sleep 0.5
	# tcdecap: the tap runs before tc ingress, so it sees the tunnel's frames
	local filt='tcp dst port 5201'
	[ "$mode" = tcdecap ] && filt='udp dst port 4789'
	ip netns exec $B tshark -i $inner -c 300 -a duration:$((T + 8)) -T fields -e frame.len -f "$filt" \
		>"$W/sizes" 2>"$W/tshark.err" &
	local tp=$!
	local i
	for ((i = 0; i < 50; i++)); do grep -q Capturing "$W/tshark.err" 2>/dev/null && break; sleep 0.1; done
	local gbps
	gbps=$(ip netns exec $A iperf3 -c 10.99.0.2 -t "$T" -J 2>/dev/null |
		python3 -c 'import json,sys
try: print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("nan")')
	wait $tp 2>/dev/null
	kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""
	echo "$gbps $(sort -n "$W/sizes" | awk '{a[NR]=$1} END {print (NR ? a[int(NR/2)+1] : 0), (NR ? a[NR] : 0)}')"
}

LEGS=(xdpdecap tcdecap vxlan plain)
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#LEGS[@]}; i++)); do
		m=${LEGS[$(((i + r) % ${#LEGS[@]}))]}
		echo "$m $(leg "$m")" | tee -a "$W/all"
	done
done >&2
python3 - "$W/all" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    m, g, med, mx = line.split()
    rows.setdefault(m, []).append((float(g), int(med), int(mx)))
print("%-10s %8s %12s %10s" % ("leg", "Gbit/s", "TCP pkt p50", "max"))
for m, v in rows.items():
    print("%-10s %8.2f %12d %10d" % (m, st.median(x[0] for x in v), st.median(x[1] for x in v), max(x[2] for x in v)))
g = {m: [x[0] for x in v] for m, v in rows.items()}
for a, b in (("xdpdecap", "tcdecap"), ("xdpdecap", "vxlan"), ("xdpdecap", "plain"), ("tcdecap", "vxlan")):
    r = [x / y for x, y in zip(g[a], g[b]) if y]
    print("%s/%s %.2fx (rounds: %s)" % (a, b, st.median(r), " ".join("%.2f" % x for x in r)))
PY
