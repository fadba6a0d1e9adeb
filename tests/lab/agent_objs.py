#!/usr/bin/python3
# The objects the lab wrote for its agents (XCNI_LAB_DIR/manifests): one file
# per Pod, Node, policy or hand-written EndpointSlice, and the Services with
# their slices in shards (services-XX.json, kind List). Lists flattened.
#
#   agent_objs.py DIR [KIND [NS [NAME-GLOB]]]   one line per match: FILE<TAB>JSON
#   from agent_objs import objects              objects(DIR) -> (file, doc) pairs
import fnmatch
import glob
import json
import os
import sys


def objects(d):
    for f in sorted(glob.glob(os.path.join(d, "*.json"))):
        with open(f) as fh:
            doc = json.load(fh)
        stack = [doc]
        while stack:
            o = stack.pop(0)
            if isinstance(o.get("items"), list) and o.get("kind", "").endswith("List"):
                stack = o["items"] + stack
            else:
                yield f, o


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__ or "usage: agent_objs.py DIR [KIND [NS [NAME-GLOB]]]")
    d, want = argv[1], argv[2:] + [None] * (5 - len(argv))
    kind, ns, name = want[0], want[1], want[2]
    for f, o in objects(d):
        m = o.get("metadata", {})
        if kind and o.get("kind") != kind:
            continue
        if ns and m.get("namespace") != ns:
            continue
        if name and not fnmatch.fnmatchcase(m.get("name", ""), name):
            continue
        print(f"{f}\t{json.dumps(o)}")


if __name__ == "__main__":
    main(sys.argv)
