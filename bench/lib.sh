# Shared by the benchmarks, sourced once BENCH names the script (messages start
# with it).
#   die MSG / say MSG   an error (exit 1) / a progress line
#   num_in N LO HI      N is a decimal in LO..HI
#   need CMD...         root (the benchmarks make network namespaces and load BPF)
#                       and every CMD on PATH, else die
#   usage               the script's head comment (line 2 on), exit 2
#   opts N SPEC ARGS... the one flag loop: SPEC lists "f:VAR" (-f VALUE sets VAR)
#                       and "f=VAR=VALUE" (-f sets VAR to VALUE); -h, another flag
#                       or other than N arguments left (N "-": any) is usage;
#                       the arguments left are in ARGS
# Sourced first, it sets HERE (bench/), ROOT, BUILD and CC unless the script did.
if [[ -z ${HERE:-} ]]; then
	HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	ROOT=$(dirname "$HERE")
fi
BUILD=${BUILD:-${ROOT:-$HERE/..}/build}
CC=${CC:-gcc}
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
opts() {
	local n=$1 w f g=h opt OPTIND=1
	local -A var val
	for w in $2; do
		f=${w:0:1} w=${w:2}
		var[$f]=${w%%=*}
		if [[ $w == *=* ]]; then g+=$f val[$f]=${w#*=}; else g+=$f:; fi
	done
	shift 2
	while getopts "$g" opt; do
		[[ -n ${var[$opt]:-} ]] || usage
		if [[ -v val[$opt] ]]; then printf -v "${var[$opt]}" %s "${val[$opt]}"; else printf -v "${var[$opt]}" %s "$OPTARG"; fi
	done
	ARGS=("${@:OPTIND}")
	[[ $n == - || ${#ARGS[@]} -eq $n ]] || usage
}
#   tool OUT NAME [CFLAGS...]   bench/NAME.c compiled to OUT, else die
#   wait_listen NETNS PORT PID  a TCP listener on PORT in NETNS within 10 s while
#                               PID lives (1: it died or never listened)
tool() {
	local out=$1 name=$2
	shift 2
	"$CC" -O2 -std=gnu11 -Wall -Wextra -Werror -o "$out" "$HERE/$name.c" "$@" || die "compiling $name failed"
}
wait_listen() {
	local _
	for _ in $(seq 200); do
		ip netns exec "$1" ss -Htln "sport = :$2" | grep -q . && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
#   on_exit CMD...              at exit CMD (errors ignored, the status kept);
#                               INT, TERM and HUP exit 130, 143 and 129
#   cni_teardown DAEMONS PINS   the CNI benchmarks' clean-up: SERVER_PIDS stopped,
#                               every ADDED pod ("NODE POD") deleted by cni, the
#                               processes in array DAEMONS stopped, the dirs in
#                               array PINS, NETNS and any $PREFIX-* netns, TMP gone
on_exit() {
	# shellcheck disable=SC2064 # CMD is fixed now
	trap "rc=\$?; trap '' INT TERM HUP; set +e; $*; exit \$rc" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}
cni_teardown() {
	local -n daemons=$1 pins=$2
	local pid e ns
	for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	for e in "${ADDED[@]}"; do
		# shellcheck disable=SC2086 # "NODE POD"
		cni DEL $e >/dev/null 2>"$TMP/del.err" ||
			{ echo "$BENCH: CNI DEL $e failed:" >&2; cat "$TMP/del.err" >&2; }
	done
	for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${daemons[@]}"; do wait "$pid" 2>/dev/null; done
	for e in "${pins[@]}"; do rm -rf "$e"; done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	# Anything our prefix left behind (e.g. a half-done creation).
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" | head -n 20); do
		ip netns del "$ns" 2>/dev/null
	done
	[[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
}
#   np_services ADDR            manifests: NodePort Services np-rr (NP_PP to
#                               PP_PORT) and np-cr (NP_CR to CR_PORT), one
#                               endpoint each, ADDR on n2
np_services() {
	local sv name vip np port
	for sv in "np-rr 70 $NP_PP $PP_PORT" "np-cr 107 $NP_CR $CR_PORT"; do
		read -r name vip np port <<<"$sv"
		cat <<-Y
		---
		apiVersion: v1
		kind: Service
		metadata: {name: $name, namespace: default}
		spec:
		  type: NodePort
		  clusterIP: 10.96.0.$vip
		  ports: [{port: 80, targetPort: $port, nodePort: $np}]
		---
		apiVersion: discovery.k8s.io/v1
		kind: EndpointSlice
		metadata: {name: $name-1, namespace: default, labels: {kubernetes.io/service-name: $name}}
		addressType: IPv4
		endpoints: [{addresses: ["$1"], nodeName: n2}]
		ports: [{port: $port}]
		Y
	done
}
#   node_ns SETUP; pod_ns SETUP POD   the CNI benchmarks' netns names ($PREFIX-...)
#   cni COMMAND SETUP POD       the real plugin (the script's cni_bin SETUP, its
#                               CNI_PATH cni_path SETUP) from SETUP's node netns,
#                               as a runtime calls it, config $TMP/SETUP.conf
node_ns() { echo "$PREFIX-$1-node"; }
pod_ns() { echo "$PREFIX-$1-$2"; }
cni() {
	timeout 30 nsenter --net="/var/run/netns/$(node_ns "$2")" env \
		CNI_COMMAND="$1" CNI_CONTAINERID="$PREFIX-$2-$3" \
		CNI_NETNS="/var/run/netns/$(pod_ns "$2" "$3")" CNI_IFNAME=eth0 \
		CNI_PATH="$(cni_path "$2")" "$(cni_bin "$2")" <"$TMP/$2.conf"
}
# pin_cpus: ON_CLIENT / ON_SERVER, a command's prefix putting it on CPU 0 / 1
# when PIN_CPUS is set and there are two CPUs; else empty, and PIN_CPUS=0.
pin_cpus() {
	ON_CLIENT=() ON_SERVER=()
	if ((PIN_CPUS)) && (($(nproc) >= 2)); then
		ON_CLIENT=(taskset -c 0) ON_SERVER=(taskset -c 1)
	else
		PIN_CPUS=0
	fi
}
# iperf3_end FILE: "GBPS RETRANSMITS BYTES" of an iperf3 -J result (the received side's
# rate and bytes, the sender's retransmits).
iperf3_end() {
	python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
rx = e["sum_received"]
print("%.3f %d %d" % (rx["bits_per_second"] / 1e9, e["sum_sent"].get("retransmits", 0), rx["bytes"]))' "$1"
}

# peer_round NS ADDR PORT SETUP ROUND: one setup's measures in one round of
# bench/pod-throughput.sh and bench/overlay.sh, from netns NS (each client
# behind ON_CLIENT) to ADDR on IPERF_PORT, PP_PORT and CR_PORT plus PORT:
# iperf3 for SECS, pingpong (PP_N after PP_WARMUP), conn_rate for CR_SECS
# (0: none); with PP_PERF or CR_PERF set, each profiled in one more run. Its
# line goes to $TMP/results.tsv; the bytes iperf3 delivered to PEER_BYTES.
peer_round() {
	local a=$1 ip=$2 port=$3 s=$4 r=$5 gbps retr pp p50 p99 cr crate=0 cp50=0
	timeout $((SECS + 30)) ip netns exec "$a" "${ON_CLIENT[@]}" iperf3 -c "$ip" -p $((IPERF_PORT + port)) \
		-t "$SECS" -J >"$TMP/iperf3.json" 2>&1 ||
		{ cat "$TMP/iperf3.json" >&2; die "$s: iperf3 client failed (round $r)"; }
	read -r gbps retr PEER_BYTES < <(iperf3_end "$TMP/iperf3.json") || true
	[[ $PEER_BYTES =~ ^[0-9]+$ ]] || die "$s: cannot parse iperf3 output (round $r)"
	pp=$(timeout 120 ip netns exec "$a" "${ON_CLIENT[@]}" "$PINGPONG" client -c "$ip" -p $((PP_PORT + port)) \
		-n "$PP_N" -w "$PP_WARMUP" -t 100) || die "$s: pingpong client failed (round $r)"
	p50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$pp")
	p99=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$pp")
	[[ $p50 =~ ^[0-9.]+$ && $p99 =~ ^[0-9.]+$ ]] || die "$s: cannot parse pingpong output: $pp"
	if [[ -n ${PP_PERF:-} ]]; then
		mkdir -p "$PP_PERF"
		timeout 120 ip netns exec "$a" "${ON_CLIENT[@]}" perf record -q -g -o "$PP_PERF/r$r-$s.data" -- \
			"$PINGPONG" client -c "$ip" -p $((PP_PORT + port)) -n "$PP_N" -w "$PP_WARMUP" -t 100 \
			>"$PP_PERF/r$r-$s.pp" 2>&1 || say "$s: the profiled ping-pong failed (round $r)"
	fi
	if ((CR_SECS)); then
		cr=$(timeout $((CR_SECS + 40)) ip netns exec "$a" "${ON_CLIENT[@]}" "$CONN_RATE" client \
			-c "$ip" -p $((CR_PORT + port)) -d "$CR_SECS" -w 1 2>"$TMP/conn.err") ||
			{ cat "$TMP/conn.err" >&2; die "$s: conn_rate client failed (round $r)"; }
		crate=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$cr")
		cp50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$cr")
		[[ $crate =~ ^[0-9.]+$ && $cp50 =~ ^[0-9.]+$ ]] || die "$s: cannot parse conn_rate output: $cr"
		if [[ -n ${CR_PERF:-} ]]; then
			mkdir -p "$CR_PERF"
			timeout $((CR_SECS + 60)) perf record -q ${CR_PERF_ARGS:-} -e cpu-clock -F 20000 -a -o "$CR_PERF/r$r-$s.data" -- \
				ip netns exec "$a" "${ON_CLIENT[@]}" "$CONN_RATE" client -c "$ip" -p $((CR_PORT + port)) \
				-d "$CR_SECS" -w 0 >"$CR_PERF/r$r-$s.cr" 2>&1 || say "$s: the profiled conn_rate failed (round $r)"
		fi
	fi
	printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$gbps" "$retr" "$p50" "$p99" "$crate" "$cp50" >>"$TMP/results.tsv"
	say "round $r/$ROUNDS $s: $gbps Gbit/s (retr $retr), RTT p50 $p50 us, p99 $p99 us, $crate conn/s"
}
# metric_sum REASON: "PACKETS BYTES" of xcnictl --json metrics (stdin), the
# REASON rows summed wherever the print layer nests them.
metric_sum() {
	python3 -c '
import json, sys
def rows(o):
    if isinstance(o, dict):
        if o.get("reason") == sys.argv[1]:
            yield o
        else:
            for v in o.values(): yield from rows(v)
    elif isinstance(o, list):
        for v in o: yield from rows(v)
rs = list(rows(json.load(sys.stdin)))
print(sum(r["packets"] for r in rs), sum(r["bytes"] for r in rs))' "$1"
}
die() { echo "$BENCH: $*" >&2; exit 1; }
say() { echo "$BENCH: $*"; }
num_in() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
need() {
	local c
	((EUID == 0)) || die "must run as root (creates network namespaces, loads BPF)"
	for c in "$@"; do
		command -v "$c" >/dev/null || die "'$c' not found"
	done
}
# lab_lock: /tmp/xcni-test.lock on fd 9, once no lab is up (a lab left up
# by another run would make `lab up` fail: the lock is let go while waiting
# for it to go, up to 30 minutes). lab_unlock lets it go.
lab_lock() {
	local i
	for ((i = 0; i < 180; i++)); do
		exec 9>/tmp/xcni-test.lock
		flock 9
		if ! ip netns list | grep -q '^xcl-' && [[ ! -e /sys/fs/bpf/xcni-lab ]]; then
			return 0
		fi
		((i % 6)) || say "a lab is up (xcl-* netns or /sys/fs/bpf/xcni-lab): waiting for it to go"
		exec 9>&-
		sleep 10
	done
	die "a lab stayed up for 30 minutes"
}
lab_unlock() { exec 9>&-; }
