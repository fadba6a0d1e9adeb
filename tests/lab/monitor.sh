#!/bin/bash
# `xcnictl monitor` as a Hubble user reads `hubble observe`, and the views'
# default tables narrow enough for a terminal (issue 53 item 5): on two nodes,
# monitor --node all names the pods on both ends and the node of each event,
# takes flows' words (--from-pod, --to-pod, -t, --verdict), and a drop from
# the overlay names the local pod's endpoint (not EP-ID 0); every default row
# of monitor, flows, ct list and service list fits 120 columns, and ct list
# names a translated flow's backend by its address.
#
#   n1: x/a (app=web; 80/tcp, 81/udp)   x/b (role=friend)
#   n2: x/c (role=stranger)
#   NetworkPolicy x/web-ingress: app=web takes 80/TCP and 81/UDP from role=friend
#   Service x/web 8080/tcp -> x/a:80 (xcnid translating: --kube-proxy none)
#   Service x/echo NodePort 30081/udp -> x/b:81
#
#   x/b -> x/a 81/udp from 40001: allowed (a verdict event on n1)
#   x/c -> x/a 81/udp from 40002: dropped on n1, coming from the overlay
#   x/b -> svc x/web 8080/tcp from 40003: translated on n1 to x/a:80 (at connect)
#   outside 198.51.100.1 -> n1:30081/udp from 40004: translated on n1 (tc) to x/b:81
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite monitor
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
WIDTH=120

check "lab up --nodes 2 --kube-proxy none" lab up --nodes 2 --kube-proxy none || { finish; exit 1; }
remember_pids
{
	y_ns x
	y_pod a x n1 'app: web' '{containerPort: 80, name: http}, {containerPort: 81, protocol: UDP}'
	y_pod b x n1 'role: friend' '{containerPort: 81, protocol: UDP}'
	y_pod c x n2 'role: stranger'
	y_svc web x 'app: web' '{name: http, port: 8080, targetPort: 80, protocol: TCP}'
	y_svc echo x 'role: friend' '{name: echo, port: 8181, targetPort: 81, nodePort: 30081, protocol: UDP}' NodePort
	y_webpol
} >"$T/pods.yaml"
check "apply x/a, x/b (n1), x/c (n2), Services x/web and x/echo, NetworkPolicy x/web-ingress" lab apply -f "$T/pods.yaml"
remember_pids
ip_of() { lab get --json | jq_ "[p for p in d['pods'] if p['name'] == '$1'][0]['ip']"; }
A4=$(ip_of a) B4=$(ip_of b) C4=$(ip_of c)
CIP=$(in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" service list -o json | jq_ "[s['frontend'] for s in d if s.get('service') == 'x/web'][0]" 2>/dev/null)
diag "x/a $A4, x/b $B4, x/c $C4; x/web ${CIP:-?}"
EPA=$(in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" endpoint list -o json | jq_ "[e['ep_id'] for e in d if e['ip'] == '$A4'][0]")
diag "x/a's endpoint on n1: $EPA"

traffic() {
	udp_echo x/b 40001 "$A4" 81 2 50 0.3 >/dev/null 2>&1
	udp_echo x/c 40002 "$A4" 81 2 50 0.3 >/dev/null 2>&1
	[ -n "$CIP" ] && lab exec x/b -- /usr/bin/python3 "$LAB_TESTS/tcp_hello.py" "${CIP%%:*}" 8080 40003 >/dev/null 2>&1
	nsenter --net=/run/netns/xcl-out /usr/bin/python3 "$LAB_TESTS/udp_echo.py" 40004 192.168.77.1 30081 2 50 0.3 >/dev/null 2>&1
	return 0
}
# mon NAME ARGS...: monitor --node all ARGS into $T/NAME while the traffic runs
# (several monitors at once: each subscribes to every node's xcnid).
mon_start() { local name=$1; shift; "$XCNICTL" --node all monitor --timeout-ms 6000 "$@" >"$T/$name" 2>"$T/$name.err" & MONS+=("$!"); }
MONS=()
mon_start all.json -o json
mon_start all.txt
mon_start wide.txt -o wide
mon_start frompod.json -o json --from-pod x/c
mon_start todrop.json -o json --to-pod x/a -t drop
mon_start allowed.json -o json --verdict allowed --from-pod x/b --to-port 81
sleep 1
traffic
for p in "${MONS[@]}"; do wait "$p"; done

# evs FILE EXPR: EXPR over the events of FILE (e: a list of JSON objects) holds.
evs() {
	/usr/bin/python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if not eval(sys.argv[2]):
    for x in e: print(x.get("node"), x["type"], x["reason"], x.get("src_pod"), x["saddr"], x["sport"], "->", x.get("dst_pod"), x["daddr"], x["dport"], "ep", x["ep_id"])
    open(sys.argv[1] + ".err").read() and print(open(sys.argv[1] + ".err").read())
    sys.exit(1)' "$T/$1" "$2"
}
check "monitor --node all -o json: x/c's drop into x/a on n1, both ends named (src_pod x/c, dst_pod x/a)" \
	evs all.json "any(x['node'] == 'n1' and x['type'] == 'drop' and x['src_pod'] == 'x/c' and x['dst_pod'] == 'x/a' and x['dport'] == 81 for x in e)"
check "  ... x/b's allowed datagram: a verdict on n1 from x/b to x/a" \
	evs all.json "any(x['node'] == 'n1' and x['type'] == 'verdict' and x['src_pod'] == 'x/b' and x['dst_pod'] == 'x/a' and x['sport'] == 40001 for x in e)"
check "  ... the drop from the overlay names x/a's endpoint ($EPA), not 0" \
	evs all.json "[x['ep_id'] for x in e if x['type'] == 'drop' and x['sport'] == 40002] and all(x['ep_id'] == int('$EPA' or 0) != 0 for x in e if x['type'] == 'drop' and x['sport'] == 40002)"
check "  ... every event names its node (n1 or n2)" evs all.json "e and all(x['node'] in ('n1', 'n2') for x in e)"
check "monitor --node all --from-pod x/c: only x/c's events, its drop among them" \
	evs frompod.json "e and all(x['src_pod'] == 'x/c' for x in e) and any(x['type'] == 'drop' for x in e)"
check "monitor --node all --to-pod x/a -t drop: only drops into x/a (x/c's)" \
	evs todrop.json "e and all(x['type'] == 'drop' and x['dst_pod'] == 'x/a' for x in e) and {x['src_pod'] for x in e} == {'x/c'}"
check "monitor --node all --verdict allowed --from-pod x/b --to-port 81: x/b's datagram only" \
	evs allowed.json "e and all(x['type'] == 'verdict' and x['src_pod'] == 'x/b' and x['dport'] == 81 for x in e)"
# The default text: NODE TIME SOURCE DESTINATION VERDICT SUMMARY, the pods by name.
txt_has() { grep -E -q -- "$1" "$T/all.txt" || { cat "$T/all.txt" "$T/all.txt.err"; return 1; }; }
check "monitor --node all (text): NODE, TIME, SOURCE, DESTINATION, VERDICT, SUMMARY" \
	txt_has '^NODE +TIME +SOURCE +DESTINATION +VERDICT +SUMMARY$'
check "  ... x/c's drop: n1 x/c:40002 -> x/a:81 denied, drop-policy-ingress isolated by x/web-ingress" \
	txt_has '^n1 +[0-9:.]+ +x/c:40002 +x/a:81 +denied +drop-policy-ingress: isolated by x/web-ingress'
check "  ... x/b's datagram: allowed by x/web-ingress rule 0" \
	txt_has '^n1 +[0-9:.]+ +x/b:40001 +x/a:81 +allowed +ingress by x/web-ingress rule 0'
aligned() { # aligned FILE TITLES...: every column starts where its title does
	local f=$1; shift
	/usr/bin/python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines()
h, rows = lines[0], lines[1:]
bad = []
for t in sys.argv[2:]:
    p = h.index(t)
    bad += [r for r in rows if len(r) <= p or r[p] == " " or (p and r[p - 1] != " ")]
if len(rows) < 3 or bad:
    print(h); print("\n".join(rows)); sys.exit(1)' "$f" "$@"
}
check "  ... every column starts where its title does" aligned "$T/all.txt" TIME SOURCE DESTINATION VERDICT SUMMARY
check "monitor --node all -o wide: the fields, EP-ID x/a's for the drop from the overlay" \
	grep -Eq "^n1 .* drop-policy-ingress +from-overlay +$EPA .* $C4:40002 +$A4:81 .*deny ingress: x/web-ingress isolates x/a, nothing allows" "$T/wide.txt"

# ---- widths: every default row fits $WIDTH columns ---------------------------------
fits() { # fits NAME CMD...: every line of CMD's output (which must have rows) <= WIDTH
	local name=$1; shift
	"$@" >"$T/w.$name" 2>&1 || { echo "exit $?"; cat "$T/w.$name"; return 1; }
	awk -v w=$WIDTH 'length($0) > w { bad++; print length($0) ": " $0 } END { exit bad || NR < 2 }' "$T/w.$name" ||
		{ echo "($(wc -l <"$T/w.$name") lines)"; return 1; }
}
check "monitor --node all: every line <= $WIDTH columns" fits monitor cat "$T/all.txt"
check "flows --node all: every line <= $WIDTH columns" fits flows "$XCNICTL" flows --node all
check "flows --node n1: every line <= $WIDTH columns" fits flows1 "$XCNICTL" flows --node n1
check "ct list (n1): every line <= $WIDTH columns" fits ct in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" ct list
check "service list (n1): every line <= $WIDTH columns" fits svc in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" service list
check "flows --node all (text): x/c's drop merged, pods by name" \
	grep -Eq '^n1 .*x/c:40002 +x/a:81 +denied ' "$T/w.flows"
# No near miss: x/web-ingress allows role=friend, x/c is role=stranger, the
# denial the rule means (docs/decisions/near-labels.md).
check "flows --node all -o wide: the rest (the point, counts, the nodes' parts), no near miss (intended)" bash -c \
	"'$XCNICTL' flows --node all --from-port 40002 -o wide >'$T/w.wide' && grep -Eq 'to-pod denied .*drop-policy-ingress; isolated by x/web-ingress .*\{n[12] .*, n[12] .*\}' '$T/w.wide' && ! grep -q 'near miss' '$T/w.wide'"
ctbe() { grep -Eq "^udp +198\.51\.100\.1:40004 .* x/echo:echo +$B4:81\$" "$T/w.ct" || { cat "$T/w.ct"; return 1; }; }
check "ct list (n1): the NodePort flow's backend as an address, x/b $B4:81" ctbe
nodup() { # the titles of -o wide, each once
	local h
	h=$("$@" | head -1) || return 1
	[ -n "$h" ] || { echo "no header"; return 1; }
	/usr/bin/python3 -c 'import sys; t = sys.argv[1].split(); d = {x for x in t if t.count(x) > 1}; print("twice:", d) if d else None; sys.exit(1 if d else 0)' "$h"
}
check "service list -o wide: no column twice" nodup in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" service list -o wide
check "monitor -o wide: no column twice" nodup head -1 "$T/wide.txt"

# What a user reads, in the log.
for f in all.txt w.flows w.ct; do diag "$f:"; sed 's/^/#   /' "$T/$f"; done

lab_down_checked
finish
