#!/bin/bash
# Services through kube-proxy, and the cluster's DNS, end to end on a two-node
# lab (`lab up --nodes 2 --dns`): Service objects become kube-proxy's iptables
# NAT rules on every node; pods reach them by ClusterIP and by name; the data
# plane hands such flows to the host stack and judges egress policy on the pod
# kube-proxy picked, never on the ClusterIP; replies go back through the stack
# (un-DNAT), on one node and across the Geneve overlay.
#
#   n1: y/web1 (app=web)   n2: y/web2 (app=web)     kube-system/dns (dnsmasq) by the scheduler
#   x/a y/a ... (examples/lab) spread over both
#   Service y/web  8080/TCP -> targetPort "http" (80), 5353/UDP -> 81, ClusterIP allocated
#   Service kube-system/kube-dns 10.96.0.10, 53/UDP+TCP -> the dns pod
#
# LAB_KUBE_PROXY=none (default iptables): the same lab with `--kube-proxy none`:
# no kube-proxy rules at all, the Services and the EndpointSlices the lab
# writes for them translated by every xcnid (--kube-proxy-replacement) in BPF.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
KP=${LAB_KUBE_PROXY:-iptables}
lab_suite "svc-$KP"
EX=$XCNI_ROOT/examples/lab

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN" /usr/sbin/dnsmasq /usr/sbin/iptables-restore

check "lab up --nodes 2 --dns --kube-proxy $KP" lab up --nodes 2 --dns --kube-proxy "$KP" || { finish; exit 1; }
check "lab get --json: kubeProxy $KP" test "$(lab get --json | jq_ 'd["kubeProxy"]')" = "$KP"
remember_pids
check "the DNS pod kube-system/dns runs dnsmasq" \
	bash -c "pid=\$($XCNICTL lab get --json | /usr/bin/python3 -c 'import json,sys; print([p[\"serverPid\"] for p in json.load(sys.stdin)[\"pods\"] if p[\"name\"] == \"dns\"][0])') && grep -q dnsmasq /proc/\$pid/cmdline"
check "apply namespaces and pods" lab apply -f "$EX/00-namespaces.yaml" -f "$EX/10-pods.yaml"

web_pod() { # NAME NODE
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: y, labels: {app: web}}
spec:
  nodeName: $2
  containers:
  - name: web
    image: agnhost:2.47
    ports:
    - {name: http, containerPort: 80}
    - {name: echo, containerPort: 81, protocol: UDP}
EOF
}
{ web_pod web1 n1; web_pod web2 n2; } >"$T/web-pods.yaml"
check "apply y/web1 on n1 and y/web2 on n2 (app=web, 80/TCP named http, 81/UDP)" lab apply -f "$T/web-pods.yaml"
cat >"$T/web-svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: y}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 8080, targetPort: http}
  - {name: echo, port: 5353, protocol: UDP, targetPort: 81}
EOF
out=$(lab apply -f "$T/web-svc.yaml" 2>&1)
check "apply Service y/web: created" grep -qx 'service y/web created' <<<"$out"
remember_pids
CIP=$(lab get --json | jq_ '[s["clusterIP"] for s in d["services"] if s["name"] == "web"][0]')
WEB1=$(lab get --json | jq_ '[p["ip"] for p in d["pods"] if p["name"] == "web1"][0]')
WEB2=$(lab get --json | jq_ '[p["ip"] for p in d["pods"] if p["name"] == "web2"][0]')
diag "y/web ClusterIP $CIP, endpoints $WEB1 (n1) $WEB2 (n2)"
check "its ClusterIP comes from 10.96.0.0/12, not the DNS's 10.96.0.10" \
	bash -c "[[ '$CIP' == 10.9[6-9].* || '$CIP' == 10.10[0-9].* || '$CIP' == 10.11[01].* ]] && [ '$CIP' != 10.96.0.10 ]"
check "lab get: endpoints by named and numeric targetPort, both pods" \
	test "$(lab get --json | jq_ "' '.join(sorted([s for s in d['services'] if s['name'] == 'web'][0]['endpoints']))")" = \
	"$(printf '%s\n' "$WEB1:80/tcp" "$WEB1:81/udp" "$WEB2:80/tcp" "$WEB2:81/udp" | sort | tr '\n' ' ' | sed 's/ $//')"

# ---- kube-proxy's layout, on every node ----------------------------------------------
layout_ok() {
	local n=$1 nat svc seps
	nat=$(in_node "$n" iptables-save -t nat)
	svc=$(grep -E -- "^-A KUBE-SERVICES -d $CIP/32 -p tcp -m comment --comment \"y/web:http cluster IP\" -m tcp --dport 8080 -j KUBE-SVC-[A-Z2-7]{16}$" <<<"$nat" | awk '{print $NF}')
	[ -n "$svc" ] || { echo "no KUBE-SERVICES rule for $CIP:8080"; return 1; }
	grep -qE -- "^-A $svc ! -s 10.244.0.0/16 -d $CIP/32 .*-j KUBE-MARK-MASQ$" <<<"$nat" || { echo "no masquerade rule for off-cluster sources"; return 1; }
	grep -qE -- "^-A $svc .*-m statistic --mode random --probability 0.5000+ -j KUBE-SEP-" <<<"$nat" || { echo "no statistic split in $svc"; return 1; }
	seps=$(grep -E -- "^-A $svc .*-j KUBE-SEP-" <<<"$nat" | awk '{print $NF}')
	[ "$(wc -w <<<"$seps")" = 2 ] || { echo "$svc: want 2 endpoint chains, got: $seps"; return 1; }
	for s in $seps; do
		grep -qE -- "^-A $s -s ($WEB1|$WEB2)/32 .*-j KUBE-MARK-MASQ$" <<<"$nat" || { echo "$s: no hairpin rule"; return 1; }
	done
	[ "$(grep -cE -- "-j DNAT --to-destination ($WEB1|$WEB2):80$" <<<"$nat")" = 2 ] || { echo "want DNAT to both pods' port 80"; return 1; }
	[ "$(grep -cE -- "-j DNAT --to-destination ($WEB1|$WEB2):81$" <<<"$nat")" = 2 ] || { echo "want DNAT to both pods' port 81 (UDP)"; return 1; }
	grep -q -- '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully' <<<"$nat" || return 1
	[ "$(grep -c -- '-j KUBE-SERVICES$' <<<"$(grep -E -- '^-A (PREROUTING|OUTPUT) ' <<<"$nat")")" = 2 ] || { echo "PREROUTING/OUTPUT hooks not there exactly once"; return 1; }
}
# kube-proxy none: what the agents read instead, and no kube-proxy rule anywhere.
slices_ok() {
	/usr/bin/python3 - "$XCNI_LAB_DIR/manifests" "$WEB1" "$WEB2" "$XCNI_ROOT/tests/lab" <<'PY'
import fnmatch, sys
d, w1, w2 = sys.argv[1:4]
sys.path.insert(0, sys.argv[4])
from agent_objs import objects
objs = [o for _, o in objects(d) if o["metadata"].get("namespace") == "y"]
svc = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "web"]
assert len(svc) == 1, f"want Service y/web once, got {len(svc)}"
svc = svc[0]
assert svc["spec"]["clusterIP"] and svc["spec"]["selector"] == {"app": "web"}, svc
sl = [o for o in objs if o["kind"] == "EndpointSlice" and fnmatch.fnmatchcase(o["metadata"]["name"], "web-*")]
assert len(sl) == 1, f"want one slice, got {len(sl)}"
s = sl[0]
assert s["apiVersion"] == "discovery.k8s.io/v1" and s["addressType"] == "IPv4", s
assert s["metadata"]["labels"]["kubernetes.io/service-name"] == "web", s["metadata"]
assert sorted((p["name"], p["protocol"], p["port"]) for p in s["ports"]) == [("echo", "UDP", 81), ("http", "TCP", 80)], s["ports"]
eps = sorted((e["addresses"][0], e["nodeName"], e["targetRef"]["name"], e["conditions"]["ready"], e["conditions"]["serving"], e["conditions"]["terminating"]) for e in s["endpoints"])
assert eps == sorted([(w1, "n1", "web1", True, True, False), (w2, "n2", "web2", True, True, False)]), eps
PY
}
no_kube_rules() { # no KUBE-* chain and no iptables nat rule in any node netns
	local n
	for n in 1 2; do
		in_node "$n" iptables-save | grep -q 'KUBE-' && { echo "n$n has KUBE-* chains"; return 1; }
		[ "$(in_node "$n" iptables-save -t nat | grep -c '^-A')" = 0 ] || { echo "n$n has iptables nat rules"; return 1; }
		in_node "$n" nft list ruleset | grep -qi kube && { echo "n$n has kube nftables rules"; return 1; }
	done
	return 0
}
if [ "$KP" = iptables ]; then
	check "n1: KUBE-SERVICES -> KUBE-SVC (statistic 0.5) -> 2 KUBE-SEP (hairpin mark, DNAT :80 and :81), MASQ rules, hooks once" layout_ok 1
	check "n2: the same rules" layout_ok 2
	lab apply -f "$T/web-svc.yaml" >/dev/null 2>&1
	lab apply -f "$T/web-pods.yaml" >/dev/null 2>&1
	check "re-applying changes nothing: still one hook each" layout_ok 1
else
	check "manifests: Service y/web and one EndpointSlice (service-name label, ports http 80/TCP and echo 81/UDP resolved, web1 and web2 ready on their nodes)" slices_ok
	check "no KUBE-* chain, no iptables nat rule, no kube nftables rule on either node" no_kube_rules
	# The file holding the slice (a shard, services-XX.json), by content.
	slice_file=$(/usr/bin/python3 "$XCNI_ROOT/tests/lab/agent_objs.py" "$XCNI_LAB_DIR/manifests" EndpointSlice y 'web-*' | cut -f1)
	before=$(stat -c %Y.%y "$slice_file")
	out=$(lab apply -f "$T/web-svc.yaml" -f "$T/web-pods.yaml" 2>&1)
	check "re-applying changes nothing: the slice's file ($(basename "$slice_file")) untouched" \
		test -n "$slice_file" -a "$(stat -c %Y.%y "$slice_file" 2>/dev/null)" = "$before"
fi

# ---- reaching it -----------------------------------------------------------------------
check "x/a -> svc/y/web 8080/tcp: connected" lab probe x/a svc/y/web 8080/tcp
check "x/a -> svc/y/web 5353/udp: connected (numeric targetPort 81)" lab probe x/a svc/y/web 5353/udp
out=$(lab probe x/a svc/y/web 9999/tcp --timeout-ms 300); RC=$?
check "x/a -> svc/y/web 9999/tcp (no such port: the node answers RST): refused, exit 1 (got $out)" test "$RC" = 1 -a "$out" = refused
answers() { # FROM [IP PORT]: which pods answered 20 connections to the ClusterIP
	local i ip=${2:-$CIP} port=${3:-8080}
	for i in $(seq 20); do
		lab exec "$1" -- timeout 3 bash -c "exec 3<>/dev/tcp/$ip/$port; echo probe >&3; head -n1 <&3"
	done 2>/dev/null | sort -u | tr '\n' ' '
}
for src in x/a x/b; do
	got=$(answers $src)
	check "$src: 20 connections to $CIP:8080 reach both y/web1 and y/web2 (got: $got)" test "$got" = "y/web1 y/web2 "
done
got=$(answers y/web1)
check "hairpin: y/web1 through its own Service reaches itself and web2 (got: $got)" test "$got" = "y/web1 y/web2 "

out=$(lab probe x/a svc/y/nope 80/tcp 2>&1); RC=$?
check "probe svc/y/nope: exit 2, not found" bash -c "[ $RC = 2 ] && grep -q 'Service y/nope: not found' <<<\"\$1\"" _ "$out"

cat >"$T/empty-svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: y}
spec:
  selector: {app: nothing}
  ports: [{port: 80}]
EOF
check "apply Service y/empty (selects nothing)" lab apply -f "$T/empty-svc.yaml"
if [ "$KP" = iptables ]; then
	check "no endpoints: REJECT in the filter table's KUBE-SERVICES" \
		bash -c "nsenter --net=/run/netns/xcl-n1 iptables-save -t filter | grep -q -- '-A KUBE-SERVICES .*y/empty: has no endpoints.*-j REJECT --reject-with icmp-port-unreachable'"
else
	check "no endpoints: one placeholder EndpointSlice, no endpoints, no ports" \
		bash -c "/usr/bin/python3 $XCNI_ROOT/tests/lab/agent_objs.py $XCNI_LAB_DIR/manifests EndpointSlice y 'empty-*' | cut -f2 | /usr/bin/python3 -c 'import json,sys; s=[json.loads(l) for l in sys.stdin]; assert len(s) == 1 and s[0][\"endpoints\"] == [] and s[0][\"ports\"] == [], s'"
fi
out=$(lab probe x/a svc/y/empty 80/tcp --timeout-ms 2000); RC=$?
check "x/a -> svc/y/empty: no-backend, exit 1 (got $out)" test "$RC-$out" = 1-no-backend
out=$(lab probe x/a svc/y/empty 80/tcp --timeout-ms 2000 --json); RC=$?
check "  ... --json: \"verdict\": \"no-backend\", connected false (got $out)" \
	test "$(jq_ 'd["verdict"], d["connected"]' <<<"$out")" = "no-backend False"
out=$(lab probe x/a y/a 9999/tcp --timeout-ms 2000); RC=$?
check "x/a -> y/a 9999/tcp (the pod listens on 80 only): refused, exit 1 (got $out)" test "$RC-$out" = 1-refused

# ---- scale: 5k Services in one manifest ------------------------------------------------
# The lab's Services are read once per command and indexed (user/lab/svc.c), so an
# apply costs what it changes: the time is a figure (bench/README.md), not a bound.
/usr/bin/python3 - >"$T/scale.yaml" <<'EOF'
for i in range(5000):
    t = "NodePort" if i % 8 == 1 else "ClusterIP"
    print(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: scale-{i}, namespace: y}}\n"
          f"spec: {{type: {t}, selector: {{app: web}}, ports: [{{port: 8080, targetPort: http}}]}}")
EOF
t0=$(date +%s.%N)
check "apply 5000 Services in one manifest" bash -c "$XCNICTL lab apply -f $T/scale.yaml >/dev/null"
t1=$(date +%s.%N)
diag "lab apply of 5000 Services ($KP): $(echo "$t1 - $t0" | bc) s"
check "... 5000 distinct ClusterIPs, 625 distinct NodePorts" \
	bash -c "$XCNICTL lab get --json | /usr/bin/python3 -c 'import json,sys; s=[x for x in json.load(sys.stdin)[\"services\"] if x[\"name\"].startswith(\"scale-\")]; ips=set(x[\"clusterIP\"] for x in s); nps=[p[\"nodePort\"] for x in s for p in x[\"ports\"] if \"nodePort\" in p]; assert len(s) == 5000 and len(ips) == 5000 and len(nps) == 625 == len(set(nps)), (len(s), len(ips), len(nps))'"
check "x/a -> svc/y/scale-4999 8080/tcp: connected" lab probe x/a svc/y/scale-4999 8080/tcp
t0=$(date +%s.%N)
check "delete the 5000 Services" bash -c "$XCNICTL lab delete -f $T/scale.yaml >/dev/null"
t1=$(date +%s.%N)
diag "lab delete of 5000 Services ($KP): $(echo "$t1 - $t0" | bc) s"
check "... gone: no scale-* Service left, in the lab or for the agents" \
	bash -c "! ls $XCNI_LAB_DIR/services | grep -q 'scale-' && ! /usr/bin/python3 $XCNI_ROOT/tests/lab/agent_objs.py $XCNI_LAB_DIR/manifests | cut -f2 | grep -q '\"scale-'"
if [ "$KP" = iptables ]; then
	check "... and from kube-proxy's rules on n1" bash -c "! nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep -q 'y/scale-'"
fi
out=$(lab probe x/a svc/y/scale-4999 8080/tcp 2>&1); RC=$?
check "probe svc/y/scale-4999: exit 2 (no such Service)" test "$RC" = 2

# ---- internalTrafficPolicy Local: the ClusterIP reaches this node's endpoints only ----
# kube-proxy sends the ClusterIP of an ITP Local Service to KUBE-SVL (the node's own
# endpoints) and drops it on a node with none; xcnid (kube-proxy none) the same.
cat >"$T/solo.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: y, labels: {app: solo}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: solo-local, namespace: y}
spec: {internalTrafficPolicy: Local, selector: {app: solo}, ports: [{port: 8080, targetPort: http}]}
EOF
check "apply y/solo on n1 and Service y/solo-local (internalTrafficPolicy Local)" lab apply -f "$T/solo.yaml"
ON1=$(lab get --json | jq_ '[p["namespace"] + "/" + p["name"] for p in d["pods"] if p["node"] == "n1" and p["namespace"] == "x"][0]')
ON2=$(lab get --json | jq_ '[p["namespace"] + "/" + p["name"] for p in d["pods"] if p["node"] == "n2" and p["namespace"] == "x"][0]')
check "$ON1 (n1, the endpoint's node) -> svc/y/solo-local 8080/tcp: connected" lab probe "$ON1" svc/y/solo-local 8080/tcp
out=$(lab probe "$ON2" svc/y/solo-local 8080/tcp --timeout-ms 1000); RC=$?
check "$ON2 (n2, no local endpoint) -> svc/y/solo-local 8080/tcp: blocked (got $out)" test "$RC" = 1
if [ "$KP" = iptables ]; then
	check "n2: the ClusterIP dropped in the filter table (has no local endpoints)" \
		bash -c "nsenter --net=/run/netns/xcl-n2 iptables-save -t filter | grep -q -- '-A KUBE-SERVICES .*y/solo-local: has no local endpoints.*-j DROP'"
	check "n1: the ClusterIP to a KUBE-SVL chain" \
		bash -c "nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep -qE -- '-A KUBE-SERVICES .*y/solo-local: cluster IP.*-j KUBE-SVL-'"
fi
check "delete y/solo and y/solo-local" lab delete -f "$T/solo.yaml"

# ---- NetworkPolicy judged on the pod kube-proxy picked ------------------------------
cat >"$T/egress-web.yaml" <<EOF
$(y_np a-to-web-only x "pod: a" "Egress")
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80}]
EOF
cat >"$T/b-svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: bsvc, namespace: y}
spec:
  selector: {pod: b}
  ports: [{name: http, port: 8080, targetPort: 80}]
EOF
check "apply Service y/bsvc (selects y/b, 8080 -> 80)" lab apply -f "$T/b-svc.yaml"
check "apply x/a's egress policy: only to app=web pods in y, port 80" lab apply -f "$T/egress-web.yaml"
ANODE=$(lab get --json | jq_ '[p["node"][1:] for p in d["pods"] if p["namespace"] == "x" and p["name"] == "a"][0]')
# iptables: the DNATed packet comes back from the stack (to-pod, to-overlay);
# none: from_pod translates and judges it at once (from-pod).
egress_drops() {
	echo $(( $(metric "$ANODE" drop-policy-egress to-pod) + $(metric "$ANODE" drop-policy-egress to-overlay) +
		$(metric "$ANODE" drop-policy-egress from-pod) ))
}
before=$(egress_drops)
check "x/a -> svc/y/web 8080/tcp: allowed (egress judged on web1/web2 port 80, not the ClusterIP)" \
	lab probe x/a svc/y/web 8080/tcp
out=$(lab probe x/a svc/y/bsvc 8080/tcp --timeout-ms 500); RC=$?
check "x/a -> svc/y/bsvc 8080/tcp: denied (DNAT to y/b, which egress does not allow; got $out)" test "$RC-$(fate_word "$out")" = 1-denied
out=$(lab probe x/a y/b 80/tcp --timeout-ms 500); RC=$?
check "x/a -> y/b 80/tcp directly: denied too (got $out)" test "$RC-$(fate_word "$out")" = 1-denied
after=$(egress_drops)
check "x/a's node counted the drop after DNAT as drop-policy-egress: $before -> $after" \
	test "$after" -gt "$before"
check "x/b (no policy) -> svc/y/bsvc: connected" lab probe x/b svc/y/bsvc 8080/tcp
# The matrix under x/a's egress policy: its own symbol per fate, and a legend.
lab matrix 80/tcp 9999/tcp --timeout-ms 700 >"$T/fates.txt" 2>&1
matrix_fates() {
	cat "$T/fates.txt"
	/usr/bin/python3 - "$T/fates.txt" <<'PY'
import sys
text = open(sys.argv[1]).read().split("\n\n")
legend = "(. connected, D denied, R refused, N no-backend, T timeout)"
def table(block):
    lines = [l for l in block.splitlines() if l and not l.endswith(":") and not l.startswith("(")]
    names = lines[0].split()
    return {l.split()[0]: dict(zip(names, l.split()[1:])) for l in lines[1:]}, block
(t80, b80), (t9, b9) = table(text[0]), table(text[1])
assert legend in b80 and legend in b9, "legend"
# 80/tcp: x/a reaches only the app=web pods; everyone else all connected.
assert t80["x/a"]["y/b"] == "D" and t80["x/a"]["y/web1"] == "." and t80["x/a"]["x/b"] == "D", t80["x/a"]
assert all(v == "." for s, row in t80.items() if s != "x/a" for v in row.values()), "others"
# 9999/tcp: nothing listens: refused, but x/a's egress drops before any other pod
# answers (a pod to itself is not judged).
assert t9["x/a"].pop("x/a") == "R" and all(v == "D" for v in t9["x/a"].values()), t9["x/a"]
assert all(v == "R" for s, row in t9.items() if s != "x/a" for v in row.values()), "9999 R"
PY
}
check "matrix 80/tcp 9999/tcp under x/a's egress policy: x/a's row D where denied, 9999 R (nothing listens) elsewhere, the legend under each table" matrix_fates
check "delete x/a's egress policy" lab delete -f "$T/egress-web.yaml"

cat >"$T/ingress-web.yaml" <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-x, namespace: y}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: x}}}]
EOF
check "apply y's ingress policy: web pods admit namespace x only" lab apply -f "$T/ingress-web.yaml"
for src in x/a x/b x/c; do
	check "$src -> svc/y/web 8080/tcp: allowed by web-from-x (source identity kept: no SNAT)" \
		lab probe "$src" svc/y/web 8080/tcp
done
for src in y/a z/b; do
	out=$(lab probe "$src" svc/y/web 8080/tcp --timeout-ms 500); RC=$?
	check "$src -> svc/y/web 8080/tcp: denied by web-from-x on both endpoints (got $out)" test "$RC-$(fate_word "$out")" = 1-denied
done
check "delete y's ingress policy" lab delete -f "$T/ingress-web.yaml"

# ---- DNS ---------------------------------------------------------------------------------
for src in x/a x/b z/c; do
	got=$(lab exec "$src" -- getent hosts web.y 2>&1)
	check "$src: web.y resolves to $CIP through the DNS Service (search path)" \
		test "$(awk '{print $1, $2}' <<<"$got")" = "$CIP web.y.svc.cluster.local"
done
got=$(lab exec y/a -- getent hosts web 2>&1)
check "y/a: 'web' resolves in its own namespace" test "$(awk '{print $1}' <<<"$got")" = "$CIP"
check "kube-dns.kube-system.svc.cluster.local is 10.96.0.10" \
	test "$(lab exec x/a -- getent hosts kube-dns.kube-system.svc.cluster.local | awk '{print $1}')" = 10.96.0.10
check_fails "nope.y does not resolve" lab exec x/a -- getent hosts nope.y
check "lab exec x/a: resolv.conf is the kubelet's, the host's file untouched" \
	bash -c "[ \"\$($XCNICTL lab exec x/a -- cat /etc/resolv.conf | head -1)\" = 'nameserver 10.96.0.10' ] && ! grep -q 10.96.0.10 /etc/resolv.conf"

cat >"$T/dns-only.yaml" <<EOF
$(y_np dns-only x "pod: b" "Egress")
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
$(y_np deny-egress x "pod: c" "Egress")
EOF
check "apply x/b egress: DNS only; x/c egress: nothing" lab apply -f "$T/dns-only.yaml"
check "x/b (DNS only): web.y still resolves" \
	test "$(lab exec x/b -- getent hosts web.y | awk '{print $1}')" = "$CIP"
out=$(lab probe x/b svc/y/web 8080/tcp --timeout-ms 500); RC=$?
check "x/b (DNS only) -> svc/y/web: denied (got $out)" test "$RC-$(fate_word "$out")" = 1-denied
out=$(lab probe x/b y/a 80/tcp --timeout-ms 500); RC=$?
check "x/b (DNS only) -> y/a: denied (got $out)" test "$RC-$(fate_word "$out")" = 1-denied
check_fails "x/c (no egress at all): web.y does not resolve" lab exec x/c -- timeout 20 getent hosts web.y
check "delete the egress policies" lab delete -f "$T/dns-only.yaml"

# ---- changes ---------------------------------------------------------------------------
check "delete Service y/web" lab delete -f "$T/web-svc.yaml"
if [ "$KP" = iptables ]; then
	check "its chains are gone from both nodes" \
		bash -c "! nsenter --net=/run/netns/xcl-n1 iptables-save -t nat | grep -q 'y/web:' && ! nsenter --net=/run/netns/xcl-n2 iptables-save -t nat | grep -q 'y/web:'"
	check "no stale KUBE-SVC/KUBE-SEP chains: one SVC chain left (y/bsvc) plus kube-dns's two" \
		test "$(in_node 1 iptables-save -t nat | grep -c '^:KUBE-SVC-')" = 3
else
	check "its Service and EndpointSlice are gone from the manifests" \
		bash -c "A='/usr/bin/python3 $XCNI_ROOT/tests/lab/agent_objs.py $XCNI_LAB_DIR/manifests'; [ -z \"\$(\$A Service y web)\$(\$A EndpointSlice y 'web-*')\" ] && \$A Service y bsvc | grep -q ."
	check "still no KUBE-* chain or nat rule on either node" no_kube_rules
fi
check_fails "web.y no longer resolves" lab exec x/a -- getent hosts web.y
out=$(lab probe x/a svc/y/web 8080/tcp 2>&1); RC=$?
check "probe svc/y/web: exit 2 (no such Service)" test "$RC" = 2

bad() { # NAME WANT: the manifest on stdin is refused, naming WANT; nothing changes
	local name=$1 want=$2 out rc before
	cat >"$T/bad.yaml"
	before=$(ls "$XCNI_LAB_DIR/services" | tr '\n' ' ')
	out=$(lab apply -f "$T/bad.yaml" 2>&1); rc=$?
	if [ "$rc" -ne 0 ] && grep -qF -- "$want" <<<"$out" && grep -q 'nothing changed' <<<"$out" &&
		[ "$(ls "$XCNI_LAB_DIR/services" | tr '\n' ' ')" = "$before" ]; then
		ok "bad Service ($name): refused naming '$want', nothing changed"
	else
		not_ok "bad Service ($name): rc=$rc"
		sed 's/^/#   /' <<<"$out" | head -5
	fi
}
bad "named targetPort not a port name" "Service y/s1: spec.ports[0].targetPort" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: s1, namespace: y}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: Not_A_Name}]}
EOF
bad "two ports, one unnamed" "Service y/s2: spec.ports[1].name: required" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: s2, namespace: y}
spec: {selector: {app: web}, ports: [{name: a, port: 80}, {port: 81}]}
EOF
bad "ClusterIP outside the range" "Service y/s3: spec.clusterIP: 192.0.2.1 is not in the service range 10.96.0.0/12" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: s3, namespace: y}
spec: {clusterIP: 192.0.2.1, selector: {app: web}, ports: [{port: 80}]}
EOF
bad "ClusterIP taken" "spec.clusterIP: 10.96.0.10 is already allocated" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: s4, namespace: y}
spec: {clusterIP: 10.96.0.10, selector: {app: web}, ports: [{port: 80}]}
EOF
BIP=$(lab get --json | jq_ '[s["clusterIP"] for s in d["services"] if s["name"] == "bsvc"][0]')
bad "ClusterIP changed" "Service y/bsvc: spec.clusterIP: 10.111.0.1, but it is $BIP and the field is immutable" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: bsvc, namespace: y}
spec: {clusterIP: 10.111.0.1, selector: {pod: b}, ports: [{name: http, port: 8080, targetPort: 80}]}
EOF
bad "ExternalName" "Service y/s5: spec.type: \"ExternalName\" is not served by the lab (only ClusterIP, NodePort and LoadBalancer)" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: s5, namespace: y}
spec: {type: ExternalName, externalName: db.example, ports: [{port: 80}]}
EOF

check "lab matrix 80/tcp --via-service: every pod reaches every pod through its own Service" \
	bash -c "$XCNICTL lab matrix 80/tcp --via-service --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"pods\"]) == 11 and all(all(r.values()) for r in d[\"rows\"].values())'"
check "... through Services svc-POD it made, targeting the named port serve-80-tcp" \
	test "$(lab get --json | jq_ "[s['ports'][0]['targetPort'] for s in d['services'] if s['namespace'] == 'x' and s['name'] == 'svc-a'][0]")" = serve-80-tcp
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n' >"$T/ns-y.yaml"
check "delete namespace y: its Services go with it" \
	bash -c "$XCNICTL lab delete -f $T/ns-y.yaml && ! ls $XCNI_LAB_DIR/services | grep -q '^y\\.'"

# Replies from a pod on n2 to a client on n1 through a Service come back decapsulated
# into n1's stack (for the un-DNAT), from an address routed through xcni0: a node with
# strict rp_filter would drop them, so xcnid sets the underlay device loose. n1 made
# strict, its xcnid restarted (last: the lab no longer knows that agent):
N1_CLIENT=$(lab get --json | jq_ '[p["namespace"] + "/" + p["name"] for p in d["pods"] if p["node"] == "n1" and p["namespace"] == "x"][0]')
N2_POD=$(lab get --json | jq_ '[p["name"] for p in d["pods"] if p["node"] == "n2" and p["namespace"] == "z"][0]')
N2_SVC=$(lab get --json | jq_ "[s['clusterIP'] for s in d['services'] if s['namespace'] == 'z' and s['name'] == 'svc-$N2_POD'][0]")
xpid=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n1'][0]")
mapfile -d '' XARGS <"/proc/$xpid/cmdline"
kill "$xpid"
for _ in $(seq 50); do kill -0 "$xpid" 2>/dev/null || break; sleep 0.1; done
in_node 1 sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.ul0.rp_filter=0
nsenter --net=/run/netns/xcl-n1 "${XARGS[@]}" >>"$T/n1-xcnid.log" 2>&1 &
N1PID=$!
MINE+=("$N1PID")
for _ in $(seq 100); do grep -q 'xcnid: ready' "$T/n1-xcnid.log" 2>/dev/null && break; sleep 0.1; done
check "n1 with rp_filter strict: the restarted xcnid set ul0 loose (2)" \
	test "$(in_node 1 cat /proc/sys/net/ipv4/conf/ul0/rp_filter)" = 2
got=$(answers "$N1_CLIENT" "$N2_SVC" 80)
check "$N1_CLIENT (n1) -> svc-$N2_POD ($N2_SVC, z/$N2_POD on n2): answered through n1's stack (got: $got)" \
	test "$got" = "z/$N2_POD "
kill "$N1PID"
wait "$N1PID" 2>/dev/null
lab_down_checked
finish
