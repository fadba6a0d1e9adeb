#!/bin/bash
# Socket-level load balancing in the lab (`lab up --kube-proxy none`): each
# node's xcnid attaches its socket programs to the node's own cgroup, the
# pods' listeners are placed in it and `lab probe` joins the source pod's node
# cgroup, so a probe through a Service gets its backend at connect time from
# that node's agent only. `lab down` removes the cgroups.
#
#   cgroup2/xcni-lab/n1  <- n1's xcnid --cgroup-root, x/a's listener
#   cgroup2/xcni-lab/n2  <- n2's xcnid --cgroup-root, x/b's listener
#   x/a (n1, app=web, 80/tcp "x/a")   x/b (n2)   Service x/web 8080 -> a:80
#
# Needs `lab up --kube-proxy none` (the agents translate Services); without
# it the suite says so and skips.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib.sh"
lab_suite socklb
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)/xcni-lab

lab_start "$XCNICTL" "$XCNI_BIN" "$XCNID_BIN"

check "lab up --nodes 2 --kube-proxy none" lab up --nodes 2 --kube-proxy none || { finish; exit 1; }
remember_pids
hooks() { # hooks N: node n<N>'s cgroup runs the four socket programs, as pinned links
	local h
	[ "$(bpftool cgroup show "$CG/n$1" | grep -c 'sock4_')" = 4 ] ||
		{ bpftool cgroup show "$CG/n$1"; return 1; }
	for h in connect4 sendmsg4 recvmsg4 getpeername4; do
		[ -e "/sys/fs/bpf/xcni-lab/n$1/links/node-sock-$h" ] || { echo "no link $h"; return 1; }
	done
}
check "n1's xcnid hooked its own cgroup $CG/n1" hooks 1
check "n2's xcnid hooked its own cgroup $CG/n2" hooks 2

{
	y_ns x
	y_pod a x n1 'app: web' '{name: http, containerPort: 80}'
	y_pod b x n2 '' '{name: http, containerPort: 80}'
	y_svc web x 'app: web' '{name: http, port: 8080, targetPort: http}'
} >"$T/pods.yaml"
check "apply x/a (n1), x/b (n2), Service x/web" lab apply -f "$T/pods.yaml"
remember_pids
in_cgroup() { # in_cgroup POD N: the pod's listener is in node n<N>'s cgroup
	local pid
	pid=$(lab get --json | jq_ "[p['serverPid'] for p in d['pods'] if p['name'] == '$1'][0]")
	grep -qx "$pid" "$CG/n$2/cgroup.procs" || { echo "$1's listener $pid: $(cat "/proc/$pid/cgroup")"; return 1; }
}
check "x/a's listener is in n1's cgroup" in_cgroup a 1
check "x/b's listener is in n2's cgroup" in_cgroup b 2

# A record goes with its socket (the probe's closes): the pods that made one
# stay counted in xcni_sock_own, whose entries say which node translated.
sock_own() { bpftool map dump pinned "/sys/fs/bpf/xcni-lab/n$1/xcni_sock_own" -j | jq length; }
N1=$(sock_own 1)
N2=$(sock_own 2)
check "x/b -> svc/x/web 8080/tcp: connected (backend x/a on n1)" lab probe x/b svc/x/web 8080/tcp
by_socket() { # the probe's socket was translated by n2's hooks (its pod's node), not n1's
	local n1 n2
	n1=$(sock_own 1)
	n2=$(sock_own 2)
	[ "$n2" -gt "$N2" ] && [ "$n1" = "$N1" ] ||
		{ echo "xcni_sock_own entries: n1 $N1 -> $n1, n2 $N2 -> $n2"; return 1; }
}
check "... translated at connect by n2's socket hooks, none by n1's" by_socket

lab_down_checked
check "lab down removed the nodes' cgroups" test ! -e "$CG"
finish
