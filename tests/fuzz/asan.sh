#!/bin/bash
# The unit tier (tests/unit, cmocka) again, built with AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer (`make sanitize`: libxcni, the
# plugin's config code and the tests, out of tree in $BUILD/asan). A report
# aborts the test binary: it is a failure even when every assertion held.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-$PWD/build}
log=$BUILD/asan/logs
n=0 pass=0 fail=0

. tests/fuzz/asan_build.sh "the unit tests"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/asan/tests/test_*; do
	name=${t##*/}
	"$t" >"$log/$name.log" 2>&1
	rc=$?
	# cmocka's own TAP lines, renumbered into this suite's count.
	while read -r line; do
		case $line in
		# cmocka writes a skip() as "not ok N # SKIP NAME": TAP's skip is no failure.
		"not ok "*"# SKIP"*) n=$((n + 1)) pass=$((pass + 1)); echo "ok $n - $name: ${line##*# SKIP } # SKIP" ;;
		"ok "*) n=$((n + 1)) pass=$((pass + 1)); echo "ok $n - $name: ${line#* - }" ;;
		"not ok "*) n=$((n + 1)) fail=$((fail + 1)); echo "not ok $n - $name: ${line#* - }" ;;
		esac
	done < <(grep -E '^(not )?ok [0-9]+ ' "$log/$name.log")
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log/$name.log" || [ "$rc" -ne 0 ]; then
		n=$((n + 1)) fail=$((fail + 1))
		echo "not ok $n - $name: exited $rc under the sanitizers"
		grep -m1 -B2 -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log/$name.log" |
			sed 's/^/# /'
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
