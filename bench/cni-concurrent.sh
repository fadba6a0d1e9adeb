#!/bin/bash
# bench/cni-concurrent.sh: N CNI ADDs at once, then N DELs at once, in one node
# network namespace, for each MODE given: xcni with "attach" tcx or tc, or the
# reference ptp plugin (host-local IPAM for all); each call's wall time, p50
# and max, and xcni's own steps (XCNI_TRACE) p50/max. What a node sees when a
# Deployment scales up: the plugin's calls overlap, and what one holds (RTNL)
# the others wait for.
#
#   flock /tmp/xcni-test.lock bash bench/cni-concurrent.sh [N] [MODE...]
#        N default 30 (2-200), MODEs default "tcx tc ptp"
#
#   netns cc<pid>-node: xcnid (its own pin dir), the host ends
#   netns cc<pid>-p1..pN: one pod each, eth0
# Everything is removed on exit. Shared machine: compare the modes of one run.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
XCNI_BIN=${XCNI_BIN:-$BUILD/xcni}
N=${1:-30}
shift || true
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(tcx tc ptp)
[[ $N =~ ^[0-9]+$ ]] && ((N >= 2 && N <= 200)) || { echo "cni-concurrent: N: 2-200, not '$N'" >&2; exit 2; }
for m in "${MODES[@]}"; do
	case $m in tcx | tc | ptp) ;; *) echo "cni-concurrent: MODE: tcx, tc or ptp, not '$m'" >&2; exit 2 ;; esac
done
for b in "$XCNI_BIN" "$BUILD/xcnid" /usr/lib/cni/ptp /usr/lib/cni/host-local; do
	[ -x "$b" ] || { echo "cni-concurrent: $b missing (make; containernetworking-plugins)" >&2; exit 1; }
done
TAG=cc$$
T=$(mktemp -d /tmp/cni-concurrent.XXXXXX)
PIN=/sys/fs/bpf/$TAG
XP=
cleanup() {
	[ -n "$XP" ] && { kill "$XP" 2>/dev/null; wait "$XP" 2>/dev/null; }
	for i in $(seq "$N"); do ip netns del "$TAG-p$i" 2>/dev/null; done
	ip netns del "$TAG-node" 2>/dev/null
	rm -rf "$PIN" "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$TAG-node"
ip -n "$TAG-node" link set lo up
nsenter --net="/run/netns/$TAG-node" "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.98.0.0/22 >"$T/xcnid.log" 2>&1 &
XP=$!
for _ in $(seq 100); do [ -e "$PIN/prog_to_pod" ] && break; sleep 0.1; done
[ -e "$PIN/prog_to_pod" ] || { cat "$T/xcnid.log" >&2; exit 1; }

calls() { # MODE CMD: N calls at once; their wall ms and exit codes in $T/wall
	local mode=$1 cmd=$2 i bin=$XCNI_BIN type=xcni pids=()
	[ "$mode" = ptp ] && bin=/usr/lib/cni/ptp type=ptp
	: >"$T/wall"
	for i in $(seq "$N"); do
		(
			s=$(date +%s%N)
			printf '{"cniVersion":"1.0.0","name":"cc-%s","type":"%s","stateDir":"%s/state-%s","pinDir":"%s","attach":"%s","ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.98.0.0/22"}]],"dataDir":"%s/ipam-%s"}}' \
				"$mode" "$type" "$T" "$mode" "$PIN" "$mode" "$T" "$mode" |
				nsenter --net="/run/netns/$TAG-node" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
					CNI_COMMAND="$cmd" CNI_CONTAINERID="c$mode$i" CNI_NETNS="/run/netns/$TAG-p$i" \
					CNI_IFNAME=eth0 CNI_PATH="/usr/lib/cni:$(dirname "$XCNI_BIN")" XCNI_TRACE="$T/trace" \
					"$bin" >"$T/out" 2>/dev/null
			rc=$?
			echo "$((($(date +%s%N) - s) / 1000000)) $rc" >>"$T/wall"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	sort -n "$T/wall" | awk -v m="$mode" -v c="$cmd" '{a[NR] = $1; if ($2 != 0) bad++}
		END {printf "%-4s %-3s n=%d p50=%d ms max=%d ms failed=%d\n", m, c, NR, a[int((NR + 1) / 2)], a[NR], bad}'
}
echo "cni-concurrent: $N at once, modes ${MODES[*]}, load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in "${MODES[@]}"; do
	for i in $(seq "$N"); do ip netns add "$TAG-p$i"; done
	rm -f "$T/trace"
	calls "$mode" ADD
	[ -s "$T/trace" ] && python3 - "$T/trace" <<'PY'
import sys
st = {}
for l in open(sys.argv[1]):
    f = l.split()
    if f[1] != "ADD":
        continue
    for kv in f[6:]:
        k, v = kv.split("=")
        st.setdefault(k, []).append(float(v))
print("     ADD steps p50/max ms: " + ", ".join("%s %.0f/%.0f" % (k, sorted(v)[len(v) // 2], max(v)) for k, v in st.items()))
PY
	calls "$mode" DEL
	for i in $(seq "$N"); do ip netns del "$TAG-p$i"; done
done
