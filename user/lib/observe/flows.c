// SPDX-License-Identifier: Apache-2.0
/*
 * Flow records and their window (flows.h); the filters are in flowfilter.c,
 * a record's JSON in flowjson.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"
#include "lib/system/cidr.h"
#include "lib/system/hash.h"
#include "lib/system/hmap.h"
#include "lib/system/proto.h"
#include "lib/system/util.h"
#include "lib/observe/reasons.h"
#include "lib/observe/vocab.h"

/*
 * Names (pods, label sets, policies, Services) shared among records: a
 * thousand flows of one pod hold its labels once. Reference counted, freed
 * with the last record that named them.
 */
struct istr {
	uint64_t refs;
	uint32_t hash;
	char s[];
};

/*
 * An owner of the window's room (flows_owner_of): its records in the
 * window's order, and its place in the heap of owners by records held (the
 * largest first: whom a full window takes from).
 */
struct flow_owner {
	const char *ns; /* interned */
	size_t n; /* records held */
	uint64_t evicted; /* its records pushed out */
	struct flow_rec *head, *tail; /* least recently changed first */
	size_t heap_i; /* its index in the heap while n > 0 */
	struct flow_owner *aprev, *anext; /* every owner, for flows_owners_each */
};

struct flows {
	size_t window, n;
	struct hmap recs; /* the records by key */
	struct flow_rec *head, *tail; /* least recently changed first */
	struct hmap strs; /* the names by text */
	uint64_t seq;
	struct flows_stats st;
	/* The records in_ct, each at its ct_idx: what a walk's sweep looks at. */
	struct flow_rec **ct;
	size_t nct, ct_cap;
	void (*on_evict)(void *arg, const struct flow_rec *r);
	void *evict_arg;
	uint64_t now_ns; /* flows_set_now's: what a change is stamped with */
	/* flows_isodrop's series, and their index by key (open addressing, -1 empty). */
	struct flows_isodrop *iso;
	size_t niso;
	int32_t iso_idx[2 * FLOWS_ISODROP_MAX];
	uint64_t iso_lost;
	/* flows_count_settled's: flows by verdict and direction. */
	uint64_t verdicts[FLOW_NR_VERDICTS][FLOWS_NR_DIRS];
	/* The owners: by name, all of them (a list), those holding records by
	 * how many (a max-heap); nkept: those held only for their eviction count. */
	struct hmap otab;
	struct flow_owner *owners;
	struct flow_owner **heap;
	size_t nheap, heap_cap, nkept, nowners;
};

int flows_new(size_t window, struct flows **out)
{
	struct flows *f;

	if (!window || window > FLOWS_WINDOW_MAX)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->window = window;
	memset(f->iso_idx, 0xff, sizeof(f->iso_idx)); /* -1: empty */
	/* Owners are namespaces: a few per window's thousand records. */
	if (hmap_init(&f->recs, false, window) || hmap_init(&f->otab, true, 64) ||
	    hmap_init(&f->strs, true, window / 4)) {
		flows_free(f);
		return -ENOMEM;
	}
	f->recs.klen = sizeof(struct flow_key);
	*out = f;
	return 0;
}

static void str_put(struct flows *f, const char *s)
{
	struct istr *is;

	if (!s)
		return;
	is = (struct istr *)(s - offsetof(struct istr, s));
	if (--is->refs)
		return;
	hmap_del(&f->strs, is->hash, (uintptr_t)is->s);
	free(is);
}

int flows_set_str(struct flows *f, const char **slot, const char *s)
{
	struct istr *is;
	uint32_t h;
	size_t len;

	if (*slot && s && !strcmp(*slot, s))
		return 0;
	str_put(f, *slot);
	*slot = NULL;
	if (!s)
		return 0;
	len = strlen(s);
	h = (uint32_t)xcni_fnv64(XCNI_FNV64_BASIS, s, len);
	is = hmap_get(&f->strs, h, (uintptr_t)s);
	if (!is) {
		is = malloc(sizeof(*is) + len + 1);
		if (!is)
			return -ENOMEM;
		is->refs = 0;
		is->hash = h;
		memcpy(is->s, s, len + 1);
		if (hmap_put(&f->strs, h, (uintptr_t)is->s, is)) {
			free(is);
			return -ENOMEM;
		}
	}
	is->refs++;
	*slot = is->s;
	return 0;
}

/* *slot holds s, an interned string of f (or NULL), whose count it takes. */
static void str_share(struct flows *f, const char **slot, const char *s)
{
	if (*slot == s)
		return;
	str_put(f, *slot);
	*slot = s;
	if (s)
		((struct istr *)(s - offsetof(struct istr, s)))->refs++;
}

void flows_peer_copy(struct flows *f, struct flow_peer *dst, const struct flow_peer *src)
{
	dst->identity = src->identity;
	dst->loc = src->loc;
	dst->remote = src->remote;
	str_share(f, &dst->ns, src->ns);
	str_share(f, &dst->pod, src->pod);
	str_share(f, &dst->labels, src->labels);
}

void flows_peer_put(struct flows *f, struct flow_peer *p)
{
	str_share(f, &p->ns, NULL);
	str_share(f, &p->pod, NULL);
	str_share(f, &p->labels, NULL);
	p->identity = 0;
	p->loc = FLOW_LOC_OUTSIDE;
	p->remote = 0;
}

static void rec_strs_put(struct flows *f, struct flow_rec *r)
{
	const char **s[] = { &r->src.ns,    &r->src.pod,     &r->src.labels, &r->dst.ns,
			     &r->dst.pod,   &r->dst.labels,  &r->policy,     &r->service,
			     &r->backend,   &r->rule_name,   &r->prev_policy, &r->isolators,
			     &r->domain,    &r->near_misses };

	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		flows_set_str(f, s[i], NULL);
}

void flows_free(struct flows *f)
{
	struct flow_rec *r, *next;

	if (!f)
		return;
	for (r = f->head; r; r = next) {
		next = r->next;
		rec_strs_put(f, r);
		free(r);
	}
	while (f->owners) {
		struct flow_owner *o = f->owners;

		f->owners = o->anext;
		str_put(f, o->ns);
		free(o);
	}
	hmap_free(&f->otab);
	free(f->heap);
	hmap_free(&f->recs);
	hmap_free(&f->strs);
	free(f->ct);
	for (size_t i = 0; i < f->niso; i++) {
		free(f->iso[i].ns);
		free(f->iso[i].pod);
		free(f->iso[i].policy);
	}
	free(f->iso);
	free(f);
}

/* ---- isolation drops --------------------------------------------------------- */

/* r once under its verdict (flows_count_settled), unless counted under it already. */
static void count_rec(struct flows *f, struct flow_rec *r)
{
	if (r->counted == r->verdict + 1 || r->verdict >= FLOW_NR_VERDICTS)
		return;
	f->verdicts[r->verdict][flow_rec_direction(r)]++;
	r->counted = r->verdict + 1;
}

static uint32_t iso_hash(const char *ns, const char *pod, bool ingress, bool pod_total,
			 const char *pol, size_t plen)
{
	uint64_t h = xcni_fnv64(XCNI_FNV64_BASIS, ns, strlen(ns) + 1);

	h = xcni_fnv64(h, pod, strlen(pod) + 1);
	h = xcni_fnv64(h, &ingress, 1);
	h = xcni_fnv64(h, &pod_total, 1);
	return (uint32_t)xcni_fnv64(h, pol, plen);
}

static void iso_one(struct flows *f, const char *ns, const char *pod, bool ingress,
		    bool pod_total, const char *pol, size_t plen, uint64_t packets)
{
	size_t cap = sizeof(f->iso_idx) / sizeof(f->iso_idx[0]);
	size_t i = iso_hash(ns, pod, ingress, pod_total, pol, plen) & (cap - 1);
	struct flows_isodrop *d;

	for (; f->iso_idx[i] >= 0; i = (i + 1) & (cap - 1)) {
		d = &f->iso[f->iso_idx[i]];
		if (d->ingress == ingress && d->pod_total == pod_total && !strcmp(d->ns, ns) &&
		    !strcmp(d->pod, pod) &&
		    strlen(d->policy) == plen && !strncmp(d->policy, pol, plen)) {
			d->packets += packets;
			return;
		}
	}
	if (f->niso == FLOWS_ISODROP_MAX)
		goto lost;
	if (!f->iso) {
		f->iso = calloc(FLOWS_ISODROP_MAX, sizeof(*f->iso));
		if (!f->iso)
			goto lost;
	}
	d = &f->iso[f->niso];
	d->ns = strdup(ns);
	d->pod = strdup(pod);
	d->policy = strndup(pol, plen);
	if (!d->ns || !d->pod || !d->policy) {
		free(d->ns);
		free(d->pod);
		free(d->policy);
		memset(d, 0, sizeof(*d));
		goto lost;
	}
	d->ingress = ingress;
	d->pod_total = pod_total;
	d->packets = packets;
	f->iso_idx[i] = (int32_t)f->niso++;
	return;
lost:
	f->iso_lost += packets;
}

void flows_isodrop(struct flows *f, const char *ns, const char *pod, bool ingress,
		   const char *isolators, uint64_t packets)
{
	const char *p = isolators && *isolators ? isolators : "";

	ns = ns ?: "";
	pod = pod ?: "";
	iso_one(f, ns, pod, ingress, true, "", 0, packets);
	do {
		size_t l;

		p += strspn(p, " ");
		l = strcspn(p, ",");
		iso_one(f, ns, pod, ingress, false, p, l, packets);
		p += l + (p[l] == ',');
	} while (*p);
}

int flow_rec_direction(const struct flow_rec *r)
{
	if (r->pol_dir == 0 || r->pol_dir == 1)
		return r->pol_dir ? FLOWS_INGRESS : FLOWS_EGRESS;
	return flow_rec_point(r) == FLOW_PT_TO_POD ? FLOWS_INGRESS : FLOWS_EGRESS;
}

void flows_count_settled(struct flows *f, uint64_t now_ns)
{
	for (struct flow_rec *r = f->head; r; r = r->next)
		if (r->counted != r->verdict + 1 && now_ns >= r->first_ns &&
		    now_ns - r->first_ns >= FLOWS_SETTLE_NS)
			count_rec(f, r);
}

const uint64_t (*flows_verdict_counts(const struct flows *f))[FLOWS_NR_DIRS]
{
	return f->verdicts;
}

const struct flows_isodrop *flows_isodrops(const struct flows *f, size_t *n)
{
	*n = f->niso;
	return f->iso;
}

uint64_t flows_isodrops_lost(const struct flows *f)
{
	return f->iso_lost;
}

size_t flows_count(const struct flows *f)
{
	return f->n;
}

size_t flows_window(const struct flows *f)
{
	return f->window;
}

const struct flows_stats *flows_stats(const struct flows *f)
{
	return &f->st;
}

void flows_on_evict(struct flows *f, void (*fn)(void *arg, const struct flow_rec *r), void *arg)
{
	f->on_evict = fn;
	f->evict_arg = arg;
}

struct flow_rec *flows_find(struct flows *f, const struct flow_key *key)
{
	return hmap_get(&f->recs, (uint32_t)hmem(key, sizeof(*key)), (uintptr_t)key);
}

static void list_unlink(struct flows *f, struct flow_rec *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		f->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		f->tail = r->prev;
	r->prev = r->next = NULL;
}

static void list_append(struct flows *f, struct flow_rec *r)
{
	r->prev = f->tail;
	r->next = NULL;
	if (f->tail)
		f->tail->next = r;
	else
		f->head = r;
	f->tail = r;
}

/* ---- owners ----------------------------------------------------------------- */

const char *flows_owner_of(const struct flow_peer *src, const struct flow_peer *dst)
{
	/* The end that opened the flow is who made it; a flow into a pod from
	 * outside or from a node is its destination's (that namespace is who
	 * asked for the traffic: its Service, its NodePort). */
	if (src && src->ns && *src->ns)
		return src->ns;
	if (dst && dst->ns && *dst->ns)
		return dst->ns;
	return "";
}

const char *flows_rec_owner(const struct flow_rec *r)
{
	return r->owner ? r->owner->ns : "";
}

static void heap_set(struct flows *f, size_t i, struct flow_owner *o)
{
	f->heap[i] = o;
	o->heap_i = i;
}

static void heap_up(struct flows *f, size_t i)
{
	struct flow_owner *o = f->heap[i];

	while (i > 0 && f->heap[(i - 1) / 2]->n < o->n) {
		heap_set(f, i, f->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(f, i, o);
}

static void heap_down(struct flows *f, size_t i)
{
	struct flow_owner *o = f->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= f->nheap)
			break;
		if (c + 1 < f->nheap && f->heap[c + 1]->n > f->heap[c]->n)
			c++;
		if (f->heap[c]->n <= o->n)
			break;
		heap_set(f, i, f->heap[c]);
		i = c;
	}
	heap_set(f, i, o);
}

static void heap_del(struct flows *f, struct flow_owner *o)
{
	struct flow_owner *last = f->heap[--f->nheap];

	if (last == o)
		return;
	heap_set(f, o->heap_i, last);
	heap_up(f, last->heap_i);
	heap_down(f, last->heap_i);
}

/* ns's owner, made if new (holding nothing yet). NULL: out of memory. */
static struct flow_owner *owner_get(struct flows *f, const char *ns)
{
	struct flow_owner *o = hmap_get(&f->otab, hstr(ns), (uintptr_t)ns);

	if (o)
		return o;
	/* Room in the heap for every owner there is: linking never allocates. */
	if (XCNI_GROW(f->heap, f->nowners, f->heap_cap))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o || flows_set_str(f, &o->ns, ns)) {
		free(o);
		return NULL;
	}
	if (hmap_put(&f->otab, hstr(ns), (uintptr_t)o->ns, o)) {
		str_put(f, o->ns);
		free(o);
		return NULL;
	}
	o->anext = f->owners;
	if (f->owners)
		f->owners->aprev = o;
	f->owners = o;
	f->nowners++;
	return o;
}

static void owner_free(struct flows *f, struct flow_owner *o)
{
	hmap_del(&f->otab, hstr(o->ns), (uintptr_t)o->ns);
	if (o->aprev)
		o->aprev->anext = o->anext;
	else
		f->owners = o->anext;
	if (o->anext)
		o->anext->aprev = o->aprev;
	str_put(f, o->ns);
	free(o);
	f->nowners--;
}

/* o holds no record now: kept for its eviction count (while few are), or freed. */
static void owner_idle(struct flows *f, struct flow_owner *o)
{
	if (o->evicted && f->nkept < FLOWS_OWNERS_KEPT_MAX) {
		f->nkept++;
		return;
	}
	f->st.evicted_unlisted += o->evicted;
	owner_free(f, o);
}

/* r, charged to no owner, is o's newest record. */
static void owner_link(struct flows *f, struct flow_rec *r, struct flow_owner *o)
{
	r->owner = o;
	r->oprev = o->tail;
	r->onext = NULL;
	if (o->tail)
		o->tail->onext = r;
	else
		o->head = r;
	o->tail = r;
	if (o->n++ == 0) {
		if (o->evicted)
			f->nkept--;
		f->heap[f->nheap] = o;
		o->heap_i = f->nheap++;
	}
	heap_up(f, o->heap_i);
}

static void owner_list_del(struct flow_owner *o, struct flow_rec *r)
{
	if (r->oprev)
		r->oprev->onext = r->onext;
	else
		o->head = r->onext;
	if (r->onext)
		r->onext->oprev = r->oprev;
	else
		o->tail = r->oprev;
	r->oprev = r->onext = NULL;
}

/* r is charged to no owner from now on. */
static void owner_unlink(struct flows *f, struct flow_rec *r)
{
	struct flow_owner *o = r->owner;

	if (!o)
		return;
	owner_list_del(o, r);
	r->owner = NULL;
	if (--o->n) {
		heap_down(f, o->heap_i);
		return;
	}
	heap_del(f, o);
	owner_idle(f, o);
}

/* r changed: the newest of its owner's too. */
static void owner_touch(struct flow_rec *r)
{
	struct flow_owner *o = r->owner;

	if (!o || o->tail == r)
		return;
	owner_list_del(o, r);
	r->oprev = o->tail;
	o->tail->onext = r;
	o->tail = r;
}

/* r's room charged to ns. 0 or -ENOMEM (r stays where it was). */
static int rec_charge(struct flows *f, struct flow_rec *r, const char *ns)
{
	struct flow_owner *o;

	if (r->owner && !strcmp(r->owner->ns, ns))
		return 0;
	o = owner_get(f, ns);
	if (!o)
		return -ENOMEM;
	owner_unlink(f, r);
	owner_link(f, r, o);
	return 0;
}

void flows_owners_each(const struct flows *f,
		       void (*fn)(void *arg, const char *ns, size_t records, uint64_t evicted),
		       void *arg)
{
	for (const struct flow_owner *o = f->owners; o; o = o->anext)
		fn(arg, o->ns, o->n, o->evicted);
}

size_t flows_owners(const struct flows *f)
{
	return f->nheap;
}

/* r is in_ct from now on: among the records a sweep looks at. false: no memory. */
static bool ct_add(struct flows *f, struct flow_rec *r)
{
	if (XCNI_GROW(f->ct, f->nct, f->ct_cap))
		return false;
	r->ct_idx = (uint32_t)f->nct;
	f->ct[f->nct++] = r;
	r->in_ct = 1;
	return true;
}

static void ct_del(struct flows *f, struct flow_rec *r)
{
	struct flow_rec *last = f->ct[--f->nct];

	f->ct[r->ct_idx] = last;
	last->ct_idx = r->ct_idx;
	r->in_ct = 0;
}

static void rec_remove(struct flows *f, struct flow_rec *r)
{
	if (r->in_ct)
		ct_del(f, r);
	hmap_del(&f->recs, r->hash, (uintptr_t)&r->key);
	list_unlink(f, r);
	owner_unlink(f, r);
	f->n--;
	if (!r->kept) {
		rec_strs_put(f, r);
		free(r);
	}
}

void flows_keep(struct flow_rec *r)
{
	r->kept = 1;
}

void flows_release(struct flows *f, struct flow_rec *r)
{
	rec_strs_put(f, r);
	free(r);
}

struct flow_rec *flows_get_owned(struct flows *f, const struct flow_key *key, const char *owner,
				 bool *created)
{
	/* Kept in the record (32 bits) for its removal. */
	uint32_t h = (uint32_t)hmem(key, sizeof(*key));
	struct flow_rec *r = hmap_get(&f->recs, h, (uintptr_t)key);
	/* No owner given: "" until flows_set_ends names the ends. */
	struct flow_owner *o;

	*created = false;
	if (r)
		return r;
	o = hmap_get(&f->otab, hstr(owner ? owner : ""), (uintptr_t)(owner ? owner : ""));
	if (f->n >= f->window) {
		/* The owner holding the most gives up room (the new record's own on
		 * a tie: a flood pushes out its own records first), its record
		 * changed longest ago: the one a reader misses least. */
		struct flow_owner *v = f->heap[0];
		struct flow_rec *victim;

		if (owner && o && o->n && o->n >= v->n)
			v = o;
		if (v == o)
			o = NULL; /* it may go with its last record: found again */
		victim = v->head;
		v->evicted++;
		/* Gone before it settled: counted as it is. */
		count_rec(f, victim);
		if (f->on_evict)
			f->on_evict(f->evict_arg, victim);
		rec_remove(f, victim);
		f->st.evicted++;
	}
	if (!o)
		o = owner_get(f, owner ? owner : "");
	if (!o)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r)
		r->key = *key, r->hash = h;
	/* The table has room for the window: a put into it allocates nothing. */
	if (!r || hmap_put(&f->recs, h, (uintptr_t)&r->key, r)) {
		free(r);
		if (!o->n && !o->evicted)
			owner_free(f, o);
		return NULL;
	}
	r->pol_dir = 0xff;
	list_append(f, r);
	owner_link(f, r, o);
	r->owner_fixed = owner != NULL;
	f->n++;
	f->st.created++;
	r->seq = ++f->seq;
	r->updated_ns = f->now_ns;
	*created = true;
	return r;
}

struct flow_rec *flows_head(struct flows *f)
{
	return f->head;
}

void flows_set_now(struct flows *f, uint64_t now_ns)
{
	f->now_ns = now_ns;
}

void flows_touch(struct flows *f, struct flow_rec *r)
{
	r->seq = ++f->seq;
	r->updated_ns = f->now_ns;
	if (f->tail != r) {
		list_unlink(f, r);
		list_append(f, r);
	}
	owner_touch(r);
}

bool flow_ct_refused(uint8_t state, bool fin_orig, bool fin_reply, uint64_t pkts_orig,
		     uint64_t pkts_reply)
{
	return state == XCNI_CT_CLOSED && !fin_orig && !fin_reply && pkts_orig == 1 &&
	       pkts_reply == 1;
}

/* What passing here is: into the overlay, forwarded (the other node judges). */
static uint8_t passed(const struct flow_rec *r)
{
	return r->dst.loc == FLOW_LOC_REMOTE ? FLOW_FORWARDED : FLOW_ALLOWED;
}

/*
 * A TCP flow that passed here is refused once its entry says the destination
 * answered its SYN with a RST, a timeout once its SYN went unanswered for
 * FLOW_TIMEOUT_NS (now_ns: the walk's clock, CLOCK_MONOTONIC as the entry's);
 * an entry that no longer says so (the same tuple connected again, an answer
 * at last) passes again. Drops keep their verdict. A timeout is the judging
 * node's to say: where the flow was only forwarded into the overlay, the
 * destination's node may have dropped the SYN (its part says so), so this
 * part stays forwarded.
 */
static bool unanswered(const struct flow_rec *r, uint64_t now_ns, uint8_t state,
		       const uint64_t pkts[2])
{
	return r->key.proto == IPPROTO_TCP && passed(r) == FLOW_ALLOWED &&
	       state < XCNI_CT_ESTABLISHED && pkts[0] && !pkts[1] && now_ns > r->ct_created &&
	       now_ns - r->ct_created >= FLOW_TIMEOUT_NS;
}

static bool ct_fate(struct flow_rec *r, uint64_t now_ns, uint8_t state, bool fin_orig,
		    bool fin_reply, const uint64_t pkts[2])
{
	uint8_t to = flow_ct_refused(state, fin_orig, fin_reply, pkts[0], pkts[1]) ? FLOW_REFUSED :
		     unanswered(r, now_ns, state, pkts) ? FLOW_TIMEOUT : passed(r);

	if (flow_verdict_dropped(r->verdict) || r->verdict == to ||
	    (to == passed(r) && r->verdict != FLOW_REFUSED && r->verdict != FLOW_TIMEOUT))
		return false;
	r->verdict = to;
	return true;
}

bool flows_ct_update(struct flows *f, struct flow_rec *r, uint64_t created_ns,
		     uint64_t last_ns, const uint64_t pkts[2], const uint64_t bytes[2],
		     uint8_t state, bool fin_orig, bool fin_reply)
{
	uint8_t flags = r->tcp_flags;
	bool changed = false;

	if (r->ct_created && created_ns != r->ct_created) {
		/* Another entry for the same flow: what the old one counted stays. */
		for (int d = 0; d < 2; d++) {
			r->base_pkts[d] = r->pkts[d];
			r->base_bytes[d] = r->bytes[d];
		}
	}
	if (created_ns != r->ct_created)
		changed = true;
	r->ct_created = created_ns;
	for (int d = 0; d < 2; d++) {
		uint64_t p = r->base_pkts[d] + pkts[d], by = r->base_bytes[d] + bytes[d];

		changed |= p != r->pkts[d] || by != r->bytes[d];
		r->pkts[d] = p;
		r->bytes[d] = by;
	}
	if (!r->first_ns || created_ns < r->first_ns) {
		r->first_ns = created_ns;
		changed = true;
	}
	if (last_ns > r->last_ns) {
		r->last_ns = last_ns;
		changed = true;
	}
	if (r->key.proto == IPPROTO_TCP) {
		/* What each state implies was on the wire: a flow is opened by a
		 * SYN, established by the SYN-ACK, closed by FINs or a RST. */
		flags |= FLOW_TCP_SYN;
		if (state >= XCNI_CT_ESTABLISHED)
			flags |= FLOW_TCP_ACK;
		if (fin_orig || fin_reply)
			flags |= FLOW_TCP_FIN;
		if (state == XCNI_CT_CLOSED && !(fin_orig && fin_reply))
			flags |= FLOW_TCP_RST;
		changed |= flags != r->tcp_flags;
		r->tcp_flags = flags;
		changed |= ct_fate(r, f->now_ns, state, fin_orig, fin_reply, pkts);
	}
	r->ct_state = state;
	r->ct_last = last_ns;
	r->ct_seen = 1;
	/* Out of memory for the list, the record stays as it was: not active,
	 * and the next walk tries again. */
	if (!r->in_ct && ct_add(f, r))
		changed = true;
	if (changed)
		flows_touch(f, r);
	return changed;
}

size_t flows_ct_sweep(struct flows *f, bool all_read, uint64_t now_ns)
{
	size_t ended = 0;

	/* From the end: an ended record's slot takes the last one, already looked at. */
	for (size_t i = f->nct; i-- > 0;) {
		struct flow_rec *r = f->ct[i];
		uint64_t life = xcni_ct_lifetime(r->ct_state, r->key.proto);
		/* A stamp after now_ns is fresh (another CPU's clock), as the programs take it. */
		bool alive = now_ns <= r->ct_last || now_ns - r->ct_last <= life;

		/* A walk reads only the entries stamped since the last: an
		 * unanswered SYN's, untouched, times out here. */
		if (!flow_verdict_dropped(r->verdict) && r->verdict != FLOW_REFUSED &&
		    r->verdict != FLOW_TIMEOUT && unanswered(r, now_ns, r->ct_state, r->pkts)) {
			r->verdict = FLOW_TIMEOUT;
			flows_touch(f, r);
		}
		if (alive && (r->ct_seen || !all_read)) {
			r->ct_seen = 0;
			continue;
		}
		ct_del(f, r);
		r->ct_seen = 0;
		flows_touch(f, r);
		ended++;
	}
	return ended;
}

static void seen(struct flow_rec *r, uint64_t ts_ns)
{
	if (!r->first_ns || ts_ns < r->first_ns)
		r->first_ns = ts_ns;
	if (ts_ns > r->last_ns)
		r->last_ns = ts_ns;
}

void flows_set_ends(struct flows *f, struct flow_rec *r, const struct flow_peer *src,
		    const struct flow_peer *dst)
{
	flows_peer_copy(f, &r->src, src);
	flows_peer_copy(f, &r->dst, dst);
	if (r->verdict == FLOW_ALLOWED)
		r->verdict = passed(r);
	/* Out of memory, it stays charged where it was. */
	if (!r->owner_fixed)
		rec_charge(f, r, flows_owner_of(&r->src, &r->dst));
}

void flows_isolators(struct flows *f, struct flow_rec *r, const char *isolators)
{
	flows_set_str(f, &r->isolators, isolators);
}

/* The verdict changes from one that passed to a drop, or back: a policy change. */
static void verdict_turn(struct flows *f, struct flow_rec *r, uint8_t to)
{
	bool was_passing = !flow_verdict_dropped(r->verdict), passing = !flow_verdict_dropped(to);

	if (was_passing != passing && (r->pkts[0] || r->drops || r->policy)) {
		r->prev_verdict = r->verdict + 1;
		flows_set_str(f, &r->prev_policy, r->policy);
	}
	r->verdict = to;
}

void flows_verdict(struct flows *f, struct flow_rec *r, uint64_t ts_ns, uint8_t pol_dir,
		   uint32_t policy_id, const char *policy, uint16_t rule, bool audit)
{
	f->st.events++;
	seen(r, ts_ns);
	/* An allow after a drop: the policy changed and the flow got through. */
	verdict_turn(f, r, audit ? FLOW_AUDIT : passed(r));
	flows_set_str(f, &r->isolators, NULL);
	flows_set_str(f, &r->near_misses, NULL);
	r->reason = 0;
	r->pol_dir = pol_dir;
	r->policy_id = policy_id;
	r->rule = rule;
	flows_set_str(f, &r->policy, policy);
	flows_touch(f, r);
}

void flows_drop(struct flows *f, struct flow_rec *r, uint64_t ts_ns, uint8_t pol_dir,
		int32_t reason, uint32_t len)
{
	uint8_t to = (uint8_t)flow_drop_verdict(reason);

	f->st.events++;
	seen(r, ts_ns);
	if (r->verdict != to) {
		/* Cut: what allowed it no longer decides (a tier's Deny names its own). */
		verdict_turn(f, r, to);
		r->policy_id = 0;
		r->rule = 0;
		flows_set_str(f, &r->policy, NULL);
		flows_set_str(f, &r->rule_name, NULL);
	}
	r->reason = reason;
	r->pol_dir = pol_dir;
	r->drops++;
	/* A flow that never got a conntrack entry counts what was refused. */
	if (!r->ct_created) {
		r->pkts[0]++;
		r->bytes[0] += len;
	}
	flows_touch(f, r);
}

void flows_rule_name(struct flows *f, struct flow_rec *r, const char *name)
{
	flows_set_str(f, &r->rule_name, name);
}

void flows_denied_by(struct flows *f, struct flow_rec *r, uint32_t policy_id, const char *policy,
		     uint16_t rule)
{
	r->policy_id = policy_id;
	r->rule = rule;
	flows_set_str(f, &r->policy, policy);
	flows_touch(f, r);
}

/* The records ff passes (its first or last N) as JSON lines, then the window's counts. */
int flows_render_json(struct flows *f, const struct flow_filter *ff,
		      const struct flow_render_ctx *rc, struct fbuf *b)
{
	const struct flow_rec *r, *start = f->head;
	uint64_t n = 0;

	if (ff->last) {
		/* From the end: where the last N matches begin. */
		for (r = f->tail; r; r = r->prev)
			if (flow_filter_match(ff, r, rc->now_ns, rc->wall_off_ns)) {
				start = r;
				if (++n == ff->last)
					break;
			}
		if (!n)
			start = NULL;
		n = 0;
	}
	for (r = start; r && !b->err && (!ff->first || n < ff->first); r = r->next)
		if (flow_filter_match(ff, r, rc->now_ns, rc->wall_off_ns)) {
			flow_rec_json(b, r, rc);
			n++;
		}
	flows_fbuf_printf(b,
	                  "{\"cursor\":%llu,\"flows\":%zu,\"window\":%zu,\"created\":%llu,"
	                  "\"evicted\":%llu,\"events\":%llu,\"owners\":%zu",
	                  (unsigned long long)f->seq, f->n, f->window,
	                  (unsigned long long)f->st.created, (unsigned long long)f->st.evicted,
	                  (unsigned long long)f->st.events, f->nheap);
	/* Whose records the window pushed out most (xcnictl status names it). */
	{
		const struct flow_owner *top = NULL;

		for (const struct flow_owner *o = f->owners; o; o = o->anext)
			if (o->evicted && (!top || o->evicted > top->evicted))
				top = o;
		if (top) {
			flows_fbuf_printf(b, ",\"evicted_most\":{\"namespace\":");
			flows_fbuf_json_str(b, top->ns);
			flows_fbuf_printf(b, ",\"evicted\":%llu}", (unsigned long long)top->evicted);
		}
	}
	flows_fbuf_printf(b, "%s}\n", rc->trailer_extra ? rc->trailer_extra : "");
	return b->err ? b->err : (int)n;
}

int flows_sock_path(const char *pin_dir, char *buf, size_t len)
{
	size_t off;
	int n = snprintf(buf, len, "/run/xcni/flows");

	for (off = (size_t)n; *pin_dir && off + 1 < len; pin_dir++)
		buf[off++] = *pin_dir == '/' ? '-' : *pin_dir;
	if (off + sizeof(".sock") > len)
		return -ENAMETOOLONG;
	memcpy(buf + off, ".sock", sizeof(".sock"));
	return 0;
}

int flows_events_path(const char *sock_path, char *buf, size_t len)
{
	size_t n = strlen(sock_path);
	const char *ext = ".sock";

	if (n > strlen(ext) && !strcmp(sock_path + n - strlen(ext), ext))
		n -= strlen(ext);
	if (snprintf(buf, len, "%.*s.events", (int)n, sock_path) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

bool flows_ct_walk_due(uint64_t last_ns, uint64_t now_ns, uint64_t entries, uint64_t copy_cpu_ns)
{
	uint64_t gap = entries / FLOWS_CT_WALK_RATE * 1000000000ULL +
		       entries % FLOWS_CT_WALK_RATE * 1000000000ULL / FLOWS_CT_WALK_RATE;
	const uint64_t max = FLOWS_CT_WALK_MAX_S * 1000000000ULL;

	/* The spacing, a tick late, still reads a closed TCP entry before it expires. */
	_Static_assert((FLOWS_CT_WALK_MAX_S + 1) * 1000000000ULL < XCNI_CT_TCP_CLOSE_NS,
		       "walks read every closed TCP entry before it expires");

	if (copy_cpu_ns > max / FLOWS_CT_WALK_SHARE)
		gap = max;
	else if (copy_cpu_ns * FLOWS_CT_WALK_SHARE > gap)
		gap = copy_cpu_ns * FLOWS_CT_WALK_SHARE;
	if (gap > max)
		gap = max;
	if (gap <= 1000000000ULL || now_ns < last_ns)
		return true;
	return now_ns - last_ns + 100000000ULL >= gap;
}

/* The characters of s's first n bytes (UTF-8: continuation bytes not counted). */
static size_t u8_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

void flow_near_miss_lines(FILE *f, const char *nm, size_t indent, size_t cols)
{
	const char *p = nm;
	size_t col, lead = indent;

	if (!nm || !*nm)
		return;
	col = (size_t)fprintf(f, "%*snear miss:", (int)lead, "");
	while (*p) {
		size_t n = strcspn(p, " "), w = u8_width(p, n);

		/* A word that does not fit goes to the next line (one longer than
		 * a line goes whole: never cut). */
		if (col + 1 + w > cols && col > lead + 2) {
			lead = indent + 2;
			col = (size_t)fprintf(f, "\n%*s", (int)lead, "") - 1;
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += w;
		p += n;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}
