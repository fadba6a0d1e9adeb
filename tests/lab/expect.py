#!/usr/bin/python3
# Compares `xcnictl lab matrix --json` with the truth table a NetworkPolicy
# case expects. The expectation is a Python expression over the probe's
# source and destination: sns, spod, dns, dpod (and s, d as "ns/pod").
# A pod always reaches itself (its own address never leaves its netns).
# Over TCP, a connected cell must also have been answered by the destination
# pod itself (the lab's listeners answer with their NS/POD); probed through
# Services (a third argument: `xcnictl lab get --json`), by a pod its Service
# svc-<pod> selects (a relabelled pod can make two pods share one).
# A matrix of both families (a dual stack lab) is checked family by family;
# --expr6 EXPR gives IPv6 its own expectation (default: the same).
# Prints the table of mismatches; exit 0 when none.
import json
import sys


def endpoint_ip(e):
    """ "10.0.0.1:80/tcp" or "[fd00::1]:80/tcp" -> the address."""
    return e[1:e.index("]")] if e.startswith("[") else e.split(":")[0]


def main():
    args = sys.argv[1:]
    expr6 = None
    if "--expr6" in args:
        i = args.index("--expr6")
        expr6 = args[i + 1]
        del args[i:i + 2]
    matrix = json.load(open(args[0]))
    expr = args[1]
    # Who may answer for d: d, or the pods behind its Service.
    behind = {}
    if len(args) > 2:
        lab = json.load(open(args[2]))
        by_ip = {}
        for p in lab.get("pods", []):
            for key in ("ip", "ip6"):
                if p.get(key):
                    by_ip[p[key].split("/")[0]] = p["namespace"] + "/" + p["name"]
        for svc in lab.get("services", []):
            if svc["name"].startswith("svc-"):
                eps = {by_ip.get(endpoint_ip(e)) for e in svc.get("endpoints", [])}
                behind[svc["namespace"] + "/" + svc["name"][4:]] = eps
    fams = matrix.get("families")
    if not fams:
        return check(matrix, expr, behind, "")
    bad = 0
    for fam in sorted(fams):
        sub = dict(fams[fam], pods=matrix["pods"], protocol=matrix.get("protocol"))
        bad |= check(sub, expr6 if fam == "6" and expr6 else expr, behind, f"IPv{fam}: ")
    return bad


def check(matrix, expr, behind, tag):
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
    print(f"# {tag}expected (E) vs probed; '.' connected, 'X' blocked, wrong cells in brackets")
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
        print(f"# {tag}{s} -> {d}: expected {'connected' if want else 'blocked'}, probed {how}"
              + (f" (source port {port})" if port else ""))
    return 1


sys.exit(main())
