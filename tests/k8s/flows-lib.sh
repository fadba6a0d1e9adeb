# The cluster-wide flows view in tests/k8s's real cluster (issue 38), sourced
# after lib.sh, as docs/kind.md has a user take it: examples/kind/flows-certs.sh
# DIR --apply (the cluster's kubectl), kubectl patch with
# examples/kind/flows-patch.yaml, then xcnictl flows --kubeconfig (and xcnictl
# ui --kubeconfig) from outside the nodes: the control plane's netns, where
# the kubeconfig's API server and the nodes' addresses are, as a
# workstation's are.
#
#   k8s_flows_enable        certificates and Secrets, the patch, rolled out
#   k8s_flows ARGS...       xcnictl flows --kubeconfig ... --tls CLIENT ARGS
#   k8s_flows_conn JSON SRC DST PORT VERDICT DECIDER [POLICY]
#                           in the merged view (a file of --json lines): TCP
#                           connections SRC (NS/POD) -> DST:PORT with that
#                           final verdict, each decided by DECIDER, the other
#                           node's part forwarded; denied: POLICY isolates
#                           DST; allowed: POLICY allowed it
#   k8s_flows_all_nodes JSON NODE...  every NODE's agent gave records, none unanswered
#   k8s_flows_settle JSON "CONN"...   waits (20 s at most) until the view holds
#                           each CONN (k8s_flows_conn's words after JSON)

k8s_flows_enable() {
	mkdir -p "$TMP/bin"
	# kubectl as a user has it: this cluster's, from the control plane's netns.
	cat >"$TMP/bin/kubectl" <<EOF2
#!/bin/sh
exec ip netns exec "$K8S_NETNS" "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG" "\$@"
EOF2
	chmod +x "$TMP/bin/kubectl"
	check "flows-certs.sh DIR --apply: a CA, the agents' and a client's certificates, Secrets xcni-flows-ca/-server/-client" \
		bash -c "PATH=$TMP/bin:\$PATH sh $XCNI_ROOT/examples/kind/flows-certs.sh $TMP/flows --apply >$TMP/flows-certs.out 2>&1 && kc -n kube-system get secret xcni-flows-ca xcni-flows-server xcni-flows-client >/dev/null || { cat $TMP/flows-certs.out; exit 1; }"
	local t
	t=$(now_ms)
	check "kubectl -n kube-system patch daemonset xcni --type json --patch-file examples/kind/flows-patch.yaml" \
		kc -n kube-system patch daemonset xcni --type json --patch-file "$XCNI_ROOT/examples/kind/flows-patch.yaml"
	if kc -n kube-system rollout status ds/xcni --timeout=180s >/dev/null; then
		ok "kubectl rollout status ds/xcni: every agent with --flows-listen ($(($(now_ms) - t)) ms after the patch)"
	else
		not_ok "kubectl rollout status ds/xcni after the flows patch"
		k8s_ds_diag
	fi
	check "every node Ready after the flows patch" eventually 60 ready_nodes
}

k8s_flows() {
	ip netns exec "$K8S_NETNS" "$BUILD/xcnictl" flows --kubeconfig "$KUBECONFIG" --tls "$TMP/flows/client" "$@"
}

k8s_flows_conn() {
	python3 - "$@" <<'PY'
import json, sys
path, src, dst, port, verdict, decider = sys.argv[1:7]
policy = sys.argv[7] if len(sys.argv) > 7 else None
rs = [json.loads(l) for l in open(path) if l.strip()]
def name(e):
    return "%s/%s" % (e.get("namespace"), e.get("pod"))
m = [r for r in rs if "source" in r and name(r["source"]) == src and name(r["destination"]) == dst
     and r["destination"]["port"] == int(port) and r["protocol"].lower() == "tcp"]
def fail(why):
    print(why, json.dumps(m)[:3000])
    for r in rs:  # what there is, a line each
        if "source" in r:
            print("#", r["protocol"], name(r["source"]), "->", name(r["destination"]), r["destination"]["port"],
                  r["verdict"], r.get("decided_by"), [(n["node"], n["verdict"]) for n in r.get("nodes", [])])
    sys.exit(1)
m = [r for r in m if r["verdict"] == verdict]
if not m:
    fail("no %s record %s -> %s:%s in %d records" % (verdict, src, dst, port, len(rs)))
for r in m:
    parts = {n["node"]: n["verdict"] for n in r.get("nodes", [])}
    if r.get("decided_by") != decider:
        fail("decided by %s, wanted %s" % (r.get("decided_by"), decider))
    if len(parts) != 2 or parts.pop(decider, None) != verdict or list(parts.values()) != ["forwarded"]:
        fail("the nodes' parts: %s" % r.get("nodes"))
    if policy and verdict == "denied" and policy not in (r.get("isolated_by") or ""):
        fail("isolated_by %s, wanted %s" % (r.get("isolated_by"), policy))
    if policy and verdict == "allowed" and r.get("policy") != policy:
        fail("policy %s, wanted %s" % (r.get("policy"), policy))
print("# %d connection(s) %s -> %s:%s %s by %s" % (len(m), src, dst, port, verdict, decider))
PY
}

k8s_flows_all_nodes() {
	python3 - "$@" <<'PY'
import json, sys
path, nodes = sys.argv[1], set(sys.argv[2:])
rs = [json.loads(l) for l in open(path) if l.strip()]
un = [r["unanswered"] for r in rs if "unanswered" in r]
seen = {n["node"] for r in rs for n in r.get("nodes", [{"node": r.get("node")}])}
if un or not nodes <= seen:
    print("unanswered:", un, "nodes seen:", sorted(seen)); sys.exit(1)
PY
}
# k8s_flows_settle JSON "SRC DST PORT VERDICT DECIDER [POLICY]"...: asks the
# merged view (k8s_flows --json into JSON) every 0.5 s, for 20 s at most, until
# each connection is in it as k8s_flows_conn wants it; silent, it only waits
# (the checks that follow say what is missing).
k8s_flows_settle() {
	local json=$1 c ok end=$((SECONDS + 20))
	shift
	while :; do
		ok=0
		if k8s_flows --json >"$json" 2>/dev/null; then
			ok=1
			for c in "$@"; do
				# shellcheck disable=SC2086 # the words of one connection
				k8s_flows_conn "$json" $c >/dev/null || { ok=0; break; }
			done
		fi
		[ $ok = 1 ] && return 0
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}
