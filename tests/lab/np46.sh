#!/bin/bash
# IPv4 NodePorts whose backend's node is reached over the IPv6 underlay
# (docs/architecture.md, "Local and remote backends": np4_tunnel's IPv6
# answer), end to end. A dual stack lab of 3 nodes that mixes underlay
# families (lab up --ipv6-only-nodes 2,3): n1 keeps IPv4 and IPv6 on its
# underlay (xcnid --node-ip 192.168.77.1,fd00:77::1, both InternalIPs), n2
# and n3 have IPv6 alone, so every Geneve frame between nodes is IPv6. The
# outside asks n1's IPv4 NodePort for a backend on n2: n1 SNATs to
# 192.168.77.1 and sends the IPv4 packet in Geneve over IPv6; the answer
# comes back as IPv4 inside IPv6 and leaves from the NodePort.
#
#   netns xcl-out 198.51.100.1 (+ 2001:db8:100::1)
#        │ routed by xcl-ul (192.168.77.254, fd00:77::254), switch br0 <- dumpcap
#   xcl-n1 ul0 192.168.77.1 + fd00:77::1   xcl-n2 ul0 fd00:77::2 only   xcl-n3 fd00:77::3 only
#     np/a (app=a, tell-peer)                np/b (app=b, tell-peer)
#   np/rem NodePort 30080/tcp, 30081/udp, 30082/udp (-> 9999, nothing listens),
#          externalIPs [192.168.77.200] 82/tcp                         -> np/b (n2)
#   np/loc NodePort 30090/tcp, 30091/udp                               -> np/a (n1)
#
# Checked: TCP, UDP and the externalIP reach np/b, which sees 192.168.77.1
# (SNAT), the answers come from the NodePort; the local backend sees the
# client; an ICMP error from np/b's node (port unreachable) reaches the
# client translated; path MTU: 1430 bytes (DF) fit, 1431 get
# fragmentation-needed with MTU 1430 (tests/bpf/np_mtu.c np_mtu_ul46); the
# tunnel is IPv6 (n1's tunnel counters to fd00:77::2, dumpcap on the switch:
# Geneve over IPv6, none over IPv4); a NetworkPolicy on np/b that admits
# nothing drops the SNATed flow on n2 (drop-policy-ingress, in xcnictl's
# metrics and flows); xcnictl explain on n1 names np/b's tunnel fd00:77::2
# (node n2), pod to pod and through np/rem. NP46_ACCEL=off (default) or native|generic: every
# xcnid with --nodeport-acceleration (native: the lab's XDP native too,
# XCNI_LAB_XDP=native), n1's fast path then counted (xdp4_packets) and named
# in the flow records; XCNI_ATTACH=tc: the older attach path. The SNAT
# pass's traffic checks: tests/lab/np46snat.sh.
#
# NP46_MODE=dsr: IPv4 NodePorts in DSR mode over IPv6 tunnels between dual
# stack nodes (tests/lab/np46dsr.sh: its drawing and checks). Three nodes of
# both families (lab up --tunnel-family ipv6 --node-port-mode dsr: every
# xcnid --node-ip 192.168.77.N,fd00:77::N --tunnel-family ipv6) reach each
# other at fd00:77::N although all have IPv4, so IPv4 DSR over the IPv6
# underlay works: the backend's node routes IPv4 to the client itself (an
# IPv6-only node cannot). Shared with the SNAT pass: the refusals of the lab
# option, the Services, the policy that drops on n2, lab down.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
MODE=${NP46_MODE:-snat}
case $MODE in snat | dsr) ;; *) echo "NP46_MODE=$MODE: snat or dsr" >&2; exit 2 ;; esac
ACCEL=${NP46_ACCEL:-off}
case $ACCEL in off | native | generic) ;; *) echo "NP46_ACCEL=$ACCEL: off, native or generic" >&2; exit 2 ;; esac
lab_suite "np46-$MODE-$ACCEL${XCNI_ATTACH:+-$XCNI_ATTACH}"
[ "$ACCEL" = native ] && export XCNI_LAB_XDP=native
T0=$SECONDS
OUT=198.51.100.1
N1=192.168.77.1
N1_6=fd00:77::1
EIP=192.168.77.200
MTU46=1430 # 1500 less Geneve over IPv6's 70
# What np/b sees of an outside client through n1: n1's IPv4 (SNAT) or the client (DSR).
SEEN=$N1
[ "$MODE" = dsr ] && SEEN=$OUT

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
trap 'ip -n xcl-ul route del "$EIP/32" 2>/dev/null; lab_cleanup' EXIT

# ---- the lab option: refused where it means nothing ------------------------------
up_refused() { # WANT-IN-STDERR ARGS...: lab up exits 2 naming it, and makes no lab
	local out rc
	out=$(lab up "${@:2}" 2>&1); rc=$?
	echo "exit $rc: $out"
	[ "$rc" = 2 ] && grep -qF -- "$1" <<<"$out" && ! ip netns list | grep -q '^xcl-'
}
if [ "$MODE" = snat ]; then
	check "lab up --ipv6-only-nodes 2 --ip-family ipv4: exit 2 (a dual stack lab's option)" \
		up_refused '--ipv6-only-nodes mixes nodes in a dual stack lab' --nodes 3 --kube-proxy none --ipv6-only-nodes 2
	check "lab up --nodes 3 --ipv6-only-nodes 1,2,3: exit 2 (one node keeps both families)" \
		up_refused 'keeps at least one node of both families' --nodes 3 --kube-proxy none --ip-family dual --ipv6-only-nodes 1,2,3
	check "lab up --nodes 3 --ipv6-only-nodes 4: exit 2, naming node 4" \
		up_refused '--ipv6-only-nodes: node 4, but the lab has 3 node(s)' --nodes 3 --kube-proxy none --ip-family dual --ipv6-only-nodes 4
	check "lab up --ipv6-only-nodes 2,x: exit 2" \
		up_refused '--ipv6-only-nodes 2,x: node numbers' --nodes 3 --kube-proxy none --ip-family dual --ipv6-only-nodes 2,x
	check "lab up --ipv6-only-nodes 2 --kube-proxy iptables: exit 2" \
		up_refused 'with --kube-proxy none' --nodes 3 --kube-proxy iptables --ip-family dual --ipv6-only-nodes 2
else
	check "lab up --tunnel-family ipv6 --ip-family ipv4: exit 2 (a dual stack lab's option)" \
		up_refused '--tunnel-family ipv6 chooses between the underlay families of a dual stack lab' --nodes 3 --kube-proxy none --tunnel-family ipv6
	check "lab up --tunnel-family ipv4: exit 2, naming the choices" \
		up_refused '--tunnel-family ipv4: auto or ipv6' --nodes 3 --kube-proxy none --ip-family dual --tunnel-family ipv4
fi

ACCEL_ARGS=()
[ "$ACCEL" != off ] && ACCEL_ARGS=(--agent-arg "--nodeport-acceleration=$ACCEL")
# SNAT: n2 and n3 IPv6 alone; DSR: all three dual, tunnels over IPv6.
UP_ARGS=(--ipv6-only-nodes 2,3)
[ "$MODE" = dsr ] && UP_ARGS=(--tunnel-family ipv6 --node-port-mode dsr)
check "lab up --nodes 3 --kube-proxy none --ip-family dual ${UP_ARGS[*]}${ACCEL_ARGS[*]:+ ${ACCEL_ARGS[*]}}" \
	lab up --nodes 3 --kube-proxy none --ip-family dual "${UP_ARGS[@]}" "${ACCEL_ARGS[@]}" ||
	{ finish; exit 1; }
remember_pids
diag "lab up took $((SECONDS - T0)) s"
[ "$ACCEL" = native ] && lab_outside_full_csum

# ---- the lab's shape ------------------------------------------------------------------
node_addrs() { # N: Node nN's InternalIPs, comma-separated, as the agents read them
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(",".join(a["address"] for a in d["status"]["addresses"] if a["type"] == "InternalIP"))' \
		"$XCNI_LAB_DIR/manifests/node.n$1.json" 2>/dev/null
}
# cfg_ips N: node nN's xcnid's node_ip and node_ip6 (xcnictl config; node_ip
# shows the IPv6 one on a node without IPv4).
cfg_ips() { "$XCNICTL" --node "n$1" config --json | jq_ 'd["node_ip"] + " " + (d.get("node_ip6") or "-")'; }
# tunnels N: node nN's tunnel rows "NODE UNDERLAY-IP TX RX", sorted.
tunnels() {
	"$XCNICTL" --node "n$1" tunnel list --json |
		jq_ '"\n".join(sorted("%s %s %d %d" % (r["node"], r["underlay_ip"], r["tx_packets"], r["rx_packets"]) for r in d))'
}
if [ "$MODE" = snat ]; then
	check "Node n1's InternalIPs: $N1,$N1_6 (both families)" test "$(node_addrs 1)" = "$N1,$N1_6"
	for i in 2 3; do
		check "Node n$i's only InternalIP: fd00:77::$i; no IPv4 address on its ul0, no IPv4 default route" \
			bash -c "[ \"\$1\" = fd00:77::$i ] && [ -z \"\$(ip -n xcl-n$i -4 -o addr show dev ul0)\" ] &&
				[ -z \"\$(ip -n xcl-n$i -4 route show default)\" ]" _ "$(node_addrs "$i")"
	done
	check "lab get --json: ipv6Only false, true, true; n2's internalIP fd00:77::2" \
		test "$(lab get --json | jq_ '" ".join(str(n["ipv6Only"]) for n in d["nodes"]) + " " + d["nodes"][1]["internalIP"]')" = "False True True fd00:77::2"
	check "xcnictl config: n1's xcnid has both node addresses ($N1 $N1_6), n2's IPv6 alone" \
		bash -c "[ \"\$1\" = '$N1 $N1_6' ] && [ \"\$2\" = 'fd00:77::2 fd00:77::2' ]" _ "$(cfg_ips 1)" "$(cfg_ips 2)"
	check "n1 tunnels to n2 and n3 at their IPv6 addresses (xcnictl tunnel list)" \
		bash -c "[ \"\$(awk '{print \$1, \$2}' <<<\"\$1\" | tr '\n' ' ')\" = 'n2 fd00:77::2 n3 fd00:77::3 ' ]" _ "$(tunnels 1)"
	check "n2 tunnels to n1 at fd00:77::1 (and n3 at fd00:77::3)" \
		bash -c "[ \"\$(awk '{print \$1, \$2}' <<<\"\$1\" | tr '\n' ' ')\" = 'n1 fd00:77::1 n3 fd00:77::3 ' ]" _ "$(tunnels 2)"
else
	for i in 1 2 3; do
		check "Node n$i's InternalIPs: 192.168.77.$i,fd00:77::$i (both families)" \
			test "$(node_addrs "$i")" = "192.168.77.$i,fd00:77::$i"
		check "xcnictl --node n$i config: both node addresses, TUNNEL-FAMILY ipv6, POD-MTU $MTU46" \
			test "$("$XCNICTL" --node "n$i" config --json |
				jq_ '" ".join(str(d[k]) for k in ("node_ip", "node_ip6", "tunnel_family", "pod_mtu"))')" = \
			"192.168.77.$i fd00:77::$i ipv6 $MTU46"
	done
	check "lab get --json: tunnelFamily ipv6, nodePortMode dsr, no IPv6-only node" \
		test "$(lab get --json | jq_ 'd["tunnelFamily"] + " " + d["nodePortMode"] + " " + " ".join(str(n["ipv6Only"]) for n in d["nodes"])')" = "ipv6 dsr False False False"
	check "xcnictl --node n1 status: 'tunnels over IPv6 ... (--tunnel-family ipv6)'" \
		bash -c "'$XCNICTL' --node n1 status | grep -q 'tunnels over IPv6 to every node with an IPv6 InternalIP (--tunnel-family ipv6)'"
	# Each node knows the others at both InternalIPs (it takes Geneve from
	# either: a rolling change of --tunnel-family) and sends to the IPv6
	# ones (the switch's capture, np46dsr.sh).
	for i in 1 2 3; do
		want=$(for j in 1 2 3; do [ "$j" != "$i" ] && printf 'n%s 192.168.77.%s n%s fd00:77::%s ' "$j" "$j" "$j" "$j"; done)
		check "n$i knows the other two at both addresses (xcnictl tunnel list: $want)" \
			bash -c "[ \"\$(awk '{print \$1, \$2}' <<<\"\$1\" | tr '\n' ' ')\" = '$want' ]" _ "$(tunnels "$i")"
	done
fi

cat >"$T/np.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: np}
$(tell_peer_pod np b n2)
$(tell_peer_pod np a n1)
---
apiVersion: v1
kind: Service
metadata: {name: rem, namespace: np}
spec: {type: NodePort, selector: {app: b}, externalIPs: [$EIP], ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}, {name: echo, port: 81, protocol: UDP, targetPort: echo, nodePort: 30081}, {name: closed, port: 83, protocol: UDP, targetPort: 9999, nodePort: 30082}, {name: ext, port: 82, targetPort: http, nodePort: 30083}]}
---
apiVersion: v1
kind: Service
metadata: {name: loc, namespace: np}
spec: {type: NodePort, selector: {app: a}, ports: [{name: http, port: 80, targetPort: http, nodePort: 30090}, {name: echo, port: 81, protocol: UDP, targetPort: echo, nodePort: 30091}]}
EOF
check "apply namespace np, np/b (n2) behind np/rem (NodePorts, externalIP $EIP), np/a (n1) behind np/loc" \
	lab apply -f "$T/np.yaml" || { finish; exit 1; }
remember_pids
B=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'b'][0]")

# ---- xcnictl explain on n1: np/b behind n2's IPv6 underlay address --------------------
# Both passes: n2 IPv6-only (SNAT), or dual and sent to over IPv6 (DSR: its
# entries on n1 hold its IPv4 too). The path names fd00:77::2 and n2.
# ex_n1 TEST ARGS...: n1's explain ARGS --json makes the Python TEST on d true; else the output.
ex_n1() {
	local out
	out=$("$XCNICTL" --node n1 explain "${@:2}" --json 2>&1) &&
		[ "$(jq_ "$1" <<<"$out" 2>&1)" = True ] || { echo "$out"; return 1; }
}
tun46() { echo "$1['tunnel_ip'] == 'fd00:77::2' and $1['tunnel_node'] == 'n2'"; } # tun46 RECORD
check "xcnictl explain np/a -> np/b 8080/tcp --family 4 on n1: Geneve to fd00:77::2 (n2), in the walk too" \
	ex_n1 "$(tun46 d) and 'ipcache[$B] identity' in d['egress_lookups'] and
	       'tunnel fd00:77::2 (node n2)' in d['egress_lookups']" np/a np/b 8080/tcp --family 4
ex_text() {
	local out
	out=$("$XCNICTL" --node n1 explain np/a np/b 8080/tcp --family 4 2>&1)
	grep -q "^TUNNEL  *Geneve to fd00:77::2 (node n2's underlay address): egress judged at the source, ingress at node n2$" <<<"$out" ||
		{ echo "$out"; return 1; }
}
check "  ... as text: TUNNEL Geneve to fd00:77::2 (node n2's underlay address)" ex_text
REPLY46="True"
[ "$MODE" = dsr ] && REPLY46="d['reply'].startswith(\"DSR: the backend's node (n2) answers\")"
check "xcnictl explain $OUT $N1 30080/tcp on n1: np/rem's backend np/b behind fd00:77::2 (n2)" \
	ex_n1 "$(tun46 "d['backends'][0]['policy']") and $REPLY46" "$OUT" "$N1" 30080/tcp

# answer NODE|NS/POD PORT/PROTO [probe args]: the answer to a probe from the
# outside (to NODE's IPv4) or from NS/POD (to np/b's IPv4), "" if none.
answer() {
	local from=outside to=$1
	[[ $1 == */* ]] && from=$1 to=np/b
	lab probe "$from" "$to" "$2" --family 4 --json --timeout-ms 1500 "${@:3}" | jq_ 'd.get("answer") or ""'
}
expect_answer() { # NODE PORT/PROTO WANT
	local got
	got=$(answer "$1" "$2")
	echo "answer: '$got', want '$3'"
	[ "$got" = "$3" ]
}
blocked() { # NODE PORT/PROTO: the probe says a fate other than connected, exit 1
	local out rc
	out=$(lab probe outside "$1" "$2" --family 4 --timeout-ms 700); rc=$?
	echo "probe: $out, exit $rc"
	not_connected "$out" "$rc"
}
# npa N FIELD: node nN's fast path counter (xcnictl status: xdp4_packets, tc_packets).
npa() {
	"$XCNICTL" --node "n$1" status --json |
		jq_ "([n for n in (d['nodes'] if 'nodes' in d else [d])][0].get('config') or {}).get('nodeport_acceleration', {}).get('$2', 0)"
}
# tx N PEER: node nN's tunnel packets sent to PEER's underlay address
tx() { tunnels "$1" | awk -v p="$2" '$2 == p {print $3}'; }
rx() { tunnels "$1" | awk -v p="$2" '$2 == p {print $4}'; }

# seen FILTER: frames of the capture that FILTER (a display filter) takes: 1 or more.
seen() {
	local n
	n=$(tshark -n -r "$T/ul.pcap" -Y "$1" 2>/dev/null | wc -l)
	echo "$n frames: $1"
	[ "$n" -gt 0 ]
}
seen_all() { # FILTER...: each seen
	local f
	for f in "$@"; do seen "$f" || return 1; done
}
# svc_path NODE PATH: NODE's flow records hold a NodePort flow to np/b:8080
# that PATH (xdp or tc) translated; records follow conntrack's walk (1 s).
svc_path() {
	local _
	for _ in $(seq 25); do
		"$XCNICTL" flows --node "$1" --json 2>/dev/null | python3 -c '
import json, sys
want, b = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in sys.stdin if l.strip()]
sys.exit(0 if any(r.get("service_path") == want and r["destination"]["port"] == 8080 and
                  r["family"] == "ipv4" for r in recs) else 1)' "$2" "$B" && return 0
		sleep 0.2
	done
	"$XCNICTL" flows --node "$1" 2>&1 | sed 's/^/#   /'
	return 1
}
# accel_checks X0 X1: with NP46_ACCEL, n1's fast path sent the requests at
# XDP (xdp4_packets X0 -> X1) and named itself in the flow records; off: tc did.
accel_checks() {
	if [ "$ACCEL" = off ]; then
		check "xcnictl flows on n1: the NodePort flow to np/b:8080 was translated by tc" svc_path n1 tc
		return
	fi
	check "n1's fast path sent them at XDP (xdp4_packets $1 -> $2, >= 3 more: SYN, ACK, UDP)" \
		test "$2" -ge $(($1 + 3))
	check "xcnictl flows on n1: the NodePort flow to np/b:8080 says service_path xdp" svc_path n1 xdp
	check "xcnid on n1 said the mode ('nodeport acceleration on ul0: $ACCEL XDP')" \
		grep -q "nodeport acceleration on ul0: $ACCEL XDP" "$XCNI_LAB_DIR/n1/xcnid.log"
}

# ---- the traffic: np46snat.sh or np46dsr.sh (this shell's helpers and checks) -----------
. "$(dirname "$0")/np46$MODE.sh"

# ---- a NetworkPolicy on np/b that admits nothing ---------------------------------------
cat >"$T/deny.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-closed, namespace: np}
spec: {podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress]}
EOF
check "apply NetworkPolicy np/b-closed (np/b, no ingress rule)" lab apply -f "$T/deny.yaml"
# drops N REASON: node nN's packets dropped for REASON, every direction.
drops() {
	"$XCNICTL" --node "n$1" metrics --json | jq_ "sum(m['packets'] for m in d if m['reason'] == '$2')"
}
d0=$(drops 2 drop-policy-ingress)
check "outside -> n1:30080/tcp: dropped" blocked n1 30080/tcp
check "outside -> n1:30081/udp: dropped" blocked n1 30081/udp
d1=$(drops 2 drop-policy-ingress)
check "n2 dropped the requests ($SEEN's) for np/b's policy (drop-policy-ingress $d0 -> $d1)" \
	test "$d1" -gt "$d0"
denied() { # n2's flow records: a denied flow from $SEEN (n1's SNAT, or the client) to np/b:8080
	local _
	for _ in $(seq 25); do
		"$XCNICTL" flows --node n2 --json 2>/dev/null | python3 -c '
import json, sys
n1 = sys.argv[1]
recs = [json.loads(l) for l in sys.stdin if l.strip()]
sys.exit(0 if any(r["verdict"] == "denied" and r.get("drop_reason") == "drop-policy-ingress" and
                  r["source"].get("ip") == n1 and r["destination"]["port"] == 8080
                  for r in recs) else 1)' "$SEEN" && return 0
		sleep 0.2
	done
	"$XCNICTL" flows --node n2 2>&1 | sed 's/^/#   /'
	return 1
}
check "xcnictl flows on n2: $SEEN -> np/b:8080 denied, drop-policy-ingress" denied
# np/a through n1 (SNAT: its own node) or n2 (DSR: the other's).
LOC=n1
[ "$MODE" = dsr ] && LOC=n2
check "  ... np/a (no policy) still answers through $LOC:30090/tcp" expect_answer "$LOC" 30090/tcp "np/a $OUT"
check "delete the policy" lab delete -f "$T/deny.yaml"
check "outside -> n1:30080/tcp: np/b answers again ($SEEN)" expect_answer n1 30080/tcp "np/b $SEEN"

[ "$MODE" = dsr ] && disagree
diag "the suite took $((SECONDS - T0)) s until lab down"
lab_down_checked
finish
