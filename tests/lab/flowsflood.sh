#!/bin/bash
# The agent's loop belongs to the agent (issue 52 item 6): a pod floods its
# node's flows port (--flows-listen on the node's address, HTTPS with client
# certificates) with connections that send half a ClientHello and stall,
# while NetworkPolicy changes must reach the node's maps as fast as without
# the flood. Then the per-source limit before the handshake: the flooding
# pod's connections refused past it and counted (xcnictl metrics, the
# http_refused line), while a client with a certificate, from another
# address, is still answered.
#
#   xcl-n1 (192.168.77.1): xcnid --flows-listen 192.168.77.1:4244
#     atk/evil   the flooding pod (tests/lab/tlsflood.py)
#     vic/v1     a pod whose NetworkPolicy vic/p changes (port 81 <-> 82)
#   xcl-out: xcnictl flows --agent 192.168.77.1 --tls client/ (answered)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/lib.sh"
lab_suite flowsflood
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
CERTS=$T/certs
PORT=4244
ROUNDS=${FLOOD_ROUNDS:-12}

check "flows-certs.sh: a CA, the agents' server certificate, a client's" \
	sh -c "sh examples/kind/flows-certs.sh '$CERTS' >/dev/null"
# --map-grow=0: the flood's 36,000 connections fill the node's conntrack, which
# xcnid would double online (an exec and a reload on the loop, ~0.7-1 s of its CPU:
# map-growth.md); what this suite measures is the listener's, not growth's.
check "lab up --nodes 1, xcnid --flows-listen (the node's address) --flows-tls" \
	lab up --nodes 1 --agent-arg --map-grow=0 --agent-arg "--flows-listen=192.168.77.1:$PORT" \
	--agent-arg "--flows-tls=$CERTS/server" --agent-arg "--metrics-addr=127.0.0.1:9969" || { finish; exit 1; }
remember_pids

pol() {
	cat <<Y
apiVersion: v1
kind: Namespace
metadata: {name: vic}
---
apiVersion: v1
kind: Namespace
metadata: {name: atk}
---
apiVersion: v1
kind: Pod
metadata: {name: evil, namespace: atk}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: v1, namespace: vic, labels: {app: v}}
spec: {nodeName: n1, containers: [{name: c}]}
$(y_np p vic "app: v" "Ingress")
  ingress: [{ports: [{port: $1, protocol: UDP}]}]
Y
}
pol 81 >"$T/p81.yaml"
pol 82 >"$T/p82.yaml"
check "apply atk/evil, vic/v1 and NetworkPolicy vic/p (n1)" lab apply -f "$T/p81.yaml" || { finish; exit 1; }
remember_pids

# ROUNDS changes of vic/p, each timed from lab apply's start to the node's
# maps holding it (lab apply returns then); the slowest in ms on stdout.
changes() {
	local i t0 t1 ms max=0 all=()
	for i in $(seq "$ROUNDS"); do
		t0=$(date +%s%N)
		lab apply -f "$T/p$((81 + i % 2)).yaml" >/dev/null || return 1
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		all+=("$ms")
		[ "$ms" -gt "$max" ] && max=$ms
	done
	echo "$max ${all[*]}"
}
base=$(changes) || base="fail"
diag "without a flood: change->map slowest, then each (ms): $base"
XPID=$(lab get --json | jq_ "d['nodes'][0]['xcnidPid']")
# cpu TID: CPU time (ms, user + system) of xcnid's thread TID ($XPID: its loop).
cpu() { awk '{print ($14 + $15) * 10}' "/proc/$XPID/task/$1/stat"; }
# Every xcnid thread's CPU (ms), all in one.
cpu_all() { awk '{print ($14 + $15) * 10}' "/proc/$XPID/stat"; }
# The flooders niced, as a pod's CPU limit would keep them below the agent:
# what is measured is where the agent spends its time, not a CPU race.
lab exec atk/evil -- nice -n 19 /usr/bin/python3 "$HERE/tlsflood.py" 192.168.77.1 $PORT 60 --procs 2 --hold 16 \
	--stop "$T/stop" >"$T/flood.out" 2>&1 &
FLOOD=$!
MINE+=("$FLOOD")
sleep 1
l0=$(cpu "$XPID") a0=$(cpu_all)
sleep 5
l1=$(cpu "$XPID") a1=$(cpu_all)
diag "5 s of the flood alone: xcnid's loop used $((l1 - l0)) ms of CPU, all its threads $((a1 - a0)) ms"
# Before, every accept and handshake ran on the loop: 1210 ms of these 5 s
# (a fourth of the loop's time, growing with the flood's rate).
check "under the flood, xcnid's loop (its main thread) spends < 300 ms of CPU in 5 s (the server's thread takes the connections)" \
	test $((l1 - l0)) -lt 300
flood=$(changes) || flood="fail"
diag "under the flood:  change->map slowest, then each (ms): $flood"
# A bound that noise on a loaded machine does not cross; the figures side by
# side, many rounds: bench/handshake-flood.sh.
check "under the flood, NetworkPolicy changes reach the maps: slowest <= slowest without + 1000 ms" \
	test "${flood%% *}" != fail -a "${base%% *}" != fail -a "${flood%% *}" -le $((${base%% *} + 1000))
ask() { ip netns exec xcl-out "$XCNICTL" flows --agent 192.168.77.1 --tls "$CERTS/client" --last 1 -o json >"$T/asked" 2>&1; }
check "under the flood, a client with a certificate (the outside, another address) is answered" ask
touch "$T/stop"
wait "$FLOOD" 2>/dev/null
made=$(cat "$T/flood.out")
diag "the flood made $made connections"
check "the flood was one (over 3000 connections made)" test "${made:-0}" -gt 3000
refused() { in_node 1 curl -s http://127.0.0.1:9969/metrics | awk '$1 == "xcni_http_refused_total{listener=\"flows\"}" {print $2}'; }
r=$(refused)
diag "xcni_http_refused_total{listener=\"flows\"} $r"
check "the flooding pod's connections past 16/s refused at accept and counted (xcni_http_refused_total{listener=\"flows\"} > 1000)" \
	test "${r:-0}" -gt 1000
st() { in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" status >"$T/status" 2>&1; grep -q "^Listeners: .* refused at accept .*: [0-9]* flows" "$T/status"; }
check "xcnictl status: the Listeners line counts the refusals" st
grep Listeners "$T/status" | sed 's/^/# /'
lab_down_checked
finish
