#!/bin/bash
# IPv6 on one node, with real traffic: xcnid following a manifest directory,
# the real plugin with host-local handing out one address per family (dual
# stack) or IPv6 alone, pods talking IPv6 through from_pod6 / to_pod6, their
# gateway fe80::1 resolved by neighbour discovery answered in BPF, and one
# NetworkPolicy judging both families.
#
#   netns <tag>-node: xcnid --manifests M (pins under /sys/fs/bpf/<tag>)
#     xc<hash> fe80::1 ──veth── eth0  <tag>-a  x/a  10.98.0.x  fd00:98::x  (dual)
#     xc<hash> fe80::1 ──veth── eth0  <tag>-b  x/b  10.98.0.y  fd00:98::y  (dual)
#     xc<hash> fe80::1 ──veth── eth0  <tag>-c  x/c             fd00:98:1::z (IPv6 only)
#     xc<hash> fe80::1 ──veth── eth0  <tag>-e  x/e             fd00:98:1::w (IPv6 only; late: polkey6 full)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init v6 10.98.0 v6
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in c e; do [ -e "/var/run/netns/$XCT_TAG-$p" ] && cni6 DEL $p >/dev/null 2>&1; done
	node_cleanup a b c d e
}
trap cleanup EXIT

# Dual stack for a, b (host-local range sets: IPv4 first, as kubelet writes
# them); c from a network of IPv6 alone.
cat >"$T/net.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-v6","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET.0/24"}],[{"subnet":"fd00:98::/64"}]],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dataDir":"$T/ipam"}}
EOT
cat >"$T/net6.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-v6only","type":"xcni","stateDir":"$T/state6","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"fd00:98:1::/64"}]],"routes":[{"dst":"::/0"}],
         "dataDir":"$T/ipam6"}}
EOT
cni6() { # the plugin with the IPv6-only network
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="$CID_PREFIX-$2" \
		CNI_NETNS="/var/run/netns/$XCT_TAG-$2" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <"$T/net6.json"
}
addr_of() { # addr_of RESULT-FILE 4|6
	if [ "$2" = 6 ]; then
		jq -r '.ips[].address | select(contains(":"))' "$1" | cut -d/ -f1
	else
		jq -r '.ips[].address | select(contains(":") | not)' "$1" | cut -d/ -f1
	fi
}
in_pod() { local p=$1; shift; ip netns exec "$XCT_TAG-$p" "$@"; }
entries() { bpftool map dump pinned "$PIN/$1" 2>/dev/null | grep -c '"key"'; }
bytes() { python3 -c 'import ipaddress, sys; print(" ".join(str(b) for b in ipaddress.ip_address(sys.argv[1]).packed))' "$1"; }
metric() { # metric REASON-NAME DIRECTION: packets counted
	ctl metrics --all --json | jq -r --arg r "$1" --arg d "$2" \
		'[.[] | select(.reason == $r and .direction == $d) | .packets] | add // 0'
}

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
# xcni_polsel (names for people) made 2 for 3 local pods: it fills, policy does not stop.
# xcni_polkey6 made 3: a 4th IPv6 pod (e, below) waits for room, never the generation
# (--map-grow 0: neither grows by its fill; map-grow tests the growth).
check "xcnid started with --manifests" start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" \
	--node-name n1 --manifests "$M" -v --map-max xcni_polsel=2,xcni_polkey6=3 --map-grow 0 || { finish; exit 1; }
for p in a b c; do
	ip netns add "$XCT_TAG-$p" && ip -n "$XCT_TAG-$p" link set lo up
	if [ $p = c ]; then cni6 ADD $p >"$T/$p.json"; else cni ADD $p >"$T/$p.json"; fi ||
		{ not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
done
A4=$(addr_of "$T/a.json" 4) A6=$(addr_of "$T/a.json" 6)
B4=$(addr_of "$T/b.json" 4) B6=$(addr_of "$T/b.json" 6)
C6=$(addr_of "$T/c.json" 6)
HOSTIF_A=$(jq -r '.interfaces[0].name' "$T/a.json")
HOSTMAC_A=$(jq -r '.interfaces[0].mac' "$T/a.json")
check "a and b have both families, c IPv6 only ($A4 $A6, $B4 $B6, $C6)" \
	bash -c "[ -n '$A4' ] && [ -n '$A6' ] && [ -n '$B4' ] && [ -n '$B6' ] && [ -n '$C6' ] && [ -z '$(addr_of "$T/c.json" 4)' ]"
check "the plugin wrote an IPv6 endpoint entry per pod (endpoints6 3, ifindex6 3)" \
	bash -c "[ $(entries xcni_endpoints6) -eq 3 ] && [ $(entries xcni_ifindex6) -eq 3 ]"

# The pods' status as the API would have it: podIPs, one per family.
put pods.yaml <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: blue}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {nodeName: n1}
status: {podIP: $A4, podIPs: [{ip: $A4}, {ip: "$A6"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec: {nodeName: n1}
status: {podIP: $B4, podIPs: [{ip: $B4}, {ip: "$B6"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: x, labels: {pod: c}}
spec: {nodeName: n1}
status: {podIP: "$C6", podIPs: [{ip: "$C6"}]}
EOF
check "pods known to xcnid" sync_gen
# status exits 1 when DEGRADED (as here): its output read, not its exit.
polsel_full() {
	local st
	st=$(ctl status 2>&1)
	[ "$(entries xcni_polsel)" = 2 ] && grep -Eq '^Policy: .* [1-9][0-9]* names missing' <<<"$st" ||
		{ echo "polsel $(entries xcni_polsel)"; grep -E '^(Policy|Verdict):' <<<"$st"; return 1; }
}
check "xcni_polsel full (2, 3 local pods): the generation still applied, the names missing counted" wait_until 10 polsel_full
check "xcnid wrote every pod's IPv6 into ipcache6 (3) and the local pods' policy keys into polkey6 (3)" \
	bash -c "[ $(entries xcni_ipcache6) -eq 3 ] && [ $(entries xcni_polkey6) -eq 3 ]"
# c's key: 0.0.0.0/8 from its address's low 24 bits (bpftool prints the value's bytes).
check "c (IPv6 only) is keyed by a 0.0.0.0/8 policy key" \
	bash -c "bpftool map dump pinned $PIN/xcni_polkey6 -j | jq -e '[.[] | select(.value[0] == \"0x00\")] | length == 1' >/dev/null"

# Neighbour discovery: the pods' permanent entries for fe80::1 removed, they
# must solicit it, and from_pod answers (the host's stack never does: tshark
# on the host end sees the solicitations come in and no advertisement go out).
for p in a b c; do ip -n "$XCT_TAG-$p" -6 neigh del fe80::1 dev eth0 2>/dev/null; done
# pcap_start returns once tshark's file is there (it captures from then on).
pcap_start "$NODE" "$HOSTIF_A" icmp6 "$T/nd.pcap"
PIDS+=("$CAP")
arp0=$(metric pass-arp from-pod)
check "a pings b over IPv6 ($A6 -> $B6), resolving its gateway by NDP" \
	in_pod a ping -6 -c3 -i 0.2 -W2 "$B6"
pcap_stop "$T/nd.pcap"
check "a's neighbour entry for fe80::1: the host veth's MAC $HOSTMAC_A, learnt (not permanent)" \
	bash -c "ip -n $XCT_TAG-a -6 neigh show fe80::1 dev eth0 | grep -i 'lladdr $HOSTMAC_A' | grep -qv PERMANENT"
ns_in=$(tshark -r "$T/nd.pcap" -Y 'icmpv6.type == 135 && icmpv6.nd.ns.target_address == fe80::1' 2>/dev/null | wc -l)
na_out=$(tshark -r "$T/nd.pcap" -Y 'icmpv6.type == 136 && ipv6.src == fe80::1' 2>/dev/null | wc -l)
check "tshark on $HOSTIF_A: a solicited fe80::1 (got $ns_in), the host stack advertised nothing (got $na_out)" \
	bash -c "[ $ns_in -ge 1 ] && [ $na_out -eq 0 ]"
arp1=$(metric pass-arp from-pod)
check "a's solicitation was counted pass-arp from-pod ($arp0 -> $arp1)" test "$arp1" -gt "$arp0"
check "b pings a over IPv6" in_pod b ping -6 -c2 -i 0.2 -W2 "$A6"
check "c (IPv6 only) pings a, a pings c" \
	bash -c "ip netns exec $XCT_TAG-c ping -6 -c2 -i 0.2 -W2 $A6 && ip netns exec $XCT_TAG-a ping -6 -c2 -i 0.2 -W2 $C6"
check "the pods ping their gateway fe80::1 (from their link-local address)" \
	bash -c "ip netns exec $XCT_TAG-c ping -6 -c1 -W2 fe80::1%eth0 && ip netns exec $XCT_TAG-a ping -6 -c1 -W2 fe80::1%eth0"

# Servers: TCP 80 and UDP 53 on both families in b and c.
serve_dual "$XCT_TAG-b"
serve_dual "$XCT_TAG-c"
tcp() { # tcp SRC ADDR: connected or blocked
	if in_pod "$1" timeout 4 socat -T2 - "TCP:[$2]:80,connect-timeout=2" </dev/null 2>/dev/null | grep -q hello ||
		{ [[ $2 != *:* ]] && in_pod "$1" timeout 4 socat -T2 - "TCP:$2:80,connect-timeout=2" </dev/null 2>/dev/null | grep -q hello; }; then
		echo connected
	else
		echo blocked
	fi
}
udp() { # udp SRC ADDR6
	if echo ping | in_pod "$1" timeout 4 socat -T2 - "UDP6:[$2]:53" 2>/dev/null | grep -q pong; then
		echo answered
	else
		echo silent
	fi
}
expect() { # expect WHAT GOT WANT
	[ "$2" = "$3" ] || { echo "$1: $2, expected $3"; return 1; }
}
check "TCP over IPv6 a -> b" expect "a -> [$B6]:80" "$(tcp a "$B6")" connected
check "UDP over IPv6 a -> b" expect "a -> [$B6]:53" "$(udp a "$B6")" answered
check "TCP over IPv6 a -> c (IPv6 only)" expect "a -> [$C6]:80" "$(tcp a "$C6")" connected
check "UDP over IPv6 c -> b" expect "c -> [$B6]:53" "$(udp c "$B6")" answered
check "TCP over IPv4 a -> b" expect "a -> $B4:80" "$(tcp a "$B4")" connected
check "conntrack (ct6) holds IPv6 flows" bash -c "[ $(entries xcni_ct6) -ge 3 ]"

# The attacker's neighbour discovery (issue 26 item 1): ICMPv6 of an ND type
# is ND only on the link. A router solicitation carrying 1200 bytes to b's
# global address is a datagram like any other, judged by policy: b's raw
# ICMPv6 socket (nd_probe.py) tells what arrives. With the policy open, it
# does: from a (from_pod), and from the node's stack with a source outside
# the pod ranges (the world, through to_pod).
ip -n "$NODE" addr add fd00:97::9/128 dev lo nodad
nd_rs() { # nd_rs NETNS DST HOPS [SRC]: how many of 3 such RSs b's raw socket got
	local rx
	rm -f "$T/nd.ready"
	ip netns exec "$XCT_TAG-b" python3 "$HERE/nd_probe.py" recv 1.5 "xcni-nd-$$" "$T/nd.ready" \
		>"$T/nd.got" &
	rx=$!
	for _ in $(seq 50); do [ -e "$T/nd.ready" ] && break; sleep 0.05; done
	ip netns exec "$1" python3 "$HERE/nd_probe.py" send "$2" "xcni-nd-$$" "$3" ${4:-}
	wait "$rx"
	cat "$T/nd.got"
}
check "ND-typed ICMPv6 (RS, 1200 bytes, hop 255) a -> b's $B6, policy open: b's raw socket got all 3" \
	expect "RS a -> b" "$(nd_rs "$XCT_TAG-a" "$B6" 255)" 3
check "ND-typed ICMPv6 (RS, 1200 bytes) from the node's fd00:97::9 -> b, policy open: got all 3" \
	expect "RS fd00:97::9 -> b" "$(nd_rs "$NODE" "$B6" 64 fd00:97::9)" 3

# One policy, both families: b isolated for ingress, nothing allowed.
d0=$(metric drop-policy-ingress from-pod)
deny_put deny-b "pod: b"
check "deny-b applied" sync_gen
ctl monitor --json --timeout-ms 5000 >"$T/events.json" 2>&1 &
MON=$!
PIDS+=("$MON")
mon_subscribed "$MON" "$NODE"
check "deny-b: TCP over IPv6 a -> b refused" expect "a -> [$B6]:80" "$(tcp a "$B6")" blocked
check "deny-b: TCP over IPv4 a -> b refused alike" expect "a -> $B4:80" "$(tcp a "$B4")" blocked
check "deny-b: UDP over IPv6 c -> b refused" expect "c -> [$B6]:53" "$(udp c "$B6")" silent
check "deny-b: ping6 a -> b refused" bash -c "! ip netns exec $XCT_TAG-a ping -6 -c1 -W1 $B6"
wait "$MON"
d1=$(metric drop-policy-ingress from-pod)
check "the refusals counted drop-policy-ingress from-pod (got $((d1 - d0)))" test $((d1 - d0)) -ge 4
check "xcnictl monitor printed an IPv6 policy drop: a -> b, its addresses" \
	jq -se --arg s "$A6" --arg d "$B6" \
	'[.[] | select(.reason == "drop-policy-ingress" and .saddr == $s and .daddr == $d and .dport == 80)] | length >= 1' \
	"$T/events.json"

# The attack: a under egress deny-all, b under ingress deny-all. The same RSs
# reach b from nowhere; each is a policy drop (from_pod's for a's, to_pod's
# for the world's), no longer pass-arp.
put deny-a-out.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-a-out, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress]}
EOF
check "deny-a-out (a egress deny-all) applied" sync_gen
e0=$(metric drop-policy-egress from-pod) i0=$(metric drop-policy-ingress to-pod)
check "attack: ND-typed ICMPv6 (RS, 1200 bytes, hop 255) a -> b: b's raw socket got none" \
	expect "RS a -> b" "$(nd_rs "$XCT_TAG-a" "$B6" 255)" 0
check "attack: ND-typed ICMPv6 (RS, 1200 bytes) from the node's fd00:97::9 -> b: none" \
	expect "RS fd00:97::9 -> b" "$(nd_rs "$NODE" "$B6" 64 fd00:97::9)" 0
e1=$(metric drop-policy-egress from-pod) i1=$(metric drop-policy-ingress to-pod)
check "  ... counted drop-policy-egress from-pod (got $((e1 - e0))) and drop-policy-ingress to-pod (got $((i1 - i0)))" \
	bash -c "[ $((e1 - e0)) -ge 3 ] && [ $((i1 - i0)) -ge 3 ]"
check "a under egress deny-all still resolves its gateway (its NS answered in BPF)" \
	bash -c "ip -n $XCT_TAG-a -6 neigh del fe80::1 dev eth0 && ip netns exec $XCT_TAG-a ping -6 -c1 -W2 fe80::1%eth0"
rm -f "$M/deny-a-out.yaml"
check "deny-a-out removed" sync_gen

# A podSelector rule admits a on TCP 80, over both families; c is still refused.
k_allow deny-b a b '{port: 80}' | put deny.yaml
check "allow a -> b:80 applied" sync_gen
check "allowed: TCP over IPv6 a -> b" expect "a -> [$B6]:80" "$(tcp a "$B6")" connected
check "allowed: TCP over IPv4 a -> b" expect "a -> $B4:80" "$(tcp a "$B4")" connected
check "still refused: TCP over IPv6 c -> b (c is not selected)" expect "c -> [$B6]:80" "$(tcp c "$B6")" blocked
check "still refused: UDP over IPv6 a -> b (port 80 TCP only)" expect "a -> [$B6]:53" "$(udp a "$B6")" silent

# The IPv6-only pod under policy: its key's entries judge it.
put deny-c.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-b-to-c, namespace: x}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]
EOF
check "only-b-to-c applied" sync_gen
check "c (IPv6 only) isolated: a -> c refused" expect "a -> [$C6]:80" "$(tcp a "$C6")" blocked
check "c admits b" expect "b -> [$C6]:80" "$(tcp b "$C6")" connected

# IPv6 ipBlock: sources outside every pod range, from the node's own stack
# (addresses the ipcache6 does not know: world). fd00:97::/64 admitted but
# for its except fd00:97::6; an IPv4 0.0.0.0/0 block admits no IPv6 source.
ip -n "$NODE" addr add fd00:97::5/128 dev lo nodad
ip -n "$NODE" addr add fd00:97::6/128 dev lo nodad
put deny-c.yaml <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-b-to-c, namespace: x}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  - from: [{ipBlock: {cidr: "fd00:97::/64", except: ["fd00:97::6/128"]}}]
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
EOF2
world() { # world SRC6 ADDR6: from the node's stack, bound to SRC6
	if ip netns exec "$NODE" timeout 4 socat -T2 - "TCP:[$2]:80,bind=[$1],connect-timeout=2" </dev/null 2>/dev/null | grep -q hello; then
		echo connected
	else
		echo blocked
	fi
}
check "ipBlock fd00:97::/64 except fd00:97::6 applied" sync_gen
check "ipBlock: fd00:97::5 (outside the pod ranges) -> c admitted" \
	expect "fd00:97::5 -> [$C6]:80" "$(world fd00:97::5 "$C6")" connected
check "ipBlock: fd00:97::6 (in the except) -> c refused" \
	expect "fd00:97::6 -> [$C6]:80" "$(world fd00:97::6 "$C6")" blocked
check "ipBlock: a -> c still refused (IPv4 0.0.0.0/0 leaves IPv6 alone)" \
	expect "a -> [$C6]:80" "$(tcp a "$C6")" blocked
pol_out=$(ctl policy get x/c 2>&1)
check "xcnictl policy get x/c names the IPv6 prefix and the IPv4 one, each in its family" \
	bash -c 'grep -q "cidr:fd00:97::/64" <<<"$1" && grep -q "cidr:0.0.0.0/0" <<<"$1" || { echo "$1"; false; }' _ "$pol_out"
explain_is() { # explain_is SRC DST PORT/PROTO JQ-FILTER: xcnictl explain's JSON makes it true
	local out; out=$(ctl explain "$1" "$2" "$3" --json 2>&1)
	jq -e "$4" <<<"$out" >/dev/null || { echo "$out"; return 1; }
}
check "xcnictl explain fd00:97::5 -> x/c: allowed by the IPv6 ipBlock's group" \
	explain_is fd00:97::5 x/c 80/tcp '.verdict == "allowed" and .ingress_reason == "rule" and
		(.ingress_match | test("ipBlock fd00:97::/64")) and .dst_ip == "'"$C6"'" and .src_identity == 2'
check "xcnictl explain fd00:97::6 -> c's IPv6: denied (the except's group allows nothing)" \
	explain_is fd00:97::6 "$C6" 80/tcp '.verdict == "denied" and .ingress_reason == "isolated" and
		(.ingress_lookups | test("polcidr\\[fd00:97::6\\] group [0-9]+ \\(fd00:97::6/128\\)"))'
check "xcnictl explain x/a -> x/c: an IPv6 flow (c has no IPv4), a's IPv6, denied" \
	explain_is x/a x/c 80/tcp '.verdict == "denied" and .src_ip == "'"$A6"'" and .src == "x/a"'
check "xcnictl explain x/b -> x/c: allowed by the podSelector rule" \
	explain_is x/b x/c 80/tcp '.verdict == "allowed" and .ingress_rule == 0'

# xcni_polkey6 (3) full: a 4th local IPv6 pod, e (IPv6 only: its policy key
# is its polkey6 entry), is pending (no key: its traffic dropped, never open),
# the generation applies all the same and the next policy change too; once c
# leaves, e gets its key.
ip netns add "$XCT_TAG-e" && ip -n "$XCT_TAG-e" link set lo up
cni6 ADD e >"$T/e.json" || { not_ok "ADD e"; cat "$T/e.json"; finish; exit 1; }
E6=$(addr_of "$T/e.json" 6)
k_pod e x "\"$E6\"" "pod: e" | put pod-e.yaml
check "pod e known to xcnid: the generation applied with xcni_polkey6 full" sync_gen
check "  ... xcnid said 1 IPv6 pod waits for room and the flag that gives it" \
	grep -q "1 IPv6 pod(s) wait for room in xcni_polkey6.*--map-max xcni_polkey6=4" "/tmp/xcnid-$XCT_TAG.log"
check "  ... xcni_polkey6 keeps a, b, c's keys (3), e has none" \
	bash -c "[ $(entries xcni_polkey6) -eq 3 ] && ! bpftool map lookup pinned $PIN/xcni_polkey6 key $(bytes "$E6") >/dev/null 2>&1"
check "e pending: a -> e ($E6) dropped" bash -c "! ip netns exec $XCT_TAG-a ping -6 -c1 -W1 $E6"
rm -f "$M/deny-c.yaml"
check "only-b-to-c removed: applied with e still waiting" sync_gen
check "  ... a -> c (IPv6) now admitted" expect "a -> [$C6]:80" "$(tcp a "$C6")" connected
python3 -c 'import sys; print("---\n".join(d for d in open(sys.argv[1]).read().split("---\n") if "name: c," not in d), end="")' \
	"$M/pods.yaml" | put pods.yaml
check "c gone from the cluster: e takes its room" sync_gen
check "  ... a pings e over IPv6, xcnid said every pod has its key" \
	bash -c "ip netns exec $XCT_TAG-a ping -6 -c1 -W2 $E6 && grep -q 'every IPv6 pod has its key in xcni_polkey6' /tmp/xcnid-$XCT_TAG.log"
cni6 DEL e >/dev/null

# CHECK looks at the IPv6 entry too.
cni_check() { # cni_check POD: CHECK against its ADD result
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND=CHECK CNI_CONTAINERID="$CID_PREFIX-$1" \
		CNI_NETNS="/var/run/netns/$XCT_TAG-$1" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <<<"$(jq -c --slurpfile r "$T/$1.json" '. + {prevResult: $r[0]}' "$T/net.json")"
}
# The permanent entry this test removed, put back: CHECK wants the plugin's wiring.
ip -n "$XCT_TAG-a" -6 neigh replace fe80::1 lladdr "$HOSTMAC_A" dev eth0 nud permanent
check "CHECK a passes (its IPv6 entry in place)" cni_check a
ifa=$(ip -n "$NODE" -o link show "$HOSTIF_A" | cut -d: -f1)
bpftool map delete pinned "$PIN/xcni_endpoints6" key $(bytes "$A6")
bpftool map delete pinned "$PIN/xcni_ifindex6" key $((ifa & 255)) $((ifa >> 8 & 255)) 0 0
cni_check a >"$T/check.out" 2>&1
rc=$?
check "CHECK a fails ($rc) once its IPv6 entry is gone, naming it" \
	bash -c "[ $rc -ne 0 ] && grep -q 'endpoint6 map entry for $A6/128 missing' $T/check.out"

# DEL takes the IPv6 entries away; a failed ADD leaves none behind.
cni DEL a >/dev/null
cni DEL b >/dev/null
check "DEL b: its IPv6 entries are gone (endpoints6 1, ifindex6 1: c's)" \
	bash -c "[ $(entries xcni_endpoints6) -eq 1 ] && [ $(entries xcni_ifindex6) -eq 1 ]"
cni ADD b >"$T/b.json"
check "ADD b again: entries back (endpoints6 2, ifindex6 2)" \
	bash -c "[ $(entries xcni_endpoints6) -eq 2 ] && [ $(entries xcni_ifindex6) -eq 2 ]"
ip netns add "$XCT_TAG-d" && ip -n "$XCT_TAG-d" link set lo up
XCNI_TEST_FAIL_AT=endpoint6 cni ADD d >"$T/d.json" 2>"$T/d.err"
rc=$?
check "ADD with the ifindex6 write failing: refused ($rc), named" \
	bash -c "[ $rc -ne 0 ] && grep -q ifindex6 '$T/d.json' '$T/d.err'"
leases=$(ls "$T/ipam/xcni-v6" | grep -Ec '^(10\.|fd00)')
check "  ... rolled back: no IPv6 entry (endpoints6 2, ifindex6 2), no IPv4 entry of d (1: b's), b's 2 leases only (got $leases)" \
	bash -c "[ $(entries xcni_endpoints6) -eq 2 ] && [ $(entries xcni_ifindex6) -eq 2 ] && [ $(entries xcni_endpoints) -eq 1 ] && [ $leases -eq 2 ]"
finish
