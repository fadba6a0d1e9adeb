#!/bin/bash
# The kind installation (examples/kind/) without a cluster, Docker or network:
#   - every document of examples/kind/*.yaml parses; kinds and apiVersions; the
#     DaemonSet (host network, privileged, hostPath volumes, service account, the
#     xcnid command line); the ClusterRole grants list and watch on exactly the
#     resources xcnid follows, compared with the API paths of user/lib/cluster/k8sapi.c
#     when it exists; the kind config; the Dockerfile's stages, sources and build
#     dependencies; no registry or mirror named anywhere (tests/kind/check_manifests.py)
#   - the entry point: the conflist it writes, `install` into a scratch root (the
#     plugin bundle runs there with none of the machine's libraries), the pod CIDR
#     read from a fake API server over TLS with the service account's token
#   - imagetool.sh: the backports source, the runtime package list, the bundle
# Needs /usr/bin/python3 with python3-yaml (else SKIP); jq, openssl for parts.
set -uo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
KIND=$XCNI_ROOT/examples/kind
EP=$KIND/entrypoint.sh
IT=$KIND/imagetool.sh
TMP=$(mktemp -d)
API_PID=
# The entry point reads it; the checks below set it where they mean to.
unset XCNI_CGROUP_ROOT

cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

skip() { ok "$1 # SKIP $2"; }

# --- manifests, Dockerfile, RBAC against the code ---------------------------
if [ -x $PY ] && $PY -c 'import yaml' 2>/dev/null; then
	$PY "$(dirname "$0")/check_manifests.py" "$XCNI_ROOT" >"$TMP/checks" 2>"$TMP/checks.err"
	rc=$?
	while IFS=$'\t' read -r st what why; do
		case $st in
		ok) ok "$what" ;;
		skip) skip "$what" "$why" ;;
		*) not_ok "$what"; [ -n "$why" ] && diag "  $why" ;;
		esac
	done <"$TMP/checks"
	if [ "$rc" -ne 0 ]; then
		not_ok "check_manifests.py ran to the end (exit $rc)"
		sed 's/^/#   /' "$TMP/checks.err" | tail -n 20
	fi
else
	skip "manifests checked" "python3-yaml is not installed (apt-get install python3-yaml)"
fi

# --- scripts parse -------------------------------------------------------------
check "entrypoint.sh parses (bash -n)" bash -n "$EP"
check "imagetool.sh parses (sh -n)" sh -n "$IT"

# --- imagetool.sh ------------------------------------------------------------
cat >"$TMP/debian.sources" <<'EOF'
Types: deb
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
backports_ok() {
	sh "$IT" backports "$TMP/bp.sources" "$TMP/debian.sources" || return 1
	cat "$TMP/bp.sources"
	grep -qx 'Suites: bookworm-backports' "$TMP/bp.sources" &&
		grep -qx 'URIs: http://mirror.invalid/debian' "$TMP/bp.sources" &&
		grep -qx 'Components: main' "$TMP/bp.sources" &&
		! grep -q security "$TMP/bp.sources"
}
check "imagetool backports: the bookworm stanza, suite bookworm-backports" backports_ok
check_fails "imagetool backports: refuses sources without bookworm" \
	sh "$IT" backports "$TMP/none.sources" /dev/null

if [ -x "$BUILD/xcnid" ] && [ -x "$BUILD/xcni" ] && [ -x "$BUILD/xcnictl" ]; then
	pkgs_ok() {
		sh "$IT" runtime-packages "$BUILD/xcni" "$BUILD/xcnid" "$BUILD/xcnictl" >"$TMP/pkgs" || return 1
		cat "$TMP/pkgs"
		for p in libc6 libelf1 libmnl0 libjansson4 zlib1g; do grep -qx "$p" "$TMP/pkgs" || return 1; done
		grep -qE '^libbpf1(/bookworm-backports)?$' "$TMP/pkgs"
	}
	check "imagetool runtime-packages: the Debian packages the binaries load" pkgs_ok
else
	skip "imagetool runtime-packages" "build/ has no xcni, xcnid, xcnictl (make all)"
fi

# --- the entry point ---------------------------------------------------------
if ! command -v jq >/dev/null; then
	skip "entry point checks" "jq is not installed"
	finish
	exit
fi

conflist_ok() {
	bash "$EP" conflist 10.244.3.0/24 >"$TMP/c.json" || return 1
	jq -e '.cniVersion == "1.0.0" and .name == "xcni"
		and .plugins[0].type == "xcni"
		and .plugins[0].ipam.type == "host-local"
		and .plugins[0].ipam.ranges == [[{"subnet": "10.244.3.0/24"}]]
		and .plugins[1].type == "portmap"' "$TMP/c.json"
}
check "entrypoint conflist: xcni with host-local on the pod CIDR, then portmap" conflist_ok
# ranges_are CIDRS WANT: the conflist for CIDRS has host-local ranges WANT (jq).
ranges_are() {
	bash "$EP" conflist "$1" >"$TMP/c.json" || return 1
	jq -c .plugins[0].ipam.ranges "$TMP/c.json"
	jq -e --argjson want "$2" '.plugins[0].ipam.ranges == $want and .plugins[1].type == "portmap"' "$TMP/c.json"
}
check "entrypoint conflist: dual stack, one range set per family (kubelet's shape)" \
	ranges_are 10.244.3.0/24,fd00:10:244:3::/64 '[[{"subnet": "10.244.3.0/24"}], [{"subnet": "fd00:10:244:3::/64"}]]'
check "entrypoint conflist: dual stack listed IPv6 first: IPv4 range set first all the same" \
	ranges_are fd00:10:244:3::/64,10.244.3.0/24 '[[{"subnet": "10.244.3.0/24"}], [{"subnet": "fd00:10:244:3::/64"}]]'
check "entrypoint conflist: IPv6-only, the IPv6 range set alone" \
	ranges_are fd00:10:244:3::/64 '[[{"subnet": "fd00:10:244:3::/64"}]]'
check_fails "entrypoint conflist: refuses a /33" bash "$EP" conflist 10.244.3.0/33
check_fails "entrypoint conflist: refuses a /129" bash "$EP" conflist fd00::/129
check_fails "entrypoint conflist: refuses an IPv6 CIDR with two ::" bash "$EP" conflist fd00::1::/64
check_fails "entrypoint conflist: refuses two IPv4 CIDRs" bash "$EP" conflist 10.244.3.0/24,10.244.4.0/24
check_fails "entrypoint conflist: refuses two IPv6 CIDRs" bash "$EP" conflist fd00:1::/64,fd00:2::/64
check_fails "entrypoint conflist: refuses three CIDRs" bash "$EP" conflist 10.244.3.0/24,fd00:1::/64,fd00:2::/64
check_fails "entrypoint conflist: refuses an empty entry" bash "$EP" conflist 10.244.3.0/24,

# The plugin bundle the image carries for the node: from build/ when the plugin
# can be relinked there, else stand-ins.
SHARE=$TMP/share
mkdir -p "$SHARE/node/xcni.d" "$SHARE/cni"
real_bundle=0
if [ -d "$XCNI_ROOT/cni" ] && command -v make >/dev/null && [ -x /usr/sbin/chroot ] && [ "$(id -u)" = 0 ]; then
	# Link as the Dockerfile does, with the libraries under a scratch /opt/cni/bin.
	interp=$(readelf -l "$BUILD/xcni" 2>/dev/null | sed -n 's/.*interpreter: \(.*\)]/\1/p')
	if [ -n "$interp" ] && make -C "$XCNI_ROOT" -s BUILD="$TMP/b" \
		CFLAGS="-O2 -g -Wl,--dynamic-linker=/opt/cni/bin/xcni.d/$(basename "$interp") -Wl,--disable-new-dtags,-rpath,/opt/cni/bin/xcni.d -Wl,--as-needed" \
		"$TMP/b/xcni" >"$TMP/make.log" 2>&1; then
		cp "$TMP/b/xcni" "$SHARE/node/xcni"
		check "imagetool node-plugin: bundles the plugin's libraries and loader" \
			sh "$IT" node-plugin "$TMP/b/xcni" "$SHARE/node/xcni.d"
		real_bundle=1
	else
		sed 's/^/#   /' "$TMP/make.log" | tail -n 10
		not_ok "relink the plugin as the Dockerfile does"
	fi
fi
if [ "$real_bundle" = 0 ]; then
	printf '#!/bin/sh\necho xcni\n' >"$SHARE/node/xcni"
	echo lib >"$SHARE/node/xcni.d/libstandin.so.1"
fi
for p in host-local loopback portmap; do printf '#!/bin/sh\necho %s-from-image\n' "$p" >"$SHARE/cni/$p"; done

ROOTFS=$TMP/root
mkdir -p "$ROOTFS/opt/cni/bin"
printf '#!/bin/sh\necho node-loopback\n' >"$ROOTFS/opt/cni/bin/loopback"
chmod 0755 "$ROOTFS/opt/cni/bin/loopback"
run_install() {
	env -u KUBERNETES_SERVICE_HOST XCNI_MOUNT_BPFFS=0 XCNI_SHARE_DIR="$SHARE" \
		XCNI_CNI_BIN_DIR="$ROOTFS/opt/cni/bin" XCNI_CNI_CONF_DIR="$ROOTFS/etc/cni/net.d" \
		XCNI_RUN_DIR="$ROOTFS/run/xcni" "$@" bash "$EP" install
}
install_ok() {
	run_install POD_CIDR=10.244.7.0/24 NODE_NAME=n7 || return 1
	find "$ROOTFS" -type f | sort
	[ -x "$ROOTFS/opt/cni/bin/xcni" ] && [ -x "$ROOTFS/opt/cni/bin/host-local" ] &&
		[ -x "$ROOTFS/opt/cni/bin/portmap" ] &&
		[ "$(ls "$ROOTFS/opt/cni/bin/xcni.d" | wc -l)" -ge 1 ] &&
		[ "$("$ROOTFS/opt/cni/bin/loopback")" = node-loopback ] &&
		[ "$("$ROOTFS/opt/cni/bin/portmap")" = portmap-from-image ] &&
		grep -qx 'POD_CIDR=10.244.7.0/24' "$ROOTFS/run/xcni/node.env" &&
		jq -e '.plugins[0].ipam.ranges == [[{"subnet": "10.244.7.0/24"}]]' \
			"$ROOTFS/run/xcni/05-xcni.conflist" &&
		[ ! -e "$ROOTFS/etc/cni/net.d/05-xcni.conflist" ] &&
		[ -z "$(find "$ROOTFS" -name '.*tmp*')" ]
}
check "entrypoint install: plugin, host-local, portmap; the node's loopback kept; node.env and the conflist for the agent (not yet in net.d)" install_ok
# kind's own host-local (static) must survive: install only what the node lacks.
keep_ok() {
	local root=$TMP/root-keep
	mkdir -p "$root/opt/cni/bin"
	for p in host-local loopback; do
		printf '#!/bin/sh\necho node-%s\n' "$p" >"$root/opt/cni/bin/$p"
		chmod 0755 "$root/opt/cni/bin/$p"
	done
	ROOTFS=$root run_install POD_CIDR=10.244.7.0/24 NODE_NAME=n7 || return 1
	[ "$("$root/opt/cni/bin/host-local")" = node-host-local ] &&
		[ "$("$root/opt/cni/bin/loopback")" = node-loopback ] &&
		[ "$("$root/opt/cni/bin/portmap")" = portmap-from-image ] &&
		[ "$(cat "$root/opt/cni/bin/xcni.d/.xcni-installed")" = portmap ]
}
check "entrypoint install: the node's host-local and loopback kept, only the missing portmap installed (and recorded)" keep_ok
check "entrypoint install: a node without host-local gets the image's (recorded for uninstall)" \
	bash -c "[ \"\$('$ROOTFS/opt/cni/bin/host-local')\" = host-local-from-image ] && grep -qx host-local '$ROOTFS/opt/cni/bin/xcni.d/.xcni-installed'"
uninstall_ok() {
	local root=$TMP/root-keep
	mkdir -p "$TMP/bin" "$root/etc/cni/net.d" "$root/run/xcni"
	printf '#!/bin/sh\necho "$@" >%s/uninstall.args\n' "$TMP" >"$TMP/bin/xcnid"
	chmod 0755 "$TMP/bin/xcnid"
	echo '{}' >"$root/etc/cni/net.d/05-xcni.conflist"
	echo '{}' >"$root/etc/cni/net.d/10-xcni.conflist"
	echo '{}' >"$root/etc/cni/net.d/10-kindnet.conflist"
	PATH=$TMP/bin:$PATH XCNI_CNI_BIN_DIR="$root/opt/cni/bin" XCNI_CNI_CONF_DIR="$root/etc/cni/net.d" \
		XCNI_RUN_DIR="$root/run/xcni" bash "$EP" uninstall || return 1
	find "$root" | sort
	[ "$(cat "$TMP/uninstall.args")" = "--uninstall --pin-dir /sys/fs/bpf/xcni --underlay-dev eth0" ] &&
		[ "$(ls "$root/opt/cni/bin" | tr '\n' ' ')" = "host-local loopback " ] &&
		[ "$(ls "$root/etc/cni/net.d")" = 10-kindnet.conflist ] &&
		[ -z "$(ls -A "$root/run/xcni")" ]
}
check "entrypoint uninstall: xcnid --uninstall, xcni's conflists (05-, and 10- of older images) and plugin go, only the portmap it installed; the node's plugins and 10-kindnet.conflist stay" uninstall_ok
check_fails "entrypoint install: refuses a pod CIDR that is neither IPv4 nor IPv6" run_install POD_CIDR=10.244.7/24 NODE_NAME=n7
check_fails "entrypoint install: without POD_CIDR needs NODE_NAME" run_install

if [ "$real_bundle" = 1 ]; then
	# The node may have none of the libraries: run the installed plugin in a root
	# holding nothing but /opt/cni/bin.
	bundle_ok() {
		local v
		v=$(echo '{}' | env -i CNI_COMMAND=VERSION /usr/sbin/chroot "$ROOTFS" /opt/cni/bin/xcni) || return 1
		echo "$v"
		echo "$v" | jq -e '.supportedVersions | index("1.0.0")'
	}
	check "installed plugin runs with only its bundle (chroot, no system libraries)" bundle_ok
else
	skip "installed plugin runs with only its bundle" "needs root, make and chroot"
fi

agent_ok() {
	# xcnid stand-in: prints its arguments.
	mkdir -p "$TMP/bin"
	printf '#!/bin/sh\necho "$@"\n' >"$TMP/bin/xcnid"
	chmod 0755 "$TMP/bin/xcnid"
	local a
	a=$(PATH=$TMP/bin:$PATH XCNI_RUN_DIR="$ROOTFS/run/xcni" XCNI_CNI_CONF_DIR="$ROOTFS/etc/cni/net.d" \
		bash "$EP" agent --node-name n7 --log-format json) || return 1
	echo "$a"
	[ "$a" = "--once --pod-cidr 10.244.7.0/24 --node-name n7 --log-format json
--pod-cidr 10.244.7.0/24 --node-name n7 --log-format json" ] &&
		cmp "$ROOTFS/run/xcni/05-xcni.conflist" "$ROOTFS/etc/cni/net.d/05-xcni.conflist"
}
check "entrypoint agent: xcnid --once (pins), then the conflist into net.d, then execs xcnid --pod-cidr <node.env's> and its arguments" agent_ok
agent_fail_ok() {
	rm -f "$ROOTFS/etc/cni/net.d/05-xcni.conflist"
	printf '#!/bin/sh\nexit 1\n' >"$TMP/bin/xcnid"
	! PATH=$TMP/bin:$PATH XCNI_RUN_DIR="$ROOTFS/run/xcni" XCNI_CNI_CONF_DIR="$ROOTFS/etc/cni/net.d" \
		bash "$EP" agent --node-name n7 && [ ! -e "$ROOTFS/etc/cni/net.d/05-xcni.conflist" ]
}
check "entrypoint agent: xcnid --once failing writes no conflist (no pod reaches a missing data plane)" agent_fail_ok
check_fails "entrypoint agent: refuses to start without node.env" \
	env XCNI_RUN_DIR="$TMP/nonexistent" bash "$EP" agent

# Dual stack and IPv6-only: node.env, the conflist and xcnid's flags per family.
# family_ok POD_CIDR ENV RANGES ARGS: install into a root of its own, then the agent
# (xcnid a stand-in printing its arguments) with --node-name n7.
family_ok() {
	local root=$TMP/root-$RANDOM a
	mkdir -p "$root/opt/cni/bin"
	ROOTFS=$root run_install POD_CIDR="$1" NODE_NAME=n7 || return 1
	cat "$root/run/xcni/node.env"
	[ "$(cat "$root/run/xcni/node.env")" = "$(printf "$2")" ] || return 1
	jq -e --argjson want "$3" '.plugins[0].ipam.ranges == $want' "$root/run/xcni/05-xcni.conflist" || return 1
	printf '#!/bin/sh\necho "$@"\n' >"$TMP/bin/xcnid"
	a=$(PATH=$TMP/bin:$PATH XCNI_RUN_DIR="$root/run/xcni" XCNI_CNI_CONF_DIR="$root/etc/cni/net.d" \
		bash "$EP" agent --node-name n7) || return 1
	echo "$a"
	[ "$a" = "--once $4 --node-name n7
$4 --node-name n7" ] && cmp "$root/run/xcni/05-xcni.conflist" "$root/etc/cni/net.d/05-xcni.conflist"
}
ROOTFS_V4=$ROOTFS
check "entrypoint dual stack: node.env POD_CIDR and POD_CIDR6, both range sets, xcnid --pod-cidr and --pod-cidr6" \
	family_ok 10.244.7.0/24,fd00:10:244:7::/64 'POD_CIDR=10.244.7.0/24\nPOD_CIDR6=fd00:10:244:7::/64' \
	'[[{"subnet": "10.244.7.0/24"}], [{"subnet": "fd00:10:244:7::/64"}]]' \
	'--pod-cidr 10.244.7.0/24 --pod-cidr6 fd00:10:244:7::/64'
check "entrypoint IPv6-only: POD_CIDR empty, POD_CIDR6, the IPv6 range set, xcnid --pod-cidr6 alone" \
	family_ok fd00:10:244:8::/64 'POD_CIDR=\nPOD_CIDR6=fd00:10:244:8::/64' \
	'[[{"subnet": "fd00:10:244:8::/64"}]]' '--pod-cidr6 fd00:10:244:8::/64'
ROOTFS=$ROOTFS_V4

# Socket LB (kpr-patch.yaml's XCNI_CGROUP_ROOT): --cgroup-root in both xcnid
# calls when the directory is a cgroup v2 mount, else left out with one line
# saying why. cgroup_agent DIR: the agent with XCNI_CGROUP_ROOT=DIR (empty:
# unset), xcnid's arguments in $TMP/cg.out, the entry point's log in $TMP/cg.err.
cgroup_agent() {
	printf '#!/bin/sh\necho "$@"\n' >"$TMP/bin/xcnid"
	chmod 0755 "$TMP/bin/xcnid"
	local cg=()
	[ -z "$1" ] || cg=(XCNI_CGROUP_ROOT="$1")
	env -u XCNI_CGROUP_ROOT "${cg[@]}" PATH=$TMP/bin:$PATH XCNI_RUN_DIR="$ROOTFS/run/xcni" \
		XCNI_CNI_CONF_DIR="$ROOTFS/etc/cni/net.d" \
		bash "$EP" agent --node-name n7 --kube-proxy-replacement >"$TMP/cg.out" 2>"$TMP/cg.err" || return 1
	cat "$TMP/cg.out" "$TMP/cg.err"
}
# cgroup_on DIR: both calls get --cgroup-root DIR after the pod CIDR, nothing logged about it.
cgroup_on() {
	cgroup_agent "$1" || return 1
	[ "$(cat "$TMP/cg.out")" = "--once --pod-cidr 10.244.7.0/24 --cgroup-root $1 --node-name n7 --kube-proxy-replacement
--pod-cidr 10.244.7.0/24 --cgroup-root $1 --node-name n7 --kube-proxy-replacement" ] &&
		! grep -q 'socket LB' "$TMP/cg.err"
}
# cgroup_off DIR FS: neither call gets --cgroup-root; one line says socket LB is
# off, naming DIR, its file system type FS and the cgroup v1 host.
cgroup_off() {
	cgroup_agent "$1" || return 1
	[ "$(cat "$TMP/cg.out")" = "--once --pod-cidr 10.244.7.0/24 --node-name n7 --kube-proxy-replacement
--pod-cidr 10.244.7.0/24 --node-name n7 --kube-proxy-replacement" ] &&
		[ "$(grep -c 'socket LB' "$TMP/cg.err")" = 1 ] &&
		grep -qxF "xcni-entrypoint: socket LB off: $1 is $2, not a cgroup v2 mount (a cgroup v1 host): no --cgroup-root for xcnid, so host-network clients do not reach ClusterIPs" "$TMP/cg.err"
}
# A cgroup v2 mount of this machine: /sys/fs/cgroup on a unified host, else the
# hybrid layout's cgroup2 (/sys/fs/cgroup/unified), as stat -f reports it.
CG2=
for d in /sys/fs/cgroup $(awk '$3 == "cgroup2" { print $2 }' /proc/self/mounts); do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then CG2=$d; break; fi
done
if [ -n "$CG2" ]; then
	check "entrypoint agent: XCNI_CGROUP_ROOT a cgroup v2 mount ($CG2): --cgroup-root in xcnid --once and the exec'd xcnid" \
		cgroup_on "$CG2"
else
	skip "entrypoint agent: XCNI_CGROUP_ROOT a cgroup v2 mount" "no cgroup2 mount on this machine"
fi
mkdir -p "$TMP/notcg"
check "entrypoint agent: XCNI_CGROUP_ROOT not a cgroup v2 mount (a scratch directory): no --cgroup-root, one line saying socket LB is off" \
	cgroup_off "$TMP/notcg" "$(stat -f -c %T "$TMP/notcg")"
fs=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
if [ -n "$fs" ] && [ "$fs" != cgroup2fs ]; then
	check "entrypoint agent: XCNI_CGROUP_ROOT this cgroup v1 host's /sys/fs/cgroup ($fs): no --cgroup-root, one line saying socket LB is off" \
		cgroup_off /sys/fs/cgroup "$fs"
fi
check "entrypoint agent: XCNI_CGROUP_ROOT missing: no --cgroup-root, one line saying socket LB is off" \
	cgroup_off "$TMP/nonexistent" missing
no_cgroup_ok() {
	cgroup_agent "" || return 1
	! grep -q -- --cgroup-root "$TMP/cg.out" && ! grep -q 'socket LB' "$TMP/cg.err"
}
check "entrypoint agent: XCNI_CGROUP_ROOT unset (xcni.yaml): no --cgroup-root, nothing said about socket LB" no_cgroup_ok

# The pod CIDR from a (fake) API server over TLS: the request must be a list of
# nodes with a field selector (the ClusterRole has no get) carrying the token.
if command -v openssl >/dev/null && command -v curl >/dev/null && [ -x $PY ]; then
	SA=$TMP/sa
	mkdir -p "$SA"
	echo -n "tok-$XCT_TAG" >"$SA/token"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$SA/key.pem" -out "$SA/ca.crt" >/dev/null 2>&1
	cat >"$TMP/api.py" <<'EOF'
import http.server, json, os, ssl, sys
sa, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        tok = open(sa + "/token").read()
        # What any other process of the node sees while the request runs:
        # every command line (the client is still waiting for this answer).
        leaks = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as c:
                    if tok.encode() in c.read():
                        leaks.append(pid)
            except OSError:
                pass
        with open(log, "a") as f:
            f.write(f"{self.path} {self.headers.get('Authorization')}\n")
            for pid in leaks:
                f.write(f"LEAK the token on the command line of pid {pid}\n")
        if self.headers.get("Authorization") != "Bearer " + tok:
            self.send_response(401); self.end_headers(); return
        specs = {"kind-worker2": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]},
                 # dual stack: podCIDR is the first of podCIDRs
                 "kind-worker3": {"podCIDR": "10.244.3.0/24",
                                  "podCIDRs": ["10.244.3.0/24", "fd00:10:244:3::/64"]}}
        node = self.path.rpartition("%3D")[2]
        if not self.path.startswith("/api/v1/nodes?fieldSelector=metadata.name%3D") or node not in specs:
            self.send_response(403); self.end_headers(); return
        b = json.dumps({"kind": "NodeList", "apiVersion": "v1", "items": [
            {"metadata": {"name": node}, "spec": specs[node]}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sa + "/ca.crt", sa + "/key.pem")
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
	$PY "$TMP/api.py" "$SA" "$TMP/api.log" >"$TMP/api.port" 2>"$TMP/api.err" &
	API_PID=$!
	for _ in $(seq 50); do [ -s "$TMP/api.port" ] && break; sleep 0.1; done
	api_ok() { # [HOST]
		rm -rf "$ROOTFS/etc/cni/net.d" "$ROOTFS/run/xcni" "$TMP/api.log"
		run_install NODE_NAME=kind-worker2 KUBERNETES_SERVICE_HOST="${1:-127.0.0.1}" \
			KUBERNETES_SERVICE_PORT="$(cat "$TMP/api.port")" XCNI_SA_DIR="$SA" || { cat "$TMP/api.err"; return 1; }
		cat "$TMP/api.log"
		grep -qx 'POD_CIDR=10.244.2.0/24' "$ROOTFS/run/xcni/node.env" &&
			jq -e '.plugins[0].ipam.ranges == [[{"subnet": "10.244.2.0/24"}]]' \
				"$ROOTFS/run/xcni/05-xcni.conflist" &&
			grep -qx "/api/v1/nodes?fieldSelector=metadata.name%3Dkind-worker2 Bearer tok-$XCT_TAG" "$TMP/api.log"
	}
	if [ -s "$TMP/api.port" ]; then
		check "entrypoint install: pod CIDR from the API (list nodes by field selector, token, CA)" api_ok
		# The token read from its file into curl's header, never on a command
		# line (/proc/PID/cmdline: any user of the node, any hostPID pod).
		no_leak() {
			api_ok || return 1
			! grep '^LEAK' "$TMP/api.log"
		}
		check "entrypoint install: the API token is on no process's command line during the request (/proc/*/cmdline)" no_leak
		# Without kube-proxy (kpr-patch.yaml) the host is a node's name, kind-control-plane.
		check "entrypoint install: the API server by host name (KUBERNETES_SERVICE_HOST=localhost, as kpr-patch.yaml names the node)" \
			api_ok localhost
		api_dual_ok() {
			rm -rf "$ROOTFS/etc/cni/net.d" "$ROOTFS/run/xcni" "$TMP/api.log"
			run_install NODE_NAME=kind-worker3 KUBERNETES_SERVICE_HOST=127.0.0.1 \
				KUBERNETES_SERVICE_PORT="$(cat "$TMP/api.port")" XCNI_SA_DIR="$SA" || { cat "$TMP/api.err"; return 1; }
			cat "$ROOTFS/run/xcni/node.env"
			grep -qx 'POD_CIDR=10.244.3.0/24' "$ROOTFS/run/xcni/node.env" &&
				grep -qx 'POD_CIDR6=fd00:10:244:3::/64' "$ROOTFS/run/xcni/node.env" &&
				jq -e '.plugins[0].ipam.ranges == [[{"subnet": "10.244.3.0/24"}], [{"subnet": "fd00:10:244:3::/64"}]]' \
					"$ROOTFS/run/xcni/05-xcni.conflist"
		}
		check "entrypoint install: a dual-stack node's spec.podCIDRs from the API, both families" api_dual_ok
	else
		not_ok "fake API server started"
		sed 's/^/#   /' "$TMP/api.err"
	fi
else
	skip "entrypoint install: pod CIDR from the API" "needs openssl, curl and python3"
fi

finish
