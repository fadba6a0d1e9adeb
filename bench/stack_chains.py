#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""stack_chains.py: each BPF program's deepest chain of stack frames, from its object.

The verifier refuses a program whose frames along any call chain add up to
more than 512 bytes (each frame rounded up to 16 with the JIT on). In bpf/
that sum, not the instruction count, is what decides most choices of inline
against global (issue 40: one frame for both families' commits took
from_pod4's chain to 560). This reads one function's frame as the deepest
r10 offset its code touches (directly, or through a register copied from
r10), the calls from the relocations (global functions) or the pc-relative
targets (static ones), and prints per program the deepest chain, frame by
frame; -a also every function's frame and deepest chain. --61: the sum as
6.1's verifier makes it (each frame rounded up to 32, an empty one 32: the
interpreter's granularity; docs/decisions/kernel-matrix.md), where from_pod's
chain was refused at 544.

make deletes the .bpf.o once the skeleton is made; compile the one you want:

    clang -O2 -g -target bpf -I/usr/include/$(gcc -dumpmachine) -Ibpf \\
        -c bpf/from_pod.bpf.c -o /tmp/from_pod.o
    python3 bench/stack_chains.py /tmp/from_pod.o [-a]

The verifier's own per-function depths: build/tests/verify_count -s.
"""
import re
import subprocess
import sys


def parse(obj):
    out = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", "-r", obj],
                         capture_output=True, text=True, check=True).stdout
    frame, order, calls, start, pcrel, textrefs = {}, [], {}, {}, [], []
    fp = {}
    cur = sec = last = None
    for line in out.split("\n"):
        m = re.match(r"^Disassembly of section (\S+):", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"^([0-9a-f]+) <(\w+)>:", line)
        if m:
            if m.group(2).startswith("LBB"):  # a label inside the function
                continue
            cur = m.group(2)
            frame[cur], calls[cur] = 0, set()
            order.append((cur, sec))
            start[(sec, int(m.group(1), 16))] = cur
            continue
        if cur is None:
            continue
        m = re.search(r"R_BPF_64_(32|64)\s+(\S+)", line)
        if m:
            # A call to a global (its name), or to a static function through
            # its section (.text + the call's immediate); a callback's address
            # (bpf_loop's: ld_imm64 of .text + its byte offset), which 6.1
            # counts as a call too.
            if last and last[3] is not None:
                calls[last[0]].add(m.group(2))
                pcrel.remove(last)
                if m.group(2) == ".text":
                    textrefs.append((last[0], (last[3] + 1) * 8))
            elif m.group(1) == "64" and m.group(2) == ".text" and last and last[4] is not None:
                textrefs.append((last[0], last[4]))
            continue
        m = re.match(r"^\s*(\d+):\s+(.*)$", line)
        if not m:
            continue
        idx, ins = int(m.group(1)), m.group(2).strip()
        for off in re.findall(r"r10 - (0x[0-9a-f]+|\d+)", ins):
            frame[cur] = max(frame[cur], int(off, 0))
        mm = re.match(r"(r\d) = r10$", ins)
        if mm:
            fp[mm.group(1)] = True
        else:
            mm = re.match(r"(r\d) \+= -(\d+)$", ins)
            if mm and fp.get(mm.group(1)):
                frame[cur] = max(frame[cur], int(mm.group(2)))
            md = re.match(r"(r\d) = ", ins)
            if md:
                fp.pop(md.group(1), None)
        mc = re.match(r"call (-?\d+)$", ins)
        ml = re.match(r"r\d = (\d+) ll$", ins)
        last = (cur, sec, idx, int(mc.group(1)) if mc else None,
                int(ml.group(1)) if ml else None)
        if mc:
            pcrel.append(last)
    for f, off in textrefs:
        tgt = start.get((".text", off))
        if tgt:
            calls[f].add(tgt)
    for f, s, idx, n, _ in pcrel:
        if n != -1:
            tgt = start.get((s, (idx + n + 1) * 8))
            if tgt:
                calls[f].add(tgt)
    return frame, order, calls


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if len(args) != 1:
        sys.exit(__doc__)
    frame, order, calls = parse(args[0])
    # 6.18 with the JIT: round_up(depth, 16); 6.1: round_up(max(depth, 1), 32).
    rnd = (lambda d: (max(d, 1) + 31) // 32 * 32) if "--61" in sys.argv else \
        (lambda d: (d + 15) // 16 * 16)

    def chain(f, seen=()):
        best = (0, [])
        for c in calls.get(f, ()):
            if c in frame and c not in seen:
                d = chain(c, seen + (f,))
                if d[0] > best[0]:
                    best = d
        return rnd(frame[f]) + best[0], [f"{f}:{frame[f]}"] + best[1]

    for f, s in order:
        if s and not s.startswith(".text"):
            d, p = chain(f)
            print(f"{f} [{s}] {d} of 512: " + " > ".join(p))
    if "-a" in sys.argv:
        for f, _ in order:
            print(f"  {f}: frame {frame[f]}, deepest chain {chain(f)[0]}, calls "
                  f"{', '.join(sorted(c for c in calls[f] if c in frame)) or '-'}")


main()
