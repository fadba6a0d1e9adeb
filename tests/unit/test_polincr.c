// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler (pol_incr_update) on written cases: the store's
 * journal, addresses reused, contested and yielded, births, relabels,
 * Namespace labels, NetworkPolicy and ClusterNetworkPolicy changes, audit,
 * collisions. Each result is judged and held to the whole compile's as the
 * random histories' are (polincr_fx.h; the histories: test_polincr_random).
 */

#include "polincr_fx.h"

/* The journal names what changed and says "everything" past its size. */
static void test_store_journal(void **state)
{
	struct store *st = store_new();
	struct store_change *ch;
	unsigned seed = 7;
	size_t n;
	bool all;

	(void)state;
	pod_put(st, &seed, 1);
	store_journal_take(st, &ch, &n, &all);
	assert_true(all); /* it was off */
	store_changes_free(ch, n);
	pod_put(st, &seed, 1);
	store_del(st, K8S_POD, "ns0", "p3"); /* nothing there: no change */
	node_put(st, &seed, 2);
	store_journal_take(st, &ch, &n, &all);
	assert_false(all);
	assert_int_equal(n, 2);
	assert_int_equal(ch[0].kind, K8S_POD);
	assert_string_equal(ch[0].ns, "ns1");
	assert_string_equal(ch[0].name, "p1");
	assert_int_equal(ch[1].kind, K8S_NODE);
	assert_null(ch[1].ns);
	store_changes_free(ch, n);
	store_journal_take(st, &ch, &n, &all);
	assert_false(all);
	assert_int_equal(n, 0);
	store_changes_free(ch, n);
	for (unsigned i = 0; i <= STORE_JOURNAL_MAX; i++)
		store_del(st, K8S_POD, "ns1", "p1") || (pod_put(st, &seed, 1), 0);
	store_journal_take(st, &ch, &n, &all);
	assert_true(all);
	assert_int_equal(n, 0);
	store_changes_free(ch, n);
	store_free(st);
}

static json_t *simple_pod(const char *name, const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 "ns0", "labels", "app", name, "spec", "nodeName", "n1", "containers", "name",
			 "c", "image", "i", "status", "podIP", ip);
}

/*
 * One update from the store's journal (node n0, hash when not NULL), checked
 * against the whole compile, from prev's allocation when given (then moved
 * on); the incremental result in *r when r is not NULL.
 */
static int update_with(struct store *st, struct pol_incr *pi, const struct pol_delta **d,
		       const struct pol_result **r, uint32_t (*hash)(const char *),
		       struct idprev *prev)
{
	struct pol_opts o = { .node_name = "n0", .hash = hash };
	struct pol_opts fo = o;
	struct store_change *ch;
	const struct pol_result *res;
	struct pol_result full = { 0 };
	struct k8s_error e = { "" };
	struct cluster c;
	size_t nch;
	bool all;
	int ret;

	run_seed = run_step = 0; /* no history: a failure names none */
	store_view(st, &c);
	store_journal_take(st, &ch, &nch, &all);
	ret = pol_incr_update(pi, &c, &o, ch, nch, all, false, &res, d, &e);
	store_changes_free(ch, nch);
	if (prev) {
		fo.prev = prev->v;
		fo.nprev = prev->n;
	}
	assert_int_equal(ret, pol_compile(&c, &fo, &full, &e));
	if (!ret) {
		/* The maps' ipcache: the whole result's here (no model of them). */
		judge(res, full.ipcache, full.nipcache, &c, &o, NULL);
		result_equal(res, &full);
		if (prev)
			idprev_of(prev, &full);
		if (r)
			*r = res;
	}
	pol_result_free(&full);
	return ret;
}

/* The whole compile of the store as it is (node n0), succeeding: its view in *c, its result in *full. */
static void whole(struct store *st, struct cluster *c, struct pol_result *full)
{
	struct pol_opts o = { .node_name = "n0" };
	struct k8s_error e = { "" };

	store_view(st, c);
	if (pol_compile(c, &o, full, &e))
		fail_msg("the whole compile: %s", e.msg);
}

static int update(struct store *st, struct pol_incr *pi, const struct pol_delta **d)
{
	return update_with(st, pi, d, NULL, NULL, NULL);
}

/*
 * A new pod takes the address of one deleted later in the same batch: no
 * clash at the end, so no whole compile. A clash that stays is no error: the
 * whole compile closes the address and names both pods (pol_contest).
 */
static void test_address_reused_in_one_batch(void **state)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;

	(void)state;
	put(st, simple_pod("a", "10.1.0.5"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(pol_incr_resets(pi), 1);
	put(st, simple_pod("b", "10.1.0.5"));
	store_del(st, K8S_POD, "ns0", "a");
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(d->nipc_put, 1); /* b's identity at the address */
	assert_int_equal(d->npn_put, 1);
	/* Two pods, one address, and one of them gone: settled from the
	 * address's claimants alone, as deltas (issue 69, step 3). */
	put(st, simple_pod("c", "10.1.0.5"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nipc_put, 1); /* closed: unmanaged */
	store_del(st, K8S_POD, "ns0", "c");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nipc_put, 1); /* b's identity again */
	assert_int_equal(pol_incr_resets(pi), 1);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *life_pod(const char *name, const char *node, const char *ip, const char *phase,
			const char *created)
{
	json_t *p = simple_pod(name, ip);

	json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
	if (phase)
		json_object_set_new(json_object_get(p, "status"), "phase", json_string(phase));
	if (created)
		json_object_set_new(json_object_get(p, "metadata"), "creationTimestamp",
				    json_string(created));
	return p;
}

static const struct pol_ipcache *ipc_at(const struct pol_result *r, const char *ip)
{
	uint32_t a = inet_addr(ip);

	for (size_t i = 0; i < r->nipcache; i++)
		if (r->ipcache[i].key.prefixlen == 32 && r->ipcache[i].key.addr == a)
			return &r->ipcache[i];
	return NULL;
}

static const struct pol_ep *ep_at(const struct pol_result *r, const char *ip)
{
	for (size_t i = 0; i < r->neps; i++)
		if (r->eps[i].ip == inet_addr(ip))
			return &r->eps[i];
	return NULL;
}

/*
 * A Job's pod finishes (Succeeded: its podIP stays in the API) and IPAM gives
 * the address to a new pod: the new pod has it, with its identity, and the
 * compile goes on (it failed the whole cluster's policy before: "is also the
 * address of Pod"). Followed as a delta: the finished pod lets go of it.
 */
static void test_finished_pod_address_reused(void **state)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_result full = { 0 };
	struct cluster c;

	(void)state;
	put(st, life_pod("job", "n0", "10.1.0.5", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("other", "n0", "10.1.0.6", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	/* It finishes: a delta, its address and identity gone. */
	put(st, life_pod("job", "n0", "10.1.0.5", "Succeeded", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nipc_del, 1);
	/* Its address to a new pod, the finished one still listed. */
	put(st, life_pod("web", "n0", "10.1.0.5", "Pending", "2026-11-26T00:05:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	assert_int_equal(full.neps, 2);
	assert_int_equal(ipc_at(&full, "10.1.0.5")->val.identity,
			 pol_incr_pod_id(pi, "ns0", "web"));
	assert_int_not_equal(ipc_at(&full, "10.1.0.5")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "job"), 0); /* no identity */
	/* Failed (evicted) is finished too; one being deleted keeps its address. */
	pol_result_free(&full);
	put(st, life_pod("web", "n0", "10.1.0.5", "Failed", "2026-11-26T00:05:00Z"));
	{
		json_t *p = life_pod("job", "n0", "10.1.0.5", "Running", "2026-11-26T00:00:00Z");

		json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
				    json_string("2026-11-26T00:09:00Z"));
		put(st, p);
	}
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	r = &full;
	assert_non_null(ep_at(r, "10.1.0.5"));
	assert_false(ep_at(r, "10.1.0.5")->state.isolated & XCNI_POLEP_CONTESTED);
	pol_result_free(&full);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * Two live pods on one address: the compile goes on, the address is closed
 * (ipcache: unmanaged; the local owner's polep closed, no entries) and both
 * are reported, the owner by the written rule: Running over Pending, then
 * the newer, then name order. Another pod's policy still compiles.
 */
static void test_contested_address(void **state)
{
	struct store *st = store_new();
	struct pol_result full = { 0 };
	struct cluster c;
	const struct pol_ep *ep;

	(void)state;
	put(st, life_pod("old", "n0", "10.1.0.5", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("new", "n1", "10.1.0.5", "Pending", "2026-11-26T00:05:00Z"));
	put(st, life_pod("bystander", "n0", "10.1.0.6", "Running", "2026-11-26T00:00:00Z"));
	put(st, json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{}, s:[s]}}", "apiVersion",
			  "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name",
			  "deny", "namespace", "ns0", "spec", "podSelector", "policyTypes", "Ingress"));
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 2);
	assert_true(full.contested[0].owner); /* Running over Pending */
	assert_string_equal(full.contested[0].name.name, "old");
	assert_int_equal(full.contested[0].phase, K8S_POD_RUNNING);
	assert_false(full.contested[1].owner);
	assert_string_equal(full.contested[1].name.name, "new");
	assert_int_equal(full.contested[1].ip, inet_addr("10.1.0.5"));
	assert_int_equal(ipc_at(&full, "10.1.0.5")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(full.npodnames, 2); /* the owner's name only */
	ep = ep_at(&full, "10.1.0.5");
	assert_non_null(ep);
	assert_true(ep->state.isolated & XCNI_POLEP_CONTESTED);
	assert_true(ep->state.isolated & XCNI_POLEP_OVERFLOW);
	assert_int_equal(ep->nentries, 0);
	ep = ep_at(&full, "10.1.0.6");
	assert_non_null(ep);
	assert_true(ep->state.isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_false(ep->state.isolated & XCNI_POLEP_OVERFLOW);
	pol_result_free(&full);
	/* Both Running: the newer owns it. */
	put(st, life_pod("new", "n1", "10.1.0.5", "Running", "2026-11-26T00:05:00Z"));
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 2);
	assert_string_equal(full.contested[0].name.name, "new");
	assert_true(full.contested[0].owner);
	/* The owner is on n1 now: n0 has no endpoint at the address. */
	assert_null(ep_at(&full, "10.1.0.5"));
	pol_result_free(&full);
	/* One finishes: the conflict is over. */
	put(st, life_pod("new", "n1", "10.1.0.5", "Succeeded", "2026-11-26T00:05:00Z"));
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	ep = ep_at(&full, "10.1.0.5");
	assert_non_null(ep);
	assert_false(ep->state.isolated & XCNI_POLEP_OVERFLOW);
	assert_int_not_equal(ipc_at(&full, "10.1.0.5")->val.identity, XCNI_ID_UNMANAGED);
	pol_result_free(&full);
	store_free(st);
}

/* A pod of node with addresses ip (either family) and ip2 (the other, or NULL). */
static json_t *pod46(const char *name, const char *node, const char *ip, const char *ip2)
{
	json_t *p = life_pod(name, node, ip, "Running", "2026-11-26T00:00:00Z");

	if (ip2)
		json_object_set_new(json_object_get(p, "status"), "podIPs",
				    json_pack("[{s:s}, {s:s}]", "ip", ip, "ip", ip2));
	return p;
}

/* The ipcache6 entry of ip in v (NULL: none). */
static const struct pol_ipc6 *ipc6_at(const struct pol_v6 *v, const char *ip)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	for (size_t i = 0; i < v->nipc; i++)
		if (!memcmp(v->ipc[i].key.addr, a, 16))
			return &v->ipc[i];
	return NULL;
}

/*
 * Two live pods on one IPv6 address (issue 41): resolved as an IPv4 is. An
 * IPv6-only cluster's two remote pods on fd00:1::5: the address closed in
 * the ipcache6 (unmanaged), a bystander untouched. A dual-stack pair whose
 * IPv6 alone collides (10.1.0.7 and 10.1.0.8 on fd00:1::9, one of them this
 * node's): fd00:1::9 closed, each IPv4 with its pod's identity, the local
 * pod's policy not closed. Before: whichever the sort kept named the
 * address, so one pod's traffic was judged by the other's identity. When one
 * goes, the other has its address back. Incremental == whole throughout.
 */
static void test_contested_address6(void **state)
{
	struct pol_opts o = { .node_name = "n0" };
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	struct pol_result full = { 0 };
	struct cluster c;
	struct pol_v6 v;
	uint32_t ida, idb, idc, idd, ide;

	(void)state;
	put(st, pod46("a", "n1", "fd00:1::5", NULL));
	put(st, pod46("b", "n2", "fd00:1::5", NULL));
	put(st, pod46("c", "n1", "fd00:1::6", NULL));
	put(st, pod46("d", "n0", "10.1.0.7", "fd00:1::9"));
	put(st, pod46("e", "n1", "10.1.0.8", "fd00:1::9"));
	assert_int_equal(update(st, pi, &d), 0);
	ida = pol_incr_pod_id(pi, "ns0", "a");
	idb = pol_incr_pod_id(pi, "ns0", "b");
	idc = pol_incr_pod_id(pi, "ns0", "c");
	idd = pol_incr_pod_id(pi, "ns0", "d");
	ide = pol_incr_pod_id(pi, "ns0", "e");
	assert_true(ida && idb && idc && idd && ide);
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0); /* no IPv4 is claimed twice */
	assert_int_equal(ipc_at(&full, "10.1.0.7")->val.identity, idd);
	assert_int_equal(ipc_at(&full, "10.1.0.8")->val.identity, ide);
	assert_non_null(ep_at(&full, "10.1.0.7"));
	assert_false(ep_at(&full, "10.1.0.7")->state.isolated & XCNI_POLEP_OVERFLOW);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	print_message("fd00:1::5 identity %u (a %u, b %u), fd00:1::9 identity %u (d %u, e %u)\n",
		      ipc6_at(&v, "fd00:1::5")->val.identity, ida, idb,
		      ipc6_at(&v, "fd00:1::9")->val.identity, idd, ide);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(ipc6_at(&v, "fd00:1::9")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(ipc6_at(&v, "fd00:1::6")->val.identity, idc);
	assert_int_equal(v.ncontested, 2);
	v6_equal(pi, &c, &o, &full);
	pol_v6_free(&v);
	pol_result_free(&full);
	/* b and e go: a and d have their IPv6 back. */
	store_del(st, K8S_POD, "ns0", "b");
	store_del(st, K8S_POD, "ns0", "e");
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->v6_changed);
	store_view(st, &c);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, ida);
	assert_int_equal(ipc6_at(&v, "fd00:1::9")->val.identity, idd);
	assert_int_equal(v.ncontested, 0);
	pol_v6_free(&v);
	pol_incr_free(pi);
	store_free(st);
}

/* The delta's ipcache entry for ip (NULL: none put). */
static const struct pol_ipcache *ipc_put_at(const struct pol_delta *d, const char *ip)
{
	for (size_t i = 0; i < d->nipc_put; i++)
		if (d->ipc_put[i].key.addr == inet_addr(ip))
			return &d->ipc_put[i];
	return NULL;
}

/*
 * Two live pods contest an address a Node then takes, in both families (the
 * random CNP histories as clang draws them reach it: seed 730): the Node
 * keeps it, as it keeps one pod's address, in the delta and in the whole
 * compile; when it goes the address is the pods' again, closed. Before: the
 * whole compile ranked one address's entries by identity number, and the
 * contested pods' XCNI_ID_UNMANAGED (3) numbers below XCNI_ID_REMOTE_NODE
 * (6), so it gave the Node's address to the pods where the delta gave it to
 * the Node; the IPv6 one went to whichever entry the sort listed first.
 */
static void test_contested_node_address(void **state)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	struct pol_result full = { 0 };
	struct cluster c;
	struct pol_v6 v;

	(void)state;
	put(st, pod46("a", "n0", "10.1.0.24", "fd00:2::18"));
	put(st, pod46("b", "n1", "10.1.0.24", "fd00:2::18"));
	assert_int_equal(update(st, pi, &d), 0);
	put(st, json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "apiVersion",
			  "v1", "kind", "Node", "metadata", "name", "n3", "status", "addresses",
			  "type", "InternalIP", "address", "10.1.0.24", "type", "InternalIP",
			  "address", "fd00:2::18"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_non_null(ipc_put_at(d, "10.1.0.24"));
	assert_int_equal(ipc_put_at(d, "10.1.0.24")->val.identity, XCNI_ID_REMOTE_NODE);
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 2);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.identity, XCNI_ID_REMOTE_NODE);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.flags & XCNI_IPC_POD, 0);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.tunnel_ip, inet_addr("10.1.0.24"));
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:2::18")->val.identity, XCNI_ID_REMOTE_NODE);
	assert_int_equal(ipc6_at(&v, "fd00:2::18")->val.flags & XCNI_IPC_POD, 0);
	pol_v6_free(&v);
	pol_result_free(&full);
	/* The Node goes: the pods' address again, closed. */
	store_del(st, K8S_NODE, NULL, "n3");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(ipc_put_at(d, "10.1.0.24")->val.identity, XCNI_ID_UNMANAGED);
	whole(st, &c, &full);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:2::18")->val.identity, XCNI_ID_UNMANAGED);
	pol_v6_free(&v);
	pol_result_free(&full);
	pol_incr_free(pi);
	store_free(st);
}

/* life_pod with metadata.deletionTimestamp: Terminating. */
static json_t *deleting_pod(const char *name, const char *node, const char *ip, const char *phase,
			    const char *created)
{
	json_t *p = life_pod(name, node, ip, phase, created);

	json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
			    json_string("2026-11-26T00:09:00Z"));
	return p;
}

static const struct pol_yield *yield_of(const struct pol_result *r, const char *from)
{
	for (size_t i = 0; i < r->nyielded; i++)
		if (!strcmp(r->yielded[i].from.name, from))
			return &r->yielded[i];
	return NULL;
}

/*
 * Issue 37, as the real cluster lived it: web/f1 is deleted (Terminating,
 * its sandbox gone) and host-local on its node gives 10.1.0.12 to a new pod
 * while f1's object is still listed. The new pod owns the address (its
 * identity, its name, its policy open), f1 yields (named); incremental ==
 * whole at every step (update), a pod of the yielded address changing is
 * compiled whole. Each family: a remote IPv6-only pair in the ipcache6; a
 * local IPv6-only pair under their policy key; but two local IPv6-only pods
 * whose addresses only end alike (one policy key, two addresses) and a pair
 * on two nodes still contest.
 */
static void test_deleting_pod_yields(void **state)
{
	struct pol_opts o = { .node_name = "n0" };
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	struct pol_result full = { 0 };
	struct cluster c;
	struct pol_v6 v;
	const struct pol_yield *y;
	uint32_t k7, k8;
	uint8_t a7[16];

	(void)state;
	put(st, life_pod("f1", "n0", "10.1.0.12", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("bystander", "n0", "10.1.0.6", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	/* Deleted: it keeps the address while alone on it, as a delta. */
	put(st, deleting_pod("f1", "n0", "10.1.0.12", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "f1") != 0, 1);
	/* Its address given again on its node: the new one has it, f1 yields. */
	put(st, life_pod("echo", "n0", "10.1.0.12", "Pending", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full); /* two pods, one address: settled as a delta */
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	assert_int_equal(full.nyielded, 1);
	y = yield_of(&full, "f1");
	assert_non_null(y);
	assert_int_equal(y->ip, inet_addr("10.1.0.12"));
	assert_string_equal(y->to.name, "echo");
	assert_string_equal(y->from.node, "n0");
	assert_int_equal(ipc_at(&full, "10.1.0.12")->val.identity,
			 pol_incr_pod_id(pi, "ns0", "echo"));
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "f1"), 0); /* out of the view */
	assert_non_null(ep_at(&full, "10.1.0.12"));
	assert_false(ep_at(&full, "10.1.0.12")->state.isolated & XCNI_POLEP_CONTESTED);
	for (size_t i = 0; i < full.npodnames; i++)
		if (full.podnames[i].ip == inet_addr("10.1.0.12"))
			assert_string_equal(full.podnames[i].name.name, "echo");
	pol_result_free(&full);
	/* The live one changes: settled again as a delta, still its. */
	put(st, life_pod("echo", "n0", "10.1.0.12", "Running", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	/* The live one goes first (deleted before f1's finalizer is done): f1,
	 * alone again, has its address back, as a delta. */
	store_del(st, K8S_POD, "ns0", "echo");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_not_equal(pol_incr_pod_id(pi, "ns0", "f1"), 0);
	put(st, life_pod("echo", "n0", "10.1.0.12", "Running", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	/* f1 gone at last: nothing yielded any more. */
	store_del(st, K8S_POD, "ns0", "f1");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	whole(st, &c, &full);
	assert_int_equal(full.nyielded, 0);
	assert_int_equal(full.ncontested, 0);
	pol_result_free(&full);
	/* The same on another node's pod: contested, closed, both named. */
	put(st, deleting_pod("f2", "n1", "10.1.0.12", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	whole(st, &c, &full);
	assert_int_equal(full.nyielded, 0);
	assert_int_equal(full.ncontested, 2);
	assert_int_equal(ipc_at(&full, "10.1.0.12")->val.identity, XCNI_ID_UNMANAGED);
	pol_result_free(&full);
	store_del(st, K8S_POD, "ns0", "f2");
	assert_int_equal(update(st, pi, &d), 0);

	/* IPv6 only, another node's pair: a yields to b on n1; c (n2) and d
	 * (n1) contest fd00:1::6. */
	put(st, deleting_pod("a", "n1", "fd00:1::5", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("b", "n1", "fd00:1::5", "Pending", "2026-11-26T00:10:00Z"));
	put(st, deleting_pod("c", "n2", "fd00:1::6", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("d", "n1", "fd00:1::6", "Running", "2026-11-26T00:10:00Z"));
	/* IPv6 only, this node's: e yields to f under their policy key; g and
	 * h end alike (one key) but are two addresses: contested. */
	put(st, deleting_pod("e", "n0", "fd00:1::7", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("f", "n0", "fd00:1::7", "Pending", "2026-11-26T00:10:00Z"));
	put(st, deleting_pod("g", "n0", "fd00:1::8", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("h", "n0", "fd00:3::8", "Running", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	whole(st, &c, &full);
	assert_int_equal(full.nyielded, 1);
	assert_string_equal(full.yielded[0].from.name, "e");
	assert_string_equal(full.yielded[0].to.name, "f");
	assert_int_equal(full.ncontested, 2);
	assert_true(!strcmp(full.contested[0].name.name, "g") ||
		    !strcmp(full.contested[0].name.name, "h"));
	assert_int_equal(inet_pton(AF_INET6, "fd00:1::7", a7), 1);
	k7 = pol_polkey6(a7);
	k8 = full.contested[0].ip;
	assert_int_equal(full.yielded[0].ip, k7);
	for (size_t i = 0; i < full.neps; i++) {
		if (full.eps[i].ip == k7)
			assert_false(full.eps[i].state.isolated & XCNI_POLEP_CONTESTED);
		if (full.eps[i].ip == k8)
			assert_true(full.eps[i].state.isolated & XCNI_POLEP_CONTESTED);
	}
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, pol_incr_pod_id(pi, "ns0", "b"));
	assert_int_equal(ipc6_at(&v, "fd00:1::6")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(ipc6_at(&v, "fd00:1::7")->val.identity, pol_incr_pod_id(pi, "ns0", "f"));
	assert_int_equal(v.nyielded, 1); /* a; e is out of the view already */
	assert_int_equal(v.ncontested, 1);
	v6_equal(pi, &c, &o, &full);
	pol_v6_free(&v);
	pol_result_free(&full);
	/* b goes: a has fd00:1::5 back. */
	store_del(st, K8S_POD, "ns0", "b");
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->v6_changed);
	store_view(st, &c);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, pol_incr_pod_id(pi, "ns0", "a"));
	assert_int_equal(v.nyielded, 0);
	pol_v6_free(&v);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *lpod(const char *name, const char *node, const char *app, const char *tier,
		    const char *ip)
{
	json_t *labels = json_pack("{s:s}", "app", app);

	if (tier)
		json_object_set_new(labels, "tier", json_string(tier));
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 "ns0", "labels", labels, "spec", "nodeName", node, "containers", "name",
			 "c", "image", "i", "status", "podIP", ip);
}

/* Policy name: pods app=sel take ingress from pods app=from. */
static json_t *from_app(const char *name, const char *sel, const char *from)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[{s:[{s:{s:{s:s}}}]}]}}",
			 "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata",
			 "name", name, "namespace", "ns0", "spec", "podSelector", "matchLabels",
			 "app", sel, "ingress", "from", "podSelector", "matchLabels", "app", from);
}

/*
 * A birth looks only at local pods one of whose policies names the new
 * identity, by the policies it remembers selecting each pod: a local pod
 * relabelled into another policy must be looked at by that one afterwards.
 */
static void test_birth_after_relabel(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, from_app("pa", "a", "x"));
	put(st, from_app("pb", "b", "y"));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("x", "n1", "x", NULL, "10.1.0.11"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	/* app=y born: pod l's policy (pa) does not name it. */
	put(st, lpod("y1", "n1", "y", NULL, "10.1.0.21"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_born, 1);
	/* l moves to pb, which names app=y. */
	put(st, lpod("l", "n0", "b", NULL, "10.1.0.10"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(d->neps_compiled, 1);
	/* Another app=y label set born: l gains its entries through pb. */
	put(st, lpod("y2", "n1", "y", "t2", "10.1.0.22"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nid_put, 1);
	assert_int_equal(d->neps_born, 1);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *ns_obj(const char *name, const char *team, const char *env)
{
	json_t *labels = json_object();

	if (team)
		json_object_set_new(labels, "team", json_string(team));
	if (env)
		json_object_set_new(labels, "env", json_string(env));
	return json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind", "Namespace",
			 "metadata", "name", name, "labels", labels);
}

static json_t *ns_pod(const char *ns, const char *name, const char *node, const char *app,
		      const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 ns, "labels", "app", app, "spec", "nodeName", node, "containers", "name",
			 "c", "image", "i", "status", "podIP", ip);
}

/* Policy name in ns: pods app=sel take ingress from peer. */
static json_t *np_from(const char *ns, const char *name, const char *sel, json_t *peer)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[{s:[o]}]}}", "apiVersion",
			 "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name", name,
			 "namespace", ns, "spec", "podSelector", "matchLabels", "app", sel,
			 "ingress", "from", peer);
}

static bool ep_changed(const struct pol_result *r, const char *ip)
{
	const struct pol_ep *ep = ep_at(r, ip);

	assert_non_null(ep);
	return ep->changed;
}

/* ep's entries that name identity id. */
static size_t ep_entries_of(const struct pol_result *r, const char *ip, uint32_t id)
{
	const struct pol_ep *ep = ep_at(r, ip);
	size_t n = 0;

	assert_non_null(ep);
	for (size_t i = 0; i < ep->nentries; i++)
		n += ep->entries[i].key.peer == id;
	return n;
}

static int update_r(struct store *st, struct pol_incr *pi, const struct pol_delta **d,
		    const struct pol_result **r)
{
	return update_with(st, pi, d, r, NULL, NULL);
}

/*
 * One Namespace's label change works out again only what selects on it
 * (issue 52, item 7: it was a whole compile of the cluster on every node, so
 * a tenant toggling a label was a CPU denial of every agent). Namespace t1
 * (two pods here, one on n1) is selected by watch's policy (team=red);
 * other's policy selects pods only. A change of t1's labels relinks its 3
 * pods (nns_pods), compiles its 2 local pods again and gives or takes the
 * entries of watch's pod; other's pod is neither compiled nor given anything
 * (the counters and its entries' changed flag say so). A Namespace with no
 * pods, or one written with the same labels, costs nothing. Each step is
 * checked against the whole compile.
 */
static void test_ns_label_counts(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();
	uint32_t t1c;

	(void)state;
	put(st, ns_obj("t1", "red", NULL));
	put(st, ns_obj("t2", "red", NULL)); /* no pods */
	put(st, ns_obj("watch", NULL, NULL));
	put(st, ns_obj("other", NULL, NULL));
	put(st, ns_pod("t1", "a", "n0", "a", "10.1.0.10"));
	put(st, ns_pod("t1", "b", "n0", "b", "10.1.0.11"));
	put(st, ns_pod("t1", "c", "n1", "c", "10.1.0.12"));
	put(st, ns_pod("watch", "w", "n0", "w", "10.1.0.30"));
	put(st, ns_pod("other", "o", "n0", "o", "10.1.0.40"));
	put(st, ns_pod("other", "z", "n1", "z", "10.1.0.41"));
	put(st, np_from("watch", "from-red", "w",
			json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels", "team",
				  "red")));
	put(st, np_from("other", "plain", "o",
			json_pack("{s:{s:{s:s}}}", "podSelector", "matchLabels", "app", "z")));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_true(d->full);
	t1c = pol_incr_pod_id(pi, "t1", "c");
	assert_true(ep_entries_of(r, "10.1.0.30", t1c) > 0);

	/* t1 leaves team=red: watch's pod loses t1's entries. */
	put(st, ns_obj("t1", "blue", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(d->nid_put, 3);
	assert_int_equal(d->nid_del, 3);
	assert_int_equal(d->neps_compiled, 2); /* t1/a, t1/b */
	assert_int_equal(d->neps_born_hit, 0);
	assert_true(ep_changed(r, "10.1.0.30"));
	assert_int_equal(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")), 0);
	assert_false(ep_changed(r, "10.1.0.40"));

	/* Back into team=red: watch's pod gains them; other's is not looked at
	 * beyond its policies' peers. */
	put(st, ns_obj("t1", "red", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(d->neps_compiled, 2);
	assert_int_equal(d->neps_born_hit, 1); /* watch/w */
	assert_true(ep_changed(r, "10.1.0.30"));
	assert_true(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")) > 0);
	assert_false(ep_changed(r, "10.1.0.40"));

	/* A label nothing selects on: new identities all the same (the label is
	 * in them), the same pods touched, still no more. */
	put(st, ns_obj("t1", "red", "x"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(d->neps_compiled, 2);
	assert_int_equal(d->neps_born_hit, 1);
	assert_false(ep_changed(r, "10.1.0.40"));

	/* The same labels again, and a Namespace without pods: nothing. */
	put(st, json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:{s:s}}}", "apiVersion", "v1", "kind",
			  "Namespace", "metadata", "name", "t1", "labels", "team", "red", "env",
			  "x", "annotations", "note", "touched"));
	put(st, ns_obj("t2", NULL, NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->nns_pods, 0);
	assert_int_equal(d->neps_compiled, 0);
	assert_int_equal(d->nid_put + d->nid_del + d->nipc_put + d->nipc_del, 0);

	/* The Namespace removed (its pods keep the default labels), then back
	 * with a policy change of another namespace in the same batch. */
	store_del(st, K8S_NAMESPACE, NULL, "t1");
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")), 0);
	put(st, ns_obj("t1", "red", NULL));
	put(st, np_from("other", "plain", "o",
			json_pack("{s:{s:{s:s}}}", "podSelector", "matchLabels", "app", "y")));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_true(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")) > 0);

	/* A ClusterNetworkPolicy (no Pass rule, no rule name) and a Namespace's
	 * change with it are deltas too: still the whole compile's result. */
	put(st, json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:{s:{s:{s:s}}}, s:[{s:s, s:[{s:{s:{s:s}}}]}]}}",
			  "apiVersion", "policy.networking.k8s.io/v1alpha2", "kind",
			  "ClusterNetworkPolicy", "metadata", "name", "deny-red", "spec", "tier",
			  "Admin", "priority", 1, "subject", "namespaces", "matchLabels", "team",
			  "blue", "ingress", "action", "Deny", "from", "namespaces", "matchLabels",
			  "team", "red"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	put(st, ns_obj("other", "blue", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	put(st, ns_obj("t1", "blue", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * A NetworkPolicy's change compiles again the local pods it selected or selects, no other:
 * its rules and its isolation enter the entries of the pods it selects only. pa moves from
 * app=a to app=b, its peers change, it goes; l3 (app=c) is never compiled. Each step is
 * checked against the whole compile (l1 left behind keeps an isolation it lost otherwise).
 */
static void test_np_change_reaches_selected(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, from_app("pa", "a", "x"));
	put(st, lpod("l1", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("l2", "n0", "b", NULL, "10.1.0.11"));
	put(st, lpod("l3", "n0", "c", NULL, "10.1.0.12"));
	put(st, lpod("x", "n1", "x", NULL, "10.1.0.20"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_true(d->full);
	put(st, from_app("pa", "b", "x")); /* l1 before, l2 now */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_np, 2);
	assert_int_equal(d->neps_compiled, 2);
	assert_false(ep_changed(r, "10.1.0.12"));
	put(st, from_app("pa", "b", "c")); /* its peers: l2 alone */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_np, 1);
	assert_int_equal(d->neps_compiled, 1);
	store_del(st, K8S_NETWORKPOLICY, "ns0", "pa");
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_np, 1);
	assert_int_equal(d->neps_compiled, 1);
	assert_false(ep_changed(r, "10.1.0.12"));
	pol_incr_free(pi);
	store_free(st);
}

/* Pod name of ns0 on node, app=app, its container port "http" at port. */
static json_t *http_pod(const char *name, const char *node, const char *app, int port,
			const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s, s:[{s:s, s:i}]}]},"
			 " s:{s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
			 "namespace", "ns0", "labels", "app", app, "spec", "nodeName", node,
			 "containers", "name", "c", "image", "i", "ports", "name", "http",
			 "containerPort", port, "status", "podIP", ip);
}

/*
 * An egress rule naming a port gives a peer identity its pods' ports of that name: the local
 * pods it isolates are compiled again when a pod among its peers changes (its port, its
 * labels), not on another pod's change. pn: pods app=a reach app=x at "http".
 */
/* o written again with only a new annotation (a status write). */
static void put_beat(struct store *st, json_t *o)
{
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
			    json_pack("{s:s}", "beat", "1"));
	put(st, o);
}

static void test_named_egress_reaches_peers(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[s], s:[{s:[{s:{s:{s:s}}}],"
			  " s:[{s:s}]}]}}", "apiVersion", "networking.k8s.io/v1", "kind",
			  "NetworkPolicy", "metadata", "name", "pn", "namespace", "ns0", "spec",
			  "podSelector", "matchLabels", "app", "a", "policyTypes", "Egress", "egress",
			  "to", "podSelector", "matchLabels", "app", "x", "ports", "port", "http"));
	put(st, http_pod("l1", "n0", "a", 8080, "10.1.0.10"));
	put(st, http_pod("x", "n1", "x", 8080, "10.1.0.20"));
	put(st, http_pod("y", "n1", "y", 8080, "10.1.0.21"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_true(d->full);
	put(st, http_pod("y", "n1", "y", 8081, "10.1.0.21")); /* not a peer */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 0);
	put(st, http_pod("x", "n1", "x", 8081, "10.1.0.20")); /* a peer's port */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_compiled, 1);
	assert_int_equal(d->neps_named, 1);
	assert_int_equal(d->npods_quiet, 0);
	/* The peer written again, its labels, ports and address as they were (a status write):
	 * no named rule reached, nothing compiled. */
	put_beat(st, http_pod("x", "n1", "x", 8081, "10.1.0.20"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_named, 0);
	assert_int_equal(d->neps_compiled, 0);
	assert_int_equal(d->npods_quiet, 1);
	put(st, http_pod("y", "n1", "x", 8082, "10.1.0.21")); /* one more peer */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_compiled, 1);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *audited(json_t *o)
{
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
			    json_pack("{s:s}", "xcni.io/policy-mode", "audit"));
	return o;
}

/*
 * Audit mode (issue 41, item 5): one audited Namespace or NetworkPolicy does
 * not make every change in the cluster a whole compile. The local pods an
 * audited policy isolates take the slower path (their entries name every
 * pod: compiled again on each change of pods, nodes or policies); the
 * others and the cluster-wide maps follow the change as before. update()
 * checks each result against the whole compile.
 */
static void test_audit_stays_incremental(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();
	json_t *lock = from_app("lock", "a", "x");

	(void)state;
	put(st, audited(json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				  "metadata", "name", "ns0")));
	json_incref(lock);
	put(st, lock);
	put(st, lpod("l1", "n0", "a", NULL, "10.1.0.10")); /* isolated by lock: audited */
	put(st, lpod("l2", "n0", "b", NULL, "10.1.0.11")); /* no policy: not audited */
	put(st, lpod("l3", "n0", "c", NULL, "10.1.0.12"));
	put(st, lpod("x", "n1", "x", NULL, "10.1.0.20"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	/* Its Namespace's audit mode alone changing compiles its three local pods, though each is
	 * written quietly (update() holds each result to the whole compile's); l1 written again,
	 * nothing a peer or its own compile reads changed (a status write), keeps its entries and
	 * stays audited (the next update compiles it). */
	for (int k = 0; k < 2; k++) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", "ns0");

		put(st, k ? audited(ns) : ns);
		assert_int_equal(update(st, pi, &d), 0);
		assert_int_equal(d->npods_quiet, 4); /* and x, on n1 */
		assert_int_equal(d->neps_compiled, 3);
	}
	put_beat(st, lpod("l1", "n0", "a", NULL, "10.1.0.10"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->npods_quiet, 1);
	assert_int_equal(d->neps_compiled, 0);
	/* Its entry names the object now (the store freed the last: ASan reads it). */
	assert_string_equal(pol_ep_find(r, inet_addr("10.1.0.10"))->pod->meta.name, "l1");
	/* A pod elsewhere, of a new label set: a delta; only l1 compiled again. */
	put(st, lpod("y1", "n1", "y", NULL, "10.1.0.21"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->neps_compiled, 1);
	/* Another pod of a known label set, then one readdressed: the same. */
	put(st, lpod("x2", "n1", "x", NULL, "10.1.0.22"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 1);
	put(st, lpod("x2", "n1", "x", NULL, "10.1.0.23"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 1);
	/* A local pod relabelled: it and l1; l3 keeps its entries. */
	put(st, lpod("l2", "n0", "b", "t", "10.1.0.11"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 2);
	/* l2 into lock's selection: now audited too. */
	put(st, lpod("l2", "n0", "a", NULL, "10.1.0.11"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(d->neps_compiled, 2);
	store_del(st, K8S_POD, "ns0", "y1");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 2);
	/* The Namespace enforcing again (its pods' audit mode: a delta, they are
	 * compiled again) and the NetworkPolicy audited by its own annotation:
	 * the same path. */
	put(st, json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			  "metadata", "name", "ns0"));
	put(st, audited(lock));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	put(st, lpod("y2", "n1", "y", "u", "10.1.0.24"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->neps_compiled, 2); /* l1 and l2 */
	/* Nothing audited any more: nothing compiled again for a remote pod. */
	put(st, from_app("lock", "a", "x"));
	assert_int_equal(update(st, pi, &d), 0);
	put(st, lpod("y3", "n1", "x", NULL, "10.1.0.25"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 0);
	pol_incr_free(pi);
	store_free(st);
}

/* One update followed as a delta, n tiered directions of it patched. */
static void update_patched(struct store *st, struct pol_incr *pi, size_t n)
{
	const struct pol_delta *d;

	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_patched[1], n);
}

/*
 * A tiered pod's egress accepts the nodes by its first rule and 10.1.0.0/24
 * by its third, so its pods go by address; pod q holds node n1's address,
 * whose key is n1's (the nodes go first: a Node's address is the node's in
 * every map). While q holds it n1 keeps its group and q's is made as from
 * nothing; when a pod comes or goes there both are decided again
 * (cnp_patch_init, pod_link, pod_unlink). A host prefix a rule names
 * (10.1.0.60/32, node n2's: n2 went first under it) is decided again always:
 * its rule's group is its own (kept_slot).
 */
static void test_prefix_patch_shared_address(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},"
			   "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
			   "\"10.1.0.50\"}]}}", 0, NULL));
	put(st, json_loads("{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
			   "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"tier\":"
			   "\"Admin\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":["
			   "{\"action\":\"Accept\",\"to\":[{\"nodes\":{}}]},{\"action\":\"Accept\","
			   "\"to\":[{\"networks\":[\"10.1.0.60/32\"]}]},{\"action\":\"Accept\","
			   "\"to\":[{\"networks\":[\"10.1.0.0/24\"]}]}]}}", 0, NULL));
	put(st, json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n2\"},"
			   "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
			   "\"10.1.0.60\"}]}}", 0, NULL));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("q", "n1", "b", NULL, "10.1.0.50"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	/* Another pod: l's egress patched, q still at n1's address (now). */
	put(st, lpod("r", "n1", "c", NULL, "10.1.0.30"));
	update_patched(st, pi, 1);
	/* q gone: n1 gives the key now (before); then back, then another pod. */
	store_del(st, K8S_POD, "ns0", "q");
	update_patched(st, pi, 1);
	put(st, lpod("q", "n1", "b", NULL, "10.1.0.50"));
	update_patched(st, pi, 1);
	put(st, lpod("r", "n1", "d", NULL, "10.1.0.31"));
	update_patched(st, pi, 1);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * A tiered pod's egress denies 10.1.1.0/24, which holds both pods of identity
 * app=b: one region, so b goes by identity (one entry, no key of its pods:
 * ids_split), as a NetworkPolicy's 0.0.0.0/0 holding every pod of a cluster
 * does. Then, each a patch judged as from nothing: both moved out in one
 * update; one back in and the other gone; a pod joining b outside (b split:
 * its pods by address); the one inside gone (b in one region again).
 */
static void test_prefix_region_identity(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();
	size_t keys = 0;

	(void)state;
	put(st, json_loads("{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
			   "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"tier\":"
			   "\"Admin\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":["
			   "{\"action\":\"Deny\",\"to\":[{\"networks\":[\"10.1.1.0/24\"]}]}]}}", 0,
			   NULL));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("p", "n1", "b", NULL, "10.1.1.5"));
	put(st, lpod("q", "n1", "b", NULL, "10.1.1.6"));
	assert_int_equal(update_with(st, pi, &d, &r, NULL, NULL), 0);
	assert_true(d->full);
	for (size_t i = 0; i < pol_ep_find(r, htonl(0x0a01000a))->ncidrs; i++)
		keys += pol_ep_find(r, htonl(0x0a01000a))->cidrs[i].key.dir == XCNI_DIR_FROM_POD;
	assert_int_equal(keys, 1); /* the /24's alone */
	put(st, lpod("p", "n1", "b", NULL, "10.1.2.5"));
	put(st, lpod("q", "n1", "b", NULL, "10.1.2.6"));
	update_patched(st, pi, 1);
	put(st, lpod("p", "n1", "b", NULL, "10.1.1.7"));
	store_del(st, K8S_POD, "ns0", "q");
	update_patched(st, pi, 1);
	put(st, lpod("r", "n1", "b", NULL, "10.1.2.9"));
	update_patched(st, pi, 1);
	store_del(st, K8S_POD, "ns0", "p");
	update_patched(st, pi, 1);
	store_del(st, K8S_POD, "ns0", "r");
	update_patched(st, pi, 1);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * Port intervals that move (h69ports): l's NetworkPolicy sends it to app=w's
 * port named http (an entry per identity: its pods' ports), the Admin tier
 * denies app=k on 8000-8100. w's http moving 8050 -> 8060 moves the tiered
 * egress's boundaries; k's decision is constant between them, so its entries
 * are old's read at the new ones and written again (8000-8059, 8060,
 * 8061-8100, not old's 8000-8049, 8050, 8051-8100), judged as from nothing.
 */
static void test_ports_moved_recut(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, json_loads("{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
			   "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"tier\":"
			   "\"Admin\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":["
			   "{\"action\":\"Deny\",\"to\":[{\"pods\":{\"namespaceSelector\":{},"
			   "\"podSelector\":{\"matchLabels\":{\"app\":\"k\"}}}}],\"protocols\":[{"
			   "\"tcp\":{\"destinationPort\":{\"range\":{\"start\":8000,\"end\":8100}}}}]}]}}",
			   0, NULL));
	put(st, json_loads("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
			   "\"metadata\":{\"name\":\"np\",\"namespace\":\"ns0\"},\"spec\":{"
			   "\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"policyTypes\":["
			   "\"Egress\"],\"egress\":[{\"to\":[{\"podSelector\":{\"matchLabels\":{"
			   "\"app\":\"w\"}}}],\"ports\":[{\"port\":\"http\"}]}]}}", 0, NULL));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("k", "n1", "k", NULL, "10.1.1.5"));
	put(st, http_pod("w", "n1", "w", 8050, "10.1.1.6"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	put(st, http_pod("w", "n1", "w", 8060, "10.1.1.6"));
	update_patched(st, pi, 1);
	assert_int_equal(d->neps_patched[2], 1);
	put(st, http_pod("w", "n1", "w", 8050, "10.1.1.6"));
	update_patched(st, pi, 1);
	pol_incr_free(pi);
	store_free(st);
}

/* What made a generation whole is said (xcnid's log), and a delta says nothing. */
static void test_whole_says_why(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, simple_pod("w", "10.1.0.9"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	assert_string_equal(d->why, "first compile, or after a failure");
	/* A Namespace's labels: followed through its pods' identities (issue 52). */
	put(st, json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
			  "metadata", "name", "ns0", "labels", "team", "x"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	put(st, simple_pod("b", "10.1.0.6"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	put(st, json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata",
			  "name", "n0"));
	/* This node's Node: its address and labels, followed (issue 69, step 2). */
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	pol_incr_free(pi);
	store_free(st);
}

/* One update under aimed_hash, checked against the whole compile from the
 * previous allocation (*prev, then moved on). */
static int update_aimed(struct store *st, struct pol_incr *pi, const struct pol_delta **d,
			struct idprev *prev)
{
	return update_with(st, pi, d, NULL, aimed_hash, prev);
}

/*
 * A label set keeps its number while it exists, in the incremental compiler
 * too, and a collision is followed as a delta: the crafted set sorting first
 * takes the next number. A number freed in an update goes to no set born in
 * it; in the next it may. A new compiler seeded with the allocation (a
 * restarted agent reading xcni_identity) gives every set its old number.
 * Before: a collision compiled whole ("a new identity's number collides") and
 * the set sorting first took the victim's number.
 */
static void test_collision_keeps_the_holder(void **state)
{
	const uint32_t h = XCNI_ID_MIN_LABELS + 5000;
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new(), *pi2 = pol_incr_new();
	struct idprev prev = { 0 };
	const struct pol_delta *d;

	(void)state;
	put(st, lpod("v", "n0", "victim", NULL, "10.1.0.1"));
	put(st, from_app("db", "db", "victim"));
	put(st, lpod("db", "n0", "db", NULL, "10.1.0.9"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "v"), h);
	/* The tenant's set: a delta, the victim keeps h. */
	put(st, lpod("e1", "n1", "e1", NULL, "10.1.0.2"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "v"), h);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "e1"), h + 1);
	/* The victim gone, another crafted set born in the same update: not h. */
	store_del(st, K8S_POD, "ns0", "v");
	put(st, lpod("e2", "n1", "e2", NULL, "10.1.0.3"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "e2"), h + 2);
	assert_int_equal(d->nid_del, 1);
	assert_int_equal(d->id_del[0], h);
	/* The next update may give h again. */
	put(st, lpod("e3", "n1", "e3", NULL, "10.1.0.4"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "e3"), h);
	/* A restart: seeded with the allocation, the first (whole) compile keeps
	 * every number, though e1 and e2 sort before e3, which holds the hash. */
	assert_int_equal(pol_incr_seed(pi2, prev.v, prev.n), 0);
	{
		struct pol_opts o = { .node_name = "n0", .hash = aimed_hash };
		const struct pol_result *r;
		struct cluster c;
		struct store_change *ch;
		size_t nch;
		bool all;

		store_view(st, &c);
		store_journal_take(st, &ch, &nch, &all);
		store_changes_free(ch, nch);
		assert_int_equal(pol_incr_update(pi2, &c, &o, NULL, 0, true, false, &r, &d, NULL),
				 0);
		assert_true(d->full);
	}
	assert_int_equal(pol_incr_pod_id(pi2, "ns0", "e1"), h + 1);
	assert_int_equal(pol_incr_pod_id(pi2, "ns0", "e2"), h + 2);
	assert_int_equal(pol_incr_pod_id(pi2, "ns0", "e3"), h);
	idprev_free(&prev);
	pol_incr_free(pi2);
	pol_incr_free(pi);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_journal),
		cmocka_unit_test(test_address_reused_in_one_batch),
		cmocka_unit_test(test_finished_pod_address_reused),
		cmocka_unit_test(test_contested_address),
		cmocka_unit_test(test_contested_address6),
		cmocka_unit_test(test_contested_node_address),
		cmocka_unit_test(test_deleting_pod_yields),
		cmocka_unit_test(test_whole_says_why),
		cmocka_unit_test(test_prefix_patch_shared_address),
		cmocka_unit_test(test_prefix_region_identity),
		cmocka_unit_test(test_ports_moved_recut),
		cmocka_unit_test(test_birth_after_relabel),
		cmocka_unit_test(test_audit_stays_incremental),
		cmocka_unit_test(test_collision_keeps_the_holder),
		cmocka_unit_test(test_ns_label_counts),
		cmocka_unit_test(test_np_change_reaches_selected),
		cmocka_unit_test(test_named_egress_reaches_peers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
