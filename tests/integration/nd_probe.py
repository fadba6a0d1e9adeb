#!/usr/bin/python3
# nd_probe.py: ICMPv6 of a neighbour-discovery type sent to a global address,
# as an attacker would (issue 26 item 1), and what a raw socket receives.
#   nd_probe.py send DST MARKER HOPS [SRC]: three ICMPv6 router solicitations
#     (type 133) to DST, each with a 1200-byte payload of MARKER repeated,
#     hop limit HOPS, from SRC when given; the kernel fills the checksum. A
#     send refused (a drop on the way out) is not an error: the receiver counts.
#   nd_probe.py recv SECONDS MARKER READYFILE: a raw ICMPv6 socket; READYFILE
#     is created once it is open; prints how many type 133 messages carrying
#     MARKER with at least 1200 bytes of payload arrived within SECONDS.
import os
import select
import socket
import sys
import time

ND_ROUTER_SOLICIT = 133

if sys.argv[1] == "send":
    dst, marker, hops = sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    if len(sys.argv) > 5:
        s.bind((sys.argv[5], 0))
    body = (marker * (1200 // len(marker) + 1))[:1200]
    # type, code, checksum (the kernel's for IPPROTO_ICMPV6), 4 reserved bytes
    msg = bytes([ND_ROUTER_SOLICIT, 0, 0, 0, 0, 0, 0, 0]) + body
    for _ in range(3):
        try:
            s.sendto(msg, (dst, 0))
        except OSError:
            pass  # ENOBUFS: a tc program dropped it on the way out (to_pod)
        time.sleep(0.05)
    sys.exit(0)

secs, marker, ready = float(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
open(ready, "w").close()
deadline = time.monotonic() + secs
got = 0
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    r, _, _ = select.select([s], [], [], left)
    if not r:
        continue
    m, _ = s.recvfrom(4096)
    if m[0] == ND_ROUTER_SOLICIT and len(m) >= 8 + 1200 and marker in m[8:]:
        got += 1
print(got)
