// SPDX-License-Identifier: Apache-2.0
/* xcni_extfe from the Services (extfe.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "lib/services/extfe.h"
#include "lib/services/svcsync_int.h"
#include "lib/system/mapw.h"
#include "lib/system/util.h"

struct kbuf {
	struct extfe_rec *k;
	size_t n, cap;
	const char *ns; /* the Service's */
};

/* One address (4 or 16 bytes) at every port of s. */
static int add_addr(struct kbuf *b, const struct k8s_service *s, uint8_t family,
		    const void *addr)
{
	for (size_t i = 0; i < s->nports; i++) {
		const struct k8s_svc_port *p = &s->ports[i];
		struct extfe_rec *r;
		struct xcni_svc_key *k;

		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP &&
		    p->proto != IPPROTO_SCTP)
			continue;
		if (XCNI_GROW(b->k, b->n, b->cap))
			return -ENOMEM;
		r = &b->k[b->n++];
		memset(r, 0, sizeof(*r));
		r->one = 1;
		r->ns = b->ns;
		k = &r->k;
		memcpy(k->addr, addr, family == XCNI_AF_INET ? 4 : 16);
		k->port = htons(p->port);
		k->family = family;
		k->proto = p->proto;
		k->scope = XCNI_SCOPE_EXT;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_svc_key));
}

/* Does the externalIP addr go to the map (extfe_build)? */
static bool ext_vouched(const struct svc_ext_rules *ext, const struct svc_node *node,
			uint8_t family, const void *addr)
{
	char why[192];

	return ext && ext->nallow && !svc_ext_refused(ext, node, family, addr, why, sizeof(why));
}

int extfe_build(const struct cluster *c, const struct svc_ext_rules *ext,
		const struct svc_node *node, struct extfe_rec **out, size_t *n)
{
	struct kbuf b = { 0 };
	char why[192];
	int err = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < c->n[K8S_SERVICE] && !err; i++) {
		const struct k8s_service *s = &c->objs[K8S_SERVICE][i]->svc;

		b.ns = c->objs[K8S_SERVICE][i]->meta.ns;
		if (s->external_name)
			continue;
		if (!s->headless && s->cluster_ip)
			err = add_addr(&b, s, XCNI_AF_INET, &s->cluster_ip);
		if (!err && !s->headless && s->has_ip6)
			err = add_addr(&b, s, XCNI_AF_INET6, s->cluster_ip6);
		for (size_t j = 0; j < s->nexternal_ips && !err; j++)
			if (ext_vouched(ext, node, XCNI_AF_INET, &s->external_ips[j]))
				err = add_addr(&b, s, XCNI_AF_INET, &s->external_ips[j]);
		for (size_t j = 0; j < s->nexternal_ips6 && !err; j++)
			if (ext_vouched(ext, node, XCNI_AF_INET6, s->external_ips6[j]))
				err = add_addr(&b, s, XCNI_AF_INET6, s->external_ips6[j]);
		for (size_t j = 0; j < s->nlb_ips && !err; j++)
			if (!svc_lb_refused(ext, node, XCNI_AF_INET, &s->lb_ips[j], why, sizeof(why)))
				err = add_addr(&b, s, XCNI_AF_INET, &s->lb_ips[j]);
		for (size_t j = 0; j < s->nlb_ips6 && !err; j++)
			if (!svc_lb_refused(ext, node, XCNI_AF_INET6, s->lb_ips6[j], why, sizeof(why)))
				err = add_addr(&b, s, XCNI_AF_INET6, s->lb_ips6[j]);
	}
	if (err) {
		free(b.k);
		return err;
	}
	if (b.n) {
		size_t u = 1;

		qsort(b.k, b.n, sizeof(*b.k), key_cmp);
		for (size_t i = 1; i < b.n; i++)
			if (key_cmp(&b.k[i], &b.k[u - 1]))
				b.k[u++] = b.k[i];
		b.n = u;
	}
	*out = b.k;
	*n = b.n;
	return 0;
}

static const char *rec_ns(const void *rec)
{
	return ((const struct extfe_rec *)rec)->ns;
}

int extfe_sync(int fd, size_t max, const struct extfe_rec *want, size_t n, struct extfe_stats *st)
{
	struct mapw_room m = { .fd = fd, .ksz = sizeof(want->k), .vsz = sizeof(want->one),
			       .max = max, .step = "extfe", .owner_of = rec_ns };
	int err = mapw_room_sync(&m, want, n, sizeof(*want), offsetof(struct extfe_rec, one));

	st->written = m.written;
	st->deleted = m.deleted;
	st->full = m.dropped;
	return err;
}
