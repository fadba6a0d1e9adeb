#!/bin/bash
# The service map at the size where the old one became a hairball: 50 pods in
# 6 namespaces (examples/svcmap: 14 workloads, two Services, two policies
# that deny), drawn by xcnictl lab ui in headless Chromium at 1400x900
# (tests/lab/uimap_browser.py). Every namespace must be on screen with no
# horizontal scroll, a workload's pods one card with their count, the edges
# between cards aggregated with their counts, no two count badges
# overlapping; the namespace picker, the verdict filter and the search must
# change what is drawn (and the flow table under the map with it), and a
# click on a count must select its edge. What issue 53 measured on the map,
# measured again as laid out: no edge passes over a namespace box that is
# neither its source's nor its destination's, no count badge over a
# namespace's title, no text under 11 px as rendered, at 1400x900 and at
# 1024x700; /?verdict=denied opens the map filtered; a denied edge whose
# flows went to 4 pods of one workload has one "Decided by" line. The
# figures are in the log (diag). Screenshots are kept in
# $XCNI_TEST_OUT/lab-ui-map (service-map-50*.png; -1024 the small window;
# -why the panel of a denied edge, docs/img/service-map.png). Then
# examples/svcmap/more.yaml: 57 pods in 8 namespaces and a Service with no
# endpoints (issue 70 item 6), at 1400x900 and 1024x700 (service-map-57-*.png):
# every namespace box on screen above the flow table, no edge over a third
# namespace's box, the no-backend edge blue (its hue 60+ degrees from denied's
# and dropped's), counted no-backend by /api/graph and ending at the Service,
# no side panel while nothing is selected.
#
#   n1, n2: 50 pods, the lab's scheduler spreads them; every xcnid with flows
#   (default) and --kube-proxy none (Services translated per packet)
#   netns xcni-uimaptest: xcnictl lab ui --listen 127.0.0.1:9966 and Chromium
#   traffic (tests/lab/uimap_traffic.py, one process): every pod of a client
#   workload to every pod of its peer, UDP 81 or TCP 80, or once to a Service:
#     denied: shop/cart -> pay/payments, ops/prometheus -> pay/payments
#             (pay-from-api), batch/jobs -> data/db, batch/report -> Service
#             data/db (db-from-api-ops); the other 17 lines allowed
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite uimap
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
HERE=$(dirname "$0")
OUT=${XCNI_TEST_OUT:-$BUILD/test-out}/lab-ui-map
UINS=xcni-uimaptest
LAB_UI=127.0.0.1:9966
mkdir -p "$OUT"
rm -f "$OUT"/service-map-5[07]*.png
uimap_cleanup() {
	ip netns del "$UINS" 2>/dev/null
	lab_cleanup
}
trap uimap_cleanup EXIT

check "lab up --nodes 2 --kube-proxy none" lab up --nodes 2 --kube-proxy none || { finish; exit 1; }
remember_pids
check "lab apply -f examples/svcmap/objects.yaml (50 pods, 6 namespaces)" \
	lab apply -f "$XCNI_ROOT/examples/svcmap/objects.yaml"
remember_pids
lab get --json >"$T/lab.json"
counted() { /usr/bin/python3 - "$T/lab.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pods = d["pods"]
assert len(pods) == 50 and len({p["namespace"] for p in pods}) == 6, (len(pods), {p["namespace"] for p in pods})
assert len({p["node"] for p in pods}) == 2, "all on one node"
PY
}
check "50 pods in 6 namespaces, on both nodes" counted

check "traffic sent (one process, setns into each client pod)" \
	bash -c "/usr/bin/python3 '$HERE/uimap_traffic.py' '$T/lab.json' >'$T/traffic.json'"
answers() { /usr/bin/python3 - "$T/traffic.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
denied = {"shop/cart -> pay/payments udp", "ops/prometheus -> pay/payments tcp",
          "batch/jobs -> data/db udp", "batch/report -> data/db svc:5432"}
bad = []
for line, got in d.items():
    a, n = map(int, got.split("/"))
    if n == 0 or a != (0 if line in denied else n):
        bad.append(f"{line}: {got} answered")
assert len(d) == 21 and not bad, bad or d
PY
}
check "the 4 denied lines answered 0, the 17 others every probe" answers
sleep 2.5 # a conntrack walk (every second) after the last packet

lab_ui_serve "$UINS" "$LAB_UI"

# What the page draws from: pods with their identity's labels, the flow table's list.
apigraph() {
	nsenter --net="/run/netns/$UINS" curl -sf "http://$LAB_UI/api/graph" >"$T/g.json" || return 1
	/usr/bin/python3 - "$T/g.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
pods = [n for n in g["nodes"] if n["kind"] == "pod"]
assert len(pods) == 50, len(pods)
bad = [p["id"] for p in pods if not p.get("labels") or "ns:kubernetes.io/metadata.name=" + p["namespace"] not in p["labels"]]
assert not bad, bad
web = [p for p in pods if p["id"].startswith("pod:shop/web-")]
assert len(web) == 8 and len({p["labels"] for p in web}) == 1 and "app=web" in web[0]["labels"], web
r = g["recent"]
assert len(r) == 200 and g["flows"] > 200, (len(r), g["flows"])
assert all(a["last_seen"] >= b["last_seen"] for a, b in zip(r, r[1:])), "not newest first"
ids = {e["id"] for e in g["edges"]}
assert all(1 <= len(f["edges"]) <= 2 and set(f["edges"]) <= ids for f in r)
PY
}
check "lab ui /api/graph: 50 pods with their identity's labels (shop/web's 8 share app=web), 200 recent flows naming their edges" apigraph

browse() {
	ip netns exec "$UINS" /usr/bin/python3 "$HERE/uimap_browser.py" "http://$LAB_UI/" "$T" "$OUT" pay denied payments >"$T/dom.json"
	local rc=$?
	[ $rc = 0 ] || { head -c 3000 "$T/dom.json"; echo; tail -5 "$T/chromium.log"; }
	return $rc
}
check "Chromium (1400x900): the map, then the namespace picker, the verdict filter, the search, a click" browse || { finish; exit 1; }
cat >"$T/dom.py" <<'EOF'
import json, sys
D = json.load(open(sys.argv[1]))
def view(name):
    s = D[name]
    return s, {n["id"]: n for n in s["nodes"]}, {e["id"]: e for e in s["edges"]}, {c["id"]: c for c in s["counts"]}
A, nodes, edges, counts = view("all")
N, nnodes, nedges, _ = view("namespace")
V, vnodes, vedges, _ = view("verdict")
S, snodes, sedges, _ = view("search")
C = D["click"]
Q, qnodes, qedges, _ = view("query")
M, mnodes, medges, _ = view("small")
X = D["denyclick"]
def inside(b, r):
    return b["x"] >= r["x"] - 0.5 and b["y"] >= r["y"] - 0.5 and b["x"] + b["w"] <= r["x"] + r["w"] + 0.5 and b["y"] + b["h"] <= r["y"] + r["h"] + 0.5
def overlap(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
def pairs(boxes):
    return [(p["id"], q["id"]) for i, p in enumerate(boxes) for q in boxes[i + 1:] if overlap(p["box"], q["box"])]
def over_titles(s):
    return [(c["id"], t["text"]) for c in s["counts"] for t in s["titles"] if overlap(c["box"], t["box"])]
def touches(e, card):
    return card in e.split("->")
if not eval(sys.argv[2]):
    show = {k: {kk: vv for kk, vv in v.items() if kk != "rows"} if isinstance(v, dict) else v for k, v in D.items()}
    print(f"not {sys.argv[2]}:\n" + json.dumps(show)[:5000]); sys.exit(1)
EOF
dom() { /usr/bin/python3 "$T/dom.py" "$T/dom.json" "$1"; }
# The figures the checks below bound, for the log.
diag "$(/usr/bin/python3 - "$T/dom.json" <<'PY'
import json, sys
D = json.load(open(sys.argv[1]))
def ov(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
for k, size in (("all", "1400x900"), ("small", "1024x700")):
    s = D[k]
    print(f"{size}: {len(s['crossings'])} passes of an edge over another namespace's box "
          f"({len({c['edge'] for c in s['crossings']})} edges), "
          f"{sum(ov(c['box'], t['box']) for c in s['counts'] for t in s['titles'])} badges over a title, "
          f"smallest map text {s['fonts']['svg']:.1f} px (scale {s['fonts']['scale']:.2f});", end=" ")
print(f"'Decided by' of shop/cart -> pay/payments: {len(D['denyclick']['detail']['why'])} entries; "
      f"/?verdict=denied asked /api/graph '{D['query']['query']}'")
PY
)"
VP="{'x': 0, 'y': 0, 'w': 1400, 'h': 900}"
check "all: the 6 namespaces and the outside drawn as boxes" \
	dom "sorted(n['id'] for n in A['namespaces']) == ['ns:api', 'ns:batch', 'ns:data', 'ns:ops', 'ns:pay', 'ns:shop', 'outside']"
check "all: every namespace box whole inside the 1400x900 viewport and the map's visible area" \
	dom "A['viewport'] == {'w': 1400, 'h': 900} and all(inside(n['box'], $VP) and inside(n['box'], A['mapbox']) for n in A['namespaces'])"
check "all: no horizontal scroll (page and map)" \
	dom "A['scroll']['doc'][0] <= A['scroll']['doc'][1] and A['scroll']['map'][0] <= A['scroll']['map'][1]"
check "all: 14 workloads as cards (12 with a count, 2 single pods), 2 Services, the world: 17 cards for 50 pods" \
	dom "len(nodes) == 17 and sum(n['count'] for n in nodes.values() if n['kind'] in ('workload', 'pod')) == 50 and len([n for n in nodes.values() if n['kind'] == 'workload']) == 12 and sorted(i for i, n in nodes.items() if n['kind'] == 'pod') == ['pod:batch/cron', 'pod:ops/debug'] and sorted(i for i, n in nodes.items() if n['kind'] == 'service') == ['svc:api/gateway', 'svc:data/db']"
check "all: shop/web is one card of 8 pods, its count on it (x8)" \
	dom "nodes['wl:shop/web']['count'] == 8 and '×8' in nodes['wl:shop/web']['text'] and nodes['wl:shop/web']['ns'] == 'shop'"
check "all: edges aggregated between cards with their counts: web->cart 32, jobs->db 15 denied, cart->payments 16 denied" \
	dom "counts['wl:shop/web->wl:shop/cart']['text'] == '32' and edges['wl:shop/web->wl:shop/cart']['verdict'] == 'allowed' and counts['wl:batch/jobs->wl:data/db']['text'] == '15' and edges['wl:batch/jobs->wl:data/db']['verdict'] == 'denied' and counts['wl:shop/cart->wl:pay/payments']['text'] == '16' and edges['wl:shop/cart->wl:pay/payments']['verdict'] == 'denied'"
check "all: one count badge per edge, 15-30 edges for 17 cards (not one per pod pair: ~250)" \
	dom "set(counts) == set(edges) and 15 <= len(edges) <= 30"
check "all: no two count badges overlap (their bounding boxes)" dom "len(A['counts']) > 10 and pairs(A['counts']) == []"
check "all: no two cards and no two namespace boxes overlap" dom "pairs(A['nodes']) == [] and pairs(A['namespaces']) == []"
check "all: every count badge inside the map's visible area" dom "all(inside(c['box'], A['mapbox']) for c in A['counts'])"
check "all (1400x900): no count badge over a namespace box's title or the line under it; every map text at least 11 px as rendered" \
	dom "A['titles'] and over_titles(A) == [] and A['fonts']['svg'] >= 11"
check "all (1400x900): no edge passes over a namespace box that is neither its source's nor its destination's" \
	dom "A['crossings'] == []"
check "all: the flow table holds the 200 most recent flows; the command line xcnictl flows --node all" \
	dom "len(A['rows']) == 200 and A['flowinfo'].startswith('200 most recent of ') and A['cmd'] == 'xcnictl flows --node all'"

check "namespace picker pay: /api/graph?namespace=pay drawn, the command line says --namespace pay" \
	dom "N['query'] == 'namespace=pay' and N['cmd'] == 'xcnictl flows --node all --namespace pay' and not N['error']"
check "namespace pay: only pay's cards and their peers (cart, gateway, prometheus): 5 cards, 4 edges, each touching pay" \
	dom "sorted(nnodes) == ['wl:api/gateway', 'wl:ops/prometheus', 'wl:pay/fraud', 'wl:pay/payments', 'wl:shop/cart'] and len(nedges) == 4 and all(':pay/' in e for e in nedges)"
check "namespace pay: fewer boxes (pay, api, shop, ops), the flow table only pay's flows" \
	dom "sorted(n['id'] for n in N['namespaces']) == ['ns:api', 'ns:ops', 'ns:pay', 'ns:shop'] and N['rows'] and all('pay/' in r['cells'][1] + r['cells'][2] for r in N['rows'])"
check "verdict filter denied: /api/graph?verdict=denied drawn, every edge red, every row denied" \
	dom "V['query'] == 'verdict=denied' and vedges and all(e['verdict'] == 'denied' and e['stroke'] == 'rgb(214, 39, 40)' for e in vedges.values()) and V['rows'] and all(r['verdict'] == 'denied' for r in V['rows'])"
check "verdict denied: fewer cards and edges than all (the allowed ones gone), jobs->db still there" \
	dom "len(vnodes) < len(nodes) and len(vedges) < len(edges) and 'wl:batch/jobs->wl:data/db' in vedges and 'wl:shop/web->wl:shop/cart' not in vedges"
check "search 'payments': the payments card marked, only edges touching it, its peers and no others drawn" \
	dom "'match' in snodes['wl:pay/payments']['cls'] and sedges and all(touches(e, 'wl:pay/payments') for e in sedges) and sorted(snodes) == ['wl:api/gateway', 'wl:ops/prometheus', 'wl:pay/fraud', 'wl:pay/payments', 'wl:shop/cart']"
check "search 'payments': the flow table only flows to or from payments" \
	dom "S['rows'] and all('payments' in r['cells'][1] + r['cells'][2] for r in S['rows']) and len(S['rows']) < len(A['rows'])"
check "search 'protocol=tcp': sent to /api/graph as xcnictl flows' filter, every row TCP, fewer edges, the command line --protocol tcp" \
	dom "D['apisearch']['query'] == 'protocol=tcp' and D['apisearch']['rows'] and all(r['cells'][3] == 'TCP' for r in D['apisearch']['rows']) and 0 < len(D['apisearch']['edges']) < len(edges) and D['apisearch']['cmd'] == 'xcnictl flows --node all --protocol tcp'"
check "search 'since=soon': the status says /api/graph's 400 naming --since" \
	dom "D['badsearch']['error'] and 'HTTP 400' in D['badsearch']['status'] and 'since' in D['badsearch']['status'].split('HTTP 400')[1]"
check "click on the largest count (web->cart, 32): its edge selected, the others dimmed, #edge= in the address" \
	dom "C['clicked'] == 'wl:shop/web->wl:shop/cart' and C['detail']['edge'] == C['clicked'] and all(('selected' in e['cls']) == (e['id'] == C['clicked']) for e in C['edges']) and all(float(e['opacity']) < 0.5 for e in C['edges'] if e['id'] != C['clicked']) and C['hash'].startswith('#edge=')"
check "click: the panel says 32 flows between 32 pod pairs and what decided them; the table only that edge's 32 flows" \
	dom "'32 flows' in C['detail']['text'] and 'between 32 pairs of pods' in C['detail']['text'] and 'Decided by' in C['detail']['text'] and len(C['rows']) == 32 and all(r['cells'][1].startswith('shop/web-') and r['cells'][2].startswith('shop/cart-') for r in C['rows'])"
check "click on the denied count shop/cart -> pay/payments (16 flows to 4 payments pods): one 'Decided by' entry, naming pay/pay-from-api, 16 flows" \
	dom "X['detail']['edge'] == 'wl:shop/cart->wl:pay/payments' and len(X['detail']['why']) == 1 and 'pay/pay-from-api' in X['detail']['why'][0] and '16 flows' in X['detail']['why'][0]"
check "/?verdict=denied (lab ui --help's address): the verdict filter set, /api/graph asked with it, only denied edges" \
	dom "Q['verdictSelect'] == 'denied' and Q['query'] == 'verdict=denied' and qedges and all(e['verdict'] == 'denied' for e in qedges.values()) and 'wl:batch/jobs->wl:data/db' in qedges"
check "1024x700: every text of the map at least 11 px as rendered (the page's own too), no horizontal scroll" \
	dom "M['viewport'] == {'w': 1024, 'h': 700} and M['fonts']['svg'] >= 11 and M['fonts']['html'] >= 11 and M['scroll']['doc'][0] <= M['scroll']['doc'][1] and M['scroll']['map'][0] <= M['scroll']['map'][1]"
check "1024x700: the 17 cards drawn, no badge over a title, no edge over another namespace's box" \
	dom "len(mnodes) == 17 and over_titles(M) == [] and M['crossings'] == [] and pairs(M['counts']) == []"
# 57 pods in 8 namespaces (examples/svcmap/more.yaml), one edge to a Service with no endpoints:
# every namespace's box on screen (none under the flow table), no edge over a third namespace's
# box, a no-backend edge not in a policy denial's red, the empty side panel out of the map's way.
check "lab apply -f examples/svcmap/more.yaml (57 pods, 8 namespaces)" \
	lab apply -f "$XCNI_ROOT/examples/svcmap/more.yaml"
remember_pids
lab get --json >"$T/lab57.json"
check "57 pods in 8 namespaces" /usr/bin/python3 -c "
import json, sys
p = json.load(open('$T/lab57.json'))['pods']
sys.exit(not (len(p) == 57 and len({x['namespace'] for x in p}) == 8))"
check "traffic sent to the 2 new namespaces and the Service mail/outbox (no endpoints)" \
	bash -c "/usr/bin/python3 '$HERE/uimap_traffic.py' '$T/lab57.json' more >'$T/traffic57.json'"
answers57() { /usr/bin/python3 - "$T/traffic57.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = [f"{line}: {got}" for line, got in d.items()
       if got.split("/")[1] == "0" or (got.split("/")[0] == "0") != line.endswith("mail/outbox svc:25")]
assert len(d) == 6 and not bad, bad or d
PY
}
check "shop/cart -> mail/outbox answered 0 (no backend), the 5 other lines every probe" answers57
sleep 2.5
nsenter --net="/run/netns/$UINS" curl -sf "http://$LAB_UI/api/graph" >"$OUT/graph-57.json"
browse57() {
	ip netns exec "$UINS" /usr/bin/python3 "$HERE/uimap_browser.py" "http://$LAB_UI/" "$T" "$OUT" --sizes 57 1400x900 1024x700 >"$T/dom57.json"
	local rc=$?
	[ $rc = 0 ] || { head -c 3000 "$T/dom57.json"; echo; tail -5 "$T/chromium.log"; }
	return $rc
}
check "Chromium: the map of 57 pods at 1400x900 and 1024x700" browse57
cat >"$T/dom57.py" <<'EOF'
import json, sys
D = json.load(open(sys.argv[1]))
def inside(b, r):
    return b["x"] >= r["x"] - 0.5 and b["y"] >= r["y"] - 0.5 and b["x"] + b["w"] <= r["x"] + r["w"] + 0.5 and b["y"] + b["h"] <= r["y"] + r["h"] + 0.5
def hue_apart(a, b):
    import colorsys, re
    h = [colorsys.rgb_to_hsv(*(int(v) / 255 for v in re.findall(r"\d+", c)[:3]))[0] * 360 for c in (a, b)]
    d = abs(h[0] - h[1])
    return min(d, 360 - d)
for size, s in D.items():
    vp = {"x": 0, "y": 0, "w": s["viewport"]["w"], "h": s["viewport"]["h"]}
    edges = {e["id"]: e for e in s["edges"]}
    nb, den = edges.get("wl:shop/cart->svc:mail/outbox"), edges.get("wl:batch/jobs->wl:data/db")
    if not eval(sys.argv[2]):
        show = {k: v for k, v in s.items() if k not in ("rows", "titles")}
        print(f"{size}: not {sys.argv[2]}:\n" + json.dumps(show)[:4000]); sys.exit(1)
EOF
dom57() { /usr/bin/python3 "$T/dom57.py" "$T/dom57.json" "$1"; }
diag "$(/usr/bin/python3 - "$T/dom57.json" <<'PY'
import json, sys
for size, s in json.load(open(sys.argv[1])).items():
    m = s["mapbox"]
    hidden = [n["id"] for n in s["namespaces"] if n["box"]["y"] + n["box"]["h"] > m["y"] + m["h"] + 0.5 or n["box"]["x"] + n["box"]["w"] > m["x"] + m["w"] + 0.5]
    print(f"57 pods at {size}: map area {m['w']:.0f}x{m['h']:.0f}, side panel {s['panel']['w']:.0f} px wide, "
          f"{len(hidden)} namespace boxes not whole in it {hidden}, {len(s['crossings'])} passes over another namespace's box, "
          f"smallest map text {s['fonts']['svg']:.1f} px;", end=" ")
PY
)"
check "57 pods: the 8 namespaces and the outside drawn, at both sizes" \
	dom57 "len(s['namespaces']) == 9 and {'ns:search', 'ns:mail'} <= {n['id'] for n in s['namespaces']}"
check "57 pods: every namespace box whole in the viewport and in the map's visible area (none under the flow table), no scroll sideways" \
	dom57 "all(inside(n['box'], vp) and inside(n['box'], s['mapbox']) for n in s['namespaces']) and s['scroll']['doc'][0] <= s['scroll']['doc'][1]"
check "57 pods: no edge passes over a namespace box that is neither its source's nor its destination's" \
	dom57 "s['crossings'] == []"
check "57 pods: the edge to mail/outbox is no-backend, in a colour of its own (not denied's, not dropped's)" \
	dom57 "nb and den and nb['verdict'] == 'no-backend' and den['verdict'] == 'denied' and nb['stroke'] != den['stroke'] and nb['stroke'] not in ('rgb(127, 59, 8)', 'rgb(214, 39, 40)')"
# Clearly apart: hue at least 60 degrees from a policy's denial (red) and from another drop (brown).
check "57 pods: the no-backend colour's hue at least 60 degrees from denied's and dropped's (sienna beside brown was 7)" \
	dom57 "nb and all(hue_apart(nb['stroke'], c) >= 60 for c in (den['stroke'], 'rgb(127, 59, 8)'))"
g57() { /usr/bin/python3 - "$OUT/graph-57.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
e = {x["id"]: x for x in g["edges"]}
nb = [x for i, x in e.items() if i.endswith("->svc:mail/outbox")]
assert len(nb) == 4 and all(x["verdict"] == "no-backend" and x["no-backend"] == 1 and x["denied"] == 0 for x in nb), nb
assert not [i for i in e if i.startswith("svc:mail/outbox->")], [i for i in e if i.startswith("svc:mail/outbox->")]
PY
}
check "57 pods, /api/graph: cart -> mail/outbox counted no-backend (not denied), no edge on from the Service (it has no backend)" g57
check "57 pods: nothing selected, the side panel takes at most a tenth of the width; text at least 11 px" \
	dom57 "s['panel']['w'] <= s['viewport']['w'] / 10 and s['fonts']['svg'] >= 11 and s['fonts']['html'] >= 11"

png() { for f in service-map-57-1400.png service-map-57-1024.png service-map-50.png service-map-50-1024.png service-map-50-why.png service-map-50-ns-pay.png service-map-50-denied.png service-map-50-search.png service-map-50-selected.png; do head -c 8 "$OUT/$f" | od -An -c | grep -q 'P   N   G' || { echo "$OUT/$f: not a PNG"; return 1; }; done; }
check "nine screenshots saved ($OUT/service-map-5[07]*.png)" png
diag "screenshots: $OUT/service-map-5[07]*.png"

stop_mine
lab_down_checked
check "netns $UINS removed" bash -c "ip netns del $UINS && ! ip netns list | grep -q '^$UINS\\b'"
finish
