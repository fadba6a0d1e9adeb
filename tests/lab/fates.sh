#!/bin/bash
# One verdict word per fate (issue 53 item 2), on the shop of examples/store
# (frontend, backend-0/1, db-0; a default deny, the typo that denies backend
# -> db, and 30-fates.yaml: the backends' admin port 9090 allowed from the
# frontend though nothing serves it, a Service store/search without
# endpoints) on a two-node lab translating Services in BPF (--kube-proxy
# none: socket load balancing at the pods' sockets). lab probe, lab matrix
# and the flow records (xcnictl flows --node all) must say the same word:
#   frontend -> db-0 5432/tcp          denied, naming the policies that isolate db-0
#   frontend -> backend-0 9090/tcp     refused (the pod's RST), its record refused, not allowed
#   frontend -> svc/store/search 80    no-backend, with a flow record: Service backend not found
#   frontend -> backend-0 8080/tcp     connected, its record allowed
#   frontend -> backend-1 8080/tcp     timeout once backend-1's answers to the frontend are
#                                      blackholed in its netns (no xcni drop): its record
#                                      timeout, not allowed; in lab matrix T, beside the D of
#                                      the cells backend-1's node denies in the same run
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite fates
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
EX=$XCNI_ROOT/examples/store

flows() { "$XCNICTL" --node all flows "$@"; }
# one_rec PYEXPR FILTERS...: the merged records the filters select: exactly one, and
# PYEXPR holds on it (r).
one_rec() {
	local expr=$1 out; shift
	out=$(flows --json "$@") || { echo "flows: exit $?"; return 1; }
	/usr/bin/python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
recs = [r for r in recs if "cursor" not in r]
if len(recs) != 1 or not eval(sys.argv[1], {}, {"r": recs[0]}):
    print(json.dumps(recs, indent=1)); sys.exit(1)' "$expr" <<<"$out"
}
# none FILTERS...: no merged record matches.
none() {
	local out
	out=$(flows --json "$@") || return 1
	! grep -q '"verdict"' <<<"$out" || { echo "$out"; return 1; }
}
probe() { OUT=$(lab probe "$@" 2>&1); RC=$?; }

check "lab up --nodes 2 --kube-proxy none" lab up --nodes 2 --kube-proxy none || { finish; exit 1; }
check "apply the shop (examples/store/00-app.yaml)" lab apply -f "$EX/00-app.yaml" || { finish; exit 1; }
check "apply its policies (10-policies.yaml) and 30-fates.yaml" \
	lab apply -f "$EX/10-policies.yaml" -f "$EX/30-fates.yaml"
remember_pids

# connected: the word, and a record that says allowed.
probe store/frontend store/backend-0 8080/tcp
check "frontend -> backend-0 8080/tcp: connected, exit 0 (got $OUT)" test "$RC-$OUT" = 0-connected
check "  ... its record: allowed by store/backend-from-frontend" wait_until 15 \
	one_rec 'r["verdict"] == "allowed" and r["policy"] == "store/backend-from-frontend"' \
	--from-pod store/frontend --to-port 8080

# denied: a policy, named.
probe store/frontend store/db-0 5432/tcp
check "frontend -> db-0 5432/tcp: denied, naming the policies that isolate db-0, exit 1 (got $OUT)" \
	test "$RC-$OUT" = "1-denied: isolated by store/db-from-backend, store/default-deny (ingress: nothing allows)"
probe store/frontend store/db-0 5432/tcp --json
check "  ... --json: verdict denied, denied_by the same" test "$(jq_ 'd["verdict"], d["denied_by"]' <<<"$OUT")" = \
	"denied isolated by store/db-from-backend, store/default-deny (ingress: nothing allows)"
check "  ... its record: denied, drop-policy-ingress, isolated by the same" \
	one_rec 'r["verdict"] == "denied" and r["drop_reason"] == "drop-policy-ingress" and r["isolated_by"] == "store/db-from-backend, store/default-deny"' \
	--from-pod store/frontend --to-port 5432 --last 1

# refused: the port is allowed, nothing listens; a closed port is never allowed.
probe store/frontend store/backend-0 9090/tcp
check "frontend -> backend-0 9090/tcp (allowed, nothing listens): refused, exit 1 (got $OUT)" \
	test "$RC-$OUT" = 1-refused
check "  ... its record: refused (RST back), the policy that let it through kept" wait_until 15 \
	one_rec 'r["verdict"] == "refused" and r["policy"] == "store/backend-admin" and "RST" in r["tcp_flags"]' \
	--from-pod store/frontend --to-port 9090
check "  ... no record of it says allowed (--verdict allowed)" none --to-port 9090 --verdict allowed
check "  ... --verdict refused finds it" one_rec 'r["destination"]["pod"] == "backend-0"' --verdict refused
refused_text() {
	local out
	out=$(flows --to-port 9090 -o wide) || return 1
	grep -qE 'store/frontend.*store/backend-0.* refused .*store/backend-admin rule 0.*nothing listens: the destination answered RST' <<<"$out" ||
		{ echo "$out"; return 1; }
}
check "  ... flows' text (-o wide): refused, the policy, nothing listens" refused_text

# no-backend: a Service without endpoints, with its record.
probe store/frontend svc/store/search 80/tcp
check "frontend -> svc/store/search 80/tcp (no endpoints): no-backend, exit 1 (got $OUT)" \
	test "$RC-$OUT" = 1-no-backend
check "  ... its record: no-backend from store/frontend, for store/search:http (no backend), drop-no-backend" wait_until 15 \
	one_rec 'r["verdict"] == "no-backend" and r["source"]["pod"] == "frontend" and r["service"] == "store/search:http" and r["backend"] is None and r["drop_reason"] == "drop-no-backend"' \
	--service store/search
nobackend_text() {
	local out
	out=$(flows --service store/search -o wide) || return 1
	grep -qE 'store/frontend .* no-backend .*Service backend not found \(drop-no-backend\) svc store/search:http( \[[A-Z,]+\])?$' <<<"$out" ||
		{ echo "$out"; return 1; }
}
check "  ... flows' text (-o wide): Service backend not found, as Hubble says it" nobackend_text
check "  ... --verdict no-backend finds it, Hubble's DROPPED (any drop) too, denied (a policy's) not" \
	bash -c "[ \"\$('$XCNICTL' --node all flows --json --verdict no-backend --service store/search | grep -c '\"verdict\"')\" = 1 ] && [ \"\$('$XCNICTL' --node all flows --json --verdict DROPPED --service store/search | grep -c '\"verdict\"')\" = 1 ] && [ \"\$('$XCNICTL' --node all flows --json --verdict denied --service store/search | grep -c '\"verdict\"')\" = 0 ]"
# monitor says the same word (issue 70 item 2: it said denied, as for a policy's drop).
mon_nobackend() {
	"$XCNICTL" --node all monitor --timeout-ms 2500 --reason drop-no-backend >"$T/mon.txt" 2>"$T/mon.err" &
	local m=$!
	sleep 1
	lab probe store/frontend svc/store/search 80/tcp --timeout-ms 300 >/dev/null 2>&1
	wait "$m"
	grep -q 'store/frontend.* no-backend ' "$T/mon.txt" && ! grep -q ' denied ' "$T/mon.txt" ||
		{ head -3 "$T/mon.txt" "$T/mon.err"; return 1; }
}
check "  ... monitor: its drop event says no-backend, not denied" mon_nobackend

# What a user reads (the report's before/after): the frontend's records, the matrix.
diag "xcnictl --node all flows --from-pod store/frontend:"
while IFS= read -r l; do diag "  $l"; done < <(flows --from-pod store/frontend 2>&1 | cut -c1-260)
diag "lab matrix 9090/tcp:"
while IFS= read -r l; do diag "  $l"; done < <(lab matrix 9090/tcp --timeout-ms 500 2>&1)

# The matrix: a symbol per word, and its legend.
matrix_ok() {
	local out
	out=$(lab matrix 9090/tcp --json --timeout-ms 500) || true
	/usr/bin/python3 -c '
import json, sys
m = json.loads(sys.stdin.read())
v = m["verdicts"]
assert v["store/frontend"]["store/backend-0"] == "refused", v["store/frontend"]
assert v["store/frontend"]["store/backend-1"] == "refused", v["store/frontend"]
assert v["store/backend-0"]["store/db-0"] == "denied", v["store/backend-0"]
assert v["store/frontend"]["store/db-0"] == "denied", v["store/frontend"]
' <<<"$out" || { echo "$out"; return 1; }
	out=$(lab matrix 9090/tcp --timeout-ms 500) || true
	# Columns: backend-0, backend-1, db-0, frontend (itself: no policy, nothing on 9090).
	grep -qE '^store/frontend +R +R +D +R$' <<<"$out" &&
		grep -qx '(. connected, D denied, R refused, N no-backend, T timeout)' <<<"$out" ||
		{ echo "$out"; return 1; }
}
check "lab matrix 9090/tcp: R where the frontend meets the backends' closed port, D where policy drops; the legend" matrix_ok

# timeout: allowed, listened to, and nothing comes back (backend-1's route to the
# frontend a blackhole: its SYN-ACK never leaves the pod), no drop anywhere.
FE=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'frontend'][0]")
check "blackhole the frontend ($FE) in backend-1's netns" lab exec store/backend-1 -- /usr/sbin/ip route add blackhole "$FE/32"
probe store/frontend store/backend-1 8080/tcp
check "frontend -> backend-1 8080/tcp (the answer blackholed): timeout, exit 1 (got $OUT)" \
	test "$RC-$OUT" = 1-timeout
check "  ... its record: timeout (the SYN unanswered, no drop seen), the policy that let it through kept" wait_until 15 \
	one_rec 'r["verdict"] == "timeout" and r["policy"] == "store/backend-from-frontend" and r["reply_packets"] == 0' \
	--from-pod store/frontend --to-pod store/backend-1 --to-port 8080 --verdict timeout
timeout_text() {
	local out
	out=$(flows --from-pod store/frontend --to-pod store/backend-1 --verdict timeout -o wide) || return 1
	grep -qE 'store/frontend.*store/backend-1.* timeout .*store/backend-from-frontend rule 0.*nothing answered the SYN, no drop seen' <<<"$out" ||
		{ echo "$out"; return 1; }
}
check "  ... flows' text (-o wide): timeout, the policy, nothing answered" timeout_text
diag "xcnictl --node all flows --from-pod store/frontend --to-pod store/backend-1 --to-port 8080 (the timeout):"
while IFS= read -r l; do diag "  $l"; done < <(flows --from-pod store/frontend --to-pod store/backend-1 --to-port 8080 2>&1)
# The matrix runs every probe at once: the silent cell is a timeout though
# backend-1's node drops other cells to it (backend-0's, db-0's) in the same run,
# each cell's drop named by its own flow records (its source pod and port).
matrix_timeout() {
	local out
	out=$(lab matrix 8080/tcp --json --timeout-ms 1000) || true
	/usr/bin/python3 -c '
import json, sys
v = json.loads(sys.stdin.read())["verdicts"]
assert v["store/frontend"]["store/backend-1"] == "timeout", v["store/frontend"]
assert v["store/frontend"]["store/backend-0"] == "connected", v["store/frontend"]
assert v["store/backend-0"]["store/backend-1"] == "denied", v["store/backend-0"]
assert v["store/db-0"]["store/backend-1"] == "denied", v["store/db-0"]
' <<<"$out" || { echo "$out"; return 1; }
}
check "lab matrix 8080/tcp: T for frontend -> backend-1, D for the cells policy drops into backend-1" matrix_timeout

lab_down_checked
finish
