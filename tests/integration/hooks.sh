#!/bin/bash
# xcni runs first on the hooks it owns, and says so when it does not: its
# programs go on before whatever is there (TCX BPF_F_BEFORE; tc priority 1, the
# newest first among one priority's filters), and a program another agent puts
# before them later (a second CNI's DaemonSet, a leftover) is logged once,
# naming the device and what runs first, and counted (xcni_hook_foreign_first)
# until it goes, never fought over. ATTACH=tc: the tc clsact path for the
# agent and the plugin (XCNI_ATTACH=tc), where any TCX program runs first too.
#
#   netns $TAG-node: xcnid --underlay-dev ul0 --metrics-addr 127.0.0.1:9964 --hook-check 1
#     ul0 ──veth── ulp                          from_overlay in, to_underlay out; xcni0 out
#     xc<hash> ──veth── eth0 in $TAG-a          from_pod in, to_pod out (the plugin's)
#   foreign_first (tests/tools/foreign_hook.c): r0 = -1 (pass on), put first
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

MODE=${ATTACH:-tcx}
NODE=$XCT_TAG-node
POD=$XCT_TAG-a
PIN=/sys/fs/bpf/$XCT_TAG
FPIN=/sys/fs/bpf/$XCT_TAG-foreign # the other agent's pins
PORT=9964
FOREIGN=$BUILD/tests/foreign_hook
T=$(mktemp -d /tmp/xcni-hooks.XXXXXX)
LOG=/tmp/xcnid-$XCT_TAG.log
[ "$MODE" = tc ] && export XCNI_ATTACH=tc

cni() { # cni COMMAND
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="hk-a" \
		CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <"$T/net.json"
}
in_node() { nsenter --net="/var/run/netns/$NODE" "$@"; }
cleanup() {
	[ -e "/var/run/netns/$POD" ] && cni DEL >/dev/null 2>&1
	stop_xcnid
	rm -rf "$FPIN" "$T"
	ip netns del "$POD" 2>/dev/null
	ip netns del "$NODE" 2>/dev/null
}
trap cleanup EXIT

ip netns add "$NODE"
ip netns add "$POD"
ip -n "$NODE" link add ul0 type veth peer name ulp
ip -n "$NODE" addr add 192.168.97.1/24 dev ul0
for d in lo ul0 ulp; do ip -n "$NODE" link set "$d" up; done
ip -n "$POD" link set lo up
mkdir -p "$FPIN"
cat >"$T/net.json" <<EOF
{"cniVersion":"1.0.0","name":"xcni-hooks","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.97.1.0/24"}]],"dataDir":"$T/ipam"}}
EOF

# foreign DEV ingress|egress NAME: foreign_first put before everything on DEV's hook
# (TCX: its link pinned at $FPIN/NAME; tc: cls_bpf prio 1 handle 0xf0).
foreign() {
	if [ "$MODE" = tc ]; then in_node "$FOREIGN" tc "$1" "$2"; else in_node "$FOREIGN" tcx "$1" "$2" "$FPIN/$3"; fi
}
unforeign() { # unforeign DEV ingress|egress NAME
	if [ "$MODE" = tc ]; then
		ip netns exec "$NODE" tc filter del dev "$1" "$2" prio 1 handle 0xf0 bpf
	else
		rm "$FPIN/$3"
	fi
}
# first DEV ingress|egress: the name of the program that runs first there (bpftool
# lists a hook's TCX programs, then its clsact filters, each in the order they run;
# a filter's name is libbpf's NAME:[ID]).
first() {
	in_node bpftool -j net show dev "$1" |
		jq -r --arg d "$2" '[.[0].tc[] | select(.kind == "tcx/" + $d or .kind == "clsact/" + $d)][0].name | sub(":\\[[0-9]+\\]$"; "")'
}
first_is() { local f; f=$(first "$1" "$2"); [ "$f" = "$3" ] || { echo "first on $1 $2: $f, want $3"; return 1; }; }
metrics() { in_node curl -s --max-time 3 "http://127.0.0.1:$PORT/metrics"; }
# gauge_is DEV HOOK 0|1: xcni_hook_foreign_first for that hook, within 5 s (checks every 1 s).
gauge_is() {
	local line="xcni_hook_foreign_first{device=\"$1\",hook=\"$2\"} 1" m
	for _ in $(seq 50); do
		m=$(metrics)
		if [ "$3" = 1 ]; then grep -qxF "$line" <<<"$m" && return 0; else
			grep -q '^xcni_hooks_checked [1-9]' <<<"$m" && ! grep -qxF "$line" <<<"$m" && return 0; fi
		sleep 0.1
	done
	grep '^xcni_hook' <<<"$m"
	return 1
}
log_count() { grep -c -- "$1" "$LOG"; }


ul_both() { foreign ul0 ingress ul-in && foreign ul0 egress ul-out; }
not_logged() { ! grep -q 'runs before xcni' "$LOG"; }
clean_page() {
	local m; m=$(metrics)
	grep -qx "xcni_hooks_checked $1" <<<"$m" && ! grep -q '^xcni_hook_foreign_first{' <<<"$m" &&
		grep -qx 'xcni_hook_foreign_first_seen_total 0' <<<"$m" || { grep '^xcni_hook' <<<"$m"; return 1; }
}
pod_first() { first_is "$VETH" ingress from_pod && first_is "$VETH" egress to_pod; }
move_ul_out() { unforeign ul0 egress ul-out && foreign ul0 egress ul-out2; }
foreign_runs() { first_is "$VETH" ingress foreign_first && first_is ul0 egress foreign_first; }
only_those() {
	local m; m=$(metrics)
	! grep -q "device=\"$VETH\",hook=\"egress\"\|device=\"ul0\",hook=\"ingress\"" <<<"$m" &&
		grep -qx 'xcni_hook_foreign_first_seen_total 2' <<<"$m" && grep -qx 'xcni_hooks_checked 5' <<<"$m" ||
		{ grep '^xcni_hook' <<<"$m"; return 1; }
}
logged() {
	grep -qF "hooks: $VETH ingress: $WHO" "$LOG" &&
		grep -q "hooks: $VETH ingress: .* runs before xcni's from_pod" "$LOG" &&
		grep -qF "hooks: ul0 egress: $WHO" "$LOG" || { grep hooks: "$LOG"; return 1; }
}
logged_once() { [ "$(log_count "hooks: $VETH ingress: .*runs before")" -eq 1 ] && [ "$(log_count 'hooks: ul0 egress: .*runs before')" -eq 1 ]; }
served() { [ "$(in_node curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" = 200 ]; }
tcx_logged() { gauge_is ul0 ingress 1 && grep -q "hooks: ul0 ingress: TCX program foreign_first (id [0-9]*) runs before xcni's from_overlay" "$LOG"; }
both_gone() { unforeign "$VETH" ingress pod-in && unforeign ul0 egress ul-out2; }
gauges_gone() { gauge_is "$VETH" ingress 0 && gauge_is ul0 egress 0 && gauge_is ul0 ingress 0; }
first_again() {
	[ "$(log_count "hooks: $VETH ingress: xcni's from_pod runs first again")" -eq 1 ] &&
		[ "$(log_count "hooks: ul0 egress: xcni's to_underlay runs first again")" -eq 1 ]
}
seen_total() { metrics | grep -x "xcni_hook_foreign_first_seen_total $1" || { metrics | grep '^xcni_hook'; grep hooks: "$LOG"; return 1; }; }
if [ "$MODE" = tc ]; then WHO='tc bpf filter foreign_first (prio 1 handle 0xf0'; else WHO='TCX program foreign_first (id'; fi

# ---- a fresh device with another program already on it ----------------------------
check "[$MODE] foreign_first on ul0 ingress and egress before xcnid starts" ul_both
XCNID_NETNS=$NODE start_xcnid "$PIN" --pod-cidr 10.97.1.0/24 --underlay-dev ul0 --xdp-mode generic \
	--no-masquerade --metrics-addr 127.0.0.1:$PORT --hook-check 1
check "  ... ready" wait_xcnid_ready
check "  ... from_overlay runs first on ul0 ingress, before the program that was there" \
	first_is ul0 ingress from_overlay
check "  ... to_underlay runs first on ul0 egress" first_is ul0 egress to_underlay
check "  ... nothing logged" not_logged
check "  ... xcni_hooks_checked 3 (ul0 in and out, xcni0 out), no xcni_hook_foreign_first sample, seen 0" \
	clean_page 3

# ---- a pod's host veth ------------------------------------------------------------
check "[$MODE] CNI ADD pod a" cni ADD
VETH=$(ip -n "$NODE" -o link | grep -o 'xc[0-9a-f]\{12\}' | head -n1)
check "  ... from_pod runs first on its host veth $VETH ingress, to_pod on egress" pod_first

# ---- another program put before xcni's --------------------------------------------
check "[$MODE] foreign_first put before from_pod on $VETH ingress" foreign "$VETH" ingress pod-in
check "  ... and before to_underlay on ul0 egress (the one there since the start taken out)" move_ul_out
check "  ... it does run first there now (the test's own view)" foreign_runs
check "  ... xcni_hook_foreign_first{device=\"$VETH\",hook=\"ingress\"} 1 within 5 s" gauge_is "$VETH" ingress 1
check "  ... xcni_hook_foreign_first{device=\"ul0\",hook=\"egress\"} 1" gauge_is ul0 egress 1
check "  ... none for the hooks where xcni is still first; seen_total 2, hooks_checked 5" only_those
check "  ... the log names the device, the hook, what runs first and the xcni program it precedes" logged
ctl_rows() { # ctl_rows: xcnictl hook list --json as "device hook program first before" lines
	in_node "$BUILD/xcnictl" --pin-dir "$PIN" --json hook list |
		jq -r '.[] | "\(.device) \(.hook) \(.program) \(.xcni_first) \(.before // "-")"'
}
ctl_shows() {
	local r; r=$(ctl_rows) || return 1
	echo "$r"
	[ "$(wc -l <<<"$r")" = 5 ] &&
		grep -q "^$VETH ingress from_pod no $WHO" <<<"$r" &&
		grep -q "^$VETH egress to_pod yes -$" <<<"$r" &&
		grep -q "^ul0 egress to_underlay no $WHO" <<<"$r" &&
		grep -q "^ul0 ingress from_overlay yes -$" <<<"$r" &&
		grep -q "^xcni0 egress to_overlay yes -$" <<<"$r"
}
check "  ... xcnictl hook list: 5 hooks, the two with foreign_first first name it" ctl_shows
check "  ... and says so on stderr" \
	bash -c "nsenter --net=/var/run/netns/$NODE $BUILD/xcnictl --pin-dir $PIN hook list 2>&1 >/dev/null | grep -q '^xcnictl: 2 hooks where another program runs before'"
sleep 2.2 # two more checks
check "  ... logged once per change: one line each after more checks" logged_once
check "  ... xcni did not move itself back ahead (reports, does not fight)" foreign_runs
check "  ... the agent still serves" served

if [ "$MODE" = tc ]; then
	# Under tc, a TCX program on the hook runs before every clsact filter.
	check "[tc] a TCX program on ul0 ingress (before clsact's filters, whatever their priority)" \
		in_node "$FOREIGN" tcx ul0 ingress "$FPIN/tcx-in"
	check "  ... counted and logged as running before from_overlay" tcx_logged
	rm -f "$FPIN/tcx-in"
fi

# ---- the other program goes ------------------------------------------------------
check "[$MODE] foreign_first removed from $VETH ingress and ul0 egress" both_gone
check "  ... the gauges go within 5 s" gauges_gone
check "  ... the log says xcni runs first again, once each" first_again
check "  ... the counter keeps what it saw" seen_total "$([ "$MODE" = tc ] && echo 3 || echo 2)"
finish
