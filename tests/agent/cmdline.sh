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
NS=xcni-cmdline-$$
PIN=/sys/fs/bpf/xcni-cmdline-$$
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T" "$PIN"' EXIT

while IFS=$'\t' read -r args want; do
	case $args in '#'* | '') continue ;; esac
	# shellcheck disable=SC2086 # the row's words are the arguments
	"$XCNID" --pin-dir "$T/pins" $args >"$T/out" 2>&1 </dev/null
	rc=$?
	check "xcnid $args: exit 2 ($rc), says '$want', nothing pinned" \
		bash -c '[ "$1" = 2 ] && grep -qF -- "$2" "$3" && ! [ -e "$4" ]' _ "$rc" "$want" "$T/out" "$T/pins"
done <"$HERE/cmdline.tsv"

# --tunnel-family ipv6 on an underlay device with no global IPv6 (a netns's
# lo, no --node-ip): found at start, before anything is loaded: exit 1,
# naming the option and the device, nothing pinned.
ip netns add "$NS" && ip -n "$NS" link set lo up
ip netns exec "$NS" "$XCNID" --pin-dir "$PIN" --pod-cidr 10.244.9.0/24 --underlay-dev lo \
	--tunnel-family ipv6 >"$T/out" 2>&1 </dev/null
rc=$?
check "xcnid --underlay-dev lo (no global IPv6) --tunnel-family ipv6: exit 1 ($rc), naming the option and lo, nothing pinned" \
	bash -c '[ "$1" = 1 ] && grep -qF -- "--tunnel-family ipv6: this node has no IPv6 underlay address (lo has no global IPv6" "$2" && ! [ -e "$3" ]' \
	_ "$rc" "$T/out" "$PIN"
ip netns del "$NS"

"$XCNID" --help >"$T/help" 2>&1
check "xcnid --help: exit 0" test $? = 0
# Every long option of the parser's table (xopts: a row each, its help
# beside it) is in the help; the table read has them all (60 and more).
opts=$(grep -o '^	{ "[a-z0-9-]*", ' "$XCNI_ROOT/user/agent/xcnid_opts.c" | sed 's/.*{ "\([^"]*\)".*/\1/')
missing=$(for o in $opts; do grep -q -- "--$o" "$T/help" || echo "$o"; done)
check "xcnid --help lists every option of the parser ($(echo "$opts" | wc -l) read; missing: ${missing:-none})" \
	bash -c '[ "$1" -ge 60 ] && [ -z "$2" ]' _ "$(echo "$opts" | wc -l)" "$missing"
finish
