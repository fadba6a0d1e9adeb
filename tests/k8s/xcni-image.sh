#!/bin/bash
# The xcni image of examples/kind (xcni:dev) built offline from this build, as
# a docker archive that `ctr images import` takes (no registry, no Dockerfile
# run): what examples/kind/Dockerfile's image holds for the DaemonSet's entry
# point, from the files of this machine instead of Debian packages:
#   /usr/local/bin/{xcni,xcnid,xcnictl,xcni-entrypoint}
#   /usr/local/lib/xcni/node/xcni (+ xcni.d/: the plugin for the node, linked
#     against /opt/cni/bin/xcni.d as the Dockerfile links it, its libraries and
#     loader beside it), /usr/local/lib/xcni/cni/{host-local,loopback,portmap}
#   bash, jq, curl, nft and the shared libraries of everything (ldd), and
#   busybox-static's applets for the rest of what the entry point runs (awk,
#   sed, grep, mount, stat, cp, mv, ...).
#
#   tests/k8s/xcni-image.sh OUT.tar [NAME]     NAME default xcni:dev
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUT=$1
NAME=${2:-xcni:dev}
T=$(mktemp -d /tmp/xcni-image.XXXXXX)
trap 'rm -rf "$T"' EXIT
R=$T/root
mkdir -p "$R"/{bin,usr/local/bin,usr/local/lib/xcni/node,usr/local/lib/xcni/cni,tmp,etc,proc,sys,dev,run,var/lib}
chmod 1777 "$R/tmp"

# The plugin for the node, as the Dockerfile's stage 1 makes it.
interp=$(readelf -l "$BUILD/xcni" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
make -s -C "$ROOT" BUILD="$BUILD/node" \
	CFLAGS="-O2 -g -Wl,--dynamic-linker=/opt/cni/bin/xcni.d/$(basename "$interp") -Wl,--disable-new-dtags,-rpath,/opt/cni/bin/xcni.d -Wl,--as-needed" \
	"$BUILD/node/xcni" >/dev/null
cp "$BUILD/node/xcni" "$R/usr/local/lib/xcni/node/xcni"
sh "$ROOT/examples/kind/imagetool.sh" node-plugin "$BUILD/node/xcni" "$R/usr/local/lib/xcni/node/xcni.d"
cp /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap "$R/usr/local/lib/xcni/cni/"
cp "$BUILD/xcni" "$BUILD/xcnid" "$BUILD/xcnictl" "$R/usr/local/bin/"
install -m 0755 "$ROOT/examples/kind/entrypoint.sh" "$R/usr/local/bin/xcni-entrypoint"

# bash, jq, curl, nft and the libraries (and loader) of every binary, at the
# paths ldd resolves them to.
bins=("$BUILD/xcni" "$BUILD/xcnid" "$BUILD/xcnictl" /usr/bin/bash /usr/bin/jq /usr/bin/curl /usr/sbin/nft)
for b in /usr/bin/bash /usr/bin/jq /usr/bin/curl /usr/sbin/nft; do cp "$b" "$R/bin/"; done
for b in "${bins[@]}"; do
	ldd "$b" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}'
done | sort -u | while read -r l; do
	mkdir -p "$R$(dirname "$l")"
	cp -L "$l" "$R$l"
done
# Merged /usr: the loader is asked for as /lib64/..., libraries found in /lib/...
for d in lib lib64; do
	if [ -d "$R/usr/$d" ] && [ ! -e "$R/$d" ]; then
		cp -a "$R/usr/$d/." "$R/$d/" 2>/dev/null || { mkdir -p "$R/$d"; cp -a "$R/usr/$d/." "$R/$d/"; }
	fi
done
# busybox's applets for the rest (not over bash, jq, curl, nft).
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
	[ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done
ln -sf bash "$R/bin/sh"
ln -s ../../bin "$R/usr/bin"
ln -s ../bin "$R/usr/sbin"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"

python3 - "$R" "$OUT" "$NAME" <<'PY'
import hashlib, io, json, os, platform, sys, tarfile
root, out, name = sys.argv[1:]
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs) + sorted(files):
            p = os.path.join(d, n)
            ti = tf.gettarinfo(p, os.path.relpath(p, root))
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = 0
            if ti.isfile():
                with open(p, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
layer = buf.getvalue()
lsha = hashlib.sha256(layer).hexdigest()
config = {"architecture": ARCH.get(platform.machine(), platform.machine()), "os": "linux",
          "config": {"Entrypoint": ["/usr/local/bin/xcni-entrypoint"], "Cmd": ["agent"],
                     "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                     "WorkingDir": "/"},
          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + lsha]},
          "history": [{"created_by": "xcni tests/k8s/xcni-image.sh"}]}
cb = json.dumps(config, sort_keys=True).encode()
csha = hashlib.sha256(cb).hexdigest()
def add(tf, n, data):
    ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
    add(tf, lsha + "/layer.tar", layer)
    add(tf, csha + ".json", cb)
    add(tf, "manifest.json", json.dumps([{"Config": csha + ".json", "RepoTags": [name],
                                          "Layers": [lsha + "/layer.tar"]}]).encode())
PY
echo "$OUT: $NAME, $(du -h "$OUT" | cut -f1)" >&2
