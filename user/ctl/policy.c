// SPDX-License-Identifier: Apache-2.0
/* xcnictl policy list/get: the pods NetworkPolicy selects, and their allow entries. */
#include "ctl/ctl.h"
#include "ctl/polsel.h"

static const struct pt_col pol_cols[] = {
	{ "DIRECTION", "direction", PT_STR },
	{ "PEER", "peer", PT_STR },
	{ NULL, "peer_identity", PT_UINT },
	{ "PROTO", "proto", PT_STR },
	{ "PORT", "port", PT_STR },
	{ "POLICY", "policy", PT_STR },
	{ "RULE", "rule", PT_UINT },
	/* A ClusterNetworkPolicy rule's name (xcni_rulename), when it has one. */
	{ "RULE-NAME", "rule_name", PT_STR },
	/* Who decides (Admin, NetworkPolicy, Baseline, default) and how: allow, deny,
	 * audit (a denial only counted and reported). */
	{ "TIER", "tier", PT_STR },
	{ "ACTION", "action", PT_STR },
	{ "FLOWS", "flows", PT_UINT },
	/* The policies that isolate the pod in the row's direction ("x/a,x/b"). */
	{ NULL, "isolated_by", PT_STR },
	/* Their allow rules that select nothing (policy get's "near misses"). */
	{ NULL, "near_misses", PT_STR },
	/* The Admin (or Baseline) Pass the walk went through before what decided. */
	{ NULL, "passed_by", PT_STR },
};

/* By pod and version first, so one pod's live entries sit together (pol_entries). */
static int pol_entry_cmp(const void *a, const void *b)
{
	const struct xcni_policy_key *x = a, *y = b;

	if (x->ep != y->ep)
		return x->ep < y->ep ? -1 : 1;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return memcmp(x, y, sizeof(*x));
}

/*
 * Every allow entry of every pod, polrange's and policy's alike, in the trie's
 * terms (a hash entry's port 0 = any port, proto 0 = anything), sorted by
 * pol_entry_cmp with the walk's duplicates dropped.
 */
static int policy_collect(int fd, int rfd, struct pol_entry **out, size_t *np)
{
	struct pol_entry *recs = NULL, *more;
	struct polhash_rec *hrecs = NULL;
	size_t n = 0, nh = 0;
	int err;

	if ((err = map_collect(rfd, &m_polrange, sizeof(*recs), offsetof(struct pol_entry, key),
			       offsetof(struct pol_entry, val), (void **)&recs, &n, NULL)) ||
	    (err = map_collect(fd, &m_policy, sizeof(*hrecs), offsetof(struct polhash_rec, k),
			       offsetof(struct polhash_rec, v), (void **)&hrecs, &nh, NULL)))
		goto out;
	more = reallocarray(recs, n + nh + 1, sizeof(*recs));
	if (!more) {
		err = -ENOMEM;
		goto out;
	}
	recs = more;
	for (size_t i = 0; i < nh; i++) {
		const struct xcni_polhash_key *h = &hrecs[i].k;

		recs[n++] = (struct pol_entry){
			.key = { .prefixlen = !h->proto ? XCNI_POLICY_PREFIX_ANY_PROTO :
					    !h->port  ? XCNI_POLICY_PREFIX_ANY_PORT :
							XCNI_POLICY_PREFIX_FULL,
			       .ep = h->ep, .peer = h->peer, .version = h->version, .dir = h->dir,
			       .proto = h->proto, .port = h->port },
			.val = hrecs[i].v,
		};
	}
	*np = sort_unique(recs, n, sizeof(*recs), pol_entry_cmp);
	*out = recs;
	recs = NULL;
out:
	free(recs);
	free(hrecs);
	return err;
}

/* The entries of pod ep's version ver in policy_collect's recs: how many, from *first. */
static size_t pol_entries(const struct pol_entry *recs, size_t n, __u32 ep, __u8 ver, size_t *first)
{
	size_t lo = 0, hi = n, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct xcni_policy_key *k = &recs[mid].key;

		if (k->ep < ep || (k->ep == ep && k->version < ver))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < n && recs[i].key.ep == ep && recs[i].key.version == ver; i++)
		;
	*first = lo;
	return i - lo;
}

static int cidr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_polcidr_key));
}

/* The peer of a policy entry in words: any, a reserved name, labels, or CIDRs. */
static void pt_peer(struct ptable *t, __u32 peer, int idfd, const struct pol_cidr *cidrs,
		    size_t ncidrs, __u8 dir)
{
	struct xcni_idlabels l;
	char buf[1200] = "", a[INET6_ADDRSTRLEN + 4];
	size_t off = 0;

	if (peer == XCNI_ID_ANY) {
		pt_str(t, "any");
		return;
	}
	if (xcni_reserved_identity(peer)) {
		pt_str(t, xcni_reserved_identity(peer));
		return;
	}
	if (peer >= XCNI_ID_CIDR_BASE) {
		for (size_t i = 0; i < ncidrs; i++)
			if (cidrs[i].group == peer && cidrs[i].key.dir == dir && off < sizeof(buf))
				off += snprintf(buf + off, sizeof(buf) - off, "%scidr:%s",
						off ? "," : "", polcidr_str(&cidrs[i].key, a, sizeof(a)));
		pt_str(t, off ? buf : "cidr-group");
		return;
	}
	if (idfd >= 0 && bpf_map_lookup_elem(idfd, &peer, &l) == 0)
		pt_strf(t, "%.*s", (int)strnlen(l.labels, sizeof(l.labels)), l.labels);
	else
		pt_strf(t, "identity %u", peer);
}

static const char *tier_word(__u16 flags)
{
	static const char *const w[] = { "NetworkPolicy", "Admin", "Baseline", "default" };

	return w[XCNI_POLV_TIER(flags)];
}

/* The cells of one allow entry under pol_cols (isolated_by, near: its direction's). */
static void pol_row(struct ptable *t, const struct pol_entry *r, int idfd, int nfd, int rnfd,
		    const struct pol_cidr *cidrs, size_t nc, const char *isolated_by, const char *near)
{
	struct xcni_rulename pass;
	char rn[XCNI_RULENAME_LEN];
	const struct xcni_policy_key *pk = &r->key;
	int bits = (int)pk->prefixlen - XCNI_POLICY_PREFIX_ANY_PORT;
	char name[340];

	pt_str(t, pk->dir == XCNI_DIR_TO_POD ? "ingress" : "egress");
	pt_peer(t, pk->peer, idfd, cidrs, nc, pk->dir);
	pt_uint(t, pk->peer);
	if (pk->prefixlen <= XCNI_POLICY_PREFIX_ANY_PROTO)
		pt_str(t, "any");
	else
		pt_proto(t, pk->proto);
	if (bits <= 0) {
		pt_str(t, "any");
	} else if (bits >= 16) {
		pt_strf(t, "%u", ntohs(pk->port));
	} else {
		unsigned int lo = ntohs(pk->port), span = 1u << (16 - bits);

		pt_strf(t, "%u-%u", lo, lo + span - 1);
	}
	pt_str(t, policy_name(nfd, r->val.policy_id, name, sizeof(name)));
	pt_uint(t, r->val.rule);
	pt_str(t, polsync_rule_name(rnfd, r->val.policy_id, pk->dir, r->val.rule, rn, sizeof(rn)));
	pt_str(t, tier_word(r->val.flags));
	pt_str(t, !(r->val.flags & XCNI_POLV_DENY) ? "allow" :
		  r->val.flags & XCNI_POLV_AUDIT ? "audit" : "deny");
	pt_uint(t, r->val.packets);
	pt_str(t, isolated_by[0] ? isolated_by : NULL);
	pt_str(t, near[0] ? near : NULL);
	if (!polsync_rule_pass(rnfd, XCNI_POLV_PASS(r->val.flags), &pass))
		pt_strf(t, "%s rule %u%s%s%s", policy_name(nfd, pass.policy_id, name, sizeof(name)),
			pass.rule, pass.name[0] ? " (" : "", pass.name, pass.name[0] ? ")" : "");
	else
		pt_null(t);
}

/* What isolates the pod, per direction (XCNI_DIR_*): text and JSON. */
struct pol_isolation {
	char text[XCNI_NR_POLICY_DIRS][800];
	char json[XCNI_NR_POLICY_DIRS][800];
	char near[XCNI_NR_POLICY_DIRS][2048]; /* near_misses_of's */
};

/* "ingress isolated by x/deny (only the rules below)", or "not isolated (all allowed)". */
static const char *isolation_words(const struct xcni_polep *pe, __u8 dir, const char *by,
				   char *buf, size_t len)
{
	if (pe->isolated & XCNI_POLEP_CONTESTED)
		return "closed: another live pod claims its address (drop-addr-contested)";
	if (pe->isolated & XCNI_POLEP_OVERFLOW)
		return "closed: its policy did not fit the maps (drop-policy-overflow)";
	if (!(pe->isolated & XCNI_ISOLATED(dir)))
		return "not isolated (all allowed)";
	snprintf(buf, len, "isolated%s%s (only the rules below)", by[0] ? " by " : "", by);
	return buf;
}

/* The pod's live allow entries (and its ipBlocks'), read from the maps: 0 or -errno. */
static int pod_entries(const struct ctl_ctx *c, __u32 ip, __u8 version, struct pol_entry **recs,
		       size_t *n, struct pol_cidr **cidrs, size_t *nc)
{
	int fd, rfd = -1, cfd = -1, err;
	size_t first, k;

	if ((fd = map_open(c, &m_policy)) < 0 || (rfd = map_open(c, &m_polrange)) < 0 ||
	    (cfd = map_open(c, &m_polcidr)) < 0) {
		err = fd < 0 ? fd : rfd < 0 ? rfd : cfd;
		goto out;
	}
	if ((err = policy_collect(fd, rfd, recs, n)) ||
	    (err = map_collect(cfd, &m_polcidr, sizeof(**cidrs), offsetof(struct pol_cidr, key),
			       offsetof(struct pol_cidr, group), (void **)cidrs, nc, NULL)))
		goto out;
	/* Only the pod's live version. */
	*n = pol_entries(*recs, *n, ip, version, &first);
	memmove(*recs, *recs + first, *n * sizeof(**recs));
	for (size_t i = k = 0; i < *nc; i++)
		if ((*cidrs)[i].key.ep == ip && (*cidrs)[i].key.version == version)
			(*cidrs)[k++] = (*cidrs)[i];
	*nc = sort_unique(*cidrs, k, sizeof(**cidrs), cidr_cmp);
out:
	for (int *p = (int[]){ fd, rfd, cfd, -2 }; *p != -2; p++)
		xcni_close(&*p);
	return err;
}

/*
 * Per isolated direction, the allow rules of the policies selecting the pod
 * whose selector selects nothing, with the nearest label that exists
 * (polsel.h): "; "-joined into near[dir] (JSON), or printed below policy
 * get's table (print). Nothing when the agent's objects cannot be read: the
 * table stands on the maps alone.
 */
static void near_misses_of(const struct ctl_ctx *c, const char *arg, __u32 ip,
			   const struct xcni_polep *pe, bool print,
			   char near[XCNI_NR_POLICY_DIRS][2048])
{
	struct ctl_cluster *cc;
	const struct k8s_pod *self;

	for (__u8 dir = 0; dir < XCNI_NR_POLICY_DIRS; dir++)
		near[dir][0] = '\0';
	if (ctl_cluster_open(c, true, &cc))
		return;
	self = ctl_cluster_pod(cc, strchr(arg, '/') ? arg : NULL, ip);
	for (__u8 dir = 0; self && dir < XCNI_NR_POLICY_DIRS; dir++) {
		json_t *arr, *v;
		size_t i;

		if (!(pe->isolated & XCNI_ISOLATED(dir)))
			continue;
		if (ctl_near_misses(cc, self, NULL, dir == XCNI_DIR_TO_POD ? NM_INGRESS : NM_EGRESS,
				    0, 0, near[dir], sizeof(near[dir]), &arr) > 0 && print) {
			printf("%s allow rules that select nothing (near misses):\n",
			       dir == XCNI_DIR_TO_POD ? "ingress" : "egress");
			json_array_foreach(arr, i, v)
				printf("  %s\n", json_string_value(json_object_get(v, "text")));
		}
		json_decref(arr);
	}
	ctl_cluster_close(cc);
}

static int cmd_policy_get(const struct ctl_ctx *c, char **argv)
{
	struct pol_entry *recs = NULL;
	struct pol_cidr *cidrs = NULL;
	struct xcni_polep pe = { .isolated = 1 };
	struct pol_isolation iso;
	struct ptable *t = NULL;
	size_t n = 0, nc = 0;
	int fd, idfd = -1, nfd = -1, sfd = -1, rnfd = -1, err;
	char in[900], eg[900];
	struct filter f = { .podname_fd = -1, .ipcache_fd = -1 };
	__u32 ip;

	err = resolve_pod(c, argv[0], &ip, NULL);
	if (err)
		return err;
	f.opts = c->opts & OPT_IDENTITY; /* the peer's */
	f.identity = c->identity;
	fd = map_open(c, &m_polep);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &ip, &pe) || !pe.isolated) {
		close(fd);
		if (errno != ENOENT && pe.isolated)
			return pr_err_ret(-errno, "%s: %s\n", m_polep.name, strerror(errno));
		/* Not an error: the answer is that nothing isolates the pod. */
		printf(c->json ? "{\"pod\":\"%s\",\"ingress\":\"allow-all\",\"egress\":\"allow-all\",\"rules\":[]}\n"
			       : "%s: no policy selects this pod: all traffic allowed by default\n",
		       argv[0]);
		return 0;
	}
	close(fd);
	err = pod_entries(c, ip, pe.version, &recs, &n, &cidrs, &nc);
	if (err)
		goto out;
	idfd = map_open_quiet(c, &m_identity);
	nfd = map_open_quiet(c, &m_polname);
	sfd = map_open_quiet(c, &m_polsel);
	rnfd = map_open_quiet(c, &m_rulename);
	for (__u8 dir = 0; dir < XCNI_NR_POLICY_DIRS; dir++) {
		xcni_isolating_policies(sfd, nfd, ip, dir, false, iso.text[dir], sizeof(iso.text[dir]));
		xcni_isolating_policies(sfd, nfd, ip, dir, true, iso.json[dir], sizeof(iso.json[dir]));
	}
	if (c->json && !(c->opts & OPT_IDENTITY))
		near_misses_of(c, argv[0], ip, &pe, false, iso.near);
	else
		memset(iso.near, 0, sizeof(iso.near));
	if (!c->json)
		printf("pod %s identity %u: ingress %s, egress %s\n", argv[0], pe.identity,
		       isolation_words(&pe, XCNI_DIR_TO_POD, iso.text[XCNI_DIR_TO_POD], in, sizeof(in)),
		       isolation_words(&pe, XCNI_DIR_FROM_POD, iso.text[XCNI_DIR_FROM_POD], eg,
				       sizeof(eg)));
	t = pt_new(pol_cols, ARRAY_SIZE(pol_cols), 0);
	for (size_t i = 0; i < n; i++) {
		struct frow r = { .id = { recs[i].key.peer }, .nid = 1 };

		if (filter_match(&f, &r))
			pol_row(t, &recs[i], idfd, nfd, rnfd, cidrs, nc,
				iso.json[recs[i].key.dir & 1], iso.near[recs[i].key.dir & 1]);
	}
	/* JSON: a direction isolated with no allow entry still says what isolates
	 * it, in a row of its own (the text says so above the table). */
	for (__u8 dir = 0; c->json && !(c->opts & OPT_IDENTITY) && dir < XCNI_NR_POLICY_DIRS; dir++) {
		size_t i;

		for (i = 0; i < n && recs[i].key.dir != dir; i++)
			;
		if (i < n || !(pe.isolated & XCNI_ISOLATED(dir)))
			continue;
		pt_str(t, dir == XCNI_DIR_TO_POD ? "ingress" : "egress");
		/* All but the direction, isolated_by, near_misses and passed_by (the last three). */
		pt_nulls(t, (int)ARRAY_SIZE(pol_cols) - 4);
		pt_str(t, iso.json[dir][0] ? iso.json[dir] : NULL);
		pt_str(t, iso.near[dir][0] ? iso.near[dir] : NULL);
		pt_null(t);
	}
	err = show(c, t);
	if (!err && !c->json && !(c->opts & OPT_IDENTITY))
		near_misses_of(c, argv[0], ip, &pe, true, iso.near);
out:
	free(recs);
	free(cidrs);
	for (int *p = (int[]){ idfd, nfd, sfd, rnfd, -2 }; *p != -2; p++)
		xcni_close(&*p);
	return err;
}

static const struct pt_col polep_cols[] = {
	{ "POD", "pod", PT_STR },
	{ "IP", "ip", PT_STR },
	{ "IDENTITY", "identity", PT_UINT },
	{ "VERSION", "version", PT_UINT },
	{ "INGRESS", "ingress", PT_STR },
	{ "EGRESS", "egress", PT_STR },
	{ "ENTRIES", "entries", PT_UINT },
	/* Tiered: ClusterNetworkPolicy (or audit mode) wrote the pod's whole
	 * decision, its denials too; the policies by tier in policy get. */
	{ "TIERS", "tiers", PT_STR },
	/* The kinds of entries the data plane looks up for the pod (XCNI_HAS_*). */
	{ NULL, "ingress_has", PT_STR },
	{ NULL, "egress_has", PT_STR },
};

struct polep_rec {
	__u32 ip; /* network order */
	struct xcni_polep pe;
	char pod[340]; /* "ns/name"; "" when the podname map does not know the address */
};

/* By pod name; addresses without one last, by address. */
static int polep_pod_cmp(const void *a, const void *b)
{
	const struct polep_rec *x = a, *y = b;
	int d;

	if (!x->pod[0] != !y->pod[0])
		return x->pod[0] ? -1 : 1;
	d = strcmp(x->pod, y->pod);
	return d ? d : ip4_cmp(a, b);
}

/* "cidr,range": the XCNI_HAS_* bits of has, or NULL for none. */
static const char *polep_has(__u8 has, char *buf, size_t len)
{
	static const char *const names[] = { "cidr", "range", "any-port", "any-proto" };
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < 8; i++)
		if ((has & (1u << i)) && off < len)
			off += i < ARRAY_SIZE(names) ?
				       snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]) :
				       snprintf(buf + off, len - off, "%s0x%x", off ? "," : "", 1u << i);
	return off ? buf : NULL;
}

/* "Admin,Baseline": the tiers that decide some of the pod's live entries; NULL: NetworkPolicy only. */
static const char *tiers_of(const struct pol_entry *recs, size_t nr, __u32 ip, __u8 ver, char *buf,
			    size_t len)
{
	size_t first, n = pol_entries(recs, nr, ip, ver, &first);
	unsigned int seen = 0;

	for (size_t i = first; i < first + n; i++)
		seen |= 1u << XCNI_POLV_TIER(recs[i].val.flags);
	if (!(seen & ~1u))
		return NULL;
	snprintf(buf, len, "%s%s%s%s", seen & 2 ? "Admin," : "", seen & 1 ? "NetworkPolicy," : "",
		 seen & 4 ? "Baseline," : "", seen & 8 ? "default," : "");
	buf[strlen(buf) - 1] = '\0';
	return buf;
}

/* policy list: the pods of this node some NetworkPolicy selects. */
static int cmd_policy_list(const struct ctl_ctx *c, char **argv)
{
	struct polep_rec *eps = NULL;
	struct pol_entry *recs = NULL;
	struct ptable *t;
	struct filter f;
	size_t n = 0, nr = 0, i, k, first;
	int fd = -1, rfd = -1, pfd = -1, err;
	char buf[INET_ADDRSTRLEN], has[64], tiers[64];

	(void)argv;
	err = filter_open(c, &f, 0);
	if (err)
		return err;
	fd = map_open(c, &m_polep);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = map_collect(fd, &m_polep, sizeof(*eps), offsetof(struct polep_rec, ip),
			  offsetof(struct polep_rec, pe), (void **)&eps, &n, ip4_cmp);
	close(fd);
	fd = -1;
	if (err)
		goto out;
	/* ENTRIES: the rows policy get shows, counted from one walk of each map. */
	if ((fd = map_open(c, &m_policy)) < 0 || (rfd = map_open(c, &m_polrange)) < 0) {
		err = fd < 0 ? fd : rfd;
		goto out;
	}
	if ((err = policy_collect(fd, rfd, &recs, &nr)))
		goto out;
	pfd = map_open_quiet(c, &m_podname);
	for (i = k = 0; i < n; i++) {
		const struct xcni_polep *pe = &eps[i].pe;
		/* Identity 0: none assigned; the ipcache may know the address's. */
		struct frow r = { .addr = { xcni_prefix_host(eps[i].ip, NULL) }, .naddr = 1,
				  .id = { pe->identity }, .nid = !!pe->identity };

		/* Isolated in neither direction: no policy selects the pod (any more). */
		if (!pe->isolated || !filter_match(&f, &r))
			continue;
		if (!pod_of_ip(pfd, eps[i].ip, eps[i].pod, sizeof(eps[i].pod)))
			eps[i].pod[0] = '\0';
		eps[k++] = eps[i];
	}
	qsort(eps, k, sizeof(*eps), polep_pod_cmp);
	t = pt_new(polep_cols, ARRAY_SIZE(polep_cols), 0);
	for (i = 0; i < k; i++) {
		const struct xcni_polep *pe = &eps[i].pe;

		pt_str(t, eps[i].pod[0] ? eps[i].pod : NULL);
		pt_str(t, xcni_ip4_str(eps[i].ip, buf));
		pt_uint(t, pe->identity);
		pt_uint(t, pe->version);
		/* A closed pod's policy did not fit: nothing in or out (drop-policy-overflow).
		 * Ingress (to the pod), then egress. */
		for (int dir = XCNI_DIR_TO_POD; dir >= XCNI_DIR_FROM_POD; dir--)
			pt_str(t, pe->isolated & XCNI_POLEP_CONTESTED ? "contested" :
				  pe->isolated & XCNI_POLEP_OVERFLOW ? "overflow" :
				  pe->isolated & XCNI_ISOLATED(dir) ? "isolated" : "allow-all");
		pt_uint(t, pol_entries(recs, nr, eps[i].ip, pe->version, &first));
		pt_str(t, tiers_of(recs, nr, eps[i].ip, pe->version, tiers, sizeof(tiers)));
		pt_str(t, polep_has(pe->has[XCNI_DIR_TO_POD], has, sizeof(has)));
		pt_str(t, polep_has(pe->has[XCNI_DIR_FROM_POD], has, sizeof(has)));
	}
	err = show(c, t);
out:
	free(eps);
	free(recs);
	for (int *p = (int[]){ fd, rfd, pfd, -2 }; *p != -2; p++)
		xcni_close(&*p);
	filter_close(&f);
	return err;
}

const struct cmd policy_cmds[] = {
	{ "policy", "list", cmd_policy_list, 0, OPT_FILTERS, "[filters]",
	  "List the pods of this node that NetworkPolicy selects, with their policy state.", NULL },
	{ "policy", "get", cmd_policy_get, 1, OPT_IDENTITY, "POD [--identity ID]",
	  "Show what NetworkPolicy lets into and out of POD (NAMESPACE/NAME or IP).", NULL },
	{ "policy", "selectors", cmd_policy_selectors, 0, OPT_NAMESPACE, "[-n NS]",
	  "List every selector of every NetworkPolicy and ClusterNetworkPolicy rule,\n"
	  "with what it selects now.", NULL },
	{}
};
