// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler's books that policy_incr.c and policy_incr_eps.c
 * both keep: the pods' selecting policies (epsel), the endpoints to compile
 * again (dirty), an identity by its number, a pod's "ns/name" key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"
#include "lib/system/hmap.h"
#include "lib/policy/policy_incr_int.h"

void pol_incr_epsel_drop(struct hmap *m, uint32_t ip)
{
	struct epsel *e = hmap_del(m, hu32(ip), UKEY(ip));

	if (e)
		free(e->np);
	free(e);
}

void pol_incr_epsel_clear(struct hmap *m)
{
	hmap_each(m, s)
	{
		struct epsel *e = s->v;

		free(e->np);
		free(e);
	}
	hmap_clear(m);
}

int pol_incr_dirty_ep(struct pol_incr *pi, uint32_t ip)
{
	return hmap_put(&pi->dirty, hu32(ip), UKEY(ip), NULL);
}

char *pol_incr_pod_key(const char *ns, const char *name)
{
	size_t ln = strlen(ns ? ns : ""), lm = strlen(name);
	char *k = malloc(ln + lm + 2);

	if (!k)
		return NULL;
	memcpy(k, ns ? ns : "", ln);
	k[ln] = '/';
	memcpy(k + ln + 1, name, lm + 1);
	return k;
}
