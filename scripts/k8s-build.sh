#!/bin/bash
# Builds Kubernetes 1.20 (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl) from Debian bookworm's
# `kubernetes` source package, offline, with Debian's Go, into a cache outside
# the clone (issue 37):
#
#   $XCNI_K8S_CACHE (default /var/cache/xcni/k8s)/
#     <version>-<key>/bin/   the binaries, and BUILDINFO beside bin/
#     src/dl/                the Debian source package as downloaded (reused)
#     src/gopath/src/k8s.io/kubernetes
#                            the tree, unpacked and patched anew for each build;
#                            the path stays the same: Go's build cache keys on it
#     go-build/              Go's build cache (GOCACHE)
#     logs/                  one log per build
#
# <key> hashes what this script does to the source (the Debian version, the
# replaced vendored packages, the generator run, the flags, the targets), so a
# change of recipe builds into a new directory and an unchanged one finds its
# binaries: then nothing is done, and nothing is fetched.
#
# Usage: scripts/k8s-build.sh            build unless built; print the bin dir last
#        scripts/k8s-build.sh --bin-dir  print the bin dir; exit 1 if not built
#        scripts/k8s-build.sh --force    build again into the same key
# The Go build runs under `nice -n 19` (and idle I/O priority): ~11+ min on
# 2 cores from a cold Go cache.
set -euo pipefail

K8S_DEB_VERSION=1.20.5+really1.20.2-1.1+deb12u1
K8S_GIT_VERSION=v1.20.2
K8S_MAJOR=1
K8S_MINOR=20
# Vendored 1.0.1 reflect2 dies under Go >= 1.18 (fatal error: fault in
# mapiterinit, on the first custom resource decoded): Debian's packages instead.
REFLECT2_VERSION=1.0.2
JSONITER_VERSION=1.1.12
TARGETS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
BUILD_DEPS=(golang-go dpkg-dev golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)

CACHE=${XCNI_K8S_CACHE:-/var/cache/xcni/k8s}
GOPATH_DIR=$CACHE/src/gopath
TREE=$GOPATH_DIR/src/k8s.io/kubernetes
PKG=k8s.io/kubernetes
GOCODE=/usr/share/gocode/src

log() { printf 'k8s-build: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---- the recipe: everything below that changes the binaries is in these ----

# Debian's reflect2 and json-iterator over vendor's copies (their top-level
# package only: what Kubernetes imports; no tests).
replace_vendored() {
	local pkg=$1 dir
	dir=$TREE/vendor/$pkg
	[ -d "$GOCODE/$pkg" ] || die "$GOCODE/$pkg missing (its -dev package not installed)"
	rm -rf "$dir"
	mkdir -p "$dir"
	find -L "$GOCODE/$pkg" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name LICENSE \) \
		! -name '*_test.go' -exec cp -L {} "$dir/" \;
}

# The packages that ask for OpenAPI definitions, as Makefile.generated_files
# finds them for pkg/generated/openapi (KUBE_OPENAPI_TAG_FILES): every Go
# directory of the tree, staging/src named as vendor/, less code-generator's and
# sample-apiserver's.
openapi_dirs() {
	(cd "$TREE" && find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) \
		-type f -name '*.go' |
		sed 's|^\./staging/src|vendor|; s|^\./||' |
		xargs grep --color=never -l '^// *+k8s:' |
		xargs grep --color=never -l '+k8s:openapi-gen=' |
		grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
		xargs -n1 dirname | LC_ALL=C sort -u)
}

# The one generated file the tarball lacks: pkg/generated/openapi/zz_generated.openapi.go.
gen_openapi() {
	local tool=$CACHE/src/tools/openapi-gen inputs report
	mkdir -p "$(dirname "$tool")"
	(cd "$TREE" && $NICE go build -o "$tool" $PKG/vendor/k8s.io/kube-openapi/cmd/openapi-gen)
	inputs=$(openapi_dirs | sed "s|^|$PKG/|" | paste -sd, -)
	[ -n "$inputs" ] || die "no +k8s:openapi-gen packages found"
	report=$CACHE/src/openapi-violations.report
	(cd "$TREE" && $NICE "$tool" --logtostderr \
		-i "$inputs" \
		-o "$GOPATH_DIR/src" \
		-p $PKG/pkg/generated/openapi \
		-O zz_generated.openapi \
		-h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
		-r "$report")
	[ -s "$TREE/pkg/generated/openapi/zz_generated.openapi.go" ] || die "openapi-gen wrote nothing"
	if ! diff -q "$report" "$TREE/api/api-rules/violation_exceptions.list" >/dev/null; then
		log "note: OpenAPI rule violations differ from api/api-rules/violation_exceptions.list (see $report)"
	fi
}

patch_tree() {
	replace_vendored github.com/modern-go/reflect2
	replace_vendored github.com/json-iterator/go
	gen_openapi
}

# The version as hack/lib/version.sh stamps it, into both packages that hold
# it (else the server says v0.0.0); the date is the Debian changelog's, so the
# same recipe links the same bytes.
ldflags() {
	local date kv flags="-s -w" p
	date=$(date -u -d "@$(cd "$TREE" && dpkg-parsechangelog -STimestamp)" +%Y-%m-%dT%H:%M:%SZ)
	for kv in "gitVersion=$K8S_GIT_VERSION" "gitMajor=$K8S_MAJOR" "gitMinor=$K8S_MINOR" \
		"gitCommit=" "gitTreeState=clean" "buildDate=$date"; do
		for p in client-go/pkg/version component-base/version; do
			flags+=" -X $PKG/vendor/k8s.io/$p.$kv"
		done
	done
	printf '%s' "$flags"
}

build_bins() {
	local out=$1 t pkgs=()
	for t in "${TARGETS[@]}"; do pkgs+=("$PKG/cmd/$t"); done
	mkdir -p "$out"
	(cd "$TREE" && $NICE go build -ldflags "$(ldflags)" -o "$out/" "${pkgs[@]}")
}

# ---- the key ----
recipe_key() {
	{
		printf '%s\n' "$K8S_DEB_VERSION" "$K8S_GIT_VERSION" "$REFLECT2_VERSION" "$JSONITER_VERSION" \
			"${TARGETS[@]}"
		declare -f replace_vendored openapi_dirs gen_openapi patch_tree ldflags build_bins
	} | sha256sum | cut -c1-12
}

KEY=$(recipe_key)
OUT=$CACHE/${K8S_GIT_VERSION#v}-$KEY
BIN=$OUT/bin

built() {
	local t
	[ -e "$OUT/BUILDINFO" ] || return 1
	for t in "${TARGETS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
}

summary() {
	local t v
	for t in "${TARGETS[@]}"; do
		case $t in
		kubectl) v=$("$BIN/$t" version --client --short 2>/dev/null || true) ;;
		*) v=$("$BIN/$t" --version 2>/dev/null || true) ;;
		esac
		printf 'k8s-build: %-24s %-14s %s\n' "$t" "${v##* }" "$(du -h "$BIN/$t" | cut -f1)" >&2
	done
}

FORCE=0
case ${1:-} in
--bin-dir) built || exit 1; echo "$BIN"; exit 0 ;;
--force) FORCE=1 ;;
"") ;;
*) die "usage: $0 [--bin-dir|--force]" ;;
esac

if [ $FORCE -eq 0 ] && built; then
	log "Kubernetes $K8S_GIT_VERSION already built ($OUT): nothing to do"
	summary
	echo "$BIN"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, /var/cache)"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE/logs" "$CACHE/src/dl"
# One build at a time: they share the tree's path. One that waited may find
# the binaries built by the other.
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
	log "another build holds $CACHE/.build.lock: waiting"
	flock 9
	if [ $FORCE -eq 0 ] && built; then
		log "built meanwhile ($OUT): nothing to do"
		summary
		echo "$BIN"
		exit 0
	fi
fi
LOG=$CACHE/logs/build-${K8S_GIT_VERSION#v}-$KEY-$(date -u +%Y%m%dT%H%M%SZ).log
log "building Kubernetes $K8S_GIT_VERSION (Debian $K8S_DEB_VERSION) into $OUT; log: $LOG"
T0=$(date +%s)
exec 3>&2 4>&1 >>"$LOG" 2>&1
trap 'rc=$?; if [ $rc -ne 0 ]; then exec 1>&4 2>&3; tail -n 30 "$LOG" >&2; log "FAILED (exit $rc) after $(($(date +%s) - T0)) s; the whole log: $LOG"; fi' EXIT

# ---- a deb-src line for bookworm, from the machine's own deb lines ----
SRCLIST=/etc/apt/sources.list.d/xcni-src.sources
need_update=0
if ! apt-cache showsrc kubernetes 2>/dev/null | grep -qx "Version: $K8S_DEB_VERSION"; then
	if [ ! -e "$SRCLIST" ] && [ ! -e "${SRCLIST%.sources}.list" ]; then
		src=""
		if [ -r /etc/apt/sources.list.d/debian.sources ]; then
			src=$(awk 'BEGIN{RS=""} /Types:[^\n]*deb/ && /Suites:[^\n]*bookworm([ \n]|$)/ {print; exit}' \
				/etc/apt/sources.list.d/debian.sources)
		fi
		if [ -n "$src" ]; then
			printf '%s\n' "$src" | sed -E 's/^Types:.*/Types: deb-src/; s/^Suites:.*/Suites: bookworm/' >"$SRCLIST"
		else
			line=$(grep -hE '^deb (\[[^]]*\] )?[^ ]+ bookworm ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
				2>/dev/null | head -n1 || true)
			[ -n "$line" ] || die "no bookworm deb line in /etc/apt/sources.list(.d) to derive a deb-src line from"
			printf '%s\n' "$line" | sed -E 's/^deb /deb-src /' >"${SRCLIST%.sources}.list"
		fi
		log "wrote a deb-src entry for bookworm: $(ls "${SRCLIST%.sources}".*)"
	fi
	need_update=1
fi

missing=()
for p in "${BUILD_DEPS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ $need_update -eq 1 ]; then
	apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for pv in golang-github-modern-go-reflect2-dev:$REFLECT2_VERSION golang-github-json-iterator-go-dev:$JSONITER_VERSION; do
	v=$(dpkg-query -W -f='${Version}' "${pv%%:*}")
	case $v in "${pv#*:}"*) ;; *) log "warning: ${pv%%:*} is $v, the recipe expects ${pv#*:}" ;; esac
done

# ---- the source, unpacked anew at the fixed path ----
DSC=$CACHE/src/dl/kubernetes_${K8S_DEB_VERSION}.dsc
if [ ! -e "$DSC" ]; then
	(cd "$CACHE/src/dl" && apt-get source --download-only "kubernetes=$K8S_DEB_VERSION")
fi
rm -rf "$TREE"
mkdir -p "$(dirname "$TREE")"
dpkg-source --no-check -x "$DSC" "$TREE"

export GOPATH=$GOPATH_DIR GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0
export GOCACHE=$CACHE/go-build
NICE="nice -n 19"
command -v ionice >/dev/null && NICE="$NICE ionice -c 3"
go version
T1=$(date +%s)
patch_tree
T2=$(date +%s)
log "openapi-gen and vendor replacements: $((T2 - T1)) s"

rm -rf "$BIN"
build_bins "$BIN"
T3=$(date +%s)
{
	echo "debian_source=kubernetes $K8S_DEB_VERSION"
	echo "git_version=$K8S_GIT_VERSION"
	echo "key=$KEY"
	echo "go=$(go version)"
	echo "reflect2=$(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"
	echo "json_iterator=$(dpkg-query -W -f='${Version}' golang-github-json-iterator-go-dev)"
	echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "seconds_total=$((T3 - T0)) seconds_generate=$((T2 - T1)) seconds_go_build=$((T3 - T2))"
} >"$OUT/BUILDINFO"
exec 1>&4 2>&3 3>&- 4>&-
log "built in $((T3 - T0)) s (go build $((T3 - T2)) s, generate $((T2 - T1)) s)"
summary
echo "$BIN"
