#!/bin/bash
# A tenant's Service taking other Services' addresses (issue 52 item 2), on a
# two-node lab with the cluster DNS (`lab up --nodes 2 --dns`). The tenant's
# namespace aaa sorts before every other one, which used to be enough for its
# spec.externalIPs to win a frontend key (address, port, protocol) on every
# node: a man in the middle chosen by a name. Its pod aaa/mitm answers
# "aaa/mitm"; every probe below must reach the legitimate backends instead.
#
#   n1: y/web1 (app=web, 80/TCP)   n2: y/web2 (app=web)   x/c (client, n2)
#   aaa/mitm (n1: 80/TCP, 53/UDP+TCP)      kube-system/dns (dnsmasq), 10.96.0.10
#   y/web    ClusterIP 8080 -> web              y/np  NodePort 30080 -> web
#   y/old    externalIPs [203.0.113.10] 8090 -> web, created 2020
#   aaa/steal-cip  externalIPs [y/web's ClusterIP]      8080     -> mitm
#   aaa/steal-dns  externalIPs [10.96.0.10]             53/UDP+TCP -> mitm
#   aaa/steal-np   externalIPs [n1's address 192.168.77.1] 30080 -> mitm
#   aaa/steal-pod  externalIPs [y/web2's address]       80       -> mitm
#   aaa/young      externalIPs [203.0.113.10] 8090 -> mitm, created 2026
#   aaa/resolver   externalIPs [198.51.100.53] 53/UDP -> mitm (outside --external-ip-cidrs)
#   aaa/lb-node    LoadBalancer, status.loadBalancer.ingress [n1's address] 8099 -> mitm
#                  (whoever writes a Service's status: refused as an externalIP there is)
#
# Every xcnid runs --external-ip-cidrs 203.0.113.0/24. LAB_KUBE_PROXY=none
# (the default here): xcnid translates Services; every tenant externalIP but
# none is refused, named in the log, xcnictl status, xcnictl service list and
# xcni_svc_external_ips_refused. LAB_KUBE_PROXY=iptables: kube-proxy
# translates (upstream's CVE-2020-8554 is its own); xcni_extfe, which every
# node refuses as sources from the underlay, holds the ClusterIPs and the
# allowed externalIP, not the tenant's 198.51.100.53:53.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/lib.sh"
KP=${LAB_KUBE_PROXY:-none}
lab_suite "tenant-svc-$KP"
MPORT=9971 # every node's xcnid serves its metrics at 127.0.0.1:$MPORT in its netns
N1=192.168.77.1
EIP=203.0.113.10
RESOLVER=198.51.100.53

KPBIN=()
[ "$KP" = iptables ] && KPBIN=(/usr/sbin/iptables-restore)
# TENANT_SVC_ALLOW= (empty): no --external-ip-cidrs, for a build that has no
# such flag (main before issue 52: every traffic check there must fail).
ALLOW=${TENANT_SVC_ALLOW-203.0.113.0/24}
ALLOW_ARG=()
[ -n "$ALLOW" ] && ALLOW_ARG=(--agent-arg "--external-ip-cidrs=$ALLOW")
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN" /usr/sbin/dnsmasq "${KPBIN[@]}"
check "lab up --nodes 2 --dns --kube-proxy $KP ${ALLOW_ARG[*]} (metrics)" \
	lab up --nodes 2 --dns --kube-proxy "$KP" "${ALLOW_ARG[@]}" \
	--agent-arg "--metrics-addr=127.0.0.1:$MPORT" || { finish; exit 1; }
remember_pids

wait_for() { # SECONDS CMD...: until CMD succeeds, at most SECONDS
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && { "$@"; return 1; }
		sleep 0.5
	done
}
pod() { # NS NAME NODE LABELS PORTS
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s, labels: {%s}}\nspec: {nodeName: %s, containers: [{name: c, ports: [%s]}]}\n' \
		"$2" "$1" "$4" "$3" "$5"
}
svc() { # NS NAME CREATED SPEC (flow style, without braces)
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s, creationTimestamp: "%s"}\nspec: {%s}\n' \
		"$2" "$1" "$3" "$4"
}
HTTP='{name: http, containerPort: 80}'
{
	printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' y x aaa
	pod y web1 n1 "app: web" "$HTTP"
	pod y web2 n2 "app: web" "$HTTP"
	pod x c n2 "app: client" "$HTTP"
	pod aaa mitm n1 "app: mitm" "$HTTP, {name: dns, containerPort: 53, protocol: UDP}, {name: dnst, containerPort: 53}"
	svc y web 2020-01-01T00:00:00Z "selector: {app: web}, ports: [{name: http, port: 8080, targetPort: http}]"
	svc y np 2020-01-01T00:00:00Z "type: NodePort, selector: {app: web}, ports: [{name: http, port: 8081, targetPort: http, nodePort: 30080}]"
	svc y old 2020-01-01T00:00:00Z "selector: {app: web}, externalIPs: [$EIP], ports: [{name: http, port: 8090, targetPort: http}]"
} >"$T/cluster.yaml"
check "apply y/web1 (n1), y/web2 (n2), x/c, aaa/mitm; Services y/web, y/np (nodePort 30080), y/old (externalIP $EIP)" \
	lab apply -f "$T/cluster.yaml"
CIP=$(lab get --json | jq_ '[s["clusterIP"] for s in d["services"] if s["name"] == "web"][0]')
WEB2=$(lab get --json | jq_ '[p["ip"] for p in d["pods"] if p["name"] == "web2"][0]')
diag "y/web ClusterIP $CIP, y/web2 $WEB2"

# answers FROM IP PORT: which pods answered 10 TCP connections to IP:PORT.
answers() {
	local i
	for i in $(seq 10); do
		lab exec "$1" -- timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3; echo probe >&3; head -n1 <&3"
	done 2>/dev/null | sort -u | tr '\n' ' '
}
# legit GOT: only y/web1 and y/web2 answered, at least one.
legit() { [[ $1 =~ ^(y/web[12] )+$ ]]; }
outside_np() { # who answered 10 connections from the outside to n1:30080
	local i
	for i in $(seq 10); do
		lab probe outside n1 30080/tcp --json --timeout-ms 1500 | jq_ 'd.get("answer") or ""'
	done 2>/dev/null | sort -u | tr '\n' ' '
}
baseline() {
	local got
	got=$(answers x/c "$CIP" 8080); legit "$got" || { echo "ClusterIP: $got"; return 1; }
	got=$(answers x/c "$N1" 30080); legit "$got" || { echo "n1:30080 from x/c: $got"; return 1; }
	got=$(outside_np); legit "$got" || { echo "n1:30080 from outside: $got"; return 1; }
	[ "$(lab exec x/c -- getent hosts web.y.svc.cluster.local | awk '{print $1}')" = "$CIP" ] ||
		{ echo "DNS: web.y does not resolve to $CIP"; return 1; }
}
if [ "$KP" = none ]; then
	check "before the tenant: x/c reaches $CIP:8080, $N1:30080 and the outside n1:30080 (y/web1, y/web2); DNS answers" \
		wait_for 20 baseline
fi

# ---- the tenant ----------------------------------------------------------------------------
M="selector: {app: mitm}"
{
	svc aaa steal-cip 2026-01-01T00:00:00Z "$M, externalIPs: [$CIP], ports: [{name: http, port: 8080, targetPort: http}]"
	svc aaa steal-dns 2026-01-01T00:00:00Z "$M, externalIPs: [10.96.0.10], ports: [{name: dns, port: 53, protocol: UDP, targetPort: dns}, {name: dnst, port: 53, targetPort: dnst}]"
	svc aaa steal-np 2026-01-01T00:00:00Z "$M, externalIPs: [$N1], ports: [{name: http, port: 30080, targetPort: http}]"
	svc aaa steal-pod 2026-01-01T00:00:00Z "$M, externalIPs: [$WEB2], ports: [{name: http, port: 80, targetPort: http}]"
	svc aaa young 2026-01-01T00:00:00Z "$M, externalIPs: [$EIP], ports: [{name: http, port: 8090, targetPort: http}]"
	svc aaa resolver 2026-01-01T00:00:00Z "$M, externalIPs: [$RESOLVER], ports: [{name: dns, port: 53, protocol: UDP, targetPort: dns}]"
	svc aaa lb-node 2026-01-01T00:00:00Z "type: LoadBalancer, $M, ports: [{name: http, port: 8099, targetPort: http}]"
	printf 'status: {loadBalancer: {ingress: [{ip: %s}]}}\n' "$N1"
} >"$T/tenant.yaml"
check "apply the tenant's Services in aaa (externalIPs on $CIP, 10.96.0.10, $N1, $WEB2, $EIP, $RESOLVER; a load-balancer IP on $N1)" \
	lab apply -f "$T/tenant.yaml"

# The refusals, said on both nodes (log, status, service list, metric).
LOGS=("$XCNI_LAB_DIR"/n1/xcnid.log "$XCNI_LAB_DIR"/n2/xcnid.log)
WANT=(
	"Service aaa/steal-cip: spec.externalIPs[0]: $CIP is in the Service range"
	"Service aaa/steal-dns: spec.externalIPs[0]: 10.96.0.10 is in the Service range"
	"Service aaa/steal-np: spec.externalIPs[0]: $N1 is a node's address"
	"Service aaa/steal-pod: spec.externalIPs[0]: $WEB2 is in a pod range"
	"Service aaa/young: spec.externalIPs[0]: frontend $EIP:8090/TCP is an older Service's externalIP (y/old $EIP:8090/TCP); externalIP refused"
	"Service aaa/resolver: spec.externalIPs[0]: $RESOLVER is outside --external-ip-cidrs"
	"Service aaa/lb-node: status.loadBalancer.ingress[0].ip: $N1 is a node's address; load-balancer IP refused"
)
said_all() { # FILE-OR-TEXT...: every WANT line in the text on stdin
	local text w
	text=$(cat)
	for w in "${WANT[@]}"; do
		grep -qF -- "$w" <<<"$text" || { echo "not said: $w"; return 1; }
	done
}
if [ "$KP" = none ]; then
	for n in 1 2; do
		logged() { said_all <"$XCNI_LAB_DIR/n$1/xcnid.log"; }
		check "n$n's xcnid log names every refused externalIP, its Service, field and why" wait_for 20 logged "$n"
		st() { in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" status | tee "$T/status$1" | said_all &&
			grep -q '^Services:    7 externalIP or load-balancer IP frontend(s) refused' "$T/status$1"; }
		check "n$n: xcnictl status: 'Services: 7 externalIP or load-balancer IP frontend(s) refused' naming each" st "$n"
		sl() { in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" service list | said_all; }
		check "n$n: xcnictl service list names each refused externalIP under its table" sl "$n"
		# The page read whole first: under pipefail a grep -q quitting at its
		# match failed the pipe when curl wrote its next chunk (cc16, n1).
		mval() { grep -qx 'xcni_svc_external_ips_refused 7' \
			<<<"$(in_node "$1" curl -s --max-time 10 "http://127.0.0.1:$MPORT/metrics")"; }
		check "n$n: xcni_svc_external_ips_refused 7" mval "$n"
	done

	# ---- real traffic still reaches the legitimate backends --------------------------------
	got=$(answers x/c "$CIP" 8080)
	check "x/c -> y/web's ClusterIP $CIP:8080: y/web1, y/web2 only (got: $got)" legit "$got"
	got=$(answers y/web1 "$CIP" 8080)
	check "y/web1 (n1, aaa/mitm's node) -> $CIP:8080: y/web1, y/web2 only (got: $got)" legit "$got"
	dns() { [ "$(lab exec "$1" -- getent hosts web.y.svc.cluster.local | awk '{print $1}')" = "$CIP" ]; }
	check "x/c: web.y.svc.cluster.local still resolves to $CIP through 10.96.0.10:53 (the DNS's, not aaa/mitm's)" dns x/c
	check "y/web1 (n1): web.y.svc.cluster.local resolves to $CIP" dns y/web1
	got=$(outside_np)
	check "the outside -> $N1:30080 (y/np's NodePort on n1): y/web1, y/web2 only (got: $got)" legit "$got"
	got=$(answers x/c "$N1" 30080)
	check "x/c -> $N1:30080: y/web1, y/web2 only (got: $got)" legit "$got"
	got=$(answers x/c "$WEB2" 80)
	check "x/c -> y/web2's own address $WEB2:80: y/web2 (got: $got)" test "$got" = "y/web2 "
	got=$(answers y/web1 "$WEB2" 80)
	check "y/web1 (n1) -> $WEB2:80: y/web2 (got: $got)" test "$got" = "y/web2 "
	got=$(answers x/c "$EIP" 8090)
	check "x/c -> $EIP:8090 (y/old's externalIP, the older): y/web1, y/web2 only (got: $got)" legit "$got"
	got=$(answers x/c "$N1" 8099)
	check "x/c -> $N1:8099 (aaa/lb-node's load-balancer IP, n1's address): not aaa/mitm (got: $got)" \
		test -z "$got"
	mitm_alive() { [ "$(answers x/c "$(lab get --json | jq_ '[s["clusterIP"] for s in d["services"] if s["name"] == "steal-cip"][0]')" 8080)" = "aaa/mitm " ]; }
	check "positive control: aaa/steal-cip's own ClusterIP:8080 reaches aaa/mitm" mitm_alive

	# ---- the older claim goes: the younger one takes over; refusals follow -----------------
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: old, namespace: y}\n' >"$T/old.yaml"
	check "delete y/old" lab delete -f "$T/old.yaml"
	young() { [ "$(answers x/c "$EIP" 8090)" = "aaa/mitm " ]; }
	check "x/c -> $EIP:8090: now aaa/young's (nothing older claims it): aaa/mitm" wait_for 10 young
	five() { grep -qx 'xcni_svc_external_ips_refused 6' \
		<<<"$(in_node 1 curl -s --max-time 10 "http://127.0.0.1:$MPORT/metrics")"; }
	check "n1: xcni_svc_external_ips_refused 6" wait_for 10 five
else
	# Beside kube-proxy: xcni_extfe, refused as sources from the underlay.
	# kfe NODE ADDR PORT PROTO: xcni_extfe holds IPv4 ADDR:PORT/PROTO.
	kfe() {
		bpftool -j map dump pinned "$LAB_PINS/n$1/xcni_extfe" | /usr/bin/python3 -c '
import json, socket, struct, sys
want = socket.inet_aton(sys.argv[1]) + bytes(12) + struct.pack("!H", int(sys.argv[2])) + bytes([2, int(sys.argv[3]), 0])
sys.exit(0 if any(bytes(int(b, 16) for b in e["key"])[:21] == want for e in json.load(sys.stdin)) else 1)' "$2" "$3" "$4"
	}
	extfe_ok() {
		kfe "$1" "$CIP" 8080 6 && kfe "$1" 10.96.0.10 53 17 && kfe "$1" "$EIP" 8090 6 &&
			! kfe "$1" "$RESOLVER" 53 17 && ! kfe "$1" "$N1" 30080 6 && ! kfe "$1" "$WEB2" 80 6 &&
			! kfe "$1" "$N1" 8099 6
	}
	for n in 1 2; do
		check "n$n: xcni_extfe holds $CIP:8080, 10.96.0.10:53/UDP and the allowed $EIP:8090, not the tenant's $RESOLVER:53/UDP, $N1:30080, $WEB2:80 or load-balancer IP $N1:8099" \
			wait_for 10 extfe_ok "$n"
	done
fi
finish
