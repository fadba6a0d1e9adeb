// SPDX-License-Identifier: Apache-2.0
/*
 * The Service map writer (see svcsync.h; its books read from the maps at open
 * in svcsync_load.c). In memory: every frontend the maps
 * hold (sorted by key) with its live version and backend ids, and every
 * backend (sorted by address, port and family) with the number of frontends
 * naming it. A change costs the syscalls of what changed and nothing else.
 *
 * Order of writes, so the data plane never sees a half-applied change:
 *   1. new backends (and changed backend states),
 *   2. per changed frontend: slots and Maglev table under the other version,
 *      its name and reverse-NAT entry (new ids), then the flip of its xcni_svc
 *      entry (one update: version, counts, flags, revision);
 *   3. frontends that are gone: their xcni_svc entry;
 *   cleanup (after the caller reported the change): the replaced versions'
 *   slots and tables, the gone ids' slots, tables, reverse-NAT and name
 *   entries, and backends no frontend names any more.
 * xcni_svcbe (a frontend's backends by key, DSR's check) follows the slots:
 * a changed frontend's new backends are written with its slots, before the
 * flip; the ones it no longer names, and a gone id's, go at cleanup unless
 * a later apply named them again.
 *
 * A frontend whose name (Service, port name) changes keeps its key but gets
 * a new id, as if it were new; its old id goes as a gone frontend's does.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/system/bpfpin.h"
#include "lib/system/ctstat.h"
#include "lib/system/log.h"
#include "lib/system/mapw.h"
#include "lib/services/maglev.h"
#include "lib/services/svcsync_int.h"
#include "lib/system/mapw.h"
#include "lib/system/util.h"

static struct fe_ent *fe_find(struct svcsync *ss, const struct xcni_svc_key *k)
{
	struct fe_ent probe = { .key = *k };

	return bsearch(&probe, ss->fe, ss->nfe, sizeof(*ss->fe), fe_cmp);
}

static struct be_ent *be_find(struct svcsync *ss, const void *bkey)
{
	size_t lo = 0, hi = ss->nbe;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(bkey, &ss->be[ss->by_key[mid]].b, BE_KEY_LEN);

		if (!c)
			return &ss->be[ss->by_key[mid]];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Queues the xcni_svcbe entries of id naming ids[0..n) (backends known) for cleanup. */
static int svcbe_queue(struct svcsync *ss, uint32_t id, const uint32_t *ids, size_t n)
{
	struct xcni_svcbe_key *q = realloc(ss->svcbe_del, (ss->nsvcbe_del + n + 1) * sizeof(*q));

	if (!q)
		return -ENOMEM;
	ss->svcbe_del = q;
	ss->nsvcbe_del += svcbe_keys(ss, id, ids, n, q + ss->nsvcbe_del);
	return 0;
}

static int be_key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct be_ent *)a)->b, &((const struct be_ent *)b)->b, BE_KEY_LEN);
}

/* A frontend as it should be: backend ids, active ones first (each group by address). */
struct want {
	const struct svc_spec *spec;
	long cur; /* index in ss->fe, -1: new */
	uint32_t *ids;
	uint16_t count, term;
	bool changed;
	bool new_id; /* new, or its name changed: a new service id */
	struct xcni_svc v; /* the entry it gets (changed ones) */
};

static const struct svc_be_spec *sort_base;
static int idx_cmp(const void *a, const void *b)
{
	const struct svc_be_spec *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];

	if ((x->state != XCNI_BE_ACTIVE) != (y->state != XCNI_BE_ACTIVE))
		return x->state != XCNI_BE_ACTIVE ? 1 : -1;
	return memcmp(x, y, BE_KEY_LEN);
}

/*
 * The key index after backends nold..nbe-1 were appended in key order: one
 * merge, not a sort of every backend again (one new endpoint must not cost
 * the 100k that stay).
 */
static int be_index_add(struct svcsync *ss, size_t nold)
{
	uint32_t *k = malloc((ss->nbe ? ss->nbe : 1) * sizeof(*k));
	size_t a = 0, b = nold, o = 0;

	if (!k)
		return -ENOMEM;
	while (a < nold || b < ss->nbe) {
		if (b == ss->nbe ||
		    (a < nold && memcmp(&ss->be[ss->by_key[a]].b, &ss->be[b].b, BE_KEY_LEN) < 0))
			k[o++] = ss->by_key[a++];
		else
			k[o++] = (uint32_t)b++;
	}
	free(ss->by_key);
	ss->by_key = k;
	return 0;
}

/* Builds and installs the Maglev table of frontend v (its new version) over ids. */
static int maglev_install(struct svcsync *ss, const struct xcni_svc *v, const uint32_t *ids,
			  size_t n)
{
	struct maglev_backend *mb = calloc(n ? n : 1, sizeof(*mb));
	uint32_t *table = calloc(XCNI_MAGLEV_M, sizeof(*table));
	__u32 key = xcni_maglev_key(v->id, v->version);
	int fd = -1, err = -ENOMEM;

	if (!mb || !table)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct be_ent *b = be_by_id(ss, ids[i]);

		if (!b) {
			err = -EINVAL;
			goto out;
		}
		mb[i] = (struct maglev_backend){ .key = &b->b, .key_len = BE_KEY_LEN, .id = ids[i] };
	}
	if ((err = maglev_build(mb, n, XCNI_MAGLEV_M, table)))
		goto out;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xcni_maglev_in", 4, 4, XCNI_MAGLEV_M, NULL);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	for (__u32 i = 0; i < XCNI_MAGLEV_M; i++)
		if (bpf_map_update_elem(fd, &i, &table[i], BPF_ANY)) {
			err = -errno;
			goto out;
		}
	err = bpf_map_update_elem(ss->fd_maglev, &key, &fd, BPF_ANY) ? -errno : 0;
out:
	xcni_close(&fd);
	free(table);
	free(mb);
	return err;
}

/* State changes by backend id, then in the order the specs gave them (refs holds it). */
static int state_cmp(const void *a, const void *b)
{
	const struct be_ent *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->refs < y->refs ? -1 : x->refs > y->refs;
}

/* A free service id (the u16 reverse-NAT index), searched on from the last one handed out. */
static uint32_t svc_id_take(struct svcsync *ss)
{
	for (uint32_t k = 0; k < SVC_IDS - 1; k++) {
		uint32_t id = 1 + (ss->svc_hint + k) % (SVC_IDS - 1);

		if (!svc_id_used(ss, id)) {
			svc_id_set(ss, id, true);
			ss->svc_hint = id;
			return id;
		}
	}
	return 0;
}

/* What one apply writes, gathered so each map gets one batch. */
struct batch {
	struct xcni_svcslot_key *slot_k;
	__u32 *slot_v;
	size_t nslot;
	__u16 *rn_k;
	struct xcni_revnat *rn_v;
	size_t nrn;
	__u32 *nm_k; /* new ids' names (xcni_svcname), one per rn_k */
	struct xcni_svcname *nm_v;
	struct xcni_svc_key *svc_k;
	struct xcni_svc *svc_v;
	size_t nsvc;
	__u32 *be_k;
	struct be_ent *be_v; /* state changes, then new backends */
	struct xcni_backend *be_w; /* what is written */
};

static void batch_free(struct batch *b)
{
	void *v[] = { b->slot_k, b->slot_v, b->rn_k, b->nm_k, b->nm_v, b->rn_v,
		      b->svc_k, b->svc_v, b->be_k, b->be_v, b->be_w };

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
}

/* A conntrack key of either family as flush_match reads it. */
struct ct_any {
	const uint8_t *daddr;
	uint16_t dport;
	uint8_t family; /* XCNI_AF_* */
};

static bool flush_match(const struct flush *fl, size_t n, const struct ct_any *k,
			const struct xcni_ct_entry *e)
{
	size_t alen = k->family == XCNI_AF_INET6 ? 16 : 4;

	for (size_t i = 0; i < n; i++) {
		if (fl[i].rev_nat != e->rev_nat)
			continue;
		/* The service entry (to the frontend) names the backend by id; the
		 * flow's own entry (to the backend) by address and port. */
		if (e->flags & XCNI_CT_F_SVC ? e->backend_id == fl[i].be_id
					     : fl[i].b.family == k->family &&
						       !memcmp(k->daddr, fl[i].b.addr, alen) &&
						       k->dport == fl[i].b.port)
			return true;
	}
	return false;
}

/*
 * UDP flows to backends that left their frontend: both their entries go, so
 * the client's next datagram picks a backend the frontend has now instead of
 * sticking to one that is gone or going (kube-proxy's conntrack flush; a UDP
 * client never reconnects by itself). One walk of conntrack for all of them.
 */
static int ct_flush_one(int fd, bool v6, const struct flush *fl, size_t n, size_t *flushed,
			struct svcsync_stats *st);

static int ct_flush(struct svcsync *ss, const struct flush *fl, size_t n,
		    struct svcsync_stats *st)
{
	size_t flushed = 0;
	int err = 0;

	if (!n)
		return 0;
	/* Each family's conntrack: IPv6 Services' flows are in xcni_ct6. */
	if (ss->fd_ct >= 0)
		err = ct_flush_one(ss->fd_ct, false, fl, n, &flushed, st);
	if (!err && ss->fd_ct6 >= 0)
		err = ct_flush_one(ss->fd_ct6, true, fl, n, &flushed, st);
	/* Counted, so what LRU eviction took stays created - deleted - present. */
	if (ss->fd_ctstat >= 0 && ctstat_add_deleted(ss->fd_ctstat, flushed))
		pr_debug("xcni_ctstat: %zu deletions not counted\n", flushed);
	return err;
}

/* One conntrack map's walk (v6: xcni_ct6's keys): its matching UDP entries deleted. */
static int ct_flush_one(int fd, bool v6, const struct flush *fl, size_t n, size_t *flushed,
			struct svcsync_stats *st)
{
	union {
		struct xcni_ct_key k4;
		struct xcni_ct6_key k6;
	} k, *del = NULL;
	size_t ndel = 0, cap = 0;
	struct xcni_ct_entry e;
	int err = 0;

	memset(&k, 0, sizeof(k));
	/* The kernel reads a key before it writes the next: one buffer for both. */
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &k); prev = &k) {
		struct ct_any a = v6 ? (struct ct_any){ k.k6.daddr, k.k6.dport, XCNI_AF_INET6 }
				     : (struct ct_any){ (const uint8_t *)&k.k4.daddr, k.k4.dport,
							XCNI_AF_INET };

		if ((v6 ? k.k6.proto : k.k4.proto) != IPPROTO_UDP ||
		    bpf_map_lookup_elem(fd, &k, &e) || !e.rev_nat || !flush_match(fl, n, &a, &e))
			continue;
		if (XCNI_GROW(del, ndel, cap)) {
			err = -ENOMEM;
			break;
		}
		del[ndel++] = k;
	}
	for (size_t i = 0; i < ndel; i++)
		if (!bpf_map_delete_elem(fd, &del[i])) {
			st->ct_flushed++;
			(*flushed)++;
		}
	free(del);
	return err;
}

/*
 * A frontend's id no xcni_svc entry names any more (the frontend is gone, or
 * got a new id): its slots, table, reverse-NAT and name entries are queued
 * for cleanup, and its backends lose its references. f->ids is freed.
 */
static int fe_retire(struct svcsync *ss, struct fe_ent *f)
{
	struct gone *ng = realloc(ss->gone, (ss->ngone + 2) * sizeof(*ng));

	if (!ng)
		return -ENOMEM;
	ss->gone = ng;
	if (svcbe_queue(ss, f->v.id, f->ids, (size_t)f->v.count + f->v.count_term))
		return -ENOMEM;
	ss->gone[ss->ngone++] = (struct gone){ .id = f->v.id, .version = f->v.version,
					       .n = (uint32_t)f->v.count + f->v.count_term,
					       .maglev = f->v.flags & XCNI_SVC_F_MAGLEV };
	if (f->old_pending) /* replaced, then retired, before a cleanup */
		ss->gone[ss->ngone++] = (struct gone){ .id = f->v.id, .version = f->old_version,
						       .n = f->old_n, .maglev = f->old_maglev };
	for (uint32_t b = 0; b < (uint32_t)f->v.count + f->v.count_term; b++) {
		struct be_ent *e = be_by_id(ss, f->ids[b]);

		if (e && !--e->refs)
			ss->unref++;
	}
	free(f->ids);
	f->ids = NULL;
	return 0;
}

/* The changed frontends' backends by key (nkeys at most), written. 0 or -errno. */
static int svcbe_write(struct svcsync *ss, const struct want *w, size_t n, size_t nkeys)
{
	struct xcni_svcbe_key *k = calloc(nkeys ? nkeys : 1, sizeof(*k));
	__u32 *one = malloc((nkeys ? nkeys : 1) * sizeof(*one));
	size_t m = 0, done;
	int err = -ENOMEM;

	if (!k || !one)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (w[i].changed)
			m += svcbe_keys(ss, w[i].v.id, w[i].ids, w[i].spec->nbe, k + m);
	for (size_t i = 0; i < m; i++)
		one[i] = 1;
	err = mapw_put_many(ss->fd_svcbe, k, sizeof(*k), one, sizeof(*one), m, NULL, &done);
out:
	free(k);
	free(one);
	return err;
}

/* One apply: what each frontend should hold and every buffer its writes need, before any write. */
struct plan {
	const struct svc_spec *specs;
	size_t n;
	struct want *w;
	uint32_t *bid; /* each spec backend's id when the maps hold it already (0: new) */
	struct be_ent *added; /* the new backends, by key, numbered */
	size_t new_be, nstate; /* new backends; backends whose state changes (bt.be_k, be_v) */
	size_t new_fe, new_ids, new_slots, new_tables, nchanged;
	struct batch bt;
	struct flush *fl; /* UDP flows of the backends a frontend dropped */
	size_t nfl;
};

static void plan_free(struct plan *p)
{
	free(p->fl);
	if (p->w)
		for (size_t i = 0; i < p->n; i++)
			free(p->w[i].ids);
	free(p->w);
	free(p->added);
	free(p->bid);
	batch_free(&p->bt);
}

/* Backends no frontend names yet: collected, sorted, deduplicated, numbered; state changes
 * once each. */
static int plan_backends(struct svcsync *ss, struct plan *p)
{
	const struct svc_spec *specs = p->specs;
	size_t n = p->n, cap_be = 0, i, off;
	struct batch *bt = &p->bt;

	for (i = 0; i < n; i++)
		cap_be += specs[i].nbe;
	/* Each spec backend's id when the maps hold it already (0: new), found once. */
	p->bid = calloc(cap_be ? cap_be : 1, sizeof(*p->bid));
	p->added = calloc(cap_be ? cap_be : 1, sizeof(*p->added));
	bt->be_k = calloc(cap_be ? cap_be : 1, sizeof(*bt->be_k));
	bt->be_v = calloc(cap_be ? cap_be : 1, sizeof(*bt->be_v));
	bt->be_w = calloc(cap_be ? cap_be : 1, sizeof(*bt->be_w));
	if (!p->bid || !p->added || !bt->be_k || !bt->be_v || !bt->be_w)
		return -ENOMEM;
	for (i = 0, off = 0; i < n; off += specs[i].nbe, i++)
		for (size_t b = 0; b < specs[i].nbe; b++) {
			const struct svc_be_spec *bs = &specs[i].be[b];
			struct be_ent *e = be_find(ss, bs);

			if (e) {
				p->bid[off + b] = e->id;
				/* A state change: written in place, once (ss->be changes only below). */
				if (e->b.state != bs->state) {
					struct be_ent *c = &bt->be_v[p->nstate];

					*c = *e;
					c->b.state = bs->state;
					c->refs = (uint32_t)p->nstate++; /* order given */
				}
				continue;
			}
			e = &p->added[p->new_be++];
			memcpy(e->b.addr, bs->addr, sizeof(bs->addr));
			e->b.port = bs->port;
			e->b.family = bs->family;
			e->b.state = bs->state;
		}
	/* A backend several frontends name is written once (the last state given, as before). */
	qsort(bt->be_v, p->nstate, sizeof(*bt->be_v), state_cmp);
	for (i = 0, cap_be = p->nstate, p->nstate = 0; i < cap_be; i++) {
		if (p->nstate && bt->be_k[p->nstate - 1] == bt->be_v[i].id)
			p->nstate--;
		bt->be_k[p->nstate] = bt->be_v[i].id;
		bt->be_v[p->nstate++] = bt->be_v[i];
	}
	for (i = 0; i < p->nstate; i++) {
		struct be_ent *e = be_by_id(ss, bt->be_k[i]);
		uint8_t state = bt->be_v[i].b.state;

		bt->be_v[i] = *e;
		bt->be_v[i].b.state = state;
	}
	qsort(p->added, p->new_be, sizeof(*p->added), be_key_cmp);
	for (i = 0, cap_be = p->new_be, p->new_be = 0; i < cap_be; i++)
		if (!p->new_be || be_key_cmp(&p->added[p->new_be - 1], &p->added[i]))
			p->added[p->new_be++] = p->added[i];
	for (i = 0; i < p->new_be; i++)
		p->added[i].id = ss->next_be_id + (uint32_t)i;
	return 0;
}

/* What each frontend should hold and what that needs; one given twice or too big refused. */
static int plan_frontends(struct svcsync *ss, struct plan *p, char *msg, size_t msglen)
{
	const struct svc_spec *specs = p->specs;
	size_t n = p->n, max_nbe = 0, *order = NULL, i, off;
	struct want *w = p->w;
	uint32_t *scratch = NULL;
	int err = 0;

	for (i = 0; i < n; i++)
		if (specs[i].nbe > max_nbe)
			max_nbe = specs[i].nbe;
	scratch = calloc(max_nbe ? max_nbe : 1, sizeof(*scratch));
	order = calloc(max_nbe ? max_nbe : 1, sizeof(*order));
	if (!scratch || !order) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, off = 0; i < n; off += specs[i].nbe, i++) {
		const struct svc_spec *s = &specs[i];
		struct fe_ent *cur = fe_find(ss, &s->key);

		w[i].spec = s;
		w[i].cur = cur ? cur - ss->fe : -1;
		if (cur && cur->seen) {
			snprintf(msg, msglen, "%s: the same frontend twice", s->name);
			err = -EINVAL;
			goto out;
		}
		if (s->nbe > UINT16_MAX || ((s->flags & XCNI_SVC_F_MAGLEV) && s->nbe >= XCNI_MAGLEV_M)) {
			snprintf(msg, msglen, "%s: %zu backends, a frontend holds at most %u", s->name,
				 s->nbe, (s->flags & XCNI_SVC_F_MAGLEV) ? XCNI_MAGLEV_M - 1 : UINT16_MAX);
			err = -EINVAL;
			goto out;
		}
		if (cur)
			cur->seen = true;
		for (size_t b = 0; b < s->nbe; b++)
			order[b] = b;
		sort_base = s->be;
		qsort(order, s->nbe, sizeof(*order), idx_cmp);
		for (size_t b = 0; b < s->nbe; b++) {
			const struct svc_be_spec *bs = &s->be[order[b]];
			uint32_t id = p->bid[off + order[b]];

			if (!id) {
				struct be_ent probe = {};

				memcpy(&probe.b, bs, BE_KEY_LEN);
				id = ((struct be_ent *)bsearch(&probe, p->added, p->new_be,
							       sizeof(*p->added), be_key_cmp))->id;
			}
			scratch[b] = id;
			if (bs->state == XCNI_BE_ACTIVE)
				w[i].count++;
			else
				w[i].term++;
		}
		w[i].new_id = !cur || memcmp(&cur->who, &s->who, sizeof(s->who));
		w[i].changed = w[i].new_id || cur->v.flags != s->flags ||
			       cur->v.affinity_s != s->affinity_s ||
			       cur->v.count != w[i].count || cur->v.count_term != w[i].term ||
			       memcmp(cur->ids, scratch, s->nbe * sizeof(*scratch));
		if (!w[i].changed)
			continue;
		/* Only a changed frontend gets ids of its own (10k unchanged ones: no allocation). */
		w[i].ids = malloc((s->nbe ? s->nbe : 1) * sizeof(*w[i].ids));
		if (!w[i].ids) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(w[i].ids, scratch, s->nbe * sizeof(*scratch));
		p->nchanged++;
		p->new_fe += !cur;
		p->new_ids += w[i].new_id;
		p->new_slots += s->nbe;
		p->new_tables += !!(s->flags & XCNI_SVC_F_MAGLEV);
	}
out:
	free(scratch);
	free(order);
	return err;
}

/*
 * The rooms an apply is judged in, and what it adds to each (struct plan):
 * the maps, and the service ids (a u16, SVC_IDS - 1 of them whatever size
 * xcni_revnat is given: --map-max xcni_revnat=70000 leaves the ids the
 * limit, judged per namespace as a map is, never "no service id left" for
 * every namespace). RM_FIX: what an operator can do about each.
 */
enum { RM_SVC, RM_REVNAT, RM_IDS, RM_SLOT, RM_BE, RM_MAGLEV, RM_N };
static const char *const rm_name[RM_N] = { "xcni_svc", "xcni_revnat", "service ids",
					    "xcni_svcslot", "xcni_backend", "xcni_maglev" };
static const char *const rm_what[RM_N] = { "frontends", "reverse-NAT entries", "ids", "slots",
					    "backends", "Maglev tables" };
static const char *const rm_fix[RM_N] = {
	"raise --map-max=xcni_svc=N", "raise --map-max=xcni_revnat=N",
	"no --map-max raises them: a node's service ids are 16 bits (65535), one a frontend",
	"raise --map-max=xcni_svcslot=N", "raise --map-max=xcni_backend=N",
	"raise --map-max=xcni_maglev=N"
};

static void room_of(const struct svcsync *ss, const struct plan *p, size_t *used, size_t *add,
		    size_t *max)
{
	const size_t u[RM_N] = { ss->nfe, ss->n_revnat, ss->n_ids, ss->n_slot, ss->nbe,
				 ss->n_maglev };
	const size_t a[RM_N] = { p->new_fe, p->new_ids, p->new_ids, p->new_slots, p->new_be,
				 p->new_tables };
	const size_t m[RM_N] = { ss->max_svc, ss->max_revnat, SVC_IDS - 1, ss->max_slot,
				 ss->max_be, ss->max_maglev };

	memcpy(used, u, sizeof(u));
	memcpy(add, a, sizeof(a));
	memcpy(max, m, sizeof(m));
}

/* Room next to what stays until cleanup; else -ENOSPC, msg naming the first map over. */
static int plan_room(const struct svcsync *ss, const struct plan *p, char *msg, size_t msglen)
{
	size_t used[RM_N], add[RM_N], max[RM_N];

	room_of(ss, p, used, add, max);
	for (int k = 0; k < RM_N; k++)
		if (used[k] + add[k] > max[k]) {
			snprintf(msg, msglen, "%s: %zu %s held, %zu new, room for %zu", rm_name[k],
				 used[k], rm_what[k], add[k], max[k]);
			return -ENOSPC;
		}
	return 0;
}

/* Room t[] (entries by room) past a namespace's share of max[]. */
static bool past_share(const struct svcsync *ss, const size_t *t, const size_t *max)
{
	bool past = false;

	for (int k = 0; k < RM_N; k++)
		past = past || t[k] * 100 > max[k] * ss->share;
	return past;
}

/* One frontend of nbe backends into t[] (a backend counted per slot). */
static void fe_count(size_t *t, size_t nbe, uint8_t flags)
{
	t[RM_SVC]++, t[RM_REVNAT]++, t[RM_IDS]++;
	t[RM_SLOT] += nbe;
	t[RM_BE] += nbe;
	t[RM_MAGLEV] += !!(flags & XCNI_SVC_F_MAGLEV);
}

/*
 * Whether some namespace may be past its share with plan p: every frontend
 * held and added together past one namespace's share (a full apply then
 * judges it exactly: room_close); a delta, the namespace of each changed
 * frontend, its held ones and what the delta brings, a backend counted per
 * slot (more, never less: past means the whole list is judged).
 */
static bool share_binds(const struct svcsync *ss, const struct plan *p, bool full)
{
	size_t used[RM_N], add[RM_N], max[RM_N], t[RM_N];
	bool past = false;

	room_of(ss, p, used, add, max);
	for (int k = 0; k < RM_N; k++)
		t[k] = used[k] + add[k];
	if (ss->share >= 100 || !past_share(ss, t, max) || full)
		return ss->share < 100 && past_share(ss, t, max);
	for (size_t i = 0; i < p->n && !past; i++) {
		const char *ns = p->specs[i].who.ns;

		if (!p->w[i].changed)
			continue;
		memset(t, 0, sizeof(t));
		for (size_t f = 0; f < ss->nfe; f++)
			if (!strncmp(ss->fe[f].who.ns, ns, sizeof(ss->fe[f].who.ns)))
				fe_count(t, ss->fe[f].v.count + ss->fe[f].v.count_term,
					 ss->fe[f].v.flags);
		for (size_t j = 0; j < p->n; j++)
			if (p->w[j].changed && !strncmp(p->specs[j].who.ns, ns, sizeof(ss->fe->who.ns)))
				fe_count(t, p->specs[j].nbe, p->specs[j].flags);
		past = past_share(ss, t, max);
	}
	return past;
}

void svcsync_set_ns_share(struct svcsync *ss, unsigned int percent)
{
	ss->share = percent < 1 ? 1 : percent > 100 ? 100 : percent;
}

const struct svcsync_closed *svcsync_closed(const struct svcsync *ss, size_t *n)
{
	*n = ss->nclosed;
	return ss->closed;
}

/*
 * The plan for specs (n of them), from nothing: the books forget what an
 * earlier plan marked seen.
 */
static int plan_make(struct svcsync *ss, struct plan *p, const struct svc_spec *specs, size_t n,
		     char *msg, size_t msglen)
{
	int err;

	for (size_t i = 0; i < ss->nfe; i++)
		ss->fe[i].seen = false;
	plan_free(p);
	*p = (struct plan){ .specs = specs, .n = n, .w = calloc(n ? n : 1, sizeof(*p->w)) };
	if (!p->w)
		return -ENOMEM;
	if ((err = plan_backends(ss, p)) || (err = plan_frontends(ss, p, msg, msglen)))
		return err;
	return plan_room(ss, p, msg, msglen);
}

/* The room writer's records (mapw_room_fit): a frontend's namespace and entries by room. */
struct fe_room {
	const char *ns;
	size_t need[RM_N];
	bool held; /* in the maps, unchanged: never closed */
};

static const char *fe_room_ns(const void *rec)
{
	return ((const struct fe_room *)rec)->ns;
}

static void fe_room_need(const void *rec, size_t *need)
{
	memcpy(need, ((const struct fe_room *)rec)->need, sizeof(((struct fe_room *)0)->need));
}

static bool fe_room_held(const void *rec)
{
	return ((const struct fe_room *)rec)->held;
}

/* A backend named by frontend fe (first-named claims it: shared ones counted once). */
struct be_claim {
	const struct svc_be_spec *b;
	size_t fe;
};

static int be_claim_cmp(const void *a, const void *b)
{
	const struct be_claim *x = a, *y = b;
	int c = memcmp(x->b, y->b, BE_KEY_LEN);

	return c ? c : (x->fe > y->fe) - (x->fe < y->fe);
}

/*
 * Each frontend's entries by room into r[]: adds, what its change adds
 * beside what the maps hold (an unchanged one nothing); else all it takes
 * (the content wanted). A backend counted once, at the first frontend
 * naming it (adds: a new one). 0 or -ENOMEM.
 */
static int fe_rooms(const struct plan *p, struct fe_room *r, bool adds)
{
	size_t nb = 0, off = 0;
	struct be_claim *c;

	for (size_t i = 0; i < p->n; i++)
		nb += p->specs[i].nbe;
	if (!(c = malloc((nb ? nb : 1) * sizeof(*c))))
		return -ENOMEM;
	nb = 0;
	for (size_t i = 0; i < p->n; off += p->specs[i].nbe, i++) {
		const struct want *w = &p->w[i];

		r[i] = (struct fe_room){ .ns = p->specs[i].who.ns, .held = !w->changed };
		if (adds && !w->changed)
			continue;
		r[i].need[RM_SVC] = !adds || w->cur < 0;
		r[i].need[RM_REVNAT] = r[i].need[RM_IDS] = !adds || w->new_id;
		r[i].need[RM_SLOT] = w->spec->nbe;
		r[i].need[RM_MAGLEV] = !!(w->spec->flags & XCNI_SVC_F_MAGLEV);
		for (size_t b = 0; b < w->spec->nbe; b++)
			if (!adds || !p->bid[off + b])
				c[nb++] = (struct be_claim){ &w->spec->be[b], i };
	}
	qsort(c, nb, sizeof(*c), be_claim_cmp);
	for (size_t k = 0; k < nb; k++)
		r[c[k].fe].need[RM_BE] += !k || memcmp(c[k - 1].b, c[k].b, BE_KEY_LEN);
	free(c);
	return 0;
}

/*
 * A full apply that does not fit or takes a namespace past its share (never
 * a cluster-wide stop): the room writer's judgement (mapw_room_fit, closing
 * per namespace), as the policy maps': first on the content wanted alone,
 * each namespace within its share (its held frontends counted first), then
 * what the changes add beside what stays until cleanup. Only new or changed
 * frontends are ever closed (held): a Service that works is not broken by a
 * change, its own namespace's or another's, that does not fit (svc-netns
 * "closed: the first Service (unchanged) still works"); the share bounds
 * what a namespace holds, so its running Services cannot keep a newcomer
 * within its own share out. A closed
 * namespace's changed ones are not written, a held one removed: its old
 * backends may be gone pods. Planned again
 * after each; *kept holds the specs that stay (the caller frees it),
 * ss->closed names the closed namespaces with the room they most take that
 * is over. 0, -ENOSPC (what is held alone is over) or -ENOMEM.
 */
static int room_close(struct svcsync *ss, struct plan *p, struct svc_spec **kept, char *msg,
		      size_t msglen)
{
	const struct svc_spec *specs = p->specs;
	size_t n = p->n, nclosed = 0, used[RM_N], add[RM_N], max[RM_N];
	struct svcsync_closed *cl = calloc(n ? n : 1, sizeof(*cl));
	size_t (*cn)[RM_N] = calloc(n ? n : 1, sizeof(*cn)), *orig = calloc(n ? n : 1, sizeof(*orig));
	struct fe_room *r = calloc(n ? n : 1, sizeof(*r));
	bool *out = calloc(n ? n : 1, sizeof(*out)), *keep = calloc(n ? n : 1, sizeof(*keep));
	struct mapw_room j = { .nmaps = RM_N, .maxv = max, .owner_of = fe_room_ns,
			       .need_of = fe_room_need, .held = fe_room_held,
			       .capped = calloc(n ? n : 1, sizeof(bool)) };
	int err = -ENOMEM;

	*kept = calloc(n ? n : 1, sizeof(**kept));
	if (!cl || !cn || !orig || !r || !out || !keep || !*kept || !j.capped)
		goto done;
	for (size_t i = 0; i < n; i++)
		orig[i] = i;
	for (bool adds = false;; adds = true) {
		size_t nk = 0, was = nclosed, c;

		room_of(ss, p, used, add, max);
		j.used = adds ? used : NULL;
		j.cap = adds ? 0 : ss->share; /* the share: on the content wanted */
		if ((err = fe_rooms(p, r, adds)) || (err = mapw_room_fit(&j, r, p->n, sizeof(*r), keep)))
			goto done;
		memset(add, 0, sizeof(add));
		for (size_t i = 0; i < p->n * RM_N; i++)
			add[i % RM_N] += r[i / RM_N].need[i % RM_N];
		for (size_t i = 0; i < p->n; i++) {
			if (keep[i])
				continue;
			out[orig[i]] = true;
			for (c = 0; c < nclosed && strcmp(cl[c].ns, r[i].ns); c++)
				;
			if (c == nclosed)
				snprintf(cl[nclosed++].ns, sizeof(cl->ns), "%s", r[i].ns);
			cl[c].frontends++;
			cl[c].share = cl[c].share || j.capped[i];
			for (int k = 0; k < RM_N; k++)
				cn[c][k] += r[i].need[k];
		}
		/* Each named by the room over it (its share: any) it takes the largest part of. */
		for (c = was; c < nclosed; c++) {
			int map = -1;

			for (int k = 0; k < RM_N; k++)
				if ((cl[c].share || (adds ? used[k] : 0) + add[k] > max[k]) && cn[c][k] &&
				    (map < 0 || (uint64_t)cn[c][k] * max[map] >
							(uint64_t)cn[c][map] * max[k]))
					map = k;
			map = map < 0 ? RM_SVC : map;
			cl[c].map = rm_name[map];
			cl[c].fix = cl[c].share ? "raise --service-ns-share=PCT" : rm_fix[map];
			cl[c].need = cn[c][map];
		}
		for (size_t i = 0; i < n; i++)
			if (!out[i]) {
				orig[nk] = i;
				(*kept)[nk++] = specs[i];
			}
		err = plan_make(ss, p, *kept, nk, msg, msglen);
		if (err != -ENOSPC || (adds && was == nclosed))
			break;
	}
done:
	if (!err) {
		free(ss->closed);
		ss->closed = cl;
		ss->nclosed = nclosed;
		cl = NULL;
		msg[0] = '\0';
	}
	free(cl);
	free(cn);
	free(orig);
	free(r);
	free(out);
	free(keep);
	free(j.capped);
	return err;
}

/* Every buffer the writes need, room for new frontends, the entries the changed ones get. */
static int plan_entries(struct svcsync *ss, struct plan *p, char *msg, size_t msglen)
{
	struct batch *bt = &p->bt;
	struct want *w = p->w;
	size_t i, n = p->n;

	bt->slot_k = calloc(p->new_slots ? p->new_slots : 1, sizeof(*bt->slot_k));
	bt->slot_v = calloc(p->new_slots ? p->new_slots : 1, sizeof(*bt->slot_v));
	bt->rn_k = calloc(p->new_ids ? p->new_ids : 1, sizeof(*bt->rn_k));
	bt->rn_v = calloc(p->new_ids ? p->new_ids : 1, sizeof(*bt->rn_v));
	bt->nm_k = calloc(p->new_ids ? p->new_ids : 1, sizeof(*bt->nm_k));
	bt->nm_v = calloc(p->new_ids ? p->new_ids : 1, sizeof(*bt->nm_v));
	bt->svc_k = calloc(p->nchanged ? p->nchanged : 1, sizeof(*bt->svc_k));
	bt->svc_v = calloc(p->nchanged ? p->nchanged : 1, sizeof(*bt->svc_v));
	if (!bt->slot_k || !bt->slot_v || !bt->rn_k || !bt->rn_v || !bt->nm_k || !bt->nm_v ||
	    !bt->svc_k || !bt->svc_v)
		return -ENOMEM;
	if (p->new_fe) {
		struct fe_ent *nf = realloc(ss->fe, (ss->nfe + p->new_fe) * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		ss->fe = nf;
	}
	/* The entries the changed frontends get: the other version, or a new id. */
	for (i = 0; i < n; i++) {
		const struct svc_spec *s = w[i].spec;
		struct xcni_svc *v = &w[i].v;

		if (!w[i].changed)
			continue;
		if (!w[i].new_id) {
			*v = ss->fe[w[i].cur].v;
			v->version ^= 1;
		} else {
			struct xcni_revnat *rn = &bt->rn_v[bt->nrn];

			/* A renamed frontend's entry keeps counting its revisions. */
			v->revision = w[i].cur >= 0 ? ss->fe[w[i].cur].v.revision : 0;

			v->id = svc_id_take(ss);
			if (!v->id) {
				snprintf(msg, msglen, "%s: no service id left", s->name);
				return -ENOSPC;
			}
			v->rev_nat = (__u16)v->id;
			bt->nm_k[bt->nrn] = v->id;
			bt->nm_v[bt->nrn] = s->who;
			bt->rn_k[bt->nrn++] = v->rev_nat;
			rn->port = s->key.port;
			rn->family = s->key.family;
			memcpy(rn->addr, s->key.addr, sizeof(rn->addr));
		}
		v->count = w[i].count;
		v->count_term = w[i].term;
		v->flags = s->flags;
		v->affinity_s = s->affinity_s;
		v->revision++;
		for (size_t b = 0; b < s->nbe; b++) {
			bt->slot_k[bt->nslot] = (struct xcni_svcslot_key){ .svc_id = v->id,
									    .slot = (__u16)b,
									    .version = v->version };
			bt->slot_v[bt->nslot++] = w[i].ids[b];
		}
		bt->svc_k[bt->nsvc] = s->key;
		bt->svc_v[bt->nsvc++] = *v;
	}
	return 0;
}

/* 1. Backends: states that changed, and new ones. */
static int write_backends(struct svcsync *ss, struct plan *p, struct svcsync_stats *st)
{
	struct batch *bt = &p->bt;
	size_t i, done, nold;
	int err;

	for (i = 0; i < p->nstate; i++)
		bt->be_w[i] = bt->be_v[i].b;
	for (i = 0; i < p->new_be; i++) {
		bt->be_k[p->nstate + i] = p->added[i].id;
		bt->be_w[p->nstate + i] = p->added[i].b;
	}
	err = mapw_put_many(ss->fd_be, bt->be_k, sizeof(*bt->be_k), bt->be_w,
			    sizeof(*bt->be_w), p->nstate + p->new_be, NULL, &done);
	st->backends_written += done;
	if (err)
		return err;
	for (i = 0; i < p->nstate; i++)
		be_by_id(ss, bt->be_k[i])->b.state = bt->be_w[i].state;
	if (p->new_be) {
		struct be_ent *nb = realloc(ss->be, (ss->nbe + p->new_be) * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		ss->be = nb;
		memcpy(ss->be + ss->nbe, p->added, p->new_be * sizeof(*p->added));
		nold = ss->nbe;
		ss->nbe += p->new_be;
		ss->next_be_id += (uint32_t)p->new_be;
		return be_index_add(ss, nold);
	}
	return 0;
}

/*
 * 2. Changed frontends: every slot and Maglev table under the other version
 * and the new frontends' reverse-NAT entries, then the flips, so no frontend
 * names a slot that is not there yet.
 */
static int write_frontends(struct svcsync *ss, struct plan *p, struct svcsync_stats *st)
{
	struct batch *bt = &p->bt;
	struct want *w = p->w;
	size_t i, n = p->n, done;
	int err;

	err = mapw_put_many(ss->fd_slot, bt->slot_k, sizeof(*bt->slot_k), bt->slot_v,
			    sizeof(*bt->slot_v), bt->nslot, NULL, &done);
	ss->n_slot += done;
	st->slots_written += done;
	if (err)
		return err;
	/* Their backends by key (DSR's check), before the flips as the slots. */
	if ((err = svcbe_write(ss, w, n, bt->nslot)))
		return err;
	for (i = 0; i < n; i++) {
		if (!w[i].changed || !(w[i].spec->flags & XCNI_SVC_F_MAGLEV))
			continue;
		/* New flows' set: the active backends, else the terminating ones. */
		if ((err = maglev_install(ss, &w[i].v, w[i].ids, w[i].count ? w[i].count : w[i].term)))
			return err;
		ss->n_maglev++;
		st->maglev_written++;
	}
	/* The names first: whatever reads an id (events, ct) finds its Service. */
	err = mapw_put_many(ss->fd_name, bt->nm_k, sizeof(*bt->nm_k), bt->nm_v,
			    sizeof(*bt->nm_v), bt->nrn, NULL, &done);
	if (err)
		return err;
	err = mapw_put_many(ss->fd_revnat, bt->rn_k, sizeof(*bt->rn_k), bt->rn_v,
			    sizeof(*bt->rn_v), bt->nrn, NULL, &done);
	ss->n_revnat += done;
	if (err)
		return err;
	err = mapw_put_many(ss->fd_svc, bt->svc_k, sizeof(*bt->svc_k), bt->svc_v,
			    sizeof(*bt->svc_v), bt->nsvc, NULL, &done);
	st->svcs_changed += done;
	return err;
}

/* The books: references move from the old ids to the new; new frontends appended. */
static int books_update(struct svcsync *ss, struct plan *p)
{
	struct want *w = p->w;
	size_t i, n = p->n, nold;
	int err;

	nold = ss->nfe;
	for (i = 0; i < n; i++) {
		const struct svc_spec *s = w[i].spec;

		if (!w[i].changed)
			continue;
		for (size_t b = 0; b < s->nbe; b++)
			be_by_id(ss, w[i].ids[b])->refs++;
		if (w[i].cur >= 0 && w[i].new_id) {
			struct fe_ent *f = &ss->fe[w[i].cur];

			/* Renamed: its old id goes as a gone frontend's does. */
			if ((err = fe_retire(ss, f)))
				return err;
			f->old_pending = false;
			f->ids = w[i].ids;
			f->v = w[i].v;
			f->who = s->who;
		} else if (w[i].cur >= 0) {
			struct fe_ent *f = &ss->fe[w[i].cur];

			for (uint32_t b = 0; b < (uint32_t)f->v.count + f->v.count_term; b++) {
				struct be_ent *e = be_by_id(ss, f->ids[b]);
				struct flush *nf;
				bool kept = false;

				if (e && !--e->refs)
					ss->unref++;
				for (size_t k = 0; k < s->nbe && !kept; k++)
					kept = w[i].ids[k] == f->ids[b];
				if (!kept && (err = svcbe_queue(ss, f->v.id, &f->ids[b], 1)))
					return err;
				if (kept || !e || s->key.proto != IPPROTO_UDP)
					continue;
				if (!(nf = realloc(p->fl, (p->nfl + 1) * sizeof(*nf))))
					return -ENOMEM;
				p->fl = nf;
				p->fl[p->nfl++] = (struct flush){ .rev_nat = f->v.rev_nat,
								  .be_id = e->id, .b = e->b };
			}
			f->old_pending = true;
			f->old_version = f->v.version;
			f->old_n = (uint32_t)f->v.count + f->v.count_term;
			f->old_maglev = f->v.flags & XCNI_SVC_F_MAGLEV;
			free(f->ids);
			f->ids = w[i].ids;
			f->v = w[i].v;
		} else {
			ss->fe[ss->nfe++] = (struct fe_ent){ .key = s->key, .v = w[i].v, .who = s->who,
							     .ids = w[i].ids, .seen = true };
		}
		w[i].ids = NULL;
	}
	if (ss->nfe != nold)
		qsort(ss->fe, ss->nfe, sizeof(*ss->fe), fe_cmp);
	return 0;
}

/* 3. Frontends that are gone: their entry now, the rest at cleanup. */
static int retire_gone(struct svcsync *ss, struct plan *p, const struct xcni_svc_key *del,
		       size_t ndel, bool full, struct svcsync_stats *st)
{
	struct batch *bt = &p->bt;
	size_t i, kept = 0, ngone = 0;
	int err = 0;

	for (i = 0; !full && i < ndel; i++) {
		struct fe_ent *f = fe_find(ss, &del[i]);

		/* One the delta also puts stays (a writer's input is one or the other). */
		if (f && !f->seen && !f->drop) {
			f->drop = true;
			ngone++;
		}
	}
	for (i = 0; full && i < ss->nfe; i++)
		ngone += !ss->fe[i].seen;
	if (!ngone)
		return 0;
	free(bt->svc_k);
	bt->svc_k = calloc(ngone ? ngone : 1, sizeof(*bt->svc_k));
	if (!bt->svc_k)
		return -ENOMEM;
	bt->nsvc = 0;
	for (i = 0; i < ss->nfe; i++) {
		struct fe_ent *f = &ss->fe[i];

		if (full ? f->seen : !f->drop) {
			ss->fe[kept++] = *f;
			continue;
		}
		if ((err = fe_retire(ss, f))) {
			/* The rest stay in the books, gone ones included: the
			 * next apply retires them. */
			memmove(&ss->fe[kept], f, (ss->nfe - i) * sizeof(*f));
			kept += ss->nfe - i;
			break;
		}
		bt->svc_k[bt->nsvc++] = f->key;
		st->svcs_removed++;
	}
	ss->nfe = kept;
	mapw_del_many(ss->fd_svc, bt->svc_k, sizeof(*bt->svc_k), bt->nsvc);
	return err;
}

/*
 * full: specs are every frontend, the rest go (del unused); else specs are
 * the frontends to be as given and del the ones to go, the rest untouched.
 */
static int apply(struct svcsync *ss, const struct svc_spec *specs, size_t n,
		 const struct xcni_svc_key *del, size_t ndel, bool full, struct svcsync_stats *st,
		 char *msg, size_t msglen)
{
	struct plan p = { .specs = specs, .n = n, .w = calloc(n ? n : 1, sizeof(*p.w)) };
	struct svc_spec *kept = NULL;
	size_t i;
	int err;

	if (!p.w)
		return -ENOMEM;
	err = plan_backends(ss, &p);
	if (!err)
		err = plan_frontends(ss, &p, msg, msglen);
	if (!err)
		err = plan_room(ss, &p, msg, msglen);
	if (!err && share_binds(ss, &p, full)) {
		snprintf(msg, msglen, "a namespace may be past its share of the Service maps");
		err = -ENOSPC;
	}
	/* Judged per namespace over every frontend (a delta's caller applies them all). */
	if (err == -ENOSPC && full)
		err = room_close(ss, &p, &kept, msg, msglen);
	else if (!err && full)
		ss->nclosed = 0;
	if (err || (err = plan_entries(ss, &p, msg, msglen)) ||
	    (err = write_backends(ss, &p, st)) || (err = write_frontends(ss, &p, st)) ||
	    (err = books_update(ss, &p)) || (err = retire_gone(ss, &p, del, ndel, full, st)))
		goto out;
	/* After the flips: a flushed flow's next datagram picks from the new set. */
	err = ct_flush(ss, p.fl, p.nfl, st);
out:
	/* No frontend stays seen or dropped: the next apply starts clean. A
	 * delta's own, found again (10k frontends, one put: not a walk of all). */
	if (full || err) {
		for (i = 0; i < ss->nfe; i++)
			ss->fe[i].seen = ss->fe[i].drop = false;
	} else {
		for (i = 0; i < n; i++) {
			struct fe_ent *f = fe_find(ss, &specs[i].key);

			if (f)
				f->seen = false;
		}
	}
	plan_free(&p);
	free(kept);
	return err;
}

int svcsync_apply(struct svcsync *ss, const struct svc_spec *specs, size_t n,
		  struct svcsync_stats *st, char *msg, size_t msglen)
{
	return apply(ss, specs, n, NULL, 0, true, st, msg, msglen);
}

int svcsync_apply_delta(struct svcsync *ss, const struct svc_spec *put, size_t nput,
			const struct xcni_svc_key *del, size_t ndel, struct svcsync_stats *st,
			char *msg, size_t msglen)
{
	return apply(ss, put, nput, del, ndel, false, st, msg, msglen);
}

/* Appends the slot keys (and the Maglev key) of one version to the delete lists. */
static void del_version(struct xcni_svcslot_key *sk, size_t *nsk, __u32 *mk, size_t *nmk,
			uint32_t id, uint8_t version, uint32_t nslots, bool maglev)
{
	for (uint32_t s = 0; s < nslots; s++)
		sk[(*nsk)++] = (struct xcni_svcslot_key){ .svc_id = id, .slot = (__u16)s,
							  .version = version };
	if (maglev)
		mk[(*nmk)++] = xcni_maglev_key(id, version);
}

/*
 * The queued xcni_svcbe entries, but those a live version names again (a
 * backend taken away, then back, before this cleanup). 0 or -ENOMEM.
 */
static int svcbe_cleanup(struct svcsync *ss)
{
	uint32_t *by_id;
	size_t n = 0;

	if (!ss->nsvcbe_del)
		return 0;
	by_id = calloc(SVC_IDS, sizeof(*by_id));
	if (!by_id)
		return -ENOMEM;
	for (size_t i = 0; i < ss->nfe; i++)
		if (ss->fe[i].v.id < SVC_IDS && ss->fe[i].ids)
			by_id[ss->fe[i].v.id] = (uint32_t)i + 1;
	for (size_t i = 0; i < ss->nsvcbe_del; i++) {
		const struct xcni_svcbe_key *k = &ss->svcbe_del[i];
		struct xcni_backend probe = { .port = k->port, .family = k->family };
		const struct fe_ent *f;
		const struct be_ent *e;
		bool live = false;

		memcpy(probe.addr, k->addr, sizeof(probe.addr));
		if (k->svc_id < SVC_IDS && by_id[k->svc_id] && (e = be_find(ss, &probe))) {
			f = &ss->fe[by_id[k->svc_id] - 1];
			for (uint32_t b = 0; b < (uint32_t)f->v.count + f->v.count_term && !live; b++)
				live = f->ids[b] == e->id;
		}
		if (!live)
			ss->svcbe_del[n++] = *k;
	}
	mapw_del_many(ss->fd_svcbe, ss->svcbe_del, sizeof(*ss->svcbe_del), n);
	ss->nsvcbe_del = 0;
	free(by_id);
	return 0;
}

int svcsync_cleanup(struct svcsync *ss, struct svcsync_stats *st)
{
	size_t i, kept = 0, nsk = 0, nmk = 0, nrn = 0, nbk = 0, cap = 0, ncap = 0, d;
	struct xcni_svcslot_key *sk = NULL;
	uint32_t *remap = NULL, *bk = NULL;
	__u32 *mk = NULL;
	__u16 *rn = NULL;
	__u32 *nm = NULL;
	uint8_t *held = NULL;
	int err = -ENOMEM;

	for (i = 0; i < ss->nfe; i++)
		if (ss->fe[i].old_pending) {
			cap += ss->fe[i].old_n;
			ncap++;
		}
	for (i = 0; i < ss->ngone; i++)
		cap += ss->gone[i].n;
	ncap += ss->ngone;
	sk = calloc(cap ? cap : 1, sizeof(*sk));
	mk = calloc(ncap ? ncap : 1, sizeof(*mk));
	rn = calloc(ss->ngone ? ss->ngone : 1, sizeof(*rn));
	nm = calloc(ss->ngone ? ss->ngone : 1, sizeof(*nm));
	held = calloc(SVC_IDS / 8, 1);
	if (!sk || !mk || !rn || !nm || !held)
		goto out;
	for (i = 0; i < ss->nfe; i++) {
		struct fe_ent *f = &ss->fe[i];

		if (f->v.id < SVC_IDS)
			held[f->v.id / 8] |= (uint8_t)(1u << (f->v.id % 8));
		if (!f->old_pending)
			continue;
		del_version(sk, &nsk, mk, &nmk, f->v.id, f->old_version, f->old_n, f->old_maglev);
		f->old_pending = false;
	}
	for (i = 0; i < ss->ngone; i++) {
		uint32_t id = ss->gone[i].id;

		del_version(sk, &nsk, mk, &nmk, id, ss->gone[i].version, ss->gone[i].n,
			    ss->gone[i].maglev);
		/* An id is free once no frontend holds it (a gone one may be back under it). */
		if (id < SVC_IDS && !(held[id / 8] & (1u << (id % 8))) && svc_id_used(ss, id)) {
			nm[nrn] = id;
			rn[nrn++] = (__u16)id;
			svc_id_set(ss, id, false);
		}
	}
	ss->ngone = 0;
	if (svcbe_cleanup(ss))
		goto out;
	d = mapw_del_many(ss->fd_slot, sk, sizeof(*sk), nsk);
	ss->n_slot -= d;
	st->slots_deleted += d;
	ss->n_maglev -= mapw_del_many(ss->fd_maglev, mk, sizeof(*mk), nmk);
	ss->n_revnat -= mapw_del_many(ss->fd_revnat, rn, sizeof(*rn), nrn);
	mapw_del_many(ss->fd_name, nm, sizeof(*nm), nrn);
	/* Backends no frontend names; the key index kept in order, renumbered
	 * (100k backends: only when one lost its last frontend). */
	if (!ss->unref) {
		err = 0;
		goto out;
	}
	remap = calloc(ss->nbe ? ss->nbe : 1, sizeof(*remap));
	bk = calloc(ss->nbe ? ss->nbe : 1, sizeof(*bk));
	if (!remap || !bk)
		goto out;
	ss->unref = 0;
	for (i = 0; i < ss->nbe; i++) {
		if (!ss->be[i].refs) {
			bk[nbk++] = ss->be[i].id;
			remap[i] = UINT32_MAX;
			continue;
		}
		remap[i] = (uint32_t)kept;
		ss->be[kept++] = ss->be[i];
	}
	st->backends_deleted += mapw_del_many(ss->fd_be, bk, sizeof(*bk), nbk);
	for (i = 0, d = 0; i < ss->nbe; i++)
		if (remap[ss->by_key[i]] != UINT32_MAX)
			ss->by_key[d++] = remap[ss->by_key[i]];
	ss->nbe = kept;
	err = 0;
out:
	free(sk);
	free(mk);
	free(rn);
	free(nm);
	free(held);
	free(remap);
	free(bk);
	return err;
}
