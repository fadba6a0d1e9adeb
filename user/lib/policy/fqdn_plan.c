// SPDX-License-Identifier: Apache-2.0
/*
 * domainNames peers compiled for this node's pods (fqdn_plan.h), and written
 * to the pinned maps with the policy writer's record sets (mapw.h):
 * compare, write what differs, then delete what is gone.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster/fqdn.h"
#include "lib/policy/fqdn_plan.h"
#include "lib/policy/policy.h"
#include "lib/system/mapw.h"
#include "lib/system/clock.h"
#include "lib/system/util.h"

static bool pod_live(const struct k8s_pod *p)
{
	return !p->host_network && (p->ip || p->has_ip6) && p->phase != K8S_POD_SUCCEEDED &&
	       p->phase != K8S_POD_FAILED;
}

/* The tiers' order: priority, then name (policy_cnp.c's), then rule order. */
static int cmp_rule(const void *a, const void *b)
{
	const struct fqdn_rule *x = a, *y = b;
	int c;

	if (x->cnp->priority != y->cnp->priority)
		return x->cnp->priority < y->cnp->priority ? -1 : 1;
	c = strcmp(x->cnp->meta.name, y->cnp->meta.name);
	if (c)
		return c;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int cmp_pat(const void *a, const void *b)
{
	const struct fqdn_pat_entry *x = a, *y = b;
	int c = memcmp(&x->k, &y->k, sizeof(x->k));

	/* one key twice: the lower prio (the earlier rule) first, kept */
	return c ? c : x->v.prio < y->v.prio ? -1 : x->v.prio > y->v.prio;
}

static int cmp_srv(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_dns_srv_key));
}

/* The id pol_build_policies gave ClusterNetworkPolicy cnp (names are cluster-wide), 0: none. */
static uint32_t cnp_id(const struct pol_result *pr, const struct k8s_cnp *cnp)
{
	for (size_t i = 0; pr && i < pr->npolicies; i++)
		if (!strncmp(pr->policies[i].name.ns, XCNI_POLNAME_CNP, strlen(XCNI_POLNAME_CNP)) &&
		    !strcmp(pr->policies[i].name.name, cnp->meta.name))
			return pr->policies[i].id;
	return 0;
}

/* One name of rule rank (the pod's j-th rule naming a domain) for pod ep_id. */
static int add_pat(struct fqdn_plan *p, size_t *cap, uint32_t ep_id, const char *ns,
		   const char *name, size_t rank, size_t j, uint32_t policy_id)
{
	struct fqdn_pat_entry *e;
	int wild = name[0] == '*' && name[1] == '.', n;

	if (XCNI_GROW(p->pat, p->npat, *cap))
		return -ENOMEM;
	e = &p->pat[p->npat];
	memset(e, 0, sizeof(*e));
	n = fqdn_flat(name + (wild ? 2 : 0), e->v.name);
	if (n < 0)
		return n; /* the parser normalised it: not reached */
	e->k.ep_id = ep_id;
	e->ns = ns;
	e->k.kind = wild ? XCNI_FQDN_WILD : XCNI_FQDN_EXACT;
	e->k.hash = fqdn_hash(e->v.name, (size_t)n);
	e->v.len = (uint8_t)n;
	e->v.prio = (uint16_t)rank;
	e->v.rule_ref = (uint32_t)j + 1; /* the polcidr dir XCNI_POLCIDR_DIR_FQDN + j */
	e->v.policy_id = policy_id;
	e->v.rule = (uint16_t)p->rules[rank].rule;
	p->npat++;
	return 0;
}

static int add_srv(struct fqdn_plan *p, size_t *cap, int v6, const void *addr, uint16_t port)
{
	struct xcni_dns_srv_key *k;

	if (!port)
		return 0;
	if (XCNI_GROW(p->srv, p->nsrv, *cap))
		return -ENOMEM;
	k = &p->srv[p->nsrv++];
	*k = (struct xcni_dns_srv_key){ .family = v6 ? XCNI_AF_INET6 : XCNI_AF_INET, .port = htons(port) };
	memcpy(k->addr, addr, v6 ? 16 : 4);
	return 0;
}

/* A Service port's target on pod: the number, or the pod's UDP port of that name. */
static uint16_t target_of(const struct k8s_svc_port *sp, const struct k8s_pod *pod)
{
	if (!sp->target_name)
		return sp->target_port ? sp->target_port : sp->port;
	for (size_t i = 0; i < pod->nports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, sp->target_name) &&
		    pod->ports[i].proto == IPPROTO_UDP)
			return pod->ports[i].port;
	return 0;
}

static bool selector_picks(const struct k8s_service *s, const struct k8s_pod *pod)
{
	for (size_t i = 0; i < s->selector.n; i++) {
		const char *v = k8s_label_get(&pod->meta.labels, s->selector.v[i].key);

		if (!v || strcmp(v, s->selector.v[i].value))
			return false;
	}
	return true;
}

/* The DNS Service's UDP frontends and the pods behind them, both families. */
static int plan_srv(const struct cluster *c, struct fqdn_plan *p)
{
	const struct k8s_service *s = NULL;
	size_t cap = 0;
	int err = 0;

	for (size_t i = 0; i < c->n[K8S_SERVICE]; i++) {
		const struct k8s_object *o = c->objs[K8S_SERVICE][i];

		if (!strcmp(o->meta.ns, FQDN_DNS_NS) && !strcmp(o->meta.name, FQDN_DNS_SVC))
			s = &o->svc;
	}
	if (!s)
		return 0;
	for (size_t j = 0; !err && j < s->nports; j++) {
		const struct k8s_svc_port *sp = &s->ports[j];

		if (sp->proto != IPPROTO_UDP)
			continue;
		if (!s->headless && s->cluster_ip)
			err = add_srv(p, &cap, 0, &s->cluster_ip, sp->port);
		if (!err && !s->headless && s->has_ip6)
			err = add_srv(p, &cap, 1, s->cluster_ip6, sp->port);
		for (size_t i = 0; !err && s->has_selector && s->selector.n && i < c->n[K8S_POD];
		     i++) {
			const struct k8s_pod *pod = &c->objs[K8S_POD][i]->pod;

			if (strcmp(pod->meta.ns, FQDN_DNS_NS) || !pod_live(pod) ||
			    !selector_picks(s, pod))
				continue;
			if (pod->ip)
				err = add_srv(p, &cap, 0, &pod->ip, target_of(sp, pod));
			if (!err && pod->has_ip6)
				err = add_srv(p, &cap, 1, pod->ip6, target_of(sp, pod));
		}
	}
	return err;
}

int fqdn_plan_build(const struct cluster *c, const struct pol_result *pr, const char *node_name,
		    fqdn_ep_of ep_of, void *arg, struct fqdn_plan *out)
{
	size_t rcap = 0, pcap = 0, n = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	/* Only the Admin tier: the API has domainNames in Admin policies alone. */
	for (size_t i = 0; i < c->n[K8S_CLUSTERNETPOL]; i++) {
		const struct k8s_cnp *p = &c->objs[K8S_CLUSTERNETPOL][i]->cnp;

		for (size_t r = 0; p->tier == K8S_CNP_ADMIN && r < p->negress; r++) {
			if (!pol_cnp_names_domain(&p->egress[r]))
				continue;
			if (XCNI_GROW(out->rules, out->nrules, rcap)) {
				err = -ENOMEM;
				goto fail;
			}
			out->rules[out->nrules++] = (struct fqdn_rule){ p, r };
		}
	}
	if (!out->nrules)
		return 0;
	if (out->nrules > UINT16_MAX) {
		err = -E2BIG;
		goto fail;
	}
	qsort(out->rules, out->nrules, sizeof(*out->rules), cmp_rule);
	for (size_t i = 0; i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *pod = &c->objs[K8S_POD][i]->pod;
		const struct k8s_labels *nsl;
		uint32_t ep_id = 0;
		bool got = false;
		size_t j = 0;

		if (!pod->node_name || !node_name || strcmp(pod->node_name, node_name) ||
		    !pod_live(pod))
			continue;
		nsl = pol_ns_labels(c, pod->meta.ns);
		for (size_t r = 0; r < out->nrules; r++) {
			const struct k8s_cnp *p = out->rules[r].cnp;
			const struct k8s_cnp_rule *rule = &p->egress[out->rules[r].rule];

			if (!pol_cnp_selects(p, pod, nsl))
				continue;
			/* as policy_cnp.c's dir_fqdn: past these, a rule is not compiled */
			if (j >= XCNI_FQDN_RULES_MAX)
				break;
			if (!got) {
				err = ep_of(arg, pod, &ep_id);
				if (err == -ENOENT)
					break; /* not attached yet: the next plan has it */
				if (err)
					goto fail;
				got = true;
			}
			for (size_t a = 0; a < rule->npeers; a++)
				for (size_t k = 0; k < rule->peers[a].ndomains; k++)
					if ((err = add_pat(out, &pcap, ep_id, pod->meta.ns,
							   rule->peers[a].domains[k], r, j,
							   cnp_id(pr, p))))
						goto fail;
			j++;
		}
		err = 0;
	}
	/* One pattern named by several rules for a pod: the first rule's. */
	qsort(out->pat, out->npat, sizeof(*out->pat), cmp_pat);
	for (size_t i = 0; i < out->npat; i++)
		if (!n || memcmp(&out->pat[n - 1].k, &out->pat[i].k, sizeof(out->pat[i].k)))
			out->pat[n++] = out->pat[i];
	out->npat = n;
	if ((err = plan_srv(c, out)))
		goto fail;
	qsort(out->srv, out->nsrv, sizeof(*out->srv), cmp_srv);
	n = 0;
	for (size_t i = 0; i < out->nsrv; i++)
		if (!n || cmp_srv(&out->srv[n - 1], &out->srv[i]))
			out->srv[n++] = out->srv[i];
	out->nsrv = n;
	if ((out->kept = calloc(out->npat + 1, sizeof(*out->kept))))
		return 0;
	err = -ENOMEM;
fail:
	fqdn_plan_free(out);
	return err;
}

void fqdn_plan_free(struct fqdn_plan *p)
{
	free(p->pat);
	free(p->srv);
	free(p->rules);
	free(p->kept);
	memset(p, 0, sizeof(*p));
}

struct srv_rec {
	struct xcni_dns_srv_key k;
	__u32 v;
};

static const char *pat_ns(const void *rec)
{
	return ((const struct fqdn_pat_entry *)rec)->ns;
}

static const char *srv_owner(const void *rec)
{
	(void)rec;
	return FQDN_DNS_NS "/" FQDN_DNS_SVC;
}

/* Both maps through the room writer (lib/system/mapw.h): deletes first, what fits written. */
int fqdn_sync(int fd_pat, size_t max_pat, int fd_srv, size_t max_srv, struct fqdn_plan *p,
	      struct fqdn_sync_stats *st, char *msg, size_t msglen)
{
	struct srv_rec *sr = calloc(p->nsrv + 1, sizeof(*sr));
	struct mapw_room pat = { .fd = fd_pat, .ksz = sizeof(struct xcni_fqdn_pat_key),
				 .vsz = sizeof(struct xcni_fqdn_pat), .max = max_pat,
				 .step = "fqdn-pat", .owner_of = pat_ns, .kept = p->kept };
	/* one owner, its first max servers (sorted) read: what fits */
	struct mapw_room srv = { .fd = fd_srv, .ksz = sizeof(struct xcni_dns_srv_key),
				 .vsz = sizeof(__u32), .max = max_srv, .step = "fqdn-srv",
				 .owner_of = srv_owner, .share = true };
	int err;

	memset(st, 0, sizeof(*st));
	if (!sr)
		return -ENOMEM;
	for (size_t i = 0; i < p->nsrv; i++)
		sr[i] = (struct srv_rec){ p->srv[i], 1 };
	err = mapw_room_sync(&srv, sr, p->nsrv, sizeof(*sr), offsetof(struct srv_rec, v)) ?:
	      mapw_room_sync(&pat, p->pat, p->npat, sizeof(*p->pat),
			     offsetof(struct fqdn_pat_entry, v));
	if (err)
		snprintf(msg, msglen, "writing xcni_fqdn_pat, xcni_dns_srv: %s", strerror(-err));
	st->written = pat.written + srv.written;
	st->deleted = pat.deleted + srv.deleted;
	st->pat_closed = pat.dropped;
	st->srv_closed = srv.dropped;
	free(sr);
	return err;
}

int fqdn_learned(int fd, int pat_fd, uint32_t ep_id, uint8_t family, const void *addr,
		 struct fqdn_why *w)
{
	struct xcni_fqdn_key k = { .ep_id = ep_id, .family = family };
	struct xcni_fqdn_pat_key pk = { .ep_id = ep_id };
	struct xcni_fqdn_val v;
	struct xcni_fqdn_pat p;

	memset(w, 0, sizeof(*w));
	memcpy(k.addr, addr, family == XCNI_AF_INET6 ? 16 : 4);
	if (fd < 0 || pat_fd < 0 || bpf_map_lookup_elem(fd, &k, &v) || !v.rule_ref)
		return -ENOENT;
	w->left = ((int64_t)v.expires_ns - (int64_t)xcni_mono_ns()) / 1000000000 + XCNI_FQDN_GRACE_S;
	pk.kind = v.pat_kind;
	pk.hash = v.pat_hash;
	if (w->left <= 0 || bpf_map_lookup_elem(pat_fd, &pk, &p))
		return -ENOENT;
	fqdn_unflat(p.name, p.len, pk.kind == XCNI_FQDN_WILD, w->name, sizeof(w->name));
	w->rule_ref = v.rule_ref;
	w->policy_id = p.policy_id;
	w->rule = p.rule;
	return w->rule_ref;
}

int fqdn_decided(int fd, int pat_fd, uint32_t ep_id, uint8_t family, const void *addr,
		 uint32_t policy_id, uint16_t rule, struct fqdn_why *w)
{
	int ref = fqdn_learned(fd, pat_fd, ep_id, family, addr, w);

	if (ref < 0)
		return ref;
	return policy_id && w->policy_id == policy_id && w->rule == rule;
}
