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

#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/killpoint.h"
#include "lib/system/util.h"
#include "lib/policy/polsync.h"
#include "lib/policy/polsync_int.h"
#include "lib/system/mapw.h"

static int ep_cmp(const void *a, const void *b)
{
	const struct ep_state *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static struct ep_state *ep_find(struct polsync *ps, uint32_t ip)
{
	const struct ep_state k = { .ip = ip };

	return ps->neps ? bsearch(&k, ps->eps, ps->neps, sizeof(*ps->eps), ep_cmp) : NULL;
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
	int err = mapw_del(fd, k, "cleanup-del");

	return !err ? 1 : err == -ENOENT ? 0 : err;
}

/* The keys of set s (ep and version at these offsets) whose version no pod uses, out of fd;
 * *n counts fd's entries. 0, or the last -errno of a delete that failed. */
static int sweep_set(struct polsync *ps, int fd, const struct kvset *s, size_t ep_at,
		     size_t version_at, size_t *n, size_t *deleted)
{
	int err, ret = 0;

	for (size_t i = 0; i < s->n; i++) {
		const unsigned char *k = KV_REC(s, i);
		__u32 ep;

		memcpy(&ep, k + ep_at, sizeof(ep));
		if (live(ps, ep, k[version_at]))
			continue;
		if ((err = clean_del(fd, k)) < 0)
			ret = err;
		else if (err) {
			(*deleted)++;
			(*n)--;
		}
	}
	return ret;
}

/*
 * The pinned maps the writer opens, one row each: where its fd, size, entry
 * count and mirror live in struct polsync (0: none; fd_policy, at 0, is
 * no row's size or mirror) and what the mirror's records are. The three
 * versioned maps come first (sweep).
 */
enum { MIR_NAMES = 1, MIR_KEPT = 2, MIR_V6 = 4 }; /* which reload reads a mirror */
enum { MAP_NEEDED, MAP_OPTIONAL, MAP_QUIET }; /* absent: a failure, fd < 0, fd < 0 unsaid */
#define PS_VERSIONED 3
#define PS(f) offsetof(struct polsync, f)

static const struct ps_map {
	const char *pin;
	size_t fd, max, cnt, set;
	size_t ksz, vsz, ep_at, version_at;
	int group, absent;
} ps_maps[] = {
	{ "xcni_policy", PS(fd_policy), PS(max_policy), PS(n_policy), 0,
	  sizeof(struct xcni_polhash_key), sizeof(struct xcni_policy_val),
	  offsetof(struct xcni_polhash_key, ep), offsetof(struct xcni_polhash_key, version), 0, 0 },
	{ "xcni_polrange", PS(fd_polrange), PS(max_polrange), PS(n_polrange), 0,
	  sizeof(struct xcni_policy_key), sizeof(struct xcni_policy_val),
	  offsetof(struct xcni_policy_key, ep), offsetof(struct xcni_policy_key, version), 0, 0 },
	{ "xcni_polcidr", PS(fd_polcidr), PS(max_polcidr), PS(n_polcidr), 0,
	  sizeof(struct xcni_polcidr_key), sizeof(__u32), offsetof(struct xcni_polcidr_key, ep),
	  offsetof(struct xcni_polcidr_key, version), 0, 0 },
	{ "xcni_polep", PS(fd_polep), 0, 0, 0, 0, 0, 0, 0, 0, MAP_NEEDED },
	{ "xcni_ipcache", PS(fd_ipcache), PS(max_ipcache), 0, PS(ipcache),
	  sizeof(struct xcni_ipcache_key), sizeof(struct xcni_ipcache_val), 0, 0, MIR_NAMES, MAP_NEEDED },
	{ "xcni_identity", PS(fd_identity), PS(max_identity), 0, PS(identity), sizeof(__u32),
	  sizeof(struct xcni_idlabels), 0, 0, MIR_NAMES, MAP_NEEDED },
	{ "xcni_polname", PS(fd_polname), PS(max_polname), 0, PS(polname), sizeof(__u32),
	  sizeof(struct xcni_polname), 0, 0, MIR_NAMES, MAP_NEEDED },
	{ "xcni_podname", PS(fd_podname), PS(max_podname), 0, PS(podname), sizeof(__u32),
	  sizeof(struct xcni_podname), 0, 0, MIR_NAMES, MAP_NEEDED },
	/* Synced by deltas too, so not dropped with the names; a failed write
	 * may have left anything in them. */
	{ "xcni_polsel", PS(fd_polsel), PS(max_polsel), 0, PS(polsel), sizeof(__u32), sizeof(struct xcni_polsel),
	  0, 0, MIR_KEPT, MAP_NEEDED },
	/* Absent under programs from before rule names. */
	{ "xcni_rulename", PS(fd_rulename), PS(max_rulename), 0, PS(rulename), sizeof(struct xcni_rulename_key),
	  sizeof(struct xcni_rulename), 0, 0, MIR_KEPT, MAP_QUIET },
	{ "xcni_ipcache6", PS(fd_ipcache6), PS(max_ipcache6), 0, PS(ipcache6),
	  sizeof(struct xcni_ipcache6_key), sizeof(struct xcni_ipcache_val), 0, 0, MIR_V6,
	  MAP_OPTIONAL },
	{ "xcni_polkey6", PS(fd_polkey6), PS(max_polkey6), 0, PS(polkey6), sizeof(struct xcni_in6),
	  sizeof(__u32), 0, 0, MIR_V6, MAP_OPTIONAL },
};

#define PS_AT(ps, off, type) ((type *)((char *)(ps) + (off)))

/* The mirrors of groups dropped and, with load, read again from their maps. */
static int mirrors_reset(struct polsync *ps, int groups, bool load)
{
	for (size_t i = 0; i < ARRAY_SIZE(ps_maps); i++) {
		const struct ps_map *m = &ps_maps[i];
		struct kvset *s = PS_AT(ps, m->set, struct kvset);
		int fd = *PS_AT(ps, m->fd, int), err;

		if (!(m->group & groups))
			continue;
		free(s->d);
		*s = (struct kvset){ 0 };
		if (load && fd >= 0 && (err = mapw_load(fd, m->ksz, m->vsz, s)))
			return err;
	}
	return 0;
}

/* The cluster-wide maps as they are, for a whole diff. */
static int mirrors_load(struct polsync *ps)
{
	int err = mirrors_reset(ps, MIR_NAMES | MIR_KEPT, true);

	if (!err)
		ps->mirror_stale = false;
	return err;
}

/* Every entry of a version no pod uses deleted; -errno if one could not be. */
static int sweep(struct polsync *ps, size_t *deleted)
{
	struct kvset s[PS_VERSIONED] = {};
	int err = 0, ret = 0;

	/* Collected first: deleting while walking a trie restarts the walk. */
	for (size_t i = 0; !err && i < PS_VERSIONED; i++)
		err = mapw_load(*PS_AT(ps, ps_maps[i].fd, int), ps_maps[i].ksz,
					 ps_maps[i].vsz, &s[i]);
	for (size_t i = 0; !err && i < PS_VERSIONED; i++) {
		const struct ps_map *m = &ps_maps[i];
		int e = sweep_set(ps, *PS_AT(ps, m->fd, int), &s[i], m->ep_at, m->version_at,
				  PS_AT(ps, m->cnt, size_t), deleted);

		ret = e ? e : ret;
	}
	for (size_t i = 0; i < PS_VERSIONED; i++)
		free(s[i].d);
	return err ? err : ret;
}

/*
 * What the pods' polep entries say (version, isolation), their entries not
 * known: each pod is rewritten, under its other version, at the next apply.
 */
static int load_eps(struct polsync *ps)
{
	struct kvset polep = {};
	struct ep_state *eps;
	int err;

	err = mapw_load(ps->fd_polep, sizeof(__u32), sizeof(struct xcni_polep), &polep);
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
		polsync_ep_clear(&ps->eps[i]);
	free(ps->eps);
	ps->eps = eps;
	ps->neps = polep.n;
	if (ps->neps) /* no pods: eps is NULL, which qsort must not get */
		qsort(ps->eps, ps->neps, sizeof(*ps->eps), ep_cmp);
	return 0;
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
		qsort(v, m, sizeof(*v), pol_cmp_idprev);
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
	unsigned char *keys;
	size_t swept = 0;
	int err;

	if (!ps)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(ps_maps); i++)
		*PS_AT(ps, ps_maps[i].fd, int) = -1;
	ps->share = 100;
	for (size_t i = 0; i < ARRAY_SIZE(ps_maps); i++) {
		const struct ps_map *m = &ps_maps[i];
		int *fd = PS_AT(ps, m->fd, int);

		snprintf(path, sizeof(path), "%s/%s", pin_dir, m->pin);
		if (m->absent == MAP_QUIET && access(path, F_OK))
			continue;
		*fd = xcni_map_open_pinned(pin_dir, m->pin, m->max ? PS_AT(ps, m->max, size_t) : NULL);
		if (*fd < 0 && m->absent == MAP_NEEDED) {
			err = *fd;
			goto fail;
		}
		if (m->cnt && !mapw_keys(*fd, m->ksz, &keys, PS_AT(ps, m->cnt, size_t)))
			free(keys);
	}
	/* What an earlier agent left: kept, and replaced by the first apply. */
	ps->need_full = true;
	if ((err = mirrors_load(ps)) || (err = load_eps(ps)) ||
	    (err = mirrors_reset(ps, MIR_V6, true)))
		goto fail;
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

void polsync_free(struct polsync *ps)
{
	if (!ps)
		return;
	polsync_ns_closure_clear(&ps->c4);
	polsync_ns_closure_clear(&ps->c6);
	for (size_t i = 0; i < ps->neps; i++)
		polsync_ep_clear(&ps->eps[i]);
	free(ps->eps);
	mirrors_reset(ps, MIR_NAMES | MIR_KEPT | MIR_V6, false);
	free(ps->del);
	free(ps->delc);
	free(ps->over);
	for (size_t i = 0; i < ARRAY_SIZE(ps_maps); i++)
		xcni_close(&*PS_AT(ps, ps_maps[i].fd, int));
	free(ps);
}

static int clean_versions(struct polsync *ps, bool only_dead, size_t *deleted);

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
			     polsync_ep_equal(m[i].cur, &r->eps[i]));
	}
	if ((err = polsync_room_judge(ps, r, m, closed_global)))
		return err;
	/* The pods of a namespace ipc_fit or polsync_plan6 closed: no policy of theirs goes in. */
	for (size_t i = 0; (ps->c4.n || ps->c6.n) && i < r->neps; i++) {
		const char *ns = pol_ep_ns(&r->eps[i]);

		if (!polsync_ns_closure_has(&ps->c4, ns) && !polsync_ns_closure_has(&ps->c6, ns))
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
	if (!delta && (err = polsync_idl_build(r, &b)))
		return err;
	/* A delta: the compiler says what changed, the mirrors no longer follow. */
	if (delta) {
		ps->mirror_stale = true;
		mirrors_reset(ps, MIR_NAMES, false);
	}
	if ((err = delta ? polsync_names_delta(ps, r, d, m, st, &b.mv) :
			   polsync_names_whole(ps, r, st, &b)))
		goto out;
	xcni_killpoint("apply-names");
	if ((err = polsync_write_pods(ps, r, d, m, delta, st, &b)))
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
	if ((err = polsync_ipc_moves_finish(ps, &b.mv, &st->other_changed)) ||
	    (err = delta ? polsync_delta_write(ps, d, KV_BORN, &st->other_changed,
	                                       &st->names_missing, &b.mv)
	                 : mapw_sync(ps->fd_ipcache, &ps->ipcache, b.late, b.nlate,
	                                      sizeof(*b.late), offsetof(struct pol_ipcache, val),
	                                      KV_UPSERT, "apply-ipcache", &st->other_changed)))
		goto out;
	xcni_killpoint("apply-born"); /* born identities named, stale addresses not gone */
	/* Stale ipcache entries (pods gone) once nothing refers to them. */
	if (delta)
		err = polsync_delta_write(ps, d, KV_DELETE, &st->other_changed, &st->names_missing,
					  &b.mv);
	else
		err = mapw_sync(ps->fd_ipcache, &ps->ipcache, r->ipcache, r->nipcache,
		                         sizeof(*r->ipcache), offsetof(struct pol_ipcache, val),
		                         KV_DELETE, "apply-ipcache-del", &st->other_changed);
out:
	if (b.neps) {
		for (size_t i = 0; i < b.nneps; i++)
			polsync_ep_clear(&b.neps[i]);
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
		struct xcni_polhash_key h = polsync_hash_key(k);

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

const char *polsync_short(const struct polsync *ps, size_t i, size_t *more)
{
	if (i >= ARRAY_SIZE(ps_maps))
		return NULL;
	*more = i < POLSYNC_NR_MAPS ? ps->more[i] : !ps_maps[i].set ? 0 :
		((const struct kvset *)((const char *)ps + ps_maps[i].set))->dropped;
	return ps_maps[i].pin;
}

const struct polsync_over *polsync_overflows(const struct polsync *ps, size_t *n)
{
	*n = ps->nover;
	return ps->over;
}

static const char *key6_ns(const void *rec)
{
	const char *ns = ((const struct pol_key6 *)rec)->ns;

	return ns ? ns : "";
}

/*
 * xcni_polkey6 through the room writer, each namespace its part: a pod
 * without its key is pending (XCNI_POLKEY_NONE: its traffic dropped, never
 * open), so past the room a namespace over its part waits for the rest of
 * its keys (st->polkey6_waiting, st->polkey6_ns names one), every other
 * namespace's pods have theirs, gone pods' keys are deleted first; never the
 * generation. Within a namespace the pods that hold a key come first: its
 * running pods keep theirs, new ones wait.
 */
static int polkey6_sync(struct polsync *ps, const struct pol_v6 *v, struct polsync_stats *st)
{
	size_t n = v->nkeys, k = 0, rsz = ps->polkey6.ksz + ps->polkey6.vsz;
	struct pol_key6 *ord = malloc((n + 1) * sizeof(*ord));
	bool *kept = calloc(n + 1, sizeof(*kept));
	struct mapw_room m = { .fd = ps->fd_polkey6, .ksz = ps->polkey6.ksz,
			       .vsz = ps->polkey6.vsz,
			       .max = ps->max_polkey6 ? ps->max_polkey6 : SIZE_MAX,
			       .step = "apply6-polkey6", .owner_of = key6_ns, .share = true,
			       .cur = &ps->polkey6, .kept = kept };
	int err = -ENOMEM;

	mapw_cmp_len = (int)ps->polkey6.ksz;
	for (int held = 1; ord && held >= 0; held--)
		for (size_t i = 0; i < n; i++)
			if ((ps->polkey6.n && bsearch(&v->keys[i], ps->polkey6.d, ps->polkey6.n,
						      rsz, mapw_cmp)) == held)
				ord[k++] = v->keys[i];
	if (ord && kept)
		err = mapw_room_sync(&m, ord, n, sizeof(*ord), offsetof(struct pol_key6, key));
	st->polkey6_waiting = err ? 0 : m.dropped;
	for (size_t i = 0; !err && m.dropped && !st->polkey6_ns; i++)
		st->polkey6_ns = kept[i] ? NULL : key6_ns(&ord[i]);
	st->other_changed += m.written + m.deleted;
	free(ord);
	free(kept);
	return err;
}

int polsync_apply6(struct polsync *ps, const struct pol_v6 *v, struct polsync_stats *st)
{
	size_t *changed = &st->other_changed;
	int err = 0;

	st->polkey6_waiting = 0;
	st->polkey6_ns = NULL;

	if (ps->v6_stale && (err = mirrors_reset(ps, MIR_V6, true)))
		return err;
	ps->v6_stale = false;
	if (ps->fd_ipcache6 >= 0) {
		/* polsync_plan6's closed namespaces: their addresses left out. */
		struct pol_ipc6 *keep = ps->c6.n ? malloc((v->nipc + 1) * sizeof(*keep)) : NULL;
		size_t k = 0;

		if (ps->c6.n && !keep)
			return -ENOMEM;
		for (size_t i = 0; keep && i < v->nipc; i++)
			if (!polsync_ns_closure_has(&ps->c6, v->ipc[i].ns))
				keep[k++] = v->ipc[i];
		err = mapw_sync(ps->fd_ipcache6, &ps->ipcache6, keep ? keep : v->ipc,
		                         keep ? k : v->nipc, sizeof(*v->ipc),
		                         offsetof(struct pol_ipc6, val), KV_BOTH, "apply6-ipcache6",
		                         changed);
		free(keep);
	}
	if (!err && ps->fd_polkey6 >= 0)
		err = polkey6_sync(ps, v, st);
	/* Half written: the mirrors are the old contents, the maps are not. */
	ps->v6_stale = err != 0;
	return err;
}
