#!/bin/bash
# xcnid's attach paths on a host without TCX, and what its start refuses:
# the overlay's programs put on through tc clsact (forced, and as the fallback
# when TCX fails as on a kernel < 6.6), swapped to TCX and back in place,
# removed without a trace by `xcnid --uninstall`; a kernel missing a required
# feature refused by name (the probe made to fail), an optional one switched off.
#
#   netns $TAG-node:  ul0 192.168.98.1/24 ──veth── ulp (the "switch" end)
#                     xcni0 (made by xcnid), clsact on ul0 and xcni0 in tc mode
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

NODE=$XCT_TAG-node
PIN=/sys/fs/bpf/$XCT_TAG
T=$(mktemp -d /tmp/xcni-at.XXXXXX)
cleanup() {
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$PIN" "$T"
}
trap cleanup EXIT

ip netns add "$NODE"
ip -n "$NODE" link add ul0 type veth peer name ulp
ip -n "$NODE" addr add 192.168.98.1/24 dev ul0
for d in lo ul0 ulp; do ip -n "$NODE" link set "$d" up; done

# agent [VAR=VALUE...] -- [xcnid args...]: xcnid --once in the node, log in $T/log.
agent() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" \
		--pod-cidr 10.98.1.0/24 --underlay-dev ul0 --xdp-mode generic --no-masquerade \
		--once "$@" >"$T/log" 2>&1
}
filter() { # filter DEV ingress|egress: our cls_bpf filter's program name, if any
	ip netns exec "$NODE" tc filter show dev "$1" "$2" | sed -n 's/.*handle 0x7863 \([a-z_]*\):.*direct-action.*/\1/p'
}
tc_mode_ok() {
	[ "$(filter ul0 ingress)" = from_overlay ] && [ "$(filter xcni0 egress)" = to_overlay ] &&
		[ "$(filter ul0 egress)" = to_underlay ] && [ ! -e "$PIN/links/node-underlay-out" ] &&
		[ ! -e "$PIN/links/node-underlay-tc" ] && [ ! -e "$PIN/links/node-overlay-tc" ] &&
		[ ! -e "$PIN/links/node-underlay-xdp" ] &&
		ip -n "$NODE" link show ul0 | grep -q 'prog/xdp id .* name xdp_underlay'
}
tcx_mode_ok() {
	[ -z "$(filter ul0 ingress)" ] && [ -z "$(filter xcni0 egress)" ] && [ -z "$(filter ul0 egress)" ] &&
		[ -e "$PIN/links/node-underlay-tc" ] && [ -e "$PIN/links/node-overlay-tc" ] &&
		[ -e "$PIN/links/node-underlay-out" ] &&
		[ -e "$PIN/links/node-underlay-xdp" ] &&
		ip -n "$NODE" link show ul0 | grep -q 'prog/xdp id .* name xdp_underlay'
}
log_has() { grep -q -- "$1" "$T/log" || { cat "$T/log"; return 1; }; }

# ---- the older path forced --------------------------------------------------------
check "XCNI_ATTACH=tc: xcnid --once succeeds" agent XCNI_ATTACH=tc -- || cat "$T/log"
check "  ... from_overlay on ul0 ingress, to_underlay on ul0 egress and to_overlay on xcni0 egress as tc cls_bpf direct-action filters (handle 0x7863), XDP through netlink, no link pinned" \
	tc_mode_ok
check "  ... one log line per program says tc clsact and why (forced)" \
	test "$(grep -c 'attach: .* tc clsact filter: forced' "$T/log")" -eq 3
check "  ... the XDP line says netlink (forced)" log_has 'XDP prefilter on ul0: generic (skb), netlink (forced'
check "  ... xcnid made the clsact qdiscs, and says so (links/node-clsact-ul0, -xcni0)" \
	test -d "$PIN/links/node-clsact-ul0" -a -d "$PIN/links/node-clsact-xcni0"

# ---- to TCX and back, in place ----------------------------------------------------
check "a new agent (auto) swaps to TCX links" agent --
check "  ... TCX links pinned, the tc filters gone" tcx_mode_ok
check "  ... log: TCX link for the three programs, XDP as a bpf_link" \
	bash -c "[ \$(grep -c 'attach: .* TCX link' $T/log) -eq 3 ] && grep -q 'generic (skb), bpf_link' $T/log"

check "TCX failing as on Linux < 6.6 (XCNI_TEST_FAIL_AT=tcx): auto falls back to tc" \
	agent XCNI_TEST_FAIL_AT=tcx --
check "  ... and says why: TCX unavailable, needs Linux >= 6.6" \
	test "$(grep -c 'tc clsact filter: TCX unavailable (bpf_link_create: .*TCX needs Linux >= 6.6)' "$T/log")" -eq 3
check "  ... filters on, the TCX links an earlier agent pinned gone" \
	bash -c "[ \"\$(ip netns exec $NODE tc filter show dev ul0 ingress | grep -c 'handle 0x7863')\" = 1 ] && [ ! -e $PIN/links/node-underlay-tc ]"
check "--attach tcx with TCX failing: exits non-zero instead of falling back" \
	bash -c "! XCNI_TEST_FAIL_AT=tcx nsenter --net=/run/netns/$NODE $BUILD/xcnid --pin-dir $PIN --pod-cidr 10.98.1.0/24 --underlay-dev ul0 --xdp-mode generic --no-masquerade --once --attach tcx"
check "XCNI_ATTACH=bogus: exit 2, naming the modes" \
	bash -c "XCNI_ATTACH=bogus $BUILD/xcnid --once 2>&1 | grep -q 'auto, tcx or tc'; [ \${PIPESTATUS[0]} -eq 2 ]"

# ---- uninstall: nothing left ------------------------------------------------------
clean_node() {
	! ip netns exec "$NODE" tc qdisc show dev ul0 | grep -q clsact &&
		! ip -n "$NODE" link show xcni0 >/dev/null 2>&1 &&
		! ip -n "$NODE" link show ul0 | grep -q 'prog/xdp' && [ ! -e "$PIN" ]
}
check "from_overlay's steps pinned (xcni_ovlcalls), for --uninstall to take" test -e "$PIN/xcni_ovlcalls"
check "xcnid --uninstall (after the tc path) exits 0" \
	nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --underlay-dev ul0 --no-masquerade --uninstall
check "  ... no clsact qdisc on ul0, no xcni0, no XDP, no pins" clean_node
check "xcnid --uninstall again: nothing to do, exit 0" \
	nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --underlay-dev ul0 --no-masquerade --uninstall

# Someone else's clsact and filter on the underlay: used, and left as found.
ip netns exec "$NODE" tc qdisc add dev ul0 clsact
ip netns exec "$NODE" tc filter add dev ul0 ingress prio 7 u32 match u32 0 0 flowid 1:1
check "tc path on a clsact someone else made: xcnid --once succeeds" agent XCNI_ATTACH=tc --
check "  ... and does not claim that qdisc" test ! -e "$PIN/links/node-clsact-ul0"
nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --underlay-dev ul0 --no-masquerade --uninstall >/dev/null 2>&1
check "  ... uninstall removes our filter, keeps the qdisc and the other filter" \
	bash -c "[ -z \"\$(ip netns exec $NODE tc filter show dev ul0 ingress | grep 0x7863)\" ] && ip netns exec $NODE tc filter show dev ul0 ingress | grep -q u32"
check "  ... TCX after it, then uninstall: the same" \
	bash -c "env nsenter --net=/run/netns/$NODE $BUILD/xcnid --pin-dir $PIN --pod-cidr 10.98.1.0/24 --underlay-dev ul0 --xdp-mode generic --no-masquerade --once >/dev/null 2>&1 && nsenter --net=/run/netns/$NODE $BUILD/xcnid --pin-dir $PIN --underlay-dev ul0 --no-masquerade --uninstall >/dev/null 2>&1 && [ ! -e $PIN ] && ! ip -n $NODE link show xcni0 >/dev/null 2>&1 && ip netns exec $NODE tc filter show dev ul0 ingress | grep -q u32"
ip netns exec "$NODE" tc qdisc del dev ul0 clsact

# ---- the kernel's features: probed, a missing one refused by name ----------------
KREL=$(uname -r)
for f in bpf-callbacks bpf_check_mtu ringbuf; do
	out=$(XCNI_PROBE_FAIL=$f nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" \
		--pod-cidr 10.98.1.0/24 --underlay-dev ul0 --once 2>&1); rc=$?
	check "kernel without $f (XCNI_PROBE_FAIL): exit 3, naming the kernel ($KREL), the minimum (5.13) and $f" \
		bash -c "[ $rc -eq 3 ] && grep -qF 'kernel $KREL lacks $f (Linux >= ' <<<\"\$1\" && grep -q 'xcni needs Linux >= 5.13' <<<\"\$1\"" _ "$out"
	check "  ... nothing made: no pins, no xcni0" \
		bash -c "[ ! -e $PIN ] && ! ip -n $NODE link show xcni0 >/dev/null 2>&1"
done
mkdir -p "$T/cg"
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -n "$CG" ] && mkdir "$CG/$XCT_TAG" 2>/dev/null; then
	check "kernel without cgroup getpeername hooks: xcnid starts, socket LB off with a warning naming it" \
		bash -c "XCNI_PROBE_FAIL=getpeername-hook nsenter --net=/run/netns/$NODE $BUILD/xcnid --pin-dir $PIN --pod-cidr 10.98.1.0/24 --underlay-dev ul0 --xdp-mode generic --no-masquerade --kube-proxy-replacement --cgroup-root $CG/$XCT_TAG --once 2>&1 | grep -q 'socket load balancing is off: kernel lacks getpeername-hook (Linux >= 5.8)' && [ -z \"\$(ls $PIN/links | grep node-sock-)\" ]"
	nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --underlay-dev ul0 --no-masquerade --uninstall >/dev/null 2>&1
	rmdir "$CG/$XCT_TAG"
fi
check "kernel without bpf_loop: starts with --fqdn-policy off, warning naming it" \
	bash -c "XCNI_PROBE_FAIL=bpf_loop nsenter --net=/run/netns/$NODE $BUILD/xcnid --pin-dir $PIN --pod-cidr 10.98.1.0/24 --underlay-dev ul0 --xdp-mode generic --no-masquerade --fqdn-policy --once 2>&1 | grep -q -- '--fqdn-policy is off: kernel lacks bpf_loop (Linux >= 5.17)'"
check "kernel without DECAP_L3 flags: starts, warns that Geneve across families is dropped" \
	bash -c "XCNI_PROBE_FAIL=adjust-room-decap-l3 nsenter --net=/run/netns/$NODE $BUILD/xcnid --pin-dir $PIN --pod-cidr 10.98.1.0/24 --underlay-dev ul0 --xdp-mode generic --no-masquerade --once 2>&1 | grep -q 'lacks adjust-room-decap-l3 (Linux >= 6.3)'"
nsenter --net="/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --underlay-dev ul0 --no-masquerade --uninstall >/dev/null 2>&1
check "the node is as it was: only lo, ul0, ulp; no qdisc but the defaults; no pins" \
	bash -c "[ \"\$(ip -n $NODE -o link | awk -F': ' '{print \$2}' | sed 's/@.*//' | sort | tr '\n' ' ')\" = 'lo ul0 ulp ' ] && ! ip netns exec $NODE tc qdisc show | grep -q clsact && [ ! -e $PIN ]"
finish
