// SPDX-License-Identifier: Apache-2.0
/*
 * The NetworkPolicy compiler, what it writes beside the verdicts: identities
 * (determinism, collisions), the ipcache and endpoints (IPv4 and IPv6
 * underlays), and recompiling (identical output, changes touching only what
 * they select). Clusters and the simulated data plane: polsim.h.
 */
#include "polsim.h"
#include "unit.h"

/* ---- identities -------------------------------------------------------- */

static void identity_determinism(void **state)
{
	const struct pol_opts defaults = { 0 }; /* the default key */
	uint32_t web, devweb, web2;

	(void)state;
	cast();
	pod_add("prod", "web-2", "n2", "10.244.1.10", "app=web");
	pod_add("prod", "web-3", "n2", NULL, "app=web"); /* no IP yet: same identity */
	compile();
	web = pod_identity(&R, WEB);
	devweb = pod_identity(&R, DEVWEB);
	web2 = pod_identity(&R, "10.244.1.10");
	assert_int_equal(web, web2);
	assert_int_not_equal(web, devweb); /* namespace labels are part of it */
	assert_int_not_equal(web, pod_identity(&R, DB));
	assert_true(web >= XCNI_ID_MIN_LABELS && web < XCNI_ID_CIDR_BASE);
	assert_int_equal(R.nidentities, 5);
	for (size_t i = 0; i < R.nidentities; i++) {
		if (R.identities[i].id != web)
			continue;
		assert_string_equal(R.identities[i].canon,
				    "k8s:app=web,ns:kubernetes.io/metadata.name=prod,ns:team=a");
		assert_int_equal(R.identities[i].id, pol_ident_number(&defaults, R.identities[i].canon));
		assert_string_equal(R.identities[i].ns, "prod");
	}
	for (size_t i = 1; i < R.nidentities; i++)
		assert_true(R.identities[i - 1].id < R.identities[i].id);

	/* Another pod order, another cluster: the same numbers. */
	teardown(state);
	setup(state);
	pod_add("dev", "zz", NULL, "10.1.0.1", "app=web");
	pod_add("prod", "aa", NULL, "10.1.0.2", "app=web");
	ns_add("dev", "team=b");
	ns_add("prod", "team=a");
	compile();
	assert_int_equal(pod_identity(&R, "10.1.0.2"), web);
	assert_int_equal(pod_identity(&R, "10.1.0.1"), devweb);

	/* A namespace label change changes the identity. */
	objs[K8S_NAMESPACE][1]->meta.labels = labels("kubernetes.io/metadata.name=prod,team=c");
	compile();
	assert_int_not_equal(pod_identity(&R, "10.1.0.2"), web);
}

static uint32_t const_hash(const char *s)
{
	(void)s;
	return 7;
}

static void identity_collisions(void **state)
{
	struct pol_opts o = { .hash = const_hash };
	uint32_t ids[3];

	(void)state;
	ns_add("x", "");
	pod_add("x", "c", NULL, "10.0.0.3", "app=c");
	pod_add("x", "a", NULL, "10.0.0.1", "app=a");
	pod_add("x", "b", NULL, "10.0.0.2", "app=b");
	peer(ingress(np_add("x", "p", sel("app=a"), IN)), sel("app=b"), NULL);
	np_add("x", "q", sel("app=c"), IN);
	assert_int_equal(compile_opts(&R, &o), 0);
	/* Everything hashes to 256 + 7: taken in canonical-string order. */
	ids[0] = pod_identity(&R, "10.0.0.1");
	ids[1] = pod_identity(&R, "10.0.0.2");
	ids[2] = pod_identity(&R, "10.0.0.3");
	assert_int_equal(ids[0], XCNI_ID_MIN_LABELS + 7);
	assert_int_equal(ids[1], XCNI_ID_MIN_LABELS + 8);
	assert_int_equal(ids[2], XCNI_ID_MIN_LABELS + 9);
	/* Policy ids probe the same way, in (namespace, name) order. */
	assert_int_equal(R.npolicies, 2);
	assert_int_equal(policy_id("x", "p"), 8);
	assert_int_equal(policy_id("x", "q"), 9);
	/* Policy still tells them apart. */
	REACH("10.0.0.1", TCP, 1, "+-", "10.0.0.2", "10.0.0.3");

	/* Removing the pod that sorts first moves the others, deterministically. */
	objs[K8S_POD][1] = objs[K8S_POD][2];
	nobjs[K8S_POD]--;
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.2"), XCNI_ID_MIN_LABELS + 7);
	assert_int_equal(pod_identity(&R, "10.0.0.3"), XCNI_ID_MIN_LABELS + 8);
	assert_int_equal(pol_policy_hash("x", "p"), pol_policy_hash("x", "p"));
	assert_true(pol_policy_hash("x", "p") >= 1 && pol_policy_hash("x", "p") < (1u << 31));
}

/* R's allocation, as a restarted agent reads it from xcni_identity. */
static struct pol_idprev prev_v[16];
static char prev_l[16][sizeof(struct xcni_idlabels)];

static int cmp_prev(const void *a, const void *b)
{
	return strcmp(((const struct pol_idprev *)a)->labels,
		      ((const struct pol_idprev *)b)->labels);
}

static void prev_from_r(struct pol_opts *o)
{
	assert_true(R.nidentities <= 16);
	for (size_t i = 0; i < R.nidentities; i++) {
		pol_ident_label(R.identities[i].canon, prev_l[i]);
		prev_v[i] = (struct pol_idprev){ prev_l[i], R.identities[i].id };
	}
	qsort(prev_v, R.nidentities, sizeof(*prev_v), cmp_prev);
	o->prev = prev_v;
	o->nprev = R.nidentities;
}

/*
 * A label set keeps its number while it exists (DESIGN.md: "A number keeps
 * its meaning"): a crafted set colliding with it, sorting first, takes the
 * next number; an agent restarted from the maps' allocation gives every set
 * its old number; a number freed in a generation goes to no new set in it.
 * Before: the set sorting first took the number, and the victim's pods were
 * renumbered (their address briefly judged under the newcomer's policy).
 */
static void identity_kept_under_collision(void **state)
{
	struct pol_opts o = { .hash = aimed_hash };
	const uint32_t h = XCNI_ID_MIN_LABELS + 5000;
	struct k8s_pod *victim;

	(void)state;
	ns_add("prod", "");
	ns_add("dev", "");
	victim = pod_add("prod", "v", NULL, "10.0.0.1", "app=victim");
	pod_add("prod", "db", NULL, "10.0.0.9", "app=db");
	peer(ingress(np_add("prod", "db", sel("app=db"), IN)), sel("app=victim"), NULL);
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.1"), h);

	/* The tenant's set arrives: the victim keeps h. */
	pod_add("dev", "e1", NULL, "10.0.0.2", "app=e1");
	prev_from_r(&o);
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.1"), h);
	assert_int_equal(pod_identity(&R, "10.0.0.2"), h + 1);
	REACH("10.0.0.9", TCP, 5432, "+-", "10.0.0.1", "10.0.0.2");

	/* A restart: the maps' allocation gives the same numbers. */
	prev_from_r(&o);
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.1"), h);
	assert_int_equal(pod_identity(&R, "10.0.0.2"), h + 1);

	/* The victim gone and another crafted set in one generation: h is not
	 * reused before the maps have forgotten the victim. */
	prev_from_r(&o);
	for (size_t i = 0; i < nobjs[K8S_POD]; i++)
		if (&objs[K8S_POD][i]->pod == victim)
			objs[K8S_POD][i--] = objs[K8S_POD][--nobjs[K8S_POD]];
	pod_add("dev", "e2", NULL, "10.0.0.3", "app=e2");
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.2"), h + 1);
	assert_int_not_equal(pod_identity(&R, "10.0.0.3"), h);
	assert_int_equal(pod_identity(&R, "10.0.0.3"), h + 2);
	/* A generation later h is free. */
	prev_from_r(&o);
	pod_add("dev", "e3", NULL, "10.0.0.4", "app=e3");
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.3"), h + 2);
	assert_int_equal(pod_identity(&R, "10.0.0.4"), h);
}

/* SipHash-2-4: the paper's test vector (key 00..0f, message 00..0e). */
static void identity_hash_keyed(void **state)
{
	uint8_t key[16], msg[15];
	struct pol_opts a = { 0 }, b = { .id_key = { 1 } };
	const char *canon = "k8s:app=web,ns:kubernetes.io/metadata.name=prod";
	char lab[sizeof(struct xcni_idlabels)], lab2[sizeof(lab)], *big;

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(pol_siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
	/* Another key, another number (for this string, at least). */
	assert_int_not_equal(pol_ident_number(&a, canon), pol_ident_number(&b, canon));
	/* Long sets told apart in the maps by a digest where the string is cut. */
	big = malloc(3000);
	assert_non_null(big);
	memset(big, 'x', 2999);
	big[2999] = '\0';
	pol_ident_label(big, lab);
	big[2000] = 'y';
	pol_ident_label(big, lab2);
	assert_int_equal(strlen(lab), sizeof(lab) - 1);
	assert_int_not_equal(memcmp(lab, lab2, sizeof(lab)), 0);
	assert_int_equal(memcmp(lab, lab2, sizeof(lab) - 18), 0);
	free(big);
}

/* ---- ipcache, names, endpoints ----------------------------------------- */

static const struct pol_ipcache *ipc(const struct pol_result *r, const char *c)
{
	struct xcni_prefix k = cidr(c);

	for (size_t i = 0; i < r->nipcache; i++)
		if (!memcmp(&r->ipcache[i].key.addr, k.addr, 4) && r->ipcache[i].key.prefixlen == k.len)
			return &r->ipcache[i];
	fail_msg("no ipcache entry %s", c);
	return NULL;
}

static void ipcache_contents(void **state)
{
	struct pol_opts o = { .node_name = "n1", .node_ip = ip4("172.18.0.2"),
			      .gateway_ip = ip4("10.244.0.1") };
	struct k8s_pod *hostnet;

	(void)state;
	cast();
	node_add("n1", "172.18.0.2");
	node_add("n2", "172.18.0.3");
	pod_add("prod", "remote", "n2", "10.244.1.5", "app=web");
	pod_add("prod", "lost", "n9", "10.244.9.5", "app=web"); /* node unknown */
	pod_add("prod", "pending", "n2", NULL, "app=pending");
	hostnet = pod_add("kube-system", "proxy", "n1", "172.18.0.2", "app=proxy");
	hostnet->host_network = true;
	assert_int_equal(compile_opts(&R, &o), 0);

	assert_int_equal(ipc(&R, "0.0.0.0/0")->val.identity, XCNI_ID_WORLD);
	assert_int_equal(ipc(&R, "172.18.0.2/32")->val.identity, XCNI_ID_HOST);
	assert_int_equal(ipc(&R, "172.18.0.3/32")->val.identity, XCNI_ID_REMOTE_NODE);
	assert_int_equal(ipc(&R, "10.244.0.1/32")->val.identity, XCNI_ID_HOST);
	assert_int_equal(ipc(&R, WEB "/32")->val.tunnel_ip, 0);
	assert_int_equal(ipc(&R, WEB "/32")->val.identity, pod_identity(&R, "10.244.1.5"));
	assert_int_equal(ipc(&R, "10.244.1.5/32")->val.tunnel_ip, ip4("172.18.0.3"));
	assert_int_equal(ipc(&R, "10.244.9.5/32")->val.tunnel_ip, 0);
	/* 5 of the cast + remote + lost, 2 nodes, gateway, world; hostNetwork is the node. */
	assert_int_equal(R.nipcache, 7 + 2 + 1 + 1);
	for (size_t i = 1; i < R.nipcache; i++)
		assert_true(memcmp(&R.ipcache[i - 1].key, &R.ipcache[i].key,
				   sizeof(struct xcni_ipcache_key)) < 0);

	/* Identities: every non-hostNetwork pod, IP or not, any node. */
	assert_int_equal(R.nidentities, 6);
	/* Local endpoints only: the cast's five, on n1. */
	assert_int_equal(R.neps, 5);
	for (size_t i = 0; i < R.neps; i++) {
		assert_string_equal(R.eps[i].pod->node_name, "n1");
		assert_int_equal(R.eps[i].state.identity, pod_identity(&R, inet_ntoa(
			(struct in_addr){ .s_addr = R.eps[i].ip })));
		if (i)
			assert_true(ntohl(R.eps[i - 1].ip) < ntohl(R.eps[i].ip));
	}
	/* Names of every pod with an address, sorted. */
	assert_int_equal(R.npodnames, 7);
	assert_int_equal(R.podnames[0].ip, ip4(WEB));
	assert_string_equal(R.podnames[0].name.ns, "prod");
	assert_string_equal(R.podnames[0].name.name, "web");
	assert_string_equal(R.podnames[0].name.node, "n1");
	/* Traffic from the node itself gets through an isolated pod. */
	np_add("prod", "deny", sel(""), IN);
	assert_int_equal(compile_opts(&R, &o), 0);
	REACH(WEB, TCP, 8080, "+-", "172.18.0.2", "172.18.0.3");
	assert_int_equal(R.npolicies, 1);
	assert_string_equal(R.policies[0].name.name, "deny");
}

/* Two live pods on one address (was: the compile refused, -EINVAL). */
static void duplicate_pod_ip(void **state)
{
	struct pol_opts o = { 0 };

	(void)state;
	cast();
	pod_add("prod", "twin", "n1", WEB, "app=twin");
	/* No error: the address is closed, both pods named (pol_contest). */
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(R.ncontested, 2);
	assert_int_equal(R.contested[0].ip, R.contested[1].ip);
	assert_true(R.contested[0].owner);
	assert_false(R.contested[1].owner);
	for (size_t i = 0; i < R.nipcache; i++)
		if (R.ipcache[i].key.prefixlen == 32 && R.ipcache[i].key.addr == R.contested[0].ip)
			assert_int_equal(R.ipcache[i].val.identity, XCNI_ID_UNMANAGED);
	for (size_t i = 0; i < R.neps; i++)
		if (R.eps[i].ip == R.contested[0].ip) {
			assert_true(R.eps[i].state.isolated & XCNI_POLEP_CONTESTED);
			assert_int_equal(R.eps[i].nentries, 0);
		}
}

/* ---- determinism and incrementality ------------------------------------ */

static void busy_cluster(void)
{
	struct k8s_netpol *np;
	struct k8s_np_rule *r;

	cast();
	np = np_add("prod", "db", sel("app=db"), IN | EG);
	r = ingress(np);
	peer(r, sel("app=web"), NULL);
	peer(r, NULL, sel("team=b"));
	peer_block(r, "192.0.2.0/24", "192.0.2.128/25", NULL);
	port(r, TCP, 5432, 0);
	port(r, TCP, 6000, 6010);
	r = egress(np);
	peer_block(r, "0.0.0.0/0", "10.0.0.0/8", NULL);
	np = np_add("prod", "web", sel("app=web"), IN);
	r = ingress(np);
	port(r, TCP, 80, 0);
	np = np_add("dev", "all", sel(""), EG);
	r = egress(np);
	peer(r, NULL, sel(""));
}

static void pol_result_equal(const struct pol_result *a, const struct pol_result *b)
{
	assert_int_equal(a->nidentities, b->nidentities);
	for (size_t i = 0; i < a->nidentities; i++) {
		assert_int_equal(a->identities[i].id, b->identities[i].id);
		assert_string_equal(a->identities[i].canon, b->identities[i].canon);
	}
	assert_int_equal(a->neps, b->neps);
	for (size_t i = 0; i < a->neps; i++) {
		assert_int_equal(a->eps[i].nentries, b->eps[i].nentries);
		assert_int_equal(a->eps[i].ncidrs, b->eps[i].ncidrs);
		assert_memory_equal(&a->eps[i].state, &b->eps[i].state, sizeof(a->eps[i].state));
		assert_memory_equal(a->eps[i].entries, b->eps[i].entries,
				    a->eps[i].nentries * sizeof(*a->eps[i].entries));
		assert_memory_equal(a->eps[i].cidrs, b->eps[i].cidrs,
				    a->eps[i].ncidrs * sizeof(*a->eps[i].cidrs));
	}
	assert_int_equal(a->nipcache, b->nipcache);
	assert_memory_equal(a->ipcache, b->ipcache, a->nipcache * sizeof(*a->ipcache));
	assert_int_equal(a->npolicies, b->npolicies);
	assert_memory_equal(a->policies, b->policies, a->npolicies * sizeof(*a->policies));
	assert_int_equal(a->npodnames, b->npodnames);
	assert_memory_equal(a->podnames, b->podnames, a->npodnames * sizeof(*a->podnames));
}

static void recompile_identical(void **state)
{
	struct pol_opts o = { 0 };

	(void)state;
	busy_cluster();
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_true(ep(DB)->nentries > 5);
	assert_int_equal(compile_opts(&R2, &o), 0);
	pol_result_equal(&R, &R2);
	/* The same objects added in another order. */
	for (int k = 0; k < K8S_NR_KINDS; k++)
		for (size_t i = 0; i < nobjs[k] / 2; i++) {
			struct k8s_object *t = objs[k][i];

			objs[k][i] = objs[k][nobjs[k] - 1 - i];
			objs[k][nobjs[k] - 1 - i] = t;
		}
	assert_int_equal(compile_opts(&R2, &o), 0);
	pol_result_equal(&R, &R2);
}

static void change_touches_selected_only(void **state)
{
	struct pol_opts o = { 0 };
	struct k8s_np_rule *r;

	(void)state;
	busy_cluster();
	assert_int_equal(compile_opts(&R, &o), 0);
	/* One more port in prod/web: only prod's web pod changes. */
	r = &objs[K8S_NETWORKPOLICY][1]->np.ingress[0];
	port(r, TCP, 443, 0);
	assert_int_equal(compile_opts(&R2, &o), 0);
	assert_int_equal(R.neps, R2.neps);
	for (size_t i = 0; i < R.neps; i++) {
		bool same = R.eps[i].nentries == R2.eps[i].nentries &&
			    !memcmp(R.eps[i].entries, R2.eps[i].entries,
				    R.eps[i].nentries * sizeof(*R.eps[i].entries)) &&
			    R.eps[i].ncidrs == R2.eps[i].ncidrs &&
			    !memcmp(R.eps[i].cidrs, R2.eps[i].cidrs,
				    R.eps[i].ncidrs * sizeof(*R.eps[i].cidrs));

		assert_int_equal(same, R.eps[i].ip != ip4(WEB));
	}
	assert_memory_equal(R.ipcache, R2.ipcache, R.nipcache * sizeof(*R.ipcache));
	assert_true(allowed_r(&R2, OTHER, WEB, TCP, 443));
	assert_false(allowed_r(&R, OTHER, WEB, TCP, 443));
}

static void host_network_and_pending_pods(void **state)
{
	struct k8s_pod *h;

	(void)state;
	ns_add("x", "");
	h = pod_add("x", "hostnet", NULL, "172.18.0.2", "app=h");
	h->host_network = true;
	pod_add("x", "pending", NULL, NULL, "app=p");
	pod_add("x", "srv", NULL, "10.0.0.1", "app=srv");
	np_add("x", "deny", sel(""), IN | EG);
	compile();
	assert_int_equal(R.neps, 1); /* neither hostNetwork nor address-less pods */
	assert_int_equal(R.nidentities, 2); /* pending counts, hostnet does not */
	assert_int_equal(R.npodnames, 1);
}

/* The ipcache6 entry of address a in v (NULL when none). */
static const struct xcni_ipcache_val *ipc6_of(const struct pol_v6 *v, const char *a)
{
	uint8_t k[16];

	assert_int_equal(inet_pton(AF_INET6, a, k), 1);
	for (size_t i = 0; i < v->nipc; i++)
		if (!memcmp(v->ipc[i].key.addr, k, 16))
			return &v->ipc[i].val;
	fail_msg("no ipcache6 entry %s", a);
	return NULL;
}

/*
 * An entry's tunnel endpoints: both of the node's InternalIPs kept (node4,
 * node6; NULL: none), XCNI_IPC_TUN6 when it is reached over IPv6 (send6):
 * the flag picks the family it is sent in, the receive side knows it at
 * either (a rolling --tunnel-family change).
 */
static void tun_is(const struct xcni_ipcache_val *e, bool send6, const char *node4,
		   const char *node6)
{
	uint8_t a[16] = { 0 };

	if (node6)
		assert_int_equal(inet_pton(AF_INET6, node6, a), 1);
	assert_int_equal(!!(e->flags & XCNI_IPC_TUN6), send6);
	assert_int_equal(e->tunnel_ip, node4 ? ip4(node4) : 0);
	assert_memory_equal(e->tunnel_ip6, a, 16);
}

/*
 * The IPv6 underlay (ABI 9): a Node with only an IPv6 InternalIP is reached
 * at it (XCNI_IPC_TUN6, for its pods' IPv4 and IPv6 and its own address); a
 * dual-stack Node at its IPv4 one, unless this node's underlay is IPv6
 * (o.underlay6), then at its IPv6 one; with o.same_fam (a kernel without
 * Geneve between families) IPv4 at the IPv4 one and IPv6 at the IPv6 one.
 * The full and the incremental compiles agree; a Node that loses its IPv4
 * InternalIP moves its pods over.
 */
static void ipv6_underlay_ipcache(void **state)
{
	struct pol_opts o = { .node_name = "n1" };
	struct k8s_object *n2, *n3;
	struct k8s_pod *r2, *r3;
	const struct pol_result *res;
	struct pol_incr *pi;
	struct pol_v6 v = { 0 };
	struct cluster c;

	(void)state;
	ns_add("x", "");
	node6_add("n1", NULL, "fc00:78::1");
	n2 = node6_add("n2", NULL, "fc00:78::2");
	n3 = node6_add("n3", "172.18.0.3", "fc00:78::3");
	r2 = pod_add("x", "r2", "n2", "10.0.2.2", "app=r");
	pod_ip6(r2, "fd00:10:2::2");
	r3 = pod_add("x", "r3", "n3", "10.0.3.2", "app=r");
	pod_ip6(r3, "fd00:10:3::2");

	/* u6: 0 auto, 1 --tunnel-family ipv6, 2 auto with each family over its own. */
	for (int u6 = 0; u6 < 3; u6++) {
		o.underlay6 = u6 == 1;
		o.same_fam = u6 == 2;
		/* The whole compile. */
		assert_int_equal(compile_opts(&R, &o), 0);
		tun_is(&ipc(&R, "10.0.2.2/32")->val, true, NULL, "fc00:78::2");
		assert_true(ipc(&R, "10.0.2.2/32")->val.flags & XCNI_IPC_POD);
		if (u6 == 1) {
			tun_is(&ipc(&R, "10.0.3.2/32")->val, true, "172.18.0.3", "fc00:78::3");
			tun_is(&ipc(&R, "172.18.0.3/32")->val, true, "172.18.0.3", "fc00:78::3");
		} else {
			tun_is(&ipc(&R, "10.0.3.2/32")->val, false, "172.18.0.3", "fc00:78::3");
			tun_is(&ipc(&R, "172.18.0.3/32")->val, false, "172.18.0.3", "fc00:78::3");
		}
		/* The incremental one, both families. */
		pi = incr_new();
		incr_update(pi, &c, &o, NULL, 0, &res);
		assert_int_equal(res->nipcache, R.nipcache);
		for (size_t i = 0; i < R.nipcache; i++)
			assert_memory_equal(&res->ipcache[i], &R.ipcache[i], sizeof(R.ipcache[i]));
		assert_int_equal(pol_v6_build(pi, &c, &v), 0);
		tun_is(ipc6_of(&v, "fd00:10:2::2"), true, NULL, "fc00:78::2");
		tun_is(ipc6_of(&v, "fc00:78::2"), true, NULL, "fc00:78::2");
		assert_int_equal(ipc6_of(&v, "fc00:78::2")->identity, XCNI_ID_REMOTE_NODE);
		tun_is(ipc6_of(&v, "fc00:78::1"), false, NULL, NULL);
		assert_int_equal(ipc6_of(&v, "fc00:78::1")->identity, XCNI_ID_HOST);
		if (u6) {
			tun_is(ipc6_of(&v, "fd00:10:3::2"), true, "172.18.0.3", "fc00:78::3");
		} else {
			tun_is(ipc6_of(&v, "fd00:10:3::2"), false, "172.18.0.3", "fc00:78::3");
			tun_is(ipc6_of(&v, "fc00:78::3"), false, "172.18.0.3", "fc00:78::3");
		}
		pol_v6_free(&v);
		pol_incr_free(pi);
	}
	/* n3 left with its IPv6 InternalIP only: its pods follow, in the whole
	 * compile and in the incremental one told of the Node's change. */
	o.underlay6 = o.same_fam = false;
	pi = incr_new();
	incr_update(pi, &c, &o, NULL, 0, &res);
	tun_is(&ipc(res, "10.0.3.2/32")->val, false, "172.18.0.3", "fc00:78::3");
	n3->node.internal_ip = 0;
	assert_int_equal(compile_opts(&R, &o), 0);
	tun_is(&ipc(&R, "10.0.3.2/32")->val, true, NULL, "fc00:78::3");
	{
		struct store_change ch = { K8S_NODE, NULL, (char *)"n3" };

		incr_update(pi, &c, &o, &ch, 1, &res);
	}
	tun_is(&ipc(res, "10.0.3.2/32")->val, true, NULL, "fc00:78::3");
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	tun_is(ipc6_of(&v, "fd00:10:3::2"), true, NULL, "fc00:78::3");
	pol_v6_free(&v);
	/* n2 renumbered, its IPv6 InternalIP alone changing: its pod follows. */
	inet_pton(AF_INET6, "fc00:78::22", n2->node.internal_ip6);
	{
		struct store_change ch = { K8S_NODE, NULL, (char *)"n2" };

		incr_update(pi, &c, &o, &ch, 1, &res);
	}
	tun_is(&ipc(res, "10.0.2.2/32")->val, true, NULL, "fc00:78::22");
	pol_incr_free(pi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(identity_determinism),
		T(identity_collisions),
		T(identity_kept_under_collision),
		T(identity_hash_keyed),
		T(ipcache_contents),
		T(duplicate_pod_ip),
		T(recompile_identical),
		T(change_touches_selected_only),
		T(host_network_and_pending_pods),
		T(ipv6_underlay_ipcache),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
