#!/bin/bash
# Geneve over an IPv6 underlay: two node namespaces whose underlay link has
# ONLY IPv6 addresses (and Nodes with only an IPv6 InternalIP), each running
# xcnid on it (no --node-ip: the agent finds no IPv4 there and takes the
# IPv6 underlay) and the real plugin with host-local handing out one address
# per family. Pods of both families talk across; checked at both ends, in
# the maps, in the pods' MTU (underlay - 70) and on the wire (tshark decodes
# the outer IPv6, Geneve and the inner packets).
#
#   netns <tag>-n1: ul0 fc00:98::1 (no IPv4) --veth-- ul0 fc00:98::2  netns <tag>-n2  <- tshark
#     xcnid --underlay-dev ul0 (pins <tag>-n1)              xcnid (pins <tag>-n2)
#     pods a, c: 10.202.1.x fd00:202:1::x                   pod b: 10.202.2.x fd00:202:2::x
#
# Run under flock /tmp/xcni-test.lock.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

TN_NAME=v6ul TN_NET=202
. "$HERE/twonode.sh"

tn_up "" fc00:98::
check "ul0 has no IPv4 address on either node" \
	bash -c "! ip -n $(node_ns 1) -4 addr show dev ul0 | grep -q inet && ! ip -n $(node_ns 2) -4 addr show dev ul0 | grep -q inet"
check "xcnid took the IPv6 underlay (node address fc00:98::1)" \
	grep -q 'overlay: underlay ul0 .*node address fc00:98::1,' "$T/xcnid1.log"

# ---- pods: a, c on n1, b on n2 ----------------------------------------------------
pods_add
check "pods known to both agents (a $A6, c $C6 on n1; b $B6 on n2)" sync2

check "n1's ipcache: b's IPv6 behind n2's IPv6 address" \
	is tunnel "$(ctl_n 1 ipcache get "$B6" --json | jq -r .tunnel)" fc00:98::2
check "n1's ipcache: b's IPv4 behind n2's IPv6 address too" \
	is tunnel "$(ctl_n 1 ipcache get "$B4" --json | jq -r .tunnel)" fc00:98::2
check "n1's ipcache: a local (no tunnel)" \
	is tunnel "$(ctl_n 1 ipcache get "$A6" --json | jq -r .tunnel)" null
check "n1's tunnel list: n2 at fc00:98::2 with its pod CIDR" \
	is n2 "$(ctl_n 1 tunnel get n2 --json | jq -r '.underlay_ip + " " + .pod_cidr')" \
	"fc00:98::2 10.202.2.0/24"
check "pods' MTU: underlay 1500 - 70 (Geneve over IPv6)" \
	bash -c "ip -n $XCT_TAG-a -o link show eth0 | grep -q 'mtu 1430 '"
check "config: pod_mtu 1430, node_ip the IPv6 underlay address" \
	is config "$(ctl_n 1 config --json | jq -r '"\(.pod_mtu) \(.node_ip)"')" "1430 fc00:98::1"
check "n1 routes n2's pod CIDRs (both families) to xcni0, MTU 1430" \
	bash -c "ip -n $(node_ns 1) -6 route show fd00:202:2::/64 | grep -q 'dev xcni0' && ip -n $(node_ns 1) route show 10.202.2.0/24 | grep -q 'dev xcni0' && ip -n $(node_ns 1) -o link show xcni0 | grep -q 'mtu 1430 '"

# ---- traffic ------------------------------------------------------------------------
serve_b

pcap_start "$(node_ns 2)" ul0 'udp port 6081' "$T/ul.pcap"
PIDS+=("$CAP")
check "ping6 a (n1) -> b (n2) across the IPv6 underlay" in_pod a ping -6 -c3 -i 0.2 -W2 "$B6"
check "ping b (n2) -> a (n1): IPv4 inside IPv6" in_pod b ping -c2 -i 0.2 -W2 "$A4"
check "TCP over IPv6 a -> b:80" is "a -> [$B6]:80" "$(tcp a "$B6")" connected
check "TCP over IPv4 a -> b:80" is "a -> $B4:80" "$(tcp a "$B4")" connected
check "UDP over IPv6 c -> b:53" is "c -> [$B6]:53" "$(udp c "$B6")" answered
check "UDP over IPv4 c -> b:53" is "c -> $B4:53" "$(udp c "$B4")" answered
check "n1's host -> b over IPv6 (xcni0, to_overlay): TCP" is "n1 -> [$B6]:80" "$(tcp host "$B6")" connected
# The largest packets the pods' MTU lets out cross whole: 1430 + 70 = the underlay's 1500.
check "ping6 a -> b, 1430-byte packets with DF (the MTU leaves room for 70)" \
	in_pod a ping -6 -c1 -W2 -M do -s 1382 "$B6"
check "ping a -> b, 1430-byte IPv4 packets with DF" in_pod a ping -c1 -W2 -M do -s 1402 "$B4"
pcap_stop "$T/ul.pcap"
fields() { tshark -n -r "$T/ul.pcap" -Y "$1" -T fields -E separator=' ' -e ipv6.src -e ipv6.dst \
	-e udp.dstport -e geneve.proto_type -e ip.src -e ip.dst -e udp.checksum 2>/dev/null | sort -u; }
w_ab6=$(fields "geneve && ipv6.src == $A6 && ipv6.dst == $B6 && tcp.dstport == 80" | head -1)
w_ab4=$(fields "geneve && ip.src == $A4 && ip.dst == $B4 && tcp.dstport == 80" | head -1)
w_ba=$(fields "geneve && ipv6.src == $B6 && ipv6.dst == $A6" | head -1)
w_big=$(tshark -n -r "$T/ul.pcap" -Y "geneve && ipv6.dst == $B6 && icmpv6.type == 128" -T fields \
	-e frame.len 2>/dev/null | sort -n | tail -1)
check "tshark on n2's ul0: a -> b TCP6 in Geneve over IPv6, IPv6 inside, outer checksum 0 ($w_ab6)" \
	is wire "$w_ab6" "fc00:98::1,$A6 fc00:98::2,$B6 6081 0x6558   0x0000"
check "  ... a -> b TCP over IPv4 in Geneve over IPv6, IPv4 inside ($w_ab4)" \
	is wire "$w_ab4" "fc00:98::1 fc00:98::2 6081 0x6558 $A4 $B4 0x0000"
check "  ... b's answers the other way ($w_ba)" \
	bash -c "[[ '$w_ba' == 'fc00:98::2,$B6 fc00:98::1,$A6 '*' 0x6558 '* ]]"
check "  ... the 1430-byte echo crossed as one 1514-byte frame ($w_big)" is frame "$w_big" 1514
check "  ... and nothing as Geneve over IPv4" \
	is ipv4 "$(tshark -n -r "$T/ul.pcap" -Y 'geneve && !ipv6' 2>/dev/null | wc -l)" 0
pf_warns() { ctl_n 1 prefilter add fc00:98::/120 2>&1 | grep -q 'warn: fc00:98::/120 covers node n2 (fc00:98::2)'; }
check "prefilter add of a prefix over n2's IPv6: added, with a warning naming it" pf_warns
check "prefilter del it" ctl_n 1 prefilter del fc00:98::/120
check "n1's counters for n2 (tunstat6) moved both ways" \
	bash -c "[ \"$(ctl_n 1 tunnel get n2 --json | jq '.tx_packets >= 10 and .rx_packets >= 10')\" = true ]"

# ---- policy on the far pod: a admitted, c refused, both families ------------------
pol_b_from_a
check "b-from-a applied on both nodes" sync2
check "b-from-a: TCP over IPv6 a -> b admitted" is "a -> [$B6]:80" "$(tcp a "$B6")" connected
check "b-from-a: TCP over IPv6 c -> b refused" is "c -> [$B6]:80" "$(tcp c "$B6")" blocked
check "b-from-a: UDP over IPv4 c -> b refused" is "c -> $B4:53" "$(udp c "$B4")" silent

# ---- xcnictl explain: the tunnel named by n2's IPv6 underlay address --------------
# TUN: the path's columns; walk FAM ADDR: egress's ipcache line for b's ADDR.
TUN='.tunnel_ip == "fc00:98::2" and .tunnel_node == "n2"'
walk() { echo "(.egress_lookups | test(\"$1\\\\[$2\\\\] identity [0-9]+, tunnel fc00:98::2 \\\\(node n2\\\\)\"))"; }
check "explain a -> b's IPv6 80/tcp: allowed by b-from-a at n2, Geneve to fc00:98::2 (n2)" \
	ex_is ".verdict == \"allowed\" and .ingress_policy == \"x/b-from-a\" and $TUN and $(walk ipcache6 "$B6")" \
	x/a "$B6" 80/tcp
check "explain c -> b's IPv4 53/udp: denied at n2, IPv4 in the same IPv6 tunnel" \
	ex_is ".verdict == \"denied\" and .dst_ip == \"$B4\" and $TUN and $(walk ipcache "$B4")" \
	x/c "$B4" 53/udp
check "explain as text: TUNNEL names fc00:98::2 and n2" \
	ex_text "^TUNNEL  *Geneve to fc00:98::2 (node n2's underlay address): egress judged at the source, ingress at node n2$" \
	x/a "$B6" 80/tcp
check "  ... and the egress walk its ipcache6 line" \
	ex_text "ipcache6\[$B6\] identity [0-9]*, tunnel fc00:98::2 (node n2)" x/a "$B6" 80/tcp
ex_remote() { # without n2's maps the ingress side is n2's, named from n1's tunnel6
	local out
	out=$(ctl_n 1 explain x/c "$B6" 80/tcp --json 2>&1) &&
		jq -e '.verdict == "unknown" and .ingress_reason == "remote" and .ingress_node == "n2" and '"$TUN" \
			<<<"$out" >/dev/null || { echo "$out"; return 1; }
}
check "explain c -> b's IPv6 on n1's maps alone: ingress decided on n2 (unknown)" ex_remote

# ---- a process on n1 sending Geneve over the IPv6 underlay (issue 26 item 6) -------
# As in v6ovl.sh: n1's host socket builds Geneve from fc00:98::1 claiming a
# (admitted by b-from-a) to b; to_underlay drops it. Controls: a's own
# datagram, and the socket's plain UDP to another port of n2.
geneve_from_host fc00:98::2 "Geneve over IPv6 to [fc00:98::2]:6081 claiming a -> b:9999" "UDP6:[fc00:98::2]:9998" "[n2]"
# ---- a dual-stack underlay told to use IPv6 (xcnid --node-ip IPv6) ----------------
# Both nodes gain an IPv4 address on ul0 and an IPv4 InternalIP. Restarted with
# --node-ip fc00:98::<n>, they keep Geneve over IPv6 (left to choose, they would
# take IPv4, as v6ovl-netns shows).
for n in 1 2; do ip -n "$(node_ns "$n")" addr add "192.168.98.$n/24" dev ul0; done
tn_nodes "192.168.98" "fc00:98::"
for p in "${AGENTS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
AGENTS=()
for n in 1 2; do agent_start "$n" "$T/xcnid$n-b.log" --node-ip "fc00:98::$n"; done
restarted() {
	agents_ready "$T/xcnid1-b.log" "$T/xcnid2-b.log" && grep -q 'node address fc00:98::1,' "$T/xcnid1-b.log"
}
check "dual-stack ul0, xcnid --node-ip fc00:98::<n>: restarted, the IPv6 underlay" restarted
check "  ... the dual Nodes applied" sync2
check "  ... b's IPv4 still behind n2's IPv6 address (not its IPv4 InternalIP)" \
	is tunnel "$(ctl_n 1 ipcache get "$B4" --json | jq -r .tunnel)" fc00:98::2
check "  ... ping a -> b (IPv4) across" in_pod a ping -c2 -i 0.2 -W2 "$B4"
check "  ... ping6 a -> b across" in_pod a ping -6 -c1 -W2 "$B6"
check "  ... pod MTU still underlay - 70" is pod_mtu "$(ctl_n 1 config --json | jq .pod_mtu)" 1430
check "  ... explain a -> b's IPv4: Geneve to fc00:98::2 (n2), not n2's IPv4 192.168.98.2" \
	ex_is ".dst_ip == \"$B4\" and $TUN and $(walk ipcache "$B4")" x/a "$B4" 80/tcp
finish
