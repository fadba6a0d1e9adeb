#!/usr/bin/python3
# One datagram from each of N source ports (each port its own flow):
#   udp_ports.py DST DPORT SPORT N
# from SPORT, SPORT+1, ...; 0.05 s for each echo; prints how many were answered.
import socket
import sys


def main():
    dst, dport, sport, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    got = 0
    for p in range(sport, sport + n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", p))
        s.settimeout(0.05)
        s.sendto(b"x", (dst, dport))
        try:
            s.recv(512)
            got += 1
        except OSError:
            pass
        s.close()
    print(got)


sys.exit(main())
