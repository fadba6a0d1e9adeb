#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of scripts/kernels.sh's initramfs: load the 9p modules, mount the host's /
# (read-only, a RAM layer over it), this kernel's modules and the run directory over 9p, run the
# command in the host's system (switch_root), leave its exit status in the run
# directory, power off.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in $($B cat /mods/order); do $B insmod /mods/$m || echo "init: insmod $m failed"; done
o=trans=virtio,version=9p2000.L,msize=512000
# The host's / read-only under a RAM upper layer: the guest writes (/lib/modules,
# /var, /etc) stay in the guest.
$B mkdir -p /lower /rw
$B mount -t 9p -o $o,ro host /lower || { echo "init: 9p root failed"; $B poweroff -f; }
$B mount -t tmpfs rw /rw
$B mkdir -p /rw/upper /rw/work
$B mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot ||
	{ echo "init: overlay root failed"; $B poweroff -f; }
N=/newroot
$B mkdir -p $N/lib/modules
$B mount -t proc proc $N/proc
$B mount -t sysfs sys $N/sys
$B mount -t devtmpfs dev $N/dev
# What udev and systemd make on a booted system, which bash and the tests use.
$B ln -s /proc/self/fd $N/dev/fd
$B mkdir -p $N/dev/pts $N/dev/shm
$B mount -t devpts devpts $N/dev/pts
$B mount -t tmpfs shm $N/dev/shm
$B mount -t cgroup2 cgroup2 $N/sys/fs/cgroup
$B mount -t tmpfs tmp $N/tmp
$B mount -t tmpfs run $N/run
$B mount -t bpf bpf $N/sys/fs/bpf
$B mount -t 9p -o $o,ro mods $N/lib/modules
$B mkdir -p $N/tmp/out
$B mount -t 9p -o $o out $N/tmp/out
$B hostname xcni-vm
# switch_root, not chroot: the kernel's module requests (veth, clsact) run
# /sbin/modprobe in PID 1's root, which must be the host's system.
exec $B switch_root $N /bin/bash -c 'ip link set lo up
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
{ echo "# kernel: $(uname -r)"; bash /tmp/out/cmd.sh; } >/tmp/out/log 2>&1
echo $? >/tmp/out/rc
sync
echo o >/proc/sysrq-trigger
sleep 60'
