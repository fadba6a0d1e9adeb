#!/bin/bash
# xcnid's IPFIX export read by real collectors (issue 38): Debian's nfcapd
# receives the records of known traffic between two pods and nfdump's totals
# equal what was sent (connections, packets and bytes, the packets and bytes
# as the pod's own interface counted them); each connection is one record
# when it ends (TCP: end of flow; denied UDP: idle timeout), a longer one
# active-timeout records whose deltas add up; the denied ones are marked
# (forwardingStatus 129, as tshark reads it; nfdump 1.7.1 reads no IE 89 in
# IPFIX, later ones do and are checked then); tshark decodes the capture of
# the same export without a malformed packet and names xcni's elements from
# their RFC 5610 type records.
#
#   netns <tag>-node: xcnid --flows --ipfix udp://127.0.0.1:4739
#                     nfcapd -b 127.0.0.1 -p 4739, tshark -i lo (udp port 4739)
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (ingress: TCP 80 and UDP 7777 from b)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (20 TCP, 1 UDP allowed, 5 UDP and 1 TCP denied)
#
# Everything runs inside namespaces this suite creates, under its own pin dir.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

NODE=$XCT_TAG-node
PIN=/sys/fs/bpf/$XCT_TAG
T=$(mktemp -d /tmp/xcni-ipfix.XXXXXX)
M=$T/manifests
SUBNET=10.97.0
PORT=4739
NF_PID= CAP_PID=
BG=() # the pods' servers, killed by PID on exit
mkdir -p "$M" "$T/nf"
N_TCP=20 N_DENY=5
# The exporter's options (IPFIX_ARGS: an older xcnid's, to see it fail).
read -r -a IPFIX_ARGS <<<"${IPFIX_ARGS:---ipfix-idle-timeout 2 --ipfix-active-timeout 15}"

cni() { # cni COMMAND POD
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="ipx-$2" \
		CNI_NETNS="/var/run/netns/$XCT_TAG-$2" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <"$T/net.json"
}
ctl() { nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }
inpod() { local p=$1; shift; ip netns exec "$XCT_TAG-$p" "$@"; }

stop_pid() { # stop_pid PID: SIGTERM, and wait for it
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	local p
	for p in "${BG[@]}"; do stop_pid "$p"; done
	for p in a b; do
		[ -e "/var/run/netns/$XCT_TAG-$p" ] && cni DEL "$p" >/dev/null 2>&1
		ip netns del "$XCT_TAG-$p" 2>/dev/null
	done
	stop_xcnid
	stop_pid "$NF_PID"
	stop_pid "$CAP_PID"
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

command -v nfcapd >/dev/null && command -v nfdump >/dev/null && command -v tshark >/dev/null || {
	not_ok "nfcapd, nfdump and tshark installed (scripts/install-deps.sh)"
	finish
	exit 1
}

cat >"$T/net.json" <<EOF
{"cniVersion":"1.0.0","name":"xcni-ipfix","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET.0/24"}]],"dataDir":"$T/ipam"}}
EOF

# Options that need --ipfix are refused without it.
for o in "--ipfix-active-timeout 5" "--ipfix-idle-timeout 5" "--ipfix-all-nodes"; do
	# shellcheck disable=SC2086 # the option and its value
	"$BUILD/xcnid" --pin-dir "$PIN-bad" --flows $o --once >/dev/null 2>"$T/bad.log"
	rc=$?
	check "xcnid $o without --ipfix: exit 2, says to give --ipfix" \
		bash -c "test $rc = 2 && grep -q 'give --ipfix URL too' $T/bad.log && ! test -e $PIN-bad"
done
"$BUILD/xcnid" --pin-dir "$PIN-bad" --ipfix udp://127.0.0.1:1 --ipfix-active-timeout 0 --once \
	>/dev/null 2>"$T/bad.log"
rc=$?
check "xcnid --ipfix-active-timeout 0: exit 2 naming it" \
	bash -c "test $rc = 2 && grep -q 'ipfix-active-timeout' $T/bad.log && ! test -e $PIN-bad"
"$BUILD/xcnid" --pin-dir "$PIN-bad" --ipfix udp://127.0.0.1:1 --flow-log-interval 1 --once \
	>/dev/null 2>"$T/bad.log"
rc=$?
check "xcnid --ipfix URL --flow-log-interval 1 (no --flow-log): exit 2, the interval is the log's" \
	bash -c "test $rc = 2 && grep -q 'flow-log-interval is the flow log' $T/bad.log && ! test -e $PIN-bad"

ip netns add "$NODE" && ip -n "$NODE" link set lo up
# The collector and the capture first: they see the export from its first message.
nsenter --net="/var/run/netns/$NODE" nfcapd -b 127.0.0.1 -p $PORT -w "$T/nf" -B 4194304 \
	>"$T/nfcapd.log" 2>&1 &
NF_PID=$!
nsenter --net="/var/run/netns/$NODE" tshark -q -i lo -f "udp port $PORT" -w "$T/cap.pcapng" \
	>"$T/tshark.log" 2>&1 &
CAP_PID=$!
for _ in $(seq 100); do grep -q "Capturing on" "$T/tshark.log" 2>/dev/null && break; sleep 0.1; done
check "nfcapd and tshark listening in the node's netns" \
	bash -c "kill -0 $NF_PID && kill -0 $CAP_PID && grep -q 'Capturing on' $T/tshark.log"

XCNID_NETNS=$NODE
check "xcnid started with --ipfix udp://127.0.0.1:$PORT ${IPFIX_ARGS[*]}" \
	start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" \
	--ipfix "udp://127.0.0.1:$PORT" "${IPFIX_ARGS[@]}" ||
	{ finish; exit 1; }
for p in a b; do
	ip netns add "$XCT_TAG-$p" && ip -n "$XCT_TAG-$p" link set lo up
	cni ADD "$p" >"$T/$p.json" || { not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
	# No IPv6 chatter (router or neighbour solicitations) in the counts below.
	inpod "$p" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.eth0.disable_ipv6=1
done
IP_A=$(jq -r '.ips[0].address' "$T/a.json" | cut -d/ -f1)
IP_B=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)

{
	k_ns x
	k_pod a x "$IP_A" 'pod: a'
	k_pod b x "$IP_B" 'pod: b'
	k_allow web b a '{protocol: TCP, port: 80}, {protocol: UDP, port: 7777}'
} | put state.yaml
check "pods and a policy applied" sync_gen
# ARP once, then the gateway's address pinned in both pods: the interfaces'
# counters below are the test's traffic and nothing else.
check "a pings b" inpod a ping -c1 -W2 "$IP_B"
pin_gw() {
	local p=$1 gw mac
	gw=$(ip -n "$XCT_TAG-$p" -4 route show default | awk '{print $3; exit}')
	mac=$(ip -n "$XCT_TAG-$p" neigh show "$gw" dev eth0 | awk '{print $3; exit}')
	[ -n "$gw" ] && [ -n "$mac" ] || { echo "pod $p: gateway $gw, its MAC '$mac'"; return 1; }
	ip -n "$XCT_TAG-$p" neigh replace "$gw" lladdr "$mac" dev eth0 nud permanent
}
check "the gateway's MAC pinned in both pods" bash -c "$(declare -f pin_gw); XCT_TAG=$XCT_TAG; pin_gw a && pin_gw b"

# a's servers: TCP 80 (reads 100 bytes, answers 200, closes), UDP 7777 (echo).
cat >"$T/server.py" <<'EOF'
import socket, sys, threading
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("", 7777))
    while True:
        d, a = u.recvfrom(2048)
        u.sendto(d, a)
threading.Thread(target=udp, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 80))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    got = b""
    while len(got) < 100:
        d = c.recv(100 - len(got))
        if not d:
            break
        got += d
    c.sendall(b"r" * 200)
    c.close()
EOF
# Not through inpod (a function: $! would be the subshell's, and the server
# outlived it holding tests/run.sh's lock fd): ip execs the server itself.
ip netns exec "$XCT_TAG-a" /usr/bin/python3 "$T/server.py" >"$T/server.out" 2>&1 9>&- &
BG+=($!)
for _ in $(seq 50); do grep -q ready "$T/server.out" && break; sleep 0.1; done

counters() { # counters POD: "packets bytes" its eth0 sent and received
	inpod "$1" sh -c 'cd /sys/class/net/eth0/statistics && echo $(($(cat tx_packets) + $(cat rx_packets))) $(($(cat tx_bytes) + $(cat rx_bytes)))'
}
read -r P0 B0 < <(counters b)
# The UDP flow to 7777 is open 17 s, past the active timeout (15 s): a record
# on the way (active timeout), and one when xcnid stops (forced end). The TCP
# connections end meanwhile, 10 s after their FIN (conntrack's close
# lifetime), the denied flows 2 s after their last packet (idle timeout).
cat >"$T/client.py" <<EOF
import socket, time
a = "$IP_A"
t0 = time.monotonic()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("", 41000))
u.settimeout(2)
def burst():
    for i in range(3):
        u.sendto(b"u" * 300, (a, 7777))
        u.recv(2048)
burst()
for i in range($N_TCP):
    s = socket.create_connection((a, 80), timeout=5)
    s.sendall(b"q" * 100)
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    assert len(got) == 200, len(got)
    s.close()
for i in range($N_DENY):
    d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    d.bind(("", 42000 + i))
    for j in range(2):
        d.sendto(b"d" * 50, (a, 9999))
    d.close()
# A connection nothing allows: its SYN dropped, sent again once.
t = socket.socket()
t.bind(("", 43000))
t.settimeout(1.5)
try:
    t.connect((a, 8080))
except OSError:
    pass
t.close()
time.sleep(max(0, 17 - (time.monotonic() - t0)))
burst()
print("sent")
EOF
check "b: $N_TCP TCP connections to a:80 (100 bytes, 200 back), 3 + 3 UDP datagrams echoed on a:7777 17 s apart, $N_DENY denied UDP flows to a:9999, a denied TCP connection to a:8080" \
	bash -c "ip netns exec $XCT_TAG-b /usr/bin/python3 $T/client.py | grep -q sent"
sleep 0.5
read -r P1 B1 < <(counters b)
SENT_P=$((P1 - P0)) SENT_B=$((B1 - B0))
N_CONN=$((N_TCP + 1 + N_DENY + 1))

records() { ctl flows --json --last 1 -v 2>&1 >/dev/null | grep -o '"ipfix_records":[0-9]*' | cut -d: -f2; }
exported() {
	local n
	for _ in $(seq 20); do
		n=$(records)
		[ "${n:-0}" -ge $((N_CONN)) ] && return 0
		sleep 0.5
	done
	echo "ipfix_records ${n:-none}, want >= $N_CONN"
	return 1
}
check "xcnid exported a record for every connection as it ended" exported
# Stopping xcnid ends what is left (the UDP flow: forced end); nfcapd writes its file on SIGTERM.
stop_xcnid
sleep 0.5
stop_pid "$NF_PID"
NF_PID=
stop_pid "$CAP_PID"
CAP_PID=
# nfcapd rotates its file every 5 minutes: a run across a boundary leaves two,
# and the records are in both (reading the first alone lost the later ones).
NF=$(ls "$T"/nf/nfcapd.* 2>/dev/null | grep -v current | head -1)
check "nfcapd wrote its file" test -s "$NF"
NF="$T/nf"
check "nfcapd: no sequence errors, no bad packets" \
	bash -c "grep 'Sequence Errors' $T/nfcapd.log; grep -q 'Sequence Errors: 0, Bad Packets: 0' $T/nfcapd.log"

FLT="proto tcp or proto udp" # the ping above is ICMP
nfd() { nfdump -R "$NF" -q "$@" "$FLT"; }
n=$(nfd -A proto,srcip,srcport,dstip,dstport -o "fmt:%pr" | wc -l)
check "nfdump: $N_CONN connections (records aggregated by their 5-tuple; got $n)" test "$n" = "$N_CONN"
read -r np nb < <(nfd -o "fmt:%pkt %opkt %byt %obyt" | awk '{p += $1 + $2; b += $3 + $4} END {print p + 0, b + 0}')
nfdump -R "$NF" -o "fmt:%ts %pr %sap -> %dap %pkt %opkt %byt %obyt" "$FLT" >"$T/records.txt"
check "nfdump: the packets of all records, both ways ($np), are those b's eth0 sent and received ($SENT_P)" \
	bash -c "test $np = $SENT_P || { cat $T/records.txt; false; }"
check "nfdump: and their bytes ($nb) too ($SENT_B)" test "$nb" = "$SENT_B"
n=$(nfd -o "fmt:%pr %dp" | awk '$1 == "TCP" && $2 == 80' | wc -l)
check "nfdump: each TCP connection is one record ($n of $N_TCP)" test "$n" = "$N_TCP"
nfdump -R "$NF" -o raw "$FLT" >"$T/raw.txt"
n=$(awk '/proto *=/ {p = $3} /end reason/ && p == 6 && /end of Flow/ {n++} END {print n + 0}' "$T/raw.txt")
check "nfdump: the TCP records' end reason is end of flow (3): $n of $N_TCP" test "$n" = "$N_TCP"
read -r n pk < <(nfd -o "fmt:%sp %dp %pkt %opkt" | awk '$1 == 41000 && $2 == 7777 {n++; p += $3 + $4} END {print n + 0, p + 0}')
check "nfdump: the UDP flow to 7777 is 2 records (active timeout, then xcnid stopped) whose deltas add up to 6 + 6 packets (got $n, $pk)" \
	test "$n" = 2 -a "$pk" = 12
n=$(awk '/src port *= *41000$/ {u = 1} u && /end reason/ {print $4; u = 0}' "$T/raw.txt" | sort | tr '\n' ' ')
check "nfdump: their end reasons are active timeout (2) and forced end (4): $n" test "$n" = "0x02 0x04 "
n=$(nfd -o "fmt:%dp %pkt %opkt" | awk '$1 == 9999 && $2 == 2 && $3 == 0' | wc -l)
check "nfdump: $N_DENY denied flows to 9999, 2 packets each and no reply ($n)" test "$n" = "$N_DENY"
n=$(awk '/dst port *= *9999$/ {d = 1} d && /end reason/ {print $4; d = 0}' "$T/raw.txt" | sort -u)
check "nfdump: ... ended by the idle timeout (1): $n" test "$n" = "0x01"
# IPFIX's forwardingStatus: nfdump reads it from 1.7.2 on (Debian 12 has
# 1.7.1, whose IPFIX table has no IE 89: docs/ipfix.md, "nfdump 1.7.1's %fwd").
# What 1.7.1 shows is checked too, the records being the ones tshark reads
# 129 in below: the proof that it is nfdump's, not the export's.
nfdump -R "$NF" -q -o "fmt:%pr %sap -> %dap %pkt %opkt %fwd" "dst port 9999" >"$T/fwd.txt"
if nfdump -V | grep -qE '1\.7\.[01]$'; then
	n=$(awk '$NF == 0' "$T/fwd.txt" | wc -l)
	check "nfdump $(nfdump -V | awk '{print $NF}') %fwd: 0 on the $N_DENY denied flows (it reads no IE 89 in IPFIX; tshark reads 129 in the same messages below): $n" \
		test "$n" = "$N_DENY"
else
	n=$(awk '$NF == 129' "$T/fwd.txt" | wc -l)
	check "nfdump %fwd: the $N_DENY denied flows 129 (dropped, ACL deny): $n" test "$n" = "$N_DENY"
fi

# tshark: the same export, dissected as IPFIX.
tsh() { tshark -r "$T/cap.pcapng" -d "udp.port==$PORT,cflow" "$@" 2>&1; }
tsh -V >"$T/decode.txt"
check "tshark decodes every message: no malformed packet, no expert error" \
	bash -c "! grep -qiE 'malformed|\\[Expert Info \\((Error|Warning)' $T/decode.txt && grep -q 'Cisco NetFlow/IPFIX' $T/decode.txt"
m=$(grep -c 'ForwardingStatusDropCode: Drop ACL Deny' "$T/decode.txt")
check "tshark: the $((N_DENY + 1)) denied flows' forwardingStatus is dropped, ACL deny (129) (got $m)" test "$m" = "$((N_DENY + 1))"
n=$(grep -c 'ForwardingStatusForwardCode: Forwarded' "$T/decode.txt")
check "tshark: the others' forwarded (64): $((N_TCP + 2)) or more (got $n)" test "$n" -ge $((N_TCP + 2))
# Record by record: every flow record (templates 257/258: both fields; the
# RFC 5610 records have neither, so a message's lists pair up) of a flow to
# 9999 says dropped (2), every other one forwarded (1); the drop codes (one
# a dropped record) are all ACL deny (1): 129.
# (Not tsh: its 2>&1 would put tshark's "Running as user root" among the records.)
tshark -r "$T/cap.pcapng" -d "udp.port==$PORT,cflow" -T fields -E occurrence=a -E aggregator=' ' \
	-e cflow.dstport -e cflow.forwarding_status -e cflow.forwarding_status_drop_code \
	-Y cflow.forwarding_status >"$T/fwd-tshark.txt" 2>/dev/null
read -r dropped fwd wrong codes < <(awk -F'\t' '{
	np = split($1, port, " "); split($2, st, " "); nc = split($3, code, " ")
	for (i = 1; i <= np; i++) {
		if ((port[i] == 9999 || port[i] == 8080) && st[i] == 2) d++
		else if (port[i] != 9999 && port[i] != 8080 && st[i] == 1) f++
		else w++
	}
	for (i = 1; i <= nc; i++) if (code[i] == 1) c++; else w++
} END {print d + 0, f + 0, w + 0, c + 0}' "$T/fwd-tshark.txt")
check "tshark, record by record: the $N_DENY flows to 9999 and the one to 8080 dropped ($dropped), the others forwarded ($fwd: $((N_TCP + 2)) and the ping's), none else ($wrong), every drop code ACL deny ($codes)" \
	test "$dropped" = "$((N_DENY + 1))" -a "$fwd" -ge $((N_TCP + 2)) -a "$wrong" = 0 -a "$codes" = "$((N_DENY + 1))"
# The denied connection to 8080 as each tool reads it: nfdump 1.7.1 its
# SYN (tcpControlBits, %flg) and no reply; tshark its SYN and its verdict
# (forwardingStatus 129) in the same record.
nfdump -R "$NF" -q -o "fmt:%pr %sap -> %dap %flg %pkt %opkt %fwd" "dst port 8080" >"$T/syn.txt"
read -r n fl < <(awk '$2 ~ /:43000$/ {n++; f = $5} END {print n + 0, f}' "$T/syn.txt")
check "nfdump: the denied connection to 8080 is one record, TCP flags '$fl' (the SYN; no ACK), its packets one way only" \
	bash -c "test $n = 1 && [[ '$fl' == *S* && '$fl' != *A* ]] && awk '\$6 >= 1 && \$7 == 0' $T/syn.txt | grep -q . || { cat $T/syn.txt; false; }"
tshark -r "$T/cap.pcapng" -d "udp.port==$PORT,cflow" -T fields -E occurrence=a -E aggregator=' ' \
	-e cflow.dstport -e cflow.forwarding_status -e cflow.tcpflags.syn -e cflow.tcpflags.ack \
	-Y "cflow.dstport == 8080" >"$T/syn-tshark.txt" 2>/dev/null
read -r n syn < <(awk -F'\t' '{
	np = split($1, port, " "); split($2, st, " "); split($3, s, " "); split($4, a, " ")
	for (i = 1; i <= np; i++) if (port[i] == 8080) { n++; if (st[i] == 2 && (s[i] == 1 || s[i] == "True") && (a[i] == 0 || a[i] == "False")) ok++ }
} END {print n + 0, ok + 0}' "$T/syn-tshark.txt")
check "tshark: the denied connection to 8080: dropped (forwardingStatus 2, ACL deny) with SYN and no ACK in tcpControlBits, in each of its records ($syn of $n)" \
	bash -c "test $n -ge 1 -a $syn = $n || { cat $T/syn-tshark.txt; false; }"

# What the two tools show (docs/ipfix.md quotes them).
{
	echo "nfdump -o 'fmt:%pr %sap -> %dap %pkt %opkt %fwd' 'dst port 9999' (a denied record):"
	head -1 "$T/fwd.txt"
	echo "tshark -T fields -e cflow.dstport -e cflow.forwarding_status -e cflow.forwarding_status_drop_code (its message):"
	grep -m1 9999 "$T/fwd-tshark.txt"
	echo "nfdump -o fmt:... (a TCP, the UDP and a denied record):"
	grep -m1 ' TCP ' "$T/records.txt"
	grep ':41000 ' "$T/records.txt"
	grep -m1 ':9999 ' "$T/records.txt"
	echo "nfdump -o 'fmt:%pr %sap -> %dap %flg %pkt %opkt %fwd' 'dst port 8080' (the denied connection):"
	cat "$T/syn.txt"
	echo "tshark -T fields -e cflow.dstport -e cflow.forwarding_status -e cflow.tcpflags.syn -e cflow.tcpflags.ack (its message):"
	head -1 "$T/syn-tshark.txt"
	echo "tshark -T fields -e cflow.srcaddr -e cflow.dstport -e cflow.forwarding_status -e cflow.forwarding_status_drop_code -e cflow.flow_end_reason (a denied record):"
	tshark -r "$T/cap.pcapng" -d "udp.port==$PORT,cflow" -T fields -e cflow.srcaddr -e cflow.dstport -e cflow.forwarding_status -e cflow.forwarding_status_drop_code -e cflow.flow_end_reason -Y "cflow.dstport == 9999" 2>/dev/null | head -1 | cut -d, -f1-3
	grep -m3 -E 'ForwardingStatus.*Drop|Information Element Name: xcniVerdict' "$T/decode.txt"
} | sed 's/^/# /'
names=$(tsh -T fields -e cflow.information_element_name | tr ',' '\n' | grep '^xcni' | sort -u | paste -sd' ')
check "tshark: RFC 5610 type records name xcni's 14 elements ($names)" \
	bash -c "test \$(echo '$names' | wc -w) = 14 && echo '$names' | grep -q xcniVerdict && echo '$names' | grep -q xcniPolicyName"

finish
