// SPDX-License-Identifier: Apache-2.0
/* xcnictl ipcache list/get: address prefix -> identity, the pod, the tunnel. */
#include "ctl/ctl.h"

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

struct ipc6_rec {
	struct xcni_ipcache6_key k;
	struct xcni_ipcache_val v;
};

/* By address, then prefix length. */
static int prefix6_cmp(const void *a, const void *b)
{
	const struct xcni_ipcache6_key *x = a, *y = b;
	int d = memcmp(x->addr, y->addr, 16);

	return d ? d : (x->prefixlen > y->prefixlen) - (x->prefixlen < y->prefixlen);
}

/* "ns/name" of the local pod with IPv6 ip (polkey6, then podname). */
static bool pod_of_ip6(int kfd, int pfd, const __u8 ip[16], char *buf, size_t len)
{
	struct xcni_in6 k;
	__u32 key;

	memcpy(k.addr, ip, 16);
	return kfd >= 0 && bpf_map_lookup_elem(kfd, &k, &key) == 0 &&
	       pod_of_ip(pfd, key, buf, len);
}

/*
 * The ipcache6 rows (after the IPv4 ones): every entry passing f, or with
 * want6 the one the programs' lookup finds (-ENOENT when none holds it).
 */
static int ipcache6_rows(const struct ctl_ctx *c, struct ptable *t, const struct filter *f, int pfd,
			 const __u8 *want6, const char *get)
{
	struct ipc6_rec *recs = NULL;
	char buf[INET6_ADDRSTRLEN + 4], pod[340];
	size_t n = 0, i, best = SIZE_MAX;
	int fd = map_open_quiet(c, &m_ipcache6), kfd, err;

	if (fd < 0 && !want6)
		return 0; /* an agent without IPv6 maps */
	if (fd >= 0) {
		err = map_collect(fd, &m_ipcache6, sizeof(*recs), offsetof(struct ipc6_rec, k),
				  offsetof(struct ipc6_rec, v), (void **)&recs, &n, prefix6_cmp);
		close(fd);
		if (err)
			return err;
	}
	for (i = 0; want6 && i < n; i++)
		if (in_prefix6(want6, recs[i].k.addr, recs[i].k.prefixlen) &&
		    (best == SIZE_MAX || recs[i].k.prefixlen > recs[best].k.prefixlen))
			best = i;
	if (want6 && best == SIZE_MAX) {
		pr_err("%s: no ipcache6 entry holds it (the data plane sees reserved:world)\n", get);
		free(recs);
		return -ENOENT;
	}
	kfd = map_open_quiet(c, &m_polkey6);
	for (i = want6 ? best : 0; i < (want6 ? best + 1 : n); i++) {
		struct frow r = { .addr6 = { recs[i].k.addr }, .plen6 = { recs[i].k.prefixlen },
				  .naddr6 = 1, .id = { recs[i].v.identity }, .nid = 1 };

		if (!want6 && !filter_match(f, &r))
			continue;
		pt_str(t, xcni_cidr_str(AF_INET6, recs[i].k.addr, recs[i].k.prefixlen, buf, sizeof(buf)));
		pt_uint(t, recs[i].v.identity);
		if (recs[i].k.prefixlen == 128 &&
		    pod_of_ip6(kfd, pfd, recs[i].k.addr, pod, sizeof(pod)))
			pt_str(t, pod);
		else
			pt_str(t, reserved_identity(recs[i].v.identity));
		pt_str(t, tunnel_str(&recs[i].v, buf) ? buf : NULL);
	}
	if (kfd >= 0)
		close(kfd);
	free(recs);
	return 0;
}

/*
 * ipcache list (get NULL), and ipcache get IP: the entry the programs' lookup
 * finds for IP, the longest prefix holding it (an IPv6 IP: in the ipcache6).
 */
static int ipcache_show(const struct ctl_ctx *c, const char *get)
{
	struct ipc_rec *recs = NULL;
	struct ctl_addr want_any;
	struct ptable *t;
	char buf[INET6_ADDRSTRLEN], pod[340];
	struct filter f;
	size_t n, i, best = SIZE_MAX;
	__u32 want = 0;
	int pfd, err;
	bool v6 = false;

	if (get) {
		if (parse_ip_any(get, &want_any)) {
			pr_err("\"%s\": not an IPv4 or IPv6 address\n", get);
			return -EINVAL;
		}
		v6 = want_any.family == XCNI_AF_INET6;
		memcpy(&want, want_any.addr, 4);
	}
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	err = map_read(c, &m_ipcache, sizeof(*recs), offsetof(struct ipc_rec, k),
		       offsetof(struct ipc_rec, v), prefix_cmp, (void **)&recs, &n);
	if (err) {
		filter_close(&f);
		return err;
	}
	for (i = 0; get && !v6 && i < n; i++)
		if (in_prefix(want, recs[i].k.addr, recs[i].k.prefixlen) &&
		    (best == SIZE_MAX || recs[i].k.prefixlen > recs[best].k.prefixlen))
			best = i;
	if (get && !v6 && best == SIZE_MAX) {
		pr_err("%s: no ipcache entry holds it (the data plane sees reserved:world)\n", get);
		free(recs);
		filter_close(&f);
		return -ENOENT;
	}
	pfd = map_open_quiet(c, &m_podname);
	t = pt_new(ipcache_cols, ARRAY_SIZE(ipcache_cols), get ? PT_RECORD : 0);
	for (i = get ? best : 0; !v6 && i < (get ? best + 1 : n); i++) {
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
		pt_str(t, tunnel_str(&recs[i].v, buf) ? buf : NULL);
	}
	if (!get || v6)
		err = ipcache6_rows(c, t, &f, pfd, v6 ? want_any.addr : NULL, get);
	if (pfd >= 0)
		close(pfd);
	free(recs);
	filter_close(&f);
	if (err) {
		pt_free(t);
		return err;
	}
	return show(c, t);
}

static int cmd_ipcache_list(const struct ctl_ctx *c, char **argv)
{
	(void)argv;
	return ipcache_show(c, NULL);
}

static int cmd_ipcache_get(const struct ctl_ctx *c, char **argv)
{
	return ipcache_show(c, argv[0]);
}

const struct cmd ipcache_cmds[] = {
	{ "ipcache", "list", cmd_ipcache_list, 0, OPT_FILTERS, "[filters]",
	  "List the ipcache: address prefix -> identity (and the pod it is).\n\n"
	  "IPv4 prefixes first, then the IPv6 ones (xcni_ipcache6).\n"
	  "--ip shows every prefix holding the address (0.0.0.0/0 included).\n\n"
	  HELP_FILTERS, NULL },
	{ "ipcache", "get", cmd_ipcache_get, 1, 0, "IP",
	  "Show the ipcache entry the data plane finds for IP (IPv4 or IPv6).\n\n"
	  "That is the longest prefix holding it.", NULL },
	{}
};
