// SPDX-License-Identifier: Apache-2.0
/*
 * The replay of policy suggest (suggest.h): the cluster state with the
 * namespace's NetworkPolicies replaced by the suggestion, compiled by
 * pol_compile with every pod local (both ends of a flow judged), and each
 * flow looked up in the output as bpf/lib/policy.h looks a new flow up: the
 * peer's identity (ipcache, longest prefix), then the pod's policy entries
 * (longest prefix over the key: exact port, any port, any protocol) for that
 * identity, its ipBlock group (polcidr), then any peer; an entry found
 * allows unless it denies (an audited denial passes); a pod not isolated in
 * that direction allows; the pod's own node is let in.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/policy.h"
#include "lib/observe/suggest.h"

/* One side's verdict: the pod self's in direction dir on a flow with peer. */
static bool side(const struct pol_result *r, uint32_t self, int dir, uint32_t peer, uint8_t proto,
		 uint16_t port)
{
	const struct pol_ep *ep = pol_ep_find(r, self);
	uint32_t peers[3];

	if (!ep || !(ep->state.isolated & XCNI_ISOLATED(dir)))
		return true;
	peers[0] = pol_ipcache_identity(r, peer);
	/* Its own node: judged only where the tiers compiled its egress there. */
	if (peers[0] == XCNI_ID_HOST &&
	    !(dir == XCNI_DIR_FROM_POD &&
	      (ep->state.isolated & (XCNI_POLEP_HOST_EGRESS | XCNI_POLEP_OVERFLOW)) ==
		      XCNI_POLEP_HOST_EGRESS))
		return true;
	peers[1] = pol_cidr_group(ep, dir, peer);
	peers[2] = XCNI_ID_ANY;
	for (int i = 0; i < 3; i++) {
		const struct pol_entry *e;

		if (i == 1 && !peers[1])
			continue;
		e = pol_entry_lookup(ep, dir, peers[i], proto, port);
		if (e)
			return !(e->val.flags & XCNI_POLV_DENY) || (e->val.flags & XCNI_POLV_AUDIT);
	}
	return false;
}

static int cmp_obj(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int d = strcmp(x->meta.ns ? x->meta.ns : "", y->meta.ns ? y->meta.ns : "");

	return d ? d : strcmp(x->meta.name, y->meta.name);
}

/* c with ns's NetworkPolicies replaced by the parsed pols (npols): nps is the new list's room. */
static void view_with(const struct cluster *c, const char *ns, struct k8s_object **pols,
		      size_t npols, const struct k8s_object **nps, struct cluster *out)
{
	size_t n = 0;

	*out = *c;
	for (size_t i = 0; i < c->n[K8S_NETWORKPOLICY]; i++)
		if (strcmp(c->objs[K8S_NETWORKPOLICY][i]->meta.ns, ns))
			nps[n++] = c->objs[K8S_NETWORKPOLICY][i];
	for (size_t i = 0; i < npols; i++)
		nps[n++] = pols[i];
	qsort(nps, n, sizeof(*nps), cmp_obj);
	out->n[K8S_NETWORKPOLICY] = n;
	out->objs[K8S_NETWORKPOLICY] = nps;
}

static bool in_ns(const struct sug_end *e, const char *ns)
{
	return e->ns && !strcmp(e->ns, ns);
}

static void judge(const struct pol_result *r, const char *ns, const struct sug_flows *fl,
		  enum sug_fate *fates)
{
	for (size_t i = 0; i < fl->n; i++) {
		const struct sug_flow *f = &fl->v[i];
		uint32_t s, d;

		if (f->family != 4 || (!in_ns(&f->src, ns) && !in_ns(&f->dst, ns))) {
			fates[i] = SUG_FATE_SKIPPED;
			continue;
		}
		memcpy(&s, f->src.addr, 4);
		memcpy(&d, f->dst.addr, 4);
		fates[i] = side(r, s, XCNI_DIR_FROM_POD, d, f->proto, f->port) &&
					   side(r, d, XCNI_DIR_TO_POD, s, f->proto, f->port) ?
				   SUG_FATE_ALLOWED :
				   SUG_FATE_DENIED;
	}
}

int suggest_replay(const struct cluster *c, const char *ns, const json_t *policies,
		   const struct sug_flows *fl, enum sug_fate *fates, char *err, size_t errlen)
{
	size_t npols = json_array_size(policies), n = 0, i;
	struct k8s_object **pols = calloc(npols + 1, sizeof(*pols));
	const struct k8s_object **nps = calloc(c->n[K8S_NETWORKPOLICY] + npols + 1, sizeof(*nps));
	struct pol_opts o = {}; /* no node: every pod local, both sides judged */
	struct pol_result r = {};
	struct k8s_error kerr = {};
	struct cluster view;
	json_t *doc;
	int rc = -ENOMEM;

	if (!pols || !nps)
		goto out;
	json_array_foreach(policies, i, doc) {
		rc = k8s_parse((json_t *)doc, &pols[n], &kerr);
		if (rc) {
			snprintf(err, errlen, "%s", kerr.msg);
			goto out;
		}
		n++;
	}
	view_with(c, ns, pols, n, nps, &view);
	rc = pol_compile(&view, &o, &r, &kerr);
	if (rc) {
		snprintf(err, errlen, "%s", kerr.msg[0] ? kerr.msg : strerror(-rc));
		goto out;
	}
	judge(&r, ns, fl, fates);
	pol_result_free(&r);
out:
	for (i = 0; i < n; i++)
		k8s_free(pols[i]);
	free(pols);
	free(nps);
	return rc;
}
