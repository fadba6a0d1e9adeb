#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The per-packet guard (issue 71 item 4): this tree's bench/pkt_bench.c rows
# against the baseline commit named in bench/BASELINE, A/B interleaved under
# one hold of the test lock (bench/pkt-bench.sh), a ratio per row. The baseline
# is checked out and built once into a cache folder (git worktree, like the
# Kubernetes build under /var/cache/xcni) and reused while its commit stays.
# A benchmark, not a timed test: read the ratios beside the band of rows whose
# programs did not change. As root, after `make all`:
#
#   bash bench/guard.sh [RUNS] [ROUNDS]        (make bench-guard: 8 runs, 20 rounds)
#
# GUARD_BASE=COMMIT measures against another commit; GUARD_CACHE moves the cache.
set -euo pipefail
BENCH=guard
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(cd "$here/.." && pwd)
runs=${1:-8}
rounds=${2:-20}
base=${GUARD_BASE:-$(grep -v '^#' "$here/BASELINE" | head -1)}
[[ -n $base ]] || die "bench/BASELINE names no commit"
commit=$(git -C "$root" rev-parse --verify -q "$base^{commit}") ||
	die "bench/BASELINE: $base is not a commit of this repository"
cache=${GUARD_CACHE:-/var/cache/xcni/bench-base}
tree=$cache/${commit:0:12}
for s in to_pod from_overlay; do
	[[ -f $root/build/gen/$s.skel.h ]] || die "$root/build/gen/$s.skel.h: run make all first"
done
if [[ ! -f $tree/build/gen/from_overlay.skel.h ]]; then
	mkdir -p "$cache"
	# A stale worktree of an earlier run that did not finish: made again.
	git -C "$root" worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
	git -C "$root" worktree prune
	say "baseline ${commit:0:12}: checked out and built into $tree (once)"
	git -C "$root" worktree add --detach "$tree" "$commit" >/dev/null
	nice make -C "$tree" -j"$(nproc)" all >"$cache/${commit:0:12}.build.log" 2>&1 ||
		die "baseline ${commit:0:12} does not build: $cache/${commit:0:12}.build.log"
fi
say "head $root ($(git -C "$root" rev-parse --short HEAD)) against baseline ${commit:0:12}"
# In a sandbox of its own (tests/sandbox.sh): its bpffs for the pins, its netns.
exec bash "$root/tests/sandbox.sh" guard bash "$here/pkt-bench.sh" "$tree" "$root" "$runs" "$rounds"
