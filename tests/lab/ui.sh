#!/bin/bash
# The service map (xcnid --ui, xcnictl lab ui) in a real browser: headless
# Chromium, driven over the DevTools protocol (tests/lab/ui_browser.py), loads
# the map of a lab the suite sent known traffic through, waits until it is
# drawn, and the DOM must hold the namespaces, pods and the Service as nodes,
# each flow as an edge of its verdict's colour with its count; a real click on
# the denied edge must show the policy that isolates its destination. The
# screenshot is kept (docs/img/service-map.png is lab-ui-map's, 50 pods). Then the server's
# bounds: a non-loopback --ui without --http-allow-remote is refused (exit 2),
# unknown paths are 404, a bad filter 400 naming it, a body or oversized
# headers 4xx.
#
#   n1: x/a (app=web; 80/tcp, 81/udp)   x/b (role=friend; 81/udp)
#   n2: x/c (role=stranger; 81/udp)      y/d (81/udp)
#   NetworkPolicy x/web-ingress: app=web takes 80/TCP and 81/UDP from role=friend
#   Service x/web 8080/TCP -> app=web:80; every xcnid: --kube-proxy-replacement,
#   --ui 127.0.0.1:9963 (in its node's netns; flows on by default)
#   netns xcni-uitest: xcnictl lab ui --listen 127.0.0.1:9964 and Chromium
#
#   x/b -> x/a      81/udp   allowed by x/web-ingress
#   x/c -> x/a      81/udp   denied on n1: x/web-ingress isolates x/a
#   x/b -> x/web    8080/tcp allowed, through the Service to x/a (per packet)
#   y/d -> x/b      81/udp   allowed, across nodes and namespaces
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite ui
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
BROWSER="$(dirname "$0")/ui_browser.py"
OUT=${XCNI_TEST_OUT:-$BUILD/test-out}/lab-ui
UINS=xcni-uitest
AGENT_UI=127.0.0.1:9963 LAB_UI=127.0.0.1:9964
mkdir -p "$OUT"
ui_cleanup() {
	ip netns del "$UINS" 2>/dev/null
	lab_cleanup
}
trap ui_cleanup EXIT

# --ui's address is checked before anything starts.
badopt() { local re=$1; shift; "$XCNID_BIN" "$@" >"$T/out" 2>&1; local rc=$?; [ $rc = 2 ] && grep -q -- "$re" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }; }
check "xcnid --ui 0.0.0.0:9963 (no --http-allow-remote): exit 2, not a loopback address" \
	badopt "--ui 0.0.0.0:9963: not a loopback address.*--http-allow-remote" --ui 0.0.0.0:9963
check "xcnid --ui [::]:9963: exit 2 the same" badopt "not a loopback address" --ui "[::]:9963"
check "xcnid --ui nonsense: exit 2 naming --ui" badopt "--ui nonsense: HOST:PORT" --ui nonsense
check "xcnid --ui and a different --metrics-addr: exit 2 (one server)" \
	badopt "same address" --ui 127.0.0.1:9963 --metrics-addr 127.0.0.1:9962
labui_bad() { "$XCNICTL" lab ui --listen 0.0.0.0:9964 >"$T/out" 2>&1; local rc=$?; [ $rc = 2 ] && grep -q "not a loopback address" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }; }
check "xcnictl lab ui --listen 0.0.0.0:9964: exit 2, not a loopback address" labui_bad

check "lab up --nodes 2 --kube-proxy none, agents with --ui $AGENT_UI (flows on by default)" \
	lab up --nodes 2 --kube-proxy none --agent-arg "--ui=$AGENT_UI" || { finish; exit 1; }
remember_pids

U81='{containerPort: 81, protocol: UDP}'
{
	y_ns x && y_ns y
	y_pod a x n1 'app: web' "{containerPort: 80}, $U81"
	y_pod b x n1 'role: friend' "$U81"
	y_pod c x n2 'role: stranger' "$U81"
	y_pod d y n2 '' "$U81"
	y_webpol
	y_svc web x 'app: web' '{port: 8080, targetPort: 80, protocol: TCP}'
} >"$T/objs.yaml"
check "apply x/a, x/b (n1), x/c, y/d (n2), NetworkPolicy x/web-ingress, Service x/web" lab apply -f "$T/objs.yaml"
remember_pids
ip_of() { lab get --json | jq_ "[p for p in d['pods'] if p['namespace'] == '$1' and p['name'] == '$2'][0]['ip']"; }
A4=$(ip_of x a) B4=$(ip_of x b)
WEB=$(lab get --json | jq_ "[s['clusterIP'] for s in d['services'] if s['namespace'] == 'x' and s['name'] == 'web'][0]")
diag "x/a $A4, x/b $B4, Service x/web $WEB"

check "x/b -> x/a 81/udp: 5 of 5 answered" answered 5 x/b 0 "$A4" 81 5
check "x/c -> x/a 81/udp: 0 of 3 answered (x/web-ingress)" answered 0 x/c 0 "$A4" 81 3
check "y/d -> x/b 81/udp (n2 to n1): 2 of 2 answered" answered 2 y/d 0 "$B4" 81 2
# From x/b's netns but outside the node's cgroup: the Service is translated per
# packet (from_pod), whose conntrack entry names it. A pod's own processes get
# it at connect (socket LB), and xcnid's flow records then hold the connection
# between the pods without the Service (a limit of the records, not the map).
BNS=$(lab get --json | jq_ "[p for p in d['pods'] if p['namespace'] == 'x' and p['name'] == 'b'][0]['netns']")
check "x/b -> Service x/web $WEB:8080/tcp (from netns $BNS, per packet)" \
	ip netns exec "$BNS" /usr/bin/python3 "$LAB_TESTS/tcp_hello.py" "$WEB" 8080
sleep 2.5 # a conntrack walk (every second) after the last packet

# ---- xcnid --ui on n1, asked from n1's netns -------------------------------
get() { in_node 1 curl -s --noproxy '*' -o "$T/body" -w '%{http_code}' "$@" "http://$AGENT_UI$path"; }
page() { local path=/ code; code=$(get) && [ "$code" = 200 ] && cmp -s "$T/body" "$(dirname "$0")/../../web/ui.html" || { echo "HTTP $code"; head -c 300 "$T/body"; return 1; }; }
check "n1 xcnid --ui: GET / is the page (web/ui.html, byte for byte)" page
# graph PYEXPR: n1's /api/graph holds, on it as g (edge(ID) -> the edge or None)
cat >"$T/graph.py" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
edges = {e["id"]: e for e in g["edges"]}
nodes = {n["id"]: n for n in g["nodes"]}
edge = edges.get
if not eval(sys.argv[2]):
    print(f"not {sys.argv[2]}:\n" + json.dumps(g["edges"])[:6000]); sys.exit(1)
EOF
graph() { local expr=$1 path=/api/graph code; shift; code=$(get "$@") && [ "$code" = 200 ] && /usr/bin/python3 "$T/graph.py" "$T/body" "$expr" || { echo "HTTP $code"; head -c 300 "$T/body"; return 1; }; }
check "n1 /api/graph: x/b -> x/a allowed by x/web-ingress rule 0 (ingress)" \
	graph "edge('pod:x/b->pod:x/a')['verdict'] == 'allowed' and edge('pod:x/b->pod:x/a')['why'][0]['text'] == 'allowed by x/web-ingress rule 0 (ingress)' and g['node'] == 'n1'"
check "n1 /api/graph: x/c -> x/a denied, naming x/web-ingress as what isolates x/a" \
	graph "edge('pod:x/c->pod:x/a')['verdict'] == 'denied' and edge('pod:x/c->pod:x/a')['why'][0]['policies'] == ['x/web-ingress'] and 'x/a is isolated for ingress' in edge('pod:x/c->pod:x/a')['why'][0]['text']"
check "n1 /api/graph: x/b -> Service x/web -> x/a, both edges allowed" \
	graph "nodes['svc:x/web']['kind'] == 'service' and edge('pod:x/b->svc:x/web')['verdict'] == 'allowed' and edge('svc:x/web->pod:x/a')['verdict'] == 'allowed' and edge('svc:x/web->pod:x/a')['recent'][0]['service'].startswith('x/web')"
# The sending node's own map: what it sent into the overlay is forwarded (grey),
# not allowed, even where n1 dropped it (x/c -> x/a).
n2graph() {
	local code
	code=$(in_node 2 curl -s --noproxy '*' -o "$T/body2" -w '%{http_code}' "http://$AGENT_UI/api/graph") && [ "$code" = 200 ] || { echo "HTTP $code"; return 1; }
	/usr/bin/python3 - "$T/body2" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
e = {x["id"]: x for x in g["edges"]}
for i in ("pod:x/c->pod:x/a", "pod:y/d->pod:x/b"):
    assert e[i]["verdict"] == "forwarded" and e[i]["forwarded"] == 1 and e[i]["allowed"] == 0, e[i]
    assert e[i]["recent"][0]["observation_point"] == "to-overlay", e[i]["recent"][0]
EOF
}
check "n2 /api/graph (the sender's node): x/c -> x/a and y/d -> x/b forwarded at to-overlay, not allowed" n2graph
check "n1 /api/graph?verdict=denied: only the denied edge" \
	graph "[e['id'] for e in g['edges']] == ['pod:x/c->pod:x/a']" -G -d verdict=denied
code() { local want=$1 path=$2 c; shift 2; c=$(get "$@"); [[ $c == $want ]] || { echo "HTTP $c, wanted $want"; cat "$T/body"; return 1; }; }
check "n1: GET /nope is 404" code 404 /nope
badfilter() { code 400 '/api/graph?verdict=maybe' && grep -q verdict "$T/body" || { cat "$T/body"; return 1; }; }
check "n1: GET /api/graph?verdict=maybe is 400 naming the filter" badfilter
check "n1: POST / is 405" code 405 / -X POST -d x
check "n1: GET /api/graph with a body is 413" code 413 /api/graph -X GET -d x
check "n1: GET / with 20 KB of headers is 4xx" code "4[0-9][0-9]" / -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' x)"
check "n1: xcnid still serves after those" page

# ---- xcnictl lab ui, in Chromium ---------------------------------------------
lab_ui_serve "$UINS" "$LAB_UI"
# The merged data behind the map: a cross-node connection is one flow with the
# final verdict, the node and point that decided it and both nodes' counts.
labgraph() {
	nsenter --net="/run/netns/$UINS" curl -sf "http://$LAB_UI/api/graph" >"$T/lg.json" || return 1
	/usr/bin/python3 - "$T/lg.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
e = {x["id"]: x for x in g["edges"]}
d = e["pod:x/c->pod:x/a"]["recent"][0]
assert (d["verdict"], d["decided_by"], d["observation_point"]) == ("denied", "n1", "to-pod"), d
assert "n1 3/0 packets" in d["counts"] and "n2 3/0 packets" in d["counts"], d
a = e["pod:y/d->pod:x/b"]
r = a["recent"][0]
assert (a["verdict"], r["verdict"], r["decided_by"], r["observation_point"]) == ("allowed", "allowed", "n1", "to-pod"), a
assert "n1 2/2 packets" in r["counts"] and "n2 2/2 packets" in r["counts"], r
EOF
}
check "lab ui /api/graph: x/c -> x/a denied, decided by n1 at to-pod; y/d -> x/b allowed by n1 (n2 forwarded it), both nodes' counts" labgraph
DENIED='pod:x/c->pod:x/a'
browse() {
	ip netns exec "$UINS" /usr/bin/python3 "$BROWSER" "http://$LAB_UI/" "$T" "$OUT/service-map.png" \
		--want 'pod:x/b->pod:x/a' --want "$DENIED" --want 'pod:x/b->svc:x/web' \
		--want 'svc:x/web->pod:x/a' --want 'pod:y/d->pod:x/b' --click "$DENIED" >"$T/dom.json"
	local rc=$?
	[ $rc = 0 ] || { cat "$T/dom.json"; tail -5 "$T/chromium.log"; }
	return $rc
}
check "Chromium loads the lab's map and it shows the five edges the traffic made" browse
cat >"$T/dom.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
st, det = d["state"], d.get("detail", {})
nodes = {n["id"]: n for n in st["nodes"]}
edges = {e["id"]: e for e in st["edges"]}
boxes = {n["id"]: n for n in st["namespaces"]}
edge = edges.get
if not eval(sys.argv[2]):
    print(f"not {sys.argv[2]}:\n" + json.dumps({"detail": det, "edges": st["edges"], "status": st["status"]})[:6000]); sys.exit(1)
EOF
dom() { /usr/bin/python3 "$T/dom.py" "$T/dom.json" "$1"; }
GREEN="rgb(46, 158, 68)" RED="rgb(214, 39, 40)"
check "DOM: namespaces x and y drawn as boxes" dom "'ns:x' in boxes and 'ns:y' in boxes and 'namespace x' in boxes['ns:x']['text']"
check "DOM: pods x/a x/b x/c y/d and Service x/web as nodes" \
	dom "all(nodes.get(i, {}).get('kind') == 'pod' for i in ('pod:x/a', 'pod:x/b', 'pod:x/c', 'pod:y/d')) and nodes['svc:x/web']['kind'] == 'service'"
check "DOM: between pods and the Service, exactly the five edges the traffic made" \
	dom "sorted(i for i in edges if all(end.startswith(('pod:', 'svc:')) for end in i.split('->'))) == sorted(['pod:x/b->pod:x/a', 'pod:x/c->pod:x/a', 'pod:x/b->svc:x/web', 'svc:x/web->pod:x/a', 'pod:y/d->pod:x/b'])"
check "DOM: the denied edge x/c -> x/a is red ($RED), one flow (n2's and n1's records merged)" \
	dom "edge('$DENIED')['verdict'] == 'denied' and edge('$DENIED')['stroke'] == '$RED' and edge('$DENIED')['count'] == '1'"
check "DOM: the allowed edges are green ($GREEN)" \
	dom "all(edge(i)['stroke'] == '$GREEN' and edge(i)['verdict'] == 'allowed' for i in ('pod:x/b->pod:x/a', 'pod:x/b->svc:x/web', 'svc:x/web->pod:x/a', 'pod:y/d->pod:x/b'))"
check "DOM: the cross-node edge y/d -> x/b counts one flow" dom "edge('pod:y/d->pod:x/b')['count'] == '1'"
check "DOM: the status names both nodes" dom "'from n1, n2' in st['status']"
check "click on the denied edge: the panel is that edge's, the address says #edge=" \
	dom "det['edge'] == '$DENIED' and det['hash'].startswith('#edge=')"
check "click: the panel names x/web-ingress as the policy that decided it (isolates x/a)" \
	dom "det['policies'] == ['x/web-ingress'] and 'x/a is isolated for ingress, nothing allows; x/web-ingress isolates it' in det['text'] and det['why'][0]['cls'] == 'why denied'"
check "click: no near miss in the panel: x/web-ingress rule 0 takes role=friend, x/c is role=stranger (the denial it means)" \
	dom "'near miss' not in det['why'][0]['text']"
check "click: the panel lists the flow, x/c to x/a:81 UDP, seen by n2 and n1" \
	dom "'x/c:' in det['text'] and 'x/a:81' in det['text'] and 'UDP' in det['text'] and 'n1' in det['text'] and 'n2' in det['text']"
check "the screenshot is a PNG ($OUT/service-map.png)" \
	bash -c "head -c 8 '$OUT/service-map.png' | od -An -c | grep -q 'P   N   G'"
diag "screenshot: $OUT/service-map.png"
labui_404() { ip netns exec "$UINS" curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://$LAB_UI/etc/passwd" | grep -qx 404; }
check "lab ui: GET /etc/passwd is 404" labui_404

stop_mine
lab_down_checked
check "netns $UINS removed" bash -c "ip netns del $UINS && ! ip netns list | grep -q '^$UINS\\b'"
finish
