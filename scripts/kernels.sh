#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The kernel matrix (issue 66): boots Debian's kernels in qemu and runs a command
# inside each, with this machine's installed system (Debian packages, from
# scripts/install-deps.sh) as the guest's read-only root and the build tree in it.
#
#     bash scripts/kernels.sh fetch [KERNEL...]        download + unpack (cached)
#     bash scripts/kernels.sh run KERNEL CMD...        boot KERNEL, run CMD (bash -c)
#                                                      in the repository; its exit status
#     bash scripts/kernels.sh matrix [KERNEL...]       the suites below on each kernel
#                                                      (default 6.1 6.12 5.10)
#     bash scripts/kernels.sh accel                    KVM or TCG: what the VMs get
#     bash scripts/kernels.sh self-test                the runner's own checks (no VM)
#
# KERNEL is 6.1 (Debian 12's, via linux-image-amd64) or 6.12 (bookworm-backports,
# via linux-image-6.12-amd64), 5.10 (Debian 11's, bullseye's linux-image-amd64,
# through a private apt list under the cache: the host's /etc/apt untouched;
# below xcni's minimum: the matrix checks that xcnid refuses it, naming the
# probe, exit 3), or a full package name linux-image-<version>.
# The packages are fetched with apt-get download into /var/cache/xcni/kernels
# (XCNI_KERNEL_CACHE) and unpacked there; nothing is installed on the host.
# The guest: qemu with KVM where /dev/kvm opens, TCG (software) otherwise
# (each run and the matrix's table say which);
# XCNI_VM_CPUS (2) vCPUs, XCNI_VM_MEM (6144) MiB, no network device (but with
# XCNI_VM_NICS=2: eth0 and eth1, two multi-queue virtio-net NICs on one wire, below); the host's /
# shared read-only over virtio-9p and a per-run directory read-write (the
# command's output and exit status come back there); the kernel's own modules
# are shared over /lib/modules. The VM is killed by its PID after
# XCNI_VM_TIMEOUT seconds (5400). Nothing is left on the host but the cache.
# The matrix runs the verifier budget, the packet tests and the lab suites
# XCNI_KERNEL_LABS (default: lab-demo lab-overlay lab-nodeport-kpr-3nodes
# lab-conntest, the last checking the kernel's fallbacks in the agents' logs), and
# XCNI_KERNEL_NIC_LABS (lab-decap-xdp lab-npaccel-native-dual: Geneve decapsulated
# at XDP, the NodePort fast path and its flow cache, native XDP) with node n1's
# underlay on the guest's virtio-net NICs (XCNI_LAB_UL_NIC=eth0:eth1).
# XCNI_KERNEL_STEPS picks them (budget packets labs nic; make kernels KERNEL_STEPS=nic
# KERNELS=6.12 runs the NIC suites alone).
set -euo pipefail

CACHE=${XCNI_KERNEL_CACHE:-/var/cache/xcni/kernels}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CPUS=${XCNI_VM_CPUS:-2}
MEM=${XCNI_VM_MEM:-6144}
TIMEOUT=${XCNI_VM_TIMEOUT:-5400}
LABS=${XCNI_KERNEL_LABS-lab-demo lab-overlay lab-nodeport-kpr-3nodes lab-conntest}
NIC_LABS=${XCNI_KERNEL_NIC_LABS-lab-decap-xdp lab-npaccel-native-dual}
NICS=${XCNI_VM_NICS:-0}
# The matrix's steps in each VM, any of: budget packets labs nic.
STEPS=${XCNI_KERNEL_STEPS:-budget packets labs nic}
# The modules the initramfs loads to reach the 9p shares (their dependencies too).
BOOT_MODS="virtio_pci 9pnet_virtio 9p overlay"

die() { echo "kernels: $*" >&2; exit 1; }

# apt's options for bullseye (5.10): its lists under the cache, from the host's
# own Debian mirror (its first URIs line); only download and depends use them.
APT=()
bullseye_apt() {
	local d=$CACHE/apt-bullseye uri
	APT=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$d" -o "Dir::State::Lists=$d/lists"
		-o "Dir::Cache=$d/cache" -o APT::Architectures=amd64)
	[ -e "$d/lists/.done" ] && return
	uri=$(awk '$1 == "URIs:" && $2 ~ /\/debian$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
	[ -n "$uri" ] || die "5.10: no Debian mirror in /etc/apt/sources.list.d/*.sources"
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	printf 'Types: deb\nURIs: %s\nSuites: bullseye\nComponents: main\nSigned-By: %s\n' "$uri" \
		/usr/share/keyrings/debian-archive-keyring.gpg >"$d/bullseye.sources"
	apt-get -q "${APT[@]}" update >&2 || die "5.10: apt-get update of bullseye failed (does the archive serve it?)"
	touch "$d/lists/.done"
}

# The linux-image package a KERNEL name stands for.
package() {
	local meta
	case $1 in
	6.1) meta=linux-image-amd64 ;;
	6.12) meta=linux-image-6.12-amd64 ;;
	5.10) meta=linux-image-amd64; bullseye_apt ;;
	linux-image-*) echo "$1"; return ;;
	*) die "$1: unknown kernel (6.1, 6.12, 5.10 or linux-image-<version>)" ;;
	esac
	# The meta package's bookworm version (not backports') for 6.1.
	local ver=""
	[ "$1" = 6.1 ] && ver="=$(apt-cache madison "$meta" |
		awk -F'|' '$2 !~ /bpo/ {gsub(/ /, "", $2); print $2; exit}')"
	[ "$ver" = "=" ] && ver=""
	apt-cache "${APT[@]}" depends "$meta$ver" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}' |
		grep . || die "$1: no package behind $meta (apt-get update?)"
}

# Downloads and unpacks one kernel: prints its directory.
fetch() {
	local pkg dir key
	# One fetch at a time on the machine: two runs filling the cache at once
	# would unpack (and update bullseye's lists) over each other.
	mkdir -p "$CACHE"
	exec 9>"$CACHE/../kernels.init.lock"
	flock 9
	pkg=$(package "$1")
	[ "$1" = 5.10 ] && bullseye_apt
	dir=$CACHE/${pkg#linux-image-}
	if [ ! -e "$dir/.done" ]; then
		mkdir -p "$CACHE/debs"
		(cd "$CACHE/debs" && ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download -q "${APT[@]}" "$pkg" >&2) ||
			die "$pkg: apt-get download failed"
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		dpkg-deb -x "$(ls "$CACHE/debs/$pkg"_*.deb | head -n1)" "$dir.tmp"
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
		touch "$dir/.done"
	fi
	# Remade when what goes into it changes (its /init, the module list, how it is
	# made), by their hash: not by the files' times, which a fresh checkout makes
	# newer than the shared cache's initrd (every worktree rebuilt it).
	key=$({ cat "$ROOT/scripts/kernels-init.sh"; echo "$BOOT_MODS"; declare -f initramfs; } | sha256sum)
	if [ ! -e "$dir/initrd.gz" ] || [ "$(cat "$dir/initrd.key" 2>/dev/null)" != "${key%% *}" ]; then
		initramfs "$dir"
		echo "${key%% *}" >"$dir/initrd.key"
	fi
	exec 9>&-
	echo "$dir"
}

# The initramfs: busybox-static, the 9p modules (decompressed: busybox's insmod
# reads plain .ko) and /init, which mounts the host's / and chroots into it.
initramfs() {
	local dir=$1 kver mdir tmp m dep
	kver=$(ls "$dir/lib/modules")
	mdir=$dir/lib/modules/$kver
	depmod -b "$dir" "$kver" 2>/dev/null || true
	tmp=$(mktemp -d)
	mkdir -p "$tmp/bin" "$tmp/mods" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/newroot"
	cp /bin/busybox "$tmp/bin/busybox"
	# Each module after its dependencies (modules.dep lists them, deepest last).
	: >"$tmp/mods/order"
	for m in $BOOT_MODS; do
		dep=$(modprobe -d "$dir" -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" {print $2}') || true
		for f in $dep; do
			local b
			b=$(basename "$f")
			b=${b%.xz}; b=${b%.zst}
			grep -qx "$b" "$tmp/mods/order" && continue
			case $f in
			*.xz) xz -dc "$f" >"$tmp/mods/$b" ;;
			*.zst) zstd -qdc "$f" >"$tmp/mods/$b" ;;
			*) cp "$f" "$tmp/mods/$b" ;;
			esac
			echo "$b" >>"$tmp/mods/order"
		done
	done
	cp "$ROOT/scripts/kernels-init.sh" "$tmp/init"
	chmod 755 "$tmp/init"
	(cd "$tmp" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$dir/initrd.gz"
	rm -rf "$tmp"
	ls "$dir"/boot/vmlinuz-* >/dev/null || die "$dir: no vmlinuz"
}

# Boots KERNEL's directory, runs $2 (a bash -c string) in the repository; its
# output on stdout, its exit status as ours (124 on timeout, 125 if it never ran).
run() {
	local dir=$1 cmd=$2 accel vmaccel=tcg rc=125 t0 nics=(-nic none) inns=()
	command -v qemu-system-x86_64 >/dev/null ||
		die "qemu-system-x86_64 not found (scripts/install-deps.sh installs qemu-system-x86)"
	out=$(mktemp -d "${TMPDIR:-/tmp}/xcni-vm.XXXXXX")
	# However the run ends (done, timed out, interrupted): the VM killed by its
	# PID, the run's netns deleted by its name, the run directory removed.
	trap run_cleanup EXIT
	trap 'exit 143' TERM INT HUP
	if [ "$NICS" = 2 ]; then
		# Two NICs, two ends of one wire: their taps bridged in a netns of
		# this run's own (qemu started in it), deleted by name with all in it.
		# 4 queue pairs a NIC: 2 for the 2 vCPUs' traffic, and virtio-net's
		# native XDP wants one more per CPU for XDP_TX, else it falls back to
		# a locked shared queue ("XDP_TX and XDP_REDIRECT will operate in a
		# slower locked tx mode"); vectors = 2 x queues + 2. No option ROM
		# (romfile=): the guest boots by -kernel, iPXE only slowed TCG's boot.
		ns=xcni-vm$$
		ip netns add "$ns" || die "ip netns add $ns failed"
		ip -n "$ns" link add vbr0 type bridge
		for i in 0 1; do
			ip -n "$ns" tuntap add dev "vt$i" mode tap multi_queue &&
				ip -n "$ns" link set "vt$i" master vbr0 up || die "$ns: tap vt$i failed"
			nics+=(-netdev "tap,id=n$i,ifname=vt$i,script=no,downscript=no,queues=4"
				-device "virtio-net-pci,netdev=n$i,mq=on,vectors=10,mac=52:54:00:77:00:0$i,romfile=")
		done
		ip -n "$ns" link set vbr0 up
		nics=("${nics[@]:2}") # not -nic none
		inns=(ip netns exec "$ns")
		# No udev in the guest to load the driver; without it eth0 and eth1 do not appear.
		cmd="modprobe virtio_net && sleep 1; $cmd"
	fi
	accel="-accel tcg,thread=multi -cpu max"
	[ "$(accel)" != KVM ] || accel="-accel kvm -cpu host" vmaccel=kvm
	echo "kernels: $(basename "$dir"): booting under $(accel)" >&2
	# The suites' time-bound checks that a TCG guest cannot keep read it (tests/lab/).
	printf 'cd %q\nexport XCNI_VM_ACCEL=%s\n%s\n' "$ROOT" "$vmaccel" "$cmd" >"$out/cmd.sh"
	t0=$(date +%s)
	# no_timer_check: under TCG on a busy host 6.1 panicked at boot ("IO-APIC +
	# timer doesn't work"), its timer check too slow for the emulated clock.
	# shellcheck disable=SC2086
	"${inns[@]}" qemu-system-x86_64 $accel -smp "$CPUS" -m "$MEM" -nographic -no-reboot \
		"${nics[@]}" -serial "file:$out/console" -monitor none \
		-kernel "$(ls "$dir"/boot/vmlinuz-* | head -n1)" -initrd "$dir/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet no_timer_check" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$dir/lib/modules,mount_tag=mods,security_model=none,readonly=on" \
		-virtfs "local,path=$out,mount_tag=out,security_model=none" \
		</dev/null >"$out/qemu.log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ $(($(date +%s) - t0)) -ge "$TIMEOUT" ]; then
			kill "$pid" 2>/dev/null || true
			echo "kernels: $(basename "$dir"): timed out after ${TIMEOUT}s: VM $pid killed" >&2
			rc=124
			break
		fi
		sleep 2
	done
	wait "$pid" 2>/dev/null || true
	pid="" # reaped: its number may be another process's now
	[ -s "$out/log" ] && cat "$out/log"
	if [ -n "${XCNI_VM_RESULTS:-}" ]; then
		# The console too: a guest kernel's oops is there and nowhere else.
		mkdir -p "$XCNI_VM_RESULTS"
		cp "$out/console" "$XCNI_VM_RESULTS/console"
		[ ! -d "$out/results" ] || cp -r "$out/results/." "$XCNI_VM_RESULTS/"
	fi
	if [ -s "$out/rc" ]; then
		rc=$(cat "$out/rc")
	elif [ "$rc" = 125 ]; then
		echo "kernels: $(basename "$dir"): the command never ran; console tail:" >&2
		tail -n 30 "$out/console" >&2 || true
		cat "$out/qemu.log" >&2 || true
	fi
	echo "kernels: $(basename "$dir"): exit $rc in $(($(date +%s) - t0))s ($(accel))" >&2
	run_cleanup
	trap - EXIT TERM INT HUP
	return "$rc"
}
# The accelerator a VM gets (XCNI_VM_ACCEL=kvm or tcg forces one): KVM where
# /dev/kvm opens for reading and writing and is hardware virtualisation
# (kvm_intel, kvm_amd), else TCG, software emulation (30-50x slower). A
# /dev/kvm served by kvm_pvm (a nested host's software KVM, no VMX) opens and
# creates VMs, but Debian's 6.1 and 6.12 stopped right after decompression
# under it (the host: `kvm-pvm: INTERNAL_ERROR in batch emul`): TCG there.
accel() {
	case ${XCNI_VM_ACCEL:-} in kvm) echo KVM; return ;; tcg) echo TCG; return ;; esac
	if (exec 3<>/dev/kvm) 2>/dev/null && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
		echo KVM
	elif [ -d /sys/module/kvm_pvm ]; then
		echo "TCG (/dev/kvm is kvm_pvm, which Debian's kernels do not boot under)"
	else
		echo TCG
	fi
}
# The run's VM (pid), netns (ns) and directory (out): what run leaves nowhere.
pid="" ns="" out=""
run_cleanup() {
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		echo "kernels: VM $pid killed" >&2
		wait "$pid" 2>/dev/null || true
	fi
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true
	[ -z "$out" ] || rm -rf "$out"
	pid="" ns="" out=""
}

# The suites run inside each VM: the verifier budget against the kernel's own
# table (written there on a kernel's first run: commit it), the packet tests.
# Each leaves NAME.log and a line "NAME EXIT SECONDS" in summary.
INNER='
r=/tmp/out/results; mkdir -p $r
ulimit -n 65536  # test_bpf opens every skeleton: 1024 (no PAM in the VM) ran out on 6.12
# A suite gets an hour, not tests/run.sh'"'"'s 20 minutes: under TCG lab-decap-xdp
# alone took longer; the VM'"'"'s own bound (XCNI_VM_TIMEOUT) is over them all.
export XCNI_SUITE_TIMEOUT=${XCNI_SUITE_TIMEOUT:-3600}
kv=$(uname -r | cut -d. -f1,2)
step() { n=$1; shift; s=$(date +%s); "$@" >$r/$n.log 2>&1; echo "$n $? $(($(date +%s) - s))" >>$r/summary; }
has() { case " $STEPS " in *" $1 "*) ;; *) return 1 ;; esac; }
if ! has budget; then :
elif [ -e tests/verifier/budget.$kv.tsv ]; then
	step verifier-budget python3 tests/verifier/budget.py
else
	XCNI_BUDGET_TABLE=$r/budget.$kv.tsv step verifier-budget python3 tests/verifier/budget.py --write
	cp $r/budget.$kv.tsv $r/verifier-budget.tsv 2>/dev/null
fi
has packets && step bpf-packets "$BUILD/tests/test_bpf"
# Lab suites with traffic (XCNI_KERNEL_LABS): 2 and 3 nodes, policy, Services,
# the Geneve overlay, NodePort from the outside host; each its own step.
has labs && for l in $LABS; do step "$l" env XCNI_SUITES="$l" bash tests/run.sh; done
# Native XDP on a real driver: node n1 with the NICs as its underlay (XCNI_VM_NICS=2;
# without them each step fails, naming what is missing).
has nic && for l in $NIC_LABS; do
	step "$l-virtio" env XCNI_LAB_UL_NIC=eth0:eth1 XCNI_SUITES="$l" bash tests/run.sh
done
# The VM'"'"'s exit status: 1 if a step failed, else 0 (not the last test'"'"'s).
! grep -qv " 0 [0-9]*$" $r/summary
'

# A kernel below the minimum (5.10) runs this instead: xcnid refuses it before
# anything changes, naming the probe it lacks, exit 3, nothing pinned.
REFUSE='
r=/tmp/out/results; mkdir -p $r; s=$(date +%s); mkdir -p /tmp/m
$BUILD/xcnid --manifests /tmp/m --pod-cidr 10.244.9.0/24 --once >$r/xcnid-refuses.log 2>&1
rc=$?; echo "exit $rc" >>$r/xcnid-refuses.log
[ $rc = 3 ] && grep -q "lacks bpf_check_mtu (Linux >= 5.12; .*refusing to start" $r/xcnid-refuses.log &&
	[ -z "$(ls -A /sys/fs/bpf)" ] && echo "1 passed, 0 failed" >>$r/xcnid-refuses.log
echo "xcnid-refuses $? $(($(date +%s) - s))" >>$r/summary
'

# Each kernel's VM runs INNER (REFUSE for 5.10) with BUILD's binaries; results in the repository's
# build/kernels/KERNEL (XCNI_KERNEL_RESULTS); a table at the end.
matrix() {
	local k dir res build=${BUILD:-$ROOT/build} fail=0 rows="" inner
	NICS=${XCNI_VM_NICS:-2} # the virtio-net step (NIC_LABS) wants them
	for k in $STEPS; do
		case $k in budget|packets|labs|nic) ;; *) die "XCNI_KERNEL_STEPS: $k: want budget, packets, labs or nic" ;; esac
	done
	for k; do
		dir=$(fetch "$k")
		res=${XCNI_KERNEL_RESULTS:-$ROOT/build/kernels}/$k
		rm -rf "$res"
		mkdir -p "$res"
		inner=$INNER
		[ "$k" = 5.10 ] && inner=$REFUSE
		XCNI_VM_RESULTS=$res run "$dir" "export BUILD=$build LABS='$LABS' NIC_LABS='$NIC_LABS' STEPS='$STEPS'; $inner" >"$res/vm.log" 2>&1 || true
		tail -n 1 "$res/vm.log"
		if [ ! -s "$res/summary" ]; then
			rows+="$k $(basename "$dir") vm-failed - -"$'\n'
			fail=1
			continue
		fi
		while read -r n rc secs; do
			local c
			c=$(counts "$res/$n.log")
			rows+="$k $(basename "$dir") $n $([ "$rc" = 0 ] && echo pass || echo "FAIL($rc)") ${secs}s ${c// /_}"$'\n'
			[ "$rc" = 0 ] || fail=1
		done <"$res/summary"
	done
	echo "kernels: accelerator $(accel)"
	printf 'kernel package suite result time counts\n%s' "$rows" | column -t
	return $fail
}

# A step log's counts: a suite's "N passed, M failed" (TAP) or the budget's rows,
# else test_bpf's (cmocka's) passed, skipped and failed. A log with none gives
# nothing and must not end the table under set -e.
counts() {
	local c
	c=$(grep -E '^[0-9]+ passed, [0-9]+ failed|rows; largest' "$1" | tail -n 1 | cut -c1-60 || true)
	[ -n "$c" ] || c=$(awk '$1 == "[" && $3 == "]" && $4 ~ /^[0-9]+$/ {n[$2] = $4}
		END {if ("PASSED" in n) printf "%d passed, %d skipped, %d failed", n["PASSED"], n["SKIPPED"], n["FAILED"]}' "$1" 2>/dev/null || true)
	echo "$c"
}

self_test() {
	local n=0 bad=0 tmp
	tmp=$(mktemp)
	check() { n=$((n + 1)); if "$@" >/dev/null 2>&1; then echo "ok $n - $*"; else echo "not ok $n - $*"; bad=$((bad + 1)); fi; }
	echo "1..9"
	check bash -n "$ROOT/scripts/kernels.sh"
	check sh -n "$ROOT/scripts/kernels-init.sh"
	check bash -n -c "$INNER"
	check bash -n -c "$REFUSE"
	check bash -c "! bash '$ROOT/scripts/kernels.sh' run 5.99 true"
	check bash -c "! bash '$ROOT/scripts/kernels.sh' nosuchverb"
	check bash -c "bash '$ROOT/scripts/kernels.sh' accel | grep -Eq '^(KVM|TCG)' && [ \"\$(XCNI_VM_ACCEL=tcg bash '$ROOT/scripts/kernels.sh' accel)\" = TCG ]"
	check bash -c "XCNI_KERNEL_STEPS='nic bogus' bash '$ROOT/scripts/kernels.sh' matrix 6.12 2>&1 | grep -q 'bogus: want'"
	# test_bpf's counts, skips and failures too (cmocka's summary lines).
	printf '[  PASSED  ] 7 test(s).\n[  SKIPPED ] 2 test(s), listed below:\n[  SKIPPED ] a\n[  FAILED  ] 1 test(s), listed below:\n' >"$tmp"
	check test "$(counts "$tmp")" = "7 passed, 2 skipped, 1 failed"
	rm -f "$tmp"
	echo "$((n - bad)) passed, $bad failed"
	[ "$bad" -eq 0 ]
}

verb=${1:-matrix}
shift || true
case $verb in
fetch)
	for k in "${@:-6.1 6.12}"; do fetch "$k"; done ;;
run)
	[ $# -ge 2 ] || die "run KERNEL CMD"
	k=$1; shift
	case $k in 6.1|6.12|5.10|linux-image-*) ;; *) die "$k: unknown kernel (6.1, 6.12, 5.10 or linux-image-<version>)" ;; esac
	dir=$(fetch "$k")
	run "$dir" "$*" ;;
matrix)
	[ $# -gt 0 ] || set -- 6.1 6.12 5.10
	matrix "$@" ;;
self-test) self_test ;;
accel) accel ;;
*) die "$verb: want fetch, run, matrix, accel or self-test" ;;
esac
