// SPDX-License-Identifier: Apache-2.0
/* xcnictl tunnel list/get: the other nodes this node tunnels to, with their traffic. */
#include "ctl/ctl.h"
#include "lib/system/bpfpin.h"

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

struct tunnel6_rec {
	struct xcni_in6 ip; /* underlay IPv6 */
	struct xcni_tunnel t;
};

struct tunnel_list {
	const struct filter *f;
	const char *get; /* tunnel get's NODE; NULL: list */
	struct ctl_addr want; /* NODE as an address; family 0: a name */
	const struct ctl_ctx *c;
	int sfd[2]; /* xcni_tunstat, xcni_tunstat6: opened at the family's first row */
	int err;
};

/*
 * A node (rec: a tunnel_rec or tunnel6_rec, its underlay address then its
 * entry) passing the filters, or get's: by name, underlay address, or an
 * address of its pod CIDR.
 */
static void tunnel_row(struct ptable *t, __u8 fam, const void *rec, void *arg)
{
	struct tunnel_list *l = arg;
	const __u8 *ip = rec;
	const struct xcni_tunnel *tn = fam == XCNI_AF_INET6 ? &((const struct tunnel6_rec *)rec)->t :
							      &((const struct tunnel_rec *)rec)->t;
	const struct ctl_addr *w = &l->want;
	int *sfd = &l->sfd[fam == XCNI_AF_INET6];
	const struct map_spec *stat = fam == XCNI_AF_INET6 ? &m_tunstat6 : &m_tunstat;
	struct xcni_tunstat sum = {};
	__u32 want;
	struct frow r = {};
	char buf[INET_ADDRSTRLEN];

	if (l->err || (l->get && pt_rows(t)))
		return; /* get: one record */
	memcpy(&want, w->addr, 4);
	if (l->get && (w->family ? !((w->family == fam && !memcmp(w->addr, ip, fam_len(fam))) ||
				     (w->family == XCNI_AF_INET && tn->pod_cidr_len &&
				      xcni_in_prefix4(want, tn->pod_cidr,
						tn->pod_cidr_len)))
				 : strncmp(l->get, tn->node, sizeof(tn->node)) != 0))
		return;
	frow_addr(&r, fam, ip, fam_len(fam) * 8);
	if (tn->pod_cidr_len)
		frow_addr(&r, XCNI_AF_INET, &tn->pod_cidr, tn->pod_cidr_len);
	if (!filter_match(l->f, &r))
		return;
	if (*sfd < 0)
		*sfd = map_open(l->c, stat);
	l->err = *sfd < 0 ? *sfd : xcni_percpu_sum(*sfd, ip, &sum, sizeof(sum));
	/* xcnid creates a node's counters with its tunnel; one removed between the
	 * two reads just shows zeros. */
	if (*sfd >= 0 && l->err == -ENOENT)
		l->err = 0;
	else if (*sfd >= 0 && l->err)
		pr_err("tunnel counters: lookup: %s\n", strerror(-l->err));
	if (l->err)
		return;
	pt_field(t, tn->node, sizeof(tn->node));
	pt_ip(t, fam, ip);
	if (tn->pod_cidr_len)
		pt_strf(t, "%s/%u", xcni_ip4_str(tn->pod_cidr, buf), tn->pod_cidr_len);
	else
		pt_null(t); /* a node without spec.podCIDR yet */
	pt_uint(t, sum.tx_packets);
	pt_uint(t, sum.tx_bytes);
	pt_uint(t, sum.rx_packets);
	pt_uint(t, sum.rx_bytes);
}

/*
 * tunnel list (get NULL), and tunnel get NODE. The nodes behind the IPv6
 * underlay (xcni_tunnel6) follow the IPv4 ones; an agent before ABI 9 has none.
 */
static int cmd_tunnel_show(const struct ctl_ctx *c, char **argv)
{
	const char *get = argv[0]; /* list and get: argv ends in NULL, list's at [0] */
	static const struct fam_map m[2] = {
		FAM_MAP(m_tunnel, tunnel_rec, ip, t, ip4_cmp, XCNI_AF_INET),
		FAM_MAP(m_tunnel6, tunnel6_rec, ip, t, in6_cmp, XCNI_AF_INET6),
	};
	struct tunnel_list l = { .get = get, .c = c, .sfd = { -1, -1 } };
	struct ptable *t = NULL;
	struct filter f;
	int err;

	if (get && parse_ip_any(get, &l.want))
		l.want.family = 0;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	l.f = &f;
	t = pt_new(tunnel_cols, ARRAY_SIZE(tunnel_cols), get ? PT_RECORD : 0);
	err = fam_rows(c, t, m, tunnel_row, &l) ?: l.err;
	if (!err && get && !pt_rows(t)) {
		err = pr_err_ret(-ENOENT, "%s: no such node among those this node tunnels to\n",
				 get);
	}
	for (int i = 0; i < 2; i++)
		xcni_close(&l.sfd[i]);
	filter_close(&f);
	return show_read(c, t, err);
}

const struct cmd tunnel_cmds[] = {
	{ "tunnel", "list", cmd_tunnel_show, 0, OPT_IP | OPT_POD, "[--ip IP] [--pod POD]",
	  "List the other nodes this node tunnels to (Geneve), with their traffic.", NULL },
	{ "tunnel", "get", cmd_tunnel_show, 1, 0, "NODE",
	  "Show one node this node tunnels to.", NULL },
	{}
};
