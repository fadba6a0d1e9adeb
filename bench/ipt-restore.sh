#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# iptables-restore alone: the floor of `lab apply` under --kube-proxy iptables
# (bench/lab-apply.sh). One netns of its own per size, kube-proxy's layout for
# N Services with two endpoints each, generated (KUBE-SERVICES -> KUBE-SVC-*
# per Service -> a KUBE-SEP-* per endpoint, MARK-MASQ and DNAT: 3N chains,
# 7N rules), restored with --noflush as kube-proxy and the lab do; the time.
# Must run as root.
#
#   bash bench/ipt-restore.sh [-s SIZES]     (default 1000,2500,5000,10000)
set -euo pipefail

BENCH=ipt-restore
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZES=1000,2500,5000,10000
opts - "s:SIZES" "$@"
need python3 iptables-restore ip
IFS=, read -ra sizes <<<"$SIZES"
for n in "${sizes[@]}"; do num_in "$n" 1 100000 || die "-s: $n is not a count of Services"; done

W=$(mktemp -d /tmp/xcni-bench-iptrestore.XXXXXX)
NS=xcni-iptr-$$
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

say "$(date -u +%FT%TZ), $(iptables --version), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine)"
printf "%8s %8s %8s %10s\n" svcs chains rules "restore s"
for n in "${sizes[@]}"; do
	python3 - "$n" >"$W/rules" <<'EOF'
import sys
n = int(sys.argv[1])
decl, rules = ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]"], []
for i in range(n):
    s = f"KUBE-SVC-{i:016X}"
    decl.append(f":{s} - [0:0]")
    rules.append(f"-A KUBE-SERVICES -d 10.96.{i // 256}.{i % 256}/32 -p tcp -m tcp --dport 8080 -j {s}")
    for e in range(2):
        p = f"KUBE-SEP-{i:014X}{e:02X}"
        decl.append(f":{p} - [0:0]")
        rules.append(f"-A {s} -m statistic --mode random --probability 0.5 -j {p}" if e == 0 else f"-A {s} -j {p}")
        rules.append(f"-A {p} -s 10.244.1.{e + 2}/32 -j KUBE-MARK-MASQ")
        rules.append(f"-A {p} -p tcp -m tcp -j DNAT --to-destination 10.244.1.{e + 2}:80")
print("\n".join(decl + rules + ["COMMIT"]))
EOF
	ip netns add "$NS"
	t0=$(date +%s%N)
	ip netns exec "$NS" iptables-restore --noflush <"$W/rules" || die "iptables-restore of $n Services failed"
	t1=$(date +%s%N)
	got=$(ip netns exec "$NS" iptables-save -t nat | grep -c '^:KUBE-S[VE][CP]-')
	[[ $got == $((3 * n)) ]] || die "$n Services: $got chains restored, want $((3 * n))"
	ip netns del "$NS"
	printf "%8d %8d %8d %10.2f\n" "$n" $((3 * n)) $((7 * n)) "$(echo "($t1 - $t0) / 1000000000" | bc -l)"
done
