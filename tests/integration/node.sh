# Sourced by the one-node integration suites (it sources tests/lib.sh): a node netns
# running xcnid, pods attached through the real plugin as a runtime does.
#
#   node_init NAME SUBNET CID [SUBNET6]
#                               NODE (<tag>-node), PIN (/sys/fs/bpf/<tag>), T (scratch
#                               /tmp/xcni-NAME.*), M (manifests), $T/net.json: network
#                               xcni-NAME, host-local on SUBNET.0/24 (and the IPv6 /64
#                               SUBNET6); container IDs CID-<pod>
#   cni COMMAND POD             the plugin in the node, for pod netns <tag>-POD
#   ctl ARGS...                 xcnictl in the node, on its pins
#   node_cleanup POD...         DEL and remove each pod, the agent, the node, the scratch
#   pod_add POD                 netns <tag>-POD, ADD through the plugin ($T/POD.json);
#                               prints the pod's address
#   probe SRC / expect SRC connected|blocked
#                               SRC -> x/a ($IP_A) port 80, whose listener says hello
#                               (a suite with another probe defines its own after)
#   deny_put NAME LABEL         $M/deny.yaml: NetworkPolicy x/NAME, the pods labelled
#                               LABEL ("pod: a") admit nothing
# The growth suites' (ct-grow, map-grow): BG, background PIDs; grow_cleanup POD...
# (them, then node_cleanup); pods_dual POD... (netns and ADD each, exits on a
# failure) then x_pods POD... (Namespace x and the pods, label pod: NAME, both
# families' addresses); addr_of POD 4|6; entries MAP, max_of MAP (pinned maps).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

node_init() {
	NODE=$XCT_TAG-node
	PIN=/sys/fs/bpf/$XCT_TAG
	T=$(mktemp -d "/tmp/xcni-$1.XXXXXX")
	M=$T/manifests
	SUBNET=$2
	CID_PREFIX=$3
	mkdir -p "$M"
	# With SUBNET6: dual stack (host-local range sets, IPv4 first as kubelet
	# writes them), a default route of each family.
	local r='[[{"subnet":"'$SUBNET'.0/24"}]]'
	[ -n "${4:-}" ] && r='[[{"subnet":"'$SUBNET'.0/24"}],[{"subnet":"'$4'"}]],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]'
	cat >"$T/net.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-$1","type":"xcni","stateDir":"$T/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":$r,"dataDir":"$T/ipam"}}
EOT
}
cni() { # cni COMMAND POD
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="$CID_PREFIX-$2" \
		CNI_NETNS="/var/run/netns/$XCT_TAG-$2" CNI_IFNAME=eth0 CNI_PATH="$CNI_REF_DIR" \
		"$XCNI_BIN" <"$T/net.json"
}
pod_add() {
	ip netns add "$XCT_TAG-$1" && ip -n "$XCT_TAG-$1" link set lo up &&
		cni ADD "$1" >"$T/$1.json" || { cat "$T/$1.json" >&2; return 1; }
	jq -r '.ips[0].address' "$T/$1.json" | cut -d/ -f1
}
deny_put() {
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: x}\nspec: {podSelector: {matchLabels: {%s}}}\n' \
		"$1" "$2" | put deny.yaml
}
probe() {
	if ip netns exec "$XCT_TAG-$1" timeout 3 socat -T1 - "TCP:$IP_A:80,connect-timeout=1" \
		</dev/null 2>/dev/null | grep -q hello; then
		echo connected
	else
		echo blocked
	fi
}
expect() {
	local got
	got=$(probe "$1")
	[ "$got" = "$2" ] || { echo "$1 -> x/a: $got, expected $2"; return 1; }
}
ctl() { nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }
node_cleanup() {
	local p
	for p in "$@"; do
		[ -e "/var/run/netns/$XCT_TAG-$p" ] && cni DEL "$p" >/dev/null 2>&1
		ip netns del "$XCT_TAG-$p" 2>/dev/null
	done
	stop_xcnid
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$T"
}
BG=()
grow_cleanup() {
	local p
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
	node_cleanup "$@"
}
pods_dual() {
	local p
	for p in "$@"; do
		ip netns add "$XCT_TAG-$p" && ip -n "$XCT_TAG-$p" link set lo up &&
			cni ADD "$p" >"$T/$p.json" || { not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
	done
}
addr_of() { jq -r --arg f "$2" '.ips[].address | select(contains(":") == ($f == "6"))' "$T/$1.json" | cut -d/ -f1; }
x_pods() {
	local p
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n'
	for p in "$@"; do
		printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: x, labels: {pod: %s}}\n' "$p" "$p"
		printf 'spec: {nodeName: n1}\nstatus: {podIP: %s, podIPs: [{ip: %s}, {ip: "%s"}]}\n' \
			"$(addr_of "$p" 4)" "$(addr_of "$p" 4)" "$(addr_of "$p" 6)"
	done
}
entries() { bpftool -j map dump pinned "$PIN/$1" 2>/dev/null | jq length; }
max_of() { bpftool -j map show pinned "$PIN/$1" | jq .max_entries; }
