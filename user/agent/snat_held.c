// SPDX-License-Identifier: Apache-2.0
/*
 * How many NodePort SNAT tuples each outside client holds: the token bucket
 * in xcni_snat_cl bounds the rate of a client's new tuples, not how many it
 * keeps (an LRU does not say when a record ends). Every XCNI_SNAT_HELD_S a
 * thread of its own counts the live records of xcni_snat by client and
 * writes each client's held; the SNAT adds one a tuple it opens in between
 * and refuses a new one at --snat-client-max (lib/nodeport_plan.h). A thread,
 * so a walk of a full xcni_snat never delays a generation
 * (docs/decisions/snat-own-map.md: its cost).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xcni_shared.h"
#include "lib/system/mapwalk.h"
#include "agent/snat_held.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/util.h"

struct held_cl {
	struct xcni_snat_cl_key k;
	__u32 n;
	__u32 h0; /* its held when the clients were read: what the SNAT adds after is its own */
};

struct snat_held {
	int snat_fd, cl_fd, ct_fd, ct6_fd;
	struct held_cl *c; /* the clients xcni_snat_cl has, sorted by key */
	size_t n, cap;
	uint64_t now;
	uint64_t since; /* the clients read: a tuple opened after is in held's own + 1 */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, running;
};

static int cl_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_snat_cl_key));
}

static void cl_add(void *ctx, const void *key, const void *val)
{
	struct snat_held *h = ctx;

	if (XCNI_GROW(h->c, h->n, h->cap))
		return; /* that client uncounted this time: it keeps its last held */
	memcpy(&h->c[h->n].k, key, sizeof(h->c->k));
	h->c[h->n].h0 = ((const struct xcni_snat_cl *)val)->held;
	h->c[h->n++].n = 0;
}

/*
 * A record holds its tuple while its conntrack entry lives or, that entry
 * pushed out, for its protocol's established life after its last reply: the
 * SNAT's own rule (np_snat_free), the tuple the client's until then. A tuple
 * no reply answered is free after XCNI_CT_SNAT_NEW_NS (snat_port_free) and
 * counts no longer, nor one answered and never confirmed 5 s on
 * (xcni_snat_waited): a spoofer's SYNs from a client's address would
 * otherwise fill that client's held for their record's life.
 */
static bool rec_live(const struct snat_held *h, const union xcni_tuple *k,
		     const struct xcni_snat *sn)
{
	__u8 proto = k->v6.proto ? k->v6.proto : k->v4.proto;
	struct xcni_ct_entry e;
	bool ct = !bpf_map_lookup_elem(k->v6.proto ? h->ct6_fd : h->ct_fd, k, &e);

	/* Opened after the clients were read: the SNAT's + 1 since counts it. */
	if (ct && e.created_ns >= h->since)
		return false;
	if (ct && ((e.state == XCNI_CT_NEW && h->now > e.last_ns &&
		    h->now - e.last_ns > XCNI_CT_SNAT_NEW_NS) ||
		   xcni_snat_waited(&e, sn, h->now)))
		return false;
	if (h->now <= sn->last_ns ||
	    h->now - sn->last_ns <= xcni_ct_lifetime(XCNI_CT_ESTABLISHED, proto))
		return true;
	return ct && (h->now <= e.last_ns || h->now - e.last_ns <= xcni_ct_lifetime(e.state, proto));
}

static void rec_count(void *ctx, const void *key, const void *val)
{
	struct snat_held *h = ctx;
	const struct xcni_snat *sn = val;
	const union xcni_tuple *k = key;
	/* A key whose IPv6 view has proto 0 is IPv4's (xcni_shared.h). */
	struct held_cl want = { .k.family = k->v6.proto ? XCNI_AF_INET6 : XCNI_AF_INET };
	struct held_cl *c;

	memcpy(want.k.a, sn->client, want.k.family == XCNI_AF_INET ? 4 : 8);
	want.k.a[1] = XCNI_V6_SITE_W1(want.k.a[1]); /* IPv6 by its /56; IPv4's 0 */
	if (!rec_live(h, k, sn))
		return;
	c = bsearch(&want, h->c, h->n, sizeof(*c), cl_cmp);
	if (c)
		c->n++;
}

int snat_held_clients(struct snat_held *h)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	long r;

	/* The clients first: one with records and no bucket (evicted) gets a
	 * full bucket back at its next tuple anyway, and only it gains. */
	h->n = 0;
	if (bpf_map_get_info_by_fd(h->cl_fd, &info, &len))
		return -errno;
	r = mapw_walk(h->cl_fd, &info, 1, cl_add, h);
	h->since = (uint64_t)xcni_mono_ns();
	if (r < 0)
		return (int)r;
	qsort(h->c, h->n, sizeof(*h->c), cl_cmp);
	return 0;
}

/*
 * The records, then each client's held: those counted plus what the SNAT
 * added since the clients were read (held - h0). Written as the count alone,
 * a tuple opened between the walk and the write was lost from held and the
 * client got one past its bound (lab-tenant-nat: "got 101" of 100). A tuple
 * opened while the clients were being read is counted twice until the next
 * count: too many by a few for 2 s, never too few.
 */
long snat_held_write(struct snat_held *h)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	long r, written = 0;

	h->now = (uint64_t)xcni_mono_ns();
	if (bpf_map_get_info_by_fd(h->snat_fd, &info, &len))
		return -errno;
	r = mapw_walk(h->snat_fd, &info, 1, rec_count, h);
	if (r < 0)
		return r;
	for (size_t i = 0; i < h->n; i++) {
		struct xcni_snat_cl v;
		__u32 n = h->c[i].n;

		/* Read again just before: the programs change tokens meanwhile. */
		if (bpf_map_lookup_elem(h->cl_fd, &h->c[i].k, &v))
			continue;
		/* Below h0: the LRU made the bucket again, its held the SNAT's alone. */
		n += v.held >= h->c[i].h0 ? v.held - h->c[i].h0 : v.held;
		if (v.held == n)
			continue;
		v.held = n;
		if (!bpf_map_update_elem(h->cl_fd, &h->c[i].k, &v, BPF_EXIST))
			written++;
	}
	return written;
}

long snat_held_count(struct snat_held *h)
{
	int err = snat_held_clients(h);

	return err ? err : snat_held_write(h);
}

static void *held_loop(void *arg)
{
	struct snat_held *h = arg;
	struct timespec at;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		long r;

		pthread_mutex_unlock(&h->mu);
		r = snat_held_count(h);
		if (r < 0)
			pr_warn("NodePort SNAT: counting the clients' tuples in xcni_snat: %s\n",
				strerror((int)-r));
		/* From the count's end: a slow walk never runs back to back. */
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += XCNI_SNAT_HELD_S;
		pthread_mutex_lock(&h->mu);
		while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &at) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int snat_held_open(int snat_fd, int cl_fd, int ct_fd, int ct6_fd, struct snat_held **out)
{
	struct snat_held *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (!h)
		return -ENOMEM;
	*h = (struct snat_held){ .snat_fd = snat_fd, .cl_fd = cl_fd, .ct_fd = ct_fd,
				 .ct6_fd = ct6_fd };
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = h;
	return 0;
}

int snat_held_start(struct snat_held *h)
{
	sigset_t all, old;
	int err;

	/* Signals stay the loop's: its poll must wake for SIGTERM. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&h->th, NULL, held_loop, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	h->running = !err;
	return -err;
}

void snat_held_free(struct snat_held *h)
{
	if (!h)
		return;
	if (h->running) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->th, NULL);
	}
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->c);
	free(h);
}
