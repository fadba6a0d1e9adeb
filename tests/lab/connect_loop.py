#!/usr/bin/python3
# TCP connections one after another to one address, as fast as they complete:
#   connect_loop.py IP PORT STOP
# each sends a line and prints the first line answered, or "FAIL <why>";
# stops when the file STOP exists, after 20000 connections or 120 s.
import os
import socket
import sys
import time


def main():
    ip, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + 120
    for _ in range(20000):
        if os.path.exists(stop) or time.monotonic() > deadline:
            break
        try:
            with socket.create_connection((ip, port), timeout=2) as s:
                s.settimeout(2)
                s.sendall(b"probe\n")
                line = s.makefile().readline().strip()
            print(line if line else "FAIL empty answer", flush=True)
        except OSError as e:
            print(f"FAIL {e}", flush=True)


sys.exit(main())
