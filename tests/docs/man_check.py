#!/usr/bin/env python3
"""docs/xcnictl.1 against xcnictl's own tables: every command and every long
flag `xcnictl completion bash` knows (it is written from the command tables and
the option tables, struct pt_opt, every parser parses with) is in the man page,
and every flag the man page names belongs to xcnictl or xcnid (or is one of the
few other tools' it quotes, listed below). TAP on stdout; exit 1 on a failure.

Usage: man_check.py XCNICTL XCNID [docs/xcnictl.1]
"""
import re
import subprocess
import sys

# Flags the man page quotes from elsewhere, each with where.
ELSEWHERE = {
    "--net": "nsenter(1), to run xcnictl in a lab node's netns",
    "--noflush": "iptables-restore(8), the lab's kube-proxy",
    "--namespce": "the man page's example of a misspelt flag and its suggestion",
}


def flags_of(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))


def plain_man(path):
    text = open(path).read()
    text = re.sub(r"\\f[BIRP]|\\&|\\\(..", "", text).replace("\\ ", " ").replace("\\-", "-")
    text = re.sub(r"^\.(B|I|BR|RB|IR|RI|BI|IB)\s+", "", text, flags=re.M).replace('"', "")
    return re.sub(r"\s+", " ", text)


def main():
    xcnictl, xcnid = sys.argv[1], sys.argv[2]
    man = sys.argv[3] if len(sys.argv) > 3 else "docs/xcnictl.1"
    comp = subprocess.run([xcnictl, "completion", "bash"], capture_output=True, text=True,
                          check=True).stdout
    cmds = {}
    for m in re.finditer(r"^\t\"([^\"]*)\"\) echo '([^']*)'", comp, re.M):
        cmds[m.group(1).strip()] = {f.rstrip("=") for f in m.group(2).split() if f.startswith("--")}
    agent = subprocess.run([xcnid, "--help"], capture_output=True, text=True)
    agent_flags = flags_of(agent.stdout + agent.stderr)
    text = plain_man(man)
    results = []

    def check(ok, what, detail=""):
        results.append(ok)
        print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}" + (f": {detail}" if detail and not ok else ""))

    def named(cmd):
        noun, _, sub = cmd.partition(" ")
        return cmd in text or (sub and f"{noun} [{sub}]" in text)

    check(len(cmds) > 30 and len(agent_flags) > 30, "the tables were read",
          f"{len(cmds)} commands, {len(agent_flags)} xcnid flags")
    missing = sorted(c for c in cmds if c and not named(c))
    check(not missing, f"every xcnictl command is in {man} ({len(cmds)})", ", ".join(missing))
    ctl_flags = set().union(*cmds.values())
    missing = sorted(f for f in ctl_flags if not re.search(re.escape(f) + r"(?![\w-])", text))
    check(not missing, f"every xcnictl flag is in {man} ({len(ctl_flags)})", ", ".join(missing))
    unknown = sorted(flags_of(text) - ctl_flags - agent_flags - set(ELSEWHERE))
    check(not unknown, f"every flag {man} names is xcnictl's or xcnid's", ", ".join(unknown))
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
