#!/usr/bin/env python3
# A process on a node sending Geneve from an ordinary UDP socket, as a
# hostNetwork pod could (issue 26 item 6): Geneve (VNI, no options) around an
# inner Ethernet + IPv4 + UDP datagram INNER_SRC:SPORT -> INNER_DST:DPORT
# carrying PAYLOAD, to NODE:6081 (IPv4 or IPv6 by its address).
#
#   geneve_inject.py NODE INNER_SRC INNER_DST DPORT PAYLOAD [VNI]
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


node, src, dst, dport, payload = sys.argv[1:6]
vni = int(sys.argv[6]) if len(sys.argv) > 6 else 1
data = payload.encode()
udp = struct.pack("!HHHH", 40000, int(dport), 8 + len(data), 0) + data
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
geneve = struct.pack("!BBHI", 0, 0, 0x6558, vni << 8)
fam = socket.AF_INET6 if ":" in node else socket.AF_INET
with socket.socket(fam, socket.SOCK_DGRAM) as s:
    s.sendto(geneve + eth + ip + udp, (node, 6081))
