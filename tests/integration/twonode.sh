# Two node namespaces on one underlay link, each to run xcnid and the real
# plugin (host-local, one range per family), and pods a, c on node 1, b on
# node 2: the part v6ovl.sh (IPv4 underlay) and v6ul.sh (IPv6 underlay) share.
# Sourced after lib.sh with TN_NAME (the suite's name: temp dir, container
# IDs, network name) and TN_NET (the pods' 10.<net>.<n>.0/24 and
# fd00:<net>:<n>::/64); the caller links the nodes and starts the agents.
T=$(mktemp -d /tmp/xcni-$TN_NAME.XXXXXX)
M=$T/manifests
mkdir -p "$M"
PIDS=()
AGENTS=()

node_ns() { echo "$XCT_TAG-n$1"; }
pin() { echo "/sys/fs/bpf/$XCT_TAG-n$1"; }
in_node() { local n=$1; shift; nsenter --net="/var/run/netns/$(node_ns "$n")" "$@"; }
in_pod() { local p=$1; shift; ip netns exec "$XCT_TAG-$p" "$@"; }
ctl_n() { local n=$1; shift; in_node "$n" "$BUILD/xcnictl" --pin-dir "$(pin "$n")" "$@"; }
node_of() { case $1 in a | c) echo 1 ;; b) echo 2 ;; esac; }

cni() { # cni COMMAND POD: the plugin in the pod's node
	local n
	n=$(node_of "$2")
	nsenter --net="/var/run/netns/$(node_ns "$n")" env CNI_COMMAND="$1" \
		CNI_CONTAINERID="$TN_NAME-$2" CNI_NETNS="/var/run/netns/$XCT_TAG-$2" CNI_IFNAME=eth0 \
		CNI_PATH="$CNI_REF_DIR" "$XCNI_BIN" <"$T/net$n.json"
}

cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in a b c; do
		[ -e "/var/run/netns/$XCT_TAG-$p" ] && cni DEL "$p" >/dev/null 2>&1
		ip netns del "$XCT_TAG-$p" 2>/dev/null
	done
	for p in "${AGENTS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${AGENTS[@]}"; do wait "$p" 2>/dev/null; done
	for n in 1 2; do
		ip netns del "$(node_ns "$n")" 2>/dev/null
		rm -rf "$(pin "$n")"
	done
	rm -rf "$T"
}
trap cleanup EXIT

# ---- two nodes on one underlay link ---------------------------------------------
for n in 1 2; do
	ip netns add "$(node_ns "$n")" && ip -n "$(node_ns "$n")" link set lo up ||
		{ not_ok "node netns $n"; finish; exit 1; }
	cat >"$T/net$n.json" <<EOT
{"cniVersion":"1.0.0","name":"xcni-$TN_NAME","type":"xcni","stateDir":"$T/state$n","pinDir":"$(pin "$n")",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.$TN_NET.$n.0/24"}],[{"subnet":"fd00:$TN_NET:$n::/64"}]],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dataDir":"$T/ipam$n"}}
EOT
done
