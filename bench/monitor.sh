#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What watching costs the data plane: same-node pod-to-pod iperf3 throughput
# through xcni with the event ring unread, read by `xcnictl monitor`, and with
# traces of forwarded packets on (every packet, one in 100), in one run.
# See bench/README.md.  Must run as root.
#
#   bash bench/monitor.sh [-r ROUNDS] [-t SECONDS]
#
#   -r  rounds; each round measures every setting once, order rotating (default 3)
#   -t  iperf3 duration per measurement, seconds (default 5)
#
# Environment:
#   BUILD     where xcni, xcnid, xcnictl are   (default <repo>/build)
#   CNI_DIR   reference plugins                (default /usr/lib/cni: host-local)
set -euo pipefail

BENCH=monitor-bench
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
ROUNDS=3
SECS=5

opts 0 "r:ROUNDS t:SECS" "$@"

num_in "$ROUNDS" 1 20 || die "-r must be 1..20 (got '$ROUNDS')"
num_in "$SECS" 1 60 || die "-t must be 1..60 (got '$SECS')"
need ip nsenter timeout taskset iperf3 python3
[[ -x $CNI_DIR/host-local ]] || die "reference plugin not found: $CNI_DIR/host-local"
for b in xcni xcnid xcnictl; do
	[[ -x $BUILD/$b ]] || die "$BUILD/$b not found (run make first)"
done

# Client on CPU 0, server on CPU 1 (as pod-throughput.sh); the monitor floats.
PIN_CPUS=1 pin_cpus

PREFIX="xmb$$"
NODE=$PREFIX-node
PIN=/sys/fs/bpf/$PREFIX
SUBNET=10.99.48.0/24
PORT=5201
TMP=$(mktemp -d /tmp/xcni-bench-monitor.XXXXXX)
XCNID_PID="" MON_PID="" SRV_PID=""
NETNS=() ADDED=()

cni() { # cni COMMAND POD: the real plugin, from the node's netns
	timeout 30 nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" \
		CNI_CONTAINERID="$PREFIX-$2" CNI_NETNS="/var/run/netns/$PREFIX-$2" CNI_IFNAME=eth0 \
		CNI_PATH="$CNI_DIR:$BUILD" "$BUILD/xcni" <"$TMP/xcni.conf"
}
ctl() { nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }

stop_pid() { [[ -z $1 ]] || { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }; return 0; }
cleanup() {
	local rc=$? p ns
	trap '' INT TERM HUP
	set +e
	stop_pid "$MON_PID"
	stop_pid "$SRV_PID"
	for p in "${ADDED[@]}"; do cni DEL "$p" >/dev/null 2>&1 || echo "monitor-bench: CNI DEL $p failed" >&2; done
	stop_pid "$XCNID_PID"
	rm -rf "$PIN"
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

add_ns() { NETNS=("$1" "${NETNS[@]}"); ip netns add "$1" && ip -n "$1" link set lo up; }

cat >"$TMP/xcni.conf" <<EOF
{"cniVersion":"1.0.0","name":"$PREFIX","type":"xcni","mtu":1500,"stateDir":"$TMP/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET"}]],"dataDir":"$TMP/ipam"}}
EOF

# The node: xcnid with its defaults (traces off, 10000 events per CPU per second).
add_ns "$NODE" || die "creating netns $NODE failed"
[[ ! -e $PIN ]] || die "pin dir $PIN already exists"
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr "$SUBNET" \
	>"$TMP/xcnid.log" 2>&1 &
XCNID_PID=$!
for _ in $(seq 100); do
	[[ -e $PIN/prog_to_pod ]] && break
	kill -0 "$XCNID_PID" 2>/dev/null || break
	sleep 0.1
done
[[ -e $PIN/prog_to_pod ]] || { cat "$TMP/xcnid.log" >&2; die "xcnid did not come up"; }
declare -A IP
for p in a b; do
	add_ns "$PREFIX-$p" || die "creating netns $PREFIX-$p failed"
	ADDED+=("$p")
	res=$(cni ADD "$p" 2>"$TMP/add.err") || { cat "$TMP/add.err" >&2; die "CNI ADD $p failed"; }
	IP[$p]=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$res")
done
ip netns exec "$PREFIX-a" ping -c1 -W2 "${IP[b]}" >/dev/null || die "pod a cannot ping pod b"
ip netns exec "$PREFIX-b" "${ON_SERVER[@]}" iperf3 -s -B "${IP[b]}" -p $PORT >"$TMP/srv.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do
	ip netns exec "$PREFIX-b" ss -Hltn "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
say "pods ${IP[a]} -> ${IP[b]} ready; xcnid $(ctl config --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print("trace-sample %d, events-rate %d" % (j["trace_sample"], j["events_rate"]))')"

# name: monitor running? trace-sample events-rate
SETTINGS=(off monitor trace-1 trace-100 trace-1-nolimit)
declare -A MON=([off]=0 [monitor]=1 [trace-1]=1 [trace-100]=1 [trace-1-nolimit]=1)
declare -A SAMPLE=([off]=0 [monitor]=0 [trace-1]=1 [trace-100]=100 [trace-1-nolimit]=1)
declare -A RATE=([off]=10000 [monitor]=10000 [trace-1]=10000 [trace-100]=10000 [trace-1-nolimit]=0)

lost() { # events lost so far (rate limit + ring full), all CPUs
	ctl metrics --all --json | python3 -c '
import json, sys
print(sum(r["packets"] for r in json.load(sys.stdin) if r["reason"].startswith("events-lost-")))'
}

echo -e "round\tsetting\tgbps\tevents\tlost" >"$TMP/results.tsv"
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#SETTINGS[@]}; i++)); do
		s=${SETTINGS[(i + r) % ${#SETTINGS[@]}]}
		ctl config set trace-sample "${SAMPLE[$s]}" && ctl config set events-rate "${RATE[$s]}" ||
			die "$s: config set failed"
		l0=$(lost)
		: >"$TMP/mon.txt"
		if ((MON[$s])); then
			# Not through ctl(): a function would run in a subshell with this script's traps.
			nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" monitor \
				>"$TMP/mon.txt" 2>&1 &
			MON_PID=$!
			sleep 0.3
		fi
		timeout $((SECS + 30)) ip netns exec "$PREFIX-a" "${ON_CLIENT[@]}" iperf3 -c "${IP[b]}" \
			-p $PORT -t "$SECS" -J >"$TMP/iperf3.json" 2>&1 ||
			{ cat "$TMP/iperf3.json" >&2; die "$s: iperf3 client failed"; }
		if ((MON[$s])); then
			sleep 0.2
			stop_pid "$MON_PID"
			MON_PID=""
		fi
		l1=$(lost)
		gbps=$(python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$TMP/iperf3.json")
		ev=$(($(wc -l <"$TMP/mon.txt") - (MON[$s] ? 1 : 0)))
		((ev >= 0)) || ev=0
		printf '%d\t%s\t%s\t%d\t%d\n' $((r + 1)) "$s" "$gbps" "$ev" $((l1 - l0)) >>"$TMP/results.tsv"
		say "round $((r + 1))/$ROUNDS $s: $gbps Gbit/s, $ev events read, $((l1 - l0)) lost"
	done
done
ctl config set trace-sample 0 && ctl config set events-rate 10000

python3 - "$TMP/results.tsv" "$BUILD/bench-monitor.json" "$ROUNDS" "$SECS" <<'PY'
import csv, json, statistics, sys
tsv, out, rounds, secs = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
names = ["off", "monitor", "trace-1", "trace-100", "trace-1-nolimit"]
what = {
    "off": "no reader, traces off",
    "monitor": "xcnictl monitor, traces off (drops and verdicts only)",
    "trace-1": "monitor, trace-sample 1, events-rate 10000/CPU/s",
    "trace-100": "monitor, trace-sample 100, events-rate 10000/CPU/s",
    "trace-1-nolimit": "monitor, trace-sample 1, events-rate 0 (no limit)",
}
res = {}
for n in names:
    rs = [r for r in rows if r["setting"] == n]
    res[n] = {"gbps": statistics.median(float(r["gbps"]) for r in rs),
              "events_per_run": statistics.median(int(r["events"]) for r in rs),
              "lost_per_run": statistics.median(int(r["lost"]) for r in rs),
              "rounds": [float(r["gbps"]) for r in rs]}
off = res["off"]["gbps"]
print()
print(f"{'setting':<17}{'Gbit/s':>9}{'vs off':>9}{'events':>10}{'lost':>10}  what")
for n in names:
    r = res[n]
    r["ratio_vs_off"] = r["gbps"] / off
    print(f"{n:<17}{r['gbps']:>9.2f}{r['ratio_vs_off']:>8.2f}x{r['events_per_run']:>10}{r['lost_per_run']:>10}  {what[n]}")
print(f"\n(median of {rounds} rounds; iperf3, 1 TCP stream, {secs} s, receiver rate; "
      f"events: lines monitor printed per run; lost: events-lost-* grew per run)")
json.dump({"rounds": int(rounds), "iperf3_seconds": int(secs),
           "settings": {n: dict(res[n], what=what[n]) for n in names}}, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
