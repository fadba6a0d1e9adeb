#!/bin/bash
# bench/k8s-podstart.sh: pod start in the real cluster (issue 37), xcni vs the
# reference ptp plugin, each installed by a DaemonSet on the same two nodes.
#
#   flock /tmp/xcni-test.lock bash bench/k8s-podstart.sh
#
# The control plane and two kubelet nodes of tests/k8s (tests/k8s/lib.sh, node
# mode daemonset, containerd logging at debug), then for each plugin in
# $PLUGINS (default "xcni ptp", in that order, $ROUNDS times; xcni-tc and
# xcni-tcx are xcni with the DaemonSet's XCNI_ATTACH set to tc or tcx):
#  - install: xcni as life.sh installs it (examples/kind xcni.yaml +
#    kpr-patch.yaml, the image built offline); ptp by bench/k8s-ptp.yaml, a
#    DaemonSet of the same shape (host network, the node's /opt/cni/bin and
#    /etc/cni/net.d) whose pod copies Debian's ptp into /opt/cni/bin and writes
#    a ptp + host-local conflist for its node's spec.podCIDR (from a ConfigMap
#    this script renders: the pod has no API client), portmap chained after it
#    as kindnet and xcni's entry point chain it (PTP_PORTMAP=0: not). Figure:
#    kubectl apply -> rolled out, -> both nodes Ready;
#  - $PODS pods (default 100, half on each node, busybox sleep) in one kubectl
#    apply; figure: p50/p90/p99/max of apply -> Ready (a kubectl watch);
#    then containerd's CNI setup ("begin cni setup" .. "cni result", debug
#    level: CNI ADD as the runtime calls it, IPAM included) and RunPodSandbox's
#    whole span per sandbox, p50/p99, from the nodes' containerd logs. (The
#    kubelet does not call CNI with a remote runtime: containerd does, and
#    logs it.) xcni's ADD traced step by step (XCNI_TRACE in containerd's
#    environment, which containerd hands to the plugins): per step p50/p99,
#    and what came before xcni's main (loopback, exec, loader) and after it
#    (portmap) in containerd's span;
#  - xcni only, before the pods, $POLICY_ROUNDS times (default 10; 0: none;
#    PODS=0: these alone): a NetworkPolicy
#    applied with kubectl -> enforced on both nodes, and deleted -> open again,
#    seen by a prober pod's tries (see policy_rounds); p50/p99;
#  - the namespace deleted; the plugin removed (xcni: kubectl delete +
#    uninstall.yaml, lib.sh's checks; ptp: the DaemonSet deleted, its conflist
#    and binary removed from the nodes' dirs), nodes NotReady again.
# Results: a table on stdout and $OUT (default /tmp/k8s-podstart.json, a JSON
# list of rows: one per plugin and round, one per round of policy changes).
# Shared machine: compare the two plugins of one run, not runs of days apart.
set -uo pipefail
BENCH=k8s-podstart
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/k8s/lib.sh"
PODS=${PODS:-100}
ROUNDS=${ROUNDS:-1}
PLUGINS=${PLUGINS:-xcni ptp}
PTP_PORTMAP=${PTP_PORTMAP:-1}
OUT=${OUT:-/tmp/k8s-podstart.json}
[[ $PODS =~ ^[0-9]+$ ]] && ((PODS == 0 || (PODS >= 2 && PODS <= 200))) || { echo "$BENCH: PODS: 0 (none: the policy rounds only) or 2-200, not '$PODS'" >&2; exit 1; }
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 5)) || { echo "$BENCH: ROUNDS: 1-5, not '$ROUNDS'" >&2; exit 1; }
for p in $PLUGINS; do
	case $p in xcni | xcni-tc | xcni-tcx | ptp) ;; *) echo "$BENCH: PLUGINS: xcni, xcni-tc, xcni-tcx and/or ptp, not '$p'" >&2; exit 1 ;; esac
done
[ -x /usr/lib/cni/ptp ] || { echo "$BENCH: /usr/lib/cni/ptp missing (containernetworking-plugins)" >&2; exit 1; }
[[ $PTP_PORTMAP =~ ^[01]$ ]] || { echo "$BENCH: PTP_PORTMAP: 0 or 1, not '$PTP_PORTMAP'" >&2; exit 1; }
export XCNI_K8S_CONTAINERD_LOG=debug
# Each node's containerd (and so the plugins it runs) gets its trace file.
k8s_node_env() { export XCNI_TRACE=/run/xcni-k8s/$1/cni-trace.log; }

k8s_preflight n1 n2
k8s_image
python3 "$ROOT/tests/cri/mkimage.py" --applets --with /usr/lib/cni/ptp "$TMP/ptp.tar" xcni.test/ptp:1 /bin/busybox >/dev/null ||
	{ not_ok "image xcni.test/ptp:1 built"; finish; exit 1; }
k8s_cp_up
k8s_nodes_up
for n in "${NODES[@]}"; do
	check "$n: image xcni.test/ptp:1 imported" \
		timeout 60 ctr -a "/run/xcni-k8s/$n/containerd.sock" -n k8s.io images import --snapshotter overlayfs "$TMP/ptp.tar"
done
k8s_manifest kpr >"$TMP/xcni.yaml"
# xcni-tc, xcni-tcx: the same with the DaemonSet's XCNI_ATTACH (the init
# container's goes into the conflist: the plugin's "attach"; the agent's is
# xcnid's own) both set to tc or tcx.
for m in tc tcx; do
	awk -v m="$m" '/- name: XCNI_ATTACH$/ {print; getline; sub(/value: .*/, "value: " m)} {print}' \
		"$TMP/xcni.yaml" >"$TMP/xcni-$m.yaml"
	[ "$(grep -A1 -- '- name: XCNI_ATTACH$' "$TMP/xcni-$m.yaml" | grep -c "value: $m\$")" = 2 ] ||
		{ not_ok "xcni-$m.yaml: XCNI_ATTACH=$m in the init container and the agent"; finish; exit 1; }
done
# The ptp DaemonSet's pod CIDRs, one key per node.
{
	echo "apiVersion: v1"
	echo "kind: ConfigMap"
	echo "metadata: {name: ptp-cidrs, namespace: kube-system}"
	echo "data:"
	for n in "${NODES[@]}"; do echo "  $n: \"$(kc get node "$n" -o jsonpath='{.spec.podCIDR}')\""; done
	echo "  portmap: \"$PTP_PORTMAP\""
	echo "---"
	cat "$ROOT/bench/k8s-ptp.yaml"
} >"$TMP/ptp.yaml"
export KUBECTL="ip netns exec $K8S_NETNS $K8S_BIN/kubectl --kubeconfig $KUBECONFIG"
not_ready_nodes() { [ -z "$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{end}' | grep True)" ]; }

# Policy change -> enforced on every node: targets t1 (n1) and t2 (n2) serve
# httpd, prober pr on n1 fetches each in a loop (busybox nc -w 1: not
# `timeout 1 wget`, whose watchdog child, orphaned when wget ends first, is
# reparented to the pod's PID 1, a `sleep` that never reaps it: two runs left
# ~32,000 zombies and exhausted the host's PIDs; and not `wget -T 1`, which
# Debian's static busybox 1.35 answers with a segfault), logging each
# try's start (/proc/uptime: the host's clock, pods have no time namespace)
# and whether it got the page. A round: kubectl apply of a policy denying
# t1/t2 all ingress (the host's uptime taken just before), $POLICY_WINDOW s
# (default 8), kubectl delete, $POLICY_WINDOW s. Per round and node: the start of the first failed try after the apply,
# minus the apply (an upper bound, within one try's length), and of the first
# good try after the delete; "every node" is the later of the two nodes.
POLICY_ROUNDS=${POLICY_ROUNDS:-10}
POLICY_WINDOW=${POLICY_WINDOW:-8} # s after the apply, and after the delete
policy_rounds() { # ROUND
	local t1 t2 a d
	kc create namespace pol >/dev/null
	pod t1 pol n1 "app: target" "$SERVE" >/dev/null && pod t2 pol n2 "app: target" "$SERVE" >/dev/null &&
		pod pr pol n1 "app: prober" "exec sleep 2147483647" >/dev/null || { not_ok "policy rounds: pods Ready"; return; }
	t1=$(ip_of pol t1) t2=$(ip_of pol t2)
	eventually 20 bash -c "wget_from pol pr http://$t2:8080/ >/dev/null" || { not_ok "policy rounds: pr reaches t2"; return; }
	kc -n pol exec pr -- rm -f /tmp/stop /tmp/p-n1 /tmp/p-n2
	# Each try bounded by the prober's own shell (busybox nc's -w did not bound
	# a try once: one hung for minutes): nc in the background, killed after
	# 1.2 s and reaped by the same shell (no orphan for the pod's PID 1).
	kc -n pol exec pr -- sh -c 'try() { printf "GET / HTTP/1.0\r\n\r\n" | nc -w 1 $1 8080 >/tmp/o-$2 2>/dev/null & n=$!; i=0; while kill -0 $n 2>/dev/null && [ $i -lt 12 ]; do sleep 0.1; i=$((i+1)); done; kill $n 2>/dev/null; wait $n 2>/dev/null; grep -q hello /tmp/o-$2; }; probe() { while [ ! -e /tmp/stop ]; do s=$(cut -d" " -f1 /proc/uptime); if try $1 $2; then r=ok; else r=fail; fi; echo "$s $r" >>/tmp/p-$2; done; }; probe '"$t1"' n1 & probe '"$t2"' n2 & wait' >/dev/null 2>&1 &
	local prober=$!
	eventually 10 bash -c "[ \"\$(kc -n pol exec pr -- cat /tmp/p-n2 2>/dev/null | wc -l)\" -gt 2 ]" ||
		{ not_ok "policy rounds: the prober runs (its log grows)"; return; }
	: >"$TMP/pol.times"
	for _ in $(seq "$POLICY_ROUNDS"); do
		a=$(cut -d' ' -f1 /proc/uptime)
		kc apply -f - >/dev/null <<'EOF2'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-targets, namespace: pol}
spec:
  podSelector: {matchLabels: {app: target}}
  policyTypes: [Ingress]
EOF2
		sleep "$POLICY_WINDOW"
		d=$(cut -d' ' -f1 /proc/uptime)
		kc -n pol delete networkpolicy deny-targets >/dev/null
		sleep "$POLICY_WINDOW"
		echo "$a $d" >>"$TMP/pol.times"
	done
	kc -n pol exec pr -- touch /tmp/stop
	wait "$prober" 2>/dev/null
	kc -n pol exec pr -- cat /tmp/p-n1 >"$TMP/pol.n1"
	kc -n pol exec pr -- cat /tmp/p-n2 >"$TMP/pol.n2"
	local f
	for f in n1 n2; do
		diag "prober -> t on $f: $(wc -l <"$TMP/pol.$f") tries, $(grep -c ' ok$' "$TMP/pol.$f") ok, first $(head -n1 "$TMP/pol.$f"), last $(tail -n1 "$TMP/pol.$f")"
	done
	diag "rounds (host uptime at apply, at delete): $(paste -sd' ' "$TMP/pol.times")"
	[ -z "${XCNI_K8S_KEEP:-}" ] || cp "$TMP/pol.n1" "$TMP/pol.n2" "$TMP/pol.times" "$XCNI_K8S_KEEP/"
	python3 - "$1" "$TMP/pol.times" "$TMP/pol.n1" "$TMP/pol.n2" >"$TMP/pol.json" <<'PY'
import json, sys
r, times, *logs = sys.argv[1:]
rounds = [tuple(map(float, l.split())) for l in open(times) if l.strip()]
tries = [[(float(l.split()[0]), l.split()[1]) for l in open(f) if len(l.split()) == 2] for f in logs]
def first(tr, after, what, before):
    for s, res in tr:
        if after <= s < before and res == what:
            return s
    return None
enf, rel, per_node = [], [], [[], []]
missing = 0
for k, (a, d) in enumerate(rounds):
    nxt = rounds[k + 1][0] if k + 1 < len(rounds) else 1e18
    e = [first(tr, a, "fail", d) for tr in tries]
    g = [first(tr, d, "ok", nxt) for tr in tries]
    if None in e or None in g:
        missing += 1
        continue
    for i in range(2):
        per_node[i].append(round((e[i] - a) * 1000))
    enf.append(round((max(e) - a) * 1000))
    rel.append(round((max(g) - d) * 1000))
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None
print(json.dumps({"plugin": "xcni-policy", "round": int(r), "rounds": len(rounds), "missing": missing,
                  "enforced_all_p50_ms": pct(enf, .5), "enforced_all_p99_ms": pct(enf, .99),
                  "enforced_n1_p50_ms": pct(per_node[0], .5), "enforced_n2_p50_ms": pct(per_node[1], .5),
                  "released_all_p50_ms": pct(rel, .5), "released_all_p99_ms": pct(rel, .99),
                  "enforced_all_ms": enf, "released_all_ms": rel}))
PY
	check "policy rounds: every round's change seen on both nodes ($(cat "$TMP/pol.json" | cut -c1-300))" \
		bash -c "grep -q '\"missing\": 0' $TMP/pol.json"
	echo "# figure: $(cat "$TMP/pol.json")"
	out_row "$(cat "$TMP/pol.json")"
	kc delete namespace pol --wait=true --timeout=120s >/dev/null
}

k8s_uninstall_plugin() { # xcni|xcni-tc|xcni-tcx|ptp
	if [ "$1" != ptp ]; then
		k8s_uninstall "$TMP/$1.yaml" kpr
	else
		kc delete -f "$TMP/ptp.yaml" --wait=true --timeout=60s >/dev/null
		for n in "${NODES[@]}"; do
			rm -f "/run/xcni-k8s/$n/cni/net.d/05-ptp.conflist" "/run/xcni-k8s/$n/cni/bin/ptp"
		done
	fi
	check "$1 removed: both nodes NotReady again" eventually 90 not_ready_nodes
}

# One JSON object a row of $OUT's list; the comma before all but the first.
echo "[" >"$OUT"
first=1
out_row() {
	[ $first = 1 ] || echo "," >>"$OUT"
	first=0
	echo "$1" >>"$OUT"
}
for r in $(seq "$ROUNDS"); do
	for p in $PLUGINS; do
		diag "round $r: $p"
		if [ "$p" != ptp ]; then
			k8s_install "$TMP/$p.yaml"
		else
			k8s_install "$TMP/ptp.yaml" ptp
		fi
		# Before the 100 pods, so that neither loads the other.
		[ "$p" = xcni ] && [ "$POLICY_ROUNDS" -gt 0 ] && policy_rounds "$r"
		[ "$PODS" -gt 0 ] || { k8s_uninstall_plugin "$p"; continue; }
		since=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
		kc create namespace bench >/dev/null
		python3 "$ROOT/bench/k8s-podstart.py" pods --ns bench --count "$PODS" --nodes n1,n2 >"$TMP/pods.json"
		check "$p: $PODS pods Ready" test $? = 0
		sleep 2
		python3 "$ROOT/bench/k8s-podstart.py" cni /run/xcni-k8s/n1/containerd.log /run/xcni-k8s/n2/containerd.log \
			--since "$since" --prefix p --trace /run/xcni-k8s/n1/cni-trace.log --trace /run/xcni-k8s/n2/cni-trace.log \
			>"$TMP/cni.json"
		if [ -n "${XCNI_K8S_KEEP:-}" ]; then
			for n in "${NODES[@]}"; do
				cp "/run/xcni-k8s/$n/containerd.log" "$XCNI_K8S_KEEP/$p-$r-$n-containerd.log" 2>/dev/null
				cp "/run/xcni-k8s/$n/cni-trace.log" "$XCNI_K8S_KEEP/$p-$r-$n-cni-trace.log" 2>/dev/null
			done
		fi
		row=$(python3 - "$p" "$r" "$TMP/pods.json" "$TMP/cni.json" "${INSTALL_ROLLOUT_MS:-0}" "${INSTALL_READY_MS:-0}" <<'PY'
import json, sys
p, r, pods, cni, roll, ready = sys.argv[1:]
a = json.load(open(pods)); c = json.load(open(cni))
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None
rd = list(a["ready_ms"].values())
o = {"plugin": p, "round": int(r), "ds_rollout_ms": int(roll), "ds_ready_ms": int(ready),
     "pods": len(rd), "apply_ms": a["apply_ms"],
     "ready_p50_ms": pct(rd, .5), "ready_p90_ms": pct(rd, .9), "ready_p99_ms": pct(rd, .99), "ready_max_ms": max(rd) if rd else None,
     "cni_n": len(c["cni_ms"]), "cni_p50_ms": pct(c["cni_ms"], .5), "cni_p99_ms": pct(c["cni_ms"], .99),
     "sandbox_n": len(c["sandbox_ms"]), "sandbox_p50_ms": pct(c["sandbox_ms"], .5), "sandbox_p99_ms": pct(c["sandbox_ms"], .99)}
if c.get("trace"):
    o["xcni_add_trace"] = c["trace"]
print(json.dumps(o))
PY
		)
		echo "# figure: $row"
		out_row "$row"
		kc delete namespace bench --wait=true --timeout=180s >/dev/null
		k8s_uninstall_plugin "$p"
	done
done
echo "]" >>"$OUT"
python3 - "$OUT" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
print("# %-5s %5s %9s %9s %5s %9s %9s %9s %9s %8s %8s %9s %9s" % ("cni", "round", "ds_roll", "ds_ready", "pods",
      "rdy_p50", "rdy_p90", "rdy_p99", "rdy_max", "cni_p50", "cni_p99", "sbx_p50", "sbx_p99"))
for o in rows:
    if o["plugin"] == "xcni-policy":
        print("# policy change -> enforced on both nodes (round %d, %d changes): p50 %s ms, p99 %s ms; deleted -> open again p50 %s ms, p99 %s ms" % (
            o["round"], o["rounds"], o["enforced_all_p50_ms"], o["enforced_all_p99_ms"], o["released_all_p50_ms"], o["released_all_p99_ms"]))
        continue
    print("# %-5s %5d %9d %9d %5d %9s %9s %9s %9s %8s %8s %9s %9s" % (o["plugin"], o["round"], o["ds_rollout_ms"], o["ds_ready_ms"],
          o["pods"], o["ready_p50_ms"], o["ready_p90_ms"], o["ready_p99_ms"], o["ready_max_ms"],
          o["cni_p50_ms"], o["cni_p99_ms"], o["sandbox_p50_ms"], o["sandbox_p99_ms"]))
    t = o.get("xcni_add_trace")
    if t:
        print("#   xcni ADD by step, p50/p99 ms (%d traced): %s" % (t.get("total", {}).get("n", 0), ", ".join(
            "%s %s/%s" % (k, v["p50"], v["p99"]) for k, v in t.items())))
PY
k8s_down
finish
