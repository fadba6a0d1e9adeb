/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What test_flows.c and test_flowscope.c share: flow keys of either family,
 * a record made as conntrack's walk makes it (ct) and one with its ends named
 * (named). Each test includes it once; a helper one of them does not call is
 * not an error.
 */
#ifndef XCNI_TEST_FLOWS_FX_H
#define XCNI_TEST_FLOWS_FX_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"

#pragma GCC diagnostic ignored "-Wunused-function"

static struct flow_key key4(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct flow_key k = { .family = 4, .proto = proto, .sport = sp, .dport = dp };

	assert_int_equal(inet_pton(AF_INET, s, k.saddr), 1);
	assert_int_equal(inet_pton(AF_INET, d, k.daddr), 1);
	return k;
}

static struct flow_key key6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct flow_key k = { .family = 6, .proto = proto, .sport = sp, .dport = dp };

	assert_int_equal(inet_pton(AF_INET6, s, k.saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, d, k.daddr), 1);
	return k;
}

static struct flow_rec *ct(struct flows *f, struct flow_key k, uint64_t created, uint64_t last,
			   uint64_t po, uint64_t bo, uint64_t pr, uint64_t br, uint8_t state)
{
	uint64_t p[2] = { po, pr }, b[2] = { bo, br };
	bool created_rec;
	struct flow_rec *r = flows_get_owned(f, &k, NULL, &created_rec);

	assert_non_null(r);
	flows_ct_update(f, r, created, last, p, b, state, false, false);
	return r;
}

static struct flow_rec *named(struct flows *f, struct flow_key k, const char *sns,
			      const char *spod, const char *slabels, const char *dns,
			      const char *dpod, uint64_t t)
{
	struct flow_rec *r = ct(f, k, t, t, 1, 60, 1, 60, XCNI_CT_ESTABLISHED);

	flows_set_str(f, &r->src.ns, sns);
	flows_set_str(f, &r->src.pod, spod);
	flows_set_str(f, &r->src.labels, slabels);
	flows_set_str(f, &r->dst.ns, dns);
	flows_set_str(f, &r->dst.pod, dpod);
	return r;
}

#endif
