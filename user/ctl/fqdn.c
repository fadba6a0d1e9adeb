// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl fqdn list: what the node's pods learned from the cluster DNS's
 * answers for ClusterNetworkPolicy domainNames (xcni_fqdn, written by
 * to_pod: bpf/lib/dns.h), each address with the pattern the pod's question
 * matched (the entry's key into xcni_fqdn_pat), the TTL
 * answered and the time left before new connections to it are judged by
 * the other rules again (expiry + XCNI_FQDN_GRACE_S).
 */
#include "ctl/ctl.h"
#include "lib/cluster/fqdn.h"

static const struct pt_col fqdn_cols[] = {
	{ "POD", "pod", PT_STR },
	{ "NAME", "name", PT_STR },
	{ "ADDRESS", "address", PT_STR },
	{ "TTL", "ttl", PT_UINT },
	{ "LEFT", "left_s", PT_INT },
	{ "RULE", "rule", PT_UINT },
};

struct fqdn_rec {
	struct xcni_fqdn_key k;
	struct xcni_fqdn_val v;
};

/* A local pod: its endpoint id and its key in xcni_podname (IPv4, or its IPv6's polsync_key6). */
struct ep_rec {
	__u32 ep_id, key;
};

static int fqdn_cmp(const void *a, const void *b)
{
	const struct fqdn_rec *x = a, *y = b;

	if (x->k.ep_id != y->k.ep_id)
		return (x->k.ep_id > y->k.ep_id) - (x->k.ep_id < y->k.ep_id);
	if (x->k.family != y->k.family)
		return x->k.family - y->k.family;
	return memcmp(x->k.addr, y->k.addr, sizeof(x->k.addr));
}

/* The endpoints of this node, both maps: ep_id -> podname key (0: none). */
static size_t eps_read(const struct ctl_ctx *c, struct ep_rec **out)
{
	struct {
		__u32 ip;
		struct xcni_endpoint ep;
	} *v4 = NULL;
	struct {
		struct xcni_in6 ip;
		struct xcni_endpoint ep;
	} *v6 = NULL;
	size_t n4 = 0, n6 = 0, n = 0;
	int fd = map_open_quiet(c, &m_endpoints);
	struct polkey6_maps k6;

	if (fd >= 0 &&
	    map_collect(fd, &m_endpoints, sizeof(*v4), 0, sizeof(__u32), (void **)&v4, &n4, NULL))
		n4 = 0;
	xcni_close(&fd);
	polsync_key6_open(&k6, c->pin_dir, ctl_map_open);
	if (k6.endpoints6 >= 0 && map_collect(k6.endpoints6, &m_endpoints6, sizeof(*v6), 0,
					      sizeof(struct xcni_in6), (void **)&v6, &n6, NULL))
		n6 = 0;
	*out = calloc(n4 + n6 + 1, sizeof(**out));
	for (size_t i = 0; *out && i < n4; i++)
		(*out)[n++] = (struct ep_rec){ v4[i].ep.ep_id, v4[i].ip };
	for (size_t i = 0; *out && i < n6; i++)
		(*out)[n++] = (struct ep_rec){ v6[i].ep.ep_id, polsync_key6(&k6, v6[i].ip.addr) };
	polsync_key6_close(&k6);
	free(v4);
	free(v6);
	return *out ? n : 0;
}

static __u32 key_of(const struct ep_rec *eps, size_t n, __u32 ep_id)
{
	for (size_t i = 0; i < n; i++)
		if (eps[i].ep_id == ep_id && eps[i].key)
			return eps[i].key;
	return 0;
}

/* The pattern r was learned through, as the policy wrote it, into out; "-" when gone. */
static void pat_name(int fd, const struct fqdn_rec *r, char *out, size_t len)
{
	struct xcni_fqdn_pat_key k = { .ep_id = r->k.ep_id, .kind = r->v.pat_kind,
				       .hash = r->v.pat_hash };
	struct xcni_fqdn_pat p;

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &p))
		snprintf(out, len, "-");
	else
		fqdn_unflat(p.name, p.len, k.kind == XCNI_FQDN_WILD, out, len);
}

static int cmd_fqdn_list(const struct ctl_ctx *c, char **argv)
{
	struct fqdn_rec *recs = NULL;
	struct ep_rec *eps = NULL;
	size_t n = 0, neps;
	__u32 want = 0;
	__u64 now = xcni_mono_ns();
	struct ptable *t;
	int err, fd, pfd;

	(void)argv;
	if ((c->opts & OPT_POD) && (err = resolve_pod(c, c->pod, &want, "--pod")))
		return err;
	err = map_read(c, &m_fqdn, sizeof(*recs), offsetof(struct fqdn_rec, k),
		       offsetof(struct fqdn_rec, v), fqdn_cmp, (void **)&recs, &n);
	if (err)
		return err;
	fd = map_open_quiet(c, &m_fqdn_pat);
	pfd = map_open_quiet(c, &m_podname);
	neps = eps_read(c, &eps);
	t = pt_new(fqdn_cols, ARRAY_SIZE(fqdn_cols), 0);
	for (size_t i = 0; i < n; i++) {
		const struct fqdn_rec *r = &recs[i];
		__u32 key = key_of(eps, neps, r->k.ep_id);
		char name[300], pod[340];
		__s64 left = ((__s64)r->v.expires_ns - (__s64)now) / 1000000000 + XCNI_FQDN_GRACE_S;

		if ((c->opts & OPT_POD) && key != want)
			continue;
		pat_name(fd, r, name, sizeof(name));
		pt_name(t, key && pod_of_ip(pfd, key, pod, sizeof(pod)) ? pod : NULL, "endpoint %u",
			r->k.ep_id);
		pt_str(t, name);
		pt_ip(t, r->k.family, r->k.addr);
		pt_uint(t, r->v.ttl);
		pt_int(t, left > 0 ? left : 0);
		pt_uint(t, r->v.rule_ref);
	}
	xcni_close(&fd);
	xcni_close(&pfd);
	free(recs);
	free(eps);
	return show(c, t);
}

const struct cmd fqdn_cmds[] = {
	{ "fqdn", "list", cmd_fqdn_list, 0, OPT_POD, "[--pod POD]",
	  "List the addresses this node's pods learned from the cluster DNS's answers for\n"
	  "ClusterNetworkPolicy domainNames peers (xcnid --fqdn-policy): the pod, the\n"
	  "name the answer's question matched (the policy's domainNames entry),\n"
	  "the address, the TTL answered, the seconds left before new connections to it\n"
	  "are judged by the other rules again (expiry plus a grace of 5 s; 0: past it,\n"
	  "not yet replaced) and the rule's number among the pod's rules naming domains.", NULL },
	{}
};
