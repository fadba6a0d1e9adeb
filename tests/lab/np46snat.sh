# The SNAT pass of tests/lab/np46.sh (sourced by it, after its helpers):
# IPv4 NodePorts at n1, a node of both families, whose backend np/b is on
# n2, an IPv6-only node: SNATed to n1's IPv4 and sent in Geneve over IPv6;
# the externalIP, an ICMP error and path MTU; then np/a, the local backend.
# Drawing and the list of checks: np46.sh's header.
# shellcheck shell=bash

# ---- the remote backend, over the IPv6 underlay ---------------------------------------
pcap_start xcl-ul br0 'udp port 6081 or port 30080 or port 30081 or port 30082 or icmp' "$T/ul.pcap"
CAP_UL=$CAP
MINE+=("$CAP_UL")
tx0=$(tx 1 fd00:77::2) rx0=$(rx 1 fd00:77::2) x0=$(npa 1 xdp4_packets)
check "outside -> n1 $N1:30080/tcp (backend on n2): np/b saw $N1 (SNAT to n1's IPv4)" \
	expect_answer n1 30080/tcp "np/b $N1"
check "outside -> n1 $N1:30081/udp: np/b saw $N1" expect_answer n1 30081/udp "np/b $N1"
# The externalIP, routed by the underlay's router to n1 (as tests/lab/nodeport.sh does).
ip -n xcl-ul route replace "$EIP/32" via "$N1" dev br0
got=$(ip netns exec xcl-out python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 82), timeout=2)
s.shutdown(socket.SHUT_WR)
print(s.recv(256).decode().strip())' "$EIP" 2>/dev/null)
check "outside -> externalIP $EIP:82/tcp (routed to n1): np/b saw $N1 (got '$got')" test "$got" = "np/b $N1"
# An ICMP error from np/b's node about the SNATed flow: a UDP datagram to
# 30082 (np/b's 9999, where nothing listens), port unreachable from np/b,
# through n2's Geneve over IPv6 back to n1, which gives the client the
# error from the NodePort, quoting its own datagram: the client's connected
# socket takes it (ECONNREFUSED).
icmp=$(ip netns exec xcl-out python3 -c '
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.connect((sys.argv[1], 30082))
for _ in range(3):
    s.send(b"closed?")
    try:
        s.recv(256)
        print("answered"); sys.exit(0)
    except ConnectionRefusedError:
        print("refused"); sys.exit(0)
    except socket.timeout:
        pass
print("nothing")' "$N1" 2>&1)
check "outside -> n1:30082/udp (np/b:9999, nothing listens): port unreachable reaches the client's socket (got '$icmp')" \
	test "$icmp" = refused
# Path MTU over the IPv6 underlay: 1430 bytes of IPv4 (DF) are 1500 with
# Geneve over IPv6 and pass; 1431 are answered with fragmentation needed,
# next-hop MTU 1430, which the client's kernel takes (IP_MTU).
pmtu=$(ip netns exec xcl-out python3 -c '
import socket, sys
IP_MTU_DISCOVER, IP_PMTUDISC_DO, IP_MTU = 10, 2, 14
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
s.settimeout(1.5)
s.connect((sys.argv[1], 30081))
out = []
for size in (1430, 1431):
    try:
        s.send(b"x" * (size - 28))
        out.append(s.recv(256).decode().strip().replace(" ", "_"))
    except OSError as e:
        out.append(type(e).__name__ if not e.errno else "errno%d" % e.errno)
out.append(str(s.getsockopt(socket.IPPROTO_IP, IP_MTU)))
print(" ".join(out))' "$N1" 2>&1)
check "path MTU: 1430 bytes DF to n1:30081/udp answered by np/b, 1431 get fragmentation needed (EMSGSIZE), the client's path MTU then $MTU46 (got '$pmtu')" \
	test "$pmtu" = "np/b_$N1 errno90 $MTU46"
CAP=$CAP_UL; pcap_stop "$T/ul.pcap"
tx1=$(tx 1 fd00:77::2) rx1=$(rx 1 fd00:77::2) x1=$(npa 1 xdp4_packets)
check "n1's tunnel to fd00:77::2 counted the requests and the answers (tx $tx0 -> $tx1, rx $rx0 -> $rx1: >= 6 more each)" \
	bash -c "[ $tx1 -ge $((tx0 + 6)) ] && [ $rx1 -ge $((rx0 + 6)) ]"
# The capture: the outer Ethernet type first (0x86dd IPv6, 0x0800 IPv4), the
# outer then inner addresses (ip.* is the inner IPv4 alone under IPv6).
tshark -n -r "$T/ul.pcap" -Y geneve -T fields -E separator=' ' -e eth.type -e ipv6.src -e ipv6.dst \
	-e ip.src -e ip.dst -e tcp.dstport -e udp.dstport -e tcp.srcport 2>/dev/null >"$T/geneve.txt"
sort "$T/geneve.txt" | uniq -c | sort -rn | head -8 | sed 's/^/#   /'
check "dumpcap on the switch: the request in Geneve over IPv6, outer fd00:77::1 -> fd00:77::2, inner $N1 -> $B:8080" \
	grep -Eq "^0x86dd,0x0800 fd00:77::1 fd00:77::2 $N1 $B 8080 " "$T/geneve.txt"
check "  ... np/b's answer: outer fd00:77::2 -> fd00:77::1, inner $B:8080 -> $N1" \
	grep -Eq "^0x86dd,0x0800 fd00:77::2 fd00:77::1 $B $N1 [0-9]+ 6081(,[0-9]+)? 8080\$" "$T/geneve.txt"
check "  ... every Geneve frame on the switch has an outer IPv6 header ($(wc -l <"$T/geneve.txt") frames), none IPv4" \
	awk 'NR > 0 && $1 !~ /^0x86dd,/ {bad = 1} END {exit bad || NR < 6}' "$T/geneve.txt"
# The outer Ethernet type of every UDP 6081 frame (the first eth.type: a
# frame tshark would not call Geneve too), counted by type.
tshark -n -r "$T/ul.pcap" -Y 'udp.port == 6081' -T fields -e eth.type 2>/dev/null | cut -d, -f1 |
	sort | uniq -c >"$T/outer.txt"
diag "outer Ethernet types of UDP 6081: $(tr -s ' \n' ' ' <"$T/outer.txt")"
check "  ... UDP 6081 on the switch: IPv6 frames only, no IPv4 ones" \
	bash -c "grep -q ' 0x86dd\$' '$T/outer.txt' && ! grep -qv ' 0x86dd\$' '$T/outer.txt'"
N1MAC=$(ip -n xcl-n1 -o link show ul0 | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p')
tshark -n -r "$T/ul.pcap" -Y "!geneve && ip.dst == $OUT" 2>/dev/null | sed 's/^ *[0-9]* *[0-9.]* */#   /' | sort | uniq -c | head -12
check "the answers to the client leave n1 ($N1MAC) from the NodePort: $N1:30080/tcp, $N1:30081/udp" \
	seen_all "eth.src == $N1MAC && ip.src == $N1 && ip.dst == $OUT && tcp.srcport == 30080" \
	"eth.src == $N1MAC && !icmp && ip.src == $N1 && ip.dst == $OUT && udp.srcport == 30081"
# An ICMP error's ip.src/ip.dst hold the outer and the quoted header's addresses.
check "  ... the port unreachable from $N1 (type 3 code 3), quoting the client's datagram to $N1:30082" \
	seen "eth.src == $N1MAC && icmp.type == 3 && icmp.code == 3 && ip.src == $N1 && ip.dst == $OUT && ip.dst == $N1 && udp.dstport == 30082"
check "  ... fragmentation needed from $N1 (type 3 code 4), next-hop MTU $MTU46, quoting the 1431 bytes to 30081" \
	seen "eth.src == $N1MAC && icmp.type == 3 && icmp.code == 4 && icmp.mtu == $MTU46 && ip.src == $N1 && ip.dst == $OUT && udp.dstport == 30081"
accel_checks "$x0" "$x1"
# DSR over the IPv6 underlay for IPv4 NodePorts: NP46_MODE=dsr (np46dsr.sh).

# ---- the local backend ----------------------------------------------------------------
check "outside -> n1:30090/tcp (np/a on n1): np/a saw the client $OUT" expect_answer n1 30090/tcp "np/a $OUT"
check "outside -> n1:30091/udp: np/a saw $OUT" expect_answer n1 30091/udp "np/a $OUT"

