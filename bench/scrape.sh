#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A scrape storm against xcnid's Prometheus page: C clients scraping in a loop
# for S seconds, each request on its own connection (as Prometheus does). It
# prints the scrapes answered, the pages the agent rendered (its -v -v log)
# and the share of the run the agent spent rendering: what a storm costs the
# agent's loop (user/lib/system/http.c spaces renders to at most a tenth of its
# time). One xcnid in a netns of its own with empty maps (a page costs ~5 ms;
# the full conntrack table, ~100 ms). See bench/README.md. Must run as root;
# takes /tmp/xcni-test.lock itself (don't wrap it in flock).
#
#   bash bench/scrape.sh [-c CLIENTS] [-t SECONDS]
#
# Environment: BUILD (xcnid from $BUILD/xcnid).
set -euo pipefail

BENCH=scrape
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=4
SECS=3
opts - "c:CLIENTS t:SECS" "$@"
[[ $CLIENTS =~ ^[1-9][0-9]?$ && $SECS =~ ^[1-9][0-9]?$ ]] ||
	{ echo "scrape.sh: -c and -t take 1 to 99" >&2; exit 2; }

exec 9>/tmp/xcni-test.lock
flock 9
NS=xcni-scrape-$$
PIN=/sys/fs/bpf/xcni-scrape-$$
LOG=$(mktemp /tmp/xcni-scrape.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$PIN" "$LOG"
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
nsenter --net="/var/run/netns/$NS" "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.93.0.0/24 \
	--node-name n1 --metrics-addr 127.0.0.1:9976 -v -v >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q 'http: serving' "$LOG" && break; sleep 0.1; done
grep -q 'http: serving' "$LOG" || { cat "$LOG" >&2; exit 1; }
nsenter --net="/var/run/netns/$NS" python3 -c '
import http.client, sys, threading, time
clients, secs = int(sys.argv[1]), float(sys.argv[2])
end, n = time.time() + secs, [0] * clients
def loop(i):
    while time.time() < end:
        c = http.client.HTTPConnection("127.0.0.1", 9976, timeout=5)
        c.request("GET", "/metrics")
        r = c.getresponse()
        r.read()
        n[i] += r.status == 200
ts = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print(f"{clients} clients, {secs:g} s: {sum(n)} scrapes answered 200")' "$CLIENTS" "$SECS"
grep 'http: /metrics rendered in' "$LOG" | awk -v s="$SECS" '{ ms += $(NF - 3); n++ }
	END { printf "%d pages rendered, %.1f ms each, %.1f ms in all: %.1f%% of the run\n",
	      n, n ? ms / n : 0, ms, ms / (s * 10) }'
