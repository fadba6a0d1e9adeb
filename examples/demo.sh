#!/bin/bash
# The main job: a one-node lab cluster made of network namespaces, fed with the
# manifests in examples/lab (namespaces x, y, z; pods a, b, c in each), then a
# default-deny and an allow NetworkPolicy, with the truth table before and
# after and the maps behind one verdict; then a Service reached by name through
# the cluster's DNS and kube-proxy's DNAT, with policy judged on the pod behind it.
#
#   netns xcl-n1 ("the node": xcnid, pinned maps under /sys/fs/bpf/xcni-lab/n1)
#     xc<hash> ──veth── eth0  netns xcl-x.a   x/a  10.244.1.x
#     ...                     (nine pods, each serving 80 and 81, TCP and UDP)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
CTL=$BUILD/xcnictl
EX=examples/lab
export XCNI_LAB_DIR=${XCNI_LAB_DIR:-/run/xcni-lab-demo}
MON=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	[ -n "$MON" ] && kill "$MON" 2>/dev/null
	"$CTL" lab down >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "lab up: one node, its xcnid, the data plane pinned, the cluster's DNS"
"$CTL" lab up --nodes 1 --dns
say "apply namespaces and pods (each pod wired by the real xcni plugin)"
"$CTL" lab apply -f "$EX/00-namespaces.yaml"
"$CTL" lab apply -f "$EX/10-pods.yaml"
"$CTL" lab get

say "truth table on 80/TCP without policy ('.' connected, 'X' blocked)"
"$CTL" lab matrix 80/TCP --timeout-ms 500

say "apply a default-deny for namespace x and one allow"
cat "$EX/20-default-deny.yaml" "$EX/30-allow.yaml"
"$CTL" lab apply -f "$EX/20-default-deny.yaml"
"$CTL" lab apply -f "$EX/30-allow.yaml"

say "truth table on 80/TCP with policy: only y/b gets into x (to x/a)"
"$CTL" lab matrix 80/TCP --timeout-ms 500

PIN=/sys/fs/bpf/xcni-lab/n1
node() { nsenter --net=/run/netns/xcl-n1 "$CTL" --pin-dir "$PIN" "$@"; }
node monitor --timeout-ms 4000 >"$XCNI_LAB_DIR/events" 2>&1 &
MON=$!
sleep 0.3
say "one verdict each way, watched by xcnictl monitor"
printf 'y/b -> x/a 80/TCP: '
"$CTL" lab probe y/b x/a 80/TCP || true
printf 'z/b -> x/a 80/TCP: '
"$CTL" lab probe z/b x/a 80/TCP --timeout-ms 500 || true
wait "$MON" || true
MON=
cat "$XCNI_LAB_DIR/events"

say "the maps behind them: x/a's policy (xcnictl policy get x/a)"
node policy get x/a
say "identities and the ipcache the lookups used"
node identity list
node ipcache list
say "counters"
node metrics

say "a Service: y/web, port 8080 to y/b's serve-80-tcp (kube-proxy's rules on the node)"
cat "$EX/40-service.yaml"
"$CTL" lab apply -f "$EX/40-service.yaml"
"$CTL" lab get | sed -n '/^SERVICE/,$p'
say "x/a resolves web.y through the DNS Service, and reaches it"
"$CTL" lab exec x/a -- getent hosts web.y
printf 'x/a -> svc/y/web 8080/TCP: '
"$CTL" lab probe x/a svc/y/web 8080/TCP || true
say "policy is judged on the pod behind the ClusterIP: y/b may not enter x, but x may reach y/b"
printf 'x/c -> svc/y/web 8080/TCP: '
"$CTL" lab probe x/c svc/y/web 8080/TCP || true
