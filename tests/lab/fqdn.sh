#!/bin/bash
# Egress by DNS name end to end (issue 55, docs/decisions/fqdn-in-bpf.md): an
# Admin ClusterNetworkPolicy's domainNames peers judged from the lab DNS's
# answers, read in to_pod on their way into the pod (the lab's agents run
# --fqdn-policy: the kernel has bpf_loop).
#
#   netns xcl-out: 198.51.100.1 (api.example.test), .2 (other), .3 (short, TTL 5);
#                  2001:db8:100::1 (api AAAA), ::2 (other AAAA)      80/tcp each
#                  │ (masqueraded: pods reach it as their node)
#   n1: kube-system/dns (dnsmasq)   fq/a  fq/d               (answers: same node)
#   n2:                             fq/w  fq/e               (answers: over Geneve)
#
# LAB_UP_KP=none (suite lab-fqdn: xcnid translates Services, the lab's
# default): the answer goes pod to pod past the stack, read by from_pod (the
# DNS on the same node) or from_overlay (over Geneve). LAB_UP_KP unset
# (lab-fqdn-kp, kube-proxy iptables): the node's stack takes the NAT back and
# the answer reaches the pod through to_pod, from the same node and the other.
#
#   a: Admin Accept api.example.test, short.example.test; Deny the outside's /24 and /64
#   w: Admin Accept *.example.test; Deny the outside's /24
#   d: Admin Deny other.example.test, a NetworkPolicy allowing all egress
#   e: not selected; runs tests/lab/fake_dns.py, a DNS server of its own
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/lib.sh"
lab_suite fqdn
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
FAKE=$HERE/fake_dns.py

# resolve POD NAME [4|6]: the first address the pod's resolver gets for NAME.
resolve() { lab exec "$1" -- getent "ahostsv${3:-4}" "$2" | awk 'NR == 1 { print $1 }'; }
probe() { lab probe "$1" "$2" 80/tcp --timeout-ms 800 "${@:3}"; }
connects() { [ "$(probe "$@")" = connected ]; }
refused() { local out rc; out=$(probe "$@"); rc=$?; echo "$out"; not_connected "$out" "$rc"; }
expect_ip() { local got; got=$(resolve "$1" "$2" "${4:-4}"); echo "$2: '$got', want '$3'"; [ "$got" = "$3" ]; }

MPORT=9962
# fqdn_metric N EVENT: xcni_fqdn_total{event=EVENT} on node n<N>'s /metrics.
fqdn_metric() {
	in_node "$1" /usr/bin/python3 -c '
import sys, urllib.request
for l in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode().splitlines():
    if l.startswith("xcni_fqdn_total{event=\"%s\"} " % sys.argv[2]):
        print(l.split()[1])
' "$MPORT" "$2"
}
out=$(lab up --nodes 2 --dns --ip-family dual --agent-arg "--metrics-addr=127.0.0.1:$MPORT" --agent-arg --map-max=xcni_fqdn_pat=12 --agent-arg --map-grow=0 2>&1) || {
	not_ok "lab up --nodes 2 --dns --ip-family dual --agent-arg --map-max=xcni_fqdn_pat=12 --agent-arg --map-grow=0"
	echo "$out" | sed 's/^/#   /'
	finish
	exit 1
}
remember_pids
check "every agent runs --fqdn-policy" bash -c \
	"for p in \$(\"$XCNICTL\" lab get --json | /usr/bin/python3 -c 'import json,sys; print(\" \".join(str(n[\"xcnidPid\"]) for n in json.load(sys.stdin)[\"nodes\"]))'); do tr '\0' '\n' </proc/\$p/cmdline | grep -qx -- --fqdn-policy || exit 1; done"

OUT4='{networks: [198.51.100.0/24]}' OUT6='{networks: ["2001:db8:100::/64"]}'
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: fq}\n'
	fqdn_pod a n1; fqdn_pod d n1; fqdn_pod w n2; fqdn_pod e n2
	fqdn_cnp fq-a 10 a "  - {action: Accept, to: [{domainNames: [api.example.test, short.example.test]}]}
  - {action: Deny, to: [$OUT4, $OUT6]}"
	fqdn_cnp fq-w 11 w "  - {action: Accept, to: [{domainNames: ['*.example.test']}]}
  - {action: Deny, to: [$OUT4]}"
	fqdn_cnp fq-d 12 d "  - {action: Deny, to: [{domainNames: [other.example.test]}]}"
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
	printf 'metadata: {name: d-all, namespace: fq}\nspec: {podSelector: {matchLabels: {app: d}}, policyTypes: [Egress], egress: [{}]}\n'
} >"$T/fq.yaml"
check "lab apply: pods and ClusterNetworkPolicies with domainNames peers" lab apply -f "$T/fq.yaml"

# ---- an exact name: allowed by name, the neighbour refused ---------------------------------
check "a (n1, the DNS's node) resolves api.example.test" expect_ip fq/a api.example.test 198.51.100.1
check "a connects to api.example.test's address" connects fq/a 198.51.100.1
check "a resolves other.example.test (another address)" expect_ip fq/a other.example.test 198.51.100.2
check "a is refused other.example.test's address (no rule names it: the Deny of the /24)" \
	refused fq/a 198.51.100.2
check "a is refused short.example.test's address before asking for it" refused fq/a 198.51.100.3
# fqdn_row POD NAMES ADDRESS: xcnictl fqdn list on n1 has that row, its time left <= 300 + 5 s.
fqdn_row() {
	in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" fqdn list --pod "$1" -o json | tee /dev/stderr |
		/usr/bin/python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["pod"] == sys.argv[1] and r["name"] == sys.argv[2] and r["address"] == sys.argv[3]]
sys.exit(not (len(rows) == 1 and rows[0]["ttl"] == 300 and 290 <= rows[0]["left_s"] <= 305))' "$@"
}
check "xcnictl fqdn list --pod fq/a -o json: fq/a, api.example.test (the name asked, not its rule's list), 198.51.100.1, TTL 300" \
	fqdn_row fq/a api.example.test 198.51.100.1
check "... and nothing of other.example.test's answer (no rule of a's names it)" bash -c \
	"! nsenter --net=/run/netns/xcl-n1 \"$XCNICTL\" --pin-dir $LAB_PINS/n1 fqdn list --pod fq/a -o json | grep -q '198.51.100.2\"'"
# by_name POD IP VERDICT DOMAIN: the flow records from POD to IP: one VERDICT, its domain DOMAIN
# (the pattern the pod's question matched, of the domainNames rule that decided: flows'
# "domain"; "-": none).
by_name() {
	"$XCNICTL" --node all flows --json --from-pod "$1" --to-ip "$2" | /usr/bin/python3 -c '
import json, sys
recs = [r for r in map(json.loads, filter(str.strip, sys.stdin)) if "verdict" in r]
print([(r["verdict"], r.get("policy"), r.get("rule"), r.get("domain")) for r in recs])
want = None if sys.argv[2] == "-" else sys.argv[2]
sys.exit(not any(r["verdict"] == sys.argv[1] and r.get("domain") == want for r in recs))' "$3" "$4"
}
# ej POD IP PYEXPR: explain POD IP 80/tcp --json on n1 holds PYEXPR (j).
ej() {
	in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" explain "$1" "$2" 80/tcp --json | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j.get("verdict"), j.get("egress_policy"), j.get("egress_rule"), j.get("egress_domain"))
sys.exit(not eval(sys.argv[1]))' "$3"
}
# explained POD IP PYEXPR: ej, and the text's verdict line names the domain.
explained() {
	ej "$@" && in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" explain "$1" "$2" 80/tcp | tee /dev/stderr | grep -q ': domain '
}
check "flows -o json: a -> 198.51.100.1 allowed, domain api.example.test (the name asked)" \
	wait_until 10 by_name fq/a 198.51.100.1 allowed api.example.test
check "explain fq/a 198.51.100.1: allowed by fq-a rule 0, domain api.example.test (learned 198.51.100.1, TTL ...)" \
	explained fq/a 198.51.100.1 "j['verdict'] == 'allowed' and j['egress_rule'] == 0 and j['egress_domain'].startswith('api.example.test (learned 198.51.100.1, TTL ')"
check "explain fq/a 198.51.100.2 (not learned for a): denied, no domain" \
	ej fq/a 198.51.100.2 "j['verdict'] == 'denied' and j.get('egress_domain') is None"
fqdn_counted() { [ "$(fqdn_metric 1 names-matched)" -ge 1 ] && [ "$(fqdn_metric 1 addresses-learned)" -ge 1 ]; }
check "n1's metrics: xcni_fqdn_total names-matched and addresses-learned counted" fqdn_counted
# ---- an AAAA ------------------------------------------------------------------------------
check "a resolves api.example.test's AAAA" expect_ip fq/a api.example.test 2001:db8:100::1 6
check "a connects to it over IPv6" connects fq/a 2001:db8:100::1
check "a resolves other.example.test's AAAA" expect_ip fq/a other.example.test 2001:db8:100::2 6
check "a is refused it" refused fq/a 2001:db8:100::2

# ---- a wildcard, answers over Geneve --------------------------------------------------------
check "w (n2) resolves other.example.test" expect_ip fq/w other.example.test 198.51.100.2
check "w connects to it (*.example.test)" connects fq/w 198.51.100.2
check "w is refused short's address, not asked for" refused fq/w 198.51.100.3

# ---- an Admin Deny by name over a NetworkPolicy's allow -----------------------------------
check "d connects to 198.51.100.2 before asking (the NetworkPolicy allows all egress)" \
	connects fq/d 198.51.100.2
check "d resolves other.example.test" expect_ip fq/d other.example.test 198.51.100.2
check "d is refused it now (Admin Deny by name)" refused fq/d 198.51.100.2
check "d still connects to api.example.test's address (the NetworkPolicy)" connects fq/d 198.51.100.1
check "flows -o json: d -> 198.51.100.2 denied, domain other.example.test" \
	wait_until 10 by_name fq/d 198.51.100.2 denied other.example.test
check "explain fq/d 198.51.100.2: denied by fq-d rule 0, domain other.example.test" \
	explained fq/d 198.51.100.2 "j['verdict'] == 'denied' and j['egress_domain'].startswith('other.example.test (learned 198.51.100.2, TTL ')"

# ---- answers from a DNS server that is not the cluster's ------------------------------------
E=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'e'][0]")
lab exec fq/e -- /usr/bin/python3 "$FAKE" serve 53 198.51.100.2 >"$T/fake.log" 2>&1 &
MINE+=($!)
wait_until 10 grep -q ready "$T/fake.log"
check "a asks e (not the DNS Service) for api.example.test: e answers other's address" \
	bash -c "[ \"\$(\"$XCNICTL\" lab exec fq/a -- /usr/bin/python3 $FAKE ask $E api.example.test)\" = 198.51.100.2 ]"
check "a is still refused 198.51.100.2 (e's answer taught nothing)" refused fq/a 198.51.100.2
wait "${MINE[@]}"

# ---- the agent restarted keeps what was learned ---------------------------------------------
XPID=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n1'][0]")
mapfile -d '' ARGV <"/proc/$XPID/cmdline"
check "n1's agent restarted" lab_agent_restart PIDS n1 "$T/xcnid-n1.log" "${ARGV[@]}"
check "a connects to api.example.test's address without asking again" connects fq/a 198.51.100.1
check "a is still refused other's" refused fq/a 198.51.100.2

# ---- the TTL: short.example.test, 5 s, then the grace (XCNI_FQDN_GRACE_S, 5 s) -----------
check "a resolves short.example.test (TTL 5)" expect_ip fq/a short.example.test 198.51.100.3
T0=$SECONDS
check "a connects to it" connects fq/a 198.51.100.3
check "after TTL + grace, a's new connections to it are refused" wait_until 25 refused fq/a 198.51.100.3
# Learned before T0: TTL + grace less a second of SECONDS' rounding.
check "... not before TTL + grace had passed ($((SECONDS - T0)) s >= 9)" test $((SECONDS - T0)) -ge 9
check "a connects again once it asks again" bash -c \
	"[ \"\$(\"$XCNICTL\" lab exec fq/a -- getent ahostsv4 short.example.test | head -1 | cut -d' ' -f1)\" = 198.51.100.3 ] && [ \"\$(\"$XCNICTL\" lab probe fq/a 198.51.100.3 80/tcp --timeout-ms 800)\" = connected ]"

# ---- an earlier Admin rule by network decides: no domain named -------------------------------
# fq-net (priority 5, before fq-a's 10) denies a 198.51.100.1/32, which a learned through
# api.example.test: flows and explain name fq-net's Deny and no domain (flows named
# api.example.test here before fqdn_decided: any Admin verdict on a learned address).
fqdn_cnp fq-net 5 a "  - {action: Deny, to: [{networks: [198.51.100.1/32]}]}" >"$T/net.yaml"
check "lab apply fq-net: Admin priority 5 denies a 198.51.100.1/32" lab apply -f "$T/net.yaml"
check "a is refused api.example.test's address (learned, but fq-net decides first)" \
	wait_until 10 refused fq/a 198.51.100.1
check "flows -o json: a -> 198.51.100.1 denied by fq-net, no domain" \
	wait_until 10 by_name fq/a 198.51.100.1 denied -
check "explain fq/a 198.51.100.1: denied by fq-net, no domain" \
	ej fq/a 198.51.100.1 "j['verdict'] == 'denied' and 'fq-net' in str(j.get('egress_policy')) and j.get('egress_domain') is None"

# ---- a tenant filling xcni_fqdn_pat (12 here) while a victim's new pod comes ---------------
# Issue 65 item 3: past its room the writer wrote nothing (the victim's new pod got no
# pattern: its names refused) and never recovered (the gone pods' entries counted as
# taking room). Now the namespace bringing the most pairs is closed and named, the rest
# written (docs/decisions/room-writer.md). n1 holds a's 2 and d's 1; tn brings 9: 12.
# (The agents run --map-grow=0: xcni_fqdn_pat is not grown; map-grow tests that.)
tn_pod() { printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: tn, labels: {app: t}}\nspec: {nodeName: n1, containers: [{name: c}]}\n' "$1"; }
{
	tn_pod t1
	printf -- '---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n'
	printf 'metadata: {name: fq-tn}\nspec:\n  tier: Admin\n  priority: 20\n'
	printf '  subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: tn}}, podSelector: {}}}\n'
	printf '  egress:\n  - {action: Accept, to: [{domainNames: [t1.example.test, t2.example.test, t3.example.test]}]}\n'
} >"$T/tn.yaml"
{ tn_pod t2; tn_pod t3; } >"$T/t2.yaml"
{ fqdn_pod v n1; fqdn_cnp fq-v 13 v "  - {action: Accept, to: [{domainNames: [api.example.test]}]}
  - {action: Deny, to: [$OUT4]}"; } >"$T/v.yaml"
# xcnictl status exits 1 when DEGRADED: its JSON is what is read
tn_status() { local out; out=$(in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" status --json); grep -F "$1" <<<"$out"; }
no_tn_status() { ! tn_status "$1"; }
printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: tn}\n' >"$T/tn-ns.yaml"
check "lab apply: tenant tn's 3 pods on n1, 3 names each (xcni_fqdn_pat 12 of 12)" \
	lab apply -f "$T/tn-ns.yaml" -f "$T/tn.yaml" -f "$T/t2.yaml"
check "lab apply: the victim's new pod fq/v, Accept api.example.test, Deny the outside's /24" lab apply -f "$T/v.yaml"
check "xcnictl status names tn closed for DNS-pattern room (it brings the most: 9 pairs)" \
	wait_until 20 tn_status 'namespace tn closed for DNS-pattern room: 9 (pod, pattern) pairs not written'
check "n1's log names it" wait_until 5 grep -q "namespace tn closed for DNS-pattern room" "$T/xcnid-n1.log"
check "v resolves api.example.test" expect_ip fq/v api.example.test 198.51.100.1
check "v connects to it (its pattern written beside the full map)" connects fq/v 198.51.100.1
check "v is refused other.example.test's address" refused fq/v 198.51.100.2
check "lab delete tn/t2, tn/t3 (3 + 4 of 12 now)" lab delete --now -f "$T/t2.yaml"
check "tn reopens by itself: xcnictl status no longer names it" \
	wait_until 20 no_tn_status 'closed for DNS-pattern room'
check "v still connects" connects fq/v 198.51.100.1
check "lab delete fq/v" lab delete --now -f "$T/v.yaml"
check "lab delete tn/t1 and fq-tn" lab delete --now -f "$T/tn.yaml"

# ---- a deleted pod's learned entries go with it ------------------------------------------
fqdn_pod a n1 >"$T/a.yaml"
check "lab delete fq/a" lab delete --now -f "$T/a.yaml"
check "n1's xcni_fqdn holds nothing of fq/a's any more (the plugin's DEL)" bash -c \
	"out=\$(nsenter --net=/run/netns/xcl-n1 \"$XCNICTL\" --pin-dir $LAB_PINS/n1 fqdn list -o json) && echo \"\$out\" && ! grep -qE '\"(fq/a|endpoint [0-9]+)\"' <<<\"\$out\""

# ---- examples/fqdn ---------------------------------------------------------------------------
check "lab apply -f examples/fqdn/" lab apply -f "$XCNI_ROOT/examples/fqdn/"
# TCP answers are not read (the stated fallback): api.example.test over TCP only, then refused.
check "shop/web asks api.example.test over TCP (10.96.0.10:53/tcp): 198.51.100.1" bash -c \
	"[ \"\$(\"$XCNICTL\" lab exec shop/web -- /usr/bin/python3 $FAKE ask-tcp 10.96.0.10 api.example.test)\" = 198.51.100.1 ]"
check "shop/web is refused 198.51.100.1 still (an answer over TCP teaches nothing)" refused shop/web 198.51.100.1
check "shop/web resolves www.example.test (a CNAME of api)" expect_ip shop/web www.example.test 198.51.100.1
check "shop/web connects to it on 80/tcp" connects shop/web 198.51.100.1
check "shop/web is refused other.example.test's address" refused shop/web 198.51.100.2

lab_down_checked
finish
