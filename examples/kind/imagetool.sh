#!/bin/sh
# Build-time helpers for examples/kind/Dockerfile. Nothing here downloads
# anything: packages come from the image's own Debian sources through apt.
#
#   imagetool.sh backports [OUT [SRC]]
#       Write an apt source for bookworm-backports (libbpf >= 1.3, bpftool)
#       derived from the image's own Debian entry (SRC, default
#       /etc/apt/sources.list.d/debian.sources), as scripts/install-deps.sh does,
#       so no file here names a mirror. OUT defaults to
#       /etc/apt/sources.list.d/xcni-backports.sources.
#   imagetool.sh runtime-packages BIN...
#       Print the Debian packages holding the shared libraries BIN... load, one a
#       line; a package installed from backports is printed as PKG/bookworm-backports.
#   imagetool.sh node-plugin BIN LIBDIR
#       Copy every shared library BIN loads, and its ELF interpreter, into LIBDIR.
#       With BIN linked against LIBDIR (interpreter and RPATH, see the Dockerfile)
#       the plugin runs on a node that has none of those libraries.
set -eu

die() { echo "imagetool: $*" >&2; exit 1; }

# The shared libraries (resolved paths) a binary loads, one a line.
libs_of() {
	ldd "$1" | awk '/=> \// { print $3 }'
}

# The package owning a library; merged /usr means dpkg may list it under
# /usr/lib or /lib, so try both spellings.
owner_of() {
	for p in "$1" "$(readlink -f "$1")"; do
		for q in "$p" "/usr${p#/usr}" "${p#/usr}"; do
			o=$(dpkg-query -S "$q" 2>/dev/null | head -n1 | cut -d: -f1) || true
			[ -n "$o" ] && { echo "$o"; return 0; }
		done
	done
	return 1
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
backports)
	out=${1:-/etc/apt/sources.list.d/xcni-backports.sources}
	src=${2:-/etc/apt/sources.list.d/debian.sources}
	[ -r "$src" ] || die "$src: no Debian source entry to derive bookworm-backports from"
	stanza=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm([ \n]|$)/ {print; exit}' "$src")
	[ -n "$stanza" ] || die "$src: no stanza with Suites: bookworm"
	printf '%s\n' "$stanza" | sed -E 's/^Suites:.*/Suites: bookworm-backports/' >"$out"
	;;
runtime-packages)
	[ $# -gt 0 ] || die "runtime-packages BIN..."
	for b in "$@"; do libs_of "$b"; done | sort -u | while read -r l; do
		p=$(owner_of "$l") || die "$l: no Debian package holds it"
		v=$(dpkg-query -W -f='${Version}' "$p")
		case $v in
		*bpo*) echo "$p/bookworm-backports" ;;
		*) echo "$p" ;;
		esac
	done | sort -u
	;;
node-plugin)
	[ $# -eq 2 ] || die "node-plugin BIN LIBDIR"
	bin=$1 dir=$2
	mkdir -p "$dir"
	interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -n "$interp" ] || die "$bin: no ELF interpreter"
	base=$(basename "$interp")
	# The interpreter the binary asks for may be LIBDIR's own (not there yet):
	# take the system's of the same name.
	sys=$(ldconfig -p | awk -v n="$base" '$1 == n { print $NF; exit }')
	[ -n "$sys" ] || sys=$(ls /lib64/"$base" /lib/"$base" /usr/lib64/"$base" 2>/dev/null | head -n1)
	[ -n "$sys" ] || die "$base: not found on this system"
	cp -L "$sys" "$dir/$base"
	for l in $(libs_of "$bin"); do
		cp -L "$l" "$dir/"
	done
	;;
*)
	die "usage: imagetool.sh backports [OUT [SRC]] | runtime-packages BIN... | node-plugin BIN LIBDIR"
	;;
esac
