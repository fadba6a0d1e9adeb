#!/bin/bash
# The CNI netns integration suite (tests/integration/cni.sh) on the sanitizer
# build ($BUILD/asan, `make sanitize`): the plugin, xcnid and xcnictl with
# ASan, UBSan and LeakSanitizer, driven as a runtime drives them. Every
# sanitizer report of every process goes to a file of its own; any such file
# is a failure, even when the suite's own checks passed (xcnid's stderr is
# not the suite's).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-$PWD/build}
reports=$BUILD/asan/logs/netns

. tests/fuzz/asan_build.sh "xcni, xcnid and xcnictl"
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/report"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/report"
BUILD=$BUILD/asan bash tests/integration/cni.sh
rc=$?
n=0
for r in "$reports"/report*; do
	[ -e "$r" ] || continue
	n=$((n + 1))
	echo "not ok - sanitizer report from a process of the suite: $r"
	head -n 40 "$r" | sed 's/^/# /'
done
[ "$n" -eq 0 ] && echo "ok - no sanitizer report from the plugin, xcnid or xcnictl"
[ "$rc" -eq 0 ] && [ "$n" -eq 0 ]
