#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""verdict_words.py: one table of fates in every view (issue 70 item 2).

A flow's fate has one word in flows, monitor, explain, policy suggest, the
service map, metrics, IPFIX and JSON: flow_verdict_name's table in
user/lib/observe/flowjson.c (allowed, denied, audit, forwarded, refused,
no-backend, timeout, dropped). A view that spells one of these words itself
can drift from it (monitor once said "denied" for a no-backend drop, explain
"refused"): this lists every C string literal, outside comments, that is one
of the words in the views' files; the table's file and vocab.c (the filter
words read, Hubble's beside ours) are where they belong. The web map takes
the words from the agents' JSON: its colours must name each of them.

    python3 tests/structure/verdict_words.py [--tap]

Exit 1 when a view spells a word itself or the map lacks a colour.
"""
import re
import sys
from pathlib import Path

WORDS = ["allowed", "denied", "audit", "forwarded", "refused", "no-backend", "timeout", "dropped"]
# The views: what prints a flow's, an event's or a probe's fate.
VIEWS = [
    "user/ctl/flows.c", "user/ctl/monitor.c", "user/ctl/explain_cmd.c", "user/ctl/explain_svc.c",
    "user/ctl/suggest.c", "user/lib/observe/flowgraph.c", "user/lib/observe/flowsnet.c",
    "user/lib/observe/flows.c", "user/lib/observe/flowfilter.c", "user/lib/observe/explain.c",
    "user/agent/ipfix.c", "user/agent/metrics.c", "user/agent/ui.c", "user/lab/probe.c",
    "user/lab/fate.c",
]
LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def strip_comments(src):
    """The source with its comments blanked (string literals kept)."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src[i] == '"':
            m = LIT.match(src, i)
            j = m.end() if m else i + 1
            out.append(src[i:j])
            i = j
        elif src[i] == "'":
            j = src.find("'", i + 1 + (src[i + 1] == "\\"))
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def main():
    tap = "--tap" in sys.argv
    root = Path(__file__).resolve().parents[2]
    bad = []
    for rel in VIEWS:
        raw = (root / rel).read_text().split("\n")
        src = strip_comments("\n".join(raw))
        for ln, line in enumerate(src.split("\n"), 1):
            if "not a fate" in raw[ln - 1]:
                continue  # an option's or an action's name, said on its line
            for m in LIT.finditer(line):
                if m.group(1) in WORDS:
                    bad.append("%s:%d: \"%s\"" % (rel, ln, m.group(1)))
    html = (root / "web/ui.html").read_text()
    color = re.search(r"const COLOR = \{([^}]*)\}", html)
    keys = set(re.findall(r'"?([a-z-]+)"?\s*:', color.group(1))) if color else set()
    # The fates an edge of the map can have (what a drop or a pass is named by).
    missing = [w for w in ["allowed", "denied", "audit", "forwarded", "no-backend", "dropped"]
               if w not in keys]
    items = [
        (not bad, "views", "%d verdict words spelt outside flow_verdict_name's table" % len(bad), bad),
        (not missing, "map", "%d edge fates without a colour of their own in web/ui.html" %
         len(missing), missing),
    ]
    for ok, name, text, where in items:
        if tap:
            print("%s - %s: %s" % ("ok" if ok else "not ok", name, text))
        else:
            print("%-4s %-6s %s" % ("ok" if ok else "FAIL", name, text))
        for w in where:
            print("  # " + w if tap else "       " + w)
    nfail = sum(1 for ok, *_ in items if not ok)
    if tap:
        print("%d passed, %d failed" % (len(items) - nfail, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
