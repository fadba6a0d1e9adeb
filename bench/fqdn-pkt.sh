#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What domainNames policy (issue 55) costs packets that are not DNS: bench/
# pkt-bench.sh's rows through TREE's programs (fqdn_enabled 0, no policy
# names a domain) against the same programs with fqdn_enabled 1 (what xcnid
# sets once a ClusterNetworkPolicy names a domain: the answers' readers and
# the learned-address check in the policy lookup compiled in, not dead code).
# The "on" side is a copy of TREE's sources (no build/, no .git) whose
# bpf/lib/config.h starts fqdn_enabled at 1, its skeletons built there.
# TREE must be built (make all). As root:
#
#   bash bench/fqdn-pkt.sh TREE [RUNS] [ROUNDS]
#
# RUNS and ROUNDS as pkt-bench.sh's; PKT_BENCH_* and OUT pass through. Rows
# are "base" (off) and "head" (on). None of pkt_bench.c's rows is a pod's
# packet to an outside address under a domainNames rule (the one packet that
# pays a lookup more, lib/policy.h's fqdn_group): they measure the checks
# every other packet passes.
set -euo pipefail
# shellcheck disable=SC2034 # lib.sh's messages name it
BENCH=fqdn-pkt
. "$(dirname "$0")/lib.sh"
(($# >= 1)) || usage
tree=$(cd "$1" && pwd)
need make tar sed
on=$(mktemp -d /tmp/fqdn-pkt.XXXXXX)
trap 'rm -rf "$on"' EXIT
tar -C "$tree" --exclude=./build --exclude=./.git -cf - . | tar -C "$on" -xf -
cfg=$on/bpf/lib/config.h
sed -i 's/^const volatile __u32 fqdn_enabled = 0;/const volatile __u32 fqdn_enabled = 1;/' "$cfg"
grep -q '^const volatile __u32 fqdn_enabled = 1;' "$cfg" ||
	die "$tree/bpf/lib/config.h: no 'const volatile __u32 fqdn_enabled = 0;' to turn on"
say "building the fqdn_enabled 1 skeletons in $on"
# BUILD=build: the copy's own (the caller's BUILD may name TREE's). One target a word:
# shellcheck disable=SC2046
make -s -C "$on" -j2 BUILD=build $(sed -n 's/^BPF_PROGS := //p' "$on/Makefile" | tr ' ' '\n' | sed 's|^|build/gen/|; s|$|.skel.h|') ||
	die "the skeletons of $on do not build"
bash "$HERE/pkt-bench.sh" "$tree" "$on" "${2:-8}" "${3:-20}"
