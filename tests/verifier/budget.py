#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""verifier-budget: every BPF program's verifier cost against a checked-in table.

build/tests/verify_count (tests/verifier/verify_count.c) loads every program of
the seven objects in every configuration xcnid runs them in and prints the
instructions the verifier processed (bpf_prog_info.verified_insns). Each row is
compared with tests/verifier/budget.tsv, one check a row. A row fails when it is
- above 75% of the verifier's limit (1,000,000 processed instructions),
- more than 5% above its table row (growth is accepted by raising the row in the
  same commit: --write),
- not in the table (a new program or configuration), or a table row no program
  has (one removed or renamed).
A row more than 5% below its table row passes, with a note to lower the table.
docs/decisions/verifier-budget.md says why these numbers.

    python3 tests/verifier/budget.py                     the suite (as root): TAP
    python3 tests/verifier/budget.py --write             measure, rewrite the table's rows
    python3 tests/verifier/budget.py --write --from F    rewrite them from a measured file
    python3 tests/verifier/budget.py --compare TABLE MEASURED   the comparison alone

The table is budget.tsv (this machine's kernel), or the running kernel's own
budget.<major>.<minor>.tsv where one exists (the kernel matrix's: bash
scripts/kernels.sh matrix), or XCNI_BUDGET_TABLE.

BUILD (default ./build) names the build holding tests/verify_count. The suite
also shows it can fail, cheaply: the comparison alone, run on planted files
made from this run's rows (no program loaded again), must fail on a row raised
more than 5% over its table row and on a row above 75% of the limit.
"""
import os
import subprocess
import sys
import tempfile

LIMIT = 1_000_000   # BPF_COMPLEXITY_LIMIT_INSNS (include/linux/bpf.h)
CEILING = 0.75      # of LIMIT: the most a row may take
GROWTH = 0.05       # over its table row: a failure
SHRINK = 0.05       # under its table row: a note (lower the table)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def table_path():
    """XCNI_BUDGET_TABLE, else the running kernel's own table (budget.6.1.tsv on any
    6.1, measured in scripts/kernels.sh's VMs) where there is one, else budget.tsv."""
    if os.environ.get("XCNI_BUDGET_TABLE"):
        return os.environ["XCNI_BUDGET_TABLE"]
    own = os.path.join(HERE, "budget.%s.tsv" % ".".join(os.uname().release.split(".")[:2]))
    return own if os.path.exists(own) else os.path.join(HERE, "budget.tsv")


TABLE = table_path()

HEAD = """\
# The verifier's processed instructions (bpf_prog_info.verified_insns) for every
# BPF program in every configuration (tests/verifier/verify_count.c), checked by
# the suite verifier-budget (tests/verifier/budget.py): a row fails above 75% of
# the verifier's 1,000,000, or more than 5% above its row here; a program or
# configuration missing here, or a row here no program has, fails too.
# docs/decisions/verifier-budget.md says why.
#
# Whoever changes the programs on purpose regenerates this file (as root, after
# make all), reads the diff, and commits it with the change:
#     make -j2 all build/tests/verify_count && python3 tests/verifier/budget.py --write
# Counts are the kernel's: measured on the kernel below (another kernel's differ).
"""


def kernel():
    return os.uname().release


def parse(path):
    """Rows of a table or measured file: {(object, program, config): insns}, in order."""
    rows, kern = {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("# kernel:"):
                kern = line.split(":", 1)[1].strip()
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 4 or not cols[3].isdigit():
                raise ValueError(f"{path}:{n}: want 'object<TAB>program<TAB>configuration"
                                 f"<TAB>insns', got {line!r}")
            key = tuple(cols[:3])
            if key in rows:
                raise ValueError(f"{path}:{n}: {' '.join(key)}: a second row")
            rows[key] = int(cols[3])
    return rows, kern


def compare(table, measured, start=1):
    """TAP lines, one check per row of either file; returns (lines, passed, failed)."""
    out, passed, failed = [], 0, 0
    keys = list(measured) + [k for k in table if k not in measured]
    for i, key in enumerate(keys, start):
        name = " ".join(key)
        have, want = measured.get(key), table.get(key)
        bad, notes = [], []
        if have is None:
            bad.append(f"a table row ({want}) with no count: its program did not load, or "
                       "it is gone (then remove the row: --write)")
            desc = name
        else:
            desc = f"{name}: {have} insns, {100 * have / LIMIT:.1f}% of the limit"
            if have > CEILING * LIMIT:
                bad.append(f"above {CEILING:.0%} of the verifier's {LIMIT}")
            if want is None:
                bad.append("not in the table: add its row (--write)")
            else:
                desc += f", table {want} ({100 * (have - want) / max(want, 1):+.1f}%)"
                if have > want * (1 + GROWTH):
                    bad.append(f"grew more than {GROWTH:.0%} over its table row: raise the "
                               "row in the same commit (--write) if that is meant")
                elif have < want * (1 - SHRINK):
                    notes.append(f"{name}: more than {SHRINK:.0%} below its table row "
                                 f"({have} < {want}): lower the table (--write)")
        if bad:
            failed += 1
            out.append(f"not ok {i} - {desc}: " + "; ".join(bad))
        else:
            passed += 1
            out.append(f"ok {i} - {desc}")
        out += [f"# {n}" for n in notes]
    return out, passed, failed


def write_rows(path, rows, kern):
    body = HEAD + f"# kernel: {kern}\n" + "".join(
        f"{o}\t{p}\t{c}\t{v}\n" for (o, p, c), v in rows.items())
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(body)
    os.replace(tmp, path)


def measure():
    """verify_count's rows, its exit status and its stderr."""
    build = os.environ.get("BUILD", os.path.join(ROOT, "build"))
    exe = os.path.join(build, "tests", "verify_count")
    if not os.access(exe, os.X_OK):
        return {}, 1, f"{exe}: not built (make build/tests/verify_count)"
    p = subprocess.run([exe], capture_output=True, text=True)
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write(p.stdout)
    try:
        rows, _ = parse(f.name)
    except ValueError as e:
        return {}, 1, f"{e}\n{p.stderr}"
    finally:
        os.unlink(f.name)
    return rows, p.returncode, p.stderr


def run_compare(table, measured):
    """budget.py --compare on two files, as a process: (exit status, stdout)."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--compare", table, measured],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def self_tests(base, start):
    """The comparison, on planted files made from base, fails where it must."""
    out, passed, failed = [], 0, 0
    top = max(base, key=base.get)
    name = " ".join(top)
    # The planted row at half the limit in both files, whatever this run measured.
    base = dict(base)
    base[top] = LIMIT // 2
    cases = []
    # A row grown 10% past its table row: the table's row lowered by hand.
    low = dict(base)
    low[top] = int(base[top] / 1.10)
    cases.append((f"a table row lowered 10% by hand ({name}) fails", low, base, 1, 1,
                  "grew more than"))
    # A row above 75% of the limit, equal to its table row.
    high = dict(base)
    high[top] = int(LIMIT * 0.76)
    cases.append((f"a row at 76% of the limit ({name}) fails", high, high, 1, 1, "above 75%"))
    # A program missing from the table, and a row no program has.
    gone = dict(base)
    del gone[top]
    gone[("no_such", "no_such", "v4")] = 1000
    cases.append(("a program missing from the table and a row no program has fail", gone, base,
                  1, 2, "not in the table"))
    # A row 10% below its table row: a note, no failure.
    above = dict(base)
    above[top] = int(base[top] * 1.10)
    cases.append((f"a row 9% below its table row ({name}) passes with a note to lower it",
                  above, base, 0, 0, "lower the table"))
    with tempfile.TemporaryDirectory(prefix="vbudget.") as d:
        for i, (what, table, measured, want_rc, want_fail, want_text) in enumerate(cases, start):
            tp, mp = os.path.join(d, "table.tsv"), os.path.join(d, "measured.tsv")
            write_rows(tp, table, kernel())
            write_rows(mp, measured, kernel())
            rc, text = run_compare(tp, mp)
            nfail = sum(1 for line in text.splitlines() if line.startswith("not ok "))
            ok = rc == want_rc and nfail == want_fail and want_text in text
            if ok:
                passed += 1
                out.append(f"ok {i} - self-test: {what}")
            else:
                failed += 1
                out.append(f"not ok {i} - self-test: {what} (exit {rc}, {nfail} failed, "
                           f"want exit {want_rc}, {want_fail} failed, '{want_text}')")
                out += ["#   " + line for line in text.splitlines()[-8:]]
    return out, passed, failed


def suite():
    try:
        table, kern = parse(TABLE)
    except (OSError, ValueError) as e:
        print(f"not ok 1 - the table {TABLE} reads: {e}")
        print("0 passed, 1 failed")
        return 1
    measured, rc, err = measure()
    passed = failed = 0
    if rc == 0:
        print("ok 1 - every program loads in every configuration (verify_count)")
        passed += 1
    else:
        print("not ok 1 - every program loads in every configuration (verify_count "
              f"exited {rc})")
        failed += 1
        for line in err.strip().splitlines()[-20:]:
            print("# " + line)
    if kern and kern != kernel():
        print(f"# note: the table was measured on kernel {kern}, this is {kernel()}: "
              "another kernel's verifier counts differently")
    lines, p, f = compare(table, measured, start=2)
    print("\n".join(lines), flush=True)
    passed, failed = passed + p, failed + f
    lines, p, f = self_tests(measured or table, start=2 + p + f)
    print("\n".join(lines))
    passed, failed = passed + p, failed + f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    if argv[:1] == ["--compare"] and len(argv) == 3:
        try:
            table, _ = parse(argv[1])
            measured, _ = parse(argv[2])
        except (OSError, ValueError) as e:
            print(f"budget.py: {e}", file=sys.stderr)
            return 2
        lines, p, f = compare(table, measured)
        print("\n".join(lines))
        print(f"{p} passed, {f} failed")
        return 1 if f else 0
    if argv[:1] == ["--write"] and len(argv) in (1, 3) and argv[1:2] in ([], ["--from"]):
        if len(argv) == 3:
            try:
                rows, _ = parse(argv[2])
            except (OSError, ValueError) as e:
                print(f"budget.py: {e}", file=sys.stderr)
                return 2
            rc, err = 0, ""
        else:
            rows, rc, err = measure()
        if rc or not rows:
            # The table is left as it is: a half-measured one would drop rows.
            print(f"budget.py --write: verify_count failed (exit {rc}), "
                  f"{TABLE} unchanged\n{err}", file=sys.stderr)
            return 1
        write_rows(TABLE, rows, kernel())
        print(f"{TABLE}: {len(rows)} rows; largest "
              + ", ".join(f"{' '.join(k)} {v} ({100 * v / LIMIT:.1f}%)"
                          for k, v in sorted(rows.items(), key=lambda kv: -kv[1])[:3]))
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    return suite()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
