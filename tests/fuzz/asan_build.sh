# Sourced by asan.sh and asan-netns.sh: `make sanitize` into $BUILD/asan (its
# log in $BUILD/asan/logs/build.log), or the suite ends "not ok" with the log's
# tail; $1 says what the build is for.
mkdir -p "$BUILD/asan/logs"
if ! make --no-print-directory -s BUILD="$BUILD" sanitize >"$BUILD/asan/logs/build.log" 2>&1; then
	echo "not ok 1 - build $1 with ASan and UBSan"
	tail -n 40 "$BUILD/asan/logs/build.log" | sed 's/^/# /'
	echo "0 passed, 1 failed"
	exit 1
fi
