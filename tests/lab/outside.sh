#!/bin/bash
# Masquerade end to end: pods reach a server outside the cluster with their
# node's address, stay themselves inside it, and lose the outside when their
# node's xcnid runs with --no-masquerade.
#
#   netns xcl-out: eth0 198.51.100.1/24   lab serve --tell-peer 80/TCP, 53/UDP:
#                  │                        answers "outside <source it saw>"
#                  │ route 192.168.77.0/24 via .254 only: no way back to a pod address
#   netns xcl-ul:  ul-out 198.51.100.254, forwarding; br0 192.168.77.254 (the switch)
#                                  │                      │
#   netns xcl-n1: ul0 192.168.77.1, default via .254   xcl-n2: ul0 .2, default via .254
#     nft table ip xcni: 10.244.1.0/24 -> masquerade     table ip xcni: 10.244.2.0/24
#       but to {10.244.1.0/24, 10.244.2.0/24, 192.168.77.1, 192.168.77.2}
#     o/p1 10.244.1.x                                    o/p2 10.244.2.x
#
# Extra listeners that tell the peer's address (lab serve --tell-peer) run in
# o/p2 and in node n2, started by this suite and stopped by PID. The suite
# reads the tables with nft (tests may; the product speaks libnftables).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite outside
unset XCNI_LAB_XDP
OUT=198.51.100.1
# answer FROM TO PORT/PROTO: what the listener answered ("" if blocked).
answer() { lab probe "$1" "$2" "$3" --json --timeout-ms 1500 | jq_ 'd.get("answer") or ""'; }
# expect_answer FROM TO PORT/PROTO WANT
expect_answer() {
	local got
	got=$(answer "$1" "$2" "$3")
	echo "answer: '$got', want '$4'"
	[ "$got" = "$4" ]
}
# blocked FROM TO PORT/PROTO: the probe says a fate other than connected, exit 1.
blocked() {
	local out rc
	out=$(lab probe "$1" "$2" "$3" --timeout-ms 700); rc=$?
	echo "probe: $out, exit $rc"
	not_connected "$out" "$rc"
}
# nomasq N: node n<N>'s exempt set as the kernel holds it, "a b c".
nomasq() {
	ip netns exec "xcl-n$1" nft -j list set ip xcni nomasq 2>/dev/null |
		jq_ "' '.join(e if isinstance(e, str) else e['prefix']['addr'] + '/' + str(e['prefix']['len']) for x in d['nftables'] if 'set' in x for e in x['set'].get('elem', []))"
}
# expect_set N "SET": until node n<N>'s set is SET (5 s): a restarted agent
# with cluster state writes its set after "ready", once that state is read.
expect_set() {
	local got
	for _ in $(seq 50); do
		got=$(nomasq "$1")
		[ "$got" = "$2" ] && break
		sleep 0.1
	done
	echo "n$1's set: '$got', want '$2'"
	[ "$got" = "$2" ]
}
has_table() { ip netns exec "xcl-n$1" nft list table ip xcni >/dev/null 2>&1; }

# wait_listen NETNS PORT: until something listens on TCP PORT in NETNS.
wait_listen() {
	for _ in $(seq 50); do
		ip netns exec "$1" ss -Htln "sport = :$2" | grep . >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN" /usr/sbin/nft

# ---- xcnid's options ----------------------------------------------------------------------
out=$("$XCNID_BIN" --masquerade 2>&1); RC=$?
check "xcnid --masquerade without --pod-cidr: exit 2, saying it needs one" \
	bash -c "[ $RC -eq 2 ] && grep -q -- '--masquerade needs --pod-cidr' <<<\"\$1\"" _ "$out"
out=$("$XCNID_BIN" --pod-cidr 10.244.1.0/24 --cluster-cidr 10.96.0.0/12,10.0.0.0 2>&1); RC=$?
check "xcnid --cluster-cidr with a bad CIDR in the list: exit 2, naming it" \
	bash -c "[ $RC -eq 2 ] && grep -q -- '--cluster-cidr 10.96.0.0/12,10.0.0.0: not CIDR\[,CIDR...\] (IPv4 or IPv6 CIDRs)' <<<\"\$1\"" _ "$out"

# ---- up: two nodes and the outside ----------------------------------------------------
lab_up_or_end --nodes 2
check "lab up reports the outside and its listener" grep -q "outside up: netns xcl-out, $OUT" <<<"$out"
# grep >/dev/null, not grep -q, after a pipe: an early exit would kill the writer
# with SIGPIPE, and pipefail would count that as a failure.
outside_ok() {
	ip -n xcl-out -o addr; ip -n xcl-out route; ip -n xcl-ul -o addr
	ip -n xcl-n1 route show default; ip -n xcl-n2 route show default
	ip netns exec xcl-out ss -Htuln
	ip -n xcl-out -o addr show dev eth0 | grep >/dev/null "inet $OUT/24" || return 1
	ip -n xcl-ul -o addr show dev br0 | grep >/dev/null 'inet 192\.168\.77\.254/24' || return 1
	ip -n xcl-ul -o addr show dev ul-out | grep >/dev/null 'inet 198\.51\.100\.254/24' || return 1
	[ "$(ip netns exec xcl-ul sysctl -n net.ipv4.ip_forward)" = 1 ] || return 1
	# Back to the underlay only: never to a pod CIDR.
	[ "$(ip -n xcl-out route show | grep -v 'proto kernel' | tr -s ' ')" = "192.168.77.0/24 via 198.51.100.254 dev eth0 " ] || return 1
	for i in 1 2; do
		ip -n "xcl-n$i" route show default | grep >/dev/null 'default via 192\.168\.77\.254 dev ul0' || return 1
	done
	ip netns exec xcl-out ss -Htln 'sport = :80' | grep >/dev/null . && ip netns exec xcl-out ss -Huln 'sport = :53' | grep >/dev/null .
}
check "outside: xcl-out $OUT/24 routed back to 192.168.77.0/24 only, xcl-ul forwards (.254 on both sides), nodes default via .254, listening on 80/tcp and 53/udp" \
	outside_ok
check "lab get --json names the outside and its running listener" \
	test "$(lab get --json | jq_ 'd["outside"]["netns"], d["outside"]["ip"], d["outside"]["serverRunning"]')" = "xcl-out $OUT True"

# ---- the tables -----------------------------------------------------------------------------
check "n1's table ip xcni: exempt set = both pod CIDRs and both node addresses" \
	expect_set 1 "10.244.1.0/24 10.244.2.0/24 192.168.77.1 192.168.77.2"
check "n2's: the same set" expect_set 2 "10.244.1.0/24 10.244.2.0/24 192.168.77.1 192.168.77.2"
rule_ok() {
	local r
	r=$(ip netns exec "xcl-n$1" nft list chain ip xcni postrouting)
	echo "$r"
	grep -q 'type nat hook postrouting priority srcnat; policy accept;' <<<"$r" &&
		grep -q "ip saddr 10.244.$1.0/24 ip daddr != @nomasq oifname != \"xc\*\" counter packets [0-9]* bytes [0-9]* masquerade" <<<"$r" &&
		[ "$(grep -c masquerade <<<"$r")" = 1 ]
}
check "n1's chain: one rule, masquerade from 10.244.1.0/24 unless to @nomasq or out xc*" rule_ok 1
check "n2's chain: the same from 10.244.2.0/24" rule_ok 2
check "xcnid logged the table" grep -q 'masquerade: table ip xcni: .* 4 exempt' "$XCNI_LAB_DIR/n1/xcnid.log"

# ---- pods ---------------------------------------------------------------------------------------
pod() { # pod NAME NODE LABEL
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: o, labels: {app: $3}}
spec:
  nodeName: $2
  containers:
    - name: srv
      ports:
        - {containerPort: 80, protocol: TCP}
        - {containerPort: 81, protocol: UDP}
EOF
}
{ printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: o}\n'; pod p1 n1 p1; pod p2 n2 p2; } >"$T/pods.yaml"
check "lab apply: o/p1 on n1, o/p2 on n2" lab apply -f "$T/pods.yaml" || { finish; exit 1; }
remember_pids
declare -A IP
while read -r name ip; do IP[$name]=$ip; done < <(lab get --json | jq_ '"\n".join(p["name"] + " " + p["ip"] for p in d["pods"])')
diag "o/p1 ${IP[p1]:-?}, o/p2 ${IP[p2]:-?}"

# ---- to the outside: masqueraded ------------------------------------------------------------------
check "o/p1 (n1) -> outside 80/tcp: the outside saw n1's address 192.168.77.1, not ${IP[p1]}" \
	expect_answer o/p1 $OUT 80/tcp "outside 192.168.77.1"
check "o/p1 (n1) -> outside 53/udp: saw 192.168.77.1" expect_answer o/p1 $OUT 53/udp "outside 192.168.77.1"
check "o/p2 (n2) -> outside 80/tcp: saw 192.168.77.2" expect_answer o/p2 $OUT 80/tcp "outside 192.168.77.2"
check "o/p2 (n2) -> outside 53/udp: saw 192.168.77.2" expect_answer o/p2 $OUT 53/udp "outside 192.168.77.2"
check "probe o/p1 -> $OUT 80/tcp: text output connected, exit 0" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p1 $OUT 80/tcp)\" = connected ]"
check "n1's masquerade rule counted the packets" \
	bash -c "ip netns exec xcl-n1 nft -j list chain ip xcni postrouting | grep '\"packets\": [1-9]' >/dev/null"

# ---- inside the cluster: not masqueraded ---------------------------------------------------------
"$XCNICTL" lab exec o/p2 -- "$XCNICTL" lab serve --name p2 --tell-peer 8080/tcp 8081/udp \
	>"$T/p2serve.log" 2>&1 &
MINE+=($!)
nsenter --net=/run/netns/xcl-n2 "$XCNICTL" lab serve --name n2 --tell-peer 8080/tcp 8081/udp \
	>"$T/n2serve.log" 2>&1 &
MINE+=($!)
wait_listen xcl-o.p2 8080 && wait_listen xcl-n2 8080 || diag "the suite's listeners did not start"
check "o/p1 (n1) -> o/p2 (n2) 8080/tcp: o/p2 saw o/p1's own address ${IP[p1]}" \
	expect_answer o/p1 "${IP[p2]}" 8080/tcp "p2 ${IP[p1]}"
check "o/p1 (n1) -> o/p2 (n2) 8081/udp: saw ${IP[p1]}" \
	expect_answer o/p1 "${IP[p2]}" 8081/udp "p2 ${IP[p1]}"
check "o/p1 (n1) -> node n2 (192.168.77.2) 8080/tcp: the node saw ${IP[p1]} (node addresses are exempt)" \
	expect_answer o/p1 192.168.77.2 8080/tcp "n2 ${IP[p1]}"
check "o/p1 (n1) -> node n2 8081/udp: saw ${IP[p1]}" \
	expect_answer o/p1 192.168.77.2 8081/udp "n2 ${IP[p1]}"

# ---- a host on the underlay forging sources (issue 26 items 2, 3) -----------------------------------
# xcl-ul sits on the lab's switch: it forges the allowed pod o/p1, the backend's node n2, n2's pod
# gateway and the other node n1 as sources of UDP datagrams to o/p2, whose policy admits o/p1
# only, both to o/p2's address (a route to n2's pod CIDR, added here and removed) and to its
# NodePort (externalTrafficPolicy Local: kube-proxy keeps the source). A receiver in o/p2 writes
# down every datagram that reaches it; the same datagram from o/p1 itself is the positive control.
GW2=$(ip -n xcl-o.p2 route show default | sed -n 's/^default via \([0-9.]*\) .*/\1/p')
cat >"$T/attack.yaml" <<EOF
$(y_np p2-from-p1 o "app: p2" "Ingress")
  ingress:
    - from: [{podSelector: {matchLabels: {app: p1}}}]
      ports: [{port: 9099, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: p2np, namespace: o}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: p2}
  ports: [{port: 9099, targetPort: 9099, protocol: UDP, nodePort: 30599}]
EOF
check "lab apply: o/p2 admits o/p1 only on 9099/udp; NodePort o/p2np 30599/udp (ETP Local) -> o/p2" \
	lab apply -f "$T/attack.yaml"
ip netns exec xcl-o.p2 python3 -u -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9099))
while True:
    d, a = s.recvfrom(2048)
    print(a[0], d.decode(errors="replace"), flush=True)
' >"$T/recv.log" 2>&1 &
MINE+=($!)
# forge SRC DST PORT TAG: from xcl-ul, a raw UDP datagram SRC:40000 -> DST:PORT saying TAG.
forge() {
	ip netns exec xcl-ul python3 -c '
import socket, struct, sys
src, dst, port, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
udp = struct.pack("!HHHH", 40000, port, 8 + len(tag), 0) + tag
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW).sendto(ip + udp, (dst, 0))
' "$@"
}
# from_p1 DST PORT TAG: the same datagram from o/p1 itself.
from_p1() {
	ip netns exec xcl-o.p1 python3 -c '
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
' "$@"
}
# arrived TAG: in o/p2's log within 0.3 s.
arrived() {
	for _ in 1 2 3 4 5 6; do grep -F -- " $1" "$T/recv.log" && return 0; sleep 0.05; done
	return 1
}
# control_until DST PORT TAG: o/p1's datagram arrives (the policy may take a moment to land).
control_until() {
	for i in $(seq 30); do
		from_p1 "$1" "$2" "$3-$i"
		arrived "$3-$i" && return 0
	done
	return 1
}
spoofed_n2() { # drop-outside-spoof packets n2 counted: from the underlay, and in to_pod
	echo $(($(metric 2 drop-outside-spoof from-overlay) + $(metric 2 drop-outside-spoof to-pod)))
}
for _ in $(seq 50); do
	ip netns exec xcl-o.p2 ss -Huln 'sport = :9099' | grep . >/dev/null && break
	sleep 0.1
done
if [ -n "$GW2" ] && [ -n "${IP[p1]:-}" ] && [ -n "${IP[p2]:-}" ]; then
	ip -n xcl-ul route add 10.244.2.0/24 via 192.168.77.2
	check "control: o/p1 -> o/p2 ${IP[p2]}:9099/udp arrives (the policy admits it)" \
		control_until "${IP[p2]}" 9099 ctl-pod
	check "control: o/p1 -> n2's NodePort 192.168.77.2:30599/udp arrives at o/p2" \
		control_until 192.168.77.2 30599 ctl-np
	before=$(spoofed_n2)
	for f in "${IP[p1]}=the-allowed-pod" 192.168.77.2=n2-itself "$GW2=n2s-pod-gateway" 192.168.77.1=node-n1; do
		forge "${f%%=*}" "${IP[p2]}" 9099 "forged-pod-${f#*=}"
		forge "${f%%=*}" 192.168.77.2 30599 "forged-np-${f#*=}"
	done
	check "forged on the underlay (o/p1 ${IP[p1]}, n2, its gateway $GW2, n1) to o/p2's address and NodePort: nothing arrives" \
		bash -c "sleep 1; cat '$T/recv.log'; ! grep -q forged '$T/recv.log'"
	after=$(spoofed_n2)
	check "  ... n2 counted drop-outside-spoof for them (the pod's, n2's and the gateway's: $before -> $after)" \
		test "$((after - before))" -ge 5
	check "control again after the forgeries: o/p1 -> o/p2 arrives" \
		control_until "${IP[p2]}" 9099 ctl-after
	ip -n xcl-ul route del 10.244.2.0/24 via 192.168.77.2
else
	check "the attack's addresses: o/p1 '${IP[p1]:-}', o/p2 '${IP[p2]:-}', n2's gateway '$GW2'" false
fi
check "lab delete: the attack's policy and Service" lab delete -f "$T/attack.yaml"

# ---- the set follows the Nodes ----------------------------------------------------------------------
printf 'apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n' >"$T/n2.yaml"
check "lab delete -f: Node n2" lab delete -f "$T/n2.yaml"
check "  ... n1's set loses n2's pod CIDR and address" expect_set 1 "10.244.1.0/24 192.168.77.1"
check "  ... n2's keeps its own pod CIDR and address" expect_set 2 "10.244.1.0/24 10.244.2.0/24 192.168.77.1 192.168.77.2"
check "lab apply -f: Node n2 again" lab apply -f "$T/n2.yaml"
check "  ... n1's set has them back" expect_set 1 "10.244.1.0/24 10.244.2.0/24 192.168.77.1 192.168.77.2"

# ---- egress policy with an ipBlock: judged on the pod's own address ------------------------------------
egress() { # egress CIDR: o/p1 may send only to CIDR, 80/TCP
	cat >"$T/pol.yaml" <<EOF
$(y_np p1-out o "app: p1" "Egress")
  egress:
    - to: [{ipBlock: {cidr: $1}}]
      ports: [{port: 80, protocol: TCP}]
EOF
	lab apply -f "$T/pol.yaml" >/dev/null
}
check "policy: o/p1 egress only to ipBlock 198.51.100.0/24 80/TCP" egress 198.51.100.0/24
check "  ... o/p1 -> outside 80/tcp: allowed, masqueraded" expect_answer o/p1 $OUT 80/tcp "outside 192.168.77.1"
check "  ... o/p1 -> outside 53/udp: denied (port not allowed)" blocked o/p1 $OUT 53/udp
check "  ... o/p1 -> o/p2 8080/tcp: denied (not in the block)" blocked o/p1 "${IP[p2]}" 8080/tcp
check "  ... o/p2 (no policy) -> outside 53/udp: still allowed" expect_answer o/p2 $OUT 53/udp "outside 192.168.77.2"
check "policy: o/p1 egress only to ipBlock 203.0.113.0/24 80/TCP" egress 203.0.113.0/24
check "  ... o/p1 -> outside 80/tcp: denied" blocked o/p1 $OUT 80/tcp
# Judged before masquerade: a block naming the node's address (what the outside
# sees) does not let the pod out.
check "policy: o/p1 egress only to ipBlock 192.168.77.1/32 (its node's address) 80/TCP" egress 192.168.77.1/32
check "  ... o/p1 -> outside 80/tcp: denied (policy sees ${IP[p1]} -> $OUT)" blocked o/p1 $OUT 80/tcp
check "policy deleted: o/p1 -> outside 53/udp again" \
	bash -c "\"$XCNICTL\" lab delete -f $T/pol.yaml >/dev/null && [ \"\$(\"$XCNICTL\" lab probe o/p1 $OUT 53/udp)\" = connected ]"

# ---- masquerade off on n2 ------------------------------------------------------------------------------
xpid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n2'][0]")
mapfile -d '' XARGS <"/proc/$xpid/cmdline"
kill "$xpid"
for _ in $(seq 50); do kill -0 "$xpid" 2>/dev/null || break; sleep 0.1; done
check "n2's xcnid stopped: its table stays (the data plane keeps its last state)" has_table 2
check "  ... and o/p2 still reaches the outside" expect_answer o/p2 $OUT 80/tcp "outside 192.168.77.2"
N2PID=
wait_ready() { # wait_ready N: until the log says ready N times
	for _ in $(seq 100); do
		[ "$(grep -c 'xcnid: ready' "$T/n2-xcnid.log" 2>/dev/null)" -ge "$1" ] && return 0
		sleep 0.1
	done
	cat "$T/n2-xcnid.log"
	return 1
}
stop_n2() { kill "$N2PID" 2>/dev/null; wait "$N2PID" 2>/dev/null; }
nsenter --net=/run/netns/xcl-n2 "${XARGS[@]}" --no-masquerade >>"$T/n2-xcnid.log" 2>&1 &
N2PID=$!; MINE+=("$N2PID")
check "n2's xcnid restarted with --no-masquerade" wait_ready 1
check "  ... n2's table ip xcni is gone" bash -c "! ip netns exec xcl-n2 nft list table ip xcni"
check "  ... o/p2 (n2) -> outside 80/tcp: blocked (no masquerade, no way back)" blocked o/p2 $OUT 80/tcp
check "  ... o/p2 (n2) -> outside 53/udp: blocked" blocked o/p2 $OUT 53/udp
check "  ... o/p1 (n1, masquerading) -> outside 80/tcp: still connected" \
	expect_answer o/p1 $OUT 80/tcp "outside 192.168.77.1"
check "  ... o/p2 -> o/p1 80/tcp (inside the cluster): still connected" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p2 o/p1 80/tcp)\" = connected ]"
stop_n2
nsenter --net=/run/netns/xcl-n2 "${XARGS[@]}" >>"$T/n2-xcnid.log" 2>&1 &
N2PID=$!; MINE+=("$N2PID")
check "n2's xcnid restarted with masquerade (the default)" wait_ready 2
check "  ... its table is back with the full set" expect_set 2 "10.244.1.0/24 10.244.2.0/24 192.168.77.1 192.168.77.2"
check "  ... o/p2 -> outside 80/tcp: saw 192.168.77.2 again" expect_answer o/p2 $OUT 80/tcp "outside 192.168.77.2"
stop_n2
nsenter --net=/run/netns/xcl-n2 "${XARGS[@]}" --cluster-cidr 10.96.0.0/12,10.244.0.0/16 \
	>>"$T/n2-xcnid.log" 2>&1 &
N2PID=$!; MINE+=("$N2PID")
check "n2's xcnid restarted with --cluster-cidr 10.96.0.0/12,10.244.0.0/16" wait_ready 3
check "  ... its set: the cluster CIDRs in place of the pod CIDRs they cover, the node addresses" \
	expect_set 2 "10.96.0.0/12 10.244.0.0/16 192.168.77.1 192.168.77.2"
check "  ... o/p2 -> outside 53/udp: saw 192.168.77.2" expect_answer o/p2 $OUT 53/udp "outside 192.168.77.2"
check "  ... o/p2 -> o/p1 80/tcp: connected" \
	bash -c "[ \"\$(\"$XCNICTL\" lab probe o/p2 o/p1 80/tcp)\" = connected ]"

# ---- down ------------------------------------------------------------------------------------------------
stop_mine
remember_pids
check "lab down" lab down
check "  ... leaves no netns (xcl-out and xcl-ul included), pin, process or state behind" \
	test -z "$(leftovers)"

finish
