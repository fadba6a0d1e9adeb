#!/usr/bin/env python3
# Checks that the documents point at what exists (issue 40, suite docs-links):
#  - every "#anchor" link inside docs/architecture.md, and every
#    "architecture.md#anchor" link in the other documents, names a heading
#    (GitHub's anchors: lower case, punctuation dropped, spaces to hyphens);
#  - every section a document names in quotes after "architecture.md" is a
#    heading there (a prefix of one, as the prose shortens them);
#  - the contents between <!-- toc --> and <!-- /toc --> are the headings;
#  - every backticked name in docs/architecture.md that looks like a C
#    identifier (lower case with an underscore: a function, a map, a field),
#    and every XCNI_ constant, occurs in the sources (bpf/ cni/ user/ tests/
#    bench/ examples/ scripts/);
#  - every paragraph of README.md is under 120 words.
# Prints TAP-style "ok"/"not ok" lines and "N passed, N failed"; exit 1 on a failure.
# --write-toc rewrites the contents from the headings first.
import os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(root)
ARCH = "docs/architecture.md"
passed = failed = 0


def result(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - " + name)
        for line in detail.splitlines():
            print("#   " + line)


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

# 4. identifiers the text names
srcdirs = ["bpf", "cni", "user", "tests", "bench", "examples", "scripts", "web", "Makefile"]
def words_of_tree(paths):
    # git grep where the tree is a checkout, else a walk (a tarball of the tree)
    r = subprocess.run(["git", "grep", "-h", "-I", "-o", r"[A-Za-z_][A-Za-z0-9_]*", "--"] + paths,
                       capture_output=True, text=True)
    if r.returncode == 0:
        return set(r.stdout.split())
    out = set()
    for top in paths:
        for d, _, files in os.walk(top) if os.path.isdir(top) else [("", None, [top])]:
            for f in files:
                try:
                    out.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", open(os.path.join(d, f), errors="ignore").read()))
                except OSError:
                    pass
    return out


known = words_of_tree([d for d in srcdirs if os.path.exists(d)])
names = set()
for tick in re.findall(r"`([^`\n]+)`", text):
    for w in re.findall(r"(?<![\w./-])([a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9])(?:\(\))?(?![\w./-])", tick):
        names.add(w)
# names the text takes from the kernel or iproute2, not from this tree
outside = {"addr_gen_mode", "ndisc_send_ns", "do_xdp_generic", "skb_copy_bits", "tcx_run", "tc_run",
           "ip_summed", "csum_not_inet", "net_dev_start_xmit", "netif_rx_entry"}
names |= set(re.findall(r"\bXCNI_[A-Z0-9_]*[A-Z0-9]\b", text))  # the project's constants too
missing = sorted(n for n in names if n not in known and n not in outside)
result(not missing, "%s: every backticked C-style name exists in the sources (%d names)" % (ARCH, len(names)),
       "\n".join(missing))


# 5. README paragraphs
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paragraphs import paragraphs  # noqa: E402


long_ = ["README.md:%d: %d words" % (ln, w) for ln, w in paragraphs("README.md") if w >= 120]
result(not long_, "README.md: every paragraph under 120 words", "\n".join(long_))

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
