#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# IPFIX export at a connection rate (issue 38): xcnid's exporter
# (user/agent/ipfix.c, the object xcnid links, libfixbuf and its socket)
# driven by bench/ipfix_rate.c at RATE ended connections a second, each
# second's handed over at once as xcnid's tick does, to Debian's nfcapd on
# loopback in a netns of the bench's own. Loss: the records nfdump read
# against those handed over (and their packets and bytes); CPU: the driver's
# (getrusage: building and sending the messages) and nfcapd's (/proc/PID/stat
# over the run). See bench/README.md ("ipfix"). Root, after `make`.
#
#   bash bench/ipfix.sh [-r RATE] [-s SECONDS] [-B BYTES]
#
#   -r  connections a second (default 10000)
#   -s  seconds (default 10)
#   -B  nfcapd's socket receive buffer (default 8388608: a second's burst is
#       ~1100 messages of 1400 bytes, more than the default 208 KiB holds)
# Environment: BUILD (default <repo>/build), CC.
# Run it under `flock /tmp/xcni-test.lock` beside the test suites.
set -euo pipefail
BENCH=ipfix
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RATE=10000 SECS=10 RCVBUF=8388608
opts - "r:RATE s:SECS B:RCVBUF" "$@"
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 1 && $RATE -le 1000000 ]] || { echo "-r: 1..1000000" >&2; exit 2; }
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 && $SECS -le 600 ]] || { echo "-s: 1..600" >&2; exit 2; }
[[ $RCVBUF =~ ^[0-9]+$ ]] || { echo "-B: a number of bytes" >&2; exit 2; }
for t in nfcapd nfdump "$CC" pkg-config; do
	command -v "$t" >/dev/null || { echo "bench/ipfix.sh: $t missing (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -e "$BUILD/obj/user/agent/ipfix.o" ] || { echo "bench/ipfix.sh: run make first" >&2; exit 1; }

NS=xipfx$$
T=$(mktemp -d /tmp/xcni-bench-ipfix.XXXXXX)
NF_PID=
cleanup() {
	[ -n "$NF_PID" ] && { kill "$NF_PID" 2>/dev/null; wait "$NF_PID" 2>/dev/null; }
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# shellcheck disable=SC2046 # pkg-config's flags, word-split
"$CC" -O2 -std=gnu11 -Wall -Wextra -Werror $(pkg-config --cflags libfixbuf) -I"$ROOT/user" \
	-I"$ROOT/bpf" -o "$T/ipfix_rate" "$HERE/ipfix_rate.c" "$BUILD/obj/user/agent/ipfix.o" \
	"$BUILD/libxcni.a" $(pkg-config --libs libfixbuf)
ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir "$T/nf"
ip netns exec "$NS" nfcapd -b 127.0.0.1 -p 4739 -w "$T/nf" -B "$RCVBUF" >"$T/nfcapd.log" 2>&1 &
NF_PID=$!
sleep 1
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu "$NF_PID")
out=$(ip netns exec "$NS" "$T/ipfix_rate" udp://127.0.0.1:4739 "$RATE" "$SECS")
sleep 1
c1=$(cpu "$NF_PID")
kill "$NF_PID"
wait "$NF_PID" 2>/dev/null || true
NF_PID=
f=$(ls "$T"/nf/nfcapd.* | grep -v current | head -1)
read -r flows pk by < <(nfdump -r "$f" -q -o "fmt:%pkt %opkt %byt %obyt" |
	awk '{n++; p += $1 + $2; b += $3 + $4} END {print n + 0, p + 0, b + 0}')
eval "$(echo "$out" | tr ' ' '\n' | sed 's/^/s_/')"
hz=$(getconf CLK_TCK)
# shellcheck disable=SC2154 # s_* come from the driver's line
{
	echo "bench/ipfix.sh: $RATE connections/s for $SECS s, exporter -> nfcapd on loopback (rcvbuf $RCVBUF)"
	echo "  handed over: $s_records records, $((s_packets + s_rpackets)) packets, $((s_bytes + s_rbytes)) bytes; $s_messages messages, $s_errors send errors"
	echo "  nfdump read: $flows records, $pk packets, $by bytes"
	echo "  lost: $((s_records - flows)) records ($(awk -v a="$s_records" -v b="$flows" 'BEGIN {printf "%.3f", (a - b) * 100 / a}')%)"
	echo "  exporter CPU: ${s_cpu_s} s over ${s_wall_s} s ($(awk -v c="$s_cpu_s" -v w="$s_wall_s" 'BEGIN {printf "%.2f", c * 100 / w}')% of a core, $(awk -v c="$s_cpu_s" -v n="$s_records" 'BEGIN {printf "%.2f", c * 1e6 / n}') us a record)"
	echo "  nfcapd CPU: $(awk -v c=$((c1 - c0)) -v h="$hz" -v w="$s_wall_s" 'BEGIN {printf "%.2f s (%.2f%% of a core)", c / h, c / h * 100 / w}')"
	grep -o 'Sequence Errors: [0-9]*' "$T/nfcapd.log" | sed 's/^/  nfcapd: /'
}
[ "$flows" = "$s_records" ] && [ "$pk" = $((s_packets + s_rpackets)) ] && [ "$by" = $((s_bytes + s_rbytes)) ]
