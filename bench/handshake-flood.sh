#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A handshake flood at a node's flows port (--flows-listen, HTTPS with client
# certificates) against the time a NetworkPolicy change takes to reach that
# node's maps (issue 52 item 6; docs/decisions/agent-serving-thread.md). One
# lab node, its xcnid built twice: A (--base BIN, e.g. main's) and B
# ($BUILD/xcnid), in one run, one after the other on the same lab, each:
#   quiet   ROUNDS changes of NetworkPolicy vic/p (port 81 <-> 82), each timed
#           from `lab apply`'s start until the node's maps hold it (lab apply
#           returns then: xcni_config's applied_gen)
#   flood   the same while pod atk/evil floods the node's 4244 with connections
#           sending half a ClientHello (tests/lab/tlsflood.py, PROCS processes,
#           nice 19 unless FLOOD_NICE=0: a pod's CPU limit keeps it below the
#           agent), plus xcnid's loop's CPU (its main thread) over 5 s of the
#           flood alone, all its threads', and the connections refused
# Prints p50 / p99 / max of change->map per build and phase, side by side.
# Run in a sandbox of its own (it makes a lab):
#
#   BUILD=$PWD/build XCNI_ROOT=$PWD bash tests/sandbox.sh hsflood \
#       bash bench/handshake-flood.sh --base /tmp/main/build/xcnid [-n ROUNDS] [-p PROCS]
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$HERE/build}
ROUNDS=40 PROCS=2 BASE=
while [ $# -gt 0 ]; do
	case $1 in
	--base) BASE=$2; shift 2 ;;
	-n) ROUNDS=$2; shift 2 ;;
	-p) PROCS=$2; shift 2 ;;
	*) echo "usage: $0 --base XCNID [-n ROUNDS] [-p PROCS]" >&2; exit 2 ;;
	esac
done
[ -x "$BASE" ] || { echo "--base XCNID: the A build's xcnid" >&2; exit 2; }
cd "$HERE"
. tests/lib.sh
. tests/lab/lib.sh
lab_suite hsflood
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
CERTS=$T/certs PORT=4244
sh examples/kind/flows-certs.sh "$CERTS" >/dev/null 2>&1 || exit 1

pol() {
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: vic}\n---\n'
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: atk}\n---\n'
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: evil, namespace: atk}\nspec: {nodeName: n1, containers: [{name: c}]}\n---\n'
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: v1, namespace: vic, labels: {app: v}}\nspec: {nodeName: n1, containers: [{name: c}]}\n---\n'
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: vic}\n'
	printf 'spec:\n  podSelector: {matchLabels: {app: v}}\n  policyTypes: [Ingress]\n  ingress: [{ports: [{port: %s, protocol: UDP}]}]\n' "$1"
}
pol 81 >"$T/p81.yaml"
pol 82 >"$T/p82.yaml"

# ROUNDS changes: their times (ms) into FILE.
changes() {
	local i t0 t1
	: >"$1"
	for i in $(seq "$ROUNDS"); do
		t0=$(date +%s%N)
		lab apply -f "$T/p$((81 + i % 2)).yaml" >/dev/null || return 1
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000)) >>"$1"
	done
}
pct() { sort -n "$1" | awk '{v[NR]=$1} END {i50=int(NR*0.5+0.5); i99=int(NR*0.99+0.5); if (i99<1) i99=1; printf "%d / %d / %d", v[i50], v[i99], v[NR]}'; }

run() {
	local tag=$1 bin=$2 xpid l0 l1 a0 a1 made refused nice=(nice -n 19)
	[ "${FLOOD_NICE:-1}" = 0 ] && nice=()
	rm -f "$T/stop"
	XCNID_BIN=$bin lab up --nodes 1 --agent-arg "--flows-listen=192.168.77.1:$PORT" \
		--agent-arg "--flows-tls=$CERTS/server" --agent-arg "--metrics-addr=127.0.0.1:9969" >/dev/null || return 1
	remember_pids
	lab apply -f "$T/p81.yaml" >/dev/null || return 1
	remember_pids
	changes "$T/$tag.quiet" || return 1
	xpid=$(lab get --json | jq_ "d['nodes'][0]['xcnidPid']")
	lab exec atk/evil -- "${nice[@]}" /usr/bin/python3 tests/lab/tlsflood.py 192.168.77.1 $PORT 600 \
		--procs "$PROCS" --hold 16 --stop "$T/stop" >"$T/$tag.made" 2>&1 &
	MINE+=("$!")
	sleep 1
	l0=$(awk '{print ($14 + $15) * 10}' "/proc/$xpid/task/$xpid/stat") a0=$(awk '{print ($14 + $15) * 10}' "/proc/$xpid/stat")
	sleep 5
	l1=$(awk '{print ($14 + $15) * 10}' "/proc/$xpid/task/$xpid/stat") a1=$(awk '{print ($14 + $15) * 10}' "/proc/$xpid/stat")
	changes "$T/$tag.flood" || return 1
	touch "$T/stop"
	wait "${MINE[-1]}"
	made=$(cat "$T/$tag.made")
	refused=$(in_node 1 curl -s http://127.0.0.1:9969/metrics | awk '$1 == "xcni_http_refused_total{listener=\"flows\"}" {print $2}')
	printf '%-3s %-40s | %-18s | %-18s | %6s ms | %6s ms | %8s | %s\n' "$tag" "$bin" "$(pct "$T/$tag.quiet")" \
		"$(pct "$T/$tag.flood")" "$((l1 - l0))" "$((a1 - a0))" "$made" "${refused:-n/a}"
	lab down >/dev/null
}
echo "# $ROUNDS changes per phase; flood: $PROCS processes, nice ${FLOOD_NICE:-1}; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-3s %-40s | %-18s | %-18s | %9s | %9s | %8s | %s\n' "" "xcnid" "quiet p50/p99/max" "flood p50/p99/max" "loop CPU" "all CPU" "made" "refused"
printf '%-3s %-40s | %-18s | %-18s | %9s | %9s | %8s | %s\n' "" "" "change->map (ms)" "change->map (ms)" "in 5 s" "in 5 s" "" ""
run A "$BASE" || echo "A failed"
run B "$XCNID_BIN" || echo "B failed"
