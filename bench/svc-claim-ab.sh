#!/bin/bash
# A/B of Service programming with the frontend keys ranked by address class
# and age (issue 52 item 2, docs/decisions/service-address-ownership.md)
# against a build without it: bench/svc_prog (10k Services x 10 endpoints by
# default) linked against each build's libxcni, on the Service maps each
# build's xcnid pins, runs alternated A B A B ... so drift hits both.
#
#   bench/svc-claim-ab.sh BUILD_A BUILD_B [ROUNDS]   (as root, e.g. inside tests/sandbox.sh)
#
# Prints each run's step=all/one/delete lines (svc_incr, xcnid's way) and the
# -F ones (svc_build and the whole list compared), then the median
# build_ms of each step per build and B/A.
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${SVC_N:-10000} E=${SVC_E:-10} REPS=${SVC_REPS:-3}
TMP=$(mktemp -d /tmp/svc-claim-ab.XXXXXX)
trap 'rm -rf "$TMP"; rm -rf /sys/fs/bpf/svc-claim-ab-$$-*' EXIT
for x in A B; do
	d=${!x}
	# shellcheck disable=SC2046
	cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/user" -I"$ROOT/bpf" $(pkg-config --cflags jansson libbpf) \
		-o "$TMP/svc_prog_$x" "$HERE/svc_prog.c" "$d/libxcni.a" \
		$(pkg-config --libs libmnl jansson libbpf yaml-0.1 libcurl)
	pin=/sys/fs/bpf/svc-claim-ab-$$-$x
	"$d/xcnid" --pin-dir "$pin" --pod-cidr 10.99.96.0/24 --node-name n1 --no-masquerade \
		--kube-proxy-replacement --once >"$TMP/xcnid-$x.log" 2>&1 || { cat "$TMP/xcnid-$x.log"; exit 1; }
done
for ((r = 1; r <= ROUNDS; r++)); do
	for x in A B; do
		for f in "" -F; do
			"$TMP/svc_prog_$x" "/sys/fs/bpf/svc-claim-ab-$$-$x" -n "$N" -e "$E" -r "$REPS" $f |
				sed "s/^/$x${f:+ $f} /" | tee -a "$TMP/all.txt"
		done
	done
done
python3 - "$TMP/all.txt" <<'PY'
import re, statistics, sys
v = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)( -F)? step=(all|one|delete) .*build_ms=([0-9.]+) .*total_ms=([0-9.]+)", line)
    if m:
        k = m[3] + ("/-F" if m[2] else "")
        v.setdefault(("build_ms", k, m[1]), []).append(float(m[4]))
        v.setdefault(("total_ms", k, m[1]), []).append(float(m[5]))
for w, k in sorted({(w, k) for w, k, _ in v}):
    a, b = statistics.median(v[(w, k, "A")]), statistics.median(v[(w, k, "B")])
    if a > 0:
        print(f"{w} {k:10s} A {a:9.2f}  B {b:9.2f}  B/A {b / a:5.3f}  (n={len(v[(w, k, 'A')])})")
PY
