// SPDX-License-Identifier: Apache-2.0
/* xcnictl endpoint list/get: the pods of this node (xcni_endpoints). */
#include <net/if.h>

#include "ctl.h"

static void pt_mac(struct ptable *t, const __u8 m[6])
{
	pt_strf(t, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}


/* One row per pod: its IPv4 (xcni_endpoints) and IPv6 (xcni_endpoints6), "-" for none. */
static const struct pt_col ep_cols[] = {
	{ "IP", "ip", PT_STR },
	{ "IP6", "ip6", PT_STR },
	{ "IFINDEX", "ifindex", PT_UINT },
	{ "IFNAME", "ifname", PT_STR },
	{ "EP-ID", "ep_id", PT_UINT },
	{ "IDENTITY", "identity", PT_UINT },
	{ "POD-MAC", "pod_mac", PT_STR },
	{ "HOST-MAC", "host_mac", PT_STR },
	{ "FLAGS", "flags", PT_HEX },
	{ "POLICY", "policy", PT_STR },
};

/*
 * The pod's policy state as xcnid left it in xcni_polep (keyed by the IPv4,
 * or an IPv6-only pod's polkey6): "contested" (another live pod claims its
 * address), "overflow" (its policy did not fit), "pending" (not judged yet, or
 * no agent enforces policy here), "isolated" (some direction), "open".
 */
static const char *ep_policy(int polep_fd, int polkey6_fd, __u32 ip, const __u8 *ip6)
{
	struct xcni_polep pe;
	__u32 key = ip;

	if (!key && ip6 && (polkey6_fd < 0 || bpf_map_lookup_elem(polkey6_fd, ip6, &key)))
		return "pending";
	if (polep_fd < 0 || bpf_map_lookup_elem(polep_fd, &key, &pe))
		return "pending";
	if (pe.isolated & XCNI_POLEP_CONTESTED)
		return "contested";
	if (pe.isolated & XCNI_POLEP_OVERFLOW)
		return "overflow";
	return pe.isolated & (XCNI_ISOLATED(XCNI_DIR_TO_POD) | XCNI_ISOLATED(XCNI_DIR_FROM_POD)) ?
		       "isolated" : "open";
}

struct ep_rec {
	__u32 ip; /* network order */
	struct xcni_endpoint ep;
};

struct ep6_rec {
	struct xcni_in6 ip;
	struct xcni_endpoint ep;
	bool paired; /* shown on an IPv4 row */
};

/* ip 0: an IPv6-only pod; ip6 NULL: no IPv6. The rest from ep (the IPv4 entry's if both). */
static void ep_row(struct ptable *t, __u32 ip, const __u8 *ip6, const struct xcni_endpoint *ep,
		   const char *policy)
{
	char buf[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];

	if (ip)
		pt_str(t, ip_str(ip, buf));
	else
		pt_null(t);
	if (ip6)
		pt_str(t, inet_ntop(AF_INET6, ip6, buf, sizeof(buf)));
	else
		pt_null(t);
	pt_uint(t, ep->ifindex);
	/* The name the plugin recorded: this netns may not be the node's, where the
	 * ifindex would name another device or none. */
	if (ep->host_if[0])
		pt_strf(t, "%.*s", (int)strnlen(ep->host_if, sizeof(ep->host_if)), ep->host_if);
	else
		pt_str(t, if_indextoname(ep->ifindex, ifname));
	pt_uint(t, ep->ep_id);
	pt_uint(t, ep->identity);
	pt_mac(t, ep->pod_mac);
	pt_mac(t, ep->host_mac);
	pt_uint(t, ep->flags);
	pt_str(t, policy);
}

static int ep_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(((const struct ep_rec *)a)->ip), y = ntohl(((const struct ep_rec *)b)->ip);

	return (x > y) - (x < y);
}

static int ep6_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_in6));
}

/* The IPv6 entries (none on an agent without the map), sorted by address. */
static int read_ep6(const struct ctx *c, struct ep6_rec **recs, size_t *n)
{
	int fd = map_open_quiet(c, &m_endpoints6), err;

	*recs = NULL;
	*n = 0;
	if (fd < 0)
		return 0;
	err = map_collect(fd, &m_endpoints6, sizeof(**recs), offsetof(struct ep6_rec, ip),
			  offsetof(struct ep6_rec, ep), (void **)recs, n);
	close(fd);
	if (!err)
		*n = sort_unique(*recs, *n, sizeof(**recs), ep6_cmp);
	return err;
}

/* A pod's IPv6 entry: the one on the same host veth (the plugin writes both per pod). */
static struct ep6_rec *ep6_pair(struct ep6_rec *recs, size_t n, const struct xcni_endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (!recs[i].paired && recs[i].ep.ifindex == ep->ifindex &&
		    recs[i].ep.ep_id == ep->ep_id)
			return &recs[i];
	return NULL;
}

static void ep_show(struct ptable *t, const struct filter *f, __u32 ip, const __u8 *ip6,
		    const struct xcni_endpoint *ep, const int fds[2])
{
	/* Identity 0: policy has not assigned one; the ipcache may know it. */
	struct frow r = { .addr = { ip }, .plen = { 32 }, .naddr = !!ip,
			  .addr6 = { ip6 }, .plen6 = { 128 }, .naddr6 = !!ip6,
			  .id = { ep->identity }, .nid = !!ep->identity };

	if (filter_match(f, &r))
		ep_row(t, ip, ip6, ep, ep_policy(fds[0], fds[1], ip, ip6));
}

static int cmd_endpoint_list(const struct ctx *c, char **argv)
{
	struct ep_rec *recs = NULL;
	struct ep6_rec *recs6 = NULL, *p;
	struct ptable *t = NULL;
	struct filter f;
	size_t n, n6, i;
	int fds[2] = { -1, -1 };
	int err;

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	err = map_read(c, &m_endpoints, sizeof(*recs), offsetof(struct ep_rec, ip),
		       offsetof(struct ep_rec, ep), ep_cmp, (void **)&recs, &n);
	if (err)
		goto out;
	err = read_ep6(c, &recs6, &n6);
	if (err) {
		pr_err("%s: %s\n", m_endpoints6.name, strerror(-err));
		goto out;
	}
	fds[0] = map_open_quiet(c, &m_polep);
	fds[1] = map_open_quiet(c, &m_polkey6);
	t = pt_new(ep_cols, ARRAY_SIZE(ep_cols), 0);
	/* Dual-stack pods by their IPv4, then IPv6-only ones by their IPv6. */
	for (i = 0; i < n; i++) {
		p = ep6_pair(recs6, n6, &recs[i].ep);
		if (p)
			p->paired = true;
		ep_show(t, &f, recs[i].ip, p ? p->ip.addr : NULL, &recs[i].ep, fds);
	}
	for (i = 0; i < n6; i++)
		if (!recs6[i].paired)
			ep_show(t, &f, 0, recs6[i].ip.addr, &recs6[i].ep, fds);
	err = show(c, t);
out:
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(recs);
	free(recs6);
	filter_close(&f);
	return err;
}

/*
 * endpoint get IP: the pod with that IPv4 or IPv6 address, shown with its
 * other family's address too (the entry on the same veth).
 */
static int cmd_endpoint_get(const struct ctx *c, char **argv)
{
	struct xcni_endpoint ep;
	struct ep_rec *recs = NULL;
	struct ep6_rec *recs6 = NULL, *p = NULL;
	struct ctl_addr a;
	struct ptable *t;
	const __u8 *ip6 = NULL;
	size_t n = 0, n6 = 0;
	__u32 ip = 0;
	int fd, err;

	if (parse_ip_any(argv[0], &a)) {
		pr_err("\"%s\": not an IPv4 or IPv6 address\n", argv[0]);
		return -EINVAL;
	}
	fd = map_open(c, &m_endpoints);
	if (fd < 0)
		return fd;
	err = read_ep6(c, &recs6, &n6);
	if (err) {
		pr_err("%s: %s\n", m_endpoints6.name, strerror(-err));
		goto close;
	}
	if (a.family == XCNI_AF_INET) {
		memcpy(&ip, a.addr, 4);
		if (bpf_map_lookup_elem(fd, &ip, &ep))
			goto lookup;
		p = ep6_pair(recs6, n6, &ep);
	} else {
		for (size_t i = 0; i < n6 && !p; i++)
			if (!memcmp(recs6[i].ip.addr, a.addr, 16))
				p = &recs6[i];
		if (!p) {
			errno = ENOENT;
			goto lookup;
		}
		ep = p->ep;
		/* Its IPv4 entry, if the pod has one: the same veth. */
		err = map_collect(fd, &m_endpoints, sizeof(*recs), offsetof(struct ep_rec, ip),
				  offsetof(struct ep_rec, ep), (void **)&recs, &n);
		if (err)
			goto close;
		for (size_t i = 0; i < n; i++)
			if (recs[i].ep.ifindex == ep.ifindex && recs[i].ep.ep_id == ep.ep_id) {
				ip = recs[i].ip;
				ep = recs[i].ep;
				break;
			}
	}
	ip6 = p ? p->ip.addr : NULL;
	t = pt_new(ep_cols, ARRAY_SIZE(ep_cols), PT_RECORD);
	{
		int pfd = map_open_quiet(c, &m_polep), kfd = map_open_quiet(c, &m_polkey6);

		ep_row(t, ip, ip6, &ep, ep_policy(pfd, kfd, ip, ip6));
		if (pfd >= 0)
			close(pfd);
		if (kfd >= 0)
			close(kfd);
	}
	err = show(c, t);
	goto close;
lookup:
	err = -errno;
	if (err == -ENOENT)
		pr_err("%s: no such endpoint\n", argv[0]);
	else
		pr_err("%s: lookup: %s\n", argv[0], strerror(-err));
close:
	free(recs);
	free(recs6);
	close(fd);
	return err;
}

const struct cmd endpoint_cmds[] = {
	{ "endpoint", "list", cmd_endpoint_list, 0, OPT_FILTERS, "[filters]",
	  "List the endpoints (pods) of this node.\n\n"
	  "One row per pod: IP its IPv4, IP6 its IPv6 (\"-\" for a family it lacks;\n"
	  "in JSON, ip and ip6, null when absent). Dual-stack and IPv4 pods sorted by\n"
	  "IP, then IPv6-only pods by IP6. IFNAME is \"-\" when the host-side veth no\n"
	  "longer exists.\n"
	  "IDENTITY 0: policy has not assigned one (--identity then asks the ipcache).\n\n"
	  HELP_FILTERS, NULL },
	{ "endpoint", "get", cmd_endpoint_get, 1, 0, "IP",
	  "Show the endpoint with address IP (IPv4 or IPv6), with both its addresses.", NULL },
	{}
};
