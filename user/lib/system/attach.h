/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How xcnid and the plugin put a program on a device's tc hook: a TCX link
 * (Linux >= 6.6) pinned under links/, or where TCX is missing (or the older
 * path is asked for) a direct-action cls_bpf filter on a clsact qdisc, both
 * through libbpf. One choice (xcni_tc_put) for every tc program, the node's
 * (from_overlay, to_overlay, ...) and the pods' (from_pod, to_pod), so each
 * gets the same fallback; xcnid's add its log line and cleanup.
 */
#ifndef XCNI_ATTACH_H
#define XCNI_ATTACH_H

#include <stdbool.h>

enum xcni_attach {
	XCNI_ATTACH_AUTO, /* TCX, else tc where the kernel has no TCX */
	XCNI_ATTACH_TCX, /* TCX or fail */
	XCNI_ATTACH_TC, /* tc clsact only: the older kernels' path, forced */
};

/* "auto", "tcx" or "tc" (the plugin's "attach" values); -EINVAL for anything else. */
int xcni_attach_parse(const char *s, enum xcni_attach *out);
/*
 * The mode XCNI_ATTACH in the environment asks for (auto when unset), for
 * the agent and the plugin alike; -EINVAL (said why) when it names none.
 */
int xcni_attach_from_env(enum xcni_attach *out);

/* One tc hook of one device, and where its TCX link is pinned. */
struct xcni_tc_point {
	const char *prog; /* the program's name, for the log */
	const char *dev; /* the device's name, for the log and the qdisc marker */
	int ifindex;
	bool egress;
	const char *pin_dir; /* xcnid's pin directory */
	const char *link; /* the TCX link's name under pin_dir/links/ */
	/* A pod's veth, made by this ADD: nothing of an earlier xcni's on it to
	 * update or clear, and its clsact qdisc goes with it (no marker). */
	bool fresh;
};

/*
 * The one TCX-else-tc choice, for xcnid's hooks and the plugin's pods: a TCX
 * link for prog_fd at p, unless mode is tc; where the kernel has no TCX and
 * mode is auto, a cls_bpf filter. Says nothing: *kind is "tcx" or "tc", the
 * kind made (or that failed), *tcx_err the TCX error a fallback followed (0:
 * none). The other kind, an earlier agent's, goes once the new one runs
 * (not at a fresh point). 0 or -errno.
 */
int xcni_tc_put(const struct xcni_tc_point *p, int prog_fd, enum xcni_attach mode,
		const char **kind, int *tcx_err);

/*
 * xcni_tc_put at one of xcnid's hooks: the TCX link pinned at links/<link>
 * (updated in place when it exists), or a cls_bpf direct-action filter
 * (XCNI_TC_HANDLE/XCNI_TC_PRIO, replaced in place) on a clsact qdisc, made
 * when missing. Logs one line saying which and why; *used is "tcx" or "tc".
 * 0 or -errno (said why).
 */
int xcni_tc_attach(const struct xcni_tc_point *p, int prog_fd, enum xcni_attach mode,
		   const char **used);
/*
 * Removes what xcni_tc_attach made at p, either kind: the link's pin, the
 * filter, and the clsact qdisc when xcni made it and no filter is left on it.
 * 1 if something was removed, 0 if nothing was there, or -errno.
 */
int xcni_tc_detach(const struct xcni_tc_point *p);


/* One tc hook of xcni's on this node, and what runs first there. */
struct xcni_hook {
	char dev[16]; /* IF_NAMESIZE */
	int ifindex;
	bool egress;
	const char *prog; /* xcni's program there: from_pod, to_pod, from_overlay, ... */
	int first; /* xcni_tc_first's answer: 1, 0 (who says what), or -errno */
	const char *mode; /* how xcni's program is attached there: "tcx" (its pinned link) or "tc" */
	char who[160];
};
typedef void (*xcni_hook_fn)(const struct xcni_hook *h, void *arg);
/*
 * fn for every hook where xcni has a program attached (-ENOENT answers are
 * skipped): the pods' host veths (found through xcni_ifindex under pin_dir,
 * named as the plugin names them), then, with an underlay (its ifindex; 0:
 * none), the underlay's ingress and egress and xcni0's egress. 0 or -errno.
 */
int xcni_hooks_walk(const char *pin_dir, int underlay_ifindex, xcni_hook_fn fn, void *arg);

/*
 * xcni's cls_bpf filter (XCNI_TC_HANDLE/XCNI_TC_PRIO) on ifindex's clsact, for
 * the agent's hooks and the plugin's pods alike (put by xcni_tc_put).
 * del: 1 removed, 0 none there, or -errno; query: 0 if it is there, else
 * -errno.
 */
int xcni_tc_filter_del(int ifindex, bool egress);
int xcni_tc_filter_query(int ifindex, bool egress);

#endif
