#!/bin/bash
# xcnid --kube-proxy-replacement following a manifest directory, on one node:
# a Service and its EndpointSlice become BPF frontends, and a pod's TCP
# connection to the ClusterIP reaches the backend pod with no iptables or
# nftables rule anywhere. Then: hairpin, terminating fallback, no backend
# refused, a restart without rewrites, Maglev, a full xcni_svc refusing a
# generation whole, an unmatched port name said, a Service removed. The
# operator views on real traffic: monitor names the Service and backend of a
# translated connection (and the Service a refusal was for), and explain's
# answer for svc/x/web is what the probe got (allowed, denied by policy,
# refused for want of a backend). The Service is dual stack (issue 14): its
# IPv6 ClusterIP, with an IPv6 EndpointSlice, reaches a over IPv6 through
# from_pod6 (lb.h), hairpin and the refusal included.
#
#   netns <tag>-node: xcnid --manifests M --kube-proxy-replacement
#     xc<hash> ──veth── eth0  <tag>-a  x/a  (serves TCP 8080 "hello", both families)
#     xc<hash> ──veth── eth0  <tag>-b  x/b  (the client; pods dual stack: fd00:97::/64)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init svc 10.97.0 svc
VIP=10.96.0.10
VIP6=fd00:96::10
SRV=
SRV6=
# Dual-stack pods (IPv4 first: .ips[0] stays the IPv4 address).
cat >"$T/net.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-svc","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"$SUBNET.0/24"}],[{"subnet":"fd00:97::/64"}]],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dataDir":"$T/ipam"}}
EOT

cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	[ -n "$SRV6" ] && kill "$SRV6" 2>/dev/null
	node_cleanup a b
}
trap cleanup EXIT

# probe SRC IP PORT: connected, refused or timeout.
probe() {
	local out
	out=$(ip netns exec "$XCT_TAG-$1" timeout 3 socat -T1 - "TCP:$2:$3,connect-timeout=2" \
		</dev/null 2>&1)
	if grep -q hello <<<"$out"; then
		echo connected
	elif grep -qi refused <<<"$out"; then
		echo refused
	else
		echo timeout
	fi
}
expect() { # expect SRC IP PORT connected|refused|timeout
	local got
	got=$(probe "$1" "$2" "$3")
	[ "$got" = "$4" ] || { echo "$1 -> $2:$3: $got, expected $4"; return 1; }
}

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
check "xcnid started with --manifests --kube-proxy-replacement" start_xcnid "$PIN" \
	--pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M" --no-masquerade \
	--kube-proxy-replacement --map-max xcni_svc=3 --service-ns-share=100 --map-grow 0 -v || { finish; exit 1; }
IP_A=$(pod_add a) && IP_B=$(pod_add b) || { not_ok "ADD a, b"; finish; exit 1; }
IP6_A=$(jq -r '.ips[].address | select(contains(":"))' "$T/a.json" | cut -d/ -f1)
IP6_B=$(jq -r '.ips[].address | select(contains(":"))' "$T/b.json" | cut -d/ -f1)
ip netns exec "$XCT_TAG-a" socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:'echo hello' &
SRV=$!
ip netns exec "$XCT_TAG-a" socat TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1 SYSTEM:'echo hello' &
SRV6=$!

no_rules() {
	for ns in "$NODE" "$XCT_TAG-a" "$XCT_TAG-b"; do
		[ -z "$(ip netns exec "$ns" nft list ruleset 2>&1)" ] ||
			{ echo "$ns has nftables rules:"; ip netns exec "$ns" nft list ruleset; return 1; }
		n=$(ip netns exec "$ns" iptables-save 2>/dev/null | grep -c '^-A')
		[ "$n" = 0 ] || { echo "$ns has $n iptables rules"; return 1; }
	done
}

slice() { # slice ENDPOINTS-YAML [6]: the Service's EndpointSlice web-1 (IPv4) or web-6 (IPv6)
	k_slice "web-${2:-1}" web "${2:-4}" "$1" "{name: http, port: 8080}" | put "eps${2:-}.yaml"
}

{
	k_ns x
	k_pod a x "$IP_A" 'app: web' '{name: c, ports: [{containerPort: 8080, name: http}]}'
	k_pod b x "$IP_B"
	k_svc2 web "app: web" "$VIP" "$VIP6" "{name: http, port: 80, targetPort: http}" "ipFamilyPolicy: RequireDualStack"
} | put pods.yaml
slice6() { slice "$1" 6; }
slice "[{addresses: [$IP_A], nodeName: n1}]"
slice6 "[{addresses: [\"$IP6_A\"], nodeName: n1}]"
check "Service and EndpointSlices applied" sync_gen
check "b -> ClusterIP:80 reaches a:8080 (named targetPort)" expect b "$VIP" 80 connected
check "no iptables or nftables rule in the node or the pods" no_rules
check "a -> its own ClusterIP (hairpin)" expect a "$VIP" 80 connected
check "the pod's own address still works" expect b "$IP_A" 8080 connected
# IPv6: the connection completes only if the replies come from [VIP6]:80.
check "b -> [IPv6 ClusterIP]:80 reaches a:8080 over IPv6" expect b "[$VIP6]" 80 connected
check "a -> its own IPv6 ClusterIP (hairpin)" expect a "[$VIP6]" 80 connected
v6_listed() { ctl service list | grep -F "[$VIP6]:80" | grep -q "x/web"; }
check "service list: the IPv6 frontend of x/web" v6_listed
v6_ct() { # the service entry in xcni_ct6: b -> [VIP6]:80, flag SVC (2), a backend
	bpftool -j map dump pinned "$PIN/xcni_ct6" | python3 -c "import json, sys, ipaddress
vip = list(ipaddress.ip_address(sys.argv[1]).packed)
for r in json.load(sys.stdin):
    k, v = r['formatted']['key'], r['formatted']['value']
    if k['daddr'] == vip and v['flags'] & 2 and v['backend_id'] and v['rev_nat']:
        sys.exit(0)
sys.exit(1)" "$VIP6"
}
check "xcni_ct6 holds the translation (service entry to [VIP6]:80)" v6_ct
# explain6_is NAME PYTHON ARGS...: xcnictl explain ARGS (an IPv6 flow to x/web) --json
# makes PYTHON true of j; what the IPv6 probe got is in $T/NAME.probe6.
explain6_is() {
	local name=$1 cond=$2
	shift 2
	ctl explain "$@" --json >"$T/$name.explain6" 2>&1 &&
		python3 -c "import json, sys
j = json.load(open(sys.argv[1])); probe = open(sys.argv[2]).read().strip()
sys.exit(0 if ($cond) else 1)" "$T/$name.explain6" "$T/$name.probe6" ||
		{ cat "$T/$name.explain6" "$T/$name.probe6"; return 1; }
}
probe b "[$VIP6]" 80 >"$T/ok6.probe6"
check "explain --family 6 svc/x/web: the IPv6 frontend, a's IPv6 backend, allowed as probed" explain6_is ok6 \
	'(j["frontend"], j["scope"], j["choice"], j["verdict"], j["src_ip"]) ==
	 ("['"$VIP6"']:80/tcp", "ext", "one of 1, at random", "allowed", "'"$IP6_B"'") and
	 [(b["backend"], b["policy"]["dst"], b["policy"]["dst_ip"], b["verdict"]) for b in j["backends"]] ==
	 [("['"$IP6_A"']:8080", "x/a", "'"$IP6_A"'", "allowed")] and probe == "connected"' \
	x/b svc/x/web 80/tcp --family 6
cp "$T/ok6.probe6" "$T/addr6.probe6"
check "explain x/b [VIP6] (the frontend's IPv6 address, no --family): the same" explain6_is addr6 \
	'j["frontend"] == "['"$VIP6"']:80/tcp" and j["verdict"] == "allowed" and j["backends"][0]["id"] > 0' \
	x/b "$VIP6" 80/tcp
slice6 "[]"
check "no IPv6 endpoint applied" sync_gen
check "IPv6 no backend: refused at once (RST from the frontend)" expect b "[$VIP6]" 80 refused
probe b "[$VIP6]" 80 >"$T/none6.probe6"
check "explain --family 6: no IPv6 backend, no-backend where the probe was refused (IPv4 frontend's backend not taken)" \
	explain6_is none6 'j["verdict"] == "no-backend" and j["backends"] == [] and probe == "refused" and
	 "ICMPv6" in j["choice"]' x/b svc/x/web 80/tcp --family 6
check "IPv4 unaffected" expect b "$VIP" 80 connected
slice6 "[{addresses: [\"$IP6_A\"], nodeName: n1}]"
check "IPv6 endpoint back applied" sync_gen

# watch_probe NAME MONITOR-ARGS...: b probes the ClusterIP while monitor runs;
# monitor's output in $T/NAME.mon, the probe's result in $T/NAME.probe.
watch_probe() {
	local name=$1 mp
	shift
	ctl monitor --timeout-ms 3500 "$@" >"$T/$name.mon" 2>&1 &
	mp=$!
	mon_subscribed "$mp" "$NODE" # monitor gets the events from its subscription on
	probe b "$VIP" 80 >"$T/$name.probe"
	wait "$mp"
}
# explain_is NAME PYTHON: explain x/b -> svc/x/web 80/tcp (--json) makes PYTHON
# true of j, with probe (what $T/NAME.probe got) at hand.
explain_is() {
	ctl explain x/b svc/x/web 80/tcp --json >"$T/$1.explain" 2>&1 &&
		python3 -c "import json, sys
j = json.load(open(sys.argv[1])); probe = open(sys.argv[2]).read().strip()
sys.exit(0 if ($2) else 1)" "$T/$1.explain" "$T/$1.probe" ||
		{ cat "$T/$1.explain" "$T/$1.probe"; return 1; }
}
# mon_has NAME PYTHON: some event of $T/NAME.mon (JSON lines) makes PYTHON true of e.
mon_has() {
	python3 -c "import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
sys.exit(0 if any($2 for e in ev) else 1)" "$T/$1.mon" || { cat "$T/$1.mon"; return 1; }
}
# same_backend NAME: the backends monitor saw for x/web are those explain listed.
same_backend() {
	python3 -c "import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
j = json.load(open(sys.argv[2]))
seen = {e['backend_id'] for e in ev if e['service'] == 'x/web'}
sys.exit(0 if seen and seen <= {b['id'] for b in j['backends']} else 1)" "$T/$1.mon" "$T/$1.explain" ||
		{ cat "$T/$1.mon" "$T/$1.explain"; return 1; }
}
check "traces on (one packet in 1)" ctl config set trace-sample 1
check "monitor --json while b connects to the ClusterIP" watch_probe ok --json
check "the probe connected" grep -qx connected "$T/ok.probe"
check "monitor: b's packets to a name the Service, frontend and backend" mon_has ok \
	'e["saddr"] == "'"$IP_B"'" and e["daddr"] == "'"$IP_A"'" and e["service"] == "x/web" and
	 e["port_name"] == "http" and e["frontend"] == "'"$VIP"':80/tcp" and e["backend"] == "'"$IP_A"':8080" and
	 e["backend_pod"] == "x/a" and e["backend_id"] > 0 and e["rev_nat"] > 0'
check "monitor: a's replies, after reverse NAT, name them too" mon_has ok \
	'e["saddr"] == "'"$VIP"'" and e["daddr"] == "'"$IP_B"'" and e["service"] == "x/web" and
	 e["backend"] == "'"$IP_A"':8080"'
check "explain: the frontend, one backend (a), allowed: what the probe got" explain_is ok \
	'(j["service"], j["frontend"], j["scope"], j["choice"], j["verdict"]) ==
	 ("x/web", "'"$VIP"':80/tcp", "ext", "one of 1, at random", "allowed") and
	 [(b["backend"], b["policy"]["dst"], b["verdict"]) for b in j["backends"]] ==
	 [("'"$IP_A"':8080", "x/a", "allowed")] and probe == "connected"'
check "explain and monitor name the same backend" same_backend ok
check "monitor as text (-o wide) while b connects" watch_probe text -o wide
check "monitor text: svc x/web:http FRONTEND -> backend x/a ADDR" \
	grep -q "svc x/web:http $VIP:80/tcp -> backend x/a $IP_A:8080" "$T/text.mon"
# The service entry (keyed by the frontend): its Service and backend (ADDR:PORT).
ct_named() { ctl ct list | grep -E "^tcp +$IP_B:[0-9]+ +$VIP:80 .* +x/web:http +$IP_A:8080 *$" || { ctl ct list; return 1; }; }
check "ct list: the service entry names x/web:http and its backend $IP_A:8080" ct_named

# A policy isolating a for ingress: explain says denied at the destination, the
# probe times out, monitor's policy drop names the Service and backend.
put deny.yaml <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web, namespace: x}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
EOF
check "a policy isolating a for ingress applied" sync_gen
check "monitor --json while b is refused by policy" watch_probe deny --json
check "explain: denied by ingress at the destination, as the probe found" explain_is deny \
	'j["verdict"] == "denied" and j["backends"][0]["policy"]["ingress_reason"] == "isolated" and
	 probe == "timeout"'
probe b "[$VIP6]" 80 >"$T/deny6.probe6"
check "explain --family 6: denied by a's ingress (its IPv6 judged under its IPv4's key), as probed" \
	explain6_is deny6 'j["verdict"] == "denied" and j["backends"][0]["policy"]["ingress_reason"] == "isolated"
	 and j["backends"][0]["policy"]["dst"] == "x/a" and probe == "timeout"' x/b svc/x/web 80/tcp --family 6
check "monitor: the policy drop names the Service and backend" mon_has deny \
	'e["reason"] == "drop-policy-ingress" and e["service"] == "x/web" and e["backend_pod"] == "x/a"'
rm -f "$M/deny.yaml"
check "the policy removed applied" sync_gen

slice "[{addresses: [$IP_A], conditions: {ready: false, serving: true, terminating: true}}]"
check "backend terminating but serving applied" sync_gen
check "only a terminating backend left: still used" expect b "$VIP" 80 connected

slice "[]"
check "no endpoints applied" sync_gen
check "no backend: refused at once (RST from the frontend)" expect b "$VIP" 80 refused
no_backend_counted() { grep -q 'drop-no-backend' <<<"$(ctl metrics)"; }
check "drop-no-backend counted" no_backend_counted
check "monitor --json while b is refused for want of a backend" watch_probe none --json
check "explain: no backend, no-backend where the probe was refused" explain_is none \
	'j["verdict"] == "no-backend" and j["backends"] == [] and probe == "refused"'
check "monitor: the refusal names the Service, no backend" mon_has none \
	'e["reason"] == "drop-no-backend" and e["service"] == "x/web" and e["frontend"] == "'"$VIP"':80/tcp" and
	 e["backend_id"] is None'
check "traces off again" ctl config set trace-sample 0

slice "[{addresses: [$IP_A]}]"
check "endpoint back applied" sync_gen
check "backend back: connected again" expect b "$VIP" 80 connected

# Restart: the pinned maps keep translating while no agent runs; the new agent
# reads what they hold and rewrites nothing for the same state.
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "no agent: the ClusterIP still reaches a" expect b "$VIP" 80 connected
check "xcnid restarted" start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" --node-name n1 \
	--manifests "$M" --no-masquerade --kube-proxy-replacement --map-max xcni_svc=3 --service-ns-share=100 --map-grow 0 -v
check "restarted agent applies the state" sync_gen
nothing_rewritten() { ! grep -E "generation [0-9]+: [0-9]+ frontends" "/tmp/xcnid-$XCT_TAG.log"; }
check "restarted agent: the Service maps already held it, nothing rewritten" nothing_rewritten
check "after restart: connected" expect b "$VIP" 80 connected

# --lb-algorithm maglev: the frontend rewritten with a Maglev table, still reaching a.
kill "$XCNID_PID" && wait "$XCNID_PID" 2>/dev/null
XCNID_PID=
check "xcnid restarted with --lb-algorithm maglev" start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" \
	--node-name n1 --manifests "$M" --no-masquerade --kube-proxy-replacement --lb-algorithm maglev \
	--map-max xcni_svc=3 --service-ns-share=100 --map-grow 0 -v
check "maglev: state applied" sync_gen
maglev_built() { grep -E "generation [0-9]+: 2 frontends, 2 written.* 2 Maglev tables" "/tmp/xcnid-$XCT_TAG.log"; }
check "maglev: the frontend rewritten with its Maglev table" maglev_built
check "maglev: b -> ClusterIP reaches a" expect b "$VIP" 80 connected
check "maglev: hairpin" expect a "$VIP" 80 connected
check "maglev: b -> IPv6 ClusterIP reaches a" expect b "[$VIP6]" 80 connected

# More frontends than xcni_svc holds (--map-max xcni_svc=3; one namespace, so
# no share: --service-ns-share=100 --map-grow 0): room is judged per namespace (issue 52
# item 3): x, which brings them, is closed and named, the
# generation applies, and what was there keeps working.
put two.yaml <<EOF
apiVersion: v1
kind: Service
metadata: {name: two, namespace: x}
spec: {clusterIP: 10.96.0.11, ports: [{name: a, port: 81}, {name: b, port: 82}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: two-1, namespace: x, labels: {kubernetes.io/service-name: two}}
addressType: IPv4
endpoints: [{addresses: [$IP_A]}]
ports: [{name: a, port: 8080}, {name: bb, port: 8080}]
EOF
ns_closed() { grep "namespace x closed for Service room: xcni_svc is full and it brings the most" "/tmp/xcnid-$XCT_TAG.log"; }
check "4 frontends, room for 3: the generation applied" sync_gen
check "... namespace x closed, naming xcni_svc" ns_closed
check "closed: the first Service (unchanged) still works" expect b "$VIP" 80 connected
check "closed: nothing of the new one written" expect b 10.96.0.11 81 timeout
# A Service port no slice port matches: said, naming the object and field; that
# frontend refuses, the other works.
sed 's/ports: \[{name: a, port: 81}, {name: b, port: 82}\]/ports: [{name: b, port: 82}]/' \
	"$M/two.yaml" | put two.yaml
check "one frontend less: applied" sync_gen
port_said() { grep 'Service x/two: spec.ports\[0\].name: "b" names no TCP port of EndpointSlice x/two-1' "/tmp/xcnid-$XCT_TAG.log"; }
check "the unmatched port name is logged with the object and field" port_said
check "the unmatched port refuses" expect b 10.96.0.11 82 refused
rm -f "$M/two.yaml"

rm -f "$M/pods.yaml"
{
	k_ns x
	k_pod a x "$IP_A" 'app: web'
	k_pod b x "$IP_B"
} | put pods.yaml
check "Service removed applied" sync_gen
check "Service gone: the ClusterIP is no frontend (no answer)" expect b "$VIP" 80 timeout

finish
