#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The NodePort connection stall, alone (ab-rr's cr-np leg, one tree): two
# nodes on an underlay bridge, an outside client netns, ab-rr's two
# NodePorts on n1, 30107 (to c:7107) and 30070 (to c:7000), whose one
# backend is pod c on n2 (SNAT to n1, Geneve to n2), and
# conn_rate's client from outside for SECONDS, one connection at a time
# (connect, 1 byte each way, the client closes first; its ports 1024-65535,
# tcp_tw_reuse=1, so TIME_WAIT ports come round again within seconds). The
# underlay bridge is captured all along (a ring of pcap files). When a
# connection fails (a SYN unanswered for 5 s) it prints what the nodes and
# sockets hold for the failed port: drop counters, conntrack, ss, and the
# capture's packets of that port. Exit 0: no stall; 1: a stall (or setup
# failed). Must run as root after `make all`, under flock -o /tmp/xcni-test.lock.
#
#   bash bench/np-stall.sh [-c SECONDS] [-p "LOW HIGH"] [-k] TREE
#
#   -c  conn_rate seconds (default 20; a stall came at ~22,000 connections)
#   -p  the client's ip_local_port_range (default "1024 65535", as ab-rr's;
#       "30000 36000" comes round to 30070 within a second or two)
#   -k  keep the capture and logs (their directory is printed)
#
#       netns xns<pid>-ul: bridge br0 (the underlay, captured)
#        /                  |                      \
#   xns<pid>-n1 ul0 .78.1   xns<pid>-out eth0 .78.100   xns<pid>-n2 ul0 .78.2
#                                                        pod c (10.244.2.0/24)
set -euo pipefail

BENCH=np-stall
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
SECS=20 KEEP=0 CR_PORT=7107 NP_CR=30107 PP_PORT=7000 NP_PP=30070 RANGE="1024 65535"
opts 1 "c:SECS p:RANGE k=KEEP=1" "$@"
set -- "${ARGS[@]}"
num_in "$SECS" 1 600 || die "-c must be 1..600 (got '$SECS')"
need ip nsenter timeout jq dumpcap tshark "$CC"
B=$(cd "$1" && pwd)/build
for b in xcni xcnid xcnictl; do [[ -x $B/$b ]] || die "$B/$b not found (make all first?)"; done

TAG=xns$$
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
PIDS=() ADDED=0 CAP_PID=
ns() { echo "$TAG-$1"; }
pin() { echo "/sys/fs/bpf/$TAG-n$1"; }
ctl() { nsenter --net=/run/netns/"$(ns n"$1")" "$B/xcnictl" --pin-dir "$(pin "$1")" "${@:2}"; }
cni() {
	nsenter --net=/run/netns/"$(ns n2)" env CNI_COMMAND="$1" CNI_CONTAINERID="$TAG-c" \
		CNI_NETNS=/run/netns/"$(ns c)" CNI_IFNAME=eth0 CNI_PATH="$CNI_DIR:$B" \
		timeout 60 "$B/xcni" <"$TMP/n2.json"
}
cleanup() {
	local p n
	set +e
	[[ -n $CAP_PID ]] && kill "$CAP_PID" 2>/dev/null && wait "$CAP_PID" 2>/dev/null
	((ADDED)) && cni DEL >/dev/null 2>&1
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
	for p in c out n1 n2 ul; do ip netns del "$(ns $p)" 2>/dev/null; done
	for n in 1 2; do rm -rf "$(pin $n)"; done
	if ((KEEP)); then say "kept: $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

CONN_RATE=$TMP/conn_rate
tool "$CONN_RATE" conn_rate

man=$TMP/manifests
mkdir -p "$man"
ip netns add "$(ns ul)"
ip -n "$(ns ul)" link add br0 type bridge
ip -n "$(ns ul)" link set br0 up
for n in 1 2; do
	ip netns add "$(ns n$n)"
	ip -n "$(ns n$n)" link set lo up
	ip -n "$(ns ul)" link add p$n type veth peer name ul0 netns "$(ns n$n)"
	ip -n "$(ns ul)" link set p$n master br0 up
	ip -n "$(ns n$n)" addr add 192.168.78.$n/24 dev ul0
	ip -n "$(ns n$n)" link set ul0 up
	ip netns exec "$(ns n$n)" sysctl -qw net.ipv4.ip_forward=1
	cat >"$TMP/n$n.json" <<-J
	{"cniVersion":"1.0.0","name":"$TAG","type":"xcni","mtu":1450,"stateDir":"$TMP/state$n",
	 "pinDir":"$(pin $n)","ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.$n.0/24"}]],
	 "dataDir":"$TMP/ipam$n"}}
	J
	nsenter --net=/run/netns/"$(ns n$n)" "$B/xcnid" --pin-dir "$(pin $n)" --pod-cidr 10.244.$n.0/24 \
		--node-name n$n --manifests "$man" --underlay-dev ul0 --xdp-mode generic \
		--kube-proxy-replacement >"$TMP/xcnid$n.log" 2>&1 &
	PIDS+=($!)
done
ip netns add "$(ns out)"
ip -n "$(ns out)" link set lo up
ip -n "$(ns ul)" link add p3 type veth peer name eth0 netns "$(ns out)"
ip -n "$(ns ul)" link set p3 master br0 up
ip -n "$(ns out)" addr add 192.168.78.100/24 dev eth0
ip -n "$(ns out)" link set eth0 up
ip netns exec "$(ns out)" sysctl -qw net.ipv4.ip_local_port_range="$RANGE" net.ipv4.tcp_tw_reuse=1
for n in 1 2; do
	for _ in $(seq 100); do [[ -e $(pin $n)/prog_to_pod ]] && break; sleep 0.1; done
	[[ -e $(pin $n)/prog_to_pod ]] || { cat "$TMP/xcnid$n.log" >&2; die "xcnid on node $n did not start"; }
done
ip netns add "$(ns c)"
ip -n "$(ns c)" link set lo up
ADDED=1
res=$(cni ADD 2>"$TMP/add.err") || { cat "$TMP/add.err" >&2; die "CNI ADD c failed"; }
C=$(jq -r '.ips[0].address' <<<"$res" | cut -d/ -f1)
{
	for n in 1 2; do
		printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: n%s}\nspec: {podCIDR: 10.244.%s.0/24}\nstatus: {addresses: [{type: InternalIP, address: "192.168.78.%s"}]}\n' $n $n $n
	done
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: default}\nspec: {nodeName: n2}\nstatus: {podIP: %s}\n' "$C"
	np_services "$C"
} >"$man/cluster.yaml"
echo 1 >"$man/.tmp-gen" && mv "$man/.tmp-gen" "$man/.xcni-generation"
for n in 1 2; do
	for _ in $(seq 100); do
		[[ $(ctl $n config --json 2>/dev/null | jq -r .applied_gen) -ge 1 ]] 2>/dev/null &&
			[[ $(ctl $n tunnel list --json | jq length) == 1 ]] && break
		sleep 0.1
	done
	[[ $(ctl $n tunnel list --json | jq length) == 1 ]] || die "n$n has no tunnel to the other node"
done
ip netns exec "$(ns c)" "$CONN_RATE" server -b "$C" -p $CR_PORT >"$TMP/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do ip netns exec "$(ns c)" ss -Htln "sport = :$CR_PORT" | grep -q . && break; sleep 0.05; done
# The underlay, whole: the client's side and the Geneve between the nodes.
ip netns exec "$(ns ul)" dumpcap -q -i br0 -s 160 -b filesize:40000 -b files:6 -w "$TMP/ul.pcapng" \
	>"$TMP/dumpcap.log" 2>&1 &
CAP_PID=$!
sleep 1
say "c $C on n2; client out -> 192.168.78.1:$NP_CR for $SECS s; load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
out=$(timeout $((SECS + 30)) ip netns exec "$(ns out)" "$CONN_RATE" client -c 192.168.78.1 -p $NP_CR \
	-d "$SECS" -w 1 2>"$TMP/cr.err") || rc=1
if ((!rc)); then
	say "no stall: $out"
	exit 0
fi
say "STALL: $(cat "$TMP/cr.err")"
sleep 1
kill "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null || true
CAP_PID=
ip netns exec "$(ns out)" ss -tan state all | awk 'NR>1{print $1}' | sort | uniq -c >"$TMP/ss-out"
say "client sockets by state: $(tr '\n' ' ' <"$TMP/ss-out")"
# The failed connection: the last SYN of the client.
files=$(ls -tr "$TMP"/ul*.pcapng)
port=$(for f in $files; do
	tshark -r "$f" -Y 'ip.src==192.168.78.100 && tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e tcp.srcport 2>/dev/null
done | tail -1)
say "failed client port: $port"
for n in 1 2; do
	say "n$n drops:"
	ctl $n metrics | grep -iv ' 0 *$' | sed 's/^/  /' || true
	say "n$n conntrack with port $port:"
	ctl $n ct list 2>/dev/null | grep -E "[:. ]$port( |$|/)|:$port\b" | sed 's/^/  /' || true
done
say "pod c sockets with port $port:"
ip netns exec "$(ns c)" ss -tan | grep -E ":$port\b" | sed 's/^/  /' || true
say "client sockets with port $port:"
ip netns exec "$(ns out)" ss -tan | grep -E ":$port\b" | sed 's/^/  /' || true
say "underlay packets of port $port (last 60):"
for f in $files; do
	tshark -r "$f" -t ad -Y "tcp.port==$port" 2>/dev/null
done | tail -60 | sed 's/^/  /'
exit 1
