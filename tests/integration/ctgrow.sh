#!/bin/bash
# Conntrack grown online (issue 67 item 2, docs/decisions/map-growth.md): xcni_ct
# and xcni_ct6 made 4096 (--map-max), 100 TCP connections a family held from b
# to a and short connections opened and closed all along; c's UDP flows fill
# both tables to --map-grow (80% here) and stop when xcnid says it doubles them,
# so the kernel's LRU never evicts (fill, below): xcnid doubles them (a map
# twice the size, the entries copied, the agent exec'd onto it, every
# attachment taken over, what the old map got meanwhile copied after), then c's
# flows go on to more than the old tables held. Every held connection's entry
# is looked for in the tables before and after. b admits nothing, so a's data
# to b passes only on b's conntrack entry: a held connection whose entry was
# lost cannot hear a (CTGROW_PCT=0 runs the same with growth off, the tables
# filled past full: the held connections' entries go first, and they fail).
# CTGROW_TRACE=FILE: the tables sampled into FILE.<tag> as the suite runs.
#
#   netns <tag>-node: xcnid --manifests M --map-max xcni_ct=4096,xcni_ct6=4096
#     ul0 192.168.99.1/24 ──veth── ulp  (the underlay: from_overlay's steps kept across the exec)
#     xc<hash> ──veth── eth0  <tag>-a  x/a  10.99.0.x fd00:99::x  (TCP 80: held,
#                                                 pushed to; TCP 81: echo; UDP 9)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (admits nothing; 100+100 held
#                                           connections, the churn of short ones)
#     xc<hash> ──veth── eth0  <tag>-c  x/c  (UDP flows to a, both families)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init ctgrow 10.99.0 ctg fd00:99::/64
PCT=${CTGROW_PCT:-80}
[ -z "${CTGROW_TRACE:-}" ] || CTGROW_TRACE=$CTGROW_TRACE.$XCT_TAG
HELD=100
PORT=9975
trap 'grow_cleanup a b c' EXIT

# server.py TMP: a's listeners, both families. 80 holds each connection,
# echoes what it gets and, once TMP/push appears, sends it "p" (once); 81
# echoes and closes when its client does.
cat >"$T/server.py" <<'EOF'
import os, selectors, socket, sys
tmp = sys.argv[1]
sel = selectors.DefaultSelector()
held = []
for port in (80, 81):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(512)
    sel.register(s, selectors.EVENT_READ, port)
open(f"{tmp}/server.up", "w").close()
pushed = False
while True:
    for key, _ in sel.select(0.1):
        if key.data in (80, 81):
            c, _ = key.fileobj.accept()
            sel.register(c, selectors.EVENT_READ, "c")
            if key.data == 80:
                held.append(c)
            continue
        try:
            d = key.fileobj.recv(64)
        except OSError:
            d = b""
        if d:
            key.fileobj.sendall(d)
        else:
            sel.unregister(key.fileobj)
            key.fileobj.close()
    if not pushed and os.path.exists(f"{tmp}/push"):
        pushed = True
        for c in held:
            try:
                c.sendall(b"p")
            except OSError:
                pass
EOF
# held.py A4 A6 N TMP: N connections a family to a:80, held; once TMP/push
# appears each must hear a's "p" and echo "x" back, within 10 s:
# TMP/held.res "ok N fail M".
cat >"$T/held.py" <<'EOF'
import os, selectors, socket, sys, time
a4, a6, n, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sel = selectors.DefaultSelector()
for i in range(n):
    for fam, a in ((socket.AF_INET, a4), (socket.AF_INET6, a6)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect((a, 80))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, b"p")
open(f"{tmp}/held.up", "w").close()
while not os.path.exists(f"{tmp}/push"):
    time.sleep(0.05)
ok = 0
end = time.time() + 10
while time.time() < end and ok < 2 * n:
    for key, _ in sel.select(0.1):
        s, want = key.fileobj, key.data
        try:
            got = s.recv(1)
        except OSError:
            got = b""
        if got != want:
            sel.unregister(s)
        elif want == b"p":
            s.sendall(b"x")
            sel.modify(s, selectors.EVENT_READ, b"x")
        else:
            sel.unregister(s)
            ok += 1
open(f"{tmp}/held.res", "w").write(f"ok {ok} fail {2 * n - ok}\n")
EOF
# churn.py A4 A6 TMP: connections to a:81 opened, echoed and closed, the
# families in turn, until TMP/stop: TMP/churn.res "ok N fail M". Paced (20
# pairs a second at most): a closed connection's entry stays until evicted, so
# an unpaced churn filled the tables at the machine's speed (~170 entries a
# second a family on a loaded machine: three doublings in a slow run).
cat >"$T/churn.py" <<'EOF'
import os, socket, sys, time
a4, a6, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
ok = fail = 0
while not os.path.exists(f"{tmp}/stop"):
    for fam, a in ((socket.AF_INET, a4), (socket.AF_INET6, a6)):
        try:
            with socket.create_connection((a, 81), timeout=3) as s:
                s.sendall(b"c")
                good = s.recv(1) == b"c"
        except OSError:
            good = False
        ok, fail = ok + good, fail + (not good)
    open(f"{tmp}/churn.res", "w").write(f"ok {ok} fail {fail}\n")
    time.sleep(0.05)
EOF
# flood.py DST BASE N: N UDP datagrams to DST:9, each from a port of its own.
cat >"$T/flood.py" <<'EOF'
import socket, sys
dst, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
for p in range(base, base + n):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:  # the IPv4 flood binds the same ports at once
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("", p))
    s.sendto(b"x", (dst, 9))
    s.close()
EOF
in_pod() { local p=$1; shift; ip netns exec "$XCT_TAG-$p" "$@"; }
id_of() { bpftool -j map show pinned "$PIN/$1" | jq .id; }
flood() { # flood BASE N DST...: N of c's UDP flows to each DST (a's addresses), at once
	local d p=()
	[ -z "${CTGROW_TRACE:-}" ] || echo "$(date +%s.%N | cut -c1-14) flood $*" >>"$CTGROW_TRACE"
	for d in "${@:3}"; do
		in_pod c python3 "$T/flood.py" "$d" "$1" "$2" &
		p+=($!)
	done
	wait "${p[@]}"
}
decided() { grep -q "map $1: [0-9]* of 4096 entries.*doubling it" "/tmp/xcnid-$XCT_TAG.log"; }
# fill: c's flows into each table up to xcnid's threshold (--map-grow's share
# of 4,096, counted every 2 s), then none until the agent says it doubles the
# table. A table thus holds at most the threshold and the churn's entries
# until the copy: short of where the kernel's LRU evicts (before it is full:
# each CPU keeps free entries of its own), whose first victims would be the
# held connections' (the least recently used). Growth off: filled past it.
fill() {
	local lim=$((4096 * PCT / 100)) end=$((SECONDS + 60)) b4=20000 b6=20000 n4 n6 p
	[ "$PCT" -gt 0 ] || { flood 20000 4000 "$A4" "$A6"; return; }
	while ! decided xcni_ct || ! decided xcni_ct6; do
		[ $SECONDS -lt $end ] || return 1
		n4=0 n6=0
		decided xcni_ct || n4=$((lim - $(entries xcni_ct)))
		decided xcni_ct6 || n6=$((lim - $(entries xcni_ct6)))
		p= # waited for by its PID: a plain wait would wait for the suite's servers too
		[ $n4 -le 0 ] || { flood $b4 $n4 "$A4" & p=$!; }
		[ $n6 -le 0 ] || flood $b6 $n6 "$A6"
		[ -z "$p" ] || wait "$p"
		[ $n4 -gt 0 ] || [ $n6 -gt 0 ] || sleep 0.2
		b4=$((b4 + (n4 > 0 ? n4 : 0))) b6=$((b6 + (n6 > 0 ? n6 : 0)))
	done
	echo "xcni_ct $(entries xcni_ct), xcni_ct6 $(entries xcni_ct6) entries"
}
grown_total() { # grown_total MAP: xcni_map_grown_total{map="MAP"} on the Prometheus page
	nsenter --net="/var/run/netns/$NODE" python3 -c \
		'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' \
		"http://127.0.0.1:$PORT/metrics" | awk -v s="xcni_map_grown_total{map=\"$1\"}" '$1 == s { print $2 }'
}
grown() { # grown MAP: the pinned MAP doubled (at least once), logged
	[ "$(max_of "$1")" -ge 8192 ] && grep -q "map $1 grew 4096 -> 8192 entries in" "/tmp/xcnid-$XCT_TAG.log"
}
# held_in MAP: the held connections' entries in MAP (TCP to a:80, network order)
held_in() {
	bpftool -j map dump pinned "$PIN/$1" | jq '[.[] | (.formatted // .).key |
		select(.proto == 6 and (.dport == 80 or .dport == 20480))] | length'
}
held_all() { # every held connection's entry in both tables
	local h4 h6
	h4=$(held_in xcni_ct) h6=$(held_in xcni_ct6)
	echo "held connections' entries: xcni_ct $h4, xcni_ct6 $h6 (max $(max_of xcni_ct), $(max_of xcni_ct6))"
	[ "$h4" = "$HELD" ] && [ "$h6" = "$HELD" ]
}
# trace FILE: every 0.5 s, each table's (and an old one's under grow/) id,
# size, entries and held connections' entries, for a run to be read after.
trace() {
	local m
	while :; do
		for m in xcni_ct xcni_ct6 grow/xcni_ct grow/xcni_ct6; do
			[ -e "$PIN/$m" ] || continue
			echo "$(date +%s.%N | cut -c1-14) $m $(bpftool -j map show pinned "$PIN/$m" |
				jq -r '"\(.id) \(.max_entries)"') $(entries "$m") $(held_in "$m")"
		done >>"$1"
		sleep 0.5
	done
}
res_fail0() { # res_fail0 FILE MIN: "ok N fail 0" with N >= MIN
	echo "$(cat "$T/$1" 2>/dev/null)"
	read -r _ ok _ fail <"$T/$1" && [ "$fail" = 0 ] && [ "$ok" -ge "$2" ]
}

ip netns add "$NODE" && ip -n "$NODE" link set lo up
ip -n "$NODE" link add ul0 type veth peer name ulp
ip -n "$NODE" addr add 192.168.99.1/24 dev ul0
for d in ul0 ulp; do ip -n "$NODE" link set "$d" up; done
XCNID_NETNS=$NODE
ARGS=(--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" --map-max xcni_ct=4096,xcni_ct6=4096
	--map-grow "$PCT" --metrics-addr "127.0.0.1:$PORT" -v --underlay-dev ul0 --xdp-mode off)
check "xcnid started with xcni_ct and xcni_ct6 of 4096 entries, --map-grow $PCT" \
	start_xcnid "$PIN" "${ARGS[@]}" || { finish; exit 1; }
pods_dual a b c
A4=$(addr_of a 4) A6=$(addr_of a 6)
{
	x_pods a b c
} | put pods.yaml
{
	k_allow allow-b b a '{port: 80}, {port: 81}'
	k_allow allow-c c a '{port: 9, protocol: UDP}'
} | put allow.yaml
deny_put deny "pod: b"
check "a admits b on TCP 80, 81 and c on UDP 9; b admits nothing" sync_gen
# In the background without a function's subshell: $! is the process itself.
ip netns exec "$XCT_TAG-a" python3 "$T/server.py" "$T" &
BG+=($!)
check "a listens (TCP 80, 81, both families)" wait_until 10 test -e "$T/server.up"
ip netns exec "$XCT_TAG-b" timeout 300 python3 "$T/held.py" "$A4" "$A6" "$HELD" "$T" &
BG+=($!)
check "b holds $HELD connections a family to a:80" wait_until 30 test -e "$T/held.up"
ip netns exec "$XCT_TAG-b" timeout 300 python3 "$T/churn.py" "$A4" "$A6" "$T" &
BG+=($!)
check "b opens and closes connections to a:81 meanwhile" wait_until 10 test -s "$T/churn.res"
ID0=$(id_of xcni_ct)
[ -z "${CTGROW_TRACE:-}" ] || { trace "$CTGROW_TRACE" & BG+=($!); }

check "c's UDP flows fill xcni_ct and xcni_ct6 to --map-grow's $PCT%, no further" fill
# Read from the old tables or, once copied, the grown ones: short of 100 in a
# table of 4096 is an eviction (the fill), in a grown one a copy's loss too.
check "... every held connection's entry in both tables at the decision (none evicted)" held_all
check "xcni_ct doubled online: 4096 -> 8192, the growth logged" wait_until 30 grown xcni_ct
check "xcni_ct6 doubled online too" wait_until 30 grown xcni_ct6
check "the old xcni_ct is gone (map id $ID0)" wait_until 10 bash -c "! bpftool map show id $ID0"
check "... and no pin of it stays (grow/)" wait_until 20 test ! -e "$PIN/grow"
check "xcnid ready again on the grown maps" wait_xcnid_ready
check "... its from_overlay with the pinned xcni_ovlcalls, refilled after the exec" \
	wait_until 20 ovlcalls_live "$PIN"
check "c's flows go on past what the old tables held (1,500 more a family)" flood 40000 1500 "$A4" "$A6"
check "... xcni_ct holds more than 4096 now" test "$(entries xcni_ct)" -gt 4096
check "... every held connection's entry in the grown tables (none lost)" held_all

touch "$T/push"
[ -z "${CTGROW_TRACE:-}" ] || echo "$(date +%s.%N | cut -c1-14) push" >>"$CTGROW_TRACE"
check "every held connection heard a and was answered (0 failed of $((2 * HELD)))" \
	wait_until 30 res_fail0 held.res $((2 * HELD))
touch "$T/stop"
sleep 0.5
check "0 failed connections opened and closed across the growth" res_fail0 churn.res 10
# grown_n MAP: xcni_map_grown_total{map="MAP"} says how often it doubled from 4096
grown_n() {
	local v n=0 m
	v=$(grown_total "$1")
	m=$(max_of "xcni_$1")
	while [ "$m" -gt 4096 ]; do m=$((m / 2)) n=$((n + 1)); done
	echo "xcni_map_grown_total{map=\"$1\"} '$v', $n doublings"
	[ "$v" = "$n" ] && [ "$n" -ge 1 ]
}
# c's flows and the churn filled the tables on: a growth may be under way (the
# agent restarting), so the page and status are asked again until they answer.
check "xcni_map_grown_total{map=\"ct\"}: the doublings, on the metrics page" wait_until 20 grown_n ct
if command -v promtool >/dev/null; then
	check "promtool check metrics: no problem" wait_until 20 bash -c "nsenter --net=/var/run/netns/$NODE python3 -c \
		'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' \
		http://127.0.0.1:$PORT/metrics | promtool check metrics"
fi
check "xcnictl status says xcni_ct grew" wait_until 20 \
	bash -c "nsenter --net=/var/run/netns/$NODE $BUILD/xcnictl --pin-dir $PIN status 2>&1 | tee /dev/stderr | grep -E '^Memory:.*xcni_ct grew 4096 -> [0-9]+'"

# A restarted agent, asked 4096 again, keeps the grown map (a size is never shrunk).
MAX4=$(max_of xcni_ct) MAX6=$(max_of xcni_ct6)
[ -z "${CTGROW_LOG:-}" ] || cp "/tmp/xcnid-$XCT_TAG.log" "$CTGROW_LOG"
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "xcnid restarted with the same --map-max: ready" eval \
	'start_xcnid "$PIN" "${ARGS[@]}" && wait_xcnid_ready'
check "... on the grown xcni_ct ($MAX4) and xcni_ct6 ($MAX6), its entries kept" \
	bash -c "echo $(max_of xcni_ct) $(max_of xcni_ct6) $(entries xcni_ct); [ $(max_of xcni_ct) = $MAX4 ] && [ $(max_of xcni_ct6) = $MAX6 ] && [ $(entries xcni_ct) -gt 4096 ]"
check "... and still counts the doublings (xcni_map_grown_total{map=\"ct6\"})" wait_until 10 grown_n ct6

finish
