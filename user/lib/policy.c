// SPDX-License-Identifier: Apache-2.0
/*
 * Identities and the NetworkPolicy compiler (networking.k8s.io/v1 semantics).
 *
 * Everything is computed from the cluster view alone and sorted before it is
 * returned, so two nodes (or two runs) with the same objects produce the same
 * bytes, and the map writer can diff per pod.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "cidr.h"
#include "policy.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"
#define ID_SPAN ((uint32_t)XCNI_ID_CIDR_BASE - XCNI_ID_MIN_LABELS)
#define POLICY_ID_SPAN ((1u << 31) - 1)

_Static_assert(POL_PREFIX_FULL == POL_KEY_BITS(pad2), "port must end where pad2 starts");
_Static_assert(offsetof(struct xcni_polcidr_key, addr) - offsetof(struct xcni_polcidr_key, ep) ==
		       XCNI_POLCIDR_PREFIX_BASE / 8,
	       "polcidr prefix base must be the bits before addr");

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

uint32_t pol_identity_hash(const char *canon)
{
	return XCNI_ID_MIN_LABELS + fnv1a(canon) % ID_SPAN;
}

static uint32_t policy_hash_raw(uint32_t (*hash)(const char *), const char *ns, const char *name)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", ns ? ns : "", name ? name : "");
	return 1 + hash(buf) % POLICY_ID_SPAN;
}

uint32_t pol_policy_hash(const char *ns, const char *name)
{
	return policy_hash_raw(fnv1a, ns, name);
}

static void set_err(struct k8s_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct k8s_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Room for one more element of size sz in *v. */
static int grow(void *vp, size_t *cap, size_t n, size_t sz)
{
	void **v = vp;
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	nv = realloc(*v, ncap * sz);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* ---- label sets ------------------------------------------------------ */

static int label_dup(struct k8s_labels *dst, const char *key, const char *value)
{
	struct k8s_label *l = &dst->v[dst->n++];

	l->key = strdup(key);
	l->value = strdup(value);
	return l->key && l->value ? 0 : -ENOMEM;
}

/* Deep copy of src, plus key=value in its sorted place if src lacks key. */
static int labels_copy(struct k8s_labels *dst, const struct k8s_labels *src, const char *key,
		       const char *value)
{
	bool add = key && !k8s_label_get(src, key);
	int ret = 0;

	dst->n = 0;
	dst->v = calloc(src->n + add + 1, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < src->n; i++) {
		if (add && strcmp(key, src->v[i].key) < 0) {
			ret = label_dup(dst, key, value);
			add = false;
		}
		if (!ret)
			ret = label_dup(dst, src->v[i].key, src->v[i].value);
	}
	if (!ret && add)
		ret = label_dup(dst, key, value);
	if (ret)
		k8s_labels_free(dst);
	return ret;
}

/* "k8s:a=1,k8s:b=2,ns:kubernetes.io/metadata.name=x" (see policy.h). */
static char *canon_put(char *s, const char *prefix, const char *k, const char *v, bool comma)
{
	size_t lp = strlen(prefix), lk = strlen(k), lv = strlen(v);

	if (comma)
		*s++ = ',';
	memcpy(s, prefix, lp);
	s += lp;
	memcpy(s, k, lk);
	s += lk;
	*s++ = '=';
	memcpy(s, v, lv);
	return s + lv;
}

/* Built with memcpy: this runs for every pod on every compile. */
static char *canon_string(const struct k8s_labels *pod, const struct k8s_labels *ns)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < pod->n; i++)
		len += strlen(pod->v[i].key) + strlen(pod->v[i].value) + 6;
	for (size_t i = 0; i < ns->n; i++)
		len += strlen(ns->v[i].key) + strlen(ns->v[i].value) + 5;
	p = s = malloc(len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < pod->n; i++)
		p = canon_put(p, "k8s:", pod->v[i].key, pod->v[i].value, p != s);
	for (size_t i = 0; i < ns->n; i++)
		p = canon_put(p, "ns:", ns->v[i].key, ns->v[i].value, p != s);
	*p = '\0';
	return s;
}

/* ---- a set of u32 (never 0) for probing ------------------------------ */

struct u32set {
	size_t mask;
	uint32_t *v;
};

static int u32set_init(struct u32set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 16)
		cap *= 2;
	s->mask = cap - 1;
	s->v = calloc(cap, sizeof(*s->v));
	return s->v ? 0 : -ENOMEM;
}

/* Sized at init for every key it will hold, so it never fills up. */
static bool u32set_add(struct u32set *s, uint32_t k)
{
	size_t i = (k * 2654435761u) & s->mask;

	while (s->v[i]) {
		if (s->v[i] == k)
			return false;
		i = (i + 1) & s->mask;
	}
	s->v[i] = k;
	return true;
}

/* First free number from h on, wrapping in [min, min + span). */
static uint32_t probe(struct u32set *used, uint32_t h, uint32_t min, uint32_t span)
{
	uint32_t id = h;

	while (!u32set_add(used, id))
		id = min + (id - min + 1) % span;
	return id;
}

/* ---- the compiler's working state ------------------------------------ */

struct nslabels {
	const char *name;
	struct k8s_labels labels; /* with kubernetes.io/metadata.name */
};

struct portspec {
	uint8_t proto;
	uint8_t plen;
	uint16_t port; /* host order */
};

struct specs {
	size_t n, cap;
	struct portspec *v;
};

/* One ipBlock (or a pod's /32 for an egress named port) with what it allows. */
struct cidr_rule {
	struct k8s_cidr cidr;
	size_t nexcept;
	const struct k8s_cidr *except;
	struct specs specs;
	uint32_t policy_id;
	uint16_t rule;
	uint32_t seq;
};

/* A policy entry before duplicates are removed: the lowest seq wins. */
struct cand {
	struct pol_entry e;
	uint32_t seq;
};

struct epbuild {
	uint32_t ip;
	uint8_t dir;
	size_t n, cap;
	struct cand *c;
	size_t ncr, capcr;
	struct cidr_rule *cr;
	size_t npc, cappc;
	struct pol_cidr *pc;
};

struct ctx {
	const struct pol_opts *o;
	uint32_t (*hash)(const char *);
	size_t npods;
	const struct k8s_pod **pods;
	uint32_t *pod_id; /* identity of pods[i], 0 for hostNetwork pods */
	size_t nnodes;
	const struct k8s_node **nodes; /* sorted by name */
	size_t nnps;
	const struct k8s_netpol **nps; /* sorted by (namespace, name) */
	uint32_t *np_id;
	size_t nnsl;
	struct nslabels *nsl; /* sorted by name */
	struct pol_result *r;
	/* pods with an IP of identities[k]: id_pods[id_off[k] .. id_off[k + 1]) */
	size_t *id_off;
	size_t *id_pods;
	/* Which identities each selector peer matches, worked out once per compile
	 * rather than once per selected pod (open addressing on the peer). */
	struct peer_memo *memo;
	size_t memo_cap;
	/* Every (label, identity) pair, by label hash: a selector with matchLabels
	 * looks at the identities carrying its first label, not at all of them. */
	size_t nlabix;
	struct labix *labix;
};

struct labix {
	uint32_t h; /* label_hash() */
	uint32_t k; /* index into r->identities */
};

struct peer_memo {
	const struct k8s_np_peer *peer; /* NULL: free slot */
	size_t n;
	size_t *ids; /* indices into r->identities */
};

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_meta(const void *a, const void *b)
{
	const struct k8s_meta *x = *(const struct k8s_meta *const *)a;
	const struct k8s_meta *y = *(const struct k8s_meta *const *)b;
	int d = cmp_str(x->ns, y->ns);

	return d ? d : cmp_str(x->name, y->name);
}

static int cmp_nslabels(const void *a, const void *b)
{
	return strcmp(((const struct nslabels *)a)->name, ((const struct nslabels *)b)->name);
}

static const struct nslabels *nsl_find(const struct ctx *x, const char *name)
{
	struct nslabels k = { .name = name };

	return bsearch(&k, x->nsl, x->nnsl, sizeof(k), cmp_nslabels);
}

static const struct k8s_node *node_find(const struct ctx *x, const char *name)
{
	struct k8s_meta m = { .name = (char *)name };
	const struct k8s_meta *mp = &m;
	const struct k8s_node *const *n;

	if (!name)
		return NULL;
	n = bsearch(&mp, x->nodes, x->nnodes, sizeof(*x->nodes), cmp_meta);
	return n ? *n : NULL;
}

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = ((const struct identity *)a)->id, y = ((const struct identity *)b)->id;

	return (x > y) - (x < y);
}

static struct identity *identity_find(const struct ctx *x, uint32_t id)
{
	struct identity k = { .id = id };

	return bsearch(&k, x->r->identities, x->r->nidentities, sizeof(k), cmp_id);
}

static bool pod_local(const struct ctx *x, const struct k8s_pod *p)
{
	return !x->o->node_name || (p->node_name && !strcmp(p->node_name, x->o->node_name));
}

static bool pod_managed(const struct k8s_pod *p)
{
	return !p->host_network;
}

uint32_t pol_polkey6(const uint8_t ip6[16])
{
	uint32_t k = (uint32_t)ip6[13] << 16 | (uint32_t)ip6[14] << 8 | ip6[15];

	/* 0 means "no pod" to the programs: 0.255.255.255 stands in (and
	 * collides, reported, only with an address ending in ff:ffff). */
	return htonl(k ? k : 0x00ffffff);
}

/*
 * The 32-bit address a pod's policy and ipcache entries are keyed by: its
 * IPv4, or for an IPv6-only pod of this node its policy key (pol_polkey6);
 * 0 for an IPv6-only pod elsewhere (its node keys it) and a pod with none.
 */
static uint32_t pod_addr(const struct k8s_pod *p, bool local)
{
	if (p->ip)
		return p->ip;
	return local && p->has_ip6 ? pol_polkey6(p->ip6) : 0;
}

/* ---- namespaces and identities --------------------------------------- */

/* The labels selectors see for every namespace a pod or Namespace names. */
static int build_nslabels(struct ctx *x, const struct cluster *c)
{
	size_t cap = c->n[K8S_NAMESPACE] + x->npods;
	int ret;

	x->nsl = calloc(cap ? cap : 1, sizeof(*x->nsl));
	if (!x->nsl)
		return -ENOMEM;
	for (size_t i = 0; i < c->n[K8S_NAMESPACE]; i++) {
		const struct k8s_namespace *ns = &c->objs[K8S_NAMESPACE][i]->ns;
		struct nslabels *l = &x->nsl[x->nnsl];

		l->name = ns->meta.name;
		/* The API server always sets it; a hand-made object may not. */
		ret = labels_copy(&l->labels, &ns->meta.labels, NS_NAME_LABEL, ns->meta.name);
		if (ret)
			return ret;
		x->nnsl++;
	}
	qsort(x->nsl, x->nnsl, sizeof(*x->nsl), cmp_nslabels);
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_labels none = { 0 };
		const char *name = x->pods[i]->meta.ns;
		struct nslabels *l;

		if (!name || nsl_find(x, name))
			continue;
		l = &x->nsl[x->nnsl];
		l->name = name;
		ret = labels_copy(&l->labels, &none, NS_NAME_LABEL, name);
		if (ret)
			return ret;
		x->nnsl++;
		qsort(x->nsl, x->nnsl, sizeof(*x->nsl), cmp_nslabels);
	}
	return 0;
}

struct podcanon {
	char *canon;
	size_t pod;
};

static int cmp_podcanon(const void *a, const void *b)
{
	const struct podcanon *x = a, *y = b;
	int d = strcmp(x->canon, y->canon);

	return d ? d : (x->pod > y->pod) - (x->pod < y->pod);
}

/*
 * One identity per distinct canonical label string. Numbers are handed out
 * in the strings' sorted order, so of two strings whose hashes collide the
 * one sorting first keeps its hash on every node, whatever order the pods
 * arrived in.
 */
static int build_identities(struct ctx *x)
{
	struct podcanon *pc = calloc(x->npods ? x->npods : 1, sizeof(*pc));
	/* pod -> the first pod with the same string */
	size_t *first = calloc(x->npods ? x->npods : 1, sizeof(*first));
	struct pol_result *r = x->r;
	struct u32set used = { 0 };
	size_t npc = 0, cap, *tab = NULL;
	int ret = -ENOMEM;

	if (!pc || !first)
		goto out;
	/*
	 * Distinct strings first, through a hash table: sorting one string per
	 * pod (100k pods, a few hundred label sets) was most of a compile.
	 */
	for (cap = 16; cap < 2 * x->npods; cap *= 2)
		;
	tab = malloc(cap * sizeof(*tab));
	if (!tab)
		goto out;
	memset(tab, 0xff, cap * sizeof(*tab));
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		const struct nslabels *nsl;
		char *canon;
		size_t h;

		first[i] = SIZE_MAX;
		if (!pod_managed(p) || !p->meta.ns)
			continue;
		nsl = nsl_find(x, p->meta.ns);
		canon = canon_string(&p->meta.labels, &nsl->labels);
		if (!canon)
			goto out;
		for (h = fnv1a(canon) & (cap - 1); tab[h] != SIZE_MAX; h = (h + 1) & (cap - 1))
			if (!strcmp(pc[tab[h]].canon, canon))
				break;
		if (tab[h] != SIZE_MAX) {
			free(canon);
		} else {
			tab[h] = npc;
			pc[npc].canon = canon;
			pc[npc++].pod = i; /* the first pod with it: labels are the same for all */
		}
		first[i] = pc[tab[h]].pod;
	}
	/* Numbers handed out in sorted order of the distinct strings. */
	qsort(pc, npc, sizeof(*pc), cmp_podcanon);
	r->identities = calloc(npc ? npc : 1, sizeof(*r->identities));
	if (!r->identities || u32set_init(&used, npc))
		goto out;
	for (size_t i = 0; i < npc; i++) {
		const struct k8s_pod *p = x->pods[pc[i].pod];
		struct identity *id = &r->identities[r->nidentities];
		uint32_t h;

		h = XCNI_ID_MIN_LABELS + x->hash(pc[i].canon) % ID_SPAN;
		id->id = probe(&used, h, XCNI_ID_MIN_LABELS, ID_SPAN);
		if (id->id != h)
			pr_info("identity %s: hash %u taken, using %u\n", pc[i].canon, h, id->id);
		id->canon = pc[i].canon;
		pc[i].canon = NULL;
		id->ns = p->meta.ns;
		r->nidentities++;
		ret = labels_copy(&id->pod_labels, &p->meta.labels, NULL, NULL);
		if (!ret)
			ret = labels_copy(&id->ns_labels, &nsl_find(x, p->meta.ns)->labels, NULL,
					  NULL);
		if (ret)
			goto out;
		x->pod_id[pc[i].pod] = id->id;
	}
	/* Every pod: the identity of its string's first pod. */
	for (size_t i = 0; i < x->npods; i++)
		if (first[i] != SIZE_MAX)
			x->pod_id[i] = x->pod_id[first[i]];
	qsort(r->identities, r->nidentities, sizeof(*r->identities), cmp_id);
	ret = 0;
out:
	free(used.v);
	for (size_t i = 0; i < npc; i++)
		free(pc[i].canon);
	free(pc);
	free(tab);
	free(first);
	return ret;
}

/* For egress named ports: which pods (with an address) carry each identity. */
static int build_id_pods(struct ctx *x)
{
	size_t nid = x->r->nidentities;

	x->id_off = calloc(nid + 2, sizeof(*x->id_off));
	x->id_pods = calloc(x->npods ? x->npods : 1, sizeof(*x->id_pods));
	if (!x->id_off || !x->id_pods)
		return -ENOMEM;
	for (size_t i = 0; i < x->npods; i++)
		if (x->pod_id[i] && x->pods[i]->ip)
			x->id_off[identity_find(x, x->pod_id[i]) - x->r->identities + 2]++;
	for (size_t k = 2; k < nid + 2; k++)
		x->id_off[k] += x->id_off[k - 1];
	/* id_off[k + 1] is the fill cursor of identity k, then its end. */
	for (size_t i = 0; i < x->npods; i++) {
		size_t k;

		if (!x->pod_id[i] || !x->pods[i]->ip)
			continue;
		k = identity_find(x, x->pod_id[i]) - x->r->identities;
		x->id_pods[x->id_off[k + 1]++] = i;
	}
	return 0;
}

/* ---- policy ids and names -------------------------------------------- */

static int cmp_u32_first(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	/* Not snprintf: three per pod on every compile showed in profiles. */
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return;
}

static int build_policies(struct ctx *x)
{
	struct pol_result *r = x->r;
	struct u32set used = { 0 };

	x->np_id = calloc(x->nnps ? x->nnps : 1, sizeof(*x->np_id));
	r->policies = calloc(x->nnps ? x->nnps : 1, sizeof(*r->policies));
	if (!x->np_id || !r->policies || u32set_init(&used, x->nnps)) {
		free(used.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < x->nnps; i++) {
		const struct k8s_meta *m = &x->nps[i]->meta;
		uint32_t h = policy_hash_raw(x->hash, m->ns, m->name);
		struct pol_name *pn = &r->policies[i];

		x->np_id[i] = probe(&used, h, 1, POLICY_ID_SPAN);
		if (x->np_id[i] != h)
			pr_info("NetworkPolicy %s/%s: id %u taken, using %u\n", m->ns, m->name, h,
				x->np_id[i]);
		pn->id = x->np_id[i];
		copy_str(pn->name.ns, sizeof(pn->name.ns), m->ns);
		copy_str(pn->name.name, sizeof(pn->name.name), m->name);
	}
	r->npolicies = x->nnps;
	qsort(r->policies, r->npolicies, sizeof(*r->policies), cmp_u32_first);
	free(used.v);
	return 0;
}

/* ---- ipcache and pod names ------------------------------------------- */

static int cmp_ipcache(const void *a, const void *b)
{
	return memcmp(&((const struct pol_ipcache *)a)->key, &((const struct pol_ipcache *)b)->key,
		      sizeof(struct xcni_ipcache_key));
}

static int cmp_ipcache_rank(const void *a, const void *b)
{
	uint32_t x = ((const struct pol_ipcache *)a)->val.identity;
	uint32_t y = ((const struct pol_ipcache *)b)->val.identity;
	int d = cmp_ipcache(a, b);

	return d ? d : (x > y) - (x < y);
}

static int ipcache_add(struct pol_result *r, size_t *cap, uint32_t addr, uint32_t plen,
		       uint32_t identity, uint32_t tunnel)
{
	struct pol_ipcache *e;

	if (grow(&r->ipcache, cap, r->nipcache, sizeof(*r->ipcache)))
		return -ENOMEM;
	e = &r->ipcache[r->nipcache++];
	memset(e, 0, sizeof(*e));
	e->key.prefixlen = plen;
	e->key.addr = addr;
	e->val.identity = identity;
	e->val.tunnel_ip = tunnel;
	return 0;
}

static int cmp_podname(const void *a, const void *b)
{
	return memcmp(&((const struct pol_podname *)a)->ip, &((const struct pol_podname *)b)->ip,
		      sizeof(uint32_t));
}

/*
 * When a pod claims a node's or the gateway's address (a misconfiguration)
 * the node keeps it: the data plane must not mistake the node for a pod.
 */
static int build_ipcache(struct ctx *x, struct k8s_error *err)
{
	const struct pol_opts *o = x->o;
	struct pol_result *r = x->r;
	size_t cap = 0, n = 0;

	r->podnames = calloc(x->npods ? x->npods : 1, sizeof(*r->podnames));
	if (!r->podnames)
		return -ENOMEM;
	if (o->gateway_ip && ipcache_add(r, &cap, o->gateway_ip, 32, XCNI_ID_HOST, 0))
		return -ENOMEM;
	if (o->node_ip && ipcache_add(r, &cap, o->node_ip, 32, XCNI_ID_HOST, 0))
		return -ENOMEM;
	for (size_t i = 0; i < x->nnodes; i++) {
		const struct k8s_node *nd = x->nodes[i];
		bool self = o->node_name && nd->meta.name && !strcmp(nd->meta.name, o->node_name);

		/* Another node's own address is reached through the overlay too,
		 * so its replies to pods come back the way the pods' traffic went. */
		if (nd->internal_ip &&
		    ipcache_add(r, &cap, nd->internal_ip, 32,
				self ? XCNI_ID_HOST : XCNI_ID_REMOTE_NODE, self ? 0 : nd->internal_ip))
			return -ENOMEM;
	}
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		const struct k8s_node *nd = node_find(x, p->node_name);
		struct pol_podname *pn;
		uint32_t tunnel = 0;

		uint32_t a = pod_addr(p, pod_local(x, p));

		if (!pod_managed(p) || !a)
			continue;
		if (!pod_local(x, p) && nd)
			tunnel = nd->internal_ip;
		if (ipcache_add(r, &cap, a, 32, x->pod_id[i], tunnel))
			return -ENOMEM;
		r->ipcache[r->nipcache - 1].val.flags = XCNI_IPC_POD;
		pn = &r->podnames[r->npodnames++];
		pn->ip = a;
		copy_str(pn->name.ns, sizeof(pn->name.ns), p->meta.ns);
		copy_str(pn->name.name, sizeof(pn->name.name), p->meta.name);
		copy_str(pn->name.node, sizeof(pn->name.node), p->node_name);
	}
	qsort(r->podnames, r->npodnames, sizeof(*r->podnames), cmp_podname);
	for (size_t i = 1; i < r->npodnames; i++) {
		const struct xcni_podname *a = &r->podnames[i - 1].name, *b = &r->podnames[i].name;
		char ip[INET_ADDRSTRLEN];

		if (r->podnames[i].ip != r->podnames[i - 1].ip)
			continue;
		inet_ntop(AF_INET, &r->podnames[i].ip, ip, sizeof(ip));
		set_err(err, "Pod %s/%s: status.podIP: %s is also the address of Pod %s/%s", b->ns,
			b->name, ip, a->ns, a->name);
		return -EINVAL;
	}
	if (ipcache_add(r, &cap, 0, 0, XCNI_ID_WORLD, 0))
		return -ENOMEM;
	/* Reserved identities sort below label identities: host addresses win. */
	qsort(r->ipcache, r->nipcache, sizeof(*r->ipcache), cmp_ipcache_rank);
	for (size_t i = 0; i < r->nipcache; i++) {
		if (n && !cmp_ipcache(&r->ipcache[n - 1], &r->ipcache[i])) {
			char ip[INET_ADDRSTRLEN];

			if (!memcmp(&r->ipcache[n - 1].val, &r->ipcache[i].val,
				    sizeof(r->ipcache[i].val)))
				continue; /* the node's own address, told twice */
			inet_ntop(AF_INET, &r->ipcache[i].key.addr, ip, sizeof(ip));
			pr_warn("%s: a node or gateway address and a pod's: kept as identity %u\n",
				ip, r->ipcache[n - 1].val.identity);
			continue;
		}
		r->ipcache[n++] = r->ipcache[i];
	}
	r->nipcache = n;
	return 0;
}

/* ---- ports ------------------------------------------------------------ */

static int specs_add(struct specs *s, uint8_t proto, uint16_t port, unsigned plen)
{
	if (grow(&s->v, &s->cap, s->n, sizeof(*s->v)))
		return -ENOMEM;
	s->v[s->n++] = (struct portspec){ .proto = proto, .plen = plen, .port = port };
	return 0;
}

/*
 * [lo, hi] as the fewest aligned power-of-two blocks, each one LPM entry
 * whose prefix covers the port's leading bits.
 */
static int specs_add_range(struct specs *s, uint8_t proto, uint32_t lo, uint32_t hi)
{
	while (lo <= hi) {
		unsigned k = 0;
		int ret;

		while (k < 16 && !(lo & ((2u << k) - 1)) && lo + (2u << k) - 1 <= hi)
			k++;
		ret = specs_add(s, proto, lo, POL_PREFIX_ANY_PORT + 16 - k);
		if (ret)
			return ret;
		lo += 1u << k;
	}
	return 0;
}

static int specs_add_port(struct specs *s, const struct k8s_np_port *p)
{
	if (!p->has_port)
		return specs_add(s, p->proto, 0, POL_PREFIX_ANY_PORT);
	if (p->end_port > p->port)
		return specs_add_range(s, p->proto, p->port, p->end_port);
	return specs_add(s, p->proto, p->port, POL_PREFIX_FULL);
}

/* A named port means the pod's container port of that name and protocol. */
static int specs_add_named(struct specs *s, const struct k8s_pod *pod, const struct k8s_np_port *p)
{
	for (size_t i = 0; i < pod->nports; i++) {
		const struct k8s_container_port *cp = &pod->ports[i];
		int ret;

		if (!cp->name || strcmp(cp->name, p->port_name) || cp->proto != p->proto)
			continue;
		ret = specs_add(s, p->proto, cp->port, POL_PREFIX_FULL);
		if (ret)
			return ret;
	}
	return 0;
}

/* Every named port of rule r, resolved against pod. */
static int specs_add_rule_named(struct specs *s, const struct k8s_pod *pod,
				const struct k8s_np_rule *r)
{
	for (size_t i = 0; i < r->nports; i++) {
		int ret;

		if (!r->ports[i].port_name)
			continue;
		ret = specs_add_named(s, pod, &r->ports[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- one endpoint ------------------------------------------------------ */

struct rule_ref {
	uint32_t policy_id;
	uint16_t rule;
	uint32_t seq;
};

static int emit(struct epbuild *eb, uint32_t peer, const struct specs *s, const struct rule_ref *rr)
{
	for (size_t i = 0; i < s->n; i++) {
		struct cand *c;

		if (grow(&eb->c, &eb->cap, eb->n, sizeof(*eb->c)))
			return -ENOMEM;
		c = &eb->c[eb->n++];
		memset(c, 0, sizeof(*c));
		c->e.key.prefixlen = s->v[i].plen;
		c->e.key.ep = eb->ip;
		c->e.key.peer = peer;
		c->e.key.dir = eb->dir;
		c->e.key.proto = s->v[i].proto;
		c->e.key.port = htons(s->v[i].port);
		c->e.val.policy_id = rr->policy_id;
		c->e.val.rule = rr->rule;
		c->seq = rr->seq;
	}
	return 0;
}

/*
 * Egress to a named port of the pods of identity k: the union of the ports
 * those pods give that name. Policy keys know identities, not pods, so two
 * pods with the same labels that number one name differently both accept
 * both numbers from this rule: an over-allow Cilium shares.
 */
static int emit_named_identity(const struct ctx *x, struct epbuild *eb, size_t k,
			       const struct k8s_np_rule *r, const struct rule_ref *rr)
{
	struct specs s = { 0 };
	int ret = 0;

	for (size_t j = x->id_off[k]; !ret && j < x->id_off[k + 1]; j++)
		ret = specs_add_rule_named(&s, x->pods[x->id_pods[j]], r);
	if (!ret)
		ret = emit(eb, x->r->identities[k].id, &s, rr);
	free(s.v);
	return ret;
}

static bool peer_matches(const struct k8s_np_peer *peer, const char *policy_ns,
			 const struct identity *id)
{
	if (!peer->pod_sel && !peer->ns_sel)
		return false;
	/* A podSelector alone looks in the policy's own namespace only. */
	if (!peer->ns_sel && cmp_str(id->ns, policy_ns))
		return false;
	if (peer->ns_sel && !k8s_selector_matches(peer->ns_sel, &id->ns_labels))
		return false;
	return !peer->pod_sel || k8s_selector_matches(peer->pod_sel, &id->pod_labels);
}

/* side: 'p' for a pod label, 'n' for a namespace label. */
static uint32_t label_hash(char side, const char *key, const char *value)
{
	uint32_t h = 2166136261u;
	const char *parts[3] = { key, "=", value };

	h = (h ^ (unsigned char)side) * 16777619u;
	for (int i = 0; i < 3; i++)
		for (const char *c = parts[i]; *c; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
	return h;
}

static int cmp_labix(const void *a, const void *b)
{
	const struct labix *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

static int labix_build(struct ctx *x)
{
	size_t n = 0;

	for (size_t k = 0; k < x->r->nidentities; k++)
		n += x->r->identities[k].pod_labels.n + x->r->identities[k].ns_labels.n;
	x->labix = malloc((n ? n : 1) * sizeof(*x->labix));
	if (!x->labix)
		return -ENOMEM;
	for (size_t k = 0; k < x->r->nidentities; k++) {
		const struct identity *id = &x->r->identities[k];

		for (size_t i = 0; i < id->pod_labels.n; i++)
			x->labix[x->nlabix++] = (struct labix){
				label_hash('p', id->pod_labels.v[i].key, id->pod_labels.v[i].value),
				(uint32_t)k };
		for (size_t i = 0; i < id->ns_labels.n; i++)
			x->labix[x->nlabix++] = (struct labix){
				label_hash('n', id->ns_labels.v[i].key, id->ns_labels.v[i].value),
				(uint32_t)k };
	}
	qsort(x->labix, x->nlabix, sizeof(*x->labix), cmp_labix);
	return 0;
}

/*
 * The candidates for a peer: the identities with its first matchLabels label
 * (a superset of the matches; hash collisions only add candidates), or all.
 */
static void peer_candidates(const struct ctx *x, const struct k8s_np_peer *peer,
			    const struct labix **first, size_t *n)
{
	const struct k8s_selector *sel = peer->pod_sel && peer->pod_sel->match_labels.n ?
						 peer->pod_sel :
						 peer->ns_sel;
	char side = sel == peer->pod_sel ? 'p' : 'n';
	size_t lo = 0, hi = x->nlabix;
	uint32_t h;

	*first = NULL;
	if (!sel || !sel->match_labels.n)
		return;
	h = label_hash(side, sel->match_labels.v[0].key, sel->match_labels.v[0].value);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (x->labix[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = &x->labix[lo];
	for (*n = 0; lo + *n < x->nlabix && x->labix[lo + *n].h == h; (*n)++)
		;
}

/* The identities a selector peer of a policy in policy_ns matches (memoised). */
static const struct peer_memo *peer_ids(const struct ctx *x, const struct k8s_np_peer *peer,
					const char *policy_ns)
{
	size_t mask = x->memo_cap - 1, h = ((uintptr_t)peer >> 4) * 0x9e3779b97f4a7c15ULL, ncand;
	const struct labix *cand;
	struct peer_memo *m;

	for (h &= mask;; h = (h + 1) & mask) {
		m = &x->memo[h];
		if (m->peer == peer)
			return m;
		if (!m->peer)
			break;
	}
	m->ids = malloc((x->r->nidentities ? x->r->nidentities : 1) * sizeof(*m->ids));
	if (!m->ids)
		return NULL;
	m->peer = peer;
	m->n = 0;
	peer_candidates(x, peer, &cand, &ncand);
	if (cand) {
		/* In identity order, as the full walk would give them. */
		for (size_t j = 0; j < ncand; j++)
			if (peer_matches(peer, policy_ns, &x->r->identities[cand[j].k]))
				m->ids[m->n++] = cand[j].k;
		return m;
	}
	for (size_t k = 0; k < x->r->nidentities; k++)
		if (peer_matches(peer, policy_ns, &x->r->identities[k]))
			m->ids[m->n++] = k;
	return m;
}

static int memo_init(struct ctx *x)
{
	size_t peers = 0;

	for (size_t i = 0; i < x->nnps; i++) {
		for (size_t j = 0; j < x->nps[i]->ningress; j++)
			peers += x->nps[i]->ingress[j].npeers;
		for (size_t j = 0; j < x->nps[i]->negress; j++)
			peers += x->nps[i]->egress[j].npeers;
	}
	/* At most half full, a power of two. */
	for (x->memo_cap = 16; x->memo_cap < 2 * peers; x->memo_cap *= 2)
		;
	x->memo = calloc(x->memo_cap, sizeof(*x->memo));
	return x->memo ? 0 : -ENOMEM;
}

/* Is p inside q? */
static bool cidr_in(const struct k8s_cidr *p, const struct k8s_cidr *q)
{
	return p->len >= q->len && !((ntohl(p->addr) ^ ntohl(q->addr)) & xcni_prefix_mask(q->len));
}

static bool cidr_rule_covers(const struct cidr_rule *cr, const struct k8s_cidr *p)
{
	if (!cidr_in(p, &cr->cidr))
		return false;
	for (size_t i = 0; i < cr->nexcept; i++)
		if (cidr_in(p, &cr->except[i]))
			return false;
	return true;
}

/* Takes s (moved into the rule, freed on failure). */
static int cidr_rule_add(struct epbuild *eb, struct k8s_cidr cidr, size_t nexcept,
			 const struct k8s_cidr *except, struct specs *s, const struct rule_ref *rr)
{
	struct cidr_rule *cr;

	if (grow(&eb->cr, &eb->capcr, eb->ncr, sizeof(*eb->cr))) {
		free(s->v);
		return -ENOMEM;
	}
	cr = &eb->cr[eb->ncr++];
	cr->cidr = cidr;
	cr->nexcept = nexcept;
	cr->except = except;
	cr->specs = *s;
	cr->policy_id = rr->policy_id;
	cr->rule = rr->rule;
	cr->seq = rr->seq;
	return 0;
}

static int ipblock_add(const struct ctx *x, struct epbuild *eb, const struct k8s_ipblock *b,
		       const struct specs *fixed, bool named, const struct k8s_np_rule *r,
		       const struct rule_ref *rr)
{
	struct specs s = { 0 };
	int ret;

	if (fixed->n) {
		s.v = malloc(fixed->n * sizeof(*s.v));
		if (!s.v)
			return -ENOMEM;
		memcpy(s.v, fixed->v, fixed->n * sizeof(*s.v));
		s.n = s.cap = fixed->n;
	}
	ret = cidr_rule_add(eb, b->cidr, b->nexcept, b->except, &s, rr);
	if (ret || !named)
		return ret;
	/*
	 * Egress to a named port of an ipBlock: only pods can name ports, so
	 * each pod inside the block that has the name gets its own /32 rule
	 * allowing its own numbers; the /32s join the LPM prefixes below.
	 */
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		struct k8s_cidr host = { .addr = p->ip, .len = 32 };
		struct cidr_rule block = {
			.cidr = b->cidr, .nexcept = b->nexcept, .except = b->except
		};

		if (!pod_managed(p) || !p->ip || !cidr_rule_covers(&block, &host))
			continue;
		s = (struct specs){ 0 };
		ret = specs_add_rule_named(&s, p, r);
		if (ret || !s.n) {
			free(s.v);
			if (ret)
				return ret;
			continue;
		}
		ret = cidr_rule_add(eb, host, 0, NULL, &s, rr);
		if (ret)
			return ret;
	}
	return 0;
}

static int compile_rule(const struct ctx *x, struct epbuild *eb, const struct k8s_pod *local,
			const struct k8s_netpol *np, const struct k8s_np_rule *r,
			const struct rule_ref *rr)
{
	struct specs fixed = { 0 }; /* the ports that do not depend on the peer */
	bool named = false; /* egress named ports: resolved per peer */
	int ret = 0;

	if (!r->nports)
		ret = specs_add(&fixed, 0, 0, POL_PREFIX_ANY_PROTO);
	for (size_t i = 0; !ret && i < r->nports; i++) {
		const struct k8s_np_port *p = &r->ports[i];

		if (!p->port_name)
			ret = specs_add_port(&fixed, p);
		else if (eb->dir == XCNI_DIR_TO_POD)
			ret = specs_add_named(&fixed, local, p);
		else
			named = true;
	}
	if (ret)
		goto out;
	if (!r->npeers) {
		ret = emit(eb, XCNI_ID_ANY, &fixed, rr);
		/* Any destination, named port: the pods that have the name. */
		for (size_t k = 0; !ret && named && k < x->r->nidentities; k++)
			ret = emit_named_identity(x, eb, k, r, rr);
		goto out;
	}
	for (size_t i = 0; !ret && i < r->npeers; i++) {
		const struct k8s_np_peer *peer = &r->peers[i];

		if (peer->ipblock) {
			ret = ipblock_add(x, eb, peer->ipblock, &fixed, named, r, rr);
			continue;
		}
		const struct peer_memo *m = peer_ids(x, peer, np->meta.ns);

		if (!m) {
			ret = -ENOMEM;
			break;
		}
		for (size_t j = 0; !ret && j < m->n; j++) {
			size_t k = m->ids[j];

			ret = emit(eb, x->r->identities[k].id, &fixed, rr);
			if (!ret && named)
				ret = emit_named_identity(x, eb, k, r, rr);
		}
	}
out:
	free(fixed.v);
	return ret;
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct k8s_cidr *x = a, *y = b;
	uint32_t ax = ntohl(x->addr), ay = ntohl(y->addr);

	if (ax != ay)
		return ax < ay ? -1 : 1;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * ipBlocks of one direction as LPM prefixes. Every cidr and except becomes a
 * prefix P standing for exactly the rules whose cidr holds P and none of
 * whose excepts does; the longest prefix holding an address is then exactly
 * the set of rules that allow it (an except, being a longer prefix, hides
 * the shorter cidr it was cut from). A prefix whose set is empty still gets
 * a group: it is what hides.
 */
static int build_groups(struct epbuild *eb)
{
	struct k8s_cidr *pfx = NULL;
	size_t n = 0, cap = 0, u = 0;
	int ret = -ENOMEM;

	for (size_t i = 0; i < eb->ncr; i++) {
		const struct cidr_rule *cr = &eb->cr[i];

		for (size_t j = 0; j <= cr->nexcept; j++) {
			if (grow(&pfx, &cap, n, sizeof(*pfx)))
				goto out;
			pfx[n++] = j ? cr->except[j - 1] : cr->cidr;
		}
	}
	if (n)
		qsort(pfx, n, sizeof(*pfx), cmp_cidr);
	for (size_t i = 0; i < n; i++)
		if (!u || cmp_cidr(&pfx[u - 1], &pfx[i]))
			pfx[u++] = pfx[i];
	ret = 0;
	for (size_t i = 0; !ret && i < u; i++) {
		uint32_t group = XCNI_ID_CIDR_BASE + i;
		struct pol_cidr *pc;

		if (grow(&eb->pc, &eb->cappc, eb->npc, sizeof(*eb->pc))) {
			ret = -ENOMEM;
			break;
		}
		pc = &eb->pc[eb->npc++];
		memset(pc, 0, sizeof(*pc));
		pc->key.prefixlen = XCNI_POLCIDR_PREFIX_BASE + pfx[i].len;
		pc->key.ep = eb->ip;
		pc->key.dir = eb->dir;
		pc->key.addr = pfx[i].addr;
		pc->group = group;
		for (size_t j = 0; !ret && j < eb->ncr; j++) {
			const struct cidr_rule *cr = &eb->cr[j];
			struct rule_ref rr = { cr->policy_id, cr->rule, cr->seq };

			if (cidr_rule_covers(cr, &pfx[i]))
				ret = emit(eb, group, &cr->specs, &rr);
		}
	}
out:
	free(pfx);
	return ret;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int d = memcmp(&x->e.key, &y->e.key, sizeof(x->e.key));

	return d ? d : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_polcidr(const void *a, const void *b)
{
	return memcmp(&((const struct pol_cidr *)a)->key, &((const struct pol_cidr *)b)->key,
		      sizeof(struct xcni_polcidr_key));
}

static void epbuild_reset_rules(struct epbuild *eb)
{
	for (size_t i = 0; i < eb->ncr; i++)
		free(eb->cr[i].specs.v);
	eb->ncr = 0;
}

/* The first policy of namespace ns (policies are sorted by namespace, name). */
static size_t nps_of_ns(const struct ctx *x, const char *ns)
{
	size_t lo = 0, hi = x->nnps;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_str(x->nps[mid]->meta.ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int compile_ep(const struct ctx *x, const struct k8s_pod *pod, uint32_t identity,
		      struct epbuild *eb, struct pol_ep *ep)
{
	uint32_t seq = 0;
	size_t u = 0;
	int ret = 0;

	/* Only pods of this node have policy compiled. */
	eb->ip = pod_addr(pod, true);
	eb->n = eb->npc = 0;
	ep->ip = eb->ip;
	ep->pod = pod;
	ep->state.identity = identity;
	for (uint8_t dir = 0; !ret && dir < XCNI_NR_POLICY_DIRS; dir++) {
		eb->dir = dir;
		epbuild_reset_rules(eb);
		for (size_t i = nps_of_ns(x, pod->meta.ns); !ret && i < x->nnps; i++) {
			const struct k8s_netpol *np = x->nps[i];

			if (cmp_str(np->meta.ns, pod->meta.ns))
				break; /* sorted by namespace: the pod's are behind us */
			bool in = dir == XCNI_DIR_TO_POD;
			size_t nrules = in ? np->ningress : np->negress;
			const struct k8s_np_rule *rules = in ? np->ingress : np->egress;

			if (!(in ? np->type_ingress : np->type_egress) ||
			    cmp_str(np->meta.ns, pod->meta.ns) ||
			    !k8s_selector_matches(&np->pod_sel, &pod->meta.labels))
				continue;
			ep->state.isolated |= XCNI_ISOLATED(dir);
			/* Policies come by name: the first ones are kept. */
			if (ep->sel.n[dir] < XCNI_POLSEL_IDS)
				ep->sel.ids[dir][ep->sel.n[dir]] = x->np_id[i];
			ep->sel.n[dir]++;
			for (size_t ri = 0; !ret && ri < nrules; ri++) {
				struct rule_ref rr = { x->np_id[i], ri, seq++ };

				ret = compile_rule(x, eb, pod, np, &rules[ri], &rr);
			}
		}
		if (!ret)
			ret = build_groups(eb);
	}
	epbuild_reset_rules(eb);
	if (ret)
		return ret;
	if (eb->n)
		qsort(eb->c, eb->n, sizeof(*eb->c), cmp_cand);
	ep->entries = calloc(eb->n ? eb->n : 1, sizeof(*ep->entries));
	ep->cidrs = calloc(eb->npc ? eb->npc : 1, sizeof(*ep->cidrs));
	if (!ep->entries || !ep->cidrs)
		return -ENOMEM;
	/* Sorted by (key, seq): the first of equal keys is the first policy's, lowest rule. */
	for (size_t i = 0; i < eb->n; i++)
		if (!u || memcmp(&ep->entries[u - 1].key, &eb->c[i].e.key, sizeof(eb->c[i].e.key)))
			ep->entries[u++] = eb->c[i].e;
	ep->nentries = u;
	if (eb->npc) {
		qsort(eb->pc, eb->npc, sizeof(*eb->pc), cmp_polcidr);
		memcpy(ep->cidrs, eb->pc, eb->npc * sizeof(*eb->pc));
	}
	ep->ncidrs = eb->npc;
	return 0;
}

static int cmp_ep(const void *a, const void *b)
{
	return memcmp(&((const struct pol_ep *)a)->ip, &((const struct pol_ep *)b)->ip,
		      sizeof(uint32_t));
}

static int build_eps(struct ctx *x)
{
	struct pol_result *r = x->r;
	struct epbuild eb = { 0 };
	int ret = 0;

	r->eps = calloc(x->npods ? x->npods : 1, sizeof(*r->eps));
	if (!r->eps)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];

		if (!pod_managed(p) || !pod_local(x, p) || !pod_addr(p, true))
			continue;
		ret = compile_ep(x, p, x->pod_id[i], &eb, &r->eps[r->neps++]);
	}
	qsort(r->eps, r->neps, sizeof(*r->eps), cmp_ep);
	free(eb.c);
	free(eb.cr);
	free(eb.pc);
	return ret;
}

/* ---- entry point ------------------------------------------------------ */

static void sort_unless_sorted(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++) {
		if (cmp((char *)base + (i - 1) * sz, (char *)base + i * sz) > 0) {
			qsort(base, n, sz, cmp);
			return;
		}
	}
}

static void ctx_free(struct ctx *x)
{
	for (size_t i = 0; x->memo && i < x->memo_cap; i++)
		free(x->memo[i].ids);
	free(x->memo);
	free(x->labix);
	for (size_t i = 0; i < x->nnsl; i++)
		k8s_labels_free(&x->nsl[i].labels);
	free(x->nsl);
	free(x->id_off);
	free(x->id_pods);
	free(x->np_id);
	free(x->nps);
	free(x->nodes);
	free(x->pod_id);
	free(x->pods);
	memset(x, 0, sizeof(*x));
}

/* The whole compile, its working state left in x for the incremental compiler. */
static int compile_full(const struct cluster *c, const struct pol_opts *o, struct pol_result *out,
			struct k8s_error *err, struct ctx *x)
{
	int ret = -ENOMEM;

	memset(x, 0, sizeof(*x));
	x->o = o;
	x->hash = o->hash ? o->hash : fnv1a;
	x->r = out;
	memset(out, 0, sizeof(*out));
	if (err)
		err->msg[0] = '\0';
	x->npods = c->n[K8S_POD];
	x->nnodes = c->n[K8S_NODE];
	x->nnps = c->n[K8S_NETWORKPOLICY];
	x->pods = calloc(x->npods ? x->npods : 1, sizeof(*x->pods));
	x->pod_id = calloc(x->npods ? x->npods : 1, sizeof(*x->pod_id));
	x->nodes = calloc(x->nnodes ? x->nnodes : 1, sizeof(*x->nodes));
	x->nps = calloc(x->nnps ? x->nnps : 1, sizeof(*x->nps));
	if (!x->pods || !x->pod_id || !x->nodes || !x->nps)
		goto out;
	for (size_t i = 0; i < x->npods; i++)
		x->pods[i] = &c->objs[K8S_POD][i]->pod;
	for (size_t i = 0; i < x->nnodes; i++)
		x->nodes[i] = &c->objs[K8S_NODE][i]->node;
	for (size_t i = 0; i < x->nnps; i++)
		x->nps[i] = &c->objs[K8S_NETWORKPOLICY][i]->np;
	/* The view is sorted already; checked (one pass), sorted only if not, so
	 * the output does not depend on whoever built the view. */
	sort_unless_sorted(x->pods, x->npods, sizeof(*x->pods), cmp_meta);
	sort_unless_sorted(x->nodes, x->nnodes, sizeof(*x->nodes), cmp_meta);
	sort_unless_sorted(x->nps, x->nnps, sizeof(*x->nps), cmp_meta);

	ret = build_nslabels(x, c);
	if (!ret)
		ret = build_identities(x);
	if (!ret)
		ret = build_id_pods(x);
	if (!ret)
		ret = build_policies(x);
	if (!ret)
		ret = build_ipcache(x, err);
	if (!ret)
		ret = memo_init(x);
	if (!ret)
		ret = labix_build(x);
	if (!ret)
		ret = build_eps(x);
out:
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, "out of memory compiling policy");
		pol_result_free(out);
	}
	return ret;
}

int pol_compile(const struct cluster *c, const struct pol_opts *o, struct pol_result *out,
		struct k8s_error *err)
{
	struct ctx x;
	int ret = compile_full(c, o, out, err, &x);

	ctx_free(&x);
	return ret;
}

void pol_result_free(struct pol_result *r)
{
	for (size_t i = 0; i < r->nidentities; i++) {
		free(r->identities[i].canon);
		k8s_labels_free(&r->identities[i].pod_labels);
		k8s_labels_free(&r->identities[i].ns_labels);
	}
	free(r->identities);
	for (size_t i = 0; i < r->neps; i++) {
		free(r->eps[i].entries);
		free(r->eps[i].cidrs);
	}
	free(r->eps);
	free(r->ipcache);
	free(r->policies);
	free(r->podnames);
	memset(r, 0, sizeof(*r));
}

/* ---- the incremental compiler (policy.h) ------------------------------ */

/* Open addressing, linear probing, deletion by shifting back (no tombstones). */
struct hslot {
	uint64_t h;
	uintptr_t k; /* 0: free */
	void *v;
};

struct hmap {
	size_t mask, n;
	struct hslot *s;
	bool str; /* keys are strings (strcmp), else numbers (UKEY) */
};

/* A number as a key: never 0, so 0 can mean a free slot. */
#define UKEY(u) ((uintptr_t)(u) | ((uintptr_t)1 << 32))
_Static_assert(sizeof(uintptr_t) == 8, "UKEY needs 64-bit pointers");

static uint64_t hstr(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* Addresses are in network order: their low bits barely vary, so mix. */
static uint64_t hu32(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x7feb352du;
	k ^= k >> 15;
	k *= 0x846ca68bu;
	k ^= k >> 16;
	return k;
}

static int hmap_init(struct hmap *m, bool str, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	m->s = calloc(cap, sizeof(*m->s));
	if (!m->s)
		return -ENOMEM;
	m->mask = cap - 1;
	m->n = 0;
	m->str = str;
	return 0;
}

static struct hslot *hmap_slot(const struct hmap *m, uint64_t h, uintptr_t k)
{
	for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
		struct hslot *s = &m->s[i];

		if (!s->k || (s->h == h && (m->str ? !strcmp((const char *)s->k, (const char *)k) :
						   s->k == k)))
			return s;
	}
}

static void *hmap_get(const struct hmap *m, uint64_t h, uintptr_t k)
{
	const struct hslot *s = hmap_slot(m, h, k);

	return s->k ? s->v : NULL;
}

static bool hmap_has(const struct hmap *m, uint64_t h, uintptr_t k)
{
	return hmap_slot(m, h, k)->k != 0;
}

static int hmap_grow(struct hmap *m)
{
	struct hmap n;

	if (hmap_init(&n, m->str, m->mask + 1))
		return -ENOMEM;
	for (size_t i = 0; i <= m->mask; i++)
		if (m->s[i].k)
			*hmap_slot(&n, m->s[i].h, m->s[i].k) = m->s[i];
	n.n = m->n;
	free(m->s);
	*m = n;
	return 0;
}

/* Sets k's value; a string k must live as long as its entry. */
static int hmap_put(struct hmap *m, uint64_t h, uintptr_t k, void *v)
{
	struct hslot *s;

	if (2 * (m->n + 1) > m->mask + 1 && hmap_grow(m))
		return -ENOMEM;
	s = hmap_slot(m, h, k);
	if (!s->k)
		m->n++;
	s->h = h;
	s->k = k;
	s->v = v;
	return 0;
}

static void *hmap_del(struct hmap *m, uint64_t h, uintptr_t k)
{
	struct hslot *s = hmap_slot(m, h, k);
	size_t i, j;
	void *v;

	if (!s->k)
		return NULL;
	v = s->v;
	i = (size_t)(s - m->s);
	for (j = i;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (!m->s[j].k)
			break;
		home = m->s[j].h & m->mask;
		/* j's entry can fill the hole at i unless its home lies in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->s[i].k = 0;
	m->n--;
	return v;
}

static void hmap_clear(struct hmap *m)
{
	if (m->n)
		memset(m->s, 0, (m->mask + 1) * sizeof(*m->s));
	m->n = 0;
}

static void hmap_free(struct hmap *m)
{
	free(m->s);
	memset(m, 0, sizeof(*m));
}

#define hmap_each(m, sl) for (struct hslot *sl = (m)->s; (m)->s && sl <= &(m)->s[(m)->mask]; sl++) if (sl->k)

/* A node pods name (with or without its Node object). */
struct inode {
	char *name;
	uint32_t ip; /* the Node's InternalIP; 0 without one */
	bool exists; /* a Node object */
	size_t n, cap;
	struct ipod **pods;
};

struct ipod {
	char *key; /* "ns/name" */
	const struct k8s_pod *pod; /* the store's; replaced whenever the pod changes */
	uint32_t ip; /* a managed pod's address, 0 if none */
	uint32_t id; /* 0: none (hostNetwork) */
	bool local;
	struct inode *node;
	size_t nslot; /* index in node->pods */
};

/* What the last result said for one /32. */
struct ipent {
	bool ipc, pn;
	struct xcni_ipcache_val val;
	uint64_t pnd; /* digest of the podname */
};

struct nodeaddr {
	uint32_t ip;
	struct xcni_ipcache_val val;
};

struct pol_incr {
	bool valid;
	size_t resets;
	struct pol_opts o;
	char *node_name;
	struct pol_result r; /* ipcache, podnames: arrays only when asked for whole */
	size_t nipc, npn; /* /32 ipcache entries and pod names in the result */
	struct pol_delta d;
	size_t cap_ipc_put, cap_ipc_del, cap_id_put, cap_id_del, cap_pol_put, cap_pol_del,
		cap_pn_put, cap_pn_del;
	struct hmap pods; /* key -> ipod */
	struct hmap nodes; /* name -> inode */
	struct hmap ipx; /* address -> ipod (managed pods with an address) */
	struct hmap ents; /* address -> ipent */
	struct hmap canon; /* canonical labels -> identity number */
	struct hmap nsl; /* namespace -> struct nslabels (owned) */
	size_t nnodeaddr; /* gateway, this node, every Node: they win over pods */
	struct nodeaddr *nodeaddr; /* sorted by ip */
	size_t ncollided; /* identities not on their own hash */
	size_t nnps;
	const struct k8s_netpol **nps; /* sorted like the view */
	uint32_t *np_id;
	bool named_egress; /* some egress rule names a port: eps depend on every pod */
	/* one update's work */
	struct hmap touched; /* addresses whose entries may change */
	struct hmap dirty; /* local pods' addresses to compile again */
	bool ids_changed, pols_changed, nodes_changed, pods_changed;
	size_t nclash, capclash;
	char **clash; /* keys of pods whose address was taken when they came */
};

size_t pol_incr_resets(const struct pol_incr *pi)
{
	return pi->resets;
}

struct pol_incr *pol_incr_new(void)
{
	return calloc(1, sizeof(struct pol_incr));
}

static void delta_free(struct pol_delta *d)
{
	free(d->ipc_put);
	free(d->ipc_del);
	free(d->id_put);
	free(d->id_del);
	free(d->pol_put);
	free(d->pol_del);
	free(d->pn_put);
	free(d->pn_del);
}

/* Everything but the options and the delta's arrays. */
static void incr_clear(struct pol_incr *pi)
{
	hmap_each(&pi->pods, s)
	{
		struct ipod *p = s->v;

		free(p->key);
		free(p);
	}
	hmap_each(&pi->nodes, s)
	{
		struct inode *n = s->v;

		free(n->name);
		free(n->pods);
		free(n);
	}
	hmap_each(&pi->ents, s)
		free(s->v);
	hmap_each(&pi->nsl, s)
	{
		struct nslabels *l = s->v;

		k8s_labels_free(&l->labels);
		free((char *)l->name);
		free(l);
	}
	hmap_free(&pi->pods);
	hmap_free(&pi->nodes);
	hmap_free(&pi->ipx);
	hmap_free(&pi->ents);
	hmap_free(&pi->canon);
	hmap_free(&pi->nsl);
	hmap_free(&pi->touched);
	hmap_free(&pi->dirty);
	free(pi->nodeaddr);
	pi->nodeaddr = NULL;
	pi->nnodeaddr = 0;
	free(pi->nps);
	free(pi->np_id);
	pi->nps = NULL;
	pi->np_id = NULL;
	pi->nnps = 0;
	pol_result_free(&pi->r);
	pi->nipc = pi->npn = 0;
	pi->ncollided = 0;
	pi->valid = false;
}

static void clash_drop(struct pol_incr *pi);

void pol_incr_free(struct pol_incr *pi)
{
	if (!pi)
		return;
	incr_clear(pi);
	delta_free(&pi->d);
	clash_drop(pi);
	free(pi->clash);
	free(pi->node_name);
	free(pi);
}

static uint32_t incr_hash_id(const struct pol_incr *pi, const char *canon)
{
	return XCNI_ID_MIN_LABELS + (pi->o.hash ? pi->o.hash : fnv1a)(canon) % ID_SPAN;
}

static bool incr_local(const struct pol_incr *pi, const struct k8s_pod *p)
{
	return !pi->o.node_name || (p->node_name && !strcmp(p->node_name, pi->o.node_name));
}

static struct identity *rid_find(const struct pol_result *r, uint32_t id)
{
	struct identity k = { .id = id };

	return bsearch(&k, r->identities, r->nidentities, sizeof(k), cmp_id);
}

static struct inode *inode_get(struct pol_incr *pi, const char *name)
{
	uint64_t h = hstr(name);
	struct inode *n = hmap_get(&pi->nodes, h, (uintptr_t)name);

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)) || hmap_put(&pi->nodes, h, (uintptr_t)n->name, n)) {
		if (n)
			free(n->name);
		free(n);
		return NULL;
	}
	return n;
}

static int inode_add(struct inode *n, struct ipod *p)
{
	if (grow(&n->pods, &n->cap, n->n, sizeof(*n->pods)))
		return -ENOMEM;
	p->node = n;
	p->nslot = n->n;
	n->pods[n->n++] = p;
	return 0;
}

/* A node no pod names and no Node object describes is forgotten. */
static void inode_gc(struct pol_incr *pi, struct inode *n)
{
	if (n->n || n->exists)
		return;
	hmap_del(&pi->nodes, hstr(n->name), (uintptr_t)n->name);
	free(n->name);
	free(n->pods);
	free(n);
}

static void inode_remove(struct pol_incr *pi, struct ipod *p)
{
	struct inode *n = p->node;

	if (!n)
		return;
	n->pods[p->nslot] = n->pods[--n->n];
	n->pods[p->nslot]->nslot = p->nslot;
	p->node = NULL;
	inode_gc(pi, n);
}

/* The labels selectors see for namespace ns (a Namespace's, or the default). */
static const struct nslabels *incr_nsl(struct pol_incr *pi, const char *ns)
{
	const struct k8s_labels none = { 0 };
	uint64_t h = hstr(ns);
	struct nslabels *l = hmap_get(&pi->nsl, h, (uintptr_t)ns);

	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->name = strdup(ns);
	if (!l->name || labels_copy(&l->labels, &none, NS_NAME_LABEL, ns) ||
	    hmap_put(&pi->nsl, h, (uintptr_t)l->name, l)) {
		k8s_labels_free(&l->labels);
		free((char *)l->name);
		free(l);
		return NULL;
	}
	return l;
}

static int touch(struct pol_incr *pi, uint32_t ip)
{
	return hmap_put(&pi->touched, hu32(ip), UKEY(ip), NULL);
}

static int dirty_ep(struct pol_incr *pi, uint32_t ip)
{
	return hmap_put(&pi->dirty, hu32(ip), UKEY(ip), NULL);
}

static char *pod_key(const char *ns, const char *name)
{
	size_t ln = strlen(ns ? ns : ""), lm = strlen(name);
	char *k = malloc(ln + lm + 2);

	if (!k)
		return NULL;
	memcpy(k, ns ? ns : "", ln);
	k[ln] = '/';
	memcpy(k + ln + 1, name, lm + 1);
	return k;
}

/* The node addresses, as build_ipcache ranks them: the lowest identity wins. */
static int nodeaddr_build(const struct pol_incr *pi, const struct cluster *c, struct nodeaddr **out,
			  size_t *nout)
{
	struct pol_result tmp = { 0 };
	size_t cap = 0, n = 0;
	struct nodeaddr *v;

	if (pi->o.gateway_ip && ipcache_add(&tmp, &cap, pi->o.gateway_ip, 32, XCNI_ID_HOST, 0))
		goto fail;
	if (pi->o.node_ip && ipcache_add(&tmp, &cap, pi->o.node_ip, 32, XCNI_ID_HOST, 0))
		goto fail;
	for (size_t i = 0; i < c->n[K8S_NODE]; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
		bool self = pi->o.node_name && nd->meta.name &&
			    !strcmp(nd->meta.name, pi->o.node_name);

		if (nd->internal_ip &&
		    ipcache_add(&tmp, &cap, nd->internal_ip, 32,
				self ? XCNI_ID_HOST : XCNI_ID_REMOTE_NODE, self ? 0 : nd->internal_ip))
			goto fail;
	}
	if (tmp.nipcache)
		qsort(tmp.ipcache, tmp.nipcache, sizeof(*tmp.ipcache), cmp_ipcache_rank);
	v = calloc(tmp.nipcache ? tmp.nipcache : 1, sizeof(*v));
	if (!v)
		goto fail;
	for (size_t i = 0; i < tmp.nipcache; i++) {
		if (n && v[n - 1].ip == tmp.ipcache[i].key.addr)
			continue;
		v[n].ip = tmp.ipcache[i].key.addr;
		v[n++].val = tmp.ipcache[i].val;
	}
	free(tmp.ipcache);
	*out = v;
	*nout = n;
	return 0;
fail:
	free(tmp.ipcache);
	return -ENOMEM;
}

static const struct nodeaddr *nodeaddr_find(const struct nodeaddr *v, size_t n, uint32_t ip)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v[mid].ip == ip)
			return &v[mid];
		if (memcmp(&v[mid].ip, &ip, sizeof(ip)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint32_t pol_incr_pod_id(const struct pol_incr *pi, const char *ns, const char *name)
{
	char *key = pod_key(ns, name);
	const struct ipod *ip = key ? hmap_get(&pi->pods, hstr(key), (uintptr_t)key) : NULL;

	free(key);
	return ip ? ip->id : 0;
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static int cmp_ipc6(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_ipcache6_key));
}

int pol_v6_build(const struct pol_incr *pi, const struct cluster *c, struct pol_v6 *out)
{
	size_t n = c->n[K8S_POD];

	memset(out, 0, sizeof(*out));
	out->ipc = calloc(n ? n : 1, sizeof(*out->ipc));
	out->keys = calloc(n ? n : 1, sizeof(*out->keys));
	if (!out->ipc || !out->keys) {
		pol_v6_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;
		char *key;
		const struct ipod *ip;

		if (!pod_managed(p) || !p->has_ip6)
			continue;
		key = pod_key(p->meta.ns, p->meta.name);
		if (!key) {
			pol_v6_free(out);
			return -ENOMEM;
		}
		ip = hmap_get(&pi->pods, hstr(key), (uintptr_t)key);
		free(key);
		struct pol_ipc6 *e = &out->ipc[out->nipc++];

		e->key.prefixlen = 128;
		memcpy(e->key.addr, p->ip6, 16);
		e->val.identity = ip && ip->id ? ip->id : XCNI_ID_UNMANAGED;
		e->val.flags = XCNI_IPC_POD;
		if (ip && ip->local) {
			struct pol_key6 *k = &out->keys[out->nkeys++];

			memcpy(k->addr.addr, p->ip6, 16);
			k->key = pod_addr(p, true);
		}
	}
	/* One entry per address: the first pod (by the view's order) keeps it. */
	qsort(out->ipc, out->nipc, sizeof(*out->ipc), cmp_ipc6);
	if (out->nipc) {
		size_t w = 1;

		for (size_t r = 1; r < out->nipc; r++)
			if (cmp_ipc6(&out->ipc[r], &out->ipc[w - 1]))
				out->ipc[w++] = out->ipc[r];
		out->nipc = w;
	}
	qsort(out->keys, out->nkeys, sizeof(*out->keys), cmp16);
	if (out->nkeys) {
		size_t w = 1;

		for (size_t r = 1; r < out->nkeys; r++)
			if (cmp16(&out->keys[r], &out->keys[w - 1]))
				out->keys[w++] = out->keys[r];
		out->nkeys = w;
	}
	return 0;
}

void pol_v6_free(struct pol_v6 *v)
{
	free(v->ipc);
	free(v->keys);
	v->ipc = NULL;
	v->keys = NULL;
	v->nipc = v->nkeys = 0;
}

static void podname_of(const struct ipod *p, struct pol_podname *pn)
{
	memset(pn, 0, sizeof(*pn)); /* whole bytes: they are digested and written */
	pn->ip = p->ip;
	copy_str(pn->name.ns, sizeof(pn->name.ns), p->pod->meta.ns);
	copy_str(pn->name.name, sizeof(pn->name.name), p->pod->meta.name);
	copy_str(pn->name.node, sizeof(pn->name.node), p->pod->node_name);
}

static uint64_t podname_digest(const struct xcni_podname *n)
{
	const unsigned char *b = (const unsigned char *)n;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < sizeof(*n); i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Does some egress rule name a port? Then local pods' policy depends on every pod. */
static bool any_named_egress(const struct k8s_netpol *const *nps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < nps[i]->negress; j++)
			for (size_t k = 0; k < nps[i]->egress[j].nports; k++)
				if (nps[i]->egress[j].ports[k].port_name)
					return true;
	return false;
}

/* Indexes the result of a whole compile (x: its working state, taken over). */
static int incr_index(struct pol_incr *pi, const struct cluster *c, struct ctx *x)
{
	struct pol_result *r = &pi->r;

	if (hmap_init(&pi->pods, true, x->npods) || hmap_init(&pi->nodes, true, x->nnodes) ||
	    hmap_init(&pi->ipx, false, x->npods) || hmap_init(&pi->ents, false, r->nipcache) ||
	    hmap_init(&pi->canon, true, r->nidentities) || hmap_init(&pi->nsl, true, x->nnsl) ||
	    hmap_init(&pi->touched, false, 16) || hmap_init(&pi->dirty, false, 16))
		return -ENOMEM;
	for (size_t i = 0; i < x->nnsl; i++) {
		struct nslabels *l = calloc(1, sizeof(*l));

		if (!l)
			return -ENOMEM;
		l->labels = x->nsl[i].labels;
		x->nsl[i].labels = (struct k8s_labels){ 0 };
		l->name = strdup(x->nsl[i].name);
		if (!l->name || hmap_put(&pi->nsl, hstr(l->name), (uintptr_t)l->name, l)) {
			k8s_labels_free(&l->labels);
			free((char *)l->name);
			free(l);
			return -ENOMEM;
		}
	}
	for (size_t k = 0; k < r->nidentities; k++) {
		struct identity *id = &r->identities[k];
		const struct nslabels *l = hmap_get(&pi->nsl, hstr(id->ns), (uintptr_t)id->ns);

		id->ns = l->name; /* the pod's string goes with the pod */
		id->npods = 0;
		pi->ncollided += id->id != incr_hash_id(pi, id->canon);
		if (hmap_put(&pi->canon, hstr(id->canon), (uintptr_t)id->canon,
			     (void *)(uintptr_t)id->id))
			return -ENOMEM;
	}
	for (size_t i = 0; i < c->n[K8S_NODE]; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
		struct inode *n = inode_get(pi, nd->meta.name);

		if (!n)
			return -ENOMEM;
		n->ip = nd->internal_ip;
		n->exists = true;
	}
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		struct ipod *ip = calloc(1, sizeof(*ip));

		if (!ip || !(ip->key = pod_key(p->meta.ns, p->meta.name)) ||
		    hmap_put(&pi->pods, hstr(ip->key), (uintptr_t)ip->key, ip)) {
			if (ip)
				free(ip->key);
			free(ip);
			return -ENOMEM;
		}
		ip->pod = p;
		ip->id = x->pod_id[i];
		ip->local = incr_local(pi, p);
		ip->ip = pod_managed(p) ? pod_addr(p, ip->local) : 0;
		if (ip->id)
			rid_find(r, ip->id)->npods++;
		if (ip->ip && hmap_put(&pi->ipx, hu32(ip->ip), UKEY(ip->ip), ip))
			return -ENOMEM;
		if (p->node_name) {
			struct inode *n = inode_get(pi, p->node_name);

			if (!n || inode_add(n, ip))
				return -ENOMEM;
		}
	}
	if (nodeaddr_build(pi, c, &pi->nodeaddr, &pi->nnodeaddr))
		return -ENOMEM;
	for (size_t i = 0; i < r->nipcache; i++) {
		struct ipent *e;

		if (r->ipcache[i].key.prefixlen != 32)
			continue;
		e = calloc(1, sizeof(*e));
		if (!e || hmap_put(&pi->ents, hu32(r->ipcache[i].key.addr),
				   UKEY(r->ipcache[i].key.addr), e)) {
			free(e);
			return -ENOMEM;
		}
		e->ipc = true;
		e->val = r->ipcache[i].val;
		pi->nipc++;
	}
	for (size_t i = 0; i < r->npodnames; i++) {
		uint32_t a = r->podnames[i].ip;
		struct ipent *e = hmap_get(&pi->ents, hu32(a), UKEY(a));

		if (!e) {
			e = calloc(1, sizeof(*e));
			if (!e || hmap_put(&pi->ents, hu32(a), UKEY(a), e)) {
				free(e);
				return -ENOMEM;
			}
		}
		e->pn = true;
		e->pnd = podname_digest(&r->podnames[i].name);
		pi->npn++;
	}
	pi->nps = x->nps;
	pi->np_id = x->np_id;
	pi->nnps = x->nnps;
	x->nps = NULL;
	x->np_id = NULL;
	pi->named_egress = any_named_egress(pi->nps, pi->nnps);
	return 0;
}

static int incr_reset(struct pol_incr *pi, const struct cluster *c, struct k8s_error *err)
{
	struct ctx x;
	int ret;

	incr_clear(pi);
	pi->resets++;
	ret = compile_full(c, &pi->o, &pi->r, err, &x);
	if (!ret)
		ret = incr_index(pi, c, &x);
	ctx_free(&x);
	if (ret) {
		if (ret == -ENOMEM)
			set_err(err, "out of memory compiling policy");
		incr_clear(pi);
		return ret;
	}
	pi->d.full = true;
	pi->valid = true;
	return 0;
}

/* ---- one update ---- */

static int cmp_view_key(const struct k8s_object *o, const char *ns, const char *name)
{
	int d = cmp_str(o->meta.ns, ns);

	return d ? d : cmp_str(o->meta.name, name);
}

static const struct k8s_object *view_find(const struct cluster *c, enum k8s_kind k, const char *ns,
					  const char *name)
{
	size_t lo = 0, hi = c->n[k];

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = cmp_view_key(c->objs[k][mid], ns, name);

		if (!d)
			return c->objs[k][mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

#define DPUSH(pi, arr, val)                                                                     \
	({                                                                                      \
		int _r = grow(&(pi)->d.arr, &(pi)->cap_##arr, (pi)->d.n##arr, sizeof(*(pi)->d.arr)); \
		if (!_r)                                                                        \
			(pi)->d.arr[(pi)->d.n##arr++] = (val);                                  \
		_r;                                                                             \
	})

static void pod_unlink(struct pol_incr *pi, struct ipod *p)
{
	if (p->id) {
		struct identity *id = rid_find(&pi->r, p->id);

		if (id)
			id->npods--;
	}
	if (p->ip && hmap_get(&pi->ipx, hu32(p->ip), UKEY(p->ip)) == p) {
		hmap_del(&pi->ipx, hu32(p->ip), UKEY(p->ip));
		touch(pi, p->ip);
		if (p->local)
			dirty_ep(pi, p->ip);
	}
	inode_remove(pi, p);
	hmap_del(&pi->pods, hstr(p->key), (uintptr_t)p->key);
	free(p->key);
	free(p);
	pi->pods_changed = true;
}

/* A label set no pod had: a new identity, on its own hash (else 1: start over). */
static int ident_new(struct pol_incr *pi, char *canon, const struct k8s_pod *p,
		     const struct nslabels *l, uint32_t *out)
{
	struct pol_result *r = &pi->r;
	uint32_t h = incr_hash_id(pi, canon);
	struct identity *v, *id;
	size_t at = 0;
	int ret;

	if (pi->ncollided || rid_find(r, h)) {
		free(canon);
		pi->d.why = "a new identity's number collides";
		return 1; /* numbering would depend on the others: the whole compile knows */
	}
	v = realloc(r->identities, (r->nidentities + 1) * sizeof(*v));
	if (!v) {
		free(canon);
		return -ENOMEM;
	}
	r->identities = v;
	while (at < r->nidentities && v[at].id < h)
		at++;
	memmove(&v[at + 1], &v[at], (r->nidentities - at) * sizeof(*v));
	r->nidentities++;
	id = &v[at];
	memset(id, 0, sizeof(*id));
	id->id = h;
	id->canon = canon;
	id->ns = l->name;
	id->npods = 1;
	ret = labels_copy(&id->pod_labels, &p->meta.labels, NULL, NULL);
	if (!ret)
		ret = labels_copy(&id->ns_labels, &l->labels, NULL, NULL);
	if (!ret)
		ret = hmap_put(&pi->canon, hstr(canon), (uintptr_t)canon, (void *)(uintptr_t)h);
	if (!ret)
		ret = DPUSH(pi, id_put, ((struct pol_idput){ h, canon }));
	pi->ids_changed = true;
	*out = h;
	return ret;
}

static int ipx_add(struct pol_incr *pi, struct ipod *ip, uint32_t a)
{
	ip->ip = a;
	if (hmap_put(&pi->ipx, hu32(a), UKEY(a), ip) || touch(pi, a) ||
	    (ip->local && dirty_ep(pi, a)))
		return -ENOMEM;
	return 0;
}

static void clash_drop(struct pol_incr *pi)
{
	for (size_t i = 0; i < pi->nclash; i++)
		free(pi->clash[i]);
	pi->nclash = 0;
}

/* Pods of this batch that found their address taken: is it free now? */
static int clashes_settle(struct pol_incr *pi)
{
	int ret = 0;

	for (size_t i = 0; i < pi->nclash; i++) {
		struct ipod *ip = hmap_get(&pi->pods, hstr(pi->clash[i]), (uintptr_t)pi->clash[i]);

		uint32_t a = ip ? pod_addr(ip->pod, ip->local) : 0;

		if (ret || !ip || ip->ip || !pod_managed(ip->pod) || !a)
			continue; /* gone, or changed again and placed */
		if (hmap_has(&pi->ipx, hu32(a), UKEY(a))) {
			pi->d.why = "two pods on one address";
			ret = 1; /* two pods, one address: the whole compile says which */
		} else {
			ret = ipx_add(pi, ip, a);
		}
	}
	clash_drop(pi);
	return ret;
}

static int pod_link(struct pol_incr *pi, const struct k8s_pod *p)
{
	struct ipod *ip = calloc(1, sizeof(*ip));
	int ret = -ENOMEM;

	if (!ip || !(ip->key = pod_key(p->meta.ns, p->meta.name)) ||
	    hmap_put(&pi->pods, hstr(ip->key), (uintptr_t)ip->key, ip)) {
		if (ip)
			free(ip->key);
		free(ip);
		return -ENOMEM;
	}
	pi->pods_changed = true;
	ip->pod = p;
	ip->local = incr_local(pi, p);
	if (pod_managed(p) && p->meta.ns) {
		const struct nslabels *l = incr_nsl(pi, p->meta.ns);
		char *canon = l ? canon_string(&p->meta.labels, &l->labels) : NULL;
		void *id;

		if (!canon)
			return -ENOMEM;
		id = hmap_get(&pi->canon, hstr(canon), (uintptr_t)canon);
		if (id) {
			ip->id = (uint32_t)(uintptr_t)id;
			rid_find(&pi->r, ip->id)->npods++;
			free(canon);
		} else if ((ret = ident_new(pi, canon, p, l, &ip->id))) {
			return ret;
		}
	}
	uint32_t a = pod_addr(p, ip->local);

	if (pod_managed(p) && a) {
		/* Another pod has the address: maybe one deleted further on in this
		 * batch (a new pod reusing an old one's address); seen at the end. */
		if (hmap_has(&pi->ipx, hu32(a), UKEY(a))) {
			char *k = strdup(ip->key);

			if (!k || grow(&pi->clash, &pi->capclash, pi->nclash, sizeof(*pi->clash))) {
				free(k);
				return -ENOMEM;
			}
			pi->clash[pi->nclash++] = k;
		} else if ((ret = ipx_add(pi, ip, a))) {
			return ret;
		}
	}
	if (p->node_name) {
		struct inode *n = inode_get(pi, p->node_name);

		if (!n || inode_add(n, ip))
			return -ENOMEM;
	}
	return 0;
}

static int pod_changed(struct pol_incr *pi, const struct cluster *c, const struct store_change *ch)
{
	const struct k8s_object *o = view_find(c, K8S_POD, ch->ns, ch->name);
	char *key = pod_key(ch->ns, ch->name);
	struct ipod *old;

	if (!key)
		return -ENOMEM;
	old = hmap_get(&pi->pods, hstr(key), (uintptr_t)key);
	free(key);
	if (old)
		pod_unlink(pi, old);
	return o ? pod_link(pi, &o->pod) : 0;
}

static int node_changed(struct pol_incr *pi, const struct cluster *c, const char *name)
{
	const struct k8s_object *o = view_find(c, K8S_NODE, NULL, name);
	struct inode *n = inode_get(pi, name);

	if (!n)
		return -ENOMEM;
	pi->nodes_changed = true;
	n->exists = o != NULL;
	if ((o ? o->node.internal_ip : 0) != n->ip) {
		n->ip = o ? o->node.internal_ip : 0;
		/* Its pods' tunnel endpoint. */
		for (size_t i = 0; i < n->n; i++)
			if (n->pods[i]->ip && touch(pi, n->pods[i]->ip))
				return -ENOMEM;
	}
	inode_gc(pi, n);
	return 0;
}

/* Identities no pod has any more. */
static int idents_gc(struct pol_incr *pi)
{
	struct pol_result *r = &pi->r;
	size_t u = 0;

	for (size_t k = 0; k < r->nidentities; k++) {
		struct identity *id = &r->identities[k];
		bool fresh = false;

		if (id->npods) {
			r->identities[u++] = *id;
			continue;
		}
		if (pi->ncollided) {
			pi->d.why = "a colliding identity is gone";
			return 1; /* another's number may move back to its hash */
		}
		/* Born and gone in this update: never in the maps. */
		for (size_t i = 0; i < pi->d.nid_put; i++) {
			if (pi->d.id_put[i].id == id->id) {
				pi->d.id_put[i] = pi->d.id_put[--pi->d.nid_put];
				fresh = true;
				break;
			}
		}
		if (!fresh && DPUSH(pi, id_del, id->id))
			return -ENOMEM;
		hmap_del(&pi->canon, hstr(id->canon), (uintptr_t)id->canon);
		free(id->canon);
		k8s_labels_free(&id->pod_labels);
		k8s_labels_free(&id->ns_labels);
		pi->ids_changed = true;
	}
	r->nidentities = u;
	return 0;
}

/* New node addresses: the ones that differ are touched. */
static int nodes_resync(struct pol_incr *pi, const struct cluster *c)
{
	struct nodeaddr *v;
	size_t n, i = 0, j = 0;

	if (nodeaddr_build(pi, c, &v, &n))
		return -ENOMEM;
	while (i < n || j < pi->nnodeaddr) {
		const struct nodeaddr *a = i < n ? &v[i] : NULL;
		const struct nodeaddr *b = j < pi->nnodeaddr ? &pi->nodeaddr[j] : NULL;
		int d = !a ? 1 : !b ? -1 : memcmp(&a->ip, &b->ip, sizeof(a->ip));

		if (d || memcmp(&a->val, &b->val, sizeof(a->val)))
			if (touch(pi, d <= 0 ? a->ip : b->ip)) {
				free(v);
				return -ENOMEM;
			}
		i += d <= 0;
		j += d >= 0;
	}
	free(pi->nodeaddr);
	pi->nodeaddr = v;
	pi->nnodeaddr = n;
	return 0;
}

/* What the result says for one touched address, against what it said before. */
static int ent_update(struct pol_incr *pi, uint32_t a)
{
	const struct nodeaddr *na = nodeaddr_find(pi->nodeaddr, pi->nnodeaddr, a);
	const struct ipod *p = hmap_get(&pi->ipx, hu32(a), UKEY(a));
	struct ipent *e = hmap_get(&pi->ents, hu32(a), UKEY(a));
	struct ipent want = { 0 };
	struct pol_podname pn;

	if (na) {
		want.ipc = true;
		want.val = na->val;
	} else if (p) {
		want.ipc = true;
		want.val.identity = p->id;
		want.val.tunnel_ip = !p->local && p->node ? p->node->ip : 0;
		want.val.flags = XCNI_IPC_POD;
	}
	if (p) {
		podname_of(p, &pn);
		want.pn = true;
		want.pnd = podname_digest(&pn.name);
	}
	if (!e) {
		if (!want.ipc && !want.pn)
			return 0;
		e = calloc(1, sizeof(*e));
		if (!e || hmap_put(&pi->ents, hu32(a), UKEY(a), e)) {
			free(e);
			return -ENOMEM;
		}
	}
	if (want.ipc && (!e->ipc || memcmp(&e->val, &want.val, sizeof(want.val)))) {
		struct pol_ipcache pc = { .key = { .prefixlen = 32, .addr = a }, .val = want.val };

		if (DPUSH(pi, ipc_put, pc))
			return -ENOMEM;
	} else if (!want.ipc && e->ipc) {
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = a };

		if (DPUSH(pi, ipc_del, k))
			return -ENOMEM;
	}
	if (want.pn && (!e->pn || e->pnd != want.pnd)) {
		if (DPUSH(pi, pn_put, pn))
			return -ENOMEM;
	} else if (!want.pn && e->pn) {
		if (DPUSH(pi, pn_del, a))
			return -ENOMEM;
	}
	pi->nipc += (size_t)want.ipc - (size_t)e->ipc;
	pi->npn += (size_t)want.pn - (size_t)e->pn;
	if (!want.ipc && !want.pn) {
		free(hmap_del(&pi->ents, hu32(a), UKEY(a)));
		return 0;
	}
	*e = want;
	return 0;
}

static int policies_resync(struct pol_incr *pi, const struct cluster *c)
{
	struct pol_result tmp = { 0 };
	struct ctx x = { .o = &pi->o, .hash = pi->o.hash ? pi->o.hash : fnv1a, .r = &tmp };
	size_t i = 0, j = 0;
	int ret;

	x.nnps = c->n[K8S_NETWORKPOLICY];
	x.nps = calloc(x.nnps ? x.nnps : 1, sizeof(*x.nps));
	if (!x.nps)
		return -ENOMEM;
	for (size_t k = 0; k < x.nnps; k++)
		x.nps[k] = &c->objs[K8S_NETWORKPOLICY][k]->np;
	sort_unless_sorted(x.nps, x.nnps, sizeof(*x.nps), cmp_meta);
	ret = build_policies(&x);
	while (!ret && (i < tmp.npolicies || j < pi->r.npolicies)) {
		const struct pol_name *a = i < tmp.npolicies ? &tmp.policies[i] : NULL;
		const struct pol_name *b = j < pi->r.npolicies ? &pi->r.policies[j] : NULL;
		int d = !a ? 1 : !b ? -1 : (a->id > b->id) - (a->id < b->id);

		if (d < 0 || (!d && memcmp(&a->name, &b->name, sizeof(a->name))))
			ret = DPUSH(pi, pol_put, *a);
		else if (d > 0)
			ret = DPUSH(pi, pol_del, b->id);
		i += d <= 0;
		j += d >= 0;
	}
	if (ret) {
		free(x.nps);
		free(x.np_id);
		free(tmp.policies);
		return ret;
	}
	free(pi->nps);
	free(pi->np_id);
	free(pi->r.policies);
	pi->nps = x.nps;
	pi->np_id = x.np_id;
	pi->nnps = x.nnps;
	pi->r.policies = tmp.policies;
	pi->r.npolicies = tmp.npolicies;
	pi->named_egress = any_named_egress(pi->nps, pi->nnps);
	return 0;
}

static void ep_free(struct pol_ep *ep)
{
	free(ep->entries);
	free(ep->cidrs);
}

static bool id_dead(const struct pol_delta *d, uint32_t id)
{
	for (size_t i = 0; i < d->nid_del; i++)
		if (d->id_del[i] == id)
			return true;
	return false;
}

/*
 * Identities gone and none born (a label set's last pod deleted or relabelled):
 * a local pod's policy loses the entries naming them and nothing else (entries
 * are per peer identity; ports, CIDRs and isolation do not depend on which
 * others exist). At 100k pods most label events are such a death or a birth,
 * and compiling every local pod against every identity for one cost ~7 ms.
 */
static void eps_drop_dead(struct pol_incr *pi)
{
	const struct pol_delta *d = &pi->d;
	struct pol_result *r = &pi->r;

	for (size_t i = 0; i < r->neps; i++) {
		struct pol_ep *ep = &r->eps[i];
		size_t u = 0;

		for (size_t j = 0; j < ep->nentries; j++)
			if (!id_dead(d, ep->entries[j].key.peer))
				ep->entries[u++] = ep->entries[j];
		ep->nentries = u;
	}
}

/* Compiles again the local pods that need it; the others keep their policy. */
static int eps_resync(struct pol_incr *pi, const struct cluster *c)
{
	struct ctx x = { .o = &pi->o, .hash = pi->o.hash ? pi->o.hash : fnv1a, .r = &pi->r };
	bool deaths_only = pi->ids_changed && !pi->d.nid_put && !pi->pols_changed &&
			   !(pi->named_egress && pi->pods_changed);
	bool all = (pi->ids_changed && !deaths_only) || pi->pols_changed ||
		   (pi->named_egress && pi->pods_changed);
	struct pol_result *r = &pi->r;
	struct epbuild eb = { 0 };
	struct pol_ep *v = NULL;
	size_t n = 0;
	int ret = -ENOMEM;

	if (deaths_only && pi->d.nid_del)
		eps_drop_dead(pi);
	if (!all && !pi->dirty.n)
		return 0;
	if (all)
		for (size_t i = 0; i < r->neps; i++)
			if (dirty_ep(pi, r->eps[i].ip))
				return -ENOMEM;
	x.nps = pi->nps;
	x.np_id = pi->np_id;
	x.nnps = pi->nnps;
	if (pi->named_egress) {
		/* Egress named ports resolve against every pod of an identity (and
		 * ipBlock ones against every pod): the whole pod index, once. */
		x.npods = c->n[K8S_POD];
		x.pods = calloc(x.npods ? x.npods : 1, sizeof(*x.pods));
		x.pod_id = calloc(x.npods ? x.npods : 1, sizeof(*x.pod_id));
		if (!x.pods || !x.pod_id)
			goto out;
		for (size_t i = 0; i < x.npods; i++) {
			const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;
			char *key = pod_key(p->meta.ns, p->meta.name);
			const struct ipod *ip = key ? hmap_get(&pi->pods, hstr(key), (uintptr_t)key) :
						      NULL;

			free(key);
			x.pods[i] = p;
			x.pod_id[i] = ip ? ip->id : 0;
		}
		if (build_id_pods(&x))
			goto out;
	}
	if (memo_init(&x) || labix_build(&x))
		goto out;
	v = calloc(r->neps + pi->dirty.n + 1, sizeof(*v));
	if (!v)
		goto out;
	for (size_t i = 0; i < r->neps; i++)
		if (!hmap_has(&pi->dirty, hu32(r->eps[i].ip), UKEY(r->eps[i].ip)))
			v[n++] = r->eps[i];
	ret = 0;
	hmap_each(&pi->dirty, s)
	{
		uint32_t a = (uint32_t)s->k;
		const struct ipod *p = hmap_get(&pi->ipx, hu32(a), UKEY(a));

		if (!p || !p->local)
			continue;
		ret = compile_ep(&x, p->pod, p->id, &eb, &v[n]);
		n++;
		pi->d.neps_compiled++;
		if (ret)
			break;
	}
	if (ret) {
		for (size_t i = 0; i < n; i++)
			if (hmap_has(&pi->dirty, hu32(v[i].ip), UKEY(v[i].ip)))
				ep_free(&v[i]);
		free(v);
		goto out;
	}
	for (size_t i = 0; i < r->neps; i++)
		if (hmap_has(&pi->dirty, hu32(r->eps[i].ip), UKEY(r->eps[i].ip)))
			ep_free(&r->eps[i]);
	free(r->eps);
	if (n)
		qsort(v, n, sizeof(*v), cmp_ep);
	r->eps = v;
	r->neps = n;
out:
	free(eb.c);
	free(eb.cr);
	free(eb.pc);
	x.nps = NULL; /* pi's */
	x.np_id = NULL;
	x.r = NULL;
	ctx_free(&x);
	return ret;
}

/* 0, 1: follow no further, compile everything; -errno. */
static int incr_apply(struct pol_incr *pi, const struct cluster *c, const struct store_change *ch,
		      size_t nch)
{
	int ret = 0;

	hmap_clear(&pi->touched);
	hmap_clear(&pi->dirty);
	clash_drop(pi); /* of an update that started over half way */
	pi->ids_changed = pi->pols_changed = pi->nodes_changed = pi->pods_changed = false;
	for (size_t i = 0; !ret && i < nch; i++) {
		switch (ch[i].kind) {
		case K8S_NAMESPACE:
			pi->d.why = "a Namespace changed";
			return 1; /* its labels are in every identity of its pods */
		case K8S_NODE:
			if (pi->o.node_name && !strcmp(ch[i].name, pi->o.node_name)) {
				pi->d.why = "this node's Node changed";
				return 1; /* this node: which pods are local */
			}
			ret = node_changed(pi, c, ch[i].name);
			break;
		case K8S_NETWORKPOLICY:
			pi->pols_changed = true;
			break;
		case K8S_POD:
			ret = pod_changed(pi, c, &ch[i]);
			break;
		default:
			break; /* Services, EndpointSlices: not policy's */
		}
	}
	if (!ret)
		ret = clashes_settle(pi);
	if (!ret)
		ret = idents_gc(pi);
	if (!ret && pi->nodes_changed)
		ret = nodes_resync(pi, c);
	hmap_each(&pi->touched, s)
	{
		if (ret)
			break;
		ret = ent_update(pi, (uint32_t)s->k);
	}
	if (!ret && pi->pols_changed)
		ret = policies_resync(pi, c);
	if (!ret)
		ret = eps_resync(pi, c);
	return ret;
}

/* The ipcache and podnames arrays, sorted, from the indexes. */
static int incr_whole(struct pol_incr *pi)
{
	struct pol_result *r = &pi->r;
	size_t n = 0, m = 0;

	r->ipcache = calloc(pi->nipc + 1, sizeof(*r->ipcache));
	r->podnames = calloc(pi->npn + 1, sizeof(*r->podnames));
	if (!r->ipcache || !r->podnames)
		return -ENOMEM;
	hmap_each(&pi->ents, s)
	{
		const struct ipent *e = s->v;

		if (e->ipc && n < pi->nipc) {
			r->ipcache[n].key.prefixlen = 32;
			r->ipcache[n].key.addr = (uint32_t)s->k;
			r->ipcache[n++].val = e->val;
		}
	}
	r->ipcache[n].key.prefixlen = 0;
	r->ipcache[n].key.addr = 0;
	r->ipcache[n++].val = (struct xcni_ipcache_val){ .identity = XCNI_ID_WORLD };
	qsort(r->ipcache, n, sizeof(*r->ipcache), cmp_ipcache);
	r->nipcache = n;
	hmap_each(&pi->ipx, s)
		if (m < pi->npn)
			podname_of(s->v, &r->podnames[m++]);
	qsort(r->podnames, m, sizeof(*r->podnames), cmp_podname);
	r->npodnames = m;
	return 0;
}

int pol_incr_update(struct pol_incr *pi, const struct cluster *c, const struct pol_opts *o,
		    const struct store_change *ch, size_t nch, bool all, bool whole,
		    const struct pol_result **r, const struct pol_delta **d, struct k8s_error *err)
{
	struct pol_delta *dl = &pi->d;
	int ret;

	if (err)
		err->msg[0] = '\0';
	dl->why = NULL;
	if (cmp_str(o->node_name, pi->node_name) || o->node_ip != pi->o.node_ip ||
	    o->gateway_ip != pi->o.gateway_ip || o->hash != pi->o.hash) {
		char *nn = o->node_name ? strdup(o->node_name) : NULL;

		if (o->node_name && !nn)
			return -ENOMEM;
		free(pi->node_name);
		pi->node_name = nn;
		pi->o = *o;
		pi->o.node_name = nn;
		all = true;
		if (pi->valid)
			dl->why = "this node's options changed";
	}
	free(pi->r.ipcache);
	free(pi->r.podnames);
	pi->r.ipcache = NULL;
	pi->r.podnames = NULL;
	dl->full = false;
	dl->nipc_put = dl->nipc_del = dl->nid_put = dl->nid_del = 0;
	dl->npol_put = dl->npol_del = dl->npn_put = dl->npn_del = dl->neps_compiled = 0;
	ret = pi->valid && !all ? incr_apply(pi, c, ch, nch) : 1;
	if (ret == 1 && !dl->why)
		dl->why = !pi->valid ? "first compile, or after a failure" :
			  all	     ? "the store lost track of its changes: a new list, or the journal overflowed" :
				       "unknown";
	if (ret == 1) {
		dl->nipc_put = dl->nipc_del = dl->nid_put = dl->nid_del = 0;
		dl->npol_put = dl->npol_del = dl->npn_put = dl->npn_del = 0;
		ret = incr_reset(pi, c, err);
	} else if (!ret && whole) {
		ret = incr_whole(pi);
		dl->full = true;
		dl->why = "the writer asked for every map whole";
	}
	if (ret && ret != -EINVAL && err && !err->msg[0])
		set_err(err, "compiling policy: %s", strerror(-ret));
	if (ret)
		incr_clear(pi);
	else if (!dl->full) {
		pi->r.nipcache = pi->nipc + 1; /* and the world's 0.0.0.0/0 */
		pi->r.npodnames = pi->npn;
	}
	*r = &pi->r;
	*d = dl;
	return ret;
}
