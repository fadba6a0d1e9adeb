#!/usr/bin/python3
# conn_prober.py HOST PORT STOPFILE [INTERVAL_MS] [MAX_S]: opens a TCP connection
# to HOST:PORT every INTERVAL_MS (default 10) without waiting for the previous
# ones, each given 300 ms, until STOPFILE exists or MAX_S (default 600) pass.
# Prints "attempts N connected M" and, for each one that connected, its time.
# For a prober that must never get through: many attempts, spread evenly, so a
# window of a few milliseconds in which policy is not in force is hit.
import os
import select
import socket
import sys
import time

host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
interval = (int(sys.argv[4]) if len(sys.argv) > 4 else 10) / 1000
deadline = time.monotonic() + (float(sys.argv[5]) if len(sys.argv) > 5 else 600)
pending = {}  # fd -> (socket, started)
attempts = connected = 0
hits = []
nxt = time.monotonic()
while time.monotonic() < deadline and not (os.path.exists(stop) and not pending):
    now = time.monotonic()
    if now >= nxt and not os.path.exists(stop):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        pending[s.fileno()] = (s, now)
        attempts += 1
        nxt = now + interval
    _, w, _ = select.select([], list(pending), [], max(0.0, min(interval, nxt - time.monotonic())))
    for fd in w:
        s, _ = pending.pop(fd)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            connected += 1
            hits.append(time.time())
        s.close()
    now = time.monotonic()
    for fd in [fd for fd, (_, t) in pending.items() if now - t > 0.3]:
        pending.pop(fd)[0].close()
for s, _ in pending.values():
    s.close()
print(f"attempts {attempts} connected {connected}")
for t in hits:
    print(f"connected at {t:.3f}")
