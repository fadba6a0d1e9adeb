#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Connections through a ClusterIP with 10, 1k and 10k Services applied through
# the lab (`xcnictl lab apply`), in both kube-proxy modes: new TCP connections
# per second and their p50/p99 (bench/conn_rate.c), beside the same client to
# the server pod's own address. See bench/README.md ("lab-svc"). Must run as
# root; takes /tmp/xcni-test.lock itself around each lab (don't wrap it in flock).
#
#   bash bench/lab-svc.sh [-s SIZES] [-m MODES] [-t SECONDS]
#
#   -s  Service counts, increasing, comma separated (default 10,1000,10000)
#   -m  kube-proxy modes, comma separated: none, iptables (default none,iptables)
#   -t  seconds per measurement (default 3, after 1 s of warm-up)
#
# One node, two pods on it: b/srv (app=srv; conn_rate server on 9000) and
# b/cli. The Services: b/target (port 80 -> 9000, selecting srv) and N-1
# others selecting srv as well (one in eight a NodePort), one manifest applied
# per size (each a superset of the last). Per size, one after the other:
#   pod        cli -> srv's pod address:9000, no Service
#   clusterip  cli -> target's ClusterIP:80 from `lab exec`, in the node's
#              cgroup as the pod's processes are: with --kube-proxy none the
#              socket is translated at connect (xcnid --cgroup-root), under
#              iptables by kube-proxy's rules per connection
#   per-packet (none only) the same from the pod's netns outside that
#              cgroup: from_pod translates every packet
# Every measurement must take every connection (conn_rate fails on any).
#
# Environment: BUILD (default ./build), CC.
set -euo pipefail

BENCH=lab-svc
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNICTL=$BUILD/xcnictl
SIZES=10,1000,10000
MODES=none,iptables
SECS=3

opts 0 "s:SIZES m:MODES t:SECS" "$@"

need python3 flock nsenter "$CC"
[[ -x $XCNICTL && -x $BUILD/xcnid && -x $BUILD/xcni ]] || die "build first (make): $BUILD"
IFS=, read -ra sizes <<<"$SIZES"
IFS=, read -ra modes <<<"$MODES"
for n in "${sizes[@]}"; do num_in "$n" 1 30000 || die "-s: $n is not a count of Services"; done
for m in "${modes[@]}"; do [[ $m == none || $m == iptables ]] || die "-m: $m: none or iptables"; done
num_in "$SECS" 1 600 || die "-t: $SECS is not a number of seconds"

export XCNI_BIN=$BUILD/xcni XCNID_BIN=$BUILD/xcnid
W=$(mktemp -d /tmp/xcni-bench-labsvc.XXXXXX)
export XCNI_LAB_DIR=$W/lab
CONN_RATE=$W/conn_rate
UP=0
SRV_PID=
cleanup() {
	if [[ -n $SRV_PID ]]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
	if ((UP)); then "$XCNICTL" lab down >/dev/null 2>&1 || true; fi
	rm -rf "$W"
}
trap cleanup EXIT
tool "$CONN_RATE" conn_rate

cat >"$W/pods.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: b, labels: {app: srv}}
spec: {nodeName: n1, containers: [{name: s, image: x, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cli, namespace: b}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
EOF
for n in "${sizes[@]}"; do
	python3 - "$n" >"$W/svc-$n.yaml" <<'EOF'
import sys
print("apiVersion: v1\nkind: Service\nmetadata: {name: target, namespace: b}\n"
      "spec: {selector: {app: srv}, ports: [{port: 80, targetPort: 9000}]}")
for i in range(int(sys.argv[1]) - 1):
    t = "NodePort" if i % 8 == 1 else "ClusterIP"
    print(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: f-{i}, namespace: b}}\n"
          f"spec: {{type: {t}, selector: {{app: srv}}, ports: [{{port: 8080, targetPort: 9000}}]}}")
EOF
done

lab_json() { "$XCNICTL" lab get --json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# run LABEL CMD...: one conn_rate client, a row.
run() {
	local label=$1 out
	shift
	out=$("$@" "$CONN_RATE" client -c "$DST" -p "$DPORT" -d "$SECS" -w 1 2>"$W/err") ||
		{ cat "$W/err" >&2; die "$MODE, $N Services, $label: conn_rate client failed"; }
	python3 - "$MODE" "$N" "$label" "$out" <<'EOF'
import sys
mode, n, label, out = sys.argv[1:]
kv = dict(x.split("=") for x in out.split())
print(f"{mode:<9} {n:>6} {label:<11} {float(kv['rate']):>9.0f} {float(kv['p50_us']):>8.1f} {float(kv['p99_us']):>8.1f}")
EOF
}

say "$(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: figures are one run's)"
printf "%-9s %6s %-11s %9s %8s %8s\n" mode svcs to "conn/s" "p50 us" "p99 us"
for MODE in "${modes[@]}"; do
	lab_lock
	UP=1
	"$XCNICTL" lab up --nodes 1 --kube-proxy "$MODE" >"$W/up.log" 2>&1 ||
		{ cat "$W/up.log" >&2; die "lab up --kube-proxy $MODE failed"; }
	"$XCNICTL" lab apply -f "$W/pods.yaml" >/dev/null || die "lab apply of the pods failed"
	SRV_IP=$(lab_json '[p["ip"] for p in d["pods"] if p["name"] == "srv"][0]')
	CLI_NS=$(lab_json '[p["netns"] for p in d["pods"] if p["name"] == "cli"][0]')
	[[ $CLI_NS == /* ]] || CLI_NS=/run/netns/$CLI_NS
	"$XCNICTL" lab exec b/srv -- "$CONN_RATE" server -b 0.0.0.0 -p 9000 >"$W/srv.log" 2>&1 &
	SRV_PID=$!
	for _ in $(seq 50); do
		"$XCNICTL" lab exec b/srv -- ss -Hltn 'sport = :9000' | grep -q . && break
		sleep 0.1
	done
	kill -0 "$SRV_PID" 2>/dev/null || { cat "$W/srv.log" >&2; die "the conn_rate server did not start"; }
	"$XCNICTL" lab exec b/cli -- sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
		net.ipv4.tcp_tw_reuse=1 || die "the client's sysctls"
	for N in "${sizes[@]}"; do
		"$XCNICTL" lab apply -f "$W/svc-$N.yaml" >/dev/null || die "lab apply of $N Services failed"
		CIP=$(lab_json '[s["clusterIP"] for s in d["services"] if s["name"] == "target"][0]')
		DST=$SRV_IP DPORT=9000 run pod "$XCNICTL" lab exec b/cli --
		DST=$CIP DPORT=80 run clusterip "$XCNICTL" lab exec b/cli --
		if [[ $MODE == none ]]; then
			DST=$CIP DPORT=80 run per-packet nsenter --net="$CLI_NS" --
		fi
	done
	kill "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=
	"$XCNICTL" lab down >/dev/null || die "lab down failed"
	UP=0
	lab_unlock
done
