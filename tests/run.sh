#!/bin/bash
# Runs every xcni test suite and adds up their results.
#   unit (cmocka; again under ASan/UBSan) -> fuzzing -> netns integration -> real
#   clients (libcni, containerd CRI)
# Each suite prints "ok"/"not ok" lines and its own "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-$PWD/build}
export XCNI_ROOT=$PWD

suites=(
	"unit:$BUILD/tests/test_cni"
	"unit-netlink:$BUILD/tests/test_nl"
	"unit-print:$BUILD/tests/test_print"
	"unit-manifests:$BUILD/tests/test_k8s"
	"unit-store:$BUILD/tests/test_store"
	"unit-k8sapi:$BUILD/tests/test_k8sapi"
	"unit-policy:$BUILD/tests/test_policy"
	"unit-polpeers:$BUILD/tests/test_polpeers"
	"unit-polmaps:$BUILD/tests/test_polmaps"
	"unit-polsync:$BUILD/tests/test_polsync"
	"unit-polincr:$BUILD/tests/test_polincr"
	"unit-cnp:$BUILD/tests/test_cnp"
	"unit-prefilter:$BUILD/tests/test_prefilter"
	"unit-masq:$BUILD/tests/test_masq"
	"unit-http:$BUILD/tests/test_http"
	"unit-maglev:$BUILD/tests/test_maglev"
	"unit-svcsync:$BUILD/tests/test_svcsync"
	"unit-svc:$BUILD/tests/test_svc"
	"unit-tunfam:$BUILD/tests/test_tunfam"
	"unit-flows:$BUILD/tests/test_flows"
	"unit-flowgraph:$BUILD/tests/test_flowgraph"
	"unit-ipfix:$BUILD/tests/test_ipfix"
	"lab-layers:bash tests/lab/layers.sh"
	"bpf-packets:$BUILD/tests/test_bpf"
	"unit-asan:bash tests/fuzz/asan.sh"
	"fuzz:bash tests/fuzz/run.sh"
	"xcnictl:bash tests/xcnictl/run.sh"
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
	"socklb-netns:bash tests/integration/socklb.sh"
	"attach-netns:bash tests/integration/attach.sh"
	"nodeport-netns:bash tests/integration/nodeport.sh"
	"metrics-netns:bash tests/integration/metrics.sh"
	"masq6-netns:bash tests/integration/masq6.sh"
	"lab:bash tests/lab/run.sh"
	"lab-netpol:bash tests/lab/netpol.sh"
	"lab-cnp:bash tests/lab/cnp.sh"
	"lab-cnp-dual-3nodes:env CNP_FAMILY=dual CNP_NODES=3 bash tests/lab/cnp.sh"
	"lab-cnp-conf-1node-dual:env CNPCONF_FAMILY=dual CNPCONF_NODES=1 bash tests/lab/cnpconf.sh"
	"lab-cnp-conf-3nodes:env CNPCONF_FAMILY=ipv4 CNPCONF_NODES=3 bash tests/lab/cnpconf.sh"
	"lab-overlay:bash tests/lab/overlay.sh"
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
	"lab-flows:bash tests/lab/flows.sh"
	"lab-monitor-flows:bash tests/lab/monflows.sh"
	"lab-ui:bash tests/lab/ui.sh"
	"lab-outside:bash tests/lab/outside.sh"
	"lab-attack:bash tests/lab/attack.sh"
	"lab-attack-kpr:env LAB_KUBE_PROXY=none bash tests/lab/attack.sh"
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
	"lab-netpol-svc-kpr:env LAB_KUBE_PROXY=none NETPOL_VIA_SERVICE=1 bash tests/lab/netpol.sh"
	"lab-netpol-dual-svc-kpr:env NETPOL_FAMILY=dual NETPOL_VIA_SERVICE=1 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"lab-netpol-v6-kpr:env NETPOL_FAMILY=ipv6 NETPOL_NODES=2 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"lab-netpol-svc-kpr-3nodes:env LAB_KUBE_PROXY=none NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-v6-3nodes:env NETPOL_FAMILY=ipv6 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-v6-svc-3nodes:env NETPOL_FAMILY=ipv6 NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 bash tests/lab/netpol.sh"
	"lab-netpol-v6-svc-kpr-3nodes:env NETPOL_FAMILY=ipv6 NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"lab-netpol-dual-svc-kpr-3nodes:env NETPOL_FAMILY=dual NETPOL_VIA_SERVICE=1 NETPOL_NODES=3 LAB_KUBE_PROXY=none bash tests/lab/netpol.sh"
	"kind-manifests:bash tests/kind/run.sh"
	"apiwatch:bash tests/apiwatch/run.sh"
	"scale-small:bash bench/scale.sh --check"
	"svc-bench-check:bash bench/svc.sh --check"
	"libcni:bash tests/libcni/run.sh"
	"cri:bash tests/cri/run.sh"
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

# A run wrapped in `flock /tmp/xcni-test.lock` already holds the lock: taking
# it again per suite would wait on ourselves for an hour (seen twice). flock(1)
# holds it in its own process, an ancestor of this shell; /proc/locks names it.
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
held_above=0
lock_held_above && held_above=1

pass=0 fail=0 broken=()
for s in "${suites[@]}"; do
	name=${s%%:*} cmd=${s#*:}
	echo "=== suite $name: $cmd"
	log=$(mktemp)
	start=$SECONDS
	# cmocka writes TAP when asked; the shell suites always do.
	# One suite at a time on the machine: other runs (a second checkout's make
	# check, a benchmark) take the same lock, and the suites' netns, pins and
	# lab names would collide. bench/svc.sh takes it itself.
	# -o: the suite does not inherit the lock's descriptor, so a process it leaves
	# behind cannot hold the lock against the suites after it.
	lock=(flock -o -w 3600 /tmp/xcni-test.lock)
	[ "$name" = svc-bench-check ] && lock=()
	[ "$held_above" = 1 ] && lock=()
	CMOCKA_MESSAGE_OUTPUT=TAP "${lock[@]}" timeout --kill-after=30 1200 $cmd 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	rm -f "$log"
	pass=$((pass + p)) fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail=$((fail + 1))
		echo "not ok - suite $name exited $rc"
	fi
	[ "$rc" -ne 0 ] && broken+=("$name")
	echo "=== suite $name: rc=$rc, ${p} passed, ${f} failed, $((SECONDS - start))s"
done
[ "$mounted_bpffs" = 1 ] && umount /sys/fs/bpf
[ ${#broken[@]} -gt 0 ] && echo "failing suites: ${broken[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
