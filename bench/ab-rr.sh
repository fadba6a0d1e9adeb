#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Two build trees side by side in one run (issue 27: "same-node and cross-node
# RR p50 and connection rate, NodePort from outside", before and after): the
# same two-node setup twice, each side's agents, plugin and BPF objects from
# its own tree; rounds interleaved, the order alternating. Prints per metric
# base and head medians, head/base, and the rounds' paired ratios. See
# bench/README.md ("A/B tools").
# Must run as root, after `make all` in both trees.
#
#   bash bench/ab-rr.sh [-r ROUNDS] [-n N] [-w WARMUP] [-c SECONDS] [-k] [-p "LOW HIGH"] [-U] BASE HEAD
#
#   BASE, HEAD  two source trees, each built (`make -j2 all`): TREE/build/xcni,
#               xcnid, xcnictl are used (the BPF objects are inside xcnid)
#   -r  rounds; each round measures both sides, the order alternating (default 5)
#   -n  ping-pong round trips per RR measurement (default 20000)
#   -w  ping-pong warm-up round trips, not counted (default 2000)
#   -c  conn_rate seconds per measurement after 1 s of warm-up (default 3)
#   -k  the agents with --kube-proxy-replacement (Services in BPF), and two
#       more legs: NodePort from outside (a client netns on the underlay ->
#       n1's address, a NodePort whose one backend is pod c on n2)
#   -p  the outside client's ip_local_port_range (default "1024 65535"); a
#       base before the NodePort SNAT fix (branch npstall) stalls on the
#       cr-np leg when the client comes to port 30070 (bench/np-stall.sh):
#       "32768 60999" compares such a base
#   -U  don't pin clients to CPU 0 and servers to CPU 1
#   -P  run clients and servers SCHED_FIFO (chrt -f 1): on a machine shared
#       with builds, they (and the softirqs they carry) are not left waiting
#       for a CPU; the kernel's RT throttling still leaves others 5%
#
# Two sides, the same in all but the tree, each its own netns (bench/twonode.sh):
#
#             netns xab<pid>-S-ul: bridge br0 (the underlay)
#              /                  |                     \
#   xab<pid>-S-n1  ul0 .78.1   xab<pid>-S-out  eth0 .78.100   xab<pid>-S-n2  ul0 .78.2
#     pods a, b (10.244.1.0/24)   (the outside client, -k)      pod c (10.244.2.0/24)
#
#   S: base or head; xcnid --xdp-mode generic (Geneve between the nodes)
#   RR same-node a -> b, cross-node a -> c (pingpong, 1 byte each way);
#   conn/s same-node a -> b, cross-node a -> c (conn_rate: connect, 1-byte
#   request and answer, close, one at a time); with -k also RR and conn/s
#   out -> 192.168.78.1:NodePort -> c (SNAT to n1, Geneve to n2).
# Environment: CNI_DIR (default /usr/lib/cni), CC.
# Run it under `flock -o /tmp/xcni-test.lock` beside the test suites.
set -euo pipefail

BENCH=ab-rr
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
ROUNDS=5 PP_N=20000 PP_WARMUP=2000 CR_SECS=3 KPR=0 PIN_CPUS=1 PRIO=0
PP_PORT=7000 CR_PORT=7107 NP_PP=30070 NP_CR=30107 OUT_RANGE="1024 65535"

opts 2 "r:ROUNDS n:PP_N w:PP_WARMUP c:CR_SECS k=KPR=1 p:OUT_RANGE U=PIN_CPUS=0 P=PRIO=1" "$@"
set -- "${ARGS[@]}"
num_in "$ROUNDS" 1 50 || die "-r must be 1..50 (got '$ROUNDS')"
num_in "$PP_N" 100 1000000 || die "-n must be 100..1000000 (got '$PP_N')"
num_in "$PP_WARMUP" 0 1000000 || die "-w must be 0..1000000 (got '$PP_WARMUP')"
num_in "$CR_SECS" 1 60 || die "-c must be 1..60 (got '$CR_SECS')"
need ip nsenter timeout taskset chrt jq python3 "$CC"
declare -A BIN=([base]=$(cd "$1" && pwd)/build [head]=$(cd "$2" && pwd)/build)
for s in base head; do
	for b in xcni xcnid xcnictl; do
		[[ -x ${BIN[$s]}/$b ]] || die "${BIN[$s]}/$b not found (make all in that tree first?)"
	done
done
[[ -x $CNI_DIR/host-local ]] || die "$CNI_DIR/host-local not found"
pin_cpus
if ((PRIO)); then ON_CLIENT=(chrt -f 1 "${ON_CLIENT[@]}") ON_SERVER=(chrt -f 1 "${ON_SERVER[@]}"); fi

TAG=xab$$
SIDES=(base head)
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
. "$(dirname "${BASH_SOURCE[0]}")/twonode.sh"
trap tn_cleanup EXIT
trap 'exit 130' INT TERM HUP

PINGPONG=$TMP/pingpong CONN_RATE=$TMP/conn_rate
tool "$PINGPONG" pingpong
tool "$CONN_RATE" conn_rate

tn_more() { # SIDE: with -k the two NodePort Services to c
	((KPR)) || return 0
	np_services "${IP[$1-c]}"
}

build() {
	local s=$1 p kpr=()
	((KPR)) && kpr=(--kube-proxy-replacement)
	tn_build "$s" "${kpr[@]}"
	if ((KPR)); then
		ip netns add "$(ns "$s" out)"
		ip -n "$(ns "$s" out)" link set lo up
		ip -n "$(ns "$s" ul)" link add p3 type veth peer name eth0 netns "$(ns "$s" out)"
		ip -n "$(ns "$s" ul)" link set p3 master br0 up
		ip -n "$(ns "$s" out)" addr add 192.168.78.100/24 dev eth0
		ip -n "$(ns "$s" out)" link set eth0 up
		ip netns exec "$(ns "$s" out)" sysctl -qw net.ipv4.ip_local_port_range="$OUT_RANGE" net.ipv4.tcp_tw_reuse=1
	fi
	for p in b c; do
		serve "$s" $p $PP_PORT "$PINGPONG"
		serve "$s" $p $CR_PORT "$CONN_RATE"
	done
	say "$s: ${BIN[$s]} ($(git -C "${BIN[$s]}/.." rev-parse --short HEAD 2>/dev/null || echo '?')):" \
		"pods a ${IP[$s-a]}, b ${IP[$s-b]} (n1), c ${IP[$s-c]} (n2)${kpr:+; --kube-proxy-replacement}"
}

for s in "${SIDES[@]}"; do build "$s"; done
LEGS=(rr-same rr-cross cr-same cr-cross)
((KPR)) && LEGS+=(rr-np cr-np)
say "start: $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, clients and servers $( ((PRIO)) && echo SCHED_FIFO 1 || echo SCHED_OTHER)"

# One measurement: ROUND SIDE LEG -> a tsv line.
echo -e "round\tside\tleg\tvalue" >"$TMP/results.tsv"
measure() {
	local r=$1 s=$2 leg=$3 from=a dst pp=$PP_PORT cr=$CR_PORT out v
	case $leg in
	*-same) dst=${IP[$s-b]} ;;
	*-cross) dst=${IP[$s-c]} ;;
	*-np) from=out dst=192.168.78.1 pp=$NP_PP cr=$NP_CR ;;
	esac
	case $leg in
	rr-*)
		out=$(timeout 120 ip netns exec "$(ns "$s" $from)" "${ON_CLIENT[@]}" "$PINGPONG" client -c "$dst" -p $pp \
			-n "$PP_N" -w "$PP_WARMUP" -t 100) || die "$s $leg: pingpong failed"
		v=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$out")
		;;
	cr-*)
		out=$(timeout $((CR_SECS + 40)) ip netns exec "$(ns "$s" $from)" "${ON_CLIENT[@]}" "$CONN_RATE" client \
			-c "$dst" -p $cr -d "$CR_SECS" -w 1 2>"$TMP/cr.err") || { cat "$TMP/cr.err" >&2; die "$s $leg: conn_rate failed"; }
		v=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$out")
		;;
	esac
	[[ $v =~ ^[0-9.]+$ ]] || die "$s $leg: cannot parse: $out"
	printf '%d\t%s\t%s\t%s\n' "$r" "$s" "$leg" "$v" >>"$TMP/results.tsv"
	case $leg in
	rr-*) say "round $r/$ROUNDS $s $leg: RR p50 $v us" ;;
	*) say "round $r/$ROUNDS $s $leg: $v conn/s" ;;
	esac
}
for ((r = 1; r <= ROUNDS; r++)); do
	for leg in "${LEGS[@]}"; do
		if ((r % 2)); then order=(base head); else order=(head base); fi
		for s in "${order[@]}"; do measure $r "$s" "$leg"; done
	done
done
say "end: $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$TMP/results.tsv" "$ROUNDS" "$PP_N" "$CR_SECS" "${LEGS[@]}" <<'PY'
import csv, statistics as st, sys
res, rounds, ppn, crs, *legs = sys.argv[1:]
rows = list(csv.DictReader(open(res), delimiter="\t"))
def vals(s, leg):
    return [float(r["value"]) for r in sorted(rows, key=lambda r: int(r["round"]))
            if r["side"] == s and r["leg"] == leg]
names = {"rr-same": "RR p50 same-node us", "rr-cross": "RR p50 cross-node us",
         "rr-np": "RR p50 NodePort us", "cr-same": "conn/s same-node",
         "cr-cross": "conn/s cross-node", "cr-np": "conn/s NodePort"}
print(f"\nab-rr: {rounds} rounds, base/head alternating; RR: {ppn} round trips, median of the rounds' p50;"
      f" conn/s: {crs} s after 1 s warm-up, one connection at a time")
print(f"{'':22}{'base':>10}{'head':>10}{'head/base':>10}{'paired':>8}  {'range':13} worse by")
for leg in legs:
    b, h = vals("base", leg), vals("head", leg)
    pr = [y / x for x, y in zip(b, h)]
    mb, mh, mp = st.median(b), st.median(h), st.median(pr)
    # Worse: a higher RR p50, a lower connection rate.
    worse = (mp - 1) if leg.startswith("rr-") else (1 - mp)
    print(f"{names[leg]:22}{mb:10.1f}{mh:10.1f}{mh / mb:10.3f}{mp:8.3f}  {min(pr):.3f}-{max(pr):.3f}"
          f"  {worse * 100:+.1f}%")
print("(paired: the median of the rounds' own head/base ratios, measured back to back; range: their"
      " min-max;\n worse by: from the paired median, + is head slower: a higher p50, a lower rate)")
for leg in legs:
    print(f"  {leg:9} base " + " ".join(f"{x:.1f}" for x in vals("base", leg))
          + " | head " + " ".join(f"{x:.1f}" for x in vals("head", leg)))
PY
