// SPDX-License-Identifier: Apache-2.0
/*
 * The map writer's per-pod part (polsync_int.h): a pod's entries written under
 * the version it does not use and its polep flipped to it, changed in place
 * where no packet can tell, or closed; the old version kept for cleanup.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/system/log.h"
#include "lib/system/killpoint.h"
#include "lib/policy/polsync.h"
#include "lib/policy/polsync_int.h"
#include "lib/system/mapw.h"

struct xcni_polhash_key polsync_hash_key(const struct xcni_policy_key *k)
{
	struct xcni_polhash_key h = { .ep = k->ep, .peer = k->peer, .version = k->version,
				      .dir = k->dir };

	if (k->prefixlen >= XCNI_POLICY_PREFIX_ANY_PORT)
		h.proto = k->proto;
	if (k->prefixlen >= XCNI_POLICY_PREFIX_FULL)
		h.port = k->port;
	return h;
}

/* The kinds of entries a pod has per direction, for the data plane's shortcuts. */
static void ep_has(const struct pol_ep *w, struct xcni_polep *pe)
{
	memset(pe->has, 0, sizeof(pe->has));
	for (size_t i = 0; i < w->ncidrs; i++)
		if (w->cidrs[i].key.dir >= XCNI_POLCIDR_DIR_FQDN) /* a learned address's groups */
			pe->has[XCNI_DIR_FROM_POD] |= XCNI_HAS_FQDN;
		else
			pe->has[w->cidrs[i].key.dir & 1] |= XCNI_HAS_CIDR;
	for (size_t i = 0; i < w->nentries; i++) {
		const struct xcni_policy_key *k = &w->entries[i].key;

		pe->has[k->dir & 1] |= k->prefixlen <= XCNI_POLICY_PREFIX_ANY_PROTO ? XCNI_HAS_ANY_PROTO :
				       k->prefixlen == XCNI_POLICY_PREFIX_ANY_PORT ? XCNI_HAS_ANY_PORT :
				       pol_is_range(k)				    ? XCNI_HAS_RANGE :
										      0;
	}
}

void polsync_ep_clear(struct ep_state *e)
{
	free(e->e);
	free(e->c);
	e->e = NULL;
	e->c = NULL;
	e->n = e->nc = 0;
	e->over = false;
}

bool polsync_ep_equal(const struct ep_state *cur, const struct pol_ep *want)
{
	return cur->known && cur->n == want->nentries && cur->nc == want->ncidrs &&
	       (!cur->n || !memcmp(cur->e, want->entries, cur->n * sizeof(*cur->e))) &&
	       (!cur->nc || !memcmp(cur->c, want->cidrs, cur->nc * sizeof(*cur->c)));
}

/* Queues a pod's entries (as the maps hold them) for deletion by cleanup. */
static int defer_delete(struct polsync *ps, const struct ep_state *e)
{
	if (!e->known) {
		ps->scan = true;
		return 0;
	}
	if (e->n) {
		struct pol_entry *d = realloc(ps->del, (ps->ndel + e->n) * sizeof(*d));

		if (!d)
			return -ENOMEM;
		ps->del = d;
		for (size_t i = 0; i < e->n; i++) {
			d[ps->ndel + i] = e->e[i];
			d[ps->ndel + i].key.version = e->st.version;
		}
		ps->ndel += e->n;
	}
	if (e->nc) {
		struct pol_cidr *d = realloc(ps->delc, (ps->ndelc + e->nc) * sizeof(*d));

		if (!d)
			return -ENOMEM;
		ps->delc = d;
		for (size_t i = 0; i < e->nc; i++) {
			d[ps->ndelc + i] = e->c[i];
			d[ps->ndelc + i].key.version = e->st.version;
		}
		ps->ndelc += e->nc;
	}
	return 0;
}

static int write_entry(struct polsync *ps, const struct pol_entry *e, __u8 ver)
{
	struct xcni_policy_key k = e->key;
	struct xcni_polhash_key h;

	int err;

	k.version = ver;
	if (pol_is_range(&k)) {
		if ((err = mapw_put(ps->fd_polrange, &k, &e->val, "apply-entry")))
			return err;
		ps->n_polrange++;
	} else {
		h = polsync_hash_key(&k);
		if ((err = mapw_put(ps->fd_policy, &h, &e->val, "apply-entry")))
			return err;
		ps->n_policy++;
	}
	return 0;
}

/* Writes one pod's entries under version ver. */
static int write_ep(struct polsync *ps, const struct pol_ep *w, __u8 ver, size_t *written)
{
	for (size_t i = 0; i < w->ncidrs; i++) {
		struct xcni_polcidr_key k = w->cidrs[i].key;
		int err;

		k.version = ver;
		if ((err = mapw_put(ps->fd_polcidr, &k, &w->cidrs[i].group,
		                              "apply-entry")))
			return err;
		ps->n_polcidr++;
		(*written)++;
	}
	for (size_t i = 0; i < w->nentries; i++) {
		int err = write_entry(ps, &w->entries[i], ver);

		if (err)
			return err;
		(*written)++;
	}
	return 0;
}

bool polsync_id_in(uint32_t id, const struct pol_idput *put, size_t nput, const uint32_t *del,
		   size_t ndel)
{
	for (size_t i = 0; put && i < nput; i++)
		if (put[i].id == id)
			return true;
	for (size_t i = 0; del && i < ndel; i++)
		if (del[i] == id)
			return true;
	return false;
}

/*
 * Can the pod go from cur to w in place, under the version it uses? Only if
 * every difference is an entry for a peer identity born in this generation
 * (no ipcache entry carries it yet: added before the ipcache is written) or
 * gone in it (none carries it any more: deleted after). No packet can then
 * tell the steps apart, so the pod's policy is still switched as one; and a
 * new label set in the cluster costs the entries it adds, not a copy of every
 * pod's policy that names it.
 */
bool polsync_ep_in_place(const struct ep_state *cur, const struct pol_ep *w,
			 const struct pol_delta *d)
{
	size_t i = 0, j = 0;

	if (!d || d->full || !cur || !cur->known || cur->nc != w->ncidrs ||
	    (cur->nc && memcmp(cur->c, w->cidrs, cur->nc * sizeof(*cur->c))))
		return false;
	while (i < cur->n || j < w->nentries) {
		const struct pol_entry *a = i < cur->n ? &cur->e[i] : NULL;
		const struct pol_entry *b = j < w->nentries ? &w->entries[j] : NULL;
		int c = !a ? 1 : !b ? -1 : memcmp(&a->key, &b->key, sizeof(a->key));

		if (!c && memcmp(&a->val, &b->val, sizeof(a->val)))
			return false;
		if (c < 0 && !polsync_id_in(a->key.peer, NULL, 0, d->id_del, d->nid_del))
			return false;
		if (c > 0 && !polsync_id_in(b->key.peer, d->id_put, d->nid_put, NULL, 0))
			return false;
		i += c <= 0;
		j += c >= 0;
	}
	return true;
}

/*
 * The in-place additions (see ep_in_place), before the ipcache names the new
 * identities; the pod's "has" bits widened to cover old and new entries.
 */
int polsync_ep_add_in_place(struct polsync *ps, struct ep_state *cur, const struct pol_ep *w,
			    size_t *written)
{
	struct xcni_polep pe = cur->st, nw = w->state;
	size_t i = 0;

	for (size_t j = 0; j < w->nentries; j++) {
		int c = 1, err;

		while (i < cur->n && (c = memcmp(&cur->e[i].key, &w->entries[j].key,
						 sizeof(cur->e[i].key))) < 0)
			i++;
		if (i < cur->n && !c)
			continue;
		if ((err = write_entry(ps, &w->entries[j], cur->st.version)))
			return err;
		(*written)++;
	}
	ep_has(w, &nw);
	for (int dir = 0; dir < XCNI_NR_POLICY_DIRS; dir++)
		pe.has[dir] |= nw.has[dir];
	if (memcmp(&pe, &cur->st, sizeof(pe))) {
		int err = mapw_put(ps->fd_polep, &w->ip, &pe, "apply-flip");

		if (err)
			return err;
		cur->st = pe;
	}
	return 0;
}

/* The in-place removals, for polsync_cleanup (after the ipcache forgot them). */
static int ep_defer_removed(struct polsync *ps, const struct ep_state *cur, const struct pol_ep *w)
{
	size_t j = 0;

	for (size_t i = 0; i < cur->n; i++) {
		struct pol_entry *d;
		int c = -1;

		while (j < w->nentries &&
		       (c = memcmp(&w->entries[j].key, &cur->e[i].key, sizeof(cur->e[i].key))) < 0)
			j++;
		if (j < w->nentries && !c)
			continue;
		d = realloc(ps->del, (ps->ndel + 1) * sizeof(*d));
		if (!d)
			return -ENOMEM;
		ps->del = d;
		d[ps->ndel] = cur->e[i];
		d[ps->ndel++].key.version = cur->st.version;
	}
	return 0;
}

static int ep_state_set(struct ep_state *e, const struct pol_ep *w, __u8 ver)
{
	struct pol_entry *ne = w->nentries ? malloc(w->nentries * sizeof(*ne)) : NULL;
	struct pol_cidr *nc = w->ncidrs ? malloc(w->ncidrs * sizeof(*nc)) : NULL;

	if ((w->nentries && !ne) || (w->ncidrs && !nc)) {
		free(ne);
		free(nc);
		return -ENOMEM;
	}
	if (ne)
		memcpy(ne, w->entries, w->nentries * sizeof(*ne));
	if (nc)
		memcpy(nc, w->cidrs, w->ncidrs * sizeof(*nc));
	polsync_ep_clear(e);
	e->ip = w->ip;
	e->e = ne;
	e->n = w->nentries;
	e->c = nc;
	e->nc = w->ncidrs;
	e->st = w->state;
	ep_has(w, &e->st);
	e->st.version = ver;
	e->known = true;
	return 0;
}

/*
 * Each wanted pod: its entries unchanged (identity or isolation only), closed,
 * changed in place (delta), or written under its other version and flipped
 * to; then the pods gone from this node. b->neps: the pods' new state.
 */
/*
 * A pod whose entries are the same: only identity or isolation may differ
 * (and the kinds of entries are those the maps hold: walking every pod's
 * entries again for them was ~6% of the agent's CPU per event under churn
 * at 100k pods).
 */
static int write_pod_same(struct polsync *ps, const struct pol_ep *w, struct ep_state *cur,
			  struct apply_bufs *b)
{
	struct xcni_polep pe = w->state;
	int err;

	memcpy(pe.has, cur->st.has, sizeof(pe.has));
	pe.version = cur->st.version;
	if (memcmp(&pe, &cur->st, sizeof(pe)) &&
	    (err = mapw_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
		return err;
	b->neps[b->nneps++] = *cur;
	cur->e = NULL;
	cur->c = NULL;
	b->neps[b->nneps - 1].st = pe;
	cur->done = true;
	return 0;
}

/*
 * A pod closed (over its namespace's share, or the maps full): no entries;
 * the old ones go at cleanup, under a version the pod no longer uses (a sweep
 * would keep them under its own). The direction bits stay, for people.
 */
static int write_pod_closed(struct polsync *ps, const struct pol_ep *w, struct ep_state *cur,
			    struct polsync_stats *st, struct apply_bufs *b)
{
	struct xcni_polep pe = w->state;
	__u8 ver = cur ? cur->st.version : 0;
	int err;

	ep_has(w, &pe);
	pe.isolated |= XCNI_POLEP_OVERFLOW;
	memset(pe.has, 0, sizeof(pe.has));
	pe.version = cur && !cur->over ? ver ^ 1 : ver;
	if (!cur || memcmp(&pe, &cur->st, sizeof(pe))) {
		if ((err = mapw_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
			return err;
		st->eps_changed++;
	}
	if (cur) {
		if ((err = defer_delete(ps, cur)))
			return err;
		polsync_ep_clear(cur);
		cur->done = true;
	}
	b->neps[b->nneps++] = (struct ep_state){ .ip = w->ip, .st = pe, .known = true,
						 .over = true };
	return 0;
}

/*
 * A pod changed in place (a delta that only adds and removes entries): added
 * before the ipcache; the rest of the state now; the removed entries once the
 * ipcache has forgotten their peers.
 */
static int write_pod_in_place(struct polsync *ps, const struct pol_ep *w, struct ep_state *cur,
			      struct polsync_stats *st, struct apply_bufs *b)
{
	struct xcni_polep pe = w->state;
	__u8 ver = cur->st.version;
	int err;

	ep_has(w, &pe);
	pe.version = ver;
	if (memcmp(&pe, &cur->st, sizeof(pe)) &&
	    (err = mapw_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
		return err;
	if ((err = ep_defer_removed(ps, cur, w)))
		return err;
	st->eps_changed++;
	st->eps_in_place++;
	polsync_ep_clear(cur);
	cur->done = true;
	return ep_state_set(&b->neps[b->nneps++], w, ver);
}

/*
 * A pod's entries written whole under its other version, then the flip to it
 * (from here on, packets see the new version); the old version's entries
 * deleted later.
 */
static int write_pod_new(struct polsync *ps, const struct pol_ep *w, struct ep_state *cur,
			 struct polsync_stats *st, struct apply_bufs *b)
{
	struct xcni_polep pe = w->state;
	__u8 ver = cur ? cur->st.version ^ 1 : 0;
	int err;

	ep_has(w, &pe);
	if ((err = write_ep(ps, w, ver, &st->entries_written)))
		return err;
	xcni_killpoint("apply-entries"); /* a version written, not flipped to */
	pe.version = ver;
	if ((err = mapw_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
		return err;
	st->eps_changed++;
	xcni_killpoint("apply-flipped"); /* one pod on its new version */
	if (cur) {
		if ((err = defer_delete(ps, cur)))
			return err;
		polsync_ep_clear(cur);
		cur->done = true;
	}
	return ep_state_set(&b->neps[b->nneps++], w, ver);
}

/* Pods gone from this node: not isolated any more, entries deleted later. */
static int write_pods_gone(struct polsync *ps, struct polsync_stats *st)
{
	int err;

	for (size_t i = 0; i < ps->neps; i++) {
		struct ep_state *cur = &ps->eps[i];

		if (cur->done)
			continue; /* carried over or replaced */
		if ((err = mapw_del(ps->fd_polep, &cur->ip, "apply-polep-del")) &&
		    err != -ENOENT)
			return err;
		st->eps_changed++;
		if ((err = defer_delete(ps, cur)))
			return err;
		polsync_ep_clear(cur);
	}
	return 0;
}

int polsync_write_pods(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
		       const struct ep_memo *m, bool delta, struct polsync_stats *st,
		       struct apply_bufs *b)
{
	int err = 0;

	b->neps = r->neps ? calloc(r->neps, sizeof(*b->neps)) : NULL;
	if (r->neps && !b->neps)
		return -ENOMEM;
	for (size_t i = 0; i < r->neps && !err; i++) {
		const struct pol_ep *w = &r->eps[i];
		struct ep_state *cur = m[i].cur;

		if (m[i].same)
			err = write_pod_same(ps, w, cur, b);
		else if (m[i].over)
			err = write_pod_closed(ps, w, cur, st, b);
		else if (delta && polsync_ep_in_place(cur, w, d))
			err = write_pod_in_place(ps, w, cur, st, b);
		else
			err = write_pod_new(ps, w, cur, st, b);
	}
	return err ?: write_pods_gone(ps, st);
}
