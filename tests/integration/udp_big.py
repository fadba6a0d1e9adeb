#!/usr/bin/python3
# udp_big.py serve PORT SECONDS: answers each datagram with its length, for at
#   most SECONDS.
# udp_big.py send HOST PORT SIZE: one datagram of SIZE bytes (IPv4 fragments it
#   past the MTU); prints the length a server like the above says it got,
#   "echoed" if the answer is the datagram itself, or "lost" after 1 s.
# udp_big.py flood HOST PORT N: N first fragments (more-fragments set, offset
#   0) of UDP datagrams to HOST:PORT, ids 1..N, whose later fragments never
#   come (a raw socket: needs CAP_NET_RAW).
import socket
import struct
import sys
import time

if sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        s.sendto(str(len(data)).encode(), peer)
elif sys.argv[1] == "flood":
    host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    daddr = socket.inet_aton(host)
    payload = bytes(16)
    for i in range(1, n + 1):
        udp = struct.pack("!HHHH", 40000, port, 8 + 1400, 0) + payload
        # version/IHL, TOS, total length, id, MF at offset 0, TTL, UDP,
        # checksum and source filled in by the kernel
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0x2000, 64, 17, 0,
                         bytes(4), daddr)
        s.sendto(ip + udp, (host, 0))
else:
    host, port, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    payload = bytes(i % 251 for i in range(size))
    s.sendto(payload, (host, port))
    try:
        answer = s.recv(65535)
    except socket.timeout:
        print("lost")
    else:
        print("echoed" if answer == payload else answer.decode(errors="replace"))
