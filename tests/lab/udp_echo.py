#!/usr/bin/python3
# N datagrams on one socket, each waiting for its echo:
#   udp_echo.py SPORT DST DPORT N [SIZE [WAIT [connect]]]
# from source port SPORT (0: the kernel's choice), SIZE bytes each (100),
# WAIT seconds at most for each echo (0.5), on a connected socket with
# "connect"; prints how many were answered.
import socket
import sys


def main():
    sport, dst, dport, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("::" if ":" in dst else "0.0.0.0", sport))
    s.settimeout(float(sys.argv[6]) if len(sys.argv) > 6 else 0.5)
    connected = sys.argv[7:] == ["connect"]
    if connected:
        s.connect((dst, dport))
    got = 0
    for _ in range(n):
        if connected:
            s.send(b"x" * size)
        else:
            s.sendto(b"x" * size, (dst, dport))
        try:
            s.recv(65536)
            got += 1
        except OSError:
            pass
    print(got)


sys.exit(main())
