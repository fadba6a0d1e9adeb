# Shared by the benchmarks, sourced once BENCH names the script (messages start
# with it).
#   die MSG / say MSG   an error (exit 1) / a progress line
#   num_in N LO HI      N is a decimal in LO..HI
#   need CMD...         root (the benchmarks make network namespaces and load BPF)
#                       and every CMD on PATH, else die
die() { echo "$BENCH: $*" >&2; exit 1; }
say() { echo "$BENCH: $*"; }
num_in() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
need() {
	local c
	((EUID == 0)) || die "must run as root (creates network namespaces, loads BPF)"
	for c in "$@"; do
		command -v "$c" >/dev/null || die "'$c' not found"
	done
}
# lab_lock: /tmp/xcni-test.lock on fd 9, once no lab is up (a lab left up
# by another run would make `lab up` fail: the lock is let go while waiting
# for it to go, up to 30 minutes). lab_unlock lets it go.
lab_lock() {
	local i
	for ((i = 0; i < 180; i++)); do
		exec 9>/tmp/xcni-test.lock
		flock 9
		if ! ip netns list | grep -q '^xcl-' && [[ ! -e /sys/fs/bpf/xcni-lab ]]; then
			return 0
		fi
		((i % 6)) || say "a lab is up (xcl-* netns or /sys/fs/bpf/xcni-lab): waiting for it to go"
		exec 9>&-
		sleep 10
	done
	die "a lab stayed up for 30 minutes"
}
lab_unlock() { exec 9>&-; }
