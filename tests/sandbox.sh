#!/bin/bash
# tests/sandbox.sh NAME CMD...: runs a test suite in a machine of its own, so
# two suites can run side by side (tests/run.sh -j) without meeting:
#   - a network namespace of its own (its "host" stack: links, loopback ports,
#     routes and the netns it makes are its own), lo up;
#   - a mount namespace with its own sysfs (that netns's), bpffs on
#     /sys/fs/bpf (pins, /sys/fs/bpf/xcni-lab included, are the suite's), tmpfs
#     on /run (/run/netns, /run/xcni, the iptables lock) and on /var/lib/cni;
#   - a cgroup namespace rooted at a cgroup made for it under the host's
#     cgroup2 hierarchy, mounted where the host has it: the lab's node cgroups
#     (socket load balancing) are its own.
# Everything goes with the suite: the namespaces when its last process ends,
# the pins with its bpffs, and the cgroup is removed here afterwards (a
# process the suite left behind is killed by PID first, and said).
set -uo pipefail
name=$1
shift

cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "sandbox: no cgroup2 mount" >&2; exit 2; }
cg=$cg2/xcni-sandbox-$name-$$
mkdir "$cg" || exit 2

remove_cgroup() {
	local d p left=() i
	# Children first (deepest first): a lab cgroup the suite left is removed
	# with its processes killed.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		left=()
		while read -r d; do
			while read -r p; do
				[ -n "$p" ] && left+=("$p")
			done <"$d/cgroup.procs"
		done < <(find "$cg" -depth -type d 2>/dev/null)
		[ ${#left[@]} -eq 0 ] && break
		[ "$i" = 1 ] && echo "# sandbox $name: processes left behind, killed: ${left[*]}"
		kill -9 "${left[@]}" 2>/dev/null
		sleep 0.2
	done
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	[ ! -e "$cg" ] || echo "# sandbox $name: could not remove $cg"
}

# The suite runs in a child moved into the cgroup; this shell stays outside to
# clean up after it, also when it is stopped itself (timeout(1) sends TERM):
# every process of the suite is then killed through the cgroup.
child=
stopping=
stopped() {
	local i st
	[ -n "$stopping" ] && return
	stopping=1
	# The suite's own EXIT trap first (it takes its lab down), 20 s at most.
	# The suite has a session of its own (below): timeout(1)'s TERM to its
	# process group does not reach it a second time, in the middle of that trap.
	if [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; then
		for i in $(seq 100); do
			st=$(awk '{ print $3 }' "/proc/$child/stat" 2>/dev/null)
			[ -z "$st" ] || [ "$st" = Z ] && break
			sleep 0.2
		done
	fi
	remove_cgroup
	exit 143
}
trap stopped TERM INT HUP
(
	echo "$BASHPID" >"$cg/cgroup.procs" || exit 2
	exec setsid unshare --mount --propagation private --net --cgroup -- bash -c '
		cg2=$1 name=$2
		shift 2
		set -e
		mount -t sysfs sysfs /sys
		mount -t bpf bpf /sys/fs/bpf
		mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
		mkdir -p "$cg2"
		mount -t cgroup2 cgroup2 "$cg2"
		mount -t tmpfs -o mode=755 tmpfs /run
		mkdir -p /run/netns /run/xcni /run/lock
		[ -d /var/lib/cni ] && mount -t tmpfs -o mode=755 tmpfs /var/lib/cni
		ip link set lo up
		# The real NICs a lab suite is given (XCNI_LAB_UL_NIC, scripts/kernels.sh'"'"'s
		# VM) come in from the initial netns, to which they return when this
		# one ends (after the last suite'"'"'s netns is gone: waited for).
		for d in ${XCNI_LAB_UL_NIC/:/ }; do
			for i in $(seq 50); do nsenter -t 1 -n ip link show "$d" >/dev/null 2>&1 && break; sleep 0.2; done
			nsenter -t 1 -n ip link set "$d" netns $$
		done
		set +e
		exec "$@"' sandbox "$cg2" "$name" "$@"
) &
child=$!
wait "$child"
rc=$?
child=
remove_cgroup
exit "$rc"
