#!/bin/bash
# Two more things every pod of a node shares (issue 52, docs/security.md): the
# events' budget and the flow log files. One namespace floods; another's
# single connection must stay visible.
#
#   n1: flood/f   egress denied (NetworkPolicy flood/deny-f): a datagram
#                 flood, one drop event each, from every CPU at once
#       flood/g   short flows: one datagram each from FLOOD source ports
#       quiet/q   egress denied (quiet/deny-q): one datagram, one drop event
#       srv/s     (tell-peer: echo on 8081/udp)
#   xcnid --events-rate 20 (a share's budget: 20 events per CPU second),
#   --flow-log $T/flows-n1.log --flow-log-max-bytes 4096 --flow-log-files 2,
#   --metrics-addr 127.0.0.1:9964
#
# 1. Events: f's drops spend f's share only; q's one drop, sent while f's
#    flood runs on every CPU, still reaches xcnid: its record is in `xcnictl
#    flows` and a monitor sees it. With one budget per CPU (before), f's
#    flood spent it and q's event was lost (counted).
# 2. The flow log: q's line is written; g's FLOOD short flows (lines many
#    times the two 4 KiB files) rotate the files, but each rotation removes
#    only the lines of flood (writing, and past its share) and carries
#    quiet's into the new file (the flows trailer's log_carried,
#    xcni_flow_log_carried_total, `xcnictl status`'s Flow log line); q's
#    line stays in the files. With rotation by size for everyone (before),
#    g's lines rotated it out.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite shares
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
RATE=20 FLOOD=400 LOGMAX=4096
LOG=$T/flows-n1.log

check "lab up --nodes 1, xcnid --events-rate $RATE, --flow-log (2 files of $LOGMAX bytes)" \
	lab up --nodes 1 --agent-arg --events-rate=$RATE \
	--agent-arg "--flow-log=$T/flows-{node}.log" --agent-arg --flow-log-max-bytes=$LOGMAX \
	--agent-arg --flow-log-files=2 --agent-arg --flow-log-interval=1 \
	--agent-arg --metrics-addr=127.0.0.1:9964 || { finish; exit 1; }
remember_pids
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: quiet}\n'
	printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: flood}\n'
	printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: srv}\n'
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: quiet, labels: {deny: "yes"}}\n'
	printf 'spec:\n  nodeName: n1\n  containers: [{name: c}]\n'
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: f, namespace: flood, labels: {deny: "yes"}}\n'
	printf 'spec:\n  nodeName: n1\n  containers: [{name: c}]\n'
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: g, namespace: flood}\n'
	printf 'spec:\n  nodeName: n1\n  containers: [{name: c}]\n'
	for ns in quiet flood; do
		printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
		printf 'metadata: {name: deny-%s, namespace: %s}\n' "${ns:0:1}" "$ns"
		printf 'spec:\n  podSelector: {matchLabels: {deny: "yes"}}\n  policyTypes: [Egress]\n'
	done
	tell_peer_pod srv s n1
} >"$T/pods.yaml"
check "apply quiet/q, flood/f (egress denied), flood/g, srv/s (n1)" lab apply -f "$T/pods.yaml"
remember_pids
ip_of() { lab get --json | jq_ "[p for p in d['pods'] if p['name'] == '$1'][0]['ip']"; }
S4=$(ip_of s)
diag "srv/s $S4"

# send SPORT DST DPORT N SECONDS: N datagrams from SPORT (N 0: for SECONDS).
cat >"$T/send.py" <<'EOF'
import socket, sys, time
sport, dst, dport, n, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
end = time.monotonic() + secs
i = 0
while (n and i < n) or (not n and time.monotonic() < end):
    try:
        s.sendto(b"x" * 64, (dst, dport))
    except OSError:
        pass
    i += 1
EOF
ctl() { in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" "$@"; }
flows() { "$XCNICTL" flows --node n1 --json "$@"; }
# rec SPORT PY: the window holds a record from that source port passing PY (about r).
rec() {
	flows | /usr/bin/python3 -c 'import json, sys
rs = [r for r in map(json.loads, sys.stdin) if r.get("source", {}).get("port") == int(sys.argv[1])]
ok = rs and eval(sys.argv[2], {"r": rs[0]})
ok or print(rs[:1] or "no record from port " + sys.argv[1])
sys.exit(0 if ok else 1)' "$1" "$2"
}
trailer() { flows --last 1 -v 2>&1 >/dev/null | grep '"window"' | sed 's/^[^{]*//' | tail -1; }
tfield() { trailer | /usr/bin/python3 -c 'import json, sys; print(json.loads(sys.stdin.read()).get(sys.argv[1], 0))' "$1"; }
# lost: the events lost to their share's budget on n1 (xcnictl metrics).
lost() {
	ctl metrics --json | /usr/bin/python3 -c 'import json, sys
print(sum(m.get("packets", 0) for m in json.load(sys.stdin) if m.get("reason") == "events-lost-rate-limit"))'
}

# -- 1. Events: f floods from every CPU, q sends one.
ctl monitor --type drop --json --timeout-ms 30000 >"$T/mon.json" 2>"$T/mon.err" &
MON=$!
MINE+=("$MON")
mon_subscribed "$MON" xcl-n1
LOST0=$(lost)
FPIDS=()
for c in $(seq 0 $(($(nproc) - 1))); do
	lab exec flood/f -- taskset -c "$c" /usr/bin/python3 "$T/send.py" $((40200 + c)) "$S4" 8081 0 4 &
	FPIDS+=("$!")
	MINE+=("$!")
done
flooding() { [ "$(lost)" -gt "$LOST0" ]; } # f's events already past its share
check "f's flood under way: events-lost-rate-limit grows" wait_until 30 flooding
check "quiet/q -> srv/s 8081/udp from 41000: one datagram, during f's flood from every CPU" \
	lab exec quiet/q -- /usr/bin/python3 "$T/send.py" 41000 "$S4" 8081 1 0
for p in "${FPIDS[@]}"; do wait "$p"; done
check "f's flood: its events past its share counted lost (events-lost-rate-limit $LOST0 -> $(lost))" \
	eval '[ "$(lost)" -gt "$LOST0" ]'
check "q's denied datagram (41000) is in xcnictl flows: quiet's, denied by policy" \
	wait_until 10 rec 41000 "r['source']['namespace'] == 'quiet' and r['verdict'] == 'denied'"
kill -INT "$MON" 2>/dev/null
wait "$MON"
mon_q() {
	/usr/bin/python3 -c 'import json, sys
n = sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l).get("sport") == 41000)
n == 1 or print(f"{n} drop events from 41000")
sys.exit(0 if n == 1 else 1)' "$T/mon.json"
}
check "xcnictl monitor saw q's drop event during f's flood" mon_q

# -- 2. The flow log: q's line, then g's short flows.
in_log() {
	cat "$LOG" "$LOG.1" 2>/dev/null | grep -q "\"port\":41000" && return 0
	# what the files hold: lines by namespace
	for f in "$LOG" "$LOG.1"; do
		[ -e "$f" ] && /usr/bin/python3 -c 'import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    r = json.loads(l)
    c[r.get("source", {}).get("namespace", "") or r.get("destination", {}).get("namespace", "")] += 1
print(sys.argv[1], dict(c))' "$f"
	done
	return 1
}
check "q's record (41000) is in the flow log" wait_until 10 in_log
gflood() {
	local n
	n=$(lab exec flood/g -- /usr/bin/python3 "$LAB_TESTS/udp_ports.py" "$S4" 8081 20000 $FLOOD) || return 1
	[ "$n" -gt $((FLOOD / 2)) ] || { echo "answered $n"; return 1; }
}
check "flood/g -> srv/s 8081/udp: $FLOOD short flows (one datagram each, ports 20000 on)" gflood
sleep 2.5 # the log is written every second
check "q's line is still in the flow log after g's short flows (two files of 4 KiB)" in_log
carried_quiet() {
	trailer | /usr/bin/python3 -c 'import json, sys
t = json.loads(sys.stdin.read())
m = t.get("log_carried_most", {})
ok = t.get("log_rotations", 0) >= 2 and t.get("log_carried", 0) > 0 and m.get("namespace") == "quiet"
ok or print(t)
sys.exit(0 if ok else 1)'
}
check "the files rotated; quiet's line carried into each new file (the flows trailer)" \
	wait_until 10 carried_quiet
# series NAME NS: NAME{namespace=NS} on n1's metrics page (0: no series).
series() {
	in_node 1 /usr/bin/python3 -c 'import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9964/metrics", timeout=5).read().decode())' |
		awk -v s="$1{namespace=\"$2\"}" '$1 == s { v = $2 } END { print v + 0 }'
}
check "xcni_flow_log_carried_total: quiet's lines carried, none of flood's" \
	eval '[ "$(series xcni_flow_log_carried_total quiet)" -gt 0 ] && [ "$(series xcni_flow_log_carried_total flood)" = 0 ]'
status_line() {
	ctl status >"$T/status" 2>&1
	grep -q '^Flow log: .* carried into a new file at rotation, most of namespace "quiet"' \
		"$T/status" || { cat "$T/status"; return 1; }
}
check "xcnictl status: the Flow log line names quiet's lines carried" status_line
files_bounded() {
	local f
	for f in "$LOG" "$LOG.1"; do
		[ ! -e "$f" ] || [ "$(stat -c %s "$f")" -le $LOGMAX ] || { ls -l "$LOG"*; return 1; }
	done
	[ ! -e "$LOG.2" ] || { ls -l "$LOG"*; return 1; }
}
check "the flow log is still 2 files of at most $LOGMAX bytes" files_bounded

stop_mine
lab_down_checked
finish
