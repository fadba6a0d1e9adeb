// SPDX-License-Identifier: Apache-2.0
/* xcnictl ipcache list/get: address prefix -> identity, the pod, the tunnel. */
#include "ctl.h"

static const struct pt_col ipcache_cols[] = {
	{ "PREFIX", "prefix", PT_STR },
	{ "IDENTITY", "identity", PT_UINT },
	{ "POD", "pod", PT_STR },
	{ "TUNNEL", "tunnel", PT_STR },
};

struct ipc_rec {
	struct xcni_ipcache_key k;
	struct xcni_ipcache_val v;
};

/*
 * ipcache list (get NULL), and ipcache get IP: the entry the programs' lookup
 * finds for IP, the longest prefix holding it.
 */
static int ipcache_show(const struct ctx *c, const char *get)
{
	struct ipc_rec *recs = NULL;
	struct ptable *t;
	char buf[INET_ADDRSTRLEN], pod[340];
	struct filter f;
	size_t n, i, best = SIZE_MAX;
	__u32 want = 0;
	int pfd, err;

	if (get && (err = parse_ip(get, &want)))
		return err;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	err = map_read(c, &m_ipcache, sizeof(*recs), offsetof(struct ipc_rec, k),
		       offsetof(struct ipc_rec, v), prefix_cmp, (void **)&recs, &n);
	if (err) {
		filter_close(&f);
		return err;
	}
	for (i = 0; get && i < n; i++)
		if (in_prefix(want, recs[i].k.addr, recs[i].k.prefixlen) &&
		    (best == SIZE_MAX || recs[i].k.prefixlen > recs[best].k.prefixlen))
			best = i;
	if (get && best == SIZE_MAX) {
		pr_err("%s: no ipcache entry holds it (the data plane sees reserved:world)\n", get);
		free(recs);
		filter_close(&f);
		return -ENOENT;
	}
	pfd = map_open_quiet(c, &m_podname);
	t = pt_new(ipcache_cols, ARRAY_SIZE(ipcache_cols), get ? PT_RECORD : 0);
	for (i = get ? best : 0; i < (get ? best + 1 : n); i++) {
		struct frow r = { .addr = { recs[i].k.addr }, .plen = { recs[i].k.prefixlen },
				  .naddr = 1, .id = { recs[i].v.identity }, .nid = 1 };

		if (!filter_match(&f, &r))
			continue;
		pt_strf(t, "%s/%u", ip_str(recs[i].k.addr, buf), recs[i].k.prefixlen);
		pt_uint(t, recs[i].v.identity);
		if (recs[i].k.prefixlen == 32 && pod_of_ip(pfd, recs[i].k.addr, pod, sizeof(pod)))
			pt_str(t, pod);
		else
			pt_str(t, reserved_identity(recs[i].v.identity));
		if (recs[i].v.tunnel_ip)
			pt_str(t, ip_str(recs[i].v.tunnel_ip, buf));
		else
			pt_null(t);
	}
	if (pfd >= 0)
		close(pfd);
	free(recs);
	filter_close(&f);
	return show(c, t);
}

static int cmd_ipcache_list(const struct ctx *c, char **argv)
{
	(void)argv;
	return ipcache_show(c, NULL);
}

static int cmd_ipcache_get(const struct ctx *c, char **argv)
{
	return ipcache_show(c, argv[0]);
}

const struct cmd ipcache_cmds[] = {
	{ "ipcache", "list", cmd_ipcache_list, 0, OPT_FILTERS, "[filters]",
	  "List the ipcache: address prefix -> identity (and the pod it is).\n\n"
	  "--ip shows every prefix holding the address (0.0.0.0/0 included).\n\n"
	  HELP_FILTERS, NULL },
	{ "ipcache", "get", cmd_ipcache_get, 1, 0, "IP",
	  "Show the ipcache entry the data plane finds for IP.\n\n"
	  "That is the longest prefix holding it.", NULL },
	{}
};
