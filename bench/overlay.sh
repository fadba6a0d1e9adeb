#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Cross-node pod-to-pod throughput and latency: xcni's Geneve overlay (XDP
# prefilter generic, and off) vs a kernel VXLAN overlay laid out the way
# flannel's vxlan backend does it (and, with XCNI_BASE_BIN, against another
# xcni build). See bench/README.md ("overlay"). Must run as root, after `make`.
#
#   bash bench/overlay.sh [-r ROUNDS] [-t SECONDS] [-n N] [-w WARMUP] [-c SECONDS]
#                         [-f FAMILY] [-u UNDERLAY] [-U] [-T] [-x]
#
#   -r  rounds; each round measures every leg once, the order rotating (default 3)
#   -t  iperf3 duration per measurement, seconds (default 5)
#   -n  ping-pong round trips per measurement (default 20000)
#   -w  ping-pong warm-up round trips, not counted (default 2000)
#   -c  conn_rate (connect, 1-byte request/response, close, one at a time)
#       seconds per measurement after 1 s of warm-up, 0 = skip (default 2)
#   -f  ipv4 (default) or dual: the xcni pods on the IPv4 underlay get an
#       IPv6 address too (fd00:10:244:N::/64, --pod-cidr6) and the legs
#       xcni-gen6 and xcni-off6 measure the same pods over IPv6 (inside
#       Geneve over the IPv4 underlay), in the same rounds
#   -u  ipv4 (default), ipv6 or both: which underlays. ipv6 builds the same
#       two nodes with an IPv6-only underlay (ul0 fc00:77::N/64, no IPv4;
#       pod MTU 1430): u6-xcni-gen, u6-xcni-off (xcnid --node-ip fc00:77::N,
#       dual-stack pods; legs u6-xcni-X over IPv4 and u6-xcni-X6 over IPv6)
#       and u6-vxlan6 (flannel's IPv6 vxlan layout: flannel-v6.1 over the
#       IPv6 underlay, IPv6 pods by the bridge plugin)
#   -U  don't pin clients to CPU 0 and servers to CPU 1
#   -T  add the setup xcni-tc: xcni-gen with every program on tc clsact
#       (XCNI_ATTACH=tc for xcnid and the plugin, XDP through netlink), as on
#       a kernel without TCX (< 6.6), measured beside TCX in the same rounds
#   -N  add the setups xcni-nat (and u6-xcni-nat with -u ipv6|both): xcnid
#       --xdp-mode native, what auto picks on a veth (the peer loses GSO:
#       MTU-sized frames, as from a NIC), and xcni-natgro (u6-xcni-natgro):
#       the same with GRO on ul0 and a vxlan device on port 6081 lending its
#       UDP tunnel GRO handler to the Geneve frames; and xcni-natdecap
#       (u6-xcni-natdecap): native XDP with --overlay-decap xdp, Geneve taken
#       off in xdp_underlay so that the veth's GRO merges the inner flow;
#       and vxlan-nat (u6-vxlan-nat, not with -x): vxlan with a native XDP
#       program that passes on each ul0, MTU-sized frames as xcni-nat's
#   -x  only the xcni setups with XDP generic (xcni-gen, u6-xcni-gen, xcni-tc
#       with -T, and the -base ones): no xcni-tcpf, xcni-off, vxlan, routes,
#       u6-xcni-tcpf, u6-xcni-off, u6-vxlan, u6-routes; a short A/B run
#
# Per setup S (xcni-gen, xcni-tcpf, xcni-off, vxlan, routes; u6-*; *-base), its own
# netns, same addresses:
#
#             netns xov<pid>-S-ul: bridge br0 (the underlay, MTU 1500)
#              /                                     \
#   xov<pid>-S-n1  ul0 192.168.77.1        xov<pid>-S-n2  ul0 192.168.77.2
#                  (u6-*: fc00:77::1)                     (u6-*: fc00:77::2)
#     pod p1 (10.244.1.0/24, MTU 1450)       pod p2 (10.244.2.0/24, MTU 1450)
#     (IPv6: fd00:10:244:1::/64; u6-*: MTU 1430)
#
#   xcni-*: xcnid --underlay-dev ul0 --xdp-mode generic|tc|off (-gen, -tcpf,
#           -off; -nat: native) per node, pods by the real xcni plugin, Nodes and
#           Pods in a manifest dir both agents follow
#   vxlan:  per node a bridge cni0 (reference bridge plugin + host-local), vxlan
#           flannel.1 (VNI 1, dstport 8472, nolearning, MTU 1450, 10.244.N.0/32),
#           for the other node: route 10.244.M.0/24 via 10.244.M.0 onlink, a
#           permanent neighbour for 10.244.M.0 and an FDB entry to 192.168.77.M
#   u6-vxlan: the same in IPv6: flannel-v6.1 (local fc00:77::N, MTU 1430,
#           fd00:10:244:N::/128), route fd00:10:244:M::/64 via fd00:10:244:M::
#   routes: no encapsulation (flannel's host-gw): cni0 and pods as vxlan's,
#           route 10.244.M.0/24 via 192.168.77.M; u6-routes: fd00:10:244:M::/64
#           via fc00:77::M
#
# Environment: XCNI_BIN (default <repo>/build/xcni; xcnid and xcnictl next to
# it), CNI_DIR (default /usr/lib/cni), BUILD, CC; PP_PERF, a directory: after
# each measured ping-pong one more (not counted) under `perf record -g`, into
# PP_PERF/r<round>-<leg>.data; CR_PERF, one more conn_rate as pod-throughput.sh's
# CR_PERF (system-wide, for bench/conn_profile.py DIR xcni-gen vxlan). Run it under
# `flock /tmp/xcni-test.lock` beside the test suites.
# XCNI_BASE_BIN: another build's plugin (xcnid and xcnictl next to it): adds
# the setup xcni-gen-base (and u6-xcni-gen-base with -u ipv6|both), xcni-gen
# with that build's plugin, xcnid (its embedded BPF programs) and xcnictl, in
# its own netns and pin dirs, measured in the same rounds; the summary adds
# "A/B xcni-gen/xcni-gen-base (new/base)": RR p50, throughput and conn/s.
set -euo pipefail

BENCH=overlay
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNI_BIN=${XCNI_BIN:-$BUILD/xcni}
BIN_DIR=$(dirname "$XCNI_BIN")
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
ROUNDS=3 SECS=5 PP_N=20000 PP_WARMUP=2000 CR_SECS=2 PIN_CPUS=1 FAMILY=ipv4 UNDERLAY=ipv4
IPERF_PORT=5201 PP_PORT=7000 CR_PORT=7107

TC_SETUP=0 XCNI_ONLY=0 NATIVE=0
XCNI_BASE_BIN=${XCNI_BASE_BIN:-} BASE_DIR=""
opts - "r:ROUNDS t:SECS n:PP_N w:PP_WARMUP c:CR_SECS f:FAMILY u:UNDERLAY U=PIN_CPUS=0 T=TC_SETUP=1 N=NATIVE=1 x=XCNI_ONLY=1" "$@"
num_in "$ROUNDS" 1 20 || die "-r must be 1..20"
num_in "$SECS" 1 60 || die "-t must be 1..60"
num_in "$PP_N" 100 1000000 || die "-n must be 100..1000000"
num_in "$PP_WARMUP" 0 1000000 || die "-w must be 0..1000000"
num_in "$CR_SECS" 0 60 || die "-c must be 0..60 (got '$CR_SECS')"
[[ $FAMILY == ipv4 || $FAMILY == dual ]] || die "-f must be ipv4 or dual (got '$FAMILY')"
[[ $UNDERLAY =~ ^(ipv4|ipv6|both)$ ]] || die "-u must be ipv4, ipv6 or both (got '$UNDERLAY')"
need ip nsenter timeout taskset iperf3 python3 bridge "$CC"
((NATIVE == 0)) || need ethtool clang
for b in "$XCNI_BIN" "$BIN_DIR/xcnid" "$BIN_DIR/xcnictl" "$CNI_DIR/bridge" "$CNI_DIR/host-local"; do
	[[ -x $b ]] || die "$b not found (make first?)"
done
if [[ -n $XCNI_BASE_BIN ]]; then
	XCNI_BASE_BIN=$(readlink -f "$XCNI_BASE_BIN")
	BASE_DIR=$(dirname "$XCNI_BASE_BIN")
	for b in "$XCNI_BASE_BIN" "$BASE_DIR/xcnid" "$BASE_DIR/xcnictl"; do
		[[ -x $b ]] || die "XCNI_BASE_BIN: $b not found"
	done
	[[ $BASE_DIR != "$(readlink -f "$BIN_DIR")" ]] || die "XCNI_BASE_BIN is in XCNI_BIN's directory: $BASE_DIR"
fi
pin_cpus

TAG=xov$$
# Setups: the IPv4 underlay's, then (-u ipv6|both) the IPv6 underlay's.
# A setup named *-base is the same as the one without the suffix, with the
# base build (XCNI_BASE_BIN) throughout: plugin, xcnid, xcnictl.
SETUPS=()
if [[ $UNDERLAY != ipv6 ]]; then
	SETUPS+=(xcni-gen xcni-tcpf)
	[[ -z $XCNI_BASE_BIN ]] || SETUPS+=(xcni-gen-base)
	((XCNI_ONLY)) || SETUPS+=(xcni-off vxlan routes)
	((NATIVE == 0)) || SETUPS+=(xcni-nat xcni-natgro xcni-natdecap)
	((NATIVE == 0 || XCNI_ONLY)) || SETUPS+=(vxlan-nat)
	((TC_SETUP == 0)) || SETUPS+=(xcni-tc)
fi
if [[ $UNDERLAY != ipv4 ]]; then
	SETUPS+=(u6-xcni-gen u6-xcni-tcpf)
	[[ -z $XCNI_BASE_BIN ]] || SETUPS+=(u6-xcni-gen-base)
	((XCNI_ONLY)) || SETUPS+=(u6-xcni-off u6-vxlan u6-routes)
	((NATIVE == 0)) || SETUPS+=(u6-xcni-nat u6-xcni-natgro u6-xcni-natdecap)
	((NATIVE == 0 || XCNI_ONLY)) || SETUPS+=(u6-vxlan-nat)
fi
# OVERLAY_SETUPS="S ...": these setups only (names as above), for a short run.
[[ -z ${OVERLAY_SETUPS:-} ]] || read -r -a SETUPS <<<"$OVERLAY_SETUPS"
# What a round measures, per leg: a setup's pods over IPv4 (the setup's
# name) or over IPv6 (name + "6": the same pods, their IPv6 addresses).
# build() appends each setup's legs.
LEGS=()
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
declare -A IP=() # [S-N] pod address on node N ([S6-N]: its IPv6 address)
PIDS=() # servers and agents, killed by PID
ADDED=() # "S N" per pod a CNI ADD was tried for

ns() { echo "$TAG-$1-$2"; } # ns SETUP ul|n1|n2|p1|p2
pin() { echo "/sys/fs/bpf/$TAG-$1-n$2"; } # per setup and node: never shared
bindir() { if [[ $1 == *-base ]]; then echo "$BASE_DIR"; else echo "$BIN_DIR"; fi; } # SETUP's build
conf() { echo "$TMP/$1-n$2.json"; }
ul6() { [[ $1 == u6-* ]]; } # SETUP runs over the IPv6 underlay
has4() { [[ $1 != u6-vxlan && $1 != u6-vxlan-nat && $1 != u6-routes ]]; } # its pods have an IPv4 address (u6-vxlan, u6-routes: IPv6 only)
has6() { [[ $1 == u6-* || ($FAMILY == dual && $1 == xcni-*) ]]; } # ... an IPv6 address
pod_mtu() { if ul6 "$1"; then echo 1430; else echo 1450; fi; } # underlay 1500 - 70 / - 50
node_ip() { if ul6 "$1"; then echo "fc00:77::$2"; else echo "192.168.77.$2"; fi; } # SETUP N

# cni SETUP N VERB: the plugin as a runtime calls it, from the node's netns.
cni() {
	local s=$1 n=$2 plugin=$XCNI_BIN
	[[ $s == *-base ]] && plugin=$XCNI_BASE_BIN
	[[ $s == *vxlan || $s == *vxlan-nat || $s == *routes ]] && plugin=$CNI_DIR/bridge
	nsenter --net=/run/netns/"$(ns "$s" n"$n")" env CNI_COMMAND="$3" CNI_CONTAINERID="$TAG-$s-$n" \
		CNI_NETNS=/run/netns/"$(ns "$s" p"$n")" CNI_IFNAME=eth0 CNI_PATH="$CNI_DIR:$(bindir "$s")" \
		timeout 60 "$plugin" <"$(conf "$s" "$n")"
}

cleanup() {
	local e s n
	set +e
	# DEL while the agents still run (the plugin finds their pins), then the processes.
	for e in "${ADDED[@]+"${ADDED[@]}"}"; do
		read -r s n <<<"$e"
		cni "$s" "$n" DEL >/dev/null 2>&1
	done
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" 2>/dev/null; done
	for s in "${SETUPS[@]}"; do
		for n in 1 2; do
			rm -rf "$(pin "$s" "$n")"
			ip netns del "$(ns "$s" p$n)" 2>/dev/null
			ip netns del "$(ns "$s" n$n)" 2>/dev/null
		done
		ip netns del "$(ns "$s" ul)" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

PINGPONG=$BUILD/pingpong
tool "$PINGPONG" pingpong
CONN_RATE=$BUILD/conn_rate
tool "$CONN_RATE" conn_rate


underlay() { # the bridge netns and both nodes' ul0 (u6-*: IPv6 only)
	local s=$1 n
	ip netns add "$(ns "$s" ul)"
	ip -n "$(ns "$s" ul)" link add br0 type bridge
	ip -n "$(ns "$s" ul)" link set br0 up
	for n in 1 2; do
		ip netns add "$(ns "$s" n$n)"
		ip -n "$(ns "$s" n$n)" link set lo up
		ip -n "$(ns "$s" ul)" link add p$n type veth peer name ul0 netns "$(ns "$s" n$n)"
		ip -n "$(ns "$s" ul)" link set p$n master br0 up
		if ul6 "$s"; then
			ip -n "$(ns "$s" n$n)" addr add "$(node_ip "$s" $n)/64" dev ul0 nodad
		else
			ip -n "$(ns "$s" n$n)" addr add "$(node_ip "$s" $n)/24" dev ul0
		fi
		ip -n "$(ns "$s" n$n)" link set ul0 up
		ip netns exec "$(ns "$s" n$n)" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
}

add_pod() { # SETUP N: CNI ADD, records the address(es)
	local s=$1 n=$2 res
	ip netns add "$(ns "$s" p$n)"
	ip -n "$(ns "$s" p$n)" link set lo up
	ADDED+=("$s $n")
	res=$(cni "$s" "$n" ADD 2>"$TMP/add.err") ||
		{ cat "$TMP/add.err" >&2; echo "$res" >&2; die "$s: CNI ADD on node $n failed"; }
	if has4 "$s"; then
		IP[$s-$n]=$(python3 -c 'import json,sys; print([i["address"].split("/")[0] for i in json.load(sys.stdin)["ips"] if ":" not in i["address"]][0])' <<<"$res") ||
			die "$s: CNI ADD on node $n: no IPv4 address in the result: $res"
	fi
	if has6 "$s"; then
		IP[${s}6-$n]=$(python3 -c 'import json,sys; print([i["address"].split("/")[0] for i in json.load(sys.stdin)["ips"] if ":" in i["address"]][0])' <<<"$res") ||
			die "$s: CNI ADD on node $n: no IPv6 address in the result: $res"
	fi
	[[ $(ip -n "$(ns "$s" p$n)" -o link show eth0) == *"mtu $(pod_mtu "$s") "* ]] ||
		die "$s: pod on node $n: eth0 MTU is not $(pod_mtu "$s")"
}

build_xcni() {
	local s=$1 mode=${1%-base} man=$TMP/$1-manifests n v6r="" routes="" v6a=() nip attach=auto gro=0 decap=tc
	mode=${mode##*-}
	[[ $mode == tc ]] && attach=tc mode=generic
	[[ $mode == gen ]] && mode=generic
	[[ $mode == nat ]] && mode=native
	[[ $mode == natgro ]] && mode=native gro=1
	[[ $mode == natdecap ]] && mode=native decap=xdp
	[[ $mode == tcpf ]] && mode=tc
	mkdir -p "$man"
	underlay "$s"
	for n in 1 2; do
		if has6 "$s"; then
			v6r=",[{\"subnet\":\"fd00:10:244:$n::/64\"}]"
			routes='"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],'
			v6a=(--pod-cidr6 "fd00:10:244:$n::/64")
		fi
		# The IPv6 underlay: told, as an IPv6-only node's DaemonSet would.
		ul6 "$s" && v6a+=(--node-ip "$(node_ip "$s" $n)")
		cat >"$(conf "$s" $n)" <<-J
		{"cniVersion":"1.0.0","name":"$TAG","type":"xcni","mtu":$(pod_mtu "$s"),"attach":"$attach","stateDir":"$TMP/$s-state$n",
		 "pinDir":"$(pin "$s" $n)","ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.$n.0/24"}]$v6r],
		 $routes"dataDir":"$TMP/$s-ipam$n"}}
		J
		XCNI_ATTACH=$attach nsenter --net=/run/netns/"$(ns "$s" n$n)" "$(bindir "$s")/xcnid" --pin-dir "$(pin "$s" $n)" \
			--pod-cidr 10.244.$n.0/24 "${v6a[@]}" --node-name n$n --manifests "$man" --underlay-dev ul0 \
			--xdp-mode "$mode" --overlay-decap $decap >"$TMP/$s-xcnid$n.log" 2>&1 &
		PIDS+=($!)
	done
	for n in 1 2; do
		for _ in $(seq 100); do [[ -e $(pin "$s" $n)/prog_to_pod ]] && break; sleep 0.1; done
		[[ -e $(pin "$s" $n)/prog_to_pod ]] || { cat "$TMP/$s-xcnid$n.log" >&2; die "$s: xcnid on node $n did not start"; }
	done
	add_pod "$s" 1
	add_pod "$s" 2
	for n in 1 2; do
		nip=$(node_ip "$s" $n)
		if has6 "$s"; then
			printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: n%s}\nspec: {podCIDR: 10.244.%s.0/24, podCIDRs: [10.244.%s.0/24, "fd00:10:244:%s::/64"]}\nstatus: {addresses: [{type: InternalIP, address: "%s"}]}\n' $n $n $n $n "$nip"
			printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%s, namespace: default}\nspec: {nodeName: n%s}\nstatus: {podIP: %s, podIPs: [{ip: %s}, {ip: "%s"}]}\n' $n $n "${IP[$s-$n]}" "${IP[$s-$n]}" "${IP[${s}6-$n]}"
		else
			printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: n%s}\nspec: {podCIDR: 10.244.%s.0/24}\nstatus: {addresses: [{type: InternalIP, address: "%s"}]}\n' $n $n "$nip"
			printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%s, namespace: default}\nspec: {nodeName: n%s}\nstatus: {podIP: %s}\n' $n $n "${IP[$s-$n]}"
		fi
	done >"$man/cluster.yaml"
	echo 1 >"$man/.xcni-generation"
	for n in 1 2; do
		for _ in $(seq 100); do
			[[ $(ctl "$s" $n tunnel list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 1 ]] && break
			sleep 0.1
		done
	done
	want=$mode; [[ $mode == off ]] && want=none
	[[ $(ctl "$s" 1 config --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["xdp_mode"])') == "$want" ]] ||
		die "$s: xcnictl config does not show XDP mode $want"
	if [[ $decap == xdp ]]; then
		for n in 1 2; do
			grep -q "overlay decapsulation on ul0: xdp" "$TMP/$s-xcnid$n.log" ||
				{ cat "$TMP/$s-xcnid$n.log" >&2; die "$s: xcnid on node $n does not decapsulate at XDP"; }
			ip netns exec "$(ns "$s" n$n)" ethtool -K ul0 gro on >/dev/null
		done
	fi
	if ul6 "$s"; then # Geneve over IPv6, not a fallback to some IPv4
		[[ $(ctl "$s" 1 config --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_ip"])') == "$(node_ip "$s" 1)" ]] ||
			die "$s: xcnictl config does not show node_ip $(node_ip "$s" 1)"
	fi
	# -natgro: GRO for the Geneve frames native XDP leaves MTU-sized. The
	# kernel merges UDP only for a socket with a tunnel GRO handler, and has
	# no geneve module: a collect-metadata vxlan device on port 6081 (no
	# address, never sending) lends its handler (an 8-byte header, then
	# Ethernet: Geneve without options reads the same). from_overlay still
	# takes every packet at tc; what it passes to the stack reaches that
	# device's socket, which is why xcnid does not do this itself.
	if ((gro)); then
		for n in 1 2; do
			ip netns exec "$(ns "$s" n$n)" ethtool -K ul0 gro on >/dev/null
			ip -n "$(ns "$s" n$n)" link add gro6081 type vxlan dstport 6081 external
			ip -n "$(ns "$s" n$n)" link set gro6081 up
		done
	fi
}
ctl() { nsenter --net=/run/netns/"$(ns "$1" n"$2")" "$(bindir "$1")/xcnictl" --pin-dir "$(pin "$1" "$2")" "${@:3}"; }

# bridge_conf SETUP N: node N's bridge plugin conf, on its pod subnet.
bridge_conf() {
	local sub=10.244.$2.0/24
	ul6 "$1" && sub=fd00:10:244:$2::/64
	cat >"$(conf "$1" "$2")" <<-J
	{"cniVersion":"1.0.0","name":"$TAG","type":"bridge","bridge":"cni0","isGateway":true,
	 "isDefaultGateway":true,"ipMasq":false,"hairpinMode":true,"mtu":$(pod_mtu "$1"),
	 "ipam":{"type":"host-local","ranges":[[{"subnet":"$sub"}]],"dataDir":"$TMP/$1-ipam$2"}}
	J
}

# flannel's vxlan backend; u6-vxlan: its IPv6 half (flannel-v6.1 over the
# IPv6 underlay, the bridge plugin with an IPv6 range).
build_vxlan() {
	local s=$1 n m mac dev=flannel.1 net pfx
	underlay "$s"
	ul6 "$s" && dev=flannel-v6.1
	for n in 1 2; do
		bridge_conf "$s" $n
		ip -n "$(ns "$s" n$n)" link add $dev type vxlan id 1 local "$(node_ip "$s" $n)" dev ul0 \
			dstport 8472 nolearning
		ip -n "$(ns "$s" n$n)" link set $dev mtu "$(pod_mtu "$s")" up
		if ul6 "$s"; then
			ip -n "$(ns "$s" n$n)" addr add "fd00:10:244:$n::/128" dev $dev nodad
		else
			ip -n "$(ns "$s" n$n)" addr add 10.244.$n.0/32 dev $dev
		fi
	done
	for n in 1 2; do
		m=$((3 - n))
		mac=$(ip -n "$(ns "$s" n$m)" -br link show $dev | awk '{ print $3 }')
		net=10.244.$m.0 pfx=10.244.$m.0/24
		ul6 "$s" && net=fd00:10:244:$m:: pfx=fd00:10:244:$m::/64
		ip -n "$(ns "$s" n$n)" neigh replace $net lladdr "$mac" dev $dev nud permanent
		ip netns exec "$(ns "$s" n$n)" bridge fdb append "$mac" dev $dev dst "$(node_ip "$s" $m)"
		ip -n "$(ns "$s" n$n)" route add $pfx via $net dev $dev onlink
	done
	add_pod "$s" 1
	add_pod "$s" 2
	# -nat: the kernel's VXLAN with MTU-sized frames too, as xcni-nat gets
	# them (what a NIC delivers): a native XDP program that passes
	# (bench/xdp_decap_gro.bpf.c's xdp_pass) on each node's ul0, GRO on;
	# the vxlan socket's tunnel GRO merges them again.
	if [[ $s == *vxlan-nat ]]; then
		[[ -e $TMP/xdp_pass.o ]] ||
			clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu \
				-c "$HERE/xdp_decap_gro.bpf.c" -o "$TMP/xdp_pass.o" || die "$s: clang"
		for n in 1 2; do
			ip -n "$(ns "$s" n$n)" link set ul0 xdpdrv obj "$TMP/xdp_pass.o" program xdp_pass ||
				die "$s: native XDP on node $n's ul0"
			ip netns exec "$(ns "$s" n$n)" ethtool -K ul0 gro on >/dev/null
		done
	fi
}

# No encapsulation at all (flannel's host-gw backend): the bridge plugin's
# pods (same MTU as the overlays', so the same segments), and a route to the
# other node's pod range via its underlay address. u6-routes: IPv6 pods over
# the IPv6 underlay. What an overlay is measured against for its own cost.
build_routes() {
	local s=$1 n m pfx
	underlay "$s"
	for n in 1 2; do
		bridge_conf "$s" $n
	done
	for n in 1 2; do
		m=$((3 - n))
		pfx=10.244.$m.0/24
		ul6 "$s" && pfx=fd00:10:244:$m::/64
		ip -n "$(ns "$s" n$n)" route add $pfx via "$(node_ip "$s" $m)" dev ul0
	done
	add_pod "$s" 1
	add_pod "$s" 2
}

build() {
	local s=$1 pid l k port
	local -a legs=()
	case $s in
	*xcni-*) build_xcni "$s" ;;
	*vxlan | *vxlan-nat) build_vxlan "$s" ;;
	*routes) build_routes "$s" ;;
	esac
	! has4 "$s" || legs+=("$s")
	! has6 "$s" || legs+=("${s}6")
	LEGS+=("${legs[@]}")
	# conn_rate's client closes first: TIME_WAIT piles up in pod p1.
	ip netns exec "$(ns "$s" p1)" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
		net.ipv4.tcp_tw_reuse=1 || die "$s: setting pod p1's sysctls failed"
	for l in "${legs[@]}"; do
		# IPv6: the addresses may still be tentative (DAD) for a moment.
		for k in 1 2 3 4 5; do
			ip netns exec "$(ns "$s" p1)" ping -c 1 -W 2 "${IP[$l-2]}" >/dev/null && break
			((k < 5)) || die "$l: the pod on node 1 cannot ping the pod on node 2 (${IP[$l-2]})"
			sleep 1
		done
		port=0
		[[ $l == "$s" ]] || port=1 # the IPv6 servers, one port up
		ip netns exec "$(ns "$s" p2)" "${ON_SERVER[@]}" iperf3 -s -B "${IP[$l-2]}" -p $((IPERF_PORT + port)) >"$TMP/$l-iperf3.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		wait_listen "$(ns "$s" p2)" $((IPERF_PORT + port)) "$pid" || die "$l: iperf3 server did not start"
		ip netns exec "$(ns "$s" p2)" "${ON_SERVER[@]}" "$PINGPONG" server -b "${IP[$l-2]}" -p $((PP_PORT + port)) >"$TMP/$l-pp.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		wait_listen "$(ns "$s" p2)" $((PP_PORT + port)) "$pid" || die "$l: pingpong server did not start"
		if ((CR_SECS)); then
			ip netns exec "$(ns "$s" p2)" "${ON_SERVER[@]}" "$CONN_RATE" server -b "${IP[$l-2]}" -p $((CR_PORT + port)) >"$TMP/$l-cr.log" 2>&1 &
			pid=$!
			PIDS+=("$pid")
			wait_listen "$(ns "$s" p2)" $((CR_PORT + port)) "$pid" ||
				{ cat "$TMP/$l-cr.log" >&2; die "$l: conn_rate server did not start"; }
		fi
		say "$l: pod ${IP[$l-1]} (node 1) -> pod ${IP[$l-2]} (node 2) ready"
	done
}

tx_bytes() { # what xcni on node 1 encapsulated to node 2 so far
	ctl "$1" 1 tunnel list --json | python3 -c 'import json,sys; print(sum(t["tx_bytes"] for t in json.load(sys.stdin)))'
}

for s in "${SETUPS[@]}"; do build "$s"; done
declare -A TX0=() MOVED=()
for s in "${SETUPS[@]}"; do
	[[ $s == *xcni-* ]] || continue
	TX0[$s]=$(tx_bytes "$s")
	MOVED[$s]=0
done

say "start: $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg), legs: ${LEGS[*]}"
echo -e "round\tsetup\tgbps\tretrans\tp50_us\tp99_us\tconn_rate\tconn_p50_us" >"$TMP/results.tsv"
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#LEGS[@]}; i++)); do
		s=${LEGS[(i + r) % ${#LEGS[@]}]}
		a=$(ns "${s%6}" p1)
		port=0
		[[ $s != *6 ]] || port=1
		peer_round "$a" "${IP[$s-2]}" "$port" "$s" $((r + 1))
		[[ ${s%6} != *xcni-* ]] || MOVED[${s%6}]=$((MOVED[${s%6}] + PEER_BYTES))
	done
done
say "end: $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The xcni columns must have gone through the Geneve programs: node 1's
# tunnel counter to node 2 covers at least the payload iperf3 delivered.
for s in "${!MOVED[@]}"; do
	tx=$(($(tx_bytes "$s") - TX0[$s]))
	((tx >= MOVED[$s])) || die "$s: tunnel tx counted $tx bytes, iperf3 moved ${MOVED[$s]}: not the overlay"
	say "$s: xcnictl tunnel list: $tx bytes encapsulated to n2 (iperf3 payload ${MOVED[$s]})"
done

python3 - "$TMP/results.tsv" "$ROUNDS" "$SECS" "$CR_SECS" "$XCNI_BIN" "$XCNI_BASE_BIN" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
cr = int(sys.argv[4]) > 0
keys = ("gbps", "p50_us", "p99_us", "conn_rate")
legs = [r["setup"] for r in rows if r["round"] == "1"]  # the build order
per = {s: {int(r["round"]): {k: float(r[k]) for k in keys} for r in rows if r["setup"] == s} for s in legs}
med = {s: {k: st.median(v[k] for v in per[s].values()) for k in keys} for s in legs}

W = max([26] + [2 * len(s) - 2 for s in legs if "-base" in s])  # the name column: fits the "a/a-base" lines
def line(name, vals, fmt):
    print(f"{name:<{W}}" + "".join(fmt(v) for v in (vals if cr else vals[:3])))

print("\nper round:")
for r in sorted(per[legs[0]]):
    for s in legs:
        v = per[s][r]
        line(f"  {r} {s}", [v[k] for k in keys], lambda x: f"{x:>10.2f}")
hdr = [f"{h:>10}" for h in ("Gbit/s", "p50 us", "p99 us", "conn/s")]
print(f"\n{'setup':<{W}}" + "".join(hdr if cr else hdr[:3]))
for s in legs:
    line(s, [med[s][k] for k in keys], lambda x: f"{x:>10.2f}")

# Ratios a/b: throughput and conn/s above 1 and latency below 1 are better for a.
pairs = [("xcni-gen", "xcni-gen-base", "this build against the base (XCNI_BASE_BIN)"),
         ("xcni-gen6", "xcni-gen-base6", "the same, IPv6 pods"),
         ("u6-xcni-gen", "u6-xcni-gen-base", "the same, IPv6 underlay"),
         ("u6-xcni-gen6", "u6-xcni-gen-base6", "the same, IPv6 pods over the IPv6 underlay")]
for x in ("gen", "tcpf", "off", "nat", "natgro", "natdecap"):
    pairs += [(f"xcni-{x}", "vxlan", ""), (f"xcni-{x}", "routes", "vs no encapsulation (host-gw routes)"),
              (f"u6-xcni-{x}6", "u6-routes6", "the same, IPv6 pods over the IPv6 underlay"), (f"xcni-{x}6", f"xcni-{x}", "IPv6 vs IPv4 pods, IPv4 underlay"),
              (f"u6-xcni-{x}6", f"u6-xcni-{x}", "IPv6 vs IPv4 pods, IPv6 underlay"),
              (f"u6-xcni-{x}6", f"xcni-{x}", "all-IPv6 cluster vs all-IPv4"),
              (f"u6-xcni-{x}6", "u6-vxlan6", "vs flannel's IPv6 vxlan")]
pairs += [("vxlan", "routes", "what encapsulation costs the kernel's vxlan"),
          ("u6-vxlan6", "u6-routes6", "the same, IPv6"),
          ("xcni-tc", "xcni-gen", "tc clsact instead of TCX (kernels < 6.6, or XCNI_ATTACH=tc)"),
          ("xcni-gen", "xcni-off", "what the generic-XDP prefilter costs on the underlay veth"),
          ("xcni-tcpf", "xcni-gen", "the prefilter in tc (--xdp-mode tc) instead of generic XDP"),
          ("u6-xcni-tcpf6", "u6-xcni-gen6", "the same, IPv6 underlay"),
          ("xcni-nat", "xcni-gen", "native XDP on the veth: its peer loses GSO"),
          ("xcni-natgro", "xcni-nat", "GRO for those frames (a UDP tunnel GRO handler on 6081)"),
          ("u6-xcni-natgro6", "u6-xcni-nat6", "the same, IPv6 underlay"),
          ("xcni-natdecap", "xcni-nat", "Geneve taken off at XDP (--overlay-decap xdp): GRO merges the inner flow"),
          ("xcni-natdecap6", "xcni-nat6", "the same, IPv6 pods"),
          ("xcni-natdecap", "xcni-natgro", "against a tunnel socket's GRO handler on 6081"),
          ("xcni-natdecap", "xcni-tcpf", "against veth's GSO end to end (no XDP)"),
          ("xcni-natdecap", "vxlan-nat", "both with MTU-sized frames (native XDP on the receiving veth), both merged by GRO"),
          ("xcni-nat", "vxlan-nat", "the same, Geneve decapsulated at tc (no GRO)"),
          ("vxlan-nat", "vxlan", "what MTU-sized frames cost the kernel's vxlan"),
          ("u6-xcni-natdecap6", "u6-vxlan-nat6", "the same, IPv6 underlay"),
          ("u6-xcni-natdecap6", "u6-xcni-nat6", "the same, IPv6 underlay"),
          ("u6-xcni-gen6", "u6-xcni-off6", "the same, IPv6 underlay"),
          ("u6-vxlan6", "vxlan", "what IPv6 costs the kernel's vxlan")]
pairs = [p for p in pairs if p[0] in med and p[1] in med]
print()
for a, b, why in pairs:
    line(f"{a}/{b}", [med[a][k] / med[b][k] if med[b][k] else 0 for k in keys], lambda x: f"{x:>9.2f}x")
print(f"\n(median of {sys.argv[2]} rounds; iperf3 1 TCP stream {sys.argv[3]} s, receiver rate; "
      "pingpong 1-byte request/response round trips"
      + (f"; conn_rate {sys.argv[4]} s after 1 s warm-up, one connection at a time)" if cr else ")"))
for a, b, why in pairs:
    if why:
        print(f"  {a}/{b}: {why}")

# A/B: this build (XCNI_BIN) over the base (XCNI_BASE_BIN), in the same rounds.
ab = [(a, b) for a, b, _ in pairs if "-base" in b]
if ab:
    print()
names = [("p50_us", "RR p50"), ("gbps", "throughput")] + ([("conn_rate", "conn/s")] if cr else [])
for a, b in ab:
    rr = {k: [per[a][r][k] / per[b][r][k] for r in sorted(per[a]) if r in per[b] and per[b][r][k]] for k, _ in names}
    print(f"A/B {a}/{b} (new/base): "
          + ", ".join(f"{h} {med[a][k] / med[b][k] if med[b][k] else 0:.2f}x" for k, h in names)
          + "  (per round: " + "; ".join(f"{h} " + " ".join(f"{x:.2f}" for x in rr[k]) for k, h in names) + ")")
if ab:
    print(f"(new: {sys.argv[5]}; base: {sys.argv[6]})")

def target(a, b, k, op, bound, what):
    if a not in med or b not in med or (k == "conn_rate" and not cr):
        return
    ratio = med[a][k] / med[b][k]
    ok = (lambda x: x >= bound) if op == ">=" else (lambda x: x <= bound)
    rounds = [per[a][r][k] / per[b][r][k] for r in sorted(per[a]) if per[b][r][k]]
    met = sum(ok(x) for x in rounds)
    # Quiet rounds: neither leg's ping-pong saw a stall (p99 < 1 ms); on this
    # shared machine the others mix in other jobs' scheduling.
    quiet = [per[a][r][k] / per[b][r][k] for r in sorted(per[a])
             if per[b][r][k] and per[a][r]["p99_us"] < 1000 and per[b][r]["p99_us"] < 1000]
    print(f"TARGET: {a} {what} {op} {bound}x {b}  ->  {ratio:.2f}x  {'MET' if ok(ratio) else 'NOT MET'}"
          f"  (rounds: {' '.join(f'{x:.2f}' for x in rounds)}; met in {met}/{len(rounds)};"
          f" quiet: {' '.join(f'{x:.2f}' for x in quiet) or '-'})")

print()
for x in ("gen", "tcpf", "off", "nat", "natgro", "natdecap"):
    target(f"xcni-{x}", "vxlan", "gbps", ">=", 1.0, "throughput")
    target(f"xcni-{x}", "vxlan", "p50_us", "<=", 1.0, "p50 latency")
    target(f"xcni-{x}", "vxlan", "conn_rate", ">=", 1.0, "conn/s")
    target(f"xcni-{x}", "routes", "gbps", ">=", 0.95, "throughput")
target("xcni-natdecap", "vxlan-nat", "gbps", ">=", 1.0, "throughput (MTU-sized frames on both)")
target("u6-xcni-natdecap6", "u6-vxlan-nat6", "gbps", ">=", 1.0, "throughput (MTU-sized frames on both)")
# issue 14: IPv6 within 5% of IPv4 per underlay; against the bridge plugin as in IPv4
for a, b in (("xcni-{}6", "xcni-{}"), ("u6-xcni-{}6", "u6-xcni-{}"), ("u6-xcni-{}6", "xcni-{}")):
    for x in ("gen", "off"):
        target(a.format(x), b.format(x), "gbps", ">=", 0.95, "throughput")
        target(a.format(x), b.format(x), "p50_us", "<=", 1.05, "p50 latency")
        target(a.format(x), b.format(x), "conn_rate", ">=", 0.95, "conn/s")
for x in ("gen", "tcpf", "off", "nat", "natgro", "natdecap"):
    target(f"u6-xcni-{x}6", "u6-vxlan6", "gbps", ">=", 1.0, "throughput")
    target(f"u6-xcni-{x}6", "u6-vxlan6", "p50_us", "<=", 1.0, "p50 latency")
    target(f"u6-xcni-{x}6", "u6-vxlan6", "conn_rate", ">=", 1.0, "conn/s")
    target(f"u6-xcni-{x}6", "u6-routes6", "gbps", ">=", 0.95, "throughput")
PY
