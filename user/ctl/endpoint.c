// SPDX-License-Identifier: Apache-2.0
/* xcnictl endpoint list/get: the pods of this node (xcni_endpoints). */
#include <net/if.h>

#include "ctl.h"

static void pt_mac(struct ptable *t, const __u8 m[6])
{
	pt_strf(t, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}


static const struct pt_col ep_cols[] = {
	{ "IP", "ip", PT_STR },
	{ "IFINDEX", "ifindex", PT_UINT },
	{ "IFNAME", "ifname", PT_STR },
	{ "EP-ID", "ep_id", PT_UINT },
	{ "IDENTITY", "identity", PT_UINT },
	{ "POD-MAC", "pod_mac", PT_STR },
	{ "HOST-MAC", "host_mac", PT_STR },
	{ "FLAGS", "flags", PT_HEX },
};

struct ep_rec {
	__u32 ip; /* network order */
	struct xcni_endpoint ep;
};

static void ep_row(struct ptable *t, __u32 ip, const struct xcni_endpoint *ep)
{
	char buf[INET_ADDRSTRLEN], ifname[IF_NAMESIZE];

	pt_str(t, ip_str(ip, buf));
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
}

static int ep_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(((const struct ep_rec *)a)->ip), y = ntohl(((const struct ep_rec *)b)->ip);

	return (x > y) - (x < y);
}

static int cmd_endpoint_list(const struct ctx *c, char **argv)
{
	struct ep_rec *recs = NULL;
	struct ptable *t = NULL;
	struct filter f;
	size_t n, i;
	int err;

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	err = map_read(c, &m_endpoints, sizeof(*recs), offsetof(struct ep_rec, ip),
		       offsetof(struct ep_rec, ep), ep_cmp, (void **)&recs, &n);
	if (err)
		goto out;
	t = pt_new(ep_cols, ARRAY_SIZE(ep_cols), 0);
	for (i = 0; i < n; i++) {
		/* Identity 0: policy has not assigned one; the ipcache may know it. */
		struct frow r = { .addr = { recs[i].ip }, .plen = { 32 }, .naddr = 1,
				  .id = { recs[i].ep.identity }, .nid = !!recs[i].ep.identity };

		if (filter_match(&f, &r))
			ep_row(t, recs[i].ip, &recs[i].ep);
	}
	err = show(c, t);
	free(recs);
out:
	filter_close(&f);
	return err;
}

static int cmd_endpoint_get(const struct ctx *c, char **argv)
{
	struct xcni_endpoint ep;
	struct ptable *t;
	__u32 ip;
	int fd, err;

	err = parse_ip(argv[0], &ip);
	if (err)
		return err;
	fd = map_open(c, &m_endpoints);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &ip, &ep)) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("%s: no such endpoint\n", argv[0]);
		else
			pr_err("%s: lookup: %s\n", argv[0], strerror(-err));
		goto close;
	}
	t = pt_new(ep_cols, ARRAY_SIZE(ep_cols), PT_RECORD);
	ep_row(t, ip, &ep);
	err = show(c, t);
close:
	close(fd);
	return err;
}

const struct cmd endpoint_cmds[] = {
	{ "endpoint", "list", cmd_endpoint_list, 0, OPT_FILTERS, "[filters]",
	  "List the endpoints (pods) of this node.\n\n"
	  "Sorted by IP. IFNAME is \"-\" when the host-side veth no longer exists.\n"
	  "IDENTITY 0: policy has not assigned one (--identity then asks the ipcache).\n\n"
	  HELP_FILTERS, NULL },
	{ "endpoint", "get", cmd_endpoint_get, 1, 0, "IP", "Show the endpoint with address IP.", NULL },
	{}
};
