#!/usr/bin/python3
# One TCP request and its answer:
#   tcp_hello.py DST PORT [SPORT]
# connects (from SPORT when given; 3 s at most), sends "hello" (the lab's
# listeners answer what they are told), reads the answer, closes.
import socket
import sys


def main():
    src = ("0.0.0.0", int(sys.argv[3])) if len(sys.argv) > 3 else None
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3, source_address=src)
    s.sendall(b"hello\n")
    s.recv(100)
    s.close()


sys.exit(main())
