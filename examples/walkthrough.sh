#!/bin/bash
# Walkthrough: a NetworkPolicy drops a connection; `xcnictl monitor` shows the
# drop as it happens, `xcnictl flows` keeps its record, and `xcnictl explain`
# answers why, from the same maps the programs read; then a policy lets it in,
# and explain says which rule. Each command as a user types it in a lab
# (--node NAME|all: the lab finds each node's maps; no nsenter, no --pin-dir).
# See examples/walkthrough.md for what each step shows.
#
#   netns xcl-n1 (the node: xcnid, maps pinned under /sys/fs/bpf/xcni-lab/n1)
#     xc<hash> ──veth── eth0  netns xcl-x.a   x/a   (serves 80, 81 over TCP and UDP)
#     ...                     (pods a, b, c in namespaces x, y, z)
#
# Needs root and a build (make all); BUILD=DIR picks the build directory.
# Everything it makes (the lab, its state directory) is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
CTL=$BUILD/xcnictl
EX=examples/lab
export XCNI_LAB_DIR
XCNI_LAB_DIR=$(mktemp -d /tmp/xcni-walkthrough.XXXXXX)
export XCNI_BIN=${XCNI_BIN:-$BUILD/xcni} XCNID_BIN=${XCNID_BIN:-$BUILD/xcnid}
MON=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { local shown=("$@"); [ "$1" = "$CTL" ] && shown[0]=xcnictl; printf '$ %s\n' "${shown[*]}"; "$@"; }
cleanup() {
	[ -n "$MON" ] && kill "$MON" 2>/dev/null
	"$CTL" lab down >/dev/null 2>&1 || true
	rm -rf "$XCNI_LAB_DIR"
}

[ -x "$CTL" ] || { echo "walkthrough: $CTL not built (make all)" >&2; exit 1; }
# The lab's names (xcl-*, /sys/fs/bpf/xcni-lab) are global: never take over one that is up.
if ip netns list | grep -q '^xcl-' || [ -e /sys/fs/bpf/xcni-lab ]; then
	echo "walkthrough: a lab is up already (xcnictl lab down it first)" >&2
	rmdir "$XCNI_LAB_DIR"
	exit 1
fi
trap cleanup EXIT

say "1. a one-node lab: namespaces x, y, z with pods a, b, c"
run "$CTL" lab up --nodes 1
"$CTL" lab apply -f "$EX/00-namespaces.yaml" >/dev/null
"$CTL" lab apply -f "$EX/10-pods.yaml" >/dev/null
run "$CTL" lab get

say "2. policy: nothing may enter namespace x, except y/b into x/a on TCP 80"
cat "$EX/20-default-deny.yaml" "$EX/30-allow.yaml"
run "$CTL" lab apply -f "$EX/20-default-deny.yaml"
run "$CTL" lab apply -f "$EX/30-allow.yaml"

say "3. watch the policy drops in x while z/a tries x/a on 80/TCP"
printf '$ xcnictl --node n1 monitor --verdict denied --namespace x --count 1 &\n'
"$CTL" --node n1 monitor --verdict denied --namespace x --count 1 --timeout-ms 5000 >"$XCNI_LAB_DIR/drop.txt" &
MON=$!
sleep 0.5
run "$CTL" lab probe z/a x/a 80/TCP --timeout-ms 500 || true
wait "$MON" || true
MON=
cat "$XCNI_LAB_DIR/drop.txt"
[ "$(wc -l <"$XCNI_LAB_DIR/drop.txt")" -ge 2 ] || { echo "walkthrough: no drop seen" >&2; exit 1; }
sleep 1.5 # a conntrack walk (every second): the flow record
run "$CTL" flows --node all --from-pod z/a --verdict denied

say "4. why? explain the dropped flow, each side on its pod's node"
run "$CTL" --node all explain z/a x/a 80/TCP

say "5. and the flow that is allowed: which policy and rule let y/b in"
run "$CTL" --node all explain y/b x/a 80/TCP
printf '\n(the rule names port 80 only)\n'
run "$CTL" --node all explain y/b x/a 81/TCP || true

say "6. let z in on 80/TCP; explain now names the new rule, and the probe connects"
cat >"$XCNI_LAB_DIR/allow-z.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-a-from-z, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {ns: z}}}]
      ports: [{protocol: TCP, port: 80}]
YAML
cat "$XCNI_LAB_DIR/allow-z.yaml"
run "$CTL" lab apply -f "$XCNI_LAB_DIR/allow-z.yaml"
printf '$ xcnictl --node all explain z/a x/a 80/TCP -o json   (the ingress side and the verdict)\n'
"$CTL" --node all -o json explain z/a x/a 80/TCP | /usr/bin/python3 -c '
import json, sys
e = json.load(sys.stdin)
print(json.dumps({k: e[k] for k in ("ingress", "ingress_policy", "ingress_rule", "ingress_match", "verdict")}, indent=1))'
run "$CTL" lab probe z/a x/a 80/TCP

say "done: the lab is taken down on exit"
