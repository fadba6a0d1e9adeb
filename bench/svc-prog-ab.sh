#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Service programming time, two trees side by side (A/B): bench/svc_prog.c
# (the writer alone, section 2 of bench/svc.sh without the agent and without
# svc.sh's machine-wide lock) built against each tree's libxcni.a, run
# A B A B on one set of Service maps that B's xcnid --kube-proxy-replacement
# pinned. Run it in a sandbox of its own (it pins under /sys/fs/bpf):
#
#   BUILD=$PWD/build XCNI_ROOT=$PWD bash tests/sandbox.sh svc-prog-ab \
#       bash bench/svc-prog-ab.sh /path/to/main-tree "$PWD" [SERVICES] [ENDPOINTS] [REPS]
#
# Both trees built (make all). Prints svc_prog's lines under "== A" / "== B"
# and the median total_ms of each step with the ratio B/A.
set -euo pipefail
A=$1 B=$2 N=${3:-10000} E=${4:-10} R=${5:-3}
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
for t in A B A B; do
	echo "== $t"
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
    return {k: statistics.median(v) for k, v in d.items()}
a, b = med(sys.argv[1]), med(sys.argv[2])
for s in ("all", "one", "delete"):
    print(f"{s}: A median {a[s]:.1f} ms, B median {b[s]:.1f} ms, B/A {b[s] / a[s]:.3f}")
PY
