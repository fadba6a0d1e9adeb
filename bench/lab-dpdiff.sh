#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The data path of two trees side by side, not their code (issue 71): each
# tree's 2-node lab (`xcnictl lab up --nodes 2`, its own xcni, xcnid and
# xcnictl) up at once, each in a sandbox of its own (tests/sandbox.sh: no
# test lock, no name meets the other's), pods t/a and t/b on n1, t/c on n2.
# Then (1) what the packets meet, dumped per netns and diffed between the
# trees: links and their features (ip -d link, ethtool -k/-l), qdiscs, the
# programs attached and their order (bpftool net, the node cgroups'), routes,
# rules, neighbours, nftables, iptables, sysctls, the agents' options;
# (2) one identical burst per leg, A/B interleaved (order turning), with
# kernel.bpf_stats_enabled: runs and run time per program of each lab, per
# iperf3 MB, per connection (conn_rate) or per round trip (pingpong).
# See bench/README.md ("A/B tools"). As root, after `make all` in both trees:
#
#   bash bench/lab-dpdiff.sh [-r ROUNDS] BASE_TREE HEAD_TREE
#
#   -r  bursts per side (default 4): iperf3 2 s, conn_rate 2 s, pingpong 5000,
#       same node (a -> b) then cross node (a -> c); clients on CPU 0,
#       servers on CPU 1
# Out: $OUT (default a new /tmp/lab-dpdiff.XXXXXX): per side a directory of
# the dumps and the bpftool snapshots, diff.txt, table.txt.
set -euo pipefail

BENCH=lab-dpdiff
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=4

if [[ ${1:-} == --side ]]; then # inside a sandbox: NAME TREE OUT ROUNDS
	name=$2 tree=$3 out=$4/$2 R=$5
	set +e # a dump a netns cannot give (ethtool -l on a veth) is left out, not fatal
	rm -rf "$out"
	mkdir -p "$out"
	export XCNI_BIN=$tree/build/xcni XCNID_BIN=$tree/build/xcnid XCNI_LAB_DIR=$out/lab
	ctl=$tree/build/xcnictl
	trap '"$ctl" lab down >"$out/down.log" 2>&1' EXIT
	"$ctl" lab up --nodes 2 >"$out/up.log" 2>&1 || { cat "$out/up.log" >&2; trap - EXIT; exit 1; }
	"$ctl" lab apply -f "$4/pods.yaml" >"$out/apply.log" 2>&1 || { cat "$out/apply.log" >&2; exit 1; }
	"$ctl" lab get --json >"$out/lab.json"
	for p in $(pgrep -x xcnid); do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done | grep -F "$out/lab/" |
		sed "s|$tree|TREE|g; s|$out|OUT|g" >"$out/xcnid-args.txt"
	bpftool cgroup tree "$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)" >"$out/cgroup.txt" 2>&1
	for ns in $(ip netns list | awk '/^xcl-/ { print $1 }'); do
		d=$out/ns-$ns X="ip netns exec $ns"
		mkdir -p "$d"
		$X ip -d link show >"$d/links" 2>&1
		{ $X ip route show table all; $X ip -6 route show table all; } >"$d/routes" 2>&1
		$X ip rule show >"$d/rules" 2>&1
		$X ip neigh show >"$d/neigh" 2>&1
		$X tc qdisc show >"$d/qdisc" 2>&1
		$X bpftool net show >"$d/bpfnet" 2>&1
		$X nft list ruleset >"$d/nft" 2>&1
		$X iptables-save 2>&1 | grep -v '^#' >"$d/iptables"
		$X sysctl -a 2>/dev/null | grep '^net\.' | grep -v 'stable_secret\|hash_secret\|fastopen_key' >"$d/sysctl"
		for dev in $($X ls /sys/class/net); do
			[[ $dev != lo ]] || continue
			{ echo "== $dev"; $X ethtool -k "$dev" | grep -v fixed; $X ethtool -l "$dev" | tail -4
			  echo "tx_queue_len $($X cat "/sys/class/net/$dev/tx_queue_len")"; } >>"$d/ethtool" 2>&1
		done
	done
	ipof() { python3 -c "import json,sys; print([p['ip'] for p in json.load(open(sys.argv[1]))['pods'] if p['name'] == sys.argv[2]][0])" "$out/lab.json" "$1"; }
	IPB=$(ipof b) IPC=$(ipof c) srv=()
	for p in b c; do
		"$ctl" lab exec "t/$p" -- taskset -c 1 iperf3 -s -p 5201 >/dev/null 2>&1 & srv+=($!)
		"$ctl" lab exec "t/$p" -- taskset -c 1 "$BUILD/conn_rate" server -b 0.0.0.0 -p 7107 >/dev/null 2>&1 & srv+=($!)
		"$ctl" lab exec "t/$p" -- taskset -c 1 "$BUILD/pingpong" server -b 0.0.0.0 -p 7007 >/dev/null 2>&1 & srv+=($!)
	done
	trap 'kill "${srv[@]}" 2>/dev/null; wait; "$ctl" lab down >"$out/down.log" 2>&1' EXIT
	sleep 1
	on_a() { "$ctl" lab exec t/a -- taskset -c 0 "$@"; }
	ip3() {
		on_a iperf3 -c "$1" -p 5201 -t 2 -J | python3 -c 'import json,sys
e = json.load(sys.stdin)["end"]["sum_received"]; print("bytes=%d gbps=%.2f" % (e["bytes"], e["bits_per_second"] / 1e9))'
	}
	leg() { # ROUND N LABEL CMD...: bpftool's programs around one burst
		local f=$out/r$1-leg$2 res
		bpftool prog show --json >"$f-0.json"
		res=$("${@:4}" 2>&1 | tail -1)
		bpftool prog show --json >"$f-1.json"
		echo "$3|$res" >"$f.txt"
	}
	touch "$4/ready-$name"
	for ((r = 1; r <= R; r++)); do
		until [[ $(cat "$4/turn" 2>/dev/null) == "$name $r" ]]; do sleep 0.2; done
		leg $r 1 "same-node iperf3 2 s" ip3 "$IPB"
		leg $r 2 "same-node conn_rate 2 s" on_a "$BUILD/conn_rate" client -c "$IPB" -p 7107 -d 2 -w 0
		leg $r 3 "same-node pingpong 5000" on_a "$BUILD/pingpong" client -c "$IPB" -p 7007 -n 5000 -w 0 -t 100
		leg $r 4 "cross-node iperf3 2 s" ip3 "$IPC"
		leg $r 5 "cross-node conn_rate 2 s" on_a "$BUILD/conn_rate" client -c "$IPC" -p 7107 -d 2 -w 0
		leg $r 6 "cross-node pingpong 5000" on_a "$BUILD/pingpong" client -c "$IPC" -p 7007 -n 5000 -w 0 -t 100
		touch "$4/done-$name-$r"
	done
	exit 0
fi

opts 2 "r:ROUNDS" "$@"
set -- "${ARGS[@]}"
num_in "$ROUNDS" 1 50 || die "-r must be 1..50 (got '$ROUNDS')"
need ip bpftool ethtool nft iptables-save taskset iperf3 python3 "$CC"
declare -A TREE=([base]=$(cd "$1" && pwd) [head]=$(cd "$2" && pwd))
for s in base head; do
	for b in xcni xcnid xcnictl; do [[ -x ${TREE[$s]}/build/$b ]] || die "$s: build first: ${TREE[$s]}/build/$b"; done
done
OUT=${OUT:-$(mktemp -d /tmp/lab-dpdiff.XXXXXX)}
mkdir -p "$BUILD" "$OUT"
tool "$BUILD/conn_rate" conn_rate
tool "$BUILD/pingpong" pingpong
cat >"$OUT/pods.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: t}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: t}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: t}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: t}
spec: {nodeName: n2, containers: [{name: c, image: x}]}
EOF
PIDS=()
stop() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait
	[[ -z ${PREV:-} ]] || sysctl -qw kernel.bpf_stats_enabled="$PREV"
}
trap stop EXIT
for s in base head; do
	BUILD=$BUILD bash "$ROOT/tests/sandbox.sh" "dpdiff-$s-$$" bash "${BASH_SOURCE[0]}" --side "$s" "${TREE[$s]}" "$OUT" "$ROUNDS" \
		>"$OUT/$s.log" 2>&1 &
	PIDS+=($!)
done
for s in base head; do
	for ((i = 0; i < 600; i++)); do
		[[ ! -e $OUT/ready-$s ]] || break
		kill -0 "${PIDS[0]}" "${PIDS[1]}" 2>/dev/null || { cat "$OUT"/*.log >&2; die "a side stopped before its lab was up"; }
		sleep 0.5
	done
	[[ -e $OUT/ready-$s ]] || die "$s: no lab after 300 s"
done
say "$(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg) (bursts' times are this machine's at that load)"
PREV=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
for ((r = 1; r <= ROUNDS; r++)); do
	order="base head"
	((r % 2)) || order="head base"
	for s in $order; do
		echo "$s $r" >"$OUT/turn"
		until [[ -e $OUT/done-$s-$r ]]; do
			kill -0 "${PIDS[0]}" "${PIDS[1]}" 2>/dev/null || die "a side stopped in round $r"
			sleep 0.5
		done
	done
done
sysctl -qw kernel.bpf_stats_enabled="$PREV"
PREV=
wait "${PIDS[@]}" || die "a side failed: $OUT/base.log, $OUT/head.log"
PIDS=()
python3 - "$OUT" >"$OUT/table.txt" <<'PY'
import glob, json, os, re, statistics as st, sys
out = sys.argv[1]
def side(name):
    d = os.path.join(out, name)
    att = {int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+\w", open(f"{d}/cgroup.txt").read(), re.M)}
    for f in glob.glob(f"{d}/ns-xcl-n*/bpfnet"):
        att |= {int(x) for x in re.findall(r"(?:prog_id|id) (\d+)", open(f).read())}
    legs = {}
    for t in sorted(glob.glob(f"{d}/r*-leg*.txt")):
        r, n = re.search(r"r(\d+)-leg(\d+)\.txt$", t).groups()
        label, res = open(t).read().strip().split("|", 1)
        a = json.load(open(f"{d}/r{r}-leg{n}-1.json"))
        b = {p["id"]: p for p in json.load(open(f"{d}/r{r}-leg{n}-0.json"))}
        # The lab's programs: attached (netns, cgroups) or sharing a map with one (tail calls).
        maps = set().union(*[set(p.get("map_ids", [])) for p in a if p["id"] in att])
        kv = dict(x.split("=", 1) for x in res.split() if "=" in x)
        unit = int(kv["bytes"]) / 1e6 if "bytes" in kv else int(kv.get("conns", kv.get("n", 0)))
        progs = {}
        for p in a:
            if p["id"] in b and (p["id"] in att or set(p.get("map_ids", [])) & maps):
                c = p.get("run_cnt", 0) - b[p["id"]].get("run_cnt", 0)
                ns = p.get("run_time_ns", 0) - b[p["id"]].get("run_time_ns", 0)
                if c:
                    c0, ns0 = progs.get(p["name"], (0, 0))
                    progs[p["name"]] = (c0 + c, ns0 + ns)
        legs.setdefault((int(n), label, "MB" if "bytes" in kv else "conn" if "conns" in kv else "rt"), []).append((unit, progs, res))
    return legs
B, H = side("base"), side("head")
med = lambda v: st.median(v) if v else 0
for leg in sorted(B):
    n, label, u = leg
    print(f"## {label} (per {u}; medians of {len(B[leg])} bursts)")
    for s, L in (("base", B), ("head", H)):
        print(f"   {s}: " + "; ".join(x[2] for x in L.get(leg, [])))
    print(f"   {'program':<20}{'runs base':>11}{'runs head':>11}{'ns/run base':>13}{'ns/run head':>13}{'head/base':>11}")
    names = sorted({k for x in B[leg] + H.get(leg, []) for k in x[1]})
    for nm in names + ["all"]:
        row = []
        for L in (B, H):
            runs, per = [], []
            for unit, progs, _ in L.get(leg, []):
                c, ns = (sum(v[0] for v in progs.values()), sum(v[1] for v in progs.values())) if nm == "all" else progs.get(nm, (0, 0))
                if unit:
                    runs.append(c / unit)
                if c:
                    per.append(ns / c)
            row += [med(runs), med(per)]
        rb, pb, rh, ph = row
        print(f"   {nm:<20}{rb:>11.2f}{rh:>11.2f}{pb:>13.0f}{ph:>13.0f}{(ph / pb if pb else 0):>10.2f}x")
PY
# The dumps, with what differs by construction (ids, MACs, times, the trees' paths) masked.
mask() { sed -E 's/(prog_|link_|btf_|created_by_uid |)id [0-9]+/id N/g; s/([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}/MAC/g;
	s/fe80::[0-9a-f:]+/fe80::X/g; s/tag [0-9a-f]+/tag T/g; s/load_time [0-9]+/load_time T/g; s/timer +[0-9.]+/timer T/g' "$1"; }
{
	diff <(mask "$OUT/base/xcnid-args.txt") <(mask "$OUT/head/xcnid-args.txt") | sed 's/^/xcnid: /'
	diff <(awk '{ print $2, $3, $NF }' "$OUT/base/cgroup.txt" | sort) <(awk '{ print $2, $3, $NF }' "$OUT/head/cgroup.txt" | sort) |
		sed 's/^/cgroup programs: /'
	for d in "$OUT"/base/ns-*; do
		for f in "$d"/*; do
			diff <(mask "$f") <(mask "$OUT/head/${d##*/}/${f##*/}") | sed "s|^|${d##*/ns-} ${f##*/}: |"
		done
	done
} >"$OUT/diff.txt" || true
echo
cat "$OUT/table.txt"
echo
echo "data path diff (base < > head; ids, MACs, link-local addresses masked): $(grep -c . "$OUT/diff.txt") lines"
grep -v 'fs\.\|inode' "$OUT/diff.txt" | head -60
say "out: $OUT"
