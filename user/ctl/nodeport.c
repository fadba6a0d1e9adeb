// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl service snat/self: the state of NodePorts (and externalIPs,
 * load-balancer IPs) sent to a backend on another node, which this node
 * SNATs to its own address so the replies come back through it.
 *
 *  - IPv4: the flow's own conntrack entry (xcni_ct, XCNI_CT_F_SNAT) holds the
 *    client in nat_addr/nat_port; the SNAT source is the underlay address
 *    (from_overlay's node_ip, which xcnid also writes into xcni_config).
 *  - IPv6: the client is in xcni_snat (the conntrack entry has no room for
 *    it), keyed by the flow's tuple on this node (the map holds IPv4's
 *    records too, the replies' own: those are shown from xcni_ct, with the
 *    flow's state); the SNAT source of a
 *    frontend that is not this node's own address is xcni_self6, written by
 *    xcnid at every Service sync (bpf/lib/nodeport.h).
 *
 * One view for both families, as ct list and service sockets are.
 */
#include "ctl/ctl.h"

static const struct map_spec m_snat6 = {
	"xcni_snat", BPF_MAP_TYPE_LRU_HASH, sizeof(struct xcni_ct6_key), sizeof(struct xcni_snat), 0
};
static const struct map_spec m_self6 = { "xcni_self6", BPF_MAP_TYPE_ARRAY, 4, 16, 1 };

static const struct pt_col snat_cols[] = {
	{ "PROTO", "proto", PT_STR },
	{ NULL, "family", PT_STR }, /* ipv4 (xcni_ct) or ipv6 (xcni_snat) */
	/* The flow as it leaves this node: this node's address and the port it gave, to the backend. */
	{ "NODE", "node", PT_STR },
	{ "BACKEND", "backend", PT_STR },
	{ "CLIENT", "client", PT_STR },
	{ NULL, "node_addr", PT_STR },
	{ NULL, "node_port", PT_UINT },
	{ NULL, "backend_addr", PT_STR },
	{ NULL, "backend_port", PT_UINT },
	{ NULL, "client_addr", PT_STR },
	{ NULL, "client_port", PT_UINT },
	/* The frontend the client asked for (the conntrack entry's rev-NAT index). */
	{ "SERVICE", "service", PT_STR },
	/* The flow's conntrack state; "missing": an IPv6 row whose xcni_ct6 entry is gone. */
	{ "STATE", "state", PT_STR },
	{ "IDLE", "idle_s", PT_UINT },
};

/* addr:port (ICMP echo: the id) of family fam, as text and as the two JSON fields. */
static void end_cells(struct ptable *t, __u8 fam, __u8 proto, const __u8 *a, __u16 port)
{
	if (fam == XCNI_AF_INET6)
		pt_addr6_port(t, proto, a, port);
	else
		pt_addr_port(t, proto, *(const __u32 *)a, port);
}

static void addr_cells(struct ptable *t, __u8 fam, const __u8 *a, __u16 port)
{
	char buf[INET6_ADDRSTRLEN];

	pt_str(t, inet_ntop(fam == XCNI_AF_INET6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf)));
	pt_uint(t, ntohs(port));
}

/* One SNATed flow: node -> backend (the tuple on this node), its client, its entry e (NULL: none). */
static void snat_row(struct ptable *t, struct svcnames *sn, __u64 now, __u8 fam, __u8 proto,
		     const __u8 *node, __u16 nport, const __u8 *be, __u16 bport,
		     const __u8 *client, __u16 cport, const struct xcni_ct_entry *e)
{
	char fe[80];

	pt_proto(t, proto);
	pt_str(t, fam == XCNI_AF_INET6 ? "ipv6" : "ipv4");
	end_cells(t, fam, proto, node, nport);
	end_cells(t, fam, proto, be, bport);
	end_cells(t, fam, proto, client, cport);
	addr_cells(t, fam, node, nport);
	addr_cells(t, fam, be, bport);
	addr_cells(t, fam, client, cport);
	pt_str(t, e && svcnames_frontend(sn, e->rev_nat, fe, sizeof(fe)) ? fe : NULL);
	if (!e) {
		pt_str(t, "missing");
		pt_null(t);
		return;
	}
	pt_ct_state(t, e->state);
	pt_uint(t, secs_since(now, e->last_ns));
}

struct snat6_rec {
	struct xcni_ct6_key k;
	struct xcni_snat v;
};

/* The IPv6 rows (xcni_snat) passing f; none on an agent without IPv6 NodePorts. */
static int snat6_rows(const struct ctl_ctx *c, struct ptable *t, const struct filter *f,
		      struct svcnames *sn, __u64 now)
{
	struct snat6_rec *recs = NULL;
	struct xcni_ct_entry e;
	size_t n = 0;
	int fd = map_open_quiet(c, &m_snat6), ctfd, err;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = map_collect(fd, &m_snat6, sizeof(*recs), offsetof(struct snat6_rec, k),
			  offsetof(struct snat6_rec, v), (void **)&recs, &n, ct6_cmp);
	close(fd);
	if (err)
		return err;
	ctfd = map_open_quiet(c, &m_ct6);
	for (size_t i = 0; i < n; i++) {
		const struct snat6_rec *r = &recs[i];
		/* An IPv4 record (its IPv6 view's proto 0): the xcni_ct rows. */
		if (!r->k.proto)
			continue;
		struct frow row = { .addr6 = { r->v.client, r->k.daddr }, .plen6 = { 128, 128 },
				    .naddr6 = 2 };
		bool has = ctfd >= 0 && !bpf_map_lookup_elem(ctfd, &r->k, &e);

		if (filter_match(f, &row))
			snat_row(t, sn, now, XCNI_AF_INET6, r->k.proto, r->k.saddr, r->k.sport,
				 r->k.daddr, r->k.dport, r->v.client, r->v.cport, has ? &e : NULL);
	}
	if (ctfd >= 0)
		close(ctfd);
	free(recs);
	return 0;
}

static int cmd_service_snat(const struct ctl_ctx *c, char **argv)
{
	struct ct_rec *recs = NULL;
	struct ptable *t;
	struct svcnames sn;
	struct filter f;
	size_t n;
	__u64 now;
	int err;

	(void)argv;
	if ((err = filter_open(c, &f, 0)))
		return err;
	err = map_read(c, &m_ct, sizeof(*recs), offsetof(struct ct_rec, k),
		       offsetof(struct ct_rec, e), ct_cmp, (void **)&recs, &n);
	if (err)
		goto close;
	now = xcni_mono_ns();
	svcnames_open(c, &sn);
	t = pt_new(snat_cols, ARRAY_SIZE(snat_cols), 0);
	for (size_t i = 0; i < n; i++) {
		const struct xcni_ct_key *k = &recs[i].k;
		const struct xcni_ct_entry *e = &recs[i].e;
		struct frow row = { .addr = { e->nat_addr, k->daddr }, .plen = { 32, 32 },
				    .naddr = 2 };

		/* The flow's own entry (node -> backend); its service entry has nat_port only. */
		if ((e->flags & (XCNI_CT_F_SNAT | XCNI_CT_F_SVC)) != XCNI_CT_F_SNAT ||
		    !filter_match(&f, &row))
			continue;
		snat_row(t, &sn, now, XCNI_AF_INET, k->proto, (const __u8 *)&k->saddr, k->sport,
			 (const __u8 *)&k->daddr, k->dport, (const __u8 *)&e->nat_addr,
			 e->nat_port, e);
	}
	err = show_read(c, t, snat6_rows(c, t, &f, &sn, now), m_snat6.name);
	svcnames_close(&sn);
	free(recs);
close:
	filter_close(&f);
	return err;
}

/* ---- service self ------------------------------------------------------------- */

static const struct pt_col self_cols[] = {
	{ "FAMILY", "family", PT_STR },
	{ "ADDRESS", "address", PT_STR }, /* - (null): none */
	{ "MAP", "map", PT_STR }, /* where the data plane reads it */
};

/* One row, unless --ip is given and a (NULL: none) is not in it. */
static void self_row(const struct ctl_ctx *c, struct ptable *t, __u8 fam, const __u8 *a,
		     const char *map)
{
	char buf[INET6_ADDRSTRLEN];

	if (c->opts & OPT_IP) {
		const struct ctl_addr *q = &c->ip_any;

		if (!a || q->family != fam ||
		    (fam == XCNI_AF_INET6 ? memcmp(q->addr, a, 16) : memcmp(q->addr, a, 4)))
			return;
	}
	pt_str(t, fam == XCNI_AF_INET6 ? "ipv6" : "ipv4");
	pt_str(t, a ? inet_ntop(fam == XCNI_AF_INET6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf)) :
		      NULL);
	pt_str(t, map);
}

static int cmd_service_self(const struct ctl_ctx *c, char **argv)
{
	static const __u8 zero16[16];
	struct xcni_config cfg;
	struct ptable *t;
	__u8 self6[16];
	__u32 zero = 0;
	int fd, err;

	(void)argv;
	err = ctl_config_read(c, &cfg);
	if (err)
		return err;
	/* No xcni_self6 (an agent without IPv6 NodePorts): the IPv6 row says none. */
	memset(self6, 0, sizeof(self6));
	fd = map_open_quiet(c, &m_self6);
	if (fd < 0 && fd != -ENOENT)
		return fd;
	if (fd >= 0) {
		err = bpf_map_lookup_elem(fd, &zero, self6) ? -errno : 0;
		close(fd);
		if (err) {
			pr_err("%s: lookup: %s\n", m_self6.name, strerror(-err));
			return err;
		}
	}
	t = pt_new(self_cols, ARRAY_SIZE(self_cols), 0);
	self_row(c, t, XCNI_AF_INET, cfg.node_ip ? (const __u8 *)&cfg.node_ip : NULL,
		 m_config.name);
	self_row(c, t, XCNI_AF_INET6, memcmp(self6, zero16, 16) ? self6 : NULL, m_self6.name);
	return show(c, t);
}

const struct cmd nodeport_cmds[] = {
	{ "service", "snat", cmd_service_snat, 0, OPT_FILTERS, "[filters]",
	  "List the NodePort flows this node SNATed to reach a backend on another node.\n\n"
	  "A NodePort, externalIP or load-balancer IP whose backend is on another\n"
	  "node (externalTrafficPolicy Cluster, Services in BPF) gets this node's\n"
	  "address as its source (service self) so the replies come back here, where\n"
	  "they get their client back. NODE is this node's address and the port it\n"
	  "gave the flow, BACKEND where it went, CLIENT who sent it; SERVICE the\n"
	  "frontend it asked for. IPv4 rows are the flows' own entries of xcni_ct\n"
	  "(those flagged SNAT), then IPv6 rows from xcni_snat, as [ADDR]:PORT (JSON\n"
	  "rows say \"family\": \"ipv4\" or \"ipv6\", and each end again as _addr and\n"
	  "_port). STATE and IDLE (seconds) are the flow's conntrack entry's; an\n"
	  "IPv6 row whose entry is gone (xcni_snat is an LRU of its own) says\n"
	  "missing. The filters match the client and the backend.\n\n"
	  HELP_FILTERS, NULL },
	{ "service", "self", cmd_service_self, 0, OPT_IP, "[--ip IP]",
	  "Show this node's own addresses as the data plane's NodePort SNAT sources.\n\n"
	  "ipv4: the underlay address (xcni_config), the source of every IPv4 flow\n"
	  "SNATed to a remote backend. ipv6: the IPv6 address xcnid writes at every\n"
	  "Service sync (xcni_self6), the source of an IPv6 externalIP or\n"
	  "load-balancer IP's flow to a remote backend (a NodePort's is the node\n"
	  "address it came to); - (null) when none: such flows are dropped\n"
	  "(drop-no-tunnel).\n\n"
	  "  --ip IP              the row of that address only (none: no rows)", NULL },
	{}
};
