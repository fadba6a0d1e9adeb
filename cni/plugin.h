/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the plugin's commands (plugin.c) share with the pieces they call: the
 * call's context, IPAM delegation (ipam.c), the host's and the pod's netns
 * (netns.c) and the XCNI_TRACE timings (trace.c).
 */
#ifndef XCNI_PLUGIN_H
#define XCNI_PLUGIN_H

#include <stdbool.h>

#include "lib/system/nl.h"
#include "cni.h"

/* One call of the plugin: its network's config, its environment, the error it returns. */
struct cni_ctx {
	struct xcni_conf conf;
	struct cni_env env;
	struct cni_err err;
	const char *ipam_ver; /* the version IPAM is spoken to in */
	bool ipam_ver_cached; /* ipam_ver came from the cache: retried once if refused */
	bool ipam_cache_read;
};

/* ipam.c: cmd, cid, ifname and netns are the IPAM call's CNI_* variables. */
/* Starts an IPAM call in the background, so netlink work can overlap it. */
int ipam_start(struct cni_ctx *c, struct cni_proc *p, const char *cmd, const char *cid,
	       const char *ifname, const char *netns);
/*
 * Waits for the call ipam_start made; *out its result. A refused version is
 * negotiated down once and the call made again.
 */
int ipam_finish(struct cni_ctx *c, struct cni_proc *p, const char *cmd, const char *cid,
		const char *ifname, const char *netns, json_t **out);
/* Calls the IPAM plugin and waits for it. */
int ipam_call(struct cni_ctx *c, const char *cmd, const char *cid, const char *ifname,
	      const char *netns, json_t **out);
/* 1 if the IPAM plugin speaks version ver (asked through VERSION). */
int ipam_supports(struct cni_ctx *c, const char *ver);

/* netns.c */
struct netns {
	int host_fd;
	int pod_fd;
	struct nl host;
	struct nl pod;
};

/* err as the call's netlink error, what failed and the kernel's message (nl NULL: none); err. */
int cni_nl_fail(struct cni_ctx *c, struct nl *nl, int err, const char *what);
/* Opens netlink sockets in the host netns and, if path is set, in the pod's. */
int netns_open(struct cni_ctx *c, struct netns *ns, const char *path);
void netns_close(struct netns *ns);
/* net.ipv4.ip_forward on, a warning if it cannot be. */
void enable_forwarding(void);
/*
 * net.ipv6.conf.<ifname>.<key> set to val unless it already is (val NULL:
 * only read); *was (if set) gets the old first character. 0 or -errno
 * (-ENOENT: the kernel has no such setting).
 */
int ipv6_conf(const char *ifname, const char *key, const char *val, char *was);

/* trace.c: XCNI_TRACE=FILE, one line a call with its steps' times. */
void trace_start(void);
/* The time since the previous mark (or the start), under name. */
void trace_mark(const char *name);
/* The line of the call c, which returned err, appended to the file. */
void trace_write(const struct cni_ctx *c, int err);

#endif
