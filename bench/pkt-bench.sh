#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Per-packet cost of to_pod, from_overlay's Geneve over the IPv4 underlay and
# NodePort from outside, two trees side by side: bench/pkt_bench.c compiled
# against each tree's skeletons (make all there first), run RUNS times a side,
# interleaved (base then head, then head then base, ...), all under one hold
# of the test lock. Prints per row the base and head medians, head/base,
# and the median and range of the ratios of the runs paired in order.
# See bench/README.md ("A/B tools"). As root:
#
#   bash bench/pkt-bench.sh BASE_TREE HEAD_TREE [RUNS] [ROUNDS]
#
#   RUNS    pkt_bench runs per side (default 8)
#   ROUNDS  rounds inside each run (pkt_bench's, default 20)
#
# PKT_BENCH_BLOCKS=1 runs each row alone (all its rounds in a row, after one
# unmeasured; see pkt_bench.c) instead of turning the order every round.
# PKT_BENCH_NO_XDP=1 leaves the XDP rows out on both sides (they are left out
# anyway when one tree has no XDP NodePort fast path; the head's XDP rows
# refuse trees whose fast path took other steps).
#
# The runs' outputs stay in $OUT (default a new /tmp/pkt-bench.XXXXXX).
set -euo pipefail
BENCH=pkt-bench
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

(($# >= 2)) || die "usage: bash bench/pkt-bench.sh BASE_TREE HEAD_TREE [RUNS] [ROUNDS]"
base=$(cd "$1" && pwd)
head=$(cd "$2" && pwd)
runs=${3:-8}
rounds=${4:-20}
num_in "$runs" 1 100 || die "RUNS: want 1..100, got '$runs'"
num_in "$rounds" 1 1000 || die "ROUNDS: want 1..1000, got '$rounds'"
need gcc flock python3 ip
lock=/tmp/xcni-test.lock
out=${OUT:-$(mktemp -d /tmp/pkt-bench.XXXXXX)}
mkdir -p "$out"

# The same rows on both sides: if one tree has no XDP NodePort fast path,
# neither side runs the XDP rows (an XDP test run slows the tc row after it,
# see pkt_bench.c).
cflags=()
[[ ${PKT_BENCH_NO_XDP:-} != 1 ]] || cflags=(-DPKT_BENCH_NO_XDP)
for side in base head; do
	grep -q XCNI_HAS_NPACCEL "${!side}/bpf/xcni_shared.h" || cflags=(-DPKT_BENCH_NO_XDP)
done
for side in base head; do
	tree=${!side}
	for s in to_pod from_overlay; do
		[[ -f $tree/build/gen/$s.skel.h ]] || die "$tree/build/gen/$s.skel.h: run make all there"
	done
	gcc -O2 -Wall "${cflags[@]}" -I"$tree/build/gen" -I"$tree/bpf" -o "$out/pkt_bench.$side" \
		"$here/pkt_bench.c" -lbpf || die "pkt_bench does not build against $tree"
done
((${#cflags[@]} == 0)) || say "one tree has no XDP NodePort fast path: the XDP rows left out on both sides"

say "base $base, head $head, $runs runs a side, $rounds rounds each; outputs in $out"
# One hold of the lock for all the runs: the two sides meet the same machine,
# and no other suite's traffic falls between them.
flock -o "$lock" bash -c '
	out=$1 runs=$2 rounds=$3
	for ((i = 1; i <= runs; i++)); do
		if ((i % 2)); then order="base head"; else order="head base"; fi
		echo "pkt-bench: run $i ($order), load $(cut -d" " -f1-3 /proc/loadavg)"
		for side in $order; do
			"$out/pkt_bench.$side" /sys/fs/bpf/pkt-bench-$$-$side "$rounds" > "$out/$side.$i" ||
				{ echo "pkt-bench: run $i ($side) failed, outputs in $out" >&2; exit 1; }
		done
	done
	echo "pkt-bench: done, load $(cut -d" " -f1-3 /proc/loadavg)"' _ "$out" "$runs" "$rounds"

python3 - "$out" "$runs" <<'EOF'
import statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def read(side, i):
    rows = {}
    for line in open(f"{out}/{side}.{i}"):
        name, ns = line.rsplit(None, 2)[0], float(line.split()[-2])
        rows[name] = ns
    return rows
base = [read("base", i) for i in range(1, runs + 1)]
head = [read("head", i) for i in range(1, runs + 1)]
print("| row | base median (ns) | head median (ns) | head/base | paired ratios (median, min-max) |")
print("|---|---:|---:|---:|---|")
for name in base[0]:
    b = [r[name] for r in base]
    h = [r[name] for r in head]
    mb, mh = statistics.median(b), statistics.median(h)
    # A "sum: ... x" row is a ratio, not ns: three places.
    f = ".3f" if name.startswith("sum:") and mb < 10 else ".1f"
    # A difference row (a "miss over" sum) can be 0 or below: no ratio.
    if min(b) <= 0 or mb <= 0:
        print(f"| {name} | {mb:{f}} | {mh:{f}} | - | - |")
        continue
    p = [y / x for x, y in zip(b, h)]
    print(f"| {name} | {mb:{f}} | {mh:{f}} | {mh / mb:.3f} | "
          f"{statistics.median(p):.3f}, {min(p):.3f}-{max(p):.3f} |")
EOF
