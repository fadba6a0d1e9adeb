#!/usr/bin/env python3
"""connectivity test's machine-readable results checked as CI reads them.

ct_report.py JSON [JUNIT] [--exit N] [--pass NAME]... [--fail NAME]...
JSON: the -o json object; JUNIT: the --junit file, parsed by a real XML
parser and read as Jenkins/GitLab do (testsuite counts, testcase, failure,
skipped). Exit 1 naming the first mismatch.
"""
import argparse, json, sys
import xml.etree.ElementTree as ET

ap = argparse.ArgumentParser()
ap.add_argument("json")
ap.add_argument("junit", nargs="?")
ap.add_argument("--exit", type=int)
ap.add_argument("--pass", dest="passed", action="append", default=[])
ap.add_argument("--fail", action="append", default=[])
a = ap.parse_args()


def die(msg):
    sys.exit("ct_report: " + msg)


d = json.load(open(a.json))
tests = {t["name"]: t for t in d["tests"]}
for k in ("passed", "failed", "skipped"):
    n = sum(t["status"] == k[:4] for t in d["tests"])
    if d[k] != n:
        die(f"{k} {d[k]}, but {n} tests say so")
if a.exit is not None and d["exit"] != a.exit:
    die(f"exit {d['exit']}, want {a.exit}")
for name in a.passed:
    if tests.get(name, {}).get("status") != "pass":
        die(f"{name}: {tests.get(name)}, want pass")
for name in a.fail:
    t = tests.get(name, {})
    if t.get("status") != "fail" or "expected:" not in t.get("detail", ""):
        die(f"{name}: {t}, want fail with what was expected")
if a.junit:
    root = ET.parse(a.junit).getroot()
    if root.tag != "testsuites":
        die(f"root <{root.tag}>, want <testsuites>")
    suites = root.findall("testsuite")
    if len(suites) != 1:
        die(f"{len(suites)} <testsuite>, want 1")
    s = suites[0]
    cases = s.findall("testcase")
    if int(s.get("tests")) != len(cases) or len(cases) != len(d["tests"]):
        die(f"testsuite tests={s.get('tests')}, {len(cases)} testcase, {len(d['tests'])} in JSON")
    fails = [c.get("name") for c in cases if c.find("failure") is not None]
    if int(s.get("failures")) != len(fails) or len(fails) != d["failed"]:
        die(f"failures={s.get('failures')}, {len(fails)} <failure>, {d['failed']} in JSON")
    skips = [c for c in cases if c.find("skipped") is not None]
    if int(s.get("skipped")) != len(skips):
        die(f"skipped={s.get('skipped')}, {len(skips)} <skipped>")
    for c in cases:
        f = c.find("failure")
        if f is not None and not f.get("message"):
            die(f"{c.get('name')}: <failure> without a message")
        float(c.get("time"))
    for name in a.fail:
        if name not in fails:
            die(f"{name}: no <failure> in the JUnit file")
print(f"ok: {d['passed']} passed, {d['failed']} failed, {d['skipped']} skipped; "
      f"exit {d['exit']}" + (f"; {a.junit} parsed" if a.junit else ""))
