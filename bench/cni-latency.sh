#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# CNI ADD/DEL latency benchmark: xcni vs the reference ptp plugin.
# See bench/README.md.  Must run as root.
#
#   bash bench/cni-latency.sh [-n N] [-w WARMUP]
#
# Environment:
#   XCNI_BIN  plugin under test   (default $BUILD/xcni)
#   PTP_BIN   reference plugin    (default /usr/lib/cni/ptp)
#   BUILD     build/output dir    (default <repo>/build)
#   CC        compiler            (default gcc)
#
# To exercise the harness without xcni: XCNI_BIN=/usr/lib/cni/ptp; the
# config "type" is always the basename of the binary.
set -euo pipefail

BENCH=cni-latency
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNI_BIN=${XCNI_BIN:-$BUILD/xcni}
PTP_BIN=${PTP_BIN:-/usr/lib/cni/ptp}
N=200
WARMUP=2
MAX_N=1000 # a /22 per plugin holds ~1020 leases

opts 0 "n:N w:WARMUP" "$@"


num_in "$N" 100 "$MAX_N" || die "-n must be 100..$MAX_N (got '$N')"
num_in "$WARMUP" 0 100 || die "-w must be 0..100 (got '$WARMUP')"
need ip "$CC"
[[ -x $PTP_BIN ]] || die "reference plugin not found: $PTP_BIN"
[[ -x $XCNI_BIN ]] || die "xcni plugin not found: $XCNI_BIN (build it first, or set XCNI_BIN=/usr/lib/cni/ptp to dry-run the harness)"
[[ -x /usr/lib/cni/host-local ]] || die "host-local IPAM plugin not found in /usr/lib/cni"
XCNI_BIN=$(readlink -f "$XCNI_BIN")
PTP_BIN=$(readlink -f "$PTP_BIN")
[[ $XCNI_BIN$PTP_BIN != *,* ]] || die "plugin paths must not contain ','"

mkdir -p "$BUILD"
DRIVER=$BUILD/cni_latency
tool "$DRIVER" cni_latency -lm

# The delegation floor: the driver itself, run as a plugin that only execs host-local.
ln -sf cni_latency "$BUILD/ipam-floor"

PREFIX="xcb$$-"
PLUGINS=(xcni ptp floor)
CNI_PATH_DIRS=/usr/lib/cni
xdir=$(dirname "$XCNI_BIN")
[[ $xdir == /usr/lib/cni ]] || CNI_PATH_DIRS="$CNI_PATH_DIRS:$xdir"
pdir=$(dirname "$PTP_BIN")
[[ :$CNI_PATH_DIRS: == *:$pdir:* ]] || CNI_PATH_DIRS="$CNI_PATH_DIRS:$pdir"

TMP=""
NETNS_CREATED=0
DRIVER_STARTED=0
DRIVER_DONE=0

DARGS=() # common driver arguments, set once TMP exists

netns_batch() { # $1 = add|del
	local p i
	for p in "${PLUGINS[@]}"; do
		for ((i = 0; i < N; i++)); do
			echo "netns $1 $PREFIX$p-$i"
		done
	done
}

cleanup() {
	local rc=$?
	trap '' INT TERM HUP
	set +e
	if ((DRIVER_STARTED && !DRIVER_DONE)); then
		echo "cni-latency: cleaning up attachments" >&2
		"$DRIVER" --cleanup -t 20 "${DARGS[@]}"
	fi
	if ((NETNS_CREATED)); then
		netns_batch del >"$TMP/netns-del"
		ip -force -batch "$TMP/netns-del" 2>/dev/null
		# Anything our prefix left behind (e.g. half-done creation).
		local ns
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX" | head -n $((${#PLUGINS[@]} * MAX_N + 10))); do
			ip netns del "$ns" 2>/dev/null
		done
	fi
	if [[ -n ${XCNID_PID:-} ]]; then
		kill "$XCNID_PID" 2>/dev/null
		wait "$XCNID_PID" 2>/dev/null
	fi
	[[ -n ${BENCH_PIN:-} ]] && rm -rf "$BENCH_PIN"
	[[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

TMP=$(mktemp -d /tmp/xcni-bench.XXXXXX)
# (plugin specs are comma-separated: paths must not contain ',')
DARGS=(-n "$N" -p "$PREFIX" -c "$CNI_PATH_DIRS"
	-P "name=xcni,bin=$XCNI_BIN,conf=$TMP/xcni.conf"
	-P "name=ptp,bin=$PTP_BIN,conf=$TMP/ptp.conf"
	-P "name=floor,bin=$BUILD/ipam-floor,conf=$TMP/floor.conf")

# xcni needs its node agent: one with its own pin dir for this run.
BENCH_PIN=/sys/fs/bpf/xcb$$
XCNID_BIN=${XCNID_BIN:-$(dirname "$XCNI_BIN")/xcnid}
if [[ -x $XCNID_BIN ]]; then
	"$XCNID_BIN" --pin-dir "$BENCH_PIN" --pod-cidr 10.99.16.0/22 >"$TMP/xcnid.log" 2>&1 &
	XCNID_PID=$!
	for _ in $(seq 100); do [[ -e $BENCH_PIN/prog_to_pod ]] && break; sleep 0.1; done
fi

# Same host-local IPAM for all, own dataDir and own /22 in 10.99.16.0/20.
cat >"$TMP/xcni.conf" <<EOF
{"cniVersion":"1.0.0","name":"xcb-xcni","type":"$(basename "$XCNI_BIN")","mtu":1500,"stateDir":"$TMP/xcni-state","pinDir":"$BENCH_PIN","ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.16.0/22"}]],"dataDir":"$TMP/ipam-xcni"}}
EOF
cat >"$TMP/ptp.conf" <<EOF
{"cniVersion":"1.0.0","name":"xcb-ptp","type":"$(basename "$PTP_BIN")","mtu":1500,"ipMasq":false,"stateDir":"$TMP/ptp-state","ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.20.0/22"}]],"dataDir":"$TMP/ipam-ptp"}}
EOF

cat >"$TMP/floor.conf" <<EOF
{"cniVersion":"1.0.0","name":"xcb-floor","type":"ipam-floor","ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.24.0/22"}]],"dataDir":"$TMP/ipam-floor"}}
EOF

echo "cni-latency: creating $((${#PLUGINS[@]} * N)) network namespaces (${PREFIX}*)"
NETNS_CREATED=1
netns_batch add >"$TMP/netns-add"
ip -batch "$TMP/netns-add" || die "creating network namespaces failed"

DRIVER_STARTED=1
"$DRIVER" -w "$WARMUP" -j "$BUILD/bench-cni-latency.json" "${DARGS[@]}" || {
	rc=$?
	((rc != 1)) || DRIVER_DONE=1 # exit 1: a call failed, driver already DELed what it added
	exit "$rc"
}
DRIVER_DONE=1
