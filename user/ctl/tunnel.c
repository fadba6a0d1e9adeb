// SPDX-License-Identifier: Apache-2.0
/* xcnictl tunnel list/get: the other nodes this node tunnels to, with their traffic. */
#include "ctl/ctl.h"

static const struct pt_col tunnel_cols[] = {
	{ "NODE", "node", PT_STR },
	{ "UNDERLAY-IP", "underlay_ip", PT_STR },
	{ "POD-CIDR", "pod_cidr", PT_STR },
	{ "TX-PACKETS", "tx_packets", PT_UINT },
	{ "TX-BYTES", "tx_bytes", PT_UINT },
	{ "RX-PACKETS", "rx_packets", PT_UINT },
	{ "RX-BYTES", "rx_bytes", PT_UINT },
};

struct tunnel_rec {
	__u32 ip; /* underlay address, network order */
	struct xcni_tunnel t;
};

static int tunnel_cmp(const void *a, const void *b)
{
	__u32 x = ntohl(((const struct tunnel_rec *)a)->ip);
	__u32 y = ntohl(((const struct tunnel_rec *)b)->ip);

	return (x > y) - (x < y);
}

/*
 * A node's counters summed over CPUs into *sum. xcnid creates them with the
 * tunnel; a node removed between the two reads just shows zeros.
 */
static int tunstat_sum(int sfd, const void *key, struct xcni_tunstat *vals, int ncpus,
		       struct xcni_tunstat *sum)
{
	int err;

	if (bpf_map_lookup_elem(sfd, key, vals)) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		pr_err("tunnel counters: lookup: %s\n", strerror(-err));
		return err;
	}
	for (int cpu = 0; cpu < ncpus; cpu++) {
		sum->tx_packets += vals[cpu].tx_packets;
		sum->tx_bytes += vals[cpu].tx_bytes;
		sum->rx_packets += vals[cpu].rx_packets;
		sum->rx_bytes += vals[cpu].rx_bytes;
	}
	return 0;
}

/* ip: the node's underlay IPv4, or (NULL) ip6 its IPv6. */
static void tunnel_row(struct ptable *t, const __u32 *ip, const __u8 *ip6,
		       const struct xcni_tunnel *tn, const struct xcni_tunstat *sum)
{
	char buf[INET6_ADDRSTRLEN];

	if (tn->node[0])
		pt_strf(t, "%.*s", (int)strnlen(tn->node, sizeof(tn->node)), tn->node);
	else
		pt_null(t);
	pt_str(t, ip ? ip_str(*ip, buf) : inet_ntop(AF_INET6, ip6, buf, sizeof(buf)));
	if (tn->pod_cidr_len)
		pt_strf(t, "%s/%u", ip_str(tn->pod_cidr, buf), tn->pod_cidr_len);
	else
		pt_null(t); /* a node without spec.podCIDR yet */
	pt_uint(t, sum->tx_packets);
	pt_uint(t, sum->tx_bytes);
	pt_uint(t, sum->rx_packets);
	pt_uint(t, sum->rx_bytes);
}

struct tunnel6_rec {
	struct xcni_in6 ip; /* underlay IPv6 */
	struct xcni_tunnel t;
};

static int tunnel6_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_in6));
}

/*
 * The nodes behind the IPv6 underlay (tunnel6, after the IPv4 ones): every
 * one passing f, or get's (by name, underlay IPv6, or an address of its pod
 * CIDR). An agent before ABI 9 has no such map: no rows.
 */
static int tunnel6_rows(const struct ctl_ctx *c, struct ptable *t, const struct filter *f,
			const char *get, struct xcni_tunstat *vals, int ncpus)
{
	struct tunnel6_rec *recs = NULL;
	struct in6_addr want6;
	struct in_addr want;
	bool get_ip6 = get && inet_pton(AF_INET6, get, &want6) == 1;
	bool get_ip = get && inet_pton(AF_INET, get, &want) == 1;
	int fd = map_open_quiet(c, &m_tunnel6), sfd = -1, err = 0;
	size_t n = 0;

	if (fd < 0)
		return 0;
	sfd = map_open(c, &m_tunstat6);
	if (sfd < 0) {
		err = sfd;
		goto out;
	}
	err = map_collect(fd, &m_tunnel6, sizeof(*recs), offsetof(struct tunnel6_rec, ip),
			  offsetof(struct tunnel6_rec, t), (void **)&recs, &n, tunnel6_cmp);
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct xcni_tunnel *tn = &recs[i].t;
		struct xcni_tunstat sum = {};
		struct frow r = { .addr = { tn->pod_cidr }, .plen = { tn->pod_cidr_len },
				  .naddr = tn->pod_cidr_len ? 1 : 0, .addr6 = { recs[i].ip.addr },
				  .plen6 = { 128 }, .naddr6 = 1 };

		if (get && (get_ip6 ? memcmp(&want6, recs[i].ip.addr, 16) != 0 :
			    get_ip ? !(tn->pod_cidr_len &&
				       in_prefix(want.s_addr, tn->pod_cidr, tn->pod_cidr_len)) :
				     strncmp(get, tn->node, sizeof(tn->node)) != 0))
			continue;
		if (!filter_match(f, &r))
			continue;
		if (get && pt_rows(t))
			break;
		err = tunstat_sum(sfd, &recs[i].ip, vals, ncpus, &sum);
		if (err)
			goto out;
		tunnel_row(t, NULL, recs[i].ip.addr, tn, &sum);
	}
out:
	free(recs);
	if (sfd >= 0)
		close(sfd);
	close(fd);
	return err;
}

/* tunnel list (get NULL), and tunnel get NODE: by name, underlay IP or an address of its pod CIDR. */
static int tunnel_show(const struct ctl_ctx *c, const char *get)
{
	struct tunnel_rec *recs = NULL;
	struct xcni_tunstat *vals = NULL;
	struct ptable *t = NULL;
	int fd, sfd = -1, ncpus, err;
	struct filter f;
	struct in_addr want;
	bool get_ip = get && inet_pton(AF_INET, get, &want) == 1;
	size_t n, i;

	/* A per-CPU lookup fills one value per possible CPU, each 8-byte aligned. */
	_Static_assert(sizeof(struct xcni_tunstat) % 8 == 0, "per-CPU values are 8-byte aligned");
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		pr_err("possible CPUs: %s\n", strerror(-ncpus));
		return ncpus;
	}
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals) {
		err = -ENOMEM;
		goto free;
	}
	fd = map_open(c, &m_tunnel);
	if (fd < 0) {
		err = fd;
		goto free;
	}
	sfd = map_open(c, &m_tunstat);
	if (sfd < 0) {
		err = sfd;
		goto close;
	}
	err = map_collect(fd, &m_tunnel, sizeof(*recs), offsetof(struct tunnel_rec, ip),
			  offsetof(struct tunnel_rec, t), (void **)&recs, &n, tunnel_cmp);
	if (err)
		goto close;
	t = pt_new(tunnel_cols, ARRAY_SIZE(tunnel_cols), get ? PT_RECORD : 0);
	for (i = 0; i < n; i++) {
		const struct xcni_tunnel *tn = &recs[i].t;
		struct xcni_tunstat sum = {};
		struct frow r = { .addr = { recs[i].ip, tn->pod_cidr },
				  .plen = { 32, tn->pod_cidr_len }, .naddr = tn->pod_cidr_len ? 2 : 1 };

		if (get && (get_ip ? !(want.s_addr == recs[i].ip ||
				       (tn->pod_cidr_len && in_prefix(want.s_addr, tn->pod_cidr,
								      tn->pod_cidr_len)))
				   : strncmp(get, tn->node, sizeof(tn->node)) != 0))
			continue;
		if (!filter_match(&f, &r))
			continue;
		if (get && pt_rows(t))
			break; /* one record */

		err = tunstat_sum(sfd, &recs[i].ip, vals, ncpus, &sum);
		if (err)
			goto free_t;
		tunnel_row(t, &recs[i].ip, NULL, tn, &sum);
	}
	if (!get || !pt_rows(t)) {
		err = tunnel6_rows(c, t, &f, get, vals, ncpus);
		if (err)
			goto free_t;
	}
	if (get && !pt_rows(t)) {
		pr_err("%s: no such node among those this node tunnels to\n", get);
		err = -ENOENT;
		goto free_t;
	}
	err = show(c, t);
	t = NULL;
free_t:
	pt_free(t);
close:
	free(recs);
	if (sfd >= 0)
		close(sfd);
	close(fd);
free:
	free(vals);
	filter_close(&f);
	return err;
}

static int cmd_tunnel_list(const struct ctl_ctx *c, char **argv)
{
	(void)argv;
	return tunnel_show(c, NULL);
}

static int cmd_tunnel_get(const struct ctl_ctx *c, char **argv)
{
	return tunnel_show(c, argv[0]);
}

const struct cmd tunnel_cmds[] = {
	{ "tunnel", "list", cmd_tunnel_list, 0, OPT_IP | OPT_POD, "[--ip IP] [--pod POD]",
	  "List the other nodes this node tunnels to (Geneve), with their traffic.\n\n"
	  "Sorted by underlay IP. TX counts what this node encapsulated to the node,\n"
	  "RX what it decapsulated from it, summed over CPUs. Bytes include the outer\n"
	  "headers; a GSO/GRO batch counts as one packet. A node is about its\n"
	  "underlay address and its pod CIDR: --pod finds the node a pod lives on.\n"
	  "Nodes behind an IPv6 underlay (xcni_tunnel6) follow the IPv4 ones.\n\n"
	  HELP_IP HELP_POD, NULL },
	{ "tunnel", "get", cmd_tunnel_get, 1, 0, "NODE",
	  "Show one node this node tunnels to.\n\n"
	  "NODE is its name, its underlay IP, or an address of its pod CIDR.", NULL },
	{}
};
