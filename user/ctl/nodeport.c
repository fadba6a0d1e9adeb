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
static CTL_MAP(self6, ARRAY, __u32, __u8[16], 1);

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

static void addr_cells(struct ptable *t, __u8 fam, const __u8 *a, __u16 port)
{
	pt_ip(t, fam, a);
	pt_uint(t, ntohs(port));
}

struct snat6_rec {
	struct xcni_ct6_key k;
	struct xcni_snat v;
};

/*
 * One SNATed flow (rec: a ct_rec or snat6_rec): node -> backend (the tuple on
 * this node), its client, and its conntrack entry (IPv6: looked up, maybe gone).
 */
static void snat_row(struct ptable *t, __u8 fam, const void *rec, void *arg)
{
	const struct fam_list *l = arg;
	int ct6_fd = *(const int *)l->priv; /* xcni_ct6, the IPv6 flows' state; -1: none */
	const struct snat6_rec *r6 = rec;
	const struct ct_rec *r4 = rec;
	const struct xcni_ct_entry *e = &r4->e;
	const __u8 *node = (const __u8 *)&r4->k.saddr, *be = (const __u8 *)&r4->k.daddr;
	const __u8 *client = (const __u8 *)&r4->e.nat_addr;
	__u16 nport = r4->k.sport, bport = r4->k.dport, cport = r4->e.nat_port;
	__u8 proto = r4->k.proto;
	struct xcni_ct_entry e6;
	struct frow row = {};
	char fe[80];

	if (fam == XCNI_AF_INET6) {
		node = r6->k.saddr, be = r6->k.daddr, client = r6->v.client;
		nport = r6->k.sport, bport = r6->k.dport, cport = r6->v.cport;
		proto = r6->k.proto;
		e = ct6_fd >= 0 && !bpf_map_lookup_elem(ct6_fd, &r6->k, &e6) ? &e6 : NULL;
		/* An IPv4 record (its IPv6 view's proto 0): the xcni_ct rows. */
		if (!proto)
			return;
	} else if ((e->flags & (XCNI_CT_F_SNAT | XCNI_CT_F_SVC)) != XCNI_CT_F_SNAT) {
		return; /* not the flow's own entry (node -> backend): its service entry has nat_port only */
	}
	frow_addr(&row, fam, client, fam_len(fam) * 8);
	frow_addr(&row, fam, be, fam_len(fam) * 8);
	if (!filter_match(l->f, &row))
		return;
	pt_proto(t, proto);
	pt_str(t, fam == XCNI_AF_INET6 ? "ipv6" : "ipv4");
	pt_end(t, fam, proto, node, nport);
	pt_end(t, fam, proto, be, bport);
	pt_end(t, fam, proto, client, cport);
	addr_cells(t, fam, node, nport);
	addr_cells(t, fam, be, bport);
	addr_cells(t, fam, client, cport);
	pt_str(t, e && svcnames_frontend(l->sn, e->rev_nat, fe, sizeof(fe)) ? fe : NULL);
	if (!e) {
		pt_str(t, "missing");
		pt_null(t);
		return;
	}
	pt_ct_state(t, e->state);
	pt_uint(t, secs_since(l->now, e->last_ns));
}

static int cmd_service_snat(const struct ctl_ctx *c, char **argv)
{
	static const struct fam_map m[2] = {
		FAM_MAP(m_ct, ct_rec, k, e, ct_cmp, XCNI_AF_INET),
		FAM_MAP(m_snat6, snat6_rec, k, v, ct6_cmp, XCNI_AF_INET6),
	};
	int ct6_fd = map_open_quiet(c, &m_ct6), err;

	(void)argv;
	err = fam_list(c, snat_cols, ARRAY_SIZE(snat_cols), m, snat_row, &ct6_fd);
	xcni_close(&ct6_fd);
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
		if (err)
			return pr_err_ret(err, "%s: lookup: %s\n", m_self6.name, strerror(-err));
	}
	t = pt_new(self_cols, ARRAY_SIZE(self_cols), 0);
	self_row(c, t, XCNI_AF_INET, cfg.node_ip ? (const __u8 *)&cfg.node_ip : NULL,
		 m_config.name);
	self_row(c, t, XCNI_AF_INET6, memcmp(self6, zero16, 16) ? self6 : NULL, m_self6.name);
	return show(c, t);
}

const struct cmd nodeport_cmds[] = {
	{ "service", "snat", cmd_service_snat, 0, OPT_FILTERS, "[filters]",
	  "List the NodePort flows this node SNATed to reach a backend on another node.", NULL },
	{ "service", "self", cmd_service_self, 0, OPT_IP, "[--ip IP]",
	  "Show this node's own addresses as the data plane's NodePort SNAT sources.", NULL },
	{}
};
