/* SPDX-License-Identifier: Apache-2.0 */
/* Where xcnid pins things, shared by xcnid, the plugin and xcnictl. */
#ifndef XCNI_BPFPIN_H
#define XCNI_BPFPIN_H

#include <linux/bpf.h>

/* The links pinned for TCX (the plugin's and attach.c's); the UAPI of Linux
 * < 6.6 lacks these, the kernel's values (include/uapi/linux/bpf.h). */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif
#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#endif

#define XCNI_PIN_PROG_FROM_POD "prog_from_pod"
#define XCNI_PIN_PROG_TO_POD "prog_to_pod"
#define XCNI_PIN_PODCALLS "xcni_podcalls" /* from_pod's tail call to from_pod6 */
#define XCNI_PIN_OVLCALLS "xcni_ovlcalls" /* from_overlay's tail calls to its steps */
#define XCNI_PIN_LINKS "links" /* links/<host-if>-in, links/<host-if>-out */
/* The node's own attachments under links/, next to the pods' ones. */
#define XCNI_LINK_UNDERLAY_IN "node-underlay-tc"
#define XCNI_LINK_UNDERLAY_XDP "node-underlay-xdp"
#define XCNI_LINK_OVERLAY_OUT "node-overlay-tc"
/* to_underlay on the underlay's egress: Geneve from a socket is dropped there. */
#define XCNI_LINK_UNDERLAY_OUT "node-underlay-out"
/* Socket-level load balancing on the cgroup of --cgroup-root: node-sock-<hook>. */
#define XCNI_LINK_SOCK_PREFIX "node-sock-"
#define XCNI_OVERLAY_DEV "xcni0" /* where the host routes the other nodes' pod CIDRs */
/*
 * --overlay-decap xdp: the decapsulation record's cookie (struct
 * xcni_decap_meta), kept across agent restarts in a one-entry array (key
 * __u32 0, value __u32[2]) pinned here with mode 0600, read by no program.
 */
#define XCNI_PIN_DECAP_COOKIE "xcni_dcookie"

#include <stddef.h>
/* Pins fd (a program, a map) at dir/name without a moment where the path is missing. */
int xcni_pin_atomic(int fd, const char *dir, const char *name);
/* The object pinned as dir/name: its fd, or -errno (-ENAMETOOLONG for a path too long). */
int xcni_pin_get(const char *dir, const char *name);
struct bpf_map_info;
/* The map pinned as dir/name: its fd and *info, or -errno (not said). */
int xcni_pin_info(const char *dir, const char *name, struct bpf_map_info *info);
/* Entry 0 of the array pinned as dir/name into val (size bytes, its value's size):
 * 0, -EPROTO for a map of another layout, or -errno. */
int xcni_pin_read0(const char *dir, const char *name, void *val, size_t size);

/*
 * Opens the map pinned as dir/name (logging why not); with max, also reads its
 * max_entries there. The fd, or -errno.
 */
int xcni_map_open_pinned(const char *dir, const char *name, size_t *max);

/*
 * The kernel memory a map holds (fd's fdinfo memlock, bpftool's
 * bytes_memlock: preallocated entries, or a bucket array and the entries in
 * use), a map of maps' with its inner maps', or 0.
 */
unsigned long long xcni_fd_memlock(int fd);
/*
 * The entries of a hash or LPM map (the conntrack map's expired ones too,
 * until reused), key by key, walking at most cap keys (a walk racing deletes
 * may revisit some); -errno on error.
 */
long xcni_map_entries(int fd, unsigned int key_size, long cap);
/* Entry key of per-CPU map fd, a struct of __u64 counters size bytes long,
 * summed over the possible CPUs into sum: 0, or -errno (-ENOENT: no such entry). */
int xcni_percpu_sum(int fd, const void *key, void *sum, size_t size);

/* Routes libbpf's messages into the leveled logger. */
void xcni_libbpf_log_init(void);
/*
 * xcni_config is one value that xcnid (at start and per generation) and
 * `xcnictl config set` both read, change and write back whole: each does so
 * holding this lock, a flock on the pin directory. Returns the fd to close
 * (which unlocks) or -errno.
 */
int xcni_config_lock(const char *pin_dir);
/* Mounts bpffs at /sys/fs/bpf if nothing is mounted there; 0 or -errno. */
int xcni_bpffs_ensure(const char *pin_dir);
/*
 * Makes the link pinned at path run prog_fd: updates it in place when it
 * exists (the device never goes without a program), else creates the link
 * (bpf_link_create: type, ifindex, flags e.g. XDP mode) and pins it.
 * 0 or -errno.
 */
int xcni_link_pinned(const char *path, int prog_fd, int ifindex, int type, unsigned int flags);
/* Creates the link (as above) and pins it at path, which must be free. 0 or -errno. */
int xcni_link_pin(const char *path, int prog_fd, int ifindex, int type, unsigned int flags);
/*
 * Detaches the link pinned at path and removes the pin: at once, where
 * unlinking alone frees the link only after an RCU grace period (bpffs frees
 * its inodes so), too late for a netlink attach right after. 0 if there was
 * one, -ENOENT if not, or -errno.
 */
int xcni_link_unpin(const char *path);



/* tc clsact filters (the fallback where TCX is missing) use fixed ids, so a
 * new xcnid can replace them in place. */
#define XCNI_TC_HANDLE 0x7863
#define XCNI_TC_PRIO 1
#endif
