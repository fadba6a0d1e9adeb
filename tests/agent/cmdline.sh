#!/bin/bash
# xcnid's command line (user/agent/xcnid_opts.c): every row of cmdline.tsv is
# refused with exit 2 and a message that names the option (a fixed string),
# before anything is loaded or pinned (a pin directory of the test's own is
# given and must stay empty); --help exits 0 and lists every long option the
# parser takes.
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
XCNID=${XCNID:-$BUILD/xcnid}
T=$(mktemp -d /tmp/xcni-cmdline.XXXXXX)
trap 'rm -rf "$T"' EXIT

while IFS=$'\t' read -r args want; do
	case $args in '#'* | '') continue ;; esac
	# shellcheck disable=SC2086 # the row's words are the arguments
	"$XCNID" --pin-dir "$T/pins" $args >"$T/out" 2>&1 </dev/null
	rc=$?
	check "xcnid $args: exit 2 ($rc), says '$want', nothing pinned" \
		bash -c '[ "$1" = 2 ] && grep -qF -- "$2" "$3" && ! [ -e "$4" ]' _ "$rc" "$want" "$T/out" "$T/pins"
done <"$HERE/cmdline.tsv"

"$XCNID" --help >"$T/help" 2>&1
check "xcnid --help: exit 0" test $? = 0
# Every long option in the parser's table is in the help (one list to keep).
missing=$(grep -o '{ "[a-z0-9-]*", [a-z_]*_argument' "$XCNI_ROOT/user/agent/xcnid_opts.c" |
	sed 's/{ "\([^"]*\)".*/\1/' | while read -r o; do grep -q -- "--$o" "$T/help" || echo "$o"; done)
check "xcnid --help lists every option of the parser (missing: ${missing:-none})" test -z "$missing"
finish
