#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""CPU per connection by BPF program and kernel function, setup against setup.

    python3 bench/conn_profile.py DIR [A B] [-n TOP]

DIR is bench/pod-throughput.sh's CR_PERF: r<round>-<leg>.data (system-wide
`perf record -e cpu-clock` of one conn_rate run) and r<round>-<leg>.cr (its
output line, conns=N). Counted: the samples of the connection's own work, the
processes named conn_rate (client and server: the softirq each runs on its
way out, so the peer's receive path, is theirs too), ksoftirqd and the idle
task outside its idle loop (timers: TIME_WAIT, retransmits), so another
process on the machine adds nothing but wait. The agents' own CPU (xcnid:
its conntrack walks for flows and growth, on the CPUs the legs run on) is
shown beside it as "agent", not counted in the total: every xcni setup's
xcnid runs through every leg (DIR/agents, their PIDs, which pod-throughput.sh
writes; without it every process named xcnid on the machine). cpu-clock's period is
nanoseconds: a symbol's ns per connection is its periods' sum over N.
A BPF program is "bpf:NAME" (its JIT symbol), summed over its instances.
Per leg: the median over rounds of ns per connection, total and per symbol;
then B - A per symbol, largest differences first (default A xcni, B bridge).
"""
import collections
import glob
import os
import re
import statistics
import subprocess
import sys

IDLE = re.compile(r"idle|halt|mwait|cpuidle|poll_idle|do_idle")
LINE = re.compile(r"^\s*(\S.*?)\s+(\d+)\s+(\d+)\s+([0-9a-f]+)\s+(\S+)")
BPF = re.compile(r"^bpf_prog_[0-9a-f]+_(\w+)")
# Groups, the first that matches: BPF's programs and what they call (map
# lookups, LRU, helpers, the redirect), netfilter (the bridge's br_nf too),
# the bridge.
GROUPS = (("BPF", re.compile(r"^(bpf:|bpf_|__bpf|htab_|__htab|lookup_nulls|lookup_elem|"
                              r"pcpu_freelist|skb_do_redirect|tcx_|jhash)")),
          ("netfilter", re.compile(r"^(nf_|__nf_|nft_|ipt_|ip6t_|br_nf|ebt_|iptable_)")),
          ("bridge", re.compile(r"^(br_|__br_)")))


def counted(comm, sym):
    if comm == "conn_rate" or comm.startswith("ksoftirqd"):
        return True
    return comm == "swapper" and not IDLE.search(sym)


def profile(data, agent_pids):
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,pid,period,ip,sym"],
                         capture_output=True, text=True, check=True).stdout
    ns = collections.Counter()
    agent = 0
    for line in out.splitlines():
        m = LINE.match(line)
        # By PID where known: after a growth's exec of /proc/self/exe its comm is "exe".
        if m and (m.group(2) in agent_pids if agent_pids else m.group(1) == "xcnid"):
            agent += int(m.group(3))
        if not m or not counted(m.group(1), m.group(5)):
            continue
        sym = m.group(5)
        b = BPF.match(sym)
        ns["bpf:" + b.group(1) if b else sym] += int(m.group(3))
    return ns, agent


def main(argv):
    top = 25
    if "-n" in argv:
        i = argv.index("-n")
        top = int(argv[i + 1])
        del argv[i:i + 2]
    if len(argv) not in (1, 3):
        sys.exit(__doc__)
    d = argv[0]
    a, b = argv[1:3] if len(argv) == 3 else ("xcni", "bridge")
    # The benchmark's own agents (pod-throughput.sh writes their PIDs), else every xcnid.
    agent_pids = set(open(os.path.join(d, "agents")).read().split()) \
        if os.path.exists(os.path.join(d, "agents")) else set()
    legs = collections.defaultdict(list)  # leg -> [ns per connection per symbol, one per round]
    agents = collections.defaultdict(list)  # leg -> [xcnid's ns per connection, one per round]
    for data in sorted(glob.glob(os.path.join(d, "r*-*.data"))):
        rnd, leg = os.path.basename(data)[:-5].split("-", 1)
        m = re.search(r"conns=(\d+)", open(data[:-5] + ".cr").read())
        if not m or not int(m.group(1)):
            sys.exit(f"{data[:-5]}.cr: no conns=N")
        n = int(m.group(1))
        ns, agent = profile(data, agent_pids)
        per = {k: v / n for k, v in ns.items()}
        per["TOTAL"] = sum(per.values())
        legs[leg].append(per)
        agents[leg].append(agent / n)
        print(f"{rnd} {leg}: {n} connections, {per['TOTAL']:.0f} ns CPU a connection, "
              f"agent {agent / n:.0f}")
    med = {}
    for leg, rs in legs.items():
        keys = set().union(*rs)
        med[leg] = {k: statistics.median(r.get(k, 0) for r in rs) for k in keys}
    for leg in sorted(med):
        m = med[leg]
        grp = collections.Counter()
        for k, v in m.items():
            g = next((n for n, rx in GROUPS if rx.match(k)), None)
            if g and k != "TOTAL":
                grp[g] += v
        print(f"\n{leg}: {m['TOTAL']:.0f} ns a connection (median of {len(legs[leg])}); "
              + ", ".join(f"{g} {grp[g]:.0f} ({grp[g] / m['TOTAL']:.1%})" for g, _ in GROUPS)
              + f"; agent {statistics.median(agents[leg]):.0f} beside it")
        for k, v in sorted(m.items(), key=lambda kv: -kv[1])[1:top + 1]:
            print(f"  {v:8.0f}  {k}")
    if a in med and b in med:
        ka, kb = med[a], med[b]
        print(f"\n{a} - {b}, ns a connection (total {ka['TOTAL'] - kb['TOTAL']:+.0f}: "
              f"{ka['TOTAL']:.0f} / {kb['TOTAL']:.0f} = {ka['TOTAL'] / kb['TOTAL']:.2f}x)")
        diff = {k: ka.get(k, 0) - kb.get(k, 0) for k in set(ka) | set(kb) if k != "TOTAL"}
        for k, v in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:top]:
            print(f"  {v:+8.0f}  {k}  ({ka.get(k, 0):.0f} / {kb.get(k, 0):.0f})")


if __name__ == "__main__":
    main(sys.argv[1:])
