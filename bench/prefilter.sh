#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The underlay's XDP prefilter: per-packet cost (BPF_PROG_TEST_RUN) by deny-list
# size, and drop rate against the same list as iptables raw-table rules.
# See bench/README.md ("prefilter").  Must run as root, after `make`.
#
#   bash bench/prefilter.sh [-t SECONDS] [-s SECTIONS] [-N "10000 100000"]
#
#   -t  flood duration per measurement, seconds (default 5)
#   -s  sections to run: 1 cost, 2 drop rate (default 1,2)
#   -N  deny-list sizes for the drop rate (default "10000 100000")
#
#   netns xpf<pid>-s                       netns xpf<pid>-r
#   s0 10.98.0.2/24 ------- veth -------- r0 10.98.0.1/24
#   flood: UDP 10.98.0.2 -> 10.98.0.1:9    xdp_underlay on r0 (native | generic),
#   (sendmmsg, CPU 0)                      or iptables -t raw PREROUTING -s .. -j DROP
#
# Environment: BUILD (default <repo>/build; the skeleton is $BUILD/gen/
# xdp_underlay.skel.h), CC (default gcc), IPTABLES (default iptables).
set -euo pipefail

BENCH=prefilter
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
IPTABLES=${IPTABLES:-iptables}
SECS=5
SECTIONS=1,2
SIZES="10000 100000"
TARGET_NS=60

opts - "t:SECS s:SECTIONS N:SIZES" "$@"
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS >= 1 && SECS <= 60)) || { echo "-t must be 1..60" >&2; exit 2; }

need ip
[[ -f $BUILD/gen/xdp_underlay.skel.h ]] || die "$BUILD/gen/xdp_underlay.skel.h missing: run make first"

TAG=xpf$$
NS_S=$TAG-s NS_R=$TAG-r
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
XDP_PID=
cleanup() {
	# The driver detaches and unpins on its own once its stdin closes.
	if [[ -n $XDP_PID ]]; then
		exec 7>&- 2>/dev/null || true
		kill "$XDP_PID" 2>/dev/null || true
		wait "$XDP_PID" 2>/dev/null || true
	fi
	ip netns del "$NS_S" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

DRV=$BUILD/prefilter_bench
say "compiling $DRV"
# shellcheck disable=SC2046 # pkg-config's flags are separate words
"$CC" -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -g -I"$BUILD/gen" -I"$ROOT/bpf" \
	-I"$ROOT/user" -o "$DRV" "$HERE/prefilter_bench.c" "$ROOT/user/lib/policy/prefilter.c" \
	$(pkg-config --libs libbpf 2>/dev/null || echo -lbpf) ||
	die "compiling the driver failed"

want() { [[ ,$SECTIONS, == *,$1,* ]]; }
TARGETS=()
RATIOS=()

# ---- 1: cost per packet ------------------------------------------------
if want 1; then
	echo
	echo "== 1. xdp_underlay per packet, BPF_PROG_TEST_RUN (64 B UDP, median of 7 x 1M runs)"
	echo "   random /24../32 prefixes; miss = source in no prefix (the whole trie walk), hit = inside one"
	"$DRV" cost 0 10 10000 100000 | tee "$TMP/cost" || die "cost measurement failed"
	miss100k=$(awk '$1 == 100000 { print $2 }' "$TMP/cost")
	miss10=$(awk '$1 == 10 { print $2 }' "$TMP/cost")
	growth=$(awk -v a="$miss100k" -v b="$miss10" 'BEGIN { printf "%.2f", a / b }')
	echo "   miss at 100k / miss at 10: ${growth}x"
	met=NOT\ MET
	((miss100k <= TARGET_NS)) && met=MET
	TARGETS+=("TARGET: prefilter miss at 100k entries <= $TARGET_NS ns/packet  ->  $miss100k ns  $met")
	echo
	echo "== 1b. the same for IPv6 (xcni_prefilter6: the trie alone, no hashes in front)"
	echo "   random /32../128 prefixes; 64 B IPv6 UDP probes"
	"$DRV" cost6 0 10 10000 65536 | tee "$TMP/cost6" || die "IPv6 cost measurement failed"
	miss6=$(awk '$1 == 65536 { print $2 }' "$TMP/cost6")
	ratio=$(awk -v a="$miss6" -v b="$miss100k" 'BEGIN { printf "%.1f", a / b }')
	RATIOS+=("IPv6 miss at 65536 entries / IPv4 miss at 100k: $miss6 / $miss100k ns = ${ratio}x")
fi

# ---- 2: drop rate vs iptables -----------------------------------------
if want 2; then
	echo
	echo "== 2. drop rate: UDP flood from a denied source, ${SECS} s each, sender on CPU 0"
	ip netns add "$NS_S"
	ip netns add "$NS_R"
	ip -n "$NS_S" link add s0 type veth peer name r0 netns "$NS_R"
	ip -n "$NS_S" addr add 10.98.0.2/24 dev s0
	ip -n "$NS_R" addr add 10.98.0.1/24 dev r0
	for ns in "$NS_S" "$NS_R"; do ip -n "$ns" link set lo up; done
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_R" link set r0 up
	# Static neighbours: no ARP exchange inside the timed window.
	ip -n "$NS_S" neigh replace 10.98.0.1 lladdr "$(ip -n "$NS_R" -br link show r0 | awk '{ print $3 }')" dev s0
	ip -n "$NS_R" neigh replace 10.98.0.2 lladdr "$(ip -n "$NS_S" -br link show s0 | awk '{ print $3 }')" dev r0

	flood() { # prints packets sent
		nsenter --net=/run/netns/"$NS_S" timeout $((SECS + 10)) taskset -c 0 \
			"$DRV" flood 10.98.0.2 10.98.0.1 "$SECS" | awk '/^sent/ { print $2 }'
	}
	rx() { ip netns exec "$NS_R" cat /sys/class/net/r0/statistics/rx_packets; }
	rate() { awk -v n="$1" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }'; }
	# xdp MODE FILE: drops by the XDP prefilter, from its counter of the flood's prefix.
	# The driver holds the program attached until its stdin (a FIFO, fd 7) closes.
	xdp() {
		local sent
		rm -f "$TMP/in" "$TMP/xdp.out"
		mkfifo "$TMP/in"
		nsenter --net=/run/netns/"$NS_R" "$DRV" xdp r0 "$1" "$2" <"$TMP/in" >"$TMP/xdp.out" 2>"$TMP/xdp.err" &
		XDP_PID=$!
		exec 7>"$TMP/in"
		for _ in $(seq 600); do
			grep -q '^ready' "$TMP/xdp.out" 2>/dev/null && break
			kill -0 "$XDP_PID" 2>/dev/null || break
			sleep 0.1
		done
		grep -q '^ready' "$TMP/xdp.out" || { cat "$TMP/xdp.err" >&2; return 1; }
		sent=$(flood)
		exec 7>&-
		wait "$XDP_PID" || { XDP_PID=; cat "$TMP/xdp.err" >&2; return 1; }
		XDP_PID=
		echo "$sent $(awk '/^dropped/ { print $2 }' "$TMP/xdp.out")"
	}
	# ipt FILE: drops by the last raw-table rule (the flood's prefix; the rules
	# before it are all tried first, as for a source at the end of the list).
	ipt() {
		local t0 t1 sent dropped
		{ echo '*raw'; echo ':PREROUTING ACCEPT [0:0]'
		  sed 's/.*/-A PREROUTING -s & -j DROP/' "$1"; echo COMMIT; } >"$TMP/ipt.rules"
		t0=$(date +%s%N)
		timeout 600 ip netns exec "$NS_R" "$IPTABLES-restore" <"$TMP/ipt.rules" || return 1
		t1=$(date +%s%N)
		echo "load $(((t1 - t0) / 1000000))" >"$TMP/ipt.load"
		sent=$(flood)
		dropped=$(ip netns exec "$NS_R" "$IPTABLES" -t raw -L PREROUTING -v -x -n | tail -1 | awk '{ print $1 }')
		ip netns exec "$NS_R" "$IPTABLES" -t raw -F PREROUTING
		echo "$sent $dropped"
	}

	# Nothing in front: the stack drops it at UDP (no socket on port 9).
	r0=$(rx); sent=$(flood); r1=$(rx)
	printf '   %-28s %12s %12s %10s\n' setup "sent/s" "dropped/s" "rules"
	printf '   %-28s %12s %12s %10s\n' "none (dropped by UDP: no port)" "$(rate "$sent")" "$(rate $((r1 - r0)))" 0
	for n in $SIZES; do
		"$DRV" gen "$n" 1 10.98.0.2/32 >"$TMP/list"
		declare -A R=()
		for mode in native generic; do
			xdp "$mode" "$TMP/list" >"$TMP/res" || die "xdp $mode with $n prefixes failed"
			read -r s d <"$TMP/res"
			R[$mode]=$(rate "$d")
			printf '   %-28s %12s %12s %10s\n' "xdp $mode" "$(rate "$s")" "${R[$mode]}" "$n"
		done
		if ipt "$TMP/list" >"$TMP/res" && read -r s d <"$TMP/res"; then
			R[ipt]=$(rate "$d")
			printf '   %-28s %12s %12s %10s   (iptables-restore: %s ms)\n' "iptables raw" "$(rate "$s")" \
				"${R[ipt]}" "$n" "$(awk '{ print $2 }' "$TMP/ipt.load")"
			for mode in native generic; do
				ratio=$(awk -v a="${R[$mode]}" -v b="${R[ipt]}" 'BEGIN { printf "%.1f", b ? a / b : 0 }')
				echo "   xdp $mode / iptables at $n: ${ratio}x"
				RATIOS+=("drop rate at $n prefixes: xdp $mode / iptables raw = ${ratio}x")
			done
		else
			echo "   iptables raw with $n rules: could not be loaded within 600 s"
			RATIOS+=("drop rate at $n prefixes: iptables could not load the rules")
		fi
		unset R
	done
fi

echo
for t in "${RATIOS[@]+"${RATIOS[@]}"}"; do echo "RATIO:  $t"; done
for t in "${TARGETS[@]+"${TARGETS[@]}"}"; do echo "$t"; done
