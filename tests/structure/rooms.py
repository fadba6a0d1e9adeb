#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rooms.py: the declared order of the rooms, checked on real edges (issue 68 item 2).

    system < cluster < {policy, services} < observe < {cni, agent, lab} < ctl

A room may use what a lower room defines, never what a higher room or a sibling
of its own rank defines. Two graphs give the edges:
  include  #include "..." between product files (bpf/ is one room of its own
           and only xcni_shared.h crosses into userspace);
  link     nm over the objects in $BUILD/obj: a symbol a file uses (U) and the
           file that defines it (T, D, B, R): what the linker really joins.
Within a folder, file-level circles are reported on each graph: the link
graph's (x.c uses what y.c defines, and back) and the include graph's.

Known arrows and circles that are not fixed yet are listed, one a line, in
tests/structure/rooms_known.tsv; the check fails on any arrow or circle not
listed there (a new one) and on a listed one that no longer exists (so the
list only shrinks). Prints TAP lines and "N passed, N failed" with --tap.

    python3 tests/structure/rooms.py [--tap] [-v]
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tree_shape import finish, sccs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(ROOT)
BUILD = os.environ.get("BUILD", "build")
KNOWN = "tests/structure/rooms_known.tsv"
RANK = {"system": 0, "cluster": 1, "policy": 2, "services": 2, "observe": 3,
        "cni": 4, "agent": 4, "lab": 4, "ctl": 5, "bpf": -1}


def room(path):
    p = path.split("/")
    if p[0] == "bpf":
        return "bpf"
    if p[0] == "cni":
        return "cni"
    if p[:2] == ["user", "lib"]:
        return p[2]
    return {"agent": "agent", "ctl": "ctl", "lab": "lab"}[p[1]]


def product_files():
    out = subprocess.run(["git", "ls-files", "bpf", "user", "cni"], capture_output=True,
                         text=True, check=True).stdout.split()
    return [f for f in out if f.endswith((".c", ".h")) and os.path.exists(f)]


def include_edges(files):
    have, edges = set(files), set()
    for f in files:
        for line in open(f, encoding="utf-8", errors="replace"):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            cands = [os.path.normpath(os.path.join(os.path.dirname(f), m.group(1))),
                     os.path.normpath(m.group(1)), os.path.normpath(os.path.join("user", m.group(1))),
                     os.path.normpath(os.path.join("user/lib", m.group(1))),
                     os.path.normpath(os.path.join("bpf", m.group(1)))]
            dst = next((c for c in cands if c in have), None)
            if dst and dst != f:
                edges.add((f, dst))
    return edges


def link_edges(files):
    srcs = {f for f in files if f.endswith(".c")}
    defs, uses = {}, {}
    for src in srcs:
        obj = os.path.join(BUILD, "obj", src[:-2] + ".o")
        if not os.path.exists(obj):
            continue
        r = subprocess.run(["nm", obj], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                uses.setdefault(src, set()).add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBR":
                defs.setdefault(parts[2], src)
    edges = set()
    for src, names in uses.items():
        for n in names:
            dst = defs.get(n)
            if dst and dst != src:
                edges.add((src, dst))
    return edges, len([s for s in srcs if os.path.exists(os.path.join(BUILD, "obj", s[:-2] + ".o"))])


def against(edges):
    out = set()
    for a, b in edges:
        ra, rb = room(a), room(b)
        if ra == rb or "bpf" in (ra, rb):
            continue
        if RANK[rb] >= RANK[ra]:
            out.add("arrow\t%s -> %s\t%s" % (ra, rb, "%s -> %s" % (a, b)))
    return out


def circles(edges):
    by_dir = {}
    for a, b in edges:
        if os.path.dirname(a) == os.path.dirname(b):
            by_dir.setdefault(os.path.dirname(a), {}).setdefault(a, set()).add(b)
    out = set()
    for d, g in by_dir.items():
        for comp in sccs(g):
            if len(comp) > 1:
                out.add("circle\t%s\t%s" % (d, " ".join(sorted(os.path.basename(c) for c in comp))))
    return out


def main():
    tap, verbose = "--tap" in sys.argv, "-v" in sys.argv
    files = product_files()
    inc = include_edges(files)
    lnk, nobj = link_edges(files)
    found = against(inc) | against(lnk) | circles(inc) | circles(lnk)
    # An arrow is known by its rooms and files; collapse to what the list holds.
    known = set()
    if os.path.exists(KNOWN):
        known = {line.rstrip("\n") for line in open(KNOWN, encoding="utf-8")
                 if line.strip() and not line.startswith("#")}
    new, gone = sorted(found - known), sorted(known - found)
    results = []

    def say(ok, text, places):
        results.append(ok)
        print(("%s - %s" if tap else "%s  %s") % ("ok" if ok else ("not ok" if tap else "FAIL"), text))
        for p in places if (verbose or not ok) else []:
            print("#   " + p.replace("\t", "  "))

    arrows = [f for f in found if f.startswith("arrow")]
    circ = [f for f in found if f.startswith("circle")]
    say(nobj > 0, "link graph read from %d objects in %s/obj (%d edges), include graph %d edges"
        % (nobj, BUILD, len(lnk), len(inc)), [])
    say(not new, "%d arrows against the order and %d circles in a folder; %d not in %s"
        % (len(arrows), len(circ), len(new), KNOWN), new)
    say(not gone, "%d listed in %s no longer exist (remove them: the list only shrinks)"
        % (len(gone), KNOWN), gone)
    finish(results, tap)


if __name__ == "__main__":
    main()
