#!/usr/bin/env python3
"""Sockets held open, for the socket load-balancing suite's attacks.

  sock_hold.py IP PORT N GATE
    opens N unconnected UDP sockets and sends one datagram from each to
    IP:PORT; the first waits for its reply and prints "from IP:PORT" (what
    recvfrom says) and the reply. With N > 1 every other socket reads its
    reply (as a resolver does: each record used) for 10 s at most, and
    "answered K from IP:PORT" counts those from IP:PORT. Then "held N";
    then, once the file GATE exists, the first socket sends again and
    prints "again from IP:PORT" and the reply. Every socket stays open
    until then.
An error prints its errno name (e.g. "error timeout") and exits 1.
"""
import errno
import os
import resource
import socket
import sys
import time


def ask(s, ip, port, prefix):
    s.sendto(b"ping\n", (ip, port))
    data, src = s.recvfrom(100)
    print("%sfrom %s:%d" % ((prefix,) + src[:2]))
    print(data.decode().strip(), flush=True)


def main():
    ip, port, n, gate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
    try:
        socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(n)]
        socks[0].settimeout(3)
        ask(socks[0], ip, port, "")
        # Every other socket sends, then reads what came within 10 s (the
        # replies, as a churning resolver reads them: each record used).
        answered = 0
        for s in socks[1:]:
            s.sendto(b"ping\n", (ip, port))
        deadline = time.monotonic() + 10
        for s in socks[1:]:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                _, src = s.recvfrom(100)
                answered += src[:2] == (ip, port)
            except socket.timeout:
                pass
        if n > 1:
            print("answered %d from %s:%d" % (answered, ip, port))
        print("held %d" % n, flush=True)
        while not os.path.exists(gate):
            time.sleep(0.05)
        ask(socks[0], ip, port, "again ")
    except socket.timeout:
        print("error timeout")
        return 1
    except OSError as e:
        print("error %s" % errno.errorcode.get(e.errno, e.errno))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
