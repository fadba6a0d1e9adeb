#!/bin/bash
# Conntrack under pressure, on one node: a table of 256 entries (xcnid
# --map-max xcni_ct=256) filled by bounded UDP traffic from one pod: evictions
# counted, an idle TCP flow of another pod goes on. A TCP flow whose entry is
# gone (evicted: here deleted the way eviction removes it, as the kernel's LRU
# spares entries a CPU made last until that CPU needs room) is judged again
# as a new flow on its next segment (bpf/lib/conntrack.h: a mid-stream pickup): it
# goes on while policy allows it and is dropped once policy no longer does,
# never passed unjudged. Evictions and pickups show in xcnictl metrics and on
# the Prometheus page.
#
# The direction flip (issue 26 item 5): b's UDP flow to a (a admits b on UDP
# 5353) loses its entry to c's flood; a's next datagram, in the reply
# direction, picks the flow up as a -> b (marked pickup); then policy revokes
# it both ways (a and b admit nothing). From then on neither end receives
# anything of that flow: after a policy change a picked-up flow's replies are
# judged again too. Positive controls: each datagram before the revocation.
#
#   netns <tag>-node: xcnid --manifests M --map-max xcni_ct=256 --map-grow 0 (a full
#     table, not grown: tests/integration/ctgrow.sh grows it) --metrics-addr
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (TCP 80 echo; admits b on TCP 80 only;
#                                            then UDP 5353 <-> b:40500)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (three long-lived TCP clients of a;
#                                            then UDP 40500 <-> a:5353)
#     xc<hash> ──veth── eth0  <tag>-c  x/c  (3000 UDP flows to b, per round)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init ctpressure 10.97.0 ctp
PORT=9974
SRV=
CLIENTS=()

PEERS=()

cleanup() {
	local p
	for p in "${CLIENTS[@]}" "${PEERS[@]}"; do kill "$p" 2>/dev/null; done
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
	--map-grow 0 --metrics-addr "127.0.0.1:$PORT" -v || { finish; exit 1; }
IP_A=$(pod_add a) && IP_B=$(pod_add b) && IP_C=$(pod_add c) || { not_ok "pods"; finish; exit 1; }
# -T: a connection whose FIN policy drops (the refused one) ends by itself.
ip netns exec "$XCT_TAG-a" socat -T 20 TCP-LISTEN:80,fork,reuseaddr SYSTEM:cat &
SRV=$!
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n'
	k_pod a x "$IP_A" "pod: a"
	k_pod b x "$IP_B" "pod: b"
	k_pod c x "$IP_C" "pod: c"
} | put pods.yaml
k_allow allow-b b a '{port: 80}' | put allow.yaml
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
deny_put deny "pod: a"
check "a admits nothing" sync_gen
drops0=$(ctm drop-policy-ingress)
check "b's third connection loses its entry" evict 3
check "... its next segment is judged again, denied: refused" test "$(result 3)" = fail
check "... counted drop-policy-ingress ($drops0 -> $(ctm drop-policy-ingress))" \
	test "$(ctm drop-policy-ingress)" -gt "$drops0"

# The direction flip. peer.py PORT DST DPORT TAG: bound to PORT, appends every
# datagram it receives to $T/TAG.got (one line each), sends N to DST:DPORT
# whenever $T/TAG.send.N appears; 90 s at most.
cat >"$T/peer.py" <<'EOF'
import glob, os, socket, sys, time
port, dst, dport, tag, tmp = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", port))
s.settimeout(0.05)
open(f"{tmp}/{tag}.up", "w").close()
end = time.time() + 90
while time.time() < end:
    try:
        d = s.recv(64)
        with open(f"{tmp}/{tag}.got", "a") as f:
            f.write(d.decode() + "\n")
    except socket.timeout:
        pass
    for t in glob.glob(f"{tmp}/{tag}.send.*"):
        s.sendto(t.rsplit(".", 1)[1].encode(), (dst, dport))
        os.unlink(t)
EOF
UPORT=40500
peer() { # peer POD PORT DST DPORT: in the background, on CPU 0 (see flood)
	ip netns exec "$XCT_TAG-$1" taskset -c 0 timeout 95 python3 "$T/peer.py" "$2" "$3" "$4" \
		"$1" "$T" &
	PEERS+=($!)
	for _ in $(seq 50); do [ -e "$T/$1.up" ] && return 0; sleep 0.1; done
	return 1
}
say() { touch "$T/$1.send.$2"; } # say POD N: POD sends N to its peer
got() { # got POD N: POD received N (within 2 s)
	for _ in $(seq 20); do grep -qx "$2" "$T/$1.got" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
never() { ! got "$@"; } # never POD N: POD did not receive N (2 s)
udp_flags() { # udp_flags SADDR SPORT: the flags of the UDP entry from there (fails: none)
	ctl ct list --json | jq -e -r --arg s "$1" --argjson p "$2" \
		'first(.[] | select(.proto == "udp" and .saddr == $s and .sport == $p)) | .flags // "-"'
}
udp_evict() { # b:UPORT -> a:5353's entry goes: to c's flood, or deleted as eviction does
	local key
	udp_flags "$IP_B" "$UPORT" >/dev/null || return 0
	echo "# the LRU spared the entry (its CPU's list had room): deleted as eviction does"
	key=$(python3 -c 'import socket, struct, sys
k = socket.inet_aton(sys.argv[1]) + socket.inet_aton(sys.argv[2]) + \
    struct.pack("!HH", int(sys.argv[3]), 5353) + bytes([17, 0, 0, 0])
print(" ".join("%02x" % b for b in k))' "$IP_B" "$IP_A" "$UPORT")
	# shellcheck disable=SC2086 # one word per byte
	bpftool map delete pinned "$PIN/xcni_ct" key hex $key && ! udp_flags "$IP_B" "$UPORT" >/dev/null
}
picked_up() { [[ $(udp_flags "$IP_A" 5353) == *pickup* ]]; }
flow_gone() { ! udp_flags "$IP_A" 5353 >/dev/null && ! udp_flags "$IP_B" "$UPORT" >/dev/null; }

rm -f "$M/deny.yaml"
k_allow allow-udp b a '{port: 5353, protocol: UDP}' | put allow-udp.yaml
check "a admits b on UDP 5353" sync_gen
check "UDP peers up: a on 5353, b on $UPORT" eval 'peer a 5353 "$IP_B" "$UPORT" && peer b "$UPORT" "$IP_A" 5353'
say b 1
check "b -> a UDP: a receives it" got a 1
say a 2
check "a -> b, its reply: b receives it" got b 2
check "c's flood fills the table again" flood 30000
check "b's UDP flow has lost its entry" udp_evict
say a 3
check "a -> b after the eviction: b receives it" got b 3
check "... the flow picked up the other way round, a -> b, marked pickup" picked_up
say b 4
check "b -> a, now the flow's reply direction: a receives it (before the revocation)" got a 4

rm -f "$M/allow-udp.yaml"
put deny-both.yaml <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-both, namespace: x}
spec: {podSelector: {matchExpressions: [{key: pod, operator: In, values: [a, b]}]}}
EOF
check "a and b admit nothing" sync_gen
drops0=$(ctm drop-policy-ingress)
say b 5
check "b -> a after the revocation: a receives nothing" never a 5
say a 6
check "a -> b after the revocation: b receives nothing" never b 6
say b 7
check "b -> a again: a receives nothing" never a 7
check "... the flow's entry is gone, both ways" flow_gone
check "the refusals counted drop-policy-ingress ($drops0 -> $(ctm drop-policy-ingress))" \
	test "$(ctm drop-policy-ingress)" -ge "$((drops0 + 3))"

# The agent's own sizes give way to a pinned map's (issue 67): restarted
# without --map-max, xcnid keeps the 256-entry table and its entries, rather
# than refusing it (a size it chose is no layout to defend) or making it again
# at this node's size (every flow lost).
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
# ... and a hash an older build preallocated (flags 0) is kept with its flags,
# not refused: its layout is this build's.
old_hash() {
	local p="$PIN/xcni_dns_srv" k v
	k=$(bpftool -j map show pinned "$p" | jq .bytes_key) && v=$(bpftool -j map show pinned "$p" | jq .bytes_value) &&
		rm -f "$p" && bpftool map create "$p" type hash key "$k" value "$v" entries 256 name xcni_dns_srv &&
		test "$(bpftool -j map show pinned "$p" | jq .flags)" = 0
}
check "xcni_dns_srv pinned again as an older build made it (preallocated)" old_hash
check "xcnid restarted without --map-max over the 256-entry table: ready" eval \
	'start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" \
	 --map-grow 0 --metrics-addr "127.0.0.1:$PORT" -v && wait_xcnid_ready'
check "... it kept the pinned table and said so" \
	grep -q "pinned map $PIN/xcni_ct: kept at 256 entries" "/tmp/xcnid-$XCT_TAG.log"
check "... and the preallocated xcni_dns_srv, with its flags" eval \
	'grep -q "pinned map $PIN/xcni_dns_srv: kept with its flags 0" "/tmp/xcnid-$XCT_TAG.log" &&
	 test "$(bpftool -j map show pinned "$PIN/xcni_dns_srv" | jq .flags)" = 0'
check "... xcni_ct holds 256 still" \
	test "$(page | awk '$1 == "xcni_map_max_entries{map=\"ct\"}" { print $2 }')" = 256
finish
