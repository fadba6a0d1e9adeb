#!/bin/bash
# xcnid killed (SIGKILL) in the middle of policy changes, again and again, while a
# pod that no policy version admits probes without pause. It must never connect:
# not while a change is half applied, not while no agent runs, not while a new
# agent takes over. After each restart the maps converge to the manifests.
#
#   netns <tag>-node: xcnid --manifests M (pins under /sys/fs/bpf/<tag>)
#     xc<hash> ──veth── eth0  <tag>-a  x/a  serves TCP 80
#     xc<hash> ──veth── eth0  <tag>-b  x/b  admitted by version "b"
#     xc<hash> ──veth── eth0  <tag>-c  x/c  admitted by version "c"
#     xc<hash> ──veth── eth0  <tag>-d  x/d  never admitted: the prober
#
# Each round swaps the policy on x/a between the two versions (one object is
# replaced, another created and one deleted, so a change touches several entries)
# and kills the agent in the middle of applying it: at a named step of the map
# writer (lib/killpoint.h: the agent kills itself there, armed through
# XCNI_TEST_KILL_FILE just before the change), or 0-60 ms after the change is
# written. Then it restarts the agent and checks.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/node.sh" # sources ../lib.sh
node_init agentcrash 10.97.8 ac
ROUNDS=${AGENT_CRASH_ROUNDS:-20}
SRV= PROBER=
export XCNI_TEST_KILL_FILE=$T/kill

cleanup() {
	touch "$T/stop"
	[ -n "$PROBER" ] && wait "$PROBER" 2>/dev/null
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	node_cleanup a b c d
}
trap cleanup EXIT

# Waits for the running agent to apply the manifests (sync_gen needs ctl).
agent() { start_xcnid "$PIN" --pod-cidr "$SUBNET.0/24" --node-name n1 --manifests "$M"; }

ip netns add "$NODE" && ip -n "$NODE" link set lo up
XCNID_NETNS=$NODE
check "xcnid started with --manifests" agent || { finish; exit 1; }
for p in a b c d; do
	ip netns add "$XCT_TAG-$p" && ip -n "$XCT_TAG-$p" link set lo up
	cni ADD "$p" >"$T/$p.json" || { not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
done
IP_A=$(jq -r '.ips[0].address' "$T/a.json" | cut -d/ -f1)
ip netns exec "$XCT_TAG-a" socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello' &
SRV=$!

{
	echo "apiVersion: v1"
	echo "kind: Namespace"
	echo "metadata: {name: x}"
	for p in a b c d; do
		ip=$(jq -r '.ips[0].address' "$T/$p.json" | cut -d/ -f1)
		printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: x, labels: {pod: %s}}\nspec: {nodeName: n1}\nstatus: {podIP: %s}\n' "$p" "$p" "$ip"
	done
} | put pods.yaml
# version V: x/a admits only pod V (on port 80), through a policy named after V,
# plus a deny-all that stays; the other version's policy is removed.
version() {
	local v=$1 o
	o=$([ "$v" = b ] && echo c || echo b)
	put "allow-$v.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-$v, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: $v}}}], ports: [{port: 80}]}]
EOF
	rm -f "$M/allow-$o.yaml"
}
deny_put deny "pod: a"
version b
check "version b applied" sync_gen
check "version b: b connects" expect b connected
check "version b: c and d are blocked" bash -c "$(declare -f probe expect); IP_A=$IP_A XCT_TAG=$XCT_TAG; expect c blocked && expect d blocked"

# The prober: d -> a, a new connection every 10 ms without waiting for the
# last (each given 300 ms), until told to stop (bounded: 600 s).
ip netns exec "$XCT_TAG-d" python3 "$HERE/conn_prober.py" "$IP_A" 80 "$T/stop" 10 600 >"$T/probes" &
PROBER=$!

# The map writer's steps (user/lib/policy/polsync.c, user/agent/xcnid.c): names and
# identities synced; a pod's new version written, not flipped to; flipped; every
# map written but the policy revision not bumped; old versions half deleted.
STEPS=(apply-names apply-entries apply-flipped applied cleanup timed)
converged=0 killed_mid=0 at_step=0 armed=0 v=b
for i in $(seq "$ROUNDS"); do
	[ "${STEPS[$(((i - 1) % ${#STEPS[@]}))]}" != timed ] && armed=$((armed + 1))
done
for round in $(seq "$ROUNDS"); do
	v=$([ "$v" = b ] && echo c || echo b)
	o=$([ "$v" = b ] && echo c || echo b)
	step=${STEPS[$(((round - 1) % ${#STEPS[@]}))]}
	[ "$step" != timed ] && echo "$step" >"$XCNI_TEST_KILL_FILE"
	version "$v"
	MANIFEST_GEN=$((MANIFEST_GEN + 1))
	echo "$MANIFEST_GEN" >"$M/.tmp-gen" && mv "$M/.tmp-gen" "$M/.xcni-generation"
	if [ "$step" = timed ]; then
		sleep "$(python3 -c "import random; print(random.randint(0, 60) / 1000)")"
	else
		# The agent dies at the step by itself; a bounded wait, then it is killed anyway.
		for _ in $(seq 50); do kill -0 "$XCNID_PID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$XCNID_PID" 2>/dev/null; then
			diag "round $round: the agent never reached '$step'"
		else
			at_step=$((at_step + 1))
		fi
	fi
	kill -KILL "$XCNID_PID" 2>/dev/null
	wait "$XCNID_PID" 2>/dev/null
	XCNID_PID=
	rm -f "$XCNI_TEST_KILL_FILE"
	# Did the killed agent get there? (Either way the new one must.)
	gen=$(ctl config --json 2>/dev/null | jq -r .applied_gen)
	[ "${gen:-0}" -lt "$MANIFEST_GEN" ] 2>/dev/null && killed_mid=$((killed_mid + 1))
	sleep 0.2 # no agent at all for a moment: the pinned data plane alone
	if ! agent || ! sync_gen >/dev/null; then
		not_ok "round $round: the restarted agent applies version $v"
		continue
	fi
	if expect "$v" connected >/dev/null && expect "$o" blocked >/dev/null &&
		ctl policy get x/a | grep -q "x/allow-$v" && ! ctl policy get x/a | grep -q "x/allow-$o"; then
		converged=$((converged + 1))
	else
		diag "round $round: version $v not in force after restart"
		ctl policy get x/a | sed 's/^/#   /'
	fi
done
touch "$T/stop"
wait "$PROBER"
PROBER=
diag "$killed_mid of $ROUNDS kills landed before the change was reported applied"
check "the agent killed itself at the armed step in each of $armed rounds ($at_step)" \
	test "$at_step" -eq "$armed"
check "every restart converged to the manifests ($converged of $ROUNDS rounds)" test "$converged" -eq "$ROUNDS"
read -r _ n _ bad <"$T/probes"
grep '^connected at' "$T/probes" | head -5 | sed 's/^/# /'
check "d never connected in $n attempts across $ROUNDS kills ($bad connected)" \
	bash -c "[ ${n:-0} -ge 1000 ] && [ ${bad:-1} -eq 0 ]"
check "the agent's maps hold one live policy version for x/a" \
	bash -c "$(declare -f ctl); PIN=$PIN NODE=$NODE BUILD=$BUILD; ctl policy list --json | jq -e 'length == 1'"
finish
