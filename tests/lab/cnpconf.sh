#!/bin/bash
# The ClusterNetworkPolicy conformance cases of kubernetes-sigs/network-policy-api
# (conformance/tests, conformance/base; v1alpha2, which carries over the
# AdminNetworkPolicy and BaselineAdminNetworkPolicy cases as its Admin and
# Baseline tiers), translated for the lab. Not their code: the same cluster,
# the same policies and the same mutations, judged on every pair instead of
# the few probes each upstream case makes.
#
#   xcl-ul (underlay) --- n1 [ xcnid, centaur-1 (hostNetwork) ] --- pods
#                     --- n2 [ xcnid, centaur-2 ] ...             (CNPCONF_NODES)
#   pods: gryffindor/harry-potter-0,1  slytherin/draco-malfoy-0,1
#         hufflepuff/cedric-diggory-0,1  ravenclaw/luna-lovegood-0,1
#   each serving TCP 80 (web) and 8080, UDP 53 (dns) and 5353; the centaurs
#   (forbidden-forrest, one per node, in the node's netns) TCP 34346, 34347,
#   UDP 34348, 34350 (upstream's HostNetworkPorts 0, 1, 2, 4).
#
# Each case applies its policies (tests/lab/cnpconf/*: the house rules are
# generated here from upstream's shape), then for each port runs `lab matrix`
# and tests/lab/cnpconf/conf.py, which works out every cell from the
# policies as the API's text reads (its header says how) and also checks the
# probes the upstream case makes, with the answers upstream gives ("g0>h1:80/tcp=y").
#
# Not here: SCTP (this kernel has no SCTP sockets; its verdicts are packet
# tests), upstream's SCTP-only cases and the SCTP probes of the others.
#
# CNPCONF_NODES=N (default 1), CNPCONF_FAMILY=ipv4|dual (default dual).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

XCNICTL=${XCNICTL:-$BUILD/xcnictl}
C=$HERE/cnpconf
T=$(mktemp -d /tmp/xcni-cnpconf-t.XXXXXX)
# lab up makes it, lab down removes it (lab_down_checked: nothing left behind).
export XCNI_LAB_DIR=${XCNI_LAB_DIR:-$T/lab}
TIMEOUT=${CNPCONF_TIMEOUT_MS:-400}
NODES=${CNPCONF_NODES:-1}
FAMILY=${CNPCONF_FAMILY:-dual}
shopt -s nullglob

cleanup() {
	"$XCNICTL" lab down >/dev/null 2>&1
	rm -rf "$XCNI_LAB_DIR" "$T"
}
trap cleanup EXIT

# shellcheck source=tests/lab/lib.sh
. "$HERE/lib.sh"
stale_lab_sweep

TCP="80/tcp 8080/tcp"
UDP="53/udp 5353/udp"
HOSTP="34346/tcp 34347/tcp 34348/udp 34350/udp"

# judge NAME PORT/PROTO... [-- POKE...]: every cell of each port's matrix
# against conf.py (the policies in $T/pol), and upstream's probes; the ports
# probed at once (one `lab matrix`), a port that disagrees re-probed alone once.
judge() {
	local name=$1 pp try i ports=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do ports+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	lab get --json >"$T/lab.json" || { not_ok "$name: lab get"; return; }
	if ! lab matrix "${ports[@]}" --json --timeout-ms "$TIMEOUT" >"$T/all.json" 2>"$T/m.err"; then
		sed 's/^/#   /' "$T/m.err" | head -5
		: >"$T/all.json"
	fi
	i=0
	for pp in "${ports[@]}"; do
		i=$((i + 1))
		sed -n "${i}p" "$T/all.json" >"$T/m.json"
		for try in 1 2; do
			if [ -s "$T/m.json" ] && /usr/bin/python3 "$C/conf.py" check "$T/m.json" "$T/lab.json" \
				"$T/cluster.yaml" "$T"/pol/*.yaml -- "$@" >"$T/diff"; then
				ok "$name: $pp$([ "$try" = 2 ] && echo " (RE-PROBED)") ($(tail -1 "$T/diff" | sed 's/^# [^:]*: //'))"
				break
			fi
			if [ "$try" = 2 ]; then
				not_ok "$name: $pp"
				head -40 "$T/diff"
				"$XCNICTL" --node n1 policy list 2>&1 | sed 's/^/#   /' | head -20
				break
			fi
			sleep 1
			lab matrix "$pp" --json --timeout-ms "$TIMEOUT" >"$T/m.json" 2>"$T/m.err" ||
				sed 's/^/#   /' "$T/m.err" | head -5
		done
	done
}

# pol NAME: applies stdin as $T/pol/NAME.yaml (the policies conf.py reads).
pol() {
	cat >"$T/pol/$1.yaml"
	lab apply -f "$T/pol/$1.yaml" >"$T/apply.out" 2>&1 ||
		{ not_ok "apply $1"; sed 's/^/#   /' "$T/apply.out" | head; }
}
# unpol NAME...: deletes them.
unpol() {
	local f
	for f in "$@"; do
		lab delete -f "$T/pol/$f.yaml" >/dev/null 2>&1 || not_ok "delete $f"
		rm -f "$T/pol/$f.yaml"
	done
}
# mut NAME PYTHON: changes policy NAME as upstream's case patches it (PYTHON
# on p, the document; i and e its ingress and egress rules), and applies it.
mut() {
	/usr/bin/python3 - "$T/pol/$1.yaml" "$2" <<'EOF' || not_ok "mutate $1: $2"
import sys, yaml
f = sys.argv[1]
p = yaml.safe_load(open(f))
i, e = p["spec"].get("ingress"), p["spec"].get("egress")
exec(sys.argv[2])
yaml.safe_dump(p, open(f, "w"), sort_keys=False)
EOF
	lab apply -f "$T/pol/$1.yaml" >"$T/apply.out" 2>&1 ||
		{ not_ok "apply $1 changed"; sed 's/^/#   /' "$T/apply.out" | head; }
}

# The house rules, as upstream's TCP/UDP cases shape them: for DIR (ingress
# or egress) from/to namespace X: Accept, Deny, Pass (PASS=1); Y on PY:
# Deny, Pass; Z on PZ: Accept, then Z: Deny. Baseline cases have no Pass.
house_rules() {
	local dir=$1 x=$2 y=$3 z=$4 py=$5 pz=$6 pass=$7 k
	k=$([ "$dir" = ingress ] && echo from || echo to)
	peer() { echo "[{namespaces: {matchLabels: {kubernetes.io/metadata.name: $1}}}]"; }
	echo "  $dir:"
	echo "  - {name: accept-$x-all, action: Accept, $k: $(peer "$x")}"
	echo "  - {name: deny-$x-all, action: Deny, $k: $(peer "$x")}"
	[ "$pass" = 1 ] && echo "  - {name: pass-$x-all, action: Pass, $k: $(peer "$x")}"
	echo "  - {name: deny-$y-at, action: Deny, $k: $(peer "$y"), protocols: $py}"
	[ "$pass" = 1 ] && echo "  - {name: pass-$y-at, action: Pass, $k: $(peer "$y"), protocols: $py}"
	echo "  - {name: accept-$z-at, action: Accept, $k: $(peer "$z"), protocols: $pz}"
	echo "  - {name: deny-$z-else, action: Deny, $k: $(peer "$z")}"
}
# head NAME TIER PRIORITY SUBJECT-NS
cnp_head() {
	cat <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: $1}
spec:
  tier: $2
  priority: $3
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: $4}}}
EOF
}
tcp() { echo "{tcp: {destinationPort: {number: $1}}}"; }
udp() { echo "{udp: {destinationPort: {number: $1}}}"; }

mkdir -p "$T/pol"
check "lab up --nodes $NODES --ip-family $FAMILY" lab up --nodes "$NODES" --ip-family "$FAMILY" ||
	{ finish; exit 1; }
# The cluster: upstream's base, the nodes labelled as a kubelet labels them
# (nodes peers select kubernetes.io/os: linux), a centaur on every node.
{
	cat "$C/00-base.yaml"
	for n in $(seq 1 "$NODES"); do
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata: {name: n$n, labels: {kubernetes.io/os: linux, kubernetes.io/hostname: n$n}}
---
apiVersion: v1
kind: Pod
metadata: {name: centaur-$n, namespace: forbidden-forrest, labels: {conformance-house: forbidden-forrest}}
spec:
  hostNetwork: true
  nodeName: n$n
  containers:
  - name: server
    image: agnhost:2.47
    ports:
    - {containerPort: 34346, protocol: TCP, name: web-34346}
    - {containerPort: 34347, protocol: TCP, name: web-34347}
    - {containerPort: 34348, protocol: UDP, name: dns-34348}
    - {containerPort: 34350, protocol: UDP, name: dns-34350}
EOF
	done
} >"$T/cluster.yaml"
check "apply the houses, the Node labels and a hostNetwork centaur per node" \
	lab apply -f "$T/cluster.yaml" || { finish; exit 1; }
lab get | sed 's/^/#   /' | grep -E 'centaur|NAME' | head -5

# ---- hostNetwork pods ---------------------------------------------------------
out=$(lab get --json)
check "lab get: centaur-1 is hostNetwork, in n1's netns, with n1's address" \
	/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
n1 = [n for n in d["nodes"] if n["name"] == "n1"][0]
c = [p for p in d["pods"] if p["name"] == "centaur-1"][0]
assert c["hostNetwork"] and c["netns"] == n1["netns"] and c["ip"] == n1["internalIP"], c
assert not [p for p in d["pods"] if p["name"] == "harry-potter-0"][0]["hostNetwork"]
' "$out"
cat >"$T/clash.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: centaur-clash, namespace: forbidden-forrest}
spec:
  hostNetwork: true
  nodeName: n1
  containers: [{name: s, image: agnhost:2.47, ports: [{containerPort: 34347, protocol: TCP}]}]
EOF
lab apply -f "$T/clash.yaml" >"$T/out" 2>&1
check "a second hostNetwork pod on n1 serving 34347/TCP is refused, naming the port and the pod" \
	grep -q "Pod forbidden-forrest/centaur-clash: spec.hostNetwork: port 34347/TCP of node n1 is taken by hostNetwork pod forbidden-forrest/centaur-1" "$T/out"
sed 's/^/#   /' "$T/out" | head -3
check "  ... and not made" bash -c "! $XCNICTL lab get --json | grep -q centaur-clash"
sed 's/hostNetwork: true/hostNetwork: false/' "$T/cluster.yaml" |
	/usr/bin/python3 -c '
import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
    if d and d["metadata"]["name"] == "centaur-1":
        print(yaml.safe_dump(d))' >"$T/flip.yaml"
lab apply -f "$T/flip.yaml" >"$T/out" 2>&1
check "hostNetwork is immutable: centaur-1 flipped to false is refused" \
	grep -q "Pod forbidden-forrest/centaur-1: spec.hostNetwork: the pod runs in its node's netns" "$T/out"

judge "no policy" $TCP $UDP $HOSTP

# ---- Admin tier: ingress TCP (upstream CNPAdminTierIngressTCP) -------------------
{ cnp_head ingress-tcp Admin 3 gryffindor
  house_rules ingress ravenclaw slytherin hufflepuff "[$(tcp 80)]" "[$(tcp 80)]" 1; } | pol ingress-tcp
judge "Admin ingress TCP" $TCP -- r0\>g0:80/tcp=y r1\>g0:8080/tcp=y h0\>g1:80/tcp=y h1\>g1:8080/tcp=n \
	s0\>g0:80/tcp=n s1\>g0:8080/tcp=y
mut ingress-tcp "i[0], i[1] = i[1], i[0]"
judge "Admin ingress TCP, Deny first" $TCP -- r0\>g1:80/tcp=n r1\>g1:8080/tcp=n
mut ingress-tcp "i[0], i[2] = i[2], i[0]"
judge "Admin ingress TCP, Pass first" $TCP -- r0\>g0:80/tcp=y r1\>g0:8080/tcp=y
mut ingress-tcp "i[3], i[4] = i[4], i[3]"
judge "Admin ingress TCP, Pass before Deny at port" $TCP -- s0\>g0:80/tcp=y s1\>g0:8080/tcp=y
unpol ingress-tcp

# ---- Admin tier: ingress UDP (CNPAdminTierIngressUDP) and named port ---------------
{ cnp_head ingress-udp Admin 4 hufflepuff
  house_rules ingress ravenclaw slytherin gryffindor "[$(udp 5353)]" "[$(udp 53)]" 1; } | pol ingress-udp
judge "Admin ingress UDP" $UDP -- r0\>h0:53/udp=y r1\>h0:5353/udp=y g0\>h1:53/udp=y g1\>h1:5353/udp=n \
	s0\>h0:5353/udp=n s1\>h0:53/udp=y
# CNPAdminTierIngressNamedPort: the Accept for gryffindor on "dns" (53/UDP) instead of the number.
mut ingress-udp "i[5]['protocols'] = [{'destinationNamedPort': 'dns'}]"
judge "Admin ingress UDP, named port dns" $UDP -- g0\>h1:53/udp=y g1\>h1:5353/udp=n
mut ingress-udp "i[0], i[1] = i[1], i[0]"
judge "Admin ingress UDP, Deny first" $UDP -- r0\>h1:53/udp=n r1\>h1:5353/udp=n
mut ingress-udp "i[0], i[2] = i[2], i[0]; i[3], i[4] = i[4], i[3]"
judge "Admin ingress UDP, Pass first" $UDP -- r0\>h1:5353/udp=y r1\>h1:53/udp=y s0\>h0:5353/udp=y s1\>h0:53/udp=y
unpol ingress-udp

# ---- Admin tier: egress TCP (CNPAdminTierEgressTCP) and named port ------------------
{ cnp_head egress-tcp Admin 6 gryffindor
  house_rules egress ravenclaw slytherin hufflepuff "[$(tcp 80)]" "[$(tcp 8080)]" 1; } | pol egress-tcp
judge "Admin egress TCP" $TCP -- g0\>r0:80/tcp=y g1\>r0:8080/tcp=y g0\>h1:8080/tcp=y g1\>h1:80/tcp=n \
	g0\>s0:80/tcp=n g1\>s0:8080/tcp=y
# CNPAdminTierEgressNamedPort: the Accept for hufflepuff on "web" (80/TCP) instead of 8080.
cp "$T/pol/egress-tcp.yaml" "$T/egress-tcp.orig"
mut egress-tcp "e[5]['protocols'] = [{'destinationNamedPort': 'web'}]"
judge "Admin egress TCP, named port web" $TCP -- g0\>h1:80/tcp=y g1\>h1:8080/tcp=n
cp "$T/egress-tcp.orig" "$T/pol/egress-tcp.yaml"
mut egress-tcp "e[0], e[1] = e[1], e[0]"
judge "Admin egress TCP, Deny first" $TCP -- g0\>r1:80/tcp=n g1\>r1:8080/tcp=n g0\>s0:80/tcp=n g1\>s0:8080/tcp=y
mut egress-tcp "e[0], e[2] = e[2], e[0]"
judge "Admin egress TCP, Pass first" $TCP -- g0\>r0:80/tcp=y g1\>r0:8080/tcp=y
mut egress-tcp "e[3], e[4] = e[4], e[3]"
judge "Admin egress TCP, Pass before Deny at port" $TCP -- g0\>s0:80/tcp=y g1\>s0:8080/tcp=y
unpol egress-tcp

# ---- Admin tier: egress UDP (CNPAdminTierEgressUDP) ---------------------------------
{ cnp_head egress-udp Admin 7 hufflepuff
  house_rules egress ravenclaw slytherin gryffindor "[$(udp 5353)]" "[$(udp 53)]" 1; } | pol egress-udp
judge "Admin egress UDP" $UDP -- h0\>r0:53/udp=y h1\>r0:5353/udp=y h0\>g1:53/udp=y h1\>g1:5353/udp=n \
	h0\>s0:5353/udp=n h1\>s0:53/udp=y
mut egress-udp "e[0], e[1] = e[1], e[0]"
judge "Admin egress UDP, Deny first" $UDP -- h0\>r1:53/udp=n h1\>r1:5353/udp=n
mut egress-udp "e[0], e[2] = e[2], e[0]; e[3], e[4] = e[4], e[3]"
judge "Admin egress UDP, Pass first" $UDP -- h0\>r1:5353/udp=y h1\>r1:53/udp=y h0\>s0:5353/udp=y h1\>s0:53/udp=y
unpol egress-udp

# ---- Admin tier: both directions, TCP and UDP in one rule (CNPAdminTierGress) -------
{ cnp_head gress-rules Admin 15 gryffindor
  house_rules egress ravenclaw slytherin hufflepuff "[$(tcp 80), $(udp 53)]" "[$(tcp 8080), $(udp 5353)]" 1
  house_rules ingress ravenclaw slytherin hufflepuff "[$(tcp 80), $(udp 53)]" "[$(tcp 80), $(udp 5353)]" 1
} | pol gress-rules
judge "Admin both directions" $TCP $UDP -- g0\>r0:80/tcp=y g1\>r0:53/udp=y r0\>g0:80/tcp=y r1\>g0:53/udp=y \
	g0\>h1:8080/tcp=y g1\>h1:80/tcp=n g0\>h1:5353/udp=y g1\>h1:53/udp=n \
	h0\>g1:80/tcp=y h1\>g1:8080/tcp=n h0\>g1:5353/udp=y h1\>g1:53/udp=n
mut gress-rules "e[0], e[1] = e[1], e[0]; i[0], i[1] = i[1], i[0]"
judge "Admin both directions, Deny first" $TCP $UDP -- g0\>r1:80/tcp=n g1\>r1:53/udp=n r0\>g1:80/tcp=n \
	r1\>g1:53/udp=n g0\>s0:80/tcp=n g1\>s0:8080/tcp=y g0\>s0:53/udp=n g1\>s0:5353/udp=y \
	s0\>g0:80/tcp=n s1\>g0:8080/tcp=y s0\>g0:53/udp=n s1\>g0:5353/udp=y
mut gress-rules "e[0], e[2] = e[2], e[0]; i[0], i[2] = i[2], i[0]; e[3], e[4] = e[4], e[3]; i[3], i[4] = i[4], i[3]"
judge "Admin both directions, Pass first" $TCP $UDP -- g0\>r0:80/tcp=y g0\>r0:5353/udp=y r0\>g0:80/tcp=y \
	r1\>g0:53/udp=y g0\>s0:80/tcp=y g1\>s0:8080/tcp=y g0\>s0:53/udp=y s0\>g0:80/tcp=y s1\>g0:5353/udp=y
unpol gress-rules

# ---- Admin priorities (CNPAdminTierPriorityField) ------------------------------------
for spec in "priority-50:Admin:50:Deny" "priority-60:Admin:60:Pass" "default:Baseline:10:Accept"; do
	IFS=: read -r name tier prio action <<<"$spec"
	pol "$name" <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: $name}
spec:
  tier: $tier
  priority: $prio
  subject: {pods: {namespaceSelector: {matchLabels: {conformance-house: gryffindor}}, podSelector: {matchLabels: {conformance-house: gryffindor}}}}
  ingress: [{name: ${action,,}-from-slytherin, action: $action, from: [{pods: {namespaceSelector: {matchLabels: {conformance-house: slytherin}}, podSelector: {matchLabels: {conformance-house: slytherin}}}}]}]
  egress: [{name: ${action,,}-to-slytherin, action: $action, to: [{pods: {namespaceSelector: {matchLabels: {conformance-house: slytherin}}, podSelector: {matchLabels: {conformance-house: slytherin}}}}]}]
EOF
done
judge "Admin priority 50 Deny before 60 Pass" $TCP -- s0\>g0:80/tcp=n s1\>g0:8080/tcp=n g0\>s0:80/tcp=n g1\>s0:8080/tcp=n
mut priority-60 "p['spec']['priority'] = 40"
judge "  ... the Pass moved to 40: on to Baseline's Accept" $TCP -- s0\>g0:80/tcp=y s1\>g0:8080/tcp=y \
	g0\>s0:80/tcp=y g1\>s0:8080/tcp=y
unpol priority-50 priority-60 default

# ---- Admin, NetworkPolicy, Baseline (CNPAdminTierIntegration) ------------------------
pol pass-example <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass-example}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {conformance-house: gryffindor}}}
  ingress: [{name: deny-all-from-slytherin, action: Deny, from: [{namespaces: {matchLabels: {conformance-house: slytherin}}}]}]
  egress: [{name: deny-all-to-slytherin, action: Deny, to: [{namespaces: {matchLabels: {conformance-house: slytherin}}}]}]
EOF
# Upstream writes "podSelector:" (null); xcni's manifest reader refuses a null
# podSelector (spec.podSelector: required), where the API server stores {}.
pol np-slytherin <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-gress-from-to-slytherin-to-gryffindor, namespace: gryffindor}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{namespaceSelector: {matchLabels: {conformance-house: slytherin}}}]}]
  egress: [{to: [{namespaceSelector: {matchLabels: {conformance-house: slytherin}}}]}]
EOF
sed 's/Admin/Baseline/; s/pass-example/default/' "$T/pol/pass-example.yaml" | pol default
judge "Admin Deny over a NetworkPolicy allow" $TCP -- s0\>g0:80/tcp=n s1\>g0:8080/tcp=n g0\>s0:80/tcp=n g1\>s0:8080/tcp=n
mut pass-example "i[0]['action'] = 'Pass'"
judge "  ... ingress Pass: the NetworkPolicy admits slytherin" $TCP -- s0\>g0:80/tcp=y s1\>g0:8080/tcp=y
mut pass-example "e[0]['action'] = 'Pass'"
judge "  ... egress Pass: the NetworkPolicy lets gryffindor reach slytherin" $TCP -- g0\>s0:80/tcp=y g1\>s0:8080/tcp=y
unpol np-slytherin
judge "  ... no NetworkPolicy: Baseline's Deny decides" $TCP -- s0\>g0:80/tcp=n s1\>g0:8080/tcp=n \
	g0\>s0:80/tcp=n g1\>s0:8080/tcp=n
unpol pass-example default

# relabel LABEL: namespace slytherin's conformance-house label to LABEL, in
# $T/cluster.yaml (what conf.py reads) and $T/ns.yaml (to apply).
relabel() {
	/usr/bin/python3 - "$T/cluster.yaml" "$T/ns.yaml" "$1" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Namespace" and d["metadata"]["name"] == "slytherin":
        d["metadata"]["labels"]["conformance-house"] = sys.argv[3]
        yaml.safe_dump(d, open(sys.argv[2], "w"))
yaml.safe_dump_all(docs, open(sys.argv[1], "w"))
EOF
}

# ---- networks peers (CNPAdminTierEgressInlineCIDRPeers, CNPBaselineTierEgressInlineCIDRPeers) ----
for tier in Admin Baseline; do
	pol inline-cidr <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: inline-cidr-as-peers-example}
spec:
  tier: $tier
  priority: 85
  subject: {pods: {namespaceSelector: {matchLabels: {conformance-house: gryffindor}}, podSelector: {matchLabels: {conformance-house: gryffindor}}}}
  egress:
  - {name: accept-to-slytherin, action: Accept, to: [{pods: {namespaceSelector: {matchLabels: {conformance-house: slytherin}}, podSelector: {matchLabels: {conformance-house: slytherin}}}}]}
  - {name: deny-to-internet, action: Deny, to: [{networks: [0.0.0.0/0, "::/0"]}]}
EOF
	judge "$tier networks 0.0.0.0/0 and ::/0 Deny, slytherin Accepted first" $TCP $UDP -- \
		g1\>r0:80/tcp=n g1\>r0:53/udp=n g1\>h0:80/tcp=n g1\>h0:53/udp=n g1\>s0:80/tcp=y g1\>s0:53/udp=y
	# slytherin relabelled: the Accept no longer matches it.
	relabel denied-namespace-label
	check "  relabel namespace slytherin" lab apply -f "$T/ns.yaml"
	judge "  ... slytherin relabelled: denied" $TCP $UDP -- g1\>s0:80/tcp=n g1\>s0:53/udp=n
	relabel slytherin
	check "  label it back" lab apply -f "$T/ns.yaml"
	judge "  ... labelled back: accepted" $TCP $UDP -- g1\>s0:80/tcp=y g1\>s0:53/udp=y
	# A first rule accepting two pods' addresses (/32, /128: every family the
	# lab has), as upstream's case inserts; and, one family alone, harry-potter-0's
	# IPv6 address (a dual stack lab: g1 -> g0 over IPv6 only).
	nets=$(/usr/bin/python3 -c '
import json, sys
d = {p["namespace"] + "/" + p["name"]: p for p in json.load(open(sys.argv[1]))["pods"]}
n = []
for k in ("ravenclaw/luna-lovegood-0", "hufflepuff/cedric-diggory-0"):
    n += [d[k]["ip"] + "/32"] if d[k]["ip"] else []
    n += [d[k]["ip6"] + "/128"] if d[k]["ip6"] else []
g = d["gryffindor/harry-potter-0"]
n += [g["ip6"] + "/128"] if g["ip6"] and g["ip"] else []
print(", ".join("\"%s\"" % x for x in n))' "$T/lab.json")
	mut inline-cidr "e.insert(0, {'name': 'accept-pod-ips', 'action': 'Accept', 'to': [{'networks': [$nets]}]})"
	judge "  ... an Accept of the pods' /32 and /128 first" $TCP $UDP -- g1\>r0:80/tcp=y g1\>r0:53/udp=y \
		g1\>h0:80/tcp=y g1\>h0:53/udp=y g1\>r1:80/tcp=n g1\>r1:53/udp=n g1\>h1:80/tcp=n g1\>h1:53/udp=n
	unpol inline-cidr
done

# ---- nodes peers and hostNetwork pods (CNPAdminTierEgressNodePeers) ------------------
pol node-peers <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: node-and-cidr-as-peers-example}
spec:
  tier: Admin
  priority: 75
  subject: {pods: {namespaceSelector: {matchLabels: {conformance-house: gryffindor}}, podSelector: {matchLabels: {conformance-house: gryffindor}}}}
  egress:
  - {name: accept-34346-on-nodes, action: Accept, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}], protocols: [$(tcp 34346)]}
  - {name: pass-34348-on-nodes, action: Pass, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}], protocols: [$(udp 34348)]}
  - name: deny-to-slytherin-nodes-internet
    action: Deny
    to:
    - {pods: {namespaceSelector: {matchLabels: {conformance-house: slytherin}}, podSelector: {matchLabels: {conformance-house: slytherin}}}}
    - {nodes: {matchLabels: {kubernetes.io/os: linux}}}
    - {networks: [0.0.0.0/0, "::/0"]}
EOF
judge "Admin nodes peers: Accept 34346, Pass 34348, Deny the rest" $HOSTP $TCP -- g1\>c1:34346/tcp=y \
	g1\>c1:34348/udp=y g1\>c1:34347/tcp=n g1\>c1:34350/udp=n
# explain agrees with the data plane on a pod's egress to its own node (a tier names it).
own_node_explain() {
	local port=$1 want=$2 node ip
	node=$(lab get --json | jq_ "[p['node'] for p in d['pods'] if p['name'] == 'harry-potter-0'][0]")
	ip=$(lab get --json | jq_ "[n['internalIP'] for n in d['nodes'] if n['name'] == '$node'][0]")
	"$XCNICTL" --node "$node" explain gryffindor/harry-potter-0 "$ip" "$port" --json >"$T/ex.json" 2>&1 &&
		/usr/bin/python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
e = e[0] if isinstance(e, list) else e
s = json.dumps(e)
ok = (e.get("verdict") == sys.argv[2]) and ("node-and-cidr-as-peers-example" in s)
if not ok: print(s[:1500])
sys.exit(0 if ok else 1)' "$T/ex.json" "$2" || { cat "$T/ex.json" | head -c 800; return 1; }
}
check "explain harry-potter-0 -> its own node 34347/tcp: denied by node-and-cidr-as-peers-example (not 'the host, always allowed')" \
	own_node_explain 34347/tcp denied
check "explain harry-potter-0 -> its own node 34346/tcp: allowed by node-and-cidr-as-peers-example" \
	own_node_explain 34346/tcp allowed
unpol node-peers
# CNPBaselineTierEgressNodePeers: a port range.
pol node-range <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: default}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: gryffindor}}}
  egress:
  - {name: accept-34346-34347-on-nodes, action: Accept, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}], protocols: [{tcp: {destinationPort: {range: {start: 34346, end: 34347}}}}]}
  - {name: deny-nodes-and-internet, action: Deny, to: [{nodes: {matchLabels: {kubernetes.io/os: linux}}}, {networks: [0.0.0.0/0, "::/0"]}]}
EOF
judge "Baseline nodes peers: Accept a TCP range, Deny the rest" $HOSTP $TCP -- g0\>c1:34346/tcp=y g1\>c1:34347/tcp=y \
	g1\>c1:34350/udp=n
# A node selector that matches one node only (3 nodes: the others are untouched).
mut node-range "e[1]['to'][0]['nodes'] = {'matchLabels': {'kubernetes.io/hostname': 'n1'}}; e[0]['protocols'] = [{'udp': {'destinationPort': {'range': {'start': 34340, 'end': 34349}}}}]"
judge "  ... Deny node n1 alone, Accept a UDP range" $HOSTP
unpol node-range

# ---- Baseline tier: the house rules (CNPBaselineTier{Ingress,Egress}{TCP,UDP}, Gress, NamedPort) ----
{ cnp_head default Baseline 10 gryffindor
  house_rules ingress ravenclaw slytherin hufflepuff "[$(tcp 80)]" "[$(tcp 80)]" 0; } | pol b-ingress-tcp
judge "Baseline ingress TCP" $TCP -- r0\>g0:80/tcp=y r1\>g0:8080/tcp=y h0\>g1:80/tcp=y h1\>g1:8080/tcp=n \
	s0\>g0:80/tcp=n s1\>g0:8080/tcp=y
mut b-ingress-tcp "i[3]['protocols'] = [{'destinationNamedPort': 'web'}]"
judge "Baseline ingress TCP, named port web" $TCP -- h0\>g1:80/tcp=y h1\>g1:8080/tcp=n
mut b-ingress-tcp "i[0], i[1] = i[1], i[0]"
judge "Baseline ingress TCP, Deny first" $TCP -- r0\>g1:80/tcp=n r1\>g1:8080/tcp=n
unpol b-ingress-tcp
{ cnp_head default Baseline 10 hufflepuff
  house_rules ingress ravenclaw slytherin gryffindor "[$(udp 5353)]" "[$(udp 53)]" 0; } | pol b-ingress-udp
judge "Baseline ingress UDP" $UDP -- r0\>h0:53/udp=y r1\>h0:5353/udp=y g0\>h1:53/udp=y g1\>h1:5353/udp=n \
	s0\>h0:5353/udp=n s1\>h0:53/udp=y
mut b-ingress-udp "i[0], i[1] = i[1], i[0]"
judge "Baseline ingress UDP, Deny first" $UDP -- r0\>h1:53/udp=n r1\>h1:5353/udp=n
unpol b-ingress-udp
{ cnp_head default Baseline 10 gryffindor
  house_rules egress ravenclaw slytherin hufflepuff "[$(tcp 80)]" "[$(tcp 8080)]" 0; } | pol b-egress-tcp
judge "Baseline egress TCP" $TCP -- g0\>r0:80/tcp=y g1\>r0:8080/tcp=y g0\>h1:8080/tcp=y g1\>h1:80/tcp=n \
	g0\>s0:80/tcp=n g1\>s0:8080/tcp=y
mut b-egress-tcp "e[0], e[1] = e[1], e[0]"
judge "Baseline egress TCP, Deny first" $TCP -- g0\>r1:80/tcp=n g1\>r1:8080/tcp=n
unpol b-egress-tcp
{ cnp_head default Baseline 10 hufflepuff
  house_rules egress ravenclaw slytherin gryffindor "[$(udp 5353)]" "[$(udp 53)]" 0; } | pol b-egress-udp
judge "Baseline egress UDP" $UDP -- h0\>r0:53/udp=y h1\>r0:5353/udp=y h0\>g1:53/udp=y h1\>g1:5353/udp=n \
	h0\>s0:5353/udp=n h1\>s0:53/udp=y
mut b-egress-udp "e[3]['protocols'] = [{'destinationNamedPort': 'dns'}]"
judge "Baseline egress UDP, named port dns" $UDP -- h0\>g1:53/udp=y h1\>g1:5353/udp=n
mut b-egress-udp "e[0], e[1] = e[1], e[0]"
judge "Baseline egress UDP, Deny first" $UDP -- h0\>r1:53/udp=n h1\>r1:5353/udp=n
unpol b-egress-udp
{ cnp_head default Baseline 10 gryffindor
  house_rules egress ravenclaw slytherin hufflepuff "[$(tcp 80), $(udp 53)]" "[$(tcp 8080), $(udp 5353)]" 0
  house_rules ingress ravenclaw slytherin hufflepuff "[$(tcp 80), $(udp 53)]" "[$(tcp 80), $(udp 5353)]" 0
} | pol b-gress
judge "Baseline both directions" $TCP $UDP -- g0\>r0:80/tcp=y g1\>r0:53/udp=y r0\>g0:80/tcp=y r1\>g0:53/udp=y \
	g0\>h1:8080/tcp=y g1\>h1:80/tcp=n h0\>g1:80/tcp=y h1\>g1:8080/tcp=n
mut b-gress "e[0], e[1] = e[1], e[0]; i[0], i[1] = i[1], i[0]"
judge "Baseline both directions, Deny first" $TCP $UDP -- g0\>r1:80/tcp=n r0\>g1:80/tcp=n g0\>s0:80/tcp=n \
	g1\>s0:8080/tcp=y s0\>g0:53/udp=n s1\>g0:5353/udp=y
# A NetworkPolicy selecting gryffindor decides before the Baseline tier: it admits hufflepuff only.
pol np-huff <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-hufflepuff, namespace: gryffindor}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {conformance-house: hufflepuff}}}]}]
EOF
judge "  ... a NetworkPolicy before the Baseline tier" $TCP $UDP -- h1\>g1:8080/tcp=y r0\>g1:80/tcp=n
unpol np-huff b-gress

lab_down_checked
finish
