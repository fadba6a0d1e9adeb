#!/bin/bash
# Flow records (xcnid --flows, xcnictl flows) against traffic the suite sends
# itself, so it knows every flow, its verdict and its size: each is looked up
# by its tuple on each node, and must be there with the right ends, verdict,
# policy or drop reason, packets each way and bytes (the payload plus at most
# the frames' headers); the flows the filters select must be exactly those.
# Then the flow log: small limits, many flows, and the files rotate at them
# and hold every line xcnid says it kept. And IPFIX: every agent exports to a
# collector in the outside netns (tests/lab/ipfix_collect.py, a decoder
# written from RFC 7011), which must receive each of those flows with the
# same ends, ports, counts and verdict.
#
#   n1: x/a (app=web; 80/tcp, 81/udp)   x/b (role=friend; 81/udp)
#   n2: x/c (role=stranger; 81/udp)
#   NetworkPolicy x/web-ingress: app=web takes 80/TCP and 81/UDP from role=friend
#   dual stack; every xcnid: flows on by default, --flow-log $T/flows-{node}.log (4 KiB x 3)
#   and --ipfix udp://198.51.100.1:4739 (the collector in netns xcl-out),
#   --metrics-addr 127.0.0.1:9962 in its node's netns
#
#   b -> a  81/udp v4, 5 x 100 B   n1: allowed by x/web-ingress (ingress)
#   c -> a  81/udp v4, 3 x 100 B   n1: denied at to-pod (drop-policy-ingress, x/a
#                                  isolated by x/web-ingress); n2: forwarded at
#                                  to-overlay (not judged there), no reply;
#                                  merged (--node all): one, denied, decided by n1
#   b -> c  81/udp v6, 4 x 200 B   n1: forwarded (to-overlay); n2: allowed at
#                                  to-pod, no policy (none selects c); merged: allowed by n2
#   b -> a  80/tcp v4              n1: allowed, SYN ACK FIN
#   b -> Service x/web (ClusterIP, xcnid translating it: --kube-proxy none)
#        8181/udp v4, connected socket (translated per packet), 3 x 120 B:
#        n1: the Service x/web:echo, backend x/a's A4:81, allowed by x/web-ingress
#   b -> Service x/web 8080/tcp: translated at connect (socket LB, --cgroup-root):
#        n1: the Service x/web:http (the sockops program's record), backend A4:80
#   the matrix 80/tcp (--svg): allowed, denied, and mixed (c -> a: IPv4 only)
#
# n1's xcni_policy_isolation_drops_total: c -> a's 3 drops under x/a, ingress,
# x/web-ingress (the policy that isolates it; no deny rule, so
# xcni_policy_flows_total{action="deny"} stays 0), 2 more from c (ports 40020,
# 40021, after the record counts) moving it by 2; allowed traffic in no series.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite flows
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
LOGMAX=4096
COLLECTOR=198.51.100.1 IPFIX_PORT=4739
T0_MS=$(($(date +%s) * 1000))

# --ipfix's value is checked before anything starts.
badopt() { local re=$1; shift; "$XCNID_BIN" "$@" >"$T/out" 2>&1; local rc=$?; [ $rc = 2 ] && grep -q -- "$re" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }; }
check "xcnid --ipfix ftp://h:1: exit 2 naming --ipfix" badopt "--ipfix ftp://h:1" --flows --ipfix ftp://h:1
check "xcnid --ipfix udp://h (no port): exit 2 naming --ipfix" badopt "--ipfix udp://h" --flows --ipfix udp://h
check "xcnid --ipfix udp://h:70000: exit 2 naming --ipfix" badopt "--ipfix udp://h:70000" --flows --ipfix udp://h:70000

check "xcnid --flows=maybe: exit 2 naming --flows" badopt "--flows maybe:" --flows=maybe
check "xcnid --no-flows --flow-log /x: exit 2 (nothing to log)" badopt "--flow-log is the flow records'" --no-flows --flow-log /x
check "lab up --nodes 2 --ip-family dual --kube-proxy none, agents with a flow log and --ipfix (flows on by default)" \
	lab up --nodes 2 --ip-family dual --kube-proxy none --agent-arg "--flow-log=$T/flows-{node}.log" \
	--agent-arg --flow-log-max-bytes=$LOGMAX --agent-arg --flow-log-files=3 \
	--agent-arg --flow-log-interval=1 --agent-arg "--ipfix=udp://$COLLECTOR:$IPFIX_PORT" \
	--agent-arg --ipfix-active-timeout=1 --agent-arg --metrics-addr=127.0.0.1:9962 || { finish; exit 1; }
remember_pids
# The collector, in the outside (every node's default route leads there).
# Over UDP every batch starts with the templates: it may start after the agents.
: >"$T/ipfix.jsonl"
# It sends each message on to nfcapd (below) on NF_PORT too.
NF_PORT=4740
ip netns exec xcl-out /usr/bin/python3 "$(dirname "$0")/ipfix_collect.py" $COLLECTOR $IPFIX_PORT "$T/ipfix.jsonl" \
	"$COLLECTOR:$NF_PORT" 2>"$T/ipfix.err" &
COLLECTOR_PID=$!
MINE+=("$COLLECTOR_PID")

{
	y_ns x
	y_pod a x n1 'app: web' '{containerPort: 80}, {containerPort: 81, protocol: UDP}'
	y_pod b x n1 'role: friend' '{containerPort: 81, protocol: UDP}'
	y_pod c x n2 'role: stranger' '{containerPort: 81, protocol: UDP}'
	y_webpol
} >"$T/pods.yaml"
check "apply x/a, x/b (n1), x/c (n2), NetworkPolicy x/web-ingress" lab apply -f "$T/pods.yaml"
remember_pids
ip_of() { lab get --json | jq_ "[p for p in d['pods'] if p['name'] == '$1'][0]['$2']"; }
A4=$(ip_of a ip) B4=$(ip_of b ip) C4=$(ip_of c ip) C6=$(ip_of c ip6)
diag "x/a $A4, x/b $B4, x/c $C4 $C6"

check "x/b -> x/a 81/udp (v4): 5 of 5 answered" answered 5 x/b 40001 "$A4" 81 5 100
check "x/c -> x/a 81/udp (v4): 0 of 3 answered (policy)" answered 0 x/c 40002 "$A4" 81 3 100
check "x/b -> x/c 81/udp (v6): 4 of 4 answered" answered 4 x/b 40003 "$C6" 81 4 200
check "x/b -> x/a 80/tcp (v4) from port 40004" lab exec x/b -- /usr/bin/python3 "$LAB_TESTS/tcp_hello.py" "$A4" 80 40004
sleep 2.5 # a conntrack walk (every second) after the last packet

# Isolation drops by pod and isolating policy (n1's /metrics): x/c's three
# datagrams into x/a, which x/web-ingress isolates and no rule of it allows.
scrape() { # scrape N: node nN's /metrics
	nsenter --net="/run/netns/xcl-n$1" /usr/bin/python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:9962/metrics", timeout=5).read().decode())'
}
ISO_A='xcni_policy_isolation_drops_total{namespace="x",pod="a",direction="ingress",policy="x/web-ingress"}'
series() { scrape "$1" | awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }'; }
ISO0=$(series 1 "$ISO_A")
check "n1 /metrics: $ISO_A is 3 (x/c's datagrams), got $ISO0" test "$ISO0" = 3
# The pod's own series counts each drop once, whatever isolates it.
POD_A='xcni_pod_isolation_drops_total{namespace="x",pod="a",direction="ingress"}'
POD0=$(series 1 "$POD_A")
check "n1 /metrics: $POD_A is 3, got $POD0" test "$POD0" = 3
isoonly() { # the only isolation-drop series of n1 is x/a's, and n2 has none
	local s1= s2=
	s1=$(scrape 1 | grep '^xcni_policy_isolation_drops_total{') && s2=$(scrape 2 | grep -c '^xcni_policy_isolation_drops_total{')
	[ "$(wc -l <<<"$s1")" = 1 ] && [ "${s1%% *}" = "$ISO_A" ] && [ "$s2" = 0 ] || { echo "n1: $s1; n2: $s2 series"; return 1; }
}
check "  ... the only series: x/b's allowed datagrams and flows count in none, n2 (which forwarded) has none" isoonly
check "  ... xcni_policy_flows_total{action=\"deny\"} stays 0 (no deny rule: isolation is no entry)" bash -c "
	[ \"\$(nsenter --net=/run/netns/xcl-n1 /usr/bin/python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:9962/metrics\", timeout=5).read().decode())' |
		awk '/^xcni_policy_flows_total\\{.*action=\"deny\"/ { t += \$2 } END { print t + 0 }')\" = 0 ]"
cat >"$T/expo.py" <<'EOF'
import re, sys
fam, seen, bad = None, set(), []
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r"^(%s)(?:\{(?:%s)(?:,%s)*\})? [0-9.eE+-]+$" % (name, label, label))
for l in sys.stdin.read().splitlines():
    m = re.match(r"^# (HELP|TYPE) (\S+) ", l)
    if m:
        if (m.group(1), m.group(2)) in seen:
            bad.append("twice: " + l)
        seen.add((m.group(1), m.group(2)))
        fam = m.group(2)
        continue
    s = sample.match(l)
    if not s or not fam or not (s.group(1) == fam or s.group(1).startswith(fam + "_")):
        bad.append(l)
if bad:
    print("\n".join(bad[:5]))
    sys.exit(1)
EOF
# the exposition format: HELP and TYPE once a family, before its samples; every sample NAME{LABELS} VALUE
expo() { scrape 1 | /usr/bin/python3 "$T/expo.py"; }
check "  ... n1 /metrics: the exposition format, every sample under its family" expo
# Two more of x/c's datagrams into x/a: the series moves by two.


flows() { "$XCNICTL" flows "$@"; }
# has NODE SPORT PYEXPR: the records of --node NODE from source port SPORT: exactly
# one, and PYEXPR (on it as r) holds.
cat >"$T/has.py" <<'EOF'
import json, sys
sport, expr = int(sys.argv[1]), sys.argv[2]
recs = [json.loads(l) for l in sys.stdin if l.strip()]
mine = [r for r in recs if r["source"]["port"] == sport]
if len(mine) != 1:
    print(f"{len(mine)} records from port {sport}, wanted 1; all: {json.dumps(recs, indent=1)}")
    sys.exit(1)
r = mine[0]
if not eval(expr):
    print(f"not {expr}: {json.dumps(r, indent=1)}")
    sys.exit(1)
EOF
# has NODE SPORT EXPR: node's record from SPORT meets EXPR, asked until it does
# (6 s at most: the agent takes a flow's counts at its conntrack walk, every second).
has() {
	local n=$1 sp=$2 expr=$3 out _
	for _ in $(seq 20); do
		out=$(flows --node "$n" --json | /usr/bin/python3 "$T/has.py" "$sp" "$expr" 2>&1) && return 0
		sleep 0.3
	done
	echo "$out"
	return 1
}
HDR4=42 HDR6=62 # Ethernet + IP + UDP, what each frame adds to its payload
# A flow's bytes are its frames as the pods send and receive them, a denied
# packet's too (its drop event's: the frame decapsulated, as the sender counted it).
check "n1: x/b -> x/a 81/udp: allowed by x/web-ingress rule 0 (ingress), 5 + 5 packets, 5 x (100 + headers) bytes each way" \
	has n1 40001 "r['source']['pod'] == 'b' and r['destination']['pod'] == 'a' and r['source']['namespace'] == 'x' and r['verdict'] == 'allowed' and r['policy'] == 'x/web-ingress' and r['rule'] == 0 and r['policy_side'] == 'ingress' and r['packets'] == 5 and r['reply_packets'] == 5 and r['bytes'] == 5 * (100 + $HDR4) and r['reply_bytes'] == 5 * (100 + $HDR4) and r['protocol'] == 'UDP' and r['node'] == 'n1' and r['family'] == 'ipv4'"
check "n1: x/c -> x/a 81/udp: denied at to-pod from-overlay (drop-policy-ingress, ingress), isolated by x/web-ingress, 3 drops, 3 x (100 + headers) bytes (the sender's, no Geneve), no reply" \
	has n1 40002 "r['verdict'] == 'denied' and r['observation_point'] == 'to-pod' and r['entry_point'] == 'from-overlay' and r['drop_reason'] == 'drop-policy-ingress' and r['policy_side'] == 'ingress' and r['isolated_by'] == 'x/web-ingress' and r['drops'] == 3 and r['packets'] == 3 and r['bytes'] == 3 * (100 + $HDR4) and r['reply_packets'] == 0 and r['source']['pod'] == 'c' and r['destination']['pod'] == 'a'"
check "n2 (the sending node): x/c -> x/a 81/udp: forwarded at to-overlay from-pod, never allowed (no policy on x/c), 3 packets, no reply" \
	has n2 40002 "r['verdict'] == 'forwarded' and r['observation_point'] == 'to-overlay' and r['entry_point'] == 'from-pod' and r['policy'] is None and r['packets'] == 3 and r['bytes'] == 3 * (100 + $HDR4) and r['reply_packets'] == 0 and r['node'] == 'n2' and r['source']['pod'] == 'c'"
# An echo is symmetric: each node counts its request and its replies at one
# layer, the frames as the pods send and receive them (the Geneve and outer
# headers of what came from the other node not counted), so they agree.
check "n1 (the sending node): x/b -> x/c 81/udp (v6): forwarded at to-overlay, no policy, 4 + 4 packets, 4 x (200 + headers) bytes each way, the replies (from the overlay) as many bytes as the requests" \
	has n1 40003 "r['family'] == 'ipv6' and r['destination']['ip'] == '$C6' and r['verdict'] == 'forwarded' and r['observation_point'] == 'to-overlay' and r['policy'] is None and r['packets'] == 4 and r['reply_packets'] == 4 and r['bytes'] == 4 * (200 + $HDR6) and r['reply_bytes'] == r['bytes'] and r['source']['pod'] == 'b'"
check "n2: x/b -> x/c 81/udp (v6): allowed at to-pod from-overlay, the requests (from the overlay) as many bytes as the replies, x/b's labels and namespace from its identity" \
	has n2 40003 "r['family'] == 'ipv6' and r['verdict'] == 'allowed' and r['observation_point'] == 'to-pod' and r['entry_point'] == 'from-overlay' and r['packets'] == 4 and r['reply_packets'] == 4 and r['bytes'] == 4 * (200 + $HDR6) and r['reply_bytes'] == r['bytes'] and r['source']['namespace'] == 'x' and 'role=friend' in r['source']['labels'] and r['destination']['pod'] == 'c'"
check "n1: x/b -> x/a 81/udp: times are RFC 3339 UTC (first_seen, last_seen, updated)" \
	has n1 40001 "all(__import__('re').fullmatch(r'20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9][.][0-9]{6}Z', r[k]) for k in ('first_seen', 'last_seen', 'updated'))"
monojson() { flows --node n1 --port 40001 --json --time mono | /usr/bin/python3 -c 'import json, sys, time
r = json.loads(sys.stdin.readline())
assert isinstance(r["last_seen"], float) and 0 < r["last_seen"] <= time.clock_gettime(time.CLOCK_MONOTONIC), r["last_seen"]'; }
check "--time mono: last_seen as seconds of CLOCK_MONOTONIC" monojson

# The merged view (--node all): one record a connection, the deciding node's
# verdict and point, every node's part.
cat >"$T/merged.py" <<'EOF'
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
mine = [r for r in recs if r["source"]["port"] in (40001, 40002, 40003, 40004)]
by = {r["source"]["port"]: r for r in mine}
want = {  # port: (verdict, decided_by, point, {node: (verdict, point)})
    40001: ("allowed", "n1", "to-pod", {"n1": ("allowed", "to-pod")}),
    40002: ("denied", "n1", "to-pod", {"n2": ("forwarded", "to-overlay"), "n1": ("denied", "to-pod")}),
    40003: ("allowed", "n2", "to-pod", {"n1": ("forwarded", "to-overlay"), "n2": ("allowed", "to-pod")}),
    40004: ("allowed", "n1", "to-pod", {"n1": ("allowed", "to-pod")}),
}
if len(mine) != 4 or set(by) != set(want):
    print(f"{len(mine)} merged records from ports {sorted(r['source']['port'] for r in mine)}, wanted one each of {sorted(want)}"); sys.exit(1)
for port, (v, node, pt, parts) in want.items():
    r = by[port]
    got = {n["node"]: (n["verdict"], n["observation_point"]) for n in r["nodes"]}
    if (r["verdict"], r["decided_by"], r["observation_point"], got) != (v, node, pt, parts):
        print(f"port {port}: {r['verdict']} by {r['decided_by']} at {r['observation_point']}, parts {got}; wanted {v} by {node} at {pt}, {parts}"); sys.exit(1)
c = by[40002]
if c["isolated_by"] != "x/web-ingress" or c["source"]["pod"] != "c" or c["destination"]["pod"] != "a" or [n["packets"] for n in c["nodes"] if n["node"] == "n2"] != [3]:
    print(f"port 40002: {json.dumps(c)}"); sys.exit(1)
# The denied flow's bytes: the sender's (the frames x/c sent) on either node and merged.
if c["bytes"] != 3 * 142 or [n.get("bytes") for n in c["nodes"]] != [3 * 142] * 2:
    print(f"port 40002 bytes {c['bytes']}, nodes {[(n['node'], n.get('bytes')) for n in c['nodes']]}; wanted 426 everywhere"); sys.exit(1)
EOF
merged() { flows --node all --json | /usr/bin/python3 "$T/merged.py"; }
check "--node all: every connection once, the final verdict, deciding node and point, both nodes' parts (40002 denied by n1, n2 forwarded, 426 bytes on both and merged; 40003 allowed by n2, n1 forwarded)" merged
mergedtext() { flows --node all --from-port 40002 -o wide >"$T/out" && grep -q "^n1 .*x/c .*x/a .*to-pod denied .*drop-policy-ingress; isolated by x/web-ingress {n[12] .*, n[12] .*}" "$T/out" && ! grep -q "near miss" "$T/out" && grep -q "n2 to-overlay forwarded 3/0" "$T/out" || { cat "$T/out"; return 1; }; }
check "--node all text: one row for 40002, denied by n1 at to-pod, isolated by x/web-ingress, no near miss (rule 0 takes role=friend, x/c is role=stranger: the denial it means), n2's part forwarded 3/0" mergedtext
check "n1: x/b -> x/a 80/tcp: allowed by x/web-ingress rule 0, SYN ACK FIN, data back, no Service" \
	has n1 40004 "r['service'] is None and r['backend'] is None and r['protocol'] == 'TCP' and r['verdict'] == 'allowed' and r['policy'] == 'x/web-ingress' and set(r['tcp_flags']) >= {'SYN', 'ACK', 'FIN'} and r['bytes'] >= r['packets'] * 54 + 6 and r['reply_bytes'] > r['reply_packets'] * 54"

# IPFIX: the collector's last record of each flow (by node and source port)
# against what the suite sent, and against xcnictl flows' record of it.
cat >"$T/ipfix_has.py" <<'EOF'
import json, sys, time
path, node, sport, expr, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
lines = [json.loads(l) for l in open(path) if l.strip()]
bad = [l for l in lines if "unknown_template" in l or "bad_message" in l]
if bad:
    print(f"the collector could not decode: {bad[:3]}"); sys.exit(1)
mine = [l for l in lines if l.get("xcniNode") == node and l.get("sourceTransportPort") == sport]
if not mine:
    print(f"no IPFIX record from {node} for source port {sport}; {len(lines)} lines, templates: {[l for l in lines if 'template' in l][:2]}")
    sys.exit(1)
r = mine[-1]
now = int(time.time() * 1000)
if not (t0 - 1000 <= r["flowStartMilliseconds"] <= r["flowEndMilliseconds"] <= now + 1000):
    print(f"times: start {r['flowStartMilliseconds']} end {r['flowEndMilliseconds']}, the suite ran {t0}..{now}"); sys.exit(1)
j = json.loads(sys.stdin.read() or "null")
if j is None:
    print(f"xcnictl flows --node {node} has no one record from port {sport}"); sys.exit(1)
if (r["packetTotalCount"], r["octetTotalCount"], r["reversePacketTotalCount"], r["reverseOctetTotalCount"]) != (j["packets"], j["bytes"], j["reply_packets"], j["reply_bytes"]):
    print(f"IPFIX {json.dumps(r)}\nxcnictl flows {json.dumps(j)}"); sys.exit(1)
if not eval(expr):
    print(f"not {expr}: {json.dumps(r, indent=1)}"); sys.exit(1)
EOF
# ipfix_has NODE SPORT PYEXPR (on the collector's record as r)
# The exporter sends a flow's record on its own schedule: waited for, bounded (10 s).
ipfix_has() {
	local out _
	for _ in $(seq 20); do
		out=$(ipfix_has_once "$@") && return 0
		sleep 0.5
	done
	echo "$out"
	return 1
}
ipfix_has_once() {
	local n=$1 sp=$2 expr=$3
	flows --node "$n" --json | /usr/bin/python3 -c 'import json, sys
# a NodePort flow SNATed here: exported from the port of its client
m = [l for l in sys.stdin if l.strip() and (json.loads(l).get("source", {}).get("port") == int(sys.argv[1]) or
     (json.loads(l).get("client") or "").endswith(":" + sys.argv[1]))]
print(m[0] if len(m) == 1 else "null")' "$sp" | /usr/bin/python3 "$T/ipfix_has.py" "$T/ipfix.jsonl" "$n" "$sp" "$expr" "$T0_MS"
}
check "IPFIX from n1: x/b -> x/a 81/udp (v4): $B4:40001 -> $A4:81 UDP, 5 + 5 packets, allowed by x/web-ingress rule 0 (ingress), pods x/b x/a" \
	ipfix_has n1 40001 "r['_template'] == 257 and r['sourceIPv4Address'] == '$B4' and r['destinationIPv4Address'] == '$A4' and r['destinationTransportPort'] == 81 and r['protocolIdentifier'] == 17 and r['packetTotalCount'] == 5 and r['reversePacketTotalCount'] == 5 and r['octetTotalCount'] == 5 * (100 + $HDR4) and r['xcniVerdict'] == 0 and r['xcniPolicyName'] == 'x/web-ingress' and r['xcniRuleIndex'] == 0 and r['xcniPolicySide'] == 1 and r['xcniSourcePod'] == 'x/b' and r['xcniDestinationPod'] == 'x/a' and r['xcniDropReason'] == '' and r['xcniSourceIdentity'] > 0"
check "IPFIX from n1: x/c -> x/a 81/udp: denied (drop-policy-ingress), 3 packets, 3 drops, no reply, forwardingStatus 129 (dropped, ACL deny)" \
	ipfix_has n1 40002 "r['sourceIPv4Address'] == '$C4' and r['destinationIPv4Address'] == '$A4' and r['xcniVerdict'] == 1 and r['xcniDropReason'] == 'drop-policy-ingress' and r['xcniDropReasonCode'] < 0 and r['xcniDropCount'] == 3 and r['packetTotalCount'] == 3 and r['reversePacketTotalCount'] == 0 and r['xcniPolicySide'] == 1 and r['forwardingStatus'] == 129"
# One exporting point per connection: the node that only forwarded a flow
# into the overlay, to a pod on another node, exports nothing of it.
ipfix_none() { # ipfix_none NODE SPORT
	/usr/bin/python3 -c 'import json, sys
n = [l for l in map(json.loads, open(sys.argv[1])) if l.get("xcniNode") == sys.argv[2] and l.get("sourceTransportPort") == int(sys.argv[3])]
n and print(f"{len(n)} records from {sys.argv[2]}: {n[-1]}")
sys.exit(1 if n else 0)' "$T/ipfix.jsonl" "$1" "$2"
}
check "IPFIX: none from n2 for x/c -> x/a 81/udp (n2 forwarded it to n1, which denied it)" ipfix_none n2 40002
ipfix_v6() {
	ipfix_has n2 40003 "r['_template'] == 258 and r['destinationIPv6Address'] == '$C6' and r['packetTotalCount'] == 4 and r['reversePacketTotalCount'] == 4 and r['xcniDestinationPod'] == 'x/c' and r['xcniVerdict'] == 0 and r['forwardingStatus'] == 64" &&
		ipfix_none n1 40003
}
check "IPFIX from n2 alone: x/b -> x/c 81/udp (v6): template 258, to $C6, 4 + 4 packets, allowed (forwarded, 64)" ipfix_v6
# The deltas of a flow's records add up to its totals (nfdump sums them).
ipfix_deltas() {
	/usr/bin/python3 -c 'import json, sys
rs = [l for l in map(json.loads, open(sys.argv[1])) if l.get("xcniNode") == "n1" and l.get("sourceTransportPort") == 40001]
s = (sum(r["packetDeltaCount"] for r in rs), sum(r["reversePacketDeltaCount"] for r in rs), sum(r["octetDeltaCount"] for r in rs))
t = (rs[-1]["packetTotalCount"], rs[-1]["reversePacketTotalCount"], rs[-1]["octetTotalCount"]) if rs else None
s == t or print(f"{len(rs)} records: deltas {s}, totals {t}")
sys.exit(0 if rs and s == t and all(r["flowEndReason"] in (1, 2, 3) for r in rs) else 1)' "$T/ipfix.jsonl"
}
check "IPFIX from n1: x/b -> x/a 81/udp: the records' deltas add up to the last one's totals" ipfix_deltas
check "IPFIX from n1: x/b -> x/a 80/tcp: protocol 6, tcpControlBits SYN ACK FIN, allowed by x/web-ingress" \
	ipfix_has n1 40004 "r['protocolIdentifier'] == 6 and r['destinationTransportPort'] == 80 and r['tcpControlBits'] & 0x13 == 0x13 and r['xcniPolicyName'] == 'x/web-ingress' and r['xcniVerdict'] == 0"

# count WANT ARGS...: xcnictl flows ARGS --json gives WANT records from the suite's ports.
count() {
	local want=$1 got; shift
	got=$(flows "$@" --json | /usr/bin/python3 -c 'import json, sys; print(sum(1 for l in sys.stdin if json.loads(l)["source"]["port"] in (40001, 40002, 40003, 40004)))') || return 1
	[ "$got" = "$want" ] || { echo "$got records, wanted $want"; flows "$@"; return 1; }
}
check "--node all: four connections (merged)" count 4 --node all
check "--node all --per-node: the six records (n1: four, n2: two)" count 6 --node all --per-node
check "--node n1 --node n2: four (merged)" count 4 --node n1 --node n2
check "--node all --verdict denied: one" count 1 --node all --verdict denied
check "--node all --verdict allowed: three (40003's final verdict is n2's)" count 3 --node all --verdict allowed
check "--node all --verdict forwarded: none (every forwarded one was judged at its destination)" count 0 --node all --verdict forwarded
check "--node all --per-node --verdict forwarded: two (n1's 40003, n2's 40002)" count 2 --node all --per-node --verdict forwarded
check "--node n1 --from x/b: three" count 3 --node n1 --from x/b
check "--node all --from label:role=friend: three" count 3 --node all --from label:role=friend
check "--node all --to x/a --protocol udp: two" count 2 --node all --to x/a --protocol udp
check "--node all --to $C6/128: one" count 1 --node all --to "$C6/128"
check "--node all --port 80: one" count 1 --node all --port 80
check "--node n1 --from ns:x --last 2: the last two changed" count 2 --node n1 --from ns:x --last 2
check "--node all --since 1h: four" count 4 --node all --since 1h
# Hubble's spellings (hubble observe), the same meaning.
check "--from-pod x/b (a name prefix): three on n1" count 3 --node n1 --from-pod x/b
check "--from-pod b (namespace default): none" count 0 --node n1 --from-pod b
check "--to-pod x/a: three on n1 (40001, 40002, 40004)" count 3 --node n1 --to-pod x/a
check "-n x (either end): four merged" count 4 --node all -n x
check "--namespace y: none" count 0 --node all --namespace y
check "--label role=stranger (either end): two merged (40002 from x/c, 40003 to x/c)" count 2 --node all --label role=stranger
check "--verdict DROPPED: one" count 1 --node all --verdict DROPPED
check "--verdict FORWARDED: three (allowed or forwarded)" count 3 --node all --verdict FORWARDED
check "--per-node --verdict FORWARDED: five" count 5 --node all --per-node --verdict FORWARDED
check "--not --from-pod x/b: one on n1 (40002)" count 1 --node n1 --not --from-pod x/b
check "--not --verdict DROPPED --not --to-port 80: 40001, 40003 on n1" count 2 --node n1 --not --verdict DROPPED --not --to-port 80
check "--from-port 40003 --to-port 81: one merged" count 1 --node all --from-port 40003 --to-port 81
check "--to-port 40003: none" count 0 --node all --to-port 40003
check "--first 1: one on n1 (of x/b's three)" count 1 --node n1 --from-pod x/b --first 1
check "--since an RFC 3339 time an hour ago: four merged" count 4 --node all --since "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
check "--until an RFC 3339 time an hour ago: none" count 0 --node all --until "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
check "--until 1h (a duration): none" count 0 --node all --until 1h
check "--print-node-name: accepted (the node is always said)" count 4 --node all --print-node-name
nodecol() { flows --node n1 --from-port 40001 --print-node-name | grep -q "^n1 " || { flows --node n1 --from-port 40001; return 1; }; }
check "--print-node-name: the row begins with the node" nodecol
# The words of every view (xcnictl filters), either end: what the map views mean.
check "--pod x/b (either end, exactly): three merged (40001, 40003, 40004)" count 3 --node all --pod x/b
check "--pod $A4 (x/a by its address): three merged (40001, 40002, 40004)" count 3 --node all --pod "$A4"
check "--ip $C6 (either end): one merged (40003)" count 1 --node all --ip "$C6"
check "--ip ${A4%.*}.0/24 (a prefix: flows take those): the three IPv4 ones, merged" count 3 --node all --ip "${A4%.*}.0/24"
check "--reason drop-policy-ingress: one merged (40002)" count 1 --node all --reason drop-policy-ingress
check "--reason drop-spoof-ip: none" count 0 --node all --reason drop-spoof-ip
check "--verdict deny (monitor's old spelling of denied): one" count 1 --node all --verdict deny
check "--from-ip $B4: two merged (x/b's IPv4: 40001, 40004)" count 2 --node all --from-ip "$B4"
check "--to-namespace x: four merged" count 4 --node all --to-namespace x
check "--from-label role=friend: three merged" count 3 --node all --from-label role=friend
CID=$(flows --node n1 --from-port 40002 --json | /usr/bin/python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["source"]["identity"])')
check "--identity $CID (x/c's): two merged (40002 from it, 40003 to it)" count 2 --node all --identity "$CID"
check "--from-identity $CID: one merged (40002)" count 1 --node all --from-identity "$CID"
twice() { flows --node n1 --from x/b --from-pod x/b >"$T/out" 2>&1; local rc=$?; [ $rc = 2 ] && grep -q -- "--from-pod x/b: the source is given twice" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }; }
check "--from x/b --from-pod x/b: the source twice, exit 2 naming it" twice
# Two more of x/c's datagrams into x/a (x/web-ingress alone still isolates it;
# after the record counts above, which the last changed records would move).
check "x/c -> x/a 81/udp (v4) from port 40020: 0 of 2 answered (policy)" answered 0 x/c 40020 "$A4" 81 2 100
isomoved() {
	local a b; a=$(series 1 "$ISO_A")
	answered 0 x/c 40021 "$A4" 81 2 100 || return 1
	sleep 0.5
	b=$(series 1 "$ISO_A")
	[ "$a" != none ] && [ "$b" != none ] && [ $((b - a)) = 2 ] ||
		{ echo "$a -> $b"; "$XCNICTL" flows --node all --from-port 40021; scrape 1 | grep isolation; return 1; }
}
check "n1 /metrics: two more denied datagrams move $ISO_A by 2" isomoved

# xcni_flows_total{verdict,direction}: one count a flow, not a packet. n1's
# window holds every flow n1 saw (no eviction: far under its size), each
# settled 2 s after its first packet: the counters are the window's records
# by verdict and direction (the side a policy judged; else into a pod of
# this node: ingress), and x/c's 2 + 2 datagrams from 40020 and 40021 are
# two denied flows, not four.
cat >"$T/flowcount.py" <<'EOF'
import json, re, sys
recs = [r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip()) if "verdict" in r]
want = {}
for r in recs:
    side = r.get("policy_side") or ("ingress" if r["observation_point"] == "to-pod" else "egress")
    want[(r["verdict"], side)] = want.get((r["verdict"], side), 0) + 1
got = {}
for l in open(sys.argv[2]):
    m = re.match(r'^xcni_flows_total\{verdict="([a-z-]+)",direction="(ingress|egress)"\} (\d+)$', l)
    if m:
        got[(m.group(1), m.group(2))] = int(m.group(3))
if len(got) != 16:
    print(f"{len(got)} series of xcni_flows_total, wanted 16 (8 verdicts, dropped too, x 2 directions)"); sys.exit(1)
bad = {k: (got.get(k, 0), want.get(k, 0)) for k in set(got) | set(want) if got.get(k, 0) != want.get(k, 0)}
if bad:
    print(f"metric vs window (got, want): {bad}"); sys.exit(1)
if sys.argv[3:] and got[("denied", "ingress")] != int(sys.argv[3]):
    print(f"denied/ingress {got[('denied', 'ingress')]}, wanted {sys.argv[3]}"); sys.exit(1)
print("# " + ", ".join(f"{v}/{d} {n}" for (v, d), n in sorted(got.items()) if n))
EOF
flowcount() { # flowcount [DENIED_INGRESS]: n1's xcni_flows_total against its window, until they agree (6 s)
	local out _
	for _ in $(seq 12); do
		flows --node n1 --json >"$T/win.json" && scrape 1 >"$T/metrics1" &&
			out=$(/usr/bin/python3 "$T/flowcount.py" "$T/win.json" "$T/metrics1" "$@" 2>&1) && { echo "$out"; return 0; }
		sleep 0.5
	done
	echo "$out"
	return 1
}
# 40002, 40020, 40021: three denied flows (7 datagrams) into x/a.
check "n1 /metrics: xcni_flows_total{verdict,direction} is n1's flows by verdict and side, one count a flow (denied/ingress 3 for x/c's 7 datagrams in 3 flows)" flowcount 3
nmskipped() { scrape 1 >"$T/metrics1" && grep -x 'xcni_flows_near_misses_skipped_total 0' "$T/metrics1"; }
check "n1 /metrics: xcni_flows_near_misses_skipped_total 0 (the lab's near-miss walks are far under their 50 ms a second)" nmskipped

# A second policy isolating x/a (no rule: it allows nothing; x/web-ingress
# still lets x/b in): x/c's drops count under each isolating policy by its
# own name ("x/web-lockdown", no leading space) and once under the pod, read
# back through a Prometheus server as a dashboard reads them.
y_webpol web-lockdown deny >"$T/lockdown.yaml"
check "apply NetworkPolicy x/web-lockdown (isolates x/a, allows nothing)" lab apply -f "$T/lockdown.yaml"
check "x/c -> x/a 81/udp (v4) from port 40022: 0 of 4 answered" answered 0 x/c 40022 "$A4" 81 4 100
check "n1: 40022's record names both isolating policies" \
	has n1 40022 "r['verdict'] == 'denied' and r['isolated_by'] == 'x/web-ingress, x/web-lockdown' and r['drops'] == 4"
ISO_L='xcni_policy_isolation_drops_total{namespace="x",pod="a",direction="ingress",policy="x/web-lockdown"}'
lockseries() {
	local l i p
	l=$(series 1 "$ISO_L") i=$(series 1 "$ISO_A") p=$(series 1 "$POD_A")
	# x/web-ingress: 3 + 2 + 2 before, 4 now; the pod once a drop: the same 11.
	[ "$l" = 4 ] && [ "$i" = 11 ] && [ "$p" = 11 ] && ! scrape 1 | grep -q 'policy=" ' ||
		{ echo "lockdown $l, web-ingress $i, pod $p"; scrape 1 | grep isolation_drops; return 1; }
}
check "n1 /metrics: $ISO_L is 4, x/web-ingress's 11, the pod's 11 (each drop once), no policy label with a leading space" lockseries
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
	check "  ... promtool check metrics: no problem" bash -c "$(declare -f scrape); scrape 1 | promtool check metrics"
	# A Prometheus server in n1's netns scrapes its agent every second.
	cat >"$T/prom.yml" <<'EOF'
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: xcnid
    static_configs: [{targets: ["127.0.0.1:9962"]}]
EOF
	ip netns exec xcl-n1 prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom" \
		--web.listen-address=127.0.0.1:9963 >"$T/prom.log" 2>&1 &
	PROM_PID=$!
	MINE+=("$PROM_PID")
	# promql EXPR WANT: the query through the server (8 s at most: its first scrapes)
	promql() {
		local got _
		for _ in $(seq 16); do
			# "{pod="a"} => 11 @[1795810958.341]": the value after "=>"
			got=$(ip netns exec xcl-n1 promtool query instant http://127.0.0.1:9963 "$1" 2>&1 |
				awk '{ for (i = 1; i < NF; i++) if ($i == "=>") { print $(i + 1); exit } }')
			[ "$got" = "$2" ] && return 0
			sleep 0.5
		done
		echo "promtool query instant '$1': '$got', wanted $2"
		tail -3 "$T/prom.log"
		return 1
	}
	check "  ... Prometheus: sum(xcni_policy_isolation_drops_total{policy=\"x/web-lockdown\"}) is 4 (the real name finds it)" \
		promql 'sum(xcni_policy_isolation_drops_total{policy="x/web-lockdown"})' 4
	check "  ... Prometheus: sum by (pod) (xcni_pod_isolation_drops_total{pod=\"a\"}) is 11: each drop once" \
		promql 'sum by (pod) (xcni_pod_isolation_drops_total{pod="a"})' 11
	check "  ... Prometheus: sum(xcni_flows_total{verdict=\"denied\",direction=\"ingress\"}) is 4: one a flow" \
		promql 'sum(xcni_flows_total{verdict="denied",direction="ingress"})' 4
	kill "$PROM_PID" 2>/dev/null
	wait "$PROM_PID" 2>/dev/null
else
	not_ok "promtool and prometheus installed (Debian's prometheus; scripts/install-deps.sh)"
fi
check "delete NetworkPolicy x/web-lockdown" lab delete -f "$T/lockdown.yaml"
text() { flows --node n1 --from x/b --protocol tcp -o wide >"$T/out" && grep -q "x/b.*x/a.*allowed.*ingress x/web-ingress rule 0.*SYN" "$T/out" || { cat "$T/out"; return 1; }; }
check "text columns: x/b x/a allowed ingress x/web-ingress rule 0 [SYN,...]" text

# A ClusterNetworkPolicy Deny on x/c from role=friend, first in audit mode
# (it passes, the record says audit and names the rule), then enforced (the
# record says denied by the Admin tier, naming the same rule).
cnp_c() {
	cat <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-friend-c$1}
spec:
  tier: Admin
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {role: stranger}}}}
  ingress:
    - {name: no-friend, action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {role: friend}}}}]}
EOF
}
cnp_c ", annotations: {xcni.io/policy-mode: audit}" >"$T/cnp-audit.yaml"
cnp_c "" >"$T/cnp.yaml"
check "apply ClusterNetworkPolicy no-friend-c (Admin, audit mode)" lab apply -f "$T/cnp-audit.yaml"
check "x/b -> x/c 81/udp (v4) under the audited Deny: 2 of 2 answered" answered 2 x/b 40006 "$C4" 81 2 50
check "x/b -> x/c 81/udp (v4) from 40009 under the audited Deny: 2 of 2 answered" answered 2 x/b 40009 "$C4" 81 2 50
check "ClusterNetworkPolicy no-friend-c enforced" lab apply -f "$T/cnp.yaml"
check "x/b -> x/c 81/udp (v4) under the enforced Deny: 0 of 2 answered" answered 0 x/b 40007 "$C4" 81 2 50
# The same flow again (40009, its conntrack entry alive): judged again, cut.
check "x/b -> x/c 81/udp from 40009 again, under the enforced Deny: 0 of 2 answered" answered 0 x/b 40009 "$C4" 81 2 50
check "n2: x/b -> x/c from 40006: verdict audit, by no-friend-c [Admin 10] rule 0" \
	has n2 40006 "r['verdict'] == 'audit' and r['policy'] == 'no-friend-c [Admin 10]' and r['rule'] == 0 and r['packets'] == 2 and r['reply_packets'] == 2"
check "n2: x/b -> x/c from 40007: denied (drop-policy-admin) by no-friend-c [Admin 10] rule 0" \
	has n2 40007 "r['verdict'] == 'denied' and r['drop_reason'] == 'drop-policy-admin' and r['policy'] == 'no-friend-c [Admin 10]' and r['rule'] == 0 and r['policy_side'] == 'ingress' and r['reply_packets'] == 0"
check "n2: x/b -> x/c from 40009: denied by no-friend-c, the verdict before the change said (previous_verdict audit, by the same policy)" \
	has n2 40009 "r['verdict'] == 'denied' and r['drop_reason'] == 'drop-policy-admin' and r['policy'] == 'no-friend-c [Admin 10]' and r['previous_verdict'] == 'audit' and r['previous_policy'] == 'no-friend-c [Admin 10]' and r['reply_packets'] == 2"
cuttext() { flows --node n2 --from-port 40009 -o wide >"$T/out" && grep -q "to-pod denied .*no-friend-c .*; was audit by no-friend-c \[Admin 10\] until a policy change" "$T/out" || { cat "$T/out"; return 1; }; }
check "text: 40009's row says it was audit until a policy change" cuttext
audited() { local got; got=$(flows --node n2 --verdict audit --json | /usr/bin/python3 -c 'import json, sys; print(" ".join(str(json.loads(l)["source"]["port"]) for l in sys.stdin if l.strip() and "source" in json.loads(l)))'); [ "$got" = 40006 ] || { echo "audit records from ports: '$got'"; return 1; }; }
check "--node n2 --verdict audit: the audited flow alone" audited
check "delete ClusterNetworkPolicy no-friend-c" lab delete -f "$T/cnp.yaml"
bad() { local re=$1; shift; flows "$@" >"$T/out" 2>&1; local rc=$?; [ $rc = 2 ] && grep -q -- "$re" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }; }
check "--verdict maybe: exit 2 naming it" bad "--verdict maybe" --node n1 --verdict maybe
check "--not --last 2: exit 2, a count cannot be negated" bad "--not --last" --node n1 --not --last 2
check "--not at the end: exit 2" bad "--not: a filter after it" --node n1 --not
check "--first 1 --last 1: exit 2" bad "give one" --node n1 --first 1 --last 1
check "--since 2026-13-45T00:00:00Z: exit 2 naming it" bad "--since 2026-13-45T00:00:00Z" --node n1 --since 2026-13-45T00:00:00Z
check "--time never: exit 2 naming it" bad "--time never" --node n1 --time never
check "--from-port 0: exit 2 naming it" bad "--from-port 0" --node n1 --from-port 0
check "--from x/a/b: exit 2 naming it" bad "--from x/a/b" --node n1 --from x/a/b
check "--to 10.0.0.0/40: exit 2 naming it" bad "--to 10.0.0.0/40" --node n1 --to 10.0.0.0/40
check "--node n9: exit 2 naming the node" bad "no node n9" --node n9

# A Service translated by xcnid: x/b -> x/web's ClusterIP. A connected UDP
# socket is left to the per-packet translation (sock_lb.bpf.c), whose
# conntrack entry names the Service: the record is the translated flow, its
# destination the backend pod, its Service and backend said.
cat >"$T/svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: x}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 8080, targetPort: 80}
  - {name: echo, port: 8181, protocol: UDP, targetPort: 81}
EOF
check "apply Service x/web (8080/tcp -> 80, 8181/udp -> 81; backend x/a)" lab apply -f "$T/svc.yaml"
CIP=$(lab get --json | jq_ '[s["clusterIP"] for s in d["services"] if s["name"] == "web"][0]')
diag "x/web's ClusterIP $CIP"
check "x/b -> x/web $CIP:8181/udp (connected socket) from 40010: 3 of 3 answered" \
	answered 3 x/b 40010 "$CIP" 8181 3 120 1 connect
check "x/b -> x/web $CIP:8080/tcp from 40011" lab exec x/b -- /usr/bin/python3 "$LAB_TESTS/tcp_hello.py" "$CIP" 8080 40011
check "n1: x/b -> x/web 8181/udp: Service x/web:echo, backend $A4:81 (x/a), allowed by x/web-ingress, 3 + 3 packets, 3 x (120 + headers) bytes each way" \
	has n1 40010 "r['service'] == 'x/web:echo' and r['backend'] == '$A4:81' and r['destination']['pod'] == 'a' and r['destination']['namespace'] == 'x' and r['destination']['ip'] == '$A4' and r['destination']['port'] == 81 and r['source']['pod'] == 'b' and r['verdict'] == 'allowed' and r['policy'] == 'x/web-ingress' and r['packets'] == 3 and r['reply_packets'] == 3 and r['bytes'] == 3 * (120 + $HDR4) and r['reply_bytes'] == 3 * (120 + $HDR4)"
# Translated at connect, the TCP flow's packets carry the backend from the
# first one: the record is x/b -> x/a:80, its data both ways counted, and its
# Service what the sockops program recorded for the tuple (conntrack has none).
check "n1: x/b -> x/web 8080/tcp (socket LB): Service x/web:http, backend $A4:80 (x/a), allowed by x/web-ingress, data both ways" \
	has n1 40011 "r['service'] == 'x/web:http' and r['backend'] == '$A4:80' and r['destination']['pod'] == 'a' and r['destination']['port'] == 80 and r['verdict'] == 'allowed' and r['policy'] == 'x/web-ingress' and set(r['tcp_flags']) >= {'SYN', 'ACK', 'FIN'} and r['bytes'] >= r['packets'] * 54 + 6 and r['reply_bytes'] > r['reply_packets'] * 54"
svcsel() {
	local got
	got=$(flows --node all --service "$1" --json | /usr/bin/python3 -c 'import json, sys; print(" ".join(sorted("%s:%s" % (r["node"], r["source"]["port"]) for r in map(json.loads, sys.stdin) if r.get("source"))))') || return 1
	[ "$got" = "$2" ] || { echo "--service $1: '$got', wanted '$2'"; return 1; }
}
check "--node all --service x/web: the two flows through it, nothing else" svcsel x/web "n1:40010 n1:40011"
check "--node all --service x/web:echo: the UDP one" svcsel x/web:echo "n1:40010"
check "--node all --service x/web:http: the TCP one" svcsel x/web:http "n1:40011"
check "--node all --service x/other: none" svcsel x/other ""
check "IPFIX from n1: x/b -> x/web 8181/udp: xcniService x/web:echo, xcniBackend $A4:81, pods x/b x/a, 3 + 3 packets" \
	ipfix_has n1 40010 "r['xcniService'] == 'x/web:echo' and r['xcniBackend'] == '$A4:81' and r['destinationIPv4Address'] == '$A4' and r['destinationTransportPort'] == 81 and r['xcniSourcePod'] == 'x/b' and r['xcniDestinationPod'] == 'x/a' and r['xcniVerdict'] == 0 and r['packetTotalCount'] == 3 and r['reversePacketTotalCount'] == 3"
check "IPFIX from n1: x/b -> x/web 8080/tcp (socket LB): xcniService x/web:http, xcniBackend $A4:80" \
	ipfix_has n1 40011 "r['xcniService'] == 'x/web:http' and r['xcniBackend'] == '$A4:80' and r['protocolIdentifier'] == 6 and r['xcniDestinationPod'] == 'x/a'"
check "IPFIX from n1: a flow with no Service has xcniService and xcniBackend empty" \
	ipfix_has n1 40001 "r['xcniService'] == '' and r['xcniBackend'] == ''"

# ---- the client of a NodePort flow (issue 53 item 3) ---------------------------------
# The outside (198.51.100.1, 2001:db8:100::1) calls x/np's NodePort on n1,
# whose one backend, x/c, is on n2: n1 SNATs each flow to its own address,
# n2 sees 192.168.77.1 (fd00:77::1) only. Six flows a family, one datagram
# each from its own port: six merged records name the client (n1's part)
# beside the translated source, --from-ip finds six, the UI's flows carry it,
# and n1's IPFIX record has the client as sourceIPv4Address (IPv6) with the
# translated address as postNATSourceIPv4Address (RFC 8158's IEs 225, 281, 227).
cat >"$T/np.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: np, namespace: x}
spec:
  type: NodePort
  ipFamilyPolicy: RequireDualStack
  selector: {role: stranger}
  ports:
  - {name: echo, port: 9181, protocol: UDP, targetPort: 81, nodePort: 30181}
EOF
check "apply Service x/np (NodePort 30181/udp -> 81; backend x/c on n2)" lab apply -f "$T/np.yaml"
OUT4=198.51.100.1 OUT6=2001:db8:100::1
# Debian's tshark reads the same export at the collector (nsenter, not ip netns
# exec: that remounts /sys, hiding the nodes' pins).
nsenter --net=/run/netns/xcl-out tshark -q -i any -f "udp port $IPFIX_PORT" -w "$T/np.pcapng" >"$T/np-tshark.log" 2>&1 &
NP_CAP=$!
MINE+=("$NP_CAP")
for _ in $(seq 100); do grep -q "Capturing on" "$T/np-tshark.log" 2>/dev/null && break; sleep 0.1; done
np_send() { # FIRST-PORT NODE-ADDRESS [N [ANSWERED]]: N (6) datagrams from the outside, each answered (ANSWERED 0: none)
	local got p
	for p in $(seq "$1" $(($1 + ${3:-6} - 1))); do
		got=$(ip netns exec xcl-out /usr/bin/python3 "$LAB_TESTS/udp_echo.py" "$p" "$2" 30181 1 64) || return 1
		[ "$got" = "${4:-1}" ] || { echo "from port $p: answered $got of 1, wanted ${4:-1}"; return 1; }
	done
}
check "outside -> n1 192.168.77.1:30181/udp, six flows (ports 42001-42006), each answered" np_send 42001 192.168.77.1
check "outside -> n1 [fd00:77::1]:30181/udp, six flows (ports 42011-42016), each answered" np_send 42011 fd00:77::1
cat >"$T/npclient.py" <<'EOF'
import json, sys
first, client, nat = int(sys.argv[1]), sys.argv[2], sys.argv[3]
recs = [json.loads(l) for l in sys.stdin if l.strip()]
recs = [r for r in recs if "source" in r and r["destination"].get("port") == 81 and r["source"]["ip"] == nat]
fmt = "%s:%d" if "." in client else "[%s]:%d"
want = {fmt % (client, p) for p in range(first, first + 6)}
got = {r.get("client") for r in recs}
bad = [r for r in recs if r["verdict"] != "allowed" or r["decided_by"] != "n2" or r["destination"]["pod"] != "c"
       or {n["node"] for n in r["nodes"]} != {"n1", "n2"}]
if len(recs) != 6 or got != want or bad:
    print(f"{len(recs)} records from {nat} to port 81, clients {sorted(map(str, got))}, wanted {sorted(want)}; {json.dumps(bad[:1] or recs[:1])}")
    sys.exit(1)
EOF
npclient() { # FIRST-PORT CLIENT NAT [FILTER...]: six merged records name the client
	local first=$1 client=$2 nat=$3 out _
	shift 3
	for _ in $(seq 20); do # the agents take a flow at their conntrack walk (every second)
		out=$(flows --node all --json "$@" | /usr/bin/python3 "$T/npclient.py" "$first" "$client" "$nat" 2>&1) && return 0
		sleep 0.3
	done
	echo "$out"
	return 1
}
check "--node all: six records 192.168.77.1 -> x/c:81 (v4), each naming its client $OUT4:4200x, allowed by n2, n1 and n2's parts" \
	npclient 42001 $OUT4 192.168.77.1
check "--node all --from-ip $OUT4: the same six" npclient 42001 $OUT4 192.168.77.1 --from-ip $OUT4
check "--node all --ip $OUT4/32: the same six" npclient 42001 $OUT4 192.168.77.1 --ip $OUT4/32
check "--node all --from-ip $OUT6: six records fd00:77::1 -> x/c:81 (v6), each naming its client [$OUT6]:4201x" \
	npclient 42011 $OUT6 fd00:77::1 --from-ip $OUT6
nptext() { # the default line: the client is the source; -o wide: the translated source too
	flows --node all --from-ip $OUT4 >"$T/out" && [ "$(grep -c "^n2 .* $OUT4:4200[1-6] .*x/c" "$T/out")" = 6 ] &&
		flows --node all --from-ip $OUT4 -o wide >"$T/out" &&
		[ "$(grep -c "192.168.77.1:[0-9]* .*client $OUT4:4200[1-6] (SNAT)" "$T/out")" = 6 ] || { cat "$T/out"; return 1; }
}
check "--node all --from-ip $OUT4 (text): six rows from $OUT4:PORT; -o wide: the translated source and 'client $OUT4:PORT (SNAT)'" nptext
# The service map's data (web/ui.html's flow table and panel): the merged flows carry the client.
npui() {
	lab_ui_graph 9965 "$T/np-graph.json" || return 1
	/usr/bin/python3 -c 'import json, sys
g = json.load(open(sys.argv[1]))
fs = [f for f in g["recent"] if f.get("client") and f["source"]["ip"] == "192.168.77.1"]
c = sorted(f["client"] for f in fs)
want = sorted("%s:%d" % (sys.argv[2], p) for p in range(42001, 42007))
# Drawn from the outside client (the world), not from the node that SNATed (item 3).
edges = sorted({tuple(f["edges"]) for f in fs})
ok = c == want and edges == [("world->svc:x/np", "svc:x/np->pod:x/c")]
ok or print(f"clients {c}, wanted {want}; edges {edges}")
sys.exit(0 if ok else 1)' "$T/np-graph.json" $OUT4
}
check "lab ui /api/graph: the six v4 flows from 192.168.77.1, each with its client $OUT4:4200x, drawn world -> x/np -> x/c" npui
# ct list on n1 (it translated both families' flows): each default row fits 120
# columns, the IPv6 ones too (item 5); -o wide keeps the rest.
ctfit() {
	in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" ct list >"$T/ct.txt" || return 1
	in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" ct list -o wide >"$T/ctw.txt" || return 1
	awk 'length($0) > 120 { bad++; print length($0) ": " $0 } END { exit bad }' "$T/ct.txt" &&
		grep -q "^udp .*\[$OUT6\]:4201[1-6] .*x/np:echo" "$T/ct.txt" && grep -q "BACKEND-ID" "$T/ctw.txt" ||
		{ cat "$T/ct.txt"; return 1; }
}
check "ct list (n1): every default row <= 120 columns, the v6 NodePort flows from [$OUT6] among them; -o wide: BACKEND-ID" ctfit
diag "ct list (n1): widest default row $(awk '{ n = length($0) > n ? length($0) : n } END { print n }' "$T/ct.txt") columns, -o wide's $(awk '{ n = length($0) > n ? length($0) : n } END { print n }' "$T/ctw.txt")"
npipfix() { # FIRST-PORT CLIENT NAT: n1's record of each of the six
	local p
	for p in $(seq "$1" $(($1 + 5))); do
		ipfix_has n1 "$p" "r.get('sourceIPv4Address', r.get('sourceIPv6Address')) == '$2' and r.get('postNATSourceIPv4Address', r.get('postNATSourceIPv6Address')) == '$3' and r['postNAPTSourceTransportPort'] == j['source']['port'] and r['destinationTransportPort'] == 81 and r['packetTotalCount'] == 1 and r['reversePacketTotalCount'] == 1 and r['xcniService'] == 'x/np:echo'" || return 1
	done
}
check "IPFIX from n1 (it SNATed them): six v4 records, sourceIPv4Address $OUT4 and its port, postNATSourceIPv4Address 192.168.77.1 and its SNAT port, 1 + 1 packets, x/np:echo" \
	npipfix 42001 $OUT4 192.168.77.1
check "IPFIX from n1: six v6 records, sourceIPv6Address $OUT6, postNATSourceIPv6Address fd00:77::1" \
	npipfix 42011 $OUT6 fd00:77::1
kill "$NP_CAP" 2>/dev/null
wait "$NP_CAP" 2>/dev/null
# tshark -T fields lists a message's records' values field by field: the
# IPv4 client and translated address pair up (both in template 257 only).
nptshark() { # SRC-FIELD NAT-FIELD CLIENT NAT
	tshark -r "$T/np.pcapng" -d "udp.port==$IPFIX_PORT,cflow" -T fields -E occurrence=a -E aggregator=' ' \
		-e "$1" -e "$2" -Y "$2" 2>/dev/null >"$T/np-fields.txt"
	/usr/bin/python3 -c 'import sys
pairs = [p for l in open(sys.argv[1]) if "\t" in l for p in zip(*(c.split() for c in l.rstrip("\n").split("\t")))]
n = pairs.count((sys.argv[2], sys.argv[3]))
n >= 6 or print(f"{n} records ({sys.argv[2]}, {sys.argv[3]}) of {len(pairs)}: {pairs[:8]}")
sys.exit(0 if n >= 6 else 1)' "$T/np-fields.txt" "$3" "$4"
}
check "tshark at the collector: n1's records of the six v4 flows, SrcAddr $OUT4, Post NAT Source IPv4 Address 192.168.77.1" \
	nptshark cflow.srcaddr cflow.post_natsource_ipv4_address $OUT4 192.168.77.1
check "tshark: the six v6 ones, SrcAddr $OUT6, Post NAT Source IPv6 Address fd00:77::1" \
	nptshark cflow.srcaddrv6 cflow.post_nat_source_ipv6_address $OUT6 fd00:77::1

# A real collector counts each NodePort connection once (issue 70 item 4):
# nfcapd, started now, gets four more flows from the outside, served by x/c on
# n2: four records, each from the client's own address, none from n1's
# address (n2's view of the same connections, which n1 exports).
nf_start() { # DIR: nfcapd on NF_PORT, writing into DIR
	mkdir -p "$1"
	ip netns exec xcl-out nfcapd -b $COLLECTOR -p $NF_PORT -w "$1" -B 8388608 >"$T/nfcapd.log" 2>&1 &
	NF_PID=$!
	MINE+=("$NF_PID")
	sleep 1
}
nf_start "$T/nf"
check "outside -> n1 192.168.77.1:30181/udp, four more flows (ports 42021-42024), each answered" \
	np_send 42021 192.168.77.1 4
np4n1() { # [FIRST-PORT]: n1's four records reached the collector; then a moment for any other
	local p
	for p in $(seq "${1:-42021}" $((${1:-42021} + 3))); do
		ipfix_has n1 "$p" "r['sourceIPv4Address'] == '$OUT4'" || return 1
	done
	sleep 3
}
check "IPFIX: n1's records of the four reached the collectors" np4n1
kill "$NF_PID" 2>/dev/null
wait "$NF_PID" 2>/dev/null
nfcount() { # DIR FIRST-PORT: nfcapd's records to x/c:81 in DIR, the four from FIRST-PORT on
	nfdump -R "$1" -q -o "fmt:%sa %sp %da %dp" "proto udp and dst ip $C4 and dst port 81 and (src ip $OUT4 or src ip 192.168.77.1)" >"$T/nf.txt" 2>&1
	local n4 nnode
	n4=$(awk -v c=$OUT4 -v p="$2" '$1 == c && $2 >= p && $2 <= p + 3' "$T/nf.txt" | sort -u | wc -l)
	nnode=$(grep -c "192.168.77.1" "$T/nf.txt")
	[ "$(grep -c . "$T/nf.txt")" = 4 ] && [ "$n4" = 4 ] && [ "$nnode" = 0 ] ||
		{ echo "nfdump: $(grep -c . "$T/nf.txt") records from $OUT4 or 192.168.77.1 to $C4:81 ($n4 from $OUT4:$2-$(($2 + 3)), $nnode from 192.168.77.1):"; cat "$T/nf.txt"; return 1; }
}
check "nfcapd: 4 records for the 4 NodePort connections, each from the client $OUT4 and its port, none from 192.168.77.1" \
	nfcount "$T/nf" 42021
# And when x/c's policy denies them (issue 70): n2 drops each, but what came
# from n1's address is n1's to export (it alone knows the client), so 4
# records again, none from 192.168.77.1 (n2's drop records named n1 as the
# client: 8 records for 4 connections).
{
	y_np c-ingress x "role: stranger" Ingress
	printf '%s\n' '  ingress:' '  - from: [{podSelector: {matchLabels: {role: friend}}}]'
} >"$T/cpol.yaml"
check "apply NetworkPolicy x/c-ingress (x/c admits role=friend only: not the outside)" lab apply -f "$T/cpol.yaml"
nf_start "$T/nf2"
check "outside -> n1 192.168.77.1:30181/udp, four flows (ports 42031-42034), none answered" \
	np_send 42031 192.168.77.1 4 0
n2denied() { # n2 dropped the four (its records, from n1's address)
	local n _
	for _ in $(seq 20); do
		n=$(flows --node n2 --json --verdict denied --from-ip 192.168.77.1 --to-port 81 | grep -c '"drop-policy-ingress"')
		[ "$n" -ge 4 ] && return 0
		sleep 0.5
	done
	echo "$n denied records on n2"
	return 1
}
check "  ... n2 denied them (drop-policy-ingress, from 192.168.77.1)" n2denied
check "IPFIX: n1's records of the four reached the collectors" np4n1 42031
kill "$NF_PID" 2>/dev/null
wait "$NF_PID" 2>/dev/null
check "nfcapd: 4 records for the 4 denied NodePort connections, each from the client $OUT4, none from 192.168.77.1" \
	nfcount "$T/nf2" 42031

# --follow: a flow that starts while it follows shows up, once per change.
follow() {
	# The binary itself in the background (not the flows function: killing its
	# subshell would leave xcnictl running, holding the test lock).
	"$XCNICTL" flows --node n1 --follow --json --port 40005 >"$T/follow" 2>&1 &
	local fp=$!
	MINE+=("$fp")
	sleep 1.5
	udp_echo x/b 40005 "$A4" 81 2 10 >/dev/null
	sleep 3
	kill "$fp"
	wait "$fp"
	grep -q '"port":40005' "$T/follow" || { cat "$T/follow"; return 1; }
	# The record as of the last change: 2 + 2.
	tail -n 1 "$T/follow" | grep -q '"packets":2,"bytes":[0-9]*,"reply_packets":2' || { cat "$T/follow"; return 1; }
}
check "--follow: a flow started meanwhile shows up (2 + 2 packets)" follow
# --follow --last 2: two records first (not the window), then the new flow's
# changes, each record once a change, with its update time (UPDATED, RFC 3339
# in -o wide; the default text has the time of day).
followlast() {
	local start fp
	start=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	"$XCNICTL" flows --node n1 --follow --last 2 -o wide >"$T/followl" 2>&1 &
	fp=$!
	MINE+=("$fp")
	sleep 1.5
	udp_echo x/b 40008 "$A4" 81 2 10 >/dev/null
	sleep 3
	kill "$fp"
	wait "$fp"
	/usr/bin/python3 - "$T/followl" "$start" <<'EOF' || { echo "started $start"; cat "$T/followl"; return 1; }
import re, sys
lines = open(sys.argv[1]).read().splitlines()
start = sys.argv[2]
assert lines[0].split()[:2] == ["NODE", "UPDATED"], lines[0]
rows = lines[1:]
for l in rows:
    assert re.match(r"n1 +20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[.][0-9]{3}Z ", l), l
# The window holds more than two older records: --last 2 printed two of them
# (one fewer only if one changed in the instant it started).
old = [l for l in rows if l.split()[1] < start]
assert 1 <= len(old) <= 2, f"{len(old)} rows changed before it started, wanted the last 2"
new = [l for l in rows if ":40008 " in l]
assert new, "the new flow never showed"
# Each printed once a change: no two identical rows (same record, same update).
assert len(rows) == len(set(rows)), "a row printed twice"
print(f"# {len(rows)} rows, {len(old)} from before, {len(new)} of the new flow")
EOF
}
check "--follow --last 2: two first, then the new flow, each row once, with its update time" followlast

# The flow log: 60 flows more make it rotate many times over.
many() { lab exec x/b -- /usr/bin/python3 -c "
import socket
for p in range(41000, 41060):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', p)); s.settimeout(0.3)
    s.sendto(b'y' * 10, ('$A4', 81))
    try: s.recv(100)
    except OSError: pass
"; }
check "60 more flows x/b -> x/a" many
sleep 3
# What xcnid says the log holds against what the files hold, read until
# two trailers agree (nothing written meanwhile).
cat >"$T/logcheck.py" <<'EOF'
import glob, json, os, socket, sys, time
sock, log, limit, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def trailer():
    # HTTP on the Unix socket, as xcnictl asks it.
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    s.sendall(b"GET /v1/flows?last=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body.decode().strip().split("\n")[-1])
for attempt in range(10):
    t1 = trailer()
    paths = sorted(glob.glob(log + "*"))
    lines = {p: open(p).read().split("\n")[:-1] for p in paths}
    t2 = trailer()
    if t1["log_lines"] == t2["log_lines"]:
        break
    time.sleep(0.3)
else:
    print("the log never stood still"); sys.exit(1)
bad = []
want = [log] + [f"{log}.{i}" for i in range(1, files)]
if paths != sorted(want):
    bad.append(f"files {paths}, wanted {want}")
for p in paths:
    size = os.path.getsize(p)
    if size > limit:
        bad.append(f"{p}: {size} bytes, over {limit}")
    for l in lines[p]:
        json.loads(l)
held = sum(len(v) for v in lines.values())
if held != t1["log_lines"] - t1["log_rotated_out"]:
    bad.append(f"files hold {held} lines; xcnid wrote {t1['log_lines']}, rotated out {t1['log_rotated_out']}")
if t1["log_rotations"] < 3 or t1["log_errors"]:
    bad.append(f"rotations {t1['log_rotations']}, errors {t1['log_errors']}")
if bad:
    print("\n".join(bad)); sys.exit(1)
print(f"# {held} lines in {len(paths)} files, {t1['log_lines']} written, {t1['log_rotated_out']} rotated out, {t1['log_rotations']} rotations")
EOF
logcheck() { /usr/bin/python3 "$T/logcheck.py" "/run/xcni/flows-sys-fs-bpf-xcni-lab-n1.sock" "$T/flows-n1.log" $LOGMAX 3; }
check "n1's flow log: 3 files of at most $LOGMAX bytes, rotated, holding every line xcnid kept" logcheck
# The newest lines are the last changes: the 60 flows are in the log.
inlog() { local n; n=$(cat "$T"/flows-n1.log* | grep -c '"port":410[0-5][0-9]'); [ "$n" -ge 1 ] || { echo "none of the 60 in the log"; return 1; }; }
check "the latest flows are in the log" inlog
ipfix60() { local n; n=$(/usr/bin/python3 -c 'import json, sys
print(len({l["sourceTransportPort"] for l in map(json.loads, open(sys.argv[1])) if l.get("xcniNode") == "n1" and 41000 <= l.get("sourceTransportPort", 0) < 41060 and l["packetTotalCount"] == 1 and l["reversePacketTotalCount"] == 1}))' "$T/ipfix.jsonl"); [ "$n" = 60 ] || { echo "$n of the 60 at the collector with 1 + 1 packets"; return 1; }; }
check "IPFIX: the 60 flows reached the collector from n1, 1 + 1 packets each" ipfix60
evict() { flows --node n1 --json --last 1 -v 2>"$T/err" >/dev/null; grep -q '"window":16384' "$T/err" || { cat "$T/err"; return 1; }; }
check "the trailer says the window (16384) and what it pushed out" evict
ipfixcount() { flows --node n1 --json --last 1 -v 2>"$T/err" >/dev/null; grep -q '"ipfix_records":[1-9][0-9]*,"ipfix_messages":[1-9]' "$T/err" || { cat "$T/err"; return 1; }; }
check "the trailer counts the IPFIX records and messages sent" ipfixcount

# The matrix as a heat map: 80/tcp over both families, with x/c let in over
# IPv4 alone (an ipBlock), so a cell of each kind: x/b -> x/a allowed, x/c ->
# x/a mixed, x/b -> x/c denied (nothing listens on 80 there). Every cell's
# colour and title against the same run's --json table.
cat >"$T/c4.yaml" <<EOF
$(y_np c-over-ipv4 x "app: web" "Ingress")
  ingress:
  - from: [{ipBlock: {cidr: $C4/32}}]
    ports: [{port: 80, protocol: TCP}]
EOF
check "apply NetworkPolicy x/c-over-ipv4 (x/c's IPv4 address to x/a 80/tcp)" lab apply -f "$T/c4.yaml"
cat >"$T/svgcheck.py" <<'EOF'
import json, sys
import xml.etree.ElementTree as ET
svg, js = sys.argv[1], sys.argv[2]
ns = {"s": "http://www.w3.org/2000/svg"}
m = json.load(open(js))
root = ET.parse(svg).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
legend = {r.get("data-result"): r.get("fill") for r in root.iterfind(".//s:rect[@class='legend']", ns)}
assert set(legend) == {"allowed", "denied", "mixed"} and len(set(legend.values())) == 3, legend
cells = {(r.get("data-from"), r.get("data-to")): r for r in root.iterfind(".//s:rect[@class='cell']", ns)}
pods = m["pods"]
assert len(cells) == len(pods) ** 2, (len(cells), len(pods))
seen = set()
for s in pods:
    for d in pods:
        fams = [m["families"][f]["rows"][s][d] for f in ("4", "6")]
        want = "allowed" if all(fams) else "mixed" if any(fams) else "denied"
        r = cells[(s, d)]
        title = r.find("s:title", ns).text
        if r.get("data-result") != want or r.get("fill") != legend[want] or not title.startswith(f"{s} -> {d}: {want}"):
            print(f"{s} -> {d}: {r.attrib} '{title}', the table says {want} ({fams})"); sys.exit(1)
        seen.add(want)
# The cells the suite knows, besides agreeing with the table.
for (s, d), want in ((("x/b", "x/a"), "allowed"), (("x/c", "x/a"), "mixed"), (("x/b", "x/c"), "denied")):
    if cells[(s, d)].get("data-result") != want:
        print(f"{s} -> {d}: {cells[(s, d)].get('data-result')}, wanted {want}"); sys.exit(1)
t = cells[("x/c", "x/a")].find("s:title", ns).text
assert t == "x/c -> x/a: mixed (IPv4 connected, IPv6 denied)", t
labels = [t.text for t in root.iterfind(".//s:g[@class='rows']/s:text", ns)]
assert labels == pods, labels
print(f"# {len(cells)} cells: {sorted(seen)}")
EOF
svgmatrix() {
	lab matrix 80/tcp --json --svg "$T/m.svg" --timeout-ms 1000 >"$T/m.json" 2>"$T/m.err" || { cat "$T/m.err"; return 1; }
	# Written through a temporary file beside it: none left.
	! ls "$T"/m.svg.* 2>/dev/null || { echo "temporary files left"; return 1; }
	/usr/bin/python3 "$T/svgcheck.py" "$T/m.svg" "$T/m.json"
}
check "lab matrix 80/tcp --svg: every cell's colour and title match the table; x/b -> x/a allowed, x/c -> x/a mixed, x/b -> x/c denied" svgmatrix
# A bad --svg is refused before any probe: exit 2, naming it, no table.
badsvg() {
	local re=$1; shift
	lab matrix 80/tcp --svg "$@" >"$T/out" 2>&1
	local rc=$?
	[ $rc = 2 ] && grep -q -- "$re" "$T/out" && ! grep -q "x/a" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }
}
check "--svg /nonexistent/m.svg: exit 2 naming --svg and the path, before any probe" badsvg "--svg /nonexistent/m.svg: .*No such file" /nonexistent/m.svg
check "--svg $T (a directory): exit 2, is a directory" badsvg "--svg $T: Is a directory" "$T"
check "--svg '': exit 2" badsvg "--svg: a file name" ""

# The flows socket (docs/security.md): root's only (0600), and clients that
# connect and send nothing do not keep xcnictl out: 100 idle ones held open,
# a client is served, and the idle ones are closed within seconds.
cat >"$T/idle.py" <<'EOF'
import socket, subprocess, sys, time
path, xcnictl, cs = sys.argv[1], sys.argv[2], []
for _ in range(100):
    cs.append(socket.socket(socket.AF_UNIX))
    cs[-1].connect(path)
r = subprocess.run([xcnictl, "flows", "--node", "n1", "--json", "--last", "1"],
                   stdout=subprocess.DEVNULL, timeout=20)
if r.returncode:
    sys.exit(f"xcnictl flows with 100 idle clients: exit {r.returncode}")
end, open_ = time.time() + 10, cs
while open_ and time.time() < end:
    for s in open_:
        s.settimeout(0.05)
    still = []
    for s in open_:
        try:
            if s.recv(1) != b"":
                sys.exit("an idle client got bytes")
        except (socket.timeout, BlockingIOError):
            still.append(s)
        except ConnectionResetError:
            pass
    open_ = still
if open_:
    sys.exit(f"{len(open_)} of 100 idle clients still open after 10 s")
EOF
FSOCK=/run/xcni/flows-sys-fs-bpf-xcni-lab-n1.sock
check "flows socket: 100 idle clients do not keep xcnictl flows out, and are closed within 10 s" \
	/usr/bin/python3 "$T/idle.py" "$FSOCK" "$XCNICTL"
# PermissionError (EACCES) and nothing else: exit 0.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c 'import socket, sys
try:
    socket.socket(socket.AF_UNIX).connect(sys.argv[1])
except PermissionError:
    sys.exit(0)
sys.exit("connected")' "$FSOCK"; }
check "flows socket: a user other than root cannot connect (mode 0600)" nobody

kill "$COLLECTOR_PID" 2>/dev/null
wait "$COLLECTOR_PID" 2>/dev/null
lab_down_checked
check "xcnid removed its flows sockets" test ! -e /run/xcni/flows-sys-fs-bpf-xcni-lab-n1.sock
finish
