#!/bin/bash
# ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) end to end: the
# Admin tier above NetworkPolicy, the Baseline tier below it, Pass, priorities
# and audit mode, with real traffic. The lab of tests/lab/netpol.sh
# (namespaces x, y, z with pods a, b, c each, serving 80 and 81); each case
# applies policies with `xcnictl lab apply`, probes every ordered pod pair
# (`lab matrix`) and compares the table with what the API's text says.
#
# CNP_NODES=N (default 1) spreads the pods over N nodes; CNP_FAMILY=ipv4|dual
# (default ipv4) runs the lab in that family (dual: every pair over both).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

XCNICTL=${XCNICTL:-$BUILD/xcnictl}
export XCNI_LAB_DIR=${XCNI_LAB_DIR:-$(mktemp -d /tmp/xcni-cnp.XXXXXX)}
EX=$XCNI_ROOT/examples/lab
T=$(mktemp -d /tmp/xcni-cnp-t.XXXXXX)
TIMEOUT=${CNP_TIMEOUT_MS:-400}
NODES=${CNP_NODES:-1}
FAMILY=${CNP_FAMILY:-ipv4}

cleanup() {
	"$XCNICTL" lab down >/dev/null 2>&1
	rm -rf "$T" "$XCNI_LAB_DIR"
}
trap cleanup EXIT

# shellcheck source=tests/lab/lib.sh
. "$HERE/lib.sh"
stale_lab_sweep

# matrix NAME PORT/PROTO EXPR: the table against EXPR (tests/lab/expect.py), re-probed once.
matrix() {
	local name=$1 pp=$2 expr=$3 try
	for try in 1 2; do
		if ! lab matrix "$pp" --json --timeout-ms "$TIMEOUT" >"$T/m.json" 2>"$T/m.err"; then
			sed 's/^/#   /' "$T/m.err" | head -10
		elif /usr/bin/python3 "$HERE/expect.py" "$T/m.json" "$expr" >"$T/diff"; then
			ok "$name: $pp${try/#2/ (RE-PROBED)}"
			return 0
		fi
		cat "$T/diff" 2>/dev/null
		sleep 1
	done
	not_ok "$name: $pp"
	"$XCNICTL" --node n1 policy list 2>&1 | sed 's/^/#   /' | head -20
}

# policy NAME: applies stdin (kept as $T/NAME.yaml for removal).
policy() {
	cat >"$T/$1.yaml"
	if ! lab apply -f "$T/$1.yaml" >"$T/apply.out" 2>&1; then
		not_ok "apply $1"
		sed 's/^/#   /' "$T/apply.out" | head -20
		return 1
	fi
}
unpolicy() {
	local f
	for f in "$@"; do
		lab delete -f "$T/$f.yaml" >/dev/null 2>&1 || not_ok "delete $f"
	done
}

# cnp NAME TIER PRIORITY SUBJECT-NS [ANNOTATIONS]: a ClusterNetworkPolicy
# whose subject is namespace SUBJECT-NS ("" every namespace) and whose ingress
# rules are stdin (YAML, indented as items of spec.ingress).
cnp() {
	local subj='{}'
	[ -n "$4" ] && subj="{matchLabels: {ns: $4}}"
	{
		cat <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: $1${5:+, annotations: $5}}
spec:
  tier: $2
  priority: $3
  subject: {namespaces: $subj}
  ingress:
EOF
		cat
	} | policy "$1"
}

check "lab up --nodes $NODES --ip-family $FAMILY" lab up --nodes "$NODES" --ip-family "$FAMILY" ||
	{ finish; exit 1; }
check "apply namespaces x, y, z" lab apply -f "$EX/00-namespaces.yaml"
check "apply pods a, b, c in each" lab apply -f "$EX/10-pods.yaml" || { finish; exit 1; }
matrix "no policy" 80/tcp "True"

# Bad input: refused naming the object and the field, nothing applied.
cat >"$T/bad.yaml" <<EOF
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: bad}
spec: {tier: Baseline, priority: 1001, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
EOF
lab apply -f "$T/bad.yaml" >"$T/out" 2>&1
check "lab apply: priority 1001 refused, naming the field" \
	grep -q "ClusterNetworkPolicy bad: spec.priority: 1001 must be between 0 and 1000" "$T/out"
matrix "  ... nothing applied" 80/tcp "True"

# A NetworkPolicy in x that admits everyone; the Admin tier denies y above it.
cat >"$T/np-x.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
EOF
check "apply NetworkPolicy x/allow-all" lab apply -f "$T/np-x.yaml"
cnp deny-y Admin 10 x <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
matrix "Admin Deny y -> x over a NetworkPolicy allow" 80/tcp "not (dns == 'x' and sns == 'y')"

# Pass at a lower priority number: y/a skips the rest of the Admin tier; x's NetworkPolicy admits it.
cnp pass-ya Admin 5 x <<'EOF'
  - {name: ya, action: Pass, from: [{pods: {namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}}]}
EOF
matrix "Pass (priority 5) for y/a, then the NetworkPolicy" 80/tcp \
	"not (dns == 'x' and sns == 'y' and spod != 'a')"
# The same Pass at priority 20: deny-y (10) decides first.
sed -i 's/priority: 5/priority: 20/' "$T/pass-ya.yaml"
check "pass-ya to priority 20" lab apply -f "$T/pass-ya.yaml"
matrix "priority 10 Deny before priority 20 Pass" 80/tcp "not (dns == 'x' and sns == 'y')"
# Equal priorities: by name, "deny-y" before "pass-ya".
sed -i 's/priority: 20/priority: 10/' "$T/pass-ya.yaml"
check "pass-ya to priority 10 (equal: by name)" lab apply -f "$T/pass-ya.yaml"
matrix "equal priorities by name: deny-y first" 80/tcp "not (dns == 'x' and sns == 'y')"
# Port scoped: deny-y only for TCP 80; 81 follows the NetworkPolicy.
unpolicy pass-ya
cnp deny-y Admin 10 x <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}], protocols: [{tcp: {destinationPort: {number: 80}}}]}
EOF
matrix "Admin Deny for TCP 80 only" 80/tcp "not (dns == 'x' and sns == 'y')"
matrix "  ... 81 untouched" 81/tcp "True"

# Audit: the same Deny in audit mode drops nothing; back to enforce, it drops again.
cnp deny-y Admin 10 x "{xcni.io/policy-mode: audit}" <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
matrix "audit mode: the Admin Deny drops nothing" 80/tcp "True"
out=$("$XCNICTL" --node n1 explain y/b x/a 80/tcp 2>&1)
check "explain y/b x/a 80/tcp: audit, would deny, by deny-y rule 0 (no-y)" \
	bash -c "grep -q 'audit: would deny' <<<\"\$1\" && grep -q 'deny-y' <<<\"\$1\"" _ "$out"
echo "$out" | sed 's/^/#   /' | head -12
cnp deny-y Admin 10 x <<'EOF'
  - {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
matrix "enforce again" 80/tcp "not (dns == 'x' and sns == 'y')"
unpolicy deny-y
lab delete -f "$T/np-x.yaml" >/dev/null 2>&1 || not_ok "delete x/allow-all"
matrix "all removed" 80/tcp "True"

# Baseline: z denies every namespace but its own, unless a NetworkPolicy selects the pod.
cnp base-z Baseline 100 z <<'EOF'
  - {name: same-ns, action: Accept, from: [{namespaces: {matchLabels: {ns: z}}}]}
  - {name: others, action: Deny, from: [{namespaces: {}}]}
EOF
matrix "Baseline: z admits only z" 80/tcp "dns != 'z' or sns == 'z'"
cat >"$T/np-za.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: za-from-x, namespace: z}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}}]}]
EOF
check "apply NetworkPolicy z/za-from-x" lab apply -f "$T/np-za.yaml"
matrix "a NetworkPolicy on z/a decides before Baseline" 80/tcp \
	"(dns != 'z' or sns == 'z') if dpod != 'a' or dns != 'z' else sns == 'x'"
# An Admin Accept above both.
cnp y-in-z Admin 1 z <<'EOF'
  - {action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}
EOF
matrix "Admin Accept above NetworkPolicy and Baseline" 80/tcp \
	"dns != 'z' or sns == 'y' or (sns == 'z' and dpod != 'a') or (dpod == 'a' and sns == 'x')"
unpolicy y-in-z base-z
lab delete -f "$T/np-za.yaml" >/dev/null 2>&1 || not_ok "delete z/za-from-x"

check "lab down" lab down
left=$(ip netns list | grep -c '^xcl-' || true)
[ "$left" = 0 ] && ok "no lab netns left" || not_ok "$left lab netns left"
finish
