#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Same-node pod-to-pod throughput and latency: xcni vs bridge vs ptp.
# See bench/README.md.  Must run as root.
#
#   bash bench/pod-throughput.sh [-r ROUNDS] [-t SECONDS] [-n N] [-w WARMUP] [-U]
#
#   -r  rounds; each round measures every setup once (default 3)
#   -t  iperf3 duration per measurement, seconds (default 5)
#   -n  ping-pong round trips per measurement (default 20000)
#   -w  ping-pong warm-up round trips, not counted (default 2000)
#   -U  don't pin clients to CPU 0 and servers to CPU 1 (default: pinned,
#       when the machine has 2+ CPUs)
#
# Environment:
#   XCNI_BIN  plugin under test   (default <repo>/build/xcni; xcnid next to it)
#   CNI_DIR   reference plugins   (default /usr/lib/cni: bridge, ptp, host-local)
#   BUILD     build/output dir    (default <repo>/build)
#   CC        compiler            (default gcc)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build}
XCNI_BIN=${XCNI_BIN:-$ROOT/build/xcni}
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
CC=${CC:-gcc}
ROUNDS=3
SECS=5
PP_N=20000
PP_WARMUP=2000
PIN_CPUS=1

usage() {
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while getopts "r:t:n:w:Uh" opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	t) SECS=$OPTARG ;;
	n) PP_N=$OPTARG ;;
	w) PP_WARMUP=$OPTARG ;;
	U) PIN_CPUS=0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || usage

BENCH=pod-throughput
. "$HERE/lib.sh"

num_in "$ROUNDS" 1 20 || die "-r must be 1..20 (got '$ROUNDS')"
num_in "$SECS" 1 60 || die "-t must be 1..60 (got '$SECS')"
num_in "$PP_N" 100 1000000 || die "-n must be 100..1000000 (got '$PP_N')"
num_in "$PP_WARMUP" 0 1000000 || die "-w must be 0..1000000 (got '$PP_WARMUP')"
need ip nsenter timeout taskset iperf3 python3 "$CC"
for p in bridge ptp host-local; do
	[[ -x $CNI_DIR/$p ]] || die "reference plugin not found: $CNI_DIR/$p"
done
[[ -x $XCNI_BIN ]] || die "xcni plugin not found: $XCNI_BIN (run make first)"
XCNI_BIN=$(readlink -f "$XCNI_BIN")
XCNID_BIN=$(dirname "$XCNI_BIN")/xcnid
[[ -x $XCNID_BIN ]] || die "xcnid not found next to the plugin: $XCNID_BIN"
XCNICTL_BIN=$(dirname "$XCNI_BIN")/xcnictl

# Client on CPU 0, server on CPU 1: with the scheduler free to stack both on
# one CPU or not, single-stream results swing by 2x between runs.
ON_CLIENT=() ON_SERVER=()
if ((PIN_CPUS)) && (($(nproc) >= 2)); then
	ON_CLIENT=(taskset -c 0) ON_SERVER=(taskset -c 1)
else
	PIN_CPUS=0
fi

mkdir -p "$BUILD"
PINGPONG=$BUILD/pingpong
$CC -O2 -std=gnu11 -Wall -Wextra -Werror -o "$PINGPONG" "$HERE/pingpong.c"

PREFIX="xpt$$"
SETUPS=(xcni bridge ptp)
declare -A SUBNET=([xcni]=10.99.32.0/24 [bridge]=10.99.33.0/24 [ptp]=10.99.34.0/24)
declare -A BIN=([xcni]=$XCNI_BIN [bridge]=$CNI_DIR/bridge [ptp]=$CNI_DIR/ptp)
declare -A IP=()     # [setup-pod] -> pod address
CNI_PATH_DIRS=$CNI_DIR
[[ $(dirname "$XCNI_BIN") == "$CNI_DIR" ]] || CNI_PATH_DIRS="$CNI_DIR:$(dirname "$XCNI_BIN")"
IPERF_PORT=5201
PP_PORT=7007

TMP=""
PIN=/sys/fs/bpf/$PREFIX
PIN_OURS=0
XCNID_PID=""
SERVER_PIDS=()
NETNS=()   # every netns we created, pods before their node
ADDED=()   # "setup pod" for every CNI ADD attempted

node_ns() { echo "$PREFIX-$1-node"; }
pod_ns() { echo "$PREFIX-$1-$2"; }

cni() { # cni COMMAND SETUP POD: the real plugin, called from the node's netns
	timeout 30 nsenter --net="/var/run/netns/$(node_ns "$2")" env \
		CNI_COMMAND="$1" CNI_CONTAINERID="$PREFIX-$2-$3" \
		CNI_NETNS="/var/run/netns/$(pod_ns "$2" "$3")" CNI_IFNAME=eth0 \
		CNI_PATH="$CNI_PATH_DIRS" "${BIN[$2]}" <"$TMP/$2.conf"
}

cleanup() {
	local rc=$? pid e ns
	trap '' INT TERM HUP
	set +e
	for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	for e in "${ADDED[@]}"; do
		# shellcheck disable=SC2086
		cni DEL $e >/dev/null 2>"$TMP/del.err" ||
			{ echo "pod-throughput: CNI DEL $e failed:" >&2; cat "$TMP/del.err" >&2; }
	done
	if [[ -n $XCNID_PID ]]; then
		kill "$XCNID_PID" 2>/dev/null
		wait "$XCNID_PID" 2>/dev/null
	fi
	((PIN_OURS)) && rm -rf "$PIN"
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	# Anything our prefix left behind (e.g. a half-done creation).
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" | head -n 20); do
		ip netns del "$ns" 2>/dev/null
	done
	[[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

TMP=$(mktemp -d /tmp/xcni-bench-tput.XXXXXX)

# Same host-local IPAM shape for all three: a /24 each in 10.99.32.0/20, own
# dataDir, gateway .1 (the default). MTU 1500 everywhere.
ipam() { echo "{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"${SUBNET[$1]}\"}]],\"dataDir\":\"$TMP/ipam-$1\"}"; }
cat >"$TMP/xcni.conf" <<EOF
{"cniVersion":"1.0.0","name":"$PREFIX-xcni","type":"$(basename "$XCNI_BIN")","mtu":1500,"stateDir":"$TMP/xcni-state","pinDir":"$PIN","ipam":$(ipam xcni)}
EOF
cat >"$TMP/bridge.conf" <<EOF
{"cniVersion":"1.0.0","name":"$PREFIX-bridge","type":"bridge","bridge":"xptbr0","isGateway":true,"ipMasq":false,"mtu":1500,"ipam":$(ipam bridge)}
EOF
cat >"$TMP/ptp.conf" <<EOF
{"cniVersion":"1.0.0","name":"$PREFIX-ptp","type":"ptp","ipMasq":false,"mtu":1500,"ipam":$(ipam ptp)}
EOF

add_ns() {
	NETNS=("$1" "${NETNS[@]}") # deleted in reverse order of creation
	ip netns add "$1" && ip -n "$1" link set lo up
}

wait_listen() { # wait_listen NETNS PORT PID
	local _
	for _ in $(seq 100); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# build_setup SETUP: node netns, two pod netns wired by CNI ADD, servers in pod b.
build_setup() {
	local s=$1 node p res pid
	node=$(node_ns "$s")
	add_ns "$node" || die "$s: creating netns $node failed"
	if [[ $s == xcni ]]; then
		[[ ! -e $PIN ]] || die "$s: pin dir $PIN already exists"
		PIN_OURS=1
		nsenter --net="/var/run/netns/$node" "$XCNID_BIN" --pin-dir "$PIN" \
			--pod-cidr "${SUBNET[xcni]}" >"$TMP/xcnid.log" 2>&1 &
		XCNID_PID=$!
		for _ in $(seq 100); do
			[[ -e $PIN/prog_to_pod ]] && break
			kill -0 "$XCNID_PID" 2>/dev/null || break
			sleep 0.1
		done
		[[ -e $PIN/prog_to_pod ]] || { cat "$TMP/xcnid.log" >&2; die "$s: xcnid did not come up"; }
	fi
	for p in a b; do
		add_ns "$(pod_ns "$s" "$p")" || die "$s: creating netns $(pod_ns "$s" "$p") failed"
		ADDED+=("$s $p")
		res=$(cni ADD "$s" "$p" 2>"$TMP/add.err") ||
			{ cat "$TMP/add.err" >&2; [[ -z $res ]] || echo "$res" >&2; die "$s: CNI ADD pod $p failed"; }
		IP[$s-$p]=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$res") ||
			die "$s: CNI ADD pod $p: no address in the result: $res"
		[[ $(ip -n "$(pod_ns "$s" "$p")" -o link show eth0) == *"mtu 1500 "* ]] ||
			die "$s: pod $p eth0 MTU is not 1500"
	done
	ip netns exec "$(pod_ns "$s" a)" ping -c 1 -W 2 "${IP[$s-b]}" >/dev/null ||
		die "$s: pod a cannot ping pod b (${IP[$s-b]})"

	ip netns exec "$(pod_ns "$s" b)" "${ON_SERVER[@]}" iperf3 -s -B "${IP[$s-b]}" -p $IPERF_PORT >"$TMP/$s-iperf3-srv.log" 2>&1 &
	pid=$!
	SERVER_PIDS+=("$pid")
	wait_listen "$(pod_ns "$s" b)" $IPERF_PORT "$pid" ||
		{ cat "$TMP/$s-iperf3-srv.log" >&2; die "$s: iperf3 server did not start"; }
	ip netns exec "$(pod_ns "$s" b)" "${ON_SERVER[@]}" "$PINGPONG" server -b "${IP[$s-b]}" -p $PP_PORT >"$TMP/$s-pp-srv.log" 2>&1 &
	pid=$!
	SERVER_PIDS+=("$pid")
	wait_listen "$(pod_ns "$s" b)" $PP_PORT "$pid" ||
		{ cat "$TMP/$s-pp-srv.log" >&2; die "$s: pingpong server did not start"; }
	say "$s: pods ${IP[$s-a]} -> ${IP[$s-b]} ready (node netns $node)"
}

metric_fwd_local() { # "packets bytes" xcni redirected pod-to-pod so far
	nsenter --net="/var/run/netns/$(node_ns xcni)" "$XCNICTL_BIN" --pin-dir "$PIN" --json metrics |
		python3 -c '
import json, sys
def rows(o):  # the metric rows, wherever the print layer nests them
    if isinstance(o, dict):
        if o.get("reason") == "fwd-local":
            yield o
        else:
            for v in o.values(): yield from rows(v)
    elif isinstance(o, list):
        for v in o: yield from rows(v)
rs = list(rows(json.load(sys.stdin)))
print(sum(r["packets"] for r in rs), sum(r["bytes"] for r in rs))'
}

for s in "${SETUPS[@]}"; do build_setup "$s"; done

read -r fwd_pk0 fwd_by0 < <(metric_fwd_local) || true
[[ $fwd_by0 =~ ^[0-9]+$ ]] || die "xcni: reading xcnictl metrics failed"
xcni_bytes=0 # TCP payload iperf3 delivered through xcni, all rounds

# Rounds: every setup once per round, the order rotating, so machine noise
# (other jobs, CPU frequency) is spread over all three.
echo -e "round\tsetup\tgbps\tretrans\tp50_us\tp99_us" >"$TMP/results.tsv"
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#SETUPS[@]}; i++)); do
		s=${SETUPS[(i + r) % ${#SETUPS[@]}]}
		a=$(pod_ns "$s" a)
		timeout $((SECS + 30)) ip netns exec "$a" "${ON_CLIENT[@]}" iperf3 -c "${IP[$s-b]}" -p $IPERF_PORT \
			-t "$SECS" -J >"$TMP/iperf3.json" 2>&1 ||
			{ cat "$TMP/iperf3.json" >&2; die "$s: iperf3 client failed (round $((r + 1)))"; }
		read -r gbps retr bytes < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
rx = e["sum_received"]
print("%.3f %d %d" % (rx["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0), rx["bytes"]))' "$TMP/iperf3.json") || true
		[[ $bytes =~ ^[0-9]+$ ]] || die "$s: cannot parse iperf3 output (round $((r + 1)))"
		[[ $s != xcni ]] || xcni_bytes=$((xcni_bytes + bytes))
		pp=$(timeout 120 ip netns exec "$a" "${ON_CLIENT[@]}" "$PINGPONG" client -c "${IP[$s-b]}" -p $PP_PORT \
			-n "$PP_N" -w "$PP_WARMUP" -t 100) || die "$s: pingpong client failed (round $((r + 1)))"
		p50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$pp")
		p99=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$pp")
		[[ $p50 =~ ^[0-9.]+$ && $p99 =~ ^[0-9.]+$ ]] || die "$s: cannot parse pingpong output: $pp"
		printf '%d\t%s\t%s\t%s\t%s\t%s\n' $((r + 1)) "$s" "$gbps" "$retr" "$p50" "$p99" >>"$TMP/results.tsv"
		say "round $((r + 1))/$ROUNDS $s: $gbps Gbit/s (retr $retr), RTT p50 $p50 us, p99 $p99 us"
	done
done

read -r fwd_pk1 fwd_by1 < <(metric_fwd_local) || true
[[ $fwd_by1 =~ ^[0-9]+$ ]] || die "xcni: reading xcnictl metrics failed"
# Every data segment pod a -> pod b must have been counted fwd-local by
# from_pod (bpf_redirect_peer). Otherwise the xcni column measured the host
# stack: fail rather than print a misleading table.
fwd=$((fwd_pk1 - fwd_pk0))
((fwd_by1 - fwd_by0 >= xcni_bytes)) ||
	die "xcni: fwd-local counted $((fwd_by1 - fwd_by0)) bytes, iperf3 moved $xcni_bytes: traffic did not take the eBPF redirect"

python3 - "$TMP/results.tsv" "$BUILD/bench-pod-throughput.json" "$ROUNDS" "$SECS" "$PP_N" "$PP_WARMUP" "$PIN_CPUS" "$fwd" "$((fwd_by1 - fwd_by0))" "$xcni_bytes" <<'PY'
import csv, json, statistics, sys
tsv, out, rounds, secs, n, warm, pinned, fwd, fwd_bytes, iperf_bytes = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
setups = ["xcni", "bridge", "ptp"]
res = {}
for s in setups:
    rs = [r for r in rows if r["setup"] == s]
    res[s] = {
        "name": s,
        "throughput_gbps": statistics.median(float(r["gbps"]) for r in rs),
        "latency_p50_us": statistics.median(float(r["p50_us"]) for r in rs),
        "latency_p99_us": statistics.median(float(r["p99_us"]) for r in rs),
        "rounds": [{"round": int(r["round"]), "gbps": float(r["gbps"]),
                    "retransmits": int(r["retrans"]), "p50_us": float(r["p50_us"]),
                    "p99_us": float(r["p99_us"])} for r in rs],
    }
keys = [("throughput_gbps", "tput"), ("latency_p50_us", "p50"), ("latency_p99_us", "p99")]
ratio = {f"xcni/{b}": {k: res["xcni"][k] / res[b][k] for k, _ in keys} for b in ("bridge", "ptp")}
xb = ratio["xcni/bridge"]
targets = [
    {"target": "throughput >= 1.15x bridge", "value": xb["throughput_gbps"],
     "met": xb["throughput_gbps"] >= 1.15},
    {"target": "p50 latency <= 0.85x bridge", "value": xb["latency_p50_us"],
     "met": xb["latency_p50_us"] <= 0.85},
]
print()
print(f"{'setup':<14}{'Gbit/s':>10}{'p50 us':>10}{'p99 us':>10}")
for s in setups:
    r = res[s]
    print(f"{s:<14}{r['throughput_gbps']:>10.2f}{r['latency_p50_us']:>10.2f}{r['latency_p99_us']:>10.2f}")
for name, rt in ratio.items():
    print(f"{name:<14}" + "".join(f"{rt[k]:>9.2f}x" for k, _ in keys))
print()
for t in targets:
    print(f"TARGET: xcni {t['target']:<28} ->  {t['value']:.2f}x  {'MET' if t['met'] else 'NOT MET'}")
print(f"\n(median of {rounds} rounds; iperf3 1 TCP stream {secs} s, receiver rate; "
      f"1-byte TCP ping-pong RTT, {n} round trips after {warm} warm-up; "
      f"xcni fwd-local packets: {fwd})")
json.dump({
    "rounds": int(rounds), "iperf3_seconds": int(secs),
    "cpus_pinned": pinned == "1",
    "pingpong": {"n": int(n), "warmup": int(warm), "unit": "us", "what": "round-trip time"},
    "xcni_fwd_local": {"packets": int(fwd), "bytes": int(fwd_bytes),
                       "iperf3_payload_bytes": int(iperf_bytes)},
    "setups": [res[s] for s in setups],
    "ratio": ratio,
    "targets": targets,
}, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
