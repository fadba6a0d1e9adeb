#!/usr/bin/python3
"""A handshake flood at a TLS port (tests/lab/flowsflood.sh, bench/handshake-flood.sh).

    tlsflood.py HOST PORT SECONDS [--hold N] [--procs P] [--stop FILE]

Each of P processes opens connections to HOST:PORT as fast as it can and
sends half of a ClientHello on each (a TLS record that announces 512 bytes,
of which 40 come: the server reads it and waits for the rest), holding its
newest N open, for SECONDS or until FILE exists. Prints the connections
made (all processes).
"""
import multiprocessing
import os
import socket
import sys
import time

HALF = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]) + b"\x11" * 29


def flood(host, port, until, hold, stop, q):
    made, held = 0, []
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < until and not (stop and made % 64 == 0 and os.path.exists(stop)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((host, port))
            s.send(HALF)
            made += 1
            held.append(s)
        except OSError:
            s.close()
            time.sleep(0.001)
        while len(held) > hold:
            held.pop(0).close()
    for s in held:
        s.close()
    q.put(made)


def main():
    host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    hold = int(sys.argv[sys.argv.index("--hold") + 1]) if "--hold" in sys.argv else 16
    procs = int(sys.argv[sys.argv.index("--procs") + 1]) if "--procs" in sys.argv else 2
    stop = sys.argv[sys.argv.index("--stop") + 1] if "--stop" in sys.argv else None
    until = time.monotonic() + secs
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=flood, args=(host, port, until, hold, stop, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    made = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    print(made)


if __name__ == "__main__":
    main()
