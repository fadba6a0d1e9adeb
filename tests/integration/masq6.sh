#!/bin/bash
# IPv6 masquerade: xcnid's table ip6 xcni on a node netns, with real traffic.
# The pod side is routed by the kernel alone (no plugin, no BPF on its veth):
# the point is the masquerade rules, which act in the node's postrouting.
#
#   netns $T-p (a pod)               netns $T-n (node: xcnid)              netns $T-o (outside)
#   eth0 fd00:10:244:1::5/64 --veth-- xcp0 fd00:10:244:1::1/64
#        default via ::1                out0 2001:db8:77::1/64 ----veth---- out1 2001:db8:77::9/64
#                                       fd00:10:245::/64 via ::9             lo fd00:10:245::9/128
#                                                                            (no route to the pods)
#
# xcnid --pod-cidr6 fd00:10:244:1::/64 --cluster-cidr fd00:10:245::/64: the pod's
# pings to 2001:db8:77::9 must reach the outside from 2001:db8:77::1 (tshark on
# out1) and be answered (the outside has no route back to the pod, so only the
# NAT's undoing brings replies home); to fd00:10:245::9 (a cluster CIDR) they
# keep the pod's source. The tables outlive the agent as IPv4's does, one
# restarted without --pod-cidr6 takes the ip6 table away, --no-masquerade both.
# Flows a pod opened before xcnid (conntrack on in the node, as kube-proxy's
# rules have it; IPv4 too: pod 10.99.31.5, node out0 192.0.2.1, outside
# 192.0.2.9) are tracked without NAT and would carry the same tuple past the
# rule: xcnid deletes their entries, so a later ping with the same identifier
# is masqueraded (the ids are fixed, not the ping's PID, so this is tested on
# purpose, not by luck).
# Reads the tables with nft and conntrack (tests may; xcnid speaks libnftables).
set -uo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

T=$XCT_TAG
P=$T-p N=$T-n O=$T-o
PIN=/sys/fs/bpf/$T-m6
CAPF=$(mktemp -d)/out1.pcap
POD6=fd00:10:244:1::5
XARGS=(--pod-cidr 10.99.31.0/24 --pod-cidr6 fd00:10:244:1::/64 --cluster-cidr fd00:10:245::/64
	--node-name m6)
CAP=

cleanup() {
	[ -n "$CAP" ] && kill "$CAP" 2>/dev/null && wait "$CAP" 2>/dev/null
	stop_xcnid
	for ns in "$P" "$N" "$O"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$(dirname "$CAPF")" "$PIN"
}
trap cleanup EXIT
trap "exit 130" INT TERM

setup() {
	ip netns add "$P" && ip netns add "$N" && ip netns add "$O" &&
		ip link add eth0 netns "$P" type veth peer name xcp0 netns "$N" &&
		ip link add out0 netns "$N" type veth peer name out1 netns "$O" || return 1
	for ns in "$P" "$N" "$O"; do ip -n "$ns" link set lo up || return 1; done
	ip netns exec "$N" sysctl -qw net.ipv6.conf.all.forwarding=1 &&
		ip netns exec "$N" sysctl -qw net.ipv4.ip_forward=1 &&
		ip -n "$P" addr add $POD6/64 dev eth0 nodad &&
		ip -n "$P" addr add 10.99.31.5/24 dev eth0 &&
		ip -n "$N" addr add 10.99.31.1/24 dev xcp0 &&
		ip -n "$N" addr add 192.0.2.1/24 dev out0 &&
		ip -n "$O" addr add 192.0.2.9/24 dev out1 &&
		ip -n "$N" addr add fd00:10:244:1::1/64 dev xcp0 nodad &&
		ip -n "$N" addr add 2001:db8:77::1/64 dev out0 nodad &&
		ip -n "$O" addr add 2001:db8:77::9/64 dev out1 nodad &&
		ip -n "$O" addr add fd00:10:245::9/128 dev lo &&
		ip -n "$P" link set eth0 up && ip -n "$N" link set xcp0 up &&
		ip -n "$N" link set out0 up && ip -n "$O" link set out1 up &&
		ip -n "$P" -6 route add default via fd00:10:244:1::1 &&
		ip -n "$P" route add default via 10.99.31.1 &&
		ip -n "$N" -6 route add fd00:10:245::/64 via 2001:db8:77::9
}

# xcnid in the node netns, until it said it is ready (the tables are in by then).
agent() { XCNID_NETNS=$N start_xcnid "$PIN" "$@" && wait_xcnid_ready; }
# The agent stopped, its pins kept out of the way (stop_xcnid removes them).
agent_stop() {
	kill "$XCNID_PID" && wait "$XCNID_PID"
	XCNID_PID=
}
nftn() { ip netns exec "$N" nft "$@"; }
has_table() { nftn list table "$1" xcni >/dev/null 2>&1; }
# The ip6 set's elements as the kernel holds them, "a b c".
nomasq6() {
	nftn -j list set ip6 xcni nomasq | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(e if isinstance(e, str) else e["prefix"]["addr"] + "/" + str(e["prefix"]["len"])
	for x in d["nftables"] if "set" in x for e in x["set"].get("elem", [])))'
}
# pings DST N [ID]: how many of N pings from the pod to DST were answered; ID:
# the echo identifier (else the ping's PID), which with the addresses names the flow.
pings() {
	ip netns exec "$P" ping -6 -c "$2" -i 0.2 -W 1 ${3:+-e "$3"} "$1" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}
pings4() {
	ip netns exec "$P" ping -4 -c "$2" -i 0.2 -W 1 ${3:+-e "$3"} "$1" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}
# ct_unnat FAMILY DST: the node tracks the pod's echo flow (id $PRE_ID) to DST
# without NAT (unreplied, the reply tuple back to the pod).
PRE_ID=4242
ct_unnat() {
	local pod=$POD6
	[ "$1" = ipv4 ] && pod=10.99.31.5
	ip netns exec "$N" conntrack -L -f "$1" 2>/dev/null |
		grep -E "src=$pod dst=$2 .*id=$PRE_ID \[UNREPLIED\] src=$2 dst=$pod " ||
		{ ip netns exec "$N" conntrack -L -f "$1"; false; }
}
capture_stop() {
	geneve_capture_stop "$CAPF"
	CAP=
}
# sources_are WANT: the sources of the echo requests the outside saw, sorted and unique.
sources_are() {
	local got
	got=$(tshark -n -r "$CAPF" -Y 'icmpv6.type == 128' -T fields -e ipv6.src 2>/dev/null | sort -u)
	[ "$got" = "$1" ] || { echo "sources: \"$got\", wanted \"$1\""; return 1; }
}
set6_is() {
	local got; got=$(nomasq6)
	[ "$got" = "$1" ] || { echo "set: \"$got\", wanted \"$1\""; return 1; }
}

check "topology: pod, node, outside netns" setup || { finish; exit 1; }
check "the outside has no route to the pods: unmasqueraded, the pod gets no answer" \
	test "$(pings 2001:db8:77::9 2)" -eq 0

# ---- flows from before the agent -----------------------------------------------------------
# A node's conntrack is on before xcnid when anything uses it (kube-proxy's rules do): here a
# table of the test's own counting new flows. The pod's flows then get entries without NAT.
check "conntrack on in the node before xcnid (a ct rule, as kube-proxy's)" \
	nftn -f - <<<'table inet kp {
	chain kpfwd {
		type filter hook forward priority 0; policy accept;
		ct state new counter
	}
}'
check "a pod's IPv6 ping (id $PRE_ID) before xcnid: unanswered" test "$(pings 2001:db8:77::9 2 $PRE_ID)" -eq 0
check "a pod's IPv4 ping (id $PRE_ID) before xcnid: unanswered" test "$(pings4 192.0.2.9 2 $PRE_ID)" -eq 0
check "  ... both tracked without NAT (unreplied, the reply tuple to the pod)" \
	bash -c "$(declare -f ct_unnat); N=$N POD6=$POD6 PRE_ID=$PRE_ID; ct_unnat ipv6 2001:db8:77::9 && ct_unnat ipv4 192.0.2.9"

# ---- bad flags: refused, nothing installed -------------------------------------------------
out=$(ip netns exec "$N" "$BUILD/xcnid" --pin-dir "$PIN-bad" --pod-cidr6 fd00::/129 2>&1); rc=$?
check "--pod-cidr6 fd00::/129: exit 2, naming the flag" \
	bash -c '[ "$1" -eq 2 ] && grep -q -- "--pod-cidr6 fd00::/129: not an IPv6 CIDR" <<<"$2"' _ "$rc" "$out"
out=$(ip netns exec "$N" "$BUILD/xcnid" --pin-dir "$PIN-bad" --pod-cidr6 fd00::/64 \
	--cluster-cidr fd00:1::/48,fd00:::/48 2>&1); rc=$?
check "--cluster-cidr with a bad IPv6 CIDR: exit 2, naming the flag" \
	bash -c '[ "$1" -eq 2 ] && grep -q -- "--cluster-cidr fd00:1::/48,fd00:::/48: not CIDR" <<<"$2"' _ "$rc" "$out"
for bad in 10.96.0.0/12,fd00:10:96::/108,fd00:10:97::/108 fd00:10:96::/108,::/0 10.96.0.0/12,; do
	out=$(ip netns exec "$N" "$BUILD/xcnid" --pin-dir "$PIN-bad" --service-cidr "$bad" 2>&1); rc=$?
	check "--service-cidr $bad (one per family, no /0, no empty one): exit 2, naming the flag" \
		bash -c '[ "$1" -eq 2 ] && grep -q -- "--service-cidr $3: one CIDR of each family at most" <<<"$2"' _ "$rc" "$out" "$bad"
done
check "... and no table made, no pins left" \
	bash -c "! ip netns exec $N nft list tables | grep -q xcni && [ ! -e $PIN-bad ]"

# ---- the agent with an IPv6 pod CIDR --------------------------------------------------------
check "xcnid --pod-cidr6 fd00:10:244:1::/64 --cluster-cidr fd00:10:245::/64 starts" agent "${XARGS[@]}"
check "xcnid logged the ip6 table" \
	grep -q 'masquerade: table ip6 xcni: IPv6 pod traffic masqueraded except to 2 exempt' \
	"/tmp/xcnid-$XCT_TAG.log"
check "table ip6 xcni: exempt set is the pod CIDR and the cluster CIDR" \
	set6_is "fd00:10:244:1::/64 fd00:10:245::/64"
check "table ip6 xcni: one rule, masquerade from the IPv6 pod CIDR unless to @nomasq or out xc*" \
	bash -c "r=\$(ip netns exec $N nft list chain ip6 xcni postrouting) &&
		grep -q 'ip6 saddr fd00:10:244:1::/64 ip6 daddr != @nomasq oifname != \"xc\*\" counter packets [0-9]* bytes [0-9]* masquerade' <<<\"\$r\" &&
		[ \"\$(grep -c masquerade <<<\"\$r\")\" = 1 ] || { echo \"\$r\"; false; }"
check "table ip xcni is there too (IPv4, unchanged)" has_table ip

# At least the id $PRE_ID flows, and theirs gone (a make check beside a TCG VM counted 2
# IPv6 entries once: which other flow, not caught).
check "xcnid deleted the entries of the flows from before it (IPv4 and IPv6), id $PRE_ID's among them" \
	bash -c "grep -Eq 'masquerade: deleted [1-9][0-9]* conntrack entries of IPv6 pod flows' /tmp/xcnid-$XCT_TAG.log &&
		grep -Eq 'masquerade: deleted [1-9][0-9]* conntrack entries of IPv4 pod flows' /tmp/xcnid-$XCT_TAG.log &&
		$(declare -f ct_unnat); N=$N POD6=$POD6 PRE_ID=$PRE_ID;
		! ct_unnat ipv6 2001:db8:77::9 >/dev/null && ! ct_unnat ipv4 192.0.2.9 >/dev/null" ||
	cat "/tmp/xcnid-$XCT_TAG.log"

check "tshark on the outside's link" pcap_start "$O" out1 icmp6 "$CAPF"
# The identifier of the flow from before the agent: the same tuple, now masqueraded.
check "pod -> outside (id $PRE_ID, as before xcnid): answered (the NAT undone on the way back)" \
	test "$(pings 2001:db8:77::9 3 $PRE_ID)" -ge 2
capture_stop
check "the outside saw the node's address as source, never the pod's" sources_are 2001:db8:77::1
check "pod -> outside over IPv4 (id $PRE_ID, as before xcnid): answered, so masqueraded" \
	test "$(pings4 192.0.2.9 3 $PRE_ID)" -ge 2
check "conntrack: the pod's flow, its reply to the node's address" \
	bash -c "ip netns exec $N conntrack -L -f ipv6 -p icmpv6 2>/dev/null |
		grep -E 'src=$POD6 dst=2001:db8:77::9 .* src=2001:db8:77::9 dst=2001:db8:77::1 '"
check "the masquerade rule counted the packets" \
	bash -c "ip netns exec $N nft -j list chain ip6 xcni postrouting | grep -q '\"packets\": [1-9]'"

check "tshark on the outside's link (a cluster CIDR)" pcap_start "$O" out1 icmp6 "$CAPF"
pings fd00:10:245::9 2 >/dev/null
capture_stop
check "pod -> a cluster CIDR: not masqueraded, the pod's own source" sources_are $POD6

# ---- the agent's life: as IPv4's, the tables outlive it ----------------------------------
check "xcnid stops (SIGTERM)" agent_stop
check "the tables stay after the agent (the data plane outlives it, as IPv4's)" \
	bash -c "ip netns exec $N nft list table ip6 xcni >/dev/null && ip netns exec $N nft list table ip xcni >/dev/null"
check "pod -> outside still answered with no agent" test "$(pings 2001:db8:77::9 2)" -ge 1
check "xcnid restarted without --pod-cidr6" agent --pod-cidr 10.99.31.0/24 --node-name m6
check "  ... table ip6 xcni is gone, nothing left of it" bash -c "! ip netns exec $N nft list table ip6 xcni 2>/dev/null"
check "  ... table ip xcni stays" has_table ip
check "  ... the pod's IPv6 is no longer masqueraded (no answer)" test "$(pings 2001:db8:77::9 2)" -eq 0
agent_stop
check "xcnid with --pod-cidr6 again: the ip6 table is back" agent "${XARGS[@]}"
check "  ... answered again" test "$(pings 2001:db8:77::9 3)" -ge 2
agent_stop
check "xcnid --no-masquerade: both tables removed" agent "${XARGS[@]}" --no-masquerade
check "  ... no xcni table of any family in the node" bash -c "! ip netns exec $N nft list tables | grep -q xcni"
stop_xcnid

finish
