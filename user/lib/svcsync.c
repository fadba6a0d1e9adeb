// SPDX-License-Identifier: Apache-2.0
/*
 * The Service map writer (see svcsync.h). In memory: every frontend the maps
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
 *
 * A frontend whose name (Service, port name) changes keeps its key but gets
 * a new id, as if it were new; its old id goes as a gone frontend's does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpfpin.h"
#include "log.h"
#include "maglev.h"
#include "svcsync.h"

#define BE_KEY_LEN offsetof(struct xcni_backend, state) /* address, port, family */
#define SVC_IDS 65536 /* service id = its rev_nat index: a __u16, 0 unused */

struct be_ent {
	struct xcni_backend b;
	uint32_t id;
	uint32_t refs; /* frontends whose live slots name it */
};

struct fe_ent {
	struct xcni_svc_key key;
	struct xcni_svc v; /* as in xcni_svc */
	struct xcni_svcname who; /* as in xcni_svcname under v.id */
	uint32_t *ids; /* v.count + v.count_term backend ids, as in the live slots */
	bool seen; /* in the list being applied */
	/* The version this apply replaced, deleted by cleanup. */
	bool old_pending;
	uint8_t old_version;
	uint32_t old_n;
	bool old_maglev;
};

/* A frontend that is gone, its entries awaiting cleanup. */
struct gone {
	uint32_t id;
	uint8_t version;
	uint32_t n;
	bool maglev;
};

struct svcsync {
	int fd_svc, fd_slot, fd_be, fd_revnat, fd_maglev, fd_name;
	size_t max_svc, max_slot, max_be, max_revnat, max_maglev;
	size_t n_slot, n_maglev, n_revnat; /* entries in those maps */
	struct fe_ent *fe; /* sorted by key */
	size_t nfe;
	struct be_ent *be; /* sorted by id (ids are handed out in increasing order) */
	uint32_t *by_key; /* indexes into be, sorted by BE_KEY_LEN bytes */
	size_t nbe;
	struct gone *gone;
	size_t ngone;
	uint32_t next_be_id;
	uint8_t svc_used[SVC_IDS / 8];
};

static int fe_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct fe_ent *)a)->key, &((const struct fe_ent *)b)->key,
		      sizeof(struct xcni_svc_key));
}

static struct fe_ent *fe_find(struct svcsync *ss, const struct xcni_svc_key *k)
{
	struct fe_ent probe = { .key = *k };

	return bsearch(&probe, ss->fe, ss->nfe, sizeof(*ss->fe), fe_cmp);
}

static int be_id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct be_ent *)a)->id, y = ((const struct be_ent *)b)->id;

	return x < y ? -1 : x > y;
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

static struct be_ent *be_by_id(struct svcsync *ss, uint32_t id)
{
	struct be_ent probe = { .id = id };

	return bsearch(&probe, ss->be, ss->nbe, sizeof(*ss->be), be_id_cmp);
}

static int be_key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct be_ent *)a)->b, &((const struct be_ent *)b)->b, BE_KEY_LEN);
}

static const struct be_ent *key_base;
static int key_idx_cmp(const void *a, const void *b)
{
	return memcmp(&key_base[*(const uint32_t *)a].b, &key_base[*(const uint32_t *)b].b,
		      BE_KEY_LEN);
}

/* The key index again, after backends were added or taken away. */
static int be_reindex(struct svcsync *ss)
{
	uint32_t *k = realloc(ss->by_key, (ss->nbe ? ss->nbe : 1) * sizeof(*k));

	if (!k)
		return -ENOMEM;
	ss->by_key = k;
	for (size_t i = 0; i < ss->nbe; i++)
		k[i] = (uint32_t)i;
	key_base = ss->be;
	qsort(k, ss->nbe, sizeof(*k), key_idx_cmp);
	return 0;
}

static bool svc_id_used(const struct svcsync *ss, uint32_t id)
{
	return ss->svc_used[id / 8] & (1u << (id % 8));
}

static void svc_id_set(struct svcsync *ss, uint32_t id, bool used)
{
	if (used)
		ss->svc_used[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		ss->svc_used[id / 8] &= (uint8_t)~(1u << (id % 8));
}

/* Every key of a map, collected before anything is deleted. */
static int keys_of(int fd, size_t ksz, unsigned char **out, size_t *n)
{
	size_t cap = 256;
	unsigned char *keys = malloc(cap * ksz), *prev = NULL;

	*n = 0;
	if (!keys)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, prev, keys + *n * ksz) == 0) {
		prev = keys + *n * ksz;
		if (++*n == cap) {
			unsigned char *nk = realloc(keys, (cap *= 2) * ksz);

			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
			prev = keys + (*n - 1) * ksz;
		}
	}
	*out = keys;
	return 0;
}

/* by_id[service id]: 1 + its index in fe, 0 for none (built by load). */
static bool slot_live(struct svcsync *ss, const uint32_t *by_id, const struct xcni_svcslot_key *k)
{
	const struct fe_ent *f;

	if (k->svc_id >= SVC_IDS || !by_id[k->svc_id])
		return false;
	f = &ss->fe[by_id[k->svc_id] - 1];
	return k->version == f->v.version && k->slot < f->v.count + f->v.count_term;
}

static bool maglev_live(struct svcsync *ss, const uint32_t *by_id, uint32_t key)
{
	const struct fe_ent *f;

	if ((key >> 1) >= SVC_IDS || !by_id[key >> 1])
		return false;
	f = &ss->fe[by_id[key >> 1] - 1];
	return (f->v.flags & XCNI_SVC_F_MAGLEV) && key == xcni_maglev_key(f->v.id, f->v.version);
}

/* What the maps hold, and the leftovers of an update cut short swept away. */
static int load(struct svcsync *ss)
{
	unsigned char *keys = NULL;
	uint32_t *by_id = NULL;
	size_t n, i;
	int err;

	if ((err = keys_of(ss->fd_svc, sizeof(struct xcni_svc_key), &keys, &n)))
		return err;
	ss->fe = calloc(n ? n : 1, sizeof(*ss->fe));
	if (!ss->fe) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct fe_ent *f = &ss->fe[ss->nfe];

		memcpy(&f->key, keys + i * sizeof(struct xcni_svc_key), sizeof(f->key));
		if (bpf_map_lookup_elem(ss->fd_svc, &f->key, &f->v))
			continue;
		f->ids = calloc((size_t)f->v.count + f->v.count_term + 1, sizeof(*f->ids));
		if (!f->ids) {
			free(keys);
			return -ENOMEM;
		}
		for (uint32_t s = 0; s < (uint32_t)f->v.count + f->v.count_term; s++) {
			struct xcni_svcslot_key sk = { .svc_id = f->v.id, .slot = (__u16)s,
						       .version = f->v.version };

			bpf_map_lookup_elem(ss->fd_slot, &sk, &f->ids[s]);
		}
		if (f->v.id < SVC_IDS)
			svc_id_set(ss, f->v.id, true);
		/* Maps from before names: "" until the frontend is next renamed. */
		if (bpf_map_lookup_elem(ss->fd_name, &f->v.id, &f->who))
			memset(&f->who, 0, sizeof(f->who));
		ss->nfe++;
	}
	free(keys);
	qsort(ss->fe, ss->nfe, sizeof(*ss->fe), fe_cmp);
	by_id = calloc(SVC_IDS, sizeof(*by_id));
	if (!by_id)
		return -ENOMEM;
	for (i = 0; i < ss->nfe; i++)
		if (ss->fe[i].v.id < SVC_IDS)
			by_id[ss->fe[i].v.id] = (uint32_t)i + 1;

	/* Slots and tables of no live version, reverse-NAT entries of no frontend. */
	if ((err = keys_of(ss->fd_slot, sizeof(struct xcni_svcslot_key), &keys, &n)))
		goto out;
	for (i = 0; i < n; i++) {
		struct xcni_svcslot_key *k = (void *)(keys + i * sizeof(*k));

		if (!slot_live(ss, by_id, k))
			bpf_map_delete_elem(ss->fd_slot, k);
		else
			ss->n_slot++;
	}
	free(keys);
	if ((err = keys_of(ss->fd_maglev, sizeof(__u32), &keys, &n)))
		goto out;
	for (i = 0; i < n; i++) {
		__u32 k;

		memcpy(&k, keys + i * sizeof(k), sizeof(k));
		if (!maglev_live(ss, by_id, k))
			bpf_map_delete_elem(ss->fd_maglev, &k);
		else
			ss->n_maglev++;
	}
	free(keys);
	if ((err = keys_of(ss->fd_revnat, sizeof(__u16), &keys, &n)))
		goto out;
	for (i = 0; i < n; i++) {
		__u16 k;

		memcpy(&k, keys + i * sizeof(k), sizeof(k));
		if (!svc_id_used(ss, k))
			bpf_map_delete_elem(ss->fd_revnat, &k);
		else
			ss->n_revnat++;
	}
	free(keys);
	if ((err = keys_of(ss->fd_name, sizeof(__u32), &keys, &n)))
		goto out;
	for (i = 0; i < n; i++) {
		__u32 k;

		memcpy(&k, keys + i * sizeof(k), sizeof(k));
		if (k >= SVC_IDS || !svc_id_used(ss, k))
			bpf_map_delete_elem(ss->fd_name, &k);
	}
	free(keys);

	/* Backends, counted by the frontends naming them; the rest go. */
	if ((err = keys_of(ss->fd_be, sizeof(__u32), &keys, &n)))
		goto out;
	ss->be = calloc(n ? n : 1, sizeof(*ss->be));
	if (!ss->be) {
		free(keys);
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct be_ent *b = &ss->be[ss->nbe];

		memcpy(&b->id, keys + i * sizeof(b->id), sizeof(b->id));
		if (!bpf_map_lookup_elem(ss->fd_be, &b->id, &b->b))
			ss->nbe++;
	}
	free(keys);
	qsort(ss->be, ss->nbe, sizeof(*ss->be), be_id_cmp);
	for (size_t f = 0; f < ss->nfe; f++)
		for (uint32_t s = 0; s < (uint32_t)ss->fe[f].v.count + ss->fe[f].v.count_term; s++) {
			struct be_ent *b = be_by_id(ss, ss->fe[f].ids[s]);

			if (b)
				b->refs++;
		}
	ss->next_be_id = 1;
	for (i = 0, n = 0; i < ss->nbe; i++) {
		if (!ss->be[i].refs) {
			bpf_map_delete_elem(ss->fd_be, &ss->be[i].id);
			continue;
		}
		if (ss->be[i].id >= ss->next_be_id)
			ss->next_be_id = ss->be[i].id + 1;
		ss->be[n++] = ss->be[i];
	}
	ss->nbe = n;
	err = be_reindex(ss);
out:
	free(by_id);
	return err;
}

int svcsync_open(const char *pin_dir, struct svcsync **out)
{
	struct svcsync *ss = calloc(1, sizeof(*ss));
	int err;

	if (!ss)
		return -ENOMEM;
	ss->fd_svc = ss->fd_slot = ss->fd_be = ss->fd_revnat = ss->fd_maglev = ss->fd_name = -1;
	if ((err = ss->fd_svc = xcni_map_open_pinned(pin_dir, "xcni_svc", &ss->max_svc)) < 0 ||
	    (err = ss->fd_slot = xcni_map_open_pinned(pin_dir, "xcni_svcslot", &ss->max_slot)) < 0 ||
	    (err = ss->fd_be = xcni_map_open_pinned(pin_dir, "xcni_backend", &ss->max_be)) < 0 ||
	    (err = ss->fd_revnat = xcni_map_open_pinned(pin_dir, "xcni_revnat", &ss->max_revnat)) < 0 ||
	    (err = ss->fd_maglev = xcni_map_open_pinned(pin_dir, "xcni_maglev", &ss->max_maglev)) < 0 ||
	    (err = ss->fd_name = xcni_map_open_pinned(pin_dir, "xcni_svcname", NULL)) < 0 ||
	    (err = load(ss))) {
		svcsync_free(ss);
		return err;
	}
	/* Service ids are u16 reverse-NAT indexes; a map can hold no more. */
	if (ss->max_revnat > SVC_IDS - 1)
		ss->max_revnat = SVC_IDS - 1;
	*out = ss;
	return 0;
}

void svcsync_free(struct svcsync *ss)
{
	if (!ss)
		return;
	for (size_t i = 0; i < ss->nfe; i++)
		free(ss->fe[i].ids);
	free(ss->fe);
	free(ss->be);
	free(ss->by_key);
	free(ss->gone);
	if (ss->fd_name >= 0)
		close(ss->fd_name);
	if (ss->fd_maglev >= 0)
		close(ss->fd_maglev);
	if (ss->fd_revnat >= 0)
		close(ss->fd_revnat);
	if (ss->fd_be >= 0)
		close(ss->fd_be);
	if (ss->fd_slot >= 0)
		close(ss->fd_slot);
	if (ss->fd_svc >= 0)
		close(ss->fd_svc);
	free(ss);
}

/* A frontend as it should be: backend ids, active ones first (each group by address). */
struct want {
	const struct svc_spec *spec;
	struct fe_ent *cur; /* NULL: new */
	uint32_t *ids;
	uint16_t count, term;
	bool changed;
	bool new_id; /* new, or its name changed: a new service id */
};

static const struct svc_be_spec *sort_base;
static int idx_cmp(const void *a, const void *b)
{
	const struct svc_be_spec *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];

	if ((x->state != XCNI_BE_ACTIVE) != (y->state != XCNI_BE_ACTIVE))
		return x->state != XCNI_BE_ACTIVE ? 1 : -1;
	return memcmp(x, y, BE_KEY_LEN);
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
	if (fd >= 0)
		close(fd);
	free(table);
	free(mb);
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
	ss->gone[ss->ngone++] = (struct gone){ .id = f->v.id, .version = f->v.version,
					       .n = (uint32_t)f->v.count + f->v.count_term,
					       .maglev = f->v.flags & XCNI_SVC_F_MAGLEV };
	if (f->old_pending) /* replaced, then retired, before a cleanup */
		ss->gone[ss->ngone++] = (struct gone){ .id = f->v.id, .version = f->old_version,
						       .n = f->old_n, .maglev = f->old_maglev };
	for (uint32_t b = 0; b < (uint32_t)f->v.count + f->v.count_term; b++) {
		struct be_ent *e = be_by_id(ss, f->ids[b]);

		if (e)
			e->refs--;
	}
	free(f->ids);
	f->ids = NULL;
	return 0;
}

int svcsync_apply(struct svcsync *ss, const struct svc_spec *specs, size_t n,
		  struct svcsync_stats *st, char *msg, size_t msglen)
{
	struct want *w = calloc(n ? n : 1, sizeof(*w));
	size_t new_fe = 0, new_ids = 0, new_slots = 0, new_tables = 0, new_be = 0, cap_be = 0, i;
	struct be_ent *added = NULL;
	int err = 0;

	if (!w)
		return -ENOMEM;
	for (i = 0; i < ss->nfe; i++)
		ss->fe[i].seen = false;
	/* Backends no frontend names yet: collected, sorted, deduplicated, numbered. */
	for (i = 0; i < n; i++)
		cap_be += specs[i].nbe;
	added = calloc(cap_be ? cap_be : 1, sizeof(*added));
	if (!added) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		for (size_t b = 0; b < specs[i].nbe; b++) {
			const struct svc_be_spec *bs = &specs[i].be[b];
			struct be_ent *e;

			if (be_find(ss, bs))
				continue;
			e = &added[new_be++];
			memcpy(e->b.addr, bs->addr, sizeof(bs->addr));
			e->b.port = bs->port;
			e->b.family = bs->family;
			e->b.state = bs->state;
		}
	qsort(added, new_be, sizeof(*added), be_key_cmp);
	for (i = 0, cap_be = new_be, new_be = 0; i < cap_be; i++)
		if (!new_be || be_key_cmp(&added[new_be - 1], &added[i]))
			added[new_be++] = added[i];
	for (i = 0; i < new_be; i++)
		added[i].id = ss->next_be_id + (uint32_t)i;

	/* What each frontend should hold, and what that needs, before any write. */
	for (i = 0; i < n; i++) {
		const struct svc_spec *s = &specs[i];
		size_t *order = calloc(s->nbe ? s->nbe : 1, sizeof(*order));

		w[i].spec = s;
		w[i].cur = fe_find(ss, &s->key);
		if (w[i].cur && w[i].cur->seen) {
			snprintf(msg, msglen, "%s: the same frontend twice", s->name);
			free(order);
			err = -EINVAL;
			goto out;
		}
		if (s->nbe > UINT16_MAX || ((s->flags & XCNI_SVC_F_MAGLEV) && s->nbe >= XCNI_MAGLEV_M)) {
			snprintf(msg, msglen, "%s: %zu backends, a frontend holds at most %u", s->name,
				 s->nbe, (s->flags & XCNI_SVC_F_MAGLEV) ? XCNI_MAGLEV_M - 1 : UINT16_MAX);
			free(order);
			err = -EINVAL;
			goto out;
		}
		if (w[i].cur)
			w[i].cur->seen = true;
		w[i].ids = calloc(s->nbe ? s->nbe : 1, sizeof(*w[i].ids));
		if (!order || !w[i].ids) {
			free(order);
			err = -ENOMEM;
			goto out;
		}
		for (size_t b = 0; b < s->nbe; b++)
			order[b] = b;
		sort_base = s->be;
		qsort(order, s->nbe, sizeof(*order), idx_cmp);
		for (size_t b = 0; b < s->nbe; b++) {
			const struct svc_be_spec *bs = &s->be[order[b]];
			struct be_ent probe = {}, *e = be_find(ss, bs);

			if (!e) {
				memcpy(&probe.b, bs, BE_KEY_LEN);
				e = bsearch(&probe, added, new_be, sizeof(*added), be_key_cmp);
			}
			w[i].ids[b] = e->id;
			if (bs->state == XCNI_BE_ACTIVE)
				w[i].count++;
			else
				w[i].term++;
		}
		free(order);
		w[i].new_id = !w[i].cur || memcmp(&w[i].cur->who, &s->who, sizeof(s->who));
		w[i].changed = w[i].new_id || w[i].cur->v.flags != s->flags ||
			       w[i].cur->v.affinity_s != s->affinity_s ||
			       w[i].cur->v.count != w[i].count || w[i].cur->v.count_term != w[i].term ||
			       memcmp(w[i].cur->ids, w[i].ids, s->nbe * sizeof(*w[i].ids));
		if (!w[i].changed)
			continue;
		new_fe += !w[i].cur;
		new_ids += w[i].new_id;
		new_slots += s->nbe;
		new_tables += !!(s->flags & XCNI_SVC_F_MAGLEV);
	}
	/* Room next to what stays until cleanup; else nothing is written. */
	if (ss->nfe + new_fe > ss->max_svc || ss->n_revnat + new_ids > ss->max_revnat) {
		snprintf(msg, msglen, "xcni_svc: %zu frontends held, %zu new, room for %zu", ss->nfe,
			 new_ids, ss->max_svc < ss->max_revnat ? ss->max_svc : ss->max_revnat);
		err = -ENOSPC;
	} else if (ss->n_slot + new_slots > ss->max_slot) {
		snprintf(msg, msglen, "xcni_svcslot: %zu slots held, %zu new, room for %zu", ss->n_slot,
			 new_slots, ss->max_slot);
		err = -ENOSPC;
	} else if (ss->nbe + new_be > ss->max_be) {
		snprintf(msg, msglen, "xcni_backend: %zu backends held, %zu new, room for %zu",
			 ss->nbe, new_be, ss->max_be);
		err = -ENOSPC;
	} else if (ss->n_maglev + new_tables > ss->max_maglev) {
		snprintf(msg, msglen, "xcni_maglev: %zu tables held, %zu new, room for %zu",
			 ss->n_maglev, new_tables, ss->max_maglev);
		err = -ENOSPC;
	}
	if (err)
		goto out;

	/* 1. Backends: new ones, and states that changed. */
	for (i = 0; i < new_be; i++) {
		if (bpf_map_update_elem(ss->fd_be, &added[i].id, &added[i].b, BPF_NOEXIST)) {
			err = -errno;
			goto out;
		}
		st->backends_written++;
	}
	for (i = 0; i < n; i++)
		for (size_t b = 0; b < w[i].spec->nbe; b++) {
			struct be_ent *e = be_find(ss, &w[i].spec->be[b]);

			if (e && e->b.state != w[i].spec->be[b].state) {
				e->b.state = w[i].spec->be[b].state;
				if (bpf_map_update_elem(ss->fd_be, &e->id, &e->b, BPF_EXIST)) {
					err = -errno;
					goto out;
				}
				st->backends_written++;
			}
		}
	if (new_be) {
		struct be_ent *nb = realloc(ss->be, (ss->nbe + new_be) * sizeof(*nb));

		if (!nb) {
			err = -ENOMEM;
			goto out;
		}
		ss->be = nb;
		memcpy(ss->be + ss->nbe, added, new_be * sizeof(*added));
		ss->nbe += new_be;
		ss->next_be_id += (uint32_t)new_be;
		if ((err = be_reindex(ss)))
			goto out;
	}

	/* 2. Changed frontends: the other version, then the flip. */
	for (i = 0; i < n; i++) {
		const struct svc_spec *s = w[i].spec;
		struct xcni_svc v = {};
		struct fe_ent *f = w[i].cur;

		if (!w[i].changed)
			continue;
		if (!w[i].new_id) {
			v = f->v;
			v.version ^= 1;
		} else {
			uint32_t id = 1;

			while (id < SVC_IDS && svc_id_used(ss, id))
				id++;
			if (id == SVC_IDS) {
				snprintf(msg, msglen, "%s: no service id left", s->name);
				err = -ENOSPC;
				goto out;
			}
			v.id = id;
			v.rev_nat = (__u16)id;
			v.revision = f ? f->v.revision : 0;
		}
		v.count = w[i].count;
		v.count_term = w[i].term;
		v.flags = s->flags;
		v.affinity_s = s->affinity_s;
		v.revision++;
		for (size_t b = 0; b < s->nbe; b++) {
			struct xcni_svcslot_key sk = { .svc_id = v.id, .slot = (__u16)b,
						       .version = v.version };

			if (bpf_map_update_elem(ss->fd_slot, &sk, &w[i].ids[b], BPF_ANY)) {
				err = -errno;
				goto out;
			}
		}
		ss->n_slot += s->nbe;
		st->slots_written += s->nbe;
		if (s->flags & XCNI_SVC_F_MAGLEV) {
			/* New flows' set: the active backends, else the terminating ones. */
			if ((err = maglev_install(ss, &v, w[i].ids, w[i].count ? w[i].count : w[i].term)))
				goto out;
			ss->n_maglev++;
			st->maglev_written++;
		}
		if (w[i].new_id) {
			struct xcni_revnat rn = { .port = s->key.port, .family = s->key.family };

			memcpy(rn.addr, s->key.addr, sizeof(rn.addr));
			/* The name first: whatever reads the id (events, ct) finds it. */
			if (bpf_map_update_elem(ss->fd_name, &v.id, &s->who, BPF_ANY) ||
			    bpf_map_update_elem(ss->fd_revnat, &v.rev_nat, &rn, BPF_ANY)) {
				err = -errno;
				goto out;
			}
			ss->n_revnat++;
			svc_id_set(ss, v.id, true);
		}
		if (bpf_map_update_elem(ss->fd_svc, &s->key, &v, BPF_ANY)) {
			err = -errno;
			goto out;
		}
		st->svcs_changed++;
		/* The books: references move from the old ids to the new. */
		for (size_t b = 0; b < s->nbe; b++)
			be_by_id(ss, w[i].ids[b])->refs++;
		if (f && w[i].new_id) {
			/* Renamed: its old id goes as a gone frontend's does. */
			if ((err = fe_retire(ss, f)))
				goto out;
			f->old_pending = false;
			f->ids = w[i].ids;
			w[i].ids = NULL;
			f->v = v;
			f->who = s->who;
		} else if (f) {
			for (uint32_t b = 0; b < (uint32_t)f->v.count + f->v.count_term; b++) {
				struct be_ent *e = be_by_id(ss, f->ids[b]);

				if (e)
					e->refs--;
			}
			f->old_pending = true;
			f->old_version = f->v.version;
			f->old_n = (uint32_t)f->v.count + f->v.count_term;
			f->old_maglev = f->v.flags & XCNI_SVC_F_MAGLEV;
			free(f->ids);
			f->ids = w[i].ids;
			w[i].ids = NULL;
			f->v = v;
		} else {
			struct fe_ent *nf = realloc(ss->fe, (ss->nfe + 1) * sizeof(*nf));

			if (!nf) {
				err = -ENOMEM;
				goto out;
			}
			ss->fe = nf;
			ss->fe[ss->nfe] = (struct fe_ent){ .key = s->key, .v = v, .who = s->who,
							   .ids = w[i].ids, .seen = true };
			w[i].ids = NULL;
			ss->nfe++;
			qsort(ss->fe, ss->nfe, sizeof(*ss->fe), fe_cmp);
			/* w[].cur pointers into ss->fe are stale now; the loop no longer needs them. */
			for (size_t j = i + 1; j < n; j++)
				w[j].cur = fe_find(ss, &w[j].spec->key);
		}
	}

	/* 3. Frontends that are gone: their entry now, the rest at cleanup. */
	for (i = 0; i < ss->nfe;) {
		struct fe_ent *f = &ss->fe[i];

		if (f->seen) {
			i++;
			continue;
		}
		bpf_map_delete_elem(ss->fd_svc, &f->key);
		if ((err = fe_retire(ss, f)))
			goto out;
		memmove(f, f + 1, (ss->nfe - i - 1) * sizeof(*f));
		ss->nfe--;
		st->svcs_removed++;
	}
out:
	for (i = 0; i < n; i++)
		free(w[i].ids);
	free(w);
	free(added);
	return err;
}

static void del_version(struct svcsync *ss, uint32_t id, uint8_t version, uint32_t nslots,
			bool maglev, struct svcsync_stats *st)
{
	for (uint32_t s = 0; s < nslots; s++) {
		struct xcni_svcslot_key sk = { .svc_id = id, .slot = (__u16)s, .version = version };

		if (!bpf_map_delete_elem(ss->fd_slot, &sk)) {
			ss->n_slot--;
			st->slots_deleted++;
		}
	}
	if (maglev) {
		__u32 key = xcni_maglev_key(id, version);

		if (!bpf_map_delete_elem(ss->fd_maglev, &key))
			ss->n_maglev--;
	}
}

int svcsync_cleanup(struct svcsync *ss, struct svcsync_stats *st)
{
	size_t i, kept = 0;

	for (i = 0; i < ss->nfe; i++) {
		struct fe_ent *f = &ss->fe[i];

		if (!f->old_pending)
			continue;
		del_version(ss, f->v.id, f->old_version, f->old_n, f->old_maglev, st);
		f->old_pending = false;
	}
	for (i = 0; i < ss->ngone; i++) {
		__u16 rid = (__u16)ss->gone[i].id;

		del_version(ss, ss->gone[i].id, ss->gone[i].version, ss->gone[i].n,
			    ss->gone[i].maglev, st);
		/* An id is free once no frontend holds it (a gone one may be back under it). */
		bool held = false;

		for (size_t f = 0; f < ss->nfe; f++)
			held |= ss->fe[f].v.id == ss->gone[i].id;
		if (!held && svc_id_used(ss, ss->gone[i].id)) {
			if (!bpf_map_delete_elem(ss->fd_revnat, &rid))
				ss->n_revnat--;
			bpf_map_delete_elem(ss->fd_name, &ss->gone[i].id);
			svc_id_set(ss, ss->gone[i].id, false);
		}
	}
	ss->ngone = 0;
	for (i = 0; i < ss->nbe; i++) {
		if (!ss->be[i].refs) {
			bpf_map_delete_elem(ss->fd_be, &ss->be[i].id);
			st->backends_deleted++;
			continue;
		}
		ss->be[kept++] = ss->be[i];
	}
	ss->nbe = kept;
	return be_reindex(ss);
}
