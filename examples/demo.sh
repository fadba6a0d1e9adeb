#!/bin/bash
# The main job, for now: wire two pods with xcni, exactly as a runtime does, and
# show them talking. Later the lab (xcnictl lab) takes over this demo.
#
#   netns xcni-demo-node ("the host")
#     xc<hash> 10.99.0.1/32 ──veth── eth0 10.99.0.x/32   netns xcni-demo-pod-a
#     xc<hash> 10.99.0.1/32 ──veth── eth0 10.99.0.y/32   netns xcni-demo-pod-b
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
XCNI=$BUILD/xcni
NODE=xcni-demo-node
T=$(mktemp -d /tmp/xcni-demo.XXXXXX)
SRV=
PIN=/sys/fs/bpf/xcni-demo
XCNID=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	for p in a b; do
		[ -e "/var/run/netns/xcni-demo-pod-$p" ] && cni DEL "$p" >/dev/null 2>&1
		ip netns del "xcni-demo-pod-$p" 2>/dev/null
	done
	[ -n "$XCNID" ] && kill "$XCNID" 2>/dev/null && wait "$XCNID" 2>/dev/null
	rm -rf "$PIN"
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/net.json" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "xcni-demo",
  "type": "xcni",
  "mtu": 1500,
  "stateDir": "$T/state",
  "pinDir": "$PIN",
  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.99.0.0/24" }]], "dataDir": "$T/ipam" }
}
JSON

cni() { # cni COMMAND POD
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="demo-$2" \
		CNI_NETNS="/var/run/netns/xcni-demo-pod-$2" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni "$XCNI" <"$T/net.json"
}
pyget() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

ip netns add "$NODE"
ip -n "$NODE" link set lo up
say "xcnid: load and pin the data plane (from_pod, to_pod, maps) under $PIN"
rm -rf "$PIN"
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.99.0.0/24 &
XCNID=$!
for _ in $(seq 100); do [ -e "$PIN/prog_to_pod" ] && break; sleep 0.1; done
say "network config (host-local IPAM, delegated through the CNI exec protocol)"
cat "$T/net.json"

declare -A IP
for p in a b; do
	ip netns add "xcni-demo-pod-$p"
	ip -n "xcni-demo-pod-$p" link set lo up
	say "CNI ADD pod-$p"
	res=$(cni ADD "$p")
	echo "$res" | /usr/bin/python3 -m json.tool
	IP[$p]=$(echo "$res" | pyget '["ips"][0]["address"].split("/")[0]')
done

say "pod-a: addresses and routes (a /32 and a default route via the gateway)"
ip -n xcni-demo-pod-a -br addr show dev eth0
ip -n xcni-demo-pod-a route
say "node: one veth per pod, a /32 route to each pod"
ip -n "$NODE" -br link show type veth
ip -n "$NODE" route

say "pod-a pings pod-b (${IP[b]})"
ip netns exec xcni-demo-pod-a ping -c 3 -i 0.2 -W 2 "${IP[b]}"

say "xcnictl: endpoints, conntrack and per-reason counters from the live maps"
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" endpoint list
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" ct list
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" metrics

say "TCP: pod-b serves, pod-a sends (iperf3, 2 s)"
ip netns exec xcni-demo-pod-b iperf3 -s -1 -B "${IP[b]}" >/dev/null 2>&1 &
SRV=$!
for _ in $(seq 50); do ip netns exec xcni-demo-pod-b ss -ltn | grep -q ':5201' && break; sleep 0.1; done
ip netns exec xcni-demo-pod-a iperf3 -c "${IP[b]}" -t 2 -f g | grep -E 'sender|receiver'
wait "$SRV" 2>/dev/null || true
SRV=

say "CNI DEL both pods (and once more: DEL is idempotent)"
for p in a b; do cni DEL "$p" && cni DEL "$p" && echo "pod-$p deleted"; done
say "node after DEL: no veth left"
ip -n "$NODE" -br link show type veth | grep . || echo "(none)"
