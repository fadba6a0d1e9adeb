#!/bin/bash
# NodePort SNAT that one outside client cannot exhaust (issue 52 item 4): one
# outside address fills a backend's SNAT ports (one datagram, or one SYN, from
# each source port) and floods the IPv6 SNAT state, while another outside
# address's new flows and its open IPv6 flow must keep working. The attacker's
# new tuples past its budget (xcni_snat_cl) are refused as drop-nat-client,
# named in xcnictl status and on the metrics page. A third address whose
# datagrams are all answered keeps its tuples: past --snat-client-max (100
# here) what it holds is refused, as xcnid's count of xcni_snat says (each
# flow confirmed by a second datagram after its answer: a tuple answered and
# never confirmed holds its port 5 s only, snat-per-client.md). Last, xcni_snat
# grows under this traffic (map-growth.md): a fourth address holds TCP
# connections through the NodePort, more outside addresses open UDP flows until
# n1's xcnid doubles xcni_snat by its fill, and every held connection must
# answer after the growth (a record lost is its connection lost: the next
# segment, no SYN, finds no tuple of its own).
#
#   netns xcl-out: 198.51.100.1, 2001:db8:100::1 the attacker (the lab's outside)
#                  198.51.100.4, 2001:db8:101::4 the other client (added here;
#                  .2 and .3 are the lab DNS names' outside addresses; IPv6
#                  charges a /64 as one client: another /64, routed by xcl-ul)
#                  198.51.100.5, 2001:db8:102::5 the client that holds (answered)
#                  198.51.100.6, 2001:db8:103::6 the client whose TCP connections
#                  are held across xcni_snat's growth; .20-.79 its fillers
#   xcl-n1 192.168.77.1, fd00:77::1 (the NodePort)   xcl-n2 (np/b, tell-peer)
#   np/cl  NodePort 30080/tcp -> np/b:8080, 30081/udp -> np/b:8081, 30082/tcp ->
#          np/b:9090 (this suite's echo, holding its connections), both families:
#          n1 SNATs to its own address and sends the flows to n2 in Geneve.
#
# The attacker's answers are dropped in xcl-out (iptables), as a host that
# forges or ignores them does: nothing of its own closes its tuples. Every
# node's conntrack is large enough for the whole range (xcni_ct 196608,
# xcni_ct6 98304), so what a flood takes is ports and SNAT state, not
# conntrack room; xcni_snat is made 4096 (--map-max) so the IPv6 flood that
# would push everyone's entries out is 28,000 datagrams (the LRU keeps an entry
# in use past a flood of twice its size), not 64,512.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/lib.sh"
lab_suite tenant-nat
MPORT=9969
A4=198.51.100.1 A6=2001:db8:100::1 # the attacker
V4=198.51.100.4 V6=2001:db8:101::4 # the other client
W4=198.51.100.5 W6=2001:db8:102::5 # the client that holds its tuples
HMAX=100                           # --snat-client-max
N1=192.168.77.1 N16=fd00:77::1
FLOOD6=28000

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
check "lab up --nodes 2 --kube-proxy none --ip-family dual (xcni_ct 196608, xcni_ct6 98304, xcni_snat 4096, --snat-client-max $HMAX)" \
	lab up --nodes 2 --kube-proxy none --ip-family dual \
	--agent-arg "--metrics-addr=127.0.0.1:$MPORT" --agent-arg "--snat-client-max=$HMAX" \
	--agent-arg "--map-max=xcni_ct=196608,xcni_ct6=98304,xcni_snat=4096" || { finish; exit 1; }
remember_pids
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: np}\n'
	tell_peer_pod np b n2
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: cl, namespace: np}\n'
	printf 'spec: {type: NodePort, ipFamilyPolicy: PreferDualStack, selector: {app: b}, ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}, {name: echo, port: 81, protocol: UDP, targetPort: echo, nodePort: 30081}, {name: hold, port: 82, targetPort: 9090, nodePort: 30082}]}\n'
} >"$T/np.yaml"
check "apply np/b (n2, tell-peer) and NodePort np/cl 30080/tcp, 30081/udp" lab apply -f "$T/np.yaml" ||
	{ finish; exit 1; }
remember_pids
check "the other clients' addresses $V4, $V6, $W4, $W6 on xcl-out" \
	bash -c "ip -n xcl-out addr add $V4/24 dev eth0 && ip -n xcl-out addr add $V6/64 dev eth0 nodad &&
		ip -n xcl-out addr add $W4/24 dev eth0 && ip -n xcl-out addr add $W6/64 dev eth0 nodad &&
		ip -n xcl-ul route add ${V6%::*}::/64 via $A6 && ip -n xcl-ul route add ${W6%::*}::/64 via $A6"
# The attacker's answers never reach a socket: no RST or port unreachable frees its tuples.
check "xcl-out drops what comes back to the attacker from the NodePort (iptables, ip6tables)" \
	bash -c "ip netns exec xcl-out iptables -A INPUT -d $A4 -p tcp --sport 30080 -j DROP &&
		ip netns exec xcl-out iptables -A INPUT -d $A4 -p udp --sport 30081 -j DROP &&
		ip netns exec xcl-out ip6tables -A INPUT -d $A6 -p udp --sport 30081 -j DROP"

# ask SRC DST PORT/PROTO [SPORT]: one new flow from SRC (its own source port,
# else SPORT) to the NodePort; what np/b answered ("" none).
ask() {
	ip netns exec xcl-out python3 - "$@" 2>/dev/null <<'PY'
import socket, sys
src, dst, pp = sys.argv[1:4]
port, proto = int(pp.split("/")[0]), pp.split("/")[1]
sport = int(sys.argv[4]) if len(sys.argv) > 4 else 0
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(1.5)
s.bind((src, sport))
try:
    s.connect((dst, port))
    if proto == "tcp":
        s.shutdown(socket.SHUT_WR)
    else:
        s.send(b"hello")
    print(s.recv(256).decode().strip())
except OSError:
    print("")
PY
}
# answers SRC DST PORT/PROTO N: N new flows from SRC, the distinct answers.
answers() {
	local i
	for i in $(seq "$4"); do ask "$1" "$2" "$3"; done | sed 's/^$/-/' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
expect() { # SRC DST PORT/PROTO N WANT WHAT
	local got
	got=$(answers "$1" "$2" "$3" "$4")
	check "$6 ($4 new flows $1 -> $2 $3: want '$5', got '$got')" test "$got" = "$5"
}
# flood KIND SRC DST DPORT FROM COUNT: one packet from each source port FROM..
# FROM+COUNT-1 (udp: a datagram, syn: a TCP SYN), raw from xcl-out, paced so
# that the veths' backlog (1000) drops none.
flood() {
	ip netns exec xcl-out python3 - "$@" <<'PY'
import socket, struct, sys, time
kind, src, dst, dport, first, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
v6 = ":" in dst
fam = socket.AF_INET6 if v6 else socket.AF_INET
s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP if kind == "syn" else socket.IPPROTO_UDP)
s.bind((src, 0))
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, 7, 16 if kind == "syn" else 6)  # IPV6_CHECKSUM: the kernel's
def csum(b):
    if len(b) % 2:
        b += b"\0"
    n = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while n >> 16:
        n = (n & 0xFFFF) + (n >> 16)
    return ~n & 0xFFFF
for i in range(count):
    sport = first + i
    if kind == "syn":
        seg = struct.pack("!HHIIBBHHH", sport, dport, i, 0, 5 << 4, 0x02, 64240, 0, 0)
        if not v6:
            ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(seg))
            seg = seg[:16] + struct.pack("!H", csum(ph + seg)) + seg[18:]
    else:
        seg = struct.pack("!HHHH", sport, dport, 8 + 8, 0) + b"flooding"
    s.sendto(seg, (dst, 0))
    if i % 256 == 255:
        time.sleep(0.001)
print(count)
PY
}
refused() { # N: node n<N>'s drop-nat-client packets, every direction (xcnictl metrics)
	in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" metrics --json |
		jq_ "sum(m['packets'] for m in d if m['reason'] == 'drop-nat-client')"
}

# ---- before: the other client's flows, and its IPv6 flow open -----------------------
expect "$V4" "$N1" 30080/tcp 2 "np/b $N1" "before: the other client's new TCP flows through n1 (SNAT to n1)"
expect "$V4" "$N1" 30081/udp 2 "np/b $N1" "before: its new UDP flows"
got=$(ask "$V6" "$N16" 30081/udp 45678)
check "before: the other client's IPv6 flow $V6:45678 -> [$N16]:30081/udp answered (got '$got')" \
	test "$got" = "np/b $N16"

# ---- one outside address holds answered tuples past --snat-client-max -----------------
# hold SRC DST PORT N FIRST: N datagrams from SRC, from ports FIRST..FIRST+N-1,
# to the NodePort (UDP), the sockets kept open; how many np/b answered. The
# ports are given: a port the kernel picked again would be an old tuple,
# answered by its record (seen: "got 1 answered of 5").
hold() {
	ip netns exec xcl-out python3 - "$@" <<'PY'
import select, socket, sys, time
src, dst, port, n, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
socks = []
for i in range(n):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, first + i))
    s.connect((dst, port))
    s.send(b"hold")
    socks.append(s)
    time.sleep(0.002)
got, end = set(), time.time() + 3
while len(got) < n and time.time() < end:
    for s in select.select([s for s in socks if s not in got], [], [], 0.2)[0]:
        s.recv(256)
        # A second datagram after the answer confirms the tuple: answered and
        # never confirmed, it would be free again after 5 s (xcni_snat_waited).
        s.send(b"held")
        got.add(s)
print(len(got))
PY
}
# held N ADDR: the held count xcni_snat_cl has for ADDR on node n<N> (bpftool).
held() {
	in_node "$1" bpftool -j map dump pinned "$LAB_PINS/n$1/xcni_snat_cl" | python3 -c '
import ipaddress, json, sys
want = ipaddress.ip_address(sys.argv[1]).packed[:8 if ":" in sys.argv[1] else 4]
for e in json.load(sys.stdin):
    k = bytes(int(b, 16) for b in e["key"])
    if k[:len(want)] == want and (len(want) == 8 or k[4:8] == bytes(4)):
        v = bytes(int(b, 16) for b in e["value"])
        print(int.from_bytes(v[16:20], "little"))' "$2"
}
held_is() { test "$(held 1 "$1")" = "$2"; }
for w in "$W4 $N1" "$W6 $N16"; do
	set -- $w
	got=$(hold "$1" "$2" 30081 $((HMAX + 40)) 20000)
	check "$1 keeps $((HMAX + 40)) answered UDP flows to $2:30081: $HMAX answered, past its $HMAX held refused (got $got)" \
		test "$got" = "$HMAX"
	# The count is xcnid's: set to 0 by hand, it is back within a walk (2 s).
	k=$(python3 -c 'import ipaddress, sys; a = ipaddress.ip_address(sys.argv[1]).packed
print(" ".join("%d" % b for b in (a[:8] if len(a) == 16 else a + bytes(4)) + bytes([10 if len(a) == 16 else 2, 0, 0, 0])))' "$1")
	in_node 1 bpftool map update pinned "$LAB_PINS/n1/xcni_snat_cl" key $k value $(printf '0 %.0s' $(seq 24))
	check "xcnid counts $1's $HMAX live records in xcni_snat again after its held was zeroed (a walk: 2 s)" \
		wait_until 20 held_is "$1" "$HMAX"
	got=$(hold "$1" "$2" 30081 5 21000)
	check "$1 still holds $HMAX: its new flows refused (got $got answered of 5)" test "$got" = 0
	expect "$V4" "$N1" 30081/udp 2 "np/b $N1" "meanwhile the other client's new UDP flows answered"
done

# ---- one outside address fills np/b's SNAT ports on n1 ------------------------------
# 28,232 datagrams and 28,232 SYNs: one from each port of the SNAT range
# (32768-60999), each the port n1 would give it first. Without a budget every
# port of np/b:8081/udp and np/b:8080/tcp is the attacker's for 60 s.
r0=$(refused 1)
t0=$(date +%s%N)
check "the attacker $A4 sends one datagram from each of 28,232 source ports to $N1:30081" \
	test "$(flood udp "$A4" "$N1" 30081 32768 28232)" = 28232
check "... and one SYN from each of them to $N1:30080" \
	test "$(flood syn "$A4" "$N1" 30080 32768 28232)" = 28232
diag "the floods took $((($(date +%s%N) - t0) / 1000000)) ms"
expect "$V4" "$N1" 30080/tcp 4 "np/b $N1" "during: the other client's new TCP flows still connect"
expect "$V4" "$N1" 30081/udp 4 "np/b $N1" "during: its new UDP flows still answered"
r1=$(refused 1)
check "n1 refused the attacker's new tuples past its budget as drop-nat-client ($r0 -> $r1: >= 40000 of 56,464)" \
	test "$((r1 - r0))" -ge 40000

# ---- one outside address floods the IPv6 SNAT state --------------------------------
check "the attacker $A6 sends one datagram from each of $FLOOD6 source ports to [$N16]:30081 (xcni_snat: 4096)" \
	test "$(flood udp "$A6" "$N16" 30081 32768 "$FLOOD6")" = "$FLOOD6"
got=$(ask "$V6" "$N16" 30081/udp 45678)
check "after: the other client's open IPv6 flow $V6:45678 is still answered (its xcni_snat entry kept; got '$got')" \
	test "$got" = "np/b $N16"
expect "$V6" "$N16" 30081/udp 2 "np/b $N16" "after: its new IPv6 flows answered"
r2=$(refused 1)
check "n1 refused the IPv6 flood past the /56's budget as drop-nat-client ($r1 -> $r2: >= $((FLOOD6 - 2000)))" \
	test "$((r2 - r1))" -ge $((FLOOD6 - 2000))

# ---- what the operator sees ------------------------------------------------------------
st=$(in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" status 2>&1)
echo "$st" | grep -E '^(NodePort SNAT|Drops)' | sed 's/^/#   /'
check "xcnictl status on n1: 'NodePort SNAT: N new tuples refused to outside clients over budget (drop-nat-client)', N = $r2" \
	grep -q "^NodePort SNAT: $r2 new tuples refused to outside clients over budget (drop-nat-client)" <<<"$st"
page=$(in_node 1 curl -s --max-time 10 "http://127.0.0.1:$MPORT/metrics")
check "n1's metrics page: xcni_nodeport_snat_refused_total $r2" \
	grep -qx "xcni_nodeport_snat_refused_total $r2" <<<"$page"

# ---- xcni_snat doubled online under NodePort SNAT traffic ------------------------------
# 40 TCP connections a family from H to n1's NodePort 30082, SNATed to np/b's echo on
# n2 and held; then outside addresses .20 on open 250 UDP flows each to 30081 (the
# budget's burst is 256) until n1's xcnid decides to double xcni_snat by its fill
# (at most 60 addresses; each record a flow). After the growth each held
# connection sends again and must hear its echo.
H4=198.51.100.6 H6=2001:db8:103::6
t0=$(date +%s%N)
cat >"$T/echo.py" <<'PY'
import socket, socketserver
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while d := self.request.recv(64):
            self.request.sendall(d)
class Server(socketserver.ThreadingTCPServer):  # both families: one IPv6 socket
    address_family, allow_reuse_address, daemon_threads = socket.AF_INET6, True, True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
Server(("::", 9090), Echo).serve_forever()
PY
# held.py SRC4 SRC6 DST4 DST6 PORT N TMP: N connections a family, each echoed once,
# held until TMP/go, then each must echo again: TMP/held.res "ok N fail M".
cat >"$T/held.py" <<'PY'
import os, socket, sys, time
s4, s6, d4, d6, port, n, tmp = sys.argv[1:5] + [int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]]
def echoes(s, b):
    try:
        s.sendall(b)
        return s.recv(1) == b
    except OSError:
        return False
socks, fail = [], 0
for i in range(n):
    for src, dst in ((s4, d4), (s6, d6)):
        s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.bind((src, 0))
            s.connect((dst, port))
        except OSError:
            pass
        socks.append(s)
up = sum(echoes(s, b"a") for s in socks)
open(f"{tmp}/held.up", "w").write(f"{up}\n")
end = time.time() + 120
while not os.path.exists(f"{tmp}/go") and time.time() < end:
    time.sleep(0.05)
ok = sum(echoes(s, b"b") for s in socks)
open(f"{tmp}/held.res", "w").write(f"ok {ok} fail {len(socks) - ok}\n")
PY
"$XCNICTL" lab exec np/b -- /usr/bin/python3 "$T/echo.py" & # not lab(): $! is the echo itself
ECHO=$!
MINE+=("$ECHO")
check "outside addresses $H4, $H6 and 60 fillers (198.51.100.20-79) on xcl-out; np/b echoes on 9090" \
	bash -c "ip -n xcl-out addr add $H4/24 dev eth0 && ip -n xcl-out addr add $H6/64 dev eth0 nodad &&
		ip -n xcl-ul route add ${H6%::*}::/64 via $A6 &&
		for i in \$(seq 20 79); do ip -n xcl-out addr add 198.51.100.\$i/24 dev eth0 || exit 1; done &&
		ip netns exec xcl-out iptables -A INPUT -m iprange --dst-range 198.51.100.20-198.51.100.79 -p udp --sport 30081 -j DROP"
ip netns exec xcl-out /usr/bin/python3 "$T/held.py" "$H4" "$H6" "$N1" "$N16" 30082 40 "$T" &
HOLD=$!
MINE+=("$HOLD")
check "$H4 and $H6 hold 40 TCP connections each through $N1:30082 and [$N16]:30082 to np/b, each echoed" \
	wait_until 20 grep -qx 80 "$T/held.up"
n1log=$XCNI_LAB_DIR/n1/xcnid.log
decided() { grep -c "map xcni_snat: .* doubling it" "$n1log"; }
d0=$(decided) g0=$(grep -c "map xcni_snat grew" "$n1log") r0=$(grep -c "xcnid: ready" "$n1log")
snat_max=$(in_node 1 bpftool -j map show pinned "$LAB_PINS/n1/xcni_snat" | jq .max_entries)
fillers=0
for i in $(seq 20 79); do
	[ "$(decided)" -gt "$d0" ] && break
	flood udp "198.51.100.$i" "$N1" 30081 20000 250 >/dev/null
	fillers=$((fillers + 1))
	sleep 0.5
done
check "n1's xcnid decides to double xcni_snat ($snat_max entries) by its fill: $fillers fillers, 250 UDP flows each" \
	wait_until 10 bash -c "[ \$(grep -c 'map xcni_snat: .* doubling it' $n1log) -gt $d0 ]"
grew_again() { [ "$(grep -c "map xcni_snat grew" "$n1log")" -gt "$g0" ] && [ "$(grep -c "xcnid: ready" "$n1log")" -gt "$r0" ]; }
check "... grown online and taken over" wait_until 30 grew_again
grep -h "map xcni_snat" "$n1log" | tail -n 3 | sed 's/^/# /'
check "... xcni_snat is larger than $snat_max now" \
	test "$(in_node 1 bpftool -j map show pinned "$LAB_PINS/n1/xcni_snat" | jq .max_entries)" -gt "$snat_max"
# The held connections' SNAT records in the grown map (their flows go on by their
# conntrack entries alone: only the records show a record lost).
recs() { # recs ADDR: n1's xcni_snat records whose client is ADDR
	in_node 1 bpftool -j map dump pinned "$LAB_PINS/n1/xcni_snat" | python3 -c '
import ipaddress, json, sys
a = ipaddress.ip_address(sys.argv[1]).packed
print(sum(bytes(int(b, 16) for b in e["value"][:len(a)]) == a for e in json.load(sys.stdin)))' "$1"
}
check "... the 80 held connections' records copied into it ($H4: $(recs "$H4"), $H6: $(recs "$H6"); want 40 each)" \
	test "$(recs "$H4") $(recs "$H6")" = "40 40"
touch "$T/go"
wait "$HOLD"
check "each of the 80 held connections answered after the growth ($(cat "$T/held.res"))" \
	grep -qx "ok 80 fail 0" "$T/held.res"
kill "$ECHO" && wait "$ECHO" 2>/dev/null
diag "the growth's part of this suite took $((($(date +%s%N) - t0) / 1000000)) ms"

lab_down_checked
finish
