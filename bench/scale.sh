#!/bin/bash
# One xcnid against a simulated cluster: N Nodes, P Pods, Q NetworkPolicies
# (bench/scale_sim.py), served by the test API server (tests/apiwatch/
# apiserver.py, --volatile, events in one chunk) and read through the real
# Kubernetes API backend (--kubeconfig, list in pages then watch).
#
#   netns xcsc<pid> (lo only)
#     apiserver.py   127.0.0.1:6443 HTTPS (test CA, bearer token), :6444 control
#     xcnid --kubeconfig K --node-name node-0000 --pod-cidr 10.64.0.0/24
#                    (pins under /sys/fs/bpf/xcsc<pid>)
#     scale_sim.py churn: creates/deletes pods, changes labels, edits policies,
#                    joins/removes nodes through :6444; reads the pinned maps
#                    (bpf syscall) for each change's latency
#
# Measures: time from xcnid's start to applied_gen > 0 (every map holds the
# listed cluster), the maps grown online meanwhile (a map the cluster does not
# fit is grown by xcnid: each growth's line, its time, and the run's peak
# locked map memory, every map pinned under the pin dir and grow/ summed
# each second), VmRSS/VmHWM after convergence and after churn, entries per
# map, CPU (utime+stime) per second of churn, change -> map entry latency
# p50/p99, map writes per change (xcnid's "generation applied" log lines).
#
#   bash bench/scale.sh [--nodes N] [--pods P] [--policies Q] [--rate R]
#                       [--seconds T] [--json FILE] [--check]
#                       [--services S [--endpoints E]] [--cnp C [--cnp-scope few]]
#                       [--ns-churn]
# --services: S Services with E endpoints each too (scale_sim.py gen), and
# xcnid with --kube-proxy-replacement: convergence is then the Services'
# programming time from empty through the API backend.
# --check: 10 nodes / 1000 pods, short churn, and the agent's identity,
# ipcache and polep counts must equal the simulator's own count, and the
# churn must be followed as deltas (a test suite: exits 1 on a mismatch).
# --cnp C: C ClusterNetworkPolicies in the cluster (served by the API server
# only then), 4% of the churn edits one ("cnp-edit": change -> applied
# generation); --ns-churn: 2% toggles a Namespace label ("ns-label": change ->
# a pod's new identity in ipcache). Latency per kind in churn.latency_ms.
# --cnp-scope few: each ClusterNetworkPolicy's subject is one Namespace (by name), all
# of them a tenth of the Namespaces, where the default ("all": a team's Namespaces)
# covers every Namespace from 8 policies on: a change then reaches a few pods, not all.
# Above 1k pods run it under the machine's lock:
# flock /tmp/xcni-test.lock bash bench/scale.sh ...
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BENCH=scale
. "$HERE/lib.sh"
BUILD=${BUILD:-$ROOT/build}
PY=/usr/bin/python3
SIM=$HERE/scale_sim.py

NODES=10 PODS=1000 POLICIES= RATE=100 SECS=20 JSON= CHECK=0 SERVICES=0 ENDPOINTS=10 CNP= NSCHURN=
CNPSCOPE=
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) NODES=$2; shift ;;
	--pods) PODS=$2; shift ;;
	--policies) POLICIES=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--json) JSON=$2; shift ;;
	--check) CHECK=1 RATE=20 SECS=5 ;;
	--services) SERVICES=$2; shift ;;
	--endpoints) ENDPOINTS=$2; shift ;;
	--cnp) CNP=$2; shift ;;
	--cnp-scope) CNPSCOPE=$2; shift ;;
	--ns-churn) NSCHURN=1 ;;
	*) die "unknown option $1 (see the comment at the top)" ;;
	esac
	shift
done
[ -z "$CNP" ] || num_in "$CNP" 1 1000 || die "--cnp 1..1000"
case $CNPSCOPE in "" | all | few) ;; *) die "--cnp-scope few or all, not '$CNPSCOPE'" ;; esac
num_in "$NODES" 1 4000 && num_in "$PODS" 1 250000 && num_in "$RATE" 1 10000 &&
	num_in "$SECS" 1 3600 || die "--nodes 1..4000, --pods 1..250000, --rate, --seconds: numbers"
need jq openssl nsenter ip "$PY"
# SCALE_RT=1: the API server, xcnid and the simulator run SCHED_FIFO (chrt -f
# 10), so that other work on a shared machine stays out of the latency tail;
# none of them spins (the simulator's watcher sleeps 0.2 ms between looks).
RT=
[ "${SCALE_RT:-0}" = 1 ] && { need chrt; RT="chrt -f 10"; }
[ -x "$BUILD/xcnid" ] || die "build first: make all"

TAG=xcsc$$
NS=$TAG
PIN=/sys/fs/bpf/$TAG
T=$(mktemp -d /tmp/xcni-scale.XXXXXX)
SRV= XPID= MEMW=
cleanup() {
	[ -n "$MEMW" ] && kill "$MEMW" 2>/dev/null && wait "$MEMW" 2>/dev/null
	[ -n "$XPID" ] && kill "$XPID" 2>/dev/null && wait "$XPID" 2>/dev/null
	# XCNID_LOG=FILE: keep the agent's log (-v: one line per generation, and why
	# a generation was compiled or written whole).
	[ -n "${XCNID_LOG:-}" ] && cp "$T/xcnid.log" "$XCNID_LOG"
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN" "$T"
}
trap cleanup EXIT

in_ns() { nsenter --net="/var/run/netns/$NS" "$@"; }
ctl() { "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }
api() { in_ns "$PY" "$ROOT/tests/apiwatch/apiserver.py" ctl 6444 "$@"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
simargs=(--nodes "$NODES" --pods "$PODS" ${POLICIES:+--policies "$POLICIES"} ${CNP:+--cnp "$CNP"}
	${CNPSCOPE:+--cnp-scope "$CNPSCOPE"} ${NSCHURN:+--ns-churn 1})

# ---- the cluster, the server, credentials ----
say "generating $NODES nodes, $PODS pods"
"$PY" "$SIM" gen "${simargs[@]}" --services "$SERVICES" --endpoints "$ENDPOINTS" \
	--state "$T/state.json" >"$T/gen.json" || die "generator failed"
KPR=
[ "$SERVICES" -gt 0 ] && KPR=--kube-proxy-replacement
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.crt" -days 1 -subj "/CN=xcni-scale-ca" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/srv.key" \
		-out "$T/srv.csr" -subj "/CN=kube-apiserver" 2>/dev/null &&
	openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
		-out "$T/srv.crt" -days 1 -extfile <(echo "subjectAltName=IP:127.0.0.1") 2>/dev/null ||
	die "openssl failed"
echo "token-$RANDOM$RANDOM" >"$T/token"
cat >"$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: $(base64 -w0 "$T/ca.crt")}
contexts:
- name: sim
  context: {cluster: sim, user: xcnid}
current-context: sim
users:
- name: xcnid
  user: {tokenFile: token}
EOF
ip netns add "$NS" && ip -n "$NS" link set lo up || die "cannot make netns $NS"
nsenter --net="/var/run/netns/$NS" $RT "$PY" "$ROOT/tests/apiwatch/apiserver.py" serve --port 6443 \
	--ctl-port 6444 --cert "$T/srv.crt" --key "$T/srv.key" --token-file "$T/token" \
	--state "$T/state.json" --volatile >"$T/server.log" 2>&1 &
SRV=$!
for _ in $(seq 600); do api stats >/dev/null 2>&1 && break; sleep 0.1; done
api set '{"split": false}' >/dev/null || { cat "$T/server.log"; die "API server did not start"; }

# ---- start to convergence ----
say "starting xcnid"
t0=$(ms_now)
# The server's CPU before now (loading its state, serialising the lists) is not the list's.
srv_t0=$(cpu_ticks "$SRV")
# XCNID_WRAP: a profiler in front of xcnid (e.g. "valgrind --tool=massif");
# XCNID_ARGS: more options (e.g. "--map-max xcni_ipcache=524288").
# XCNID_CALLGRIND=FILE: xcnid under callgrind, counting only during the churn:
# instructions per event, the same whatever else the machine runs (use a
# smaller cluster and rate: xcnid runs ~50x slower; and --map-max in XCNID_ARGS
# for a map the cluster would grow: a growth execs xcnid again, which valgrind
# refuses).
[ -n "${XCNID_CALLGRIND:-}" ] && rm -f "$XCNID_CALLGRIND" "$XCNID_CALLGRIND".[0-9]* && XCNID_WRAP="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$XCNID_CALLGRIND"
nsenter --net="/var/run/netns/$NS" $RT ${XCNID_WRAP:-} "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.64.0.0/24 \
	--node-name node-0000 --kubeconfig "$T/kubeconfig" -v $KPR ${XCNID_ARGS:-} >"$T/xcnid.log" 2>&1 &
XPID=$!
# The locked map memory each second (bytes_memlock of every map pinned under
# PIN, grow/ too: a growth holds the old map and the new one at once).
while kill -0 "$XPID" 2>/dev/null; do
	bpftool -j -f map show 2>/dev/null | jq --arg p "$PIN/" \
		'[.[] | select(any(.pinned[]?; startswith($p))) | .bytes_memlock] | add // 0'
	sleep 1
done >"$T/memlock" &
MEMW=$!
conv=
for _ in $(seq 6000); do
	kill -0 "$XPID" 2>/dev/null || { tail -20 "$T/xcnid.log"; die "xcnid exited"; }
	cfg=$(ctl config --json 2>/dev/null)
	g=$(jq -r '.applied_gen // 0' <<<"$cfg" 2>/dev/null)
	if [ "${g:-0}" -gt 0 ] 2>/dev/null; then conv=$(($(ms_now) - t0)); break; fi
	# A state the maps cannot hold (see --map-max): the agent says so and applies nothing.
	if [ "$(jq -r '.failed_gen // 0' <<<"$cfg" 2>/dev/null)" -gt 0 ] 2>/dev/null; then
		die "xcnid refused the cluster state: $(jq -r .error <<<"$cfg")"
	fi
	sleep 0.02
done
[ -n "$conv" ] || { tail -20 "$T/xcnid.log"; die "xcnid did not converge in 120 s"; }
# CPU seconds the agent and the API server spent to get there (which one the
# wall-clock time waits for).
conv_cpu_agent=$(cpu_ticks "$XPID") conv_cpu_srv=$(($(cpu_ticks "$SRV") - srv_t0))
# Maps the cluster does not fit are grown (a look every 2 s, an exec each):
# settled once every growth asked is taken over and the new image applied.
asked() { grep -c 'growing it to' "$T/xcnid.log"; }
grown_n() { grep -c 'grew [0-9]* -> [0-9]* entries in' "$T/xcnid.log"; }
applied() { [ "$(ctl config --json 2>/dev/null | jq -r '.applied_gen // 0')" -gt 0 ] 2>/dev/null; }
quiet=0 settled=
for _ in $(seq 600); do
	if [ "$(asked)" -gt "$(grown_n)" ] || ! applied; then quiet=0 settled=; else quiet=$((quiet + 1)); fi
	[ -z "$settled" ] && [ "$quiet" = 1 ] && settled=$(($(ms_now) - t0))
	[ "$quiet" -ge 8 ] && break # 4 s: past the next look (every 2 s)
	sleep 0.5
done
growth=$(sed -n 's/.*xcnid: map \(xcni_[a-z0-9_]*\) grew \([0-9]*\) -> \([0-9]*\) entries in \(-*[0-9]*\) ms.*/{"map":"\1","from":\2,"to":\3,"ms":\4}/p' "$T/xcnid.log" | jq -s .)
jq -r '.[] | "grown online: \(.map) \(.from) -> \(.to) entries in \(.ms) ms"' <<<"$growth" >&2
sleep 2
rss_conv=$(status_kb "$XPID" VmRSS) hwm_conv=$(status_kb "$XPID" VmHWM)

# ---- entries per map ----
counts() { # the agent's view: label identities, pod and other ipcache entries, polep, policy
	ctl ipcache list --json >"$T/ipc.json" && ctl identity list --json >"$T/ids.json" &&
		ctl policy list --json >"$T/pol.json" && ctl config --json >"$T/cfg.json" || return 1
	jq -n --slurpfile ipc "$T/ipc.json" --slurpfile ids "$T/ids.json" \
		--slurpfile pol "$T/pol.json" --slurpfile cfg "$T/cfg.json" '
		$ipc[0] as $ipc | $ids[0] as $ids | $pol[0] as $pol | $cfg[0] as $cfg | {
		identities: ([$ids[] | select((.labels // "") | startswith("k8s:") or startswith("ns:"))] | length),
		pod_ipcache: ([$ipc[] | select((.pod // "") != "" and ((.pod // "") | startswith("reserved") | not))] | length),
		ipcache_total: ($ipc | length),
		isolated_pods: ($pol | length),
		identities_all: $cfg.identities, policies: $cfg.policies,
		policy_pods: $cfg.policy_pods}'
}
mapent() { bpftool map show pinned "$PIN/$1" -j 2>/dev/null | jq -r '.max_entries'; }
nentries() { bpftool map dump pinned "$PIN/$1" -j 2>/dev/null | jq 'length'; }
counts >"$T/counts.json" || die "reading the maps failed"
maps=$(for m in xcni_ipcache xcni_identity xcni_polep xcni_policy xcni_polrange xcni_polcidr \
	xcni_podname xcni_polname; do
	printf '{"map":"%s","entries":%s,"max":%s}\n' "$m" "$(nentries "$m")" "$(mapent "$m")"
done | jq -s .)

rc=0 npass=0 nfail=0
pass() { npass=$((npass + 1)); echo "ok - $*"; }
fail() { nfail=$((nfail + 1)); rc=1; echo "not ok - $*"; }
if [ "$CHECK" = 1 ]; then
	want=$("$PY" "$SIM" count "${simargs[@]}" --node node-0000)
	got=$(cat "$T/counts.json")
	# Independent count (the model) against the agent's maps.
	for f in identities:identities pod_ipcache:pod_ipcache local_pods:policy_pods \
		isolated_pods:isolated_pods policies:policies; do
		w=$(jq -r ".${f%%:*}" <<<"$want") g=$(jq -r ".${f#*:}" <<<"$got")
		if [ "$w" = "$g" ]; then pass "${f#*:}: $g as fed"; else
			fail "${f#*:}: agent $g, simulator ${w}"; fi
	done
	# ipcache: every pod, every node, gateway, world (the node's own address is one of the nodes).
	w=$(($(jq .pod_ipcache <<<"$want") + $(jq .node_ipcache <<<"$want") + 2))
	g=$(jq .ipcache_total <<<"$got")
	if [ "$w" = "$g" ]; then pass "ipcache: $g entries (pods + nodes + gateway + world)"; else
		fail "ipcache: agent $g, simulator $w"; fi
fi

# ---- churn ----
say "converged in $conv ms (growths settled at $settled ms); churn: $RATE events/s for $SECS s"
wl0=$(grep -c 'applied in' "$T/xcnid.log")
c0=$(cpu_ticks "$XPID")
# XCNID_PERF=FILE: perf record xcnid during the churn (where its CPU goes);
# XCNID_PERF_CG="--call-graph dwarf" names the callers of libc's functions too
# (xcnid is built without frame pointers; the default -g loses them).
PERF=
if [ -n "${XCNID_PERF:-}" ]; then
	perf record -q -F 499 ${XCNID_PERF_CG:--g} -p "$XPID" -o "$XCNID_PERF" >/dev/null 2>&1 &
	PERF=$!
fi
[ -n "${XCNID_CALLGRIND:-}" ] && callgrind_control -i on "$XPID" >/dev/null
in_ns $RT "$PY" "$SIM" churn "${simargs[@]}" --ctl 6444 --pin "$PIN" --rate "$RATE" --seconds "$SECS" \
	--out "$T/churn.json" >/dev/null || die "churn failed"
if [ -n "${XCNID_CALLGRIND:-}" ]; then
	# Counted until xcnid has caught up with the churn (its CPU still for 3 s,
	# 10 minutes at most): under callgrind it lags, and a dump at the churn's
	# end would count what it got through, not what the events cost.
	for _ in $(seq 200); do
		t0c=$(cpu_ticks "$XPID")
		sleep 3
		[ $(($(cpu_ticks "$XPID") - t0c)) -le 3 ] && break
	done
	callgrind_control -d "$XPID" >/dev/null && callgrind_control -i off "$XPID" >/dev/null
	ir=$(cat "$XCNID_CALLGRIND".[0-9]* 2>/dev/null | sed -n 's/^summary: //p' | awk '{ s += $1 } END { printf "%.0f", s }')
	echo "scale: callgrind: $ir instructions in the churn and its catch-up," \
		"$(jq -r --argjson ir "$ir" '$ir / .events | floor' "$T/churn.json") per event" >&2
fi
c1=$(cpu_ticks "$XPID")
[ -n "$PERF" ] && kill -INT "$PERF" && wait "$PERF"
sleep 1
rss_churn=$(status_kb "$XPID" VmRSS) hwm=$(status_kb "$XPID" VmHWM)
refused=$(grep -c 'generation [0-9]* not applied' "$T/xcnid.log")
memlock_peak=$(sort -n "$T/memlock" | tail -1) memlock_now=$(tail -1 "$T/memlock")
hz=$(getconf CLK_TCK)
churn=$(cat "$T/churn.json")
secs=$(jq .seconds <<<"$churn")
ev=$(jq .events <<<"$churn")
# Writes: every "generation N applied" line after convergence (pods rewritten,
# entries written, deleted, other map changes), and the compile times. The
# lines are counted among themselves: the log has other lines before them.
grep 'applied in' "$T/xcnid.log" | tail -n +"$((wl0 + 1))" >"$T/gens.log"
writes=$(sed -n 's/.*applied in \([0-9.]*\) ms (compile \([0-9.]*\) ms[^)]*): \([0-9]*\) pods rewritten[^,]*, \([0-9]*\) entries written, \([0-9]*\) deleted, \([0-9]*\) other.*/\1 \2 \3 \4 \5 \6/p' "$T/gens.log" |
	awk -v ev="$ev" '{ n++; ms += $1; c += $2; f += $3; e += $4 + $5; o += $6; if ($1 > mx) mx = $1 }
		END { w = f + e + o; printf "{\"syncs\":%d,\"sync_ms_avg\":%.2f,\"sync_ms_max\":%.1f,\"compile_ms_avg\":%.2f,\"map_writes\":%d,\"writes_per_event\":%.2f,\"polep_writes\":%d,\"policy_entries\":%d,\"cluster_wide\":%d}", n, n ? ms / n : 0, mx, n ? c / n : 0, w, ev ? w / ev : 0, f, e, o }')
# Generations compiled or written whole during the churn, and why (xcnid says).
whole=$(grep -o 'whole \[[^]]*\]' "$T/gens.log" | sed 's/^whole \[//; s/\]$//' | sort | uniq -c |
	awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s{\"n\":%d,\"why\":\"%s\"}", s, n, $0; s = "," }')
writes=$(jq -c --argjson w "[${whole}]" '. + {whole: $w}' <<<"$writes")
if [ "$CHECK" = 1 ]; then
	to=$(jq '[.timeouts[]] | add // 0' <<<"$churn")
	n=$(jq '.latency_ms["all-pod-and-node"].n // 0' <<<"$churn")
	if [ "$to" = 0 ] && [ "$n" -gt 0 ]; then pass "churn: $n changes reached the maps, none timed out"; else
		fail "churn: $to changes never reached the maps"; fi
	# Pod, label, policy and node events are followed as deltas: a whole
	# compile or write in the churn says the incremental path gave up (why: xcnid's).
	nw=$(jq '[.whole[].n] | add // 0' <<<"$writes")
	if [ "$nw" = 0 ]; then pass "churn: every generation a delta, none compiled or written whole"; else
		fail "churn: $nw generations whole: $(jq -c .whole <<<"$writes")"; fi
	counts >"$T/counts2.json"
	w=$(jq .final <<<"$churn") g=$(cat "$T/counts2.json")
	for f in identities pod_ipcache; do
		if [ "$(jq ".$f" <<<"$w")" = "$(jq ".$f" <<<"$g")" ]; then pass "after churn: $f $(jq ".$f" <<<"$g") as fed"
		else fail "after churn: $f agent $(jq ".$f" <<<"$g"), simulator $(jq ".$f" <<<"$w")"; fi
	done
fi

jq -n --argjson gen "$(cat "$T/gen.json")" --argjson counts "$(cat "$T/counts.json")" \
	--argjson maps "$maps" --argjson churn "$churn" --argjson writes "$writes" \
	--arg conv "$conv" --arg rc "$rss_conv" --arg hc "$hwm_conv" --arg rch "$rss_churn" --arg hwm "$hwm" \
	--arg cpu "$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / s }')" \
	--arg ca "$conv_cpu_agent" --arg cs "$conv_cpu_srv" --arg hz "$hz" \
	--argjson growth "$growth" --arg settled "$settled" --arg refused "$refused" \
	--arg mlp "${memlock_peak:-0}" --arg mln "${memlock_now:-0}" \
	--arg rate "$RATE" '{cluster: $gen, converge_ms: ($conv | tonumber),
		grown: $growth, growths_settled_ms: ($settled | tonumber),
		generations_not_applied: ($refused | tonumber),
		locked_map_mib: {peak: (($mlp | tonumber) / 1048576 | . * 10 | round / 10),
				 after_churn: (($mln | tonumber) / 1048576 | . * 10 | round / 10)},
		converge_cpu_s: {agent: (($ca | tonumber) / ($hz | tonumber)),
				 api_server: (($cs | tonumber) / ($hz | tonumber))},
		rss_mib: {converged: (($rc | tonumber) / 1024 | . * 10 | round / 10),
			  peak_at_convergence: (($hc | tonumber) / 1024 | . * 10 | round / 10),
			  after_churn: (($rch | tonumber) / 1024 | . * 10 | round / 10),
			  peak: (($hwm | tonumber) / 1024 | . * 10 | round / 10)},
		counts: $counts, maps: $maps,
		churn: {rate: ($rate | tonumber), events: $churn.events, seconds: $churn.seconds,
			cpu_pct_of_core: ($cpu | tonumber), counts: $churn.counts,
			timeouts: $churn.timeouts, latency_ms: $churn.latency_ms}, writes: $writes}' >"$T/result.json"
[ -n "$JSON" ] && cp "$T/result.json" "$JSON"
cat "$T/result.json"
if [ "$CHECK" = 1 ]; then
	echo "$npass passed, $nfail failed"
fi
exit "$rc"
