#!/bin/bash
# Installs what xcni needs to build, test and demo on Debian 12 (run as root).
# Idempotent: a second run with everything present does no network I/O.
set -euo pipefail

PKGS=(
	build-essential pkg-config clang llvm
	# libFuzzer and the sanitizer runtimes for clang (make fuzz, make check)
	libclang-rt-14-dev
	libbpf-dev libelf-dev zlib1g-dev libmnl-dev libnftables-dev libjansson-dev libyaml-dev libcurl4-openssl-dev
	# xcnid's HTTP server (metrics, UI); libmicrohttpd12 is its runtime library;
	# GnuTLS (its TLS) checks the flows listener's client certificates
	libmicrohttpd-dev libmicrohttpd12 libgnutls28-dev libgnutls30
	# xcnid's IPFIX exporter (--ipfix); libfixbuf9 is its runtime library
	libfixbuf-dev libfixbuf9
	# real IPFIX collectors for its tests (ipfix-netns: nfcapd/nfdump; tshark below)
	nfdump
	# lab-flows reads the metrics back as a dashboard does: promtool and a Prometheus server
	prometheus
	libcmocka-dev bpftool
	iproute2 iputils-ping procps util-linux socat iptables nftables kmod
	containernetworking-plugins
	containerd runc busybox-static
	python3-grpcio python3-grpc-tools
	golang-go golang-github-appc-cni-dev
	iperf3 tshark jq curl openssl python3 python3-yaml ethtool
	# bench/nodeport-xdp.sh's packet generator (trafgen: PF_PACKET mmap)
	netsniff-ng
	# the lab: its cluster DNS server; conntrack: tests read the table with it (masq6.sh)
	dnsmasq-base conntrack
	# the service map's browser test (lab-ui): headless Chromium driven over CDP
	chromium python3-websocket
	# tests/structure/tree_shape.py and tests/docs/check.py: the C definitions scanner (function lengths, call graph)
	universal-ctags
	# make kernels (scripts/kernels.sh): the kernel matrix's virtual machines
	qemu-system-x86
)
BACKPORTS=(libbpf-dev libbpf1 bpftool linux-libc-dev)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# libbpf >= 1.3 (TCX links) comes from bookworm-backports.
need_bp=0
v=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || true)
if [ -z "$v" ] || dpkg --compare-versions "${v#*:}" lt 1.3; then need_bp=1; fi

if [ ${#missing[@]} -eq 0 ] && [ $need_bp -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi

# The backports source is derived from the machine's own Debian entry, so the
# repository names no mirror of its own.
bp=/etc/apt/sources.list.d/xcni-backports.sources
if [ ! -e "$bp" ]; then
	src=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		src=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm([ \n]|$)/ {print; exit}' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [ -n "$src" ]; then
		printf '%s\n' "$src" | sed -E 's/^Suites:.*/Suites: bookworm-backports/' >"$bp"
	elif [ -r /etc/apt/sources.list ]; then
		line=$(grep -E '^deb [^ ]+ bookworm ' /etc/apt/sources.list | head -n1 || true)
		[ -n "$line" ] && printf '%s\n' "$line" | sed -E 's/ bookworm / bookworm-backports /' \
			>/etc/apt/sources.list.d/xcni-backports.list
	fi
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
bp_policy=$(apt-cache policy libbpf-dev)
if [[ "$bp_policy" == *bookworm-backports* ]]; then
	apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BACKPORTS[@]}" >/dev/null
fi
