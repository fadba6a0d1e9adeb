#!/bin/bash
# The attacker tier (issue 26, DESIGN.md "Trust boundaries"): three attackers
# against a dual stack lab of two nodes, and receivers that record what really
# arrives. Every probe carries a tag (XT-atk-* must never arrive, XT-ctl-* is
# its positive control: the same packet from a sender the policy allows, or
# sent before the policy was applied, which must arrive), so a probe that
# "fails to arrive" for a reason that has nothing to do with the defence
# (a wrong checksum, a wrong MAC) shows up as a failing control.
#
#   xcl-n1 (192.168.77.1, fd00:77::1)            xcl-n2 (192.168.77.2, fd00:77::2)
#     atk/evil   the hostile pod (egress: v1 7001/UDP, atk/sink)
#     atk/sink   a pod with no policy (the conntrack flood's target)
#     vic/v1     victim, backend of NodePort vic/np    vic/v2     victim
#     vic/friend the pod the victims admit             vic/friend2 the same, on n2
#     vic/cv     the conntrack victim (item 5)
#     greedy/g1, g2: the hostile tenant's pods; late/l1: a pod created after it
#     job/done (finished), reuse/r1 on its address; flood/f1
#                  │ ul0                                      │ ul0
#   xcl-ul br0 (the switch) ── xat-<pid> eth0 192.168.77.66, fd00:77::66: the hostile host
#
# Receivers (tests/lab/recv.py: UDP 7001-7004 both families, raw ICMP and
# ICMPv6) run in vic/v1, vic/v2, vic/cv, greedy/g1, late/l1 and the lab's
# outside (xcl-out); the forge is tests/lab/attack.py. The victims admit
# vic/friend* (everything), atk/evil on 7001/UDP, and the hostile host's own
# address on 7003/UDP only.
#
# Attackers: a hostile pod (forged IPv4/IPv6/MAC sources, ND/MLD/RA typed
# ICMPv6 to pods' global addresses and beyond, forged ICMP errors quoting
# other pods' flows, out-of-order and overlapping fragments, Geneve to the
# nodes, a conntrack flood and then a flow picked up in its reply direction
# whose policy is revoked); a hostile host on the underlay (plain packets
# with forged pod, node, gateway, link-local and martian sources to pods,
# NodePorts and ClusterIPs; Geneve from a non-node, and from a node's address
# with a forged inner source or DSR option; Geneve from a node's own socket);
# a hostile tenant (a policy too big for the maps, then a new pod elsewhere
# that must come up isolated, and a change elsewhere that must apply); the
# hostile host again, forging Service frontends as sources (ClusterIP:port,
# the Service range's :53, a NodePort, an externalIP's port) to a pod
# without policy, whose next request to the Service must still be translated.
# Then the cluster's life (issue 41; every node's xcnid with --metrics-addr
# 127.0.0.1:9969, --hook-check 1 and a 32-entry xcni_polname): a fragment flood
# from evil while friend's large UDP must pass (item 7); a foreign TCX program
# before from_pod on v1's host veth (item 8); a Job's pod finished, its address
# reused by reuse/r1 while vic gets a deny-all, then a second live pod on that
# address (item 1); a tenant flooding NetworkPolicies past xcni_polname while
# late's new policy must apply (item 2).
# At the end: no forbidden tag in any receiver's log, and every kind of drop
# counted under its named reason on the nodes (xcnictl metrics).
#
# LAB_KUBE_PROXY=none: the same with xcnid's Services in BPF; there ClusterIPs
# are not served to the underlay (drop-clusterip-outside) and a forged DSR
# option is tried (drop-dsr-not-backend). ATTACK_NPACCEL=generic (or native)
# with it: every xcnid with --nodeport-acceleration, so the hostile host's
# packets meet the XDP NodePort fast path first (bpf/lib/nodeport_xdp.h) and
# everything must be refused the same; n1's fast path must have seen the
# frontends' packets (xcni_npaccel) and handed the hostile ones to tc.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/lib.sh"
KP=${LAB_KUBE_PROXY:-iptables}
NPA=${ATTACK_NPACCEL:-}
lab_suite "attack-$KP${NPA:+-npaccel-$NPA}"
unset XCNI_LAB_XDP
NPA_ARGS=()
if [ -n "$NPA" ]; then
	[ "$KP" = none ] || { not_ok "ATTACK_NPACCEL needs LAB_KUBE_PROXY=none (xcnid's Services)"; finish; exit 1; }
	NPA_ARGS=(--agent-arg "--nodeport-acceleration=$NPA")
	[ "$NPA" = native ] && export XCNI_LAB_XDP=native
fi
ATK=xat-$$ # the hostile host's netns (not xcl-*: the lab's own names are the lab's)
RECV=() # receivers' PIDs
FPIN=/sys/fs/bpf/xat-$$-foreign # the foreign program's TCX link (item 8)
MPORT=9969 # every node's xcnid serves its metrics at 127.0.0.1:9969 in its netns
POLNAME_MAX=32 # xcni_polname's entries: the policy flood (item 2) goes past them

attack_cleanup() {
	stop_pids "${RECV[@]}"
	ip netns del "$ATK" 2>/dev/null
	rm -f "$FPIN"
	lab_cleanup
}
lab_preflight "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
trap attack_cleanup EXIT
START=$SECONDS

# A conntrack table of 16384 (xcnid --map-max) rather than 262144: the flood
# below must evict a flow on a slow machine too, where the veth's backlog
# drops most of a burst. Not grown (--map-grow=0): a table at its ceiling, where
# a flood ends up on a node whose table has grown as far as it may
# (tests/integration/ctgrow.sh grows one).
CT_MAX=16384
out=$(lab up --agent-arg map-max=xcni_ct=1 2>&1); RC=$?
check "lab up --agent-arg map-max=... (no leading --): exit 2, naming the flag; no lab made" \
	bash -c "[ $RC = 2 ] && grep -q -- '--agent-arg map-max=xcni_ct=1: one xcnid option' <<<\"\$1\" && [ ! -e \"$XCNI_LAB_DIR/lab.json\" ]" _ "$out"
out=$(lab up --agent-arg --map-max=xcni_nosuch=1 2>&1); RC=$?
check "lab up --agent-arg --map-max=xcni_nosuch=1: xcnid refuses it, lab up exits 1 with its log and removes what it made" \
	bash -c "[ $RC = 1 ] && grep -q -- '--map-max xcni_nosuch: no such map' <<<\"\$1\" && [ ! -e \"$XCNI_LAB_DIR/lab.json\" ] && ! ip netns list | grep -q '^xcl-n1\\b'" _ "$out"
check "lab up --nodes 2 --ip-family dual --kube-proxy $KP --agent-arg --map-max=xcni_ct=$CT_MAX,xcni_polname=$POLNAME_MAX (--map-grow=0, metrics, --hook-check 1)" \
	lab up --nodes 2 --ip-family dual --kube-proxy "$KP" --agent-arg "--map-max=xcni_ct=$CT_MAX,xcni_polname=$POLNAME_MAX" \
	--agent-arg --map-grow=0 --agent-arg "--metrics-addr=127.0.0.1:$MPORT" --agent-arg --hook-check=1 "${NPA_ARGS[@]}" \
	--agent-arg --external-ip-cidrs=198.51.100.77/32,2001:db8:77::77/128 ||
	{ finish; exit 1; }
# Read whole first: under pipefail, grep -q quitting at its match fails the pipe
# when bpftool (line by line) writes its next line.
ct_size() { local s; s=$(bpftool map show pinned "$LAB_PINS/n1/xcni_ct") && grep -q "max_entries $CT_MAX " <<<"$s"; }
check "lab up --agent-arg reached n1's xcnid: its xcni_ct holds $CT_MAX" ct_size
remember_pids

# npa_field NODE FIELD: xcnictl status's nodeport_acceleration field on node n<NODE>.
npa_field() {
	in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" status --json |
		jq_ "[n for n in (d['nodes'] if 'nodes' in d else [d])][0]['config']['nodeport_acceleration']['$2']"
}

# ---- the cluster --------------------------------------------------------------------------
pod() { # NS NAME NODE LABELS
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s, labels: {%s}}\nspec: {nodeName: %s, containers: [{name: c}]}\n' \
		"$2" "$1" "$4" "$3"
}
ns() { printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {name: %s}}\n' "$1" "$1"; }
{
	ns atk; ns vic; ns greedy
	pod atk evil n1 "role: evil"
	pod atk sink n1 "role: sink"
	pod vic v1 n1 "role: victim, app: np"
	pod vic v2 n2 "role: victim${NPA:+, app: npc}"
	pod vic friend n1 "role: friend"
	pod vic friend2 n2 "role: friend"
	pod vic cv n1 "role: ctvictim"
	pod greedy g1 n1 "app: g"
	pod greedy g2 n1 "app: g"
	cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: np, namespace: vic}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  ipFamilyPolicy: PreferDualStack
  selector: {app: np}
  externalIPs: [198.51.100.77, '2001:db8:77::77']
  ports:
    - {name: a, port: 7001, protocol: UDP, targetPort: 7001, nodePort: 30071}
    - {name: b, port: 7003, protocol: UDP, targetPort: 7003, nodePort: 30073}
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: atk}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {role: sink}
  ports: [{port: 7005, protocol: UDP, targetPort: 7005}]
EOF
	# With acceleration: a NodePort whose backend (v2) is on the other node,
	# so n1 translates its requests at XDP (SNAT + Geneve, XDP_TX).
	[ -z "$NPA" ] || cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: npc, namespace: vic}
spec:
  type: NodePort
  ipFamilyPolicy: PreferDualStack
  selector: {app: npc}
  ports: [{name: a, port: 7002, protocol: UDP, targetPort: 7002, nodePort: 30075}]
EOF
} >"$T/cluster.yaml"
check "apply: atk/{evil,sink} vic/{v1,v2,friend,friend2,cv} greedy/{g1,g2}, NodePort vic/np (ETP Local, externalIPs), ClusterIP atk/other" \
	lab apply -f "$T/cluster.yaml" || { finish; exit 1; }
remember_pids
lab get --json >"$T/get.json"
declare -A IP4 IP6
while read -r name a b; do IP4[$name]=$a; IP6[$name]=$b; done < <(jq_ '"\n".join(p["name"] + " " + p["ip"] + " " + p.get("ip6", "") for p in d["pods"])' <"$T/get.json")
svc_ip() { jq_ "[s for s in d['services'] if s['name'] == '$1'][0]" <"$T/get.json" | /usr/bin/python3 -c "
import ast, sys
s = ast.literal_eval(sys.stdin.read())
ips = s.get('clusterIPs') or [s.get('clusterIP', '')]
print([i for i in ips if (':' in i) == ('$2' == '6')][0] if ips else '')" 2>/dev/null; }
CIP4=$(svc_ip np 4); CIP6=$(svc_ip np 6); OTHER4=$(svc_ip other 4)
E4=${IP4[evil]} E6=${IP6[evil]} F4=${IP4[friend]} F6=${IP6[friend]} F24=${IP4[friend2]} F26=${IP6[friend2]}
V14=${IP4[v1]} V16=${IP6[v1]} V24=${IP4[v2]} V26=${IP6[v2]} CV4=${IP4[cv]} S4=${IP4[sink]}
N1=192.168.77.1 N2=192.168.77.2 N16=fd00:77::1 N26=fd00:77::2 GW4=10.244.1.1 OUT6=2001:db8:100::1
A4=192.168.77.66 A6=fd00:77::66
diag "evil $E4 $E6, friend $F4 $F6, friend2 $F24, v1 $V14 $V16, v2 $V24 $V26, cv $CV4, np ClusterIPs $CIP4 $CIP6, other $OTHER4"
check "every pod has both families, the Services their ClusterIPs" \
	test -n "$E6" -a -n "$F6" -a -n "$V16" -a -n "$V26" -a -n "$F26" -a -n "$CIP4" -a -n "$CIP6" -a -n "$OTHER4"

# gwmac NETNS: the pod's gateway MAC (the node side of its veth, fe80::1's).
gwmac() { ip -n "$1" -6 neigh show fe80::1 dev eth0 | awk '{print $3}'; }
ulmac() { ip -n "xcl-n$1" link show ul0 | awk '/link\/ether/ {print $2}'; }
M1=$(ulmac 1) M2=$(ulmac 2)

# ---- the hostile host: a netns on the underlay's switch ------------------------------------
atk_host() {
	ip netns add "$ATK" &&
		ip link add "xat$$" type veth peer name eth0 netns "$ATK" &&
		ip link set "xat$$" netns xcl-ul &&
		ip -n xcl-ul link set "xat$$" master br0 up &&
		ip -n "$ATK" addr add "$A4/24" dev eth0 &&
		ip -n "$ATK" addr add "$A6/64" dev eth0 nodad &&
		ip -n "$ATK" link set eth0 up && ip -n "$ATK" link set lo up
}
check "the hostile host: netns $ATK on the switch (br0), $A4 and $A6" atk_host

# ---- receivers ------------------------------------------------------------------------------------
# recv NAME NETNS: tests/lab/recv.py in NETNS, logging to $T/recv-NAME.log.
recv() {
	ip netns exec "$2" /usr/bin/python3 "$HERE/recv.py" "$T/recv-$1.log" "$T/ready-$1" 7001 7002 7003 7004 \
		2>>"$T/recv-$1.err" &
	RECV+=($!)
	for _ in $(seq 50); do [ -e "$T/ready-$1" ] && return 0; sleep 0.1; done
	cat "$T/recv-$1.err"
	return 1
}
for r in v1:xcl-vic.v1 v2:xcl-vic.v2 cv:xcl-vic.cv g1:xcl-greedy.g1 out:xcl-out; do
	check "receiver in ${r#*:} (UDP 7001-7004, raw ICMP, raw ICMPv6)" recv "${r%%:*}" "${r#*:}"
done

# seen TAG [KIND]: the receivers that logged XT-TAG (KIND: only on that socket).
seen() { cat "$T"/recv-*.log 2>/dev/null | awk -v t="XT-$1" -v k="${2:-}" '$3 == t && (k == "" || $1 == k)'; }
# arrived TAG: within 3 s.
arrived() {
	for _ in $(seq 30); do
		[ -n "$(seen "$1")" ] && return 0
		sleep 0.1
	done
	echo "XT-$1 reached no receiver"
	return 1
}
not_arrived() {
	local got
	got=$(seen "$1" "${2:-}")
	[ -z "$got" ] && return 0
	echo "arrived: $got"
	return 1
}
FORBID=()
# probes WHO NETNS DMAC [DEV]: one probe a line on stdin, "KIND key=val ... | what it is".
# Sent all at once, then every ctl-* tag must arrive and no atk-* tag may (after
# the controls, or 0.3 s without one: the forbidden ones had as long as the allowed ones).
probes() {
	local who=$1 ns=$2 dmac=$3 dev=${4:-eth0} line spec what tag where specs=() whats=() out
	while IFS= read -r line; do
		[ -z "${line// }" ] && continue
		specs+=("${line%%|*}")
		whats+=("$(sed 's/^[^|]*|[[:space:]]*//' <<<"$line")")
	done
	out=$(printf '%s\n' "${specs[@]}" | ip netns exec "$ns" /usr/bin/python3 "$HERE/attack.py" "$dev" "$dmac" 2>&1) ||
		{ not_ok "$who: attack.py in $ns: $out"; return 1; }
	# The controls first: the forbidden probes, sent with them, have had as long.
	local ctls=0
	for i in "${!specs[@]}"; do
		tag=$(sed -n 's/.*tag=\([^ ]*\).*/\1/p' <<<"${specs[$i]}")
		[[ $tag == ctl-* ]] || continue
		ctls=$((ctls + 1))
		check "$who: control $tag arrives (${whats[$i]})" arrived "$tag"
	done
	[ "$ctls" -gt 0 ] || sleep 0.3
	for i in "${!specs[@]}"; do
		spec=${specs[$i]} what=${whats[$i]}
		tag=$(sed -n 's/.*tag=\([^ ]*\).*/\1/p' <<<"$spec")
		where=$(sed -n 's/.*where=\([^ ]*\).*/\1/p' <<<"$spec")
		case $tag in
		ctl-*) ;;
		atk-*)
			FORBID+=("$tag${where:+:$where}")
			check "$who: $tag did not arrive${where:+ on $where} ($what)" not_arrived "$tag" "$where"
			;;
		*) diag "$who: $tag: $(seen "$tag" | head -3 | tr '\n' ';') ($what)" ;;
		esac
	done
}
pod_probes() { probes "pod ${1#xcl-}" "$1" "$(gwmac "$1")"; }
host_probes() { probes "underlay host" "$ATK" "$1"; }

# Drop counters: every node's, per reason, all directions.
reason_sum() {
	in_node "$1" "$XCNICTL" --pin-dir "$LAB_PINS/n$1" metrics --json |
		jq_ "sum(m['packets'] for m in d if m['reason'] == '$2')"
}
REASONS="drop-spoof-ip drop-spoof-mac drop-bad-nd drop-policy-egress drop-policy-ingress drop-fragment
drop-geneve-inject drop-unknown-node drop-inner-spoof drop-outside-spoof drop-geneve-socket
drop-policy-overflow drop-clusterip-outside drop-dsr-not-backend drop-src-frontend drop-frag-share
drop-addr-contested"
declare -A BASE
for r in $REASONS; do BASE[$r]=$(( $(reason_sum 1 "$r") + $(reason_sum 2 "$r") )); done

ND_TYPES="130 131 132 133 134 135 136 137 143"
# ---- before any policy: the controls ---------------------------------------------------------
{
	echo "udp src=$E4 dst=$V14 tag=ctl-pod4-v1 | evil -> v1 7001/UDP, no policy yet"
	echo "udp src=$E6 dst=$V16 tag=ctl-pod6-v1 | evil -> v1 over IPv6"
	echo "udp src=$E4 dst=$V24 tag=ctl-pod4-v2 | evil -> v2 (n2)"
	# Whether ND typed ICMPv6 to a global address passes when no policy says
	# otherwise is the fix's to decide (conntrack and policy, or a drop of its
	# own): said, not checked. The receivers' controls are below.
	for t in $ND_TYPES; do
		echo "icmp6 src=$E6 dst=$V16 type=$t ttl=255 len=600 tag=nopol-nd$t-v1 | ICMPv6 type $t, 600 bytes, evil -> v1's global address"
	done
	echo "frag src=$E4 dst=$V14 dport=7002 tag=ctl-frag4 | evil -> v1 7002/UDP in two IPv4 fragments"
	echo "frag src=$E6 dst=$V16 dport=7002 tag=ctl-frag6 | the same in IPv6 fragments"
} >"$T/probes"
pod_probes xcl-atk.evil <"$T/probes" # not a pipe: the checks count in this shell
# The receivers take in every ND/MLD type, 600 bytes of it, to their global
# address: each sends them to itself, over its loopback.
for r in v1:"$V16" v2:"$V26" out:"$OUT6"; do
	for t in $ND_TYPES; do
		echo "icmp6 src=${r#*:} dst=${r#*:} type=$t ttl=255 len=600 tag=ctl-nd$t-${r%%:*} | type $t, 600 bytes, from ${r#*:} to itself"
	done >"$T/probes"
	ns=xcl-vic.${r%%:*}; [ "${r%%:*}" = out ] && ns=xcl-out
	probes "receiver ${r%%:*}" "$ns" 00:00:00:00:00:00 lo <"$T/probes"
done
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$V14 tag=ctl-friend-v1 | friend -> v1 7001/UDP
udp src=$F4 dst=${IP4[g1]} tag=ctl-friend-g1 | friend -> greedy/g1, before its policy
EOF
host_probes "$M1" <<EOF
udp src=$A4 dst=$V14 tag=ctl-ul-own4-v1 | the host's own $A4 -> v1 7001/UDP (routed by n1), no policy yet
udp src=$A6 dst=$V16 tag=ctl-ul-own6-v1 | its own $A6 -> v1 over IPv6
udp src=$A4 dst=$N1 dport=30071 tag=ctl-ul-np4 | its own -> NodePort $N1:30071 (v1)
udp src=$A6 dst=$N16 dport=30071 tag=ctl-ul-np6 | its own -> NodePort [$N16]:30071
EOF
# With acceleration, before any policy (so only the underlay's own rules stand
# between them and v2): n1's fast path takes its own address's requests to a
# backend on n2 at XDP, and must hand every forged source to tc, which drops it.
if [ -n "$NPA" ]; then
	x0=$(npa_field 1 xdp4_packets)
	host_probes "$M1" <<EOF
udp src=$A4 dst=$N1 dport=30075 tag=ctl-ul-npc4 | its own -> NodePort $N1:30075 (v2 on n2: SNAT + Geneve at n1's XDP)
udp src=$A6 dst=$N16 dport=30075 tag=ctl-ul-npc6 | its own -> NodePort [$N16]:30075 (v2, IPv6 at n1's XDP)
udp src=$F4 dst=$N1 dport=30075 tag=atk-ul-npc-pod4 | forged friend $F4 -> $N1:30075 (a pod's source from outside)
udp src=$F24 dst=$N1 dport=30075 tag=atk-ul-npc-pod4b | forged friend2 (n2's pod) -> $N1:30075
udp src=$N2 dst=$N1 dport=30075 tag=atk-ul-npc-node4 | forged $N2 (another node) -> $N1:30075
udp src=$N1 dst=$N1 dport=30075 tag=atk-ul-npc-self4 | forged $N1 (the node itself) -> $N1:30075
udp src=$GW4 dst=$N1 dport=30075 tag=atk-ul-npc-gw4 | forged the pods' gateway -> $N1:30075
udp src=169.254.1.1 dst=$N1 dport=30075 tag=atk-ul-npc-ll4 | forged link-local -> $N1:30075
udp src=$F6 dst=$N16 dport=30075 tag=atk-ul-npc-pod6 | forged friend $F6 -> [$N16]:30075
udp src=fe80::66 dst=$N16 dport=30075 tag=atk-ul-npc-ll6 | link-local fe80::66 -> [$N16]:30075
EOF
	x1=$(npa_field 1 xdp4_packets)
	check "n1's fast path translated its own request at XDP (xdp4_packets $x0 -> $x1)" test "$x1" -gt "$x0"
fi

# ---- the policies ---------------------------------------------------------------------------------
cat >"$T/pol.yaml" <<EOF
$(y_np evil-out atk "role: evil" "Egress")
  egress:
    - to: [{namespaceSelector: {matchLabels: {name: vic}}, podSelector: {matchLabels: {role: victim}}}]
      ports: [{port: 7001, protocol: UDP}]
    - to: [{podSelector: {matchLabels: {role: sink}}}]
$(y_np victims vic "role: victim" "Ingress")
  ingress:
    - from: [{podSelector: {matchLabels: {role: friend}}}]
    - from: [{namespaceSelector: {matchLabels: {name: atk}}, podSelector: {matchLabels: {role: evil}}}]
      ports: [{port: 7001, protocol: UDP}]
    - from: [{ipBlock: {cidr: $A4/32}}, {ipBlock: {cidr: $A6/128}}]
      ports: [{port: 7003, protocol: UDP}]
$(y_np cv vic "role: ctvictim" "Ingress")
  ingress:
    - from: [{podSelector: {matchLabels: {role: friend}}}]
      ports: [{protocol: UDP, port: 7001}]
EOF
check "policies: evil's egress only to the victims' 7001/UDP and atk/sink; the victims admit friend*, evil on 7001/UDP, $A4/$A6 on 7003/UDP; cv admits friend* on 7001/UDP" \
	lab apply -f "$T/pol.yaml"

# ---- under policy: the controls --------------------------------------------------------------------
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$V14 tag=ctl-B-friend4-v1 | friend -> v1, admitted
udp src=$F6 dst=$V16 tag=ctl-B-friend6-v1 | friend -> v1 over IPv6
udp src=$F4 dst=$V24 tag=ctl-B-friend4-v2 | friend -> v2 (n2, Geneve)
udp src=$F4 dst=$CIP4 tag=ctl-B-friend-cip4 | friend -> ClusterIP $CIP4:7001 (v1)
EOF
pod_probes xcl-vic.friend2 <<EOF
udp src=$F24 dst=$V14 tag=ctl-B-friend2-v1 | friend2 (n2) -> v1 (n1): the real Geneve the forged ones imitate
EOF
pod_probes xcl-atk.evil <<EOF
udp src=$E4 dst=$V14 tag=ctl-B-evil4-v1 | evil -> v1 7001/UDP, which both policies allow
udp src=$E6 dst=$V16 tag=ctl-B-evil6-v1 | the same over IPv6
frag src=$E4 dst=$V14 dport=7001 tag=ctl-B-frag4 | in two IPv4 fragments, in order
frag src=$E6 dst=$V16 dport=7001 tag=ctl-B-frag6 | in two IPv6 fragments, in order
EOF
host_probes "$M1" <<EOF
udp src=$A4 dst=$V14 dport=7003 tag=ctl-B-ul-own4 | the host's own $A4 -> v1 7003/UDP (its ipBlock)
udp src=$A6 dst=$V16 dport=7003 tag=ctl-B-ul-own6 | its own $A6 -> v1 7003/UDP
udp src=$A4 dst=$N1 dport=30073 tag=ctl-B-ul-np4 | its own -> NodePort $N1:30073 (v1:7003)
EOF

# ---- attacker 1: the hostile pod -----------------------------------------------------------------
# The flows its forged errors quote: v1 and v2 talk to friend.
pod_probes xcl-vic.v1 <<EOF
udp src=$V14 dst=$F4 sport=41001 dport=7001 tag=flow-v1 | v1 -> friend, the flow quoted below
udp src=$V16 dst=$F6 sport=41001 dport=7001 tag=flow6-v1 | v1 -> friend over IPv6
EOF
pod_probes xcl-vic.v2 <<EOF
udp src=$V24 dst=$F4 sport=41002 dport=7001 tag=flow-v2 | v2 -> friend
EOF
{
	echo "udp src=$F4 dst=$V14 tag=atk-spoof4-friend-v1 | evil forges friend's IPv4 source -> v1"
	echo "udp src=$F4 dst=$V24 tag=atk-spoof4-friend-v2 | forges friend's source -> v2 (n2)"
	echo "udp src=$F6 dst=$V16 tag=atk-spoof6-friend-v1 | forges friend's IPv6 source -> v1"
	echo "udp src=$GW4 dst=$V14 dport=7002 tag=atk-spoof4-gw | forges its gateway $GW4 (the host) -> v1 7002"
	echo "udp src=$N1 dst=$V14 dport=7002 tag=atk-spoof4-node | forges its node $N1 -> v1 7002"
	echo "udp src=fe80::1 dst=$V16 dport=7002 tag=atk-spoof6-gwll | forges its gateway fe80::1 -> v1 7002"
	echo "udp src=fe80::2 dst=$V16 dport=7002 tag=atk-spoof6-ll | a link-local source fe80::2 -> v1 7002"
	echo "udp src=$N16 dst=$V16 dport=7002 tag=atk-spoof6-node | forges its node $N16 -> v1 7002"
	echo "udp src=$E4 dst=$V14 smac=02:de:ad:be:ef:01 tag=atk-spoofmac4 | its own IPv4 from a forged MAC -> v1 7001"
	echo "udp src=$E6 dst=$V16 smac=02:de:ad:be:ef:01 tag=atk-spoofmac6 | its own IPv6 from a forged MAC -> v1 7001"
	echo "udp src=$E4 dst=$V14 dport=7002 tag=atk-evil-7002 | its own address -> v1 7002 (neither policy allows it)"
	for t in $ND_TYPES; do
		echo "icmp6 src=$E6 dst=$V16 type=$t ttl=255 len=600 tag=atk-nd$t-v1 | ICMPv6 type $t, 600 bytes, hop limit 255 -> v1's global address"
		echo "icmp6 src=$E6 dst=$V26 type=$t ttl=255 len=600 tag=atk-nd$t-v2 | type $t -> v2's global (n2)"
		echo "icmp6 src=$E6 dst=$OUT6 type=$t ttl=255 len=600 tag=atk-nd$t-out | type $t -> the outside $OUT6 (beyond the node)"
	done
	echo "icmp6 src=fe80::2 dst=$V16 type=135 ttl=255 len=600 tag=atk-ndll135-v1 | type 135 from a link-local source -> v1's global"
	echo "icmp6 src=$E6 dst=$V16 type=133 ttl=64 len=600 tag=atk-nd133hl64-v1 | type 133, hop limit 64 -> v1's global"
	echo "icmp6 src=$E6 dst=ff02::1:ff00:3 dmac=33:33:ff:00:00:03 type=135 ttl=64 len=600 tag=atk-ndmc-hl64 | NS to a solicited-node group with hop limit 64 (not ND: drop-bad-nd)"
	echo "icmp6 src=fe80::2 dst=fe80::1 type=135 ttl=64 len=64 tag=atk-ndgw-hl64 | NS to the gateway with hop limit 64"
	echo "icmperr src=$E4 dst=$V14 qsrc=$V14 qdst=$F4 qsport=41001 qdport=7001 tag=atk-err4-v1 | ICMP port unreachable from evil quoting v1's flow to friend"
	echo "icmperr src=$E6 dst=$V16 qsrc=$V16 qdst=$F6 qsport=41001 qdport=7001 tag=atk-err6-v1 | ICMPv6 unreachable quoting v1's IPv6 flow"
	echo "icmperr src=$E4 dst=$V24 qsrc=$V24 qdst=$F4 qsport=41002 qdport=7001 tag=atk-err4-v2 | ICMP error quoting v2's flow (n2)"
	echo "frag src=$E4 dst=$V14 dport=7002 order=ooo tag=atk-frag4-ooo | 7002/UDP in IPv4 fragments, the second first"
	echo "frag src=$E6 dst=$V16 dport=7002 order=ooo tag=atk-frag6-ooo | the same in IPv6"
	echo "frag src=$E4 dst=$V14 dport=7001 odport=7002 order=overlap where=udp7002 tag=atk-frag4-overlap | a first fragment to 7001, another over it to 7002"
	echo "frag src=$E6 dst=$V16 dport=7001 odport=7002 order=overlap where=udp7002 tag=atk-frag6-overlap | the same in IPv6"
	echo "geneve src=$E4 dst=$N1 isrc=$F4 idst=$V14 tag=atk-gnv-n1 | Geneve to its own node $N1:6081, inner friend -> v1"
	echo "geneve src=$E4 dst=$N2 isrc=$F24 idst=$V24 tag=atk-gnv-n2 | Geneve to n2 $N2:6081, inner friend2 -> v2"
	echo "geneve src=$E6 dst=$N16 isrc=$F4 idst=$V14 tag=atk-gnv6-n1 | Geneve over IPv6 to [$N16]:6081"
} >"$T/probes"
pod_probes xcl-atk.evil <"$T/probes" # not a pipe: the checks count in this shell
pod_probes xcl-vic.friend <<EOF
icmperr src=$F4 dst=$V14 qsrc=$V14 qdst=$F4 qsport=41001 qdport=7001 tag=ctl-err4-v1 | the same ICMP error from friend, the flow's peer
icmperr src=$F6 dst=$V16 qsrc=$V16 qdst=$F6 qsport=41001 qdport=7001 tag=ctl-err6-v1 | the same ICMPv6 error from friend
icmperr src=$F4 dst=$V24 qsrc=$V24 qdst=$F4 qsport=41002 qdport=7001 tag=ctl-err4-v2 | the ICMP error to v2 from friend
EOF

# ---- attacker 2: the hostile host on the underlay --------------------------------------------------
{
	echo "udp src=$F4 dst=$V14 tag=atk-ul-pod4-v1 | forged friend $F4 -> v1 (a pod v1 admits)"
	echo "udp src=$F6 dst=$V16 tag=atk-ul-pod6-v1 | forged friend $F6 -> v1"
	echo "udp src=$F24 dst=$V14 tag=atk-ul-pod4b-v1 | forged friend2 (n2's pod) -> v1"
	echo "udp src=$N1 dst=$V14 tag=atk-ul-node-self | forged $N1 (v1's own node) -> v1"
	echo "udp src=$N2 dst=$V14 tag=atk-ul-node-other | forged $N2 (another node) -> v1"
	echo "udp src=$GW4 dst=$V14 tag=atk-ul-gw4 | forged the pods' gateway $GW4 -> v1"
	echo "udp src=169.254.1.1 dst=$V14 tag=atk-ul-ll4 | forged link-local 169.254.1.1 -> v1"
	echo "udp src=127.0.0.1 dst=$V14 tag=atk-ul-martian4 | forged martian 127.0.0.1 -> v1"
	echo "udp src=$N16 dst=$V16 tag=atk-ul-node6 | forged $N16 -> v1"
	echo "udp src=fe80::66 dst=$V16 tag=atk-ul-ll6 | link-local fe80::66 -> v1"
	echo "udp src=$A4 dst=$V14 tag=atk-ul-own4-v1 | its own $A4 -> v1 7001 (not admitted)"
	echo "udp src=$A6 dst=$V16 tag=atk-ul-own6-v1 | its own $A6 -> v1 7001"
	echo "udp src=$F4 dst=$N1 dport=30071 tag=atk-ul-np-pod4 | forged friend -> NodePort $N1:30071"
	echo "udp src=$N1 dst=$N1 dport=30071 tag=atk-ul-np-node4 | forged $N1 -> its own NodePort"
	echo "udp src=$N2 dst=$N1 dport=30071 tag=atk-ul-np-node4b | forged $N2 -> $N1:30071"
	echo "udp src=$GW4 dst=$N1 dport=30071 tag=atk-ul-np-gw4 | forged $GW4 -> $N1:30071"
	echo "udp src=169.254.1.1 dst=$N1 dport=30071 tag=atk-ul-np-ll4 | forged 169.254.1.1 -> $N1:30071"
	echo "udp src=$A4 dst=$N1 dport=30071 tag=atk-ul-np-own4 | its own -> $N1:30071 (v1:7001: not admitted)"
	echo "udp src=$F6 dst=$N16 dport=30071 tag=atk-ul-np-pod6 | forged friend -> NodePort [$N16]:30071"
	echo "udp src=$N16 dst=$N16 dport=30071 tag=atk-ul-np-node6 | forged $N16 -> its own NodePort"
	echo "udp src=fe80::66 dst=$N16 dport=30071 tag=atk-ul-np-ll6 | link-local fe80::66 -> [$N16]:30071"
	echo "udp src=$F4 dst=$CIP4 tag=atk-ul-cip-pod4 | forged friend -> ClusterIP $CIP4:7001"
	echo "udp src=$F6 dst=$CIP6 tag=atk-ul-cip-pod6 | forged friend -> ClusterIP [$CIP6]:7001"
	if [ "$KP" = none ]; then
		echo "udp src=$A4 dst=$CIP4 dport=7003 tag=atk-ul-cip-own4 | its own -> ClusterIP $CIP4:7003 (not served outside the cluster)"
		echo "udp src=$A6 dst=$CIP6 dport=7003 tag=atk-ul-cip-own6 | its own -> ClusterIP [$CIP6]:7003"
		echo "geneve src=$N2 dst=$N1 isrc=$A4 idst=$V14 isport=40777 idport=7003 dsr=$OTHER4:7005 tag=atk-ul-dsr | Geneve from $N2 (forged) with a DSR option naming atk/other $OTHER4:7005, inner $A4 -> v1 (no backend of it)"
	else
		echo "udp src=$A4 dst=$CIP4 dport=7003 tag=ul-cip-own4 | its own -> ClusterIP $CIP4:7003 (kube-proxy serves ClusterIPs to whoever routes to them)"
	fi
	echo "geneve src=$A4 dst=$N1 isrc=$F4 idst=$V14 tag=atk-ul-gnv-nonnode | Geneve from $A4 (no node), inner friend -> v1"
	echo "geneve src=$N2 dst=$N1 isrc=$F4 idst=$V14 tag=atk-ul-gnv-innerspoof | Geneve from $N2 (forged outer), inner friend (n1's pod) -> v1"
	echo "geneve src=$N2 dst=$N1 isrc=$F24 idst=$V14 tag=ul-gnv-node2pod | Geneve from $N2 (forged outer), inner friend2 (n2's pod): the underlay cannot tell it from n2's"
} >"$T/probes"
host_probes "$M1" <"$T/probes"
host_probes "$M2" <<EOF
udp src=$F4 dst=$V24 tag=atk-ul-pod4-v2 | forged friend (n1's pod) -> v2 via n2
udp src=$F24 dst=$V24 tag=atk-ul-pod4b-v2 | forged friend2 (n2's own pod) -> v2 via n2
EOF
# A process on n2 (a hostNetwork pod): Geneve from its node's address, by a plain UDP socket.
probes "a process on node n2" xcl-n2 "$M1" ul0 <<EOF
sock dst=$N1 isrc=$F24 idst=$V14 tag=atk-n2-gnvsock | Geneve to $N1:6081 from n2's UDP socket, inner friend2 -> v1
EOF

# ---- attacker 1 again: a conntrack flood, then a flow picked up in its reply direction ----------
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$CV4 sport=45000 tag=ctl-ct-open | friend:45000 -> cv:7001, admitted: a flow
EOF
ct_has() { in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" ct get udp "$F4:45000" "$CV4:7001" 2>/dev/null | grep -q "$CV4"; }
check "n1 tracks friend:45000 -> cv:7001" ct_has
# Rounds of 60,000 new flows each (new ports every round), paced by attack.py (the
# table holds $CT_MAX), until n1 no longer has the flow. How many rounds that takes
# is how much of each burst the veth's backlog keeps, which a loaded machine
# changes: the check waits for the eviction (at most FLOOD_S, 300 s), not for a
# number of rounds.
FLOOD_ROUND=0
flood_round() {
	local out t0=$SECONDS
	out=$(echo "flood src=$E4 dst=$S4 dport=$((20000 + FLOOD_ROUND % 4000 * 10)) count=60000" |
		ip netns exec xcl-atk.evil /usr/bin/python3 "$HERE/attack.py" eth0 "$(gwmac xcl-atk.evil)" 2>&1)
	FLOOD_ROUND=$((FLOOD_ROUND + 1))
	echo "round $FLOOD_ROUND: $out in $((SECONDS - t0)) s"
	! ct_has
}
flood() {
	local t0=$SECONDS
	wait_until "${FLOOD_S:-300}" flood_round && return 0
	echo "friend:45000 -> cv:7001 still tracked after $FLOOD_ROUND rounds, $((SECONDS - t0)) s"
	return 1
}
t0=$SECONDS
check "a conntrack flood from evil (UDP flows to atk/sink) evicts friend:45000 -> cv:7001 from n1's table" flood
diag "conntrack flood: $FLOOD_ROUND rounds of 60000 flows, $((SECONDS - t0)) s"
pod_probes xcl-vic.cv <<EOF
udp src=$CV4 dst=$F4 sport=7001 dport=45000 tag=ct-reply | cv:7001 -> friend:45000: the reply direction first
EOF
sed 's/ports: \[{protocol: UDP, port: 7001}\]/ports: [{protocol: UDP, port: 7009}]/' "$T/pol.yaml" >"$T/pol2.yaml"
check "policy cv revoked: friend* admitted on 7009/UDP only" lab apply -f "$T/pol2.yaml"
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$CV4 sport=45000 tag=atk-ct-revoked | friend:45000 -> cv:7001 again, after the revocation
EOF

# ---- attacker 3: the hostile tenant ---------------------------------------------------------------
/usr/bin/python3 - "$T/huge.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            "metadata: {name: huge, namespace: greedy}\nspec:\n  podSelector: {matchLabels: {app: g}}\n"
            "  policyTypes: [Ingress]\n  ingress:\n    - from:\n")
    for i in range(33000):
        f.write("        - ipBlock: {cidr: 100.%d.%d.%d/32}\n" % (64 + i // 65536, i // 256 % 256, i % 256))
PY
t0=$SECONDS
lab apply -f "$T/huge.yaml" >"$T/huge.out" 2>&1
diag "greedy/huge (33000 ipBlocks over 2 pods: 66000 polcidr entries, the map holds 65536): exit $?, $((SECONDS - t0)) s: $(tail -1 "$T/huge.out")"
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=${IP4[g1]} tag=atk-greedy-g1 | friend -> greedy/g1, whose policy admits 33000 other addresses and did not fit
EOF
{
	ns late
	cat <<EOF
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-friend, namespace: late}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {name: vic}}, podSelector: {matchLabels: {role: friend}}}]
EOF
	pod late l1 n1 "app: l"
} >"$T/late.yaml"
lab apply -f "$T/late.yaml" >"$T/late.out" 2>&1
RC=$?
diag "apply late: exit $RC: $(tail -1 "$T/late.out")"
remember_pids
L14=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'l1'][0]")
check "receiver in xcl-late.l1, a pod created after the greedy policy" recv l1 xcl-late.l1
host_probes "$M1" <<EOF
udp src=$A4 dst=$L14 tag=atk-late-ul | the host's own $A4 -> late/l1 (admits vic/friend* only), right after it came up
EOF
pod_probes xcl-atk.sink <<EOF
udp src=$S4 dst=$L14 tag=atk-late-sink | atk/sink -> late/l1
EOF
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$L14 tag=ctl-late-friend | friend -> late/l1: its policy is in force, not just closed
EOF
host_probes "$M1" <<EOF
udp src=$A4 dst=$V14 dport=7004 tag=atk-prechange | its own -> v1 7004, before vic's policy admits it
EOF
sed "s|ports: \[{port: 7003, protocol: UDP}\]|ports: [{port: 7003, protocol: UDP}, {port: 7004, protocol: UDP}]|" "$T/pol2.yaml" >"$T/pol3.yaml"
lab apply -f "$T/pol3.yaml" >"$T/pol3.out" 2>&1
diag "apply vic/victims admitting $A4 on 7004 too: exit $?: $(tail -1 "$T/pol3.out")"
host_probes "$M1" <<EOF
udp src=$A4 dst=$V14 dport=7004 tag=ctl-postchange | its own -> v1 7004: another namespace's change applied despite greedy
EOF

# ---- attacker 2 again: a Service frontend as the source (issue 41 item 6) ----------------------
# A forged "reply" from a ClusterIP:port (or kube-dns's 10.96.0.10:53, or n1's NodePort) to
# vic/friend, which no policy selects: it must not arrive, and it must not leave a conntrack
# entry (xcni's, the kernel's under kube-proxy) that makes friend's next request from that
# port to the Service a "reply" sent on untranslated: that request must reach v1.
check "receiver in xcl-vic.friend, a pod without policy" recv friend xcl-vic.friend
# The externalIP's forged sources: refused with kpr (from xcni_svc) and beside the
# lab's kube-proxy (from xcni_extfe: the lab gives the agents its Services in both
# modes, slice.c).
EXT_TAG=atk
host_probes "$M1" <<EOF
udp src=$CIP4 dst=$F4 sport=7001 dport=7002 tag=atk-ul-cipsrc4 | forged ClusterIP $CIP4:7001 (vic/np) -> friend 7002
udp src=$CIP6 dst=$F6 sport=7001 dport=7002 tag=atk-ul-cipsrc6 | forged ClusterIP [$CIP6]:7001 -> friend 7002
udp src=10.96.0.10 dst=$F4 sport=53 dport=7003 tag=atk-ul-dnssrc4 | a "DNS answer" from 10.96.0.10:53 (the Service range) -> friend
udp src=$N1 dst=$F4 sport=30071 dport=7004 tag=atk-ul-npsrc4 | forged NodePort $N1:30071 -> friend
udp src=$A4 dst=$F4 sport=53 dport=7003 tag=ctl-ul-dns-friend | the host's own $A4:53 -> friend: a DNS server outside answers
udp src=198.51.100.77 dst=$F4 sport=7001 dport=7002 tag=$EXT_TAG-ul-extsrc4 | forged externalIP 198.51.100.77:7001 (vic/np) -> friend
udp src=2001:db8:77::77 dst=$F6 sport=7003 dport=7002 tag=$EXT_TAG-ul-extsrc6 | forged externalIP [2001:db8:77::77]:7003 -> friend
udp src=198.51.100.77 dst=$F4 sport=7009 dport=7002 tag=ctl-ul-ext-port4 | the externalIP's address at a port np has not -> friend: an outside host's
EOF
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$CIP4 sport=7002 dport=7001 tag=ctl-F-friend-cip4 | friend:7002 -> ClusterIP $CIP4:7001 after the forged reply: translated, to v1
udp src=$F6 dst=$CIP6 sport=7002 dport=7001 tag=ctl-F-friend-cip6 | friend:7002 -> ClusterIP [$CIP6]:7001 after the forged reply
EOF

# ---- the cluster's life (issue 41): what attack.sh plays of it --------------------------------
T_LIFE=$SECONDS
# m1 N: node n<N>'s Prometheus page (--metrics-addr, in its netns).
mpage() { in_node "$1" curl -s --max-time 10 "http://127.0.0.1:$MPORT/metrics"; }
# gauge N LINE: node n<N>'s page has LINE (a whole line), within 5 s.
gauge() {
	local m
	for _ in $(seq 50); do
		m=$(mpage "$1")
		grep -qxF "$2" <<<"$m" && return 0
		sleep 0.1
	done
	echo "n$1 has no line '$2':"
	grep "^${2%% *}" <<<"$m" | head -5
	grep "^${2%%\{*}" <<<"$m" | head -5
	return 1
}
ctl1() { in_node 1 "$XCNICTL" --pin-dir "$LAB_PINS/n1" "$@"; }
ctl2() { in_node 2 "$XCNICTL" --pin-dir "$LAB_PINS/n2" "$@"; }

# ---- a fragment flood from one pod (item 7) ---------------------------------------------------
# evil sends 200 first fragments to atk/sink whose later fragments never come:
# its share of n1's fragment table (16 datagrams) fills and the rest are refused
# (drop-frag-share); friend's large UDP (4000 bytes: fragments past the MTU) to v1
# (n1) and v2 (n2) must still arrive whole, and evil's own large datagram to v1,
# which its policy allows, must not while its share is full. Before the shares,
# one LRU per node: evil's flood pushed everyone's datagrams out.
pod_probes xcl-atk.evil <<EOF
big dst=$V14 dport=7001 len=4000 tag=ctl-fs-evil-big | evil -> v1 7001/UDP, 4000 bytes in fragments, before its flood
EOF
fs_before=$(( $(reason_sum 1 drop-frag-share) + $(reason_sum 2 drop-frag-share) ))
pod_probes xcl-atk.evil <<EOF
fragflood src=$E4 dst=$S4 dport=7001 count=200 tag=fs-flood | 200 first fragments to atk/sink, never completed
big dst=$V14 dport=7001 len=4000 tag=atk-fs-evil-big | evil's own 4000 bytes to v1, its share full
EOF
pod_probes xcl-vic.friend <<EOF
big dst=$V14 dport=7001 len=4000 tag=ctl-fs-friend-v1 | friend -> v1, 4000 bytes (n1's fragment table, its own share)
big dst=$V24 dport=7001 len=4000 tag=ctl-fs-friend-v2 | friend -> v2 on n2, 4000 bytes (through Geneve)
big dst=$V16 dport=7001 len=4000 tag=ctl-fs-friend6-v1 | friend -> v1 over IPv6, 4000 bytes
EOF
fs_after=$(( $(reason_sum 1 drop-frag-share) + $(reason_sum 2 drop-frag-share) ))
check "evil's flood filled its share: at least 150 of its 200 first fragments refused as drop-frag-share ($fs_before -> $fs_after)" \
	test $((fs_after - fs_before)) -ge 150

# ---- a foreign program before xcni's on a pod's host veth (item 8) ---------------------------
# Another agent (a second CNI's DaemonSet, a leftover) puts a TCX program
# (tests/tools/foreign_hook.c: foreign_first, which passes every packet on)
# before from_pod on v1's host veth. xcnid (--hook-check 1) notices, counts it
# (xcni_hook_foreign_first), names it (xcnictl hook list, its log), and does what
# docs/agent.md ("Hook order") says: reports, never moves itself back ahead.
v1_veth() {
	local idx
	idx=$(ip -n xcl-vic.v1 -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
	ip -n xcl-n1 -o link | awk -F': ' -v i="$idx" '$1 == i {sub(/@.*/, "", $2); print $2}'
}
VETH1=$(v1_veth)
first_on() { # DEV ingress|egress: the program that runs first there (n1)
	in_node 1 bpftool -j net show dev "$1" |
		jq -r --arg d "$2" '[.[0].tc[] | select(.kind == "tcx/" + $d or .kind == "clsact/" + $d)][0].name | sub(":\\[[0-9]+\\]$"; "")'
}
first_is() { local f; f=$(first_on "$1" "$2"); [ "$f" = "$3" ] || { echo "first on $1 $2: $f, want $3"; return 1; }; }
check "v1's host veth on n1 ($VETH1): from_pod runs first on its ingress" first_is "$VETH1" ingress from_pod
check "a foreign TCX program put before from_pod on $VETH1 ingress (pinned at $FPIN)" \
	in_node 1 "$BUILD/tests/foreign_hook" tcx "$VETH1" ingress "$FPIN"
check "  ... it runs first there now (bpftool's view)" first_is "$VETH1" ingress foreign_first
check "  ... xcni_hook_foreign_first{device=\"$VETH1\",hook=\"ingress\"} 1 on n1 within 5 s" \
	gauge 1 "xcni_hook_foreign_first{device=\"$VETH1\",hook=\"ingress\"} 1"
hook_listed() {
	ctl1 --json hook list | jq -e --arg d "$VETH1" \
		'[.[] | select(.device == $d and .hook == "ingress" and .program == "from_pod" and .xcni_first == "no" and (.before // "" | test("foreign_first")))] | length == 1' >/dev/null ||
		{ ctl1 --json hook list; return 1; }
}
check "  ... xcnictl hook list names it, before from_pod on $VETH1" hook_listed
# Without CAP_SYS_ADMIN (the agent's capabilities, docs/security.md) the kernel
# does not give xcnid a foreign program by its id: the warning names its id.
hook_logged() { grep -Eq "hooks: $VETH1 ingress: TCX program (foreign_first \(id [0-9]+\)|id [0-9]+) runs before xcni's from_pod" "$XCNI_LAB_DIR/n1/xcnid.log"; }
check "  ... n1's xcnid warns, naming the device, the hook and the program" hook_logged
pod_probes xcl-atk.evil <<EOF
udp src=$E4 dst=$V14 dport=7002 tag=atk-hk-evil-7002 | evil -> v1 7002 (not allowed), a foreign program before xcni's on v1's veth
udp src=$E4 dst=$V14 tag=ctl-hk-evil-7001 | evil -> v1 7001, allowed
EOF
pod_probes xcl-vic.v1 <<EOF
udp src=$V14 dst=$F4 dport=7003 tag=ctl-hk-v1-friend | v1 -> friend through its veth's ingress (foreign_first, then from_pod)
udp src=$E4 dst=$F4 dport=7003 tag=atk-hk-v1-spoof | v1 forging evil's address -> friend: from_pod still refuses it
EOF
sleep 1.2 # another check or more: xcnid reports, it does not fight
check "  ... still first after more checks: xcni did not move itself back ahead" first_is "$VETH1" ingress foreign_first
rm -f "$FPIN"
check "the foreign program removed: the gauge goes (xcni_hook_foreign_first_seen_total 1 kept)" \
	gauge 1 "xcni_hook_foreign_first_seen_total 1"
no_gauge() {
	for _ in $(seq 50); do
		mpage 1 | grep -q "^xcni_hook_foreign_first{device=\"$VETH1\"" || return 0
		sleep 0.1
	done
	return 1
}
check "  ... and no xcni_hook_foreign_first sample for $VETH1 within 5 s" no_gauge

# ---- a Job's finished pod, its address reused, a deny-all elsewhere (item 1) ------------------
# job/done runs on n1 and finishes (status.phase Succeeded: lab apply stops it,
# CNI DEL releases its address, and its object stays with that phase and its
# podIP, as the API server keeps it until it is collected). IPAM hands that
# address to a new pod, reuse/r1, with a policy of its own, while vic gets a
# deny-all that closes friend (n1) and friend2 (n2). Before, xcnid read no
# phase: two pods on one address failed every compile, on every node, and
# vic's deny-all never came in.
check "receiver in xcl-vic.friend2 (n2)" recv friend2 xcl-vic.friend2
{ ns job; pod job done n1 "job: j1"; } >"$T/job.yaml"
check "a Job's pod job/done on n1" lab apply -f "$T/job.yaml"
JOB4=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'done'][0]")
JOB6=$(lab get --json | jq_ "[p.get('ip6', '') for p in d['pods'] if p['name'] == 'done'][0]")
IPAM1=$XCNI_LAB_DIR/n1/ipam/xcni-lab
{ ns job; pod job done n1 "job: j1"; echo "status: {phase: Succeeded}"; } >"$T/job-done.yaml"
out=$(lab apply -f "$T/job-done.yaml" 2>&1); RC=$?
check "job/done finishes (status.phase Succeeded): lab apply says so, exit 0" \
	bash -c "[ $RC = 0 ] && grep -q 'pod job/done Succeeded (n1, $JOB4' <<<\"\$1\"" _ "$out"
finished_obj() {
	jq -e --arg ip "$JOB4" '.status.phase == "Succeeded" and .status.podIP == $ip' \
		"$XCNI_LAB_DIR/manifests/pod.job.done.json" >/dev/null
}
check "  ... its object stays, phase Succeeded, podIP $JOB4 (as the API server keeps it)" finished_obj
gone_pod() { ! ip netns list | grep -q '^xcl-job.done\b' && [ ! -e "$IPAM1/$JOB4" ] && ! lab get | grep -q 'job/done'; }
check "  ... stopped: no netns, IPAM released $JOB4, lab get lists it no more" gone_pod
out=$(lab apply -f "$T/job.yaml" 2>&1); RC=$?
check "  ... applied again without the phase: refused (exit 1, naming the pod and the phase), nothing changed" \
	bash -c "[ $RC = 1 ] && grep -q 'Pod job/done: it finished (Succeeded) and does not run again' <<<\"\$1\" && grep -q 'nothing changed' <<<\"\$1\"" _ "$out"
{ ns job; pod job never n1 "job: j9"; echo "status: {phase: Failed}"; } >"$T/job-never.yaml"
out=$(lab apply -f "$T/job-never.yaml" 2>&1); RC=$?
check "  ... a pod the lab never ran applied as Failed: refused (exit 1, status.phase named)" \
	bash -c "[ $RC = 1 ] && grep -q 'Pod job/never: status.phase: Failed, but the lab runs no such pod' <<<\"\$1\"" _ "$out"
again_unchanged() { lab apply -f "$T/job-done.yaml" | grep -q 'pod job/done unchanged (Succeeded)'; }
check "  ... applied again as Succeeded: unchanged" again_unchanged
pod_probes xcl-atk.sink <<EOF
udp src=$S4 dst=$F24 tag=ctl-job-sink-friend2 | atk/sink -> vic/friend2 (n2), before vic's deny-all
EOF
# IPAM wraps round to the released address (host-local goes on from its last
# reservation): the next pod on n1 gets it.
ipam_wrap() {
	/usr/bin/python3 - "$IPAM1" "$JOB4" "$JOB6" <<'PY'
import ipaddress, sys
d, a4, a6 = sys.argv[1:4]
open(d + "/last_reserved_ip.0", "w").write(str(ipaddress.ip_address(a4) - 1))
if a6:
    open(d + "/last_reserved_ip.1", "w").write(str(ipaddress.ip_address(a6) - 1))
PY
}
check "n1's IPAM goes on from just before $JOB4 (its range wrapped)" ipam_wrap
{
	ns reuse
	pod reuse r1 n1 "app: r"
	cat <<EOF
$(y_np r1-friend reuse "app: r" "Ingress")
  ingress:
    - from: [{namespaceSelector: {matchLabels: {name: vic}}, podSelector: {matchLabels: {role: friend}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: vic}
spec: {podSelector: {}, policyTypes: [Ingress]}
EOF
} >"$T/reuse.yaml"
check "reuse/r1 on n1 (admits vic/friend*) and vic's deny-all, the finished job/done still in the API" \
	lab apply -f "$T/reuse.yaml"
remember_pids
R14=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'r1'][0]")
check "reuse/r1 got the finished pod's address $JOB4 ($R14)" test "$R14" = "$JOB4"
check "receiver in xcl-reuse.r1" recv r1 xcl-reuse.r1
pod_probes xcl-atk.sink <<EOF
udp src=$S4 dst=$F4 tag=atk-job-sink-friend | atk/sink -> vic/friend (n1): vic's deny-all
udp src=$S4 dst=$F24 tag=atk-job-sink-friend2 | atk/sink -> vic/friend2 (n2): vic's deny-all on n2 too
udp src=$S4 dst=$R14 tag=atk-job-sink-r1 | atk/sink -> reuse/r1 on the reused address: r1's own policy
EOF
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$R14 tag=ctl-job-friend-r1 | friend -> reuse/r1: its policy admits friend
udp src=$F4 dst=$V24 tag=ctl-job-friend-v2 | friend -> v2: the victims still admit friend
EOF
ipc_r1() { # on both nodes, the reused address is r1's
	ctl1 ipcache list | grep -q "^$JOB4/32 .*reuse/r1" && ctl2 ipcache list | grep -q "^$JOB4/32 .*reuse/r1" ||
		{ ctl1 ipcache list | grep "^$JOB4/"; ctl2 ipcache list | grep "^$JOB4/"; return 1; }
}
check "the ipcache of n1 and n2 names $JOB4 reuse/r1, not the finished pod" ipc_r1
not_contested() { ! ctl1 endpoint list | grep -q "^$JOB4 .*contested"; }
check "xcnictl endpoint list (n1): $JOB4 not contested" not_contested
check "xcni_pod_address_conflicts 0 on n1" gauge 1 "xcni_pod_address_conflicts 0"

# Two live pods on one address: the API server lists a second, reuse/twin on n2,
# Running at $JOB4 (a stale cache, a node whose IPAM lost its state on a
# restart), which no kubelet of the lab runs: written into the lab's API
# directory as the API server would hold it. No generation fails: the address
# is closed (drop-addr-contested) and both pods named, other policy applies.
twin() {
	/usr/bin/python3 - "$XCNI_LAB_DIR/manifests" "$JOB4" <<'PY'
import json, os, sys
d, ip = sys.argv[1:3]
doc = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "twin", "namespace": "reuse", "labels": {"app": "r"}},
       "spec": {"nodeName": "n2", "containers": [{"name": "c"}]},
       "status": {"phase": "Running", "hostIP": "192.168.77.2", "podIP": ip, "podIPs": [{"ip": ip}]}}
with open(d + "/.twin.tmp", "w") as f:
    json.dump(doc, f)
os.rename(d + "/.twin.tmp", d + "/pod.reuse.twin.json")
PY
}
ct_before=$(( $(reason_sum 1 drop-addr-contested) + $(reason_sum 2 drop-addr-contested) ))
check "the API lists reuse/twin (n2, Running) at $JOB4 too" twin
printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: reuse, labels: {name: reuse, twin: "yes"}}\n' >"$T/reuse-ns.yaml"
check "  ... and a change to namespace reuse: the generation with both applied on every node" lab apply -f "$T/reuse-ns.yaml"
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$R14 tag=atk-twin-friend-r1 | friend -> $JOB4, which two live pods claim: closed
udp src=$F4 dst=$V14 tag=ctl-twin-friend-v1 | friend -> v1: the victims' policy still applies
EOF
pod_probes xcl-reuse.r1 <<EOF
udp src=$R14 dst=$F4 tag=atk-twin-r1-friend | r1 -> friend from the contested address: closed too
EOF
pod_probes xcl-atk.sink <<EOF
udp src=$S4 dst=$F24 tag=atk-twin-sink-friend2 | atk/sink -> friend2: vic's deny-all still in force
EOF
ct_after=$(( $(reason_sum 1 drop-addr-contested) + $(reason_sum 2 drop-addr-contested) ))
check "the refusals counted as drop-addr-contested ($ct_before -> $ct_after)" test "$ct_after" -gt "$ct_before"
contested() { ctl1 endpoint list | grep -q "^$JOB4 .* contested$" || { ctl1 endpoint list; return 1; }; }
check "xcnictl endpoint list (n1) marks $JOB4 contested" contested
check "xcni_pod_address_conflicts 2 on n1 (both pods)" gauge 1 "xcni_pod_address_conflicts 2"
contest_logged() { grep -q "address $JOB4 claimed by pod reuse/twin" "$XCNI_LAB_DIR/n1/xcnid.log"; }
check "n1's xcnid names reuse/twin as a claimant of $JOB4" contest_logged
printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: twin, namespace: reuse}\n' >"$T/twin.yaml"
check "reuse/twin deleted (lab delete: the object the lab does not run)" lab delete -f "$T/twin.yaml"
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$R14 tag=ctl-twin-gone-friend-r1 | friend -> r1 again: the conflict ended, r1's policy admits it
EOF
check "xcni_pod_address_conflicts 0 on n1" gauge 1 "xcni_pod_address_conflicts 0"

# A pod being deleted on r1's node (issue 37): reuse/gone, Terminating (a
# finalizer holds its object; its sandbox torn down, CNI DEL done, so n1's
# host-local could give $JOB4 to r1), Running and newer than r1, so the
# contest's rule would make it the owner. It yields: r1 owns the address on
# both nodes, nothing is closed, r1's policy applies.
terminating() {
	/usr/bin/python3 - "$XCNI_LAB_DIR/manifests" "$JOB4" <<'PY'
import json, os, sys
d, ip = sys.argv[1:3]
doc = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "gone", "namespace": "reuse", "labels": {"app": "gone"},
                    "creationTimestamp": "2030-01-01T00:00:00Z",
                    "deletionTimestamp": "2030-01-01T00:05:00Z", "finalizers": ["xcni.test/hold"]},
       "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
       "status": {"phase": "Running", "hostIP": "192.168.77.1", "podIP": ip, "podIPs": [{"ip": ip}]}}
with open(d + "/.gone.tmp", "w") as f:
    json.dump(doc, f)
os.rename(d + "/.gone.tmp", d + "/pod.reuse.gone.json")
PY
}
check "the API lists reuse/gone (n1, Terminating, Running, newer) at $JOB4" terminating
printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: reuse, labels: {name: reuse, twin: "no"}}\n' >"$T/reuse-ns.yaml"
check "  ... and a change to namespace reuse: the generation with it applied on every node" lab apply -f "$T/reuse-ns.yaml"
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$R14 tag=ctl-term-friend-r1 | friend -> r1: the Terminating pod of its node yielded $JOB4, r1's policy admits friend
EOF
check "the ipcache of n1 and n2 still names $JOB4 reuse/r1" ipc_r1
check "xcnictl endpoint list (n1): $JOB4 not contested" not_contested
check "xcni_pod_address_conflicts 0 on n1" gauge 1 "xcni_pod_address_conflicts 0"
check "xcni_pod_address_yields 1 on n1" gauge 1 "xcni_pod_address_yields 1"
check "xcni_pod_address_yields 1 on n2 (decided alike)" gauge 2 "xcni_pod_address_yields 1"
status_yield() { ctl2 status 2>&1 | grep -q ' 0 address conflicts, 1 yielded by a deleting pod$'; }
check "xcnictl status (n2): 0 address conflicts, 1 yielded by a deleting pod" status_yield
printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: gone, namespace: reuse}\n' >"$T/gone.yaml"
check "reuse/gone deleted (its finalizer done)" lab delete -f "$T/gone.yaml"
check "xcni_pod_address_yields 0 on n1" gauge 1 "xcni_pod_address_yields 0"
check "lab delete namespace job" lab delete -f "$T/job.yaml"
check "  ... took its finished pod's object along" test ! -e "$XCNI_LAB_DIR/manifests/pod.job.done.json"

# ---- a tenant flooding NetworkPolicies past the name map (item 2) ---------------------------
# The agents run with xcni_polname of $POLNAME_MAX entries (--map-max): namespace
# flood brings 40 NetworkPolicies over its pod f1 (np-<i> admits vic/friend on
# 7000+<i>/UDP: a rule of its own each),
# with late's new policy admitting atk/sink beside them. Names are for people:
# the flood's go missing (policy#<id> in the views, xcni_names_missing), nothing is
# refused, and late's policy applies. Before, the generation "did not fit" and
# every node refused it.
{
	ns flood
	pod flood f1 n1 "app: f"
	for i in $(seq 40); do
		printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
		printf 'metadata: {name: np-%s, namespace: flood}\n' "$i"
		printf 'spec:\n  podSelector: {matchLabels: {app: f}}\n  policyTypes: [Ingress]\n'
		printf '  ingress: [{from: [{namespaceSelector: {matchLabels: {name: vic}}, podSelector: {matchLabels: {role: friend}}}],\n'
		printf '             ports: [{port: %s, protocol: UDP}]}]\n' "$((7000 + i))"
	done
	cat <<EOF
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: also-sink, namespace: late}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {name: atk}}, podSelector: {matchLabels: {role: sink}}}]
EOF
} >"$T/flood.yaml"
check "flood: 40 NetworkPolicies over flood/f1 ($POLNAME_MAX names fit), and late/also-sink beside them: applied" \
	lab apply -f "$T/flood.yaml"
remember_pids
FL4=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'f1'][0]")
check "receiver in xcl-flood.f1" recv f1 xcl-flood.f1
pod_probes xcl-atk.sink <<EOF
udp src=$S4 dst=$L14 tag=ctl-flood-sink-l1 | atk/sink -> late/l1: late's new policy admits it
udp src=$S4 dst=$FL4 tag=atk-flood-sink-f1 | atk/sink -> flood/f1: the flood's policies apply, nameless
EOF
pod_probes xcl-vic.friend <<EOF
udp src=$F4 dst=$FL4 tag=ctl-flood-friend-f1 | friend -> flood/f1: admitted by the flood's own policies
EOF
names_missing() {
	local m
	m=$(mpage 1 | sed -n 's/^xcni_names_missing \([0-9]*\)$/\1/p')
	[ -n "$m" ] && [ "$m" -gt 0 ] || { echo "xcni_names_missing: ${m:-none}"; return 1; }
	echo "xcni_names_missing $m"
}
check "xcni_names_missing > 0 on n1" names_missing
nameless() {
	local out
	out=$(ctl1 policy get flood/f1 2>&1)
	[ "$(grep -c 'flood/np-[0-9]* ' <<<"$out")" -ge 1 ] && grep -q ' policy#[0-9]* ' <<<"$out" &&
		[ "$(grep -c '^ingress ' <<<"$out")" = 40 ] || { head -12 <<<"$out"; return 1; }
	echo "$(grep -c ' policy#[0-9]* ' <<<"$out") of its 40 rules' policies nameless"
}
check "xcnictl policy get flood/f1: its 40 rules, the names that did not fit shown as policy#<id>" nameless
named() {
	local out
	out=$(ctl1 policy get late/l1 2>&1)
	grep -q 'late/also-sink' <<<"$out" || { head -5 <<<"$out"; return 1; }
}
check "late's policies keep their names (the flood's are cut first)" named
diag "the cluster's life (items 7, 8, 1, 2): $((SECONDS - T_LIFE)) s"

# ---- the invariant --------------------------------------------------------------------------------
sleep 0.5
forbidden_seen() {
	local f where got bad=0
	for f in "${FORBID[@]}"; do
		where=
		[[ $f == *:* ]] && where=${f#*:}
		got=$(seen "${f%%:*}" "$where")
		[ -n "$got" ] && { echo "forbidden XT-$f arrived: $(head -2 <<<"$got" | tr '\n' ';')"; bad=1; }
	done
	return $bad
}
check "invariant: none of the ${#FORBID[@]} forbidden tags is in any receiver's log" forbidden_seen
want_reason() { # REASON WHY
	local now
	now=$(( $(reason_sum 1 "$1") + $(reason_sum 2 "$1") ))
	check "counted: $1 went up on the nodes (${BASE[$1]} -> $now): $2" test "$now" -gt "${BASE[$1]}"
}
want_reason drop-spoof-ip "evil's forged IPv4/IPv6 sources"
want_reason drop-spoof-mac "evil's forged MAC"
want_reason drop-bad-nd "ND typed ICMPv6 with hop limit 64"
want_reason drop-policy-egress "evil's ND typed ICMPv6 to global addresses, 7002/UDP"
want_reason drop-policy-ingress "the host's own address to v1 7001/UDP"
want_reason drop-fragment "out-of-order fragments"
want_reason drop-geneve-inject "evil's Geneve to the nodes"
want_reason drop-unknown-node "Geneve from $A4"
want_reason drop-inner-spoof "Geneve from $N2 with n1's pod inside"
want_reason drop-outside-spoof "plain underlay packets with pod, node, gateway, link-local, martian sources"
want_reason drop-geneve-socket "Geneve from n2's UDP socket"
want_reason drop-policy-overflow "greedy's pods, their policy too big"
want_reason drop-src-frontend "the host's ClusterIP and Service-range sources to friend"
want_reason drop-frag-share "evil's first fragments past its share"
want_reason drop-addr-contested "the address two live pods claim"
if [ "$KP" = none ]; then
	want_reason drop-clusterip-outside "the host's own address to a ClusterIP"
	want_reason drop-dsr-not-backend "a DSR option naming a frontend v1 is no backend of"
fi
if [ -n "$NPA" ]; then
	check "the fast path was on: n1's xcnictl status says mode $NPA" \
		test "$(npa_field 1 mode)" = "$NPA"
	check "n1's fast path saw the frontends' packets and handed them to tc (tc_packets $(npa_field 1 tc_packets) > 0)" \
		test "$(npa_field 1 tc_packets)" -gt 0
fi

stop_pids "${RECV[@]}"
RECV=()
ip netns del "$ATK"
lab_down_checked
diag "attack-$KP: $((SECONDS - START)) s"
finish
