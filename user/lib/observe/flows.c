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
#include "lib/system/proto.h"
#include "lib/observe/reasons.h"
#include "lib/observe/vocab.h"

/*
 * Names (pods, label sets, policies, Services) shared among records: a
 * thousand flows of one pod hold its labels once. Reference counted, freed
 * with the last record that named them.
 */
struct istr {
	struct istr *next;
	uint64_t refs;
	uint32_t hash;
	char s[];
};

struct flows {
	size_t window, n;
	struct flow_rec **tab; /* hash chains by key */
	size_t nbuckets;
	struct flow_rec *head, *tail; /* least recently changed first */
	struct istr **strs;
	size_t nstrs_buckets;
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
};

static uint32_t fnv(const void *p, size_t len, uint32_t h)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/*
 * A record's bucket: the key's 38 bytes taken 8 at a time (a multiply and a
 * shift each), not byte by byte: a new connection's record hashes its key
 * once (kept in the record for its removal), and a walk hashes the key of
 * every entry stamped since the last one.
 */
static uint32_t key_hash(const struct flow_key *k)
{
	uint64_t w[5] = { 0 }, h = 0x9e3779b97f4a7c15ULL;

	_Static_assert(sizeof(*k) <= sizeof(w), "a flow key is at most 5 words");
	memcpy(w, k, sizeof(*k));
	for (size_t i = 0; i < 5; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return (uint32_t)(h ^ h >> 29);
}

static bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return a->family == b->family && a->proto == b->proto && a->sport == b->sport &&
	       a->dport == b->dport && !memcmp(a->saddr, b->saddr, 16) &&
	       !memcmp(a->daddr, b->daddr, 16);
}

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
	/* A power of two at least the window: chains of one on average. */
	for (f->nbuckets = 64; f->nbuckets < window; f->nbuckets <<= 1)
		;
	f->nstrs_buckets = f->nbuckets / 4 ?: 16;
	f->tab = calloc(f->nbuckets, sizeof(*f->tab));
	f->strs = calloc(f->nstrs_buckets, sizeof(*f->strs));
	if (!f->tab || !f->strs) {
		flows_free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

static void str_put(struct flows *f, const char *s)
{
	struct istr *is, **pp;

	if (!s)
		return;
	is = (struct istr *)(s - offsetof(struct istr, s));
	if (--is->refs)
		return;
	for (pp = &f->strs[is->hash & (f->nstrs_buckets - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == is) {
			*pp = is->next;
			break;
		}
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
	h = fnv(s, len, 2166136261u);
	for (is = f->strs[h & (f->nstrs_buckets - 1)]; is; is = is->next)
		if (is->hash == h && !strcmp(is->s, s))
			break;
	if (!is) {
		is = malloc(sizeof(*is) + len + 1);
		if (!is)
			return -ENOMEM;
		is->refs = 0;
		is->hash = h;
		memcpy(is->s, s, len + 1);
		is->next = f->strs[h & (f->nstrs_buckets - 1)];
		f->strs[h & (f->nstrs_buckets - 1)] = is;
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
			     &r->backend,   &r->rule_name,   &r->prev_policy, &r->isolators };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
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
	free(f->tab);
	free(f->strs);
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

static uint32_t iso_hash(const char *ns, const char *pod, bool ingress, bool pod_total,
			 const char *pol, size_t plen)
{
	uint32_t h = fnv(ns, strlen(ns) + 1, 2166136261u);

	h = fnv(pod, strlen(pod) + 1, h);
	h = fnv(&ingress, 1, h);
	h = fnv(&pod_total, 1, h);
	return fnv(pol, plen, h);
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

uint64_t flows_seq(const struct flows *f)
{
	return f->seq;
}

void flows_on_evict(struct flows *f, void (*fn)(void *arg, const struct flow_rec *r), void *arg)
{
	f->on_evict = fn;
	f->evict_arg = arg;
}

static struct flow_rec *find_h(struct flows *f, const struct flow_key *key, uint32_t h)
{
	struct flow_rec *r;

	for (r = f->tab[h & (f->nbuckets - 1)]; r; r = r->hnext)
		if (r->hash == h && key_eq(&r->key, key))
			return r;
	return NULL;
}

struct flow_rec *flows_find(struct flows *f, const struct flow_key *key)
{
	return find_h(f, key, key_hash(key));
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

/* r is in_ct from now on: among the records a sweep looks at. false: no memory. */
static bool ct_add(struct flows *f, struct flow_rec *r)
{
	if (f->nct == f->ct_cap) {
		size_t cap = f->ct_cap ? 2 * f->ct_cap : 1024;
		struct flow_rec **p = realloc(f->ct, cap * sizeof(*p));

		if (!p)
			return false;
		f->ct = p;
		f->ct_cap = cap;
	}
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
	struct flow_rec **pp = &f->tab[r->hash & (f->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == r) {
			*pp = r->hnext;
			break;
		}
	list_unlink(f, r);
	rec_strs_put(f, r);
	free(r);
	f->n--;
}

struct flow_rec *flows_get(struct flows *f, const struct flow_key *key, bool *created)
{
	uint32_t h = key_hash(key);
	struct flow_rec *r = find_h(f, key, h);
	size_t b;

	*created = false;
	if (r)
		return r;
	if (f->n >= f->window) {
		/* The head changed longest ago: the one a reader misses least. */
		if (f->on_evict)
			f->on_evict(f->evict_arg, f->head);
		rec_remove(f, f->head);
		f->st.evicted++;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->key = *key;
	r->hash = h;
	r->pol_dir = 0xff;
	b = h & (f->nbuckets - 1);
	r->hnext = f->tab[b];
	f->tab[b] = r;
	list_append(f, r);
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

size_t flows_ct_count(const struct flows *f)
{
	return f->nct;
}

static void seen(struct flow_rec *r, uint64_t ts_ns)
{
	if (!r->first_ns || ts_ns < r->first_ns)
		r->first_ns = ts_ns;
	if (ts_ns > r->last_ns)
		r->last_ns = ts_ns;
}

/* What passing here is: into the overlay, forwarded (the other node judges). */
static uint8_t passed(const struct flow_rec *r)
{
	return r->dst.loc == FLOW_LOC_REMOTE ? FLOW_FORWARDED : FLOW_ALLOWED;
}

void flows_set_ends(struct flows *f, struct flow_rec *r, const struct flow_peer *src,
		    const struct flow_peer *dst)
{
	flows_peer_copy(f, &r->src, src);
	flows_peer_copy(f, &r->dst, dst);
	if (r->verdict == FLOW_ALLOWED)
		r->verdict = passed(r);
}

void flows_isolators(struct flows *f, struct flow_rec *r, const char *isolators)
{
	flows_set_str(f, &r->isolators, isolators);
}

/* The verdict changes from one that passed to a drop, or back: a policy change. */
static void verdict_turn(struct flows *f, struct flow_rec *r, uint8_t to)
{
	bool was_passing = r->verdict != FLOW_DENIED, passing = to != FLOW_DENIED;

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
	f->st.events++;
	seen(r, ts_ns);
	if (r->verdict != FLOW_DENIED) {
		/* Cut: what allowed it no longer decides (a tier's Deny names its own). */
		verdict_turn(f, r, FLOW_DENIED);
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
	                  "\"evicted\":%llu,\"events\":%llu%s}\n",
	                  (unsigned long long)f->seq, f->n, f->window,
	                  (unsigned long long)f->st.created, (unsigned long long)f->st.evicted,
	                  (unsigned long long)f->st.events,
	                  rc->trailer_extra ? rc->trailer_extra : "");
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
