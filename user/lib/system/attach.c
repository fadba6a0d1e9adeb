// SPDX-License-Identifier: Apache-2.0
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/system/attach.h"
#include "lib/system/killpoint.h"
#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/nl.h"
#include "lib/system/util.h"

int xcni_attach_parse(const char *s, enum xcni_attach *out)
{
	if (!strcmp(s, "auto"))
		*out = XCNI_ATTACH_AUTO;
	else if (!strcmp(s, "tcx"))
		*out = XCNI_ATTACH_TCX;
	else if (!strcmp(s, "tc"))
		*out = XCNI_ATTACH_TC;
	else
		return -EINVAL;
	return 0;
}

int xcni_attach_from_env(enum xcni_attach *out)
{
	const char *e = getenv("XCNI_ATTACH");

	*out = XCNI_ATTACH_AUTO;
	if (!e || !*e)
		return 0;
	if (xcni_attach_parse(e, out))
		return pr_err_ret(-EINVAL, "XCNI_ATTACH=%s: auto, tcx or tc\n", e);
	return 0;
}

/* 1 if err is how a kernel without TCX (< 6.6) answers BPF_TCX_* link creation. */
static int xcni_tcx_unsupported(int err)
{
	/* An attach type the kernel does not know is EINVAL; the rest are belts. */
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -ENOSYS;
}

static int path_of(char *buf, size_t len, const struct xcni_tc_point *p, const char *prefix,
		   const char *name)
{
	return snprintf(buf, len, "%s/%s/%s%s", p->pin_dir, XCNI_PIN_LINKS, prefix, name) >=
			       (int)len ?
		       -ENAMETOOLONG :
		       0;
}

int xcni_tc_filter_del(int ifindex, bool egress)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = XCNI_TC_HANDLE, .priority = XCNI_TC_PRIO);
	/* "Nothing there" is an answer here, not a warning for the log. */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int err = bpf_tc_detach(&hook, &o);

	libbpf_set_print(print);

	/* No clsact, or no filter of ours on it: nothing to remove. */
	return err == -ENOENT || err == -EINVAL ? 0 : err ? err : 1;
}

int xcni_tc_filter_query(int ifindex, bool egress)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = XCNI_TC_HANDLE, .priority = XCNI_TC_PRIO);

	return bpf_tc_query(&hook, &o);
}

/* xcni's filter on ifindex: the qdisc made when missing (*made says so, made may be NULL),
 * then prog_fd attached (flags: BPF_TC_F_REPLACE or 0). 0 or -errno. */
static int xcni_tc_filter_add(int ifindex, bool egress, int prog_fd, unsigned int flags,
			      bool *made)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = XCNI_TC_HANDLE, .priority = XCNI_TC_PRIO,
			    .flags = flags, .prog_fd = prog_fd);
	/* An existing clsact (EEXIST) is the usual case, not a warning. */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	int err = bpf_tc_hook_create(&hook);

	libbpf_set_print(print);

	if (err && err != -EEXIST)
		return err;
	if (made)
		*made = !err;
	return bpf_tc_attach(&hook, &o);
}

int xcni_tc_put(const struct xcni_tc_point *p, int prog_fd, enum xcni_attach mode,
		const char **kind, int *tcx_err)
{
	int type = p->egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS, err;
	char path[PATH_MAX], marker[PATH_MAX];
	bool made = false;

	*kind = mode == XCNI_ATTACH_TC ? "tc" : "tcx";
	*tcx_err = 0;
	if ((err = path_of(path, sizeof(path), p, "", p->link)))
		return err;
	if (mode != XCNI_ATTACH_TC) {
		/* First on the hook (no relative program: before all of them);
		 * a link that exists is updated in place and keeps its place.
		 * Tests stand in for a kernel without TCX: XCNI_TEST_FAIL_AT=tcx. */
		err = xcni_inject("tcx") ? -EOPNOTSUPP :
		      p->fresh ? xcni_link_pin(path, prog_fd, p->ifindex, type, BPF_F_BEFORE) :
				 xcni_link_pinned(path, prog_fd, p->ifindex, type, BPF_F_BEFORE);
		/* An earlier agent's tc filter (older path, or forced) goes now. */
		if (!err && !p->fresh)
			xcni_tc_filter_del(p->ifindex, p->egress);
		if (!err || mode == XCNI_ATTACH_TCX || !xcni_tcx_unsupported(err))
			return err;
		*tcx_err = err;
		*kind = "tc";
	}
	err = xcni_tc_filter_add(p->ifindex, p->egress, prog_fd, p->fresh ? 0 : BPF_TC_F_REPLACE,
				 &made);
	/*
	 * The qdisc is ours to remove at uninstall only if we made it: say so
	 * where the next agent (and `xcnid --uninstall`) finds it, a directory
	 * under links/ (bpffs holds no plain files).
	 */
	if (made && !p->fresh && !path_of(marker, sizeof(marker), p, "node-clsact-", p->dev))
		mkdir(marker, 0700);
	/* The filter runs: an earlier agent's TCX link (if any) goes. */
	if (!err && !p->fresh)
		xcni_link_unpin(path);
	return err;
}

int xcni_tc_attach(const struct xcni_tc_point *p, int prog_fd, enum xcni_attach mode,
		   const char **used)
{
	const char *dir = p->egress ? "egress" : "ingress", *kind;
	char why[160] = "forced (--attach tc or XCNI_ATTACH=tc)";
	int tcx_err, err = xcni_tc_put(p, prog_fd, mode, &kind, &tcx_err);

	*used = err ? NULL : kind;
	if (tcx_err)
		snprintf(why, sizeof(why), "TCX unavailable (bpf_link_create: %s; TCX needs Linux "
			 ">= 6.6)", strerror(-tcx_err));
	if (err && !strcmp(kind, "tcx")) {
		pr_err("attaching %s to %s (TCX %s): %s\n", p->prog, p->dev, dir, strerror(-err));
	} else if (err) {
		pr_err("attaching %s to %s (tc clsact %s, after: %s): %s\n", p->prog, p->dev, dir,
		       why, strerror(-err));
	} else if (!strcmp(kind, "tcx")) {
		printf("xcnid: attach: %s on %s %s: TCX link\n", p->prog, p->dev, dir);
		fflush(stdout);
	} else {
		pr_warn("attach: %s on %s %s: tc clsact filter: %s\n", p->prog, p->dev, dir, why);
	}
	return err;
}

int xcni_tc_detach(const struct xcni_tc_point *p)
{
	char path[512], marker[512];
	int n = 0, err;

	if ((err = path_of(path, sizeof(path), p, "", p->link)) ||
	    (err = path_of(marker, sizeof(marker), p, "node-clsact-", p->dev)))
		return err;
	/* Unpinning drops the last reference: the TCX link detaches with it. */
	err = xcni_link_unpin(path);
	if (!err)
		n = 1;
	else if (err != -ENOENT)
		return err;
	err = xcni_tc_filter_del(p->ifindex, p->egress);
	if (err < 0)
		return err;
	n |= err;
	if (access(marker, F_OK))
		return n;
	/* Ours, and nothing else on it (both directions): the qdisc goes too. */
	{
		struct nl nl;
		int in = -1, out = -1;

		if (!nl_open(&nl)) {
			in = nl_tc_filter_count(&nl, p->ifindex,
						TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
			out = nl_tc_filter_count(&nl, p->ifindex,
						 TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
			nl_close(&nl);
		}
		if (in == 0 && out == 0) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = p->ifindex,
					    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

			bpf_tc_hook_destroy(&hook);
			rmdir(marker);
			n = 1;
		} else if (in == -ENODEV || out == -ENODEV) {
			rmdir(marker); /* the device went, and its qdisc with it */
		}
	}
	return n;
}

/* "TCX program NAME (id N)" for the program the kernel knows as id. */
static void tcx_who(__u32 id, __u32 link_id, char *who, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd >= 0 && !bpf_prog_get_info_by_fd(fd, &info, &ilen))
		snprintf(who, len, "TCX program %s (id %u%s)", info.name[0] ? info.name : "?", id,
			 link_id ? "" : ", no link");
	else
		snprintf(who, len, "TCX program id %u", id);
	xcni_close(&fd);
}

/* The id of the TCX link xcni pinned for p, if it is attached at p; else 0. */
static __u32 our_link_id(const struct xcni_tc_point *p)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[512];
	__u32 id = 0;
	int fd;

	if (path_of(path, sizeof(path), p, "", p->link) || (fd = bpf_obj_get(path)) < 0)
		return 0;
	if (!bpf_link_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_TCX &&
	    (int)info.tcx.ifindex == p->ifindex &&
	    info.tcx.attach_type == (__u32)(p->egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS))
		id = info.id;
	close(fd);
	return id;
}

/*
 * Whether xcni's program runs first at p: 1 it does; 0 something else runs
 * before it, described in who ("TCX program NAME (id N)", "tc KIND filter ...");
 * -ENOENT nothing of xcni's is attached there (either kind); or -errno
 * (-ENODEV: the device went). Under TCX the first program of the hook must be
 * the one of xcni's pinned link; under tc, no TCX program at all (they all
 * run before clsact's filters) and xcni's filter first of chain 0.
 */
static int xcni_tc_first(const struct xcni_tc_point *p, char *who, size_t len)
{
	__u32 progs[8] = {}, links[8] = {}, ours = our_link_id(p);
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = progs, .link_ids = links,
		    .count = sizeof(progs) / sizeof(progs[0]));
	struct nl_tc_filter f;
	struct nl nl;
	int err;

	who[0] = '\0';
	err = bpf_prog_query_opts(p->ifindex, p->egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS, &q) ?
		      -errno :
		      0;
	/* ENOSPC: more than fit, the first ones given all the same. */
	if (err == -ENOSPC)
		err = 0;
	else if (err && xcni_tcx_unsupported(err))
		err = 0, q.count = 0; /* no TCX in this kernel: nothing runs there */
	if (err)
		return err;
	if (ours) {
		if (!q.count)
			return -ENOENT;
		if (links[0] == ours)
			return 1;
		tcx_who(progs[0], links[0], who, len);
		return 0;
	}
	/*
	 * Our tc filter, if any: every TCX program of the hook runs before the
	 * clsact filters (the kernel's tcx_run, then tc_run), then the filter
	 * with the lowest priority.
	 */
	if ((err = nl_open(&nl)))
		return err;
	err = nl_tc_filter_first(&nl, p->ifindex,
				 TC_H_MAKE(TC_H_CLSACT, p->egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS),
				 &f);
	nl_close(&nl);
	if (err < 0)
		return err == -EINVAL ? -ENOENT : err; /* no clsact there */
	{
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = p->ifindex,
				    .attach_point = p->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = XCNI_TC_HANDLE,
				    .priority = XCNI_TC_PRIO);
		libbpf_print_fn_t print = libbpf_set_print(NULL);
		int qerr = bpf_tc_query(&hook, &o);

		libbpf_set_print(print);
		if (qerr)
			return -ENOENT; /* neither kind of ours here */
	}
	if (q.count) {
		tcx_who(progs[0], links[0], who, len);
		return 0;
	}
	if (!err)
		return -ENOENT; /* gone between the two looks */
	if (f.handle == XCNI_TC_HANDLE && f.prio == XCNI_TC_PRIO && !strcmp(f.kind, "bpf"))
		return 1;
	if (f.name[0])
		snprintf(who, len, "tc %s filter %s (prio %u handle %#x, program id %u)", f.kind,
			 f.name, f.prio, f.handle, f.prog_id);
	else
		snprintf(who, len, "tc %s filter (prio %u handle %#x)", f.kind, f.prio, f.handle);
	return 0;
}

static void hook_one(const char *pin_dir, const char *dev, int ifindex, bool egress,
		     const char *prog, const char *link, xcni_hook_fn fn, void *arg)
{
	const struct xcni_tc_point p = { .prog = prog, .dev = dev, .ifindex = ifindex,
					 .egress = egress, .pin_dir = pin_dir, .link = link };
	struct xcni_hook h = { .ifindex = ifindex, .egress = egress, .prog = prog };

	h.first = xcni_tc_first(&p, h.who, sizeof(h.who));
	h.mode = our_link_id(&p) ? "tcx" : "tc";
	if (h.first == -ENOENT || h.first == -ENODEV)
		return; /* nothing of ours there (yet, or any more) */
	snprintf(h.dev, sizeof(h.dev), "%s", dev);
	fn(&h, arg);
}

int xcni_hooks_walk(const char *pin_dir, int underlay_ifindex, xcni_hook_fn fn, void *arg)
{
	__u32 key;
	char dev[IF_NAMESIZE];
	int fd = xcni_pin_get(pin_dir, "xcni_ifindex");

	if (fd < 0 && fd != -ENOENT)
		return fd;
	/* The kernel reads a key before it writes the next: one buffer for both. */
	for (void *prev = NULL; fd >= 0 && !bpf_map_get_next_key(fd, prev, &key); prev = &key) {
		char ifname[IF_NAMESIZE], in[IF_NAMESIZE + 8], out[IF_NAMESIZE + 8];

		/* As xcnid's takeover: ifindexes are per netns, the plugin's names say whose. */
		if (!if_indextoname(key, ifname) || strncmp(ifname, "xc", 2) || strlen(ifname) != 14)
			continue;
		snprintf(in, sizeof(in), "%s-in", ifname);
		snprintf(out, sizeof(out), "%s-out", ifname);
		hook_one(pin_dir, ifname, (int)key, false, "from_pod", in, fn, arg);
		hook_one(pin_dir, ifname, (int)key, true, "to_pod", out, fn, arg);
	}
	xcni_close(&fd);
	if (underlay_ifindex > 0 && if_indextoname((unsigned int)underlay_ifindex, dev)) {
		unsigned int ovl = if_nametoindex(XCNI_OVERLAY_DEV);

		hook_one(pin_dir, dev, underlay_ifindex, false, "from_overlay",
			 XCNI_LINK_UNDERLAY_IN, fn, arg);
		hook_one(pin_dir, dev, underlay_ifindex, true, "to_underlay",
			 XCNI_LINK_UNDERLAY_OUT, fn, arg);
		if (ovl)
			hook_one(pin_dir, XCNI_OVERLAY_DEV, (int)ovl, true, "to_overlay",
				 XCNI_LINK_OVERLAY_OUT, fn, arg);
	}
	return 0;
}
