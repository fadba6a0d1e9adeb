#!/usr/bin/env python3
# Records every UDP datagram to PORT (IPv4 and IPv6) as "SOURCE PAYLOAD" lines
# in FILE, flushed at once; "listening" on stdout once bound.
#
#   udp_sink.py PORT FILE
import socket
import sys

port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", port))
print("listening", flush=True)
with open(path, "a") as f:
    while True:
        data, peer = s.recvfrom(65535)
        f.write("%s %s\n" % (peer[0].removeprefix("::ffff:"), data.decode(errors="replace")))
        f.flush()
