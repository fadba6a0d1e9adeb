#!/bin/bash
# `xcnictl monitor` beside `xcnid --flows`: the events ring (xcni_events) has
# one reader position, so two readers would each see part of it; xcnid, the
# ring's reader when --flows is on, passes every record to the monitors
# subscribed on its events socket. A monitor and the flow window must both see
# every one of a known number of drops; a monitor that ends leaves no
# subscriber; a second monitor gets the same stream; and a monitor whose agent
# stops goes on reading the ring itself.
#
#   n1: x/a (app=web; 81/udp), denied every ingress (NetworkPolicy x/deny-a)
#       x/b sends N datagrams to x/a:81 from port 40100 (each one a drop event)
#   the agent: --flows --events-rate 0 (no budget: every drop is an event)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite monflows
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
N=400

check "lab up --nodes 1, the agent with --events-rate 0 (flows on by default)" \
	lab up --nodes 1 --kube-proxy none --agent-arg --events-rate=0 || { finish; exit 1; }
remember_pids
{
	y_ns x
	y_pod a x n1 'app: web' '{containerPort: 81, protocol: UDP}'
	y_pod b x n1
	y_webpol deny-a deny
} >"$T/pods.yaml"
check "apply x/a, x/b and NetworkPolicy x/deny-a" lab apply -f "$T/pods.yaml"
remember_pids
A4=$(lab get --json | jq_ "[p for p in d['pods'] if p['name'] == 'a'][0]['ip']")
diag "x/a $A4"

cat >"$T/send.py" <<'EOF'
import socket, sys, time
sport, dst, dport, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
for i in range(n):
    s.sendto(b"x" * 64, (dst, dport))
    if i % 50 == 49:
        time.sleep(0.01)
EOF
ctl() { nsenter --net=/run/netns/xcl-n1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" "$@"; }
# trailer KEY: the flows answer's trailer (printed with -v) value of KEY.
trailer() { "$XCNICTL" flows -v --node n1 --json --last 1 2>&1 >/dev/null | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
subscribers_are() {
	local want=$1 got
	for _ in $(seq 30); do
		got=$(trailer monitor_subscribers)
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	echo "monitor_subscribers ${got:-absent}, wanted $want"
	"$XCNICTL" flows -v --node n1 --json --last 1 2>&1 >/dev/null | tail -n 3
	return 1
}
# drops FILE SPORT: the drop events in FILE (monitor --json) from SPORT.
drops() { /usr/bin/python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)["type"] == "drop" and json.loads(l)["sport"] == int(sys.argv[2])))' "$1" "$2"; }

# Two monitors at once, both subscribed before the traffic starts.
ctl monitor --type drop --json --count $N --timeout-ms 20000 >"$T/m1.json" 2>"$T/m1.err" &
M1=$!
MINE+=("$M1")
ctl monitor --type drop --json --count $N --timeout-ms 20000 >"$T/m2.json" 2>"$T/m2.err" &
M2=$!
MINE+=("$M2")
check "two monitors subscribed to xcnid's event stream (the flows trailer: monitor_subscribers 2)" subscribers_are 2
check "x/b sends $N datagrams to x/a:81 (every one dropped by x/deny-a)" \
	lab exec x/b -- /usr/bin/python3 "$T/send.py" 40100 "$A4" 81 $N
check "monitor 1 ends by its --count" wait "$M1"
check "monitor 2 ends by its --count" wait "$M2"
got_all() { local got; got=$(drops "$1" 40100); [ "$got" = "$N" ] || { echo "$got drop events of $N"; head -c 600 "${1%.json}.err"; return 1; }; }
check "monitor 1 saw all $N drops" got_all "$T/m1.json"
check "monitor 2 saw all $N drops" got_all "$T/m2.json"
flow_drops() {
	local got
	got=$("$XCNICTL" flows --node n1 --json --port 81 | /usr/bin/python3 -c '
import json, sys
r = [json.loads(l) for l in sys.stdin if l.strip()]
r = [x for x in r if x["source"]["port"] == 40100]
print(r[0]["drops"] if len(r) == 1 else "records: %d" % len(r))')
	[ "$got" = "$N" ] || { echo "the flow record counts $got drops, wanted $N"; return 1; }
}
# The flow window reads conntrack every second: within 10 s.
check "the flow window counted the same $N drops (xcnid read every record too)" wait_until 10 flow_drops
lost_is_0() { local l; l=$(trailer monitor_lost); [ "$l" = 0 ] || { echo "monitor_lost ${l:-absent}"; return 1; }; }
check "no record lost on the way to the monitors (monitor_lost 0)" lost_is_0
# Gone monitors are noticed at the next record or subscriber.
lab exec x/b -- /usr/bin/python3 "$T/send.py" 40101 "$A4" 81 1 >/dev/null 2>&1
check "the monitors gone: monitor_subscribers 0" subscribers_are 0

# An agent that stops: the monitor goes on with the ring itself.
ctl monitor --type drop --json --timeout-ms 15000 >"$T/m3.json" 2>"$T/m3.err" &
M3=$!
MINE+=("$M3")
check "a third monitor subscribed" subscribers_are 1
XCNID_PID=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n1'][0]")
diag "n1's xcnid: $XCNID_PID"
stop_agent() { [ -n "$XCNID_PID" ] && kill -TERM "$XCNID_PID" && for _ in $(seq 50); do kill -0 "$XCNID_PID" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
check "n1's xcnid stopped (SIGTERM)" stop_agent
# The monitor reads the ring once it saw the stream end (its stderr says so).
wait_until 10 grep -q "event stream ended" "$T/m3.err"
check "x/b sends 20 more datagrams with no agent (the programs still drop them)" \
	lab exec x/b -- /usr/bin/python3 "$T/send.py" 40102 "$A4" 81 20
wait_until 10 eval '[ "$(drops "$T/m3.json" 40102 2>/dev/null)" = 20 ]'
kill -INT "$M3" 2>/dev/null
wait "$M3"
fell_back() { grep -q "event stream ended" "$T/m3.err" && [ "$(drops "$T/m3.json" 40102)" = 20 ] || { echo "drops from 40102: $(drops "$T/m3.json" 40102)"; cat "$T/m3.err"; return 1; }; }
check "the monitor said the stream ended and read the 20 drops from the ring itself" fell_back

lab_down_checked
finish
