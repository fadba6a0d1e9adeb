#!/bin/bash
# The main job: a two-node lab cluster made of network namespaces, fed with the
# manifests in examples/lab (namespaces x, y, z; pods a, b, c in each, spread
# over both nodes), then a default-deny and an allow NetworkPolicy, with the
# truth table before and after and the maps behind one verdict; then a Service
# reached by name through the cluster's DNS, translated in BPF by xcnid (the
# lab runs without kube-proxy: --kube-proxy none, the README's recommended
# mode): its frontends (xcnictl service list), the translation in conntrack
# (xcnictl ct list), policy judged on the pod behind it; then the overlay: one probe from a pod on n1 to a
# pod on n2, Geneve-encapsulated in BPF, and each node's tunnels.
#
#   netns xcl-ul: bridge br0 (the underlay switch)
#         │ 192.168.77.1                          │ 192.168.77.2
#   netns xcl-n1 (xcnid, maps under               netns xcl-n2 (the same, .../n2)
#     /sys/fs/bpf/xcni-lab/n1, pods 10.244.1.x)     pods 10.244.2.x
#     xc<hash> ──veth── eth0  netns xcl-<ns>.<pod>  (nine pods, each serving 80
#     ...                                            and 81, TCP and UDP)
#
# The lab stays up when the demo ends (in the default lab directory, so every
# `xcnictl` command finds it as printed), with a list of what to try next;
# `build/xcnictl lab down` takes it down. DEMO_KEEP=0 takes it down at the
# end; a failed demo always does. A lab an earlier demo left is taken down
# first; any other lab that is up stops the demo (it is not the demo's).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
CTL=$BUILD/xcnictl
EX=examples/lab
DIR=${XCNI_LAB_DIR:-/run/xcni-lab}
MON=
# The monitor's output: outside the lab's directory, which lab down removes whole.
EVENTS=$(mktemp)
# xcnictl as the "to explore" list prints it: as typed from this checkout
# (make demo runs here), or the installed one when it is this build.
if cmp -s "$(command -v xcnictl 2>/dev/null || echo /nonexistent)" "$CTL"; then
	SHOW=xcnictl
elif [ "$CTL" = "$PWD/build/xcnictl" ]; then
	SHOW=build/xcnictl
else
	SHOW=$CTL
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok=0
cleanup() {
	[ -n "$MON" ] && kill "$MON" 2>/dev/null
	if [ "$ok" != 1 ] || [ "${DEMO_KEEP:-1}" = 0 ]; then
		"$CTL" lab down >/dev/null 2>&1 || true
	fi
	rm -f "$EVENTS"
}

# demo_lab: the lab that is up holds the demo's pods and nothing else (the
# demo's namespaces, examples/lab's pods, the DNS pod): an earlier demo's.
demo_lab() {
	"$CTL" lab get --json 2>/dev/null | python3 -c '
import json, sys
pods = {p["namespace"] + "/" + p["name"] for p in json.load(sys.stdin)["pods"]}
want = {n + "/" + p for n in "xyz" for p in "abc"} | {"kube-system/dns"}
sys.exit(0 if pods == want else 1)'
}
if "$CTL" lab get >/dev/null 2>&1; then
	if demo_lab; then
		say "the lab an earlier demo left is up: taking it down"
		"$CTL" lab down
	else
		echo "demo: a lab is already up in $DIR, and the demo did not make it: '$SHOW lab down' takes it down" >&2
		exit 1
	fi
fi
trap cleanup EXIT

say "lab up: two nodes, an xcnid each translating Services in BPF (no kube-proxy), Geneve between them, the cluster's DNS"
"$CTL" lab up --nodes 2 --dns --kube-proxy none
say "apply namespaces and pods (each pod wired by the real xcni plugin, on the less loaded node)"
"$CTL" lab apply -f "$EX/00-namespaces.yaml"
"$CTL" lab apply -f "$EX/10-pods.yaml"
"$CTL" lab get
# pod_node NS/POD: the node the pod runs on.
pod_node() {
	"$CTL" lab get --json | python3 -c 'import json,sys; print([p["node"] for p in json.load(sys.stdin)["pods"] if p["namespace"] + "/" + p["name"] == sys.argv[1]][0])' "$1"
}

say "truth table on 80/TCP without policy ('.' connected, D denied, R refused, N no-backend, T timeout)"
"$CTL" lab matrix 80/TCP --timeout-ms 500

say "apply a default-deny for namespace x and one allow"
cat "$EX/20-default-deny.yaml" "$EX/30-allow.yaml"
"$CTL" lab apply -f "$EX/20-default-deny.yaml"
"$CTL" lab apply -f "$EX/30-allow.yaml"

say "truth table on 80/TCP with policy: only y/b gets into x (to x/a)"
"$CTL" lab matrix 80/TCP --timeout-ms 500

# The maps of x/a's node, read in its netns (`lab get` shows the short form, --node).
XA_NODE=$(pod_node x/a)
on() { local n=$1; shift; nsenter --net="/run/netns/xcl-$n" "$CTL" --pin-dir "/sys/fs/bpf/xcni-lab/$n" "$@"; }
node() { on "$XA_NODE" "$@"; }
node monitor --timeout-ms 4000 >"$EVENTS" 2>&1 &
MON=$!
sleep 0.3
say "one verdict each way, watched by xcnictl monitor"
printf 'y/b -> x/a 80/TCP: '
"$CTL" lab probe y/b x/a 80/TCP || true
printf 'z/b -> x/a 80/TCP: '
"$CTL" lab probe z/b x/a 80/TCP --timeout-ms 500 || true
wait "$MON" || true
MON=
cat "$EVENTS"

say "the maps behind them, on x/a's node $XA_NODE: x/a's policy (xcnictl policy get x/a)"
node policy get x/a
say "identities and the ipcache the lookups used"
node identity list
node ipcache list
say "counters"
node metrics

say "a Service: y/web, port 8080 to y/b's serve-80-tcp (translated by xcnid in BPF, no kube-proxy)"
cat "$EX/40-service.yaml"
"$CTL" lab apply -f "$EX/40-service.yaml"
"$CTL" lab get | sed -n '/^SERVICE/,$p'
say "the frontends x/a's node $XA_NODE translates (xcnictl --node $XA_NODE service list)"
node service list
say "x/a resolves web.y through the DNS Service, and reaches it by name"
"$CTL" lab exec x/a -- getent hosts web.y
WEB_IP=$("$CTL" lab exec x/a -- getent hosts web.y | awk '{ print $1; exit }')
YB_IP=$("$CTL" lab get --json | python3 -c 'import json,sys; print([p["ip"] for p in json.load(sys.stdin)["pods"] if p["namespace"] + "/" + p["name"] == "y/b"][0])')
# A connection by name from x/a (its processes run in its node's cgroup): xcnid's
# socket-level load balancing gives the socket y/b at connect, and shows the
# application the ClusterIP as its peer; a flow the socket layer did not
# translate (connected UDP, a process outside the cgroup) is translated per
# packet by from_pod, which keeps the tuple as sent (to the ClusterIP) in
# conntrack beside the translated one.
printf 'x/a -> web.y:8080/TCP: '
"$CTL" lab exec x/a -- python3 -c '
import socket
s = socket.create_connection(("web.y", 8080), timeout=2)
print("connected; its peer is", s.getpeername()[0], "(the ClusterIP)")' || true
say "the translation on $XA_NODE: the socket given y/b ($YB_IP:80) for $WEB_IP:8080 (xcnictl service sockets), and the flow in conntrack (xcnictl ct list)"
node service sockets
node ct list --pod x/a | { grep -E "^PROTO|${YB_IP//./\\.}:" || true; }
say "policy is judged on the pod behind the ClusterIP: y/b may not enter x, but x may reach y/b"
printf 'x/c -> svc/y/web 8080/TCP: '
"$CTL" lab probe x/c svc/y/web 8080/TCP || true

say "the overlay: a pod on n1 reaches a pod on n2 through Geneve, encapsulated in BPF"
# Two pods outside namespace x (no policy there), one on each node.
read -r SRC DST < <("$CTL" lab get --json | python3 -c '
import json, sys
pods = [p for p in json.load(sys.stdin)["pods"] if p["namespace"] in ("y", "z")]
on = lambda n: [p["namespace"] + "/" + p["name"] for p in pods if p["node"] == n][0]
print(on("n1"), on("n2"))')
printf '%s (n1) -> %s (n2) 80/TCP: ' "$SRC" "$DST"
"$CTL" lab probe "$SRC" "$DST" 80/TCP
for n in n1 n2; do
	say "$n's tunnels: the other node, by its underlay address (xcnictl --node $n tunnel list)"
	on "$n" tunnel list
done

# Flow records are on in every xcnid by default (a window of 16384 a node).
sleep 2 # a conntrack walk (every second) after the last connection
say "flows, merged across the nodes: z/b -> x/a denied where x/a's node judged it, the sender's part forwarded (xcnictl flows --node all --from-pod z/b --to-pod x/a --verdict denied)"
"$CTL" flows --node all --from-pod z/b --to-pod x/a --to-port 80 --verdict denied --last 1
say "y/b -> x/a allowed by x/allow-a-from-y-b (xcnictl flows --node all --from-pod y/b --to-pod x/a)"
"$CTL" flows --node all --from-pod y/b --to-pod x/a --to-port 80 --last 1
say "through Service y/web: x/c's connection to y/b, translated on x/c's node (xcnictl flows --node all --service y/web)"
"$CTL" flows --node all --service y/web --from-pod x/c --last 1
say "the same as a map in a browser: xcnictl lab ui, then http://127.0.0.1:9963/"
say "the connectivity test: probe pods on both nodes, every path, drops watched, cleaned up (xcnictl connectivity test)"
"$CTL" connectivity test || true

ok=1
[ "${DEMO_KEEP:-1}" = 0 ] && exit 0
say "the lab stays up: to explore (each command as printed, from this directory)"
cat <<EOF
  $SHOW --node all status                  each node's health, a verdict a node
  $SHOW lab get                            nodes, pods, Services
  $SHOW lab matrix 80/TCP                  the truth table again
  $SHOW lab probe y/b x/a 80/TCP           one probe (connected: x's policy allows y/b)
  $SHOW --node all explain z/b x/a 80/TCP        why: each side of the path on its pod's node
  $SHOW flows --node all --last 10         the last connections, across both nodes
  $SHOW --node $XA_NODE policy get x/a          x/a's policy as its node holds it
  $SHOW lab ui                             the service map: open http://127.0.0.1:9963/
  $SHOW lab down                           take it all down
(make install puts xcnictl on PATH; docs/lab.md says more)
EOF
