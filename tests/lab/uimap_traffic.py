#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sends the service-map lab's traffic (examples/svcmap) from one process.

    uimap_traffic.py LAB_GET_JSON [more]

For each line of PLAN, every pod of the client workload sends to every pod of
the destination workload (or once to a Service's ClusterIP, or to the
outside): UDP 81 (the lab's listener echoes it) or a TCP connect. Each socket
is made inside its client pod's network namespace (setns, then socket: a
socket stays in the namespace it was made in), so hundreds of flows cost one
process and about a second; none of them is in a pod's cgroup, so a Service
is translated per packet and its flows name it. Prints one JSON object: how
many of each line's probes were answered. With "more": MORE's lines instead
(examples/svcmap/more.yaml's two namespaces, one line to a Service with no
endpoints).
"""
import ctypes
import json
import os
import select
import socket
import sys
import time

CLONE_NEWNET = 0x40000000
# client workload, destination, how: "udp" (81), "tcp" (80), "svc:PORT" (the
# Service's ClusterIP over TCP), "out" (the lab's outside, 80/tcp)
PLAN = [
    ("shop/web", "api/gateway", "svc:8080"),
    ("shop/web", "shop/cart", "udp"),
    ("shop/web", "outside", "out"),
    ("shop/cart", "pay/payments", "udp"),      # denied: pay-from-api
    ("shop/cart", "ops/logs", "udp"),
    ("api/gateway", "api/users", "udp"),
    ("api/gateway", "pay/payments", "udp"),
    ("api/users", "data/db", "svc:5432"),
    ("api/users", "data/cache", "udp"),
    ("pay/payments", "pay/fraud", "udp"),
    ("ops/prometheus", "shop/web", "tcp"),
    ("ops/prometheus", "api/gateway", "tcp"),
    ("ops/prometheus", "data/db", "tcp"),
    ("ops/prometheus", "pay/payments", "tcp"),  # denied
    ("ops/prometheus", "batch/jobs", "tcp"),
    ("ops/debug", "shop/web", "udp"),
    ("batch/jobs", "data/db", "udp"),          # denied: db-from-api-ops
    ("batch/jobs", "ops/logs", "udp"),
    ("batch/report", "data/cache", "udp"),
    ("batch/report", "data/db", "svc:5432"),   # denied
    ("batch/cron", "api/gateway", "svc:8080"),
]
MORE = [
    ("shop/web", "search/index", "udp"),
    ("mail/smtp", "search/index", "udp"),
    ("mail/queue", "mail/smtp", "udp"),
    ("ops/prometheus", "search/index", "tcp"),
    ("batch/report", "mail/smtp", "udp"),
    ("shop/cart", "mail/outbox", "svc:25"),    # no-backend: no pod has app=outbox
]


def workload(pod):
    """shop/web-3 -> shop/web; ops/debug -> ops/debug."""
    name = pod["name"]
    base = name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name
    return f"{pod['namespace']}/{base}"


def main():
    lab = json.load(open(sys.argv[1]))
    plan = MORE if sys.argv[2:] == ["more"] else PLAN
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pods = {}
    for p in lab["pods"]:
        pods.setdefault(workload(p), []).append(p)
    svcs = {f"{s['namespace']}/{s['name']}": s["clusterIP"] for s in lab.get("services", [])}
    outside = lab.get("outside", {}).get("ip")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    socks = []  # (line, socket, kind)
    try:
        for line, (cli, dst, how) in enumerate(plan):
            if how == "out":
                targets = [(outside, 80, "tcp")] if outside else []
            elif how.startswith("svc:"):
                targets = [(svcs[dst], int(how[4:]), "tcp")]
            else:
                targets = [(p["ip"], 81 if how == "udp" else 80, how) for p in pods[dst]]
            for c in pods[cli]:
                fd = os.open(f"/run/netns/{c['netns']}", os.O_RDONLY)
                if libc.setns(fd, CLONE_NEWNET):
                    raise OSError(ctypes.get_errno(), f"setns {c['netns']}")
                os.close(fd)
                for ip, port, kind in targets:
                    if kind == "udp":
                        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        s.setblocking(False)
                        s.sendto(b"x" * 64, (ip, port))
                    else:
                        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                        s.setblocking(False)
                        s.connect_ex((ip, port))
                    socks.append((line, s, kind))
    finally:
        libc.setns(home, CLONE_NEWNET)
    answered = [0] * len(plan)
    sent = [0] * len(plan)
    for line, _, _ in socks:
        sent[line] += 1
    pending = {s.fileno(): (line, s, kind) for line, s, kind in socks}
    deadline = time.time() + 1.5
    while pending and time.time() < deadline:
        r = [f for f, (_, _, k) in pending.items() if k == "udp"]
        w = [f for f, (_, _, k) in pending.items() if k == "tcp"]
        rr, ww, _ = select.select(r, w, [], 0.1)
        for f in rr + ww:
            line, s, kind = pending.pop(f)
            ok = (kind == "udp" and bool(s.recv(100))) or \
                 (kind == "tcp" and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
            answered[line] += ok
    for _, s, _ in socks:
        s.close()
    print(json.dumps({f"{c} -> {d} {h}": f"{a}/{n}" for (c, d, h), a, n in zip(plan, answered, sent)}))


if __name__ == "__main__":
    sys.exit(main())
