#!/bin/bash
# xcnid following a Kubernetes API server (--kubeconfig): list then watch over
# HTTPS, against a local API server in Python that speaks the list/watch
# protocol (apiserver.py), with recorded-shape objects (fixtures/).
#
#   netns <tag>-api (lo only)
#     apiserver.py  127.0.0.1:6443 HTTPS (test CA, bearer token), :6444 control
#     xcnid --kubeconfig K --node-name n1 (pins under /sys/fs/bpf/<tag>)
#
# What xcnid learned is read back through xcnictl (ipcache, identities,
# policy, applied generation); faults come from the server side: 410 Gone
# both ways, garbage and cut streams, a rotated token, a certificate from
# another CA, the server killed and restarted.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"

PY=/usr/bin/python3
NS=$XCT_TAG-api
PIN=/sys/fs/bpf/$XCT_TAG
T=$(mktemp -d /tmp/xcni-apiwatch.XXXXXX)
FIX=$HERE/fixtures
LOG=/tmp/xcnid-$XCT_TAG.log
SRV=

cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	[ -n "${IC_PID:-}" ] && kill "$IC_PID" 2>/dev/null && wait "$IC_PID" 2>/dev/null
	[ -n "${LB_PID:-}" ] && kill "$LB_PID" 2>/dev/null && wait "$LB_PID" 2>/dev/null
	rm -rf "$PIN-ic" "$PIN-lb"
	stop_xcnid
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

in_ns() { nsenter --net="/var/run/netns/$NS" "$@"; }
ctl() { in_ns "$BUILD/xcnictl" --pin-dir "$PIN" "$@"; }
api() { in_ns "$PY" "$HERE/apiserver.py" ctl 6444 "$@"; }
# wait_for SECONDS command...: until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && { echo "timed out waiting for: $*"; return 1; }
		sleep 0.1
	done
}
ipc() { ctl ipcache list --json; }
ipc_has() { ipc | jq -e --arg p "$1/32" --arg n "$2" 'any(.[]; .prefix == $p and .pod == $n)'; }
ipc_lacks() { ipc | jq -e --arg p "$1/32" 'all(.[]; .prefix != $p)'; }
ipc_id() { ipc | jq -r --arg p "$1/32" '.[] | select(.prefix == $p) | .identity'; }
gen() { ctl config --json | jq -r .applied_gen; }
gen_above() { [ "$(gen)" -gt "$1" ]; }
log_has() { grep -qE -- "$1" "$LOG"; }
stat_of() { api stats | jq -r ".$1"; }
stat_at_least() { [ "$(stat_of "$1")" -ge "$2" ]; }

start_server() { # start_server CERT KEY
	# nsenter itself, not in_ns: $! must be the server, which nsenter execs.
	nsenter --net="/var/run/netns/$NS" "$PY" "$HERE/apiserver.py" serve --port 6443 --ctl-port 6444 --cert "$1" \
		--key "$2" --token-file "$T/server-token" --state "$T/etcd.json" \
		--fixtures "$FIX" >>"$T/server.log" 2>&1 &
	SRV=$!
	wait_for 10 api stats
}

# A test CA and a server certificate for 127.0.0.1; a second pair from another CA.
certs() {
	local n
	for n in 1 2; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$T/ca$n.key" -out "$T/ca$n.crt" -days 1 -subj "/CN=xcni-test-ca-$n" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$T/srv$n.key" -out "$T/srv$n.csr" -subj "/CN=kube-apiserver" &&
		openssl x509 -req -in "$T/srv$n.csr" -CA "$T/ca$n.crt" -CAkey "$T/ca$n.key" \
			-CAcreateserial -out "$T/srv$n.crt" -days 1 \
			-extfile <(echo "subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc") ||
			return 1
	done 2>"$T/openssl.log"
}

# The kubeconfig: CA inline (base64), token from a file next to it (relative
# path, re-read on every connect).
kubeconfig() {
	cat >"$T/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $(base64 -w0 "$T/ca1.crt")
contexts:
- name: test
  context: {cluster: test, user: xcnid, namespace: default}
current-context: test
users:
- name: xcnid
  user:
    tokenFile: token
EOF
}

echo "token-$RANDOM$RANDOM" >"$T/server-token"
cp "$T/server-token" "$T/token"
ip netns add "$NS" && ip -n "$NS" link set lo up
check "test CA and certificates made with openssl" certs || { finish; exit 1; }
kubeconfig
check "API server started (HTTPS, bearer token)" start_server "$T/srv1.crt" "$T/srv1.key" ||
	{ cat "$T/server.log"; finish; exit 1; }
# Small pages, so that the initial lists need continue tokens.
api set '{"page_cap": 2}' >/dev/null

# ---- options ----
opt_err() { # opt_err PATTERN args...: exits 2 before doing anything, saying PATTERN
	local p=$1 out
	shift
	out=$("$BUILD/xcnid" --pin-dir "$PIN-x" "$@" 2>&1)
	[ $? -eq 2 ] && grep -q -- "$p" <<<"$out" || { echo "$out"; return 1; }
}
check "--manifests with --kubeconfig is refused" opt_err "give one" --manifests "$T" \
	--kubeconfig "$T/kubeconfig"
check "--k8s-api takes only in-cluster" opt_err 'only "in-cluster"' --k8s-api bogus

# ---- initial list ----
XCNID_NETNS=$NS
check "xcnid started with --kubeconfig" start_xcnid "$PIN" --pod-cidr 10.97.0.0/24 \
	--node-name n1 --kubeconfig "$T/kubeconfig" -v || { cat "$LOG"; finish; exit 1; }
initial() {
	wait_for 10 ipc_has 10.97.0.20 kube-system/coredns-5d78c9869d-x2kqp || return 1
	ipc_has 10.97.0.11 shop/web-7d9c6b5f4d-h8x2m && ipc_has 10.97.0.12 shop/web-7d9c6b5f4d-q4z7t &&
		ipc_has 10.97.0.13 shop/db-0 &&
		[ "$(ipc | jq '[.[] | select(.pod | startswith("reserved") | not)] | length')" = 4 ]
}
check "initial list: the ipcache holds the 4 running pods (not the pending one)" initial
ids() {
	ctl identity list | grep -q 'k8s:app=web,k8s:pod-template-hash=7d9c6b5f4d,ns:kubernetes.io/metadata.name=shop,ns:team=red' &&
		[ "$(ipc_id 10.97.0.11)" = "$(ipc_id 10.97.0.12)" ] &&
		[ "$(ipc_id 10.97.0.11)" != "$(ipc_id 10.97.0.13)" ]
}
check "initial list: identities from pod and namespace labels" ids
dns_policy() { ctl policy get kube-system/coredns-5d78c9869d-x2kqp | grep -q 'kube-system/dns-from-anywhere'; }
check "initial list: the listed NetworkPolicy applies to coredns" dns_policy
check "initial list: applied generation reported" gen_above 0
check "initial lists were paged (limit/continue)" stat_at_least lists 7
check "every watch asks for bookmarks" wait_for 5 stat_at_least bookmark_watches 4

# ---- watch events ----
NEWPOD=$FIX/pod-web-new.json
# new_pod NAME IP: NEWPOD as shop/web-7d9c6b5f4d-NAME on IP, applied; arrives
# NAME IP LOG: that pod in the ipcache (the watch went on) and LOG in the log.
new_pod() {
	jq ".metadata.name = \"web-7d9c6b5f4d-$1\" | .status.podIP = \"$2\" | .status.podIPs = [{\"ip\": \"$2\"}]" \
		"$NEWPOD" | api apply - >/dev/null
}
arrives() { wait_for 10 ipc_has "$2" "shop/web-7d9c6b5f4d-$1" && log_has "$3"; }
g=$(gen)
api apply - <"$NEWPOD" >/dev/null
check "watch ADDED: the new pod is in the ipcache" wait_for 10 ipc_has 10.97.0.14 shop/web-7d9c6b5f4d-n5r8w
check "watch ADDED: applied generation moved on" gen_above "$g"
same_as_web() { [ "$(ipc_id 10.97.0.14)" = "$(ipc_id 10.97.0.11)" ]; }
check "watch ADDED: same labels, same identity as its siblings" same_as_web
jq '.metadata.labels.app = "canary"' "$NEWPOD" | api apply - >/dev/null
relabelled() {
	local id
	id=$(ipc_id 10.97.0.14)
	[ -n "$id" ] && [ "$id" != "$(ipc_id 10.97.0.11)" ] &&
		ctl identity list | grep -E "^ *$id " | grep -q 'k8s:app=canary'
}
check "watch MODIFIED: new labels, new identity" wait_for 10 relabelled
api delete '{"resource": "pods", "key": "shop/web-7d9c6b5f4d-n5r8w"}' >/dev/null
check "watch DELETED: the pod left the ipcache" wait_for 10 ipc_lacks 10.97.0.14

no_policy() { ctl policy get shop/db-0 | grep -q 'no policy selects'; }
check "shop/db-0 starts unisolated" no_policy
api apply - <"$FIX/netpol-db-from-web.json" >/dev/null
isolated() {
	local out
	out=$(ctl policy get shop/db-0) &&
		grep -q 'ingress isolated' <<<"$out" && grep -q 'shop/db-from-web' <<<"$out" &&
		grep -qE 'tcp +5432' <<<"$out"
}
check "watch ADDED NetworkPolicy: db-0 isolated, web allowed on its named port" wait_for 10 isolated

# An object the API server would never hold, but a newer one might: logged, skipped.
jq '.metadata.name = "bad" | .spec.ingress[0].from[0] = {"ipBlock": {"cidr": "10.0.0.0/33"}}' \
	"$FIX/netpol-db-from-web.json" | api apply - >/dev/null
new_pod after-bad 10.97.0.15
check "invalid object: logged with its name and field, skipped, later events applied" \
	arrives after-bad 10.97.0.15 'NetworkPolicy shop/bad: spec.ingress\[0\].from\[0\].ipBlock.cidr.*skipped'

# ---- broken streams ----
api garbage '{"resource": "pods"}' >/dev/null
new_pod after-garbage 10.97.0.16
check "garbage line: logged, the watch resumes and the next event arrives" \
	arrives after-garbage 10.97.0.16 'watch pods: a line of the stream is not JSON.*502 Bad Gateway.*watching again'
api cut '{"resource": "pods"}' >/dev/null
new_pod after-cut 10.97.0.17
check "watch cut inside an event: resumed, the event arrives whole" \
	arrives after-cut 10.97.0.17 'watch pods: the connection .* was lost .*in the middle of an event'

# ---- 410 Gone ----
# The watch falls behind (held back), a pod is deleted, history is compacted:
# the server's ERROR event says 410, and only a new list can show the delete.
api pause '{"resource": "pods"}' >/dev/null
api delete '{"resource": "pods", "key": "shop/web-7d9c6b5f4d-q4z7t"}' >/dev/null
api compact '{"resource": "pods"}' >/dev/null
api err410 '{"resource": "pods"}' >/dev/null
api resume '{"resource": "pods"}' >/dev/null
gone_event() {
	wait_for 10 ipc_lacks 10.97.0.12 && ipc_has 10.97.0.11 shop/web-7d9c6b5f4d-h8x2m &&
		log_has 'watch pods: resourceVersion [0-9]+ is gone \(410: too old resource version'
}
check "ERROR 410 event: relisted, the pod deleted in the gap is gone, the rest kept" gone_event
# The same with the other form: the re-watch itself answered HTTP 410.
api set '{"http410": true}' >/dev/null
api pause '{"resource": "networkpolicies"}' >/dev/null
api delete '{"resource": "networkpolicies", "key": "shop/db-from-web"}' >/dev/null
api compact '{"resource": "networkpolicies"}' >/dev/null
w410=$(stat_of watch_410)
api close '{"resource": "networkpolicies"}' >/dev/null
api resume '{"resource": "networkpolicies"}' >/dev/null
gone_http() {
	wait_for 10 no_policy && stat_at_least watch_410 $((w410 + 1)) &&
		log_has 'watch networkpolicies.networking.k8s.io: resourceVersion [0-9]+ is gone \(410\); listing again'
}
check "HTTP 410 on the re-watch: relisted, the policy deleted in the gap is gone" gone_http
api set '{"http410": false}' >/dev/null

close_all() { for r in namespaces pods nodes networkpolicies; do api close "{\"resource\": \"$r\"}" >/dev/null; done; }

# ---- credentials ----
before=$(ipc)
echo "token-expired" >"$T/token"
close_all
new_pod while-401 10.97.0.18
unauth() {
	wait_for 10 log_has '401 Unauthorized.*token is wrong or expired' &&
		stat_at_least unauthorized 2 && [ "$(ipc)" = "$before" ]
}
check "wrong token (401): clear message, retried, maps untouched" unauth
cp "$T/server-token" "$T/token"
check "token fixed (re-read on reconnect): caught up" \
	wait_for 20 ipc_has 10.97.0.18 shop/web-7d9c6b5f4d-while-401

before=$(ipc)
tls0=$(stat_of tls_failures)
api cert "{\"cert\": \"$T/srv2.crt\", \"key\": \"$T/srv2.key\"}" >/dev/null
close_all
new_pod while-tls 10.97.0.19
wrong_ca() {
	wait_for 10 log_has "TLS: cannot verify the API server's certificate .*wrong CA\? check certificate-authority.* in .*kubeconfig" ||
		return 1
	wait_for 10 stat_at_least tls_failures $((tls0 + 6)) ||
		{ echo "tls_failures $(stat_of tls_failures), from $tls0"; return 1; }
	[ "$(ipc)" = "$before" ] || { diff <(echo "$before" | jq -c '.[]') <(ipc | jq -c '.[]'); return 1; }
}
check "certificate from another CA: clear message, retried, maps untouched" wrong_ca
api cert "{\"cert\": \"$T/srv1.crt\", \"key\": \"$T/srv1.key\"}" >/dev/null
check "right certificate again: caught up" wait_for 20 ipc_has 10.97.0.19 shop/web-7d9c6b5f4d-while-tls

# ---- the server dies ----
before=$(ipc)
kill -9 "$SRV"
wait "$SRV" 2>/dev/null
SRV=
survives() {
	sleep 2
	kill -0 "$XCNID_PID" && [ "$(ipc)" = "$before" ] &&
		wait_for 10 log_has 'cannot connect .*the maps keep their last state'
}
check "API server killed: xcnid runs on, maps keep the last state" survives
check "API server restarted (same history)" start_server "$T/srv1.crt" "$T/srv1.key"
api delete '{"resource": "pods", "key": "shop/web-7d9c6b5f4d-after-bad"}' >/dev/null
caught_up() {
	wait_for 20 ipc_lacks 10.97.0.15 && ipc_has 10.97.0.11 shop/web-7d9c6b5f4d-h8x2m &&
		log_has 'answers again'
}
check "reconnected and caught up with what changed" caught_up
g=$(gen)
api apply - <"$FIX/netpol-db-from-web.json" >/dev/null
check "and follows new events again" wait_for 10 isolated
check "applied generation keeps moving" gen_above "$g"
# Beside kube-proxy xcnid lists Services all the same (issue 41 item 6): their
# frontends go to xcni_extfe, which from_plain refuses as sources from outside;
# the Service maps stay empty (socket LB would translate with them). kubernetes
# 443, kube-dns 53/UDP 53/TCP 9153, web 80 (db headless): 5.
kmap() { bpftool -j map dump pinned "$PIN/$1" | jq length; }
kmap_is() { [ "$(kmap "$1")" = "$2" ] || { echo "$1: $(kmap "$1") entries, want $2"; return 1; }; }
# kfe ADDR PORT: xcni_extfe holds IPv4 ADDR:PORT/TCP.
kfe() {
	bpftool -j map dump pinned "$PIN/xcni_extfe" | "$PY" -c '
import json, socket, struct, sys
want = socket.inet_aton(sys.argv[1]) + bytes(12) + struct.pack("!H", int(sys.argv[2])) + bytes([2, 6, 0])
sys.exit(0 if any(bytes(int(b, 16) for b in e["key"])[:21] == want for e in json.load(sys.stdin)) else 1)' "$1" "$2"
}
kp_extfe() {
	grep -qE "and 4 services$" "$LOG" && wait_for 10 kmap_is xcni_extfe 5 && kfe 10.96.44.7 80 &&
		kmap_is xcni_svc 0 && kmap_is xcni_backend 0 ||
		{ grep -E "services|extfe|frontends" "$LOG" | tail -5; return 1; }
}
check "without --kube-proxy-replacement: 4 Services listed, their 5 frontends in xcni_extfe, xcni_svc empty" kp_extfe
kp_extfe_lb() {
	echo '{"kind": "Service", "apiVersion": "v1", "metadata": {"name": "lb", "namespace": "shop"},
	       "spec": {"type": "LoadBalancer", "clusterIP": "10.96.44.9", "clusterIPs": ["10.96.44.9"],
			"externalIPs": ["203.0.113.9"], "selector": {"app": "web"},
			"ports": [{"port": 443, "protocol": "TCP", "nodePort": 31443}]},
	       "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}]}}}' | api apply - >/dev/null &&
		wait_for 10 kmap_is xcni_extfe 7 && ! kfe 203.0.113.9 443 && kfe 198.51.100.9 443 &&
		kfe 10.96.44.9 443 && ! kfe 198.51.100.9 31443 && kmap_is xcni_svc 0 &&
		api delete '{"resource": "services", "key": "shop/lb"}' >/dev/null &&
		wait_for 10 kmap_is xcni_extfe 5 && ! kfe 198.51.100.9 443 ||
		{ grep -E "extfe|frontends" "$LOG" | tail -5; return 1; }
}
# Not its externalIP (issue 52 item 2): any tenant may write one, naming any
# outside address; only --external-ip-cidrs vouches for them.
check "... a LoadBalancer Service watched: its ClusterIP and LB ingress IP at 443 in xcni_extfe (not its externalIP: no --external-ip-cidrs), gone with it" kp_extfe_lb
check "xcnid still running" kill -0 "$XCNID_PID"
stopped() { kill "$XCNID_PID" && wait "$XCNID_PID"; }
check "xcnid exits cleanly on SIGTERM" stopped
XCNID_PID=

# In a pod: the service account's token and CA at their fixed paths (a
# private mount namespace with its own /run, so the host's stays as it was),
# the API server from KUBERNETES_SERVICE_HOST/PORT.
IC_PID=
in_cluster() {
	local sa=/run/secrets/kubernetes.io/serviceaccount
	cp "$T/ca1.crt" "$T/sa-ca.crt"
	cp "$T/server-token" "$T/sa-token"
	nsenter --net="/var/run/netns/$NS" unshare -m --propagation private sh -c "
		mount -t tmpfs sa /run && mkdir -p $sa &&
		cp '$T/sa-ca.crt' $sa/ca.crt && cp '$T/sa-token' $sa/token &&
		exec env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=6443 \
			'$BUILD/xcnid' --pin-dir '$PIN-ic' --pod-cidr 10.97.0.0/24 --node-name n1 \
			--k8s-api in-cluster -v" >"$T/xcnid-ic.log" 2>&1 &
	IC_PID=$!
	wait_for 15 eval 'ctl --pin-dir "$PIN-ic" ipcache list --json | jq -e "any(.[]; .pod == \"shop/db-0\")"' ||
		{ cat "$T/xcnid-ic.log"; return 1; }
}
check "--k8s-api in-cluster: service account token and CA, lists what the server holds" in_cluster
[ -n "$IC_PID" ] && kill "$IC_PID" 2>/dev/null && wait "$IC_PID" 2>/dev/null
rm -rf "$PIN-ic"
no_env() {
	local out
	out=$(in_ns env -u KUBERNETES_SERVICE_HOST "$BUILD/xcnid" --pin-dir "$PIN" \
		--pod-cidr 10.97.0.0/24 --node-name n1 --k8s-api in-cluster 2>&1)
	[ $? -ne 0 ] && grep -q 'not a pod; outside a cluster use --kubeconfig' <<<"$out" ||
		{ echo "$out"; return 1; }
}
check "--k8s-api in-cluster outside a pod: refused, saying what to use" no_env

# A kubeconfig xcnid cannot use is refused with the reason.
sed 's/tokenFile: token/exec: {command: gke-gcloud-auth-plugin, apiVersion: client.authentication.k8s.io\/v1beta1}/' \
	"$T/kubeconfig" >"$T/kubeconfig-exec"
exec_refused() {
	local out
	out=$(in_ns "$BUILD/xcnid" --pin-dir "$PIN" --pod-cidr 10.97.0.0/24 --node-name n1 \
		--kubeconfig "$T/kubeconfig-exec" 2>&1)
	[ $? -ne 0 ] && grep -q 'exec plugin, which xcnid does not run' <<<"$out" || { echo "$out"; return 1; }
}
check "kubeconfig with an exec credential plugin: refused, saying why" exec_refused

# ---- --kube-proxy-replacement: Services and EndpointSlices listed and watched too ----
# fixtures: kubernetes (1 endpoint), kube-dns (3 ports; a ready and a terminating
# endpoint), shop/web (NodePort: its ClusterIP and nodePort 31080 on n1's InternalIP;
# affinity; named targetPort), shop/db (headless): 6 frontends; backends are
# address:port, so 6.
no_svc_without_flag() { ! grep -q "endpoint slices" "$LOG" && grep -q "every kind listed" "$LOG"; }
check "without --kube-proxy-replacement: no EndpointSlices listed" no_svc_without_flag
LB_PID=
nmap() { bpftool -j map dump pinned "$PIN-lb/$1" | jq length; }
nmap_is() { [ "$(nmap "$1")" = "$2" ] || { echo "$1: $(nmap "$1") entries, want $2"; return 1; }; }
lb_start() {
	nsenter --net="/var/run/netns/$NS" "$BUILD/xcnid" --pin-dir "$PIN-lb" --pod-cidr 10.97.0.0/24 \
		--node-name n1 --kubeconfig "$T/kubeconfig" --kube-proxy-replacement -v \
		>"$T/xcnid-lb.log" 2>&1 &
	LB_PID=$!
	wait_for 15 grep -q "and 4 services, 3 endpoint slices" "$T/xcnid-lb.log" &&
		wait_for 10 nmap_is xcni_svc 6 && nmap_is xcni_backend 6 || { tail -30 "$T/xcnid-lb.log"; return 1; }
}
check "--kube-proxy-replacement: Services and EndpointSlices listed, 6 frontends, 6 backends" lb_start
lb_slice_change() {
	jq '.items[1] | .endpoints |= .[:1] | .kind = "EndpointSlice" | .apiVersion = "discovery.k8s.io/v1"' \
		"$FIX/endpointslices.json" | api apply - >/dev/null &&
		wait_for 10 nmap_is xcni_backend 4 && nmap_is xcni_svc 6
}
check "an EndpointSlice watched: the terminating endpoint gone, its backends deleted" lb_slice_change
lb_svc_delete() {
	api delete '{"resource": "services", "key": "shop/web"}' >/dev/null &&
		wait_for 10 nmap_is xcni_svc 4 && nmap_is xcni_backend 3 ||
		{ tail -5 "$T/xcnid-lb.log"; bpftool -j map dump pinned "$PIN-lb/xcni_svc" | jq -c '.[].key'; return 1; }
}
check "a Service deleted: its frontends (ClusterIP, NodePort) and backend deleted" lb_svc_delete
lb_clean() { ! grep -qE "not applied|Service|EndpointSlice" "$T/xcnid-lb.log" || { grep -E "not applied|Service|EndpointSlice" "$T/xcnid-lb.log"; return 1; }; }
check "--kube-proxy-replacement: every generation applied, no Service or EndpointSlice refused" lb_clean

# ---- one kind the server does not serve, or RBAC forbids, never stops the rest ----
# (issue 37: 1.20 serves EndpointSlices as discovery.k8s.io/v1beta1 only, and
# xcnid --kube-proxy-replacement programmed nothing at all, not even policy.)
# lb_fresh: a new agent on a new pin dir, its log from the start (LB_KPR= lb_fresh:
# beside kube-proxy, without --kube-proxy-replacement).
lb_fresh() {
	[ -n "$LB_PID" ] && kill "$LB_PID" 2>/dev/null && wait "$LB_PID" 2>/dev/null
	rm -rf "$PIN-lb"
	nsenter --net="/var/run/netns/$NS" "$BUILD/xcnid" --pin-dir "$PIN-lb" --pod-cidr 10.97.0.0/24 \
		--node-name n1 --kubeconfig "$T/kubeconfig" ${LB_KPR---kube-proxy-replacement} -v \
		>"$T/xcnid-lb.log" 2>&1 &
	LB_PID=$!
}
lb_ipc_some() { [ "$(nmap xcni_ipcache)" -ge 4 ]; }
slices_beta() {
	api set '{"slices_beta": true}' >/dev/null && lb_fresh &&
		wait_for 15 grep -q "discovery.k8s.io/v1 is not served (404): using discovery.k8s.io/v1beta1" "$T/xcnid-lb.log" &&
		wait_for 15 grep -q "every kind listed" "$T/xcnid-lb.log" &&
		wait_for 10 nmap_is xcni_svc 4 && nmap_is xcni_backend 3 || { tail -20 "$T/xcnid-lb.log"; return 1; }
}
check "1.20's EndpointSlices (v1beta1 only): xcnid says so once, lists them there, 4 frontends, 3 backends" slices_beta
slices_forbidden() {
	api set '{"slices_beta": false, "forbidden": ["endpointslices"]}' >/dev/null && lb_fresh &&
		wait_for 20 grep -q "endpointslices.discovery.k8s.io cannot be listed (HTTP 403): programming everything else" "$T/xcnid-lb.log" &&
		wait_for 10 lb_ipc_some && wait_for 10 nmap_is xcni_svc 4 && nmap_is xcni_backend 0 ||
		{ tail -20 "$T/xcnid-lb.log"; return 1; }
}
check "EndpointSlices forbidden (403): named, policy and Services programmed without them (no backend)" slices_forbidden
# st_lb PY-EXPR: xcnictl status -j of the agent on $PIN-lb, as d (exit status in rc), checked.
st_lb() {
	local out rc
	out=$(nsenter --net="/var/run/netns/$NS" "$BUILD/xcnictl" --pin-dir "$PIN-lb" status -j); rc=$?
	python3 -c "
import json, sys
d = json.loads(sys.argv[1]); rc = int(sys.argv[2]); n = d['nodes'][0]; cl = n['agent']['cluster']
ok = bool($1)
if not ok: print(rc, d['verdict'], n['problems'], {k: v for k, v in cl.items() if k != 'kinds'})
sys.exit(0 if ok else 1)" "$out" "$rc"
}
check "... xcnictl status: exit 1, DEGRADED, 1 kind unavailable, endpointslices named with its 403" \
	st_lb "rc == 1 and d['verdict'] == 'DEGRADED' and cl['kinds_unavailable'] == 1 and cl['synced'] and any('endpointslices.discovery.k8s.io unavailable (HTTP 403)' in p for p in n['problems'])"
slices_granted() {
	api set '{"forbidden": []}' >/dev/null &&
		wait_for 45 nmap_is xcni_backend 3 || { tail -20 "$T/xcnid-lb.log"; return 1; }
}
check "... granted again: listed on the next try, the 3 backends programmed" slices_granted
check "... xcnictl status: OK again, no kind unavailable, every kind listed, an event seen" \
	st_lb "rc == 0 and d['verdict'] == 'OK' and cl['kinds_unavailable'] == 0 and cl['kinds_unlisted'] == 0 and cl['last_event_age_s'] is not None"
policy_forbidden() {
	api set '{"forbidden": ["networkpolicies"]}' >/dev/null && lb_fresh &&
		wait_for 15 grep -q "403 Forbidden.*networkpolicies" "$T/xcnid-lb.log" && sleep 2 &&
		! grep -q "every kind listed\|programming everything else" "$T/xcnid-lb.log" &&
		[ "$(nmap xcni_ipcache)" = 0 ] || { tail -20 "$T/xcnid-lb.log"; return 1; }
}
check "NetworkPolicies forbidden: nothing is programmed from half the policy (pods would be opened)" policy_forbidden
check "... xcnictl status: exit 1, DEGRADED: not ready (no generation applied), the 403 the last error" \
	st_lb "rc == 1 and d['verdict'] == 'DEGRADED' and not n['agent']['ready'] and not cl['synced'] and '403' in cl.get('last_error', '')"
api set '{"forbidden": []}' >/dev/null
# A Services list that gets no answer at all (the connection closed: a transport
# error, not an HTTP status) holds nothing back either, beside kube-proxy (where
# Services only feed the forged-source check, xcni_extfe) or replacing it. Before
# issue 41's fix the kube-proxy-mode agent programmed no policy at all.
services_dropped() {
	api set '{"dropped": ["services"]}' >/dev/null && LB_KPR= lb_fresh &&
		wait_for 20 grep -q "services cannot be listed (.*): programming everything else" "$T/xcnid-lb.log" &&
		wait_for 10 lb_ipc_some && nmap_is xcni_extfe 0 || { tail -20 "$T/xcnid-lb.log"; return 1; }
}
check "beside kube-proxy, Services unanswered (connection closed): named, policy programmed without them" services_dropped
check "... xcnictl status: exit 1, DEGRADED, services named unavailable (no HTTP answer)" \
	st_lb "rc == 1 and d['verdict'] == 'DEGRADED' and cl['synced'] and any('services unavailable (no HTTP answer)' in p for p in n['problems'])"
services_answered() {
	api set '{"dropped": []}' >/dev/null &&
		wait_for 45 nmap_is xcni_extfe 4 || { grep -i -E "services|extfe|frontend" "$T/xcnid-lb.log" | tail -20; return 1; }
}
# (3 Services since shop/web went above: kubernetes 443, kube-dns 53/UDP 53/TCP 9153.)
check "... answered again: listed on the next try, the 4 frontends in xcni_extfe" services_answered
services_dropped_kpr() {
	api set '{"dropped": ["services"]}' >/dev/null && lb_fresh &&
		wait_for 20 grep -q "services cannot be listed (.*): programming everything else" "$T/xcnid-lb.log" &&
		wait_for 10 lb_ipc_some && nmap_is xcni_svc 0 || { tail -20 "$T/xcnid-lb.log"; return 1; }
}
check "--kube-proxy-replacement, Services unanswered: named, policy programmed, no frontend" services_dropped_kpr
api set '{"dropped": []}' >/dev/null
[ -n "$LB_PID" ] && kill "$LB_PID" 2>/dev/null && wait "$LB_PID" 2>/dev/null
LB_PID=
rm -rf "$PIN-lb"

# APIWATCH_LOG=FILE keeps xcnid's log for a look afterwards.
[ -n "${APIWATCH_LOG:-}" ] && cp "$LOG" "$APIWATCH_LOG"
if [ "$_t_fail" -ne 0 ]; then
	diag "xcnid log:"
	sed 's/^/#   /' "$LOG" | tail -n 60
fi
finish
