#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What an online doubling of xcni_ct costs (issue 67 item 2,
# docs/decisions/map-growth.md): an agent with an underlay (every program
# loaded: pods', overlay's, XDP) and xcni_ct made N (--map-max), filled to 92%
# by bench/ct_fill.c as the programs would write it; xcnid doubles it. Per N,
# from xcnid's own lines: the copy (entries, ms) and the whole growth, from
# the look that found it full to every attachment taken over on the new map
# (exec and load included), and the entries caught up after. Root, after
# `make`; run it under `flock /tmp/xcni-test.lock`.
#
#   bash bench/ct-grow.sh [-n "32768 65536 131072"]
set -euo pipefail

BENCH=ct-grow
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZES="32768 65536 131072"
opts 0 "n:SIZES" "$@"
need ip nsenter "$CC"
TAG=xcg$$
TMP=$(mktemp -d /tmp/$TAG.XXXXXX)
NS=$TAG
PIN=/sys/fs/bpf/$TAG
XPID=
stop_agent() {
	[[ -z $XPID ]] || { kill "$XPID" 2>/dev/null; wait "$XPID" 2>/dev/null || true; }
	XPID=
	rm -rf "$PIN" "/run/xcni/flows$(tr / - <<<"$PIN").sock" "/run/xcni/flows$(tr / - <<<"$PIN").events"
}
cleanup() {
	set +e
	stop_agent
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

FILL=$TMP/ct_fill
tool "$FILL" ct_fill -I"$ROOT/bpf" $(pkg-config --cflags --libs libbpf)
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add ul0 type veth peer name ul1
ip -n "$NS" link set ul1 up
ip -n "$NS" addr add 192.168.79.1/24 dev ul0
ip -n "$NS" link set ul0 up
mkdir -p "$TMP/man"
printf '%-8s %-8s %8s %9s %10s %10s %9s\n' entries to copied copy_ms growth_ms caught_pre caught_post
for n in $SIZES; do
	log=$TMP/xcnid-$n.log
	nsenter --net=/run/netns/"$NS" "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.244.1.0/24 \
		--node-name n1 --manifests "$TMP/man" --underlay-dev ul0 --xdp-mode generic \
		--map-max "xcni_ct=$n" -v >"$log" 2>&1 &
	XPID=$!
	for _ in $(seq 300); do grep -q "xcnid: ready" "$log" && break; sleep 0.1; done
	grep -q "xcnid: ready" "$log" || { cat "$log" >&2; die "xcnid did not start"; }
	"$FILL" "$PIN" fill $((n * 92 / 100)) 0 || die "filling failed"
	for _ in $(seq 600); do grep -q "map xcni_ct grew" "$log" && break; sleep 0.1; done
	grep -q "map xcni_ct grew" "$log" || { grep -v "^xcnid: attach\|masquerade" "$log" >&2; die "xcni_ct did not grow"; }
	python3 - "$n" "$log" <<-'PY'
	import re, sys
	n, text = sys.argv[1], open(sys.argv[2]).read()
	c = re.search(r"map xcni_ct: \d+ -> (\d+) entries, (\d+) copied .* in (\d+) ms", text)
	g = re.search(r"map xcni_ct grew \d+ -> \d+ entries in (\d+) ms .*?: (\d+) before the take-over, (\d+) after", text)
	print(f"{n:<8} {c[1]:<8} {c[2]:>8} {c[3]:>9} {g[1]:>10} {g[2]:>10} {g[3]:>9}")
	PY
	stop_agent
done
