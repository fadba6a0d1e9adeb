// SPDX-License-Identifier: Apache-2.0
/*
 * The map writer's shared maps (polsync_int.h): the ipcache, the identities'
 * labels and the names for people, whole or as a delta, in the order that
 * never opens an address to a policy written for another owner; and the
 * lookups of those names, and of the key a local pod's IPv6 has them under.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/killpoint.h"
#include "lib/system/util.h"
#include "lib/policy/polsync.h"
#include "lib/policy/polsync_int.h"
#include "lib/system/mapw.h"

/*
 * The names for people (identity labels, policy and pod names) serve xcnictl
 * and the flow records, never the data plane: a map of them that cannot hold
 * the cluster's never refuses policy. What fits is written by the room
 * writer, each namespace given an equal part when some want more
 * (MAPW_SHARE), so one namespace's many objects cost only its own names. Its
 * failures (a map not preallocated may fail an insert under memory
 * pressure) are counted and the map is read again next time; they never
 * stop the apply. *missing: names not in the map.
 */
static void names_sync(struct polsync *ps, int fd, struct kvset *cur, const void *want, size_t n,
		       size_t stride, size_t voff, const char *(*ns_of)(const void *rec), size_t max,
		       size_t *missing, size_t *changed)
{
	struct mapw_room m = { .fd = fd, .ksz = cur->ksz, .vsz = cur->vsz, .max = max,
			       .step = "apply-names", .owner_of = ns_of, .share = true,
			       .cur = cur };
	int err = xcni_inject("names-sync") ?: mapw_room_sync(&m, want, n, stride, voff);

	if (err) {
		/* Which of them went in is not known: counted as missing, read
		 * again by a whole apply soon (one that does not fail too: the
		 * agent's next would be a delta and leave them so). */
		*missing += n;
		ps->mirror_stale = true;
		ps->names_short = true;
		return;
	}
	*missing += cur->dropped = m.dropped;
	*changed += m.written + m.deleted;
}

/*
 * A name written as a delta: a map of names that is full (E2BIG) or cannot
 * take one more entry now (ENOMEM: not preallocated) refuses nothing; the
 * name is missing until a whole apply fits what it can (names_sync).
 */
static int name_put(struct polsync *ps, int fd, const void *k, const void *v, size_t *changed,
		    size_t *missing)
{
	int err = xcni_inject("names-delta") ?: mapw_put(fd, k, v, "apply-names");

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
	if ((err = mapw_put(ps->fd_ipcache, k, &t, "apply-ipcache-close")))
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
int polsync_ipc_moves_finish(struct polsync *ps, const struct ipc_moves *mv, size_t *changed)
{
	for (size_t i = 0; i < mv->n; i++) {
		int err = mapw_put(ps->fd_ipcache, &mv->v[i].key, &mv->v[i].val,
		                             "apply-ipcache");

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
	mapw_cmp_len = (int)ksz;
	if (nlate > 1)
		qsort(late, nlate, sizeof(*late), mapw_cmp);
	for (size_t x = 1; x < n; x++) {
		if (memcmp(&w[x - 1].key, &w[x].key, ksz) > 0) {
			qsort(w, n, sizeof(*w), mapw_cmp);
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
				nlate ? bsearch(c, late, nlate, sizeof(*late), mapw_cmp)
				      : NULL;

			if ((!l || l->val.identity != cv.identity) &&
			    (err = ipc_close(ps, (const void *)c, &cv, changed)))
				return err;
		}
		i += cmp <= 0;
		j += cmp >= 0;
	}
	return 0;
}

/* The n ids out of a names map fd (one gone already is as good). */
static int names_del(int fd, const uint32_t *ids, size_t n, size_t *changed)
{
	int err;

	for (size_t i = 0; i < n; i++) {
		if ((err = mapw_del(fd, &ids[i], "apply-names")) && err != -ENOENT)
			return err;
		(*changed)++;
	}
	return 0;
}

/*
 * One delta's writes. KV_UPSERT: puts of every kind, but the ipcache's naming
 * an identity born in this generation; KV_BORN: those, after the flips (a new
 * owner is named only once the policy about it is in place); KV_DELETE: the
 * ipcache's deletes.
 */
int polsync_delta_write(struct polsync *ps, const struct pol_delta *d, int phase,
			size_t *changed, size_t *missing, struct ipc_moves *mv)
{
	int err;

	if (phase == KV_BORN) {
		for (size_t i = 0; i < d->nipc_put; i++) {
			if (!polsync_id_in(d->ipc_put[i].val.identity, d->id_put, d->nid_put, NULL, 0))
				continue;
			if ((err = mapw_put(ps->fd_ipcache, &d->ipc_put[i].key,
			                              &d->ipc_put[i].val, "apply-ipcache")))
				return err;
			(*changed)++;
		}
		return 0;
	}
	if (phase == KV_DELETE) {
		for (size_t i = 0; i < d->nipc_del; i++) {
			if ((err = mapw_del(ps->fd_ipcache, &d->ipc_del[i],
			                              "apply-ipcache-del")) &&
			    err != -ENOENT)
				return err;
			(*changed)++;
		}
		return 0;
	}
	for (size_t i = 0; i < d->nipc_put; i++) {
		struct xcni_ipcache_val cur;
		bool born = polsync_id_in(d->ipc_put[i].val.identity, d->id_put, d->nid_put, NULL, 0);
		/* The entry holding the address now (the longest prefix): an owner's? */
		bool moved = !bpf_map_lookup_elem(ps->fd_ipcache, &d->ipc_put[i].key, &cur) &&
			     ipc_pod_id(cur.identity) && cur.identity != d->ipc_put[i].val.identity;

		if (moved && ((!born && (err = ipc_move_add(mv, &d->ipc_put[i]))) ||
			      (err = ipc_close(ps, &d->ipc_put[i].key, &cur, changed))))
			return err;
		if (moved || born)
			continue; /* after the flips: ipc_moves_finish, KV_BORN */
		if ((err = mapw_put(ps->fd_ipcache, &d->ipc_put[i].key,
		                              &d->ipc_put[i].val, "apply-ipcache")))
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
	if ((err = names_del(ps->fd_identity, d->id_del, d->nid_del, changed)))
		return err;
	for (size_t i = 0; i < d->npol_put; i++)
		if ((err = name_put(ps, ps->fd_polname, &d->pol_put[i].id, &d->pol_put[i].name,
				    changed, missing)))
			return err;
	if ((err = names_del(ps->fd_polname, d->pol_del, d->npol_del, changed)))
		return err;
	for (size_t i = 0; i < d->npn_put; i++)
		if ((err = name_put(ps, ps->fd_podname, &d->pn_put[i].ip, &d->pn_put[i].name,
				    changed, missing)))
			return err;
	return names_del(ps->fd_podname, d->pn_del, d->npn_del, changed);
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
	mapw_cmp_len = (int)ps->identity.ksz;
	for (size_t k = 0; k < r->nidentities; k++) {
		__u32 id = r->identities[k].id;
		const unsigned char *m = ps->identity.n
		                                 ? bsearch(&id, ps->identity.d, ps->identity.n, rec,
		                                           mapw_cmp)
		                                 : NULL;

		pol_ident_label(r->identities[k].canon, lab);
		if (m && !memcmp(m + ps->identity.ksz, lab, sizeof(lab)))
			continue;
		born[nb++] = id;
		if (m)
			renamed[nr++] = id;
	}
	qsort(born, nb, sizeof(*born), pol_cmp_u32);
	qsort(renamed, nr, sizeof(*renamed), pol_cmp_u32);
	for (size_t j = 0; j < ps->ipcache.n; j++) {
		unsigned char *c = KV_REC(&ps->ipcache, j);
		struct xcni_ipcache_val v;

		memcpy(&v, c + ps->ipcache.ksz, sizeof(v));
		if (nr && bsearch(&v.identity, renamed, nr, sizeof(*renamed), pol_cmp_u32)) {
			if ((err = mapw_del(ps->fd_ipcache, c, "apply-ipcache-del")) &&
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
		bool b = nb && bsearch(&r->ipcache[i].val.identity, born, nb, sizeof(*born), pol_cmp_u32);

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

static const char *ep_ns(const void *rec)
{
	return pol_ep_ns(rec);
}

/* ClusterNetworkPolicies' rule names: the cluster admin's alone, one owner. */
static const char *rulename_owner(const void *rec)
{
	(void)rec;
	return "";
}

/* xcni_polsel (which policies select a pod): for people, never for a verdict. */
static void polsel_sync(struct polsync *ps, const struct pol_result *r, struct polsync_stats *st)
{
	names_sync(ps, ps->fd_polsel, &ps->polsel, r->eps, r->neps, sizeof(*r->eps),
		   offsetof(struct pol_ep, sel), ep_ns, ps->max_polsel, &st->names_missing,
		   &st->other_changed);
}

/* Identities and names, delta: what the compiler says changed; pods changed in place first. */
int polsync_names_delta(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
			const struct ep_memo *m, struct polsync_stats *st, struct ipc_moves *mv)
{
	int err;

	for (size_t i = 0; i < r->neps; i++) {
		struct ep_state *cur = m[i].cur;

		if (cur && !m[i].same && !m[i].over && polsync_ep_in_place(cur, &r->eps[i], d) &&
		    (err = polsync_ep_add_in_place(ps, cur, &r->eps[i], &st->entries_written)))
			return err;
	}
	if ((err = polsync_delta_write(ps, d, KV_UPSERT, &st->other_changed, &st->names_missing,
				       mv)))
		return err;
	polsel_sync(ps, r, st);
	return 0;
}

/* The identities' labels as xcni_identity holds them (b->idl, r->nidentities of them). */
int polsync_idl_build(const struct pol_result *r, struct apply_bufs *b)
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
int polsync_names_whole(struct polsync *ps, const struct pol_result *r, struct polsync_stats *st,
			struct apply_bufs *b)
{
	int err;

	/* Before the identities' names: it compares with what the maps call them. */
	if ((err = ipc_order(ps, r, &b->early, &b->nearly, &b->late, &b->nlate,
	                     &st->other_changed)) ||
	    (err = ipc_whole_close(ps, b->early, b->nearly, b->late, b->nlate, &b->now, &b->mv,
	                           &st->other_changed)) ||
	    (err = mapw_sync(ps->fd_ipcache, &ps->ipcache, b->now, b->nearly,
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
	if (ps->fd_rulename >= 0)
		names_sync(ps, ps->fd_rulename, &ps->rulename, r->rulenames, r->nrulenames,
			   sizeof(*r->rulenames), offsetof(struct pol_rulename, val), rulename_owner,
			   ps->max_rulename, &st->names_missing, &st->other_changed);
	/* Names for people: before the flips, so a drop can name its policies. */
	polsel_sync(ps, r, st);
	return 0;
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

const char *polsync_rule_name(int fd, uint32_t policy_id, uint8_t dir, uint16_t rule, char *buf,
                              size_t len)
{
	struct xcni_rulename_key k = { .policy_id = policy_id, .rule = rule, .dir = dir };
	struct xcni_rulename v;

	if (fd < 0 || !policy_id || bpf_map_lookup_elem(fd, &k, &v) || !v.name[0])
		return NULL;
	snprintf(buf, len, "%.*s", (int)strnlen(v.name, sizeof(v.name)), v.name);
	return buf;
}

int polsync_rule_pass(int fd, unsigned int pass, struct xcni_rulename *out)
{
	struct xcni_rulename_key k = { .rule = (__u16)pass, .dir = XCNI_RULENAME_PASS };

	if (fd < 0 || !pass || bpf_map_lookup_elem(fd, &k, out))
		return -ENOENT;
	out->name[sizeof(out->name) - 1] = '\0';
	return 0;
}

uint32_t polsync_key6(const struct polkey6_maps *k, const uint8_t a[16])
{
	struct xcni_endpoint ep;
	struct xcni_pod_dev d;
	struct xcni_in6 k6;
	__u32 v;

	memcpy(k6.addr, a, 16);
	if (k->endpoints6 >= 0 && k->ifindex >= 0 && !bpf_map_lookup_elem(k->endpoints6, &k6, &ep) &&
	    !bpf_map_lookup_elem(k->ifindex, &ep.ifindex, &d) && d.addr)
		return d.addr;
	return k->polkey6 >= 0 && !bpf_map_lookup_elem(k->polkey6, &k6, &v) ? v : 0;
}

void polsync_key6_open(struct polkey6_maps *k, const char *dir,
		       int (*open)(const char *dir, const char *name, bool quiet))
{
	static const char *const names[] = { "xcni_endpoints6", "xcni_ifindex", "xcni_polkey6" };
	int *fds[] = { &k->endpoints6, &k->ifindex, &k->polkey6 };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = open ? open(dir, names[i], true) : xcni_pin_get(dir, names[i]);
}

void polsync_key6_close(struct polkey6_maps *k)
{
	xcni_close(&k->endpoints6);
	xcni_close(&k->ifindex);
	xcni_close(&k->polkey6);
}
