#!/bin/bash
# NodePort in BPF (xcnid --kube-proxy-replacement with an underlay): a client
# outside the cluster reaches NODE-IP:nodePort to a backend on that node (the
# client's address kept), and to a backend on the other node (SNAT to the
# first node, Geneve, the reply back through it); externalTrafficPolicy=Local
# drops on a node without a backend and keeps the client's address on the one
# with it. Then a UDP client that keeps sending to a ClusterIP while its
# backend is swapped for another reaches the new one (conntrack flush).
#
#   netns <tag>-sw: bridge br0 (the underlay switch)
#     p1 ──veth── ul0 <tag>-n1 192.168.91.1  xcnid n1, pods a (backend), c (UDP client), d
#     p2 ──veth── ul0 <tag>-n2 192.168.91.2  xcnid n2, pod r (backend)
#     p3 ──veth── eth0 <tag>-out 192.168.91.100 (the outside client)
#   pod CIDRs: n1 10.98.1.0/24, n2 10.98.2.0/24
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

T=$(mktemp -d /tmp/xcni-nodeport.XXXXXX)
M=$T/manifests
mkdir -p "$M"
NODES="n1 n2"
declare -A PID SUB UIP
SUB[n1]=10.98.1
SUB[n2]=10.98.2
UIP[n1]=192.168.91.1
UIP[n2]=192.168.91.2
OUT=192.168.91.100
PODS="n1:a n1:c n1:d n2:r"
SRVS=()

ns() { echo "$XCT_TAG-$1"; }
pin() { echo "/sys/fs/bpf/$XCT_TAG-$1"; }
# nsenter, not ip netns exec: that one remounts /sys, hiding the pins in /sys/fs/bpf.
inns() { local n=$1; shift; nsenter --net="/var/run/netns/$(ns "$n")" "$@"; }
ctl() { local n=$1; shift; inns "$n" "$BUILD/xcnictl" --pin-dir "$(pin "$n")" "$@"; }
cni() { # cni COMMAND NODE POD
	nsenter --net="/var/run/netns/$(ns "$2")" env CNI_COMMAND="$1" CNI_CONTAINERID="np-$3" \
		CNI_NETNS="/var/run/netns/$(ns "$3")" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <"$T/$2.json"
}

cleanup() {
	local s n p
	for s in "${SRVS[@]}"; do kill "$s" 2>/dev/null; done
	for p in $PODS; do
		[ -e "/var/run/netns/$(ns "${p#*:}")" ] && cni DEL "${p%%:*}" "${p#*:}" >/dev/null 2>&1
		ip netns del "$(ns "${p#*:}")" 2>/dev/null
	done
	for n in $NODES; do
		[ -n "${PID[$n]:-}" ] && kill "${PID[$n]}" 2>/dev/null && wait "${PID[$n]}" 2>/dev/null
		rm -rf "$(pin "$n")"
		ip netns del "$(ns "$n")" 2>/dev/null
	done
	ip netns del "$(ns out)" 2>/dev/null
	ip netns del "$(ns sw)" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# The underlay: three ports on one bridge.
ip netns add "$(ns sw)" && ip -n "$(ns sw)" link set lo up
ip -n "$(ns sw)" link add br0 type bridge && ip -n "$(ns sw)" link set br0 up
i=0
for n in n1 n2 out; do
	i=$((i + 1))
	ip netns add "$(ns "$n")" && ip -n "$(ns "$n")" link set lo up
	dev=ul0
	[ "$n" = out ] && dev=eth0
	ip link add "$XCT_TAG-p$i" netns "$(ns sw)" type veth peer name "$dev" netns "$(ns "$n")"
	ip -n "$(ns sw)" link set "$XCT_TAG-p$i" master br0 up
	ip -n "$(ns "$n")" link set "$dev" up
done
ip -n "$(ns n1)" addr add "${UIP[n1]}/24" dev ul0
ip -n "$(ns n2)" addr add "${UIP[n2]}/24" dev ul0
ip -n "$(ns out)" addr add "$OUT/24" dev eth0

for n in $NODES; do
	cat >"$T/$n.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-np-$n","type":"xcni","stateDir":"$T/state-$n","pinDir":"$(pin "$n")",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"${SUB[$n]}.0/24"}]],"dataDir":"$T/ipam-$n"}}
EOT
	# nsenter execs the agent: $! is its PID (a function run in the background
	# would be a subshell, and killing it would leave the agent running).
	nsenter --net="/var/run/netns/$(ns "$n")" "$BUILD/xcnid" --pin-dir "$(pin "$n")" --pod-cidr "${SUB[$n]}.0/24" \
		--node-name "$n" --underlay-dev ul0 --manifests "$M" --no-masquerade \
		--kube-proxy-replacement -v >"$T/xcnid-$n.log" 2>&1 &
	PID[$n]=$!
done
started() {
	for _ in $(seq 100); do
		[ -e "$(pin n1)/prog_to_pod" ] && [ -e "$(pin n2)/prog_to_pod" ] && return 0
		sleep 0.1
	done
	cat "$T"/xcnid-*.log
	return 1
}
check "xcnid on both nodes (--underlay-dev --kube-proxy-replacement)" started || { finish; exit 1; }

declare -A IP
for p in $PODS; do
	n=${p%%:*} pod=${p#*:}
	ip netns add "$(ns "$pod")" && ip -n "$(ns "$pod")" link set lo up
	cni ADD "$n" "$pod" >"$T/$pod.out" || { not_ok "ADD $pod"; cat "$T/$pod.out"; finish; exit 1; }
	IP[$pod]=$(jq -r '.ips[0].address' "$T/$pod.out" | cut -d/ -f1)
done

# TCP servers answering with their name and the peer they see; UDP ones with their name.
for pod in a r; do
	ip netns exec "$(ns "$pod")" socat TCP-LISTEN:8080,fork,reuseaddr \
		SYSTEM:"echo $pod \$SOCAT_PEERADDR" &
	SRVS+=($!)
done
udp_server() {
	ip netns exec "$(ns "$1")" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode(), a)
' "$1" &
	SRVS+=($!)
}
udp_server a
udp_server d

MANIFEST_GEN=0
put() { cat >"$M/.tmp-$1" && mv "$M/.tmp-$1" "$M/$1"; }
sync_gen() {
	local n
	MANIFEST_GEN=$((MANIFEST_GEN + 1))
	echo "$MANIFEST_GEN" >"$M/.tmp-gen" && mv "$M/.tmp-gen" "$M/.xcni-generation"
	for n in $NODES; do
		for _ in $(seq 100); do
			[ "$(ctl "$n" config --json 2>/dev/null | jq -r .applied_gen)" -ge "$MANIFEST_GEN" ] \
				2>/dev/null && continue 2
			sleep 0.05
		done
		echo "$n did not apply generation $MANIFEST_GEN"
		ctl "$n" config --json
		return 1
	done
}

put cluster.yaml <<EOF
$(for n in $NODES; do cat <<EON
apiVersion: v1
kind: Node
metadata: {name: $n}
spec: {podCIDR: ${SUB[$n]}.0/24}
status: {addresses: [{type: InternalIP, address: ${UIP[$n]}}]}
EON
echo ---; done)
---
apiVersion: v1
kind: Namespace
metadata: {name: x}
$(for p in $PODS; do cat <<EOP
---
apiVersion: v1
kind: Pod
metadata: {name: ${p#*:}, namespace: x, labels: {name: ${p#*:}}}
spec: {nodeName: ${p%%:*}}
status: {podIP: ${IP[${p#*:}]}}
EOP
done)
EOF
svc() { # svc NAME NODEPORT ETP ENDPOINT-POD
	put "svc-$1.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: x}
spec:
  type: NodePort
  clusterIP: 10.96.1.$2
  externalTrafficPolicy: $3
  ports: [{port: 80, targetPort: 8080, nodePort: 3008$2}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: $1-1, namespace: x, labels: {kubernetes.io/service-name: $1}}
addressType: IPv4
endpoints: [{addresses: [${IP[$4]}], nodeName: $(for p in $PODS; do [ "${p#*:}" = "$4" ] && echo "${p%%:*}"; done)}]
ports: [{port: 8080}]
EOF
}
svc local 0 Cluster a
svc remote 1 Cluster r
svc etp 2 Local r
check "Nodes, pods and three NodePort Services applied on both nodes" sync_gen

# from_out IP PORT: what the server answered ("<pod> <peer>"), or nothing.
from_out() {
	ip netns exec "$(ns out)" timeout 3 socat -T1 - "TCP:$1:$2,connect-timeout=2" </dev/null 2>/dev/null
}
expect_out() { # expect_out IP PORT "POD PEER" | ""
	local got
	got=$(from_out "$1" "$2")
	[ "$got" = "$3" ] || { echo "out -> $1:$2: \"$got\", expected \"$3\""; return 1; }
}
check "outside -> n1:30080 reaches a on n1, which sees the client's address" \
	expect_out "${UIP[n1]}" 30080 "a $OUT"
# What goes from n1 to n2 on the wire: Geneve, outer n1 -> n2, inner n1 -> r:8080.
capture_start() {
	local rc
	geneve_capture_start "$(ns sw)" br0 "$T/wire.pcap"
	rc=$?
	SRVS+=($CAP)
	return "$rc"
}
check "tshark captures Geneve on the underlay switch" capture_start
check "outside -> n1:30081 reaches r on n2, SNATed to n1" expect_out "${UIP[n1]}" 30081 "r ${UIP[n1]}"
geneve_capture_stop "$T/wire.pcap"
# ip.src/ip.dst list the outer then the inner header's addresses.
on_wire() {
	tshark -n -r "$T/wire.pcap" -T fields -E separator=' ' -e ip.src -e ip.dst -e tcp.srcport \
		-e tcp.dstport -e geneve.vni 2>/dev/null >"$T/wire.txt"
	sed 's/^/#   /' "$T/wire.txt" | head -6
	grep -q "^${UIP[n1]},${UIP[n1]} ${UIP[n2]},${IP[r]} [0-9]* 8080 0x000001$" "$T/wire.txt" &&
		grep -q "^${UIP[n2]},${IP[r]} ${UIP[n1]},${UIP[n1]} 8080 [0-9]* 0x000001$" "$T/wire.txt"
}
check "on the wire: Geneve n1 -> n2 with inner n1 -> r:8080 (SNAT, DNAT), and r's reply back" on_wire
# Path MTU (bpf/lib/nodeport_icmp.h): a 1500-byte SYN with DF from outside to n1:30081
# (r on n2) would be 1550 in Geneve; n1 answers ICMP fragmentation needed,
# next-hop MTU 1450, from the NodePort, quoting the packet as it was sent.
frag_needed() {
	ip netns exec "$(ns out)" python3 -c '
import socket, struct, sys, time
src, dst = sys.argv[1], sys.argv[2]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
tcp = struct.pack("!HHIIBBHHH", 40404, 30081, 1, 0, 5 << 4, 0x02, 64240, 0, 0) + bytes(1460)
ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 0x77, 0x4000, 64, 6, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
ic = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ic.settimeout(2)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.sendto(ip + tcp, (dst, 0))
end = time.time() + 2
while time.time() < end:
    try:
        d, a = ic.recvfrom(2048)
    except socket.timeout:
        break
    if d[20] == 3 and d[21] == 4:
        q = d[28:]
        print(a[0], struct.unpack("!H", d[26:28])[0], socket.inet_ntoa(q[16:20]),
              struct.unpack("!H", q[22:24])[0], len(d))
        sys.exit(0)
sys.exit(1)
' "$OUT" "${UIP[n1]}" >"$T/ptb.txt"
	cat "$T/ptb.txt"
	[ "$(cat "$T/ptb.txt")" = "${UIP[n1]} 1450 ${UIP[n1]} 30081 56" ]
}
check "outside -> n1:30081, 1500 bytes with DF: ICMP fragmentation needed, MTU 1450, from n1" \
	frag_needed
too_big_counted() { grep -q 'drop-too-big' <<<"$(ctl n1 metrics)"; }
check "... counted as drop-too-big on n1" too_big_counted
check "outside -> n2:30081 reaches r on n2 (local there)" expect_out "${UIP[n2]}" 30081 "r $OUT"
check "externalTrafficPolicy=Local: outside -> n1:30082 (no backend on n1) gets nothing" \
	expect_out "${UIP[n1]}" 30082 ""
counted() { grep -q 'drop-no-local-backend' <<<"$(ctl n1 metrics)"; }
check "... counted as drop-no-local-backend on n1" counted
check "externalTrafficPolicy=Local: outside -> n2:30082 reaches r, the client's address kept" \
	expect_out "${UIP[n2]}" 30082 "r $OUT"
check "a pod of n1 -> n1:30082 (inside: every backend) reaches r" \
	bash -c "ip netns exec $(ns c) timeout 3 socat -T1 - TCP:${UIP[n1]}:30082,connect-timeout=2 </dev/null | grep -q '^r '"
# Policy is judged on the backend, with the client as it arrives: a's ingress
# allows one ipBlock; the outside client's address in it or not.
a_allows() { # a_allows CIDR
	put policy.yaml <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-block, namespace: x}
spec:
  podSelector: {matchLabels: {name: a}}
  ingress: [{from: [{ipBlock: {cidr: $1}}]}]
EOF
}
a_allows 192.168.91.200/32
check "a's ingress allows only 192.168.91.200/32: applied" sync_gen
check "outside -> n1:30080: refused by a's ingress policy (no answer)" \
	expect_out "${UIP[n1]}" 30080 ""
pol_counted() { grep -q 'drop-policy-ingress' <<<"$(ctl n1 metrics)"; }
check "... counted as drop-policy-ingress on n1" pol_counted
a_allows "$OUT/32"
check "a's ingress allows the outside client's /32: applied" sync_gen
check "outside -> n1:30080 reaches a again" expect_out "${UIP[n1]}" 30080 "a $OUT"
rm -f "$M/policy.yaml"

no_rules() {
	local n
	for n in n1 n2; do
		[ -z "$(ip netns exec "$(ns "$n")" nft list ruleset 2>&1)" ] || return 1
		[ "$(ip netns exec "$(ns "$n")" iptables-save 2>/dev/null | grep -c '^-A')" = 0 ] || return 1
	done
}
check "no iptables or nftables rule on either node" no_rules

# UDP: c sends to a ClusterIP from one source port every 50 ms; the backend is
# swapped from a to d. Service "keep" still names a, so a's backend (its id)
# stays: without the conntrack flush the flow would stay on a for good.
udp_yaml() { # udp_yaml NAME CLUSTER-IP BACKEND-POD: a UDP Service on 53 and its slice
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: x}
spec: {clusterIP: $2, ports: [{port: 53, protocol: UDP, targetPort: 5353}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: $1-1, namespace: x, labels: {kubernetes.io/service-name: $1}}
addressType: IPv4
endpoints: [{addresses: [${IP[$3]}], nodeName: n1}]
ports: [{port: 5353, protocol: UDP}]
EOF
}
udp_svc() { # udp_svc BACKEND-POD
	{ udp_yaml udp 10.96.2.53 "$1"; echo ---; udp_yaml keep 10.96.2.54 a; } | put svc-udp.yaml
}
udp_svc a
check "UDP Service (backend a) applied" sync_gen
ip netns exec "$(ns c)" python3 -c '
import socket, sys, time, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40053))
s.settimeout(0.05)
end = time.monotonic() + 8
while time.monotonic() < end and not os.path.exists(sys.argv[1]):
    s.sendto(b"q", ("10.96.2.53", 53))
    try:
        print(s.recv(64).decode(), flush=True)
    except socket.timeout:
        print("-", flush=True)
    time.sleep(0.05)
' "$T/udp.stop" >"$T/udp.log" 2>&1 &
UDPC=$!
SRVS+=($UDPC)
answered() { grep -q "^$1\$" <(tail -n 3 "$T/udp.log"); }
wait_answer() { for _ in $(seq 60); do answered "$1" && return 0; sleep 0.05; done; tail "$T/udp.log"; return 1; }
check "the UDP client gets answers from a" wait_answer a
udp_svc d
check "backend swapped to d applied" sync_gen
flushed() { grep -E "[1-9][0-9]* UDP conntrack entries of removed backends flushed" "$T/xcnid-n1.log"; }
check "n1 flushed the flow's conntrack entries" flushed
check "the same UDP client (same source port) now gets answers from d" wait_answer d
touch "$T/udp.stop"
wait "$UDPC" 2>/dev/null

finish
