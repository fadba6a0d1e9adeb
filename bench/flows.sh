#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What flow records cost (issue 30): xcnid with flows (on by default) vs --flows=false, side by
# side in one run, rounds interleaved (the order alternating): same-node and
# cross-node TCP RR p50, new connections per second (one at a time), xcnid's
# CPU while they are made, and the flow window's memory per 100k flows (RSS
# of an agent whose window was filled by real connections, minus its RSS
# empty). See bench/README.md ("flows"). Must run as root, after `make`.
#
#   bash bench/flows.sh [-r ROUNDS] [-n N] [-w WARMUP] [-c SECONDS] [-m FLOWS] [-U] [-p DIR]
#
#   -r  rounds; each round measures both setups, the order alternating (default 5)
#   -n  ping-pong round trips per RR measurement (default 20000)
#   -w  ping-pong warm-up round trips, not counted (default 2000)
#   -c  conn_rate seconds per measurement after 1 s of warm-up (default 3)
#   -m  the memory phase: fill the window up to this many flows (default 100000,
#       the window's size too; 0: skip the phase)
#   -U  don't pin clients to CPU 0 and servers to CPU 1
#   -p  profile: `perf record -a -g` over round 1's conn/s legs, both setups,
#       into DIR/SETUP-LEG.data, and print where the CPU went (by command,
#       xcnid's and the BPF programs' top symbols); for finding the cost,
#       not for the figures (perf takes its own share)
#
# Two setups, the same in all but the agents' flags, each its own netns
# (bench/twonode.sh):
#
#             netns xfl<pid>-S-ul: bridge br0 (the underlay)
#              /                                   \
#   xfl<pid>-S-n1  ul0 192.168.78.1       xfl<pid>-S-n2  ul0 192.168.78.2
#     pods a, b (10.244.1.0/24)             pod c (10.244.2.0/24)
#
#   off: xcnid --xdp-mode generic --flows=false (Geneve between the nodes)
#   on:  xcnid --xdp-mode generic --flows-window M (M: -m, at least 1; flows
#        are on by default, -m 16384 is the default window)
#   RR same-node: a -> b, cross-node: a -> c (pingpong, 1 byte each way);
#   conn/s same-node a -> b, cross-node a -> c (conn_rate: connect, 1-byte
#   request and answer, close); xcnid CPU: utime + stime of n1's agent (the
#   one a's flows go through) from /proc/PID/stat over the conn_rate run.
# Environment: BUILD (default <repo>/build), CNI_DIR (default /usr/lib/cni), CC.
# Run it under `flock /tmp/xcni-test.lock` beside the test suites.
set -euo pipefail

BENCH=flows
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
ROUNDS=5 PP_N=20000 PP_WARMUP=2000 CR_SECS=3 MEM_FLOWS=100000 PIN_CPUS=1 PERF_DIR=
PP_PORT=7000 CR_PORT=7107
# The memory phase connects to four ports of b at once: connect() takes the
# ephemeral ports of one parity while it can (Linux 6.x), so a client address
# and one destination make at most ~32k distinct tuples; four, ~129k.
FILL_PORTS=(7107 7108 7109 7110)

opts 0 "r:ROUNDS n:PP_N w:PP_WARMUP c:CR_SECS m:MEM_FLOWS U=PIN_CPUS=0 p:PERF_DIR" "$@"
num_in "$ROUNDS" 1 50 || die "-r must be 1..50 (got '$ROUNDS')"
num_in "$PP_N" 100 1000000 || die "-n must be 100..1000000 (got '$PP_N')"
num_in "$PP_WARMUP" 0 1000000 || die "-w must be 0..1000000 (got '$PP_WARMUP')"
num_in "$CR_SECS" 1 60 || die "-c must be 1..60 (got '$CR_SECS')"
num_in "$MEM_FLOWS" 0 1000000 || die "-m must be 0..1000000 (got '$MEM_FLOWS')"
need ip nsenter timeout taskset jq python3 "$CC"
if [[ -n $PERF_DIR ]]; then
	need perf
	mkdir -p "$PERF_DIR" || die "-p: cannot make $PERF_DIR"
fi
for b in "$BUILD/xcni" "$BUILD/xcnid" "$BUILD/xcnictl" "$CNI_DIR/host-local"; do
	[[ -x $b ]] || die "$b not found (make first?)"
done
pin_cpus
WINDOW=$((MEM_FLOWS > 0 ? MEM_FLOWS : 16384))

TAG=xfl$$
SIDES=(off on)
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
declare -A BIN=([off]=$BUILD [on]=$BUILD)
. "$(dirname "${BASH_SOURCE[0]}")/twonode.sh"
trap tn_cleanup EXIT
trap 'exit 130' INT TERM HUP

PINGPONG=$TMP/pingpong CONN_RATE=$TMP/conn_rate
tool "$PINGPONG" pingpong
tool "$CONN_RATE" conn_rate

build() {
	local s=$1 p flows=()
	# Flows are on by default: off says so, on gives its window (-m 16384 is the default's).
	if [[ $s == on ]]; then flows=(--flows-window "$WINDOW"); else flows=(--flows=false); fi
	tn_build "$s" "${flows[@]}"
	for p in b c; do
		serve "$s" $p $PP_PORT "$PINGPONG"
		serve "$s" $p $CR_PORT "$CONN_RATE"
	done
	for port in "${FILL_PORTS[@]:1}"; do serve "$s" b "$port" "$CONN_RATE"; done
	say "$s: pods a ${IP[$s-a]}, b ${IP[$s-b]} (n1), c ${IP[$s-c]} (n2); xcnid ${flows[*]:-(no flows)}"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# trailer SETUP N: xcnid's flow window trailer ({"flows": N, "window": ...}) on node N
trailer() { ctl "$1" "$2" flows --json --last 1 -v 2>&1 >/dev/null | grep '"window"' | tail -n 1; }

for s in "${SIDES[@]}"; do build "$s"; done
[[ $(trailer on 1) == *"\"window\":$WINDOW"* ]] || die "on: xcnid on n1 does not answer flows with a window of $WINDOW"
trailer off 1 | grep -q '"window"' && die "off: xcnid on n1 keeps flows"
HZ=$(getconf CLK_TCK)
say "start: $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $HZ ticks/s"

# The memory phase: on's agent gets connections (a -> b, four ports at once,
# 3 s at a time) until its window holds MEM_FLOWS flows; then off's gets as
# many, so what the agent grows by without flow records is taken away.
echo -e "setup\trss0_kib\trss1_kib\tflows\tcreated\tevicted\tconns\tsecs" >"$TMP/mem.tsv"
if ((MEM_FLOWS)); then
	sleep 2
	for s in on off; do
		r0=$(rss_kib "${XPID[$s-1]}")
		conns=0 t0=$SECONDS
		while :; do
			fill=()
			for port in "${FILL_PORTS[@]}"; do
				timeout 60 ip netns exec "$(ns "$s" a)" "$CONN_RATE" client -c "${IP[$s-b]}" -p $port -d 3 -w 0 \
					>"$TMP/fill-$port.out" 2>"$TMP/fill-$port.err" &
				fill+=($!)
			done
			for p in "${fill[@]}"; do
				wait "$p" || { cat "$TMP"/fill-*.err >&2; die "$s: filling: conn_rate failed"; }
			done
			for port in "${FILL_PORTS[@]}"; do
				conns=$((conns + $(sed -E 's/^conns=([0-9]+).*/\1/' "$TMP/fill-$port.out")))
			done
			sleep 1.5 # a conntrack walk (every second) after the last connection
			if [[ $s == on ]]; then
				f=$(trailer on 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"])')
				((f < MEM_FLOWS)) || break
			else
				((conns < MEM_CONNS)) || break
			fi
			((SECONDS - t0 < 120)) || { say "$s: 120 s of connections and the window holds $f flows"; break; }
		done
		[[ $s == on ]] && MEM_CONNS=$conns
		r1=$(rss_kib "${XPID[$s-1]}")
		if [[ $s == on ]]; then
			read -r f cr ev < <(trailer on 1 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["flows"], j["created"], j["evicted"])')
		else
			f=0 cr=0 ev=0
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$r0" "$r1" "$f" "$cr" "$ev" "$conns" $((SECONDS - t0)) >>"$TMP/mem.tsv"
		say "memory $s: n1's xcnid RSS $r0 KiB -> $r1 KiB after $conns connections ($((SECONDS - t0)) s); window $f flows ($cr created, $ev evicted)"
	done
fi

# One measurement: LEG SETUP -> a tsv line's fields.
echo -e "round\tsetup\tleg\tvalue\tconns\tcpu1\tcpu2\tsecs" >"$TMP/results.tsv"
measure() {
	local r=$1 s=$2 leg=$3 dst out v c0 c1 d0 d1 t0 t1 conns=0 secs=0
	case $leg in *same) dst=${IP[$s-b]} ;; *) dst=${IP[$s-c]} ;; esac
	case $leg in
	rr-*)
		out=$(timeout 120 ip netns exec "$(ns "$s" a)" "${ON_CLIENT[@]}" "$PINGPONG" client -c "$dst" -p $PP_PORT \
			-n "$PP_N" -w "$PP_WARMUP" -t 100) || die "$s $leg: pingpong failed"
		v=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$out")
		;;
	cr-* | idle)
		c0=$(cpu_ticks "${XPID[$s-1]}") d0=$(cpu_ticks "${XPID[$s-2]}") t0=$(date +%s.%N)
		if [[ $leg == idle ]]; then
			sleep $((CR_SECS + 1))
			out=idle v=0
		else
			local perf=
			if [[ -n $PERF_DIR ]] && ((r == 1)); then
				# The whole machine over the run (warm-up and all): the agents,
				# the client and server, the softirqs that carry their packets.
				perf record -q -a -g -F 4999 -o "$PERF_DIR/$s-$leg.data" -- sleep $((CR_SECS + 1)) \
					>"$TMP/perf.log" 2>&1 &
				perf=$!
			fi
			out=$(timeout $((CR_SECS + 40)) ip netns exec "$(ns "$s" a)" "${ON_CLIENT[@]}" "$CONN_RATE" client \
				-c "$dst" -p $CR_PORT -d "$CR_SECS" -w 1 2>"$TMP/cr.err") || { cat "$TMP/cr.err" >&2; die "$s $leg: conn_rate failed"; }
			v=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$out")
			conns=$(sed -E 's/^conns=([0-9]+).*/\1/' <<<"$out")
			[[ -z $perf ]] || wait "$perf" || { cat "$TMP/perf.log" >&2; die "$s $leg: perf record failed"; }
		fi
		c1=$(cpu_ticks "${XPID[$s-1]}") d1=$(cpu_ticks "${XPID[$s-2]}") t1=$(date +%s.%N)
		secs=$(python3 -c "print('%.3f' % ($t1 - $t0))")
		;;
	esac
	[[ $v =~ ^[0-9.]+$ ]] || die "$s $leg: cannot parse: $out"
	printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$leg" "$v" "$conns" $((${c1:-0} - ${c0:-0})) \
		$((${d1:-0} - ${d0:-0})) "$secs" >>"$TMP/results.tsv"
	if [[ $leg == cr-* || $leg == idle ]]; then
		say "round $r/$ROUNDS $s $leg: $v conn/s (xcnid n1: $((c1 - c0)), n2: $((d1 - d0)) ticks over $secs s)"
	else
		say "round $r/$ROUNDS $s $leg: RR p50 $v us"
	fi
}
for ((r = 1; r <= ROUNDS; r++)); do
	for leg in rr-same rr-cross cr-same cr-cross idle; do
		if ((r % 2)); then order=(off on); else order=(on off); fi
		for s in "${order[@]}"; do measure $r "$s" $leg; done
	done
done
say "end: $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
# The on agent kept what it saw: a's connections are in its window.
f=$(trailer on 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["created"])')
((f > MEM_FLOWS)) || die "on: xcnid made only $f flow records: it did not see the connections"

python3 - "$TMP/results.tsv" "$TMP/mem.tsv" "$HZ" "$ROUNDS" "$PP_N" "$CR_SECS" "$WINDOW" <<'PY'
import csv, statistics as st, sys
res, mem, hz, rounds, ppn, crs, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:]
rows = list(csv.DictReader(open(res), delimiter="\t"))
def vals(s, leg, k="value"):
    return [float(r[k]) for r in rows if r["setup"] == s and r["leg"] == leg]
print(f"\nflows: {rounds} rounds, off/on alternating; RR: {ppn} round trips, median of the rounds' p50;"
      f" conn/s: {crs} s after 1 s warm-up, one connection at a time")
print(f"{'':22}{'off':>12}{'on':>12}{'on/off':>9}{'paired':>9}  goal")
goals = {"rr-same": ("<=", 1.02), "rr-cross": ("<=", 1.02), "cr-same": (">=", 0.95), "cr-cross": (">=", 0.95)}
names = {"rr-same": "RR p50 same-node us", "rr-cross": "RR p50 cross-node us",
         "cr-same": "conn/s same-node", "cr-cross": "conn/s cross-node"}
for leg in ("rr-same", "rr-cross", "cr-same", "cr-cross"):
    a, b = st.median(vals("off", leg)), st.median(vals("on", leg))
    # The rounds' own on/off pairs (measured back to back): steadier on a noisy machine.
    pr = st.median([y / x for x, y in zip(vals("off", leg), vals("on", leg))])
    op, g = goals[leg]
    ok = (pr <= g) if op == "<=" else (pr >= g)
    print(f"{names[leg]:22}{a:12.1f}{b:12.1f}{b / a:9.3f}{pr:9.3f}  {op} {g} {'met' if ok else 'MISSED'}")
print("(on/off: the medians' ratio; paired: the median of the rounds' own ratios, which the goal is read on)")
def pct(s, leg, node):
    return st.median([int(r[f"cpu{node}"]) / hz / float(r["secs"]) * 100 for r in rows
                      if r["setup"] == s and r["leg"] == leg])
print("xcnid CPU, % of one CPU (utime + stime over the measurement), median of the rounds:")
print(f"{'':22}{'n1 off':>8}{'n1 on':>8}{'n2 off':>8}{'n2 on':>8}   on at its rate, n1")
for leg in ("idle", "cr-same", "cr-cross"):
    rate = st.median(vals("on", leg)) if leg != "idle" else 0
    line = f"{leg + (' (no traffic)' if leg == 'idle' else ''):22}"
    line += "".join(f"{pct(s, leg, n):8.1f}" for n in (1, 2) for s in ("off", "on"))
    if rate:
        # (percent of a CPU above idle) / 100 / rate, in microseconds
        us = (pct("on", leg, 1) - pct("on", "idle", 1)) * 1e4 / rate
        # Both agents: a cross-node connection is recorded on n1 and n2.
        us2 = (pct("on", leg, 1) + pct("on", leg, 2) - pct("on", "idle", 1) - pct("on", "idle", 2)) * 1e4 / rate
        line += f"   {rate:6.0f} conn/s; above idle {us:.2f} us a connection (n1 + n2: {us2:.2f})"
    print(line)
m = {r["setup"]: r for r in csv.DictReader(open(mem), delimiter="\t")}
if "on" in m:
    on, off = m["on"], m["off"]
    d_on = int(on["rss1_kib"]) - int(on["rss0_kib"])
    d_off = int(off["rss1_kib"]) - int(off["rss0_kib"])
    n = int(on["flows"])
    print(f"memory: window {window}; on: n1's xcnid RSS {on['rss0_kib']} -> {on['rss1_kib']} KiB with"
          f" {n} flows ({on['conns']} connections, {on['created']} records made, {on['evicted']} evicted);"
          f" off: {off['rss0_kib']} -> {off['rss1_kib']} KiB after {off['conns']} connections")
    if n:
        print(f"memory per 100k flows: {(d_on - d_off) * 100000 / n / 1024:.1f} MiB"
              f" ((on growth {d_on} KiB - off growth {d_off} KiB) x 100000 / {n})")
PY
# -p: where round 1's conn/s legs spent the machine's CPU. Samples (4999 Hz a
# CPU) by command, then the agent's and the BPF programs' top symbols; the
# legs' connections are in the round's lines above.
if [[ -n $PERF_DIR ]]; then
	for f in "$PERF_DIR"/*.data; do
		[[ -e $f ]] || continue
		echo
		say "perf: $f: samples by command"
		perf report -i "$f" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
		say "perf: $f: xcnid's top symbols (self)"
		perf report -i "$f" --no-children --comm xcnid --sort dso,sym --stdio 2>/dev/null |
			grep -E '^ +[0-9]' | head -12
		say "perf: $f: BPF programs (self, every command)"
		perf report -i "$f" --no-children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9].*bpf_prog' | head -6
	done
fi
