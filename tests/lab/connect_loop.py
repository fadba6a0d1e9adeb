#!/usr/bin/python3
# TCP connections one after another to one address, as fast as they complete:
#   connect_loop.py IP PORT STOP
# each sends a line and prints the first line answered, or "FAIL <why>" when
# none came within 5 s (a SYN lost twice is retransmitted at 1 s and 3 s:
# slow, not failed); the connections that took over 1 s are counted in the
# file STOP.slow, one line each ("SECONDS ANSWER"); stops when the file STOP
# exists, after 20000 connections or 120 s.
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
        t0 = time.monotonic()
        try:
            with socket.create_connection((ip, port), timeout=5) as s:
                s.settimeout(5)
                s.sendall(b"probe\n")
                line = s.makefile().readline().strip()
            print(line if line else "FAIL empty answer", flush=True)
        except OSError as e:
            line = f"FAIL {e}"
            print(line, flush=True)
        took = time.monotonic() - t0
        if took > 1:
            with open(stop + ".slow", "a") as f:
                f.write(f"{took:.2f} {line}\n")


sys.exit(main())
