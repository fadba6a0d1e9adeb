#!/bin/bash
# xcnictl against maps it pins itself (needs root and bpffs): no xcnid, no BPF
# programs. bpftool creates each map with the layout of bpf/xcni_shared.h and
# fills it; xcnictl must show exactly those entries, as text and as --json.
#
#   /sys/fs/bpf/xct$$-ctl/       /sys/fs/bpf/xct$$-ctl-bad/
#     xcni_endpoints (2)          xcni_endpoints (value 32 B: refused)
#     xcni_ct (3)
#     xcni_metrics (per-CPU, 3 non-zero)
#     xcni_config                 xcni_ct (empty)
#
# Then, when xcnid is built, against the maps the real data plane pins
# (/sys/fs/bpf/xct$$-ctl-real), so the layout check is tried on the real thing.
set -uo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

XCNICTL=${XCNICTL:-$BUILD/xcnictl}
XCNID=${XCNID:-$BUILD/xcnid}
PIN=/sys/fs/bpf/$XCT_TAG-ctl
BAD=$PIN-bad
REAL=$PIN-real

# Sizes from bpf/xcni_shared.h; a change there must show up here.
EP_SZ=28 CTK_SZ=16 CTV_SZ=56 MET_SZ=16 CFG_SZ=88 NR_METRICS=28

cleanup() { rm -rf "$PIN" "$BAD" "$REAL"; }
trap cleanup EXIT
trap "exit 130" INT TERM # so EXIT runs on those too

[ -x "$XCNICTL" ] || { echo "not ok 1 - $XCNICTL not built"; echo "0 passed, 1 failed"; exit 1; }
if ! stat -f -c %T /sys/fs/bpf 2>/dev/null | grep -q bpf; then
	mount -t bpf bpffs /sys/fs/bpf || { echo "not ok 1 - mount bpffs"; exit 1; }
fi
mkdir -p "$PIN" "$BAD"

# Little-endian hex bytes, as bpftool wants them.
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf '%02x ' $(((v >> (8 * i)) & 255)); done; }
be16() { printf '%02x %02x ' $((($1 >> 8) & 255)) $(($1 & 255)); }
# shellcheck disable=SC2086 # splitting on IFS is the point
ip4() { local IFS=.; set -- $1; printf '%02x %02x %02x %02x ' "$@"; }
mac() { echo -n "${1//:/ } "; }
zeros() { le 0 "$1"; }
str() { local i; for ((i = 0; i < $2; i++)); do printf '%02x ' "'${1:i:1}"; done; } # NUL-padded

mk() { bpftool map create "$PIN/$1" type "$2" key "$3" value "$4" entries "$5" name "$1"; }
# shellcheck disable=SC2086 # bpftool wants the hex bytes as separate words
put() { local m=$1 k=$2 v=$3; bpftool map update pinned "$PIN/$m" key hex $k value hex $v; }

# endpoint: ifindex ep_id identity flags pod_mac host_mac
ep() { echo "$(le "$1" 4)$(le "$2" 4)$(le "$3" 4)$(le "$4" 4)$(mac "$5")$(mac "$6")"; }
# ct key: saddr daddr sport dport proto pad[3]
ctk() { echo "$(ip4 "$1")$(ip4 "$2")$(be16 "$3")$(be16 "$4")$(le "$5" 1)$(zeros 3)"; }
# ct entry: created last pkts_o bytes_o pkts_r bytes_r ep_id state fin_o fin_r pad
ctv() { echo "$(le "$1" 8)$(le "$2" 8)$(le "$3" 8)$(le "$4" 8)$(le "$5" 8)$(le "$6" 8)$(le "$7" 4)$(le "$8" 1)$(zeros 3)"; }
now_ns() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }

setup() {
	mk xcni_endpoints hash 4 $EP_SZ 16 &&
		mk xcni_ct lru_hash $CTK_SZ $CTV_SZ 16 &&
		mk xcni_metrics percpu_array 4 $MET_SZ $NR_METRICS &&
		mk xcni_config array 4 $CFG_SZ 1 || return 1
	# lo always exists; ifindex 999999 stands for a veth already gone.
	put xcni_endpoints "$(ip4 10.244.1.5)" "$(ep 1 7 42 0 02:00:0a:f4:01:05 ee:ee:ee:ee:ee:01)" &&
		put xcni_endpoints "$(ip4 10.244.1.10)" "$(ep 999999 8 0 3 02:00:0a:f4:01:0a ee:ee:ee:ee:ee:02)" || return 1
	# Stamps on the clock bpf_ktime_get_ns() reads; ages grow as the suite runs.
	local now; now=$(now_ns)
	local t100=$((now - 100000000000)) t40=$((now - 40000000000)) t5=$((now - 5000000000))
	put xcni_ct "$(ctk 10.244.1.5 10.96.0.1 40000 443 6)" "$(ctv $t100 $t5 10 1500 8 9000 7 2)" &&
		put xcni_ct "$(ctk 10.244.1.10 8.8.8.8 53000 53 17)" "$(ctv $t40 $t40 1 60 0 0 8 1)" &&
		put xcni_ct "$(ctk 10.244.1.5 10.244.1.10 4660 4660 1)" "$(ctv $t5 $t5 3 252 3 252 7 2)" || return 1
	# bpftool writes one value to every CPU: xcnictl must show ncpu times it.
	put xcni_metrics "$(le 0 4)" "$(le 3 8)$(le 300 8)" &&     # fwd-local from-pod
		put xcni_metrics "$(le 17 4)" "$(le 2 8)$(le 128 8)" && # drop-spoof-ip to-pod
		put xcni_metrics "$(le 16 4)" "$(le 1 8)$(le 0 8)" || return 1 # drop-spoof-ip from-pod
	put xcni_config "$(le 0 4)" "$(le 1 4)$(le 0 4)$(le $t100 8)$(ip4 10.244.1.0)$(le 24 1)$(zeros 3)$(str node-a 64)" || return 1
	bpftool map create "$BAD/xcni_endpoints" type hash key 4 value 32 entries 4 name xcni_endpoints &&
		bpftool map create "$BAD/xcni_ct" type lru_hash key $CTK_SZ value $CTV_SZ entries 4 name xcni_ct
}

ncpus() { # possible CPUs, like libbpf_num_possible_cpus()
	local n=0 r a b
	IFS=, read -ra rs </sys/devices/system/cpu/possible
	for r in "${rs[@]}"; do a=${r%-*} b=${r#*-}; n=$((n + b - a + 1)); done
	echo $n
}

x() { "$XCNICTL" --pin-dir "$PIN" "$@"; }

# json_is 'python expression over j' command...: the command's JSON output makes it true.
json_is() {
	local expr=$1 out; shift
	out=$("$@") || { echo "exit $?"; return 1; }
	python3 -c "import json, sys; j = json.loads(sys.stdin.read()); sys.exit(0 if ($expr) else 1)" <<<"$out" ||
		{ echo "$out"; return 1; }
}
# has REGEX command...: some line of the output matches.
has() { local re=$1 out; shift; out=$("$@" 2>&1); grep -Eq -- "$re" <<<"$out" || { echo "$out"; return 1; }; }
# aligned command...: every column of the text table starts or ends at one offset.
aligned() {
	local out; out=$("$@") || return 1
	python3 -c '
import re, sys
rows = [[m.span() for m in re.finditer(r"\S+", l)] for l in sys.stdin.read().splitlines()]
ok = all(len(r) == len(rows[0]) for r in rows) and all(
	len({r[i][0] for r in rows}) == 1 or len({r[i][1] for r in rows}) == 1 for i in range(len(rows[0])))
sys.exit(0 if ok and len(rows) > 1 else 1)' <<<"$out" || { echo "$out"; return 1; }
}
lines() { local n=$1 out; shift; out=$("$@") || return 1; [ "$(wc -l <<<"$out")" -eq "$n" ] || { echo "$out"; return 1; }; }
exits() { local want=$1; shift; "$@" >/dev/null 2>&1; local rc=$?; [ $rc -eq "$want" ] || { echo "exit $rc, wanted $want"; return 1; }; }

check "bpftool pins test maps under $PIN" setup

# -- help and usage
check "--help lists every command" has '^  ct list \[--ip IP\]' "$XCNICTL" --help
check "ct list --help shows its options" has '^  --ip IP' "$XCNICTL" ct list --help
check "endpoint --help lists the endpoint commands" has '^  endpoint get IP' "$XCNICTL" endpoint --help
check "unknown command exits 2" exits 2 "$XCNICTL" frobnicate
check "missing argument exits 2" exits 2 "$XCNICTL" endpoint get
check "option of another command exits 2" exits 2 "$XCNICTL" metrics --ip 10.0.0.1

# -- missing pins, wrong layout
check "missing pin names the path and xcnid" \
	has "$PIN-none/xcni_endpoints: no such pinned map; is xcnid running" "$XCNICTL" --pin-dir "$PIN-none" endpoint list
check "missing pin exits 1" exits 1 "$XCNICTL" --pin-dir "$PIN-none" endpoint list
check "XCNI_PIN_DIR is honoured" has "$PIN-env/xcni_ct: no such" env XCNI_PIN_DIR="$PIN-env" "$XCNICTL" ct list
check "value size mismatch is refused" has 'value 32 B.*expected hash, key 4 B, value 28 B' "$XCNICTL" --pin-dir "$BAD" endpoint list
check "value size mismatch exits 1" exits 1 "$XCNICTL" --pin-dir "$BAD" endpoint list

# -- endpoint
check "endpoint list: header and 2 rows" lines 3 x endpoint list
check "endpoint list: lo resolved" has '^10\.244\.1\.5 +1 +lo +7 +42 +02:00:0a:f4:01:05 +ee:ee:ee:ee:ee:01 +0x0$' x endpoint list
check "endpoint list: gone veth shows -" has '^10\.244\.1\.10 +999999 +- +8 +0 +02:00:0a:f4:01:0a +ee:ee:ee:ee:ee:02 +0x3$' x endpoint list
check "endpoint list --json: exactly the entries" json_is '
	sorted(j, key=lambda e: e["ep_id"]) == [
	{"ip": "10.244.1.5", "ifindex": 1, "ifname": "lo", "ep_id": 7, "identity": 42,
	 "pod_mac": "02:00:0a:f4:01:05", "host_mac": "ee:ee:ee:ee:ee:01", "flags": 0},
	{"ip": "10.244.1.10", "ifindex": 999999, "ifname": None, "ep_id": 8, "identity": 0,
	 "pod_mac": "02:00:0a:f4:01:0a", "host_mac": "ee:ee:ee:ee:ee:02", "flags": 3}]' x endpoint list --json
check "endpoint get: one record" has '^EP-ID +8$' x endpoint get 10.244.1.10
check "endpoint get --json: one object" json_is 'j["ifindex"] == 1 and j["identity"] == 42' x -j endpoint get 10.244.1.5
check "endpoint get of an unknown IP fails" has 'no such endpoint' x endpoint get 10.244.1.99
check "endpoint get of a bad IP fails" exits 1 x endpoint get 10.244.1
check "endpoint list: columns line up" aligned x endpoint list

# -- ct
check "ct list: header and 3 rows" lines 4 x ct list
check "ct list: tcp flow" has '^tcp +10\.244\.1\.5:40000 +10\.96\.0\.1:443 +established +1[0-9][0-9] +[0-9]+ +10 +1500 +8 +9000 +7$' x ct list
check "ct list: icmp shows the echo id" has '^icmp +10\.244\.1\.5:id=4660 +10\.244\.1\.10:id=4660 +established ' x ct list
check "ct list: udp new" has '^udp +10\.244\.1\.10:53000 +8\.8\.8\.8:53 +new ' x ct list
check "ct list --ip filters" lines 2 x ct list --ip 10.96.0.1
check "ct list --json: exactly the entries" json_is '
	sorted((e["proto"], e["saddr"], e["sport"], e["daddr"], e["dport"], e["state"],
	        e["pkts_orig"], e["bytes_orig"], e["pkts_reply"], e["bytes_reply"], e["ep_id"]) for e in j) == [
	("icmp", "10.244.1.5", 4660, "10.244.1.10", 4660, "established", 3, 252, 3, 252, 7),
	("tcp", "10.244.1.5", 40000, "10.96.0.1", 443, "established", 10, 1500, 8, 9000, 7),
	("udp", "10.244.1.10", 53000, "8.8.8.8", 53, "new", 1, 60, 0, 0, 8)]
	and all(a <= e["age_s"] <= a + 60 and e["idle_s"] == e["age_s"] - a + i
	        for e, a, i in zip(sorted(j, key=lambda e: e["proto"]), (5, 100, 40), (5, 5, 40)))
	and "SRC" not in j[0] and "src" not in j[0]' x ct list --json
check "ct list: columns line up" aligned x ct list
check "empty ct list --json is []" json_is 'j == []' "$XCNICTL" --pin-dir "$BAD" ct list --json
check "empty ct list prints the header only" lines 1 "$XCNICTL" --pin-dir "$BAD" ct list
check "ct list --ip with a bad IP fails" exits 1 x ct list --ip nope

# -- metrics
N=$(ncpus)
check "metrics: 3 non-zero rows" lines 4 x metrics
check "metrics: per-CPU values summed ($N CPUs)" has "^drop-spoof-ip +to-pod +$((2 * N)) +$((128 * N))\$" x metrics
check "metrics: packets without bytes still count" has "^drop-spoof-ip +from-pod +$N +0\$" x metrics
check "metrics --all: every reason and direction" lines $((NR_METRICS + 1)) x metrics --all
check "metrics --json" json_is "
	sorted((e['reason'], e['direction'], e['packets'], e['bytes'], e['code']) for e in j) == [
	('drop-spoof-ip', 'from-pod', $N, 0, -108), ('drop-spoof-ip', 'to-pod', $((2 * N)), $((128 * N)), -108),
	('fwd-local', 'from-pod', $((3 * N)), $((300 * N)), -100)] and j[0]['description']" x metrics --json
check "metrics --all --json names every reason" json_is \
	"len(j) == $NR_METRICS and all(not e['reason'].startswith('reason') for e in j)" x metrics --all --json

# -- config
check "config: node and CIDR" has '^POD-CIDR +10\.244\.1\.0/24$' x config
check "config: node name" has '^NODE-NAME +node-a$' x config
check "config --json" json_is 'j["abi_version"] == 1 and j["node_name"] == "node-a" and j["pod_cidr"] == "10.244.1.0/24" and 100 <= j["uptime_s"] <= 160' x config --json

# -- the maps the real data plane pins (xcnid --once loads, pins and exits)
if [ -x "$XCNID" ]; then
	check "xcnid --once pins the real maps" "$XCNID" --once --pin-dir "$REAL" --pod-cidr 10.99.7.0/24 --node-name ctl-test
	for c in "endpoint list" "ct list" "metrics --all" config; do
		# shellcheck disable=SC2086 # $c is the command's words
		check "real maps pass the layout check: $c" "$XCNICTL" --pin-dir "$REAL" $c
	done
	check "real config read back" json_is 'j["node_name"] == "ctl-test" and j["pod_cidr"] == "10.99.7.0/24"' \
		"$XCNICTL" --pin-dir "$REAL" config --json
else
	echo "ok $((_t_n + 1)) # SKIP $XCNID not built"
	_t_n=$((_t_n + 1))
fi

finish
