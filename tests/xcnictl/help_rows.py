#!/usr/bin/env python3
"""Every option of a command whose --help is printed from its option table
(pt_usage: "Usage: xcnictl ...   (xcnictl(1) says more)", then a line an option)
has its line there, with a help string. The options are those `xcnictl
completion bash` lists for the command (its table's rows), less the global
ones (`filters` takes only those). Prints what is missing; exit 1 then.

Usage: help_rows.py XCNICTL
"""
import re
import subprocess
import sys


def main():
    xcnictl = sys.argv[1]
    comp = subprocess.run([xcnictl, "completion", "bash"], capture_output=True, text=True,
                          check=True).stdout
    cmds = {}
    for m in re.finditer(r"^\t\"([^\"]*)\"\) echo '(--[^']*)'", comp, re.M):
        cmds.setdefault(m.group(1).strip(), {f.rstrip("=") for f in m.group(2).split()
                                             if f.startswith("--")})
    glob = cmds["filters"]
    bad, seen = [], 0
    for cmd, flags in sorted(cmds.items()):
        out = subprocess.run([xcnictl, *cmd.split(), "--help"], capture_output=True,
                             text=True).stdout
        lines = out.splitlines()
        if not lines or not lines[0].endswith("(xcnictl(1) says more)"):
            continue
        seen += 1
        for f in sorted(flags - glob):
            i = next((i for i, l in enumerate(lines)
                      if re.match(r"^  (-., )?" + re.escape(f) + r"( |$)", l)), None)
            # The help at column 30, or on the next line when the option is wider.
            nxt = lines[i + 1] if i is not None and i + 1 < len(lines) else ""
            text = None if i is None else (lines[i][30:].strip() or
                                            (nxt.strip() if nxt.startswith(" " * 30) else ""))
            if not text:
                bad.append(f"{cmd}: {f}" + (" has no line" if i is None else ": no help"))
    print("\n".join(bad) or f"{seen} commands, every option a line with its help")
    return 1 if bad or seen < 13 else 0


sys.exit(main())
