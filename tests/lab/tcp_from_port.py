#!/usr/bin/python3
# One TCP connection attempt from a chosen source port, as a client whose
# kernel picks a port again would make it:
#   tcp_from_port.py DST PORT SPORT
# prints "connected" (the listener answered within a second) or "blocked".
import socket
import sys


def main():
    dst, port, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", sport))
    s.settimeout(1.0)
    try:
        s.connect((dst, port))
        s.sendall(b"probe\n")
        print("connected" if s.recv(512) else "blocked")
    except OSError:
        print("blocked")
    # An unanswered attempt ends without a packet: nothing tells the data plane.
    s.close()


sys.exit(main())
