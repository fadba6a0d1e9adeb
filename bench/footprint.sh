#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What an xcni node costs in kernel memory (issue 67): a lab (default flags),
# pods applied, then per node the kernel memory its pinned maps lock (the
# bytes_memlock of `bpftool -j -f map show`, summed over the maps pinned
# under the node's pin dir) beside its xcnid's RSS; the per-map table of the
# first node. See bench/README.md ("footprint"). Must run as root; takes
# /tmp/xcni-test.lock itself (don't wrap it in flock).
#
#   bash bench/footprint.sh [-n NODES] [-p PODS] [-a AGENT-ARG]...
#
#   -n  lab nodes (default 2)
#   -p  pods: 0 (default) the demo's nine (examples/lab: namespaces x, y, z,
#       pods a, b, c), or N pods of one namespace on n1 (110: a kind node's
#       pod limit)
#   -a  one more xcnid option for every node (lab up --agent-arg), repeatable
#
# Environment: BUILD (default ./build).
set -euo pipefail

BENCH=footprint
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNICTL=$BUILD/xcnictl
NODES=2
PODS=0
AGENT=()
while getopts "n:p:a:h" o; do
	case $o in
	n) NODES=$OPTARG ;;
	p) PODS=$OPTARG ;;
	a) AGENT+=(--agent-arg "$OPTARG") ;;
	*) usage ;;
	esac
done
((OPTIND > $#)) || usage
num_in "$NODES" 1 8 || die "-n: $NODES is not a number of nodes (1..8)"
num_in "$PODS" 0 250 || die "-p: $PODS is not a number of pods (0..250)"
need python3 flock bpftool
[[ -x $XCNICTL && -x $BUILD/xcnid && -x $BUILD/xcni ]] || die "build first (make): $BUILD"

export XCNI_BIN=$BUILD/xcni XCNID_BIN=$BUILD/xcnid
W=$(mktemp -d /tmp/xcni-bench-footprint.XXXXXX)
export XCNI_LAB_DIR=$W/lab
UP=0
cleanup() {
	if ((UP)); then "$XCNICTL" lab down >/dev/null 2>&1 || true; fi
	rm -rf "$W"
}
trap cleanup EXIT

if ((PODS == 0)); then
	PODS_DESC="the demo's 9 pods"
	cat "$ROOT/examples/lab/00-namespaces.yaml" "$ROOT/examples/lab/10-pods.yaml" >"$W/pods.yaml"
else
	PODS_DESC="$PODS pods on n1"
	python3 - "$PODS" >"$W/pods.yaml" <<'EOF'
import sys
print("apiVersion: v1\nkind: Namespace\nmetadata: {name: f}")
for i in range(int(sys.argv[1])):
    print(f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: f, labels: {{app: p{i % 10}}}}}\n"
          "spec: {nodeName: n1, containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}")
EOF
fi

lab_lock
UP=1
"$XCNICTL" lab up --nodes "$NODES" "${AGENT[@]}" >"$W/up.log" 2>&1 ||
	{ cat "$W/up.log" >&2; die "lab up failed"; }
"$XCNICTL" lab apply -f "$W/pods.yaml" >"$W/apply.log" 2>&1 ||
	{ cat "$W/apply.log" >&2; die "lab apply of the pods failed"; }
sleep 2 # the agents' sync of the last pods
"$XCNICTL" lab get --json >"$W/lab.json"
bpftool -j -f map show >"$W/maps.json"
say "$(date -u +%FT%TZ), $NODES nodes, $PODS_DESC, agent args: ${AGENT[*]:-none}; $(awk '/MemTotal/ {printf "MemTotal %.1f GiB", $2 / 1048576}' /proc/meminfo)"
python3 - "$W/lab.json" "$W/maps.json" <<'EOF'
import json, os, sys
lab = json.load(open(sys.argv[1]))
maps = json.load(open(sys.argv[2]))
MiB = 1 << 20
def kind(m):
    t = m["type"]
    if t in ("hash", "lru_hash", "percpu_hash", "lru_percpu_hash"):
        t += ", no prealloc" if m.get("flags", 0) & 1 else ", prealloc"
    return t
def rss(pid):
    try:
        for l in open(f"/proc/{pid}/status"):
            if l.startswith("VmRSS:"):
                return int(l.split()[1]) * 1024
    except OSError:
        pass
    return 0
for i, n in enumerate(lab["nodes"]):
    pin = n["pinDir"].rstrip("/") + "/"
    mine = [m for m in maps if any(p.startswith(pin) and "/" not in p[len(pin):]
                                   for p in m.get("pinned", []))]
    mine.sort(key=lambda m: -m["bytes_memlock"])
    total = sum(m["bytes_memlock"] for m in mine)
    if i == 0:
        print(f"{'map':<16} {'type':<26} {'max entries':>11} {'MiB':>7}")
        for m in mine:
            print(f"{m['name']:<16} {kind(m):<26} {m['max_entries']:>11,} {m['bytes_memlock'] / MiB:>7.2f}")
    r = rss(n["xcnidPid"])
    pods = sum(1 for p in lab["pods"] if p["node"] == n["name"])
    print(f"node {n['name']} ({pods} pods): {len(mine)} pinned maps lock {total / MiB:.1f} MiB; "
          f"xcnid RSS {r / MiB:.1f} MiB; total {(total + r) / MiB:.1f} MiB")
EOF
"$XCNICTL" lab down >/dev/null || die "lab down failed"
UP=0
lab_unlock
