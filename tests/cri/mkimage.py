#!/usr/bin/python3
"""Build a tiny sandbox ("pause") image offline, as a docker-archive tarball
that `ctr images import` understands.

The image has one layer: /bin/busybox (Debian's busybox-static) plus a few
empty directories; its entrypoint sleeps forever. Nothing is downloaded.

usage: mkimage.py [--applets] [--with PATH]... OUT.tar IMAGE_NAME [BUSYBOX_PATH]

--applets: a symlink in /bin for every applet busybox lists (sleep, wget,
httpd, ip...), so a container's command may name one directly.
--with PATH: this machine's program PATH too, at the same path, with the
shared libraries ldd names for it, and an /etc/passwd and /etc/group of root
alone (tests/k8s/life.sh: dnsmasq behind a DNS Service).
"""
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm",
        "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def tar_add_bytes(tf, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = 0
    tf.addfile(ti, io.BytesIO(data))


def ldd_files(prog):
    """prog and the libraries ldd resolves for it (and the loader)."""
    out = subprocess.run(["ldd", prog], check=True, capture_output=True, text=True).stdout
    files = [prog]
    for line in out.splitlines():
        w = line.split()
        if "=>" in w and len(w) > w.index("=>") + 1 and w[w.index("=>") + 1].startswith("/"):
            files.append(w[w.index("=>") + 1])
        elif w and w[0].startswith("/"):
            files.append(w[0])
    return files


def add_with(tf, progs):
    dirs, files = set(), []
    for prog in progs:
        for f in ldd_files(prog):
            if f not in files:
                files.append(f)
    for f in files:
        d = os.path.dirname(f.lstrip("/"))
        while d and d not in dirs:
            dirs.add(d)
            d = os.path.dirname(d)
    for d in sorted(dirs - {"bin", "etc"}):
        ti = tarfile.TarInfo(d)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        ti.mtime = 0
        tf.addfile(ti)
    for f in files:
        with open(os.path.realpath(f), "rb") as fh:
            tar_add_bytes(tf, f.lstrip("/"), fh.read(), 0o755)
    tar_add_bytes(tf, "etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")
    tar_add_bytes(tf, "etc/group", b"root:x:0:\n")


def build_layer(busybox, applets=(), progs=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o1777 if d == "tmp" else 0o755
            ti.mtime = 0
            tf.addfile(ti)
        with open(busybox, "rb") as f:
            tar_add_bytes(tf, "bin/busybox", f.read(), 0o755)
        for name in sorted({"sh", *applets} - {"busybox"}):
            ti = tarfile.TarInfo("bin/" + name)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            ti.mode = 0o777
            ti.mtime = 0
            tf.addfile(ti)
        if progs:
            add_with(tf, progs)
    return buf.getvalue()


def main():
    args = sys.argv[1:]
    with_applets = "--applets" in args
    args = [a for a in args if a != "--applets"]
    progs = []
    while "--with" in args:
        i = args.index("--with")
        if i + 1 >= len(args):
            sys.exit("mkimage.py: --with needs a PATH")
        progs.append(args[i + 1])
        del args[i:i + 2]
    if len(args) not in (2, 3):
        sys.exit(__doc__)
    out, name = args[0], args[1]
    busybox = args[2] if len(args) == 3 else "/bin/busybox"
    applets = ()
    if with_applets:
        applets = [a for a in subprocess.run([busybox, "--list"], check=True, capture_output=True,
                                             text=True).stdout.split() if "/" not in a]

    layer = build_layer(busybox, applets, progs)
    layer_sha = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": ARCH.get(platform.machine(), platform.machine()),
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/busybox", "sleep", "2147483647"],
            "Env": ["PATH=/bin"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_sha]},
        "history": [{"created_by": "xcni tests/cri/mkimage.py"}],
    }
    config_b = json.dumps(config, sort_keys=True).encode()
    config_sha = hashlib.sha256(config_b).hexdigest()
    manifest = [{
        "Config": config_sha + ".json",
        "RepoTags": [name],
        "Layers": [layer_sha + "/layer.tar"],
    }]

    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo(layer_sha)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tf.addfile(ti)
        tar_add_bytes(tf, layer_sha + "/layer.tar", layer)
        tar_add_bytes(tf, config_sha + ".json", config_b)
        tar_add_bytes(tf, "manifest.json", json.dumps(manifest).encode())


if __name__ == "__main__":
    main()
