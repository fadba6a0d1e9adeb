#!/bin/bash
# A cluster whose nodes mix underlay families: three node namespaces on one
# underlay bridge, each running xcnid (no --node-ip: each takes what its
# underlay has) and the real plugin (host-local, one range per family).
#
#   netns <tag>-n1 (A): ul0 192.168.97.1 + fc00:97::1 --+
#   netns <tag>-n2 (B): ul0 192.168.97.2 (IPv4 only) ---+-- br0 in netns <tag>-sw  <- tshark on A's port
#   netns <tag>-n3 (C): ul0 fc00:97::3 (IPv6 only) -----+
#   pods a (n1), b (n2), c (n3): 10.203.<n>.x fd00:203:<n>::x
#
# A reaches B over IPv4 and C over IPv6 (seen on the wire), so A's pods get
# the IPv6 underlay's MTU; B and C share no family: their pods' traffic is
# dropped with drop-tunnel-family, counted on both, and each agent names the
# other node once in its log. Run under flock /tmp/xcni-test.lock.
set -uo pipefail
SECONDS=0
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

TN_NAME=v6mix TN_NET=203
. "$HERE/twonode.sh"

# A third node beside twonode.sh's two, one pod per node.
node_of() { case $1 in a) echo 1 ;; b) echo 2 ;; c) echo 3 ;; esac; }
SW=$XCT_TAG-sw
mix_cleanup() {
	cleanup # twonode.sh's: pods (cni DEL on their node), agents, n1, n2, $T
	ip netns del "$(node_ns 3)" 2>/dev/null
	ip netns del "$SW" 2>/dev/null
	rm -rf "$(pin 3)"
}
trap mix_cleanup EXIT
ip netns add "$(node_ns 3)" && ip -n "$(node_ns 3)" link set lo up && ip netns add "$SW" ||
	{ not_ok "netns n3, sw"; finish; exit 1; }
cat >"$T/net3.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-$TN_NAME","type":"xcni","stateDir":"$T/state3","pinDir":"$(pin 3)",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.203.3.0/24"}],[{"subnet":"fd00:203:3::/64"}]],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dataDir":"$T/ipam3"}}
EOT

# ---- the underlay: a bridge, A with both families, B IPv4 only, C IPv6 only ----
ip -n "$SW" link add br0 type bridge mcast_snooping 0 && ip -n "$SW" link set br0 up
for n in 1 2 3; do
	ip link add ul0 netns "$(node_ns "$n")" type veth peer name "p$n" netns "$SW"
	ip -n "$SW" link set "p$n" master br0 up
	ip -n "$(node_ns "$n")" link set ul0 up
done
ip -n "$(node_ns 1)" addr add 192.168.97.1/24 dev ul0
ip -n "$(node_ns 1)" addr add fc00:97::1/64 dev ul0 nodad
ip -n "$(node_ns 2)" addr add 192.168.97.2/24 dev ul0
ip -n "$(node_ns 3)" addr add fc00:97::3/64 dev ul0 nodad

ip_of() { case $1 in 1) echo '[{type: InternalIP, address: 192.168.97.1}, {type: InternalIP, address: "fc00:97::1"}]' ;;
	2) echo '[{type: InternalIP, address: 192.168.97.2}]' ;; 3) echo '[{type: InternalIP, address: "fc00:97::3"}]' ;; esac; }
for n in 1 2 3; do
	cat <<EOF
---
apiVersion: v1
kind: Node
metadata: {name: n$n}
spec: {podCIDR: 10.203.$n.0/24, podCIDRs: [10.203.$n.0/24, "fd00:203:$n::/64"]}
status: {addresses: $(ip_of "$n")}
EOF
done | put nodes.yaml
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n' | put ns.yaml

# --node-ip: one address per family, given twice or comma-separated; refused before anything is made.
nip_refused() { # nip_refused MESSAGE ARGS...: exit 2 and the message, no pin dir made
	local want=$1 out rc
	shift
	out=$(in_node 1 "$BUILD/xcnid" --pin-dir "$(pin 1)-bad" --manifests "$M" --underlay-dev ul0 "$@" 2>&1)
	rc=$?
	[ "$rc" = 2 ] && grep -qF -- "$want" <<<"$out" && [ ! -e "$(pin 1)-bad" ] ||
		{ echo "exit $rc: $out"; return 1; }
}
check "--node-ip twice with two IPv4 addresses: refused, exit 2" \
	nip_refused "a second IPv4 address" --node-ip 192.168.97.1 --node-ip 192.168.97.9
check "--node-ip fc00:97::1,fc00:97::9: refused, exit 2" \
	nip_refused "a second IPv6 address" --node-ip fc00:97::1,fc00:97::9
check "--node-ip 192.168.97.1,bogus: refused, naming the bad one" \
	nip_refused "bogus is not an IPv4 or IPv6 address" --node-ip 192.168.97.1,bogus
check "--node-ip , (no address): refused" nip_refused "an IPv4 or IPv6 address" --node-ip ,

ready() { # ready LOG...
	local l
	for _ in $(seq 100); do
		for l in "$@"; do grep -q 'xcnid: ready' "$T/$l" || { sleep 0.1; continue 2; }; done
		return 0
	done
	for l in "$@"; do cat "$T/$l"; done
	return 1
}
for n in 1 2 3; do agent_start "$n" "$T/xcnid$n.log"; done # twonode.sh's
check "xcnid on the three nodes, overlay on ul0" ready xcnid1.log xcnid2.log xcnid3.log ||
	{ finish; exit 1; }
GEN=0
sync3() { sync_all 1 2 3; } # a new generation, applied by the three agents
check "the Nodes applied" sync3
check "A took both underlay addresses" \
	grep -q 'overlay: underlay ul0 .*node addresses 192.168.97.1 and fc00:97::1 ' "$T/xcnid1.log"
check "xcnictl config on A: node_ip and node_ip6" \
	is config "$(ctl_n 1 config --json | jq -r '"\(.node_ip) \(.node_ip6)"')" "192.168.97.1 fc00:97::1"
check "B the IPv4 one, C the IPv6 one" \
	bash -c "grep -q 'node address 192.168.97.2,' $T/xcnid2.log && grep -q 'node address fc00:97::3,' $T/xcnid3.log"

# ---- pods: a on A, b on B, c on C ---------------------------------------------------
pods_add # twonode.sh's, with node_of above: a on A, b on B, c on C
check "pods known to the three agents (a $A4 $A6, b $B4 $B6, c $C4 $C6)" sync3

tun() { ctl_n "$1" ipcache get "$2" --json | jq -r .tunnel; }
check "A's ipcache: b (both families) behind B's IPv4, c (both) behind C's IPv6" \
	is tunnels "$(tun 1 "$B4") $(tun 1 "$B6") $(tun 1 "$C4") $(tun 1 "$C6")" \
	"192.168.97.2 192.168.97.2 fc00:97::3 fc00:97::3"
check "B's and C's ipcache: a behind A's IPv4 and A's IPv6" \
	is tunnels "$(tun 2 "$A6") $(tun 3 "$A4")" "192.168.97.1 fc00:97::1"
mtu() { ip -n "$XCT_TAG-$1" -o link show eth0 | grep -o 'mtu [0-9]*' | cut -d' ' -f2; }
check "pods' MTU: a 1430 (A has an IPv6 tunnel), b 1450 (IPv4 only, as before), c 1430" \
	is mtu "$(mtu a) $(mtu b) $(mtu c)" "1430 1450 1430"
check "A's xcni0 and config pod_mtu: 1430" \
	is mtu "$(ip -n "$(node_ns 1)" -o link show xcni0 | grep -o 'mtu [0-9]*') $(ctl_n 1 config --json | jq .pod_mtu)" \
	"mtu 1430 1430"

# ---- traffic ------------------------------------------------------------------------
for p in a b c; do
	ip netns exec "$XCT_TAG-$p" socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 SYSTEM:'echo hello' &
	PIDS+=($!)
done
for p in a b c; do
	for _ in $(seq 50); do ss -N "$XCT_TAG-$p" -ltn | grep -q ':80 ' && break; sleep 0.1; done
done
tcp() { # tcp SRC-POD|hostN ADDR
	local run=(in_pod "$1") a=$2
	[[ $1 == host* ]] && run=(in_node "${1#host}")
	[[ $a == *:* ]] && a="[$a]"
	if "${run[@]}" timeout 4 socat -T2 - "TCP:$a:80,connect-timeout=2" </dev/null 2>/dev/null | grep -q hello; then
		echo connected
	else
		echo blocked
	fi
}
metric() { # metric NODE REASON DIR: packets counted
	ctl_n "$1" metrics --json | jq --arg r "$2" --arg d "$3" \
		'[.[] | select(.reason == $r and .direction == $d) | .packets] | add // 0'
}

pcap_start "$SW" p1 'udp port 6081' "$T/ul.pcap"
PIDS+=("$CAP")
pings() { # pings SRC DST4 DST6
	in_pod "$1" ping -c1 -W2 "$2" && in_pod "$1" ping -6 -c1 -W2 "$3"
}
check "ping a -> b and b -> a, IPv4 and IPv6 inside" eval 'pings a "$B4" "$B6" && pings b "$A4" "$A6"'
check "ping a -> c and c -> a, IPv4 and IPv6 inside" eval 'pings a "$C4" "$C6" && pings c "$A4" "$A6"'
check "TCP a -> b (both families), b -> a" \
	is tcp "$(tcp a "$B4") $(tcp a "$B6") $(tcp b "$A4")" "connected connected connected"
check "TCP a -> c (both families), c -> a" \
	is tcp "$(tcp a "$C4") $(tcp a "$C6") $(tcp c "$A6")" "connected connected connected"
check "A's host -> c over xcni0 (to_overlay, IPv6 underlay): TCP" is tcp "$(tcp host1 "$C6")" connected
check "ping a -> c, 1430-byte packets with DF (the IPv6 underlay's 70 bytes fit)" \
	in_pod a ping -c1 -W2 -M do -s 1402 "$C4"
check "ping b -> a, 1450-byte packets with DF (B -> A over IPv4: 50 bytes)" \
	in_pod b ping -c1 -W2 -M do -s 1422 "$A4"
pcap_stop "$T/ul.pcap"
outer() { # outer FILTER: the outer addresses of the Geneve frames matching it, one line each
	tshark -n -r "$T/ul.pcap" -Y "geneve && $1" -T fields -E separator=' ' -E occurrence=f \
		-e ip.src -e ip.dst -e ipv6.src -e ipv6.dst 2>/dev/null | sort -u
}
# The first IPv4 header is the outer one over IPv4; over IPv6, ipv6's first is.
only() { # only WHAT PATTERN LINES: every line matches, and there is one
	[ -n "$3" ] && ! grep -qv -- "$2" <<<"$3" || { echo "$1: $3"; return 1; }
}
w_ab=$(outer "tcp.dstport == 80 && (ip.dst == $B4 || ipv6.dst == $B6)")
w_ac=$(outer "tcp.dstport == 80 && (ip.dst == $C4 || ipv6.dst == $C6)")
check "tshark on A's port: a -> b TCP (both families) in Geneve over outer IPv4 192.168.97.1 -> .2" \
	only a-b '^192\.168\.97\.1 192\.168\.97\.2 \(fd00:203:1::[0-9a-f]* fd00:203:2::[0-9a-f]*\)\? *$' "$w_ab"
check "  ... a -> c TCP (both families) in Geneve over outer IPv6 fc00:97::1 -> fc00:97::3" \
	only a-c '^\(10\.203\.1\.[0-9]* 10\.203\.3\.[0-9]* \)\? *fc00:97::1 fc00:97::3$' "$w_ac"
check "  ... both families inside each (a -> b: $(wc -l <<<"$w_ab") kinds, a -> c: $(wc -l <<<"$w_ac"))" \
	test "$(wc -l <<<"$w_ab")" = 2 -a "$(wc -l <<<"$w_ac")" = 2

# ---- B and C: no family in common, dropped with the reason shown ---------------------
nb0=$(metric 2 drop-tunnel-family from-pod) nc0=$(metric 3 drop-tunnel-family from-pod)
check_fails "ping b -> c (IPv4 inside): no underlay family in common" in_pod b ping -c1 -W1 "$C4"
check_fails "ping b -> c (IPv6 inside)" in_pod b ping -6 -c1 -W1 "$C6"
check_fails "ping c -> b" in_pod c ping -c1 -W1 "$B4"
nb1=$(metric 2 drop-tunnel-family from-pod) nc1=$(metric 3 drop-tunnel-family from-pod)
check "  ... counted as drop-tunnel-family (xcnictl metrics): B $nb0 -> $nb1, C $nc0 -> $nc1" \
	test "$nb1" -ge $((nb0 + 2)) -a "$nc1" -ge $((nc0 + 1))
no0=$(metric 2 drop-tunnel-family to-overlay)
check_fails "B's host -> c over xcni0" in_node 2 ping -c1 -W1 "$C4"
no1=$(metric 2 drop-tunnel-family to-overlay)
check "  ... drop-tunnel-family at to-overlay on B ($no0 -> $no1)" test "$no1" -gt "$no0"
check "  ... in B's xcnictl metrics table by name" eval 'grep -q "^drop-tunnel-family " <<<"$(ctl_n 2 metrics)"'
# explain NODE SRC DST: the text record (TUNNEL and VERDICT say it in words).
check "xcnictl explain x/b x/c 80/tcp on B: no tunnel, denied, drop-tunnel-family" \
	eval 'ctl_n 2 explain x/b x/c 80/tcp >"$T/ex-bc" && grep -q "TUNNEL.*none: node n3.*drop-tunnel-family" "$T/ex-bc" && grep -q "VERDICT.*denied.*drop-tunnel-family" "$T/ex-bc" || { cat "$T/ex-bc"; false; }'
check "xcnictl explain x/a x/c 80/tcp on A: not so (Geneve over IPv6 is there)" \
	eval 'ctl_n 1 explain x/a x/c 80/tcp >"$T/ex-ac" && ! grep -q "drop-tunnel-family\|denied" "$T/ex-ac" || { cat "$T/ex-ac"; false; }'
check "B's log names n3 once (three generations), C's names n2" \
	is warnings "$(grep -c 'node n3 (InternalIP fc00:97::3) has no underlay family in common.*drop-tunnel-family' "$T/xcnid2.log") $(grep -c 'node n2 (InternalIP 192.168.97.2) has no underlay family' "$T/xcnid3.log")" "1 1"
check_fails "A's log names no node so" grep -q 'no underlay family in common' "$T/xcnid1.log"

# ---- A restarted with both addresses given (--node-ip twice) -------------------------
kill "${AGENTS[0]}" && wait "${AGENTS[0]}" 2>/dev/null
agent_start 1 "$T/xcnid1-b.log" --node-ip 192.168.97.1 --node-ip fc00:97::1
check "A restarted with --node-ip 192.168.97.1 --node-ip fc00:97::1: both" \
	eval 'ready xcnid1-b.log && grep -q "node addresses 192.168.97.1 and fc00:97::1 " "$T/xcnid1-b.log"'
check "  ... applied" sync3
check "  ... ping a -> c and a -> b across" eval 'pings a "$C4" "$C6" && pings a "$B4" "$B6"'
# The host stays clean: everything this run made goes by its own name.
mix_cleanup
trap - EXIT
check "host clean: no netns, pin dir or temp dir of this run left" \
	eval '! ip netns list | grep -q "^$XCT_TAG-" && ! compgen -G "/sys/fs/bpf/$XCT_TAG-*" >/dev/null && [ ! -e "$T" ]'
diag "v6mix: ${SECONDS}s"
finish
