# SPDX-License-Identifier: Apache-2.0
"""A Markdown file's paragraphs and their words: one reader for the
documents' check (tests/docs/check.py) and tests/structure/tree_shape.py's readme item."""
import re


def paragraphs(path):
    """[(first line, words)] per paragraph: fenced blocks, headings, tables
    and images are none; a list item starts a paragraph of its own."""
    out, cur, fence = [], [], False
    for i, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        s = line.strip()
        if s.startswith("```"):
            fence = not fence
            if cur:
                out.append(cur)
                cur = []
            continue
        if fence:
            continue
        if not s or s[0] in "#|" or s.startswith("!["):
            if cur:
                out.append(cur)
                cur = []
            continue
        if re.match(r"\s*([-*]|\d+\.)\s", line) and cur:
            out.append(cur)
            cur = []
        cur.append((i, line))
    if cur:
        out.append(cur)
    return [(p[0][0], sum(len(re.sub(r"[`*]", "", l).split()) for _, l in p)) for p in out]
