#!/bin/bash
# libcni suite: drives the plugin under test through libcni (the reference
# CNI client library, via tests/libcni/cnitool.go) as the first plugin of a
# chain with the reference `portmap` and `bandwidth` plugins, for two pods:
# ADD, CHECK, pod<->pod traffic, hostPort traffic, DEL (twice, and once more
# with the netns gone), and verifies that the host is left as found.
#
# Environment:
#   LIBCNI_PLUGIN=xcni|ptp  plugin under test (default xcni = $XCNI_BIN;
#                           ptp = $CNI_REF_DIR/ptp, the reference plugin)
#   LIBCNI_HOSTPORT=18080   host port mapped to port 80 of pod 1
#   LIBCNI_TIMEOUT=10       seconds libcni gives each ADD/CHECK/DEL of the chain
#   BUILD, XCNI_BIN, CNI_REF_DIR, XCT_TAG: see tests/lib.sh
#
# Needs root, golang-go, golang-github-appc-cni-dev, containernetworking-plugins,
# iptables, iproute2, iputils-ping; optional: socat (hostPort traffic test),
# nftables (removing a nat table that only portmap created during the run).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

PLUGIN=${LIBCNI_PLUGIN:-xcni}
NET=xcni-libcni
SUBNET=10.99.8.0/24
SUBNET_RE='10\.99\.8\.'
SUBNET_PFX=10.99.8.
HOSTPORT=${LIBCNI_HOSTPORT:-18080}
TOOL_DIR=$BUILD/libcni
TOOL=$TOOL_DIR/cnitool
GOPATH_LIBCNI=${GOPATH_LIBCNI:-/usr/share/gocode}

case $PLUGIN in
xcni) PLUGIN_SRC=$XCNI_BIN; PLUGIN_EXTRA= ;;
ptp) PLUGIN_SRC=$CNI_REF_DIR/ptp; PLUGIN_EXTRA='"ipMasq": false, ' ;;
*) echo "LIBCNI_PLUGIN must be xcni or ptp, not '$PLUGIN'" >&2; exit 2 ;;
esac

diag "libcni suite: plugin under test '$PLUGIN' = $PLUGIN_SRC, tag $XCT_TAG"

# ---------------------------------------------------------------- prerequisites
missing=
[ "$(id -u)" -eq 0 ] || missing="$missing root"
for c in go ip tc iptables iptables-save ip6tables-save ping sha512sum; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -d "$GOPATH_LIBCNI/src/github.com/containernetworking/cni/libcni" ] ||
	missing="$missing golang-github-appc-cni-dev"
for p in portmap bandwidth host-local; do
	[ -x "$CNI_REF_DIR/$p" ] || missing="$missing $CNI_REF_DIR/$p"
done
[ -x "$PLUGIN_SRC" ] || missing="$missing $PLUGIN_SRC"
if [ -n "$missing" ]; then
	not_ok "prerequisites present (missing:$missing)"
	finish
	exit
fi
ok "prerequisites present"
HAVE_SOCAT=0; command -v socat >/dev/null 2>&1 && HAVE_SOCAT=1
HAVE_NFT=0; command -v nft >/dev/null 2>&1 && HAVE_NFT=1

# ---------------------------------------------------------------- state & cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/$XCT_TAG-libcni.XXXXXX")
NS=("$XCT_TAG-lc1" "$XCT_TAG-lc2")
CID=("$XCT_TAG-pod1" "$XCT_TAG-pod2")
IFNAME=eth0
LISTENER_PID=
IFB_PROBE=${XCT_TAG}ifbp
export CNI_PATH=$TMP/bin:$CNI_REF_DIR
export CNI_CACHE_DIR=$TMP/cache
export CNI_TIMEOUT=${LIBCNI_TIMEOUT:-10} # seconds per libcni operation (a hung plugin is killed)
unset CNI_PORTMAP CNI_BANDWIDTH CNI_ARGS

# hash as portmap/bandwidth compute it: hex(sha512(network name + container id))
cni_hash() { printf '%s' "$NET$1" | sha512sum | cut -c1-"$2"; }
DN_CHAIN=() SN_CHAIN=() IFB_NAME=()
for i in 0 1; do
	DN_CHAIN[i]=CNI-DN-$(cni_hash "${CID[i]}" 21)
	SN_CHAIN[i]=CNI-SN-$(cni_hash "${CID[i]}" 21)
	IFB_NAME[i]=bwp$(cni_hash "${CID[i]}" 12)
done

table_exists() { "$1-save" 2>/dev/null | grep -q "^\*$2\$"; }
chain_exists() { table_exists "$1" nat && "$1-save" -t nat 2>/dev/null | grep -q "^:$2 "; }
nat_empty() { ! "$1-save" -t nat 2>/dev/null | grep -qE '^(-A |:[^ ]+ - )'; }

# What the run may change on the host, normalised (no counters, no comments).
host_state() {
	echo "## netns"; ip netns list 2>/dev/null | awk '{print $1}' | sort
	echo "## links"; ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort
	for fam in iptables ip6tables; do
		echo "## $fam"
		"$fam-save" 2>/dev/null | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//'
	done
	echo "## ip_forward $(sysctl -n net.ipv4.ip_forward)"
}
host_state >"$TMP/state.before"
FWD_BEFORE=$(sysctl -n net.ipv4.ip_forward)
declare -A HAD_NAT HAD_TOP
for fam in iptables ip6tables; do
	table_exists "$fam" nat && HAD_NAT[$fam]=1 || HAD_NAT[$fam]=0
	chain_exists "$fam" CNI-HOSTPORT-DNAT && HAD_TOP[$fam]=1 || HAD_TOP[$fam]=0
done

# Remove what portmap creates for this network/container ids, and portmap's
# top-level chains / the nat table only when they did not exist before the
# run and nothing else uses them now.
clean_iptables() {
	local fam chain rule c
	for fam in iptables ip6tables; do
		table_exists "$fam" nat || continue
		for chain in "${DN_CHAIN[@]}" "${SN_CHAIN[@]}"; do
			chain_exists "$fam" "$chain" || continue
			for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SNAT PREROUTING OUTPUT POSTROUTING; do
				"$fam" -t nat -S "$c" 2>/dev/null | grep -- "-j $chain\$" |
					while IFS= read -r rule; do
						eval "\"$fam\" -t nat -D ${rule#-A }" 2>/dev/null
					done
			done
			"$fam" -t nat -F "$chain" 2>/dev/null
			"$fam" -t nat -X "$chain" 2>/dev/null
		done
		if [ "${HAD_TOP[$fam]}" = 0 ] && chain_exists "$fam" CNI-HOSTPORT-DNAT &&
			! "$fam" -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null | grep -q '^-A'; then
			for c in PREROUTING OUTPUT POSTROUTING; do
				"$fam" -t nat -S "$c" 2>/dev/null | grep -E -- '-j CNI-HOSTPORT-(DNAT|MASQ|SNAT)$' |
					while IFS= read -r rule; do
						eval "\"$fam\" -t nat -D ${rule#-A }" 2>/dev/null
					done
			done
			for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
				chain_exists "$fam" "$c" || continue
				"$fam" -t nat -F "$c" 2>/dev/null
				"$fam" -t nat -X "$c" 2>/dev/null
			done
		fi
		if [ "${HAD_NAT[$fam]}" = 0 ] && nat_empty "$fam"; then
			if [ $HAVE_NFT = 1 ]; then
				[ "$fam" = iptables ] && nft delete table ip nat 2>/dev/null
				[ "$fam" = ip6tables ] && nft delete table ip6 nat 2>/dev/null
			else
				diag "nft missing: cannot delete the empty '$fam' nat table portmap created"
			fi
		fi
	done
}

cleanup() {
	stop_xcnid
	set +e
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null && wait "$LISTENER_PID" 2>/dev/null
	local i l
	for i in 0 1; do
		# an interrupted run: let the plugins undo what they did first
		if [ -e "$CNI_CACHE_DIR/results/$NET-${CID[i]}-$IFNAME" ]; then
			pod_tool "$i" del >/dev/null 2>&1 # bounded by CNI_TIMEOUT
		fi
		ip netns del "${NS[i]}" 2>/dev/null
	done
	for l in $(cat "$TMP"/hostifs.* 2>/dev/null) "${IFB_NAME[@]}" "$IFB_PROBE"; do
		ip link show dev "$l" >/dev/null 2>&1 && ip link del dev "$l" 2>/dev/null
	done
	clean_iptables
	[ "$(sysctl -n net.ipv4.ip_forward)" = "$FWD_BEFORE" ] ||
		sysctl -qw net.ipv4.ip_forward="$FWD_BEFORE"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build the tool
build_tool() {
	mkdir -p "$TOOL_DIR" || return 1
	if [ -x "$TOOL" ] && [ "$TOOL" -nt "$HERE/cnitool.go" ]; then return 0; fi
	(cd "$HERE" && GOPATH=$GOPATH_LIBCNI GO111MODULE=off GOPROXY=off GOFLAGS='' \
		GOCACHE=$TOOL_DIR/gocache CGO_ENABLED=0 \
		timeout 150 go build -o "$TOOL.tmp" cnitool.go) && mv -f "$TOOL.tmp" "$TOOL"
}
check "build cnitool against libcni (GOPATH mode, offline) into $TOOL" build_tool
if [ ! -x "$TOOL" ]; then finish; exit; fi

# ---------------------------------------------------------------- config
mkdir -p "$TMP/bin" "$TMP/cache"
ln -s "$PLUGIN_SRC" "$TMP/bin/xcni"

# bandwidth: ingress shaping (tbf on the host-side interface) always;
# egress shaping needs an ifb device, so only when the kernel can make one.
BW='"ingressRate": 100000000, "ingressBurst": 1000000'
BW_EGRESS=0
if ip link add name "$IFB_PROBE" type ifb 2>/dev/null; then
	ip link del dev "$IFB_PROBE"
	BW="$BW"', "egressRate": 100000000, "egressBurst": 1000000'
	BW_EGRESS=1
else
	diag "kernel cannot create ifb devices: bandwidth egress shaping not tested"
fi

cat >"$TMP/net.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    { "type": "xcni", "mtu": 1400, $PLUGIN_EXTRA"stateDir": "$TMP/xcni-state", "pinDir": "/sys/fs/bpf/$XCT_TAG",
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET" }]],
                "dataDir": "$TMP/ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "bandwidth", $BW }
  ]
}
EOF
CONF=$TMP/net.conflist
if [ "$PLUGIN" = xcni ]; then
	check "xcnid started for this suite (pins under /sys/fs/bpf/$XCT_TAG)" \
		start_xcnid "/sys/fs/bpf/$XCT_TAG" --pod-cidr "$SUBNET" --no-masquerade
fi

check "validate: every plugin of the chain supports cniVersion 1.0.0" "$TOOL" validate "$CONF"

# ---------------------------------------------------------------- ADD
for i in 0 1; do ip netns add "${NS[i]}"; done
# shellcheck disable=SC2089 # JSON text, not shell words
PORTMAP_JSON="[{\"hostPort\":$HOSTPORT,\"containerPort\":80,\"protocol\":\"tcp\"}]"
# pod_tool I add|check|del: like a runtime, pass pod1's port mappings (the
# portMappings capability) on every operation, pod2 has none.
pod_tool() {
	local i=$1 cmd=$2 pm=
	[ "$i" = 0 ] && pm=$PORTMAP_JSON
	# shellcheck disable=SC2090
	CNI_PORTMAP=$pm "$TOOL" "$cmd" "$CONF" "/var/run/netns/${NS[i]}" "${CID[i]}" "$IFNAME"
}
pod_tool_no6() { PATH=$TMP/no-ip6tables pod_tool "$@"; }

declare -a POD_IP POD_CIDR HOST_IF
add_pod() {
	local i=$1 out rc
	out=$(pod_tool "$i" add 2>&1)
	rc=$?
	printf '%s\n' "$out" >"$TMP/result.$i"
	"$TOOL" summary "$TMP/result.$i" 2>/dev/null | awk '$1 == "if" && $5 == "-" {print $3}' >"$TMP/hostifs.$i"
	[ $rc -eq 0 ] || { printf '%s\n' "$out"; return 1; }
}
for i in 0 1; do
	check "add pod$((i + 1)) (${CID[i]}) through libcni AddNetworkList" add_pod "$i"
done
# shellcheck disable=SC2317
result_ok() {
	local i=$1 s podidx
	s=$("$TOOL" summary "$TMP/result.$i") || return 1
	printf '%s\n' "$s"
	grep -qx 'cniVersion 1.0.0' <<<"$s" || { echo "result cniVersion is not 1.0.0"; return 1; }
	podidx=$(awk -v ns="/var/run/netns/${NS[i]}" -v ifn="$IFNAME" \
		'$1 == "if" && $3 == ifn && $5 == ns {print $2; exit}' <<<"$s")
	[ -n "$podidx" ] || { echo "no interface $IFNAME with sandbox /var/run/netns/${NS[i]}"; return 1; }
	awk '$1 == "if" && $5 == "-"' <<<"$s" | grep -q . || { echo "no host-side interface in the result"; return 1; }
	awk -v p="$SUBNET_PFX" -v idx="$podidx" \
		'$1 == "ip" && index($2, p) == 1 && $4 == idx {f = 1} END {exit !f}' <<<"$s" ||
		{ echo "no $SUBNET address on interface index $podidx"; return 1; }
}
for i in 0 1; do
	POD_CIDR[i]=$("$TOOL" summary "$TMP/result.$i" 2>/dev/null | awk -v p="$SUBNET_PFX" '$1 == "ip" && index($2, p) == 1 {print $2; exit}')
	POD_IP[i]=${POD_CIDR[i]%/*}
	HOST_IF[i]=$(head -n1 "$TMP/hostifs.$i" 2>/dev/null)
	check "pod$((i + 1)) result: cniVersion 1.0.0, $IFNAME in its netns, an address in $SUBNET, a host-side interface" result_ok "$i"
	diag "pod$((i + 1)): ip ${POD_CIDR[i]:-?} host-if ${HOST_IF[i]:-?}"
done

pod_if_ok() {
	local i=$1 a
	a=$(ip -n "${NS[i]}" -o addr show dev "$IFNAME" 2>&1) || { echo "$a"; return 1; }
	grep -q "inet ${POD_CIDR[i]} " <<<"$a" || { echo "$a"; return 1; }
	ip -n "${NS[i]}" link show dev "$IFNAME" | grep -q 'mtu 1400 .*state UP' ||
		{ ip -n "${NS[i]}" link show dev "$IFNAME"; return 1; }
}
for i in 0 1; do
	check "pod$((i + 1)): $IFNAME is up with ${POD_CIDR[i]:-?} and mtu 1400" pod_if_ok "$i"
done

state_files() {
	local i=$1
	[ -e "$TMP/ipam/$NET/${POD_IP[i]}" ] || { echo "no host-local lease $TMP/ipam/$NET/${POD_IP[i]}"; return 1; }
	[ -e "$CNI_CACHE_DIR/results/$NET-${CID[i]}-$IFNAME" ] || { echo "no libcni cache entry"; return 1; }
}
for i in 0 1; do
	check "pod$((i + 1)): host-local lease and libcni cache entry exist" state_files "$i"
done

# ---------------------------------------------------------------- chained plugins saw prevResult
portmap_ok() {
	local s
	s=$(iptables-save -t nat 2>&1)
	if grep -qE -- "^-A ${DN_CHAIN[0]} .*--dport $HOSTPORT .*-j DNAT --to-destination ${POD_IP[0]}:80\$" <<<"$s" &&
		grep -qE -- "^-A CNI-HOSTPORT-DNAT .*id: \\\\\"${CID[0]}\\\\\".* -j ${DN_CHAIN[0]}\$" <<<"$s"; then
		return 0
	fi
	printf '%s\n' "$s" | grep -E 'CNI-|^\*'
	return 1
}
check "portmap (prevResult from $PLUGIN): chain ${DN_CHAIN[0]} DNATs :$HOSTPORT to ${POD_IP[0]:-?}:80" portmap_ok
check_fails "portmap: no chain for pod2 (no portMappings passed)" chain_exists iptables "${DN_CHAIN[1]}"

bw_ok() {
	local i=$1 q
	[ -n "${HOST_IF[i]}" ] || { echo "no host interface"; return 1; }
	q=$(tc qdisc show dev "${HOST_IF[i]}" 2>&1)
	grep -q '^qdisc tbf .* root .*rate 100Mbit' <<<"$q" || { echo "$q"; return 1; }
	if [ $BW_EGRESS = 1 ]; then
		q=$(tc qdisc show dev "${IFB_NAME[i]}" 2>&1)
		grep -q '^qdisc tbf .* root .*rate 100Mbit' <<<"$q" || { echo "${IFB_NAME[i]}: $q"; return 1; }
		q=$(tc filter show dev "${HOST_IF[i]}" parent ffff: 2>&1)
		grep -q "Egress Redirect to device ${IFB_NAME[i]}" <<<"$q" || { echo "$q"; return 1; }
	fi
}
bw_what="tbf qdisc on the host-side interface"
[ $BW_EGRESS = 1 ] && bw_what="$bw_what, tbf on ifb bwp<hash> fed by an ingress redirect"
for i in 0 1; do
	check "bandwidth (prevResult from $PLUGIN), pod$((i + 1)): $bw_what" bw_ok "$i"
done

# ---------------------------------------------------------------- CHECK
# portmap <= 1.2.0 fails CHECK for IPv4-only pods whenever ip6tables exists
# (containernetworking/plugins#819: it looks for the per-container chain in
# ip6tables too). If exactly that happens, CHECK is retried with ip6tables
# hidden from the plugins' PATH.
mkdir -p "$TMP/no-ip6tables"
for f in /usr/sbin/* /usr/bin/*; do
	case ${f##*/} in ip6tables*) continue ;; esac
	[ -e "$TMP/no-ip6tables/${f##*/}" ] || ln -s "$f" "$TMP/no-ip6tables/${f##*/}"
done
cni_check() {
	local i=$1 out
	out=$(pod_tool "$i" check 2>&1) && return 0
	if grep -q 'could not check ipv6 dnat' <<<"$out"; then
		echo "# portmap#819 ($out); retrying with ip6tables hidden" >&3
		out=$(pod_tool_no6 "$i" check 2>&1) && return 0
	fi
	printf '%s\n' "$out"
	return 1
}
for i in 0 1; do
	check "check pod$((i + 1)) through libcni CheckNetworkList" cni_check "$i" 3>&1
done

# ---------------------------------------------------------------- traffic
ping_pod() {
	ip netns exec "${NS[$1]}" ping -c1 -W2 "${POD_IP[$2]}"
}
check "pod1 -> pod2 (${POD_IP[1]:-?}) ping" ping_pod 0 1
check "pod2 -> pod1 (${POD_IP[0]:-?}) ping" ping_pod 1 0

hostport_ok() {
	local dst=$1 got
	got=$(timeout 5 socat -T3 - "TCP:$dst:$HOSTPORT,connect-timeout=3" </dev/null 2>&1)
	[ "$got" = "hello-from-${CID[0]}" ] || { echo "got: '$got'"; return 1; }
}
if [ $HAVE_SOCAT = 1 ] && [ -n "${POD_IP[0]}" ]; then
	ip netns exec "${NS[0]}" timeout 30 socat -T5 TCP-LISTEN:80,reuseaddr,fork \
		SYSTEM:"echo hello-from-${CID[0]}" >/dev/null 2>&1 &
	LISTENER_PID=$!
	for _ in $(seq 30); do
		ip netns exec "${NS[0]}" ss -Hltn 'sport = :80' 2>/dev/null | grep -q . && break
		sleep 0.1
	done
	GW=$("$TOOL" summary "$TMP/result.0" 2>/dev/null | awk '$1 == "ip" && $3 != "-" {print $3; exit}')
	check "hostPort: host 127.0.0.1:$HOSTPORT reaches the listener in pod1 (portmap DNAT+SNAT)" hostport_ok 127.0.0.1
	if [ -n "$GW" ] && ip -o addr show | grep -q "inet $GW/"; then
		check "hostPort: host address $GW:$HOSTPORT reaches the listener in pod1" hostport_ok "$GW"
	else
		diag "pod1 gateway '${GW:-none}' is not a host address: gateway hostPort test skipped"
	fi
	kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null; LISTENER_PID=
else
	diag "socat missing: hostPort traffic not tested"
fi

# must_fail "description" command...: like check_fails, but shows why it failed.
must_fail() {
	local what=$1 out; shift
	if out=$("$@" 2>&1); then
		not_ok "$what (unexpectedly succeeded)"
	else
		ok "$what"
		diag "  ($(printf '%s' "$out" | head -n1 | cut -c1-200))"
	fi
}

# ---------------------------------------------------------------- CHECK must notice damage
damage_pod2() { ip -n "${NS[1]}" addr del "${POD_CIDR[1]}" dev "$IFNAME"; }
if [ -n "${POD_CIDR[1]}" ] && damage_pod2 2>/dev/null; then
	must_fail "check pod2 fails after its address was removed" pod_tool_no6 1 check
fi

# ---------------------------------------------------------------- DEL
cni_del() { pod_tool "$1" del; }
for i in 0 1; do
	check "del pod$((i + 1)) through libcni DelNetworkList" cni_del "$i"
done

gone_ok() {
	local i=$1 bad=
	[ -e "$TMP/ipam/$NET/${POD_IP[i]}" ] && bad="$bad lease"
	[ -e "$CNI_CACHE_DIR/results/$NET-${CID[i]}-$IFNAME" ] && bad="$bad libcni-cache"
	iptables-save 2>/dev/null | grep -qE -- "${DN_CHAIN[i]}|id: \\\\\"${CID[i]}\\\\\"|${POD_IP[i]:-none}:" &&
		bad="$bad iptables"
	ip6tables-save 2>/dev/null | grep -qE -- "${DN_CHAIN[i]}|id: \\\\\"${CID[i]}\\\\\"" && bad="$bad ip6tables"
	local l
	for l in $(cat "$TMP/hostifs.$i" 2>/dev/null) "${IFB_NAME[i]}"; do
		ip link show dev "$l" >/dev/null 2>&1 && bad="$bad link:$l"
	done
	ip -n "${NS[i]}" link show dev "$IFNAME" >/dev/null 2>&1 && bad="$bad pod-$IFNAME"
	[ -z "$bad" ] || { echo "left over:$bad"; iptables-save 2>/dev/null | grep CNI-; return 1; }
}
for i in 0 1; do
	check "pod$((i + 1)) after del: lease, cache, iptables rules, host links, pod $IFNAME gone" gone_ok "$i"
done
must_fail "check pod1 fails after del" pod_tool_no6 0 check
for i in 0 1; do
	check "del pod$((i + 1)) again succeeds (idempotent)" cni_del "$i"
done
for i in 0 1; do ip netns del "${NS[i]}" 2>/dev/null; done
for i in 0 1; do
	check "del pod$((i + 1)) with its netns gone succeeds" cni_del "$i"
done

# ---------------------------------------------------------------- host as found
cleanup_shared() {
	clean_iptables
	[ "$(sysctl -n net.ipv4.ip_forward)" = "$FWD_BEFORE" ] ||
		sysctl -qw net.ipv4.ip_forward="$FWD_BEFORE"
}
cleanup_shared
host_state >"$TMP/state.after"
host_ok() {
	local d ours foreign re
	d=$(diff "$TMP/state.before" "$TMP/state.after" | grep -E '^[<>] ')
	[ -z "$d" ] && return 0
	re="$XCT_TAG|$SUBNET_RE|$NET|CNI-|bwp|^. ## ip_forward"
	for l in $(cat "$TMP"/hostifs.* 2>/dev/null); do re="$re|^. $l\$"; done
	ours=$(grep -E -- "$re" <<<"$d")
	foreign=$(grep -vE -- "$re" <<<"$d")
	if [ -n "$foreign" ]; then
		echo "# $(wc -l <<<"$foreign") host state line(s) changed meanwhile by something else, e.g.:" >&3
		printf '%s\n' "$foreign" | head -n 5 | sed 's/^/#   /' >&3
	fi
	[ -z "$ours" ] || { printf '%s\n' "$ours"; return 1; }
}
check "host as found: netns, links, iptables/ip6tables, ip_forward (compared with the start)" host_ok 3>&1

finish
