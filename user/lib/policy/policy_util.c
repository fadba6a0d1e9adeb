// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler's small tools, which call nothing else of it: the policies'
 * hash, errors, growing arrays, sorting, sets, strings; the keys both
 * compilers write (ports, entries, prefixes) and the data plane's lookups
 * over them (policy.h), which the tiers read NetworkPolicy back through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/log.h"
#include "lib/system/cidr.h"
#include "lib/system/hash.h"
#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"

uint32_t pol_fnv1a(const char *s)
{
	return xcni_fnv32_str(XCNI_FNV32_BASIS, s);
}

uint32_t pol_policy_hash_raw(uint32_t (*hash)(const char *), const char *ns, const char *name)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", ns ? ns : "", name ? name : "");
	return 1 + hash(buf) % POLICY_ID_SPAN;
}

uint32_t pol_policy_hash(const char *ns, const char *name)
{
	return pol_policy_hash_raw(pol_fnv1a, ns, name);
}

void pol_set_err(struct k8s_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void pol_sort_unless_sorted(void *base, size_t n, size_t sz,
			    int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++) {
		if (cmp((char *)base + (i - 1) * sz, (char *)base + i * sz) > 0) {
			qsort(base, n, sz, cmp);
			return;
		}
	}
}

size_t pol_merge(void *dst, const void *a, size_t na, const void *b, size_t nb, size_t sz,
		 int (*cmp)(const void *, const void *))
{
	for (size_t i = 0, j = 0; i < na || j < nb;) {
		bool mine = j == nb || (i < na && cmp((const char *)a + i * sz, (const char *)b + j * sz) <= 0);

		memmove((char *)dst + (i + j) * sz, mine ? (const char *)a + i * sz : (const char *)b + j * sz,
			sz);
		i += mine, j += !mine;
	}
	return na + nb;
}

int pol_cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

void pol_ep_set(struct pol_ep *ep, struct pol_entry *e, size_t n, struct pol_cidr *c, size_t nc)
{
	free(ep->entries);
	free(ep->cidrs);
	ep->entries = e;
	ep->nentries = n;
	ep->cidrs = c;
	ep->ncidrs = nc;
}

const struct k8s_labels *pol_ns_labels(const struct cluster *c, const char *ns)
{
	static const struct k8s_labels none;
	size_t lo = 0, hi = c->n[K8S_NAMESPACE];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(c->objs[K8S_NAMESPACE][mid]->meta.name, ns);

		if (!d)
			return &c->objs[K8S_NAMESPACE][mid]->meta.labels;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &none;
}

size_t pol_ns_first(const void *const *v, size_t n, size_t meta, const char *ns)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (pol_cmp_str(((const struct k8s_meta *)((const char *)v[mid] + meta))->ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void pol_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	/* Not snprintf: three per pod on every compile showed in profiles. */
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return;
}

int pol_cmp_id(const void *a, const void *b)
{
	uint32_t x = ((const struct identity *)a)->id, y = ((const struct identity *)b)->id;

	return (x > y) - (x < y);
}

int pol_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int pol_cmp_idprev(const void *a, const void *b)
{
	return strcmp(((const struct pol_idprev *)a)->labels,
		      ((const struct pol_idprev *)b)->labels);
}

int pol_cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int pol_cmp_entry_key(const void *a, const void *b)
{
	return memcmp(&((const struct pol_entry *)a)->key, &((const struct pol_entry *)b)->key,
		      sizeof(struct xcni_policy_key));
}

int pol_cmp_cidr_key(const void *a, const void *b)
{
	return memcmp(&((const struct pol_cidr *)a)->key, &((const struct pol_cidr *)b)->key,
		      sizeof(struct xcni_polcidr_key));
}

size_t pol_sort_dedup(void *arr, size_t n, size_t size, int (*cmp)(const void *, const void *),
		      size_t keylen)
{
	char *a = arr;
	size_t w = 1;

	if (n < 2)
		return n;
	qsort(a, n, size, cmp);
	for (size_t r = 1; r < n; r++)
		if (keylen ? memcmp(a + r * size, a + (w - 1) * size, keylen) :
			     cmp(a + r * size, a + (w - 1) * size)) {
			if (r != w)
				memcpy(a + w * size, a + r * size, size);
			w++;
		}
	return w;
}

struct identity *pol_identity_find(const struct pol_result *r, uint32_t id)
{
	struct identity k = { .id = id };

	return bsearch(&k, r->identities, r->nidentities, sizeof(k), pol_cmp_id);
}

int pol_u32set_init(struct pol_u32set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 16)
		cap *= 2;
	s->mask = cap - 1;
	s->v = calloc(cap, sizeof(*s->v));
	return s->v ? 0 : -ENOMEM;
}

bool pol_u32set_has(const struct pol_u32set *s, uint32_t k)
{
	for (size_t i = (k * 2654435761u) & s->mask; s->v && s->v[i]; i = (i + 1) & s->mask)
		if (s->v[i] == k)
			return true;
	return false;
}

bool pol_u32set_add(struct pol_u32set *s, uint32_t k)
{
	size_t i = (k * 2654435761u) & s->mask;

	while (s->v[i]) {
		if (s->v[i] == k)
			return false;
		i = (i + 1) & s->mask;
	}
	s->v[i] = k;
	return true;
}

struct xcni_prefix pol_key_cidr(const struct xcni_polcidr_key *k)
{
	struct xcni_prefix c = xcni_prefix_host(k->addr, k->v6 ? k->addr6 : NULL);

	c.len = (uint8_t)(k->prefixlen - XCNI_POLCIDR_PREFIX_BASE);
	return c;
}

struct xcni_polcidr_key pol_cidr_key(uint32_t ep, uint8_t dir, const struct xcni_prefix *a)
{
	struct xcni_polcidr_key k = { .prefixlen = XCNI_POLCIDR_PREFIX_BASE + a->len,
				      .ep = ep, .dir = dir, .v6 = a->family == 6 };

	memcpy(k.v6 ? k.addr6 : (uint8_t *)&k.addr, a->addr, k.v6 ? 16 : 4);
	return k;
}

int pol_specs_add(struct specs *s, uint8_t proto, uint16_t port, unsigned plen)
{
	if (xcni_grow(&s->v, &s->cap, s->n, sizeof(*s->v)))
		return -ENOMEM;
	s->v[s->n++] = (struct portspec){ .proto = proto, .plen = plen, .port = port };
	return 0;
}

int pol_specs_add_range(struct specs *s, uint8_t proto, uint32_t lo, uint32_t hi)
{
	while (lo <= hi) {
		unsigned k = 0;
		int ret;

		while (k < 16 && !(lo & ((2u << k) - 1)) && lo + (2u << k) - 1 <= hi)
			k++;
		ret = pol_specs_add(s, proto, lo, POL_PREFIX_FULL - k);
		if (ret)
			return ret;
		lo += 1u << k;
	}
	return 0;
}

struct pol_entry pol_entry_make(uint32_t ep, uint8_t dir, uint32_t peer, const struct portspec *s,
				struct xcni_policy_val val)
{
	struct pol_entry e;

	/* Whole, padding included: entries are compared and sorted with memcmp
	 * (a compound literal leaves padding unspecified; ASan's did differ). */
	memset(&e, 0, sizeof(e));
	e.key.prefixlen = s->plen;
	e.key.ep = ep;
	e.key.peer = peer;
	e.key.dir = dir;
	e.key.proto = s->proto;
	e.key.port = htons(s->port);
	e.val = val;
	return e;
}

bool pol_lpm_match(const void *stored, const void *lookup, unsigned int plen)
{
	return xcni_prefix_has((const uint8_t *)stored + 4, plen, (const uint8_t *)lookup + 4);
}

const struct pol_cidr *pol_cidr_lookup(const struct pol_ep *ep, int dir, const struct xcni_prefix *a)
{
	const struct pol_cidr *best = NULL;

	/* The direction first: a tiered pod's other direction may hold a key per node and pod. */
	for (size_t i = 0; i < ep->ncidrs; i++) {
		const struct pol_cidr *c = &ep->cidrs[i];
		struct xcni_prefix p;

		if (c->key.dir != dir)
			continue;
		p = pol_key_cidr(&c->key);
		if (xcni_prefix_inside(a, &p) && (!best || c->key.prefixlen > best->key.prefixlen))
			best = c;
	}
	return best;
}

const struct pol_entry *pol_entry_lookup(const struct pol_ep *ep, int dir, uint32_t peer,
					 uint8_t proto, uint16_t port)
{
	struct xcni_policy_key k = { .prefixlen = POL_PREFIX_FULL, .ep = ep->ip, .peer = peer,
				     .dir = dir, .proto = proto, .port = htons(port) };
	const struct pol_entry *best = NULL;

	for (size_t i = 0; i < ep->nentries; i++)
		if (pol_lpm_match(&ep->entries[i].key, &k, ep->entries[i].key.prefixlen) &&
		    (!best || ep->entries[i].key.prefixlen > best->key.prefixlen))
			best = &ep->entries[i];
	return best;
}

const struct pol_ep *pol_ep_find(const struct pol_result *r, uint32_t ip)
{
	for (size_t i = 0; i < r->neps; i++)
		if (r->eps[i].ip == ip)
			return &r->eps[i];
	return NULL;
}

uint32_t pol_ipcache_identity(const struct pol_result *r, uint32_t ip)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip };
	const struct pol_ipcache *best = NULL;

	for (size_t i = 0; i < r->nipcache; i++)
		if (pol_lpm_match(&r->ipcache[i].key, &k, r->ipcache[i].key.prefixlen) &&
		    (!best || r->ipcache[i].key.prefixlen > best->key.prefixlen))
			best = &r->ipcache[i];
	return best ? best->val.identity : XCNI_ID_WORLD;
}

uint32_t pol_cidr_group(const struct pol_ep *ep, int dir, uint32_t ip)
{
	struct xcni_prefix a = xcni_prefix_host(ip, NULL);
	const struct pol_cidr *c = pol_cidr_lookup(ep, dir, &a);

	return c ? c->group : 0;
}
