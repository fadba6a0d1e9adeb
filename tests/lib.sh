# Shared helpers for xcni's shell test suites (sourced, not executed).
#
# Every suite prints TAP-style lines ("ok N - what" / "not ok N - what") and
# ends with "N passed, N failed"; tests/run.sh adds the suites up. A suite
# exits non-zero when any of its tests failed.

XCNI_ROOT=${XCNI_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$XCNI_ROOT/build}
XCNI_BIN=${XCNI_BIN:-$BUILD/xcni}
CNI_REF_DIR=${CNI_REF_DIR:-/usr/lib/cni}

_t_n=0
_t_pass=0
_t_fail=0

ok() { _t_n=$((_t_n + 1)); _t_pass=$((_t_pass + 1)); echo "ok $_t_n - $*"; }
not_ok() { _t_n=$((_t_n + 1)); _t_fail=$((_t_fail + 1)); echo "not ok $_t_n - $*"; }

# check "description" command...: runs the command, records ok/not ok. It runs
# in this shell (output through a file, not $(...)), so a command may set
# variables or start background processes the suite keeps, e.g. start_xcnid.
# The output goes to one scratch file for the whole suite, made once and
# unlinked at once (it lives on through the descriptor, and goes with the
# suite): a mktemp and an rm per check were two processes each, ~5,000 checks.
_t_fd=
check() {
	local what=$1; shift
	local f rc
	if [ -z "$_t_fd" ]; then
		f=$(mktemp /tmp/xcni-check.XXXXXX) || return 1
		exec {_t_fd}<>"$f"
		rm -f "$f"
	fi
	"$@" >"/dev/fd/$_t_fd" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$what"
	else
		not_ok "$what"
		sed 's/^/#   /' "/dev/fd/$_t_fd" | head -n 40
	fi
	return "$rc"
}

# wait_until SECONDS command...: runs the command until it succeeds, every 0.1 s,
# for at most SECONDS; its last output is shown when it never did. For a check
# whose condition the system reaches in its own time (an agent taking over, an
# entry evicted): a loaded machine gets there later, not differently, so the
# check waits for the condition, never for a fixed time. The command runs in
# this shell (its output through a file), so it may keep state between tries.
wait_until() {
	local deadline=$((SECONDS + $1)) f
	shift
	f=$(mktemp /tmp/xcni-wait.XXXXXX) || return 1
	until "$@" >"$f" 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			cat "$f"
			rm -f "$f"
			return 1
		fi
		sleep 0.1
	done
	rm -f "$f"
}

# mon_subscribed PID [NETNS]: until xcnid took the events subscription of the
# `xcnictl monitor` that PID is or started (`ctl monitor ... &` forks a subshell),
# at most 10 s: xcnid passes on only the records it reads from then on. Seen as a
# Unix socket of the monitor whose peer xcnid holds (a connection not yet
# accepted has no process), in this netns and NETNS (xcnid's). The flows
# trailer's monitor_subscribers cannot tell: it counts monitors gone since the
# last record too.
mon_subscribed() { wait_until 10 _mon_subscribed "$@"; }
_mon_subscribed() {
	local pids
	pids=" $(ps -e -o pid=,ppid= | awk -v r="$1" 'BEGIN { k[r] = 1 }
		{ p[$1] = $2 } END { for (d = 0; d < 3; d++) for (i in p) if (p[i] in k) k[i] = 1
		for (i in k) printf "%s ", i }')"
	{ ss -xpH; [ -z "${2:-}" ] || ss -N "$2" -xpH; } | awk -v pids="$pids" '
		{ pid = $0; sub(/.*pid=/, "", pid); sub(/[^0-9].*/, "", pid) }
		index(pids, " " pid " ") && $0 ~ /"xcnictl"/ { want[$8] = 1 }
		/"xcnid"/ { held[$6] = 1 }
		END { for (i in want) if (i in held) exit 0; print "no subscription of" pids "held by xcnid"; exit 1 }'
}

# check_fails "description" command...: the command must exit non-zero.
check_fails() {
	local what=$1; shift
	if "$@" >/dev/null 2>&1; then not_ok "$what (unexpectedly succeeded)"; else ok "$what"; fi
}

diag() { echo "# $*"; }

# finish: print the closing line and exit with the suite's status.
finish() {
	echo "$_t_pass passed, $_t_fail failed"
	[ "$_t_fail" -eq 0 ]
}

# A short unique tag for names this run creates (netns, links, dirs).
XCT_TAG=${XCT_TAG:-xct$$}

# The node agent for a suite: its own pin dir, so suites and a real xcnid never
# share state. start_xcnid PIN_DIR [xcnid args...]; stop_xcnid removes the pins.
XCNID_PID=
XCNID_PIN=
# XCNI_KEEP_LOGS=DIR: each agent's log added to DIR/xcnid-<tag>.log before it
# is emptied (a restart) or removed (stop_xcnid), for a run to be read after.
keep_log() {
	[ -z "${XCNI_KEEP_LOGS:-}" ] || cat "/tmp/xcnid-$XCT_TAG.log" >>"$XCNI_KEEP_LOGS/xcnid-$XCT_TAG.log" 2>/dev/null
}
start_xcnid() {
	XCNID_PIN=$1
	shift
	# Emptied here, not only by the job's redirection: the job's child opens
	# the file when it first runs, and on a loaded machine wait_xcnid_ready
	# could read an earlier agent's "ready" before that (masq6-netns saw it).
	keep_log
	: >"/tmp/xcnid-$XCT_TAG.log"
	# XCNID_NETNS: run the agent in that node's netns, as the plugin is.
	${XCNID_NETNS:+nsenter --net=/var/run/netns/$XCNID_NETNS} \
		"$BUILD/xcnid" --pin-dir "$XCNID_PIN" "$@" >"/tmp/xcnid-$XCT_TAG.log" 2>&1 &
	XCNID_PID=$!
	for _ in $(seq 100); do
		[ -e "$XCNID_PIN/prog_to_pod" ] && return 0
		kill -0 "$XCNID_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "/tmp/xcnid-$XCT_TAG.log" >&2
	return 1
}
# wait_xcnid_ready: after start_xcnid, until the agent said it is ready (its
# pins may be there from an earlier agent; the log line is this one's), at
# most XCNID_READY_S seconds (60: the verifier on a loaded machine is slow).
_xcnid_ready() {
	grep -q 'xcnid: ready' "/tmp/xcnid-$XCT_TAG.log" && return 0
	kill -0 "$XCNID_PID" 2>/dev/null || return 2
	return 1
}
wait_xcnid_ready() {
	local deadline=$((SECONDS + ${XCNID_READY_S:-60})) rc
	while :; do
		_xcnid_ready
		rc=$?
		[ "$rc" = 0 ] && return 0
		[ "$rc" = 2 ] || [ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.1
	done
	cat "/tmp/xcnid-$XCT_TAG.log"
	return 1
}
# ovlcalls_live PIN: from_overlay's step array pinned (xcni_ovlcalls), its
# nine slots filled, and the array the attached from_overlay runs with (an
# array nothing holds is emptied: every step a drop-tail-call). bpftool's
# exit status is not read: it fails naming a link's device in another netns
# after printing the link (pipefail made that the check's answer).
ovlcalls_live() {
	local prog arr n
	prog=$(bpftool -j link show pinned "$1/links/node-underlay-tc" 2>/dev/null | jq -r .prog_id || true)
	arr=$(bpftool -j map show pinned "$1/xcni_ovlcalls" 2>/dev/null | jq -r .id || true)
	[ -n "$prog" ] && [ -n "$arr" ] ||
		{ echo "no from_overlay link ($prog) or xcni_ovlcalls ($arr) pinned under $1" >&2; return 1; }
	bpftool -j prog show id "$prog" | jq -e --argjson a "$arr" '.map_ids | index($a)' >/dev/null ||
		{ echo "from_overlay (program $prog) runs without the pinned xcni_ovlcalls (map $arr)" >&2; return 1; }
	n=$(bpftool -j map dump pinned "$1/xcni_ovlcalls" | jq length)
	[ "$n" = 9 ] || { echo "xcni_ovlcalls (map $arr) holds $n programs, 9 wanted" >&2; return 1; }
}
stop_xcnid() {
	if [ -n "$XCNID_PID" ]; then
		kill "$XCNID_PID" 2>/dev/null
		wait "$XCNID_PID" 2>/dev/null
	fi
	XCNID_PID=
	keep_log
	rm -f "/tmp/xcnid-$XCT_TAG.log"
	case "$XCNID_PIN" in /sys/fs/bpf/?*) rm -rf "$XCNID_PIN" ;; esac
}
# same_as_baseline: the suite's snapshot (a function it defines) is $BASELINE,
# else their diff.
same_as_baseline() {
	local now
	now=$(snapshot)
	if [ "$now" != "$BASELINE" ]; then
		diff <(echo "$BASELINE") <(echo "$now") | head -20
		return 1
	fi
}

# tag_cleanup: the agent stopped, every netns of this run's tag ($XCT_TAG-*)
# removed, the scratch directory $T gone.
tag_cleanup() {
	local p
	stop_xcnid
	for p in $(ip netns list | awk '{print $1}' | grep "^$XCT_TAG-"); do
		ip netns del "$p" 2>/dev/null
	done
	rm -rf "$T"
}

# A manifest directory xcnid follows (--manifests "$M"): put FILE writes stdin
# into it atomically; sync_gen bumps the generation token and waits until the
# agent applied it (the suite defines ctl to reach that agent's maps).
MANIFEST_GEN=0
put() { cat >"$M/.tmp-$1" && mv "$M/.tmp-$1" "$M/$1"; }
# The objects an API server would hold, one document each after "---":
#   k_ns NAME [LABELS]                 a Namespace (LABELS "team: red")
#   k_pod NAME NS IP [LABELS [CONTAINERS]]  a Pod on n1 with podIP IP
#   k_svc2 NAME SELECTOR VIP VIP6 PORTS [SPEC]  a dual-stack Service x/NAME
#                                      (SPEC: one more line of its spec)
#   k_slice NAME SVC 4|6 ENDPOINTS PORTS  an EndpointSlice x/NAME of Service x/SVC
#                                      (ENDPOINTS, PORTS: flow lists)
#   k_allow NAME FROM TO [PORTS]       NetworkPolicy x/NAME: pod TO (label pod: TO)
#                                      admits pod FROM alone, on PORTS ("{port: 80}")
k_ns() { printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s%s}\n' "$1" "${2:+, labels: {$2\}}"; }
k_pod() {
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s%s}\n' "$1" "$2" "${4:+, labels: {$4\}}"
	printf 'spec: {nodeName: n1%s}\nstatus: {podIP: %s}\n' "${5:+, containers: [$5]}" "$3"
}
k_svc2() {
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: x}\n' "$1"
	printf 'spec:\n  selector: {%s}\n  clusterIP: %s\n  clusterIPs: [%s, "%s"]\n  ipFamilies: [IPv4, IPv6]\n' \
		"$2" "$3" "$3" "$4"
	[ -z "${6:-}" ] || printf '  %s\n' "$6"
	printf '  ports: [%s]\n' "$5"
}
k_slice() {
	printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: %s, namespace: x, labels: {kubernetes.io/service-name: %s}}\n' "$1" "$2"
	printf 'addressType: IPv%s\nendpoints: %s\nports: [%s]\n' "$3" "$4" "$5"
}
k_allow() {
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: x}\n' "$1"
	printf 'spec:\n  podSelector: {matchLabels: {pod: %s}}\n' "$3"
	printf '  ingress: [{from: [{podSelector: {matchLabels: {pod: %s}}}]%s}]\n' "$2" "${4:+, ports: [$4]}"
}
sync_gen() {
	MANIFEST_GEN=$((MANIFEST_GEN + 1))
	echo "$MANIFEST_GEN" >"$M/.tmp-gen" && mv "$M/.tmp-gen" "$M/.xcni-generation"
	for _ in $(seq 100); do
		[ "$(ctl config --json 2>/dev/null | jq -r .applied_gen)" -ge "$MANIFEST_GEN" ] 2>/dev/null && return 0
		sleep 0.05
	done
	echo "xcnid did not apply generation $MANIFEST_GEN"
	return 1
}

# pcap_start NETNS DEV FILTER FILE: dumpcap (tshark's capture engine: tshark
# itself starts its eight extcap helpers twice first, ~1 s of CPU a capture)
# in netns NETNS on DEV, frames
# matching the capture FILTER, 160 bytes a frame, into FILE (its messages in
# FILE.err); CAP is its PID, set before it is known to capture (the caller
# kills it either way). geneve_capture_start NETNS DEV FILE: Geneve's port only.
# pcap_stop FILE (geneve_capture_stop): the last frames in, dumpcap stopped,
# FILE not empty. (Suites keep capture_start/capture_stop for their own wrappers.)
pcap_start() {
	rm -f "$4" "$4.err"
	nsenter --net="/run/netns/$1" dumpcap -i "$2" -s 160 -f "$3" -w "$4" -q 2>"$4.err" &
	CAP=$!
	for _ in $(seq 100); do
		grep -q 'Capturing on' "$4.err" 2>/dev/null && [ -s "$4" ] && return 0
		kill -0 "$CAP" 2>/dev/null || break
		sleep 0.1
	done
	cat "$4.err"
	return 1
}
geneve_capture_start() { pcap_start "$1" "$2" 'udp port 6081' "$3"; }
pcap_stop() { geneve_capture_stop "$@"; }
geneve_capture_stop() {
	sleep 0.3 # the last frames reach the file
	kill -INT "$CAP" 2>/dev/null
	wait "$CAP" 2>/dev/null
	[ -s "$1" ]
}

# serve_dual NETNS: TCP 80 ("hello") and UDP 53 ("pong") on both families in
# NETNS, their PIDs added to the suite's PIDS (its trap kills them by PID);
# returns once both listen (at most 50 tries, 5 s). Call it in the suite's own
# shell (not in $(...) or a pipe), so that PIDS is the suite's.
serve_dual() {
	local ns=$1
	ip netns exec "$ns" socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 SYSTEM:'echo hello' &
	PIDS+=($!)
	# UDP: one socket answering every datagram (socat's fork per datagram lost some).
	ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 53))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"pong\n", a)' &
	PIDS+=($!)
	for _ in $(seq 50); do
		ss -N "$ns" -ltn | grep -q ':80 ' && ss -N "$ns" -lun | grep -q ':53 ' && return 0
		sleep 0.1
	done
}
