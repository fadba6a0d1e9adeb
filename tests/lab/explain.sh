#!/bin/bash
# `xcnictl explain` against the truth: for each NetworkPolicy case (taken from
# netpol.sh), every ordered pod pair is both probed for real (`lab matrix`)
# and explained from the live maps (`xcnictl explain --json`, run in the node
# as an operator would); the two must agree on every pair, for 80/TCP and
# 81/UDP. They are independent: the probe sends packets through the
# programs, explain only reads maps, so a lookup explain walks differently
# (order, a `has` shortcut, the ipBlock group, a version) shows up as a cell
# where they disagree. Then explain's error handling, and `xcnictl monitor`'s
# filters on the drops and verdicts the probes cause; the policies a default
# deny names (explain, policy get, monitor), --node, and monitor's columns.
#
#   lab node n1 (netns xcl-n1, xcnid, pins /sys/fs/bpf/xcni-lab/n1)
#     x/a x/b x/c  y/a y/b y/c  z/a z/b z/c   (netns per pod, veth to n1)
#
# EXPLAIN_NODES=N (default 1) spreads the pods over N nodes: explain then
# reads the source pod's node's maps (--pin-dir) and the destination's
# (--pin-dir-dst), and a side on another node must be reported as decided
# there.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

XCNICTL=${XCNICTL:-$BUILD/xcnictl}
export XCNID_BIN=${XCNID_BIN:-$BUILD/xcnid} XCNI_BIN
export XCNI_LAB_DIR=${XCNI_LAB_DIR:-$(mktemp -d /tmp/xcni-explain.XXXXXX)}
EX=$XCNI_ROOT/examples/lab
T=$(mktemp -d /tmp/xcni-explain-t.XXXXXX)
TIMEOUT=${EXPLAIN_TIMEOUT_MS:-400}
NODES=${EXPLAIN_NODES:-1}
. "$HERE/lib.sh" # lab, LAB_PINS, lab_preflight (the suite cleans up its own way)

cleanup() {
	"$XCNICTL" lab down >/dev/null 2>&1
	rm -rf "$T" "$XCNI_LAB_DIR"
}

# ctl NODE ARGS...: xcnictl in the node's netns, on its maps (nsenter, not
# "ip netns exec": that mounts a fresh /sys, without bpffs).
ctl() { local n=$1; shift; nsenter --net="/run/netns/xcl-$n" "$XCNICTL" --pin-dir "$LAB_PINS/$n" "$@"; }
# exits WANT CMD...: exit status WANT; said RE: and its output matched RE.
exits() { local want=$1; shift; "$@" >"$T/out" 2>&1; local rc=$?; [ $rc -eq "$want" ] || { echo "exit $rc, wanted $want"; cat "$T/out"; return 1; }; }
said() { grep -q -- "$1" "$T/out" || { cat "$T/out"; return 1; }; }
exits_saying() { local want=$1 re=$2; shift 2; exits "$want" "$@" && said "$re"; }
# json_is EXPR CMD...: the command's JSON output, as e, makes EXPR true.
json_is() {
	local expr=$1 out; shift
	out=$("$@") || { echo "exit $?"; return 1; }
	/usr/bin/python3 -c 'import json, sys; e = json.loads(sys.stdin.read()); sys.exit(0 if eval(sys.argv[1]) else 1)' "$expr" <<<"$out" ||
		{ echo "$out"; return 1; }
}
# e1 ARGS...: explain on x/a's node (XA_NODE, set once the pods are up).
e1() { ctl "$XA_NODE" explain "$@"; }

lab_preflight "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
trap cleanup EXIT

# The comparison: the matrix (probed) against explain's verdict per pair.
# Prints the disagreeing cells; exit 1 when there are any.
cat >"$T/agree.py" <<'EOF'
import json, subprocess, sys

xcnictl, pp, matrix_file, lab_file, out_file = sys.argv[1:6]
flip = sys.argv[6] if len(sys.argv) > 6 else None  # "s>d": pretend the probe said otherwise
every = len(sys.argv) > 7 and sys.argv[7] == "all"  # xcnictl --node all: no pin dir given
matrix = json.load(open(matrix_file))
node = {p["namespace"] + "/" + p["name"]: p["node"] for p in json.load(open(lab_file))["pods"]}
pins = "/sys/fs/bpf/xcni-lab/"
bad, explained = [], {}
for s in matrix["pods"]:
    for d in matrix["pods"]:
        cmd = ["nsenter", "--net=/run/netns/xcl-" + node[s], xcnictl, "--pin-dir", pins + node[s],
               "--pin-dir-dst", pins + node[d], "explain", s, d, pp, "--json"]
        if every:
            cmd = [xcnictl, "--node", "all", "explain", s, d, pp, "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            bad.append(f"# {s} -> {d}: explain exited {r.returncode}: {r.stderr.strip()}")
            continue
        e = json.loads(r.stdout)
        explained[s + ">" + d] = e
        got = matrix["rows"][s][d] != (flip == s + ">" + d)
        if e["verdict"] not in ("allowed", "denied") or (e["verdict"] == "allowed") != got:
            bad.append(f"# {s} -> {d} {pp}: probed {'connected' if got else 'blocked'}, explain says "
                       f"{e['verdict']}: egress {e['egress']} ({e['egress_reason']}), "
                       f"ingress {e['ingress']} ({e['ingress_reason']})")
            bad.append(f"#   egress lookups:  {e['egress_lookups']}")
            bad.append(f"#   ingress lookups: {e['ingress_lookups']}")
json.dump(explained, open(out_file, "w"))
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF

# agree NAME: for 80/TCP and 81/UDP, probe every pair and explain every pair.
agree() {
	local name=$1 pp
	lab get --json >"$T/lab.json" 2>/dev/null
	for pp in 80/TCP 81/UDP; do
		if ! lab matrix "$pp" --json --timeout-ms "$TIMEOUT" >"$T/m.json" 2>"$T/m.err"; then
			not_ok "$name: $pp: lab matrix failed"
			sed 's/^/#   /' "$T/m.err" | head -20
			continue
		fi
		cp "$T/m.json" "$T/m-${pp%%/*}.json"
		if /usr/bin/python3 "$T/agree.py" "$XCNICTL" "$pp" "$T/m.json" "$T/lab.json" \
			"$T/e-${pp%%/*}.json" >"$T/diff"; then
			ok "$name: $pp: explain agrees with the probes on every pair"
		else
			not_ok "$name: $pp: explain disagrees with the probes"
			head -60 "$T/diff"
		fi
	done
}

# ex S D: the explain verdict of the last agree run (80/TCP) for a pair, as "field field ..."
ex() {
	/usr/bin/python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))[sys.argv[2] + ">" + sys.argv[3]]
print(" ".join(str(e[k]) for k in sys.argv[4:]))' "$T/e-80.json" "$@"
}
# expect_ex S D FIELDS... = WANT
expect_ex() {
	local s=$1 d=$2 want=${*: -1} got
	set -- "${@:3:$(($# - 4))}"
	got=$(ex "$s" "$d" "$@")
	[ "$got" = "$want" ] || { echo "explain $s -> $d: $* = '$got', wanted '$want'"; return 1; }
}


check "lab up --nodes $NODES" lab up --nodes "$NODES" || { finish; exit 1; }
check "apply namespaces x, y, z" lab apply -f "$EX/00-namespaces.yaml"
check "apply pods a, b, c in each" lab apply -f "$EX/10-pods.yaml" || { finish; exit 1; }

lab get --json >"$T/lab.json"
XA_NODE=$(/usr/bin/python3 -c 'import json,sys; print([p["node"] for p in json.load(open(sys.argv[1]))["pods"] if p["namespace"] == "x" and p["name"] == "a"][0])' "$T/lab.json")

# The comparison must be able to fail: one cell of a real matrix flipped.
if lab matrix 80/TCP --json --timeout-ms "$TIMEOUT" >"$T/m.json" 2>/dev/null &&
	! /usr/bin/python3 "$T/agree.py" "$XCNICTL" 80/TCP "$T/m.json" "$T/lab.json" "$T/e.json" 'y/b>x/a' >"$T/diff"; then
	ok "the comparison catches a disagreement (one probe result flipped: y/b -> x/a)"
	grep -q 'y/b -> x/a 80/TCP: probed blocked, explain says allowed' "$T/diff" ||
		not_ok "  ... and names the cell (got: $(head -1 "$T/diff"))"
else
	not_ok "the comparison catches a disagreement (one probe result flipped)"
fi

agree "no policy"
check "no policy: explain says allowed by default on both sides" \
	expect_ex z/a x/a egress_reason ingress_reason verdict = "default default allowed"
check "a pod to itself: explained as never leaving the pod" \
	expect_ex x/a x/a egress_reason verdict = "self allowed"

check "apply default deny ingress in x (examples/lab/20-default-deny.yaml)" \
	lab apply -f "$EX/20-default-deny.yaml"
agree "default deny ingress in x"
check "  ... z/a -> x/a: isolated, nothing allows; denied" \
	expect_ex z/a x/a ingress ingress_reason ingress_policy verdict = "deny isolated None denied"

check "apply allow from y/b to x/a on the named port serve-80-tcp (examples/lab/30-allow.yaml)" \
	lab apply -f "$EX/30-allow.yaml"
agree "named port 80 from y/b"
check "  ... y/b -> x/a is allowed by x/allow-a-from-y-b rule 0" \
	expect_ex y/b x/a ingress ingress_policy ingress_rule verdict = "allow x/allow-a-from-y-b 0 allowed"
# shellcheck disable=SC2086 # $3: the fields, one word each
match_is() { local got; got=$(ex "$1" "$2" $3); grep -Eq -- "$4" <<<"$got" || { echo "$got"; return 1; }; }
check "  ... the matching entry is y/b's identity on tcp/80" \
	match_is y/b x/a ingress_match '^k8s:pod=b,.*ns=y \(identity [0-9]+\), tcp/80$'
check "text output: the deny in words, and the lookups made" \
	exits_saying 0 '^INGRESS-LOOKUPS .*policy\[any peer, tcp/80\] miss' e1 z/a x/a 80/TCP
check "  ... VERDICT says which side denied" said '^VERDICT  *denied: by ingress at the destination'
check "  ... INGRESS names the pod and that nothing allows" said '^INGRESS  *deny: x/a is isolated for ingress, nothing allows'
check "  ... and which policies isolate it (both select x/a for ingress)" \
	said '^INGRESS  *deny: x/a is isolated for ingress, nothing allows; x/allow-a-from-y-b, x/default-deny-ingress isolate it (node '
check "  ... --json: ingress_isolated_by" \
	expect_ex z/a x/a ingress_isolated_by egress_isolated_by = "x/allow-a-from-y-b,x/default-deny-ingress None"
check "policy get x/a: ingress isolated by both policies" \
	exits_saying 0 '^pod x/a identity [0-9]*: ingress isolated by x/allow-a-from-y-b, x/default-deny-ingress (only the rules below), egress not isolated' \
	ctl "$XA_NODE" policy get x/a
check "policy get x/a --json: its entry names them" \
	json_is 'e and any(x["policy"] == "x/allow-a-from-y-b" for x in e) and all(x["isolated_by"] == "x/allow-a-from-y-b,x/default-deny-ingress" for x in e)' \
	ctl "$XA_NODE" policy get x/a --json
# --node NAME: the same views, the lab finding the node's netns and pin dir.
check "xcnictl --node $XA_NODE policy get x/a: as in the node with its pin dir" bash -c \
	"[ \"\$(\"$XCNICTL\" --node $XA_NODE policy get x/a)\" = \"\$(nsenter --net=/run/netns/xcl-$XA_NODE \"$XCNICTL\" --pin-dir $LAB_PINS/$XA_NODE policy get x/a)\" ]"
check "xcnictl --node $XA_NODE explain: the node's maps" \
	exits_saying 0 '^INGRESS  *deny: x/a is isolated for ingress' "$XCNICTL" --node "$XA_NODE" explain z/a x/a 80/tcp
check "xcnictl --node n99: exit 2, naming the node and the lab's nodes" \
	exits_saying 2 "node n99 (its nodes: n1" "$XCNICTL" --node n99 ct list
if [ -e /sys/fs/bpf/xcni ]; then
	ok "# SKIP /sys/fs/bpf/xcni exists: no lab hint to see"
else
	check "no --pin-dir, /sys/fs/bpf/xcni missing: the view names the lab's node, exit 1" \
		exits_saying 1 "no maps under /sys/fs/bpf/xcni; a lab is up.*: xcnictl --node n1 ct list\$" \
		env -u XCNI_PIN_DIR "$XCNICTL" ct list
fi
lab delete -f "$EX/30-allow.yaml" >/dev/null 2>&1 || not_ok "delete 30-allow.yaml"

# An ipBlock with an except, a port range (polrange), a UDP port, and an
# empty rule (any protocol), each in its own policy for x/a.
YB=$(/usr/bin/python3 -c 'import json,sys; print([p["ip"] for p in json.load(open(sys.argv[1]))["pods"] if p["namespace"] == "y" and p["name"] == "b"][0])' "$T/lab.json")
policy ipblock <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ipblock, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{ipBlock: {cidr: 10.244.0.0/16, except: [$YB/32]}}]
      ports: [{protocol: TCP, port: 80}]
EOF
agree "ipBlock 10.244.0.0/16 except y/b ($YB/32)"
check "  ... z/b -> x/a: by the ipBlock's group" \
	expect_ex z/b x/a ingress ingress_policy = "allow x/ipblock"
check "  ... y/b -> x/a: the except's group allows nothing; denied" \
	expect_ex y/b x/a ingress_reason verdict = "isolated denied"
unpolicy ipblock

policy ranges <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ranges, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {ns: z}}}]
      ports: [{protocol: TCP, port: 79, endPort: 81}]
    - from: [{podSelector: {matchLabels: {pod: c}}}]
      ports: [{protocol: UDP, port: 81}]
    - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]
EOF
agree "port range 79-81/TCP from z, 81/UDP from x/c, everything from y/a"
check "  ... z/c -> x/b 80/TCP: by the range (rule 0)" \
	expect_ex z/c x/b ingress_rule verdict = "0 allowed"
check "  ... y/a -> x/b: by the empty rule (rule 2, any protocol)" \
	match_is y/a x/b "ingress_rule ingress_match" '^2 .*any protocol and port$'
unpolicy ranges
lab delete -f "$EX/20-default-deny.yaml" >/dev/null 2>&1 || not_ok "delete 20-default-deny.yaml"

# Egress: x may only send to y on 80 (and, with no policyTypes, is isolated
# for ingress too); y only accepts from z. Both ends must allow.
policy egress <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-to-y-80, namespace: x}
spec:
  podSelector: {}
  egress:
    - to: [{namespaceSelector: {matchLabels: {ns: y}}}]
      ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-from-z, namespace: y}
spec:
  podSelector: {}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]
EOF
agree "egress from x to y on 80, ingress into y only from z"
check "  ... x/a -> y/a: egress allows (x/egress-to-y-80), ingress denies" \
	expect_ex x/a y/a egress egress_policy ingress verdict = "allow x/egress-to-y-80 deny denied"
check "  ... x/a -> z/a: egress denies at the source" \
	expect_ex x/a z/a egress egress_reason verdict = "deny isolated denied"
check "  ... z/a -> y/b: ingress allows (y/only-from-z)" \
	expect_ex z/a y/b ingress_policy verdict = "y/only-from-z allowed"

# ---- monitor filters: one monitor at a time (readers of one ring share it) ----
# mon EXPR FILTERS...: monitor x/a's node while x/a and z/a send a flow each
# to y/a on 80 (x/a's: dropped by y's ingress; z/a's: allowed by y's
# policy, a verdict event) and x/a to z/a (dropped by x's egress); EXPR over
# the events (a list of JSON objects, e) must hold.
mon() {
	local expr=$1 m; shift
	ctl "$XA_NODE" monitor --json --timeout-ms 2500 "$@" >"$T/ev.json" 2>"$T/ev.err" &
	m=$!
	mon_subscribed "$m" "xcl-$XA_NODE"
	lab probe x/a y/a 80/tcp --timeout-ms 300 >/dev/null 2>&1
	lab probe z/a y/a 80/tcp --timeout-ms 300 >/dev/null 2>&1
	lab probe x/a z/a 80/tcp --timeout-ms 300 >/dev/null 2>&1
	wait "$m" || { echo "monitor exited $?"; cat "$T/ev.err"; return 1; }
	/usr/bin/python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2])
if not ok:
    for x in e: print(x["type"], x["reason"], x["saddr"], "->", x["daddr"], x["verdict"])
sys.exit(0 if ok else 1)' "$T/ev.json" "$expr"
}
IPS=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(p["namespace"] + "/" + p["name"] + "=" + p["ip"] for p in json.load(open(sys.argv[1]))["pods"]))' "$T/lab.json")
ip_of() { local kv; for kv in $IPS; do [ "${kv%%=*}" = "$1" ] && echo "${kv#*=}"; done; }
XA=$(ip_of x/a) YA=$(ip_of y/a) ZA=$(ip_of z/a)
if [ "$NODES" = 1 ]; then
	# On one node every event is on x/a's node; across nodes, where each drop
	# happens depends on the spread, and the filters are the same code.
	check "monitor (no filter): both drops and the verdict" \
		mon "{(x['type'], x['reason']) for x in e} >= {('drop', 'drop-policy-ingress'), ('drop', 'drop-policy-egress'), ('verdict', 'fwd-local')}"
	check "monitor --type verdict: only verdict events, z/a's allowed flow among them" \
		mon "e and all(x['type'] == 'verdict' for x in e) and any(x['saddr'] == '$ZA' for x in e)" --type verdict
	check "monitor --verdict deny (the old spelling of denied): only drops, both policy drops among them" \
		mon "e and all(x['type'] == 'drop' for x in e) and {'drop-policy-ingress', 'drop-policy-egress'} <= {x['reason'] for x in e}" --verdict deny
	check "monitor --verdict DROPPED --reason drop-policy-ingress (flows' words): z/a's drop into y/a only" \
		mon "e and all(x['type'] == 'drop' and x['reason'] == 'drop-policy-ingress' and x['daddr'] == '$YA' for x in e)" --verdict DROPPED --reason drop-policy-ingress
	check "monitor --verdict allow: only allowed flows" \
		mon "e and all(x['type'] == 'verdict' and x['verdict'].startswith('allow') for x in e)" --verdict allow
	check "monitor --reason drop-policy-egress: x/a -> z/a only" \
		mon "e and all(x['reason'] == 'drop-policy-egress' and x['saddr'] == '$XA' and x['daddr'] == '$ZA' for x in e)" --reason drop-policy-egress
	check "monitor --pod z/a: only events from or to z/a" \
		mon "e and all('$ZA' in (x['saddr'], x['daddr']) for x in e) and {x['type'] for x in e} == {'drop', 'verdict'}" --pod z/a
	check "monitor --namespace y --type drop: the drop into y only" \
		mon "e and all(x['type'] == 'drop' and x['daddr'] == '$YA' for x in e)" --namespace y --type drop
	check "monitor -n y --verdict denied: the same (-n is --namespace, denied a drop)" \
		mon "e and all(x['type'] == 'drop' and x['daddr'] == '$YA' for x in e)" -n y --verdict denied
	check "monitor --namespace q (no such pods): nothing" mon "e == []" --namespace q
	check "monitor --count 1 with a filter: stops after one matching event" \
		mon "len(e) == 1 and e[0]['reason'] == 'drop-policy-egress'" --count 1 --reason drop-policy-egress
	check "monitor --json: a policy drop names the policies that isolate the pod" \
		mon "any(x['reason'] == 'drop-policy-ingress' and x['daddr'] == '$YA' and x['isolated_by'] == 'y/only-from-z' for x in e) and any(x['reason'] == 'drop-policy-egress' and x['isolated_by'] == 'x/egress-to-y-80' for x in e) and all(x['isolated_by'] is None for x in e if x['type'] != 'drop')"
	# monitor as text (-o wide: every field): the words, and columns aligned
	# on every line (the first line cannot know how wide later events are).
	mon_text() {
		local m
		ctl "$XA_NODE" monitor -o wide --timeout-ms 2500 >"$T/ev.txt" 2>"$T/ev.err" &
		m=$!
		mon_subscribed "$m" "xcl-$XA_NODE"
		lab probe x/a y/a 80/tcp --timeout-ms 300 >/dev/null 2>&1
		lab probe z/a y/a 80/tcp --timeout-ms 300 >/dev/null 2>&1
		lab probe x/a z/a 80/tcp --timeout-ms 300 >/dev/null 2>&1
		wait "$m" || { echo "monitor exited $?"; cat "$T/ev.err"; return 1; }
	}
	check "monitor -o wide (text) while x/a and z/a send" mon_text
	check "  ... deny ingress names y/only-from-z and y/a" \
		grep -q "deny ingress: y/only-from-z isolates y/a, nothing allows" "$T/ev.txt"
	check "  ... deny egress names x/egress-to-y-80 and x/a" \
		grep -q "deny egress: x/egress-to-y-80 isolates x/a, nothing allows" "$T/ev.txt"
	check "  ... every column starts (or, for numbers, ends) where its title does" /usr/bin/python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines()
h, rows = lines[0], lines[1:]
bad = []
for t in ("TIME", "REASON", "DIRECTION", "PROTO", "SRC", "DST", "TYPE", "VERDICT"):
    p = h.index(t)
    bad += [r for r in rows if r[p] == " " or (p and r[p - 1] != " ")]
for t in ("EP-ID", "IFINDEX", "LEN"):
    p = h.index(t) + len(t)
    bad += [r for r in rows if r[p - 1] == " " or r[p] != " "]
if len(rows) < 3 or bad:
    print(h); print("\n".join(rows)); sys.exit(1)' "$T/ev.txt"
fi

check "monitor --reason nope: exit 2, pointing at metrics --all" \
	exits_saying 2 'no such reason (xcnictl metrics --all' "$XCNICTL" monitor --reason nope
check "monitor --verdict maybe: exit 2, the values flows takes" \
	exits_saying 2 '--verdict maybe: not allowed, forwarded, denied, audit' "$XCNICTL" monitor --verdict maybe
check "monitor --type x: exit 2" exits_saying 2 'drop, verdict or trace' "$XCNICTL" monitor --type x
check "monitor --pod of an unknown pod: exit 1, saying so" \
	exits_saying 1 'q/zz: no such pod' ctl "$XA_NODE" monitor --pod q/zz --timeout-ms 100
check "monitor --help: the filters, and that they run here, not in the data plane" \
	bash -c "\"$XCNICTL\" monitor --help | grep -q -- '--verdict V  .*denied (drops, any reason' && \"$XCNICTL\" monitor --help | grep -q 'the filters run here'"

# ---- explain: bad input ---------------------------------------------------------
for pp in 80 80/foo 0/tcp 65536/udp tcp x/tcp; do
	check "explain with a malformed PORT/PROTO ($pp): exit 2, naming it" \
		exits_saying 2 "PORT/PROTO \"$pp\"" e1 x/a y/a "$pp"
done
check "explain of an unknown pod: exit 1, saying so" exits_saying 1 'q/zz: no such pod' e1 q/zz x/a 80/tcp
check "explain of an address no pod has (in the pod CIDR): exit 1, saying so" \
	exits_saying 1 'no pod has address 10.244.1.250' e1 x/a 10.244.1.250 80/tcp
check "explain of something neither a pod nor an address: exit 1" \
	exits_saying 1 'not a pod' e1 nopod x/a 80/tcp
check "explain without pinned maps (no agent): exit 1, naming the pin and xcnid" \
	exits_saying 1 'no such pinned map; is xcnid running' "$XCNICTL" --pin-dir "$LAB_PINS/nonode" explain x/a y/a 80/tcp
check "explain icmp to the node's own address: not a pod, no port" \
	json_is '(e["proto"], e["port"], e["ingress_reason"], e["dst_identity"]) == ("icmp", None, "not-a-pod", 1)' \
	e1 x/a "10.244.${XA_NODE#n}.1" icmp --json
check "explain from the node's own address: the host is always let in" \
	json_is '(e["src_identity"], e["egress_reason"], e["ingress_reason"], e["verdict"]) == (1, "not-a-pod", "host", "allowed")' \
	e1 "10.244.${XA_NODE#n}.1" x/a 80/tcp --json

if [ "$NODES" -gt 1 ]; then
	# A pair on two nodes, read from one node's maps only.
	pair=$(/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["pods"]
a = p[0]; b = [q for q in p if q["node"] != a["node"]][0]
print(a["namespace"] + "/" + a["name"], a["node"], b["namespace"] + "/" + b["name"], b["node"])' "$T/lab.json")
	read -r PA NA PB NB <<<"$pair"
	check "$PA ($NA) -> $PB ($NB) with $NA's maps only: ingress decided on $NB" \
		json_is "(e['ingress'], e['ingress_reason'], e['ingress_node']) == (None, 'remote', '$NB') and e['verdict'] in ('unknown', 'denied')" \
		ctl "$NA" explain "$PA" "$PB" 80/tcp --json
	check "  ... and in text, which node and which flag" \
		exits_saying 0 "^INGRESS .*lives on node $NB.*--pin-dir-dst" ctl "$NA" explain "$PA" "$PB" 80/tcp
	# --node all (issue 53 item 4): each side read where its pod lives, one verdict.
	check "$PA ($NA) -> $PB ($NB) with --node all: each side decided on its node, one verdict" \
		json_is "e['ingress_node'] == '$NB' and 'remote' not in (e['egress_reason'], e['ingress_reason']) and e['verdict'] in ('allowed', 'denied')" \
		"$XCNICTL" --node all explain "$PA" "$PB" 80/tcp --json
	check "  ... from $PB's side too (the source's node is $NB's)" \
		json_is "e['ingress_node'] == '$NA' and 'remote' not in (e['egress_reason'], e['ingress_reason']) and e['verdict'] in ('allowed', 'denied')" \
		"$XCNICTL" --node all explain "$PB" "$PA" 80/tcp --json
	check "--node all: explain agrees with the last probes (80/TCP) on every pair, no pin dir given" \
		/usr/bin/python3 "$T/agree.py" "$XCNICTL" 80/TCP "$T/m-80.json" "$T/lab.json" "$T/e-all.json" "" all
	check "--node all with --pin-dir-dst: exit 2, one place for the destination's maps" \
		exits_saying 2 "give one" "$XCNICTL" --node all --pin-dir-dst "$LAB_PINS/$NB" explain "$PA" "$PB" 80/tcp
fi
unpolicy egress

check "lab down" lab down
left=$(ip netns list | grep -c '^xcl-' || true)
[ "$left" = 0 ] && ok "no lab netns left" || not_ok "$left lab netns left"
[ ! -e "$LAB_PINS" ] || [ -z "$(ls -A "$LAB_PINS" 2>/dev/null)" ] &&
	ok "no lab pins left" || not_ok "lab pins left under $LAB_PINS"
finish
