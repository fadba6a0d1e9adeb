#!/usr/bin/python3
# udp_big.py serve PORT SECONDS: answers each datagram with its length, for at
#   most SECONDS.
# udp_big.py send HOST PORT SIZE: one datagram of SIZE bytes (IPv4 fragments it
#   past the MTU); prints the length a server like the above says it got,
#   "echoed" if the answer is the datagram itself, or "lost" after 1 s.
import socket
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
