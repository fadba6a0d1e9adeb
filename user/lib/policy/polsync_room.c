// SPDX-License-Identifier: Apache-2.0
/*
 * What fits (polsync_int.h): which pods' policy goes into the maps and which
 * are closed (each namespace's share, then the room left), and which
 * namespaces are closed when xcni_ipcache or xcni_ipcache6 cannot hold every
 * pod's address. Failures are per pod and per namespace, never per node.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/polsync_int.h"
#include "lib/system/mapw.h"

void polsync_ns_closure_clear(struct ns_closure *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->ns[i]);
	free(c->ns);
	*c = (struct ns_closure){ 0 };
}

bool polsync_ns_closure_has(const struct ns_closure *c, const char *ns)
{
	return c->n && ns && bsearch(&ns, c->ns, c->n, sizeof(char *), pol_cmp_strp);
}

/* The room writer's records (mapw_room_fit): a pod's index, its namespace, what it adds. */
static const struct pol_result *room_r;
static const struct ep_memo *room_m;

static const char *room_ns(const void *rec)
{
	return pol_ep_ns(&room_r->eps[*(const size_t *)rec]);
}

static bool room_adds; /* judging what adds beside what the maps hold */

static void room_need(const void *rec, size_t *need)
{
	const struct ep_memo *e = &room_m[*(const size_t *)rec];

	/* closed, or (room_adds) in the maps already and unchanged: nothing */
	for (int k = 0; k < POLSYNC_NR_MAPS && !e->over && !(room_adds && e->same); k++)
		need[k] = e->need[k];
}

/* A running pod whose policy is unchanged: never closed for another's change. */
static bool room_held(const void *rec)
{
	return room_m[*(const size_t *)rec].same;
}

/* Each pod's entries by map, its judgement cleared. */
static void room_needs(const struct pol_result *r, struct ep_memo *m)
{
	for (size_t i = 0; i < r->neps; i++) {
		const struct pol_ep *w = &r->eps[i];

		memset(m[i].need, 0, sizeof(m[i].need));
		for (size_t j = 0; j < w->nentries; j++)
			m[i].need[pol_is_range(&w->entries[j].key) ? POLSYNC_MAP_POLRANGE :
								 POLSYNC_MAP_POLICY]++;
		m[i].need[POLSYNC_MAP_POLCIDR] = w->ncidrs;
		m[i].over = m[i].share = false;
	}
}

/*
 * Which pods' policy goes in, which are closed (fail closed per pod, never
 * per node): the room writer's judgement (mapw_room_fit), pod by pod, a pod
 * whole or closed, never a running pod whose policy is unchanged (held). A
 * namespace's pods, those in the maps first, take its share (--policy-ns-share)
 * of every map; those that would take it past are closed (m->share). Then,
 * twice, the namespace taking most of the maps over gives way from its last
 * new or changed pod: on the content wanted (deletes counted first), then the
 * new versions beside what the maps hold until cleanup: a pod that does not
 * fit yet waits closed for the retry after it (*global).
 */
int polsync_room_judge(struct polsync *ps, const struct pol_result *r, struct ep_memo *m,
			bool *global)
{
	const size_t max[POLSYNC_NR_MAPS] = { ps->max_policy, ps->max_polrange, ps->max_polcidr };
	const size_t used[POLSYNC_NR_MAPS] = { ps->n_policy, ps->n_polrange, ps->n_polcidr };
	struct mapw_room j = { .nmaps = POLSYNC_NR_MAPS, .maxv = max, .owner_of = room_ns,
			       .need_of = room_need, .by_record = true, .held = room_held };
	size_t *ix = NULL, k = 0;
	bool *keep = NULL;
	int err = -ENOMEM;

	*global = false;
	memset(ps->more, 0, sizeof(ps->more));
	room_needs(r, m);
	if (!r->neps)
		return 0;
	ix = malloc(r->neps * sizeof(*ix));
	keep = malloc(r->neps * sizeof(*keep));
	j.capped = malloc(r->neps * sizeof(*j.capped));
	if (!ix || !keep || !j.capped)
		goto out;
	/* A namespace's pods in the maps now first: closed from its last, a pod
	 * never loses its place to one that comes after it. */
	for (int held = 1; held >= 0; held--)
		for (size_t i = 0; i < r->neps; i++)
			if ((m[i].cur && !m[i].cur->over) == held)
				ix[k++] = i;
	room_r = r;
	room_m = m;
	for (room_adds = false;; room_adds = true) {
		j.used = room_adds ? used : NULL;
		j.cap = room_adds ? 0 : ps->share; /* the share: on the content wanted */
		/* -ENOSPC: what is held alone is over; what adds is closed */
		if ((err = mapw_room_fit(&j, ix, r->neps, sizeof(*ix), keep)) == -ENOMEM)
			goto out;
		for (size_t i = 0; i < r->neps; i++) {
			m[ix[i]].over = m[ix[i]].over || !keep[i];
			m[ix[i]].share = m[ix[i]].share || j.capped[i];
			*global = *global || (!keep[i] && room_adds);
		}
		if (room_adds)
			break;
	}
	for (size_t i = 0; i < r->neps; i++) {
		m[i].same = m[i].same && !m[i].over;
		for (int k = 0; k < POLSYNC_NR_MAPS && !m[i].share; k++)
			ps->more[k] += m[i].need[k];
	}
	for (int k = 0; k < POLSYNC_NR_MAPS; k++)
		ps->more[k] = ps->more[k] > max[k] ? ps->more[k] - max[k] : 0;
	err = 0;
out:
	free(ix);
	free(keep);
	free(j.capped);
	return err;
}

/* closure_choose's records: a pod address's entry (its index) and its namespace. */
struct ipc_ns {
	const char *ns;
	size_t i;
};

static int cmp_ipc_ns(const void *a, const void *b)
{
	const struct ipc_ns *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static const char *ipc_ns_of(const void *rec)
{
	return ((const struct ipc_ns *)rec)->ns;
}

/*
 * Which namespaces to close so that the nv pod entries v (namespace, index)
 * of map's n fit its max: the room writer's judgement (mapw_room_fit,
 * closing: the namespace with the most first). *c: those namespaces
 * (sorted), drop[index] set for their entries. -ENOSPC (msg) when the
 * entries of no pod alone are over.
 */
static int closure_choose(struct ipc_ns *v, size_t nv, size_t n, size_t max, const char *map,
			  struct ns_closure *c, bool *drop, char *msg, size_t msglen)
{
	struct mapw_room m = { .max = max - (n - nv), .owner_of = ipc_ns_of };
	bool *keep = malloc((nv + 1) * sizeof(*keep));
	int err = !keep ? -ENOMEM : n - nv > max ? -ENOSPC : 0;

	if (err == -ENOSPC) /* nodes and the node's own addresses alone: nothing a namespace brings */
		snprintf(msg, msglen, "the maps cannot hold this state: %zu %s entries (max %zu), "
			 "%zu of them no pod's; nothing was applied", n, map, max, n - nv);
	polsync_ns_closure_clear(c);
	qsort(v, nv, sizeof(*v), cmp_ipc_ns); /* a namespace's entries together */
	if (!err && !(err = mapw_room_fit(&m, v, nv, sizeof(*v), keep)) && m.dropped &&
	    !(c->ns = calloc(m.dropped, sizeof(char *))))
		err = -ENOMEM;
	for (size_t j = 0; !err && j < nv; j++) {
		if (keep[j])
			continue;
		drop[v[j].i] = true;
		c->addrs++;
		if ((!c->n || strcmp(c->ns[c->n - 1], v[j].ns)) && !(c->ns[c->n++] = strdup(v[j].ns)))
			err = -ENOMEM;
	}
	if (err)
		polsync_ns_closure_clear(c);
	free(keep);
	return err;
}

static int cmp_podname_ip(const void *key, const void *rec)
{
	return memcmp(key, &((const struct pol_podname *)rec)->ip, sizeof(uint32_t));
}

/*
 * xcni_ipcache holds every pod's address in the cluster. When it cannot
 * hold them all (more than its --map-max), the namespaces with the most pod
 * addresses are closed, biggest first, until the rest fits: no number of one
 * namespace's pods stops the others' policy. A closed namespace's
 * addresses get no ipcache entry, so another node refuses their packets
 * (drop-inner-spoof) and has no tunnel to them, and this node's pods of it
 * are closed (XCNI_POLEP_OVERFLOW, apply). Only a whole result can say which
 * namespace brings the most: a delta over the map asks for one (-EAGAIN),
 * and every apply is whole while a namespace is closed. *fit: r, or r with
 * the closed namespaces' addresses left out (*own: that array, to free).
 */
int polsync_ipc_fit(struct polsync *ps, const struct pol_result *r, bool delta,
		    struct pol_result *fit, struct pol_ipcache **own, char *msg, size_t msglen)
{
	struct ipc_ns *v = NULL;
	bool *drop = NULL;
	size_t nv = 0, k = 0;
	int err = -ENOMEM;

	*fit = *r;
	*own = NULL;
	polsync_ns_closure_clear(&ps->c4);
	if (r->nipcache <= ps->max_ipcache)
		return 0;
	if (delta || !r->ipcache) {
		snprintf(msg, msglen, "%zu ipcache entries, xcni_ipcache holds %zu: compiling the "
			 "whole state to choose the namespaces to close", r->nipcache,
			 ps->max_ipcache);
		return -EAGAIN;
	}
	v = malloc(r->nipcache * sizeof(*v));
	drop = calloc(r->nipcache, sizeof(*drop));
	if (!v || !drop)
		goto out;
	for (size_t i = 0; i < r->nipcache; i++) {
		const struct pol_podname *pn;

		if (!(r->ipcache[i].val.flags & XCNI_IPC_POD) || r->ipcache[i].key.prefixlen != 32)
			continue;
		pn = r->npodnames ? bsearch(&r->ipcache[i].key.addr, r->podnames, r->npodnames,
					    sizeof(*r->podnames), cmp_podname_ip) : NULL;
		if (pn)
			v[nv++] = (struct ipc_ns){ pn->name.ns, i };
	}
	err = closure_choose(v, nv, r->nipcache, ps->max_ipcache, "xcni_ipcache", &ps->c4, drop,
			     msg, msglen);
	if (err)
		goto out;
	err = -ENOMEM;
	if (!(*own = malloc((r->nipcache - ps->c4.addrs) * sizeof(**own))))
		goto out;
	/* The kept records, in the result's (sorted) order. */
	for (size_t i = 0; i < r->nipcache; i++)
		if (!drop[i])
			(*own)[k++] = r->ipcache[i];
	fit->ipcache = *own;
	fit->nipcache = k;
	err = 0;
out:
	if (err) {
		polsync_ns_closure_clear(&ps->c4);
		free(*own);
		*own = NULL;
		*fit = *r;
	}
	free(v);
	free(drop);
	return err;
}

int polsync_plan6(struct polsync *ps, const struct pol_v6 *v, char *msg, size_t msglen)
{
	struct ipc_ns *rec = NULL;
	bool *drop = NULL;
	size_t nv = 0;
	int err = -ENOMEM;

	polsync_ns_closure_clear(&ps->c6);
	if (ps->fd_ipcache6 < 0 || !ps->max_ipcache6 || v->nipc <= ps->max_ipcache6)
		return 0;
	rec = malloc(v->nipc * sizeof(*rec));
	drop = calloc(v->nipc, sizeof(*drop));
	if (!rec || !drop)
		goto out;
	for (size_t i = 0; i < v->nipc; i++)
		if (v->ipc[i].ns && (v->ipc[i].val.flags & XCNI_IPC_POD))
			rec[nv++] = (struct ipc_ns){ v->ipc[i].ns, i };
	err = closure_choose(rec, nv, v->nipc, ps->max_ipcache6, "xcni_ipcache6", &ps->c6, drop,
			     msg, msglen);
out:
	free(rec);
	free(drop);
	return err;
}

const char *const *polsync_ipcache_closed(const struct polsync *ps, int family, size_t *n,
					  size_t *addrs)
{
	const struct ns_closure *c = family == 6 ? &ps->c6 : &ps->c4;

	*n = c->n;
	if (addrs)
		*addrs = c->addrs;
	return (const char *const *)c->ns;
}
