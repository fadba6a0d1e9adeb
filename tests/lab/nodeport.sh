#!/bin/bash
# NodePort from outside the cluster, on a lab of LAB_NODES nodes (default 3)
# in either kube-proxy mode (LAB_KUBE_PROXY=iptables, the default: the lab's
# kube-proxy rules, KUBE-NODEPORTS/KUBE-EXT/KUBE-SVL; none: xcnid
# --kube-proxy-replacement in BPF). The backend answers with the source
# address it saw (annotation lab.xcni.io/server: tell-peer), so every probe
# says who answered and whom it saw.
#
#   netns xcl-out 198.51.100.1: lab probe outside nI PORT/PROTO
#        │ (routed by xcl-ul to 192.168.77.0/24)
#   xcl-n1 192.168.77.1   xcl-n2 .2 (the backend's node, n1 with one node)   xcl-n3 .3
#     np/c1 (client)        np/b (app=b: 8080/tcp, 8081/udp, tell-peer)
#
#   np/cl  NodePort 30080/tcp, 30081/udp, externalTrafficPolicy Cluster -> np/b
#   np/loc NodePort 30090/tcp, 30091/udp, externalTrafficPolicy Local   -> np/b
#   np/auto NodePort without nodePort: the lab allocates the lowest free one
#
# ETP Cluster: a node without the backend SNATs to its own address and sends
# the request through Geneve (kube-proxy mode: through its stack, masqueraded);
# the backend's own node: kube-proxy masquerades too, xcnid keeps the client.
# ETP Local: only the backend's node answers, and the backend sees the client.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
KP=${LAB_KUBE_PROXY:-iptables}
NODES=${LAB_NODES:-3}
# LAB_IP_FAMILY=dual: the same, and the NodePorts over IPv6 too (the nodes'
# fd00:77::<i>, the outside 2001:db8:100::1).
FAMILY=${LAB_IP_FAMILY:-ipv4}
lab_suite "nodeport-$KP-$NODES${LAB_IP_FAMILY:+-$FAMILY}"
OUT6=2001:db8:100::1
DS= # the Services' family policy: dual stack in a dual stack lab
[ "$FAMILY" = dual ] && DS="ipFamilyPolicy: PreferDualStack,"
OUT=198.51.100.1
BN=n$((NODES >= 2 ? 2 : 1)) # the backend's node

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
check "lab up --nodes $NODES --kube-proxy $KP --ip-family $FAMILY" \
	lab up --nodes "$NODES" --kube-proxy "$KP" --ip-family "$FAMILY" || { finish; exit 1; }
remember_pids

# answer FROM TO PORT/PROTO: what the listener answered ("" if blocked).
answer() { lab probe "$1" "$2" "$3" --json --timeout-ms 1500 | jq_ 'd.get("answer") or ""'; }
expect_answer() { # FROM TO PORT/PROTO WANT
	local got
	got=$(answer "$1" "$2" "$3")
	echo "answer: '$got', want '$4'"
	[ "$got" = "$4" ]
}
blocked() { # FROM TO PORT/PROTO: the probe says a fate other than connected, exit 1
	local out rc
	out=$(lab probe "$1" "$2" "$3" --timeout-ms 700); rc=$?
	echo "probe: $out, exit $rc"
	not_connected "$out" "$rc"
}
svc() { # NAME SPEC-YAML (flow style, without braces)
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: np}\nspec: {%s}\n' "$1" "$2"
}
nodeport() { lab get --json | jq_ "[p.get('nodePort', 0) for s in d['services'] if s['name'] == '$1' for p in s['ports']][${2:-0}]"; }

cat >"$T/b.yaml" <<EOF
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  namespace: np
  labels: {app: b}
  annotations: {lab.xcni.io/server: tell-peer}
spec:
  nodeName: $BN
  containers:
  - name: c
    ports: [{name: http, containerPort: 8080}, {name: echo, containerPort: 8081, protocol: UDP}]
EOF
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: np}\n'
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: c1, namespace: np, labels: {role: client}}
spec: {nodeName: n1, containers: [{name: c}]}
EOF
	cat "$T/b.yaml"
	svc cl "type: NodePort, $DS selector: {app: b}, ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}, {name: echo, port: 81, protocol: UDP, targetPort: echo, nodePort: 30081}]"
	svc loc "type: NodePort, $DS externalTrafficPolicy: Local, selector: {app: b}, ports: [{name: http, port: 80, targetPort: http, nodePort: 30090}, {name: echo, port: 81, protocol: UDP, targetPort: echo, nodePort: 30091}]"
} >"$T/np.yaml"
check "apply namespace np, client np/c1 (n1), backend np/b ($BN, tell-peer), NodePort Services np/cl and np/loc" \
	lab apply -f "$T/np.yaml" || { finish; exit 1; }
remember_pids
check "lab get: np/cl is type NodePort with nodePorts 30080 and 30081" \
	test "$(lab get --json | jq_ "' '.join([s['type']] + [str(p['nodePort']) for p in s['ports']]) if (s := [s for s in d['services'] if s['name'] == 'cl'][0]) else ''")" = "NodePort 30080 30081"
check "lab get (text): PORTS as kubectl shows them, 80:30080/tcp->http" \
	bash -c "\"$XCNICTL\" lab get | grep -q '80:30080/tcp->http'"
if [ "$KP" = iptables ]; then
	rules() { in_node "$1" iptables-save -t nat; }
	check "n1's nat table: KUBE-SERVICES ends with the jump to KUBE-NODEPORTS for 192.168.77.1" \
		bash -c "nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep '^-A KUBE-SERVICES' | tail -n1 | grep -q -- '-d 192.168.77.1/32 .*-j KUBE-NODEPORTS'"
	check "n1's KUBE-NODEPORTS sends 30080/tcp to a KUBE-EXT chain that masquerades" \
		bash -c "ext=\$(nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | sed -n 's/^-A KUBE-NODEPORTS .*--dport 30080 -j \(KUBE-EXT-[A-Z0-9]*\)\$/\1/p'); [ -n \"\$ext\" ] && nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep -q \"^-A \$ext .*-j KUBE-MARK-MASQ\""
	if [ "$NODES" -ge 2 ]; then
		check "n1 (no local endpoint of np/loc): filter KUBE-EXTERNAL-SERVICES drops 30090/tcp" \
			bash -c "nsenter --net=/run/netns/xcl-n1 iptables-save -t filter | grep -q -- '-A KUBE-EXTERNAL-SERVICES .*np/loc:http has no local endpoints.*--dport 30090 -j DROP'"
	fi
	check "$BN (the local endpoint): np/loc's KUBE-EXT goes to a KUBE-SVL chain, no masquerade for outside traffic" \
		bash -c "nsenter --net=/run/netns/xcl-$BN iptables-save -t nat | grep -q '^-A KUBE-EXT-[A-Z0-9]* -j KUBE-SVL-'"
fi

# ---- from the outside, to every node ---------------------------------------------
for i in $(seq "$NODES"); do
	n=n$i
	addr=192.168.77.$i
	if [ "$n" = "$BN" ]; then
		# The backend's node: kube-proxy masquerades every external packet (to the
		# address of the pod's side: the node's); xcnid DNATs and keeps the client.
		if [ "$KP" = none ]; then seen=$OUT; why="local backend, client kept"
		else seen=$(in_node "$i" ip -4 -o route get "$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'b'][0]")" | sed -n 's/.* src \([0-9.]*\).*/\1/p'); why="local backend, masqueraded"
		fi
	else
		seen=$addr; why="remote backend: SNAT to $n's address, Geneve to $BN"
		[ "$KP" = iptables ] && seen=$(in_node "$i" ip -4 -o route get "$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'b'][0]")" | sed -n 's/.* src \([0-9.]*\).*/\1/p') && why="remote backend, masqueraded"
	fi
	check "ETP Cluster: outside -> $n ($addr):30080/tcp: np/b saw $seen ($why)" \
		expect_answer outside "$n" 30080/tcp "np/b $seen"
	check "ETP Cluster: outside -> $n:30081/udp: np/b saw $seen" \
		expect_answer outside "$n" 30081/udp "np/b $seen"
	if [ "$n" = "$BN" ]; then
		check "ETP Local: outside -> $n:30090/tcp (local backend): np/b saw the client $OUT" \
			expect_answer outside "$n" 30090/tcp "np/b $OUT"
		check "ETP Local: outside -> $n:30091/udp: np/b saw $OUT" \
			expect_answer outside "$n" 30091/udp "np/b $OUT"
	else
		check "ETP Local: outside -> $n:30090/tcp (no local backend): dropped" blocked outside "$n" 30090/tcp
		check "ETP Local: outside -> $n:30091/udp: dropped" blocked outside "$n" 30091/udp
	fi
done
# Who called: the node that SNATed a NodePort flow names the outside client
# in its flow record (issue 53 item 3; the backend's node sees that node's
# address only), and --from-ip finds the flow by the client.
client_flows() { # CLIENT NODE-ADDRESS-FORMAT
	local out _
	for _ in $(seq 20); do # the agents take a flow at their conntrack walk (every second)
		out=$("$XCNICTL" --node all flows --from-ip "$1" --json 2>&1)
		python3 -c '
import json, sys
out, client, fmt, bn, nodes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
named = (client if "." in client else "[%s]" % client) + ":"
recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
seen = {(r["source"]["ip"], r["protocol"], r["destination"]["port"]) for r in recs
        if (r.get("client") or "").startswith(named)}
want = {(fmt % i, p, port) for i in range(1, nodes + 1) if "n%d" % i != bn
        for p, port in (("TCP", 8080), ("UDP", 8081))}
sys.exit(0 if want <= seen else 1)' "$out" "$1" "$2" "$BN" "$NODES" && return 0
		sleep 0.3
	done
	echo "$out"
	return 1
}
if [ "$KP" = none ] && [ "$NODES" -ge 2 ]; then
	check "flows --node all --from-ip $OUT: each node but $BN names the client $OUT in its SNATed 30080/tcp and 30081/udp flows" \
		client_flows "$OUT" 192.168.77.%d
	text_client() { # the default line: the client is the source of a flow another node
		# than the backend's decided (its SNAT); -o wide: "client ADDR:PORT (SNAT)"
		"$XCNICTL" --node all flows --from-ip "$OUT" |
			awk -v bn="$BN" -v c="$OUT" '$1 != bn && index($3, c ":") == 1 {f = 1} END {exit !f}' &&
			"$XCNICTL" --node all flows --from-ip "$OUT" -o wide | grep -qF "client $OUT:"
	}
	check "flows --node all --from-ip $OUT (text): the client is the source of a flow a node but $BN decided; -o wide says 'client $OUT:PORT (SNAT)'" text_client
fi
# ---- a UDP client of a NodePort, its backend pod cycled --------------------------------
# One socket from the outside to $BN:30091 (np/loc: externalTrafficPolicy Local, so one
# tuple, one conntrack entry on $BN, DNATed to np/b and not masqueraded: the kernel drops
# a masqueraded entry itself when its output device (the old pod's veth) goes, not this
# one); np/b deleted and created again (a new address). kube-proxy deletes the UDP
# entries of a NodePort's flows to an endpoint that went away (the lab: over ctnetlink),
# xcnid replaces a gone backend in the flow's service entry: the next datagram on the
# same socket reaches the new np/b.
b_ip() { lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'b'][0]"; }
B_OLD=$(b_ip)
udp_flow_start "$T/udp-np.out" nsenter --net=/run/netns/xcl-out python3 "$LAB_TESTS/udp_flow.py" \
	"192.168.77.${BN#n}" 30091 "$T/udp-go1"
check "outside's UDP socket to $BN:30091 answered by np/b ($B_OLD)" grep -qx '0 answered' "$T/udp-np.out"
check "delete np/b" lab delete -f "$T/b.yaml"
check "create np/b again" lab apply -f "$T/b.yaml"
remember_pids
B_NEW=$(b_ip)
check "np/b got a new address ($B_OLD -> $B_NEW)" test "$B_OLD" != "$B_NEW"
touch "$T/udp-go1"
wait "$FLOW"
diag "$(cat "$T/udp-np.out")"
check "the same socket (same tuple) to $BN:30091 is answered again, by the new np/b" \
	grep -qx '1 answered' "$T/udp-np.out"

# ---- externalIPs: 192.168.77.200, routed by the underlay's router to n1 -------------------
EIP=192.168.77.200
svc ext "selector: {app: b}, externalIPs: [$EIP], ports: [{name: http, port: 82, targetPort: http}]" >"$T/ext.yaml"
check "apply np/ext (ClusterIP, externalIPs [$EIP], 82/tcp -> http)" lab apply -f "$T/ext.yaml"
ip -n xcl-ul route replace "$EIP/32" via 192.168.77.1 dev br0
if [ "$KP" = iptables ]; then
	check "n1's nat table: KUBE-SERVICES sends $EIP:82/tcp (external IP) to a KUBE-EXT chain that masquerades" \
		bash -c "ext=\$(nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep '^-A KUBE-SERVICES -d $EIP/32 -p tcp .*np/ext:http external IP.*--dport 82 -j KUBE-EXT-' | sed 's/.*-j //'); [ -n \"\$ext\" ] && nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep -q \"^-A \$ext .*-j KUBE-MARK-MASQ\""
fi
eip_answer() { # the answer of a TCP connection from the outside to $EIP:82 (the listener
	# answers once the peer has said its piece: nothing, here)
	nsenter --net=/run/netns/xcl-out python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 82), timeout=2)
s.shutdown(socket.SHUT_WR)
print(s.recv(256).decode().strip())' "$EIP" 2>/dev/null
}
got=$(eip_answer)
check "outside -> externalIP $EIP:82/tcp (via n1) reaches np/b (got '$got')" bash -c "[[ '$got' == 'np/b '* ]]"
ip -n xcl-ul route del "$EIP/32" 2>/dev/null
check "delete np/ext" lab delete -f "$T/ext.yaml"

# ---- the same over IPv6 (dual stack lab: the Services are dual stack) ---------------
if [ "$FAMILY" = dual ]; then
	b6=$(lab get --json | jq_ "[p['ip6'] for p in d['pods'] if p['name'] == 'b'][0]")
	# answer6 NODE PORT/PROTO [TIMEOUT-MS]: what np/b answered over IPv6 ("" if blocked).
	answer6() { lab probe outside "$1" "$2" --family 6 --json --timeout-ms "${3:-1500}" | jq_ 'd.get("answer") or ""'; }
	for i in $(seq "$NODES"); do
		n=n$i
		if [ "$KP" = none ]; then
			# xcnid: a local backend sees the client; a remote one this node's address.
			if [ "$n" = "$BN" ]; then seen=$OUT6; else seen=fd00:77::$i; fi
		else
			# kube-proxy masquerades to the node's source address towards the pod.
			seen=$(in_node "$i" ip -6 -o route get "$b6" | sed -n 's/.* src \([0-9a-f:]*\).*/\1/p')
		fi
		for pp in 30080/tcp 30081/udp; do
			got=$(answer6 "$n" "$pp")
			check "IPv6, ETP Cluster: outside -> $n [fd00:77::$i]:$pp: np/b saw $seen (got '$got')" \
				test "$got" = "np/b $seen"
		done
		for pp in 30090/tcp 30091/udp; do
			# A drop is waited for as blocked() waits (700 ms), an answer as answer().
			got=$(answer6 "$n" "$pp" "$([ "$n" = "$BN" ] && echo 1500 || echo 700)")
			if [ "$n" = "$BN" ]; then
				check "IPv6, ETP Local: outside -> $n:$pp (local backend): np/b saw the client $OUT6" \
					test "$got" = "np/b $OUT6"
			else
				check "IPv6, ETP Local: outside -> $n:$pp (no local backend): dropped" test -z "$got"
			fi
		done
	done
	# xcnictl's view of what those flows left on n1 (not the backend's node):
	# xcni_snat's entries, the outside's flows SNATed to n1's own address, and
	# the SNAT source of IPv6 externalIPs xcnid wrote (xcni_self6).
	if [ "$KP" = none ] && [ "$NODES" -ge 2 ]; then
		snat=$("$XCNICTL" --node n1 service snat --ip "$OUT6" --json)
		diag "n1: service snat --ip $OUT6: $snat"
		check "xcnictl --node n1 service snat --ip $OUT6: the outside's IPv6 flows to [fd00:77::1]:30080/tcp and :30081/udp, SNATed by n1 to np/b [$b6]:8080 and :8081" \
			python3 -c '
import json, sys
rows = {(r["proto"], r["node_addr"], r["backend"], r["client_addr"], r["family"]) for r in json.loads(sys.argv[1])}
want = {("tcp", "fd00:77::1", "[%s]:8080" % sys.argv[2], sys.argv[3], "ipv6"),
        ("udp", "fd00:77::1", "[%s]:8081" % sys.argv[2], sys.argv[3], "ipv6")}
sys.exit(0 if want <= rows and all(r[3] == sys.argv[3] for r in rows) else 1)' "$snat" "$b6" "$OUT6"
		check "flows --node all --from-ip $OUT6: each node but $BN names the client $OUT6 in its SNATed IPv6 flows" \
			client_flows "$OUT6" fd00:77::%d
		check "xcnictl --node n1 service self --ip fd00:77::1: n1's IPv6 address, in xcni_self6" \
			test "$("$XCNICTL" --node n1 service self --ip fd00:77::1 --json | jq_ '[(r["family"], r["address"], r["map"]) for r in d]')" = "[('ipv6', 'fd00:77::1', 'xcni_self6')]"
	fi
	# An IPv6 externalIP, routed by the underlay's router to n1 (not the
	# backend's node): xcnid SNATs to n1's IPv6 InternalIP (xcni_self6) and
	# sends it through Geneve; the lab's kube-proxy has it in ip6tables as
	# IPv4's in iptables (KUBE-SERVICES "external IP" to KUBE-EXT, masqueraded).
	if [ "$NODES" -ge 2 ]; then
		EIP6=fd00:77::c8
		svc ext6 "$DS selector: {app: b}, externalIPs: ['$EIP6'], ports: [{name: http, port: 82, targetPort: http}]" >"$T/ext6.yaml"
		check "apply np/ext6 (dual stack, externalIPs [$EIP6], 82/tcp -> http)" lab apply -f "$T/ext6.yaml"
		ip -n xcl-ul -6 route replace "$EIP6/128" via fd00:77::1 dev br0
		if [ "$KP" = iptables ]; then
			check "n1's ip6tables nat table: KUBE-SERVICES sends [$EIP6]:82/tcp (external IP) to a KUBE-EXT chain that masquerades" \
				bash -c "ext=\$(nsenter --net=/run/netns/xcl-n1 ip6tables-save -t nat | grep '^-A KUBE-SERVICES -d $EIP6/128 -p tcp .*np/ext6:http external IP.*--dport 82 -j KUBE-EXT-' | sed 's/.*-j //'); [ -n \"\$ext\" ] && nsenter --net=/run/netns/xcl-n1 ip6tables-save -t nat | grep -q \"^-A \$ext .*-j KUBE-MARK-MASQ\""
			# kube-proxy masquerades to n1's source address towards the pod.
			seen=$(in_node 1 ip -6 -o route get "$b6" | sed -n 's/.* src \([0-9a-f:]*\).*/\1/p')
		else
			seen=fd00:77::1
		fi
		got=$(nsenter --net=/run/netns/xcl-out python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 82), timeout=2)
s.shutdown(socket.SHUT_WR)
print(s.recv(256).decode().strip())' "$EIP6" 2>/dev/null)
		check "IPv6: outside -> externalIP [$EIP6]:82/tcp (via n1) reaches np/b, which saw n1's $seen (got '$got')" \
			test "$got" = "np/b $seen"
		ip -n xcl-ul -6 route del "$EIP6/128" 2>/dev/null
		check "delete np/ext6" lab delete -f "$T/ext6.yaml"
	fi
fi
check "probe outside n1 with text output: a NodePort nothing serves (30099/tcp) is blocked, exit 1" \
	blocked outside n1 30099/tcp
out=$(lab probe outside n9 30080/tcp 2>&1); RC=$?
check "probe outside n9 (no such node or pod): exit 2" bash -c "[ $RC = 2 ] && [ -n \"\$1\" ]" _ "$out"

# ---- nodePorts: allocated, in the range, never taken twice ----------------------------
svc auto "type: NodePort, selector: {app: b}, ports: [{name: http, port: 80, targetPort: http}]" >"$T/auto.yaml"
check "apply np/auto (NodePort, no nodePort given)" lab apply -f "$T/auto.yaml"
check "  ... it got the lowest free nodePort, 30000" test "$(nodeport auto)" = 30000
check "  ... outside -> $BN:30000/tcp reaches np/b" \
	bash -c "\"$XCNICTL\" lab probe outside $BN 30000/tcp --json | grep -q '\"answer\": *\"np/b '"
check "re-apply np/auto: its nodePort is kept" \
	bash -c "\"$XCNICTL\" lab apply -f $T/auto.yaml >/dev/null && [ \"\$(\"$XCNICTL\" lab get --json | grep -o '\"nodePort\": *30000')\" ]"
bad() { # WHAT WANT-IN-STDERR < MANIFEST: refused, exit non-zero, nothing applied
	local out rc before after
	before=$(lab get --json | jq_ 'sorted((s["name"], str(s["ports"])) for s in d["services"])')
	out=$(lab apply -f - 2>&1); rc=$?
	after=$(lab get --json | jq_ 'sorted((s["name"], str(s["ports"])) for s in d["services"])')
	echo "exit $rc: $out"
	[ "$rc" != 0 ] && grep -qF -- "$2" <<<"$out" && [ "$before" = "$after" ]
}
check "a nodePort below the range: refused naming the Service and field, nothing applied (np/ok in the same file neither)" \
	bad low "Service np/low: spec.ports[0].nodePort: 29999 is outside the NodePort range 30000-32767" <<EOF
$(svc ok "type: NodePort, selector: {app: b}, ports: [{port: 80, targetPort: http, nodePort: 31000}]")
$(svc low "type: NodePort, selector: {app: b}, ports: [{port: 80, targetPort: http, nodePort: 29999}]")
EOF
check "a nodePort another Service has: refused, naming both" \
	bad dup "Service np/dup: spec.ports[0].nodePort: 30080/tcp is already allocated (to np/cl)" <<EOF
$(svc dup "type: NodePort, selector: {app: b}, ports: [{port: 80, targetPort: http, nodePort: 30080}]")
EOF
# The lab plays a load-balancer controller: the manifest's status as written.
lbok() {
	svc lb "type: LoadBalancer, selector: {app: b}, ports: [{port: 80}]" >"$T/lb.yaml" &&
		printf 'status: {loadBalancer: {ingress: [{ip: 198.51.100.80}]}}\n' >>"$T/lb.yaml" &&
		lab apply -f "$T/lb.yaml" && lab delete -f "$T/lb.yaml"
}
check "type LoadBalancer with a status: applied, then deleted" lbok
out=$(lab up --node-port-range 40000-30000 2>&1); RC=$?
check "lab up --node-port-range 40000-30000: exit 2, saying MIN-MAX" \
	bash -c "[ $RC = 2 ] && grep -q -- '--node-port-range 40000-30000: MIN-MAX' <<<\"\$1\"" _ "$out"
out=$("$XCNID_BIN" --node-port-range 30000-32767 2>&1); RC=$?
check "xcnid --node-port-range without --kube-proxy-replacement: exit 2" \
	bash -c "[ $RC = 2 ] && grep -q -- '--node-port-range is the NodePorts --kube-proxy-replacement serves' <<<\"\$1\"" _ "$out"
out=$("$XCNID_BIN" --kube-proxy-replacement --node-port-mode dsr 2>&1); RC=$?
check "xcnid --node-port-mode dsr without --underlay-dev: exit 2, naming the three flags" \
	bash -c "[ $RC = 2 ] && grep -q -- '--node-port-mode is how --kube-proxy-replacement sends' <<<\"\$1\"" _ "$out"
out=$("$XCNID_BIN" --node-port-mode direct 2>&1); RC=$?
check "xcnid --node-port-mode direct: exit 2, saying snat or dsr" \
	bash -c "[ $RC = 2 ] && grep -q -- '--node-port-mode direct: snat or dsr' <<<\"\$1\"" _ "$out"
out=$(lab up --node-port-mode dsr --kube-proxy iptables 2>&1); RC=$?
check "lab up --node-port-mode dsr --kube-proxy iptables: exit 2 (DSR is xcnid's)" \
	bash -c "[ $RC = 2 ] && grep -q -- '--node-port-mode dsr is xcnid' <<<\"\$1\"" _ "$out"

# ---- a pod to another node's NodePort ---------------------------------------------------
# kube-proxy: the packet goes to that node, whose rules take it (pod traffic:
# masqueraded under ETP Cluster). xcnid: translated on the pod's own node, which
# has a frontend on every Node's address (the backend sees the pod).
# Under kube-proxy a pod to a third node's NodePort (neither its own nor the
# backend's) is decapsulated into that node's stack, DNATed and encapsulated
# again by its to_overlay: the skb still carries the first hop's encapsulation
# mark, which bpf_skb_adjust_room refuses (EALREADY); geneve_encap then pushes
# the room without the encapsulation flags (docs/architecture.md). Not to a third
# node's externalTrafficPolicy=Local NodePort: kube-proxy sends pod traffic there
# to KUBE-SVC without masquerade, so the backend's reply goes straight to the pod's
# node, past the conntrack entry on the third node that would undo the DNAT (the
# same with upstream kube-proxy's rules on any CNI that routes pod to pod).
# xcnid, ETP Local (np/loc): a third node's NodePort holds that node's own
# endpoints only (to it the pod is an outside client: upstream's e2e "should
# fallback to local terminating endpoints ... externalTrafficPolicy=Local"
# expects the connection to fail), none here, so the pod's packets are dropped
# on n1 as n3 drops an outside client's; the pod's own node's NodePort serves it
# from every endpoint (README, "a pod to its own node's NodePort").
C1=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'c1'][0]")
[ "$NODES" -lt 3 ] || ENC3=$(metric 3 fwd-encap to-overlay)
for n in $(seq "$NODES"); do
	for pp in 30080/tcp 30081/udp 30090/tcp 30091/udp; do
		if [ "$KP" = iptables ] && [ "${pp%/*}" -ge 30090 ] && [ "n$n" != n1 ] && [ "n$n" != "$BN" ]; then
			diag "np/c1 -> n$n:$pp under kube-proxy: not checked (ETP Local from another node's pod is not masqueraded; the reply bypasses n$n)"
			continue
		fi
		if [ "$KP" = none ] && [ "${pp%/*}" -ge 30090 ] && [ "n$n" != n1 ] && [ "n$n" != "$BN" ]; then
			check "ETP Local: np/c1 (n1) -> n$n:$pp (n$n has no local endpoint): dropped" \
				blocked np/c1 "n$n" "$pp"
			continue
		fi
		got=$(answer np/c1 "n$n" $pp)
		if [ "$KP" = none ]; then
			check "np/c1 (n1) -> n$n:$pp: np/b saw np/c1's own address $C1 (got '$got')" \
				test "$got" = "np/b $C1"
		else
			check "np/c1 (n1) -> n$n:$pp reaches np/b (got '$got')" bash -c "[[ '$got' == 'np/b '* ]]"
		fi
	done
done
if [ "$KP" = none ] && [ "$FAMILY" = dual ] && [ "$NODES" -ge 3 ]; then
	for pp in 30090/tcp 30091/udp; do
		out=$(lab probe np/c1 n3 "$pp" --family 6 --timeout-ms 700); rc=$?
		check "IPv6, ETP Local: np/c1 (n1) -> n3 [fd00:77::3]:$pp (no local endpoint): dropped (probe: $out, exit $rc)" \
			not_connected "$out" "$rc"
		got=$(lab probe np/c1 "$BN" "$pp" --family 6 --json --timeout-ms 1500 | jq_ 'd.get("answer") or ""')
		check "IPv6, ETP Local: np/c1 (n1) -> $BN:$pp (its local endpoint): np/b answered (got '$got')" \
			bash -c "[[ \"\$1\" == 'np/b '* ]]" _ "$got"
	done
fi
if [ "$KP" = iptables ] && [ "$NODES" -ge 3 ]; then
	enc3=$(metric 3 fwd-encap to-overlay)
	check "n3 encapsulated again what its stack DNATed from np/c1 (to-overlay fwd-encap $ENC3 -> $enc3, drop-encap 0)" \
		bash -c "[ \"\$1\" -gt \"\$2\" ] && [ \"\$3\" = 0 ]" _ "$enc3" "$ENC3" "$(metric 3 drop-encap to-overlay)"
fi

# ---- DSR (kube-proxy-free, 3 nodes): n1's agent again with --node-port-mode dsr ------------
# The outside asks n1 for np/cl; n1 sends the request to np/b on n2 with the client's
# address and the frontend in a Geneve option (class 0xfff0, type 0x81); n2 answers the
# client itself from 192.168.77.1:30080, out its own underlay port; nothing comes back
# through n1. Captured on the switch's ports to n1 and n2 (xcl-ul: ul-n1, ul-n2).
if [ "$KP" = none ] && [ "$NODES" -ge 3 ]; then
	DSR_T0=$SECONDS
	# xcnictl explain says how the reply gets back (user/ctl/explain_svc.c): by SNAT
	# through n1 now, from n2 itself under DSR below.
	np_explain() { # SRC DST PORT/PROTO: n1's explain, its node_port_mode and reply
		"$XCNICTL" --node n1 explain "$@" --json | jq_ '(d.get("node_port_mode") or "-") + " " + (d.get("reply") or "-")'
	}
	got=$(np_explain "$OUT" 192.168.77.1 30080/tcp)
	check "xcnictl --node n1 explain $OUT 192.168.77.1 30080/tcp: the reply by SNAT through n1 (got '$got')" \
		bash -c "[[ \"\$1\" == 'snat SNAT: '*'back through this node'* ]]" _ "$got"
	xpid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n1'][0]")
	mapfile -d '' XARGS <"/proc/$xpid/cmdline"
	kill "$xpid"
	for _ in $(seq 50); do kill -0 "$xpid" 2>/dev/null || break; sleep 0.1; done
	nsenter --net=/run/netns/xcl-n1 "${XARGS[@]}" --node-port-mode dsr >>"$T/n1-xcnid.log" 2>&1 &
	N1PID=$!
	MINE+=("$N1PID")
	# Ready, or gone: 6.1 under TCG was not ready in 10 s (this check failed, and every DSR one after).
	t=$SECONDS
	wait_until 600 bash -c "grep -q 'xcnid: ready' '$T/n1-xcnid.log' || ! kill -0 $N1PID"
	diag "n1's xcnid with --node-port-mode dsr: ready or gone after $((SECONDS - t)) s"
	check "n1's xcnid restarted with --node-port-mode dsr" \
		bash -c "grep -q 'xcnid: ready' '$T/n1-xcnid.log' || { tail -n 20 '$T/n1-xcnid.log'; exit 1; }"
	check "xcnictl --node n1 config: NODE-PORT-MODE dsr, n2's snat" \
		test "$("$XCNICTL" --node n1 config --json | jq -r .node_port_mode) $("$XCNICTL" --node n2 config --json | jq -r .node_port_mode)" = "dsr snat"
	NP_F='udp port 6081 or tcp port 30080 or udp port 30081'
	pcap_start xcl-ul ul-n2 "$NP_F" "$T/dsr-n2.pcap"; CAP2=$CAP; MINE+=("$CAP2")
	pcap_start xcl-ul ul-n1 "$NP_F" "$T/dsr-n1.pcap"; CAP1=$CAP; MINE+=("$CAP1")
	check "DSR: outside -> n1:30080/tcp: np/b (on n2) saw the client $OUT itself" \
		expect_answer outside n1 30080/tcp "np/b $OUT"
	check "DSR: outside -> n1:30081/udp: np/b saw $OUT" expect_answer outside n1 30081/udp "np/b $OUT"
	# IPv6 (dual stack lab): the same for [fd00:77::1], the option's family AF_INET6
	# (bpf/lib/nodeport.h); without DSR n1 SNATs and np/b sees fd00:77::1.
	if [ "$FAMILY" = dual ]; then
		got=$(answer6 n1 30080/tcp)
		check "DSR: outside -> n1 [fd00:77::1]:30080/tcp: np/b (on n2) saw the client $OUT6 itself (got '$got')" \
			test "$got" = "np/b $OUT6"
		got=$(answer6 n1 30081/udp)
		check "DSR: outside -> n1 [fd00:77::1]:30081/udp: np/b saw $OUT6 (got '$got')" \
			test "$got" = "np/b $OUT6"
	fi
	got=$(np_explain "$OUT" 192.168.77.1 30081/udp)
	check "xcnictl --node n1 explain $OUT 192.168.77.1 30081/udp: DSR, n2 answers the client itself (got '$got')" \
		bash -c "[[ \"\$1\" =~ ^dsr\ DSR:\ the\ backend.s\ node\ \((n2|192\.168\.77\.2)\)\ answers\ the\ client\ itself ]]" _ "$got"
	if [ "$FAMILY" = dual ]; then
		got=$(np_explain "$OUT6" fd00:77::1 30080/tcp)
		check "xcnictl --node n1 explain $OUT6 fd00:77::1 30080/tcp: DSR too (got '$got')" \
			bash -c "[[ \"\$1\" =~ ^dsr\ DSR:\ the\ backend.s\ node\ \((n2|192\.168\.77\.2)\)\ answers\ the\ client\ itself ]]" _ "$got"
	fi
	CAP=$CAP1; pcap_stop "$T/dsr-n1.pcap"
	CAP=$CAP2; pcap_stop "$T/dsr-n2.pcap"
	B_IP=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'b'][0]")
	# Geneve n1 -> n2 with our option, the client inside (ip.src: outer, inner).
	tshark -n -r "$T/dsr-n2.pcap" -Y 'geneve.option.class == 0xfff0' -T fields -E separator=' ' \
		-e ip.src -e ip.dst -e geneve.option.class -e geneve.option.type \
		-e geneve.option.type.critical -e geneve.option.length 2>/dev/null | sort -u >"$T/dsr-opt.txt"
	diag "$(cat "$T/dsr-opt.txt")"
	check "tshark on n2's port: the request in Geneve from n1, the option class 0xfff0 type 0x81 (critical), the client $OUT inside, to $B_IP" \
		grep -Eq "^192\.168\.77\.1,$OUT 192\.168\.77\.2,$B_IP 0xfff0 0x81 (1|True) " "$T/dsr-opt.txt"
	tshark -n -r "$T/dsr-n2.pcap" -Y "!geneve && ip.src == 192.168.77.1 && ip.dst == $OUT" -T fields \
		-E separator=' ' -e eth.src -e tcp.srcport -e udp.srcport 2>/dev/null | sort -u >"$T/dsr-reply.txt"
	diag "$(cat "$T/dsr-reply.txt")"
	N2MAC=$(ip -n xcl-n2 -o link show ul0 | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p')
	check "tshark on n2's port: n2 ($N2MAC) sent the replies itself, from 192.168.77.1:30080/tcp and :30081/udp" \
		bash -c "grep -q '^$N2MAC 30080 *\$' '$T/dsr-reply.txt' && grep -q '^$N2MAC  *30081\$' '$T/dsr-reply.txt'"
	check "tshark on n1's port: no Geneve from n2 and no reply to $OUT through n1" \
		bash -c "[ -z \"\$(tshark -n -r '$T/dsr-n1.pcap' -Y '(geneve && ip.src == 192.168.77.2) || ip.dst == $OUT' 2>/dev/null)\" ]"
	if [ "$FAMILY" = dual ]; then
		# The option's data: family 10, the protocol, the port, then fd00:77::1.
		tshark -n -r "$T/dsr-n2.pcap" -Y 'geneve.option.class == 0xfff0 && ipv6' -T fields -E separator=' ' \
			-e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e geneve.option.type -e geneve.option.unknown.data \
			2>/dev/null | sort -u >"$T/dsr6-opt.txt"
		diag "$(cat "$T/dsr6-opt.txt")"
		# Over the IPv4 underlay (ip.src, ip.dst, then the inner ipv6's); where xcnid's
		# probe adjust-room-decap-l3 fails (Linux < 6.3: no Geneve between families),
		# over the IPv6 one, each family over its own (no ip.src; ipv6's outer,inner).
		ul6="192\.168\.77\.1 192\.168\.77\.2 $OUT6 $b6" over=IPv4
		if grep -q 'lacks adjust-room-decap-l3' "$T/n1-xcnid.log"; then
			ul6="  fd00:77::1,$OUT6 fd00:77::2,$b6" over=IPv6
			diag "n1's xcnid lacks adjust-room-decap-l3 (its probe): the IPv6 request crosses in Geneve over IPv6"
		fi
		check "tshark on n2's port: IPv6 in Geneve over $over from n1 with the option (type 0x81, AF_INET6, [fd00:77::1]:30080/tcp, :30081/udp), the client $OUT6 inside, to $b6" \
			bash -c "grep -Eq '^$ul6 0x81 :?0a:?06:?75:?80:?fd:?00:?00:?77(:?00)+:?01\$' '$T/dsr6-opt.txt' &&
				grep -Eq '^$ul6 0x81 :?0a:?11:?75:?81:?fd:?00:?00:?77(:?00)+:?01\$' '$T/dsr6-opt.txt'"
		tshark -n -r "$T/dsr-n2.pcap" -Y "!geneve && ipv6.src == fd00:77::1 && ipv6.dst == $OUT6" -T fields \
			-E separator=' ' -e eth.src -e tcp.srcport -e udp.srcport 2>/dev/null | sort -u >"$T/dsr6-reply.txt"
		diag "$(cat "$T/dsr6-reply.txt")"
		check "tshark on n2's port: n2 ($N2MAC) sent the IPv6 replies itself, from [fd00:77::1]:30080/tcp and :30081/udp" \
			bash -c "grep -q '^$N2MAC 30080 *\$' '$T/dsr6-reply.txt' && grep -q '^$N2MAC  *30081\$' '$T/dsr6-reply.txt'"
		check "tshark on n1's port: no IPv6 reply to $OUT6 through n1" \
			bash -c "[ -z \"\$(tshark -n -r '$T/dsr-n1.pcap' -Y 'ipv6.dst == $OUT6' 2>/dev/null)\" ]"
	fi
	kill "$N1PID"
	wait "$N1PID" 2>/dev/null
	diag "the DSR pass took $((SECONDS - DSR_T0)) s"
fi

lab_down_checked
finish
