// SPDX-License-Identifier: Apache-2.0
/* xcnictl endpoint list/get: the pods of this node (xcni_endpoints). */
#include <net/if.h>

#include "ctl/ctl.h"

static void pt_mac(struct ptable *t, const __u8 m[6])
{
	pt_strf(t, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}


/*
 * One row per pod: its IPv4 (xcni_endpoints) and IPv6 (xcni_endpoints6), "-"
 * for none; who it is (the cluster state's podname map), the identity the
 * ipcache gives it (what peers' policy sees), its policy state. --wide (text)
 * adds the device's details and the identity's labels (as -o wide does); JSON
 * has every column.
 */
static const struct pt_col ep_cols[] = {
	{ "IP", "ip", PT_STR },
	{ "IP6", "ip6", PT_STR },
	{ "NAMESPACE", "namespace", PT_STR },
	{ "POD", "pod", PT_STR },
	{ "NODE", "node", PT_STR },
	{ "IDENTITY", "identity", PT_UINT },
	{ "IFINDEX", "ifindex", PT_UINT | PT_SHOW_WIDE },
	{ "IFNAME", "ifname", PT_STR },
	{ "EP-ID", "ep_id", PT_UINT },
	{ "POD-MAC", "pod_mac", PT_STR | PT_SHOW_WIDE },
	{ "HOST-MAC", "host_mac", PT_STR | PT_SHOW_WIDE },
	{ "FLAGS", "flags", PT_HEX | PT_SHOW_WIDE },
	{ "POLICY", "policy", PT_STR },
	{ "LABELS", "labels", PT_STR | PT_SHOW_WIDE },
	{ NULL, "ep_identity", PT_UINT },
};

/* --wide: the -o wide columns in the text, not the JSON-only ones. */
static struct ptable *ep_table(const struct ctl_ctx *c, unsigned int flags)
{
	static struct pt_col cols[ARRAY_SIZE(ep_cols)];

	for (size_t i = 0; i < ARRAY_SIZE(ep_cols); i++) {
		cols[i] = ep_cols[i];
		if (c->opts & OPT_WIDE)
			cols[i].type &= PT_TYPE_MASK;
	}
	return pt_new(cols, ARRAY_SIZE(cols), flags);
}

/* The maps a row reads besides the endpoints (-1: absent), and the pods with audit entries. */
struct ep_maps {
	int polep, ipcache, ipcache6, identity, podname;
	struct polkey6_maps k6;
	struct ep_audit *audit; /* sorted by key */
	size_t naudit;
};

struct ep_audit {
	__u32 ep; /* the pod's policy key */
	__u8 version;
	__u8 pad[3];
};

/* By key and version, as their bytes: the order of a lookup, nothing shown. */
static int audit_cmp(const void *a, const void *b)
{
	return memcmp(a, b, offsetof(struct ep_audit, pad));
}

/*
 * The pods that have policy entries in audit mode (a NetworkPolicy or a
 * namespace annotated xcni.io/policy-mode: audit): one walk of xcni_policy.
 */
static void ep_audit_read(const struct ctl_ctx *c, struct ep_maps *m)
{
	struct polhash_rec *recs = NULL;
	size_t n = 0, k = 0;
	int fd = map_open_quiet(c, &m_policy);

	if (fd < 0)
		return;
	if (map_collect(fd, &m_policy, sizeof(*recs), offsetof(struct polhash_rec, k),
			offsetof(struct polhash_rec, v), (void **)&recs, &n, NULL))
		n = 0;
	close(fd);
	m->audit = calloc(n + 1, sizeof(*m->audit));
	for (size_t i = 0; m->audit && i < n; i++)
		if (recs[i].v.flags & XCNI_POLV_AUDIT)
			m->audit[k++] = (struct ep_audit){ .ep = recs[i].k.ep,
							   .version = recs[i].k.version };
	free(recs);
	m->naudit = m->audit ? sort_unique(m->audit, k, sizeof(*m->audit), audit_cmp) : 0;
}

static void ep_maps_open(const struct ctl_ctx *c, struct ep_maps *m)
{
	*m = (struct ep_maps){};
	m->polep = map_open_quiet(c, &m_polep);
	polsync_key6_open(&m->k6, c->pin_dir, ctl_map_open);
	m->ipcache = map_open_quiet(c, &m_ipcache);
	m->ipcache6 = map_open_quiet(c, &m_ipcache6);
	m->identity = map_open_quiet(c, &m_identity);
	m->podname = map_open_quiet(c, &m_podname);
	ep_audit_read(c, m);
}

static void ep_maps_close(struct ep_maps *m)
{
	int *fds[] = { &m->polep, &m->ipcache, &m->ipcache6, &m->identity, &m->podname };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		xcni_close(&*fds[i]);
	polsync_key6_close(&m->k6);
	free(m->audit);
}

/* What a row shows beyond the endpoint entry. */
struct ep_info {
	__u32 identity; /* the ipcache's, else the policy's (polep), else the endpoint's */
	char ns[64], pod[256], node[64];
	char labels[sizeof(((struct xcni_idlabels *)0)->labels) + 1];
	char policy[48];
};

/*
 * The pod's policy state as xcnid left it in xcni_polep (keyed by the IPv4,
 * or an IPv6-only pod's polkey6): "contested" (another live pod claims its
 * address), "overflow" (its policy did not fit), "pending" (not judged yet, or
 * no agent enforces policy here); else the directions enforced, "ingress",
 * "egress", "ingress,egress", or "open" for none, with ",audit" when some of
 * its entries are in audit mode (they report, never drop).
 */
static void ep_info_get(const struct ep_maps *m, __u32 ip, const __u8 *ip6,
			const struct xcni_endpoint *ep, struct ep_info *out)
{
	struct xcni_ipcache_key k4 = { .prefixlen = 32, .addr = ip };
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	struct xcni_ipcache_val iv;
	struct xcni_idlabels il;
	struct xcni_podname pn;
	struct xcni_polep pe;
	__u32 key = ip;
	bool have_pe;

	memset(out, 0, sizeof(*out));
	if (!key && ip6)
		key = polsync_key6(&m->k6, ip6);
	have_pe = key && m->polep >= 0 && !bpf_map_lookup_elem(m->polep, &key, &pe);
	if (ip6)
		memcpy(k6.addr, ip6, 16);
	/* The ipcache's entry for the pod itself (a pod entry), not a prefix that covers it. */
	if ((ip && m->ipcache >= 0 && !bpf_map_lookup_elem(m->ipcache, &k4, &iv) &&
	     (iv.flags & XCNI_IPC_POD)) ||
	    (ip6 && m->ipcache6 >= 0 && !bpf_map_lookup_elem(m->ipcache6, &k6, &iv) &&
	     (iv.flags & XCNI_IPC_POD)))
		out->identity = iv.identity;
	else
		out->identity = have_pe && pe.identity ? pe.identity : ep->identity;
	if (out->identity && m->identity >= 0 &&
	    !bpf_map_lookup_elem(m->identity, &out->identity, &il))
		snprintf(out->labels, sizeof(out->labels), "%.*s",
			 (int)strnlen(il.labels, sizeof(il.labels)), il.labels);
	if (key && m->podname >= 0 && !bpf_map_lookup_elem(m->podname, &key, &pn)) {
		snprintf(out->ns, sizeof(out->ns), "%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns);
		snprintf(out->pod, sizeof(out->pod), "%.*s", (int)strnlen(pn.name, sizeof(pn.name)),
			 pn.name);
		snprintf(out->node, sizeof(out->node), "%.*s",
			 (int)strnlen(pn.node, sizeof(pn.node)), pn.node);
	}
	if (!have_pe) {
		snprintf(out->policy, sizeof(out->policy), "pending");
	} else if (pe.isolated & XCNI_POLEP_CONTESTED) {
		snprintf(out->policy, sizeof(out->policy), "contested");
	} else if (pe.isolated & XCNI_POLEP_OVERFLOW) {
		snprintf(out->policy, sizeof(out->policy), "overflow");
	} else {
		struct ep_audit want = { .ep = key, .version = pe.version };
		bool in = pe.isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD);
		bool eg = pe.isolated & XCNI_ISOLATED(XCNI_DIR_FROM_POD);
		bool audit = m->naudit && bsearch(&want, m->audit, m->naudit, sizeof(want), audit_cmp);

		snprintf(out->policy, sizeof(out->policy), "%s%s", in && eg ? "ingress,egress" :
			 in ? "ingress" : eg ? "egress" : "open", audit ? ",audit" : "");
	}
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
		   const struct ep_info *in)
{
	char buf[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];

	pt_str(t, ip ? xcni_ip4_str(ip, buf) : NULL);
	pt_str(t, ip6 ? inet_ntop(AF_INET6, ip6, buf, sizeof(buf)) : NULL);
	pt_str(t, in->ns[0] ? in->ns : NULL);
	pt_str(t, in->pod[0] ? in->pod : NULL);
	pt_str(t, in->node[0] ? in->node : NULL);
	pt_uint(t, in->identity);
	pt_uint(t, ep->ifindex);
	/* The name the plugin recorded: this netns may not be the node's, where the
	 * ifindex would name another device or none. */
	if (ep->host_if[0])
		pt_strf(t, "%.*s", (int)strnlen(ep->host_if, sizeof(ep->host_if)), ep->host_if);
	else
		pt_str(t, if_indextoname(ep->ifindex, ifname));
	pt_uint(t, ep->ep_id);
	pt_mac(t, ep->pod_mac);
	pt_mac(t, ep->host_mac);
	pt_uint(t, ep->flags);
	pt_str(t, in->policy);
	pt_str(t, in->labels[0] ? in->labels : NULL);
	pt_uint(t, ep->identity);
}

/* The IPv6 entries of endpoints6 (fd; none without the map), sorted by address. */
static int read_ep6(int fd, struct ep6_rec **recs, size_t *n)
{
	int err;

	*recs = NULL;
	*n = 0;
	if (fd < 0)
		return 0;
	err = map_collect(fd, &m_endpoints6, sizeof(**recs), offsetof(struct ep6_rec, ip),
			  offsetof(struct ep6_rec, ep), (void **)recs, n, in6_cmp);
	if (err)
		return err;
	/* map_collect fills key and value only: paired starts false (it was heap garbage,
	 * so a dual-stack pod's IPv6 went missing from its row at random). */
	for (size_t i = 0; i < *n; i++)
		(*recs)[i].paired = false;
	return 0;
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

/* A pod's row: want's (endpoint get), else if it passes f. */
static void ep_show(struct ptable *t, const struct filter *f, const struct ctl_addr *want,
		    __u32 ip, const __u8 *ip6, const struct xcni_endpoint *ep,
		    const struct ep_maps *m)
{
	struct ep_info in;
	struct frow r = {};

	if (want && !(want->family == XCNI_AF_INET6 ? ip6 && !memcmp(ip6, want->addr, 16) :
						      ip && !memcmp(&ip, want->addr, 4)))
		return;
	if (ip)
		frow_addr(&r, XCNI_AF_INET, &ip, 32);
	if (ip6)
		frow_addr(&r, XCNI_AF_INET6, ip6, 128);
	ep_info_get(m, ip, ip6, ep, &in);
	r.id[0] = in.identity;
	r.nid = !!in.identity;
	if (want || filter_match(f, &r))
		ep_row(t, ip, ip6, ep, &in);
}

/*
 * The pods, dual-stack and IPv4 ones by their IPv4, then IPv6-only ones by
 * their IPv6, each a row with its other family's address (the entry on the
 * same veth): those passing f, or the one with address want.
 */
static int ep_rows(const struct ctl_ctx *c, struct ptable *t, const struct filter *f,
		   const struct ctl_addr *want)
{
	struct ep_rec *recs = NULL;
	struct ep6_rec *recs6 = NULL, *p;
	struct ep_maps m;
	size_t n, n6, i;
	int err;

	err = map_read(c, &m_endpoints, sizeof(*recs), offsetof(struct ep_rec, ip),
		       offsetof(struct ep_rec, ep), ip4_cmp, (void **)&recs, &n);
	if (err)
		return err;
	ep_maps_open(c, &m);
	err = read_ep6(m.k6.endpoints6, &recs6, &n6);
	if (err) {
		ep_maps_close(&m);
		free(recs);
		return pr_err_ret(err, "%s: %s\n", m_endpoints6.name, strerror(-err));
	}
	for (i = 0; i < n; i++) {
		p = ep6_pair(recs6, n6, &recs[i].ep);
		if (p)
			p->paired = true;
		ep_show(t, f, want, recs[i].ip, p ? p->ip.addr : NULL, &recs[i].ep, &m);
	}
	for (i = 0; i < n6; i++)
		if (!recs6[i].paired)
			ep_show(t, f, want, 0, recs6[i].ip.addr, &recs6[i].ep, &m);
	ep_maps_close(&m);
	free(recs);
	free(recs6);
	return 0;
}

/*
 * --pod NS/NAME matched no endpoint here: the cluster state knows where the
 * pod runs (podname's node), so say so, and how to look there.
 */
static void ep_pod_hint(const struct ctl_ctx *c, __u32 key)
{
	struct xcni_podname pn;
	int fd = map_open_quiet(c, &m_podname);

	if (fd < 0)
		return;
	if (!bpf_map_lookup_elem(fd, &key, &pn) && pn.node[0])
		pr_warn("--pod %s: not an endpoint of this node; it runs on node %.*s "
		       "(xcnictl --node %.*s endpoint list --pod %s in the lab, or that node's "
		       "agent)\n", c->pod, (int)strnlen(pn.node, sizeof(pn.node)), pn.node,
		       (int)strnlen(pn.node, sizeof(pn.node)), pn.node, c->pod);
	close(fd);
}

static int cmd_endpoint_list(const struct ctl_ctx *c, char **argv)
{
	struct ptable *t;
	struct filter f;
	int err;

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	t = ep_table(c, 0);
	err = ep_rows(c, t, &f, NULL);
	if (!err && (c->opts & OPT_POD) && !pt_rows(t) && !c->json)
		ep_pod_hint(c, f.ip);
	filter_close(&f);
	return show_read(c, t, err);
}

/* endpoint get IP: the pod with that IPv4 or IPv6 address, with its other family's. */
static int cmd_endpoint_get(const struct ctl_ctx *c, char **argv)
{
	struct ptable *t;
	struct ctl_addr a;
	int err;

	if (parse_ip_any(argv[0], &a))
		return pr_err_ret(-EINVAL, "\"%s\": not an IPv4 or IPv6 address\n", argv[0]);
	t = ep_table(c, PT_RECORD);
	err = ep_rows(c, t, NULL, &a);
	if (!err && !pt_rows(t))
		err = pr_err_ret(-ENOENT, "%s: no such endpoint\n", argv[0]);
	return show_read(c, t, err);
}

const struct cmd endpoint_cmds[] = {
	{ "endpoint", "list", cmd_endpoint_list, 0, OPT_FILTERS | OPT_WIDE, "[filters] [--wide]",
	  "List the endpoints (pods) of this node.", NULL },
	{ "endpoint", "get", cmd_endpoint_get, 1, 0, "IP",
	  "Show the endpoint with address IP (IPv4 or IPv6), with both its addresses.", NULL },
	{}
};
