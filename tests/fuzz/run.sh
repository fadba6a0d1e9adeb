#!/bin/bash
# The libFuzzer targets (tests/fuzz/fuzz_*.c), as TAP. For each target:
#   replay  every seed (corpus/<target>/) and every input that ever broke it
#           (regress/<target>/), one run each: they must all pass;
#   fuzz    FUZZ_SECONDS of fuzzing from those (10 in make check; `make fuzz`
#           runs FUZZ_SECONDS=180 by default), FUZZ_JOBS targets at a time;
#           then the BPF DNS reader as long (target bpf_dns, below).
# New inputs go to $BUILD/fuzz/out/corpus/<target>/ (kept between runs), a
# crash to $BUILD/fuzz/out/crashes/<target>/: fix it, then copy the input into
# regress/<target>/ so it is replayed from then on. FUZZ_TARGETS="a b" picks
# targets. Reproduce one input: $BUILD/fuzz/fuzz_<target> FILE.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-$PWD/build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
here=tests/fuzz
out=$BUILD/fuzz/out

n=0 pass=0 fail=0
ok() { n=$((n + 1)) pass=$((pass + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)) fail=$((fail + 1)); echo "not ok $n - $*"; }
# The end of a failing log, as TAP comments.
show() { tail -n "${2:-40}" "$1" | sed 's/^/# /'; }

if [ -n "${FUZZ_TARGETS:-}" ]; then
	read -r -a targets <<<"${FUZZ_TARGETS//bpf_dns/}" # bpf_dns: not libFuzzer's, below
else
	targets=()
	for f in "$here"/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi

mkdir -p "$out/logs"
if ! make --no-print-directory -s BUILD="$BUILD" fuzz-build >"$out/logs/build.log" 2>&1; then
	notok "build the fuzz targets"
	show "$out/logs/build.log"
	echo "$pass passed, $fail failed"
	exit 1
fi

# Replay: each input once, in one process per target.
for t in "${targets[@]}"; do
	bin=$BUILD/fuzz/fuzz_$t
	mapfile -t inputs < <(find "$here/corpus/$t" "$here/regress/$t" -type f 2>/dev/null | sort)
	if [ ${#inputs[@]} -eq 0 ]; then
		notok "replay $t: no seeds in $here/corpus/$t"
		continue
	fi
	log=$out/logs/replay-$t.log
	if "$bin" -timeout=25 "${inputs[@]}" >"$log" 2>&1; then
		nr=$(find "$here/regress/$t" -type f 2>/dev/null | wc -l)
		ok "replay $t: $((${#inputs[@]} - nr)) seeds, $nr regression inputs"
	else
		notok "replay $t: $(grep -m1 -oE 'Running: .*' "$log" | tail -n1 || true)"
		show "$log"
	fi
done

# Fuzz: FUZZ_JOBS targets at a time; results in the targets' order.
fuzz_one() {
	local t=$1 bin=$BUILD/fuzz/fuzz_$1 dirs=("$here/corpus/$1")
	local dict=
	[ -d "$here/regress/$t" ] && dirs+=("$here/regress/$t")
	case $t in
	manifest | k8s_*) dict=$here/dict/k8s.dict ;;
	cni_conf | cni_result) dict=$here/dict/cni.dict ;;
	kubeconfig) dict=$here/dict/kubeconfig.dict ;;
	esac
	mkdir -p "$out/corpus/$t" "$out/crashes/$t"
	# stdout and stderr of the code under test closed: xcni logs every refusal.
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 -max_len=65536 -close_fd_mask=3 \
		${dict:+-dict="$dict"} -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" \
		"$out/corpus/$t" "${dirs[@]}" >"$out/logs/fuzz-$t.log" 2>&1
	echo $? >"$out/logs/fuzz-$t.rc"
}
running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$FUZZ_JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	rm -f "$out/logs/fuzz-$t.rc"
	fuzz_one "$t" &
	running=$((running + 1))
done
wait
for t in "${targets[@]}"; do
	log=$out/logs/fuzz-$t.log
	rc=$(cat "$out/logs/fuzz-$t.rc" 2>/dev/null || echo 1)
	runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$')
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+$')
	if [ "$rc" = 0 ]; then
		ok "fuzz $t ${FUZZ_SECONDS} s: ${runs:-?} runs, ${cov:-?} edges"
	else
		crash=$(grep -oE "$out/crashes/$t/[^ ]+" "$log" | tail -n1)
		notok "fuzz $t: a finding, input in ${crash:-$log}"
		show "$log" 60
	fi
done

# The BPF DNS reader (bpf/lib/dns.h) through BPF_PROG_TEST_RUN: test_bpf's
# group dnsfuzz, its corpus (tests/bpf/dns_corpus/) and FUZZ_SECONDS of
# generated answers against libresolv's parse (tests/bpf/fqdn.c). Needs root
# (BPF); a refused case goes to $out/crashes/bpf_dns/: add it to the corpus.
# Skipped when FUZZ_TARGETS names others.
if [ -z "${FUZZ_TARGETS:-}" ] || [[ " $FUZZ_TARGETS " == *" bpf_dns "* ]]; then
	log=$out/logs/fuzz-bpf_dns.log
	mkdir -p "$out/crashes/bpf_dns"
	if [ "$(id -u)" != 0 ]; then
		ok "fuzz bpf_dns # SKIP not root (BPF_PROG_TEST_RUN)"
	elif ! make --no-print-directory -s BUILD="$BUILD" "$BUILD/tests/test_bpf" >"$log" 2>&1; then
		notok "fuzz bpf_dns: build test_bpf"
		show "$log"
	elif XCNI_DNS_FUZZ_SECONDS="$FUZZ_SECONDS" XCNI_DNS_FUZZ_OUT="$out/crashes/bpf_dns" \
		nice "$BUILD/tests/test_bpf" dnsfuzz >"$log" 2>&1; then
		ok "fuzz bpf_dns ${FUZZ_SECONDS} s: $(grep -oE '[0-9]+ cases, [0-9]+ learned something' "$log")"
	else
		notok "fuzz bpf_dns: a finding, input in $out/crashes/bpf_dns/"
		show "$log" 40
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
