#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Request/response latency through a ClusterIP vs the pod IP directly, side by
# side in one run (issue 13: "RR latency p50 through a ClusterIP vs pod IP
# directly: <= 1.05x with socket LB"). See bench/README.md. Must run as root.
#
#   bash bench/svc-rr.sh [-r ROUNDS] [-n N] [-w WARMUP]
#
#   -r  rounds; each round measures every setup once, order rotating (default 5)
#   -n  ping-pong round trips per measurement (default 20000)
#   -w  warm-up round trips, not counted (default 2000)
#
# One node netns running xcnid --kube-proxy-replacement --cgroup-root CG, pods
# a (pingpong server) and b (client) added by the real plugin, a Service whose
# ClusterIP leads to a. Setups, all from b over one TCP connection each:
#   pod        b -> a's pod IP                     (no Service at all)
#   clusterip  b -> ClusterIP, b outside CG        (per-packet translation in tc)
#   socklb     b -> ClusterIP, b inside CG         (socket LB: backend at connect)
set -euo pipefail

BENCH=svc-rr
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
ROUNDS=5
PP_N=20000
PP_WARMUP=2000

opts 0 "r:ROUNDS n:PP_N w:PP_WARMUP" "$@"

num_in "$ROUNDS" 1 50 || die "-r must be 1..50 (got '$ROUNDS')"
num_in "$PP_N" 100 1000000 || die "-n must be 100..1000000 (got '$PP_N')"
num_in "$PP_WARMUP" 0 1000000 || die "-w must be 0..1000000 (got '$PP_WARMUP')"
need ip nsenter timeout taskset jq python3 "$CC"
for b in xcni xcnid xcnictl; do [[ -x $BUILD/$b ]] || die "$BUILD/$b not found (run make first)"; done
CG_MNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[[ -n $CG_MNT ]] || die "no cgroup2 mount: socket LB attaches to a cgroup v2 directory"

TAG=xsr$$
NODE=$TAG-node
PIN=/sys/fs/bpf/$TAG
CG=$CG_MNT/xcni-$TAG
TMP=$(mktemp -d "/tmp/xcni-svc-rr.XXXXXX")
M=$TMP/manifests
VIP=10.96.0.20
PORT=7000
PIDS=()
AGENT=

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in a b; do
		[[ -e /var/run/netns/$TAG-$p ]] && cni DEL "$p" >/dev/null 2>&1
		ip netns del "$TAG-$p" 2>/dev/null || true
	done
	[[ -n $AGENT ]] && { kill "$AGENT" 2>/dev/null; wait "$AGENT" 2>/dev/null; } || true
	ip netns del "$NODE" 2>/dev/null || true
	rm -rf "$PIN" "$TMP"
	[[ -d $CG ]] && rmdir "$CG" 2>/dev/null || true
}
trap cleanup EXIT

cni() { # cni COMMAND POD
	nsenter --net="/var/run/netns/$NODE" env CNI_COMMAND="$1" CNI_CONTAINERID="$TAG-$2" \
		CNI_NETNS="/var/run/netns/$TAG-$2" CNI_IFNAME=eth0 CNI_PATH="$CNI_DIR" \
		"$BUILD/xcni" <"$TMP/net.json"
}
ctl() { nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }

# Client on CPU 0, server on CPU 1, as bench/pod-throughput.sh does.
PIN_CPUS=1 pin_cpus

PINGPONG=$BUILD/pingpong
tool "$PINGPONG" pingpong

mkdir -p "$M" "$CG"
cat >"$TMP/net.json" <<EOF
{"cniVersion":"1.0.0","name":"xcni-$TAG","type":"xcni","stateDir":"$TMP/state","pinDir":"$PIN",
 "ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.0.0/24"}]],"dataDir":"$TMP/ipam"}}
EOF
ip netns add "$NODE"
ip -n "$NODE" link set lo up
nsenter --net="/var/run/netns/$NODE" "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.99.0.0/24 \
	--node-name n1 --manifests "$M" --no-masquerade --kube-proxy-replacement \
	--cgroup-root "$CG" >"$TMP/xcnid.log" 2>&1 &
AGENT=$!
for _ in $(seq 100); do [[ -e $PIN/prog_to_pod ]] && break; sleep 0.1; done
[[ -e $PIN/prog_to_pod ]] || { cat "$TMP/xcnid.log" >&2; die "xcnid did not start"; }
declare -A IP
for p in a b; do
	ip netns add "$TAG-$p"
	ip -n "$TAG-$p" link set lo up
	cni ADD "$p" >"$TMP/$p.json" || { cat "$TMP/$p.json" >&2; die "CNI ADD $p failed"; }
	IP[$p]=$(jq -r '.ips[0].address' "$TMP/$p.json" | cut -d/ -f1)
done
cat >"$M/state.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: rr}}
spec: {nodeName: n1}
status: {podIP: ${IP[a]}}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x}
spec: {nodeName: n1}
status: {podIP: ${IP[b]}}
---
apiVersion: v1
kind: Service
metadata: {name: rr, namespace: x}
spec:
  selector: {app: rr}
  clusterIP: $VIP
  ports: [{port: 80, targetPort: $PORT}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: rr-1, namespace: x, labels: {kubernetes.io/service-name: rr}}
addressType: IPv4
endpoints: [{addresses: ["${IP[a]}"], nodeName: n1}]
ports: [{port: $PORT}]
EOF
echo 1 >"$M/.tmp-gen" && mv "$M/.tmp-gen" "$M/.xcni-generation"
for _ in $(seq 100); do
	[[ $(ctl config --json 2>/dev/null | jq -r .applied_gen) -ge 1 ]] 2>/dev/null && break
	sleep 0.05
done
[[ $(ctl config --json | jq -r .applied_gen) -ge 1 ]] || die "xcnid did not apply the Service"

ip netns exec "$TAG-a" "${ON_SERVER[@]}" "$PINGPONG" server -b "${IP[a]}" -p $PORT \
	>"$TMP/srv.log" 2>&1 &
PIDS+=($!)
sleep 0.3

# run SETUP: one measurement, prints the pingpong line.
run() {
	local dst=${IP[a]} port=$PORT pre=()
	case $1 in
	clusterip) dst=$VIP port=80 ;;
	socklb)
		dst=$VIP port=80
		# The client's process in the cgroup before it makes its socket.
		pre=(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG")
		;;
	esac
	timeout 120 "${pre[@]}" ip netns exec "$TAG-b" "${ON_CLIENT[@]}" "$PINGPONG" client \
		-c "$dst" -p "$port" -n "$PP_N" -w "$PP_WARMUP" -t 100
}

sock_entries() { bpftool map dump pinned "$PIN/xcni_sock_rn" -j | jq length; }
SETUPS=(pod clusterip socklb)
echo -e "round\tsetup\tp50_us\tp99_us" >"$TMP/results.tsv"
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#SETUPS[@]}; i++)); do
		s=${SETUPS[(i + r) % ${#SETUPS[@]}]}
		before=$(sock_entries)
		pp=$(run "$s") || die "$s: pingpong client failed (round $((r + 1)))"
		after=$(sock_entries)
		# The socket LB column must have gone through the hook, the others not.
		if [[ $s == socklb ]]; then
			((after > before)) || die "socklb: no socket translation recorded"
		else
			((after == before)) || die "$s: a socket translation was recorded"
		fi
		p50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$pp")
		p99=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$pp")
		[[ $p50 =~ ^[0-9.]+$ && $p99 =~ ^[0-9.]+$ ]] || die "$s: cannot parse pingpong output: $pp"
		printf '%d\t%s\t%s\t%s\n' $((r + 1)) "$s" "$p50" "$p99" >>"$TMP/results.tsv"
		say "round $((r + 1))/$ROUNDS $s: RTT p50 $p50 us, p99 $p99 us"
	done
done

python3 - "$TMP/results.tsv" "$BUILD/bench-svc-rr.json" "$ROUNDS" "$PP_N" <<'PY'
import csv, json, statistics, sys
tsv, out, rounds, n = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
setups = ["pod", "clusterip", "socklb"]
res = {s: {"p50_us": statistics.median(float(r["p50_us"]) for r in rows if r["setup"] == s),
           "p99_us": statistics.median(float(r["p99_us"]) for r in rows if r["setup"] == s)}
       for s in setups}
print()
print(f"{'setup':<12}{'p50 us':>10}{'p99 us':>10}{'p50 / pod':>12}")
for s in setups:
    print(f"{s:<12}{res[s]['p50_us']:>10.1f}{res[s]['p99_us']:>10.1f}"
          f"{res[s]['p50_us'] / res['pod']['p50_us']:>12.3f}")
ratio = res["socklb"]["p50_us"] / res["pod"]["p50_us"]
met = ratio <= 1.05
print(f"\ntarget: ClusterIP with socket LB p50 <= 1.05x pod IP: {ratio:.3f}x "
      f"({'met' if met else 'NOT met'})")
json.dump({"rounds": int(rounds), "round_trips": int(n), "setups": res,
           "target": {"socklb_p50_over_pod": ratio, "met": met}}, open(out, "w"), indent=1)
print(f"(medians over {rounds} rounds of {n} round trips; {out})")
PY
