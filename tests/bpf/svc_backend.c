// SPDX-License-Identifier: Apache-2.0
/*
 * Which backend a ClusterIP flow gets, both families (svc_lib.c's tables;
 * prep svc_both_state): at random, every packet of a flow where its first
 * went; ClientIP affinity (one client, one backend, in the family's own
 * affinity entry); Maglev (the table user/lib/services/maglev.c builds,
 * indexed by the flow's hash); terminating endpoints serving only when no
 * active one is left, open flows draining.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "svc.h"
#include "../../user/lib/services/maglev.h"

/* ClientIP affinity: one client, many source ports, one backend, in the
 * family's own affinity entry; IPv4: a backend that turned terminating while
 * others are active is left for another (lb6_setup's writer has no versions). */
static void svc_affinity(void **state)
{
	static const uint32_t next[] = { 51, 53, 52 };
	const struct fam *fa = *state;
	struct xcni_affinity_key ak = { .svc_id = fa->svc + 5,
					.family = fa->v6 ? XCNI_AF_INET6 : XCNI_AF_INET };
	struct xcni_affinity a;
	uint16_t got = pk_open(fa, fa->vip5, 42000), other;
	uint32_t id, slots[3];
	int k = 0;

	assert_true(got >= 7001 && got <= 7003);
	for (int i = 1; i < 60; i++)
		assert_int_equal(pk_open(fa, fa->vip5, (uint16_t)(42000 + i)), got);
	if (fa->v6) {
		in6(fa->a, ak.client);
	} else {
		uint32_t ip = ip4(fa->a);

		memcpy(ak.client, &ip, 4);
	}
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_affinity"), &ak, &a), 0);
	id = 51u + (got - 7001u);
	assert_int_equal(a.backend_id, fa->be + id);
	if (fa->v6)
		return;

	/* The affine backend terminating, the two others active (a new version). */
	for (int i = 0; i < 3; i++)
		if (next[i] != id)
			slots[k++] = next[i];
	slots[2] = id;
	assert_int_equal(be_set(id, id == 53 ? IP_C : IP_B, got, XCNI_BE_TERMINATING), 0);
	assert_int_equal(svc_set("10.96.1.5", 80, IPPROTO_TCP, 5, 1, XCNI_SVC_F_AFFINITY, 10800, slots,
				 2, 1),
			 0);
	other = pk_open(fa, fa->vip5, 42100);
	assert_int_not_equal(other, got);
	for (int i = 1; i < 20; i++)
		assert_int_equal(pk_open(fa, fa->vip5, (uint16_t)(42100 + i)), other);
}

/*
 * Issue 52, xcni_affinity accepted as one LRU (docs/security.md): one sender
 * of many addresses (an IPv6 /64, a pod's many sockets) fills the whole map
 * past its size. The client's open flow keeps its backend (its conntrack
 * entry holds it, not the affinity entry) and its next flow still gets a
 * backend: what the flood can cost another client is stickiness only.
 */
static void svc_affinity_flood(void **state)
{
	const struct fam *fa = *state;
	struct xcni_affinity_key ak = { .svc_id = fa->svc + 5,
					.family = fa->v6 ? XCNI_AF_INET6 : XCNI_AF_INET };
	struct xcni_affinity a = { .backend_id = fa->be + 51 };
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), n;
	int fd = map_fd("xcni_affinity");
	uint16_t got = pk_open(fa, fa->vip5, 43000), next;

	assert_true(got >= 7001 && got <= 7003);
	assert_int_equal(bpf_map_get_info_by_fd(fd, &info, &len), 0);
	n = info.max_entries + info.max_entries / 4;
	/* The attacker's clients: 2001:db8:ffff::/48 or 100.64.0.0/10, one entry each. */
	ak.client[0] = fa->v6 ? 0x20 : 100;
	ak.client[1] = fa->v6 ? 0x01 : 64;
	for (__u32 i = 0; i < n; i++) {
		memcpy(&ak.client[fa->v6 ? 12 : 2], &i, fa->v6 ? 4 : 2);
		if (!fa->v6)
			ak.client[1] = (uint8_t)(64 | (i >> 16));
		assert_int_equal(bpf_map_update_elem(fd, &ak, &a, BPF_ANY), 0);
	}
	assert_int_equal(pk_open(fa, fa->vip5, 43000), got);
	next = pk_open(fa, fa->vip5, 43001);
	assert_true(next >= 7001 && next <= 7003);
	assert_int_equal(pk_open(fa, fa->vip5, 43001), next);
}

/* Maglev: the backend is table[hash(tuple) % M] (xcni_lb_hash, either family),
 * the table from user/lib/services/maglev.c. */
static void svc_maglev(void **state)
{
	const struct fam *fa = *state;
	struct maglev_backend mb[5];
	struct xcni_backend b[5];
	uint32_t *table = calloc(XCNI_MAGLEV_M, sizeof(*table));
	uint32_t key = xcni_maglev_key(fa->svc + 7, 0), be = fa->be + 71;
	uint8_t sa[16], da[16];
	int inner, used = 0, seen[5] = {};

	assert_non_null(table);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_backend"), &(uint32_t){ be + i },
						     &b[i]),
				 0);
		mb[i] = (struct maglev_backend){ .key = &b[i],
						 .key_len = offsetof(struct xcni_backend, state),
						 .id = be + i };
	}
	assert_int_equal(maglev_build(mb, 5, XCNI_MAGLEV_M, table), 0);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ut_maglev", 4, 4, XCNI_MAGLEV_M, NULL);
	assert_true(inner >= 0);
	for (uint32_t i = 0; i < XCNI_MAGLEV_M; i++)
		assert_int_equal(bpf_map_update_elem(inner, &i, &table[i], BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_maglev"), &key, &inner, BPF_ANY), 0);
	close(inner);
	if (fa->v6) {
		in6(fa->a, sa);
		in6(fa->vip7, da);
	}
	for (int i = 0; i < 100; i++) {
		uint16_t sport = (uint16_t)(43000 + i * 7);
		uint32_t h = fa->v6 ? xcni_lb_hash(XCNI_AF_INET6, sa, da, htons(sport), htons(80),
						   IPPROTO_TCP)
				    : xcni_lb_hash(XCNI_AF_INET, &(__u32){ ip4(fa->a) },
						   &(__u32){ ip4(fa->vip7) }, htons(sport),
						   htons(80), IPPROTO_TCP);
		uint32_t want = table[h % XCNI_MAGLEV_M];

		assert_int_equal(pk_open(fa, fa->vip7, sport), 7101 + (want - be));
		seen[want - be]++;
	}
	for (int i = 0; i < 5; i++)
		used += seen[i] > 0;
	assert_true(used >= 4);
	free(table);
}

/* Random: flows spread; every packet of a flow goes where its first went. */
static void lb_random_sticky(void **state)
{
	uint16_t first[20];
	int used[3] = {};

	(void)state;
	for (int i = 0; i < 20; i++) {
		first[i] = pk_open(&fam4, "10.96.1.6", (uint16_t)(41000 + i));
		assert_true(first[i] >= 7001 && first[i] <= 7003);
		used[first[i] - 7001]++;
	}
	/* 20 flows over 3 backends at random: all on one has odds of 3^-19. */
	assert_true((used[0] > 0) + (used[1] > 0) + (used[2] > 0) >= 2);
	for (int rep = 0; rep < 5; rep++)
		for (int i = 0; i < 20; i++) {
			uint8_t in[FRAME_MAX], out[FRAME_MAX];
			struct fr f = from_dev(DEV_A, IP_A, (uint16_t)(41000 + i), "10.96.1.6", 80,
					       IPPROTO_TCP, TH_ACK);
			size_t len = frame(&f, in), out_len;

			assert_int_equal(lb_send(FROM_POD_LB, DEV_A, in, len, out, &out_len),
					 TC_ACT_REDIRECT);
			assert_int_equal(out_dport(out), first[i]);
		}
}

/* Terminating endpoints serve only when no active one is left; open flows drain. */
static void lb_terminating(void **state)
{
	static const uint32_t term[] = { 82, 83 };
	int seen[2] = {};
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct fr f;
	size_t len, out_len;

	(void)state;
	for (int i = 0; i < 30; i++)
		assert_int_equal(pk_open(&fam4, "10.96.1.8", (uint16_t)(44000 + i)), 7201);
	/* The active one is gone from the slots (a new version): the terminating ones serve. */
	assert_int_equal(svc_set("10.96.1.8", 80, IPPROTO_TCP, 8, 1, 0, 0, term, 0, 2), 0);
	for (int i = 0; i < 30; i++) {
		uint16_t p = pk_open(&fam4, "10.96.1.8", (uint16_t)(44100 + i));

		assert_true(p == 7202 || p == 7203);
		seen[p - 7202]++;
	}
	assert_true(seen[0] && seen[1]);
	/* A flow opened before keeps its backend while it exists. */
	f = from_dev(DEV_A, IP_A, 44000, "10.96.1.8", 80, IPPROTO_TCP, TH_ACK);
	len = frame(&f, in);
	assert_int_equal(lb_send(FROM_POD_LB, DEV_A, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(out_dport(out), 7201);
	/* None left at all: refused. */
	assert_int_equal(svc_set("10.96.1.8", 80, IPPROTO_TCP, 8, 0, 0, 0, NULL, 0, 0), 0);
	f = from_dev(DEV_A, IP_A, 44200, "10.96.1.8", 80, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, NULL, 0);
}

static const struct CMUnitTest svc_backend_tests[] = {
	cmocka_unit_test(lb_random_sticky),
	TWIN(svc_affinity),
	TWIN(svc_affinity_flood),
	TWIN(svc_maglev),
	cmocka_unit_test(lb_terminating),
};

const struct group svc_backend_group = { "svc_backend", TESTS(svc_backend_tests),
					 .prep = svc_both_state };
