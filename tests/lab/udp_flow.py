#!/usr/bin/python3
# One UDP conversation on one socket (one tuple, as the data plane tracks it)
# across changes a test makes meanwhile:
#   udp_flow.py DST PORT GO...
# asks once, then, for each GO file, waits (at most 30 s) until it exists and
# asks again. One line per ask: "N answered" or "N silent" (no answer within a
# second, or refused).
import os
import socket
import sys
import time


def main():
    dst, port, gos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, port))
    s.settimeout(1.0)

    def ask():
        try:
            s.send(b"probe\n")
            s.recv(512)
            return "answered"
        except OSError:
            return "silent"

    print(0, ask(), flush=True)
    for i, go in enumerate(gos, 1):
        deadline = time.monotonic() + 30
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        print(i, ask(), flush=True)


sys.exit(main())
