#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What xcnid --flows' once-a-second conntrack walk costs with a big map and a
# full window (issue 30, run B's idle constant), without making connections:
# bench/ct_fill.c writes the entries into the agent's pinned xcni_ct as the
# programs would. Two agents side by side (A and B, e.g. main's xcnid and a
# branch's), each in its own netns with its own pin dir, measured over the
# same seconds so the machine's noise falls on both. Root, after `make`.
#
#   bash bench/flowwalk.sh [-a XCNID_A] [-b XCNID_B] [-l LIVE] [-d DEAD] [-s SECS] [-t N] [-p]
#
#   -a, -b  the two xcnid binaries (default: both BUILD/xcnid)
#   -l      entries closed now: records made, then ended when they expire
#           10 s later (default 100000, the window's size too)
#   -d      entries closed long ago, past their lifetime (default 100000)
#   -s      seconds per measurement (default 10)
#   -t      the busy leg: N established entries get a packet every 100 ms and
#           xcni_metrics counts them (default 100; 0 skips the leg)
#   -p      perf record each agent over each leg (perf report after)
#
# Legs: idle (nothing changes; the window full of ended records, the map of
# expired entries) and busy (-t's trickle beside them). Figure: utime + stime
# of each agent from /proc/PID/stat over the leg, % of one CPU.
# Run it under `flock /tmp/xcni-test.lock`.
set -euo pipefail

BENCH=flowwalk
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XA=$BUILD/xcnid XB=$BUILD/xcnid LIVE=100000 DEAD=100000 SECS=10 TOUCH=100 PERF=0
opts - "a:XA b:XB l:LIVE d:DEAD s:SECS t:TOUCH p=PERF=1" "$@"
need ip nsenter "$CC"
((PERF)) && need perf
TAG=xfw$$
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
declare -A XPID=()
PIDS=()
SIDES=(A B)
ns() { echo "$TAG-$1"; }
pin() { echo "/sys/fs/bpf/$TAG-$1"; }
cleanup() {
	local p s
	set +e
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
	for s in "${SIDES[@]}"; do
		rm -rf "$(pin "$s")" "/run/xcni/flows$(pin "$s" | tr / -).sock" "/run/xcni/flows$(pin "$s" | tr / -).events"
		ip netns del "$(ns "$s")" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

FILL=$TMP/ct_fill
"$CC" -O2 -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/bpf" -o "$FILL" "$HERE/ct_fill.c" \
	$(pkg-config --cflags --libs libbpf) || die "compiling ct_fill failed"
WINDOW=$((LIVE > 0 ? LIVE : 16384))
for s in "${SIDES[@]}"; do
	if [[ $s == A ]]; then bin=$XA; else bin=$XB; fi
	mkdir -p "$TMP/$s-man"
	ip netns add "$(ns "$s")"
	ip -n "$(ns "$s")" link set lo up
	ip -n "$(ns "$s")" link add ul0 type veth peer name ul1
	ip -n "$(ns "$s")" link set ul1 up
	ip -n "$(ns "$s")" addr add 192.168.79.1/24 dev ul0
	ip -n "$(ns "$s")" link set ul0 up
	nsenter --net=/run/netns/"$(ns "$s")" "$bin" --pin-dir "$(pin "$s")" --pod-cidr 10.244.1.0/24 \
		--node-name n1 --manifests "$TMP/$s-man" --underlay-dev ul0 --xdp-mode generic \
		--flows --flows-window "$WINDOW" >"$TMP/$s-xcnid.log" 2>&1 &
	XPID[$s]=$!
	PIDS+=($!)
done
for s in "${SIDES[@]}"; do
	for _ in $(seq 100); do [[ -e $(pin "$s")/xcni_ct ]] && grep -q "xcnid: ready" "$TMP/$s-xcnid.log" && break; sleep 0.1; done
	grep -q "xcnid: ready" "$TMP/$s-xcnid.log" || { cat "$TMP/$s-xcnid.log" >&2; die "$s: xcnid did not start"; }
done
say "A: $XA ($(sha1sum <"$XA" | cut -c1-12)), B: $XB ($(sha1sum <"$XB" | cut -c1-12)); live $LIVE, dead $DEAD, window $WINDOW"
t0=$SECONDS
for s in "${SIDES[@]}"; do "$FILL" "$(pin "$s")" fill "$LIVE" "$DEAD" || die "$s: filling failed"; done
say "filled both in $((SECONDS - t0)) s"
# The walks make the live entries' records, then (10 s on) see them end.
sleep $((10 + 3))
HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
trailer() {
	nsenter --net=/run/netns/"$(ns "$1")" "$BUILD/xcnictl" --pin-dir "$(pin "$1")" flows --json --last 1 -v 2>&1 >/dev/null |
		grep '"window"' | tail -n 1
}
for s in "${SIDES[@]}"; do say "$s window: $(trailer "$s")"; done
leg() { # NAME
	local s a0 b0 a1 b1 t0 t1 fills=() perfs=()
	if [[ $1 == busy ]]; then
		for s in "${SIDES[@]}"; do "$FILL" "$(pin "$s")" touch "$TOUCH" "$SECS" & fills+=($!); done
		sleep 1
	fi
	if ((PERF)); then
		for s in "${SIDES[@]}"; do
			perf record -q -g -p "${XPID[$s]}" -o "/tmp/$TAG-perf-$1-$s.data" -- sleep "$SECS" >/dev/null 2>&1 &
			perfs+=($!)
		done
	fi
	a0=$(ticks "${XPID[A]}") b0=$(ticks "${XPID[B]}") t0=$(date +%s.%N)
	sleep "$SECS"
	a1=$(ticks "${XPID[A]}") b1=$(ticks "${XPID[B]}") t1=$(date +%s.%N)
	for p in "${fills[@]+"${fills[@]}"}" "${perfs[@]+"${perfs[@]}"}"; do wait "$p" || true; done
	python3 - "$1" "$HZ" "$t0" "$t1" "$a0" "$a1" "$b0" "$b1" "$(cut -d' ' -f1-3 /proc/loadavg)" <<-'PY'
	import sys
	leg, hz, t0, t1, a0, a1, b0, b1, load = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:9]), sys.argv[9]
	s = t1 - t0
	pa, pb = (a1 - a0) / hz / s * 100, (b1 - b0) / hz / s * 100
	print(f"{leg:5} over {s:.1f} s: A {pa:5.2f}% of a CPU ({a1 - a0:.0f} ticks), B {pb:5.2f}% ({b1 - b0:.0f} ticks); load {load}")
	PY
}
leg idle
((TOUCH)) && leg busy
for s in "${SIDES[@]}"; do say "$s window after: $(trailer "$s")"; done
((PERF)) && say "perf data: /tmp/$TAG-perf-{idle,busy}-{A,B}.data"
[[ -n ${KEEP_LOGS:-} ]] && cp "$TMP"/*-xcnid.log /tmp/ || true
exit 0
