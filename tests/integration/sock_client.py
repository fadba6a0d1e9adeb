#!/usr/bin/env python3
"""A client as an application sees it, for the socket load-balancing suite.

  sock_client.py tcp IP PORT   connect, then "peer IP:PORT" (getpeername) and
                               the first line the server sent
  sock_client.py udp IP PORT   unconnected sendto, then "from IP:PORT" (recvfrom)
                               and the reply
An error prints its errno name (e.g. "error ECONNREFUSED") and exits 1.
SOCK_GATE=FILE: the socket stays open until FILE exists (a record listed).
"""
import errno
import os
import socket
import sys
import time


def hold():
    gate = os.environ.get("SOCK_GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.05)


def main():
    kind, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        if kind == "tcp":
            s = socket.create_connection((ip, port), timeout=2)
            peer = s.getpeername()
            print("peer %s:%d" % peer[:2])  # IPv6: (host, port, flowinfo, scope)
            print(s.recv(100).decode().strip(), flush=True)
            hold()
        else:
            s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                              socket.SOCK_DGRAM)
            s.settimeout(2)
            s.sendto(b"ping\n", (ip, port))
            data, src = s.recvfrom(100)
            print("from %s:%d" % src[:2])
            print(data.decode().strip(), flush=True)
            hold()
    except socket.timeout:
        print("error timeout")
        return 1
    except OSError as e:
        print("error %s" % errno.errorcode.get(e.errno, e.errno))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
