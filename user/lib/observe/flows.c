// SPDX-License-Identifier: Apache-2.0
/* Flow records, their window, the filters of xcnictl flows and their JSON (flows.h). */
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

static uint32_t iso_hash(const char *ns, const char *pod, bool ingress, const char *pol,
			 size_t plen)
{
	uint32_t h = fnv(ns, strlen(ns) + 1, 2166136261u);

	h = fnv(pod, strlen(pod) + 1, h);
	h = fnv(&ingress, 1, h);
	return fnv(pol, plen, h);
}

static void iso_one(struct flows *f, const char *ns, const char *pod, bool ingress,
		    const char *pol, size_t plen, uint64_t packets)
{
	size_t cap = sizeof(f->iso_idx) / sizeof(f->iso_idx[0]);
	size_t i = iso_hash(ns, pod, ingress, pol, plen) & (cap - 1);
	struct flows_isodrop *d;

	for (; f->iso_idx[i] >= 0; i = (i + 1) & (cap - 1)) {
		d = &f->iso[f->iso_idx[i]];
		if (d->ingress == ingress && !strcmp(d->ns, ns) && !strcmp(d->pod, pod) &&
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
	do {
		size_t l = strcspn(p, ",");

		iso_one(f, ns, pod, ingress, p, l, packets);
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

static const char *const verdict_names[FLOW_NR_VERDICTS] = { "allowed", "denied", "audit",
							     "forwarded" };

const char *flow_verdict_name(int v)
{
	return v >= 0 && v < FLOW_NR_VERDICTS ? verdict_names[v] : "allowed";
}

static const char *const point_names[] = {
	[FLOW_PT_NONE] = "unknown",	      [FLOW_PT_FROM_POD] = "from-pod",
	[FLOW_PT_FROM_OVERLAY] = "from-overlay", [FLOW_PT_FROM_HOST] = "from-host",
	[FLOW_PT_FROM_OUTSIDE] = "from-outside", [FLOW_PT_TO_POD] = "to-pod",
	[FLOW_PT_TO_OVERLAY] = "to-overlay",   [FLOW_PT_TO_STACK] = "to-stack",
};

const char *flow_point_name(int pt)
{
	return pt >= 0 && pt < (int)(sizeof(point_names) / sizeof(point_names[0])) ?
		       point_names[pt] :
		       "unknown";
}

int flow_rec_entry(const struct flow_rec *r)
{
	switch (r->src.loc) {
	case FLOW_LOC_LOCAL:
		return FLOW_PT_FROM_POD;
	case FLOW_LOC_REMOTE:
		return FLOW_PT_FROM_OVERLAY;
	case FLOW_LOC_HOST:
		return FLOW_PT_FROM_HOST;
	}
	return FLOW_PT_FROM_OUTSIDE;
}

int flow_rec_point(const struct flow_rec *r)
{
	/* A policy drop is where the policy judged: egress at the source pod,
	 * ingress at the destination; any other drop where it came in. */
	if (r->verdict == FLOW_DENIED) {
		if (r->pol_dir == 1)
			return FLOW_PT_TO_POD;
		return flow_rec_entry(r);
	}
	switch (r->dst.loc) {
	case FLOW_LOC_LOCAL:
		return FLOW_PT_TO_POD;
	case FLOW_LOC_REMOTE:
		return FLOW_PT_TO_OVERLAY;
	}
	return FLOW_PT_TO_STACK;
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


/* ---- filters ------------------------------------------------------------- */

void flow_filter_init(struct flow_filter *ff)
{
	memset(ff, 0, sizeof(*ff));
	ff->verdict = ff->port = ff->sport = ff->dport = ff->proto = -1;
}

void flow_filter_free(struct flow_filter *ff)
{
	for (unsigned int i = 0; i < ff->nnots; i++)
		flow_filter_free(&ff->nots[i]);
	free(ff->nots);
	ff->nots = NULL;
	ff->nnots = 0;
}

#define FERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static bool match_peer(const struct flow_match *m, const struct flow_peer *p, uint8_t family,
		       const uint8_t *addr);

static bool is_label_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/' ||
	       c == ':';
}

/* "k=v,k!=v,k,!k" (a Kubernetes equality selector) into m. */
static int parse_selector(struct flow_match *m, const char *name, const char *s,
			  const char *shown, char *err, size_t errlen)
{
	char buf[512], *save, *tok;

	if (strlen(s) >= sizeof(buf))
		return FERR("--%s %s: label selector too long", name, shown);
	snprintf(buf, sizeof(buf), "%s", s);
	m->kind = FM_LABELS;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *k = tok, *v = NULL;
		uint8_t op = 'e';

		if (m->nsel == FLOW_SEL_MAX)
			return FERR("--%s %s: more than %d label requirements", name, shown,
				    FLOW_SEL_MAX);
		if (*k == '!') {
			op = 'n';
			k++;
		}
		if (eq) {
			if (op == 'n')
				return FERR("--%s %s: '!' goes before a key alone", name, shown);
			op = '=';
			if (eq > tok && eq[-1] == '!') {
				op = '!';
				eq[-1] = '\0';
			}
			*eq = '\0';
			v = eq + 1;
			if (*v == '=') /* "k==v" */
				v++;
		}
		if (!*k || strlen(k) >= sizeof(m->sel[0].key) ||
		    (v && strlen(v) >= sizeof(m->sel[0].val)))
			return FERR("--%s %s: empty or too long label key or value", name, shown);
		for (const char *c = k; *c; c++)
			if (!is_label_char(*c))
				return FERR("--%s %s: '%c' in label key %s", name, shown, *c, k);
		for (const char *c = v; c && *c; c++)
			if (!is_label_char(*c))
				return FERR("--%s %s: '%c' in label value %s", name, shown, *c, v);
		snprintf(m->sel[m->nsel].key, sizeof(m->sel[0].key), "%s", k);
		snprintf(m->sel[m->nsel].val, sizeof(m->sel[0].val), "%s", v ? v : "");
		m->sel[m->nsel++].op = op;
	}
	if (!m->nsel)
		return FERR("--%s %s: empty label selector", name, shown);
	return 0;
}

/* An address or prefix of either family (an address alone: its host prefix). */
static int match_cidr(struct flow_match *m, const char *s)
{
	int family;

	if (strlen(s) >= 64 || xcni_cidr_parse(s, XCNI_CIDR_BARE, &family, m->addr, &m->plen))
		return -EINVAL;
	m->family = (uint8_t)family;
	m->kind = FM_CIDR;
	return 0;
}

/*
 * --from/--to: "pod:NS/NAME", "ns:NS", "label:SELECTOR", "ip:IP[/LEN]", or
 * the same without its prefix when the shape tells: an address or prefix, a
 * selector (has '='), a pod (has '/'), else a namespace.
 */
static int parse_match(struct flow_match *m, const char *name, const char *v, char *err,
		       size_t errlen)
{
	const char *kind = NULL, *s = v, *colon = strchr(v, ':');
	static const char *const kinds[] = { "pod", "ns", "namespace", "label", "ip", "identity" };

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; colon && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((size_t)(colon - v) == strlen(kinds[i]) && !strncmp(v, kinds[i], colon - v)) {
			kind = kinds[i];
			s = colon + 1;
		}
	if (!*s)
		return FERR("--%s %s: empty", name, v);
	if (!kind) {
		char a[64];
		uint8_t t[16];

		/* An address before any '/' is a prefix, right or wrong. */
		snprintf(a, sizeof(a), "%.*s", (int)strcspn(s, "/"), s);
		if (inet_pton(AF_INET, a, t) == 1 || inet_pton(AF_INET6, a, t) == 1)
			kind = "ip";
		else if (strchr(s, '='))
			kind = "label";
		else if (strchr(s, '/'))
			kind = "pod";
		else
			kind = "ns";
	}
	if (!strcmp(kind, "ip")) {
		if (match_cidr(m, s))
			return FERR("--%s %s: not an IP address or CIDR", name, v);
		return 0;
	}
	if (!strcmp(kind, "label"))
		return parse_selector(m, name, s, v, err, errlen);
	if (!strcmp(kind, "identity")) {
		char e[200];

		if (vocab_identity(s, &m->id, e, sizeof(e)))
			return FERR("--%s %s: %s", name, v, strstr(e, ": ") + 2);
		m->kind = FM_IDENTITY;
		return 0;
	}
	if (!strcmp(kind, "pod")) {
		const char *slash = strchr(s, '/');
		size_t nl = slash ? (size_t)(slash - s) : 0;

		if (!slash || !nl || !slash[1] || strchr(slash + 1, '/'))
			return FERR("--%s %s: a pod is NAMESPACE/NAME", name, v);
		if (nl >= sizeof(m->ns) || strlen(slash + 1) >= sizeof(m->name))
			return FERR("--%s %s: namespace or name too long", name, v);
		memcpy(m->ns, s, nl);
		snprintf(m->name, sizeof(m->name), "%s", slash + 1);
		m->kind = FM_POD;
		return 0;
	}
	if (strchr(s, '/') || strlen(s) >= sizeof(m->ns))
		return FERR("--%s %s: not a namespace name", name, v);
	snprintf(m->ns, sizeof(m->ns), "%s", s);
	m->kind = FM_NS;
	return 0;
}

/* "90s", "5m", "2h", "1d", or plain seconds, into ns. */
static int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1000000000ULL;

	if (!*s || *s == '-')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (end == s)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mul = 1000000ULL;
	else if (!strcmp(end, "m"))
		mul *= 60;
	else if (!strcmp(end, "h"))
		mul *= 3600;
	else if (!strcmp(end, "d"))
		mul *= 86400;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -EINVAL;
	*ns = v * mul;
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end || errno || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Hubble's --from-pod/--to-pod: "[NAMESPACE/]NAME-PREFIX", the namespace "default" when not given. */
static int parse_pod_prefix(struct flow_match *m, const char *name, const char *v, char *err,
			    size_t errlen)
{
	const char *slash = strchr(v, '/'), *pod = slash ? slash + 1 : v;
	size_t nl = slash ? (size_t)(slash - v) : 0;

	memset(m, 0, sizeof(*m));
	if (!*pod || (slash && !nl) || strchr(pod, '/'))
		return FERR("--%s %s: a pod is [NAMESPACE/]NAME (a prefix of the name)", name, v);
	if (nl >= sizeof(m->ns) || strlen(pod) >= sizeof(m->name))
		return FERR("--%s %s: namespace or name too long", name, v);
	if (slash)
		memcpy(m->ns, v, nl);
	else
		snprintf(m->ns, sizeof(m->ns), "default");
	snprintf(m->name, sizeof(m->name), "%s", pod);
	m->kind = FM_POD;
	m->prefix = 1;
	return 0;
}

/* An RFC 3339 time, or a duration before now (Hubble's --since/--until take both). */
static bool is_time(const char *s)
{
	return strlen(s) >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-';
}

/* Negated filters: what can be negated is what says which records, not how many. */
static int filter_not(struct flow_filter *ff, const char *name, const char *value, char *err,
		      size_t errlen)
{
	static const char *const never[] = { "since", "until", "last", "first", "after", "time" };
	struct flow_filter *n;
	int e;

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (!strcmp(name, never[i]))
			return FERR("--not --%s: a window of time or a count cannot be negated", name);
	if (ff->nnots == FLOW_NOT_MAX)
		return FERR("--not --%s: at most %d negated filters", name, FLOW_NOT_MAX);
	n = realloc(ff->nots, (ff->nnots + 1) * sizeof(*n));
	if (!n)
		return FERR("--not --%s: out of memory", name);
	ff->nots = n;
	flow_filter_init(&n[ff->nnots]);
	e = flow_filter_set(&n[ff->nnots], name, value, err, errlen);
	if (!e)
		ff->nnots++;
	return e;
}

/* --port, --from-port, --to-port: either end's, the source's, the destination's. */
static int filter_port(struct flow_filter *ff, const char *name, const char *value, char *err,
		       size_t errlen)
{
	uint64_t v;

	if (parse_u64(value, 65535, &v) || !v)
		return FERR("--%s %s: not a port (1-65535)", name, value);
	*(name[0] == 'p' ? &ff->port : name[0] == 'f' ? &ff->sport : &ff->dport) = (int)v;
	return 0;
}

/* A direction: --from/--to, or Hubble's --from-KIND/--to-KIND (KIND:VALUE). */
static int filter_direction(struct flow_filter *ff, const char *name, const char *value,
			    char *err, size_t errlen)
{
	static const char *const kinds[] = { "ip", "namespace", "label", "identity" };
	bool from = name[0] == 'f';
	const char *kind = name + (from ? 4 : 2), *dir = from ? "from" : "to";
	struct flow_match *m = from ? &ff->from : &ff->to;
	char v[600];

	if (*kind && strcmp(kind, "-pod") && strcmp(kind, "-port")) {
		size_t i;

		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (kind[0] == '-' && !strcmp(kind + 1, kinds[i]))
				break;
		if (i == sizeof(kinds) / sizeof(kinds[0]))
			return FERR("--%s: no such filter", name);
	}
	if (!strcmp(kind, "-port"))
		return filter_port(ff, name, value, err, errlen);
	if (m->kind != FM_NONE)
		return FERR("--%s %s: the %s is given twice (one of --%s, --%s-pod, --%s-ip, "
			    "--%s-namespace, --%s-label, --%s-identity)", name, value,
			    from ? "source" : "destination", dir, dir, dir, dir, dir, dir);
	if (!strcmp(kind, "-pod"))
		return parse_pod_prefix(m, name, value, err, errlen);
	if (!*kind)
		return parse_match(m, name, value, err, errlen);
	/* --from-ip X is --from ip:X: the kind said, not guessed from the shape. */
	if (snprintf(v, sizeof(v), "%s:%s", !strcmp(kind, "-namespace") ? "ns" : kind + 1,
		     value) >= (int)sizeof(v))
		return FERR("--%s: too long", name);
	if (parse_match(m, name, v, err, errlen)) {
		/* said of "ip:X": say it of the value given */
		snprintf(err, errlen, "--%s %s: not %s", name, value,
			 !strcmp(kind, "-ip") ? "an IP address or CIDR" :
			 !strcmp(kind, "-namespace") ? "a namespace name" :
			 !strcmp(kind, "-label") ? "a label selector (k=v,k!=v,k,!k)" :
			 "an identity (a number or reserved:NAME)");
		return -EINVAL;
	}
	return 0;
}

/* Either end, the words of every view (vocab.h): --pod, --ip, --namespace, --identity, --label. 1: not one. */
static int filter_either(struct flow_filter *ff, const char *name, const char *value, char *err,
			 size_t errlen)
{
	struct flow_match *m;
	char v[600];

	if (!strcmp(name, "pod")) {
		/* NAMESPACE/NAME, exactly (the map views' --pod), or the pod's IP. */
		if (vocab_pod(value, err, errlen))
			return -EINVAL;
		snprintf(v, sizeof(v), "%s:%s", strchr(value, '/') ? "pod" : "ip", value);
		if (parse_match(&ff->either[FLOW_EITHER_POD], name, v, err, errlen))
			return FERR("--pod %s: a pod is NAMESPACE/NAME or its IP", value);
		return 0;
	}
	if (!strcmp(name, "ip")) {
		snprintf(v, sizeof(v), "ip:%s", value);
		if (parse_match(&ff->either[FLOW_EITHER_IP], name, v, err, errlen))
			return FERR("--ip %s: not an IP address or CIDR", value);
		return 0;
	}
	if (!strcmp(name, "identity")) {
		m = &ff->either[FLOW_EITHER_ID];
		memset(m, 0, sizeof(*m));
		if (vocab_identity(value, &m->id, err, errlen))
			return -EINVAL;
		m->kind = FM_IDENTITY;
		return 0;
	}
	if (!strcmp(name, "namespace")) {
		m = &ff->either[FLOW_EITHER_NS];
		if (vocab_namespace(value, sizeof(m->ns), err, errlen))
			return -EINVAL;
		memset(m, 0, sizeof(*m));
		snprintf(m->ns, sizeof(m->ns), "%s", value);
		m->kind = FM_NS;
		return 0;
	}
	if (!strcmp(name, "label")) {
		memset(&ff->either[FLOW_EITHER_LABEL], 0, sizeof(ff->either[0]));
		return parse_selector(&ff->either[FLOW_EITHER_LABEL], name, value, value, err,
				      errlen);
	}
	return 1;
}

/* --since/--until VALUE: an RFC 3339 time into *wall_ns, else a duration (> 0) into *ago_ns. */
static int filter_when(const char *name, const char *value, int64_t *wall_ns, uint64_t *ago_ns,
		       char *err, size_t errlen)
{
	if (is_time(value)) {
		if (flow_time_parse(value, wall_ns))
			return FERR("--%s %s: not an RFC 3339 time (2026-11-26T03:04:05Z) or a "
				    "duration", name, value);
		return 0;
	}
	if (parse_duration(value, ago_ns) || !*ago_ns)
		return FERR("--%s %s: not a duration (30s, 5m, 2h, 1d)%s", name, value,
			    name[0] == 'u' ? " or an RFC 3339 time" : "");
	return 0;
}

/* Which records and how many: --since, --until, --first, --last, --after, --time. 1: not one. */
static int filter_window(struct flow_filter *ff, const char *name, const char *value, char *err,
			 size_t errlen)
{
	bool first = !strcmp(name, "first");

	if (!strcmp(name, "until"))
		return filter_when(name, value, &ff->until_wall_ns, &ff->until_ago_ns, err, errlen);
	if (!strcmp(name, "since"))
		return filter_when(name, value, &ff->since_wall_ns, &ff->since_ns, err, errlen);
	if (first || !strcmp(name, "last")) {
		uint64_t *n = first ? &ff->first : &ff->last;

		if (parse_u64(value, FLOWS_WINDOW_MAX, n) || !*n)
			return FERR("--%s %s: not a count (1-%u)", name, value, FLOWS_WINDOW_MAX);
		if (first ? ff->last : ff->first)
			return FERR("--first and --last: give one");
		return 0;
	}
	if (!strcmp(name, "after")) {
		if (parse_u64(value, UINT64_MAX, &ff->after))
			return FERR("after %s: not a cursor", value);
		return 0;
	}
	if (!strcmp(name, "time")) {
		if (!strcmp(value, "mono"))
			ff->time_mono = true;
		else if (!strcmp(value, "rfc3339") || !strcmp(value, "wall"))
			ff->time_mono = false;
		else
			return FERR("--time %s: rfc3339 (wall clock, UTC) or mono", value);
		return 0;
	}
	return 1;
}

/* --protocol: a name (tcp, udp, icmp, icmpv6, sctp) or a number. */
static int filter_protocol(struct flow_filter *ff, const char *value, char *err, size_t errlen)
{
	static const struct {
		const char *n;
		int p;
	} protos[] = { { "tcp", IPPROTO_TCP },	 { "udp", IPPROTO_UDP },
		       { "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 },
		       { "sctp", IPPROTO_SCTP } };
	uint64_t v;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(value, protos[i].n)) {
			ff->proto = protos[i].p;
			return 0;
		}
	if (parse_u64(value, 255, &v))
		return FERR("--protocol %s: not tcp, udp, icmp, icmpv6, sctp or a number", value);
	ff->proto = (int)v;
	return 0;
}

int flow_filter_set(struct flow_filter *ff, const char *name, const char *value, char *err,
		    size_t errlen)
{
	int r;

	if (!strncmp(name, "not.", 4))
		return filter_not(ff, name + 4, value, err, errlen);
	if (!strcmp(name, "port"))
		return filter_port(ff, name, value, err, errlen);
	if (!strncmp(name, "from", 4) || !strncmp(name, "to", 2))
		return filter_direction(ff, name, value, err, errlen);
	if ((r = filter_either(ff, name, value, err, errlen)) != 1 ||
	    (r = filter_window(ff, name, value, err, errlen)) != 1)
		return r;
	if (!strcmp(name, "verdict"))
		return vocab_verdict(value, &ff->verdict, err, errlen);
	if (!strcmp(name, "reason"))
		return vocab_reason(value, &ff->reason, err, errlen);
	if (!strcmp(name, "protocol"))
		return filter_protocol(ff, value, err, errlen);
	if (!strcmp(name, "service")) {
		const char *slash = strchr(value, '/');

		if (!slash || slash == value || !slash[1] || strchr(slash + 1, '/') ||
		    strlen(value) >= sizeof(ff->service))
			return FERR("--service %s: a Service is NAMESPACE/NAME[:PORT]", value);
		snprintf(ff->service, sizeof(ff->service), "%s", value);
		return 0;
	}
	return FERR("--%s: no such filter", name);
}

int flow_filter_parse(struct flow_filter *ff, const char *req, char *err, size_t errlen)
{
	char line[1024];

	flow_filter_init(ff);
	while (*req) {
		const char *nl = strchr(req, '\n');
		size_t len = nl ? (size_t)(nl - req) : strlen(req);
		char *eq;
		int e;

		if (len >= sizeof(line))
			return FERR("request line too long");
		memcpy(line, req, len);
		line[len] = '\0';
		req += len + (nl ? 1 : 0);
		if (!len)
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return FERR("request line %s: not name=value", line);
		*eq = '\0';
		e = flow_filter_set(ff, line, eq + 1, err, errlen);
		if (e)
			return e;
	}
	return 0;
}

static bool in_prefix(const struct flow_match *m, uint8_t family, const uint8_t *addr)
{
	unsigned int full = m->plen / 8, rest = m->plen % 8;

	if (m->family != family)
		return false;
	if (memcmp(m->addr, addr, full))
		return false;
	return !rest || !((m->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

/*
 * The value of key in a canonical label set ("k8s:app=web,ns:x/y=z,...") or
 * NULL: "app" finds "k8s:app" as well as a key written in full.
 */
static const char *label_value(const char *labels, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = labels; p && *p;) {
		const char *end = strchr(p, ','), *eq;
		size_t l = end ? (size_t)(end - p) : strlen(p);
		const char *k = p;
		size_t klen;

		eq = memchr(p, '=', l);
		klen = eq ? (size_t)(eq - p) : l;
		if (klen > 4 && !strncmp(k, "k8s:", 4) && !(kl > 4 && !strncmp(key, "k8s:", 4))) {
			k += 4;
			klen -= 4;
		}
		if (klen == kl && !strncmp(k, key, kl)) {
			size_t vl = eq ? l - (size_t)(eq + 1 - p) : 0;

			if (vl >= len)
				vl = len - 1;
			memcpy(buf, eq ? eq + 1 : "", vl);
			buf[vl] = '\0';
			return buf;
		}
		p += l + (end ? 1 : 0);
	}
	return NULL;
}

int flow_match_labels(struct flow_match *m, const char *selector, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	return parse_selector(m, "label", selector, selector, err, errlen);
}

bool flow_labels_match(const struct flow_match *m, const char *labels)
{
	struct flow_peer p = { .labels = labels };

	return match_peer(m, &p, 0, NULL);
}

static bool match_peer(const struct flow_match *m, const struct flow_peer *p, uint8_t family,
		       const uint8_t *addr)
{
	char buf[128];

	switch (m->kind) {
	case FM_NONE:
		return true;
	case FM_CIDR:
		return in_prefix(m, family, addr);
	case FM_IDENTITY:
		return p->identity == m->id;
	case FM_NS:
		return p->ns && !strcmp(p->ns, m->ns);
	case FM_POD:
		return p->ns && p->pod && !strcmp(p->ns, m->ns) &&
		       (m->prefix ? !strncmp(p->pod, m->name, strlen(m->name)) :
				    !strcmp(p->pod, m->name));
	case FM_LABELS:
		for (unsigned int i = 0; i < m->nsel; i++) {
			const char *v = label_value(p->labels, m->sel[i].key, buf, sizeof(buf));

			switch (m->sel[i].op) {
			case '=':
				if (!v || strcmp(v, m->sel[i].val))
					return false;
				break;
			case '!':
				if (v && !strcmp(v, m->sel[i].val))
					return false;
				break;
			case 'e':
				if (!v)
					return false;
				break;
			case 'n':
				if (v)
					return false;
				break;
			}
		}
		return true;
	}
	return false;
}

bool flow_filter_match(const struct flow_filter *ff, const struct flow_rec *r, uint64_t now_ns,
		       int64_t wall_off_ns)
{
	int64_t last_wall = (int64_t)r->last_ns + wall_off_ns;

	if (r->seq <= ff->after)
		return false;
	if (ff->verdict == FLOW_VERDICT_PASSED ?
		    r->verdict != FLOW_ALLOWED && r->verdict != FLOW_FORWARDED :
		    ff->verdict >= 0 && r->verdict != ff->verdict)
		return false;
	if (ff->proto >= 0 && r->key.proto != ff->proto)
		return false;
	if (ff->port >= 0 && r->key.sport != ff->port && r->key.dport != ff->port)
		return false;
	if ((ff->sport >= 0 && r->key.sport != ff->sport) ||
	    (ff->dport >= 0 && r->key.dport != ff->dport))
		return false;
	if (ff->since_ns && now_ns > ff->since_ns && r->last_ns < now_ns - ff->since_ns)
		return false;
	if ((ff->since_wall_ns && last_wall < ff->since_wall_ns) ||
	    (ff->until_wall_ns && last_wall > ff->until_wall_ns) ||
	    (ff->until_ago_ns && (now_ns < ff->until_ago_ns ||
				  r->last_ns > now_ns - ff->until_ago_ns)))
		return false;
	if (ff->reason && r->reason != ff->reason)
		return false;
	for (int i = 0; i < FLOW_EITHER_NR; i++)
		if (ff->either[i].kind != FM_NONE &&
		    !match_peer(&ff->either[i], &r->src, r->key.family, r->key.saddr) &&
		    !match_peer(&ff->either[i], &r->dst, r->key.family, r->key.daddr))
			return false;
	for (unsigned int i = 0; i < ff->nnots; i++)
		if (flow_filter_match(&ff->nots[i], r, now_ns, wall_off_ns))
			return false;
	if (ff->service[0]) {
		size_t l = strlen(ff->service);

		/* "ns/name" matches every port of it; "ns/name:port" that one. */
		if (!r->service || strncmp(r->service, ff->service, l) ||
		    (r->service[l] && (strchr(ff->service, ':') || r->service[l] != ':')))
			return false;
	}
	return match_peer(&ff->from, &r->src, r->key.family, r->key.saddr) &&
	       match_peer(&ff->to, &r->dst, r->key.family, r->key.daddr);
}

/* ---- rendering ----------------------------------------------------------- */

static void fbuf_grow(struct fbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap < b->len + need + 1)
		cap *= 2;
	if (b->max && cap > b->max) {
		if (b->len + need + 1 > b->max) {
			b->err = -E2BIG;
			return;
		}
		cap = b->max;
	}
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return;
	}
	b->p = p;
	b->cap = cap;
}

void fbuf_printf(struct fbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EINVAL;
		return;
	}
	if (!b->p || (size_t)n >= b->cap - b->len) {
		fbuf_grow(b, (size_t)n);
		if (b->err)
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void fbuf_free(struct fbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A JSON string, or null. */
static void json_str(struct fbuf *b, const char *s)
{
	if (!s) {
		fbuf_printf(b, "null");
		return;
	}
	fbuf_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			fbuf_printf(b, "\\u%04x", c);
		else
			fbuf_printf(b, "%c", c);
	}
	fbuf_printf(b, "\"");
}

/* What an end is when it is no pod: the reserved identity's name. */
const char *flow_peer_kind(const struct flow_peer *p)
{
	if (p->pod)
		return "pod";
	switch (p->identity) {
	case XCNI_ID_HOST:
		return "host";
	case XCNI_ID_REMOTE_NODE:
		return "remote-node";
	case XCNI_ID_UNMANAGED:
		return "unmanaged";
	case XCNI_ID_WORLD:
	case XCNI_ID_ANY:
		return "world";
	}
	return p->identity >= XCNI_ID_CIDR_BASE ? "world" : "pod";
}

static void json_peer(struct fbuf *b, const char *name, const struct flow_peer *p,
		      uint8_t family, const uint8_t *addr, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip, sizeof(ip));
	fbuf_printf(b, "\"%s\":{\"ip\":\"%s\",\"port\":%u,\"identity\":%u,\"kind\":\"%s\","
		       "\"namespace\":", name, ip, port, p->identity, flow_peer_kind(p));
	json_str(b, p->ns);
	fbuf_printf(b, ",\"pod\":");
	json_str(b, p->pod);
	fbuf_printf(b, ",\"labels\":");
	json_str(b, p->labels);
	fbuf_printf(b, "}");
}

void flow_time_fmt(int64_t wall_ns, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ns / 1000000000LL);
	struct tm tm;
	size_t n;

	if (wall_ns < 0)
		t = 0, wall_ns = 0;
	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06lldZ", (long long)(wall_ns % 1000000000LL / 1000));
}

int flow_time_parse(const char *s, int64_t *wall_ns)
{
	struct tm tm = {};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t frac = 0, off = 0;
	time_t t;

	if (!p)
		return -EINVAL;
	if (*p == '.') {
		int64_t scale = 100000000LL;

		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += scale ? (*p - '0') * scale : 0;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
		   isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '+')
			off = -off;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*wall_ns = ((int64_t)t + off) * 1000000000LL + frac;
	return 0;
}

/* RFC 3339 UTC, or CLOCK_MONOTONIC seconds with rc->mono. */
static void json_time(struct fbuf *b, uint64_t mono_ns, const struct flow_render_ctx *rc)
{
	char t[48];

	if (rc->mono) {
		fbuf_printf(b, "%llu.%06llu", (unsigned long long)(mono_ns / 1000000000ULL),
			    (unsigned long long)(mono_ns % 1000000000ULL / 1000));
		return;
	}
	flow_time_fmt((int64_t)mono_ns + rc->wall_off_ns, t, sizeof(t));
	fbuf_printf(b, "\"%s\"", t);
}

void flow_rec_json(struct fbuf *b, const struct flow_rec *r, const struct flow_render_ctx *rc)
{
	const struct xcni_reason_info *ri = r->reason ? xcni_reason_info(r->reason) : NULL;
	const char *ps = proto_label(r->key.proto);
	char flags[24] = "";

	fbuf_printf(b, "{\"node\":");
	json_str(b, rc->node);
	fbuf_printf(b, ",\"family\":\"ipv%u\",\"protocol\":", r->key.family);
	if (ps)
		fbuf_printf(b, "\"%s\"", ps);
	else
		fbuf_printf(b, "\"%u\"", r->key.proto);
	fbuf_printf(b, ",");
	json_peer(b, "source", &r->src, r->key.family, r->key.saddr, r->key.sport);
	fbuf_printf(b, ",");
	json_peer(b, "destination", &r->dst, r->key.family, r->key.daddr, r->key.dport);
	fbuf_printf(b, ",\"verdict\":\"%s\",\"observation_point\":\"%s\",\"entry_point\":\"%s\","
		       "\"policy_side\":",
		    flow_verdict_name(r->verdict), flow_point_name(flow_rec_point(r)),
		    flow_point_name(flow_rec_entry(r)));
	if (r->pol_dir <= 1)
		fbuf_printf(b, "\"%s\"", r->pol_dir ? "ingress" : "egress");
	else
		fbuf_printf(b, "null");
	fbuf_printf(b, ",\"policy\":");
	json_str(b, r->policy);
	if (r->policy)
		fbuf_printf(b, ",\"rule\":%u", r->rule);
	else
		fbuf_printf(b, ",\"rule\":null");
	fbuf_printf(b, ",\"rule_name\":");
	json_str(b, r->policy ? r->rule_name : NULL);
	fbuf_printf(b, ",\"drop_reason\":");
	if (ri)
		json_str(b, ri->name);
	else if (r->reason)
		fbuf_printf(b, "\"reason%d\"", r->reason);
	else
		fbuf_printf(b, "null");
	fbuf_printf(b, ",\"isolated_by\":");
	json_str(b, r->verdict == FLOW_DENIED ? r->isolators : NULL);
	fbuf_printf(b, ",\"previous_verdict\":");
	if (r->prev_verdict)
		fbuf_printf(b, "\"%s\"", flow_verdict_name(r->prev_verdict - 1));
	else
		fbuf_printf(b, "null");
	fbuf_printf(b, ",\"previous_policy\":");
	json_str(b, r->prev_verdict ? r->prev_policy : NULL);
	fbuf_printf(b, ",\"service\":");
	json_str(b, r->service);
	fbuf_printf(b, ",\"backend\":");
	json_str(b, r->backend);
	fbuf_printf(b, ",\"service_path\":");
	json_str(b, r->svc_path == FLOW_SVC_PATH_XDP ? "xdp" :
		    r->svc_path == FLOW_SVC_PATH_TC  ? "tc" : NULL);
	fbuf_printf(b, ",\"packets\":%llu,\"bytes\":%llu,\"reply_packets\":%llu,"
		       "\"reply_bytes\":%llu,\"drops\":%llu,",
		    (unsigned long long)r->pkts[0], (unsigned long long)r->bytes[0],
		    (unsigned long long)r->pkts[1], (unsigned long long)r->bytes[1],
		    (unsigned long long)r->drops);
	if (r->tcp_flags & FLOW_TCP_SYN)
		strcat(flags, ",\"SYN\"");
	if (r->tcp_flags & FLOW_TCP_ACK)
		strcat(flags, ",\"ACK\"");
	if (r->tcp_flags & FLOW_TCP_FIN)
		strcat(flags, ",\"FIN\"");
	if (r->tcp_flags & FLOW_TCP_RST)
		strcat(flags, ",\"RST\"");
	fbuf_printf(b, "\"tcp_flags\":[%s],\"first_seen\":", flags[0] ? flags + 1 : "");
	json_time(b, r->first_ns, rc);
	fbuf_printf(b, ",\"last_seen\":");
	json_time(b, r->last_ns, rc);
	fbuf_printf(b, ",\"updated\":");
	json_time(b, r->updated_ns ? r->updated_ns : r->last_ns, rc);
	fbuf_printf(b, ",\"active\":%s,\"seq\":%llu}\n", r->in_ct ? "true" : "false",
		    (unsigned long long)r->seq);
}

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
	fbuf_printf(b, "{\"cursor\":%llu,\"flows\":%zu,\"window\":%zu,\"created\":%llu,"
		       "\"evicted\":%llu,\"events\":%llu%s}\n",
		    (unsigned long long)f->seq, f->n, f->window,
		    (unsigned long long)f->st.created, (unsigned long long)f->st.evicted,
		    (unsigned long long)f->st.events, rc->trailer_extra ? rc->trailer_extra : "");
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
