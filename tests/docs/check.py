#!/usr/bin/env python3
# Checks that the documents point at what exists (issue 40, suite docs-links):
#  - every "#anchor" link inside docs/architecture.md, and every
#    "architecture.md#anchor" link in the other documents, names a heading
#    (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens);
#  - every section a document names in quotes after "architecture.md" is a
#    heading there (a prefix of one, as the prose shortens them);
#  - the contents between <!-- toc --> and <!-- /toc --> are the headings;
#  - every backticked name in docs/*.md and docs/decisions/*.md that looks
#    like a C identifier (lower case with an underscore: a function, a map, a
#    field), and every XCNI_ constant, resolves to a definition (universal-ctags
#    over bpf/ cni/ user/ tests/ bench/ examples/ scripts/, libbpf's headers) or
#    a string the code spells (a metric, a JSON key): a name only a comment
#    carries fails;
#  - every paragraph of README.md is under 120 words.
# Prints TAP-style "ok"/"not ok" lines and "N passed, N failed"; exit 1 on a failure.
# --write-toc rewrites the contents from the headings first.
import os, re, subprocess, sys

from tap import finish, result

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(root)
ARCH = "docs/architecture.md"


def slug(title):
    s = title.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)  # GitHub keeps letters, digits, _ and -
    return s.replace(" ", "-")


def headings(path):
    out, seen, fence = [], {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        m = re.match(r"(#{1,6}) (.*)", line.rstrip("\n"))
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append((len(m.group(1)), m.group(2), base if n == 0 else "%s-%d" % (base, n)))
    return out


heads = headings(ARCH)
anchors = {a for _, _, a in heads}
titles = [t for _, t, _ in heads]
text = open(ARCH, encoding="utf-8").read()

# 1. links inside the document
bad = sorted({a for a in re.findall(r"\]\(#([^)\s]+)\)", text) if a not in anchors})
result(not bad, "%s: every #anchor link names a heading" % ARCH, "\n".join(bad))

# 2. links and quoted sections from the other documents
others = ["README.md", "bench/README.md"] + sorted(
    os.path.join("docs", f) for f in os.listdir("docs")
    if f != "architecture.md" and re.search(r"\.(md|[0-9])$", f))
others += subprocess.run(["git", "grep", "-l", "architecture.md", "--", "tests", ":!tests/docs", "scripts", "bpf", "user", "cni"],
                         capture_output=True, text=True).stdout.split()
bad = []
for path in others:
    body = open(path, encoding="utf-8").read()
    for a in re.findall(r"architecture\.md#([\w\-]+)", body):
        if a not in anchors:
            bad.append("%s: #%s" % (path, a))
    # docs/architecture.md, "Section" / docs/architecture.md "Section" / roff \(lqSection\(rq
    flat = re.sub(r"\s*\n\s*(?:\*|//|#)?\s*", " ", body)  # comments' leaders too
    flat = re.sub(r"\s+", " ", flat)
    for q in re.findall(r"architecture\.md,? (?:\(|section )?(?:\"|\\\(lq)([^\"\\]+?)(?:\"|\\\(rq)", flat):
        q = q.rstrip(".,")
        if not any(t.startswith(q) or slug(t).startswith(slug(q)) for t in titles):
            bad.append('%s: "%s"' % (path, q))
result(not bad, "other documents: every architecture.md anchor and quoted section resolves", "\n".join(bad))

# 3. the contents
m = re.search(r"<!-- toc -->\n(.*?)<!-- /toc -->", text, re.S)
want = "## Contents\n\n" + "".join("%s- [%s](#%s)\n" % ("  " * (lvl - 2), t, a)
                                   for lvl, t, a in heads if lvl in (2, 3) and t != "Contents")
got = m.group(1) if m else ""
if m and "--write-toc" in sys.argv[1:] and got != want:
    text = text[:m.start(1)] + want + text[m.end(1):]
    open(ARCH, "w", encoding="utf-8").write(text)
    got = want
result(m is not None and got == want, "%s: the contents list every ## and ### heading in order" % ARCH,
       "" if m is None else "\n".join(l for l in set(want.splitlines()) ^ set(got.splitlines())))

# 4. identifiers the documents name, resolved against definitions
# A name counts when something defines it: a ctags definition (function,
# prototype, macro, variable or map, struct, member, enumerator, typedef, a
# shell or python function) in the tree or in libbpf's and the kernel UAPI's
# headers, a shell variable assigned, or a word the code spells inside a
# string literal (metric names, JSON keys, sysctls). Comments are not
# definitions: a name only a comment still carries is stale.
srcdirs = [d for d in ["bpf", "cni", "user", "tests", "bench", "examples", "scripts"] if os.path.isdir(d)]
SYSHDR = ["/usr/include/bpf/bpf_helper_defs.h", "/usr/include/bpf/bpf.h", "/usr/include/bpf/libbpf.h",
          "/usr/include/linux/bpf.h"]


def ctags_names(paths):
    r = subprocess.run(["ctags", "-R", "-x", "--_xformat=%N", "--langmap=C:+.h", "--kinds-C=+px",
                        "-D", "SEC(x)=", "-D", "__uint(a,b)=int a", "-D", "__type(a,b)=int a"] + paths,
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("docs check: ctags failed (scripts/install-deps.sh installs universal-ctags): " + r.stderr)
    return set(r.stdout.split())


def files_of_tree(paths):
    r = subprocess.run(["git", "ls-files", "--"] + paths, capture_output=True, text=True)
    if r.returncode == 0 and r.stdout:
        return r.stdout.split()
    return [os.path.join(d, f) for top in paths for d, _, fs in os.walk(top) for f in fs]


def spelled_in_code(paths):
    words = set()
    for f in files_of_tree(paths):
        if os.path.basename(f) == "Makefile":  # the settings make reads
            words.update(re.findall(r"\$\(([A-Za-z_]\w*)\)", open(f, errors="ignore").read()))
        m = re.search(r"\.(c|h|go|py|sh)$", f)
        if not m:
            continue
        try:
            body = open(f, errors="ignore").read()
        except OSError:
            continue
        if m.group(1) in ("c", "h", "go"):
            body = re.sub(r"/\*.*?\*/|//[^\n]*", "", body, flags=re.S)
        else:
            body = re.sub(r"(?m)^\s*#.*$", "", body)
            words.update(re.findall(r"(?m)^\s*(?:local |export |readonly )?([A-Za-z_]\w*)=", body))
            words.update(re.findall(r"\$\{([A-Za-z_]\w*)[:}-]", body))  # settings read from the environment
        for dq, sq in re.findall(r'"((?:[^"\\\n]|\\.)*)"|\'([^\'\n]*)\'', body):
            words.update(re.findall(r"[A-Za-z_]\w*", dq or sq))
    return words


known = ctags_names(srcdirs + ["Makefile"]) | ctags_names([h for h in SYSHDR if os.path.exists(h)]) | spelled_in_code(srcdirs + ["Makefile"])
# names the text takes from the kernel, iproute2 or a peer, not from this tree
outside = {"addr_gen_mode", "ndisc_send_ns", "do_xdp_generic", "skb_copy_bits", "tcx_run", "tc_run",
           "ip_summed", "csum_not_inet", "net_dev_start_xmit", "netif_rx_entry", "sock_addr", "pid_max",
           "fwd_status"}
docs = sorted(os.path.join(d, f) for d in ("docs", "docs/decisions") if os.path.isdir(d)
              for f in os.listdir(d) if f.endswith(".md"))
missing, count = [], 0
for path in docs:
    body = open(path, encoding="utf-8").read()
    names = set()
    for tick in re.findall(r"`([^`\n]+)`", body):
        names.update(re.findall(r"(?<![\w./-])([a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9])(?:\(\))?(?![\w./*-])", tick))
    names |= set(re.findall(r"\bXCNI_[A-Z0-9_]*[A-Z0-9]\b", body))  # the project's constants too
    count += len(names)
    missing += ["%s: %s" % (path, n) for n in sorted(names) if n not in known and n not in outside]
result(not missing, "docs/*.md: every backticked C-style name and XCNI_ constant resolves to a definition (%d names)"
       % count, "\n".join(missing))


# 5. README paragraphs
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paragraphs import paragraphs  # noqa: E402


long_ = ["README.md:%d: %d words" % (ln, w) for ln, w in paragraphs("README.md") if w >= 120]
result(not long_, "README.md: every paragraph under 120 words", "\n".join(long_))

# 6. every product file named in docs/architecture.md (issue 68 item 5): by its
# path, by FOLDER/NAME, by its name alone where no other product file has it, or
# in a folder-map row of its folder; "name.[ch]" names both.
def named_files():
    files = [f for f in subprocess.run(["git", "ls-files", "bpf", "user", "cni"], capture_output=True,
                                       text=True).stdout.split() if f.endswith((".c", ".h")) and os.path.exists(f)]
    text_ch = re.sub(r"\b([\w.]+)\.\[ch\]", r"\1.c \1.h", text)
    rows = {}
    for m in re.finditer(r"^\| `([\w/]+/)` \|(.*)$", text_ch, re.M):
        rows.setdefault(m.group(1), []).append(m.group(2))
    base = {}
    for f in files:
        base[os.path.basename(f)] = base.get(os.path.basename(f), 0) + 1
    word = lambda name, t: re.search(r"(?<![\w/.])" + re.escape(name) + r"(?![\w])", t)
    out = []
    for f in files:
        d, b = os.path.dirname(f) + "/", os.path.basename(f)
        if (f in text_ch or "/".join(f.split("/")[-2:]) in text_ch
                or (base[b] == 1 and word(b, text_ch))
                or any(word(b, r) for r in rows.get(d, []))):
            continue
        out.append(f)
    return files, out


files, unnamed = named_files()
result(not unnamed, "%s: every product file (%d) is named" % (ARCH, len(files)), "\n".join(unnamed))

finish()
