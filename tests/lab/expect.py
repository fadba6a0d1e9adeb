#!/usr/bin/python3
# Compares `xcnictl lab matrix --json` with the truth table a NetworkPolicy
# case expects. The expectation is a Python expression over the probe's
# source and destination: sns, spod, dns, dpod (and s, d as "ns/pod").
# A pod always reaches itself (its own address never leaves its netns).
# Over TCP, a connected cell must also have been answered by the destination
# pod itself (the lab's listeners answer with their NS/POD); probed through
# Services (a third argument: `xcnictl lab get --json`), by a pod its Service
# svc-<pod> selects (a relabelled pod can make two pods share one).
# Prints the table of mismatches; exit 0 when none.
import json
import sys


def main():
    matrix = json.load(open(sys.argv[1]))
    expr = sys.argv[2]
    # Who may answer for d: d, or the pods behind its Service.
    behind = {}
    if len(sys.argv) > 3:
        lab = json.load(open(sys.argv[3]))
        by_ip = {p.get("ip", "").split("/")[0]: p["namespace"] + "/" + p["name"] for p in lab.get("pods", [])}
        for svc in lab.get("services", []):
            if svc["name"].startswith("svc-"):
                eps = {by_ip.get(e.split(":")[0]) for e in svc.get("endpoints", [])}
                behind[svc["namespace"] + "/" + svc["name"][4:]] = eps
    pods = matrix["pods"]
    bad = []
    for s in pods:
        for d in pods:
            sns, spod = s.split("/")
            dns, dpod = d.split("/")
            want = True if s == d else bool(eval(expr, {}, dict(s=s, d=d, sns=sns, spod=spod, dns=dns, dpod=dpod)))
            got = matrix["rows"][s][d]
            if got != want:
                bad.append((s, d, want, got))
            elif got and matrix.get("protocol") == "tcp":
                who = matrix.get("answers", {}).get(s, {}).get(d)
                if who != d and who not in behind.get(d, ()):
                    bad.append((s, d, want, f"answered by {who}"))
    if not bad:
        return 0
    width = max(len(p) for p in pods)
    print("# expected (E) vs probed; '.' connected, 'X' blocked, wrong cells in brackets")
    print("# " + " " * width + " " + " ".join(p.rjust(width) for p in pods))
    wrong = {(s, d) for s, d, _, _ in bad}
    for s in pods:
        cells = []
        for d in pods:
            c = "." if matrix["rows"][s][d] else "X"
            cells.append(("[" + c + "]" if (s, d) in wrong else c).rjust(width))
        print("# " + s.ljust(width) + " " + " ".join(cells))
    sports = matrix.get("sports", {})
    for s, d, want, got in bad:
        how = got if isinstance(got, str) else "connected" if got else "blocked"
        port = sports.get(s, {}).get(d)
        print(f"# {s} -> {d}: expected {'connected' if want else 'blocked'}, probed {how}"
              + (f" (source port {port})" if port else ""))
    return 1


sys.exit(main())
