#!/bin/bash
# The Geneve overlay end to end: a three-node lab whose nodes share an
# underlay, pods spread over the nodes, traffic between them checked at both
# ends and on the wire, and a node taken out of (and put back into) the cluster.
#
#   netns xcl-ul:  br0 (the switch) ── ul-n1 ── ul-n2 ── ul-n3        <- tshark here
#                                       │        │        │
#   netns xcl-n1: ul0 192.168.77.1   xcl-n2: .2        xcl-n3: .3     (xcnid --underlay-dev ul0
#     xcni0 -> 10.244.2/24, 3/24       xcni0             xcni0          --xdp-mode generic)
#     o/p1, o/q1 (10.244.1.x)          o/p2, o/q2        o/p3, o/q3
#
# p<i> are placed by spec.nodeName, q<i> by the lab's scheduler (fewest pods).
# Every pod serves 80/TCP (answers "<ns>/<pod>") and 81/UDP (echo). The lab's
# state lives in a mktemp directory; on exit the lab goes down and the suite
# checks that it left no netns, pin or process behind.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh" # MINE: tshark, iperf3, socat started here
lab_suite overlay
unset XCNI_LAB_XDP
VNI=1     # xcnid's default; the lab does not set one
# drops N: node n<N>'s drop counters as "reason/direction=packets ..." (sorted).
drops() {
	in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" metrics --json |
		jq_ "' '.join(sorted(m['reason'] + '/' + m['direction'] + '=' + str(m['packets']) for m in d if m['reason'].startswith('drop-')))"
}

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN" /usr/bin/tshark /usr/bin/iperf3 /usr/bin/socat

out=$(XCNI_LAB_XDP=bogus lab up --nodes 3 2>&1); RC=$?
check "XCNI_LAB_XDP=bogus: exit 2, naming the modes, nothing made" \
	bash -c "[ $RC -eq 2 ] && grep -q 'auto, native, generic, tc or off' <<<\"\$1\" && ! ip netns list | grep -q '^xcl-'" _ "$out"

# ---- up: three nodes on one switch -------------------------------------------------
lab_up_or_end --nodes 3
check "lab up reports each node's XDP mode: generic (the lab's default)" \
	test "$(grep -c 'underlay ul0 192\.168\.77\.[123], XDP generic' <<<"$out")" -eq 3
underlay_ok() {
	local i
	ip -n xcl-ul -d link show br0 | grep -q 'bridge ' || return 1
	for i in 1 2 3; do
		ip -n xcl-ul -o link show "ul-n$i" | grep -q 'master br0.*state UP' || return 1
		ip -n "xcl-n$i" -o addr show dev ul0 | grep -q "inet 192\.168\.77\.$i/24" || return 1
		ip -n "xcl-n$i" -o link show ul0 | grep -q 'mtu 1500 .*state UP' || return 1
	done
}
check "underlay: bridge br0 in xcl-ul, ports ul-n1..3 on it and up; ul0 192.168.77.<i>/24, MTU 1500, in each node" \
	underlay_ok
agents_ok() {
	local i pid
	for i in 1 2 3; do
		pid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n$i'][0]")
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--underlay-dev ul0 --node-ip 192.168.77.$i --xdp-mode generic" || return 1
		grep -q 'XDP prefilter on ul0: generic' "$XCNI_LAB_DIR/n$i/xcnid.log" || return 1
		ip -n "xcl-n$i" link show ul0 | grep -q 'prog/xdp id' || return 1
	done
}
check "each xcnid runs with --underlay-dev ul0 --node-ip 192.168.77.<i> --xdp-mode generic, logs it, XDP on ul0" \
	agents_ok
# The agent with least privilege (issue 65 item 6): the lab starts xcnid with
# kind's list (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN; LAB_AGENT_CAPS): no
# CAP_SYS_ADMIN (bit 21) in its effective, permitted or bounding set.
agent_caps() {
	local i pid eff
	for i in 1 2 3; do
		pid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n$i'][0]")
		for set in CapEff CapPrm CapBnd; do
			eff=$(awk -v s="$set:" '$1 == s { print $2 }' "/proc/$pid/status")
			[ "$((16#$eff))" -eq $(((1 << 39) | (1 << 38) | (1 << 12))) ] ||
				{ echo "n$i xcnid $pid $set $eff"; return 1; }
		done
	done
}
check "each xcnid runs with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN alone (CapEff/CapPrm/CapBnd: no CAP_SYS_ADMIN)" agent_caps
# lab-overlay-tc: the older attach path forced, as on a kernel without TCX.
if [ "${XCNI_ATTACH:-}" = tc ]; then
	tc_ok() {
		local i
		for i in 1 2 3; do
			grep -q 'attach: from_overlay on ul0 ingress: tc clsact filter: forced' "$XCNI_LAB_DIR/n$i/xcnid.log" &&
				grep -q 'attach: to_overlay on xcni0 egress: tc clsact filter: forced' "$XCNI_LAB_DIR/n$i/xcnid.log" &&
				grep -q 'XDP prefilter on ul0: generic (skb), netlink' "$XCNI_LAB_DIR/n$i/xcnid.log" &&
				ip netns exec "xcl-n$i" tc filter show dev ul0 ingress | grep -q 'handle 0x7863 from_overlay' &&
				ip netns exec "xcl-n$i" tc filter show dev xcni0 egress | grep -q 'handle 0x7863 to_overlay' &&
				[ ! -e "$LAB_PINS/n$i/links/node-underlay-tc" ] || return 1
		done
	}
	check "XCNI_ATTACH=tc: every agent put from_overlay (ul0) and to_overlay (xcni0) on tc clsact, XDP through netlink, and logged why; no TCX link" tc_ok
fi
nodes_ok() {
	local i
	for i in 1 2 3; do
		test "$(jq_ 'd["spec"]["podCIDR"], [a["address"] for a in d["status"]["addresses"] if a["type"] == "InternalIP"][0]' \
			<"$XCNI_LAB_DIR/manifests/node.n$i.json")" = "10.244.$i.0/24 192.168.77.$i" || return 1
	done
}
check "Node objects n1..n3: podCIDR 10.244.<i>.0/24, InternalIP 192.168.77.<i>" nodes_ok
check "node n1 routes n2's and n3's pod CIDRs to xcni0, nothing else there" \
	test "$(ip -n xcl-n1 -o route show dev xcni0 | awk '{print $1}' | sort | tr '\n' ' ')" = "10.244.2.0/24 10.244.3.0/24 "

# ---- pods spread over the nodes -------------------------------------------------------
pod() { # pod NAME [NODE]
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: o, labels: {app: o}}
spec:
  ${2:+nodeName: $2}
  containers:
    - name: srv
      ports:
        - {containerPort: 80, protocol: TCP}
        - {containerPort: 81, protocol: UDP}
EOF
}
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: o}\n'
	pod p1 n1; pod p2 n2; pod p3 n3
} >"$T/p.yaml"
{ pod q1; pod q2; pod q3; } >"$T/q.yaml"
check "apply pods p1..p3 with spec.nodeName n1..n3" lab apply -f "$T/p.yaml"
check "apply pods q1..q3 without a nodeName" lab apply -f "$T/q.yaml"
remember_pids
GET=$(lab get --json)
declare -A IP NODE
for p in p1 p2 p3 q1 q2 q3; do
	IP[$p]=$(echo "$GET" | jq_ "[q['ip'] for q in d['pods'] if q['name'] == '$p'][0]")
	NODE[$p]=$(echo "$GET" | jq_ "[q['node'] for q in d['pods'] if q['name'] == '$p'][0]")
done
check "p<i> on n<i>, with an address of n<i>'s pod CIDR" \
	test "${NODE[p1]}${NODE[p2]}${NODE[p3]} ${IP[p1]%.*} ${IP[p2]%.*} ${IP[p3]%.*}" = "n1n2n3 10.244.1 10.244.2 10.244.3"
check "q1..q3 scheduled one per node (fewest pods): ${NODE[q1]} ${NODE[q2]} ${NODE[q3]}" \
	test "$(printf '%s\n' "${NODE[q1]}" "${NODE[q2]}" "${NODE[q3]}" | sort | tr '\n' ' ')" = "n1 n2 n3 "
check "pods get MTU 1450 (the underlay's 1500 less Geneve's 50)" \
	bash -c "ip -n xcl-o.p1 -o link show eth0 | grep -q 'mtu 1450 '"
if [ "${XCNI_ATTACH:-}" = tc ]; then
	# The plugin got XCNI_ATTACH too: every pod's record says tc, none tcx.
	pods_tc() {
		# One record per pod, each a line of its own file: counted by file.
		[ "$(grep -l '"attach":"tc"' "$XCNI_LAB_DIR"/n?/state/xcni-lab/* | wc -l)" -ge 6 ] &&
			! grep -q '"attach":"tcx"' "$XCNI_LAB_DIR"/n?/state/xcni-lab/*
	}
	check "XCNI_ATTACH=tc: every pod's veth attached with tc clsact (the plugin's records)" pods_tc
fi

# ---- traffic between nodes ----------------------------------------------------------------
# matrix_all PORT/PROTO: all 36 ordered pairs connected (24 of them cross nodes),
# over TCP answered by the destination itself
matrix_all() {
	# Over TCP the listener that answered names itself: it must be the destination.
	lab matrix "$1" --json | jq_ 'sys.exit(0 if len(d["pods"]) == 6 and all(all(r.values()) and len(r) == 6 for r in d["rows"].values()) and (d["protocol"] != "tcp" or all(a == dst for s, row in d["answers"].items() for dst, a in row.items())) else 1)'
}
check "matrix 80/TCP: all 36 pairs connected, 24 across nodes" matrix_all 80/tcp
check "matrix 81/UDP: all 36 pairs connected" matrix_all 81/udp
check "probe o/p1 (n1) -> o/p2 (n2) 80/tcp: connected" bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p1 o/p2 80/tcp)\" = connected ]"
check "probe o/p3 (n3) -> o/p1 (n1) 81/udp: connected" bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p3 o/p1 81/udp)\" = connected ]"
check "TCP o/p1 -> o/p2 across nodes: the listener answers o/p2" \
	bash -c "echo hi | \"$XCNICTL\" lab exec o/p1 -- socat -T2 - TCP:${IP[p2]}:80 | grep -qx o/p2"
check "UDP o/p2 -> o/p3 across nodes: echoed" \
	bash -c "echo hello-udp | \"$XCNICTL\" lab exec o/p2 -- socat -T2 - UDP:${IP[p3]}:81 | grep -qx hello-udp"
check "ICMP o/p1 -> o/p2 and o/p3 (lab exec ping)" \
	bash -c "\"$XCNICTL\" lab exec o/p1 -- ping -c 2 -i 0.2 -W 2 ${IP[p2]} && \"$XCNICTL\" lab exec o/p1 -- ping -c 2 -i 0.2 -W 2 ${IP[p3]}"
check "host of n1 -> o/p2 on n2: ping" in_node 1 ping -c 2 -i 0.2 -W 2 "${IP[p2]}"
check "host of n1 -> o/p2 on n2: TCP, the listener answers o/p2" \
	bash -c "echo hi | nsenter --net=/run/netns/xcl-n1 socat -T2 - TCP:${IP[p2]}:80 | grep -qx o/p2"
check "host of n3 -> o/q1 on ${NODE[q1]}: UDP echoed" \
	bash -c "echo hello-host | nsenter --net=/run/netns/xcl-n3 socat -T2 - UDP:${IP[q1]}:81 | grep -qx hello-host"

# ---- on the wire: Geneve with the agents' VNI, the pods' addresses inside ------------------
# capture_start FILE: tshark on the switch, Geneve's port only, 160 bytes a frame.
capture_start() {
	local rc
	geneve_capture_start xcl-ul br0 "$1"
	rc=$?
	MINE+=("$CAP")
	return "$rc"
}
capture_stop() { geneve_capture_stop "$1"; }
check "tshark captures on br0 in xcl-ul" capture_start "$T/ping.pcap"
"$XCNICTL" lab exec o/p1 -- ping -c 3 -i 0.2 -W 2 "${IP[p2]}" >/dev/null
echo wire | "$XCNICTL" lab exec o/p3 -- socat -T2 - "UDP:${IP[q2]}:81" >/dev/null
check "capture stopped" capture_stop "$T/ping.pcap"
tshark -n -r "$T/ping.pcap" -T fields -E separator=' ' -e frame.number -e udp.dstport -e geneve.vni \
	-e ip.src -e ip.dst -e ip.proto >"$T/ping.txt" 2>/dev/null
sed 's/^/#   /' "$T/ping.txt" | head -20
check "every UDP 6081 frame decodes as Geneve, VNI $VNI (xcnid's)" \
	bash -c "[ -s $T/ping.txt ] && awk -v v=\$(printf '0x%06x' $VNI) '\$3 != v {exit 1}' $T/ping.txt"
# ip.src/ip.dst list the outer then the inner header's addresses.
wire_has() { # OUTER_SRC OUTER_DST INNER_SRC INNER_DST INNER_PROTO
	grep -q " $1,$3 $2,$4 17,$5\$" "$T/ping.txt"
}
# wire_pair NODE_A NODE_B POD_A POD_B PROTO: the packet and its answer, each way.
wire_pair() {
	wire_has "192.168.77.${1#n}" "192.168.77.${2#n}" "${IP[$3]}" "${IP[$4]}" "$5" &&
		wire_has "192.168.77.${2#n}" "192.168.77.${1#n}" "${IP[$4]}" "${IP[$3]}" "$5"
}
check "ICMP o/p1 -> o/p2: outer 192.168.77.1 -> .2, inner ${IP[p1]} -> ${IP[p2]}, and the reply" \
	wire_pair n1 n2 p1 p2 1
check "UDP o/p3 -> o/q2: outer 192.168.77.3 -> .${NODE[q2]#n}, inner ${IP[p3]} -> ${IP[q2]}, and the echo" \
	wire_pair n3 "${NODE[q2]}" p3 q2 17
geneve_decoded() {
	tshark -n -r "$T/ping.pcap" -V -Y geneve 2>/dev/null |
		sed -n '/^Generic Network Virtualization Encapsulation/,/^[A-Z]/p' | sed '$d' | head -12 >"$T/geneve.txt"
	cat "$T/geneve.txt"
	grep -q 'Version: 0$' "$T/geneve.txt" &&
		grep -Eq "Virtual Network Identifier \(VNI\): 0x0*$VNI( \($VNI\))?\$" "$T/geneve.txt" &&
		grep -q 'Protocol Type: Transparent Ethernet bridging' "$T/geneve.txt"
}
check "tshark -V decodes the Geneve header: version 0, VNI $VNI, inner Ethernet" geneve_decoded

# ---- full-size TCP: no fragments, no drops ------------------------------------------------
# A 1 MiB transfer o/p1 -> o/p2 while the switch records it.
head -c 1048576 /dev/urandom >"$T/send.bin"
"$XCNICTL" lab exec o/p2 -- socat -u TCP-LISTEN:5000,reuseaddr "OPEN:$T/recv.bin,creat,trunc" &
RCV=$!
MINE+=("$RCV")
wait_listen() { # POD-NETNS PORT
	for _ in $(seq 50); do
		nsenter --net="/run/netns/$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
wait_listen xcl-o.p2 5000
# What moved a drop counter in the window below, if one does (6.1 under TCG
# counted four): every node's drop events and n1's and n2's IPv6 frames,
# printed by the check at its end.
"$XCNICTL" --node all monitor -t drop -o wide >"$T/drops.txt" 2>&1 &
DMON=$!
MINE+=("$DMON")
pcap_start xcl-n1 any ip6 "$T/n1-ip6.pcap"; CAP6_1=$CAP; MINE+=("$CAP6_1")
pcap_start xcl-n2 any ip6 "$T/n2-ip6.pcap"; CAP6_2=$CAP; MINE+=("$CAP6_2")
drops1_0=$(drops 1); drops2_0=$(drops 2)
encap0=$(metric 1 fwd-encap from-pod); decap0=$(metric 2 fwd-decap from-overlay)
ultx0=$(ip -n xcl-n1 -s -j link show ul0 | jq_ 'd[0]["stats64"]["tx"]["dropped"]')
capture_start "$T/bulk.pcap"
check "1 MiB over TCP o/p1 (n1) -> o/p2 (n2)" \
	bash -c "\"$XCNICTL\" lab exec o/p1 -- socat -u OPEN:$T/send.bin TCP:${IP[p2]}:5000"
wait "$RCV" 2>/dev/null
capture_stop "$T/bulk.pcap"
check "  ... arrives whole (same SHA-256)" \
	test "$(sha256sum <"$T/send.bin")" = "$(sha256sum <"$T/recv.bin" 2>/dev/null)"
tshark -n -r "$T/bulk.pcap" -T fields -E separator=' ' -e frame.len -e ip.flags.mf -e ip.frag_offset \
	-e geneve.vni >"$T/bulk.txt" 2>/dev/null
# The switch sees the senders' TSO super-packets whole (veths never segment):
# frame sizes say nothing here. The MSS both ends offered does.
mss_ok() {
	tshark -n -r "$T/bulk.pcap" -Y 'tcp.flags.syn == 1' -T fields -e tcp.options.mss_val 2>/dev/null >"$T/mss.txt"
	cat "$T/mss.txt"
	[ "$(sort -u "$T/mss.txt" | tr '\n' ' ')" = "1410 " ] && [ "$(wc -l <"$T/mss.txt")" -eq 2 ]
}
check "  ... SYN and SYN-ACK offer MSS 1410 (pod MTU 1450 less IP and TCP headers)" mss_ok
diag "bulk capture: $(wc -l <"$T/bulk.txt") Geneve frames (TSO super-packets), largest $(awk '$1 > m {m = $1} END {print m + 0}' "$T/bulk.txt") bytes"
no_fragments() { # ip.flags.mf and ip.frag_offset list the outer, then the inner header's
	[ -s "$T/bulk.txt" ] && awk '$2 ~ /1|True/ || $3 ~ /[1-9]/ { bad = 1; print } END { exit bad }' "$T/bulk.txt"
}
check "  ... no IP fragment, outer or inner (MF clear, offset 0 everywhere)" no_fragments
# Full-size packets one by one: a 1450-byte IP packet from a pod (DF) is a
# 1500-byte outer packet, a 1514-byte frame on the switch; one byte more is
# refused in the pod (its MTU), never fragmented on the way.
capture_start "$T/full.pcap"
check "ping -M do -s 1422 o/p1 -> o/p2 (1450-byte IP packets, DF) crosses" \
	"$XCNICTL" lab exec o/p1 -- ping -M do -s 1422 -c 2 -i 0.2 -W 2 "${IP[p2]}"
capture_stop "$T/full.pcap"
check "  ... as 1514-byte frames, outer IP 1500, DF, not fragmented" \
	bash -c "tshark -n -r $T/full.pcap -Y 'geneve && icmp' -T fields -e frame.len -e ip.len -e ip.flags.df -e ip.flags.mf 2>/dev/null | tee /dev/stderr | sort -u | grep -Eqx '1514	1500,1450	(1|True),(1|True)	(0|False),(0|False)'"
check_fails "  ... ping -M do -s 1423 (1451 bytes): refused by the pod's MTU" \
	"$XCNICTL" lab exec o/p1 -- ping -M do -s 1423 -c 1 -W 1 "${IP[p2]}"
# Bigger than the MTU without DF: the pod's stack sends IPv4 fragments; the
# first is judged and opens the flow, the later ones follow it (xcni_frag), each
# in a Geneve packet of its own.
check "a 4000-byte UDP datagram o/p1 (n1) -> o/p2 (n2) in fragments: echoed whole" \
	bash -c "[ \"\$('$XCNICTL' lab exec o/p1 -- python3 '$XCNI_ROOT/tests/integration/udp_big.py' send ${IP[p2]} 81 4000)\" = echoed ]"
check "ping -s 4000 o/p3 (n3) -> o/p1 (n1): fragmented echo and reply cross" \
	"$XCNICTL" lab exec o/p3 -- ping -s 4000 -c 2 -i 0.2 -W 2 "${IP[p1]}"
# A pod whose MTU was raised by hand (1500) sends 1472+28 bytes with DF:
# too big to encapsulate, so from_pod hands it to the stack, which routes it
# to xcni0 (MTU 1450) and answers fragmentation-needed to the pod.
P1_HOST_IF=$(nsenter --net="/run/netns/xcl-${NODE[p1]}" "$XCNICTL" --pin-dir "/sys/fs/bpf/xcni-lab/${NODE[p1]}" \
	endpoint list --json | jq -r ".[] | select(.ip == \"${IP[p1]}\") | .ifname")
ip -n "xcl-${NODE[p1]}" link set "$P1_HOST_IF" mtu 1500
"$XCNICTL" lab exec o/p1 -- ip link set eth0 mtu 1500
frag_needed() {
	local out
	out=$("$XCNICTL" lab exec o/p1 -- ping -M do -s 1472 -c 2 -i 0.3 -W 1 "${IP[p2]}" 2>&1)
	echo "$out"
	echo "$out" | grep -Eqi 'frag needed|message too long|mtu = 1450|mtu=1450'
}
check "  ... a pod with MTU 1500 sending 1500 bytes (DF) gets fragmentation-needed (mtu 1450)" \
	frag_needed
check "  ... counted fwd-too-big on the node, not dropped" \
	bash -c "nsenter --net=/run/netns/xcl-n${NODE[p1]#n} '$XCNICTL' --pin-dir /sys/fs/bpf/xcni-lab/${NODE[p1]} metrics | grep -q '^fwd-too-big '"
"$XCNICTL" lab exec o/p1 -- ip link set eth0 mtu 1450
ip -n "xcl-${NODE[p1]}" link set "$P1_HOST_IF" mtu 1450
# TCP segments without TSO: o/q1 sends with segmentation offloads off, so the
# switch sees each full-size segment as a frame of its own.
if "$XCNICTL" lab exec o/q1 -- ethtool -K eth0 tso off gso off >/dev/null 2>&1; then
	"$XCNICTL" lab exec o/p2 -- socat -u TCP-LISTEN:5001,reuseaddr "OPEN:$T/recv2.bin,creat,trunc" &
	RCV=$!
	MINE+=("$RCV")
	wait_listen xcl-o.p2 5001
	capture_start "$T/seg.pcap"
	check "1 MiB over TCP from o/q1 (TSO/GSO off) -> o/p2" \
		"$XCNICTL" lab exec o/q1 -- socat -u "OPEN:$T/send.bin" "TCP:${IP[p2]}:5001"
	wait "$RCV" 2>/dev/null
	capture_stop "$T/seg.pcap"
	tshark -n -r "$T/seg.pcap" -Y "geneve && ip.src == ${IP[q1]} && tcp.len > 0" -T fields -e frame.len \
		-e ip.flags.mf 2>/dev/null | sort | uniq -c | sort -rn >"$T/seg.txt"
	check "  ... arrives whole, data in 1514-byte frames (1398-byte segments), none bigger, no fragment" \
		bash -c "cat $T/seg.txt; cmp -s $T/send.bin $T/recv2.bin && head -1 $T/seg.txt | grep -Eq ' 1514[[:space:]]+(0|False),(0|False)\$' && ! awk '\$2 > 1514' $T/seg.txt | grep -q ."
else
	diag "ethtool -K in the pod failed: the TSO-off transfer is not tested"
fi

# iperf3: throughput across nodes (reported, not judged: it depends on the machine).
"$XCNICTL" lab exec o/p2 -- iperf3 -s -1 -p 5201 >"$T/iperf-s.log" 2>&1 &
IPS=$!
MINE+=("$IPS")
wait_listen xcl-o.p2 5201
if "$XCNICTL" lab exec o/p1 -- iperf3 -c "${IP[p2]}" -p 5201 -t 2 -J >"$T/iperf.json" 2>&1; then
	ok "iperf3 o/p1 (n1) -> o/p2 (n2), 2 s"
	diag "$(jq_ '"cross-node TCP: %.2f Gbit/s, %d retransmits" % (d["end"]["sum_received"]["bits_per_second"] / 1e9, d["end"]["sum_sent"]["retransmits"])' <"$T/iperf.json")"
else
	not_ok "iperf3 o/p1 (n1) -> o/p2 (n2), 2 s"
	sed 's/^/#   /' "$T/iperf.json" | head
fi
wait "$IPS" 2>/dev/null
encap1=$(metric 1 fwd-encap from-pod); decap1=$(metric 2 fwd-decap from-overlay)
diag "n1 fwd-encap from-pod +$((encap1 - encap0)), n2 fwd-decap from-overlay +$((decap1 - decap0))"
check "n1 counts fwd-encap, n2 fwd-decap for the transfers (xcnictl metrics)" \
	test "$((encap1 - encap0))" -gt 700 -a "$((decap1 - decap0))" -gt 700
drops1=$(drops 1); drops2=$(drops 2)
stop_pids "$DMON"
CAP=$CAP6_1; pcap_stop "$T/n1-ip6.pcap"
CAP=$CAP6_2; pcap_stop "$T/n2-ip6.pcap"
same_drops() { # BEFORE1 AFTER1 BEFORE2 AFTER2
	[ "$1" = "$2" ] && [ "$3" = "$4" ] && return 0
	printf 'n1 before: %s\nn1 after:  %s\nn2 before: %s\nn2 after:  %s\n' "$1" "$2" "$3" "$4"
	cat "$T/drops.txt"
	for n in 1 2; do
		echo "n$n's IPv6 frames:"
		tshark -n -r "$T/n$n-ip6.pcap" -T fields -E separator=' ' -e frame.time -e sll.pkttype \
			-e sll.src.eth -e ipv6.src -e ipv6.dst -e _ws.col.Info 2>&1 | head -n 30
	done
	return 1
}
check "no drop counter moved on n1 or n2 meanwhile" same_drops "$drops1_0" "$drops1" "$drops2_0" "$drops2"
check "n1's ul0 dropped nothing it was given to send (segmentation of the encapsulated super-packets)" \
	test "$(ip -n xcl-n1 -s -j link show ul0 | jq_ 'd[0]["stats64"]["tx"]["dropped"]')" = "$ultx0"

# ---- a node leaves the cluster, and comes back ------------------------------------------------
printf 'apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n' >"$T/n2.yaml"
nt0=$(metric 1 drop-no-tunnel from-pod)
check "lab delete -f: Node n2" lab delete -f "$T/n2.yaml"
only_object_gone() {
	local st
	st=$(lab get --json | jq_ "[(n['registered'], n['xcnidRunning']) for n in d['nodes'] if n['name'] == 'n2'][0]")
	echo "n2 (registered, xcnid running): $st"
	[ ! -e "$XCNI_LAB_DIR/manifests/node.n2.json" ] && [ "$st" = "(False, True)" ] &&
		ip netns list | awk '{print $1}' | grep -qx xcl-n2 &&
		ip netns list | awk '{print $1}' | grep -qx xcl-o.p2 &&
		[ -e "$XCNI_LAB_DIR/manifests/pod.o.p2.json" ]
}
check "  ... only its object is gone: lab get says deleted; netns xcl-n2, its agent and pods stay" \
	only_object_gone
check "  ... n1 no longer routes n2's pod CIDR" \
	bash -c "! ip -n xcl-n1 route show 10.244.2.0/24 | grep -q xcni0"
out=$(lab probe o/p1 o/p2 80/tcp --timeout-ms 500); RC=$?
check "  ... probe o/p1 (n1) -> o/p2 (n2) 80/tcp: not connected ($out)" not_connected "$out" "$RC"
out=$(lab probe o/p3 o/q2 81/udp --timeout-ms 500); RC=$?
check "  ... probe o/p3 (n3) -> o/q2 (n2) 81/udp: not connected ($out)" not_connected "$out" "$RC"
check_fails "  ... ping o/p1 -> o/p2 fails" "$XCNICTL" lab exec o/p1 -- ping -c 1 -W 1 "${IP[p2]}"
nt1=$(metric 1 drop-no-tunnel from-pod)
check "  ... n1's xcnictl metrics count drop-no-tunnel ($nt0 -> $nt1)" test "$nt1" -gt "$nt0"
check "  ... pods on n2 still reach each other: o/q2 -> o/p2 80/tcp" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/q2 o/p2 80/tcp)\" = connected ]"
check "  ... pods of the other nodes too: o/p1 -> o/p3 80/tcp" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p1 o/p3 80/tcp)\" = connected ]"
pod r1 >"$T/r.yaml"
check "  ... a new pod is not scheduled on n2 (no Node object)" \
	bash -c "\"$XCNICTL\" lab apply -f $T/r.yaml && [ \"\$(\"$XCNICTL\" lab get --json | /usr/bin/python3 -c 'import json,sys; print([p[\"node\"] for p in json.load(sys.stdin)[\"pods\"] if p[\"name\"] == \"r1\"][0])')\" != n2 ]"
remember_pids
out=$(printf 'apiVersion: v1\nkind: Node\nmetadata: {name: n9}\n' | lab apply -f - 2>&1); RC=$?
check "apply of a Node that is no lab node: exit 1, naming it" \
	bash -c "[ $RC -eq 1 ] && grep -q 'Node n9: not a lab node' <<<\"\$1\"" _ "$out"
out=$(printf 'apiVersion: v1\nkind: Node\nmetadata: {name: n2}\nspec: {podCIDR: 10.244.9.0/24}\n' | lab apply -f - 2>&1); RC=$?
check "apply of Node n2 with another podCIDR: exit 1, nothing changed" \
	bash -c "[ $RC -eq 1 ] && grep -q 'spec.podCIDR: 10.244.9.0/24' <<<\"\$1\" && [ ! -e $XCNI_LAB_DIR/manifests/node.n2.json ]" _ "$out"
check "lab apply -f: Node n2 again" lab apply -f "$T/n2.yaml"
check "  ... its object is back, as the lab registers it (podCIDR, InternalIP)" \
	test "$(jq_ 'd["spec"]["podCIDR"], [a["address"] for a in d["status"]["addresses"] if a["type"] == "InternalIP"][0]' \
		<"$XCNI_LAB_DIR/manifests/node.n2.json")" = "10.244.2.0/24 192.168.77.2"
check "  ... probe o/p1 (n1) -> o/p2 (n2) 80/tcp: connected" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p1 o/p2 80/tcp)\" = connected ]"
check "  ... probe o/p3 (n3) -> o/q2 (n2) 81/udp: connected" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p3 o/q2 81/udp)\" = connected ]"
check "  ... ping o/p1 -> o/p2" "$XCNICTL" lab exec o/p1 -- ping -c 1 -W 2 "${IP[p2]}"
check "  ... matrix 80/TCP: all 49 pairs connected" \
	bash -c "\"$XCNICTL\" lab matrix 80/tcp --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d[\"pods\"]) == 7 and all(all(r.values()) for r in d[\"rows\"].values()) else 1)'"

# ---- down ----------------------------------------------------------------------------------
stop_mine
remember_pids
check "lab down" lab down
check "  ... leaves no netns (xcl-ul included), pin, process or state behind" test -z "$(leftovers)"

# ---- XDP off: the overlay does not need it -----------------------------------------------------
out=$(XCNI_LAB_XDP=off lab up --nodes 2 2>&1); RC=$?
echo "$out" | sed 's/^/# /'
remember_pids
check "XCNI_LAB_XDP=off lab up --nodes 2: reported XDP off, no XDP program on ul0" \
	bash -c "[ $RC -eq 0 ] && [ \$(grep -c 'XDP off' <<<\"\$1\") -eq 2 ] && ! ip -n xcl-n1 link show ul0 | grep -q prog/xdp" _ "$out"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: o}\n' >"$T/o2.yaml"
{ pod p1 n1; pod p2 n2; } >>"$T/o2.yaml"
check "  ... pods on n1 and n2 connect (80/TCP matrix)" \
	bash -c "\"$XCNICTL\" lab apply -f $T/o2.yaml >/dev/null && \"$XCNICTL\" lab matrix 80/tcp --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d[\"pods\"]) == 2 and all(all(r.values()) for r in d[\"rows\"].values()) else 1)'"
remember_pids
check "  ... lab down" lab down
check "  ... leaves nothing behind" test -z "$(leftovers)"

# ---- XDP tc: the prefilter in from_overlay, no XDP (a veth underlay: docs/decisions/prefilter-at-tc.md) ----
out=$(XCNI_LAB_XDP=tc lab up --nodes 2 2>&1); RC=$?
echo "$out" | sed 's/^/# /'
remember_pids
tc_mode_up() {
	[ "$RC" -eq 0 ] && [ "$(grep -c 'XDP tc' <<<"$out")" -eq 2 ] || return 1
	! ip -n xcl-n2 link show ul0 | grep -q prog/xdp || return 1
	[ "$(in_node 2 "$XCNICTL" --pin-dir "$LAB_PINS/n2" config --json | jq_ 'd["xdp_mode"]')" = tc ]
}
matrix2() {
	"$XCNICTL" lab matrix 80/tcp --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d["pods"]) == 2 and all(all(r.values()) for r in d["rows"].values()) else 1)'
}
pf() { in_node 2 "$XCNICTL" --pin-dir "$LAB_PINS/n2" prefilter "$@"; }
# The host's ping is dropped at tc: counted on its entry and as drop-prefilter from-overlay.
pf_dropped() {
	local before
	before=$(metric 2 drop-prefilter from-overlay)
	! ip netns exec xcl-ul ping -I 192.168.77.60 -c 2 -i 0.2 -W 1 192.168.77.2 || return 1
	[ "$(pf list --json | jq_ '[x["packets"] for x in d if x["cidr"] == "192.168.77.60/32"][0]')" -ge 2 ] || return 1
	[ "$(metric 2 drop-prefilter from-overlay)" -ge $((before + 2)) ]
}
check "XCNI_LAB_XDP=tc lab up --nodes 2: reported XDP tc, no XDP program on ul0, config says tc" tc_mode_up
apply_matrix() { "$XCNICTL" lab apply -f "$T/o2.yaml" >/dev/null && matrix2; }
check "  ... pods on n1 and n2 connect (80/TCP matrix)" apply_matrix
# A host on the underlay (192.168.77.60 on the switch, its pings from that address: br0's
# first one is the outside's gateway) reaches n2 until n2's prefilter lists it.
ip -n xcl-ul addr add 192.168.77.60/24 dev br0
check "  ... an underlay host pings n2" ip netns exec xcl-ul ping -I 192.168.77.60 -c 1 -W 2 192.168.77.2
check "  ... xcnictl prefilter add 192.168.77.60/32 on n2" pf add 192.168.77.60/32
check "  ... its pings are dropped at tc, counted on the entry and as drop-prefilter" pf_dropped
pf_gone() { pf del 192.168.77.60/32 && ip netns exec xcl-ul ping -I 192.168.77.60 -c 1 -W 2 192.168.77.2; }
check "  ... xcnictl prefilter del: the host pings n2 again" pf_gone
ip -n xcl-ul addr del 192.168.77.60/24 dev br0 2>/dev/null
check "  ... pods still connect (80/TCP matrix)" matrix2
remember_pids
check "  ... lab down" lab down
check "  ... leaves nothing behind" test -z "$(leftovers)"

finish
