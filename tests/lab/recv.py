#!/usr/bin/python3
# A receiver for tests/lab/attack.sh: records what really arrives in the
# network namespace it runs in. UDP on the given ports (both families, one
# socket each), a raw ICMP and a raw ICMPv6 socket (which see every ICMP
# message the namespace's stack takes in, neighbour discovery and errors
# included, before the stack acts on them). Every probe carries a tag,
# XT-<name>, somewhere in its bytes (in an ICMP error: in the quote); each
# tag seen is logged as "KIND SOURCE TAG", one line per datagram, flushed
# at once, so the suite can read the log while the receiver runs.
#
#   recv.py LOG READY PORT...   (READY is created once every socket is open)
import re
import select
import socket
import sys

TAG = re.compile(rb"XT-[A-Za-z0-9_.-]+")


def main():
    log, ready, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    socks = {}
    for p in ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind(("::", p))
        socks[s] = "udp%d" % p
    r4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    socks[r4] = "icmp"
    r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    socks[r6] = "icmp6"
    for s in socks:
        s.setblocking(False)
    out = open(log, "a", buffering=1)
    open(ready, "w").close()
    while True:
        rd, _, _ = select.select(list(socks), [], [])
        for s in rd:
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                src = addr[0]
                if src.startswith("::ffff:"):
                    src = src[7:]
                for t in set(TAG.findall(data)):
                    out.write("%s %s %s\n" % (socks[s], src, t.decode()))


if __name__ == "__main__":
    main()
