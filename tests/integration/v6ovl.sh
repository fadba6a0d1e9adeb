#!/bin/bash
# IPv6 pods across nodes: Geneve carrying IPv6 over an IPv4 underlay (dual
# stack), with real traffic between two node namespaces, each running xcnid
# on the underlay and the real plugin with host-local handing out one
# address per family. Checked at both ends and on the wire (tshark decodes
# the Geneve and the IPv6 inside).
#
#   netns <tag>-n1: ul0 192.168.99.1 fc00:99::1 ──veth── ul0 .2 ::2  netns <tag>-n2  <- tshark
#     xcnid --underlay-dev ul0 (pins <tag>-n1)               xcnid (pins <tag>-n2)
#     pods a, c: 10.201.1.x fd00:201:1::x                    pod b: 10.201.2.x fd00:201:2::x
#
# The Node objects give each node its InternalIPs (both families) and
# podCIDRs; the Pods their podIPs. Run under flock /tmp/xcni-test.lock.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

TN_NAME=v6ovl TN_NET=201
. "$HERE/twonode.sh"

tn_up 192.168.99 fc00:99::

# ---- pods: a, c on n1, b on n2 ----------------------------------------------------
pods_add
check "pods known to both agents (a $A6, c $C6 on n1; b $B6 on n2)" sync2

entry6() { # entry6 NODE ADDR6: "identity tunnel_ip" of its ipcache6 entry, from the pinned map
	python3 - "$(pin "$1")/xcni_ipcache6" "$2" <<'PY'
import ipaddress, json, subprocess, sys
key = ["0x80", "0x00", "0x00", "0x00"] + ["0x%02x" % b for b in ipaddress.ip_address(sys.argv[2]).packed]
out = subprocess.run(["bpftool", "-j", "map", "lookup", "pinned", sys.argv[1], "key", "hex"] +
                     [k[2:] for k in key], capture_output=True, text=True)
if out.returncode:
    print("none"); sys.exit(0)
v = bytes(int(b, 16) for b in json.loads(out.stdout)["value"])
print(int.from_bytes(v[0:4], "little"), ".".join(str(b) for b in v[4:8]))
PY
}
got_b=$(entry6 1 "$B6") got_n2=$(entry6 1 fc00:99::2) got_a=$(entry6 1 "$A6") got_n1=$(entry6 1 fc00:99::1)
check "n1's ipcache6: b behind n2 ($got_b), n2's IPv6 remote-node (6) behind n2 ($got_n2), a local ($got_a), n1's own IPv6 the host (1: $got_n1)" \
	bash -c "[[ '$got_b' == *' 192.168.99.2' ]] && [ '$got_n2' = '6 192.168.99.2' ] && [[ '$got_a' == *' 0.0.0.0' ]] && [ '$got_n1' = '1 0.0.0.0' ]"
check "n1 routes n2's IPv6 podCIDR to xcni0 (and not its own)" \
	bash -c "ip -n $(node_ns 1) -6 route show fd00:201:2::/64 | grep -q 'dev xcni0' && ! ip -n $(node_ns 1) -6 route show dev xcni0 | grep -q 'fd00:201:1::'"
check "pods' MTU: underlay 1500 - 50 (Geneve over IPv4)" \
	bash -c "ip -n $XCT_TAG-a -o link show eth0 | grep -q 'mtu 1450 '"

# ---- traffic ------------------------------------------------------------------------
serve_b
enc0=$(ctl_n 1 metrics --all --json | jq '[.[] | select(.reason == "fwd-encap" and .direction == "from-pod") | .packets] | add // 0')
dec0=$(ctl_n 2 metrics --all --json | jq '[.[] | select(.reason == "fwd-decap" and .direction == "from-overlay") | .packets] | add // 0')

pcap_start "$(node_ns 2)" ul0 'udp port 6081' "$T/ul.pcap"
PIDS+=("$CAP")
check "ping6 a (n1) -> b (n2) across the overlay" in_pod a ping -6 -c3 -i 0.2 -W2 "$B6"
check "ping6 b (n2) -> c (n1)" in_pod b ping -6 -c2 -i 0.2 -W2 "$C6"
check "TCP over IPv6 a -> b:80" is "a -> [$B6]:80" "$(tcp a "$B6")" connected
check "UDP over IPv6 c -> b:53" is "c -> [$B6]:53" "$(udp c "$B6")" answered
check "n1's host -> b over IPv6 (xcni0, to_overlay): TCP" is "n1 -> [$B6]:80" "$(tcp host "$B6")" connected
check "IPv4 still crosses: ping a -> b $B4" in_pod a ping -c1 -W2 "$B4"
pcap_stop "$T/ul.pcap"
fields() { tshark -n -r "$T/ul.pcap" -Y "$1" -T fields -E separator=' ' -e ip.src -e ip.dst -e udp.dstport -e geneve.proto_type -e ipv6.src -e ipv6.dst 2>/dev/null | sort -u; }
w_ab=$(fields "geneve && ipv6.src == $A6 && ipv6.dst == $B6 && tcp.dstport == 80" | head -1)
w_ba=$(fields "geneve && ipv6.src == $B6 && ipv6.dst == $A6" | head -1)
w_host=$(fields "geneve && ipv6.src == fc00:99::1 && ipv6.dst == $B6" | head -1)
check "tshark on n2's ul0: a -> b TCP in Geneve, IPv4 outside, IPv6 inside ($w_ab)" \
	is wire "$w_ab" "192.168.99.1 192.168.99.2 6081 0x6558 $A6 $B6"
check "  ... b's answers the other way ($w_ba)" \
	bash -c "[[ '$w_ba' == '192.168.99.2 192.168.99.1 '*' 0x6558 $B6 $A6' ]]"
check "  ... n1's host (fc00:99::1) to b in Geneve too ($w_host)" \
	bash -c "[[ '$w_host' == '192.168.99.1 192.168.99.2 '*' 0x6558 fc00:99::1 $B6' ]]"
enc1=$(ctl_n 1 metrics --all --json | jq '[.[] | select(.reason == "fwd-encap" and .direction == "from-pod") | .packets] | add // 0')
dec1=$(ctl_n 2 metrics --all --json | jq '[.[] | select(.reason == "fwd-decap" and .direction == "from-overlay") | .packets] | add // 0')
check "counted: n1 fwd-encap from-pod (+$((enc1 - enc0))), n2 fwd-decap from-overlay (+$((dec1 - dec0)))" \
	bash -c "[ $((enc1 - enc0)) -ge 8 ] && [ $((dec1 - dec0)) -ge 8 ]"

# ---- policy on the far pod: a admitted, c refused (both IPv6 peers on n1) ----------
pol_b_from_a
check "b-from-a applied on both nodes" sync2
d0=$(ctl_n 2 metrics --all --json | jq '[.[] | select(.reason == "drop-policy-ingress" and .direction == "from-overlay") | .packets] | add // 0')
check "b-from-a: TCP over IPv6 a -> b admitted" is "a -> [$B6]:80" "$(tcp a "$B6")" connected
check "b-from-a: TCP over IPv6 c -> b refused" is "c -> [$B6]:80" "$(tcp c "$B6")" blocked
check "b-from-a: UDP over IPv6 c -> b refused" is "c -> [$B6]:53" "$(udp c "$B6")" silent
check "b-from-a: UDP over IPv6 a -> b admitted" is "a -> [$B6]:53" "$(udp a "$B6")" answered
d1=$(ctl_n 2 metrics --all --json | jq '[.[] | select(.reason == "drop-policy-ingress" and .direction == "from-overlay") | .packets] | add // 0')
check "c's refusals counted drop-policy-ingress from-overlay on n2 (+$((d1 - d0)))" \
	test $((d1 - d0)) -ge 2

# ---- a process on n1 sending Geneve (issue 26 item 6) ------------------------------
# A hostNetwork process of n1 with a plain UDP socket builds Geneve from n1's
# address claiming to be a (which b-from-a admits), to b: xcni's Geneve is
# built in BPF, so UDP to 6081 leaving a node from a socket is dropped on its
# underlay (to_underlay) and counted. Controls: a's own datagram arrives, and
# plain UDP from that process to another port of n2 still does.
geneve_from_host 192.168.99.2 "Geneve to n2:6081 claiming a ($A4) -> b:9999" UDP:192.168.99.2:9998 n2

# ---- xcnictl explain across the overlay: what the probes above found ----------------
check "explain a -> b's IPv6 80/tcp: allowed by b-from-a at n2, through the tunnel to n2" \
	ex_is '.verdict == "allowed" and .dst == "x/b" and .dst_ip == "'"$B6"'" and .ingress_reason == "rule"
	 and .ingress_policy == "x/b-from-a" and .ingress_node == "n2" and .tunnel_ip == "192.168.99.2"
	 and .tunnel_node == "n2" and (.egress_lookups | test("ipcache6\\['"$B6"'\\] identity [0-9]+, tunnel 192.168.99.2 \\(node n2\\)"))' \
	x/a "$B6" 80/tcp
check "explain c -> b --family 6 (b by name, found in n2's maps): denied by ingress at n2, as probed" \
	ex_is '.verdict == "denied" and .dst_ip == "'"$B6"'" and .src_ip == "'"$C6"'" and
	 .ingress_reason == "isolated" and .ingress_node == "n2"' x/c x/b 53/udp --family 6
check "explain --family 4 a -> b: the IPv4 flow, the same tunnel" \
	ex_is '.verdict == "allowed" and .dst_ip == "'"$B4"'" and .tunnel_node == "n2"' x/a x/b 80/tcp --family 4
as_text() { # the same walk as text: TUNNEL, and INGRESS naming the rule and n2
	local out
	out=$(ctl_n 1 --pin-dir-dst "$(pin 2)" explain x/a "$B6" 80/tcp 2>&1)
	grep -q "^TUNNEL  *Geneve to 192.168.99.2 (node n2's underlay address): egress judged at the source, ingress at node n2$" <<<"$out" &&
		grep -q "^INGRESS  *allow: x/b-from-a rule 0 (allows), by its entry for .* (node n2)$" <<<"$out" || { echo "$out"; return 1; }
}
check "explain as text: TUNNEL says where the flow goes, INGRESS the rule at n2" as_text
not_decided() { # without n2's maps the ingress side is n2's to decide
	local out
	out=$(ctl_n 1 explain x/c "$B6" 80/tcp --json 2>&1) &&
		jq -e '.verdict == "unknown" and .ingress_reason == "remote" and .ingress_node == "n2"' \
			<<<"$out" >/dev/null || { echo "$out"; return 1; }
}
check "explain c -> b's IPv6 on n1's maps alone: ingress decided on n2 (unknown)" not_decided
bad_family() {
	local out rc
	out=$(ctl_n 1 explain x/a "$B4" 80/tcp --family 6 2>&1)
	rc=$?
	[ $rc = 1 ] && grep -q "$B4: an IPv4 address in an IPv6 flow" <<<"$out" || { echo "exit $rc: $out"; return 1; }
}
check "explain --family 6 with an IPv4 address: exit 1, saying so" bad_family
finish
