#!/usr/bin/env python3
"""xcnictl flows' default text read as an operator reads it (issue 70 item 6).

flows_text.py XCNICTL: a stand-in xcnid on a Unix socket answers four
records (long pod names, out of time order, a long BY, a Service with no
backend); the table must keep every column in line under its title, list
the rows by TIME, carry BY whole (wrapped, never cut) and name the Service of
a no-backend row, not its ClusterIP. Exit 1 naming the first thing wrong.
"""
import json, os, socket, subprocess, sys, tempfile, threading

LONG_NS = "payments-production-eu"
LONG_POD = "checkout-frontend-7d9c6b5f4-xk2lp"
BY_LONG = ("ingress guarded/allow-frontend rule 0 \"from-frontend\"; isolated by "
           "payments-production-eu/default-deny-all, payments-production-eu/allow-monitoring")


def rec(t, src, dst, verdict, **kw):
    r = {"node": "n1", "last_seen": t, "updated": t, "protocol": "tcp",
         "source": src, "destination": dst, "verdict": verdict}
    r.update(kw)
    return r


RECS = [
    rec("2026-11-26T03:04:09.000000Z", {"namespace": "web", "pod": "a", "ip": "10.0.0.1", "port": 4000},
        {"ip": "10.96.0.50", "port": 80}, "no-backend", service="web/ghost",
        drop_reason="drop-no-backend"),
    rec("2026-11-26T03:04:05.000000Z", {"namespace": LONG_NS, "pod": LONG_POD, "ip": "10.0.0.2", "port": 41000},
        {"namespace": LONG_NS, "pod": "db-0", "ip": "10.0.0.3", "port": 5432}, "denied",
        policy="guarded/allow-frontend", policy_side="ingress", rule=0, rule_name="from-frontend",
        isolated_by="payments-production-eu/default-deny-all, payments-production-eu/allow-monitoring"),
    rec("2026-11-26T03:04:07.000000Z", {"namespace": "web", "pod": "b", "ip": "10.0.0.4", "port": 4001},
        {"namespace": "web", "pod": "c", "ip": "10.0.0.5", "port": 80}, "allowed"),
]


def serve(path, ready):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    ready.set()
    c, _ = s.accept()
    req = b""
    while b"\r\n\r\n" not in req:  # xcnid speaks HTTP on its socket: the request's head
        b = c.recv(65536)
        if not b:
            break
        req += b
    body = "".join(json.dumps(r) + "\n" for r in RECS).encode() + b'{"cursor":3}\n'
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n" % len(body) + body)
    c.close()
    s.close()


def fail(msg, out):
    sys.exit(f"flows_text: {msg}\n{out}")


def main():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "flows.sock")
    ready = threading.Event()
    th = threading.Thread(target=serve, args=(path, ready), daemon=True)
    th.start()
    ready.wait(5)
    p = subprocess.run([sys.argv[1], "flows", "--flows-socket", path], capture_output=True,
                       text=True, timeout=20)
    out = p.stdout
    os.unlink(path)
    os.rmdir(d)
    if p.returncode:
        fail(f"exit {p.returncode}: {p.stderr}", out)
    lines = out.splitlines()
    head = lines[0]
    cols = [head.index(w) for w in ("TIME", "SOURCE", "DESTINATION", "VERDICT", "BY")]
    rows = [l for l in lines[1:] if not l.startswith(" ")]
    if len(rows) != 3:
        fail(f"{len(rows)} rows, want 3", out)
    for r in rows:
        for c in cols:
            if c == cols[-1] and len(r.rstrip()) < c:
                continue  # BY on lines of its own (ends wider than the line)
            if r[c - 1] != " " or r[c] == " ":
                fail(f"a column out of line under its title at {c}: {r!r}", out)
    times = [r[cols[0]:cols[1]].strip() for r in rows]
    if times != sorted(times):
        fail(f"rows not in time order: {times}", out)
    flat = " ".join(l.strip() for l in lines[1:])
    if "..." in out or BY_LONG.split("; ")[1] not in flat:
        fail("BY cut", out)
    for l in lines[1:]:
        if l.startswith(" ") and len(l) > 120 and " " in l.strip():
            fail(f"a line past 120 columns: {l!r}", out)
    nb = [r for r in rows if "no-backend" in r]
    if not nb or "web/ghost:80" not in nb[0] or "10.96.0.50" in nb[0]:
        fail("the no-backend row does not name its Service (web/ghost:80)", out)
    print(out, end="")
    print("ok: columns in line, time order, BY whole, the no-backend row names web/ghost")


main()
