#!/bin/bash
# xcnictl status and sysdump against a lab, healthy and broken on purpose:
# the verdict, its exit code and the fields, text and JSON; a denied ping seen
# in the last minute's drops; a foreign program put first on a pod's hook; a
# map of names too small (DEGRADED naming it); an agent stopped (DOWN); --wait
# returning once the agent is back; sysdump's archive (its files, no secret).
#
#   n1: x/a (app=web)  x/b        n2: x/c
#   NetworkPolicy x/web-deny: app=web takes nothing in (b -> a is dropped)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite status
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
FOREIGN=$BUILD/tests/foreign_hook
FPIN=/sys/fs/bpf/xcni-status-test-foreign
MONITORS=()
status_cleanup() {
	local p
	rm -f "$FPIN"
	for p in "${MONITORS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	lab_cleanup
}
trap status_cleanup EXIT
ctl() { "$XCNICTL" "$@"; }

check "lab up --nodes 2" lab up --nodes 2 || { finish; exit 1; }
remember_pids
{
	y_ns x
	y_pod a x n1 'app: web'
	y_pod b x n1
	y_pod c x n2
	y_webpol web-deny deny
} >"$T/pods.yaml"
check "lab apply: 3 pods, a policy isolating x/a" lab apply -f "$T/pods.yaml" || { finish; exit 1; }
remember_pids

# -- healthy
st_text() { # st_text RC ARGS...: status's text output in $T/st.txt, its exit code RC
	local want=$1 rc; shift
	ctl status "$@" >"$T/st.txt" 2>"$T/st.err"; rc=$?
	cat "$T/st.txt" "$T/st.err"
	[ "$rc" = "$want" ]
}
has() { grep -qE -- "$1" "$T/st.txt" || { echo "no line matching: $1"; return 1; }; }
check "status --node n1: exit 0" st_text 0 --node n1
for re in '^Agent: +running, pid [0-9]+, xcnid [^ ]+ \(commit [0-9a-f]+|unknown' ', up [0-9]+' ', ready$' \
	'^Cluster: +manifest-dir .*generation [1-9][0-9]* applied' '^Kernel: +[0-9]+\.[0-9]+.*switched off: nothing' \
	'^Hooks: +[0-9]+ TCX, [0-9]+ tc; xcni first on every one' '^Maps: +xcni_' \
	'^Memory: +agent RSS [0-9.]+ MiB, maps [0-9.]+ MiB of kernel memory \([0-9]+ pinned; the largest xcni_[a-z0-9_]+, [0-9.]+ MiB\), the fullest xcni_' \
	'^Counts: +2 endpoints, (0 Services|Services kube-proxy.s), 1 policies, [0-9]+ identities' \
	'^Policy: +0 pods overflowing, 0 names missing, 0 address conflicts' '^Drops \([0-9]+s\): ' '^Verdict: +OK$'; do
	check "... a line matching /$re/" has "$re"
done
st_json() { # st_json RC ARGS...: status -j in $T/st.json, exit RC, JSON that parses
	local want=$1 rc; shift
	ctl status -j "$@" >"$T/st.json" 2>"$T/st.err"; rc=$?
	[ "$rc" = "$want" ] || { cat "$T/st.json" "$T/st.err"; echo "exit $rc"; return 1; }
	/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/st.json"
}
check "status --node all -j: exit 0, JSON" st_json 0 --node all
t0=$(date +%s%N); ctl status --node all >/dev/null 2>&1; t1=$(date +%s%N)
diag "xcnictl status --node all (2 nodes): $(( (t1 - t0) / 1000000 )) ms"
jcheck() { # jcheck PYTHON-EXPR over d (the JSON)
	/usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
n = {x['node']: x for x in d['nodes']}
ok = bool($1)
if not ok: print(json.dumps(d, indent=1)[:3000])
sys.exit(0 if ok else 1)" "$T/st.json"
}
check "... verdict OK, nodes n1 and n2, each OK" jcheck "d['verdict'] == 'OK' and sorted(n) == ['n1', 'n2'] and all(x['verdict'] == 'OK' for x in d['nodes'])"
check "... agent: version, commit, pid, uptime, ready, the kernel's release" \
	jcheck "all(x['agent']['running'] and x['agent']['version'] and x['agent']['commit'] and x['agent']['pid'] > 0 and x['agent']['uptime_s'] >= 0 and x['agent']['ready'] and x['agent']['kernel']['release'] for x in d['nodes'])"
check "... generation applied on both nodes, as the lab's manifests say" \
	jcheck "all(x['config']['applied_generation'] >= 1 and x['config']['failed_generation'] == 0 for x in d['nodes'])"
check "... counts: n1 2 endpoints, n2 1; 1 policy each" \
	jcheck "n['n1']['counts']['endpoints'] == 2 and n['n2']['counts']['endpoints'] == 1 and all(x['counts']['policies'] == 1 for x in d['nodes'])"
check "... hooks: n1's pods' veths from_pod and to_pod, each with its mode, xcni first" \
	jcheck "len([h for h in n['n1']['hooks'] if h['program'] in ('from_pod', 'to_pod')]) == 4 and all(h['mode'] in ('tcx', 'tc') and h['xcni_first'] for h in n['n1']['hooks'])"
check "... maps: fullest first" \
	jcheck "all([m['entries'] / max(m['max_entries'], 1) for m in x['maps']] == sorted([m['entries'] / max(m['max_entries'], 1) for m in x['maps']], reverse=True) for x in d['nodes'])"

# -- policy status: where each policy is in force, since when
ps_list() { # the listing's text, its exit code as the last line
	"$XCNICTL" --node all policy status >"$T/ps.txt" 2>&1
	echo "exit $?" >>"$T/ps.txt"
	cat "$T/ps.txt"
}
ps_healthy() {
	ps_list
	grep -qE '^x/web-deny +NetworkPolicy +2/2 +[0-9]+\.[0-9]{3}s +enforced on every node$' "$T/ps.txt" &&
		grep -qx 'exit 0' "$T/ps.txt"
}
check "policy status --node all: exit 0, x/web-deny enforced on 2/2 nodes with its time" ps_healthy
ps_one() { # NAME: the per-node text
	"$XCNICTL" --node all policy status "$1" >"$T/ps1.txt" 2>&1
	echo "exit $?" >>"$T/ps1.txt"
	cat "$T/ps1.txt"
}
ps_enforced_2() {
	ps_one x/web-deny
	grep -qE '^x/web-deny \(NetworkPolicy, version [0-9a-f]{16}\): enforced on 2/2 nodes, [0-9]+\.[0-9]{3} s after the change$' "$T/ps1.txt" &&
		[ "$(grep -cE '^n[12] +enforced +20[0-9-]{8}T[0-9:.]{12}Z +[0-9.]+s +[0-9]+ +-$' "$T/ps1.txt")" = 2 ] &&
		grep -qx 'exit 0' "$T/ps1.txt"
}
check "policy status x/web-deny --node all: the summary line and a row per node, enforced, since when" ps_enforced_2
ps_json() {
	"$XCNICTL" --node all -o json policy status x/web-deny | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d)
assert sorted(r["node"] for r in d) == ["n1", "n2"]
assert all(r["state"] == "enforced" and r["since"] and r["generation"] > 0 for r in d)'
}
check "... -o json: each node's state, since, generation" ps_json
ps_nope() {
	"$XCNICTL" --node all policy status x/nope >"$T/ps3.txt" 2>&1
	local rc=$?
	cat "$T/ps3.txt"
	[ "$rc" = 1 ] && grep -q "NetworkPolicy x/nope: no node's agent holds it" "$T/ps3.txt"
}
check "policy status x/nope: exit 1, naming it" ps_nope

# -- a denied ping: in the last minute's drops
IP_A=$(lab get --json | jq_ "[p['ip'] for p in d['pods'] if p['name'] == 'a'][0]")
NS_B=$(lab get --json | jq_ "[p['netns'] for p in d['pods'] if p['name'] == 'b'][0]")
ip netns exec "$NS_B" ping -c 3 -i 0.2 -W 1 "$IP_A" >/dev/null 2>&1
# (judged at the sender's from_pod: both pods are n1's, so the drop is in direction from-pod)
check "x/b pings x/a 3 times (denied): status --node n1 -j counts 3 drop-policy-ingress in the last minute" \
	bash -c "ctl() { \"$XCNICTL\" \"\$@\"; }; \"$XCNICTL\" status --node n1 -j >'$T/st.json'; /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
dr = d[\"nodes\"][0][\"agent\"][\"drops_last_minute\"]
got = sum(x[\"packets\"] for x in dr[\"by_reason\"] if x[\"reason\"] == \"drop-policy-ingress\")
print(dr)
sys.exit(0 if got >= 3 else 1)' '$T/st.json'"
check "... and the text names it" bash -c "\"$XCNICTL\" status --node n1 | grep -E '^Drops \\([0-9]+s\\): [0-9]+: .*[0-9]+ drop-policy-ingress (from|to)-pod'"

# -- a foreign program first on one of x/a's hooks
check "status --node n1 -j (again)" st_json 0 --node n1
DEV=$(jq_ "[h['device'] for h in d['nodes'][0]['hooks'] if h['program'] == 'from_pod'][0]" <"$T/st.json")
check "foreign_hook tcx $DEV ingress: another program put first" \
	in_node 1 "$FOREIGN" tcx "$DEV" ingress "$FPIN"
check "status --node n1: exit 1" st_text 1 --node n1
check "... DEGRADED naming $DEV ingress and what runs first" \
	has "^Verdict: +DEGRADED: .*$DEV ingress: TCX program foreign_first"
check "... the Hooks line names it too" has "^Hooks: .*a foreign program first on 1: $DEV ingress"
rm -f "$FPIN"
check "foreign program removed: status --node n1 OK again, exit 0" st_text 0 --node n1

# -- n2's names map too small: DEGRADED naming the map
# agent_restart NODE LOG ARGV...: lab_agent_restart (tests/lab/lib.sh), its PID in MONITORS.
agent_restart() { lab_agent_restart MONITORS "$@"; }
XPID2=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n2'][0]")
mapfile -d '' ARGS2 <"/proc/$XPID2/cmdline"
check "n2's xcnid restarted with --map-max xcni_podname=2 --map-grow=0 (3 pods in the cluster)" \
	agent_restart n2 "$T/n2-small.log" "${ARGS2[@]}" --map-max xcni_podname=2 --map-grow=0
degraded_podname() {
	local rc
	for _ in $(seq 50); do
		ctl status --node n2 >"$T/st.txt" 2>&1; rc=$?
		grep -q '^Verdict: *DEGRADED' "$T/st.txt" && break
		sleep 0.2
	done
	cat "$T/st.txt"
	[ "$rc" = 1 ] && grep -qE '^Verdict: +DEGRADED: .*map xcni_podname 2/2 full \(100%\)' "$T/st.txt" &&
		grep -qE '^Verdict: .*names missing' "$T/st.txt"
}
check "status --node n2: exit 1, DEGRADED naming xcni_podname 2/2 and the names missing" degraded_podname
check "... the Maps line puts it first" has '^Maps: +xcni_podname 2/2 \(100%\)'
check "... the Memory line names it the fullest" has '^Memory: .*, the fullest xcni_podname 2/2 \(100%\)$'
check "status --node all: exit 1, Overall DEGRADED" bash -c "\"$XCNICTL\" status --node all >'$T/st.txt'; test \$? = 1 && grep -q '^Overall: *DEGRADED' '$T/st.txt'"
check "n2's xcnid restarted as it was, with --flows (and its metrics page)" agent_restart n2 "$T/n2-back.log" "${ARGS2[@]}" --flows --metrics-addr=127.0.0.1:9971
check "status --node n2 -j: OK, flows on, the flows socket's figures read (log, monitor)" st_json 0 --node n2
check "... flows.on, the window, the trailer's log_lines and monitor_subscribers" \
	jcheck "d['verdict'] == 'OK' and n['n2']['agent']['flows']['on'] and n['n2']['agent']['flows']['window'] > 0 and 'log_lines' in n['n2']['flows'] and 'monitor_subscribers' in n['n2']['flows']"
check "... the text: Flows: on, IPFIX off" bash -c "\"$XCNICTL\" status --node n2 | grep -E '^Flows: +on \(window [0-9]+\), flow log [0-9]+ lines \(0 errors\), IPFIX off$'"

# -- n1's agent stopped: DOWN; --wait returns once it is back
XPID1=$(lab get --json | jq_ "[n['xcnidPid'] for n in d['nodes'] if n['name'] == 'n1'][0]")
mapfile -d '' ARGS1 <"/proc/$XPID1/cmdline"
lab_agent_stop "$XPID1"
check "n1's xcnid stopped: status --node n1 exit 1" st_text 1 --node n1
check "... Verdict DOWN: no agent answers" has '^Verdict: +DOWN: no agent answers on /run/xcni/status'
check "... Agent: DOWN" has '^Agent: +DOWN'
check "status --node all -j: exit 1, verdict DOWN, n2 OK" st_json 1 --node all
check "... n1 DOWN, n2 OK" jcheck "d['verdict'] == 'DOWN' and n['n1']['verdict'] == 'DOWN' and n['n2']['verdict'] == 'OK'"
# A policy applied while n1's agent is down: in force on n2 only, and said so.
cat >"$T/idle.yaml" <<YAML
$(y_np idle x "app: none" "Ingress")
YAML
# apply_count: n2's policy applies observed (xcni_policy_apply_seconds_count).
apply_count() {
	in_node 2 curl -sf --max-time 10 "http://127.0.0.1:9971/metrics" |
		awk '$1 == "xcni_policy_apply_seconds_count" { print $2 }'
}
APPLY0=$(apply_count)
check "lab apply x/idle with n1's agent down (no wait: n1 cannot report it)" \
	env XCNI_LAB_NO_WAIT=1 "$XCNICTL" lab apply -f "$T/idle.yaml"
on_n2() {
	for _ in $(seq 100); do
		ctl --node n2 policy status x/idle >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
check "... n2's agent applied it (policy status --node n2 x/idle: exit 0)" on_n2
ps_down() {
	ps_list
	grep -qx 'exit 1' "$T/ps.txt" &&
		grep -qE '^x/idle +NetworkPolicy +1/2 +- +n1: no policy status from its agent$' "$T/ps.txt"
}
check "policy status --node all: exit 1, x/idle on 1/2, n1 named (no status from its agent)" ps_down
t0=$SECONDS
ctl status --node n1 --wait --timeout 1500ms >/dev/null 2>&1
rc=$?
check "status --wait --timeout 1500ms with n1 down: exit 1 after about 1.5 s (rc $rc, $((SECONDS - t0)) s)" \
	test "$rc" = 1 -a $((SECONDS - t0)) -le 5
ctl status --node n1 --wait --timeout 60s >"$T/wait.txt" 2>&1 &
WPID=$!
MONITORS+=("$WPID")
sleep 1
check "status --wait: still waiting while n1 is down" kill -0 "$WPID"
check "n1's xcnid started again" agent_restart n1 "$T/n1-back.log" "${ARGS1[@]}"
waited() {
	for _ in $(seq 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
	wait "$WPID"
	local rc=$?
	cat "$T/wait.txt"
	[ "$rc" = 0 ] && grep -q '^Verdict: *OK' "$T/wait.txt"
}
check "... status --wait returned OK, exit 0, once it was up and ready" waited
ps_back() {
	ps_one x/idle
	grep -qE '^x/idle \(NetworkPolicy, version [0-9a-f]{16}\): enforced on 2/2 nodes, ' "$T/ps1.txt" &&
		grep -qx 'exit 0' "$T/ps1.txt"
}
check "n1 back: policy status x/idle enforced on 2/2 nodes, exit 0" ps_back
apply_hist() { # n2 applied x/idle while running: one observation more at least
	local m2
	m2=$(apply_count)
	echo "n2: xcni_policy_apply_seconds_count $APPLY0 -> $m2"
	[ "$m2" -gt "$APPLY0" ] 2>/dev/null
}
check "... xcni_policy_apply_seconds counted x/idle's change on n2 (count $APPLY0 -> $(apply_count))" apply_hist

# -- usage
usage_rc() { local rc; ctl "$@" >"$T/u.txt" 2>&1; rc=$?; cat "$T/u.txt"; [ "$rc" = 2 ]; }
check "status --bogus: exit 2" usage_rc status --bogus
check "status --timeout 5s without --wait: exit 2" usage_rc status --timeout 5s
check "status --wait --timeout soon: exit 2 naming it" bash -c "\"$XCNICTL\" status --wait --timeout soon 2>&1 | grep -q 'timeout soon: not a duration'; test \${PIPESTATUS[0]} = 2"
check "status --node n9: exit 2 naming the lab's nodes" bash -c "\"$XCNICTL\" status --node n9 2>&1 | grep -q 'its nodes: n1, n2'; test \${PIPESTATUS[0]} = 2"
check "xcnictl --help lists status and sysdump" bash -c "\"$XCNICTL\" --help | grep -q '^  status' && \"$XCNICTL\" --help | grep -q '^  sysdump'"

# -- sysdump: one archive, every node's files, no secret
# Secrets in n1's agent log, as a careless log line or a pasted kubeconfig would put them.
cat >>"$XCNI_LAB_DIR/n1/xcnid.log" <<'EOF'
xcnid: k8s api: GET /api/v1/pods: header Authorization: Bearer sekret-bearer-123
    token: sekret-token-456
    client-key-data: sekret-keydata-000
xcnid: --identity-key-file=/etc/xcni/key password=sekret-pw-999
-----BEGIN PRIVATE KEY-----
sekret-key-789
-----END PRIVATE KEY-----
EOF
sd() {
	ctl sysdump --node all -f "$T/sd.tar.gz" 2>"$T/sd.err"; local rc=$?
	cat "$T/sd.err"
	[ "$rc" = 0 ] && [ -s "$T/sd.tar.gz" ] && ! [ -e "$T/sd.tar.gz.tmp" ]
}
t0=$(date +%s%N)
check "sysdump --node all -f FILE: exit 0, the archive written" sd
t1=$(date +%s%N)
diag "xcnictl sysdump --node all: $(( (t1 - t0) / 1000000 )) ms, $(stat -c %s "$T/sd.tar.gz") bytes"
check "... tar lists it (gzip, ustar)" bash -c "tar tzf '$T/sd.tar.gz' >'$T/sd.list'"
for f in kernel.txt versions.txt commands.txt n1/status.json n1/status.txt n1/config.json n1/endpoint-list.json \
	n1/ct-list.json n1/policy-list.json n1/identity-list.json n1/hook-list.json n1/metrics-list.json \
	n1/flows.jsonl n1/xcnid.log n1/xcnid-cmdline.txt n2/status.json n2/endpoint-list.json n2/xcnid.log; do
	check "... holds $f" grep -qE "^xcni-sysdump-[0-9]{8}-[0-9]{6}/$f\$" "$T/sd.list"
done
mkdir -p "$T/sd"
tar xzf "$T/sd.tar.gz" -C "$T/sd"
SD=$(echo "$T"/sd/xcni-sysdump-*)
check "... n1/status.json: status -j of n1 (OK)" \
	bash -c "/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"verdict\"] == \"OK\" else 1)' '$SD/n1/status.json'"
check "... n1/endpoint-list.json: n1's 2 endpoints, as endpoint list -j has them" \
	bash -c "/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d) == 2 else 1)' '$SD/n1/endpoint-list.json'"
check "... kernel.txt: uname and the kernel's release" grep -q "^uname: Linux .* $(uname -r) " "$SD/kernel.txt"
check "... n1/xcnid.log: the agent's log (its ready line)" grep -q 'xcnid: ready' "$SD/n1/xcnid.log"
check "... no secret anywhere: bearer token, token:, key data, password=, private key" \
	bash -c "! grep -r sekret '$SD'"
check "... each replaced by <redacted> (4) and the key block by <redacted private key>" \
	bash -c "test \$(grep -o '<redacted>' '$SD/n1/xcnid.log' | wc -l) -ge 4 && grep -q '<redacted private key>' '$SD/n1/xcnid.log'"
check "... the log's other lines kept as they were" grep -q '^xcnid: k8s api: GET /api/v1/pods: header Authorization: Bearer <redacted>$' "$SD/n1/xcnid.log"
check "... commands.txt: each command with its exit code" grep -qE '^n1/status.json +exit 0: xcnictl --node n1 status -j$' "$SD/commands.txt"
sd_bad() {
	ctl sysdump --node n1 -f "$T/no/such/dir/sd.tar.gz" >"$T/sd.out" 2>&1; local rc=$?
	cat "$T/sd.out"
	[ "$rc" = 1 ] && grep -q "cannot write $T/no/such/dir/sd.tar.gz: " "$T/sd.out" && ! [ -e "$T/no" ]
}
check "sysdump -f into a directory that does not exist: exit 1, said, nothing left" sd_bad
check "sysdump --node n1 --agent-log F: exit 2 (a lab node's log is the lab's)" usage_rc sysdump --node n1 --agent-log /dev/null

# -- attach mode per hook: a pod wired under tc (XCNI_ATTACH=tc: what a kernel
# without TCX, or TCX refused, leaves) beside pods under TCX
cat >"$T/d.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: x}
spec: {nodeName: n1, containers: [{name: c}]}
EOF
check "XCNI_ATTACH=tc lab apply: pod x/d on n1 wired under tc" env XCNI_ATTACH=tc "$XCNICTL" lab apply -f "$T/d.yaml"
check "status --node n1 -j: exit 0" st_json 0 --node n1
check "... x/d's two hooks in mode tc, the others' in tcx, xcni first on all" \
	jcheck "sorted(h['mode'] for h in d['nodes'][0]['hooks'] if h['program'] in ('from_pod', 'to_pod')) == ['tc', 'tc', 'tcx', 'tcx', 'tcx', 'tcx'] and all(h['xcni_first'] for h in d['nodes'][0]['hooks'])"
check "... the text: 4 TCX, 2 tc (and the underlay's)" bash -c "\"$XCNICTL\" status --node n1 | grep -E '^Hooks: +[0-9]+ TCX, [2-9] tc; xcni first on every one'"

# -- a feature asked for and switched off: socket load balancing on a kernel
# without the getpeername hooks (XCNI_PROBE_FAIL stands in for it)
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
check "n1's xcnid restarted with --kube-proxy-replacement --cgroup-root, its kernel lacking getpeername-hook" \
	agent_restart n1 "$T/n1-nolb.log" env XCNI_PROBE_FAIL=getpeername-hook "${ARGS1[@]}" \
	--kube-proxy-replacement --cgroup-root "$CG"
check "status --node n1: exit 1" st_text 1 --node n1
check "... DEGRADED: switched off: socket load balancing, naming what the kernel lacks and since when" \
	has '^Verdict: +DEGRADED: switched off: socket load balancing \(--cgroup-root\): kernel lacks getpeername-hook \(Linux >= 5\.8\)$'
check "... the Kernel line: socket LB no, switched off named" \
	has '^Kernel: .*socket LB no, .*switched off: socket load balancing'

lab_down_checked
finish
