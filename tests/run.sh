#!/bin/bash
# Runs every xcni test suite and adds up their results.
#   unit (cmocka; again under ASan/UBSan) -> fuzzing -> netns integration -> real
#   clients (libcni, containerd CRI)
# Each suite prints "ok"/"not ok" lines and its own "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-$PWD/build}
export XCNI_ROOT=$PWD
# The suites' python3 is Debian's (its packages are the ones installed for them).
# A version manager's shim first in PATH (pyenv's is a shell script that runs
# five more) made each bare `python3` cost ~0.6 s of CPU instead of 0.04: the
# xcnictl suite alone went from 139 s to 55 s without it.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/\.pyenv/' | paste -sd: -)
export PATH

suites=(
	"unit:$BUILD/tests/test_cni"
	"unit-netlink:$BUILD/tests/test_nl"
	"unit-print:$BUILD/tests/test_print"
	"unit-manifests:$BUILD/tests/test_k8s"
	"unit-manifests-svc:$BUILD/tests/test_k8s_svc"
	"unit-store:$BUILD/tests/test_store"
	"unit-k8sapi:$BUILD/tests/test_k8sapi"
	# The policy-version Events: requests per change, churn, the node list (issue 65 item 4).
	"unit-polevents:$BUILD/tests/test_polevents"
	"unit-k8sobj:$BUILD/tests/test_k8sobj"
	"unit-policy:$BUILD/tests/test_policy"
	"unit-polpeers:$BUILD/tests/test_polpeers"
	"unit-polmaps:$BUILD/tests/test_polmaps"
	# The room writer every mirrored map shares: its contract with random lives.
	"unit-mapw:$BUILD/tests/test_mapw"
	"unit-polsync:$BUILD/tests/test_polsync"
	"unit-polinject:$BUILD/tests/test_polinject"
	"unit-polincr:$BUILD/tests/test_polincr"
	"unit-polincr-random:$BUILD/tests/test_polincr_random"
	"unit-cnp:$BUILD/tests/test_cnp"
	# domainNames: names, the agent's compile and its map writer (issue 55).
	"unit-fqdn:$BUILD/tests/test_fqdn"
	# Selectors and near misses over the compiler's view (issue 53 item 1).
	"unit-nearmiss:$BUILD/tests/test_nearmiss"
	"unit-prefilter:$BUILD/tests/test_prefilter"
	"unit-masq:$BUILD/tests/test_masq"
	"unit-snat-held:$BUILD/tests/test_snat_held"
	"unit-http:$BUILD/tests/test_http"
	"unit-maglev:$BUILD/tests/test_maglev"
	"unit-svcsync:$BUILD/tests/test_svcsync"
	"unit-svc:$BUILD/tests/test_svc"
	"unit-extfe:$BUILD/tests/test_extfe"
	"unit-tunfam:$BUILD/tests/test_tunfam"
	"unit-flows:$BUILD/tests/test_flows"
	"unit-flowscope:$BUILD/tests/test_flowscope"
	"unit-flowsnet:$BUILD/tests/test_flowsnet"
	"unit-flowgraph:$BUILD/tests/test_flowgraph"
	"unit-ipfix:$BUILD/tests/test_ipfix"
	"unit-redact:$BUILD/tests/test_redact"
	"unit-suggest:$BUILD/tests/test_suggest"
	"lab-layers:bash tests/lab/layers.sh"
	# docs/architecture.md: links, contents, the names it cites; README paragraphs (issue 40).
	"docs-links:python3 tests/docs/check.py"
	# docs/security.md, the inventory of shared resources (issue 52): a row for
	# every map under bpf/, suites and check texts that exist, a test in every row.
	"docs-security:python3 tests/docs/security_check.py"
	# docs/xcnictl.1 against xcnictl's tables: every command and flag, and no
	# flag that is not xcnictl's or xcnid's (issue 54 item 4).
	"docs-man:python3 tests/docs/man_check.py $BUILD/xcnictl $BUILD/xcnid"
	# Issue 40's acceptance lines outside the hook bodies (twins, include
	# cycles, exports, call circles, function lengths, every helper no newer
	# than the stated minimum kernel ...): tests/structure/tree_shape.py, in
	# full (~20 s: it compiles the programs for min-kernel; issue 68 item 6).
	"tree-shape:python3 tests/structure/tree_shape.py --tap"
	# Code lines per concern against tests/structure/size_budget.tsv (issue 68 item 1).
	"size-budget:python3 tests/structure/size_budget.py --tap"
	# The order of rooms on the include and link graphs, circles in a folder (issue 68 item 2).
	"rooms:python3 tests/structure/rooms.py --tap"
	# One table of fates in every view, the map's colours for each (issue 70 item 2).
	"verdict-words:python3 tests/structure/verdict_words.py --tap"
	"bpf-packets:$BUILD/tests/test_bpf"
	# The groups with conntrack on their paths, an old table in the programs' slot at
	# every packet (a growth's take-over each time; docs/decisions/map-growth.md).
	"bpf-ct-old:env XCNI_TEST_CT_OLD=1 $BUILD/tests/test_bpf conntrack policy encap svc_xlate svc_backend svc_sctp svc_policy hostile underlay6 nodeport nodeport_dsr nodeport_icmp np_mtu attack_ct"
	# Every program loaded with each family's settings and attached in each mode:
	# tc clsact and TCX, XDP native and generic (issue 40; tests/attach).
	"attach-modes:$BUILD/tests/attach_modes"
	# The verifier's processed instructions for every program in every
	# configuration against tests/verifier/budget.tsv (issue 54; ~1 min).
	"verifier-budget:python3 tests/verifier/budget.py"
	# The kernel matrix's runner (make kernels), without booting: syntax, refusals.
	"kernels-runner:bash scripts/kernels.sh self-test"
	"unit-asan:bash tests/fuzz/asan.sh"
	"fuzz:bash tests/fuzz/run.sh"
	"xcnictl:bash tests/xcnictl/run.sh"
	"xcnid-cmdline:bash tests/agent/cmdline.sh"
	"libcni:bash tests/libcni/run.sh"
	"cri:bash tests/cri/run.sh"
	# A real Kubernetes 1.20 (control plane + 2 kubelet nodes) with xcni's
	# DaemonSet installed and uninstalled (issue 37); skips, 0 passed, when the
	# binaries of scripts/k8s-build.sh are not there (make check builds them).
	"k8s-smoke:bash tests/k8s/smoke-check.sh"
	"cni-netns:bash tests/integration/cni.sh"
	"cni-netns-tc:env ATTACH=tc bash tests/integration/cni.sh"
	"cni-netns-v6:env FAMILY=6 bash tests/integration/cni.sh"
	"cni-netns-dual:env FAMILY=dual bash tests/integration/cni.sh"
	"cni-netns-asan:bash tests/fuzz/asan-netns.sh"
	"cni-crash:bash tests/integration/crash.sh"
	"xcnid-restart:bash tests/integration/restart.sh"
	"xcnid-crash:bash tests/integration/agent-crash.sh"
	"policy-netns:bash tests/integration/policy.sh"
	"v6-netns:bash tests/integration/v6.sh"
	"v6ovl-netns:bash tests/integration/v6ovl.sh"
	"v6ul-netns:bash tests/integration/v6ul.sh"
	"v6mix-netns:bash tests/integration/v6mix.sh"
	"svc-netns:bash tests/integration/svc.sh"
	"svc-sctp-netns:bash tests/integration/svc_sctp.sh"
	"ct-pressure:bash tests/integration/ctpressure.sh"
	# Conntrack doubled online under held and churning connections (issue 67 item 2).
	"ct-grow:bash tests/integration/ctgrow.sh"
	# The ipcache and xcni_svc grown when their writers find no room (issue 67 item 2).
	"map-grow:bash tests/integration/mapgrow.sh"
	"socklb-netns:bash tests/integration/socklb.sh"
	"attach-netns:bash tests/integration/attach.sh"
	"hooks-netns:bash tests/integration/hooks.sh"
	"hooks-netns-tc:env ATTACH=tc bash tests/integration/hooks.sh"
	"nodeport-netns:bash tests/integration/nodeport.sh"
	"metrics-netns:bash tests/integration/metrics.sh"
	"ipfix-netns:bash tests/integration/ipfix.sh"
	"masq6-netns:bash tests/integration/masq6.sh"
	"lab:bash tests/lab/run.sh"
	"lab-netpol:bash tests/lab/netpol.sh"
	# policy suggest (issue 53 item 7): record the lab app's matrix, suggest, apply, the same matrix.
	"lab-suggest:bash tests/lab/suggest.sh"
	"lab-cnp:bash tests/lab/cnp.sh"
	"lab-cnp-dual-3nodes:env CNP_FAMILY=dual CNP_NODES=3 bash tests/lab/cnp.sh"
	"lab-cnp-conf-1node-dual:env CNPCONF_FAMILY=dual CNPCONF_NODES=1 bash tests/lab/cnpconf.sh"
	"lab-cnp-conf-3nodes:env CNPCONF_FAMILY=ipv4 CNPCONF_NODES=3 bash tests/lab/cnpconf.sh"
	# egress by DNS name (issue 55): the lab DNS's answers read on their way into the pod
	# (from_pod, from_overlay with xcnid's Services; to_pod through kube-proxy), domainNames judged.
	"lab-fqdn:env LAB_UP_KP=none bash tests/lab/fqdn.sh"
	"lab-fqdn-kp:bash tests/lab/fqdn.sh"
	"lab-overlay:bash tests/lab/overlay.sh"
	# Geneve decapsulated at XDP (--overlay-decap xdp, native XDP): both
	# families across 2 nodes, a NetworkPolicy, GRO's merged packets, an
	# agent restart under a UDP stream (the cookie kept: nothing dropped).
	"lab-decap-xdp:bash tests/lab/decap.sh"
	# The older attach path forced (tc clsact for the agent's and the plugin's
	# programs, XDP through netlink), as on a kernel without TCX: the overlay,
	# policy judged on Services translated in BPF (NodePort, ClusterIP, socket
	# LB), socket LB itself, and kube-proxy's Service cases translated in BPF.
	"lab-overlay-tc:env XCNI_ATTACH=tc bash tests/lab/overlay.sh"
	"lab-netpol-svc-kpr-tc:env XCNI_ATTACH=tc LAB_KUBE_PROXY=none NETPOL_VIA_SERVICE=1 bash tests/lab/netpol.sh"
	"lab-nodeport-kpr-3nodes-tc:env XCNI_ATTACH=tc LAB_KUBE_PROXY=none LAB_NODES=3 LAB_IP_FAMILY=dual bash tests/lab/nodeport.sh"
	"lab-socklb-tc:env XCNI_ATTACH=tc bash tests/lab/socklb.sh"
	"lab-services-kpr-tc:env XCNI_ATTACH=tc LAB_KUBE_PROXY=none bash tests/lab/services.sh"
	"lab-socklb:bash tests/lab/socklb.sh"
	"lab-explain:bash tests/lab/explain.sh"
	# Pods over two nodes: each pair explained with both pin dirs and with --node all (check-full; lab-demo checks --node all in make check).
	"lab-explain-2nodes:env EXPLAIN_NODES=2 bash tests/lab/explain.sh"
	# The label typo of issue 53 (examples/store): explain, policy get and policy selectors name the rule and the near label.
	"lab-nearmiss:bash tests/lab/nearmiss.sh"
	"lab-fates:bash tests/lab/fates.sh"
	"lab-flows:bash tests/lab/flows.sh"
	# monitor as hubble observe (--node all, pods by name, flows' words) and the views' 120 columns (issue 53).
	"lab-monitor:bash tests/lab/monitor.sh"
	# make demo, then every command of the list it prints, as printed (issue 53).
	"lab-demo:bash tests/lab/demo.sh"
	# One pod's short flows through a 64-record window: another namespace's record stays (issue 52 item 8).
	"lab-flows-window:bash tests/lab/flowswin.sh"
	# One pod's denied flood and short flows: another namespace's drop event and flow log line stay (issue 52).
	"lab-owner-shares:bash tests/lab/shares.sh"
	"lab-flows-relay-3nodes:bash tests/lab/relay.sh"
	"lab-status:bash tests/lab/status.sh"
	"lab-monitor-flows:bash tests/lab/monflows.sh"
	"lab-ui:bash tests/lab/ui.sh"
	# The map at 50 pods in 6 namespaces, 1400x900 (examples/svcmap).
	"lab-ui-map:bash tests/lab/uimap.sh"
	"lab-outside:bash tests/lab/outside.sh"
	"lab-conntest:bash tests/lab/conntest.sh"
	"lab-attack:bash tests/lab/attack.sh"
	# A handshake flood from a pod at its node's flows port while policy changes apply (issue 52 item 6).
	"lab-flows-flood:bash tests/lab/flowsflood.sh"
	# One namespace rewriting its NetworkPolicies in a loop while another's change applies (issue 52, watch events).
	"lab-churn:bash tests/lab/churn.sh"
	"lab-attack-kpr:env LAB_KUBE_PROXY=none bash tests/lab/attack.sh"
	"lab-attack-kpr-npaccel:env LAB_KUBE_PROXY=none ATTACK_NPACCEL=generic bash tests/lab/attack.sh"
	"lab-tenant-svc:env LAB_KUBE_PROXY=none bash tests/lab/tenant_svc.sh"
	"lab-tenant-svc-ipt:env LAB_KUBE_PROXY=iptables bash tests/lab/tenant_svc.sh"
	"lab-tenant-room:env LAB_KUBE_PROXY=none bash tests/lab/tenant_room.sh"
	# One outside address filling NodePort SNAT ports and IPv6 SNAT state while another's flows work (issue 52 item 4).
	"lab-tenant-nat:bash tests/lab/tenant_nat.sh"
	"lab-netpol-3nodes:env NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-services:bash tests/lab/services.sh"
	"lab-netpol-svc:env NETPOL_VIA_SERVICE=1 bash tests/lab/netpol.sh"
	"lab-netpol-v6:env NETPOL_FAMILY=ipv6 NETPOL_NODES=2 bash tests/lab/netpol.sh"
	"lab-netpol-dual-svc:env NETPOL_FAMILY=dual NETPOL_VIA_SERVICE=1 bash tests/lab/netpol.sh"
	"lab-netpol-dual-3nodes:env NETPOL_FAMILY=dual NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-svc-3nodes:env NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-services-kpr:env LAB_KUBE_PROXY=none bash tests/lab/services.sh"
	"lab-svc-e2e:bash tests/lab/svc_e2e.sh"
	"lab-svc-e2e-kpr:env LAB_KUBE_PROXY=none bash tests/lab/svc_e2e.sh"
	"lab-slices:env LAB_NODES=3 LAB_IP_FAMILY=dual bash tests/lab/slices.sh"
	"lab-slices-kpr:env LAB_KUBE_PROXY=none LAB_NODES=3 LAB_IP_FAMILY=dual bash tests/lab/slices.sh"
	"lab-slices-1node:env LAB_NODES=1 bash tests/lab/slices.sh"
	"lab-slices-kpr-1node:env LAB_KUBE_PROXY=none LAB_NODES=1 bash tests/lab/slices.sh"
	"lab-slices-3nodes-v4:env LAB_NODES=3 LAB_IP_FAMILY=ipv4 bash tests/lab/slices.sh"
	"lab-slices-kpr-3nodes-v4:env LAB_KUBE_PROXY=none LAB_NODES=3 LAB_IP_FAMILY=ipv4 bash tests/lab/slices.sh"
	"lab-slices-1node-dual:env LAB_NODES=1 LAB_IP_FAMILY=dual bash tests/lab/slices.sh"
	"lab-slices-kpr-1node-dual:env LAB_KUBE_PROXY=none LAB_NODES=1 LAB_IP_FAMILY=dual bash tests/lab/slices.sh"
	"lab-nodeport:env LAB_NODES=1 bash tests/lab/nodeport.sh"
	"lab-nodeport-3nodes:env LAB_NODES=3 LAB_IP_FAMILY=dual bash tests/lab/nodeport.sh"
	"lab-nodeport-kpr:env LAB_KUBE_PROXY=none LAB_NODES=1 bash tests/lab/nodeport.sh"
	"lab-nodeport-kpr-3nodes:env LAB_KUBE_PROXY=none LAB_NODES=3 LAB_IP_FAMILY=dual bash tests/lab/nodeport.sh"
	"lab-npaccel:bash tests/lab/npaccel.sh"
	"lab-npaccel-dual:env NPACCEL_FAMILY=dual bash tests/lab/npaccel.sh"
	"lab-npaccel-native-dual:env NPACCEL_MODE=native NPACCEL_FAMILY=dual bash tests/lab/npaccel.sh"
	"lab-npaccel-dsr-dual:env NPACCEL_DSR=1 NPACCEL_FAMILY=dual bash tests/lab/npaccel.sh"
	# IPv4 NodePorts whose backend's node is reached over the IPv6 underlay (a
	# lab of mixed nodes, lab up --ipv6-only-nodes 2,3): tc's path (TCX, and
	# the older attach path), and the XDP fast path native (~10 s each).
	"lab-np46:bash tests/lab/np46.sh"
	"lab-np46-tc:env XCNI_ATTACH=tc bash tests/lab/np46.sh"
	"lab-np46-npaccel-native:env NP46_ACCEL=native bash tests/lab/np46.sh"
	# IPv4 NodePorts in DSR mode over IPv6 tunnels between dual nodes (lab up --tunnel-family ipv6).
	"lab-np46-dsr:env NP46_MODE=dsr bash tests/lab/np46.sh"
	"lab-np46-dsr-npaccel-native:env NP46_MODE=dsr NP46_ACCEL=native bash tests/lab/np46.sh"
	"lab-netpol-svc-kpr:env LAB_KUBE_PROXY=none NETPOL_VIA_SERVICE=1 bash tests/lab/netpol.sh"
	"lab-netpol-dual-svc-kpr:env NETPOL_FAMILY=dual NETPOL_VIA_SERVICE=1 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"lab-netpol-v6-kpr:env NETPOL_FAMILY=ipv6 NETPOL_NODES=2 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"lab-netpol-v6-kpr-npaccel:env NETPOL_FAMILY=ipv6 NETPOL_NODES=2 LAB_KUBE_PROXY=none NETPOL_NPACCEL=generic bash tests/lab/netpol.sh"
	"lab-netpol-svc-kpr-3nodes:env LAB_KUBE_PROXY=none NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-v6-3nodes:env NETPOL_FAMILY=ipv6 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-v6-svc-3nodes:env NETPOL_FAMILY=ipv6 NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-v6-svc-kpr-3nodes:env NETPOL_FAMILY=ipv6 NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"lab-netpol-dual-svc-kpr-3nodes:env NETPOL_FAMILY=dual NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"kind-manifests:bash tests/kind/run.sh"
	"apiwatch:bash tests/apiwatch/run.sh"
	"scale-small:bash bench/scale.sh --check"
	"svc-bench-check:bash bench/svc.sh --check"
)
# XCNI_SUITES="NAME ..." runs the named suites of the list above (their
# commands may hold spaces: `env A=B bash ...`); a word with a colon is a
# whole "name:command" of its own.
if [ -n "${XCNI_SUITES:-}" ]; then
	all=("${suites[@]}")
	suites=()
	IFS=' ' read -r -a want <<<"$XCNI_SUITES"
	for w in "${want[@]}"; do
		if [[ $w == *:* ]]; then
			suites+=("$w")
			continue
		fi
		found=
		for s in "${all[@]}"; do
			[[ ${s%%:*} == "$w" ]] && suites+=("$s") && found=1
		done
		[ -n "$found" ] || { echo "tests/run.sh: no suite named '$w' (XCNI_SUITES)" >&2; exit 2; }
	done
fi

# The suites pin under /sys/fs/bpf; a machine without bpffs there gets one for
# the run, and loses it again afterwards.
mounted_bpffs=0
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf && mounted_bpffs=1
fi

# Suites run side by side, XCNI_JOBS at a time (default 2: the machines have two
# cores and a lab suite keeps about half of one busy, the rest is waiting on
# probes and timers), each in a machine of its own (tests/sandbox.sh: its own
# network, mount and cgroup namespaces, bpffs and /run), so their netns, pins,
# links, lab names and loopback ports never meet. The solo suites run alone: they
# measure time (scale-small, svc-bench-check). The host suites run on the host
# as it is, one at a time, beside sandboxed ones: they drive the machine's own
# containerd and libcni caches (cri, libcni), which no sandbox sees; k8s-smoke
# needs the host's cgroup v1 hierarchies for its kubelets, which the sandbox hides.
solo=" scale-small svc-bench-check "
host=" cri libcni k8s-smoke "
# Variants whose every dimension another suite of make check covers (IPv4 on 3
# nodes: lab-netpol-dual-3nodes's IPv4 tables; through Services on 3 nodes with
# kube-proxy: lab-netpol-v6-svc-3nodes and lab-netpol-svc; EndpointSlices on 3
# IPv4 nodes and on 1 dual node: lab-slices(-kpr) on 3 dual nodes and on 1;
# IPv6 policy on 3 nodes: lab-netpol-v6-svc-3nodes; IPv6 policy with the
# replacement: lab-netpol-v6-kpr-npaccel; ClusterNetworkPolicy conformance on 3
# nodes: lab-cnp-dual-3nodes beside lab-cnp-conf-1node-dual; Services through tc
# with the replacement: lab-netpol-svc-kpr-tc, lab-nodeport-kpr-3nodes-tc):
# `make check-full` (XCNI_FULL=1) runs them too, and XCNI_SUITES names them one
# by one. They took ~450 s of suite time (docs/decisions/check-duration.md).
full_only=" lab-netpol-3nodes lab-netpol-svc-3nodes lab-slices-3nodes-v4 lab-slices-kpr-3nodes-v4
	lab-slices-1node-dual lab-slices-kpr-1node-dual lab-netpol-v6-3nodes lab-netpol-v6-kpr
	lab-cnp-conf-3nodes lab-services-kpr-tc lab-explain-2nodes "
full_only=" $(echo $full_only) " # one space between names, as the match below wants
if [ "${XCNI_FULL:-0}" != 1 ] && [ -z "${XCNI_SUITES:-}" ]; then
	keep=()
	for s in "${suites[@]}"; do
		[[ $full_only == *" ${s%%:*} "* ]] && echo "=== suite ${s%%:*}: not in this run (make check-full runs it)" && continue
		keep+=("$s")
	done
	suites=("${keep[@]}")
fi
JOBS=${XCNI_JOBS:-2}
case $JOBS in '' | *[!0-9]* | 0) echo "tests/run.sh: XCNI_JOBS must be a positive number, not '$JOBS'" >&2; exit 2 ;; esac

# A run wrapped in `flock /tmp/xcni-test.lock` already holds the lock: taking
# it again would wait on ourselves for an hour (seen twice). flock(1) holds it
# in its own process, an ancestor of this shell; /proc/locks names it.
lock_held_above() {
	local ino p pids
	ino=$(stat -c %i /tmp/xcni-test.lock 2>/dev/null) || return 1
	pids=" $(awk -v i="$ino" '{ n = split($6, a, ":"); if (a[n] == i) printf "%s ", $5 }' /proc/locks) "
	p=$$
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[[ $pids == *" $p "* ]] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}
# One run at a time on the machine: another checkout's make check or a benchmark
# takes the same lock (bench/ scripts and single suites run by hand too). The
# run holds it from here to its end; bench/svc.sh --check (a suite) takes it
# itself, so that one suite is let through (XCNI_TEST_LOCK_HELD).
if ! lock_held_above; then
	exec 9>>/tmp/xcni-test.lock
	flock -w 3600 9 || { echo "tests/run.sh: /tmp/xcni-test.lock held for an hour: giving up" >&2; exit 2; }
fi

OUT=$(mktemp -d /tmp/xcni-run.XXXXXX)
pass=0 fail=0 broken=()
declare -A running=() # pid -> suite index
declare -A started=()

# run_suite I: suite I's command (in its sandbox unless solo), its output in
# $OUT/I.log, its exit status in $OUT/I.rc; stopped after XCNI_SUITE_TIMEOUT
# seconds (1200; scripts/kernels.sh's TCG VMs give 3600).
run_suite() {
	local i=$1 name=${suites[$1]%%:*} cmd=${suites[$1]#*:} box=()
	[[ $solo$host == *" $name "* ]] || box=(bash tests/sandbox.sh "$name")
	# cmocka writes TAP when asked; the shell suites always do. 9 (the lock)
	# stays with the runner: a process a suite leaves behind cannot hold it.
	CMOCKA_MESSAGE_OUTPUT=TAP timeout --kill-after=30 "${XCNI_SUITE_TIMEOUT:-1200}" "${box[@]}" $cmd >"$OUT/$i.log" 2>&1 9>&- &
	echo $! >"$OUT/$i.pid"
	wait $!
	echo $? >"$OUT/$i.rc"
	rm -f "$OUT/$i.pid"
}
# report I: suite I's output and its line, added to the totals.
report() {
	local i=$1 name=${suites[$1]%%:*} cmd=${suites[$1]#*:} rc p f
	rc=$(cat "$OUT/$i.rc")
	echo "=== suite $name: $cmd"
	cat "$OUT/$i.log"
	# "ok N # SKIP reason" (cmocka's skip(): "not ok N # SKIP"): neither passed nor failed.
	p=$(grep -E '^ok ' "$OUT/$i.log" | grep -cv '# SKIP')
	f=$(grep -E '^not ok ' "$OUT/$i.log" | grep -cv '# SKIP')
	pass=$((pass + p)) fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail=$((fail + 1))
		echo "not ok - suite $name exited $rc"
	fi
	[ "$rc" -ne 0 ] && broken+=("$name")
	# Each failed check again at the end, with the first diagnostics under
	# it (5 lines), so that the last screen of a run (all a CI log may keep)
	# names what failed.
	[ "$f" -gt 0 ] && awk -v s="$name" '
		/^not ok / && !/# SKIP/ { print "[" s "] " $0; n = 5; next }
		n > 0 && /^#/ { print "[" s "]   " $0; n--; next }
		{ n = 0 }' "$OUT/$i.log" >>"$OUT/failed"
	echo "=== suite $name: rc=$rc, ${p} passed, ${f} failed, $(($(date +%s) - ${started[$i]}))s"
	rm -f "$OUT/$i.log" "$OUT/$i.rc"
}
# reap: waits for one running suite and reports it.
reap() {
	local pid
	wait -n -p pid "${!running[@]}"
	report "${running[$pid]}"
	[ "$pid" = "$host_pid" ] && host_pid=
	unset "running[$pid]"
}
host_pid= # the host suite running, if one is

# Stopped (a CI timeout, ^C): the running suites are stopped too (their
# sandboxes kill what they started), and the totals so far are said.
stop_run() {
	local pid
	trap - TERM INT HUP
	# timeout(1) passes TERM on to the suite (tests/sandbox.sh cleans up after it).
	for pid in "$OUT"/*.pid; do [ -e "$pid" ] && kill -TERM "$(cat "$pid")" 2>/dev/null; done
	wait
	echo "tests/run.sh: stopped; $pass passed, $fail failed until then"
	rm -rf "$OUT"
	[ "$mounted_bpffs" = 1 ] && umount /sys/fs/bpf
	exit 143
}
trap stop_run TERM INT HUP

run_start=$SECONDS
for i in "${!suites[@]}"; do
	name=${suites[$i]%%:*}
	if [[ $solo == *" $name "* ]]; then
		# Alone: the others finish first.
		while [ ${#running[@]} -gt 0 ]; do reap; done
		started[$i]=$(date +%s)
		run_suite "$i"
		report "$i"
		continue
	fi
	while [ ${#running[@]} -ge "$JOBS" ]; do reap; done
	if [[ $host == *" $name "* ]]; then
		while [ -n "$host_pid" ]; do reap; done
	fi
	started[$i]=$(date +%s)
	run_suite "$i" &
	running[$!]=$i
	[[ $host == *" $name "* ]] && host_pid=$!
done
while [ ${#running[@]} -gt 0 ]; do reap; done
if [ -s "$OUT/failed" ]; then
	echo "=== what failed (each check again, as its suite printed it)"
	cat "$OUT/failed"
fi
rm -f "$OUT/failed"
rmdir "$OUT"
[ "$mounted_bpffs" = 1 ] && umount /sys/fs/bpf
[ ${#broken[@]} -gt 0 ] && echo "failing suites: ${broken[*]}"
echo "$pass passed, $fail failed ($((SECONDS - run_start))s, $JOBS at a time)"
[ "$fail" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
