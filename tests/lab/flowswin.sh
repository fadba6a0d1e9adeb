#!/bin/bash
# The flows window is shared by namespaces (issue 52 item 8): one pod's short
# flows must not push another namespace's records out of xcnid's window
# before they are read or exported. A window of 64 records (--flows-window)
# keeps the flood small.
#
#   n1: quiet/q   (one TCP connection to srv/s, over before the flood: its
#                  record, the only trace of it left, must stay)
#       flood/f   (short flows: one datagram each from FLOOD source ports)
#       srv/s     (tell-peer: http on 8080/tcp, echo on 8081/udp)
#   xcnid --flows-window 64, --ipfix udp://198.51.100.1:4739 (the collector in
#   xcl-out, tests/lab/ipfix_collect.py), --metrics-addr 127.0.0.1:9963
#
# quiet's record must stay in `xcnictl flows` while flood's oldest go (its
# newest stay); each record pushed out is counted under flood
# (xcni_flows_evicted_total{namespace="flood"}, the `xcnictl status` line)
# and ends at the collector with flowEndReason 5 (lackOfResources). Then
# xcnid again with a TCP collector that comes late: the ends of the records
# a second flood pushes out wait for it (ipfix_evicted_waiting) and all go
# when it comes.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite flowswin
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
WINDOW=64 FLOOD=400
COLLECTOR=198.51.100.1 IPFIX_PORT=4739

check "lab up --nodes 1, xcnid --flows-window $WINDOW, --ipfix to the outside's collector" \
	lab up --nodes 1 --agent-arg --flows-window=$WINDOW \
	--agent-arg "--ipfix=udp://$COLLECTOR:$IPFIX_PORT" \
	--agent-arg --metrics-addr=127.0.0.1:9963 || { finish; exit 1; }
remember_pids
: >"$T/ipfix.jsonl"
ip netns exec xcl-out /usr/bin/python3 "$(dirname "$0")/ipfix_collect.py" $COLLECTOR $IPFIX_PORT \
	"$T/ipfix.jsonl" 2>"$T/ipfix.err" &
MINE+=("$!")

{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: quiet}\n'
	printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: flood}\n'
	printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: srv}\n'
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: quiet}\n'
	printf 'spec:\n  nodeName: n1\n  containers: [{name: c}]\n'
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: f, namespace: flood}\n'
	printf 'spec:\n  nodeName: n1\n  containers: [{name: c}]\n'
	tell_peer_pod srv s n1
} >"$T/pods.yaml"
check "apply quiet/q, flood/f, srv/s (n1)" lab apply -f "$T/pods.yaml"
remember_pids
ip_of() { lab get --json | jq_ "[p for p in d['pods'] if p['name'] == '$1'][0]['ip']"; }
S4=$(ip_of s) Q4=$(ip_of q) F4=$(ip_of f)
diag "srv/s $S4, quiet/q $Q4, flood/f $F4"

# tcp DST SPORT: one request to DST 8080/tcp from SPORT, the connection closed.
cat >"$T/tcp.py" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], 8080), timeout=3, source_address=("0.0.0.0", int(sys.argv[2])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
while s.recv(512):
    pass
s.close()
EOF
flows() { "$XCNICTL" flows --node n1 --json "$@"; }
# rec SPORT PY: the window's record from that source port passes the Python
# expression PY (about r, the record).
rec() {
	flows | /usr/bin/python3 -c 'import json, sys
rs = [r for r in map(json.loads, sys.stdin) if r.get("source", {}).get("port") == int(sys.argv[1])]
sys.exit(0 if rs and eval(sys.argv[2], {"r": rs[0]}) else 1)' "$1" "$2"
}
until_rec() { for _ in $(seq 100); do rec "$@" && return 0; sleep 0.2; done; echo "no record from port $1 with $2"; return 1; }

# quiet's one connection, over before the flood: its record is the only
# trace of it (its conntrack entry expires 10 s after the close).
check "quiet/q -> srv/s 8080/tcp from 41000: a request, closed" \
	lab exec quiet/q -- /usr/bin/python3 "$T/tcp.py" "$S4" 41000
check "... its record is in xcnictl flows, ended (its entry expired)" \
	until_rec 41000 "r['source']['namespace'] == 'quiet' and not r['active']"

# The flood: FLOOD short flows (many times the window) in a few seconds.
flood() { # flood FROM: FLOOD short flows from source port FROM on
	local n
	n=$(lab exec flood/f -- /usr/bin/python3 "$LAB_TESTS/udp_ports.py" "$S4" 8081 "$1" $FLOOD) || return 1
	[ "$n" -gt $((FLOOD / 2)) ] || { echo "answered $n"; return 1; }
}
check "flood/f -> srv/s 8081/udp: $FLOOD short flows (one datagram each, ports 20000 on)" flood 20000
trailer() { flows --last 1 -v 2>&1 >/dev/null | grep '"window"' | sed 's/^[^{]*//' | tail -1; }
# walked: the window pushed out at least FLOOD - WINDOW (every flood flow walked).
walked() {
	local t
	for _ in $(seq 50); do
		t=$(trailer)
		echo "$t" | /usr/bin/python3 -c 'import json, sys
t = json.loads(sys.stdin.read())
sys.exit(0 if t["evicted"] >= int(sys.argv[1]) else 1)' $((FLOOD - WINDOW)) 2>/dev/null && return 0
		sleep 0.2
	done
	echo "$t"
	return 1
}
check "the flood went through the window: at least $((FLOOD - WINDOW)) records pushed out" walked
in_window() {
	local t
	t=$(trailer)
	echo "$t" | /usr/bin/python3 -c 'import json, sys
t = json.loads(sys.stdin.read())
ok = t["flows"] <= t["window"] == int(sys.argv[1])
ok or print(t)
sys.exit(0 if ok else 1)' $WINDOW
}
check "the window holds at most $WINDOW records" in_window
check "quiet's record (41000, ended before the flood) is still in xcnictl flows" \
	rec 41000 "r['source']['namespace'] == 'quiet' and r['destination']['pod'] == 's'"
check "... and xcnictl flows --namespace quiet shows it" \
	eval 'flows --namespace quiet | grep -q "\"port\":41000"'
flood_rest() {
	local n
	n=$(flows | /usr/bin/python3 -c 'import json, sys
print(sum(1 for r in map(json.loads, sys.stdin) if r.get("source", {}).get("namespace") == "flood"))')
	[ "$n" -ge $((WINDOW - 4)) ] && [ "$n" -lt $WINDOW ] || { echo "flood holds $n"; return 1; }
}
check "flood's records took the rest of the window, their own oldest pushed out" flood_rest
metrics() {
	in_node 1 /usr/bin/python3 -c 'import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9963/metrics", timeout=5).read().decode())'
}
# evicted NS: xcni_flows_evicted_total{namespace=NS} (0: no series).
evicted() { metrics | awk -v s="xcni_flows_evicted_total{namespace=\"$1\"}" '$1 == s { v = $2 } END { print v + 0 }'; }
ev_flood() { local n; n=$(evicted flood); [ "$n" -ge $((FLOOD - WINDOW)) ] || { echo "flood: $n"; return 1; }; }
check "xcni_flows_evicted_total{namespace=\"flood\"} >= $((FLOOD - WINDOW))" ev_flood
check "no eviction counted under quiet or srv" eval '[ "$(evicted quiet)" = 0 ] && [ "$(evicted srv)" = 0 ]'
status_line() {
	in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" status >"$T/status" 2>&1
	grep -q "^Flows window: .* of $WINDOW records, .* most from namespace \"flood\"" "$T/status" ||
		{ cat "$T/status"; return 1; }
}
check "xcnictl status: the flows window's line names flood as the namespace evicted most" status_line
# Each flood record pushed out ended at the collector (flowEndReason 5,
# lackOfResources); none of quiet's did.
ipfix_evicted() {
	local want
	want=$(evicted flood)
	for _ in $(seq 30); do
		/usr/bin/python3 -c 'import json, sys
rs = [l for l in map(json.loads, open(sys.argv[1])) if l.get("flowEndReason") == 5]
f = [r for r in rs if r.get("sourceIPv4Address") == sys.argv[2]]
q = [r for r in rs if r.get("sourceIPv4Address") == sys.argv[3]]
ok = len(f) >= int(sys.argv[4]) > 0 and not q
ok or print(f"flood: {len(f)} ended for lack of resources, wanted {sys.argv[4]}; quiet: {len(q)}")
sys.exit(0 if ok else 1)' "$T/ipfix.jsonl" "$F4" "$Q4" "$want" >"$T/ipfix.why" && return 0
		sleep 0.2
	done
	cat "$T/ipfix.why"
	return 1
}
check "IPFIX: each flood record pushed out ended at the collector (flowEndReason 5), none of quiet's" ipfix_evicted

# -- A TCP collector not there yet: each evicted record's end waits for it
# (out of the window, at most 1024) and reaches it once it comes.
XPID=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n1'][0]")
mapfile -d '' ARGS <"/proc/$XPID/cmdline"
check "n1's xcnid restarted with --ipfix tcp://$COLLECTOR:4740 (no collector there yet)" \
	lab_agent_restart MINE n1 "$T/n1-tcp.log" "${ARGS[@]}" "--ipfix=tcp://$COLLECTOR:4740"
check "flood/f -> srv/s 8081/udp: $FLOOD short flows more (ports 30000 on)" flood 30000
tfield() { trailer | /usr/bin/python3 -c 'import json, sys; print(json.loads(sys.stdin.read()).get(sys.argv[1], -1))' "$1"; }
waiting() {
	local n
	for _ in $(seq 50); do
		n=$(tfield ipfix_evicted_waiting)
		[ "$n" -ge $((FLOOD - WINDOW)) ] && return 0
		sleep 0.2
	done
	echo "waiting: $n, lost: $(tfield ipfix_evicted_lost)"
	return 1
}
check "the ends of at least $((FLOOD - WINDOW)) evicted records wait for the collector, none lost" \
	eval 'waiting && [ "$(tfield ipfix_evicted_lost)" = 0 ]'
WAITING=$(tfield ipfix_evicted_waiting)
: >"$T/ipfix-tcp.jsonl"
ip netns exec xcl-out /usr/bin/python3 "$(dirname "$0")/ipfix_collect.py" --tcp $COLLECTOR 4740 \
	"$T/ipfix-tcp.jsonl" 2>"$T/ipfix-tcp.err" &
MINE+=("$!")
tcp_ends() {
	local n
	for _ in $(seq 100); do
		n=$(/usr/bin/python3 -c 'import json, sys
print(sum(1 for l in map(json.loads, open(sys.argv[1])) if l.get("flowEndReason") == 5 and l.get("sourceIPv4Address") == sys.argv[2]))' "$T/ipfix-tcp.jsonl" "$F4")
		[ "$n" -ge "$WAITING" ] && [ "$(tfield ipfix_evicted_waiting)" = 0 ] && return 0
		sleep 0.2
	done
	echo "$n at the collector, $(tfield ipfix_evicted_waiting) still waiting, $(tfield ipfix_evicted_lost) lost"
	return 1
}
check "the TCP collector came: all $WAITING ends reached it (flowEndReason 5), none waits" tcp_ends

stop_mine
lab_down_checked
finish
