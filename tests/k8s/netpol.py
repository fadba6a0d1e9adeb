#!/usr/bin/python3
"""Runs tests/k8s/netpol-cases.yaml against a real cluster (tests/k8s/netpol.sh).

netpol.py CASES [--only SUBSTRING]

The namespaces x, y, z and their pods a, b, c (labels pod=NAME and name=NAME,
serving "NS/POD" over HTTP on TCP 80 and 81; a ClusterIP Service s-NAME per pod
selecting name=NAME) are the caller's. kubectl is run as
ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG.

For each case: its label changes and policies applied, then each probe's
matrix: from every pod, one kubectl exec that fetches every other pod (its
podIP, or its Service's ClusterIP with via: service) in parallel, busybox wget
with a 2 s timeout; a pair connects when the page names the destination. A
table that disagrees is shown and probed again once after 3 s (as upstream's
suite probes again); still wrong, the case fails. Then the policies are deleted
and the labels put back. One line per probe on stdout: "PASS NAME: PORT/TCP
(...)" or "FAIL ...", with "# " lines for the wrong cells; the last line
"cases: P passed, F failed".
"""
import json
import os
import re
import subprocess
import sys
import time

import yaml

NSS = ("x", "y", "z")
PODS = ("a", "b", "c")
SETTLE_S = 2.0
TIMEOUT_S = 2


def kubectl(*args, stdin=None, check=True):
    cmd = ["ip", "netns", "exec", os.environ["K8S_NETNS"], os.environ["K8S_BIN"] + "/kubectl",
           "--kubeconfig", os.environ["KUBECONFIG"], *args]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if check and r.returncode:
        raise RuntimeError("kubectl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def addresses():
    """{"ns/pod": podIP} and {"ns/pod": its Service's ClusterIP}."""
    pods = json.loads(kubectl("get", "pods", "-A", "-o", "json"))["items"]
    ips = {p["metadata"]["namespace"] + "/" + p["metadata"]["name"]: p["status"].get("podIP", "")
           for p in pods if p["metadata"]["namespace"] in NSS}
    svcs = json.loads(kubectl("get", "services", "-A", "-o", "json"))["items"]
    cips = {s["metadata"]["namespace"] + "/" + s["metadata"]["name"][2:]: s["spec"]["clusterIP"]
            for s in svcs if s["metadata"]["namespace"] in NSS and s["metadata"]["name"].startswith("s-")}
    return ips, cips


def substitute(obj, ips):
    """"@NS/POD[/LEN]" strings become that pod's address (and prefix length)."""
    if isinstance(obj, dict):
        return {k: substitute(v, ips) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, ips) for v in obj]
    if isinstance(obj, str):
        m = re.fullmatch(r"@(\w+/\w+)(/\d+)?", obj)
        if m:
            return ips[m.group(1)] + (m.group(2) or "")
    return obj


# Each fetch bounded by the probing shell itself (tests/k8s/lib.sh's bounded:
# wget in the background, killed after the timeout, reaped there), not by
# busybox timeout(1), whose watchdog the pod's PID 1, a `sleep`, inherits and
# never reaps: a zombie per fetch, thousands a run.
PROBE = os.environ["BOUNDED"] + r'''
port=$1; shift
while [ $# -gt 1 ]; do
  ( got=$(bounded %d wget -q -O - "http://$2:$port/" 2>/dev/null | head -c 64); echo "$1 $got" ) 2>/dev/null &
  shift 2
done
wait''' % (TIMEOUT_S * 10)


def matrix(port, dest_ip):
    """{(s, d): True|False} for every ordered pair of two different pods."""
    names = [n + "/" + p for n in NSS for p in PODS]
    procs = {}
    for s in names:
        ns, pod = s.split("/")
        targets = []
        for d in names:
            if d != s:
                targets += [d, dest_ip[d]]
        procs[s] = subprocess.Popen(
            ["ip", "netns", "exec", os.environ["K8S_NETNS"], os.environ["K8S_BIN"] + "/kubectl",
             "--kubeconfig", os.environ["KUBECONFIG"], "-n", ns, "exec", pod, "--",
             "sh", "-c", PROBE, "sh", str(port), *targets],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    got = {}
    for s, p in procs.items():
        out, _ = p.communicate(timeout=60)
        seen = {}
        for line in out.splitlines():
            d, _, answer = line.partition(" ")
            seen[d] = answer.strip() == d
        for d in names:
            if d != s:
                got[(s, d)] = seen.get(d, False)
    return got


def expected(expr, s, d):
    sns, spod = s.split("/")
    dns, dpod = d.split("/")
    return bool(eval(expr, {}, dict(s=s, d=d, sns=sns, spod=spod, dns=dns, dpod=dpod)))


def wrong_cells(got, expr):
    return sorted((s, d, ok) for (s, d), ok in got.items() if ok != expected(expr, s, d))


def table(got):
    names = [n + "/" + p for n in NSS for p in PODS]
    rows = ["#        " + " ".join("%-4s" % d for d in names)]
    for s in names:
        rows.append("#   %-4s " % s + " ".join(
            "%-4s" % ("-" if s == d else "." if got[(s, d)] else "X") for d in names))
    return rows


def relabel(changes, undo):
    for c in changes:
        kind = c["kind"].lower()
        args = ["label", "--overwrite", kind, c["name"]]
        if c.get("ns"):
            args[1:1] = ["-n", c["ns"]]
        labels = c["orig"] if undo else c["labels"]
        kubectl(*args, *["%s=%s" % kv for kv in labels.items()])


def main():
    cases = yaml.safe_load(open(sys.argv[1]))
    only = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--only" else None
    passed = failed = 0
    for case in cases:
        name = case["name"]
        if only and only not in name:
            continue
        ips, cips = addresses()
        pols = [substitute(p, ips) for p in case.get("policies", [])]
        changes = case.get("relabel", [])
        for c in changes:  # what to put back: the same keys as they are now
            obj = json.loads(kubectl(*(["-n", c["ns"]] if c.get("ns") else []), "get",
                                     c["kind"].lower(), c["name"], "-o", "json"))
            c["orig"] = {k: obj["metadata"].get("labels", {}).get(k, "") for k in c["labels"]}
        t0 = time.monotonic()
        try:
            if pols:
                kubectl("apply", *case.get("apply", []), "-f", "-",
                        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pols}))
            relabel(changes, False)
        except RuntimeError as e:
            print("FAIL %s: applying it: %s" % (name, e))
            failed += len(case.get("probes", []))
            continue
        time.sleep(SETTLE_S)
        dest = cips if case.get("via") == "service" else ips
        for pr in case.get("probes", []):
            desc = "%s: %d/TCP%s" % (name, pr["port"], " via Services" if dest is cips else "")
            got = matrix(pr["port"], dest)
            bad = wrong_cells(got, pr["expect"])
            note = ""
            if bad:
                for row in table(got):
                    print(row)
                for s, d, ok in bad:
                    print("# %s -> %s: expected %s, got %s" % (s, d, not ok, ok))
                time.sleep(3)
                got = matrix(pr["port"], dest)
                bad = wrong_cells(got, pr["expect"])
                note = ", RE-PROBED: the first table above disagreed"
            allowed = sum(got.values())
            if bad:
                failed += 1
                for row in table(got):
                    print(row)
                for s, d, ok in bad:
                    print("# %s -> %s: expected %s, got %s" % (s, d, not ok, ok))
                print("FAIL %s (%d of 72 pairs wrong)" % (desc, len(bad)))
            else:
                passed += 1
                print("PASS %s (%d of 72 pairs connect, %.1f s from apply%s)" %
                      (desc, allowed, time.monotonic() - t0, note))
            sys.stdout.flush()
        for pol in pols:  # by name: what delete -f would parse (endPort) is not needed
            kubectl("-n", pol["metadata"]["namespace"], "delete", "networkpolicy",
                    pol["metadata"]["name"], "--wait=true", check=False)
        relabel(changes, True)
    print("cases: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
