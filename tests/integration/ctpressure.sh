#!/bin/bash
# Conntrack under pressure, on one node: a table of 256 entries (xcnid
# --map-max xcni_ct=256) filled by bounded UDP traffic from one pod: evictions
# counted, an idle TCP flow of another pod goes on. A TCP flow whose entry is
# gone (evicted: here deleted the way eviction removes it, as the kernel's LRU
# spares entries a CPU made last until that CPU needs room) is judged again
# as a new flow on its next segment (bpf/lib/ct.h: a mid-stream pickup): it
# goes on while policy allows it and is dropped once policy no longer does,
# never passed unjudged. Evictions and pickups show in xcnictl metrics and on
# the Prometheus page.
#
#   netns <tag>-node: xcnid --manifests M --map-max xcni_ct=256 --metrics-addr
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (TCP 80 echo; admits b on TCP 80 only)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (three long-lived TCP clients of a)
#     xc<hash> ──veth── eth0  <tag>-c  x/c  (3000 UDP flows to b, per round)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

. "$HERE/node.sh"
node_init ctpressure 10.97.0 ctp
PORT=9974
SRV=
CLIENTS=()

cleanup() {
	local p
	for p in "${CLIENTS[@]}"; do kill "$p" 2>/dev/null; done
	# The server and the children it forked for each connection.
	[ -n "$SRV" ] && kill $(pgrep -P "$SRV") "$SRV" 2>/dev/null
	node_cleanup a b c
}
trap cleanup EXIT

# client N: a TCP connection from b to a:80 that says "1", then waits (30 s at
# most) for $T/goN and says "2"; writes ok (the echo came back) or fail to $T/rN.
cat >"$T/client.py" <<'EOF'
import os, socket, sys, time
ip, n, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
res = "fail"
try:
    s = socket.create_connection((ip, 80), timeout=3)
    s.sendall(b"1\n")
    if s.recv(16) == b"1\n":
        open(f"{tmp}/port{n}", "w").write(str(s.getsockname()[1]))
        open(f"{tmp}/up{n}", "w").close()
        end = time.time() + 30
        while not os.path.exists(f"{tmp}/go{n}") and time.time() < end:
            time.sleep(0.05)
        s.settimeout(3)
        s.sendall(b"2\n")
        if s.recv(16) == b"2\n":
            res = "ok"
except OSError:
    pass
open(f"{tmp}/r{n}", "w").write(res)
EOF
# flood: 3000 UDP datagrams from c to b, each from a port of its own (a flow
# each; b's policy allows them all, so each takes a conntrack entry).
cat >"$T/flood.py" <<'EOF'
import socket, sys
dst, base = sys.argv[1], int(sys.argv[2])
for p in range(base, base + 3000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", p))
    s.sendto(b"x", (dst, 9))
    s.close()
EOF
client() { # client N: started in b, in the background
	rm -f "$T/up$1" "$T/go$1" "$T/r$1"
	ip netns exec "$XCT_TAG-b" taskset -c 0 timeout 60 python3 "$T/client.py" "$IP_A" "$1" "$T" &
	CLIENTS+=($!)
	for _ in $(seq 50); do [ -e "$T/up$1" ] && return 0; sleep 0.1; done
	return 1
}
result() { # result N: tell client N to go on, print what it got
	touch "$T/go$1"
	for _ in $(seq 100); do [ -s "$T/r$1" ] && break; sleep 0.1; done
	cat "$T/r$1" 2>/dev/null || echo none
}
# Client and flood on one CPU: the kernel's LRU keeps entries a CPU made last
# on its own list until it needs room again, where no other CPU evicts them.
flood() { ip netns exec "$XCT_TAG-c" timeout 60 python3 "$T/flood.py" "$IP_B" "$1"; }
has_entry() { # has_entry N: client N's flow has its conntrack entry
	ctl ct list --json | jq -e --argjson p "$(cat "$T/port$1")" \
		'any(.[]; .proto == "tcp" and .sport == $p)' >/dev/null
}
evict() { # evict N: client N's entry (b:port -> a:80/tcp, struct xcni_ct_key) goes
	local key
	key=$(python3 -c 'import socket, struct, sys
k = socket.inet_aton(sys.argv[1]) + socket.inet_aton(sys.argv[2]) + \
    struct.pack("!HH", int(sys.argv[3]), 80) + bytes([6, 0, 0, 0])
print(" ".join("%02x" % b for b in k))' "$IP_B" "$IP_A" "$(cat "$T/port$1")")
	# shellcheck disable=SC2086 # one word per byte
	bpftool map delete pinned "$PIN/xcni_ct" key hex $key && ! has_entry "$1"
}
ctm() { # ctm NAME: the row's count in xcnictl metrics --all
	ctl metrics --all --json | jq -r --arg r "$1" '[.[] | select(.reason == $r) | .packets] | add // 0'
}
page() {
	nsenter --net="/var/run/netns/$NODE" python3 -c \
		'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' \
		"http://127.0.0.1:$PORT/metrics"
}
prom() { page | awk -v s="$1" '$1 == s { print $2 }'; }
# prom_ge NAME MIN: one scrape shows NAME >= MIN. The page is rendered after
# the request came, so a counter xcnictl has just read is on it (it was not:
# the agent served a page again for a second, and a scrape right after
# xcnictl could show the value from before).
prom_ge() {
	local v
	v=$(prom "$1")
	echo "$1 '$v'"
	[ -n "$v" ] && [ "$v" -ge "$2" ]
}

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
check "xcnid started with a conntrack table of 256 entries" start_xcnid "$PIN" \
	--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" --map-max xcni_ct=256 \
	--metrics-addr "127.0.0.1:$PORT" -v || { finish; exit 1; }
IP_A=$(pod_add a) && IP_B=$(pod_add b) && IP_C=$(pod_add c) || { not_ok "pods"; finish; exit 1; }
# -T: a connection whose FIN policy drops (the refused one) ends by itself.
ip netns exec "$XCT_TAG-a" socat -T 20 TCP-LISTEN:80,fork,reuseaddr SYSTEM:cat &
SRV=$!
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n'
	pod_yaml a "$IP_A" "pod: a"
	pod_yaml b "$IP_B" "pod: b"
	pod_yaml c "$IP_C" "pod: c"
} | put pods.yaml
put allow.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: 80}]}]
EOF
check "a admits b on TCP 80 only" sync_gen
check "table size: xcni_ct holds 256" \
	test "$(page | awk '$1 == "xcni_map_max_entries{map=\"ct\"}" { print $2 }')" = 256
client 1
client 2
client 3
check "three TCP connections b -> a open and answered" \
	test -e "$T/up1" -a -e "$T/up2" -a -e "$T/up3"

check "c's 3000 UDP flows to b sent" flood 20000
check "the table is full: evictions counted ($(ctm ct-evicted) in xcnictl metrics)" \
	test "$(ctm ct-evicted)" -gt 1000
check "... and on the Prometheus page (xcni_ct_evicted_total)" prom_ge xcni_ct_evicted_total 1001
check "b's first connection goes on with the table full" test "$(result 1)" = ok
pick0=$(ctm ct-pickups)
check "b's second connection loses its entry" evict 2
check "... its next segment is judged again, allowed: it goes on" test "$(result 2)" = ok
check "the pickup is counted ($pick0 -> $(ctm ct-pickups))" test "$(ctm ct-pickups)" -gt "$pick0"
check "... on the Prometheus page too" prom_ge xcni_ct_pickups_total 1

# Policy no longer admits b; the third connection loses its entry: its next
# segment is judged as new and refused, not passed on an old verdict.
rm -f "$M/allow.yaml"
put deny.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}}
EOF
check "a admits nothing" sync_gen
drops0=$(ctm drop-policy-ingress)
check "b's third connection loses its entry" evict 3
check "... its next segment is judged again, denied: refused" test "$(result 3)" = fail
check "... counted drop-policy-ingress ($drops0 -> $(ctm drop-policy-ingress))" \
	test "$(ctm drop-policy-ingress)" -gt "$drops0"
finish
