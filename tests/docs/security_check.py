#!/usr/bin/env python3
# Checks docs/security.md, the inventory of shared resources (issue 52, suite
# docs-security), against the tree:
#  - every map of the data plane (a `SEC(".maps")` definition under bpf/) has a
#    row in the first table ("## Maps"), its name alone in the first cell, and
#    every row there names a map that exists;
#  - every row of every table has as many cells as its header;
#  - every row names a test: a suite of tests/run.sh's list in backticks, or
#    says "no hostile test"; every backticked word of the test column that looks
#    like a suite name is one; every quoted check text there occurs, as written,
#    in a file under tests/ or bench/;
#  - every row whose owner is taken from a packet (an outside address) says
#    **Forgeable:** (can a spoofer write it, what does it cost);
#  - README.md and docs/architecture.md link to it.
# Prints TAP-style "ok"/"not ok" lines and "N passed, N failed"; exit 1 on a failure.
# XCNI_ROOT (else this file's tree) is the tree checked.
import os, re, sys

from tap import finish, result

root = os.environ.get("XCNI_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(root)
DOC = "docs/security.md"


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def bpf_maps():
    """{map name: file} of every map definition under bpf/ (comments removed)."""
    out = {}
    for d, _, files in os.walk("bpf"):
        for f in sorted(files):
            if not f.endswith((".h", ".c")):
                continue
            p = os.path.join(d, f)
            code = re.sub(r"/\*.*?\*/", " ", read(p), flags=re.S)
            code = re.sub(r"//[^\n]*", " ", code)
            for m in re.finditer(r"\}\s*(\w+)\s+SEC\(\s*\"\.maps\"\s*\)", code):
                out[m.group(1)] = p
    return out


def suites():
    """The names of tests/run.sh's suites=( ... ) list."""
    text = read("tests/run.sh")
    m = re.search(r"^suites=\(\n(.*?)^\)", text, re.S | re.M)
    names = set()
    for line in (m.group(1) if m else "").splitlines():
        s = re.match(r'\s*"([A-Za-z0-9_.-]+):', line)
        if s:
            names.add(s.group(1))
    return names


def cells(line):
    """A Markdown table row's cells (no pipe inside a cell: the document has none)."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables(text):
    """[(section heading, header cells, [(line number, cells)])] of every table."""
    out, section, cur = [], "", None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        if not line.startswith("|"):
            cur = None
            continue
        if cur is None:
            cur = (section, cells(line), [])
            out.append(cur)
        elif re.fullmatch(r"\|?[\s:|-]+\|?", line.strip()):
            continue
        else:
            cur[2].append((n, cells(line)))
    return out


# The quoted texts are looked for in every file under these.
def corpus():
    out = []
    for top in ("tests", "bench"):
        for d, _, files in os.walk(top):
            for f in files:
                try:
                    out.append(read(os.path.join(d, f)))
                except OSError:
                    pass
    return "\n".join(out)


if not os.path.exists(DOC):
    result(False, DOC + " exists")
    finish()

text = read(DOC)
tabs = tables(text)
maps = bpf_maps()
result(len(maps) > 0, "bpf/: %d map definitions found" % len(maps), "no SEC(\".maps\") under bpf/")

# 1. The maps' table: one row a map, nothing else.
mtab = [t for t in tabs if t[0].startswith("Maps")]
result(len(mtab) == 1, DOC + ': one table under "## Maps"', "%d such tables" % len(mtab))
rows = {}
bad_first = []
for n, c in (mtab[0][2] if mtab else []):
    m = re.fullmatch(r"`(xcni_\w+)`", c[0])
    if m:
        rows.setdefault(m.group(1), []).append(n)
    else:
        bad_first.append("line %d: %s" % (n, c[0]))
result(not bad_first, DOC + ": every row of the maps' table names one map (`xcni_...`) in its first cell",
       "\n".join(bad_first))
missing = sorted(set(maps) - set(rows))
result(not missing, DOC + ": every map under bpf/ has a row (%d maps)" % len(maps),
       "\n".join("%s (%s): no row in %s" % (m, maps[m], DOC) for m in missing))
stale = sorted(set(rows) - set(maps))
result(not stale, DOC + ": every row names a map that exists under bpf/",
       "\n".join("%s (line %s): no such map" % (m, rows[m][0]) for m in stale))
twice = sorted(m for m, ns in rows.items() if len(ns) > 1)
result(not twice, DOC + ": one row a map", "\n".join("%s: lines %s" % (m, rows[m]) for m in twice))

# 2. Every table's rows have the header's cells.
bad = []
for sec, head, body in tabs:
    for n, c in body:
        if len(c) != len(head):
            bad.append("line %d (%s): %d cells, the header has %d" % (n, sec, len(c), len(head)))
result(tabs and not bad, DOC + ": every row has its table's columns", "\n".join(bad) or "no tables")

# 3. The test column: real suites, real check texts, never empty.
known = suites()
result(len(known) > 10, "tests/run.sh: its suites list read (%d suites)" % len(known))
body = corpus()
nosuite, notest, notext = [], [], []
for sec, head, rows_ in tabs:
    if not head or not re.match(r"Attacked by|Test", head[-1]):
        notest.append("%s: its last column is not the test (%s)" % (sec, head[-1] if head else "none"))
        continue
    for n, c in rows_:
        cell = c[-1]
        names = re.findall(r"`([A-Za-z0-9_.-]+)`\s*:", cell)
        for s in names:
            if s not in known:
                nosuite.append("line %d: `%s` is no suite of tests/run.sh" % (n, s))
        if not names and "no hostile test" not in cell:
            notest.append("line %d (%s): names no suite and does not say \"no hostile test\"" % (n, c[0]))
        for q in re.findall(r"\"([^\"]+)\"", cell):
            if q not in body:
                notext.append("line %d: \"%s\" is in no file under tests/ or bench/" % (n, q))
result(not nosuite, DOC + ": every suite a row names is in tests/run.sh's list", "\n".join(nosuite))
result(not notext, DOC + ": every quoted check text occurs in tests/ or bench/", "\n".join(notext))
result(not notest, DOC + ": every row names a test (a suite, or says \"no hostile test\")",
       "\n".join(notest))

# 4. An owner a packet names (an outside client's or source's address) is what
# a sender writes: such a row says whether it can be forged (issue 65 item 2).
PACKET_OWNER = re.compile(r"client address|outside source|source outside|by (?:a keyed hash of )?its address")
unsaid = []
for sec, head, rows_ in tabs:
    col = next((i for i, h in enumerate(head) if h.startswith("Owner")), None)
    for n, c in rows_:
        if col is not None and col < len(c) and PACKET_OWNER.search(c[col]) and "Forgeable:" not in c[col]:
            unsaid.append("line %d (%s): its owner is taken from a packet; say **Forgeable:** and what it costs" % (n, c[0]))
result(not unsaid, DOC + ": every owner taken from a packet says whether it can be forged", "\n".join(unsaid))

# 5. Linked from where readers start.
for p in ("README.md", "docs/architecture.md"):
    t = read(p) if os.path.exists(p) else ""
    result(re.search(r"\]\((?:\./)?(?:docs/)?security\.md(?:#[\w-]+)?\)", t) is not None,
           "%s links to %s" % (p, DOC))

finish()
