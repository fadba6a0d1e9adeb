# Two node namespaces on one underlay link, each to run xcnid and the real
# plugin (host-local, one range per family), and pods a, c on node 1, b on
# node 2: the part v6ovl.sh (IPv4 underlay) and v6ul.sh (IPv6 underlay) share.
# Sourced after lib.sh with TN_NAME (the suite's name: temp dir, container
# IDs, network name) and TN_NET (the pods' 10.<net>.<n>.0/24 and
# fd00:<net>:<n>::/64); the caller links the nodes (ul0) and starts the
# agents (agent_start). Below the setup, what both suites do with it: Nodes,
# agents, generations (sync2), the pods' ADD, b's servers and the probes.
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

# ---- what both suites do with them ------------------------------------------------
# tn_nodes V4NET V6NET: nodes.yaml, the Nodes n1 and n2 with their podCIDRs of
# both families and the InternalIPs V4NET.<n> and V6NET<n> (an empty one: no
# InternalIP of that family).
tn_nodes() {
	local n a
	for n in 1 2; do
		a=()
		[ -n "$1" ] && a+=("{type: InternalIP, address: $1.$n}")
		[ -n "$2" ] && a+=("{type: InternalIP, address: \"$2$n\"}")
		printf -v a '%s, ' "${a[@]}"
		cat <<EOT
---
apiVersion: v1
kind: Node
metadata: {name: n$n}
spec: {podCIDR: 10.$TN_NET.$n.0/24, podCIDRs: [10.$TN_NET.$n.0/24, "fd00:$TN_NET:$n::/64"]}
status: {addresses: [${a%, }]}
EOT
	done | put nodes.yaml
}

# tn_up V4NET V6NET: ul0 between the nodes with V4NET.<n>/24 (none when
# empty) and V6NET<n>/64; the cluster as both agents read it (tn_nodes,
# Namespace x); both agents started and the Nodes applied, else the suite ends.
tn_up() {
	local n
	ip link add ul0 netns "$(node_ns 1)" type veth peer name ul0 netns "$(node_ns 2)"
	for n in 1 2; do
		[ -z "$1" ] || ip -n "$(node_ns "$n")" addr add "$1.$n/24" dev ul0
		ip -n "$(node_ns "$n")" addr add "$2$n/64" dev ul0 nodad
		ip -n "$(node_ns "$n")" link set ul0 up
	done
	tn_nodes "$1" "$2"
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n' | put ns.yaml
	for n in 1 2; do agent_start "$n" "$T/xcnid$n.log"; done
	check "xcnid on both nodes, overlay on ul0" agents_ready || { finish; exit 1; }
	check "the Nodes applied" sync2
}

# agent_start N LOG [XCNID-ARGS...]: xcnid on node N over the underlay ul0,
# into LOG; its PID joins AGENTS.
agent_start() {
	local n=$1 log=$2
	shift 2
	# Started directly (nsenter execs it): $! is the agent's own PID.
	nsenter --net="/var/run/netns/$(node_ns "$n")" \
		"$BUILD/xcnid" --pin-dir "$(pin "$n")" --node-name "n$n" --manifests "$M" \
		--pod-cidr "10.$TN_NET.$n.0/24" --pod-cidr6 "fd00:$TN_NET:$n::/64" --service-cidr none \
		--no-masquerade --underlay-dev ul0 --xdp-mode off -v "$@" >"$log" 2>&1 &
	AGENTS+=($!)
}
# agents_ready [LOG1 LOG2]: both agents said they are ready (default logs:
# $T/xcnid<n>.log), within 10 s; else their logs.
agents_ready() {
	local l1=${1:-$T/xcnid1.log} l2=${2:-$T/xcnid2.log}
	for _ in $(seq 100); do
		grep -q 'xcnid: ready' "$l1" && grep -q 'xcnid: ready' "$l2" && return 0
		sleep 0.1
	done
	cat "$l1" "$l2"
	return 1
}
GEN=0
sync_all() { # sync_all N...: a new generation, applied by the agents of nodes N...
	local n
	GEN=$((GEN + 1))
	echo "$GEN" >"$M/.tmp-gen" && mv "$M/.tmp-gen" "$M/.xcni-generation"
	for n in "$@"; do
		for _ in $(seq 100); do
			[ "$(ctl_n "$n" config --json 2>/dev/null | jq -r .applied_gen)" -ge "$GEN" ] 2>/dev/null &&
				continue 2
			sleep 0.05
		done
		echo "n$n did not apply generation $GEN"
		return 1
	done
}
sync2() { sync_all 1 2; }

addr_of() { # addr_of POD 4|6
	if [ "$2" = 6 ]; then
		jq -r '.ips[].address | select(contains(":"))' "$T/$1.json" | cut -d/ -f1
	else
		jq -r '.ips[].address | select(contains(":") | not)' "$T/$1.json" | cut -d/ -f1
	fi
}
# pods_add: the pods a, c (n1) and b (n2) through the plugin's ADD (a failure
# ends the suite), A4 A6 B4 B6 C4 C6 their addresses, their Pods in pods.yaml.
pods_add() {
	local p v4 v6
	for p in a b c; do
		ip netns add "$XCT_TAG-$p" && ip -n "$XCT_TAG-$p" link set lo up
		cni ADD "$p" >"$T/$p.json" || { not_ok "ADD $p"; cat "$T/$p.json"; finish; exit 1; }
	done
	A4=$(addr_of a 4) A6=$(addr_of a 6) B4=$(addr_of b 4) B6=$(addr_of b 6)
	C4=$(addr_of c 4) C6=$(addr_of c 6)
	for p in a b c; do
		v4=$(addr_of "$p" 4) v6=$(addr_of "$p" 6)
		cat <<EOT
---
apiVersion: v1
kind: Pod
metadata: {name: $p, namespace: x, labels: {pod: $p}}
spec: {nodeName: n$(node_of "$p")}
status: {podIP: $v4, podIPs: [{ip: $v4}, {ip: "$v6"}]}
EOT
	done | put pods.yaml
}

# serve_b: pod b answers TCP 80 ("hello") and UDP 53 ("pong") in both families.
serve_b() {
	serve_dual "$XCT_TAG-b"
}
tcp() { # tcp SRC-POD|host ADDR: "connected" if ADDR:80 said hello, else "blocked"
	local run=(in_pod "$1") a=$2
	[ "$1" = host ] && run=(in_node 1)
	[[ $a == *:* ]] && a="[$a]"
	if "${run[@]}" timeout 4 socat -T2 - "TCP:$a:80,connect-timeout=2" </dev/null 2>/dev/null | grep -q hello; then
		echo connected
	else
		echo blocked
	fi
}
udp() { # udp SRC-POD ADDR: "answered" if ADDR:53 said pong, else "silent"
	local a=$2
	[[ $a == *:* ]] && a="[$a]"
	if echo ping | in_pod "$1" timeout 4 socat -T2 - "UDP:$a:53" 2>/dev/null | grep -q pong; then
		echo answered
	else
		echo silent
	fi
}
is() { [ "$2" = "$3" ] || { echo "$1: $2, expected $3"; return 1; }; }
# ex_is JQ ARGS...: xcnictl explain ARGS on n1's maps (n2's for the destination)
# makes JQ true; ex_text RE ARGS...: its text has a line matching RE. Else the output.
ex_is() {
	local out
	out=$(ctl_n 1 --pin-dir-dst "$(pin 2)" explain "${@:2}" --json 2>&1) &&
		jq -e "$1" <<<"$out" >/dev/null || { echo "$out"; return 1; }
}
ex_text() {
	local out
	out=$(ctl_n 1 --pin-dir-dst "$(pin 2)" explain "${@:2}" 2>&1) &&
		grep -q "$1" <<<"$out" || { echo "$out"; return 1; }
}

# A process on node 1 sending Geneve (issue 26 item 6): udp_sink.py receivers
# (started in the suite's own shell: their PIDs join PIDS), what they got,
# and n1's drop-geneve-socket count.
sink_start() { # sink_start NAME PORT RUN...: udp_sink.py on PORT under RUN, into $T/NAME.log
	local name=$1 port=$2
	shift 2
	"$@" python3 "$HERE/udp_sink.py" "$port" "$T/$name.log" >"$T/$name.out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do grep -qs listening "$T/$name.out" && return 0; sleep 0.1; done
	return 1
}
sink_got() { sleep 0.5; grep -q " $2\$" "$T/$1.log" 2>/dev/null; } # sink_got NAME PAYLOAD
gsock() { ctl_n 1 metrics --all --json | jq '[.[] | select(.reason == "drop-geneve-socket") | .packets] | add // 0'; }
# geneve_from_host DST WHAT SOCAT-ADDR N2: n1's host socket sends Geneve to
# n2's underlay address DST claiming a -> b:9999 (WHAT names it): b sees
# nothing, n1 counts drop-geneve-socket. Controls: a's own datagram to b:9999
# and n1's plain UDP to n2:9998 (SOCAT-ADDR; N2 names n2 in the check) arrive.
geneve_from_host() {
	local g0 g1
	sink_start b9999 9999 ip netns exec "$XCT_TAG-b"
	sink_start n2-9998 9998 nsenter --net="/var/run/netns/$(node_ns 2)"
	g0=$(gsock)
	# The frame is lab/attack.py's "sock" line (its payload "XT-<tag> ", NUL-padded).
	echo "sock dst=$1 isrc=$A4 idst=$B4 idport=9999 tag=forged-by-n1" |
		in_node 1 python3 "$HERE/../lab/attack.py" - -
	check "n1's host socket: $2: b sees nothing" \
		bash -c "! { sleep 0.5; grep -q ' XT-forged-by-n1 ' '$T/b9999.log' 2>/dev/null; }"
	g1=$(gsock)
	check "  ... counted drop-geneve-socket on n1 (+$((g1 - g0)))" test $((g1 - g0)) -ge 1
	echo legit-from-a | in_pod a socat -u - "UDP:$B4:9999"
	check "  control: a's own datagram to b:9999 arrives" sink_got b9999 legit-from-a
	echo plain-from-n1 | in_node 1 socat -u - "$3"
	check "  control: n1's host socket, plain UDP to $4:9998, arrives" sink_got n2-9998 plain-from-n1
}

# pol_b_from_a: the NetworkPolicy b-from-a (b admits a alone) into pol.yaml.
pol_b_from_a() {
	k_allow b-from-a a b | put pol.yaml
}
