#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Connection rate with 100 tiered policies against none (issue 28: >= 0.95x).
# A one-node lab (`xcnictl lab`, its own XCNI_LAB_DIR), pods from
# examples/lab; bench/conn_rate.c's server in x/a, its client in y/b (same
# node: egress judged for y/b, ingress for x/a, both per new connection).
# "tiers": 100 ClusterNetworkPolicies whose subject is every namespace (50
# Admin, 50 Baseline; Deny rules for namespace z and egress networks, none
# matching y/b -> x/a), so both pods' entries are the tiers' compile and every
# new connection is decided through them; "none": the same lab without them.
# Rounds alternate the order (none first, then tiers first, ...); each
# measurement SECONDS of one connection at a time. Must run as root, under
# the lab lock, with any time limit inside it (so a wait for the lock never
# cuts the teardown short):
#
#   flock -o /tmp/xcni-test.lock timeout 600 bash bench/cnp-connrate.sh [-r ROUNDS] [-t SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
XCNICTL=$BUILD/xcnictl
ROUNDS=3
SECS=4
while getopts "r:t:" o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	t) SECS=$OPTARG ;;
	*) echo "usage: $0 [-r ROUNDS] [-t SECONDS]" >&2; exit 2 ;;
	esac
done
TMP=$(mktemp -d /tmp/xcni-cnp-connrate.XXXXXX)
export XCNI_LAB_DIR=$TMP/lab
SRV=
cleanup() {
	# not under set -e: wait returns the killed server's status
	set +e
	trap - EXIT INT TERM
	# lab exec execs the server: SRV is conn_rate itself
	if [ -n "$SRV" ]; then
		kill "$SRV" 2>/dev/null
		wait "$SRV" 2>/dev/null
	fi
	"$XCNICTL" lab down >/dev/null 2>&1 || echo "lab down failed: XCNI_LAB_DIR=$XCNI_LAB_DIR" >&2
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
lab() { "$XCNICTL" lab "$@"; }

cc -O2 -std=gnu11 -Wall -Wextra -Werror -o "$TMP/conn_rate" "$HERE/conn_rate.c"
lab up --nodes 1 >/dev/null
lab apply -f "$ROOT/examples/lab/00-namespaces.yaml" >/dev/null
lab apply -f "$ROOT/examples/lab/10-pods.yaml" >/dev/null
lab get --json >"$TMP/lab.json"
XA=$(python3 -c 'import json,sys; print([p["ip"] for p in json.load(open(sys.argv[1]))["pods"] if p["namespace"] == "x" and p["name"] == "a"][0].split("/")[0])' "$TMP/lab.json")
lab exec y/b -- sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65000"
# Not through lab(): a function runs in a subshell of its own when sent to the
# background, and $! would be that shell, not the server lab exec becomes.
"$XCNICTL" lab exec x/a -- "$TMP/conn_rate" server -b "$XA" -p 9100 &
SRV=$!
sleep 0.5

for ((i = 0; i < 100; i++)); do
	if ((i < 50)); then tier=Admin; else tier=Baseline; fi
	cat <<EOF
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: bench-$i}
spec:
  tier: $tier
  priority: $((i % 50))
  subject: {namespaces: {}}
  ingress:
  - {name: no-z-$i, action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}], protocols: [{tcp: {destinationPort: {number: $((1000 + i))}}}]}
  egress:
  - {name: no-net-$i, action: Deny, to: [{networks: [203.0.113.$i/32]}]}
EOF
done >"$TMP/tiers.yaml"

measure() { # measure LABEL: one connection-rate run, its rate on stdout
	local out
	out=$(lab exec y/b -- "$TMP/conn_rate" client -c "$XA" -p 9100 -d "$SECS" -w 1) ||
		{ echo "$1: conn_rate client failed: $out" >&2; exit 1; }
	sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out"
}
tiers_on() {
	lab apply -f "$TMP/tiers.yaml" >/dev/null
	# the pods' entries are the tiers' now (both sides)
	"$XCNICTL" --node n1 policy get x/a --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if any(r.get("tier") == "Admin" for r in j) else 1)' ||
		{ echo "tiers not in x/a's entries" >&2; exit 1; }
}
tiers_off() { lab delete -f "$TMP/tiers.yaml" >/dev/null; }

declare -a none tiers
echo "cnp-connrate: $ROUNDS rounds of ${SECS}s a side, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2)); then order="tiers none"; else order="none tiers"; fi
	for side in $order; do
		if [ "$side" = tiers ]; then tiers_on; else tiers_off 2>/dev/null || true; fi
		rate=$(measure "$side")
		echo "round $((r + 1)) $side: $rate conn/s"
		if [ "$side" = tiers ]; then tiers+=("$rate"); else none+=("$rate"); fi
	done
done
python3 - "${none[*]}" "${tiers[*]}" <<'EOF'
import statistics, sys
n = [float(x) for x in sys.argv[1].split()]
t = [float(x) for x in sys.argv[2].split()]
mn, mt = statistics.median(n), statistics.median(t)
print(f"median conn/s: none {mn:.0f}, 100 tiered {mt:.0f}: ratio {mt / mn:.3f} "
      f"(per round: {' '.join(f'{b / a:.3f}' for a, b in zip(n, t))})")
EOF
echo "cnp-connrate: done, load $(cut -d' ' -f1-3 /proc/loadavg)"
