#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Where the XDP NodePort hit's time goes (issue 42): one tree's xdp_underlay
# built again with -DXCNI_NPX_STOP=n for each step n of the hit
# (bpf/lib/nodeport_xdp.h's NPX_STEP: the program returns XDP_DROP where step
# n ends), and bench/xdp_floor.bpf.c (parse, one frontend lookup, Geneve
# headers, XDP_TX: the floor), run by bench/pkt_bench.c beside the tree's own
# rows on the hit's packet of an open flow (PKT_BENCH_XDP_OBJS), RUNS runs of
# ROUNDS rounds under one hold of the test lock. Prints per step the median
# ns/packet over the runs and the step's own share (the difference to the
# step before). As root, the tree built (make all):
#
#   bash bench/npx-steps.sh TREE [RUNS] [ROUNDS]
#
# Step 0 is the harness alone (BPF_PROG_TEST_RUN of one packet, repeat 1, a
# program that returns at once); every row includes it.
set -euo pipefail
BENCH=npx-steps
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

(($# >= 1)) || die "usage: bash bench/npx-steps.sh TREE [RUNS] [ROUNDS]"
tree=$(cd "$1" && pwd)
runs=${2:-4}
rounds=${3:-10}
num_in "$runs" 1 100 || die "RUNS: want 1..100, got '$runs'"
num_in "$rounds" 1 1000 || die "ROUNDS: want 1..1000, got '$rounds'"
need gcc clang flock python3 ip
[[ -f $tree/build/gen/xdp_underlay.skel.h ]] || die "$tree/build/gen/xdp_underlay.skel.h: run make all there"
out=${OUT:-$(mktemp -d /tmp/npx-steps.XXXXXX)}
mkdir -p "$out"
cflags=(-O2 -g -target bpf -Wall -Wextra -Werror -I"/usr/include/$(gcc -dumpmachine)" -I"$tree/bpf")
objs=()
for n in $(seq 0 12); do
	o=$out/step$(printf %02d "$n").o
	clang "${cflags[@]}" -DXCNI_NPX_STOP="$n" -c "$tree/bpf/xdp_underlay.bpf.c" -o "$o" ||
		die "xdp_underlay with XCNI_NPX_STOP=$n does not build"
	objs+=("$o")
done
clang "${cflags[@]}" -c "$here/xdp_floor.bpf.c" -o "$out/floor.o" || die "xdp_floor does not build"
objs+=("$out/floor.o")
gcc -O2 -Wall -I"$tree/build/gen" -I"$tree/bpf" -o "$out/pkt_bench" "$here/pkt_bench.c" -lbpf ||
	die "pkt_bench does not build against $tree"
say "tree $tree, $runs runs of $rounds rounds; outputs in $out"
flock -o /tmp/xcni-test.lock bash -c '
	out=$1 runs=$2 rounds=$3 objs=$4
	for ((i = 1; i <= runs; i++)); do
		echo "npx-steps: run $i, load $(cut -d" " -f1-3 /proc/loadavg)"
		PKT_BENCH_XDP_OBJS="$objs" "$out/pkt_bench" /sys/fs/bpf/npx-steps-$$ "$rounds" > "$out/run.$i" ||
			{ echo "npx-steps: run $i failed, outputs in $out" >&2; exit 1; }
	done' _ "$out" "$runs" "$rounds" "${objs[*]}"

python3 - "$out" "$runs" <<'PY'
import statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
rows = {}
for i in range(1, runs + 1):
    for line in open(f"{out}/run.{i}"):
        name, ns = line.rsplit(None, 2)[0].strip(), float(line.split()[-2])
        rows.setdefault(name, []).append(ns)
med = {k: statistics.median(v) for k, v in rows.items()}
hit = "xdp fast path hit: NodePort, remote backend (XDP_TX)"
print("| step (returns after) | ns/packet | the step's own |")
print("|---|---:|---:|")
prev = None
for k in sorted(x for x in med if x.startswith("step")):
    print(f"| {k[:-2]} | {med[k]:.1f} | {'' if prev is None else f'{med[k] - prev:+.1f}'} |")
    prev = med[k]
print(f"| the whole hit | {med[hit]:.1f} | {med[hit] - prev:+.1f} |")
print(f"| floor.o (parse, lookup, encapsulate, XDP_TX) | {med['floor.o']:.1f} | |")
for k in sorted(med):
    if not k.startswith("step") and k != "floor.o":
        print(f"| {k} | {med[k]:.1f} | |")
PY
