#!/usr/bin/env python3
"""bench/k8s-podstart.sh's driver: N bare pods applied in one kubectl apply,
their Ready seen through a kubectl watch; optionally the containerd CNI setup
time of each of their sandboxes from the nodes' containerd logs (debug level:
"begin cni setup" .. "cni result", and RunPodSandbox's whole span).

  k8s-podstart.py pods --ns NS --count N --nodes n1,n2 --image IMG
        applies them, prints one JSON line: {"apply_ms": .., "ready_ms": {pod: ms}}
        (ms from just before kubectl apply to the watch event that shows the
        pod Ready); exits 1 if not every pod got Ready within --timeout.
  k8s-podstart.py cni LOG... --since RFC3339 --prefix P [--trace FILE]...
        one JSON line: {"cni_ms": [...], "sandbox_ms": [...]} for the sandboxes
        of pods named P* started after --since (containerd's own timestamps).
        With --trace (the plugin's XCNI_TRACE files: one line per call, see
        cni/plugin.c), also "trace": per step of xcni's ADD its p50/p99 ms,
        "pre" (containerd's "begin cni setup" to xcni's main: the loopback
        plugin, exec and the dynamic loader) and "post" (xcni's exit to "cni
        result": the chained plugins after it, portmap), by sandbox id.

The kubectl command is taken from $KUBECTL (a shell command line, e.g. the
control plane's `ip netns exec ... kubectl --kubeconfig ...`)."""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime


def kubectl():
    k = os.environ.get("KUBECTL")
    if not k:
        sys.exit("k8s-podstart.py: KUBECTL is not set")
    return shlex.split(k)


def manifest(ns, count, nodes, image):
    items = []
    for i in range(count):
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p%03d" % i, "namespace": ns, "labels": {"app": "podstart"}},
            "spec": {
                "nodeName": nodes[i % len(nodes)],
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                                "command": ["/bin/sleep", "2147483647"]}],
            },
        })
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def pods(a):
    k = kubectl()
    nodes = a.nodes.split(",")
    jp = '{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}'
    w = subprocess.Popen(k + ["-n", a.ns, "get", "pods", "-w", "-o", "jsonpath=" + jp],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = {}
    t0 = [None]
    lock = threading.Lock()
    done = threading.Event()

    def reader():
        for line in w.stdout:
            now = time.monotonic()
            f = line.split()
            if len(f) == 2 and f[1] == "True":
                with lock:
                    if f[0] not in ready and t0[0] is not None:
                        ready[f[0]] = round((now - t0[0]) * 1000)
                        if len(ready) >= a.count:
                            done.set()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    time.sleep(1.0)  # the watch established (an empty namespace: nothing printed)
    with lock:
        t0[0] = time.monotonic()
    r = subprocess.run(k + ["apply", "-f", "-"], input=manifest(a.ns, a.count, nodes, a.image),
                       text=True, capture_output=True)
    apply_ms = round((time.monotonic() - t0[0]) * 1000)
    if r.returncode:
        w.kill()
        sys.exit("kubectl apply: " + r.stderr.strip())
    done.wait(a.timeout)
    w.kill()
    with lock:
        print(json.dumps({"apply_ms": apply_ms, "ready_ms": dict(ready)}))
    return 0 if len(ready) >= a.count else 1


TS = re.compile(r'^time="([^"]+)"')


def ts(line):
    m = TS.match(line)
    if not m:
        return None
    s = m.group(1)
    # 2026-11-26T10:00:00.123456789Z: datetime takes microseconds.
    m2 = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    if not m2:
        return None
    frac = (m2.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m2.group(3) == "Z" else m2.group(3)
    return datetime.fromisoformat("%s.%s%s" % (m2.group(1), frac, tz)).timestamp()


def cni(a):
    since = datetime.fromisoformat(a.since.replace("Z", "+00:00")).timestamp()
    begin, result, run0, run1 = {}, {}, {}, {}
    name_re = re.compile(r'RunPodSandbox for &PodSandboxMetadata\{Name:([^,]+),')
    sid_re = re.compile(r'podsandboxid=([0-9a-f]+)')
    ret_re = re.compile(r'returns sandbox id \\"([0-9a-f]+)\\"')
    for path in a.logs:
        with open(path, errors="replace") as f:
            for line in f:
                t = ts(line)
                if t is None or t < since:
                    continue
                m = name_re.search(line)
                if m and m.group(1).startswith(a.prefix):
                    if "returns sandbox id" in line:
                        r = ret_re.search(line)
                        if r:
                            run1[r.group(1)] = (m.group(1), t)
                    else:
                        run0.setdefault((path, m.group(1)), t)
                    continue
                s = sid_re.search(line)
                if not s:
                    continue
                if "begin cni setup" in line:
                    begin.setdefault(s.group(1), t)
                elif "cni result" in line:
                    result.setdefault(s.group(1), t)
    cni_ms = []
    sandbox_ms = []
    for sid, (name, t1) in run1.items():
        if sid in begin and sid in result:
            cni_ms.append(round((result[sid] - begin[sid]) * 1000, 1))
        for (path, n), t0 in run0.items():
            if n == name:
                sandbox_ms.append(round((t1 - t0) * 1000, 1))
                break
    out = {"cni_ms": cni_ms, "sandbox_ms": sandbox_ms}
    if a.trace:
        out["trace"] = trace(a.trace, {sid: begin.get(sid) for sid in run1},
                             {sid: result.get(sid) for sid in run1})
    print(json.dumps(out))
    return 0


def pct(v, q):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(q * len(v)))], 1) if v else None


def trace(files, begin, result):
    """xcni's ADD trace lines of the sandboxes in begin: {step: [p50, p99]}."""
    steps = {}
    for path in files:
        try:
            lines = open(path, errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) < 6 or f[:2] != ["xcni", "ADD"] or f[2] not in begin:
                continue
            kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
            if kv.get("err") != "0":
                continue
            sid = f[2]
            for k, v in kv.items():
                if k not in ("pid", "start", "err"):
                    steps.setdefault(k, []).append(float(v))
            start = float(kv["start"])
            if begin[sid] is not None:
                steps.setdefault("pre", []).append((start - begin[sid]) * 1000)
            if result[sid] is not None:
                steps.setdefault("post", []).append((result[sid] - start) * 1000 - float(kv["total"]))
    return {k: {"n": len(v), "p50": pct(v, .5), "p99": pct(v, .99)} for k, v in steps.items()}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("pods")
    q.add_argument("--ns", required=True)
    q.add_argument("--count", type=int, default=100)
    q.add_argument("--nodes", required=True)
    q.add_argument("--image", default="xcni.test/busybox:1")
    q.add_argument("--timeout", type=float, default=300)
    c = sub.add_parser("cni")
    c.add_argument("logs", nargs="+")
    c.add_argument("--since", required=True)
    c.add_argument("--prefix", default="p")
    c.add_argument("--trace", action="append", default=[])
    a = p.parse_args()
    return pods(a) if a.cmd == "pods" else cni(a)


if __name__ == "__main__":
    sys.exit(main())
