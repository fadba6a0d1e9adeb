#!/bin/bash
# What xcnid's count of the NodePort SNAT tuples each client holds costs at a
# full xcni_snat (131,072): bench/snat_held.c against the agent's own
# user/agent/snat_held.c, 16, 1024 and 65,536 clients. As root, after make.
#   BUILD=$PWD/build bash bench/snat-held.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$(mktemp /tmp/snat_held.XXXXXX)
trap 'rm -f "$BIN"' EXIT
# The agent's objects but its main, and what they link with (the Makefile's xcnid).
"${CC:-cc}" -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/bpf" -I"$ROOT/user" \
	-I"$BUILD" -o "$BIN" "$HERE/snat_held.c" \
	$(ls "$BUILD"/obj/user/agent/*.o | grep -v '/xcnid\.o$') "$BUILD/libxcni.a" \
	$(pkg-config --libs libmnl jansson libbpf yaml-0.1 libcurl libnftables libmicrohttpd \
		gnutls libfixbuf) -lz -lpthread
for c in 16 1024 65536; do "$BIN" "$c" 131072; done
