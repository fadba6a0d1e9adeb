// SPDX-License-Identifier: Apache-2.0
/*
 * The map writer. What the maps hold is mirrored in memory, so an update
 * costs syscalls only for what changed. A pod's policy is switched in one
 * step: its new entries go in under the version it does not use, then its
 * polep entry flips to that version, then (polsync_cleanup) the old version
 * goes. A packet therefore meets the old policy or the new one, never a mix.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "../system/bpfpin.h"
#include "../system/log.h"
#include "../system/killpoint.h"
#include "polsync.h"
#include "polsync_int.h"
#include "polsync_kv.h"

static struct xcni_polhash_key hash_key(const struct xcni_policy_key *k)
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
		pe->has[w->cidrs[i].key.dir & 1] |= XCNI_HAS_CIDR;
	for (size_t i = 0; i < w->nentries; i++) {
		const struct xcni_policy_key *k = &w->entries[i].key;

		pe->has[k->dir & 1] |= k->prefixlen <= XCNI_POLICY_PREFIX_ANY_PROTO ? XCNI_HAS_ANY_PROTO :
				       k->prefixlen == XCNI_POLICY_PREFIX_ANY_PORT ? XCNI_HAS_ANY_PORT :
				       pol_is_range(k)				    ? XCNI_HAS_RANGE :
										      0;
	}
}

/*
 * A map of names synced to what fits of want (kvset_names_fit), deletes first. Its
 * failures (a map not preallocated may fail an insert under memory
 * pressure) are counted and the map is read again next time; they never
 * stop the apply. *missing: names not in the map.
 */
static void names_sync(struct polsync *ps, int fd, struct kvset *cur, const void *want, size_t n,
		       size_t stride, size_t voff, const char *(*ns_of)(const void *rec), size_t max,
		       size_t *missing, size_t *changed)
{
	bool *keep = n ? malloc(n * sizeof(*keep)) : NULL;
	unsigned char *fit = NULL;
	size_t nfit = 0, dropped;
	int err;

	if (n && !keep) {
		*missing += n;
		ps->mirror_stale = ps->names_short = true;
		return;
	}
	dropped = kvset_names_fit(want, n, stride, ns_of, max, keep);
	if (dropped && !(fit = malloc((n - dropped) * stride))) {
		free(keep);
		*missing += n;
		ps->mirror_stale = ps->names_short = true;
		return;
	}
	for (size_t i = 0; fit && i < n; i++)
		if (keep[i])
			memcpy(fit + nfit++ * stride, (const char *)want + i * stride, stride);
	err = xcni_inject("names-sync") ?:
	      kvset_sync(fd, cur, fit ? fit : want, fit ? nfit : n, stride, voff,
			 KV_BOTH | KV_DELFIRST, "apply-names", changed);
	if (err) {
		/* Which of them went in is not known: counted as missing, read
		 * again by a whole apply soon (one that does not fail too: the
		 * agent's next would be a delta and leave them so). */
		*missing += n;
		ps->mirror_stale = true;
		ps->names_short = true;
	} else {
		*missing += dropped;
	}
	free(fit);
	free(keep);
}

static struct ep_state *ep_find(struct polsync *ps, uint32_t ip)
{
	size_t lo = 0, hi = ps->neps;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ps->eps[mid].ip == ip)
			return &ps->eps[mid];
		if (ps->eps[mid].ip < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int ep_cmp(const void *a, const void *b)
{
	const struct ep_state *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

/*
 * Deletes policy and polcidr entries that no live version uses: those of
 * pods without polep entry, and those whose version is not the pod's.
 */
static bool live(struct polsync *ps, __u32 ep, __u8 version)
{
	struct xcni_polep pe;

	return bpf_map_lookup_elem(ps->fd_polep, &ep, &pe) == 0 && pe.version == version;
}

/* A delete of the cleanup: 1 deleted, 0 gone already, or -errno (kept for later). */
static int clean_del(int fd, const void *k)
{
	int err = kv_map_del(fd, k, "cleanup-del");

	return !err ? 1 : err == -ENOENT ? 0 : err;
}

/* Every entry of a version no pod uses deleted; -errno if one could not be. */
static int sweep(struct polsync *ps, size_t *deleted)
{
	struct kvset pol = {}, range = {}, cidr = {};
	int err, ret = 0;

	/* Collected first: deleting while walking a trie restarts the walk. */
	if ((err = kvset_load(ps->fd_policy, sizeof(struct xcni_polhash_key),
			      sizeof(struct xcni_policy_val), &pol)) ||
	    (err = kvset_load(ps->fd_polrange, sizeof(struct xcni_policy_key),
			      sizeof(struct xcni_policy_val), &range)) ||
	    (err = kvset_load(ps->fd_polcidr, sizeof(struct xcni_polcidr_key), sizeof(__u32),
			      &cidr)))
		goto out;
	for (size_t i = 0; i < pol.n; i++) {
		const struct xcni_polhash_key *k = (const void *)KV_REC(&pol, i);

		if (live(ps, k->ep, k->version))
			continue;
		if ((err = clean_del(ps->fd_policy, k)) < 0)
			ret = err;
		else if (err) {
			(*deleted)++;
			ps->n_policy--;
		}
	}
	for (size_t i = 0; i < range.n; i++) {
		const struct xcni_policy_key *k = (const void *)KV_REC(&range, i);

		if (live(ps, k->ep, k->version))
			continue;
		if ((err = clean_del(ps->fd_polrange, k)) < 0)
			ret = err;
		else if (err) {
			(*deleted)++;
			ps->n_polrange--;
		}
	}
	for (size_t i = 0; i < cidr.n; i++) {
		const struct xcni_polcidr_key *k = (const void *)KV_REC(&cidr, i);

		if (live(ps, k->ep, k->version))
			continue;
		if ((err = clean_del(ps->fd_polcidr, k)) < 0)
			ret = err;
		else if (err) {
			(*deleted)++;
			ps->n_polcidr--;
		}
	}
	err = ret;
out:
	free(pol.d);
	free(range.d);
	free(cidr.d);
	return err;
}

static void ep_state_clear(struct ep_state *e);

/*
 * What the pods' polep entries say (version, isolation), their entries not
 * known: each pod is rewritten, under its other version, at the next apply.
 */
static int load_eps(struct polsync *ps)
{
	struct kvset polep = {};
	struct ep_state *eps;
	int err;

	err = kvset_load(ps->fd_polep, sizeof(__u32), sizeof(struct xcni_polep), &polep);
	if (err)
		return err;
	eps = polep.n ? calloc(polep.n, sizeof(*eps)) : NULL;
	if (polep.n && !eps) {
		free(polep.d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < polep.n; i++) {
		memcpy(&eps[i].ip, KV_REC(&polep, i), sizeof(__u32));
		memcpy(&eps[i].st, KV_REC(&polep, i) + sizeof(__u32), sizeof(struct xcni_polep));
		eps[i].over = eps[i].st.isolated & XCNI_POLEP_OVERFLOW;
	}
	free(polep.d);
	for (size_t i = 0; i < ps->neps; i++)
		ep_state_clear(&ps->eps[i]);
	free(ps->eps);
	ps->eps = eps;
	ps->neps = polep.n;
	if (ps->neps) /* no pods: eps is NULL, which qsort must not get */
		qsort(ps->eps, ps->neps, sizeof(*ps->eps), ep_cmp);
	return 0;
}

static void mirrors_free(struct polsync *ps)
{
	free(ps->ipcache.d);
	free(ps->identity.d);
	free(ps->polname.d);
	free(ps->podname.d);
	ps->ipcache.d = ps->identity.d = ps->polname.d = ps->podname.d = NULL;
	ps->ipcache.n = ps->identity.n = ps->polname.n = ps->podname.n = 0;
}

/* The cluster-wide maps as they are, for a whole diff. */
static int mirrors_load(struct polsync *ps)
{
	int err;

	mirrors_free(ps);
	if ((err = kvset_load(ps->fd_ipcache, sizeof(struct xcni_ipcache_key),
			      sizeof(struct xcni_ipcache_val), &ps->ipcache)) ||
	    (err = kvset_load(ps->fd_identity, sizeof(__u32), sizeof(struct xcni_idlabels),
			      &ps->identity)) ||
	    (err = kvset_load(ps->fd_polname, sizeof(__u32), sizeof(struct xcni_polname),
			      &ps->polname)) ||
	    (err = kvset_load(ps->fd_podname, sizeof(__u32), sizeof(struct xcni_podname),
			      &ps->podname)))
		return err;
	/* Synced by deltas too, so not freed with the others; a failed write
	 * may have left anything in them. */
	free(ps->polsel.d);
	ps->polsel.d = NULL;
	if ((err = kvset_load(ps->fd_polsel, sizeof(__u32), sizeof(struct xcni_polsel),
			      &ps->polsel)))
		return err;
	if (ps->fd_rulename >= 0) {
		free(ps->rulename.d);
		ps->rulename.d = NULL;
		if ((err = kvset_load(ps->fd_rulename, sizeof(struct xcni_rulename_key),
				      sizeof(struct xcni_rulename), &ps->rulename)))
			return err;
	}
	ps->mirror_stale = false;
	return 0;
}

static int cmp_idprev(const void *a, const void *b)
{
	return strcmp(((const struct pol_idprev *)a)->labels,
		      ((const struct pol_idprev *)b)->labels);
}

int polsync_identities(const struct polsync *ps, struct pol_idprev **out, size_t *n)
{
	const struct kvset *s = &ps->identity;
	struct pol_idprev *v = calloc(s->n + 1, sizeof(*v));
	size_t m = 0;

	*out = NULL;
	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const unsigned char *rec = KV_REC(s, i);
		const char *l = (const char *)rec + s->ksz;
		__u32 id;

		memcpy(&id, rec, sizeof(id));
		if (!l[0] || memchr(l, '\0', s->vsz) == NULL)
			continue; /* not a string: not ours to keep */
		v[m++] = (struct pol_idprev){ l, id };
	}
	if (m)
		qsort(v, m, sizeof(*v), cmp_idprev);
	*out = v;
	*n = m;
	return 0;
}

bool polsync_needs_full(const struct polsync *ps)
{
	return ps->need_full;
}

int polsync_open(const char *pin_dir, struct polsync **out)
{
	struct polsync *ps = calloc(1, sizeof(*ps));
	char path[PATH_MAX];
	size_t swept = 0;
	int err;

	if (!ps)
		return -ENOMEM;
	ps->fd_policy = ps->fd_polrange = ps->fd_polcidr = ps->fd_polep = ps->fd_ipcache = -1;
	ps->fd_identity = ps->fd_polname = ps->fd_podname = ps->fd_polsel = -1;
	ps->fd_ipcache6 = ps->fd_polkey6 = ps->fd_rulename = -1;
	ps->share = 100;
	if ((err = ps->fd_policy = xcni_map_open_pinned(pin_dir, "xcni_policy", &ps->max_policy)) < 0 ||
	    (err = ps->fd_polrange = xcni_map_open_pinned(pin_dir, "xcni_polrange", &ps->max_polrange)) < 0 ||
	    (err = ps->fd_polcidr = xcni_map_open_pinned(pin_dir, "xcni_polcidr", &ps->max_polcidr)) < 0 ||
	    (err = ps->fd_polep = xcni_map_open_pinned(pin_dir, "xcni_polep", NULL)) < 0 ||
	    (err = ps->fd_ipcache = xcni_map_open_pinned(pin_dir, "xcni_ipcache", &ps->max_ipcache)) < 0 ||
	    (err = ps->fd_identity = xcni_map_open_pinned(pin_dir, "xcni_identity", &ps->max_identity)) < 0 ||
	    (err = ps->fd_polname = xcni_map_open_pinned(pin_dir, "xcni_polname", &ps->max_polname)) < 0 ||
	    (err = ps->fd_podname = xcni_map_open_pinned(pin_dir, "xcni_podname", &ps->max_podname)) < 0 ||
	    (err = ps->fd_polsel = xcni_map_open_pinned(pin_dir, "xcni_polsel", NULL)) < 0)
		goto fail;
	/* What an earlier agent left: kept, and replaced by the first apply. */
	ps->need_full = true;
	if ((err = mirrors_load(ps)) || (err = load_eps(ps)))
		goto fail;
	/* IPv6's maps: what an earlier agent left, replaced by the first apply. */
	ps->fd_ipcache6 = xcni_map_open_pinned(pin_dir, "xcni_ipcache6", &ps->max_ipcache6);
	ps->fd_polkey6 = xcni_map_open_pinned(pin_dir, "xcni_polkey6", NULL);
	if (ps->fd_ipcache6 >= 0 &&
	    (err = kvset_load(ps->fd_ipcache6, sizeof(struct xcni_ipcache6_key),
			      sizeof(struct xcni_ipcache_val), &ps->ipcache6)))
		goto fail;
	if (ps->fd_polkey6 >= 0 &&
	    (err = kvset_load(ps->fd_polkey6, sizeof(struct xcni_in6), sizeof(__u32), &ps->polkey6)))
		goto fail;
	/* Quietly absent under programs from before rule names. */
	snprintf(path, sizeof(path), "%s/xcni_rulename", pin_dir);
	if (!access(path, F_OK))
		ps->fd_rulename = xcni_map_open_pinned(pin_dir, "xcni_rulename", NULL);
	if (ps->fd_rulename >= 0 &&
	    (err = kvset_load(ps->fd_rulename, sizeof(struct xcni_rulename_key),
			      sizeof(struct xcni_rulename), &ps->rulename)))
		goto fail;
	kvset_count_keys(ps->fd_policy, sizeof(struct xcni_polhash_key), &ps->n_policy);
	kvset_count_keys(ps->fd_polrange, sizeof(struct xcni_policy_key), &ps->n_polrange);
	kvset_count_keys(ps->fd_polcidr, sizeof(struct xcni_polcidr_key), &ps->n_polcidr);
	/* A crash between writing a version and flipping to it leaves entries no
	 * pod uses; they must go before that version is written again. */
	if (sweep(ps, &swept))
		ps->scan = true; /* done before the first apply writes (clean_versions) */
	if (swept)
		pr_info("dropped %zu policy entries of unfinished updates\n", swept);
	*out = ps;
	return 0;
fail:
	polsync_free(ps);
	return err;
}

static void ep_state_clear(struct ep_state *e)
{
	free(e->e);
	free(e->c);
	e->e = NULL;
	e->c = NULL;
	e->n = e->nc = 0;
	e->over = false;
}

void polsync_free(struct polsync *ps)
{
	if (!ps)
		return;
	ns_closure_clear(&ps->c4);
	ns_closure_clear(&ps->c6);
	for (size_t i = 0; i < ps->neps; i++)
		ep_state_clear(&ps->eps[i]);
	free(ps->eps);
	mirrors_free(ps);
	free(ps->polsel.d);
	free(ps->ipcache6.d);
	free(ps->polkey6.d);
	free(ps->rulename.d);
	if (ps->fd_rulename >= 0)
		close(ps->fd_rulename);
	if (ps->fd_ipcache6 >= 0)
		close(ps->fd_ipcache6);
	if (ps->fd_polkey6 >= 0)
		close(ps->fd_polkey6);
	free(ps->del);
	free(ps->delc);
	free(ps->over);
	int fds[] = { ps->fd_policy, ps->fd_polrange, ps->fd_polcidr, ps->fd_polep, ps->fd_ipcache,
		      ps->fd_identity, ps->fd_polname, ps->fd_podname, ps->fd_polsel };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(ps);
}

static bool ep_entries_equal(const struct ep_state *cur, const struct pol_ep *want)
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
		if ((err = kv_map_put(ps->fd_polrange, &k, &e->val, "apply-entry")))
			return err;
		ps->n_polrange++;
	} else {
		h = hash_key(&k);
		if ((err = kv_map_put(ps->fd_policy, &h, &e->val, "apply-entry")))
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
		if ((err = kv_map_put(ps->fd_polcidr, &k, &w->cidrs[i].group, "apply-entry")))
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

static bool id_in(uint32_t id, const struct pol_idput *put, size_t nput, const uint32_t *del,
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
static bool ep_in_place(const struct ep_state *cur, const struct pol_ep *w,
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
		if (c < 0 && !id_in(a->key.peer, NULL, 0, d->id_del, d->nid_del))
			return false;
		if (c > 0 && !id_in(b->key.peer, d->id_put, d->nid_put, NULL, 0))
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
static int ep_add_in_place(struct polsync *ps, struct ep_state *cur, const struct pol_ep *w,
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
		int err = kv_map_put(ps->fd_polep, &w->ip, &pe, "apply-flip");

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
	ep_state_clear(e);
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
 * A name written as a delta: a map of names that is full (E2BIG) or cannot
 * take one more entry now (ENOMEM: not preallocated) refuses nothing; the
 * name is missing until a whole apply fits what it can (names_sync).
 */
static int name_put(struct polsync *ps, int fd, const void *k, const void *v, size_t *changed,
		    size_t *missing)
{
	int err = xcni_inject("names-delta") ?: kv_map_put(fd, k, v, "apply-names");

	if (!err) {
		(*changed)++;
		return 0;
	}
	if (err != -E2BIG && err != -ENOMEM && err != -ENOSPC && err != -EIO)
		return err;
	(*missing)++;
	ps->names_short = true; /* the next apply diffs whole and shares what fits */
	return 0;
}

/*
 * An address that changes owner (it held a pod identity, it is to hold
 * another) or goes is closed while the policies about its owners change:
 * XCNI_ID_UNMANAGED, which no policy names, before the pods' flips; its new
 * identity, or its delete, after them. Written in one order instead, a
 * failure between leaves it under its new owner and a pod's old policy, or
 * under its old owner and a pod's new one: open to flows neither generation
 * allows (test_failure_relabel_never_opens). The final values, for after.
 */
struct ipc_moves {
	size_t n;
	struct pol_ipcache *v;
};

static bool ipc_pod_id(__u32 id)
{
	return id == XCNI_ID_UNMANAGED || (id >= XCNI_ID_MIN_LABELS && id < XCNI_ID_CIDR_BASE);
}

/* cur (the entry now) closed by a write, unless it is so already. */
static int ipc_close(struct polsync *ps, const struct xcni_ipcache_key *k,
		     const struct xcni_ipcache_val *cur, size_t *changed)
{
	struct xcni_ipcache_val t = *cur;
	int err;

	if (cur->identity == XCNI_ID_UNMANAGED)
		return 0;
	t.identity = XCNI_ID_UNMANAGED;
	if ((err = kv_map_put(ps->fd_ipcache, k, &t, "apply-ipcache-close")))
		return err;
	(*changed)++;
	return 0;
}

static int ipc_move_add(struct ipc_moves *mv, const struct pol_ipcache *fin)
{
	struct pol_ipcache *v = realloc(mv->v, (mv->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	mv->v = v;
	v[mv->n++] = *fin;
	return 0;
}

/* After the flips: the moved addresses get their new identities. */
static int ipc_moves_finish(struct polsync *ps, const struct ipc_moves *mv, size_t *changed)
{
	for (size_t i = 0; i < mv->n; i++) {
		int err = kv_map_put(ps->fd_ipcache, &mv->v[i].key, &mv->v[i].val, "apply-ipcache");

		if (err)
			return err;
		(*changed)++;
	}
	return 0;
}

/*
 * A whole diff's ipcache before the flips: want (n records, those written
 * before the flips) as written now, sorted, with the addresses that change
 * owner closed (their final values in mv); those in neither want nor late
 * (nlate, sorted: written after the flips) as they are, which go, and those
 * in late for another identity, closed by a write here. *out: a copy the
 * caller frees.
 */
static int ipc_whole_close(struct polsync *ps, const struct pol_ipcache *want, size_t n,
			   struct pol_ipcache *late, size_t nlate, struct pol_ipcache **out,
			   struct ipc_moves *mv, size_t *changed)
{
	const struct kvset *cur = &ps->ipcache;
	struct pol_ipcache *w = n ? malloc(n * sizeof(*w)) : NULL;
	size_t ksz = sizeof(struct xcni_ipcache_key), i = 0, j = 0;
	int err = 0;

	*out = w;
	if (n && !w)
		return -ENOMEM;
	if (n)
		memcpy(w, want, n * sizeof(*w));
	kvset_cmp_len = (int)ksz;
	if (nlate > 1)
		qsort(late, nlate, sizeof(*late), kvset_cmp);
	for (size_t x = 1; x < n; x++) {
		if (memcmp(&w[x - 1].key, &w[x].key, ksz) > 0) {
			qsort(w, n, sizeof(*w), kvset_cmp);
			break;
		}
	}
	while (i < n || j < cur->n) {
		const unsigned char *c = j < cur->n ? KV_REC(cur, j) : NULL;
		int cmp = i == n ? 1 : !c ? -1 : memcmp(&w[i].key, c, ksz);
		struct xcni_ipcache_val cv;

		if (c)
			memcpy(&cv, c + ksz, sizeof(cv));
		if (cmp == 0 && ipc_pod_id(cv.identity) && cv.identity != w[i].val.identity) {
			if ((err = ipc_move_add(mv, &w[i])))
				return err;
			w[i].val = cv;
			w[i].val.identity = XCNI_ID_UNMANAGED; /* unchanged if it was */
		}
		if (cmp > 0 && ipc_pod_id(cv.identity)) {
			const struct pol_ipcache *l =
				nlate ? bsearch(c, late, nlate, sizeof(*late), kvset_cmp) : NULL;

			if ((!l || l->val.identity != cv.identity) &&
			    (err = ipc_close(ps, (const void *)c, &cv, changed)))
				return err;
		}
		i += cmp <= 0;
		j += cmp >= 0;
	}
	return 0;
}

/*
 * One delta's writes. KV_UPSERT: puts of every kind, but the ipcache's naming
 * an identity born in this generation; KV_BORN: those, after the flips (a new
 * owner is named only once the policy about it is in place); KV_DELETE: the
 * ipcache's deletes.
 */
static int delta_write(struct polsync *ps, const struct pol_delta *d, int phase, size_t *changed,
		       size_t *missing, struct ipc_moves *mv)
{
	int err;

	if (phase == KV_BORN) {
		for (size_t i = 0; i < d->nipc_put; i++) {
			if (!id_in(d->ipc_put[i].val.identity, d->id_put, d->nid_put, NULL, 0))
				continue;
			if ((err = kv_map_put(ps->fd_ipcache, &d->ipc_put[i].key, &d->ipc_put[i].val,
					      "apply-ipcache")))
				return err;
			(*changed)++;
		}
		return 0;
	}
	if (phase == KV_DELETE) {
		for (size_t i = 0; i < d->nipc_del; i++) {
			if ((err = kv_map_del(ps->fd_ipcache, &d->ipc_del[i], "apply-ipcache-del")) &&
			    err != -ENOENT)
				return err;
			(*changed)++;
		}
		return 0;
	}
	for (size_t i = 0; i < d->nipc_put; i++) {
		struct xcni_ipcache_val cur;
		bool born = id_in(d->ipc_put[i].val.identity, d->id_put, d->nid_put, NULL, 0);
		/* The entry holding the address now (the longest prefix): an owner's? */
		bool moved = !bpf_map_lookup_elem(ps->fd_ipcache, &d->ipc_put[i].key, &cur) &&
			     ipc_pod_id(cur.identity) && cur.identity != d->ipc_put[i].val.identity;

		if (moved && ((!born && (err = ipc_move_add(mv, &d->ipc_put[i]))) ||
			      (err = ipc_close(ps, &d->ipc_put[i].key, &cur, changed))))
			return err;
		if (moved || born)
			continue; /* after the flips: ipc_moves_finish, KV_BORN */
		if ((err = kv_map_put(ps->fd_ipcache, &d->ipc_put[i].key, &d->ipc_put[i].val,
				      "apply-ipcache")))
			return err;
		(*changed)++;
	}
	for (size_t i = 0; i < d->nipc_del; i++) {
		struct xcni_ipcache_val cur;

		if (!bpf_map_lookup_elem(ps->fd_ipcache, &d->ipc_del[i], &cur) &&
		    ipc_pod_id(cur.identity) && (err = ipc_close(ps, &d->ipc_del[i], &cur, changed)))
			return err;
	}
	for (size_t i = 0; i < d->nid_put; i++) {
		struct xcni_idlabels l;

		pol_ident_label(d->id_put[i].canon, l.labels);
		if ((err = name_put(ps, ps->fd_identity, &d->id_put[i].id, &l, changed, missing)))
			return err;
	}
	for (size_t i = 0; i < d->nid_del; i++) {
		if ((err = kv_map_del(ps->fd_identity, &d->id_del[i], "apply-names")) && err != -ENOENT)
			return err;
		(*changed)++;
	}
	for (size_t i = 0; i < d->npol_put; i++) {
		if ((err = name_put(ps, ps->fd_polname, &d->pol_put[i].id, &d->pol_put[i].name,
				    changed, missing)))
			return err;
	}
	for (size_t i = 0; i < d->npol_del; i++) {
		if ((err = kv_map_del(ps->fd_polname, &d->pol_del[i], "apply-names")) && err != -ENOENT)
			return err;
		(*changed)++;
	}
	for (size_t i = 0; i < d->npn_put; i++) {
		if ((err = name_put(ps, ps->fd_podname, &d->pn_put[i].ip, &d->pn_put[i].name,
				    changed, missing)))
			return err;
	}
	for (size_t i = 0; i < d->npn_del; i++) {
		if ((err = kv_map_del(ps->fd_podname, &d->pn_del[i], "apply-names")) && err != -ENOENT)
			return err;
		(*changed)++;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

/*
 * A whole apply's ipcache in the order a number's meaning allows (DESIGN.md:
 * "A number keeps its meaning"). An identity the maps do not hold, or hold
 * for another label set, is born: the entries naming it (*late) go in after
 * the flips, once every pod's policy about it is in place; the rest (*early)
 * before. Where the maps give a number to another label set, the addresses
 * they give it are taken out first (gone-after: the old owner is forgotten
 * before any policy about the number changes). The compiler never renumbers
 * so within a generation (quarantine); this covers what it cannot see: maps
 * left by a failed apply or another agent's allocation.
 */
static int ipc_order(struct polsync *ps, const struct pol_result *r, struct pol_ipcache **early,
		     size_t *nearly, struct pol_ipcache **late, size_t *nlate, size_t *changed)
{
	const size_t rec = ps->identity.ksz + ps->identity.vsz;
	const size_t irec = ps->ipcache.ksz + ps->ipcache.vsz;
	__u32 *born = calloc(r->nidentities + 1, sizeof(*born));
	__u32 *renamed = calloc(r->nidentities + 1, sizeof(*renamed));
	char lab[sizeof(struct xcni_idlabels)];
	size_t nb = 0, nr = 0, w = 0;
	int err = -ENOMEM;

	*early = calloc(r->nipcache + 1, sizeof(**early));
	*late = calloc(r->nipcache + 1, sizeof(**late));
	*nearly = *nlate = 0;
	if (!born || !renamed || !*early || !*late)
		goto out;
	kvset_cmp_len = (int)ps->identity.ksz;
	for (size_t k = 0; k < r->nidentities; k++) {
		__u32 id = r->identities[k].id;
		const unsigned char *m = ps->identity.n ?
			bsearch(&id, ps->identity.d, ps->identity.n, rec, kvset_cmp) : NULL;

		pol_ident_label(r->identities[k].canon, lab);
		if (m && !memcmp(m + ps->identity.ksz, lab, sizeof(lab)))
			continue;
		born[nb++] = id;
		if (m)
			renamed[nr++] = id;
	}
	qsort(born, nb, sizeof(*born), cmp_u32);
	qsort(renamed, nr, sizeof(*renamed), cmp_u32);
	for (size_t j = 0; j < ps->ipcache.n; j++) {
		unsigned char *c = KV_REC(&ps->ipcache, j);
		struct xcni_ipcache_val v;

		memcpy(&v, c + ps->ipcache.ksz, sizeof(v));
		if (nr && bsearch(&v.identity, renamed, nr, sizeof(*renamed), cmp_u32)) {
			if ((err = kv_map_del(ps->fd_ipcache, c, "apply-ipcache-del")) &&
			    err != -ENOENT)
				goto out;
			(*changed)++;
			continue;
		}
		if (w != j)
			memmove(KV_REC(&ps->ipcache, w), c, irec);
		w++;
	}
	ps->ipcache.n = w;
	for (size_t i = 0; i < r->nipcache; i++) {
		bool b = nb && bsearch(&r->ipcache[i].val.identity, born, nb, sizeof(*born), cmp_u32);

		if (b)
			(*late)[(*nlate)++] = r->ipcache[i];
		else
			(*early)[(*nearly)++] = r->ipcache[i];
	}
	err = 0;
out:
	free(born);
	free(renamed);
	return err;
}

/* An identity's labels as xcni_identity holds them, and its namespace. */
struct idl {
	__u32 id;
	struct xcni_idlabels l;
	const char *ns;
};

static const char *idl_ns(const void *rec)
{
	const char *ns = ((const struct idl *)rec)->ns;

	return ns ? ns : "";
}

static const char *polname_ns(const void *rec)
{
	return ((const struct pol_name *)rec)->name.ns;
}

static const char *podname_ns(const void *rec)
{
	return ((const struct pol_podname *)rec)->name.ns;
}

static int clean_versions(struct polsync *ps, bool only_dead, size_t *deleted);

/* What one apply builds and frees: the identities' labels, the ipcache in its
 * write order (ipc_order), the moved addresses, the pods' new state. */
struct apply_bufs {
	struct idl *idl;
	struct pol_ipcache *early, *late, *now;
	size_t nearly, nlate;
	struct ipc_moves mv;
	struct ep_state *neps;
	size_t nneps;
};

/*
 * Room first: a pod's policy that does not fit is not applied in part; the
 * pod is closed instead, and the other pods' policy goes in. m[i]: each pod's
 * state in the maps, whether it is the same, whether it is closed and why;
 * ps->over lists the closed ones.
 */
static int judge_room(struct polsync *ps, const struct pol_result *r, bool delta,
		      struct ep_memo *m, bool *closed_global, struct polsync_stats *st)
{
	int err;

	for (size_t i = 0; i < r->neps; i++) {
		m[i].cur = ep_find(ps, r->eps[i].ip);
		/* A delta follows the last apply, which wrote the compiler's previous
		 * result: a pod it did not change still has those entries. A closed
		 * pod is judged again every time: room may have come free. */
		m[i].same = m[i].cur && !m[i].cur->over &&
			    ((delta && !r->eps[i].changed && m[i].cur->known) ||
			     ep_entries_equal(m[i].cur, &r->eps[i]));
	}
	if ((err = polsync_room_judge(ps, r, m, closed_global)))
		return err;
	/* The pods of a namespace ipc_fit or polsync_plan6 closed: no policy of theirs goes in. */
	for (size_t i = 0; (ps->c4.n || ps->c6.n) && i < r->neps; i++) {
		const char *ns = pol_ep_ns(&r->eps[i]);

		if (!ns_closure_has(&ps->c4, ns) && !ns_closure_has(&ps->c6, ns))
			continue;
		m[i].over = m[i].ipcache = true;
		m[i].share = m[i].same = false;
	}
	ps->nover = 0;
	for (size_t i = 0; i < r->neps; i++) {
		struct polsync_over *o;

		if (!m[i].over)
			continue;
		if (!(o = realloc(ps->over, (ps->nover + 1) * sizeof(*o))))
			return -ENOMEM;
		ps->over = o;
		o[ps->nover++] = (struct polsync_over){ .ip = r->eps[i].ip, .pod = r->eps[i].pod,
							 .share = m[i].share,
							 .ipcache = m[i].ipcache };
		memcpy(o[ps->nover - 1].need, m[i].need, sizeof(m[i].need));
	}
	st->eps_overflow = ps->nover;
	return 0;
}

/* Identities and names, delta: what the compiler says changed; pods changed in place first. */
static int names_delta(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
		       const struct ep_memo *m, struct polsync_stats *st, struct ipc_moves *mv)
{
	int err;

	/* The compiler says what changed: the mirrors no longer follow. */
	ps->mirror_stale = true;
	mirrors_free(ps);
	for (size_t i = 0; i < r->neps; i++) {
		struct ep_state *cur = m[i].cur;

		if (cur && !m[i].same && !m[i].over && ep_in_place(cur, &r->eps[i], d) &&
		    (err = ep_add_in_place(ps, cur, &r->eps[i], &st->entries_written)))
			return err;
	}
	if ((err = delta_write(ps, d, KV_UPSERT, &st->other_changed, &st->names_missing, mv)))
		return err;
	return kvset_sync(ps->fd_polsel, &ps->polsel, r->eps, r->neps, sizeof(*r->eps),
			  offsetof(struct pol_ep, sel), KV_BOTH, "apply-polsel", &st->other_changed);
}

/* The identities' labels as xcni_identity holds them (b->idl, r->nidentities of them). */
static int idl_build(const struct pol_result *r, struct apply_bufs *b)
{
	if (!r->nidentities)
		return 0;
	b->idl = calloc(r->nidentities, sizeof(*b->idl));
	if (!b->idl)
		return -ENOMEM;
	for (size_t i = 0; i < r->nidentities; i++) {
		b->idl[i].id = r->identities[i].id;
		b->idl[i].ns = r->identities[i].ns;
		pol_ident_label(r->identities[i].canon, b->idl[i].l.labels);
	}
	return 0;
}

/* Identities and names, whole: the ipcache's early part, every name map, the selectors. */
static int names_whole(struct polsync *ps, const struct pol_result *r, struct polsync_stats *st,
		       struct apply_bufs *b)
{
	int err;

	/* Before the identities' names: it compares with what the maps call them. */
	if ((err = ipc_order(ps, r, &b->early, &b->nearly, &b->late, &b->nlate,
			     &st->other_changed)) ||
	    (err = ipc_whole_close(ps, b->early, b->nearly, b->late, b->nlate, &b->now,
				   &b->mv, &st->other_changed)) ||
	    (err = kvset_sync(ps->fd_ipcache, &ps->ipcache, b->now, b->nearly,
			      sizeof(*b->now), offsetof(struct pol_ipcache, val), KV_UPSERT,
			      "apply-ipcache", &st->other_changed)))
		return err;
	/* Names for people: what fits, never a refusal (names_sync). */
	names_sync(ps, ps->fd_identity, &ps->identity, b->idl, r->nidentities, sizeof(*b->idl),
		   offsetof(struct idl, l), idl_ns, ps->max_identity, &st->names_missing,
		   &st->other_changed);
	names_sync(ps, ps->fd_polname, &ps->polname, r->policies, r->npolicies,
		   sizeof(*r->policies), offsetof(struct pol_name, name), polname_ns,
		   ps->max_polname, &st->names_missing, &st->other_changed);
	names_sync(ps, ps->fd_podname, &ps->podname, r->podnames, r->npodnames,
		   sizeof(*r->podnames), offsetof(struct pol_podname, name), podname_ns,
		   ps->max_podname, &st->names_missing, &st->other_changed);
	if ((ps->fd_rulename >= 0 &&
	     (err = kvset_sync(ps->fd_rulename, &ps->rulename, r->rulenames,
			       r->nrulenames < XCNI_MAX_RULENAMES ? r->nrulenames : 0,
			       sizeof(*r->rulenames), offsetof(struct pol_rulename, val),
			       KV_BOTH, "apply-rulename", &st->other_changed))) ||
	    /* Names for people: before the flips, so a drop can name its policies. */
	    (err = kvset_sync(ps->fd_polsel, &ps->polsel, r->eps, r->neps, sizeof(*r->eps),
			      offsetof(struct pol_ep, sel), KV_BOTH, "apply-polsel",
			      &st->other_changed)))
		return err;
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
	    (err = kv_map_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
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
		if ((err = kv_map_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
			return err;
		st->eps_changed++;
	}
	if (cur) {
		if ((err = defer_delete(ps, cur)))
			return err;
		ep_state_clear(cur);
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
	    (err = kv_map_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
		return err;
	if ((err = ep_defer_removed(ps, cur, w)))
		return err;
	st->eps_changed++;
	st->eps_in_place++;
	ep_state_clear(cur);
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
	if ((err = kv_map_put(ps->fd_polep, &w->ip, &pe, "apply-flip")))
		return err;
	st->eps_changed++;
	xcni_killpoint("apply-flipped"); /* one pod on its new version */
	if (cur) {
		if ((err = defer_delete(ps, cur)))
			return err;
		ep_state_clear(cur);
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
		if ((err = kv_map_del(ps->fd_polep, &cur->ip, "apply-polep-del")) && err != -ENOENT)
			return err;
		st->eps_changed++;
		if ((err = defer_delete(ps, cur)))
			return err;
		ep_state_clear(cur);
	}
	return 0;
}

static int write_pods(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
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
		else if (delta && ep_in_place(cur, w, d))
			err = write_pod_in_place(ps, w, cur, st, b);
		else
			err = write_pod_new(ps, w, cur, st, b);
	}
	return err ?: write_pods_gone(ps, st);
}

/*
 * The order of the writes: dead versions emptied (clean_versions); in place
 * additions (delta); addresses of renamed numbers removed (ipc_order); new
 * addresses of identities not born, and addresses changing owner or going
 * closed (XCNI_ID_UNMANAGED); names; each pod's other version, then its flip;
 * gone pods' polep; the moved addresses' new identities and the born
 * identities' addresses; the ipcache's deletes; after the caller reported
 * the generation, the old versions (polsync_cleanup). Any write may fail (ENOMEM of a map not preallocated,
 * EPERM, E2BIG: each has an xcni_inject point); the apply stops there and the
 * maps are consistent (docs/architecture.md, "A write that fails half way"):
 *  1. each pod's polep names a version holding its old policy or its new
 *     one, whole (in place: old and new differ only by peers nobody carries);
 *  2. no address is judged by a policy written for another owner of it:
 *     what a failure leaves may be closed until the retry, never open;
 *  3. the next apply, whole (need_full, every pod unknown, mirrors read
 *     again), makes the maps exactly what a clean apply would.
 * test_polinject's test_failure_at_every_write walks every point.
 */
static int apply(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
		 struct ep_memo *m, struct polsync_stats *st, char *msg, size_t msglen)
{
	bool delta = d && !d->full && !ps->need_full, closed_global = false;
	struct apply_bufs b = { 0 };
	int err = 0;

	memset(st, 0, sizeof(*st));
	if (msg && msglen)
		msg[0] = '\0';
	if (!delta && !r->ipcache && r->nipcache)
		return -EINVAL; /* a whole diff needs the whole result */
	if (!delta && ps->mirror_stale && (err = mirrors_load(ps)))
		return err;
	/* A version is written only once it is known empty: what a failed
	 * apply left under versions no pod uses (or a cleanup not run) goes
	 * first. Nothing is written while that fails. */
	if ((ps->ndel || ps->ndelc || ps->scan) &&
	    (err = clean_versions(ps, true, &st->entries_deleted)))
		return err;
	if ((err = judge_room(ps, r, delta, m, &closed_global, st)))
		return err;
	/* Identities and names before the policy that refers to them. The
	 * records of r are taken as (key at 0, value at voff). */
	_Static_assert(offsetof(struct pol_ep, ip) == 0, "pol_ep's key is its first field");
	if (!delta && (err = idl_build(r, &b)))
		return err;
	if ((err = delta ? names_delta(ps, r, d, m, st, &b.mv) : names_whole(ps, r, st, &b)))
		goto out;
	xcni_killpoint("apply-names");
	if ((err = write_pods(ps, r, d, m, delta, st, &b)))
		goto out;
	/* Closed for want of room the replaced versions still take: once cleanup
	 * has run, the next apply may fit them. Only while something is to be
	 * deleted, so it cannot go round for ever. */
	st->retry = closed_global && (ps->ndel || ps->ndelc || ps->scan);
	/* Names that could not be written: a whole apply soon writes what fits. */
	if (ps->names_short)
		st->retry = true;
	free(ps->eps);
	ps->eps = b.neps;
	ps->neps = b.nneps;
	b.neps = NULL;
	if (ps->neps)
		qsort(ps->eps, ps->neps, sizeof(*ps->eps), ep_cmp);
	/* The addresses that changed owner get their new identity, those of
	 * identities born theirs: their policy is in place now. */
	if ((err = ipc_moves_finish(ps, &b.mv, &st->other_changed)) ||
	    (err = delta ? delta_write(ps, d, KV_BORN, &st->other_changed, &st->names_missing,
				       &b.mv) :
			   kvset_sync(ps->fd_ipcache, &ps->ipcache, b.late, b.nlate,
				      sizeof(*b.late), offsetof(struct pol_ipcache, val),
				      KV_UPSERT, "apply-ipcache", &st->other_changed)))
		goto out;
	xcni_killpoint("apply-born"); /* born identities named, stale addresses not gone */
	/* Stale ipcache entries (pods gone) once nothing refers to them. */
	if (delta)
		err = delta_write(ps, d, KV_DELETE, &st->other_changed, &st->names_missing, &b.mv);
	else
		err = kvset_sync(ps->fd_ipcache, &ps->ipcache, r->ipcache, r->nipcache,
				 sizeof(*r->ipcache), offsetof(struct pol_ipcache, val), KV_DELETE,
				 "apply-ipcache-del", &st->other_changed);
out:
	if (b.neps) {
		for (size_t i = 0; i < b.nneps; i++)
			ep_state_clear(&b.neps[i]);
		free(b.neps);
	}
	if (err) {
		/* Half written: what the maps hold is known no more. Diff whole
		 * next time, every pod rewritten under its other version, which
		 * the next apply first empties (clean_versions). */
		ps->mirror_stale = true;
		load_eps(ps);
		ps->scan = true;
	} else {
		ps->need_full = ps->names_short || ps->c4.n;
	}
	ps->names_short = false;
	free(b.idl);
	free(b.now);
	free(b.early);
	free(b.late);
	free(b.mv.v);
	return err;
}
int polsync_apply(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
		  struct polsync_stats *st, char *msg, size_t msglen)
{
	struct ep_memo *m = calloc(r->neps + 1, sizeof(*m));
	struct pol_ipcache *own = NULL;
	struct pol_result fit;
	int err = -ENOMEM;

	memset(st, 0, sizeof(*st));
	if (msg && msglen)
		msg[0] = '\0';
	if (m && !(err = polsync_ipc_fit(ps, r, d && !d->full && !ps->need_full, &fit, &own, msg,
				 msglen)))
		err = apply(ps, &fit, d, m, st, msg, msglen);
	free(own);
	free(m);
	/* Refused or half written, the delta is not in the maps: the next apply
	 * must diff the whole result against what the maps hold. */
	if (err)
		ps->need_full = true;
	return err;
}

/*
 * The queued deletes of old versions (all, or with only_dead those of
 * versions no pod uses now), then the sweep if one is due. A delete that
 * fails stays queued, so no entry is forgotten in a map: 0 or the first
 * -errno.
 */
static int clean_versions(struct polsync *ps, bool only_dead, size_t *deleted)
{
	size_t keep = 0, keepc = 0;
	int err, ret = 0;

	for (size_t i = 0; i < ps->ndel; i++) {
		const struct xcni_policy_key *k = &ps->del[i].key;
		struct xcni_polhash_key h = hash_key(k);

		if (only_dead && live(ps, k->ep, k->version)) {
			ps->del[keep++] = ps->del[i];
			continue;
		}
		err = pol_is_range(k) ? clean_del(ps->fd_polrange, k) : clean_del(ps->fd_policy, &h);
		if (err < 0) {
			ret = ret ?: err;
			ps->del[keep++] = ps->del[i];
			continue;
		}
		if (err) {
			if (pol_is_range(k))
				ps->n_polrange--;
			else
				ps->n_policy--;
			(*deleted)++;
		}
		xcni_killpoint("cleanup"); /* old versions half deleted */
	}
	for (size_t i = 0; i < ps->ndelc; i++) {
		const struct xcni_polcidr_key *k = &ps->delc[i].key;

		if (only_dead && live(ps, k->ep, k->version)) {
			ps->delc[keepc++] = ps->delc[i];
			continue;
		}
		if ((err = clean_del(ps->fd_polcidr, k)) < 0) {
			ret = ret ?: err;
			ps->delc[keepc++] = ps->delc[i];
		} else if (err) {
			ps->n_polcidr--;
			(*deleted)++;
		}
	}
	ps->ndel = keep;
	ps->ndelc = keepc;
	if (ps->scan) {
		err = sweep(ps, deleted);
		ps->scan = err != 0;
		ret = ret ?: err;
	}
	return ret;
}

int polsync_cleanup(struct polsync *ps, struct polsync_stats *st)
{
	int err = clean_versions(ps, false, &st->entries_deleted);

	/* What failed stays queued (dead versions go before the next writes);
	 * the next apply diffs whole, so nothing is changed in place meanwhile. */
	if (err)
		ps->need_full = true;
	return err;
}

void polsync_set_ns_share(struct polsync *ps, unsigned int percent)
{
	ps->share = percent < 1 ? 1 : percent > 100 ? 100 : percent;
}

const struct polsync_over *polsync_overflows(const struct polsync *ps, size_t *n)
{
	*n = ps->nover;
	return ps->over;
}

int polsync_apply6(struct polsync *ps, const struct pol_v6 *v, size_t *changed)
{
	int err = 0;

	if (ps->v6_stale) {
		free(ps->ipcache6.d);
		free(ps->polkey6.d);
		ps->ipcache6 = ps->polkey6 = (struct kvset){ 0 };
		if ((ps->fd_ipcache6 >= 0 &&
		     (err = kvset_load(ps->fd_ipcache6, sizeof(struct xcni_ipcache6_key),
				       sizeof(struct xcni_ipcache_val), &ps->ipcache6))) ||
		    (ps->fd_polkey6 >= 0 &&
		     (err = kvset_load(ps->fd_polkey6, sizeof(struct xcni_in6), sizeof(__u32),
				       &ps->polkey6))))
			return err;
		ps->v6_stale = false;
	}

	if (ps->fd_ipcache6 >= 0) {
		/* polsync_plan6's closed namespaces: their addresses left out. */
		struct pol_ipc6 *keep = ps->c6.n ? malloc((v->nipc + 1) * sizeof(*keep)) : NULL;
		size_t k = 0;

		if (ps->c6.n && !keep)
			return -ENOMEM;
		for (size_t i = 0; keep && i < v->nipc; i++)
			if (!ns_closure_has(&ps->c6, v->ipc[i].ns))
				keep[k++] = v->ipc[i];
		err = kvset_sync(ps->fd_ipcache6, &ps->ipcache6, keep ? keep : v->ipc,
				 keep ? k : v->nipc, sizeof(*v->ipc), offsetof(struct pol_ipc6, val),
				 KV_BOTH, "apply6-ipcache6", changed);
		free(keep);
	}
	if (!err && ps->fd_polkey6 >= 0)
		err = kvset_sync(ps->fd_polkey6, &ps->polkey6, v->keys, v->nkeys, sizeof(*v->keys),
				 offsetof(struct pol_key6, key), KV_BOTH, "apply6-polkey6", changed);
	/* Half written: the mirrors are the old contents, the maps are not. */
	ps->v6_stale = err != 0;
	return err;
}

const char *policy_name(int fd, uint32_t id, char *buf, size_t len)
{
	struct xcni_polname pn;
	size_t pl = strlen(XCNI_POLNAME_CNP);

	/* A ClusterNetworkPolicy: "name [Admin 10]". */
	if (fd >= 0 && bpf_map_lookup_elem(fd, &id, &pn) == 0 && !strncmp(pn.ns, XCNI_POLNAME_CNP, pl))
		snprintf(buf, len, "%.*s [%.*s]", (int)strnlen(pn.name, sizeof(pn.name)), pn.name,
			 (int)strnlen(pn.ns + pl, sizeof(pn.ns) - pl), pn.ns + pl);
	else if (fd >= 0 && bpf_map_lookup_elem(fd, &id, &pn) == 0)
		snprintf(buf, len, "%.*s/%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns,
			 (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
	else
		snprintf(buf, len, "policy#%u", id);
	return buf;
}

const char *rule_name(int fd, uint32_t policy_id, uint8_t dir, uint16_t rule, char *buf,
		      size_t len)
{
	struct xcni_rulename_key k = { .policy_id = policy_id, .rule = rule, .dir = dir };
	struct xcni_rulename v;

	if (fd < 0 || !policy_id || bpf_map_lookup_elem(fd, &k, &v) || !v.name[0])
		return NULL;
	snprintf(buf, len, "%.*s", (int)strnlen(v.name, sizeof(v.name)), v.name);
	return buf;
}

int rule_pass(int fd, unsigned int pass, struct xcni_rulename *out)
{
	struct xcni_rulename_key k = { .rule = (__u16)pass, .dir = XCNI_RULENAME_PASS };

	if (fd < 0 || !pass || bpf_map_lookup_elem(fd, &k, out))
		return -ENOENT;
	out->name[sizeof(out->name) - 1] = '\0';
	return 0;
}
