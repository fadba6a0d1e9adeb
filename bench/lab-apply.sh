#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# lab apply / delete of N Services, end to end, in both kube-proxy modes, on a
# tmpfs state directory and on the lab's default one, with what the agents
# spent beside it. See bench/README.md ("lab-apply"). Must run as root; takes
# /tmp/xcni-test.lock itself around each lab (don't wrap it in flock).
#
#   bash bench/lab-apply.sh [-s SIZES] [-m MODES] [-d DIRS]
#
#   -s  Service counts, comma separated (default 1000,5000,10000)
#   -m  kube-proxy modes, comma separated: none, iptables (default none,iptables)
#   -d  state directories, comma separated: tmpfs (a tmpfs mounted for the run),
#       default (the lab's default, /run/xcni-lab) (default tmpfs,default)
#
# Per mode and directory: a two-node lab, two pods app=w (one per node), then
# per size one manifest of N Services selecting them (one in eight a NodePort):
# `lab apply -f` (time end to end), the same again (unchanged), `lab delete -f`.
# Beside each: the agents' CPU (user+system of both xcnid, /proc/PID/stat,
# files read included), the sum of their "generation G applied in X ms" log
# lines over the command (the busier node: compile and map writes, after the
# files are loaded; the agents run --verbose for it), and xcnictl's own CPU
# with its children (iptables-restore). The agents' CPU is read 0.2 s after
# the command, which waits for them only when something changed for them.
#
# Environment: BUILD (default ./build).
set -euo pipefail

BENCH=lab-apply
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
XCNICTL=$BUILD/xcnictl
SIZES=1000,5000,10000
MODES=none,iptables
DIRS=tmpfs,default

opts 0 "s:SIZES m:MODES d:DIRS" "$@"

need python3 flock iptables-restore
[[ -x $XCNICTL && -x $BUILD/xcnid && -x $BUILD/xcni ]] || die "build first (make): $BUILD"
IFS=, read -ra sizes <<<"$SIZES"
IFS=, read -ra modes <<<"$MODES"
IFS=, read -ra dirs <<<"$DIRS"
for n in "${sizes[@]}"; do num_in "$n" 1 100000 || die "-s: $n is not a count of Services"; done
for m in "${modes[@]}"; do [[ $m == none || $m == iptables ]] || die "-m: $m: none or iptables"; done
for d in "${dirs[@]}"; do [[ $d == tmpfs || $d == default ]] || die "-d: $d: tmpfs or default"; done

export XCNI_BIN=$BUILD/xcni XCNID_BIN=$BUILD/xcnid
W=$(mktemp -d /tmp/xcni-bench-labapply.XXXXXX)
MNT=
LABDIR=
cleanup() {
	if [[ -n $LABDIR ]]; then
		XCNI_LAB_DIR=$LABDIR "$XCNICTL" lab down >/dev/null 2>&1 || true
	fi
	if [[ -n $MNT ]]; then umount "$MNT" 2>/dev/null || true; fi
	rm -rf "$W"
}
trap cleanup EXIT

for n in "${sizes[@]}"; do
	python3 - "$n" >"$W/svc-$n.yaml" <<'EOF'
import sys
for i in range(int(sys.argv[1])):
    t = "NodePort" if i % 8 == 1 else "ClusterIP"
    print(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: s-{i}, namespace: b}}\n"
          f"spec: {{type: {t}, selector: {{app: w}}, ports: [{{port: 8080, targetPort: 80}}]}}")
EOF
done
cat >"$W/pods.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: w1, namespace: b, labels: {app: w}}
spec: {nodeName: n1, containers: [{name: w, image: x, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: w2, namespace: b, labels: {app: w}}
spec: {nodeName: n2, containers: [{name: w, image: x, ports: [{containerPort: 80}]}]}
EOF

now() { date +%s%N; }
# The CPU ticks (user + system) of the agents' PIDS, summed.
agent_ticks() {
	local p t=0 f
	for p in $AGENTS; do
		read -ra f <"/proc/$p/stat"
		t=$((t + f[13] + f[14]))
	done
	echo "$t"
}
# The most any node's log gained in "generation G applied in X ms" since OFFSETS.
applied_ms() {
	python3 - "$LABDIR" "$@" <<'EOF'
import re, sys
d, offs = sys.argv[1], sys.argv[2:]
best = 0.0
for i, off in enumerate(offs):
    with open(f"{d}/n{i + 1}/xcnid.log", "rb") as f:
        f.seek(int(off))
        t = sum(float(m) for m in re.findall(rb"generation \d+ applied in ([0-9.]+) ms", f.read()))
    best = max(best, t)
print(f"{best / 1000:.2f}")
EOF
}
log_offsets() { local i; for i in 1 2; do stat -c %s "$LABDIR/n$i/xcnid.log"; done; }
HZ=$(getconf CLK_TCK)
# measure WHAT ARGS...: one xcnictl lab command, a row of figures.
measure() {
	local what=$1 t0 t1 a0 a1 offs cpu
	shift
	offs=$(log_offsets)
	a0=$(agent_ticks)
	t0=$(now)
	/usr/bin/time -f "%U %S" -o "$W/time" "$XCNICTL" lab "$@" >/dev/null ||
		die "lab $*: failed"
	t1=$(now)
	# The agents may still be busy after a command that does not wait for them.
	sleep 0.2
	a1=$(agent_ticks)
	cpu=$(awk '{printf "%.2f", $1 + $2}' "$W/time")
	# shellcheck disable=SC2086
	printf "%-9s %-8s %-8s %6s %-10s %8.2f %8s %8.2f %9s\n" "$MODE" "$DIRK" "$FS" "$N" "$what" \
		"$(echo "($t1 - $t0) / 1000000000" | bc -l)" "$cpu" \
		"$(echo "($a1 - $a0) / $HZ" | bc -l)" "$(applied_ms $offs)"
}

say "$(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: figures are one run's)"
printf "%-9s %-8s %-8s %6s %-10s %8s %8s %8s %9s\n" mode dir fs svcs command "wall s" "ctl cpu" \
	"agt cpu" "agt appl"
for MODE in "${modes[@]}"; do
	for DIRK in "${dirs[@]}"; do
		if [[ $DIRK == tmpfs ]]; then
			MNT=$W/tmpfs
			mkdir -p "$MNT"
			mount -t tmpfs -o size=1g xcni-bench "$MNT"
			LABDIR=$MNT/lab
		else
			LABDIR=/run/xcni-lab
			[[ -e $LABDIR ]] && die "$LABDIR exists: a lab is up there (xcnictl lab down first)"
		fi
		export XCNI_LAB_DIR=$LABDIR
		lab_lock
		"$XCNICTL" lab up --nodes 2 --kube-proxy "$MODE" --agent-arg --verbose >"$W/up.log" 2>&1 ||
			{ cat "$W/up.log" >&2; die "lab up --kube-proxy $MODE failed"; }
		FS=$(stat -f -c %T "$LABDIR")
		AGENTS=$("$XCNICTL" lab get --json | python3 -c 'import json,sys; print(" ".join(str(n["xcnidPid"]) for n in json.load(sys.stdin)["nodes"]))')
		"$XCNICTL" lab apply -f "$W/pods.yaml" >/dev/null || die "lab apply of the pods failed"
		for N in "${sizes[@]}"; do
			measure apply apply -f "$W/svc-$N.yaml"
			measure re-apply apply -f "$W/svc-$N.yaml"
			measure delete delete -f "$W/svc-$N.yaml"
		done
		"$XCNICTL" lab down >/dev/null || die "lab down failed"
		LABDIR=
		lab_unlock
		if [[ -n $MNT ]]; then
			umount "$MNT"
			MNT=
		fi
	done
done
