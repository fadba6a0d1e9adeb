#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Service programming time, two trees side by side (A/B): bench/svc_prog.c
# (the writer alone, section 2 of bench/svc.sh without the agent and without
# svc.sh's machine-wide lock) built against each tree's libxcni.a, run
# A B A B on one set of Service maps that B's xcnid --kube-proxy-replacement
# pinned. Run it in a sandbox of its own (it pins under /sys/fs/bpf):
#
#   [PASSES=8] BUILD=$PWD/build XCNI_ROOT=$PWD bash tests/sandbox.sh svc-prog-ab \
#       bash bench/svc-prog-ab.sh /path/to/main-tree "$PWD" [SERVICES] [ENDPOINTS] [REPS]
#
# Both trees built (make all). PASSES (default 4, even) runs of svc_prog in the
# order A B B A A B B A ..., so that a load that rises or falls through the run
# (a shared machine) weighs on both sides alike. Prints svc_prog's lines under
# "== A" / "== B", and per step each side's median and range of total_ms and
# the ratio of the medians B/A.
set -euo pipefail
A=$1 B=$2 N=${3:-10000} E=${4:-10} R=${5:-3} P=${PASSES:-4}
if ! [[ $P =~ ^[0-9]+$ ]] || ((P < 2 || P % 2)); then
	echo "PASSES: an even number >= 2, got '$P'" >&2
	exit 2
fi
O=$(mktemp -d /tmp/svc-prog-ab.XXXXXX)
trap 'rm -rf "$O"' EXIT
for t in A B; do
	d=${!t}
	# shellcheck disable=SC2046
	gcc -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$d/user" -I"$d/bpf" \
		$(pkg-config --cflags jansson libbpf) -o "$O/svc_prog.$t" "$d/bench/svc_prog.c" \
		"$d/build/libxcni.a" $(pkg-config --libs libmnl jansson libbpf yaml-0.1 libcurl)
done
PIN=/sys/fs/bpf/svc-prog-ab-$$
mkdir -p "$O/m"
"$B/build/xcnid" --pin-dir "$PIN" --pod-cidr 10.99.98.0/24 --node-name n1 --manifests "$O/m" \
	--no-masquerade --kube-proxy-replacement >"$O/xcnid.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [[ -e $PIN/prog_to_pod ]] && break; sleep 0.1; done
kill "$pid"
wait "$pid" 2>/dev/null || true
[[ -e $PIN/xcni_svc ]] || { cat "$O/xcnid.log"; echo "xcnid did not pin the Service maps" >&2; exit 1; }
for ((i = 0; i < P; i++)); do
	if (((i + 1) / 2 % 2)); then t=B; else t=A; fi
	echo "== $t ($(cut -d' ' -f1-3 /proc/loadavg))"
	"$O/svc_prog.$t" "$PIN" -n "$N" -e "$E" -r "$R" | tee -a "$O/out.$t"
done
rm -rf "$PIN"
python3 - "$O/out.A" "$O/out.B" <<'PY'
import re, statistics, sys
def med(f):
    d = {}
    for l in open(f):
        m = re.match(r"step=(all|one|delete) .*total_ms=([0-9.]+)", l)
        if m:
            d.setdefault(m.group(1), []).append(float(m.group(2)))
    return d
a, b = med(sys.argv[1]), med(sys.argv[2])
for s in ("all", "one", "delete"):
    ma, mb = statistics.median(a[s]), statistics.median(b[s])
    print(f"{s}: A median {ma:.1f} ms ({min(a[s]):.1f}-{max(a[s]):.1f}), "
          f"B median {mb:.1f} ms ({min(b[s]):.1f}-{max(b[s]):.1f}), B/A {mb / ma:.3f}")
PY
