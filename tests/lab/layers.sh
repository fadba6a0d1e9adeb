#!/bin/bash
# The lab's layering (user/lab/lab.h draws it): each user/lab/X.c includes its
# own lab/X.h and only headers of layers below; each header includes only
# headers below it; every function X.c exports is declared in X.h and every
# function X.h declares is defined in X.c, so a call can only go downwards.
# No lab, no root: a grep over the sources.
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=${LAB_SRC:-user/lab}

# Bottom to top. A new module gets its place here.
ORDER=(sys svg ctflush serve state cluster underlay node pod svc slice kproxy dns apply drops fate probe conntest ui lab)

declare -A rank
for i in "${!ORDER[@]}"; do rank[${ORDER[$i]}]=$i; done

pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }

for f in "$DIR"/*.c "$DIR"/*.h; do
	base=$(basename "$f")
	mod=${base%.*}
	ext=${base##*.}
	if [ -z "${rank[$mod]+x}" ]; then
		bad "$base: module $mod has no place in the layer order (tests/lab/layers.sh ORDER)"
		continue
	fi
	r=${rank[$mod]}
	errs=()
	while read -r inc; do
		[ -n "$inc" ] || continue
		if [ -z "${rank[$inc]+x}" ]; then
			errs+=("includes lab/$inc.h, which is in no layer")
		elif [ "$ext" = h ] && [ "${rank[$inc]}" -ge "$r" ]; then
			errs+=("includes lab/$inc.h (layer ${rank[$inc]}), not below its own ($r)")
		elif [ "$ext" = c ] && [ "${rank[$inc]}" -gt "$r" ]; then
			errs+=("includes lab/$inc.h (layer ${rank[$inc]}), above its own ($r): an upward include")
		fi
	done < <(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"lab/\([^"]*\)\.h".*|\1|p' "$f")
	if [ "$ext" = c ]; then
		grep -q "^#include \"lab/$mod.h\"" "$f" || errs+=("does not include its own lab/$mod.h")
		[ -f "$DIR/$mod.h" ] || errs+=("has no header $mod.h")
		# Exported (non-static) functions must be declared in the module's own header.
		while read -r fn; do
			[ -n "$fn" ] || continue
			grep -qE "\\b$fn\\(" "$DIR/$mod.h" 2>/dev/null ||
				errs+=("defines $fn() without declaring it in $mod.h")
		done < <(grep -E '^[a-z][a-z_0-9 *]*\b[a-z_0-9]+\(' "$f" | grep -vE '^(static|extern|struct [a-z_0-9]+ \{)' |
			sed -E 's/^[^(]*\b([a-z_0-9]+)\(.*/\1/')
	fi
	if [ "$ext" = h ]; then
		# What a header declares, its own .c defines: no call can land in a higher layer.
		while read -r fn; do
			[ -n "$fn" ] || continue
			grep -E "^[a-z].*\b$fn\(" "$DIR/$mod.c" 2>/dev/null | grep -qv ';$' ||
				errs+=("declares $fn(), which $mod.c does not define")
		done < <(grep -E '^[a-z][a-z_0-9 *]*\b[a-z_0-9]+\(' "$f" | grep -vE '^(static|struct [a-z_0-9]+ \{)' |
			sed -E 's/^[^(]*\b([a-z_0-9]+)\(.*/\1/')
	fi
	if [ ${#errs[@]} -eq 0 ]; then
		ok "$base (layer $r: $mod)"
	else
		for e in "${errs[@]}"; do bad "$base: $e"; done
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
