#!/bin/bash
# xcnid's observability, end to end on one node: the Prometheus endpoint
# (counts that match the traffic sent, map pressure, policy verdicts, the agent's
# own state), its HTTP server's bounds (4xx for unknown paths, other methods,
# bodies and oversized requests; floods, stalled and slowloris clients; a
# non-loopback address only with --http-allow-remote) and JSON logs.
#
#   netns <tag>-node: xcnid --manifests M --metrics-addr 127.0.0.1:9962
#     lo 127.0.0.1:9962 <── scrapes (python3, in the node netns)
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (ingress: only UDP 7777 from b)
#     xc<hash> ──veth── eth0  <tag>-b  x/b
#   netns <tag>-rem: a second xcnid --metrics-addr 0.0.0.0:9962 --http-allow-remote
#     10.93.0.1/30 ──veth── 10.93.0.2/30  <tag>-cli (scrapes it from outside)
#
# Everything runs inside namespaces this suite creates, under its own pin dir.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

NODE=$XCT_TAG-node
PIN=/sys/fs/bpf/$XCT_TAG
PIN_ONCE=/sys/fs/bpf/$XCT_TAG-once
PIN_REM=/sys/fs/bpf/$XCT_TAG-rem
REM=$XCT_TAG-rem CLI=$XCT_TAG-cli
REM_PID=
T=$(mktemp -d /tmp/xcni-metrics.XXXXXX)
M=$T/manifests
SUBNET=10.95.0
PORT=9962
BG=() # helper processes, killed by PID on exit
mkdir -p "$M"

cni() { # cni COMMAND POD
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="met-$2" \
		CNI_NETNS="/var/run/netns/$XCT_TAG-$2" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <"$T/net.json"
}
ctl() { nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }

cleanup() {
	local p
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in a b; do
		[ -e "/var/run/netns/$XCT_TAG-$p" ] && cni DEL "$p" >/dev/null 2>&1
		ip netns del "$XCT_TAG-$p" 2>/dev/null
	done
	stop_xcnid
	[ -n "$REM_PID" ] && { kill "$REM_PID" 2>/dev/null; wait "$REM_PID" 2>/dev/null; }
	rm -rf "$PIN_ONCE" "$PIN_REM"
	ip netns del "$REM" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/net.json" <<EOF
{"cniVersion":"1.0.0","name":"xcni-metrics","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET.0/24"}]],"dataDir":"$T/ipam"}}
EOF


# scrape PATH OUT [TIMEOUT] [METHOD]: "STATUS CONTENT-TYPE" on stdout, the body in OUT.
cat >"$T/scrape.py" <<'EOF'
import http.client, sys
port, path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 3
c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
c.request(sys.argv[5] if len(sys.argv) > 5 else "GET", path)
r = c.getresponse()
open(out, "wb").write(r.read())
print(r.status, r.getheader("Content-Type"))
EOF
scrape() {
	nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 "$T/scrape.py" "$PORT" "$1" "$2" "${3:-3}" "${4:-GET}"
}
# scrape_ PATH: "STATUS FIRST-LINE-OF-BODY".
scrape_() {
	local st
	st=$(scrape "$1" "$T/page_") || return 1
	echo "${st%% *} $(head -1 "$T/page_")"
}
# status_is CODE PATH [TIMEOUT] [METHOD]: the answer's status is CODE.
status_is() {
	local got
	got=$(scrape "$2" "$T/page" "${3:-3}" "${4:-GET}") || return 1
	echo "$got"
	[ "${got%% *}" = "$1" ]
}
# val FILE SERIES: the sample's value (the series as printed, labels and all).
val() {
	[ -r "$1" ] || { echo missing; return; }
	awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "missing" }' "$1"
}
# delta SERIES: its growth from s0 to s1. A packet counter appears with its
# first packet: absent from a page that was read, it is 0.
delta() {
	local a b
	a=$(val "$T/s0" "$1") b=$(val "$T/s1" "$1")
	if [[ "$1" == xcni_packets_total* || "$1" == xcni_bytes_total* ]]; then
		[ "$a" = missing ] && [ -r "$T/s0" ] && a=0
		[ "$b" = missing ] && [ -r "$T/s1" ] && b=0
	fi
	[ "$a" = missing ] || [ "$b" = missing ] && { echo missing; return; }
	echo $((b - a))
}
pk() { echo "xcni_packets_total{reason=\"$1\",direction=\"$2\"}"; }
by() { echo "xcni_bytes_total{reason=\"$1\",direction=\"$2\"}"; }

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
check "xcnid started with --metrics-addr 127.0.0.1:$PORT" start_xcnid "$PIN" \
	--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" \
	--metrics-addr "127.0.0.1:$PORT" -v || { finish; exit 1; }
for p in a b; do
	ip netns add "$XCT_TAG-$p" && ip -n "$XCT_TAG-$p" link set lo up
	cni ADD "$p" >"$T/$p.json" || { not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
done
IP_A=$(jq -r '.ips[0].address' "$T/a.json" | cut -d/ -f1)
IP_B=$(jq -r '.ips[0].address' "$T/b.json" | cut -d/ -f1)

{
	k_ns x
	k_pod a x "$IP_A" 'pod: a'
	k_pod b x "$IP_B" 'pod: b'
	k_allow udp-from-b b a '{protocol: UDP, port: 7777}'
} | put state.yaml
check "pods and a policy applied" sync_gen
# The ARP for the gateway is done before the baseline, so the drops below are exact.
check "a pings b" ip netns exec "$XCT_TAG-a" ping -c1 -W2 "$IP_B"

scrape /metrics "$T/s0" >"$T/s0.status"
check "GET /metrics: 200, text/plain; version=0.0.4" \
	grep -q '^200 text/plain; version=0.0.4' "$T/s0.status"

# Every sample belongs to a family declared with HELP and TYPE, once; names and
# values are well formed; no series twice.
cat >"$T/lint.py" <<'EOF'
import re, sys
fam, seen, ok = {}, set(), True
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (\S+)$')
for n, l in enumerate(open(sys.argv[1]), 1):
    l = l.rstrip("\n")
    if l.startswith("# HELP ") or l.startswith("# TYPE "):
        kind, name = l.split()[1], l.split()[2]
        if (name, kind) in seen:
            print(f"line {n}: second {kind} for {name}"); ok = False
        seen.add((name, kind))
        if kind == "TYPE":
            fam[name] = l.split()[3]
        continue
    m = sample.match(l)
    if not m:
        print(f"line {n}: not a sample: {l!r}"); ok = False; continue
    name = m.group(1)
    # A histogram's samples are its family's name with _bucket, _sum or _count.
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name not in fam and fam.get(base) == "histogram":
        name = base
    if name not in fam or (name, "HELP") not in seen:
        print(f"line {n}: {name} has no TYPE/HELP before it"); ok = False
    if not name.startswith("xcni_") and not name.startswith("process_"):
        print(f"line {n}: {name} lacks the xcni_ (or Prometheus' process_) prefix"); ok = False
    float(m.group(5))
    key = l.rsplit(" ", 1)[0]
    if key in seen:
        print(f"line {n}: {key} twice"); ok = False
    seen.add(key)
sys.exit(0 if ok and fam else 1)
EOF
check "exposition format: HELP/TYPE per family, well-formed samples, no duplicates" \
	/usr/bin/python3 "$T/lint.py" "$T/s0"
if command -v promtool >/dev/null; then
	check "promtool check metrics: no problem" bash -c "promtool check metrics <'$T/s0'"
fi
# Packets and bytes by reason: a series only for a combination that counted
# something (184 all-zero series each before: 46 reasons x 4 directions).
zero_series() {
	awk '$1 ~ /^xcni_(packets|bytes)_total\{/ { n++; if ($2 == 0) { z++; print "zero: " $0 } }
		END { print n + 0, "series"; exit !(n > 0 && z == 0) }' "$T/s0"
}
check "xcni_packets_total and xcni_bytes_total: no all-zero series, some series" zero_series
build_info() {
	local abi
	abi=$(ctl config --json | jq -r .abi_version)
	grep '^xcni_build_info' "$T/s0"
	grep -qE "^xcni_build_info\{version=\"[^\"]+\",commit=\"([0-9a-f]{7,}|unknown)\",abi=\"$abi\",libbpf=\"[0-9]+\.[0-9]+\"\} 1$" "$T/s0"
}
check "xcni_build_info{version,commit,abi,libbpf} 1, the ABI the maps say" build_info
process_ok() {
	local pid
	pid=$(ip netns pids "$NODE" | while read -r p; do
		[ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$BUILD/xcnid")" ] && echo "$p"; done | head -1)
	/usr/bin/python3 - "$T/s0" "$pid" <<'PY'
import os, sys, time
v = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("process_")}
pid = int(sys.argv[2])
need = ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_open_fds", "process_max_fds", "process_start_time_seconds"]
miss = [n for n in need if n not in v]
assert not miss, f"missing {miss}"
fds = len(os.listdir(f"/proc/{pid}/fd"))
assert abs(v["process_open_fds"] - fds) <= 3, (v["process_open_fds"], fds)
rss = int(open(f"/proc/{pid}/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
assert 0.5 * rss <= v["process_resident_memory_bytes"] <= 2 * rss, (v["process_resident_memory_bytes"], rss)
assert time.time() - 3600 < v["process_start_time_seconds"] <= time.time() + 1, v["process_start_time_seconds"]
assert 0 < v["process_cpu_seconds_total"] < 3600, v
print({k: v[k] for k in need})
PY
}
check "process_*: cpu seconds, resident and virtual memory, open/max fds, start time (as /proc has them)" process_ok
check "GET /healthz: 200 ok" test "$(scrape_ /healthz)" = "200 ok"
check "GET /readyz: 200 ok (pinned, attached, the manifests' generation applied)" \
	test "$(scrape_ /readyz)" = "200 ok"
status_ok() {
	ctl status >"$T/status.txt"; local rc=$?
	cat "$T/status.txt"
	[ $rc = 0 ] && grep -q '^Verdict: *OK' "$T/status.txt"
}
check "xcnictl status against this agent: OK, exit 0" status_ok

# Known traffic: 5 pings a -> b (forwarded), 3 pings to an address of the pod
# CIDR nobody has (drop-unknown-dst), 4 UDP flows b -> a:7777 (allowed by the
# policy), 2 UDP datagrams b -> a:7778 (denied: drop-policy-ingress).
ip netns exec "$XCT_TAG-a" ping -c5 -i 0.05 -W2 "$IP_B" >/dev/null
ip netns exec "$XCT_TAG-a" ping -c3 -i 0.05 -W0.3 "$SUBNET.250" >/dev/null 2>&1
ip netns exec "$XCT_TAG-b" /usr/bin/python3 -c '
import socket, sys
a = sys.argv[1]
for i in range(4):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 41000 + i))
    s.sendto(b"flow", (a, 7777))
    s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2):
    s.sendto(b"denied", (a, 7778))
' "$IP_A"
# No pause: every page is rendered after its request came (no page served again).
scrape /metrics "$T/s1" >/dev/null

d=$(delta "$(pk drop-unknown-dst from-pod)")
check "3 pings to $SUBNET.250: drop-unknown-dst from-pod grew by exactly 3 (got $d)" test "$d" = 3
d=$(delta "$(by drop-unknown-dst from-pod)")
check "... and by exactly 3 x 98 bytes (got $d)" test "$d" = 294
d=$(delta "$(pk fwd-local from-pod)")
check "5 pings a -> b: fwd-local from-pod grew by >= 5 (got $d)" test "$d" -ge 5
d=$(delta "$(pk fwd-reply from-pod)")
check "... and the replies, fwd-reply from-pod, by >= 5 (got $d)" test "$d" -ge 5
d=$(delta "$(by fwd-local from-pod)")
check "... fwd-local bytes by >= 5 x 98 (got $d)" test "$d" -ge 490
d=$(delta xcni_policy_allowed_flows_total)
check "4 UDP flows b -> a:7777: xcni_policy_allowed_flows_total grew by exactly 4 (got $d)" test "$d" = 4
pf() { echo "xcni_policy_flows_total{tier=\"$1\",action=\"$2\",direction=\"$3\"}"; }
d=$(delta "$(pf networkpolicy accept ingress)")
check "... and xcni_policy_flows_total{networkpolicy,accept,ingress} by exactly 4 (got $d)" test "$d" = 4
# Only NetworkPolicy isolates a: its denials are no entries, counted as drops alone.
d=$(for c in "networkpolicy deny ingress" "networkpolicy accept egress" "admin deny ingress" "default accept ingress"; do
	# shellcheck disable=SC2086 # "TIER ACTION DIRECTION"
	delta "$(pf $c)"
done | tr '\n' ' ')
check "... the other cells stay (networkpolicy deny, egress, admin, default: got $d)" test "$d" = "0 0 0 0 "
pol_drops() {
	local f=$1
	[ -r "$f" ] && awk '$1 ~ /^xcni_packets_total\{reason="drop-policy-ingress",/ { s += $2 } END { print s + 0 }' "$f"
}
a=$(pol_drops "$T/s0") b=$(pol_drops "$T/s1")
d=missing
[ -n "$a" ] && [ -n "$b" ] && d=$((b - a))
check "2 datagrams b -> a:7778: drop-policy-ingress grew by exactly 2 (got $d)" test "$d" = 2

maps_sane() {
	local m e x
	for m in endpoints ct ipcache polep policy polrange polcidr tunnel prefilter identity podname; do
		e=$(val "$T/s1" "xcni_map_entries{map=\"$m\"}")
		x=$(val "$T/s1" "xcni_map_max_entries{map=\"$m\"}")
		[ "$e" != missing ] && [ "$x" != missing ] && [ "$x" -gt 0 ] && [ "$e" -le "$x" ] ||
			{ echo "map $m: entries $e, max $x"; return 1; }
	done
}
check "map pressure: entries and max_entries for every map, entries <= max" maps_sane
check "endpoints: xcni_endpoints 2 and map_entries{endpoints} 2" \
	test "$(val "$T/s1" xcni_endpoints)-$(val "$T/s1" 'xcni_map_entries{map="endpoints"}')" = 2-2
# xcni_ct sized from the node (agent/pins.c map_sizes_node): 0.05% of MemTotal
# at 152 bytes an entry, at most 256 flows x 110 pods, a power of two in 16,384..1,048,576.
ct_want() {
	awk '/^MemTotal:/ { n = int($2 * 1024 / 2000 / 152); if (n > 28160) n = 28160
		for (p = 1; p < n; p *= 2); print (p < 16384 ? 16384 : p > 1048576 ? 1048576 : p) }' /proc/meminfo
}
check "ct: max_entries sized from the node ($(ct_want))" \
	test "$(val "$T/s1" 'xcni_map_max_entries{map="ct"}')" = "$(ct_want)"
maglev_want() { # 0.5% of the memory in Maglev tables (16,381 ids in 8-byte slots), 64 to 4,096
	awk '/^MemTotal:/ { n = int($2 * 1024 / 200 / (16381 * 8))
		for (p = 1; p * 2 <= n; p *= 2); print (p < 64 ? 64 : p > 4096 ? 4096 : p) }' /proc/meminfo
}
check "maglev: max_entries sized from the node ($(maglev_want))" \
	test "$(bpftool -j map show pinned "$PIN/xcni_maglev" | jq .max_entries)" = "$(maglev_want)"
# What xcni costs the node in one place (issue 67): every pinned map's kernel
# memory (bytes_memlock, as bpftool shows it), their sum, the agent's RSS.
mem_sums() {
	local maps rss sum bt
	maps=$(val "$T/s1" 'xcni_memory_bytes{kind="maps"}')
	rss=$(val "$T/s1" 'xcni_memory_bytes{kind="rss"}')
	sum=$(awk '$1 ~ /^xcni_map_bytes\{/ { s += $2 } END { print s + 0 }' "$T/s1")
	bt=$(bpftool -j map show pinned "$PIN/xcni_ct" | jq .bytes_memlock)
	echo "maps $maps (sum of xcni_map_bytes $sum), rss $rss, ct $(val "$T/s1" 'xcni_map_bytes{map="ct"}') (bpftool $bt)"
	[ "$maps" = "$sum" ] && [ "$maps" -gt 1048576 ] && [ "$rss" -gt 1048576 ] &&
		[ "$(val "$T/s1" 'xcni_map_bytes{map="ct"}')" = "$bt" ] &&
		[ "$(val "$T/s1" 'xcni_map_bytes{map="config"}')" != missing ]
}
check "memory: xcni_memory_bytes maps (the sum of xcni_map_bytes, arrays too) and rss; ct's as bpftool's" mem_sums
ct_live() {
	local live all
	live=$(awk '$1 ~ /^xcni_ct_entries\{/ { s += $2 } END { print s + 0 }' "$T/s1")
	all=$(val "$T/s1" 'xcni_map_entries{map="ct"}')
	echo "live $live, in the map $all"
	[ "$live" -ge 5 ] && [ "$live" -le "$all" ]
}
check "ct: the ping and the 4 UDP flows are live entries, no more than the map holds" ct_live
check "podname: both pods" test "$(val "$T/s1" 'xcni_map_entries{map="podname"}')" = 2
check "agent: applied generation $MANIFEST_GEN, 1 policy, 2 identities" test \
	"$(val "$T/s1" xcni_applied_generation)-$(val "$T/s1" xcni_policies)-$(val "$T/s1" xcni_identities)" = "$MANIFEST_GEN-1-2"
check "agent: the policy revision counts the syncs (at least one), as xcnictl config shows it" \
	test "$(val "$T/s1" xcni_policy_revision)" -ge 1 -a \
	"$(val "$T/s1" xcni_policy_revision)" = "$(ctl config --json | jq -r .policy_rev)"
check "agent: node and pod CIDR in xcni_agent_info" \
	grep -q "^xcni_agent_info{node=\"n1\",pod_cidr=\"$SUBNET.0/24\"," "$T/s1"

# -- traces of forwarded packets (off by default), and the events' budget
# mon_during FILE CMD...: monitor --type trace --json runs while CMD sends traffic.
mon_during() {
	local out=$1 pid; shift
	ctl monitor --type trace --pod x/a --json --timeout-ms 2500 >"$out" 2>&1 &
	pid=$!
	mon_subscribed "$pid" "$NODE"
	"$@" >/dev/null 2>&1
	wait "$pid"
}
mon_during "$T/trace-off.json" ip netns exec "$XCT_TAG-a" ping -c3 -i 0.2 -W1 "$IP_B"
check "traces off (default): monitor --type trace shows nothing for 3 pings" \
	bash -c "[ ! -s '$T/trace-off.json' ] || { cat '$T/trace-off.json'; exit 1; }"
check "xcnictl config set trace-sample 1" ctl config set trace-sample 1
mon_during "$T/trace-on.json" ip netns exec "$XCT_TAG-a" ping -c3 -i 0.2 -W1 "$IP_B"
traced() {
	python3 -c '
import json, sys
a, b = sys.argv[1], sys.argv[2]
ev = [json.loads(l) for l in open(sys.argv[3])]
req = [e for e in ev if (e["saddr"], e["daddr"], e["reason"], e["direction"]) == (a, b, "fwd-local", "from-pod")]
rep = [e for e in ev if (e["saddr"], e["daddr"], e["reason"]) == (b, a, "fwd-reply")]
ok = all(e["type"] == "trace" and e["proto"] == "icmp" for e in ev) and len(req) >= 3 and len(rep) >= 3
sys.exit(0 if ok else 1)' "$IP_A" "$IP_B" "$1" || { cat "$1"; return 1; }
}
check "traces on: the pings as fwd-local from-pod, the replies as fwd-reply, nothing else" traced "$T/trace-on.json"
# mon_one FILE ARGS...: monitor --type trace --count 1 ARGS while a pings b.
mon_one() {
	local out=$1 p; shift
	ctl monitor --type trace --count 1 --timeout-ms 3000 "$@" >"$out" 2>&1 &
	p=$!
	mon_subscribed "$p" "$NODE"
	ip netns exec "$XCT_TAG-a" ping -c2 -i 0.2 -W1 "$IP_B" >/dev/null
	wait "$p"
}
mon_one "$T/trace.txt" -o wide
check "monitor -o wide shows the trace type and the FWD reason" bash -c \
	"grep -Eq '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{6}Z +fwd-(local|reply) +(from-pod|to-pod) .* trace +- +[0-9]+ +[0-9]+ +- +- +- *$' '$T/trace.txt' || { cat '$T/trace.txt'; exit 1; }"
mon_one "$T/trace-mono.txt" --time mono -o wide
check "monitor --time mono: TIME as seconds since boot" bash -c \
	"grep -Eq '^[0-9]+\.[0-9]{6} +fwd-(local|reply) ' '$T/trace-mono.txt' || { cat '$T/trace-mono.txt'; exit 1; }"
check "xcnictl config set trace-sample 0" ctl config set trace-sample 0
mon_during "$T/trace-off2.json" ip netns exec "$XCT_TAG-a" ping -c3 -i 0.2 -W1 "$IP_B"
check "traces off again: nothing" bash -c "[ ! -s '$T/trace-off2.json' ] || { cat '$T/trace-off2.json'; exit 1; }"
# 60 drops at a budget of 1 event per CPU per second: most are lost, and counted.
scrape /metrics "$T/e0" >/dev/null
check "xcnictl config set events-rate 1" ctl config set events-rate 1
ip netns exec "$XCT_TAG-a" ping -c60 -i 0.005 -W1 "$SUBNET.250" >/dev/null 2>&1
scrape /metrics "$T/e1" >/dev/null
ctl config set events-rate 10000
a=$(val "$T/e0" 'xcni_events_lost_total{cause="rate-limit"}') b=$(val "$T/e1" 'xcni_events_lost_total{cause="rate-limit"}')
d=missing
[ "$a" != missing ] && [ "$b" != missing ] && d=$((b - a))
check "60 drops over a budget of 1/s: xcni_events_lost_total{cause=\"rate-limit\"} grew by >= 50 (got $d)" \
	test "$d" != missing -a "$d" -ge 50 2>/dev/null
ev0=$(val "$T/e0" xcni_events_total) ev1=$(val "$T/e1" xcni_events_total)
check "xcni_events_total counts what was reported: the 60 drops' events within the budget ($ev0 -> $ev1)" \
	test "$ev1" != missing -a "$ev0" != missing -a "$((ev1 - ev0))" -gt 0 2>/dev/null
check "xcni_events_rate and xcni_trace_sample in the page" \
	test "$(val "$T/e1" xcni_events_rate)" = 1 -a "$(val "$T/e1" xcni_trace_sample)" = 0
lost_row() { ctl metrics | grep -E '^events-lost-rate-limit +- +[1-9]'; }
check "xcnictl metrics: events-lost-rate-limit" lost_row

check "GET /nope: 404" status_is 404 /nope
check "POST /metrics: 405" status_is 405 /metrics 3 POST

# Scrapes at once: the agent renders at most a tenth of its time, so those that
# come right after a render wait for the next one; each is answered in full.
at_once() {
	nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 -c '
import http.client, sys, threading
port, bad = int(sys.argv[1]), []
def one(i):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("HEAD" if i == 0 else "GET", "/metrics")
        r = c.getresponse()
        body = r.read()
        whole = body == b"" if i == 0 else body.rstrip().split(b"\n")[-1].startswith(b"xcni_scrape_duration_seconds ")
        if r.status != 200 or not whole:
            bad.append(f"{i}: {r.status}, {len(body)} bytes")
    except OSError as e:
        bad.append(f"{i}: {e}")
ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("\n".join(bad))
sys.exit(1 if bad else 0)' "$PORT"
}
check "8 scrapes at once (one a HEAD): each answered 200 with a whole page" at_once

# held_open NAME SECONDS: $T/NAME.py in the node against PORT, in the
# background, waited for until it says "open" (its output in $T/NAME.out);
# it holds its connections SECONDS.
held_open() {
	nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 "$T/$1.py" "$PORT" "$2" >"$T/$1.out" 2>&1 &
	BG+=($!)
	for _ in $(seq 50); do grep -q open "$T/$1.out" && break; sleep 0.1; done
}

# Clients that stall: 20 connections (more than the server holds) that send
# nothing, one that sends half a request, one that sends 16 KiB of garbage.
cat >"$T/stall.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
conns[0].sendall(b"GET /metr")
print("open", flush=True)
time.sleep(float(sys.argv[2]))
EOF
held_open stall 8
check "20 idle connections open" grep -q open "$T/stall.out"
check "scrape within 1 s while they stall the server" status_is 200 /metrics 1
garbage() {
	nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
try:
    s.sendall(b"x" * 16384)
except OSError:
    pass  # the server may close as soon as it has had enough
print(s.recv(100).split(b"\r\n")[0].decode())' "$PORT"
}
# A request line that never ends: 414 (URI Too Long) or 431 (header fields) from the library.
garbage_4xx() { garbage | tee /dev/stderr | grep -Eq '^HTTP/1.1 (414|431) '; }
check "16 KiB of garbage: 414 or 431" garbage_4xx
put more.yaml <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: y}
EOF
check "the agent still applies cluster state meanwhile" sync_gen
check "a page within 1 s after all that" status_is 200 /metrics 1

# -- the HTTP server's bounds (libmicrohttpd on the agent's loop). Clients come
# from other loopback addresses (127.0.0.2-6: all of 127/8 is lo's) so that one
# address's flood and another's requests can be told apart.
# raw SRC REQUEST [BODY_BYTES]: REQUEST (printf escapes) sent from SRC; the
# status line and headers of the answer, then "closed after S s".
cat >"$T/raw.py" <<'EOF'
import socket, sys, time
port, src = int(sys.argv[1]), sys.argv[2]
req = sys.argv[3].encode().decode("unicode_escape").encode("latin1")
extra = int(sys.argv[4]) if len(sys.argv) > 4 else 0
s = socket.socket()
s.settimeout(5)
s.bind((src, 0))
s.connect(("127.0.0.1", port))
t0 = time.monotonic()
try:
    s.sendall(req + b"x" * extra)
except OSError:
    pass  # the server may answer and close before taking it all
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except OSError:
    pass
print("\n".join(l.decode(errors="replace") for l in data.split(b"\r\n\r\n")[0].split(b"\r\n")))
print(f"closed after {time.monotonic() - t0:.1f} s")
EOF
raw() { nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 "$T/raw.py" "$PORT" "$@"; }
# answers CODE SRC REQUEST [BODY_BYTES]: the status is CODE, and came within 1 s.
answers() {
	local code=$1; shift
	raw "$@" >"$T/raw.out"
	cat "$T/raw.out"
	head -1 "$T/raw.out" | grep -q "^HTTP/1.1 $code " &&
		awk '/^closed after/ { exit !($3 < 1) }' "$T/raw.out"
}
put_405() {
	answers 405 127.0.0.2 'PUT /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n' &&
		grep -q '^Allow: GET, HEAD' "$T/raw.out"
}
check "PUT /metrics: 405, Allow: GET, HEAD" put_405
check "DELETE /metrics: 405" answers 405 127.0.0.2 'DELETE /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
check "HEAD /nope: 404" answers 404 127.0.0.2 'HEAD /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
exact_paths() {
	answers 404 127.0.0.2 'GET /metrics/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' &&
		answers 404 127.0.0.2 'GET //metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
}
check "GET /metrics/ and //metrics: 404 (exact paths)" exact_paths
check "GET /metrics?x=1: 200 (a query string changes nothing)" \
	answers 200 127.0.0.2 'GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
check "GET /metrics with a body: 413" \
	answers 413 127.0.0.2 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello'
check "POST /metrics announcing 100 MB: 405 at once, the body not waited for" \
	answers 405 127.0.0.2 'POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n' 65536
check "16 KiB of headers: 431" answers 431 127.0.0.2 \
	"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n$(for i in $(seq 64); do printf 'X-Pad-%02d: %0250d\\r\\n' "$i" 0; done)\r\n"

# A flood from one address: 4 connections from 127.0.0.2 first, then 60 from
# 127.0.0.1. The server keeps at most 8 of one address (pushing out its own
# oldest), so the flood costs the other address nothing: its connections are
# still open and answered.
cat >"$T/flood.py" <<'EOF'
import socket, subprocess, sys, time
port = int(sys.argv[1])
def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s
keep = [conn("127.0.0.2") for _ in range(4)]
flood = []
for _ in range(60):
    try:
        flood.append(conn("127.0.0.1"))
    except OSError:
        pass
time.sleep(0.5)
out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                     capture_output=True, text=True).stdout.split("\n")
peers = [l.split()[-1].rsplit(":", 1)[0] for l in out if l.strip()]
print("held", len(peers), "from-1", peers.count("127.0.0.1"), "from-2", peers.count("127.0.0.2"), flush=True)
keep[0].settimeout(2)
keep[0].sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
print("keep", keep[0].recv(100).split(b"\r\n")[0].decode(), flush=True)
print("open", flush=True)
time.sleep(float(sys.argv[2]))
EOF
held_open flood 4
cat "$T/flood.out"
held=($(grep '^held' "$T/flood.out"))
check "60 connections from 127.0.0.1: the server holds at most 8 of them (got ${held[3]:-none})" \
	test "${held[3]:-99}" -le 8
check "... and the 4 from 127.0.0.2 that came first (got ${held[5]:-none}), 64 at most in all (got ${held[1]:-none})" \
	test "${held[5]:-0}" = 4 -a "${held[1]:-99}" -le 64
check "... one of those answered 200 during the flood" grep -q '^keep HTTP/1.1 200' "$T/flood.out"
check "... a scrape from a third address within 1 s" \
	answers 200 127.0.0.3 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
put flood.yaml <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: flood}
EOF
check "... and the agent applies cluster state meanwhile" sync_gen

# A local process churning idle connections from 200 loopback addresses (any
# process may bind any of 127/8: per-address limits cannot single it out),
# while a scraper on 127.0.0.1 scrapes 10 times: each answered, within 1 s.
cat >"$T/churn.py" <<'EOF'
import socket, sys, threading, time, http.client
port, stop, made = int(sys.argv[1]), [False], [0]
def churn():
    held = []
    while not stop[0]:
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((f"127.0.0.{2 + made[0] % 200}", 0))
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        held.append(s)
        made[0] += 1
        if len(held) > 200:
            held.pop(0).close()
        time.sleep(0.0002)
t = threading.Thread(target=churn)
t.start()
time.sleep(0.5)
bad, slowest = [], 0
for i in range(10):
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or b"xcni_scrape_duration_seconds" not in body:
            bad.append(f"{i}: {r.status}")
    except OSError as e:
        bad.append(f"{i}: {e}")
    slowest = max(slowest, time.monotonic() - t0)
stop[0] = True
t.join()
print(f"churned {made[0]} connections; scrapes failed: {bad}; slowest {slowest:.2f} s")
sys.exit(1 if bad or slowest > 5 or made[0] < 1000 else 0)
EOF
check "a process churning idle connections from 200 loopback addresses: 10 scrapes from 127.0.0.1 answered (each within 5 s: a liveness bound, not a speed)" \
	nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 "$T/churn.py" "$PORT"

# Slowloris: a request trickled a byte every 0.2 s never finishes. The library's
# idle timeout would never fire; the deadline from accept for a request to
# arrive (1 s) closes it, and others are answered meanwhile.
cat >"$T/slow.py" <<'EOF'
import socket, select, sys, time
s = socket.socket()
s.bind(("127.0.0.4", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
t0 = time.monotonic()
req = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 4000
for b in req:
    if time.monotonic() - t0 > 10:
        break  # still open: no deadline closed it (a failure; the check says so)
    try:
        s.send(bytes([b]))
    except OSError:
        break
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        try:
            if not s.recv(100):
                break
        except OSError:
            break
print(f"closed after {time.monotonic() - t0:.1f} s", flush=True)
EOF
nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 "$T/slow.py" "$PORT" >"$T/slow.out" 2>&1 &
slow=$!
BG+=($slow)
sleep 1
check "a slowloris client trickling: a scrape from another address within 1 s" \
	answers 200 127.0.0.5 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
wait "$slow"
cat "$T/slow.out"
check "the slowloris connection closed 1 s after it opened (0.8-2.5 s): no whole request by then" \
	awk '/^closed after/ { f = 1; ok = $3 >= 0.8 && $3 <= 2.5 } END { exit !(f && ok) }' "$T/slow.out"

# Names (DNS rebinding): only a Host that names this server is answered; a page
# in an operator's browser that pointed its own DNS name at 127.0.0.1 is refused.
host_is() { # host_is CODE HOST: GET /metrics with that Host, from 127.0.0.2
	answers "$1" 127.0.0.2 "GET /metrics HTTP/1.1\\r\\nHost: $2\\r\\n\\r\\n"
}
check "Host: evil.example: 421" host_is 421 evil.example
check "Host: evil.example:$PORT: 421" host_is 421 "evil.example:$PORT"
check "Host: 127.0.0.1.nip.io:$PORT (resolves to 127.0.0.1): 421" host_is 421 "127.0.0.1.nip.io:$PORT"
check "Host: 127.0.0.1:$PORT: 200" host_is 200 "127.0.0.1:$PORT"
check "Host: localhost: 200" host_is 200 localhost
check "Host: [::1]:$PORT: 200" host_is 200 "[::1]:$PORT"
check "HTTP/1.0 without Host from loopback: 200" \
	answers 200 127.0.0.2 'GET /metrics HTTP/1.0\r\n\r\n'
misdirected_text() {
	nsenter --net="/var/run/netns/$NODE" curl -s -H 'Host: evil.example' "http://127.0.0.1:$PORT/metrics" |
		grep -qx "misdirected request: the Host header names another server; this one answers to 127.0.0.1:$PORT, localhost, 127.0.0.1 or \[::1\]"
}
check "... the 421 says why, naming the names it answers to" misdirected_text

# Requests the server refuses cost the agent no render: 300 of them (404, 405,
# 413, 414) take less CPU of xcnid than a quarter of what 300 renders of the page
# cost (xcni_scrape_duration_seconds: the last page's own figure).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$XCNID_PID/stat"; }
refused_cost() {
	local c0 c1 render
	scrape /metrics "$T/cost" >/dev/null || return 1
	render=$(val "$T/cost" xcni_scrape_duration_seconds)
	c0=$(cpu_ticks)
	nsenter --net="/var/run/netns/$NODE" /usr/bin/python3 -c '
import socket, sys
reqs = [b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc", b"GET /" + b"a" * 9000]
bad = 0
for i in range(300):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    s.sendall(reqs[i % 4])
    if not s.recv(100).startswith(b"HTTP/1.1 4"):
        bad += 1
    s.close()
sys.exit(1 if bad else 0)' "$PORT" || { echo "an answer was not a 4xx"; return 1; }
	c1=$(cpu_ticks)
	echo "xcnid CPU for 300 refused requests: $((c1 - c0)) ticks of 1/$(getconf CLK_TCK) s; one render: $render s" >"$T/cost.txt"
	awk -v c=$((c1 - c0)) -v r="$render" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { exit !(c / hz < 300 * r / 4) }'
}
check "300 refused requests (4xx): xcnid CPU < 1/4 of 300 renders" refused_cost
sed "s/^/# /" "$T/cost.txt" 2>/dev/null

# The address: loopback unless told otherwise.
for a in 0.0.0.0:$PORT :$PORT "[::]:$PORT" 10.95.0.1:$PORT; do
	nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --metrics-addr "$a" >/dev/null 2>"$T/bad.log"
	rc=$?
	check "--metrics-addr $a without --http-allow-remote: exit 2, naming the flag" \
		bash -c "test $rc = 2 && grep -q -- '--http-allow-remote' $T/bad.log"
done
# With --http-allow-remote: a second agent in its own netns serves 0.0.0.0,
# and a client in another netns over a veth reads the page.
#   <tag>-rem 10.93.0.1/30 (xcnid --metrics-addr 0.0.0.0:PORT --http-allow-remote)
#     ──veth── 10.93.0.2/30 <tag>-cli (python3 http.client)
ip netns add "$REM" && ip netns add "$CLI" &&
	ip -n "$REM" link set lo up && ip -n "$CLI" link set lo up &&
	ip link add "$XCT_TAG-r" netns "$REM" type veth peer name "$XCT_TAG-c" netns "$CLI" &&
	ip -n "$REM" addr add 10.93.0.1/30 dev "$XCT_TAG-r" && ip -n "$REM" link set "$XCT_TAG-r" up &&
	ip -n "$CLI" addr add 10.93.0.2/30 dev "$XCT_TAG-c" && ip -n "$CLI" link set "$XCT_TAG-c" up
# Its cluster state from an API server that never answers (nothing listens
# on 127.0.0.1:1 in its netns): alive, never ready.
cat >"$T/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
KC
nsenter --net="/var/run/netns/$REM" "$BUILD/xcnid" --pin-dir "$PIN_REM" --pod-cidr 10.94.1.0/24 \
	--node-name n2 --metrics-addr "0.0.0.0:$PORT" --http-allow-remote \
	--kubeconfig "$T/kubeconfig" >"$T/rem.log" 2>&1 &
REM_PID=$!
for _ in $(seq 100); do grep -q 'xcnid: ready' "$T/rem.log" && break; sleep 0.1; done
remote_scrape() {
	nsenter --net="/var/run/netns/$CLI" /usr/bin/python3 -c '
import http.client, sys
c = http.client.HTTPConnection("10.93.0.1", int(sys.argv[1]), timeout=3)
c.request("GET", "/metrics")
r = c.getresponse()
body = r.read()
print(r.status, len(body))
sys.exit(0 if r.status == 200 and b"xcni_agent_info{node=\"n2\"" in body else 1)' "$PORT" || { cat "$T/rem.log"; return 1; }
}
check "--metrics-addr 0.0.0.0:$PORT --http-allow-remote: a client in another netns reads the page" remote_scrape
remote_raw() { # remote_raw REQUEST: the status line of the answer to a client in <tag>-cli
	nsenter --net="/var/run/netns/$CLI" /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("10.93.0.1", int(sys.argv[1])), timeout=3)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin1"))
print(s.recv(100).split(b"\r\n")[0].decode())' "$PORT" "$1"
}
remote_is() { local got; got=$(remote_raw "$2"); echo "$got"; [[ "$got" == "HTTP/1."?" $1 "* ]]; }
check "an agent whose API server never answers: GET /healthz 200 (its loop runs)" \
	remote_is 200 "GET /healthz HTTP/1.1\\r\\nHost: 10.93.0.1:$PORT\\r\\n\\r\\n"
check "... GET /readyz 503 (no generation applied)" \
	remote_is 503 "GET /readyz HTTP/1.1\\r\\nHost: 10.93.0.1:$PORT\\r\\n\\r\\n"
rem_status() {
	nsenter --net="/var/run/netns/$REM" "$BUILD/xcnictl" --pin-dir "$PIN_REM" status >"$T/rstatus.txt" 2>&1
	local rc=$?
	cat "$T/rstatus.txt"
	[ $rc = 1 ] && grep -q '^Verdict: *DEGRADED.*not ready' "$T/rstatus.txt"
}
check "... xcnictl status: DEGRADED naming readiness, exit 1" rem_status
check "... Host: 10.93.0.1:$PORT (an address of a wildcard listener): 200" \
	remote_is 200 "GET /metrics HTTP/1.1\\r\\nHost: 10.93.0.1:$PORT\\r\\n\\r\\n"
check "... Host: node2.evil.example: 421" \
	remote_is 421 "GET /metrics HTTP/1.1\\r\\nHost: node2.evil.example\\r\\n\\r\\n"
check "... HTTP/1.0 without Host from off the node: 421 (loopback only)" \
	remote_is 421 "GET /metrics HTTP/1.0\\r\\n\\r\\n"
kill "$REM_PID" 2>/dev/null
wait "$REM_PID" 2>/dev/null
REM_PID=

# Logs: JSON, one object per line, every line.
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN_ONCE" --pod-cidr 10.94.0.0/24 \
	--node-name n1 --once -v -v --log-format json >/dev/null 2>"$T/json.log"
rc=$?
check "xcnid --log-format json -v -v --once exits 0" test "$rc" = 0
check "each stderr line is a JSON object: ts (RFC 3339, ms), level, msg, component" \
	/usr/bin/python3 -c '
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 3, f"only {len(lines)} lines"
for l in lines:
    o = json.loads(l)
    assert set(o) == {"ts", "level", "msg", "component"}, o
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]), o["ts"]
    assert o["level"] in ("error", "warn", "info", "debug"), o
    assert o["component"] == "xcnid" and isinstance(o["msg"], str) and o["msg"], o
print(len(lines), "lines")' "$T/json.log"
rm -rf "$PIN_ONCE"
# --map-max takes lists (the lab's suites size every big map in one option).
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN_ONCE" --pod-cidr 10.94.0.0/24 \
	--node-name n1 --once --map-max xcni_ct=4096,xcni_affinity=2048,xcni_ct6=8192 \
	--map-max xcni_ct6=1024 >/dev/null 2>"$T/mm.log"
rc=$?
# Read whole first: bpftool writes line by line, and under pipefail a grep -q
# that quits at its match fails the pipe when bpftool writes its next line.
map_sized() { local s; s=$(bpftool map show pinned "$PIN_ONCE/$1") && grep -q "max_entries $2 " <<<"$s"; }
check "--map-max xcni_ct=4096,xcni_affinity=2048,xcni_ct6=8192 --map-max xcni_ct6=1024: exit 0" \
	test "$rc" = 0
check "... xcni_ct holds 4096" map_sized xcni_ct 4096
check "... xcni_affinity 2048" map_sized xcni_affinity 2048
check "... xcni_ct6 1024: a later size for a map wins" map_sized xcni_ct6 1024
rm -rf "$PIN_ONCE"
for bad in "xcni_ct=4096,,xcni_ct6=1:''" "xcni_ct=4096,xcni_ct6=0:'xcni_ct6=0'" "xcni_ct=4096,:''"; do
	nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN_ONCE" \
		--pod-cidr 10.94.0.0/24 --node-name n1 --once --map-max "${bad%:*}" >/dev/null 2>"$T/bad.log"
	rc=$?
	check "--map-max ${bad%:*}: exit 2 naming the item ${bad##*:}, nothing pinned" \
		bash -c "test $rc = 2 && grep -qF -- \"--map-max ${bad%:*}: ${bad##*:} is not MAP=N\" $T/bad.log && ! test -e $PIN_ONCE"
done
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --log-format yaml >/dev/null 2>"$T/bad.log"
rc=$?
check "--log-format yaml: exit 2, says text or json" \
	bash -c "test $rc = 2 && grep -q 'text or json' $T/bad.log"
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --metrics-addr localhost >/dev/null 2>"$T/bad.log"
rc=$?
check "--metrics-addr without a port: exit 2" test "$rc" = 2

finish
