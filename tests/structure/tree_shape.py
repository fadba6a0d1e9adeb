#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tree_shape.py: the tree's shape against issue 40's bounds (twin functions,
include cycles, headers that compile alone, BPF flags, export prefixes, call
circles, function lengths, README paragraphs, helpers against the minimum
kernel), measured outside the BPF hook bodies.

One line per item: "ok" or "FAIL", the item, the figure and the issue's
bound; what the figure counts (names, places) under it, indented. Runs from
any tree (make all there first; it builds build/libxcni.a if missing):

    python3 tests/structure/tree_shape.py [-v] [--fast]

-v lists every place behind a figure (else at most 12 a line). --tap
prints "ok - item: ..." / "not ok - item: ..." and "N passed, N failed", as
tests/run.sh counts a suite (suite tree-shape runs --fast --tap).
---fast leaves out the slow items (duplicates over bpf/: ~20 s; the BPF
programs compiled with their flags, and min-kernel which reads them: ~25 s).
Exit 1 when an item does not hold its bound.

Items (the issue's words in quotes):
  twins       tests/structure/twin_functions.py's twin pairs besides frames: "<= 15"
  inc-cycles  #include cycles among bpf/*.c, bpf/*.h, bpf/lib/*.h: 0
  inc-order   bpf/ headers that do not compile alone (each one the first
              include of an empty unit: an "include-order contract"): 0
  bpf-flags   -Wshadow and -Wdeclaration-after-statement in the Makefile's
              BPF_CFLAGS, and the seven programs compile with them (clang
              -fsyntax-only): no warning
  exports     libxcni's exported functions and data (nm -g --defined-only
              build/libxcni.a) without a domain prefix: 0 (65 of 274 at the
              issue's start). A prefix is "xcni_"/"xlog", a domain folder's
              name, or the name or short form of a module of that folder
              (PREFIXES below), followed by "_"
  cidr-parse  files of user/ and cni/ with a function that reads "ADDR/LEN"
              itself (inet_pton and a number parsed after a '/', or a
              *cidr*parse* name with inet_pton): 1
  ctx-names   struct tags named ctx, or a *ctx tag defined in two files: 0
  circles     file-level call circles (a file uses a function another file
              of the same folder defines, and back, directly or round):
              0 in user/lib/policy and in user/ctl (the issue's four); the
              other folders' too
  tunnel-pol  overlay tunnel-family names (tunnel, pol_tunnel) in
              user/lib/policy/*.h: 0
  fn>200      functions over 200 lines in user/ and cni/ (ctags): 0
  fn>100      functions over 100 lines in user/ and cni/: < 20
  readme      README.md paragraphs of 120 words or more (tests/docs/check.py's
              count): 0
  min-kernel  every BPF helper the seven objects call (llvm-objdump) and every
              map type bpf/ declares no newer than XCNI_KERNEL_MIN (probe.h;
              sock_lb: the newest of probe.c's sock_lb features, which gate
              it; a helper probe.c probes as a wanted feature, e.g. bpf_loop,
              is allowed past it): the programs can load on the minimum the
              project states
              (suite attach-modes loads and attaches them on this kernel)
  dups        pairs `duplicates --repo bpf --most 200` lists: < 26 (the start)
  cidrs-one   both families' pod and Service CIDRs in the config record
              (bpf/xcni_shared.h struct xcni_config) that xcnictl config
              reads (cfg->pod_cidr6, cfg->svc_cidr6), and no CIDR among
              the rodata variables it reads (its vars[] lists): yes
  settings    every rodata variable of bpf/lib/config.h read by some
              program (bpf/ besides config.h, comments left out) and given
              a row of user/agent/settings.c's rows[], the one writer; no
              row for a variable config.h lacks, and no other `rodata->`
              write of one in user/ or cni/ (issue 54 item 3): 0 apart
"""
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
os.chdir(ROOT)
VERBOSE = "-v" in sys.argv
FAST = "--fast" in sys.argv
TAP = "--tap" in sys.argv
ITEMS = 0
failed = 0

# Domain prefixes by libxcni folder: the folder, its modules' names and the
# short forms the code settled on (pol for policy, kj for k8s_json, pt for print).
PREFIXES = {
    "system": ["xcni", "xlog", "nl", "pt", "hmap", "ctnl", "proto", "attach", "bpfpin",
               "cidr", "killpoint", "version", "outfmt", "print", "redact", "tunnel", "http",
               "srclim", "ctstat", "mapw"],
    "cluster": ["k8s", "kj", "store", "manifest", "kubeconfig", "fqdn"],
    "observe": ["flows", "flow", "fg", "flowgraph", "vocab", "agent_status", "explain",
                "reasons", "suggest", "xcni"],
    "policy": ["policy", "pol", "polsync", "cnp", "prefilter", "fqdn", "xcni"],
    "services": ["svc", "svcsync", "maglev", "extfe"],
}


def say(ok, name, figure, bound, places=()):
    global failed, ITEMS
    ITEMS += 1
    if not ok:
        failed += 1
    if TAP:
        print("%s - %s: %s (issue 40: %s)" % ("ok" if ok else "not ok", name, figure, bound))
    else:
        print("%-4s %-10s %s (issue 40: %s)" % ("ok" if ok else "FAIL", name, figure, bound))
    places = list(places)
    shown = places if VERBOSE else places[:12]
    for p in shown:
        print("       " + p)
    if len(shown) < len(places):
        print("       ... %d more (-v)" % (len(places) - len(shown)))
    sys.stdout.flush()


def finish(results, tap):
    """The end of a check made of say() results: "N passed, N failed" under TAP; exit 1 on a failure."""
    failed = results.count(False)
    if tap:
        print("%d passed, %d failed" % (len(results) - failed, failed))
    sys.exit(1 if failed else 0)


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw)
    except FileNotFoundError:
        return subprocess.CompletedProcess(cmd, 127, "", "%s: not installed" % cmd[0])


def strip_c(text):
    """Comments, strings and character constants blanked (line numbers kept)."""
    out, i, n = [], 0, len(text)
    pat = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    for m in pat.finditer(text):
        out.append(text[i:m.start()])
        s = m.group(0)
        out.append(re.sub(r"[^\n]", " ", s) if s[0] == "/" else s[0] + " " * (len(s) - 2) + s[-1])
        i = m.end()
    out.append(text[i:])
    return "".join(out)


def ctags_functions(paths):
    """(name, file, first line, last line, static) of every function definition."""
    r = run(["ctags", "-x", "--c-kinds=f", "--fields=+fe", "--_xformat=%N %F %n %e %{file}",
             "--languages=C", "--langmap=C:.c.h", "-R"] + paths)
    if r.returncode:
        sys.exit("tree_shape: ctags (Debian's universal-ctags) failed: " + r.stderr)
    out = []
    for line in r.stdout.splitlines():
        name, f, a, b, scope = line.split()
        out.append((name, f, int(a), int(b), scope == "file"))
    return out


# ---- BPF ------------------------------------------------------------------
def twins():
    r = run([sys.executable, "tests/structure/twin_functions.py"])
    last = [l for l in r.stdout.splitlines() if l.strip()][-1] if r.stdout.strip() else ""
    # frames (a family handed as a constant to one body, for the verifier's
    # per-family stack) hold no algorithm: the bound is on the other pairs
    m = re.search(r"twin pairs (\d+) \((\d+) of frames, (\d+) others\)", last)
    n = int(m.group(3)) if m else -1
    r = run([sys.executable, "tests/structure/twin_functions.py", "-v"])
    pairs = [l.strip() for l in r.stdout.splitlines()[:-1] if l.strip()]
    say(0 <= n <= 15, "twins", "%d twin pairs besides frames; %s" % (n, last.strip()), "<= 15", pairs)


def bpf_files():
    return sorted(list(Path("bpf").glob("*.c")) + list(Path("bpf").glob("*.h")) +
                  list(Path("bpf/lib").glob("*.h")))


def include_graph():
    g = {}
    for f in bpf_files():
        deps = []
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', f.read_text(), re.M):
            for cand in (f.parent / m.group(1), Path("bpf") / m.group(1)):
                if cand.exists():
                    deps.append(str(cand.resolve().relative_to(ROOT)))
                    break
        g[str(f)] = deps
    return g


def sccs(g):
    """Tarjan's strongly connected components of more than one node, or a self-loop."""
    index, low, on, st, out, ctr = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = ctr[0]
        ctr[0] += 1
        st.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(g):
        if v not in index:
            visit(v)
    return out


def inc_cycles():
    g = include_graph()
    cyc = sccs(g)
    say(not cyc, "inc-cycles", "%d include cycles among %d files of bpf/" % (len(cyc), len(g)),
        "0", [" <-> ".join(c) for c in cyc])


def make_var(name):
    r = run(["make", "-s", "--no-print-directory", "--eval", "print-var-%: ; @echo $($*)",
             "print-var-" + name])
    return r.stdout.strip()


def inc_order():
    flags = make_var("BPF_CFLAGS").split()
    clang = make_var("CLANG") or "clang"
    bad = []
    for h in sorted(Path("bpf/lib").glob("*.h")) + sorted(Path("bpf").glob("*.h")):
        r = run([clang] + flags + ["-Wno-unused-function", "-fsyntax-only", "-x", "c", "-"],
                input='#include "%s"\n' % os.path.relpath(h, "bpf"))
        if r.returncode:
            first = next((l for l in r.stderr.splitlines() if "error" in l), r.stderr[:200])
            bad.append("%s: %s" % (h, first.strip()))
    say(not bad, "inc-order", "%d bpf/ headers that do not compile alone" % len(bad), "0", bad)


OBJDIR = Path("/tmp/tree-shape-%d" % os.getpid())


def bpf_flags():
    """The programs compiled with the Makefile's flags into OBJDIR (min_kernel reads them)."""
    flags = make_var("BPF_CFLAGS").split()
    clang = make_var("CLANG") or "clang"
    want = ["-Wshadow", "-Wdeclaration-after-statement"]
    missing = [w for w in want if w not in flags]
    warn = []
    if not FAST:
        OBJDIR.mkdir(exist_ok=True)
        for c in sorted(Path("bpf").glob("*.bpf.c")):
            r = run([clang] + flags + ["-Wno-error", "-c", str(c), "-o",
                                       str(OBJDIR / c.name.replace(".c", ".o"))])
            warn += ["%s: %s" % (c, l) for l in r.stderr.splitlines() if "warning:" in l]
            if r.returncode:
                warn.append("%s: does not compile" % c)
    say(not missing and not warn, "bpf-flags",
        "BPF_CFLAGS %s %s; %s" % ("has" if not missing else "lacks", " ".join(missing or want),
                                  "not compiled (--fast)" if FAST else
                                  "%d warnings compiling the %d programs" %
                                  (len(warn), len(list(Path("bpf").glob("*.bpf.c"))))),
        "-Wshadow -Wdeclaration-after-statement in the BPF flags, clean", warn)


# The kernel that brought each helper and map type the programs use (a helper
# the table lacks fails the item: add it with its kernel).
HELPER_SINCE = {
    "map_lookup_elem": "3.19", "map_update_elem": "3.19", "map_delete_elem": "3.19",
    "ktime_get_ns": "4.1", "get_prandom_u32": "4.1", "skb_store_bytes": "4.1",
    "l3_csum_replace": "4.1", "l4_csum_replace": "4.1", "tail_call": "4.2",
    "redirect": "4.4", "skb_load_bytes": "4.5", "csum_diff": "4.6",
    "skb_change_tail": "4.9", "skb_pull_data": "4.9", "xdp_adjust_head": "4.10",
    "get_socket_cookie": "4.12", "skb_adjust_room": "4.13", "xdp_adjust_meta": "4.15",
    "fib_lookup": "4.18", "xdp_adjust_tail": "4.18", "get_netns_cookie": "5.7",
    "ringbuf_output": "5.8", "ringbuf_reserve": "5.8", "ringbuf_submit": "5.8",
    "ringbuf_discard": "5.8", "redirect_neigh": "5.10", "redirect_peer": "5.10",
    "check_mtu": "5.12", "for_each_map_elem": "5.13", "loop": "5.17",
    "sk_storage_get": "5.2", "set_retval": "5.18", "get_retval": "5.18",
    # Both in cgroup sock_addr programs since 5.7 (the ancestor helper new then).
    "get_current_cgroup_id": "5.7", "get_current_ancestor_cgroup_id": "5.7",
}
MAP_SINCE = {
    "HASH": "3.19", "ARRAY": "3.19", "PROG_ARRAY": "4.2", "PERCPU_HASH": "4.6",
    "PERCPU_ARRAY": "4.6", "LRU_HASH": "4.10", "LRU_PERCPU_HASH": "4.10", "LPM_TRIE": "4.11",
    "ARRAY_OF_MAPS": "4.12", "HASH_OF_MAPS": "4.12", "DEVMAP": "4.14", "SK_STORAGE": "5.2",
    "RINGBUF": "5.8",
}


def kv(v):
    return tuple(int(x) for x in v.split("."))


def min_kernel():
    """Every helper and map type the objects use no newer than the minimum the project states."""
    if FAST:
        return
    probe_h = Path("user/agent/probe.h").read_text()
    kmin = re.search(r'#define XCNI_KERNEL_MIN "([\d.]+)"', probe_h).group(1)
    probe_c = Path("user/agent/probe.c").read_text()
    gate = re.search(r"sock_lb\[\] = \{(.*?)\n\};", probe_c, re.S)
    sock_max = max((re.findall(r'"(\d+\.\d+)"', gate.group(1)) if gate else [kmin]), key=kv)
    # Helpers probe.c probes outside required[]: a feature switched off without them.
    req = re.search(r"required\[\] = \{(.*?)\n\};", probe_c, re.S).group(1)
    gated = {m.group(1) for m in re.finditer(r'\{\s*"bpf_(\w+)", "[\d.]+", P_HELPER',
                                             probe_c) if m.group(0) not in req}
    ids = {}
    for m in re.finditer(r"FN\((\w+), (\d+),", Path("/usr/include/linux/bpf.h").read_text()):
        ids[int(m.group(2))] = m.group(1)
    bad, rows, newest = [], [], ("0", "")
    for o in sorted(OBJDIR.glob("*.bpf.o")):
        d = run(["llvm-objdump", "-d", str(o)]).stdout
        # a helper call: opcode 0x85 with src_reg 0 (1: a bpf-to-bpf call, 2: a kfunc)
        calls = {int(m.group(2)) for m in re.finditer(r"^\s*\d+:\s+85 ([0-9a-f])0 .*call (\d+)$",
                                                      d, re.M) if m.group(1) == "0"}
        kfuncs = len(re.findall(r"^\s*\d+:\s+85 2[0-9a-f] ", d, re.M))
        prog = o.name.replace(".bpf.o", "")
        limit = sock_max if prog == "sock_lb" else kmin
        top = ("0", "")
        for c in sorted(calls):
            name = ids.get(c, "#%d" % c)
            since = HELPER_SINCE.get(name)
            if not since:
                bad.append("%s: helper %s: no kernel known (HELPER_SINCE)" % (prog, name))
                continue
            if name in gated and kv(since) > kv(limit):
                rows.append("%s: bpf_%s (%s) behind its probe (probe.c)" % (prog, name, since))
                continue
            if kv(since) > kv(top[0]):
                top = (since, name)
            if kv(since) > kv(limit):
                bad.append("%s: bpf_%s needs Linux %s > %s" % (prog, name, since, limit))
        if kfuncs:
            bad.append("%s: %d kfunc calls (no kernel table for those)" % (prog, kfuncs))
        rows.append("%s: %d helpers, the newest bpf_%s (%s; allowed %s)" %
                    (prog, len(calls), top[1], top[0], limit))
        if prog != "sock_lb" and kv(top[0]) > kv(newest[0]):
            newest = top
    maps = set(re.findall(r"BPF_MAP_TYPE_(\w+)", "\n".join(
        f.read_text() for f in bpf_files())))
    for t in sorted(maps):
        since = MAP_SINCE.get(t)
        if not since or kv(since) > kv(kmin):
            bad.append("map type %s: %s" % (t, "no kernel known (MAP_SINCE)" if not since else
                                             "needs Linux %s > %s" % (since, kmin)))
    rows.append("map types: %s (the newest %s)" % (
        ", ".join(sorted(maps)), max((MAP_SINCE.get(t, "0") for t in maps), key=kv)))
    for o in OBJDIR.glob("*"):
        o.unlink()
    OBJDIR.rmdir()
    say(not bad, "min-kernel", "the data path's newest helper bpf_%s (Linux %s), the minimum "
        "XCNI_KERNEL_MIN %s; sock_lb's gate %s" % (newest[1], newest[0], kmin, sock_max),
        "the programs load on the minimum kernel the probe states", bad + rows)


def dups():
    if FAST:
        return
    r = run(["duplicates", "--repo", "bpf", "--most", "200", "--seconds", "120"])
    first = r.stdout.splitlines()[0] if r.stdout else ""
    m = re.search(r"(\d+) pairs?", first)
    n = 0 if first.startswith("no duplicates") else int(m.group(1)) if m else -1
    rows = [l.strip() for l in r.stdout.splitlines()[1:] if re.match(r"\s*D\d+ ", l)]
    say(0 <= n < 26, "dups", "%d pairs over bpf/ (%s)" % (n, first.strip()), "< 26 (26 at the start)",
        rows)


# ---- userspace --------------------------------------------------------------
def exports():
    lib = Path(make_var("LIBXCNI") or "build/libxcni.a")
    r = run(["make", "-s", "--no-print-directory", str(lib)])
    if r.returncode:
        say(False, "exports", "make %s failed" % lib, "0", r.stderr.splitlines()[-5:])
        return
    r = run(["nm", "-A", "-g", "--defined-only", str(lib)])
    objdomain = {}
    for src in Path("user/lib").glob("*/*.c"):
        objdomain[src.stem + ".o"] = src.parent.name
    total, bare = 0, []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        obj = parts[0].split(":")[-2] if parts[0].count(":") >= 2 else parts[0].split(":")[0]
        sym = parts[2]
        total += 1
        dom = objdomain.get(obj, "")
        pre = PREFIXES.get(dom, []) + [dom]
        if sym.startswith("xcni_") or sym.startswith("xlog"):
            continue
        if any(sym.startswith(p + "_") for p in pre):
            continue
        bare.append("%s (%s/%s)" % (sym, dom, obj))
    say(not bare, "exports", "%d of %d symbols libxcni exports have no domain prefix" %
        (len(bare), total), "0 (65 of 274 at the start)", sorted(bare))


def cidr_parsers(funcs):
    found = defaultdict(list)
    for name, f, a, b, _ in funcs:
        if not f.endswith(".c"):
            continue
        body = "\n".join(strip_c_cached(f)[a - 1:b])
        raw = "\n".join(lines_cached(f)[a - 1:b])
        if "inet_pton" in body and (
                ("'/'" in raw and
                 re.search(r"\b(strtoul|strtol|strtoll|atoi|sscanf|parse_len)\s*\(", body)) or
                re.search(r"parse_?cidr|cidr_?parse", name)):
            found[f].append("%s:%d" % (name, a))
    say(len(found) == 1, "cidr-parse", "%d files parse ADDR/LEN themselves" % len(found),
        "one parse_cidr (four at the start)",
        ["%s: %s" % (f, ", ".join(v)) for f, v in sorted(found.items())])


_src = {}


def lines_cached(f):
    if f not in _src:
        t = Path(f).read_text(errors="replace")
        _src[f] = (t.split("\n"), strip_c(t).split("\n"))
    return _src[f][0]


def strip_c_cached(f):
    lines_cached(f)
    return _src[f][1]


def ctx_names():
    defs = defaultdict(set)
    for f in sorted(Path(".").glob("user/**/*.[ch]")) + sorted(Path("cni").glob("*.[ch]")):
        for m in re.finditer(r"^\s*struct\s+(\w*ctx)\s*\{", "\n".join(strip_c_cached(str(f))), re.M):
            defs[m.group(1)].add(str(f))
    bad = ["struct %s in %s" % (n, ", ".join(sorted(fs))) for n, fs in sorted(defs.items())
           if n == "ctx" or len(fs) > 1]
    say(not bad, "ctx-names", "%d struct ctx clashes (%d *ctx structs)" % (len(bad), len(defs)),
        "one struct ctx name per module", bad)


def circles(funcs):
    """Per folder: file A -> file B when A names a non-static function B defines."""
    byfile = defaultdict(set)
    for name, f, a, b, static in funcs:
        if f.endswith(".c") and not static:
            byfile[f].add(name)
    folders = defaultdict(list)
    for f in byfile:
        folders[str(Path(f).parent)].append(f)
    named = {"user/lib/policy", "user/ctl"}
    bad, other = [], []
    for d in sorted(folders):
        files = sorted(folders[d])
        owner = {}
        for f in files:
            for n in byfile[f]:
                owner.setdefault(n, f)
        g = {}
        for f in files:
            ids = set(re.findall(r"\b[A-Za-z_]\w*\b", "\n".join(strip_c_cached(f))))
            g[f] = sorted({owner[i] for i in ids if i in owner and owner[i] != f})
        for c in sccs(g):
            (bad if d in named else other).append(
                "%s: %s" % (d, " <-> ".join(Path(x).name for x in c)))
    say(not bad, "circles", "%d file-level call circles in user/lib/policy and user/ctl; "
        "%d in other folders" % (len(bad), len(other)),
        "the policy and explain circles cut", bad + ["(other) " + o for o in other])


def tunnel_pol():
    hits = []
    for h in sorted(Path("user/lib/policy").glob("*.h")):
        for i, l in enumerate(strip_c_cached(str(h)), 1):
            if re.search(r"\b\w*tunnel\w*\s*\(|\bpol_tunnel|\btunnel_(v6|fam|set)\b", l):
                hits.append("%s:%d: %s" % (h, i, l.strip()))
    say(not hits, "tunnel-pol", "%d lines of tunnel-family code in user/lib/policy/*.h" % len(hits),
        "pol_tunnel_v6 out of the policy headers", hits)


def fn_lengths(funcs):
    rows = sorted(((b - a + 1, name, f, a) for name, f, a, b, _ in funcs), reverse=True)
    over200 = ["%d %s %s:%d" % r for r in rows if r[0] > 200]
    over100 = ["%d %s %s:%d" % r for r in rows if r[0] > 100]
    say(not over200, "fn>200", "%d of %d functions in user/ and cni/ over 200 lines" %
        (len(over200), len(rows)), "0 (3 at the start)", over200)
    say(len(over100) <= 16, "fn>100", "%d over 100 lines" % len(over100),
        "<= 16 (42 at the start; issue 68: 16)", over100)


def house(funcs):
    """Issue 68's smaller items: namesake functions, long files, issue numbers in product code."""
    files = {}
    for name, f, _, _, _ in funcs:
        if name != "main" and f.endswith(".c"):
            files.setdefault(name, set()).add(f)
    names = sorted(n for n, fs in files.items() if len(fs) > 1)
    say(len(names) <= 45, "namesakes", "%d function names defined in more than one .c file" %
        len(names), "<= 45 (issue 68)", names)
    product = [f for d in ("user", "cni", "bpf") for f in sorted(Path(d).rglob("*.[ch]"))]
    long_ = ["%s: %d lines" % (f, n) for f in product
             for n in [len(lines_cached(str(f)))] if n > 1500 and f.name != "xcni_shared.h"]
    say(not long_, "files", "%d product files over 1,500 lines but xcni_shared.h" % len(long_),
        "0 (issue 68)", long_)
    refs = ["%s:%d" % (f, i) for f in product for i, l in enumerate(lines_cached(str(f)), 1)
            if re.search(r"\bissue \d+", l, re.I)]
    say(not refs, "issue-refs", "%d issue numbers in product code" % len(refs),
        "0: the why goes in docs/decisions/ (issue 68)", refs)


def readme():
    sys.path.insert(0, str(Path("tests/docs").resolve()))
    from paragraphs import paragraphs
    words = paragraphs("README.md")
    long_ = ["README.md:%d: %d words" % (ln, w) for ln, w in words if w >= 120]
    say(not long_, "readme", "%d of %d README.md paragraphs of 120 words or more (longest %d)" %
        (len(long_), len(words), max(w for _, w in words)), "0 (269 and 179 at the start)", long_)


def cidrs_one():
    shared = Path("bpf/xcni_shared.h").read_text()
    m = re.search(r"struct xcni_config\s*\{(.*?)\n\};", shared, re.S)
    fields = set(re.findall(r"\b(\w+)\s*(?:\[[^]]*\])?\s*;", m.group(1))) if m else set()
    need = {"pod_cidr", "svc_cidr", "pod_cidr6", "svc_cidr6"}
    have = {n for n in need if any(f == n or f.startswith(n + "_") or f.startswith(n)
                                   for f in fields)}
    cfg = "\n".join(strip_c_cached("user/ctl/config.c"))
    raw = "\n".join(lines_cached("user/ctl/config.c"))
    reads6 = all(re.search(r"\bcfg->%s\b" % n, cfg) for n in ("pod_cidr6", "svc_cidr6"))
    # what it reads of a program's rodata: the names in its vars[] lists
    rodata = [v for lst in re.findall(r"vars\[\]\s*=\s*\{([^}]*)\}", raw)
              for v in re.findall(r'"(\w+)"', lst) if "cidr" in v]
    ok = have == need and reads6 and not rodata
    say(ok, "cidrs-one", "struct xcni_config holds %s; xcnictl config reads pod_cidr6/svc_cidr6 "
        "from it: %s; CIDRs read from a program's rodata: %s" % (
            "/".join(sorted(have)) or "none", "yes" if reads6 else "no",
            ", ".join(rodata) or "none"),
        "both families' CIDRs in one place xcnictl config reads",
        sorted(need - have) and ["missing: " + " ".join(sorted(need - have))])


def settings():
    names = re.findall(r"^const volatile [\w ]+?\b(\w+)\s*(?:\[[^]]*\])?\s*=",
                       Path("bpf/lib/config.h").read_text(), re.M)
    progs = "\n".join("\n".join(strip_c_cached(str(f))) for f in sorted(Path("bpf").rglob("*"))
                      if f.suffix in (".c", ".h") and f.name not in ("config.h", "xcni_shared.h"))
    writer = "user/agent/settings.c"
    rows = re.findall(r"^\s*ROW\((\w+),", "\n".join(strip_c_cached(writer)), re.M) \
        if Path(writer).exists() else []
    others = []
    for f in sorted(list(Path("user").rglob("*.c")) + list(Path("cni").rglob("*.c"))):
        for ln, line in enumerate(strip_c_cached(str(f)), 1):
            for n in re.findall(r"rodata->(\w+)", line):
                if n in names:
                    others.append("%s:%d: writes %s" % (f, ln, n))
    unread = ["%s: read by no program" % n for n in names if not re.search(r"\b%s\b" % n, progs)]
    unwritten = ["%s: no row in user/agent/settings.c" % n for n in names if n not in rows]
    extra = ["%s: a row, not in bpf/lib/config.h" % n for n in rows if n not in names]
    bad = unread + unwritten + extra + others
    say(len(names) > 10 and not bad, "settings",
        "%d rodata in config.h, %d rows in settings.c; %d unread, %d without a row, %d rows "
        "too many, %d writes elsewhere" % (len(names), len(rows), len(unread), len(unwritten),
                                          len(extra), len(others)),
        "0 (issue 54 item 3: each read by a program, written by one writer)", bad)


def main():
    funcs = ctags_functions(["user", "cni"])
    twins()
    inc_cycles()
    inc_order()
    bpf_flags()
    min_kernel()
    dups()
    exports()
    cidr_parsers(funcs)
    ctx_names()
    circles(funcs)
    tunnel_pol()
    fn_lengths(funcs)
    house(funcs)
    readme()
    cidrs_one()
    settings()
    if TAP:
        print("%d passed, %d failed" % (ITEMS - failed, failed))
    else:
        print("%d items failed" % failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
