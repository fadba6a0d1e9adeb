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
