/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 0 of the lab: its dealings with the system. Network namespaces,
 * processes started and stopped by PID, running a program (or the CNI plugin)
 * in a netns, files. Nothing here knows the lab's state.
 *
 * Everything returns 0 or -errno and has already said what went wrong on
 * stderr, so callers only unwind.
 */
#ifndef XCNI_LAB_SYS_H
#define XCNI_LAB_SYS_H

#include <limits.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/system/clock.h"
#include "lib/system/log.h"

#include <jansson.h>

/* Every netns the lab makes is named xcl-...; `ip netns list` shows them. */
#define LAB_NETNS_PREFIX "xcl-"

/* A process the lab started, named by PID and start time so a recycled PID is never hit. */
struct lab_proc {
	pid_t pid; /* 0: none */
	unsigned long long start; /* /proc/PID/stat starttime */
};

void lab_netns_path(const char *name, char *out, size_t len);
int lab_netns_create(const char *name);
int lab_netns_delete(const char *name);

/* The binary `name` from $env, else next to /proc/self/exe. */
int lab_find_bin(const char *name, const char *env, char *out, size_t len);

/*
 * Starts argv as a daemon in its own session, inside netns (a path, or NULL),
 * stdout and stderr appended to log, keep_fd (if >= 0) passed as fd 3, with
 * only the capabilities in caps (CAP_* bits; 0: this process's).
 */
int lab_spawn_daemon(const char *netns, char *const argv[], const char *log, int keep_fd,
		     uint64_t caps, struct lab_proc *out);
/*
 * xcnid's capabilities, the same as examples/kind/xcni.yaml's securityContext
 * (tests/kind/manifests.py checks the two agree; docs/security.md "The agent's
 * privileges" says why each): BPF programs and maps (CAP_BPF, CAP_PERFMON for
 * the packet programs' pointer arithmetic), tc, XDP, links, routes and
 * conntrack (CAP_NET_ADMIN). No CAP_SYS_ADMIN: nothing to mount or enter.
 */
#define LAB_AGENT_CAPS (1ull << CAP_BPF | 1ull << CAP_PERFMON | 1ull << CAP_NET_ADMIN)
bool lab_proc_alive(const struct lab_proc *p);
/* SIGTERM, then SIGKILL after a grace period; fine if it is already gone. */
void lab_proc_stop(struct lab_proc *p);

/*
 * Runs argv inside the netns at path netns (NULL: this one): found in PATH,
 * or with envp the file argv[0] with that environment (a CNI plugin, as a
 * runtime calls it); in on its stdin (NULL: none), its stdout in *out (NULL:
 * discarded), its stderr in *errout (NULL: to ours). With status: 0 and its
 * wait status there; without: 0 if it exited 0, else -EIO. -errno.
 */
int lab_run(const char *netns, char *const argv[], char *const envp[], const char *in,
	    char **out, char **errout, int *status);
/*
 * TCP connections being served in the netns at path netns (established, or a
 * handshake under way), up to 254; -errno.
 */
int lab_netns_tcp_open(const char *netns);

/* Reads a whole file into a NUL-terminated buffer (*out, to free). */
int lab_read_file(const char *path, char **out);
int lab_write_atomic(const char *path, const char *data, size_t len);
int lab_write_json(const char *path, json_t *doc);
int lab_rm_tree(const char *path);
/* s, a whole decimal number from lo to hi: 0 (*out), or -EINVAL. */
int lab_num(const char *s, long lo, long hi, long *out);

#endif
