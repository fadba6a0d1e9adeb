# The DSR pass of tests/lab/np46.sh (NP46_MODE=dsr; sourced by it, after
# its helpers): IPv4 NodePorts in DSR mode over IPv6 tunnels between three
# dual stack nodes, every xcnid --tunnel-family ipv6 --node-port-mode dsr.
#
#   netns xcl-out 198.51.100.1
#        │ routed by xcl-ul (192.168.77.254), switch br0 <- dumpcap
#   xcl-n1 ul0 192.168.77.1 + fd00:77::1   xcl-n2 .2 + fd00:77::2   xcl-n3 .3 + fd00:77::3
#     np/a                                   np/b
#   np/rem NodePort 30080/tcp, 30081/udp -> np/b (n2): asked at n1 and at n3
#   np/loc NodePort 30090/tcp, 30091/udp -> np/a (n1): asked at n2
#
# Each request crosses one tunnel, Geneve over IPv6 with the DSR option
# (the frontend), the client's address kept; the backend's node answers the
# client itself from the frontend, so no reply passes the NodePort's node
# or any tunnel. Checked on the switch's capture: every UDP 6081 frame is
# IPv6; the requests, their option and inner addresses; each reply's
# Ethernet source is the backend's node; pod to pod (np/a -> np/b, IPv4)
# rides the same IPv6 tunnels.
# shellcheck shell=bash

mac_of() { ip -n "xcl-n$1" -o link show ul0 | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p'; }
A=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'a'][0]")
pcap_start xcl-ul br0 'udp port 6081 or port 30080 or port 30081 or port 30090 or port 30091' "$T/ul.pcap"
CAP_UL=$CAP
MINE+=("$CAP_UL")
x0=$(npa 1 xdp4_packets)
for n in n1 n3; do
	check "DSR: outside -> $n:30080/tcp (np/b on n2): np/b saw the client $OUT" \
		expect_answer "$n" 30080/tcp "np/b $OUT"
	check "DSR: outside -> $n:30081/udp: np/b saw $OUT" expect_answer "$n" 30081/udp "np/b $OUT"
done
x1=$(npa 1 xdp4_packets)
check "DSR: outside -> n2:30090/tcp (np/a on n1): np/a saw $OUT" expect_answer n2 30090/tcp "np/a $OUT"
check "DSR: outside -> n2:30091/udp: np/a saw $OUT" expect_answer n2 30091/udp "np/a $OUT"
check "pod to pod: np/a ($A, n1) -> np/b:8080/tcp over the IPv6 tunnel: np/b saw $A" \
	expect_answer np/a 8080/tcp "np/b $A"
check "pod to pod: np/a -> np/b:8081/udp: np/b saw $A" expect_answer np/a 8081/udp "np/b $A"
CAP=$CAP_UL; pcap_stop "$T/ul.pcap"

# Every UDP 6081 frame's outer Ethernet type (the first eth.type), counted.
tshark -n -r "$T/ul.pcap" -Y 'udp.port == 6081' -T fields -e eth.type 2>/dev/null | cut -d, -f1 |
	sort | uniq -c >"$T/outer.txt"
diag "outer Ethernet types of UDP 6081: $(tr -s ' \n' ' ' <"$T/outer.txt")"
check "UDP 6081 on the switch: IPv6 frames only, no IPv4 ones" \
	bash -c "grep -q ' 0x86dd\$' '$T/outer.txt' && ! grep -qv ' 0x86dd\$' '$T/outer.txt'"
# The Geneve frames: outer IPv6 then inner IPv4 addresses, ports, DSR option class.
tshark -n -r "$T/ul.pcap" -Y geneve -T fields -E separator=' ' -e ipv6.src -e ipv6.dst \
	-e ip.src -e ip.dst -e tcp.dstport -e udp.dstport -e geneve.option.class 2>/dev/null |
	sort -u >"$T/geneve.txt"
sed 's/^/#   /' "$T/geneve.txt" | head -16
# req OUTER_SRC OUTER_DST INNER_DST PORT: a request from the client in Geneve
# over IPv6 with the DSR option (class 0xfff0).
req() { grep -Eq "^$1 $2 $OUT $3 +($4|6081,$4) .*0xfff0\$" "$T/geneve.txt"; }
check "the requests: n1 -> n2 and n3 -> n2 (fd00:77::1|3 -> fd00:77::2), the client $OUT to $B:8080 and :8081, the DSR option" \
	bash -c "$(declare -f req); OUT=$OUT T=$T; req fd00:77::1 fd00:77::2 $B 8080 && req fd00:77::1 fd00:77::2 $B 8081 &&
		req fd00:77::3 fd00:77::2 $B 8080 && req fd00:77::3 fd00:77::2 $B 8081"
check "  ... n2 -> n1 (fd00:77::2 -> fd00:77::1), the client to np/a $A:8080 and :8081" \
	bash -c "$(declare -f req); OUT=$OUT T=$T; req fd00:77::2 fd00:77::1 $A 8080 && req fd00:77::2 fd00:77::1 $A 8081"
check "  ... no Geneve frame carries a reply to the client (inner destination $OUT)" \
	bash -c "! awk '\$4 == \"$OUT\"' '$T/geneve.txt' | grep -q ."
check "pod to pod in Geneve over IPv6: fd00:77::1 -> fd00:77::2 $A -> $B:8080, and np/b's answer back" \
	bash -c "grep -Eq '^fd00:77::1 fd00:77::2 $A $B 8080 ' '$T/geneve.txt' &&
		grep -Eq '^fd00:77::2 fd00:77::1 $B $A ' '$T/geneve.txt'"
# The replies to the client: not Geneve, from the frontend; which node's MAC sent them.
tshark -n -r "$T/ul.pcap" -Y "!geneve && ip.dst == $OUT" -T fields -E separator=' ' -e eth.src \
	-e ip.src -e tcp.srcport -e udp.srcport 2>/dev/null | sort | uniq -c >"$T/replies.txt"
sed 's/^/#   /' "$T/replies.txt"
# replied_by NODE_MAC FRONTEND PORT_T PORT_U: replies from FRONTEND:PORT_T/tcp
# and :PORT_U/udp were seen, every one with NODE_MAC as its Ethernet source.
replied_by() {
	awk -v m="$1" -v f="$2" -v t="$3" -v u="$4" '
		$3 == f && ($4 == t || $4 == u) { if ($2 != m) bad = 1; seen[$4] = 1 }
		END { exit bad || !(t in seen) || !(u in seen) }' "$T/replies.txt"
}
N2MAC=$(mac_of 2)
check "the replies from the frontend 192.168.77.1:30080/tcp, :30081/udp left n2 ($N2MAC) itself, none n1" \
	replied_by "$N2MAC" 192.168.77.1 30080 30081
check "  ... from 192.168.77.3 (asked at n3): n2 again, none n3" \
	replied_by "$N2MAC" 192.168.77.3 30080 30081
check "  ... from 192.168.77.2:30090/tcp, :30091/udp (np/a's): n1 ($(mac_of 1)), none n2" \
	replied_by "$(mac_of 1)" 192.168.77.2 30090 30091
accel_checks "$x0" "$x1"

# disagree: n3's xcnid restarted with --tunnel-family auto, n1's and n2's
# kept at ipv6 (a rolling change of the option): each node sends in the
# family its own setting picks (n3 over IPv4, n1 and n2 over IPv6) and takes
# Geneve from a node at either of its InternalIPs, so pod to pod between n3
# and the others works both ways, and NodePorts asked at n3 reach backends
# on n1 and n2 (DSR over IPv4); the switch sees Geneve of both families, no
# node drops any as drop-unknown-node or drop-inner-spoof. A new pod np/c
# on n3 answers. Called by np46.sh last, before lab down.
probe_pod() { # FROM TO PORT/PROTO WANT: the pod's probe answered WANT
	local got
	got=$(lab probe "$1" "$2" "$3" --family 4 --json --timeout-ms 1500 | jq_ 'd.get("answer") or ""')
	echo "answer: '$got', want '$4'"
	[ "$got" = "$4" ]
}
disagree() {
	local pid args i n C c3 s3 s2
	local -A u0 p0
	tell_peer_pod np c n3 >"$T/c.yaml"
	check "apply np/c (n3)" lab apply -f "$T/c.yaml"
	remember_pids
	C=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'c'][0]")
	pid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n3'][0]")
	mapfile -d '' args <"/proc/$pid/cmdline"
	for i in "${!args[@]}"; do
		[ "${args[$i]}" = --tunnel-family ] && args[i + 1]=auto
	done
	check "n3's xcnid restarted with --tunnel-family auto (n1, n2: ipv6)" \
		lab_agent_restart MINE n3 "$T/n3-auto.log" "${args[@]}"
	check "  ... n3 still knows n1 and n2 at both addresses (xcnictl tunnel list)" \
		bash -c "[ \"\$(awk '{print \$1, \$2}' <<<\"\$1\" | tr '\n' ' ')\" = 'n1 192.168.77.1 n1 fd00:77::1 n2 192.168.77.2 n2 fd00:77::2 ' ]" _ "$(tunnels 3)"
	for n in 1 2 3; do
		u0[$n]=$(drops "$n" drop-unknown-node)
		p0[$n]=$(drops "$n" drop-inner-spoof)
	done
	c3=$(tx 3 192.168.77.2)
	s3=$(tx 3 fd00:77::2)
	s2=$(tx 2 fd00:77::3)
	pcap_start xcl-ul br0 'udp port 6081' "$T/mix.pcap"
	CAP_UL=$CAP
	MINE+=("$CAP_UL")
	check "mixed: np/c (n3, auto) -> np/b:8080/tcp (n2, ipv6): np/b saw $C" \
		probe_pod np/c np/b 8080/tcp "np/b $C"
	check "mixed: np/c -> np/b:8081/udp: np/b saw $C" probe_pod np/c np/b 8081/udp "np/b $C"
	check "mixed: np/a (n1, ipv6) -> np/c:8080/tcp (n3, auto): np/c saw $A" \
		probe_pod np/a np/c 8080/tcp "np/c $A"
	check "mixed: np/a -> np/c:8081/udp: np/c saw $A" probe_pod np/a np/c 8081/udp "np/c $A"
	check "mixed: outside -> n3:30080/tcp (np/b on n2, DSR over IPv4): np/b saw $OUT" \
		expect_answer n3 30080/tcp "np/b $OUT"
	check "mixed: outside -> n3:30091/udp (np/a on n1): np/a saw $OUT" \
		expect_answer n3 30091/udp "np/a $OUT"
	check "mixed: outside -> n2:30090/tcp (np/a on n1, n2 ipv6): np/a saw $OUT" \
		expect_answer n2 30090/tcp "np/a $OUT"
	CAP=$CAP_UL; pcap_stop "$T/mix.pcap"
	tshark -n -r "$T/mix.pcap" -Y 'udp.port == 6081' -T fields -e eth.type 2>/dev/null | cut -d, -f1 |
		sort | uniq -c >"$T/mix-outer.txt"
	diag "outer Ethernet types of UDP 6081: $(tr -s ' \n' ' ' <"$T/mix-outer.txt")"
	check "  ... UDP 6081 on the switch: both IPv4 and IPv6 frames" \
		bash -c "grep -q ' 0x86dd\$' '$T/mix-outer.txt' && grep -q ' 0x0800\$' '$T/mix-outer.txt'"
	tshark -n -r "$T/mix.pcap" -Y geneve -T fields -E separator=' ' -e ip.src -e ip.dst \
		-e ipv6.src -e ipv6.dst 2>/dev/null | sort -u >"$T/mix-geneve.txt"
	sed 's/^/#   /' "$T/mix-geneve.txt" | head -16
	check "  ... n3 -> n2 over IPv4 (192.168.77.3 -> 192.168.77.2, np/c's request inside), n2 -> n3 over IPv6 (fd00:77::2 -> fd00:77::3, np/b's answer)" \
		bash -c "grep -q '^192.168.77.3,$C 192.168.77.2,$B ' '$T/mix-geneve.txt' &&
			grep -q '^$B $C fd00:77::2 fd00:77::3\$' '$T/mix-geneve.txt'"
	check "  ... n3's tunnel counters: sent to n2 at 192.168.77.2 ($c3 -> $(tx 3 192.168.77.2)), no more at fd00:77::2 ($s3)" \
		bash -c "[ '$(tx 3 192.168.77.2)' -gt '$c3' ] && [ '$(tx 3 fd00:77::2)' = '$s3' ]"
	check "  ... n2 sent to n3 at fd00:77::3 ($s2 -> $(tx 2 fd00:77::3)), received from 192.168.77.3 ($(rx 2 192.168.77.3))" \
		bash -c "[ '$(tx 2 fd00:77::3)' -gt '$s2' ] && [ '$(rx 2 192.168.77.3)' -gt 0 ]"
	for n in 1 2 3; do
		check "  ... n$n dropped nothing as drop-unknown-node (${u0[$n]} -> $(drops "$n" drop-unknown-node)) or drop-inner-spoof (${p0[$n]} -> $(drops "$n" drop-inner-spoof))" \
			test "$(drops "$n" drop-unknown-node) $(drops "$n" drop-inner-spoof)" = "${u0[$n]} ${p0[$n]}"
	done
}
