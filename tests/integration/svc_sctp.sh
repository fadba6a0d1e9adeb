#!/bin/bash
# SCTP Services in BPF on real veths, judged by tshark on the wire. This
# kernel has no SCTP sockets (no sctp module), so the pods speak SCTP through
# raw IP sockets (protocol 132) with a CRC32c computed here (sctp_pkt below):
# an INIT from b to a ClusterIP port whose backend listens on another port
# reaches a DNATed, its port rewritten, its CRC still good; one to a port
# kept the same arrives with the very CRC b sent; a corrupted one arrives
# still corrupted; a's INIT ACK back reaches b from the frontend with a good
# CRC; an INIT to a Service without endpoints is answered by ICMP port
# unreachable from the frontend.
#
#   netns <tag>-node: xcnid --manifests M --kube-proxy-replacement
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (the backend: tshark on eth0)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (the client: tshark on eth0)
#   x/sctp 10.96.0.20: 3868/SCTP -> a:38680, 3869/SCTP -> a:3869
#   x/none 10.96.0.21: 3868/SCTP, no endpoints
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init svcsctp 10.97.3 svcsctp
VIP=10.96.0.20
VIP_NONE=10.96.0.21
CAP=

cleanup() {
	[ -n "$CAP" ] && kill "$CAP" 2>/dev/null
	node_cleanup a b
}
trap cleanup EXIT

# sctp_pkt NETNS DST SPORT DPORT CHUNK [CRC-XOR]: one SCTP packet from NETNS's
# raw socket: common header (tag 0 for INIT), one chunk of type CHUNK with 16
# bytes of value, CRC32c (RFC 9260 appendix A, bit by bit) XORed with
# CRC-XOR (default 0). Prints the CRC it stored, as tshark shows it (0x...).
sctp_pkt() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" "$5" "${6:-0}" <<'EOF'
import socket, struct, sys
dst, sport, dport, chunk, err = sys.argv[1], *map(int, sys.argv[2:5]), int(sys.argv[5], 0)
def crc32c(data):
    c = 0xffffffff
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
tag = 0 if chunk == 1 else 0x5c7b1e55
value = bytes(range(0xa0, 0xb0))
body = struct.pack("!HHII", sport, dport, tag, 0) + struct.pack("!BBH", chunk, 0, 4 + len(value)) + value
crc = crc32c(body) ^ err
pkt = body[:8] + struct.pack("<I", crc) + body[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
s.sendto(pkt, (dst, 0))
print("0x%08x" % struct.unpack("!I", struct.pack("<I", crc))[0])  # the bytes as tshark reads them
EOF
}

# fields FILE FIELD...: tshark's fields of FILE's frames (SCTP checked as CRC 32c), one a
# line; of a field found twice (an ICMP error's own and its quote's), occurrence OCC
# (f first, the default; l last).
fields() {
	local f=$1 a=()
	shift
	for x in "$@"; do a+=(-e "$x"); done
	tshark -n -r "$f" -o 'sctp.checksum:CRC 32c' -T fields -E separator=' ' \
		-E occurrence="${OCC:-f}" "${a[@]}"
}

# got FILE WANT FIELD...: the first frame's fields are WANT; got_last: of the last occurrences.
got() {
	local f=$1 want=$2 line
	shift 2
	line=$(fields "$f" "$@" | head -n 1)
	[ "$line" = "$want" ] || { echo "got '$line', want '$want'"; fields "$f" "$@"; return 1; }
}

got_last() { OCC=l got "$@"; }

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
check "xcnid started with --manifests --kube-proxy-replacement" start_xcnid "$PIN" \
	--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" --no-masquerade \
	--kube-proxy-replacement -v || { finish; exit 1; }
IP_A=$(pod_add a) || { not_ok "ADD a"; finish; exit 1; }
IP_B=$(pod_add b) || { not_ok "ADD b"; finish; exit 1; }

put pods.yaml <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: x}
$(k_pod a x "$IP_A" "app: sctp")
$(k_pod b x "$IP_B")
---
apiVersion: v1
kind: Service
metadata: {name: sctp, namespace: x}
spec:
  selector: {app: sctp}
  clusterIP: $VIP
  ports:
  - {name: diameter, protocol: SCTP, port: 3868, targetPort: 38680}
  - {name: same, protocol: SCTP, port: 3869, targetPort: 3869}
---
apiVersion: v1
kind: Service
metadata: {name: none, namespace: x}
spec:
  selector: {app: nothing}
  clusterIP: $VIP_NONE
  ports: [{protocol: SCTP, port: 3868}]
$(k_slice sctp-1 sctp 4 "[{addresses: [$IP_A], nodeName: n1}]" \
	"{name: diameter, port: 38680, protocol: SCTP}, {name: same, port: 3869, protocol: SCTP}")
EOF
check "Services and EndpointSlice applied" sync_gen
frontends() { ctl service list | grep -c "/sctp"; }
check "service list: both SCTP frontends" test "$(frontends)" -ge 2

# sent NAME TO FILTER FROM DST SPORT DPORT CHUNK [CRC-XOR]: sctp_pkt from pod FROM
# while tshark captures FILTER on pod TO's eth0 into $T/NAME.pcap (the CRC sent: $T/NAME.crc).
sent() {
	pcap_start "$XCT_TAG-$2" eth0 "$3" "$T/$1.pcap" || return 1
	sctp_pkt "$XCT_TAG-$4" "$5" "$6" "$7" "$8" "${9:-0}" >"$T/$1.crc"
	pcap_stop "$T/$1.pcap"
}
# One INIT from b to the frontend, captured in a.
init_to_a() { sent "$1" a sctp b "$VIP" 40001 "$2" 1 "${3:-0}"; }
check "b -> $VIP:3868 INIT, captured in a" init_to_a port 3868
check "a got it DNATed to its address and port 38680, CRC good (tshark)" \
	got "$T/port.pcap" "$IP_B $IP_A 40001 38680 1" ip.src ip.dst sctp.srcport sctp.dstport \
	sctp.checksum.status
check "b -> $VIP:3869 INIT (the same port), captured in a" init_to_a same 3869
check "a got it on 3869 with the CRC b sent, good" \
	got "$T/same.pcap" "$IP_A 3869 $(cat "$T/same.crc") 1" ip.dst sctp.dstport sctp.checksum \
	sctp.checksum.status
check "b -> $VIP:3868 INIT with a corrupted CRC, captured in a" init_to_a bad 3868 0x10000
check "a got it translated and still corrupted (tshark: bad)" \
	got "$T/bad.pcap" "$IP_A 38680 0" ip.dst sctp.dstport sctp.checksum.status

# a's INIT ACK back to b's association: from the frontend.
check "a -> b INIT ACK from 38680, captured in b" sent reply b sctp a "$IP_B" 38680 40001 2
check "b got it from $VIP:3868, CRC good" \
	got "$T/reply.pcap" "$VIP $IP_B 3868 40001 1" ip.src ip.dst sctp.srcport sctp.dstport \
	sctp.checksum.status
ct_sctp() { ctl ct list | grep -iE "^sctp +$IP_B:40001 +$VIP:3868 "; }
check "ct list: the association's service entry" ct_sctp

# No endpoints: refused at once, as kube-proxy's REJECT does.
check "b -> $VIP_NONE:3868 (no endpoints) INIT, ICMP captured in b" \
	sent none b icmp b "$VIP_NONE" 40002 3868 1
check "b got port unreachable from the frontend" \
	got "$T/none.pcap" "$VIP_NONE $IP_B 3 3" ip.src ip.dst icmp.type icmp.code
check "... quoting its SCTP packet to the frontend" \
	got_last "$T/none.pcap" "$IP_B $VIP_NONE 132" ip.src ip.dst ip.proto
no_backend_counted() { grep -q 'drop-no-backend' <<<"$(ctl metrics)"; }
check "drop-no-backend counted" no_backend_counted

finish
