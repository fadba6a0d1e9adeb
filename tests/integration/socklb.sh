#!/bin/bash
# Socket-level load balancing (xcnid --kube-proxy-replacement --cgroup-root CG):
# a process in cgroup CG that connects (or sends) to a ClusterIP gets the
# backend at connect time: its packets carry the backend from the first one,
# while the application keeps seeing the ClusterIP (getpeername, recvfrom).
# A process outside CG takes the per-packet translation in from_pod instead.
# IPv6 (issue 14): the pods are dual stack and web has an IPv6 ClusterIP too;
# connect6 gives a socket the backend's IPv6 (xcni_sock_rn6), getpeername6
# shows the ClusterIP.
#
#   cgroup v2 <cgroup2 mount>/xcni-<tag>: the clients started "in the cgroup"
#   netns <tag>-node: xcnid --manifests M --kube-proxy-replacement --cgroup-root CG
#     xc<hash> ──veth── eth0  <tag>-a  x/a  TCP 8080 "hello", UDP 8081 echo
#     xc<hash> ──veth── eth0  <tag>-b  x/b  the client (tshark on its eth0)
#     xc<hash> ──veth── eth0  <tag>-c  x/c  TCP 8080, ingress denied by policy
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init socklb 10.98.0 socklb
VIP=10.96.0.10 # web: 80/TCP -> a:8080, 53/UDP -> a:8081
VIP_NONE=10.96.0.11 # empty: no endpoints
VIP_DENY=10.96.0.12 # locked: 80/TCP -> c:8080, c denies all ingress
VIP6=fd00:96::10 # web's IPv6 ClusterIP: 80/TCP -> a's IPv6:8080
cat >"$T/net.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-socklb","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET.0/24"}],[{"subnet":"fd00:98:5::/64"}]],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dataDir":"$T/ipam"}}
EOT
CG_MNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
CG=$CG_MNT/xcni-$XCT_TAG
PIDS=()
HELD=() # clients holding a socket open (held, sock_attack)

cleanup() {
	local p
	for p in "${PIDS[@]}" "${HELD[@]}"; do kill "$p" 2>/dev/null; done
	node_cleanup a b c
	# Processes still in the cgroups (none should be) go back to the root first.
	if [ -d "$CG" ]; then
		for p in $(find "$CG" -name cgroup.procs -exec cat {} +); do
			echo "$p" >"$CG_MNT/cgroup.procs"
		done
		find "$CG" -depth -type d -exec rmdir {} +
	fi
}
trap cleanup EXIT

[ -n "$CG_MNT" ] || { not_ok "no cgroup2 mount"; finish; exit 1; }
# The pods' cgroups as a kubelet lays them out below the hooked cgroup, made
# before xcnid reads its tiers (the socket LB's owner is the pod's cgroup):
# b's by the cgroupfs driver, c's by the systemd driver under kind's kubelet
# root (3 tiers: kubelet.slice, ...-kubepods.slice, ...-besteffort.slice).
POD_CG_b=$CG/kubepods/burstable/podb
POD_CG_c=$CG/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-podc.slice
pod_cg() { local v=POD_CG_$1; echo "${!v:-$CG/$1}"; }
mkdir "$CG" && mkdir -p "$POD_CG_b/ctr" "$POD_CG_c/cri-containerd-c.scope" ||
	{ not_ok "mkdir $CG"; finish; exit 1; }

# in_cg POD CMD...: CMD in pod POD's netns, its process from the start in the
# cgroup of a container of the pod.
in_cg() {
	local pod=$1 cg
	shift
	cg=$(pod_cg "$pod")
	cg=$(find "$cg" -mindepth 1 -maxdepth 1 -type d | head -1)
	[ -n "$cg" ] || { cg=$(pod_cg "$pod")/ctr && mkdir -p "$cg"; }
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		ip netns exec "$XCT_TAG-$pod" "$@"
}
out_cg() {
	local pod=$1
	shift
	ip netns exec "$XCT_TAG-$pod" "$@"
}
client() { "$1" b timeout 5 python3 "$HERE/sock_client.py" "$2" "$3" "$4"; }

# wire FILTER CMD...: CMD while tshark listens on b's eth0; the packets that
# match FILTER (a display filter), one "src dst" per line.
wire() {
	local filter=$1 cap=$T/cap.pcap pid
	shift
	rm -f "$cap"
	ip netns exec "$XCT_TAG-b" dumpcap -q -i eth0 -w "$cap" -f "tcp or udp" 2>/dev/null &
	pid=$!
	for _ in $(seq 50); do [ -s "$cap" ] && break; sleep 0.1; done
	"$@" >"$T/wire.out" 2>&1
	sleep 0.3
	kill "$pid"
	wait "$pid" 2>/dev/null
	tshark -r "$cap" -Y "$filter" -T fields -e "${WIRE_IP:-ip}.src" -e "${WIRE_IP:-ip}.dst" \
		2>/dev/null | sort -u
}
# syn CG VIP FROM TO: b's TCP client (in_cg or out_cg) to VIP:80 reads hello,
# its SYN on the wire FROM -> TO (WIRE_IP=ipv6: IPv6); syn_peer: and its
# getpeername says VIP:80.
syn() {
	local got
	got=$(wire "tcp.flags.syn == 1 && tcp.flags.ack == 0" client "$1" tcp "$2" 80)
	grep -qx hello "$T/wire.out" && [ "$got" = "$3	$4" ] ||
		{ echo "client: $(cat "$T/wire.out"), SYN: $got (expected $3 -> $4)"; return 1; }
}
syn_peer() { syn "$@" && grep -qx "peer $2:80" "$T/wire.out" || { echo "client: $(cat "$T/wire.out"), no peer $2:80"; return 1; }; }

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
# xcni_sock_rn of 256: a pod may hold 2 records (256 / XCNI_SOCK_OWN_SHARE);
# xcni_sock_flow of 256: the churn below fills it.
AGENT=(--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" --no-masquerade
	--kube-proxy-replacement -v --map-max xcni_sock_rn=256,xcni_sock_rn6=256,xcni_sock_flow=256,xcni_sock_flow6=256)

# Bad input first: refused before anything is loaded or pinned.
bad_cg() {
	local out
	out=$(nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" "${AGENT[@]}" \
		--once --cgroup-root "$1" 2>&1)
	[ $? = 2 ] && grep -q -- "--cgroup-root $1: $2" <<<"$out" && [ ! -e "$PIN" ] ||
		{ echo "$out"; return 1; }
}
check "--cgroup-root on a missing directory: exit 2, said, nothing pinned" \
	bad_cg "$CG/missing" "No such file"
check "--cgroup-root on a directory not cgroup v2: exit 2, said, nothing pinned" \
	bad_cg "$T" "not a cgroup v2 directory"
no_kpr() {
	local out
	out=$(nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --once \
		--cgroup-root "$CG" 2>&1)
	[ $? = 2 ] && grep -q "needs --kube-proxy-replacement" <<<"$out" || { echo "$out"; return 1; }
}
check "--cgroup-root without --kube-proxy-replacement: exit 2, said" no_kpr

check "xcnid started with --cgroup-root" start_xcnid "$PIN" "${AGENT[@]}" --cgroup-root "$CG" ||
	{ finish; exit 1; }
IP_A=$(pod_add a) && IP_B=$(pod_add b) && IP_C=$(pod_add c) ||
	{ not_ok "ADD a, b, c"; finish; exit 1; }
# Started directly (not through a function, whose subshell would be the PID killed).
ip netns exec "$XCT_TAG-a" socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo hello' &
PIDS+=($!)
# One process, no fork a datagram: socat's UDP-RECVFROM,fork lost a child's
# answer (EPIPE) and, in one loaded make check, its whole server after c's 300.
ip netns exec "$XCT_TAG-a" python3 "$HERE/sock_client.py" pong 0.0.0.0 8081 &
PIDS+=($!)
ip netns exec "$XCT_TAG-c" socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo hello' &
PIDS+=($!)
ip netns exec "$XCT_TAG-a" socat TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1 SYSTEM:'echo hello' &
PIDS+=($!)
IP6_A=$(jq -r '.ips[].address | select(contains(":"))' "$T/a.json" | cut -d/ -f1)
IP6_B=$(jq -r '.ips[].address | select(contains(":"))' "$T/b.json" | cut -d/ -f1)

{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n'
	k_pod a x "$IP_A" "app: web"
	k_pod b x "$IP_B" "app: client"
	k_pod c x "$IP_C" "app: locked"
	k_svc2 web "app: web" "$VIP" "$VIP6" \
		"{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, targetPort: 8081, protocol: UDP}"
	k_slice web-6 web 6 "[{addresses: [\"$IP6_A\"], nodeName: n1}]" "{name: http, port: 8080}"
	k_slice web-1 web 4 "[{addresses: [$IP_A], nodeName: n1}]" \
		"{name: http, port: 8080}, {name: dns, port: 8081, protocol: UDP}"
	k_slice locked-1 locked 4 "[{addresses: [$IP_C], nodeName: n1}]" "{name: http, port: 8080}"
	cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: x}
spec:
  clusterIP: $VIP_NONE
  ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: locked, namespace: x}
spec:
  selector: {app: locked}
  clusterIP: $VIP_DENY
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {matchLabels: {app: locked}}}
EOF
} | put state.yaml
check "Services, EndpointSlices and the policy applied" sync_gen

links_pinned() {
	local h n
	for h in connect4 sendmsg4 recvmsg4 getpeername4 connect6 sendmsg6 recvmsg6 getpeername6; do
		[ -e "$PIN/links/node-sock-$h" ] || { echo "no link node-sock-$h"; return 1; }
	done
	n=$(bpftool cgroup show "$CG" | grep -c 'sock[46]_')
	[ "$n" = 8 ] || { bpftool cgroup show "$CG"; return 1; }
}
check "the eight hooks (IPv4 and IPv6) attached to the cgroup as pinned links" links_pinned

# TCP from the cgroup: the backend on the wire from the SYN on, the ClusterIP to the app.
tcp_in() { syn_peer in_cg "$VIP" "$IP_B" "$IP_A"; }
check "in the cgroup, TCP to ClusterIP: hello, getpeername = ClusterIP, SYN to the backend" tcp_in

udp_in() {
	local got
	got=$(wire "udp" client in_cg udp "$VIP" 53)
	grep -qx "from $VIP:53" "$T/wire.out" && grep -qx pong "$T/wire.out" ||
		{ echo "client: $(cat "$T/wire.out")"; return 1; }
	[ "$got" = "$(printf '%s\t%s\n%s\t%s' "$IP_A" "$IP_B" "$IP_B" "$IP_A" | sort -u)" ] ||
		{ echo "UDP on the wire: $got (expected only $IP_B <-> $IP_A)"; return 1; }
}
check "in the cgroup, unconnected UDP: recvfrom sees ClusterIP:53, the wire only the backend" udp_in

# held PROTO IP PORT: pod b's client, its socket kept open until held_end
# (a record lives as long as its socket).
held() {
	local out=$T/held.${#HELD[@]}
	rm -f "$T/gate"
	SOCK_GATE=$T/gate in_cg b timeout 60 python3 "$HERE/sock_client.py" "$@" >"$out" 2>&1 &
	HELD+=($!)
	for _ in $(seq 100); do [ "$(wc -l <"$out")" -ge 2 ] && return 0; sleep 0.1; done
	cat "$out"
	return 1
}
held_end() {
	touch "$T/gate"
	wait "${HELD[@]}"
	HELD=()
}
records() { # records MAP: its entries
	bpftool map dump pinned "$PIN/$1" -j | jq length
}
check "b's TCP and UDP sockets to the ClusterIP held open" \
	eval 'held tcp "$VIP" 80 && held udp "$VIP" 53'
# service sockets: the two translated sockets, each with its backend, frontend and Service.
sockets_listed() {
	local j
	j=$(ctl service sockets --json) || { echo "exit $?"; return 1; }
	python3 - "$j" "$IP_A" "$VIP" <<'PY' || { echo "$j"; return 1; }
import json, sys
rows = json.loads(sys.argv[1]); a, vip = sys.argv[2], sys.argv[3]
got = sorted((r["backend"], r["frontend"], r["service_name"], r["port_name"], r["rev_nat_state"]) for r in rows)
want = sorted([(a + ":8080", vip + ":80", "x/web", "http", "live"), (a + ":8081", vip + ":53", "x/web", "dns", "live")])
assert got == want, got
assert all(r["cookie"] > 0 and r["family"] == "ipv4" for r in rows)
PY
}
check "service sockets: the TCP and the UDP socket, backend, frontend, Service, rev-NAT live" sockets_listed
sockets_filtered() {
	local n
	n=$(ctl service sockets --ip "$IP_B" | wc -l)
	[ "$n" = 1 ] || { ctl service sockets --ip "$IP_B"; return 1; }
	[ "$(ctl service sockets --ip "$VIP" | wc -l)" = 3 ]
}
check "service sockets --ip: matches the backend or frontend (header only for the client)" sockets_filtered
held_end
released() {
	local n
	n=$(records xcni_sock_rn)
	[ "$n" = 0 ] || { echo "xcni_sock_rn: $n records after every socket closed"; return 1; }
}
check "the sockets closed: their records released with them (xcni_sock_rn empty)" released

# IPv6: connect6 gives the socket a's IPv6 (the SYN carries it), getpeername6 the ClusterIP.
tcp6_in() { WIRE_IP=ipv6 syn_peer in_cg "$VIP6" "$IP6_B" "$IP6_A"; }
check "in the cgroup, TCP to the IPv6 ClusterIP: hello, getpeername = ClusterIP, SYN to a's IPv6" tcp6_in
check "b's TCP socket to the IPv6 ClusterIP held open" held tcp "$VIP6" 80
sock_rn6() { [ "$(records xcni_sock_rn6)" -ge 1 ]; }
check "xcni_sock_rn6 holds the socket's translation" sock_rn6
# service sockets lists it after the IPv4 ones: [a's IPv6]:8080 for [ClusterIP]:80, family ipv6.
sockets6_listed() {
	local j
	j=$(ctl service sockets --json) || { echo "exit $?"; return 1; }
	python3 - "$j" "$IP6_A" "$VIP6" <<'PY' || { echo "$j"; return 1; }
import json, sys
rows = json.loads(sys.argv[1]); a, vip = sys.argv[2], sys.argv[3]
v6 = [(r["backend"], r["frontend"], r["service_name"], r["port_name"], r["rev_nat_state"])
      for r in rows if r["family"] == "ipv6"]
assert v6 and set(v6) == {("[%s]:8080" % a, "[%s]:80" % vip, "x/web", "http", "live")}, v6
assert [r["family"] for r in rows] == sorted(r["family"] for r in rows), "IPv4 rows first"
PY
	# --ip takes an IPv6 address: the backend's matches that row (and the header).
	[ "$(ctl service sockets --ip "$IP6_A" | grep -c "\[$IP6_A\]:8080 ")" -ge 1 ] &&
		! ctl service sockets --ip "$IP6_A" | grep -q "$IP_A:" ||
		{ ctl service sockets --ip "$IP6_A"; return 1; }
}
check "service sockets: the IPv6 socket from xcni_sock_rn6 ([backend]:port, family ipv6, --ip)" sockets6_listed
held_end
check "the IPv6 socket closed: its record released (xcni_sock_rn6 empty)" \
	eval '[ "$(records xcni_sock_rn6)" = 0 ]'

# Issue 52: one pod's sockets never push out another's records. b (a
# resolver) sends its query to the ClusterIP and reads the answer late;
# meanwhile c (the attacker) holds 300 UDP sockets to it, more than the map's
# 256. b's answer must still come from the ClusterIP (glibc's resolver drops
# one from another address). c past its bound of 2 is left to the per-packet
# translation: it loses nothing either.
sock_attack() {
	local i
	rm -f "$T/gate"
	SOCK_GATE=$T/gate in_cg b timeout 300 python3 "$HERE/sock_client.py" late "$VIP" 53 \
		>"$T/victim.out" 2>&1 &
	HELD+=($!)
	for i in $(seq 100); do grep -q '^sent' "$T/victim.out" && break; sleep 0.1; done
	SOCK_GATE=$T/gate in_cg c timeout 300 python3 "$HERE/sock_client.py" hold "$VIP" 53 300 \
		>"$T/evil.out" 2>&1 &
	HELD+=($!)
	for i in $(seq 300); do grep -q '^held\|^error' "$T/evil.out" && break; sleep 0.1; done
	grep -qx "sent" "$T/victim.out" && grep -qx "held 300" "$T/evil.out" ||
		{ echo "b: $(cat "$T/victim.out"); c: $(cat "$T/evil.out")"; return 1; }
}
check "b's query sent to the ClusterIP, its answer not read yet; then c holds 300 sockets, each asking" sock_attack
# c's count: 2 held (its bound), the other 298 sockets' sends counted over it.
own_bound() {
	local j
	j=$(bpftool map dump pinned "$PIN/xcni_sock_own" -j)
	jq -e '[.[] | .formatted.value // .value] | map(select(.held == 2 and .over >= 298)) | length == 1' \
		<<<"$j" >/dev/null || { echo "$j"; return 1; }
	[ "$(records xcni_sock_rn)" = 3 ] || { echo "xcni_sock_rn: $(records xcni_sock_rn) records"; return 1; }
}
check "c's records stop at its bound (2), the rest counted in xcni_sock_own; b's stays (3 in all)" own_bound
status_over() {
	ctl status >"$T/status.txt"
	grep -q "^Socket LB: 3 records held by 2 pods; [0-9]* translations past a pod's bound left to the per-packet path" \
		"$T/status.txt" || { cat "$T/status.txt"; return 1; }
}
check "xcnictl status: Socket LB: 3 records, 2 pods, the translations past c's bound" status_over
evil_fresh() {
	in_cg c timeout 5 python3 "$HERE/sock_client.py" udp "$VIP" 53 >"$T/evil2.out" 2>&1
	grep -qx "from $VIP:53" "$T/evil2.out" && grep -qx pong "$T/evil2.out" ||
		{ echo "c: $(cat "$T/evil2.out")"; return 1; }
}
# On a loaded machine c's 300 may still be queued ahead of the new one past
# its 2 s (seen twice at load 14 with a forking server): asked again for 30 s.
check "c past its bound: its new socket still answered from the ClusterIP (per-packet path)" \
	wait_until 30 evil_fresh
victim_again() {
	held_end
	grep -qx "from $VIP:53" "$T/victim.out" ||
		{ echo "b: $(cat "$T/victim.out")"; return 1; }
}
check "after c's 300 sockets: b's answer, read now, still comes from the ClusterIP, not the backend" victim_again
check "every socket closed: xcni_sock_rn empty again" released

# xcni_sock_flow stays one LRU (docs/decisions/sock-lb-owner-bound.md): c
# churns 300 short TCP connections through the Service (each translated: c
# holds one record at a time), more than the map's 256, while b's connection
# is open. What b can lose is its flow record's Service name: its connection
# and the address it sees are not the map's.
flow_churn() { # flow_churn VIP MAP
	local out=$T/churn.out
	held tcp "$1" 80 || return 1
	in_cg c timeout 120 python3 "$HERE/sock_client.py" churn "$1" 80 300 >"$out" 2>&1
	grep -qx "connected 300" "$out" || { cat "$out"; return 1; }
	[ "$(records "$2")" -le 256 ] || { echo "$2: $(records "$2")"; return 1; }
}
flow_victim() { # flow_victim VIP: b's connection to it kept its peer
	held_end
	grep -qx "peer again $1:80" "$T/held.0" || { cat "$T/held.0"; return 1; }
}
check "c churns 300 translated TCP connections, more than xcni_sock_flow's 256, while b's is open" \
	flow_churn "$VIP" xcni_sock_flow
check "after c's churn: b's connection still open, getpeername still the ClusterIP" flow_victim "$VIP"
check "c churns 300 translated IPv6 TCP connections, more than xcni_sock_flow6's 256, while b's is open" \
	flow_churn "$VIP6" xcni_sock_flow6
check "after c's IPv6 churn: b's connection still open, getpeername still the IPv6 ClusterIP" \
	flow_victim "$VIP6"
tcp6_out() { WIRE_IP=ipv6 syn out_cg "$VIP6" "$IP6_B" "$VIP6"; }
check "outside the cgroup, IPv6: the SYN carries the ClusterIP (from_pod6 translates), hello" tcp6_out

# A pod's TCP socket without backend is left to from_pod, which refuses its
# SYN (a RST) and reports the drop with the pod's 5-tuple: the refusal gets
# a flow record naming the pod (issue 53 item 2). UDP's sendto is refused at
# the socket, no packet sent (an unconnected socket hears no ICMP).
refused_in() {
	local got want=$3
	got=$(wire "ip.dst == $VIP_NONE" client in_cg "$1" "$VIP_NONE" "$2")
	grep -qx "error ECONNREFUSED" "$T/wire.out" || { echo "client: $(cat "$T/wire.out")"; return 1; }
	[ "$got" = "$want" ] || { echo "packets to the ClusterIP: '$got' (expected '$want')"; return 1; }
}
check "in the cgroup, no backend: connect fails ECONNREFUSED, its SYN refused by from_pod" \
	refused_in tcp 80 "$IP_B	$VIP_NONE"
check "in the cgroup, no backend: UDP sendto fails ECONNREFUSED, no packet sent" refused_in udp 53 ""
no_backend_counted() { grep -q 'drop-no-backend' <<<"$(ctl metrics)"; }
check "the refusals counted as drop-no-backend" no_backend_counted
no_backend_rec() {
	local out
	out=$(ctl flows --json --verdict no-backend --from-ip "$IP_B") || return 1
	[ "$(grep -c "\"ip\":\"$VIP_NONE\",\"port\":80,.*\"service\":\"x/empty" <<<"$out")" = 1 ] || { echo "$out"; return 1; }
}
check "  ... the TCP refusal's flow record: no-backend, from b to the ClusterIP, for x/empty" \
	wait_until 10 no_backend_rec
# The node's own sockets (xcnid's netns: no from_pod on their way) are refused at connect.
in_cg_node() {
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
		ip netns exec "$NODE" "$@"
}
refused_node() {
	in_cg_node timeout 5 python3 "$HERE/sock_client.py" tcp "$VIP_NONE" 80 >"$T/node.out" 2>&1
	grep -qx "error ECONNREFUSED" "$T/node.out" || { echo "client: $(cat "$T/node.out")"; return 1; }
}
check "a socket of the node's own netns, no backend: connect fails ECONNREFUSED at once" refused_node

# Issue 65: a pod's bound is its cgroup's, not each network namespace it
# makes. c makes a user namespace and then 140 network namespaces (as a pod
# may under the kubelet's default seccomp) and connects 2 sockets to the
# ClusterIP from each: 280 records asked, the map holds 256; every 20 it also
# makes a cgroup below its own and moves in (a container's root may). The
# node's own process (the hooked cgroup itself, the node's namespace: no
# per-packet path) must still connect; c's pod holds its bound (2).
netns_attack() {
	rm -f "$T/gate"
	# nsenter, not ip netns exec: that one mounts a /sys without the cgroup tree.
	SOCK_CGDIR=$POD_CG_c/cri-containerd-c.scope SOCK_GATE=$T/gate \
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh \
		"$POD_CG_c/cri-containerd-c.scope" nsenter --net="/var/run/netns/$XCT_TAG-c" \
		timeout 120 python3 "$HERE/sock_client.py" netns "$VIP" 80 140 >"$T/ns.out" 2>&1 &
	HELD+=($!)
	for _ in $(seq 300); do grep -q '^netns\|^error' "$T/ns.out" && break; sleep 0.1; done
	grep -qx "netns 140" "$T/ns.out" || { echo "c: $(cat "$T/ns.out")"; return 1; }
}
check "c makes 140 network namespaces, 2 sockets from each connecting to the ClusterIP" netns_attack
node_connects() {
	in_cg_node timeout 5 python3 "$HERE/sock_client.py" tcp "$VIP" 80 >"$T/node.out" 2>&1
	grep -qx hello "$T/node.out" && grep -qx "peer $VIP:80" "$T/node.out" ||
		{ echo "node: $(cat "$T/node.out"); xcni_sock_rn: $(records xcni_sock_rn) records"; return 1; }
}
check "meanwhile the node's own process connects to the ClusterIP: hello, peer the ClusterIP" \
	node_connects
netns_bound() {
	local j id
	id=$(stat -c %i "$POD_CG_c")
	j=$(bpftool map dump pinned "$PIN/xcni_sock_own" -j)
	jq -e --argjson id "$id" '[.[] | .formatted // . | select(.key == $id) | .value |
		select(.held == 2 and .over >= 278)] | length == 1' <<<"$j" >/dev/null &&
		[ "$(records xcni_sock_rn)" = 2 ] ||
		{ echo "c's cgroup $id; xcni_sock_rn: $(records xcni_sock_rn); $j"; return 1; }
}
check "c's pod cgroup holds its bound (2 records) over its 140 namespaces and 6 cgroups, 278 counted past it" \
	netns_bound
held_end
check "c's sockets closed: xcni_sock_rn empty" released

# Outside the cgroup the socket is untouched: the ClusterIP leaves the pod, from_pod translates.
check "outside the cgroup: the SYN carries the ClusterIP (per-packet translation), hello" \
	syn_peer out_cg "$VIP" "$IP_B" "$VIP"

# Policy is judged on the backend the socket got: c denies all ingress.
denied_in() {
	local got
	got=$(wire "tcp.flags.syn == 1 && tcp.flags.ack == 0" client in_cg tcp "$VIP_DENY" 80)
	grep -qx "error timeout" "$T/wire.out" || { echo "client: $(cat "$T/wire.out")"; return 1; }
	[ "$got" = "$IP_B	$IP_C" ] || { echo "SYN on the wire: $got (expected $IP_B -> $IP_C)"; return 1; }
	grep -q 'drop-policy-ingress' <<<"$(ctl metrics)" || { echo "no drop-policy-ingress counted"; return 1; }
}
check "in the cgroup, to a Service whose backend denies: not reached, dropped by policy" denied_in

# Restart: with no agent the hooks stay; the next agent swaps its programs into the same links.
link_ids() {
	local h
	for h in connect4 sendmsg4 recvmsg4 getpeername4 connect6 sendmsg6 recvmsg6 getpeername6; do
		bpftool link show pinned "$PIN/links/node-sock-$h" -j | jq -r '"\(.id) \(.prog_id)"'
	done
}
BEFORE=$(link_ids)
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "no agent: the hooks still translate (SYN to the backend, getpeername = ClusterIP)" tcp_in
# The previous agent's pins are there already: ready is when the new one says so.
restart_xcnid() {
	start_xcnid "$PIN" "${AGENT[@]}" "$@" || return 1
	for _ in $(seq 100); do
		grep -q "xcnid: ready" "/tmp/xcnid-$XCT_TAG.log" && return 0
		sleep 0.1
	done
	cat "/tmp/xcnid-$XCT_TAG.log"
	return 1
}
check "xcnid restarted with --cgroup-root" restart_xcnid --cgroup-root "$CG"
swapped() {
	local after
	after=$(link_ids)
	[ "$(cut -d' ' -f1 <<<"$BEFORE")" = "$(cut -d' ' -f1 <<<"$after")" ] &&
		! grep -qxF -f <(cut -d' ' -f2 <<<"$BEFORE") <(cut -d' ' -f2 <<<"$after") ||
		{ echo "before: $BEFORE"; echo "after: $after"; return 1; }
	links_pinned
}
check "restart: the same eight links, each running the new agent's program" swapped
check "after restart: TCP from the cgroup still gets the backend" tcp_in
check "after restart: UDP from the cgroup still sees the ClusterIP" udp_in

# Without --cgroup-root the agent removes the links an earlier one made.
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "xcnid restarted without --cgroup-root" restart_xcnid
unhooked() {
	ls "$PIN/links" | grep -q node-sock- && { ls "$PIN/links"; return 1; }
	local s # read whole: under pipefail grep -q's early exit can fail the pipe
	s=$(bpftool cgroup show "$CG") || return 1
	! grep -q 'sock[46]_' <<<"$s" || { echo "$s"; return 1; }
}
check "without --cgroup-root: its links removed, the cgroup has no program" unhooked
check "then a process in the cgroup goes through per-packet translation" syn in_cg "$VIP" "$IP_B" "$VIP"
finish
