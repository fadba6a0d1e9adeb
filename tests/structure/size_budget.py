#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""size_budget.py: product code lines per concern against tests/structure/size_budget.tsv.

Product code is every .c/.h under bpf/, user/ and cni/ that git tracks; a code line
is a line with something left once comments are blanked (tree_shape.strip_c). The
budget file has three kinds of line (tab-separated, '#' comments):

    rule     CONCERN  GLOB            first matching rule names a file's concern
    limit    CONCERN  LINES  DATE  CAPABILITY
    ceiling  total    LINES  DATE  WHY

A concern's row is its last limit line. Rows are only ever appended: a raise is a
new line naming the capability that pays for it, in the commit that raises it
(checked on git's history of the file), and a fold that shrinks a concern appends
a lower line so that the room it freed is not spent silently.

Checks, one TAP line each:
  files    every product file matches a rule
  CONCERN  its code lines <= its row + 2%
  total    all product code lines <= the ceiling
  rows     every limit line after a concern's first names a capability (3+ words)
  history  no commit removed or edited a limit or ceiling line
  planted  a concern 3% past its row fails the comparison above (the check can fail)

    python3 tests/structure/size_budget.py [--tap] [--plant CONCERN=PCT]

--plant adds PCT% of its row to CONCERN's count (to see the check fail).
Exit 1 when a check fails.
"""
import fnmatch
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tree_shape import finish, strip_c  # noqa: E402

SLACK = 1.02
BUDGET = "tests/structure/size_budget.tsv"


def product_files():
    out = subprocess.run(["git", "ls-files", "bpf", "user", "cni"], capture_output=True,
                         text=True, check=True).stdout.split()
    return [f for f in out if f.endswith((".c", ".h")) and os.path.exists(f)]


def code_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in strip_c(f.read()).splitlines() if line.strip())


def within(lines, row):
    return lines <= row * SLACK


def read_budget(path):
    rules, limits, ceiling = [], {}, None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cols = line.split("\t")
            if cols[0] == "rule" and len(cols) == 3:
                rules.append((cols[1], cols[2]))
            elif cols[0] == "limit" and len(cols) == 5 and cols[2].isdigit():
                limits.setdefault(cols[1], []).append((int(cols[2]), cols[4].strip(), n))
            elif cols[0] == "ceiling" and len(cols) == 5 and cols[2].isdigit():
                ceiling = int(cols[2])
            else:
                sys.exit("%s:%d: not a rule, limit or ceiling line: %r" % (path, n, line))
    return rules, limits, ceiling


def history_edits(path):
    """Limit or ceiling lines a commit removed or edited (from git log -p)."""
    r = subprocess.run(["git", "log", "-p", "--format=commit %h", "--", path],
                       capture_output=True, text=True)
    if r.returncode:
        return None
    bad, commit = [], "?"
    for line in r.stdout.splitlines():
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.startswith(("-limit\t", "-ceiling\t")):
            bad.append("%s removed %r" % (commit, line[1:]))
    return bad


def main():
    tap = "--tap" in sys.argv
    plant = {}
    if "--plant" in sys.argv:
        k, _, v = sys.argv[sys.argv.index("--plant") + 1].partition("=")
        plant[k] = float(v or 3)
    rules, limits, ceiling = read_budget(BUDGET)
    results = []

    def say(ok, name, text, places=()):
        results.append(ok)
        if tap:
            print("%s - %s: %s" % ("ok" if ok else "not ok", name, text))
            for p in places:
                print("#   " + p)
        else:
            print("%-4s %-9s %s" % ("ok" if ok else "FAIL", name, text))
            for p in places:
                print("          " + p)

    counts, unmatched = {c: 0 for c, _ in rules}, []
    for f in product_files():
        concern = next((c for c, g in rules if fnmatch.fnmatch(f, g)), None)
        if concern is None:
            unmatched.append(f)
        else:
            counts[concern] += code_lines(f)
    say(not unmatched, "files", "%d product files match no rule" % len(unmatched), unmatched)

    for c in dict.fromkeys(c for c, _ in rules):
        if c not in limits:
            say(False, c, "no limit line")
            continue
        row = limits[c][-1][0]
        n = counts[c] + row * plant.get(c, 0) / 100
        note = "" if n >= row * 0.98 else " (more than 2% under: append a lower row)"
        say(within(n, row), c, "%d code lines, row %d (+2%%: %d)%s" % (n, row, row * SLACK, note))

    total = sum(counts.values())
    say(ceiling is not None and total <= ceiling, "total",
        "%d code lines, ceiling %s" % (total, ceiling))

    unpaid = ["line %d: %s %d names no capability" % (ln, c, v)
              for c, rows in limits.items() for v, why, ln in rows[1:] if len(why.split()) < 3]
    say(not unpaid, "rows", "%d limit lines after a concern's first without a capability"
        % len(unpaid), unpaid)

    edits = history_edits(BUDGET)
    if edits is None:
        say(True, "history", "no git history here: not checked")
    else:
        say(not edits, "history", "%d limit or ceiling lines removed or edited" % len(edits),
            edits)

    # The comparison itself: every row, 3% past it, must fail.
    missed = [c for c, rows in limits.items() if within(rows[-1][0] * 1.03, rows[-1][0])]
    say(not missed, "planted", "each concern planted 3%% past its row fails (%d rows)" % len(limits),
        missed)

    finish(results, tap)


if __name__ == "__main__":
    main()
