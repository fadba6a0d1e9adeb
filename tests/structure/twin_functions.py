#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""twin_functions.py: the IPv4/IPv6 twin functions of bpf/ (issue 40's measure).

A function is a definition at column 0 in bpf/*.c or bpf/lib/*.h (its body
up to the first "}" at column 0); its lines are that span. Twins: two
functions whose names are the same once every "4" and "6" is taken out
(ct_track / ct6_track, parse_ipv4 / parse_ipv6, from_pod4 / from_pod6),
one of them with a "6" in its name. Where a name with a "4" is there
(lb4_reject beside lb6_reject), the "6" pairs with it and not with the
name that carries no family (lb_reject, a dispatcher over both, or the
one body both frames call): that one is not a twin of either.

A frame is a function of at most 10 lines that only hands the family, as a
constant (XCNI_AF_INET or XCNI_AF_INET6), to a body whose name carries no
family: from_pod_frame4 -> from_pod_fam(skb, XCNI_AF_INET). Frames exist
for the verifier (each family's copy of the body verified with a stack of
its own); they hold no algorithm. A pair of two frames is counted apart.

Prints the pairs (frames marked), then one summary line: functions, their
lines, twin pairs, of which frame pairs, the other pairs, and the twins'
lines and share.

    python3 tests/structure/twin_functions.py [BPF_DIR] [-v]
"""
import re
import sys
from pathlib import Path

DEF = re.compile(r"^(?:static\s+|__attribute__\S*\s+|__always_inline\s+|inline\s+|const\s+|"
                 r"struct\s+\w+\s+|enum\s+\w+\s+|unsigned\s+|\w+\s+)*\**\s*(\w+)\s*\(")


FRAME_CALL = re.compile(r"\b([A-Za-z_]+)\((?:[^()]|\([^()]*\))*\bXCNI_AF_INET6?\b")


def is_frame(path, a, b):
    """At most 10 lines, and a call handing the family as a constant to a
    function whose name carries no family."""
    if b - a + 1 > 10:
        return False
    body = " ".join(path.read_text().split("\n")[a - 1:b])
    return any(not re.search(r"[46]", m.group(1)) for m in FRAME_CALL.finditer(body))


def functions(root):
    out = []
    for f in sorted(list(root.glob("*.c")) + list(root.glob("lib/*.h")) + list(root.glob("*.h"))):
        lines = f.read_text().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            m = DEF.match(line)
            if (m and not line.startswith(("#", " ", "\t", "}", "/", "*")) and
                    not line.rstrip().endswith(";") and m.group(1) not in ("if", "while", "for",
                                                                        "switch", "SEC")):
                # the body: the first "{" from here, then the first "}" at column 0
                j = i
                while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                    j += 1
                if j < len(lines) and "{" in lines[j]:
                    k = j
                    while k < len(lines) and lines[k] != "}":
                        k += 1
                    out.append((m.group(1), f.relative_to(root), i + 1, k + 1))
                    i = k + 1
                    continue
            i += 1
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    root = Path(args[0] if args else "bpf")
    fns = functions(root)
    by = {}
    for name, f, a, b in fns:
        by.setdefault(re.sub(r"[46]", "", name), []).append((name, f, a, b))
    pairs = []
    for key, group in by.items():
        six = [g for g in group if "6" in g[0]]
        other = [g for g in group if "6" not in g[0]]
        if any("4" in g[0] for g in other):
            other = [g for g in other if "4" in g[0]]
        for s in six:
            for o in other:
                pairs.append((o, s))
    total = sum(b - a + 1 for _, _, a, b in fns)
    twin_fns = {(g[0], g[1]) for p in pairs for g in p}
    twin_lines = sum(b - a + 1 for n, f, a, b in fns if (n, f) in twin_fns)
    frames = {(o[0], s[0]) for o, s in pairs
              if is_frame(root / o[1], o[2], o[3]) and is_frame(root / s[1], s[2], s[3])}
    if "-v" in sys.argv:
        for o, s in sorted(pairs):
            mark = "  [frames]" if (o[0], s[0]) in frames else ""
            print(f"{o[0]} ({o[1]}:{o[2]}, {o[3] - o[2] + 1}) ~ {s[0]} ({s[1]}:{s[2]}, "
                  f"{s[3] - s[2] + 1}){mark}")
    print(f"functions {len(fns)}, lines {total}; twin pairs {len(pairs)} "
          f"({len(frames)} of frames, {len(pairs) - len(frames)} others), "
          f"their lines {twin_lines} ({100 * twin_lines / max(total, 1):.0f}%)")


main()
