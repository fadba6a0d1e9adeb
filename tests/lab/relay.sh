#!/bin/bash
# The cluster-wide flows view between three lab nodes, both families: every
# xcnid also serves its flows over the network (--flows-listen, HTTPS with
# client certificates, certificates made by examples/kind/flows-certs.sh as
# the kind install makes them), and xcnictl flows --agent, run in the outside
# netns (a workstation beyond the underlay), asks all three over the underlay
# and merges them: each connection once, its final verdict, deciding node,
# point and policy, the sending node's part "forwarded". The same view as the
# lab's own --node all (each node's Unix socket). Then what must be refused:
# no client certificate, one from another CA, the agents' own server
# certificate as a client, a client that does not trust the agents' CA, plain
# HTTP; and no flow leaves a node in the clear (the underlay's capture holds
# no pod or policy name). End filters (--from-pod ...) are judged on the
# merged record (n1 does not name an IPv6 source on n2). --kubeconfig finds
# the agents through an API server (tests/apiwatch/apiserver.py in the outside
# netns: the DaemonSet's pods at their nodes' addresses, and nodes whose agent
# is Pending, unreachable or missing, each named, exit 3); xcnictl ui
# --kubeconfig serves the service map of all three nodes, read by Chromium;
# explain and policy status --kubeconfig give --node all's answers.
#
#   underlay 192.168.77.0/24 (xcl-ul), the outside xcl-out (198.51.100.1):
#   xcnictl flows --agent n1 --agent n2 --agent n3 --tls client/  ---> :4244 each
#
#   n1: x/a (app=web; 81/udp, 80/tcp)   x/b (role=friend)
#   n2: x/c (role=stranger; 81/udp)
#   n3: x/d (role=friend; 81/udp)
#   NetworkPolicy x/web-ingress: app=web takes 81/UDP and 80/TCP from role=friend
#
#   c -> a  81/udp v4  41001   n2 forwarded (to-overlay); n1 denied (x/a isolated by x/web-ingress)
#   c -> a  81/udp v6  41002   the same over IPv6
#   d -> a  81/udp v6  41003   n3 forwarded; n1 allowed by x/web-ingress
#   b -> c  81/udp v4  41004   n1 forwarded; n2 allowed, no policy
#   d -> c  81/udp v6  41005   n3 forwarded; n2 allowed, no policy
#   b -> a  81/udp v4  41006   n1 alone (same node): allowed by x/web-ingress
#   e -> c  81/udp v4  41007   y/e (n3) -> x/c (n2): what client tenant-y (OU=namespace:y) sees
#   e -> a  81/udp v4  41008   y/e (n3) -> x/a (n1): denied by x's policy, which tenant-y
#                              sees named as "a policy of another namespace", not its text
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite relay
lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"
CERTS=$T/certs
PORT=4244

# The options are checked before anything starts.
badopt() { local re=$1; shift; "$XCNID_BIN" "$@" >"$T/out" 2>&1; local rc=$?; [ $rc = 2 ] && grep -q -- "$re" "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }; }
check "xcnid --flows-listen without --flows-tls: exit 2 (no plaintext flows leave a node)" badopt "give --flows-tls DIR too" --flows-listen 0.0.0.0:$PORT
check "xcnid --flows-tls without --flows-listen: exit 2" badopt "give --flows-listen" --flows-tls /nonexistent
check "xcnid --flows-listen nonsense: exit 2 naming it" badopt "--flows-listen nonsense" --flows-listen nonsense --flows-tls /x
check "xcnid --no-flows --flows-listen: exit 2" badopt "does nothing with --flows=false" --no-flows --flows-listen 0.0.0.0:$PORT --flows-tls /x

certs() {
	sh examples/kind/flows-certs.sh "$CERTS" >/dev/null &&
		sh examples/kind/flows-certs.sh "$CERTS" --client ops >/dev/null &&
		sh examples/kind/flows-certs.sh "$CERTS" --client tenant-y --namespace y >/dev/null &&
		sh examples/kind/flows-certs.sh "$T/other" >/dev/null
}
check "flows-certs.sh: a CA, the agents' server certificate, clients 'client', 'ops' and 'tenant-y' (namespace y); another CA's" certs
ekus() {
	openssl x509 -in "$CERTS/server/tls.crt" -noout -ext extendedKeyUsage,subjectAltName | grep -q "TLS Web Server Authentication" &&
		openssl x509 -in "$CERTS/server/tls.crt" -noout -ext subjectAltName | grep -q "DNS:xcni-flows" &&
		openssl x509 -in "$CERTS/client/tls.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication" &&
		openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/server/tls.crt" "$CERTS/client/tls.crt" >/dev/null
}
check "server: serverAuth, DNS:xcni-flows; client: clientAuth; both signed by the CA" ekus

check "lab up --nodes 3 --ip-family dual, every xcnid --flows-listen 0.0.0.0:$PORT --flows-tls" \
	lab up --nodes 3 --ip-family dual --kube-proxy none \
	--agent-arg "--flows-listen=0.0.0.0:$PORT" --agent-arg "--flows-tls=$CERTS/server" || { finish; exit 1; }
remember_pids
mapfile -t NIP < <(lab get --json | jq_ '"\n".join(n["internalIP"] for n in d["nodes"])')
diag "nodes at ${NIP[*]}"
AGENTS=()
for ip in "${NIP[@]}"; do AGENTS+=(--agent "$ip"); done

U81='{containerPort: 81, protocol: UDP}'
{
	y_ns x
	y_pod a x n1 'app: web' "{containerPort: 80}, $U81"
	y_pod b x n1 'role: friend' "$U81"
	y_pod c x n2 'role: stranger' "$U81"
	y_pod d x n3 'role: friend' "$U81"
	y_ns y
	y_pod e y n3 'role: tenant' "$U81"
	y_webpol
} >"$T/pods.yaml"
check "apply x/a, x/b (n1), x/c (n2), x/d, y/e (n3), NetworkPolicy x/web-ingress" lab apply -f "$T/pods.yaml"
remember_pids
ip_of() { lab get --json | jq_ "[p for p in d['pods'] if p['name'] == '$1'][0]['$2']"; }
A4=$(ip_of a ip) A6=$(ip_of a ip6) C4=$(ip_of c ip) C6=$(ip_of c ip6)
diag "x/a $A4 $A6, x/c $C4 $C6"

check "x/c -> x/a 81/udp v4 (n2 -> n1): 0 of 2 answered (policy)" answered 0 x/c 41001 "$A4" 81 2
check "x/c -> x/a 81/udp v6 (n2 -> n1): 0 of 2 answered (policy)" answered 0 x/c 41002 "$A6" 81 2
check "x/d -> x/a 81/udp v6 (n3 -> n1): 3 of 3 answered" answered 3 x/d 41003 "$A6" 81 3
check "x/b -> x/c 81/udp v4 (n1 -> n2): 3 of 3 answered" answered 3 x/b 41004 "$C4" 81 3
check "x/d -> x/c 81/udp v6 (n3 -> n2): 3 of 3 answered" answered 3 x/d 41005 "$C6" 81 3
check "x/b -> x/a 81/udp v4 (n1, same node): 3 of 3 answered" answered 3 x/b 41006 "$A4" 81 3
check "y/e -> x/c 81/udp v4 (n3 -> n2): 2 of 2 answered" answered 2 y/e 41007 "$C4" 81 2

# The view from the outside netns: over the underlay, never a node's socket.
outside() { ip netns exec xcl-out "$@"; }
remote() { outside "$XCNICTL" flows "${AGENTS[@]}" --tls "$CERTS/client" "$@"; }

cat >"$T/merged.py" <<'EOF'
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
mine = [r for r in recs if 41001 <= r["source"]["port"] <= 41006]
by = {}
for r in mine:
    by.setdefault(r["source"]["port"], []).append(r)
# port: (family, verdict, decided_by, point, policy, {node: (verdict, point)})
want = {
    41001: ("ipv4", "denied", "n1", "to-pod", None, {"n2": ("forwarded", "to-overlay"), "n1": ("denied", "to-pod")}),
    41002: ("ipv6", "denied", "n1", "to-pod", None, {"n2": ("forwarded", "to-overlay"), "n1": ("denied", "to-pod")}),
    41003: ("ipv6", "allowed", "n1", "to-pod", "x/web-ingress", {"n3": ("forwarded", "to-overlay"), "n1": ("allowed", "to-pod")}),
    41004: ("ipv4", "allowed", "n2", "to-pod", None, {"n1": ("forwarded", "to-overlay"), "n2": ("allowed", "to-pod")}),
    41005: ("ipv6", "allowed", "n2", "to-pod", None, {"n3": ("forwarded", "to-overlay"), "n2": ("allowed", "to-pod")}),
    41006: ("ipv4", "allowed", "n1", "to-pod", "x/web-ingress", {"n1": ("allowed", "to-pod")}),
}
bad = [p for p in by if len(by[p]) != 1]
if bad or set(by) != set(want):
    print(f"records by port: { {p: len(v) for p, v in by.items()} }, wanted one each of {sorted(want)}"); sys.exit(1)
for port, (fam, v, node, pt, pol, parts) in want.items():
    r = by[port][0]
    got = {n["node"]: (n["verdict"], n["observation_point"]) for n in r["nodes"]}
    if (r["family"], r["verdict"], r["decided_by"], r["observation_point"], r["policy"], got) != (fam, v, node, pt, pol, parts):
        print(f"port {port}: {r['family']} {r['verdict']} by {r['decided_by']} at {r['observation_point']} policy {r['policy']}, parts {got}; wanted {fam} {v} by {node} at {pt} policy {pol}, {parts}"); sys.exit(1)
    if v == "denied" and (r["isolated_by"] != "x/web-ingress" or r["drop_reason"] != "drop-policy-ingress"):
        print(f"port {port}: {json.dumps(r)}"); sys.exit(1)
    # The sender's part counted what it sent; the merged record names both pods.
    if r["source"]["pod"] is None or r["destination"]["pod"] is None:
        print(f"port {port}: an end unnamed: {json.dumps(r)}"); sys.exit(1)
print(f"# {len(mine)} connections, {sum(len(r['nodes']) for v in by.values() for r in v)} node records")
EOF
# Each node's part after its conntrack walk (every second) past the last packet: within 10 s.
check "--node all (each node's socket): every connection once, final verdict, deciding node, point, policy; the sender forwarded" \
	wait_until 10 eval '"$XCNICTL" flows --node all --json | /usr/bin/python3 "$T/merged.py"'
# The capture on the outside's side of the underlay switch: what the query carries.
pcap_start xcl-out eth0 "tcp port $PORT" "$T/q.pcap" >/dev/null || diag "no capture"
check "--agent x3 --tls client/ from the outside netns (over the underlay): the same merged view" \
	eval 'remote --json | /usr/bin/python3 "$T/merged.py"'
pcap_stop "$T/q.pcap"
kill "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null
overwire() {
	local n
	n=$(tshark -r "$T/q.pcap" -Y "tcp.port == $PORT" 2>/dev/null | wc -l)
	[ "$n" -gt 6 ] || { echo "$n frames on :$PORT captured"; return 1; }
	if grep -aq -e web-ingress -e drop-policy -e '"pod"' "$T/q.pcap"; then
		echo "plaintext flows in the capture"; return 1
	fi
	# A connection to each agent, and every byte of them TLS records (tshark
	# dissects a retransmitted segment's bytes once, at the original: a
	# retransmission is not read as TLS again; the grep above read them all).
	n=$(tshark -r "$T/q.pcap" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e ip.dst 2>/dev/null | sort -u | wc -l)
	[ "$n" = 3 ] || { echo "connections to $n agents, wanted 3"; return 1; }
	n=$(tshark -r "$T/q.pcap" -d "tcp.port==$PORT,tls" -Y "tcp.len > 0 && !tls && !tcp.analysis.retransmission" 2>/dev/null | wc -l)
	[ "$n" = 0 ] || { echo "$n segments that are not TLS"; tshark -r "$T/q.pcap" -d "tcp.port==$PORT,tls" -Y "tcp.len > 0 && !tls && !tcp.analysis.retransmission" 2>&1 | head; return 1; }
}
check "the query crossed the underlay to each agent as TLS, no pod, policy or verdict in the clear" overwire
# The text view merges the same way, each agent named by its node.
remotetext() { remote --from-port 41001 -o wide >"$T/out" && grep -q "^n1 .*x/c .*x/a .*to-pod denied .*isolated by x/web-ingress .*{n[12] .*, n[12] .*}" "$T/out" && ! grep -q "near miss" "$T/out" && grep -q "n2 to-overlay forwarded 2/0" "$T/out" || { cat "$T/out"; return 1; }; }
check "--agent text (-o wide): one row for 41001, denied by n1, n2's part forwarded 2/0" remotetext

# --last N is the merged view's N (it was up to N a node).
count() {
	local want=$1 got; shift
	got=$("$@" --json | /usr/bin/python3 -c 'import json, sys; print(sum(1 for l in sys.stdin if l.strip()))') || return 1
	[ "$got" = "$want" ] || { echo "$got records, wanted $want"; "$@"; return 1; }
}
check "--node all --last 2: two (merged)" count 2 "$XCNICTL" flows --node all --last 2
check "--node all --per-node --last 2: two" count 2 "$XCNICTL" flows --node all --per-node --last 2
check "--agent x3 --last 3: three" count 3 remote --last 3
check "--agent x3 --first 1 --from-port 41003: one" count 1 remote --first 1 --from-port 41003
lastmerged() {
	# The last two merged are the two most recently changed connections, complete.
	"$XCNICTL" flows --node all --json | /usr/bin/python3 -c 'import json, sys
rs = [json.loads(l) for l in sys.stdin if l.strip()]
print("\n".join(json.dumps(r, sort_keys=True) for r in rs[-2:]))' >"$T/want" &&
		"$XCNICTL" flows --node all --last 2 --json | /usr/bin/python3 -c 'import json, sys
print("\n".join(json.dumps(json.loads(l), sort_keys=True) for l in sys.stdin if l.strip()))' >"$T/got" &&
		diff <(/usr/bin/python3 -c 'import json, sys; [print(json.loads(l)["source"]["port"], len(json.loads(l)["nodes"])) for l in open(sys.argv[1])]' "$T/want") \
			<(/usr/bin/python3 -c 'import json, sys; [print(json.loads(l)["source"]["port"], len(json.loads(l)["nodes"])) for l in open(sys.argv[1])]' "$T/got")
}
check "--node all --last 2: the last two of the whole merged view, each with every node's part" lastmerged
check "--agent x3 --verdict denied --protocol udp: the two denied connections (41001, 41002)" count 2 remote --verdict denied --protocol udp

# Refused: nothing of the flows to a client the CA did not sign for clientAuth.
refused() { # WANT-RE CMD...: exit non-zero, WANT-RE said, no record printed
	local re=$1; shift
	"$@" >"$T/out" 2>&1
	local rc=$?
	[ $rc != 0 ] && grep -q -- "$re" "$T/out" && ! grep -q '"source"\|x/a' "$T/out" || { echo "exit $rc"; cat "$T/out"; return 1; }
}
# End filters judged on the merged record (a node that does not name a remote
# end still gives its part): n1 does not name x/c, an IPv6 source from n2, so
# --from-pod x/c asked of each node left n1's denial out and the merged view
# said "forwarded" (main before this branch).
endfilter() { # PORT VERDICT DECIDER NPARTS CMD...: that connection once, merged so
	local port=$1 v=$2 by=$3 np=$4; shift 4
	"$@" --json >"$T/ef" || { cat "$T/ef"; return 1; }
	/usr/bin/python3 -c 'import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rs if r.get("source", {}).get("port") == int(sys.argv[2])]
ok = len(r) == 1 and (r[0]["verdict"], r[0].get("decided_by"), len(r[0].get("nodes", []))) == (sys.argv[3], sys.argv[4], int(sys.argv[5]))
ok or print("got", [(x["verdict"], x.get("decided_by"), [(n["node"], n["verdict"]) for n in x.get("nodes", [])]) for x in r])
sys.exit(0 if ok else 1)' "$T/ef" "$port" "$v" "$by" "$np"
}
check "--node all --from-pod x/c: 41002 (IPv6 n2 -> n1) denied by n1, both nodes' parts" \
	endfilter 41002 denied n1 2 "$XCNICTL" flows --node all --from-pod x/c
check "--node all --to-pod x/a --from-port 41003: allowed by n1, n3's part too" \
	endfilter 41003 allowed n1 2 "$XCNICTL" flows --node all --to-pod x/a --from-port 41003
check "--agent x3 --from-pod x/c --verdict denied: 41002 denied by n1, both parts" \
	endfilter 41002 denied n1 2 remote --from-pod x/c --verdict denied
check "--agent x3 -n x --from-port 41002: both parts" endfilter 41002 denied n1 2 remote -n x --from-port 41002
check "--agent x3 --not --from-pod x/c --from-port 41002: none" count 0 remote --not --from-pod x/c --from-port 41002

# --kubeconfig: the agents found through an API server as the DaemonSet's
# pods (kube-system, app.kubernetes.io/name=xcni; hostNetwork: hostIP is the
# node's address). apiserver.py (tests/apiwatch) in the outside netns holds
# them: n1-n3 running at their nodes' addresses (n1's old agent going, at
# another), n4's pod Pending, n5's running at an address where no agent
# listens, node n6 without an agent pod.
KC=$T/kube
mkdir -p "$KC"
kcerts() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$KC/ca.key" \
		-out "$KC/ca.crt" -days 1 -subj "/CN=relay-test-ca" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$KC/srv.key" \
			-out "$KC/srv.csr" -subj "/CN=kube-apiserver" &&
		openssl x509 -req -in "$KC/srv.csr" -CA "$KC/ca.crt" -CAkey "$KC/ca.key" -CAcreateserial \
			-out "$KC/srv.crt" -days 1 -extfile <(echo "subjectAltName=IP:127.0.0.1")
} 2>"$KC/openssl.log"
cat >"$KC/state.py" <<'PYEOF'
import json, sys
out, only, ips = sys.argv[1], sys.argv[2] == "only", sys.argv[3:]
def pod(name, node, ip, phase, ready, labels=None, ns="kube-system"):
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": "5",
                         "labels": labels or {"app.kubernetes.io/name": "xcni"}},
            "spec": {"nodeName": node, "hostNetwork": True},
            "status": {"phase": phase, "hostIP": ip, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
pods = [pod("xcni-a1", "n1", ips[0], "Running", True), pod("xcni-b2", "n2", ips[1], "Running", True),
        pod("xcni-c3", "n3", ips[2], "Running", True),
        # Not the agents: another namespace's pod with the label, another label's pod.
        pod("xcni-x", "n1", "192.0.2.9", "Running", True, ns="default"),
        pod("coredns-1", "n1", "192.0.2.8", "Running", True, labels={"k8s-app": "kube-dns"})]
n = 3
if not only:
    pods += [pod("xcni-d4", "n4", "", "Pending", False), pod("xcni-e5", "n5", "198.51.100.1", "Running", True)]
    # A rollout's old agent on n1, going (deletionTimestamp) at another address: n1's new one is asked.
    old = pod("xcni-0old", "n1", "192.0.2.99", "Running", False)
    old["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    pods.append(old)
    n = 6
nodes = [{"metadata": {"name": "n%d" % i, "resourceVersion": "4"},
          "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.%d" % i}]}} for i in range(1, n + 1)]
json.dump({"rv": 10, "objs": {"pods": {p["metadata"]["namespace"] + "/" + p["metadata"]["name"]: p for p in pods},
                              "nodes": {o["metadata"]["name"]: o for o in nodes}},
           "history": {}, "compacted": {}}, open(out, "w"))
PYEOF
cat >"$KC/config" <<'KCEOF'
apiVersion: v1
kind: Config
clusters:
- name: relay
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ca.crt
contexts:
- name: relay
  context: {cluster: relay, user: ops}
current-context: relay
users:
- name: ops
  user:
    tokenFile: token
KCEOF
KSRV=
kserve() { # all|only: the API server with that state, (re)started
	if [ -n "$KSRV" ]; then kill "$KSRV"; wait "$KSRV" 2>/dev/null; fi
	/usr/bin/python3 "$KC/state.py" "$KC/state.json" "$1" "${NIP[@]}" || return 1
	echo relay-token >"$KC/token"
	echo relay-token >"$KC/server-token"
	ip netns exec xcl-out /usr/bin/python3 tests/apiwatch/apiserver.py serve --port 6443 --ctl-port 6444 \
		--cert "$KC/srv.crt" --key "$KC/srv.key" --token-file "$KC/server-token" --state "$KC/state.json" \
		--fixtures tests/apiwatch/fixtures >>"$KC/server.log" 2>&1 &
	KSRV=$!
	MINE+=("$KSRV")
	for _ in $(seq 50); do
		outside curl -s --cacert "$KC/ca.crt" -H "Authorization: Bearer relay-token" \
			https://127.0.0.1:6443/api/v1/nodes >/dev/null && return 0
		sleep 0.1
	done
	cat "$KC/server.log"; return 1
}
ip -n xcl-out link set lo up
check "an API server (apiserver.py) in the outside netns: the agents' pods, 6 nodes" eval 'kcerts && kserve all'
kube() { outside "$XCNICTL" flows --kubeconfig "$KC/config" --tls "$CERTS/client" "$@"; }
kubeview() {
	kube --json >"$T/kv" 2>"$T/kv.err"
	local rc=$?
	[ $rc = 3 ] || { echo "exit $rc, wanted 3 (partial)"; cat "$T/kv.err"; return 1; }
	grep -v '"unanswered"' "$T/kv" | /usr/bin/python3 "$T/merged.py" || return 1
	/usr/bin/python3 -c 'import json, sys
un = {u["node"]: u["error"] for u in (json.loads(l)["unanswered"] for l in open(sys.argv[1]) if "unanswered" in l)}
ok = sorted(un) == ["n4", "n5", "n6"] and "Pending" in un["n4"] and "no xcni agent pod" in un["n6"]
ok or print("unanswered:", un)
sys.exit(0 if ok else 1)' "$T/kv" || return 1
	for n in n4 n5 n6; do grep -q "node $n" "$T/kv.err" || { echo "$n not named on stderr"; cat "$T/kv.err"; return 1; }; done
	grep -q "3 of 6 nodes answered; partial, without n4, n5, n6" "$T/kv.err" || { cat "$T/kv.err"; return 1; }
}
check "--kubeconfig: n1-n3's agents found and merged as --agent x3; n4 (Pending), n5 (no answer), n6 (no agent pod) named, exit 3" kubeview

# The service map of the whole cluster: xcnictl ui --kubeconfig serves the
# page the agents serve, fed from every node's agent over mTLS (the same
# agents the API server lists), in Chromium from the outside netns.
UI=127.0.0.1:9967
OUT=${XCNI_TEST_OUT:-$BUILD/test-out}/lab-flows-relay-3nodes
mkdir -p "$OUT"
rm -f "$OUT"/cluster-map*.png
ip netns exec xcl-out "$XCNICTL" ui --kubeconfig "$KC/config" --tls "$CERTS/client" --listen "$UI" >"$T/ui.out" 2>&1 &
MINE+=("$!")
uiserved() {
	for _ in $(seq 50); do grep -q "serving http://$UI/" "$T/ui.out" && break; sleep 0.1; done
	grep -q "serving http://$UI/" "$T/ui.out" && grep -q "node n4: agent pod xcni-d4 is Pending" "$T/ui.out" &&
		grep -q "node n6: no xcni agent pod" "$T/ui.out" || { cat "$T/ui.out"; return 1; }
}
check "xcnictl ui --kubeconfig --tls client/ --listen $UI serves; n4 (Pending) and n6 (no agent pod) named" uiserved
cat >"$T/cgraph.py" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
e = {x["id"]: x for x in g["edges"]}
def rec(i):
    return e[i]["recent"][0] if i in e else None
want = eval(sys.argv[2])
if not want:
    print(json.dumps({k: g[k] for k in ("node_names", "unreachable", "flows_args") if k in g}),
          json.dumps({i: (x["verdict"], [(r.get("decided_by"), r["verdict"]) for r in x["recent"]]) for i, x in e.items()})[:4000])
    sys.exit(1)
EOF
cgraph() { # PYEXPR [QUERY]: /api/graph?QUERY holds
	outside curl -sf "http://$UI/api/graph${2:+?$2}" >"$T/cg.json" || { echo "no answer"; return 1; }
	/usr/bin/python3 "$T/cgraph.py" "$T/cg.json" "$1"
}
check "ui /api/graph: from n1, n2, n3; n4, n5, n6 unreachable; the view as a command line" \
	cgraph "sorted(g['node_names']) == ['n1', 'n2', 'n3'] and sorted(g['unreachable']) == ['n4', 'n5', 'n6'] and g['flows_args'] == '--kubeconfig $KC/config --tls $CERTS/client'"
check "ui /api/graph: x/c -> x/a denied, decided by n1 at to-pod (n2 forwarded it); d -> a allowed by n1; b -> c, d -> c allowed by n2" \
	cgraph "(e['pod:x/c->pod:x/a']['verdict'], rec('pod:x/c->pod:x/a')['decided_by'], rec('pod:x/c->pod:x/a')['observation_point']) == ('denied', 'n1', 'to-pod') and (e['pod:x/d->pod:x/a']['verdict'], rec('pod:x/d->pod:x/a')['decided_by']) == ('allowed', 'n1') and rec('pod:x/b->pod:x/c')['decided_by'] == 'n2' and rec('pod:x/d->pod:x/c')['decided_by'] == 'n2' and rec('pod:y/e->pod:x/c')['decided_by'] == 'n2'"
check "ui /api/graph?verdict=denied: x/c -> x/a alone, decided by n1 with n2's part (the filter after the merge)" \
	cgraph "sorted(i for i in e if i.startswith('pod:')) == ['pod:x/c->pod:x/a'] and 'n2 ' in rec('pod:x/c->pod:x/a')['counts'] and 'n1 ' in rec('pod:x/c->pod:x/a')['counts']" verdict=denied
check "ui /api/graph?from-pod=x/c: 41002 (IPv6, unnamed by n1) still denied by n1" \
	cgraph "e['pod:x/c->pod:x/a']['verdict'] == 'denied' and all(r['verdict'] == 'denied' and r['decided_by'] == 'n1' for r in e['pod:x/c->pod:x/a']['recent'])" from-pod=x/c
cbrowse() {
	outside /usr/bin/python3 "$(dirname "$0")/uicluster_browser.py" "http://$UI/" "$T" "$OUT" >"$T/cdom.json"
	local rc=$?
	[ $rc = 0 ] || { head -c 3000 "$T/cdom.json"; echo; tail -5 "$T/chromium.log"; }
	return $rc
}
check "Chromium (1400x900) opens the cluster view, then picks verdict denied" cbrowse
cdom() { /usr/bin/python3 -c 'import json, sys
D = json.load(open(sys.argv[1])); A, V = D["all"], D["denied"]
edges = {e["id"]: e for e in A["edges"]}; vedges = {e["id"]: e for e in V["edges"]}
ok = eval(sys.argv[2])
ok or print(json.dumps({"status": A["status"], "cmd": A["cmd"], "edges": A["edges"], "vedges": V["edges"]})[:4000])
sys.exit(0 if ok else 1)' "$T/cdom.json" "$1"; }
check "DOM: the status names n1, n2, n3 and 'no answer from n4, n5, n6'; the command line xcnictl flows --kubeconfig ... --tls ..." \
	cdom "'from n1, n2, n3 (no answer from n4, n5, n6)' in A['status'] and A['cmd'].startswith('xcnictl flows --kubeconfig ')"
check "DOM: the cross-node edges drawn with their final verdicts: x/c -> x/a red (denied), x/d -> x/a and y/e -> x/c green" \
	cdom "any(i.endswith('x/c->pod:x/a') or i.endswith('x/c->wl:x/a') for i in edges) and all(e['verdict'] == 'denied' for i, e in edges.items() if 'x/c->' in i and 'x/a' in i) and all(e['verdict'] == 'allowed' for i, e in edges.items() if 'y/e->' in i)"
check "DOM: verdict denied: only red edges, only denied rows, the command line --verdict denied" \
	cdom "V['edges'] and all(e['verdict'] == 'denied' for e in V['edges']) and V['rows'] and all(r['verdict'] == 'denied' for r in V['rows']) and V['cmd'].endswith('--verdict denied')"
png() { for f in cluster-map.png cluster-map-denied.png; do head -c 8 "$OUT/$f" | od -An -c | grep -q 'P   N   G' || { echo "$OUT/$f: not a PNG"; return 1; }; done; }
check "two screenshots saved ($OUT/cluster-map*.png)" png
kill "${MINE[-1]}" 2>/dev/null
wait "${MINE[-1]}" 2>/dev/null
kubeonly() {
	kserve only || return 1
	kube --json >"$T/kv" 2>"$T/kv.err" || { echo "exit $?"; cat "$T/kv.err"; return 1; }
	/usr/bin/python3 "$T/merged.py" <"$T/kv"
}
check "--kubeconfig, every node's agent running: the merged view, exit 0" kubeonly
check "--kubeconfig --from-pod x/c --verdict denied: 41002 denied by n1, both parts" \
	endfilter 41002 denied n1 2 kube --from-pod x/c --verdict denied
check "KUBECONFIG=FILE flows --cluster: the same" \
	endfilter 41002 denied n1 2 env KUBECONFIG="$KC/config" ip netns exec xcl-out "$XCNICTL" flows --cluster --tls "$CERTS/client" --from-pod x/c
badtoken() { echo wrong >"$KC/token"; refused "HTTP 401" kube; local rc=$?; echo relay-token >"$KC/token"; return $rc; }
check "--kubeconfig with a token the API server refuses: exit 1 naming the answer, no flow" badtoken
check "--kubeconfig FILE that does not exist: exit 2 naming it" refused "/nonexistent" "$XCNICTL" flows --kubeconfig /nonexistent --tls "$CERTS/client"
check "--kubeconfig with --agent: exit 2" refused "give one" "$XCNICTL" flows --kubeconfig "$KC/config" --agent "${NIP[0]}" --tls "$CERTS/client"
check "--kubeconfig without --tls: exit 2" refused "give --tls DIR" env -u XCNI_FLOWS_TLS "$XCNICTL" flows --kubeconfig "$KC/config"
# explain and policy status through the same agents (request=explain,
# request=policy-status): each side read by its pod's node's agent, as --node
# all reads each node's maps, near misses included (the agent adds them;
# none for x/c, role=stranger, under a rule for role=friend: intended).
kx() { outside "$XCNICTL" "$@" --kubeconfig "$KC/config" --tls "$CERTS/client"; }
samex() { # SRC DST PORT/PROTO VERDICT: explain --kubeconfig's record is --node all's
	kx -o json explain "$1" "$2" "$3" >"$T/kx.json" 2>"$T/kx.err" || { cat "$T/kx.err"; return 1; }
	"$XCNICTL" --node all -o json explain "$1" "$2" "$3" >"$T/lx.json" || return 1
	/usr/bin/python3 - "$T/kx.json" "$T/lx.json" "$4" <<'EOF2'
import json, sys
k, l = (json.load(open(p)) for p in sys.argv[1:3])
d = {x: (k.get(x), l.get(x)) for x in set(k) | set(l) if k.get(x) != l.get(x)}
ok = not d and k["verdict"] == sys.argv[3] and k["src_node"] != k["dst_node"] and \
    (sys.argv[3] != "denied" or "near miss" not in k["ingress_text"])
ok or print(d, k["verdict"])
sys.exit(0 if ok else 1)
EOF2
}
check "explain --kubeconfig x/c x/a 81/udp (n2 -> n1): --node all's record, denied by ingress at n1" \
	samex x/c x/a 81/udp denied
check "explain --kubeconfig x/d x/a 81/udp (n3 -> n1): --node all's record, allowed by x/web-ingress at n1" \
	samex x/d x/a 81/udp allowed
pssame() {
	kx -o json policy status >"$T/kps.json" 2>"$T/kps.err" || { cat "$T/kps.err"; return 1; }
	"$XCNICTL" --node all -o json policy status >"$T/lps.json" || return 1
	diff "$T/kps.json" "$T/lps.json" && grep -q '"policy":"x/web-ingress"[^}]*"enforced":"3/3"' "$T/kps.json" || { cat "$T/kps.json"; return 1; }
}
check "policy status --kubeconfig: --node all's rows, x/web-ingress enforced on 3/3 nodes, exit 0" pssame
# status --kubeconfig: every node's agent asked through its relay (request=status), one line
# a node and the overall verdict, as the per-node exec loop of docs/kind.md gave it.
kstatus() { # all|only WANT_RC: n1-n3 OK; with all, n4-n6 DOWN naming why
	kserve "$1" || return 1
	kx status >"$T/kst" 2>"$T/kst.err"
	local rc=$?
	kx status --json >"$T/kst.json" 2>/dev/null
	cat "$T/kst"
	[ $rc = "$2" ] || { echo "exit $rc"; cat "$T/kst.err"; return 1; }
	/usr/bin/python3 - "$T/kst" "$T/kst.json" "$1" <<'PY'
import json, re, sys
text, j, mode = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), sys.argv[3]
lines = {l.split()[0]: l for l in text.splitlines() if re.match(r"n\d ", l)}
want = ["n1", "n2", "n3"] + (["n4", "n5", "n6"] if mode == "all" else [])
assert sorted(lines) == want, lines
assert all(re.match(r"n\d +OK +xcnid \S+, up \S+, \d+ of \d+ syncs failed$", lines[n]) for n in want[:3]), lines
assert all(re.match(r"n\d +DOWN +no status from its agent: \S", lines[n]) for n in want[3:]), lines
over = "Overall:     OK: 3 of 3 nodes OK" if mode == "only" else "Overall:     DOWN: 3 of 6 nodes OK"
assert over in text, text
assert j["verdict"] == ("OK" if mode == "only" else "DOWN") and sorted(n["node"] for n in j["nodes"]) == want, j["verdict"]
assert all(n["agent"]["running"] and n["agent"]["version"] for n in j["nodes"] if n["node"] in want[:3])
PY
}
check "status --kubeconfig: n1-n3 one line each, OK, xcnid's version and uptime from each agent; Overall OK: 3 of 3; exit 0" kstatus only 0
check "status --kubeconfig, 6 nodes listed: n4 (Pending), n5 (no answer), n6 (no agent pod) DOWN naming why; Overall DOWN: 3 of 6; exit 1" kstatus all 1
check "status --kubeconfig with --node n1: exit 2" refused "no --node" "$XCNICTL" status --kubeconfig "$KC/config" --tls "$CERTS/client" --node n1
check "status --kubeconfig without --tls: exit 2 naming --tls" refused "--tls DIR" env -u XCNI_FLOWS_TLS "$XCNICTL" status --kubeconfig "$KC/config"
check "the API server back to n1-n3" kserve only
check "explain --kubeconfig with tenant-y's certificate (OU=namespace:y): refused by every agent, exit 1" \
	refused "reads every namespace" outside "$XCNICTL" explain x/c x/a 81/udp --kubeconfig "$KC/config" --tls "$CERTS/tenant-y"
check "explain --kubeconfig --node n1: exit 2 (the agents say where each pod lives)" \
	refused "no --node" "$XCNICTL" explain x/c x/a 81/udp --kubeconfig "$KC/config" --tls "$CERTS/client" --node n1
kill "$KSRV" 2>/dev/null
wait "$KSRV" 2>/dev/null

check "curl without a client certificate: 403, no flow" \
	refused "a client certificate signed by this server's CA" outside curl -sS --fail-with-body --cacert "$CERTS/ca.crt" --connect-to "xcni-flows:$PORT:${NIP[0]}:$PORT" "https://xcni-flows:$PORT/v1/flows"
# Another CA's client that trusts the agents' CA: the agent refuses it.
mkdir -p "$T/otherclient" && cp "$T/other/client/"* "$T/otherclient/" && cp "$CERTS/ca.crt" "$T/otherclient/ca.crt"
check "--tls with another CA's client certificate: HTTP 403 from the agent, exit 1" \
	refused "HTTP 403" outside "$XCNICTL" flows --agent "${NIP[0]}" --tls "$T/otherclient"
mkdir -p "$T/asserver" && cp "$CERTS/server/"* "$T/asserver/"
check "--tls with the agents' own server certificate (serverAuth, not clientAuth): HTTP 403" \
	refused "HTTP 403" outside "$XCNICTL" flows --agent "${NIP[1]}" --tls "$T/asserver"
mkdir -p "$T/wrongca" && cp "$CERTS/client/"* "$T/wrongca/" && cp "$T/other/ca.crt" "$T/wrongca/ca.crt"
check "--tls whose ca.crt is not the agents' CA: the client refuses the agent" \
	refused "certificate" outside "$XCNICTL" flows --agent "${NIP[2]}" --tls "$T/wrongca"
check "plain HTTP to :$PORT: no answer" \
	refused "" outside curl -sS --max-time 3 "http://${NIP[0]}:$PORT/v1/flows"
check "--agent without --tls: exit 2 naming it" refused "give --tls DIR" "$XCNICTL" flows --agent "${NIP[0]}"
check "--agent 1.2.3.4:99999: exit 2 naming it" refused "--agent 1.2.3.4:99999" "$XCNICTL" flows --agent 1.2.3.4:99999 --tls "$CERTS/client"
check "--agent with --node: exit 2" refused "give one" "$XCNICTL" flows --agent "${NIP[0]}" --node all --tls "$CERTS/client"
check "client 'ops' (another certificate of the same CA): answered" count 1 outside "$XCNICTL" flows --agent "${NIP[0]}" --tls "$CERTS/ops" --from-port 41006

# Sent only now: the checks above count the denied connections without it.
check "y/e -> x/a 81/udp v4 (n3 -> n1): 0 of 2 answered (policy)" answered 0 y/e 41008 "$A4" 81 2
# Each node's part within its conntrack walk (every second).
sleep 2
# A tenant's client (OU=namespace:y): the flows with an end in y, no other;
# another namespace's policy named as whose it is, never its name or text
# (explain and policy status are refused to this certificate for that).
tenant() {
	outside "$XCNICTL" flows "${AGENTS[@]}" --tls "$CERTS/tenant-y" --json >"$T/out" || { cat "$T/out"; return 1; }
	/usr/bin/python3 -c 'import json, sys
rs = {r["source"]["port"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
a, d = rs.get(41007), rs.get(41008)
ok = sorted(rs) == [41007, 41008] and a["verdict"] == "allowed" and a["decided_by"] == "n2" and a["source"]["namespace"] == "y"
ok = ok and d["verdict"] == "denied" and d["decided_by"] == "n1" and d["isolated_by"] == "a policy of another namespace"
ok = ok and d["near_misses"] in (None, "a policy of another namespace")
ok or print(f"ports {sorted(rs)}: {list(rs.values())}")
sys.exit(0 if ok else 1)' "$T/out" || return 1
	outside "$XCNICTL" flows "${AGENTS[@]}" --tls "$CERTS/tenant-y" >"$T/table" || return 1
	! grep -E "web-ingress|friend" "$T/out" "$T/table"
}
check "client tenant-y (OU=namespace:y): y/e -> x/c (allowed by n2) and y/e -> x/a (denied by 'a policy of another namespace', not x/web-ingress's name or text, JSON and table), none of namespace x's own" tenant
isolated() { # the unscoped client: x/web-ingress named whole; no near miss (an intended denial)
	remote --json --from-port 41008 | /usr/bin/python3 -c 'import json, sys
r = [json.loads(l) for l in sys.stdin if l.strip()][0]
ok = r["isolated_by"] == "x/web-ingress" and r["near_misses"] is None
ok or print(r)
sys.exit(0 if ok else 1)'
}
check "client (no OU): y/e -> x/a isolated by x/web-ingress, named whole; no near miss (role=tenant is not near the rule: an intended denial)" isolated
check "client tenant-y --namespace x: HTTP 403, this certificate reads namespace y's flows only" \
	refused "namespace y's flows only" outside "$XCNICTL" flows --agent "${NIP[1]}" --tls "$CERTS/tenant-y" --namespace x
check "after the refusals, every agent still answers (--agent x3)" \
	eval 'remote --json | /usr/bin/python3 "$T/merged.py"'

lab_down_checked
finish
