#!/bin/bash
# Maps the agent writes grown online (issue 67 item 2, docs/decisions/map-growth.md):
# xcni_ipcache and xcni_ipcache6 made 32 and xcni_svc 8 (--map-max). Pods of
# another node are added past the ipcache's size, then Services past xcni_svc's:
# each writer's room judge finds they do not fit, the namespace bringing them
# is closed meanwhile as before, and xcnid grows the map (the exec path of
# conntrack's growth) instead of keeping it closed; then they are in. All along
# b connects to a Service in a loop (both families), holds 10 connections a
# family through it (each answers every 0.2 s), and c, whom a does not admit,
# probes a: 0 failed connections, every held one answered, 0 admitted. Conntrack
# (xcni_ct 8,192, xcni_ct6 4,096) grows by b's loop meanwhile, its old table in the
# programs' slot (xcni_ctprev(6)) until the take-over is caught up; first, every
# conntrack entry is moved into such an old table (a take-over's moment made long):
# a's answer on a connection b opened before must still come back reverse NATed. At each
# writer's growth (the ipcache, xcni_svc) and a local pods' one, while the old
# map is still pinned under grow/, every entry of it is looked for in the new. y's pods' names pass
# xcni_podname's 16: it grows too. Then a policy on c (admitting b) passes
# xcni_policy's 8, xcni_polrange's 2 and xcni_polcidr's 2: c is closed meanwhile,
# the three maps grow, c's policy goes in (b reaches c, a still does not).
# The agent is restarted after the policy growth and finds every grown map.
# An Admin ClusterNetworkPolicy's 3 domainNames for c pass xcni_fqdn_pat's 2:
# x is closed for pattern room meanwhile, the map grows, the pairs are in.
# Then 12 pods more pass 90% of the maps of local pods (16 entries: the plugin's
# xcni_endpoints(6), xcni_ifindex(6), the agent's xcni_polep): each doubles by
# its fill; 5 more pass 16, every pod reaches a and is judged (l17 refused).
# Then xcni_affinity, xcni_snat and xcni_fqdn (1024) are filled past --map-grow
# (bpftool): each doubles by its fill, what it held copied. Last,
# the agent restarts with --lb-algorithm maglev: web's 2 frontends and z1..z5's 20
# want a Maglev table each past xcni_maglev's 4 (a map of maps): z1..z5 are closed
# meanwhile, xcni_maglev grows (made again, the tables put in by fd), every frontend picks
# its backend from its table (xcnictl explain --sport) and reaches a; the
# restart finds xcni_svc and xcni_endpoints grown.
# MAPGROW_PCT=0 runs the same with growth off: the namespaces and c stay closed.
#
#   netns <tag>-node: xcnid --manifests M --kube-proxy-replacement
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (TCP 8080 "hello" then echo, both
#                                            families; admits b alone)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (the client: x/web's ClusterIPs in a loop,
#                                            20 connections held through them)
#     xc<hash> ──veth── eth0  <tag>-c  x/c  (denied: a's addresses in a loop;
#                                            TCP 8080 "hello", then admits b alone)
#     xc<hash> ──veth── eth0  <tag>-lN x/lN (l1..l16 pod: b, l17 pod: d: the maps of
#                                            local pods' growth)
#   y: 40 pods of node n2 (the ipcache's growth), z1..z5: 4 Services each to a
#   (xcni_svc's, then xcni_maglev's: several namespaces closed in one map, the
#   growth asked for them all)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init mapgrow 10.98.0 mgr fd00:98::/64
PCT=${MAPGROW_PCT:-90}
VIP=10.96.8.10
VIP6=fd00:96::8:10
LPODS=$(seq -f l%g 17)
trap 'grow_cleanup a b c $LPODS' EXIT

# loop.py TMP NAME ADDR... : TCP connections to each ADDR ("host:port",
# "[v6]:port") in turn, each must read "hello" within 3 s (a lost SYN is sent
# again after 1 s: a connection that needs it is slow, not failed), until TMP/stop:
# TMP/NAME.res "ok N fail M", each failure (time, address, error) in TMP/NAME.fails,
# each connection past 1 s (time, address, seconds) in TMP/NAME.slow.
cat >"$T/loop.py" <<'EOF'
import os, socket, sys, time
tmp, name, addrs = sys.argv[1], sys.argv[2], sys.argv[3:]
ok = fail = 0
while not os.path.exists(f"{tmp}/stop"):
    for a in addrs:
        host, port = a.rsplit(":", 1)
        t0, sport = time.monotonic(), "?"
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            with s:
                s.settimeout(3)
                try:
                    s.connect((host.strip("[]"), int(port)))
                finally:
                    sport = s.getsockname()[1]
                good = s.recv(5) == b"hello"
            if time.monotonic() - t0 > 1:
                open(f"{tmp}/{name}.slow", "a").write(f"{time.time():.3f} (mono {t0:.3f}) {a} from port {sport} {time.monotonic() - t0:.2f} s\n")
        except OSError as e:
            good = False
            open(f"{tmp}/{name}.fails", "a").write(f"{time.time():.3f} (mono {t0:.3f}) {a} from port {sport} {e}\n")
        ok, fail = ok + good, fail + (not good)
    open(f"{tmp}/{name}.tmp", "w").write(f"ok {ok} fail {fail}\n")
    os.replace(f"{tmp}/{name}.tmp", f"{tmp}/{name}.res")
EOF
# serve.py TMP: a's server, both families on 8080: "hello", then what it reads echoed;
# a lone "d" echoed once TMP/go is there (its reply the first packet after a change).
cat >"$T/serve.py" <<'EOF'
import os, socket, sys, threading, time
def echo(c):
    with c:
        try:
            c.sendall(b"hello")
            while d := c.recv(64):
                for _ in range(300 if d == b"d" else 0):
                    if os.path.exists(f"{sys.argv[1]}/go"):
                        break
                    time.sleep(0.1)
                c.sendall(d)
        except OSError:
            pass
def serve(fam, host):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, 8080))
    s.listen(512)
    while True:
        threading.Thread(target=echo, args=(s.accept()[0],), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET6, "::"), daemon=True).start()
serve(socket.AF_INET, "0.0.0.0")
EOF
# hold.py TMP NAME N ADDR...: N connections to each ADDR held; every 0.2 s each
# sends a byte and must read it back (5 s), until TMP/stop and one round
# after: TMP/NAME.res "ok ROUNDS fail M" (M: connections that ever failed).
cat >"$T/hold.py" <<'EOF'
import os, socket, sys, time
tmp, name, n, addrs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
conns, rounds = [], 0
for a in addrs:
    host, port = a.rsplit(":", 1)
    for _ in range(n):
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        conns.append(s if s.recv(5) == b"hello" else None)
dead = {i for i, s in enumerate(conns) if s is None}
while True:
    last = os.path.exists(f"{tmp}/stop")
    for i, s in enumerate(conns):
        if i in dead:
            continue
        try:
            s.sendall(b"x")
            if s.recv(1) != b"x":
                dead.add(i)
        except OSError:
            dead.add(i)
    rounds += 1
    open(f"{tmp}/{name}.tmp", "w").write(f"ok {rounds} fail {len(dead)}\n")
    os.replace(f"{tmp}/{name}.tmp", f"{tmp}/{name}.res")
    if last:
        break
    time.sleep(0.2)
EOF
res() { # res NAME: "ok N fail M" of a loop
	cat "$T/$1.res" 2>/dev/null
}
res_is() { # res_is NAME OKMIN FAILMAX...: ok >= OKMIN, fail <= FAILMAX (b: 0 failed; c: 0 ok)
	local ok fail
	echo "$1: $(res "$1")"
	[ -s "$T/$1.fails" ] && sed 's/^/failed at /' "$T/$1.fails" | head -5
	[ -s "$T/$1.slow" ] && sed 's/^/slow (past 1 s) at /' "$T/$1.slow" | head -5
	read -r _ ok _ fail <"$T/$1.res" && [ "$ok" -ge "$2" ] && [ "$fail" -le "$3" ]
}
copy_watch() { # copy_watch MAP FROM: in the background, at MAP's growth past FROM entries (the
	#            old one pinned under grow/, for a second or less): every key of it in the
	#            new? $T/MAP.copy "old N missing K". The old first: its pin goes at take-over.
	for _ in $(seq 3000); do
		if [ -e "$PIN/grow/$1" ] && bpftool -j map dump pinned "$PIN/grow/$1" >"$T/$1.old" 2>/dev/null &&
			bpftool -j map dump pinned "$PIN/$1" >"$T/$1.new" 2>/dev/null &&
			[ "$(bpftool -j map show pinned "$PIN/$1" | jq .max_entries)" -gt "$2" ]; then
			jq -rn --slurpfile o "$T/$1.old" --slurpfile n "$T/$1.new" \
				'($n[0] | map(.key | tostring)) as $k | "old \($o[0] | length) missing \([$o[0][] | .key | tostring | select(IN($k[]) | not)] | length)"' \
				>"$T/$1.copy.tmp" && mv "$T/$1.copy.tmp" "$T/$1.copy"
			return
		fi
		sleep 0.02
	done
}
copied_all() { # copied_all MAP: the old map's every entry was in the new at the copy
	echo "$1 at the copy: $(cat "$T/$1.copy" 2>/dev/null)"
	read -r _ old _ missing <"$T/$1.copy" && [ "$old" -gt 0 ] && [ "$missing" = 0 ]
}
grew() { # grew MAP FROM: the pinned MAP is larger than FROM, the growth logged
	[ "$(max_of "$1")" -gt "$2" ] && grep -q "map $1 grew $2 -> [0-9]* entries in" "/tmp/xcnid-$XCT_TAG.log"
}
y_pods() { # y_pods N: namespace y, N pods of node n2, both families
	printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n'
	for i in $(seq "$1"); do
		printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%s, namespace: y}\n' "$i"
		printf 'spec: {nodeName: n2}\nstatus: {podIP: 10.88.0.%s, podIPs: [{ip: 10.88.0.%s}, {ip: "fd00:88::%s"}]}\n' \
			"$i" "$i" "$i"
	done
}
ZS="11 12 13 14 21 22 23 24 31 32 33 34 41 42 43 44 51 52 53 54" # NI: Service zN/sI, 10.96.9.NI
z_svcs() { # z_svcs: namespaces z1..z5, 4 Services of one port each, each to a:8080
	for n in 1 2 3 4 5; do
		printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: z%s}\n' "$n"
	done
	for s in $ZS; do
		printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: s%s, namespace: z%s}\n' "${s#?}" "${s%?}"
		printf 'spec: {clusterIP: 10.96.9.%s, ports: [{name: http, port: 80}]}\n' "$s"
		printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: s%s-1, namespace: z%s, labels: {kubernetes.io/service-name: s%s}}\n' "${s#?}" "${s%?}" "${s#?}"
		printf 'addressType: IPv4\nendpoints: [{addresses: [%s], nodeName: n1}]\nports: [{name: http, port: 8080}]\n' "$A4"
	done
}
z_all() { for s in $ZS; do reaches b "10.96.9.$s" 80 || { echo "10.96.9.$s does not"; return 1; }; done; }
reaches() { # reaches POD ADDR PORT: a's hello
	ip netns exec "$XCT_TAG-$1" timeout 3 socat -T1 - "TCP:$2:$3,connect-timeout=2" </dev/null 2>/dev/null | grep -q hello
}
ready_gen() { # the agent (maybe exec'd meanwhile) applied the latest generation
	[ "$(ctl config --json 2>/dev/null | jq -r .applied_gen)" -ge "$MANIFEST_GEN" ] 2>/dev/null
}
cpu_ms() { # the agent's CPU so far (user + system; an exec keeps the process's)
	awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$XCNID_PID/stat"
}
ready_n() { grep -c 'xcnid: ready' "/tmp/xcnid-$XCT_TAG.log"; }
ready_again() { [ "$(ready_n)" -gt "$R0" ]; } # the exec'd image ready (the log is the same file)
said_grew() { # the growth lines, and what the agent's CPU did since $CPU0
	grep -h "map xcni_.* grew" "/tmp/xcnid-$XCT_TAG.log" | sed 's/^/# /'
	echo "# the agent's CPU from the change to ready on the grown map: $(($(cpu_ms) - CPU0)) ms"
}
bump() { # bump: a new generation, applied (across a growth's seconds)
	MANIFEST_GEN=$((MANIFEST_GEN + 1))
	echo "$MANIFEST_GEN" >"$M/.tmp-gen" && mv "$M/.tmp-gen" "$M/.xcni-generation"
	wait_until 30 ready_gen
}

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
# --service-ns-share=100, --policy-ns-share=100: z1..z5's Services and c's policy close
# because the map is full, not because their namespace is over its share (a namespace
# over its share asks no growth: it would only raise it).
ARGS=(--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" --no-masquerade --kube-proxy-replacement
	--map-max xcni_ct=8192,xcni_ct6=4096,xcni_ipcache=32,xcni_ipcache6=32,xcni_svc=8,xcni_affinity=1024,xcni_snat=1024,xcni_podname=16,xcni_policy=8,xcni_polrange=2,xcni_polcidr=2,xcni_maglev=4,xcni_backend=2
	--map-max xcni_endpoints=16,xcni_endpoints6=16,xcni_ifindex=16,xcni_ifindex6=16,xcni_polep=16,xcni_fqdn=1024,xcni_fqdn_pat=2
	--map-grow "$PCT"
	--service-ns-share=100 --policy-ns-share=100 -v)
check "xcnid started: xcni_ipcache, xcni_ipcache6 32 entries, xcni_svc 8, the policy maps 8 and 2, local pods' 16, --map-grow $PCT" \
	start_xcnid "$PIN" "${ARGS[@]}" || { finish; exit 1; }
pods_dual a b c
A4=$(addr_of a 4) A6=$(addr_of a 6)
{
	x_pods a b c
	k_svc2 web "pod: a" "$VIP" "$VIP6" "{name: http, port: 80, targetPort: 8080}" $'ipFamilyPolicy: RequireDualStack\n  sessionAffinity: ClientIP'
	k_slice web-1 web 4 "[{addresses: [$A4], nodeName: n1}]" "{name: http, port: 8080}"
	k_slice web-6 web 6 "[{addresses: [\"$A6\"], nodeName: n1}]" "{name: http, port: 8080}"
	k_allow allow-b b a '{port: 8080}'
} | put x.yaml
R0=$(ready_n)
check "x: pods a, b, c, Service web (both families); a admits b alone" bump
# A writer's map past --map-grow grows before its writer finds no room: web's two
# backends fill xcni_backend (2 entries), counted at the next look: doubled, nothing closed.
ahead_grew() {
	[ "$(max_of xcni_backend)" = 4 ] && ready_again && grep -q "map xcni_backend: 2 of 2 entries \
(--map-grow $PCT%): growing it to 4 before its writer finds no room" "/tmp/xcnid-$XCT_TAG.log"
}
[ "$PCT" = 0 ] || check "xcni_backend full (web's 2 backends), not over: grown to 4 before the Service writer finds no room" \
	wait_until 30 ahead_grew
check_fails "... no namespace closed for Service room meanwhile" grep -q "closed for Service room" "/tmp/xcnid-$XCT_TAG.log"
ip netns exec "$XCT_TAG-a" python3 "$T/serve.py" "$T" &
BG+=($!)
check "b reaches a through web's ClusterIP" wait_until 10 reaches b "$VIP" 80
check "... and its IPv6 ClusterIP" reaches b "[$VIP6]" 80
check_fails "c does not reach a (policy)" reaches c "$A4" 8080

# A flow the old programs open between the catch-up before a conntrack growth's
# take-over and the take-over is in the old table alone when its reply meets the
# new programs (1 or 2 of map-grow's short connections a run were lost so: the
# backend's "hello" went out without its reverse NAT, the client answered RST).
# That moment made long: b sends "d" on a connection a family through web, every
# entry of xcni_ct and xcni_ct6 is moved into an old table of its layout put where
# the programs look while a table grows (xcni_ctprev(6), as agent/grow.c does),
# then a answers: its reply must find its flow there (copied back), reverse NATed.
cat >"$T/later.py" <<'EOF'
import socket, sys
tmp, ss = sys.argv[1], []
for a in sys.argv[2:]:
    host, port = a.rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
    ss.append(s if s.recv(5) == b"hello" and not s.sendall(b"d") else None)
open(f"{tmp}/later.sent", "w").close()
def got(s):
    try:
        return s.recv(1) == b"d"
    except OSError:
        return False
print(" ".join("answered" if s and got(s) else "lost" for s in ss))
EOF
ct_move() { # ct_move MAP SLOT: MAP's entries moved into a new table of its layout in SLOT
	local info
	info=$(bpftool -j map show pinned "$PIN/$1")
	bpftool map create "$PIN/old_$1" type lru_hash key "$(jq .bytes_key <<<"$info")" \
		value "$(jq .bytes_value <<<"$info")" entries "$(jq .max_entries <<<"$info")" name "$1" &&
		bpftool map update pinned "$PIN/$2" key 0 0 0 0 value pinned "$PIN/old_$1" &&
		bpftool -j map dump pinned "$PIN/$1" | jq -r --arg o "$PIN/old_$1" --arg m "$PIN/$1" '.[] |
			(.key | map(.[2:]) | join(" ")) as $k | "map update pinned \($o) key hex \($k) value hex \(.value |
			map(.[2:]) | join(" "))", "map delete pinned \($m) key hex \($k)"' >"$T/$1.move" &&
		bpftool batch file "$T/$1.move" >/dev/null && echo "$1: $(grep -c delete "$T/$1.move") entries moved"
}
moment() { # the moment made long, once: b's two connections, the move, a's answers
	local r=$(ready_n) later
	rm -f "$T/go" "$T/later.sent" "$T/later.out" "$PIN/old_xcni_ct" "$PIN/old_xcni_ct6"
	ip netns exec "$XCT_TAG-b" timeout 30 python3 "$T/later.py" "$T" "$VIP:80" "[$VIP6]:80" >"$T/later.out" 2>&1 &
	later=$!
	wait_until 10 test -e "$T/later.sent" && ct_move xcni_ct xcni_ctprev &&
		ct_move xcni_ct6 xcni_ctprev6
	touch "$T/go"
	wait "$later"
	for m in xcni_ctprev xcni_ctprev6; do bpftool map delete pinned "$PIN/$m" key 0 0 0 0 2>/dev/null; done
	# An exec meanwhile (a growth by its fill) empties the slots: not this test's moment.
	[ "$(ready_n)" = "$r" ] || { echo "xcnid restarted meanwhile (a growth): again"; return 2; }
	cat "$T/later.out"
	grep -qx 'answered answered' "$T/later.out"
}
moment_once() { # up to 3 times, while an exec came in between
	local rc
	for _ in 1 2 3; do
		moment
		rc=$?
		[ "$rc" = 2 ] || return "$rc"
	done
	return 1
}
check "b's connection a family through web waits for a's answer; every entry of xcni_ct and xcni_ct6 moved into an old table in the programs' slot (xcni_ctprev(6)); a's answers (the first packets after it) found their flows there, reverse NATed" \
	moment_once
rm -f "$PIN/old_xcni_ct" "$PIN/old_xcni_ct6"

if [ -n "${MAPGROW_TRACE:-}" ]; then # diagnosis: b's and a's packets, the drops, the log timed
	for p in a b; do
		ip netns exec "$XCT_TAG-$p" timeout 600 tcpdump -i eth0 -s 128 -w "$MAPGROW_TRACE/$p.pcap" tcp 2>/dev/null &
		BG+=($!)
	done
	timeout 600 nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" monitor --time mono >"$MAPGROW_TRACE/monitor" 2>&1 &
	BG+=($!)
	timeout 600 perf record -q -e skb:kfree_skb -a -o "$MAPGROW_TRACE/drops.data" >/dev/null 2>&1 &
	BG+=($!)
	timeout 600 python3 -c '
import os, sys, time
f, pos = sys.argv[1], 0
while True:
    try:
        with open(f, "rb") as h:
            if os.fstat(h.fileno()).st_size < pos:
                pos = 0
            h.seek(pos)
            for l in h.read().splitlines(True):
                print("%.3f %.3f %s" % (time.monotonic(), time.time(), l.decode(errors="replace")), end="", flush=True)
            pos = h.tell()
    except OSError:
        pass
    time.sleep(0.005)' "/tmp/xcnid-$XCT_TAG.log" >"$MAPGROW_TRACE/agent.ts" &
	BG+=($!)
	sleep 1
fi
ip netns exec "$XCT_TAG-b" timeout 600 python3 "$T/loop.py" "$T" b "$VIP:80" "[$VIP6]:80" &
BG+=($!)
ip netns exec "$XCT_TAG-c" timeout 600 python3 "$T/loop.py" "$T" c "$A4:8080" "[$A6]:8080" &
BG+=($!)
check "b connects to web in a loop, c probes a meanwhile" wait_until 10 test -s "$T/c.res"
ip netns exec "$XCT_TAG-b" timeout 600 python3 "$T/hold.py" "$T" hold 10 "$VIP:80" "[$VIP6]:80" &
BG+=($!)
check "b holds 10 connections a family through web, each answering" wait_until 10 res_is hold 1 0


# The ipcache: 40 pods of n2 (80 addresses) past 32 entries a family.
CPU0=$(cpu_ms) R0=$(ready_n)
copy_watch xcni_ipcache 32 &
BG+=($!)
y_pods 40 | put y.yaml
check "y: 40 pods of node n2 past xcni_ipcache's 32 entries: applied" bump
check "the ipcache writer found y does not fit (closed meanwhile, as before)" \
	grep -q "xcni_ipcache cannot hold every pod's address: namespace(s) y closed" "/tmp/xcnid-$XCT_TAG.log"
check "xcni_ipcache grown online, not kept closed" wait_until 30 grew xcni_ipcache 32
check "xcni_ipcache6 too" wait_until 30 grew xcni_ipcache6 32
check "xcnid ready again on the grown maps" wait_until 30 ready_again
check "the exec'd agent is still named xcnid (ps, kubectl top)" grep -qx xcnid "/proc/$XCNID_PID/comm"
check "xcni_podname too (43 names past 16)" wait_until 30 grew xcni_podname 16
said_grew
check "xcni_ipcache: every entry of the old map in the grown one at the copy" copied_all xcni_ipcache
ipc_full() { # every pod's address in, both families: y's 40 and x's 3 at least
	echo "xcni_ipcache $(entries xcni_ipcache), xcni_ipcache6 $(entries xcni_ipcache6) entries"
	[ "$(entries xcni_ipcache)" -ge 43 ] && [ "$(entries xcni_ipcache6)" -ge 43 ]
}
check "... y's addresses in, both families" wait_until 30 ipc_full

# The policy maps: c's policy (b on 12 ports, a port range, 3 ipBlocks) past
# xcni_policy's 8, xcni_polrange's 2, xcni_polcidr's 2 (a's takes 1 of them).
c_pol() {
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: wide, namespace: x}\n'
	printf 'spec:\n  podSelector: {matchLabels: {pod: c}}\n  ingress:\n'
	printf '  - from: [{podSelector: {matchLabels: {pod: b}}}]\n    ports: [{port: 8080}, {port: 9000, endPort: 9100}'
	printf ', {port: %s}' $(seq 8001 8011)
	printf ']\n  - from: [{ipBlock: {cidr: 10.201.0.0/16}}, {ipBlock: {cidr: 10.202.0.0/16}}, {ipBlock: {cidr: 10.203.0.0/16}}]\n'
}
ip netns exec "$XCT_TAG-c" socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo hello' &
BG+=($!)
C4=$(addr_of c 4)
CPU0=$(cpu_ms) R0=$(ready_n)
c_pol | put w.yaml
check "w: c's policy past xcni_policy's 8 entries (and polrange's, polcidr's 2): applied" bump
check "the policy writer found c's does not fit (closed meanwhile, as before)" \
	grep -q "pod x/c ($C4) closed (drop-policy-overflow).*more than the maps have left; growing xcni_policy to" "/tmp/xcnid-$XCT_TAG.log"
check "xcni_policy grown online, not kept closed" wait_until 30 grew xcni_policy 8
check "xcni_polrange too" wait_until 30 grew xcni_polrange 2
check "xcni_polcidr too" wait_until 30 grew xcni_polcidr 2
check "xcnid ready again" wait_until 30 ready_again
said_grew
check "b reaches c (c's policy in, c open)" wait_until 30 reaches b "$C4" 8080
check_fails "a does not reach c (c's policy admits b alone)" reaches a "$C4" 8080

# Conntrack (xcni_ct6 4096, xcni_ct 8192) grows by b's loop meanwhile: each time the
# old table is in the programs' slot from before the take-over until the catch-up
# after (the moment the test above made long), and gone from it then.
ctprev_held() {
	local g s
	g=$(grep -c "map xcni_ct6 grew" "/tmp/xcnid-$XCT_TAG.log")
	s=$(grep -c "map xcni_ct6: its old table in the programs' sight" "/tmp/xcnid-$XCT_TAG.log")
	echo "xcni_ct6 grew $g times, its old table in the programs' slot $s times"
	[ "$g" -ge 1 ] && [ "$s" -ge "$g" ] && [ "$(bpftool -j map dump pinned "$PIN/xcni_ctprev6" | jq length)" = 0 ]
}
check "xcni_ct6 grew by b's loop, its old table in the programs' slot meanwhile, none after" \
	wait_until 30 ctprev_held

# A restart in the middle: the same --map-max, the grown maps found and kept.
MAXI=$(max_of xcni_ipcache) MAXN=$(max_of xcni_podname) MAXP=$(max_of xcni_policy)
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "xcnid restarted with the same --map-max: ready" eval \
	'start_xcnid "$PIN" "${ARGS[@]}" && wait_xcnid_ready'
check "... on the grown xcni_ipcache ($MAXI entries): nothing closed, y's addresses in" \
	bash -c "$(declare -f entries ipc_full); echo $(max_of xcni_ipcache); [ $(max_of xcni_ipcache) = $MAXI ] && ! grep -q 'cannot hold every pod' /tmp/xcnid-$XCT_TAG.log && PIN=$PIN ipc_full"
check "... and on the grown xcni_podname ($MAXN) and xcni_policy ($MAXP): c's policy in" \
	bash -c "echo $(max_of xcni_podname) $(max_of xcni_policy); [ $(max_of xcni_podname) = $MAXN ] && [ $(max_of xcni_policy) = $MAXP ]"
check "... said once, not once per object that holds it (xcni_podname kept at $MAXN entries)" \
	bash -c "grep 'pinned map $PIN/xcni_podname: kept at' /tmp/xcnid-$XCT_TAG.log; [ \$(grep -c 'pinned map $PIN/xcni_podname: kept at $MAXN entries' /tmp/xcnid-$XCT_TAG.log) = 1 ]"
check "b reaches c after the restart" wait_until 10 reaches b "$C4" 8080

# A Service map: 20 Services in z1..z5 (4 each) past xcni_svc's 8 (web holds
# 2). The judge closes four of them (16 entries); the writer asks for all
# four: 8 -> 32 in one growth (the largest alone, 4, would grow it to 16,
# two namespaces closed until a second growth a minute later).
CPU0=$(cpu_ms) R0=$(ready_n)
copy_watch xcni_svc 8 &
BG+=($!)
z_svcs | put z.yaml
check "z1..z5: 20 Services past xcni_svc's 8 entries: applied" bump
check "the Service writer found four namespaces do not fit (closed meanwhile, as before), asking for all four" \
	grep -q "namespace z[1-5] closed for Service room: xcni_svc is full.*growing xcni_svc to 32 entries" "/tmp/xcnid-$XCT_TAG.log"
check "xcni_svc grown online, not kept closed" wait_until 30 grew xcni_svc 8
check "xcnid ready again" wait_until 30 ready_again
said_grew
check "xcni_svc: every entry of the old map (web's frontends) in the grown one at the copy" copied_all xcni_svc
check "b reaches a through each of the 20 Services (one growth held them all)" wait_until 30 z_all
check "b's 20 held connections through web answered across the growths so far" res_is hold 5 0

# xcni_fqdn_pat (2): an Admin ClusterNetworkPolicy names 3 domains for c
# (Accept: c stays denied by a). The pattern writer closes x meanwhile and
# asks; the map grows; c's 3 (pod, pattern) pairs are in. (Not b: the rule's
# prefixes pass xcni_polcidr's room too, closing its pod until that grows.)
CPU0=$(cpu_ms) R0=$(ready_n)
{
	printf -- '---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n'
	printf 'metadata: {name: fq-b}\nspec:\n  tier: Admin\n  priority: 20\n'
	printf '  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: c}}}}\n'
	printf '  egress:\n  - {action: Accept, to: [{domainNames: [n1.example.test, n2.example.test, n3.example.test]}]}\n'
} | put fq.yaml
check "fq: 3 domainNames patterns for c past xcni_fqdn_pat's 2: applied" bump
check "the pattern writer found x does not fit (closed meanwhile, as before)" wait_until 10 \
	grep -q "namespace x closed for DNS-pattern room.*growing xcni_fqdn_pat to 8" "/tmp/xcnid-$XCT_TAG.log"
check "xcni_fqdn_pat grown online, not kept closed" wait_until 30 grew xcni_fqdn_pat 2
check "xcnid ready again" wait_until 30 ready_gen
said_grew
check "... c's 3 pairs in it" wait_until 20 eval '[ "$(entries xcni_fqdn_pat)" = 3 ]'
rm "$M/fq.yaml"
check "fq removed: applied" bump

# The maps of local pods (16 entries): 12 pods more (15 in all) pass 90% of
# them, written by the plugin (xcni_endpoints(6), xcni_ifindex(6)) and the
# agent (xcni_polep): each doubles by its fill; then 5 more pass 16.
l_yaml() { # l_yaml N: pods l1..lN of x, label pod: b (l17: pod: d), their addresses
	for i in $(seq "$1"); do
		printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: l%s, namespace: x, labels: {pod: %s}}\n' \
			"$i" "$([ "$i" = 17 ] && echo d || echo b)"
		printf 'spec: {nodeName: n1}\nstatus: {podIP: %s, podIPs: [{ip: %s}, {ip: "%s"}]}\n' \
			"$(addr_of "l$i" 4)" "$(addr_of "l$i" 4)" "$(addr_of "l$i" 6)"
	done
}
CPU0=$(cpu_ms) R0=$(ready_n)
copy_watch xcni_endpoints 16 &
BG+=($!)
pods_dual $(seq -f l%g 12)
l_yaml 12 | put l.yaml
check "12 pods more (15 in all, 90% of the maps of local pods): applied" bump
check "xcni_endpoints doubled online by its fill" wait_until 30 grew xcni_endpoints 16
check "xcni_endpoints6, xcni_ifindex, xcni_ifindex6 too" wait_until 30 \
	eval 'grew xcni_endpoints6 16 && grew xcni_ifindex 16 && grew xcni_ifindex6 16'
# (It may have doubled by its fill before: a, b, c's entries written within one look.)
check "xcni_polep too (the agent's)" wait_until 30 eval '[ "$(max_of xcni_polep)" -gt 16 ]'
check "xcnid ready again" wait_until 30 ready_gen
said_grew
check "xcni_endpoints: every entry of the old map in the grown one at the copy" copied_all xcni_endpoints
pods_dual $(seq -f l%g 13 17)
l_yaml 17 | put l.yaml
check "5 pods more (20 in all, past 16): applied" bump
l_all() { for i in $(seq 16); do reaches "l$i" "$VIP" 80 || { echo "l$i does not"; return 1; }; done; }
check "each of l1..l16 (pod: b) reaches a through web (admitted)" wait_until 30 l_all
check_fails "l17 (pod: d) does not (a admits b alone)" reaches l17 "$VIP" 80

# xcni_affinity and xcni_snat, written by the programs alone (web is ClientIP:
# b's entries are in xcni_affinity): filled past --map-grow by made-up entries
# (bpftool), each is doubled by its fill as conntrack is, what it held copied.
map_fill() { # map_fill MAP N: N entries, zero values; affinity: ids 60000.., IPv4 clients
	#        10.77.x.y; snat: IPv4 tuples from 10.78.x.y (no flow has them); fqdn:
	#        endpoint ids 70000.. (no pod's), 10.77.x.y (expired: zero)
	local kb vb
	kb=$(bpftool -j map show pinned "$PIN/$1" | jq .bytes_key)
	vb=$(bpftool -j map show pinned "$PIN/$1" | jq .bytes_value)
	python3 - "$2" "$kb" "$vb" "$PIN/$1" >"$T/$1.batch" <<'PY'
import struct, sys
n, kb, vb, pin = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
hx = lambda b: " ".join("%02x" % x for x in b)
for i in range(n):
    a = bytes([10, 77 + pin.endswith("snat"), i // 256, i % 256])
    k = a if pin.endswith("snat") else struct.pack("<IB3x", 70000 + i if pin.endswith("fqdn") else 60000 + i % 8, 4) + a
    print(f"map update pinned {pin} key hex {hx(k.ljust(kb, bytes(1)))} value hex {hx(bytes(vb))}")
PY
	bpftool batch file "$T/$1.batch" >/dev/null
}
CPU0=$(cpu_ms) R0=$(ready_n)
check "xcni_affinity, xcni_snat and xcni_fqdn (1024 each) filled past --map-grow: 960 entries each" \
	eval 'map_fill xcni_affinity 960 && map_fill xcni_snat 960 && map_fill xcni_fqdn 960'
check "xcni_affinity doubled online by its fill" wait_until 30 grew xcni_affinity 1024
check "xcni_snat doubled online by its fill" wait_until 30 grew xcni_snat 1024
check "xcni_fqdn (the DNS-learned addresses) doubled online by its fill" wait_until 30 grew xcni_fqdn 1024
check "xcnid ready again" wait_until 30 ready_again
said_grew
check "... b's own affinity entries copied, the filled ones too (more than 800)" \
	bash -c "echo $(entries xcni_affinity); [ $(entries xcni_affinity) -gt 800 ]"
check "... the SNAT's filled records copied (more than 800)" \
	bash -c "echo $(entries xcni_snat); [ $(entries xcni_snat) -gt 800 ]"
check "... the DNS-learned addresses copied (more than 800)" \
	bash -c "echo $(entries xcni_fqdn); [ $(entries xcni_fqdn) -gt 800 ]"

# xcni_maglev: 4 tables, 10 wanted once every frontend picks by Maglev.
MAXS=$(max_of xcni_svc) MAXE=$(max_of xcni_endpoints)
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "xcnid restarted with --lb-algorithm maglev: ready" eval \
	'start_xcnid "$PIN" "${ARGS[@]}" --lb-algorithm maglev && wait_xcnid_ready'
check "... on the grown xcni_svc ($MAXS) and xcni_endpoints ($MAXE)" \
	bash -c "echo $(max_of xcni_svc) $(max_of xcni_endpoints); [ $(max_of xcni_svc) = $MAXS ] && [ $(max_of xcni_endpoints) = $MAXE ]"
CPU0=$(cpu_ms) R0=$(ready_n)
check "the Service writer found z1..z5's 20 tables do not fit xcni_maglev's 4 (closed meanwhile)" wait_until 20 \
	grep -q "namespace z[1-5] closed for Service room: xcni_maglev is full.*growing xcni_maglev to 32" "/tmp/xcnid-$XCT_TAG.log"
check "xcni_maglev grown online, not kept closed" wait_until 30 grew xcni_maglev 4
check "xcnid ready again" wait_until 30 ready_again
said_grew
maglev_pick() { # maglev_pick SVC ARGS...: c's new flow to SVC takes the backend its table names
	ctl explain x/c "svc/$1" 80/tcp --sport 40000 "${@:2}" --json | jq -e '.choice | startswith("Maglev:")' >/dev/null
}
maglev_all() { # web's two frontends and z1..z5's twenty, each by its own table
	maglev_pick x/web --family 4 && maglev_pick x/web --family 6 &&
		for s in $ZS; do maglev_pick "z${s%?}/s${s#?}" || return 1; done
}
check "every frontend's table in the grown map: web's (both families, copied) and z1..z5's 20 pick by it" \
	wait_until 30 maglev_all
check "... 22 tables, the copied two included" bash -c "echo $(entries xcni_maglev); [ $(entries xcni_maglev) -ge 22 ]"
# The tables are pinned nowhere: status's map memory counts them through the
# map of maps (22 of 16,381 ids, 64 KiB each), beyond every pinned map's own.
maglev_mem() {
	local pinned mem
	pinned=$(for m in "$PIN"/xcni_*; do bpftool -j map show pinned "$m" 2>/dev/null; done |
		jq -s 'map(.bytes_memlock // 0) | add')
	mem=$(ctl status -j 2>/dev/null | jq '.. | objects | .maps_bytes? // empty' | head -1)
	echo "status $mem bytes, the pinned maps' own $pinned"
	[ -n "$mem" ] && [ "$mem" -ge $((pinned + 22 * 65524)) ]
}
check "xcnictl status: map memory counts xcni_maglev's 22 tables (pinned nowhere)" maglev_mem
check "b reaches a through each of z1..z5's 20 Services" wait_until 20 z_all

touch "$T/stop"
sleep 1.5
[ -n "${MAPGROW_TRACE:-}" ] && ctl metrics >"$MAPGROW_TRACE/metrics" 2>&1 && cp "$T"/b.fails "$T"/b.slow "$T"/hold.res "$T"/b.res "$MAPGROW_TRACE/" 2>/dev/null
check "b's connections to web across the growths and the restarts: 0 failed" res_is b 20 0
check "b's 20 held connections through web: every one answered after every growth and restart" \
	res_is hold 10 0
check "c's probes of a all along: 0 admitted (the verdict unchanged)" \
	bash -c "cat $T/c.res; read -r _ ok _ fail <$T/c.res; [ \$ok = 0 ] && [ \$fail -ge 4 ]"
check "xcnictl status: Memory says xcni_ipcache and xcni_svc grew" wait_until 20 \
	bash -c "$(declare -f ctl); NODE=$NODE BUILD=$BUILD PIN=$PIN; ctl status 2>&1 | grep -E '^Memory:.*xcni_svc grew 8 -> '"

finish
