#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Egress by DNS name, measured (issue 55; docs/decisions/fqdn-in-bpf.md): a
# 2-node dual-stack lab with its DNS (tests/lab/fqdn.sh's), pods fq/a (n1, the
# DNS's node) and fq/b (n2: answers over Geneve), each under an Admin
# ClusterNetworkPolicy accepting api.example.test and denying the outside's /24.
#   race     N loops per pod, one process (bench/fqdn_race.py in the pod's netns):
#            the pod's learned entry for api.example.test's address deleted from
#            its node's xcni_fqdn, the name asked of the DNS Service (UDP), a TCP
#            connect to the answer's address the instant it arrives. Fails are
#            drops (expected 0). The control: 20 connects after the delete without
#            asking, all must fail (else the race measured nothing: exit 1; drops
#            are a figure, exit 0, as bench/README.md's rules say).
#   latency  Q queries per pod for api.example.test, p50/p99 of the answer's round
#            trip without the policies (off: before them, then deleted) and with
#            them (on: the answer read in BPF and learned), R rounds alternating
#            off and on (the machine's drift spread over both), pooled; and, off,
#            fq/a's through a dnsmasq forwarder in pod fq/px on n1 (no cache: a
#            stand-in for a userspace DNS proxy's hop, the design not taken).
# Run in a sandbox of its own (it makes a lab; not in make check):
#
#   BUILD=$PWD/build XCNI_ROOT=$PWD bash tests/sandbox.sh fqdnrace \
#       bash bench/fqdn-race.sh [--quick] [-n N] [-q Q] [-r R] [--kube-proxy none|iptables]
#
# --quick: N=500, Q=500, R=1 (defaults N=10000, Q=2000, R=3). --kube-proxy: the lab's
# default, none (answers read by from_pod / from_overlay); iptables: by to_pod.
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$HERE/build}
BENCH=fqdn-race
N=10000 Q=2000 R=3 KP=none RC=0
cd "$HERE"
. bench/lib.sh
while [ $# -gt 0 ]; do
	case $1 in
	--quick) N=500 Q=500 R=1; shift ;;
	-r) R=$2; shift 2 ;;
	-n) N=$2; shift 2 ;;
	-q) Q=$2; shift 2 ;;
	--kube-proxy) KP=$2; shift 2 ;;
	*) die "usage: $0 [--quick] [-n N] [-q Q] [-r R] [--kube-proxy none|iptables]" ;;
	esac
done
num_in "$N" 1 1000000 || die "-n: '$N' is not a count in 1..1000000"
num_in "$Q" 10 1000000 || die "-q: '$Q' is not a count in 10..1000000"
num_in "$R" 1 100 || die "-r: '$R' is not a count in 1..100"
[[ $KP =~ ^(none|iptables)$ ]] || die "--kube-proxy: '$KP' is not none or iptables"
need python3
. tests/lib.sh
. tests/lab/lib.sh
lab_suite fqdnrace
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
CLIENT=$HERE/bench/fqdn_race.py DNS=10.96.0.10 NAME=api.example.test ADDR=198.51.100.1
declare -A NODE=([a]=n1 [b]=n2)

lab up --kube-proxy "$KP" --nodes 2 --dns --ip-family dual >"$T/up.log" 2>&1 || { cat "$T/up.log"; die "lab up"; }
remember_pids
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: fq}\n'
	fqdn_pod a "${NODE[a]}"
	fqdn_pod b "${NODE[b]}"
	fqdn_pod px n1
} >"$T/pods.yaml"
for p in a b; do
	fqdn_cnp "fq-$p" 10 "$p" "  - {action: Accept, to: [{domainNames: [$NAME]}]}
  - {action: Deny, to: [{networks: [198.51.100.0/24]}]}"
done >"$T/cnp.yaml"
lab apply -f "$T/pods.yaml" >/dev/null || die "lab apply: the pods"
remember_pids
PX=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'px'][0]")
lab exec fq/px -- /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--server=$DNS --user=root --port=53 --cache-size=0 --listen-address="$PX" --bind-interfaces \
	--pid-file="$T/px.pid" --log-facility=- >"$T/px.log" 2>&1 &
MINE+=($!)
wait_until 10 lab exec fq/a -- /usr/bin/python3 "$CLIENT" lat "$PX" "$NAME" 1 >/dev/null ||
	{ cat "$T/px.log"; die "the forwarder in fq/px ($PX) does not answer"; }
MINE+=("$(cat "$T/px.pid")") # dnsmasq itself (lab exec's child), stopped by stop_mine too

# lat PHASE [POD SERVER]: Q round trips per pod (a and b, asking the DNS Service;
# or POD asking SERVER) appended to $T/lat-PHASE-POD.
lat() {
	local p
	for p in ${2:-a b}; do
		lab exec "fq/$p" -- /usr/bin/python3 "$CLIENT" lat "${3:-$DNS}" "$NAME" "$Q" >>"$T/lat-$1-$p" ||
			die "fq/$p: lat: $(tail -3 "$T/lat-$1-$p")"
	done
}
# row PHASE POD: the pooled samples' count, p50, p99.
row() {
	sort -n "$T/lat-$1-$2" | awk -v w="latency fq/$2 (${NODE[$2]}) $1" '{v[NR] = $1}
		END {i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1; split(w, f, " ")
		printf "%-8s %-16s %-10s %8d %8d %8d\n", f[1], f[2] " " f[3], f[4], NR, v[int(NR / 2 + 0.5)], v[i99]}'
}
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine); kube-proxy $KP"
printf '%-8s %-16s %-10s %8s %8s %8s\n' what pod phase n "p50 us" "p99 us"
for ((i = 0; i < R; i++)); do
	((i == 0)) || lab delete -f "$T/cnp.yaml" >/dev/null || die "lab delete: the policies"
	lat off
	lat proxy a "$PX"
	lab apply -f "$T/cnp.yaml" >/dev/null || die "lab apply: the policies"
	lat on
done
for p in a b; do row off "$p"; row on "$p"; done
row proxy a
printf '%-8s %-16s %-10s %8s %8s %8s\n' what pod "" loops fail ms
for p in a b; do
	node=${NODE[$p]}
	pin=$LAB_PINS/$node/xcni_fqdn
	out=$(lab exec "fq/$p" -- /usr/bin/python3 "$CLIENT" race "$DNS" "$NAME" "$N" "$pin" 2>"$T/race-$p.err") ||
		{ cat "$T/race-$p.err"; die "fq/$p: race: $out"; }
	read -r _ n _ fail _ ms <<<"$out"
	printf '%-8s %-16s %-10s %8s %8s %8s\n' race "fq/$p ($node)" "" "$n" "$fail" "$ms"
	head -5 "$T/race-$p.err" | sed 's/^/#   /'
	out=$(lab exec "fq/$p" -- /usr/bin/python3 "$CLIENT" control "$ADDR" 20 "$pin") || die "fq/$p: control: $out"
	read -r _ n _ ok <<<"$out"
	printf '%-8s %-16s %-10s %8s %8s\n' control "fq/$p ($node)" "connected" "$n" "$ok"
	[ "$ok" = 0 ] || { RC=1; echo "# control: connects without asking got through: the race above measured nothing"; }
done
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
stop_mine
lab down >/dev/null
exit "$RC"
