# SPDX-License-Identifier: Apache-2.0
#
# Two xcni nodes on an underlay bridge, once per side, for the benchmarks
# that compare two sides in one run (ab-rr.sh: two trees; flows.sh: two agent
# settings). Sourced after lib.sh; the caller sets TAG, SIDES, TMP, CNI_DIR,
# BIN[SIDE] (the directory of the side's xcni, xcnid, xcnictl) and ON_SERVER
# (pin_cpus), then tn_build each side:
#
#             netns TAG-S-ul: bridge br0 (the underlay)
#              /                                   \
#   TAG-S-n1  ul0 192.168.78.1             TAG-S-n2  ul0 192.168.78.2
#     pods a, b (10.244.1.0/24)              pod c (10.244.2.0/24)
#
# xcnid --xdp-mode generic on each node (Geneve between them).

declare -A IP=() XPID=() # IP[S-POD]: its address; XPID[S-N]: node N's xcnid
PIDS=() ADDED=()

ns() { echo "$TAG-$1-$2"; } # ns SIDE ul|n1|n2|out|a|b|c
pin() { echo "/sys/fs/bpf/$TAG-$1-n$2"; }
node_of() { if [[ $1 == c ]]; then echo 2; else echo 1; fi; }
ctl() { nsenter --net=/run/netns/"$(ns "$1" n"$2")" "${BIN[$1]}/xcnictl" --pin-dir "$(pin "$1" "$2")" "${@:3}"; }
# cni SIDE POD VERB: the side's plugin as a runtime calls it, from its node's netns.
cni() {
	local n
	n=$(node_of "$2")
	nsenter --net=/run/netns/"$(ns "$1" n"$n")" env CNI_COMMAND="$3" CNI_CONTAINERID="$TAG-$1-$2" \
		CNI_NETNS=/run/netns/"$(ns "$1" "$2")" CNI_IFNAME=eth0 CNI_PATH="$CNI_DIR:${BIN[$1]}" \
		timeout 60 "${BIN[$1]}/xcni" <"$TMP/$1-n$n.json"
}

# Every pod deleted through the plugin, every process, netns and pin dir gone.
tn_cleanup() {
	local e s n p
	set +e
	for e in "${ADDED[@]+"${ADDED[@]}"}"; do
		read -r s p <<<"$e"
		cni "$s" "$p" DEL >/dev/null 2>&1
	done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
	for s in "${SIDES[@]}"; do
		for p in a b c out; do ip netns del "$(ns "$s" $p)" 2>/dev/null; done
		for n in 1 2; do
			rm -rf "$(pin "$s" $n)"
			ip netns del "$(ns "$s" n$n)" 2>/dev/null
		done
		ip netns del "$(ns "$s" ul)" 2>/dev/null
	done
	rm -rf "$TMP"
}

serve() { # SIDE POD PORT PROGRAM: a server in the pod, on CPU 1
	local pid
	ip netns exec "$(ns "$1" "$2")" "${ON_SERVER[@]}" "$4" server -b "${IP[$1-$2]}" -p "$3" \
		>"$TMP/$1-$2-$3.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_listen "$(ns "$1" "$2")" "$3" "$pid" || { cat "$TMP/$1-$2-$3.log" >&2; die "$1: $4 server in $2 did not start"; }
}

# tn_build SIDE XCNID_ARG...: the side's underlay and nodes, each agent with
# the args, pods a, b, c added through the plugin, the cluster (the nodes,
# the pods and what tn_more SIDE prints, if the caller defines it) applied on
# both nodes, each with its tunnel to the other; a reaches b and c.
tn_build() {
	local s=$1 man=$TMP/$1-manifests n p res
	shift
	mkdir -p "$man"
	ip netns add "$(ns "$s" ul)"
	ip -n "$(ns "$s" ul)" link add br0 type bridge
	ip -n "$(ns "$s" ul)" link set br0 up
	for n in 1 2; do
		ip netns add "$(ns "$s" n$n)"
		ip -n "$(ns "$s" n$n)" link set lo up
		ip -n "$(ns "$s" ul)" link add p$n type veth peer name ul0 netns "$(ns "$s" n$n)"
		ip -n "$(ns "$s" ul)" link set p$n master br0 up
		ip -n "$(ns "$s" n$n)" addr add 192.168.78.$n/24 dev ul0
		ip -n "$(ns "$s" n$n)" link set ul0 up
		ip netns exec "$(ns "$s" n$n)" sysctl -qw net.ipv4.ip_forward=1
		cat >"$TMP/$s-n$n.json" <<-J
		{"cniVersion":"1.0.0","name":"$TAG","type":"xcni","mtu":1450,"stateDir":"$TMP/$s-state$n",
		 "pinDir":"$(pin "$s" $n)","ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.$n.0/24"}]],
		 "dataDir":"$TMP/$s-ipam$n"}}
		J
		nsenter --net=/run/netns/"$(ns "$s" n$n)" "${BIN[$s]}/xcnid" --pin-dir "$(pin "$s" $n)" \
			--pod-cidr 10.244.$n.0/24 --node-name n$n --manifests "$man" --underlay-dev ul0 \
			--xdp-mode generic "$@" >"$TMP/$s-xcnid$n.log" 2>&1 &
		XPID[$s-$n]=$!
		PIDS+=($!)
	done
	for n in 1 2; do
		for _ in $(seq 100); do [[ -e $(pin "$s" $n)/prog_to_pod ]] && break; sleep 0.1; done
		[[ -e $(pin "$s" $n)/prog_to_pod ]] || { cat "$TMP/$s-xcnid$n.log" >&2; die "$s: xcnid on node $n did not start"; }
	done
	for p in a b c; do
		ip netns add "$(ns "$s" $p)"
		ip -n "$(ns "$s" $p)" link set lo up
		ADDED+=("$s $p")
		res=$(cni "$s" $p ADD 2>"$TMP/add.err") || { cat "$TMP/add.err" >&2; die "$s: CNI ADD $p failed"; }
		IP[$s-$p]=$(jq -r '.ips[0].address' <<<"$res" | cut -d/ -f1)
	done
	{
		for n in 1 2; do
			printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: n%s}\nspec: {podCIDR: 10.244.%s.0/24}\nstatus: {addresses: [{type: InternalIP, address: "192.168.78.%s"}]}\n' $n $n $n
		done
		for p in a b c; do
			printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec: {nodeName: n%s}\nstatus: {podIP: %s}\n' $p "$(node_of $p)" "${IP[$s-$p]}"
		done
		if declare -F tn_more >/dev/null; then tn_more "$s"; fi
	} >"$man/cluster.yaml"
	echo 1 >"$man/.tmp-gen" && mv "$man/.tmp-gen" "$man/.xcni-generation"
	for n in 1 2; do
		for _ in $(seq 100); do
			[[ $(ctl "$s" $n config --json 2>/dev/null | jq -r .applied_gen) -ge 1 ]] 2>/dev/null &&
				[[ $(ctl "$s" $n tunnel list --json | jq length) == 1 ]] && break
			sleep 0.1
		done
		[[ $(ctl "$s" $n tunnel list --json | jq length) == 1 ]] || die "$s: n$n has no tunnel to the other node"
	done
	# conn_rate's client closes first: TIME_WAIT piles up in pod a.
	ip netns exec "$(ns "$s" a)" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
	for p in b c; do
		ip netns exec "$(ns "$s" a)" ping -c 1 -W 2 "${IP[$s-$p]}" >/dev/null || die "$s: a cannot ping $p"
	done
}
