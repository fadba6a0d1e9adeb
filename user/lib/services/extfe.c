// SPDX-License-Identifier: Apache-2.0
/* xcni_extfe from the Services (extfe.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <bpf/bpf.h>

#include "lib/services/extfe.h"
#include "lib/services/svcsync_int.h"
#include "lib/system/util.h"

struct kbuf {
	struct xcni_svc_key *k;
	size_t n, cap;
};

/* One address (4 or 16 bytes) at every port of s. */
static int add_addr(struct kbuf *b, const struct k8s_service *s, uint8_t family,
		    const void *addr)
{
	for (size_t i = 0; i < s->nports; i++) {
		const struct k8s_svc_port *p = &s->ports[i];
		struct xcni_svc_key *k;

		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP &&
		    p->proto != IPPROTO_SCTP)
			continue;
		if (XCNI_GROW(b->k, b->n, b->cap))
			return -ENOMEM;
		k = &b->k[b->n++];
		memset(k, 0, sizeof(*k));
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
		const struct svc_node *node, struct xcni_svc_key **out, size_t *n)
{
	struct kbuf b = { 0 };
	int err = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < c->n[K8S_SERVICE] && !err; i++) {
		const struct k8s_service *s = &c->objs[K8S_SERVICE][i]->svc;

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
			err = add_addr(&b, s, XCNI_AF_INET, &s->lb_ips[j]);
		for (size_t j = 0; j < s->nlb_ips6 && !err; j++)
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

int extfe_sync(int fd, const struct xcni_svc_key *want, size_t n, struct extfe_stats *st)
{
	struct xcni_svc_key *have;
	unsigned char *keys;
	size_t nh;
	__u32 one = 1;
	int err;

	memset(st, 0, sizeof(*st));
	/* What the map holds, then the stale ones out (room for the new first). */
	if ((err = svcsync_keys(fd, sizeof(*have), &keys, &nh)))
		return err;
	have = (struct xcni_svc_key *)(void *)keys;
	for (size_t i = 0; i < nh; i++) {
		if (n && bsearch(&have[i], want, n, sizeof(*want), key_cmp))
			continue;
		if (!bpf_map_delete_elem(fd, &have[i]))
			st->deleted++;
		else if (errno != ENOENT && !err)
			err = -errno;
	}
	if (nh)
		qsort(have, nh, sizeof(*have), key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (nh && bsearch(&want[i], have, nh, sizeof(*have), key_cmp))
			continue;
		if (!bpf_map_update_elem(fd, &want[i], &one, BPF_NOEXIST))
			st->written++;
		else if (errno == E2BIG || errno == ENOSPC || errno == ENOMEM)
			st->full++;
		else if (errno != EEXIST && !err)
			err = -errno;
	}
	free(have);
	return err;
}
