#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# from_overlay's dispatch, enum (this tree) against tail calls through a
# program array (bench/tailcall-dispatch.patch, never in bpf/): copies this
# tree's sources, less build/ and .git, to a scratch directory, applies the
# patch there, builds the skeletons pkt_bench and dispatch_verify need in
# both, then runs bench/dispatch_verify.c against each (verifier figures and
# load time, the two interleaved VRUNS times) and bench/pkt-bench.sh with this
# tree as base and the scratch tree as head (per-packet cost, interleaved in
# one hold of the test lock). See docs/decisions/overlay-dispatch-enum.md. As root, in this tree:
#
#   bash bench/dispatch-ab.sh [RUNS] [ROUNDS] [VRUNS]
#
#   RUNS, ROUNDS  pkt-bench.sh's (default 8 and 20); VRUNS default 3
#
# The scratch tree (and its build) is left in $SCRATCH (default a new
# /tmp/xcni-dispatch.XXXXXX) for `build/tests/test_bpf GROUP...` there;
# remove it when done. Outputs in $OUT (default a new /tmp/pkt-bench.XXXXXX).
# After pkt-bench.sh's table, a second: each from_overlay row's paired ratio
# over the same run's to_pod ratio (to_pod is the same program in both trees:
# the patch touches from_overlay only), which takes out what moves a whole run.
set -euo pipefail
BENCH=dispatch-ab
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

tree=$(cd "$here/.." && pwd)
runs=${1:-8}
rounds=${2:-20}
vruns=${3:-3}
num_in "$vruns" 1 20 || die "VRUNS: want 1..20, got '$vruns'"
need gcc make patch tar flock
patch=$here/tailcall-dispatch.patch
scratch=${SCRATCH:-$(mktemp -d /tmp/xcni-dispatch.XXXXXX)}
skels="build/gen/to_pod.skel.h build/gen/from_overlay.skel.h"

say "enum: $tree; tail calls: $scratch (this tree's sources + $(basename "$patch"))"
if [[ ! -e $scratch/bpf/from_overlay.bpf.c ]]; then
	tar -C "$tree" --exclude=./build --exclude=./.git -cf - . | tar -C "$scratch" -xf -
	patch -d "$scratch" -p1 --quiet < "$patch" || die "$patch does not apply to this tree"
fi
grep -q bpf_tail_call "$scratch/bpf/from_overlay.bpf.c" || die "$scratch: the patch is not applied"
make -C "$tree" -s -j2 $skels
make -C "$scratch" -s -j2 $skels
for side in enum tail; do
	t=$tree
	[[ $side == tail ]] && t=$scratch
	gcc -O2 -Wall -I"$t/build/gen" -o "$scratch/dispatch_verify.$side" \
		"$here/dispatch_verify.c" -lbpf || die "dispatch_verify does not build against $t"
done

# Verifier figures: deterministic but for the times; the two interleaved.
for ((i = 1; i <= vruns; i++)); do
	for side in enum tail; do
		say "verifier, $side, run $i, load $(cut -d' ' -f1-3 /proc/loadavg)"
		"$scratch/dispatch_verify.$side"
	done
done

export OUT=${OUT:-$(mktemp -d /tmp/pkt-bench.XXXXXX)}
bash "$here/pkt-bench.sh" "$tree" "$scratch" "$runs" "$rounds"
python3 - "$OUT" "$runs" <<'PY'
import statistics as st, sys
out, runs = sys.argv[1], int(sys.argv[2])
def read(side, i):
    return {l.rsplit(None, 2)[0]: float(l.split()[-2]) for l in open(f"{out}/{side}.{i}")}
enum = [read("base", i) for i in range(1, runs + 1)]
tail = [read("head", i) for i in range(1, runs + 1)]
ctl = [st.mean(t[k] / e[k] for k in e if k.startswith("to_pod")) for e, t in zip(enum, tail)]
print("to_pod (the control) tail/enum per run:", " ".join(f"{c:.3f}" for c in ctl))
print("| row | tail/enum over the run's control (median, min-max) |")
print("|---|---|")
for k in enum[0]:
    if k.startswith("to_pod"):
        continue
    q = [t[k] / e[k] / c for e, t, c in zip(enum, tail, ctl)]
    print(f"| {k} | {st.median(q):.3f}, {min(q):.3f}-{max(q):.3f} |")
PY
say "scratch tree left in $scratch (rm -rf it when done)"
