#!/bin/bash
# xcnid restarts under load: the pinned maps and programs outlive the agent, a new
# agent takes over (maps reused, programs swapped in every attachment), and a TCP
# transfer between two pods running across the restarts never notices. The
# overlay's from_overlay keeps its steps (xcni_ovlcalls pinned and refilled).
#
#   netns $TAG-node: xcnid (killed and restarted twice during the transfer)
#     ul0 192.168.99.1/24 ──veth── ulp  (the underlay: from_overlay on ul0)
#     xc.. ──veth── eth0  $TAG-pa  iperf3 client (6 s)
#     xc.. ──veth── eth0  $TAG-pb  iperf3 server
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

NODE=$XCT_TAG-node
PIN=/sys/fs/bpf/$XCT_TAG
T=$(mktemp -d /tmp/xcni-rs.XXXXXX)
SUBNET=10.99.4
SRV=
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	stop_xcnid
	for p in $(ip netns list | awk '{print $1}' | grep "^$XCT_TAG-"); do ip netns del "$p"; done
	rm -rf "$T" "$PIN"
}
trap cleanup EXIT

CONF='{"cniVersion":"1.0.0","name":"xcni-rs","type":"xcni","stateDir":"'$T'/state","pinDir":"'$PIN'","ipam":{"type":"host-local","ranges":[[{"subnet":"'$SUBNET'.0/24"}]],"dataDir":"'$T'/ipam"}}'
cni() {
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="rs-$2" \
		CNI_NETNS="/var/run/netns/$XCT_TAG-$2" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		"$XCNI_BIN" <<<"$CONF"
}
ctl() { "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }

ip netns add "$NODE"
ip -n "$NODE" link add ul0 type veth peer name ulp
ip -n "$NODE" addr add 192.168.99.1/24 dev ul0
for d in lo ul0 ulp; do ip -n "$NODE" link set "$d" up; done
export XCNID_NETNS=$NODE
UL=(--underlay-dev ul0 --xdp-mode off)
check "xcnid started" start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" "${UL[@]}" || { finish; exit 1; }
check "from_overlay's steps: xcni_ovlcalls pinned, filled, the attached one's" \
	wait_until 30 ovlcalls_live "$PIN"
for p in pa pb; do
	ip netns add "$XCT_TAG-$p"
	ip -n "$XCT_TAG-$p" link set lo up
	cni ADD "$p" >"$T/$p.json" || { not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
done
ipb=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ips"][0]["address"].split("/")[0])' "$T/pb.json")
ok "two pods wired ($ipb serves)"

ip netns exec "$XCT_TAG-pb" timeout 30 iperf3 -s -1 -B "$ipb" >/dev/null 2>&1 &
SRV=$!
for _ in $(seq 50); do ip netns exec "$XCT_TAG-pb" ss -ltn | grep -q ':5201' && break; sleep 0.1; done
# Long enough for both restarts to fall inside the transfer when each waits
# for its agent to be ready (seconds of verifier on a loaded machine).
ip netns exec "$XCT_TAG-pa" timeout 60 iperf3 -c "$ipb" -t 12 -J >"$T/iperf.json" 2>&1 &
CLI=$!
ct_flows() { ctl ct list --json | /usr/bin/python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e.get("dport") == 5201))'; }
# The transfer's flows tracked (iperf3 connected): waited for, not slept for.
ct_seen() { [ "$(ct_flows)" -ge 1 ]; }
wait_until 30 ct_seen
ct_before=$(ct_flows)
# start_xcnid returns at once here (the pins are the last agent's): the new
# agent took over once it says it is ready (links swapped, then programs pinned).
took_over() { start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" "${UL[@]}" && wait_xcnid_ready; }
for round in 1 2; do
	old=$XCNID_PID
	kill "$old"
	wait "$old" 2>/dev/null
	XCNID_PID=
	check "round $round: programs and maps stay pinned while no xcnid runs" \
		test -e "$PIN/prog_from_pod" -a -e "$PIN/xcni_ct"
	check "round $round: ... and from_overlay's steps with them (xcni_ovlcalls)" ovlcalls_live "$PIN"
	sleep 0.5
	check "round $round: a new xcnid took over (ready)" took_over
	check "round $round: the new from_overlay runs with the pinned xcni_ovlcalls, refilled" \
		ovlcalls_live "$PIN"
	sleep 1
done
wait "$CLI"
rc=$?
check "iperf3 across two restarts finished cleanly (exit 0)" test "$rc" -eq 0
check "the transfer moved data the whole time (> 100 MB received)" \
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["end"]["sum_received"]["bytes"] > 100e6 else 1)' "$T/iperf.json"
ct_after=$(ctl ct list --json | /usr/bin/python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e.get("dport") == 5201))')
check "the flow's conntrack entries survived the restarts ($ct_before before, $ct_after after)" \
	bash -c "[ $ct_before -ge 1 ] && [ $ct_after -ge $ct_before ]"
check "no packet of the flow was dropped as ct-invalid" \
	bash -c "! $BUILD/xcnictl --pin-dir $PIN metrics --json | grep -q drop-ct-invalid"
# Every TCX link the plugin pinned (links/<host-if>-in: from_pod, -out: to_pod)
# runs the program pinned now; polled, the agent swaps links before pinning.
links_run_pinned() {
	local from to l want got n=0
	from=$(bpftool -j prog show pinned "$PIN/prog_from_pod" | jq -r .id) || return 1
	to=$(bpftool -j prog show pinned "$PIN/prog_to_pod" | jq -r .id) || return 1
	for l in "$PIN"/links/*; do
		case ${l##*/} in
		node-*) continue ;; # the node's own links (underlay, overlay)
		*-in) want=$from ;;
		*-out) want=$to ;;
		*) continue ;;
		esac
		got=$(bpftool -j link show pinned "$l" | jq -r .prog_id)
		[ "$got" = "$want" ] || { echo "${l##*/} runs program $got, the pinned one is $want"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -ge 4 ] || { echo "$n pod links pinned under $PIN/links (4 wanted)"; return 1; }
}
check "the links now run the new programs (every pod's TCX link runs the pinned program)" \
	wait_until 30 links_run_pinned

# An older build's map of names (preallocated, flags 0) pinned where this one
# makes it without preallocation: the new xcnid makes it again and reuses the rest.
mapinfo() { bpftool -j map show pinned "$PIN/$1" | /usr/bin/python3 -c "import json,sys; m=json.load(sys.stdin); print($2)"; }
kill "$XCNID_PID"
wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
ctid=$(mapinfo xcni_ct 'm["id"]')
vsz=$(mapinfo xcni_podname 'm["bytes_value"]') n=$(mapinfo xcni_podname 'm["max_entries"]')
rm -f "$PIN/xcni_podname"
check "an older build's xcni_podname pinned in its place (preallocated)" \
	bash -c "bpftool map create $PIN/xcni_podname type hash key 4 value $vsz entries $n name xcni_podname &&
		[ \"\$(bpftool -j map show pinned $PIN/xcni_podname | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"flags\"])')\" = 0 ]"
restart_ready() { start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" "${UL[@]}" && wait_xcnid_ready; }
check "xcnid starts over it and is ready" restart_ready
check "... made xcni_podname again, not preallocated (flags 1), and said so" \
	bash -c "[ \"\$(bpftool -j map show pinned $PIN/xcni_podname | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"flags\"])')\" = 1 ] &&
		grep -q 'xcni_podname has flags 0' /tmp/xcnid-$XCT_TAG.log"
check "... and reused the conntrack map (same map id $ctid)" test "$(mapinfo xcni_ct 'm["id"]')" = "$ctid"
for p in pa pb; do cni DEL "$p" >/dev/null; done
finish
