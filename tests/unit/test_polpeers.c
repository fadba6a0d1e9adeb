// SPDX-License-Identifier: Apache-2.0
/*
 * The NetworkPolicy compiler, who a rule admits: pod and namespace
 * selectors, matchExpressions, ipBlock with except (IPv4 and IPv6), IPv6-only
 * pods and named ports towards them. Clusters and the simulated data plane:
 * polsim.h.
 */
#include "polsim.h"
#include "lib/system/cidr.h"

/* ---- peers ------------------------------------------------------------- */

static void pod_selector_peer_own_namespace(void **state)
{
	(void)state;
	cast();
	peer(ingress(np_add("prod", "db-from-web", sel("app=db"), IN)), sel("app=web"), NULL);
	compile();
	assert_true(allowed(WEB, DB, TCP, 5432));
	assert_false(allowed(DEVWEB, DB, TCP, 5432)); /* app=web, but in dev */
	REACH(DB, TCP, 5432, "--", OTHER, OUTSIDE);
}

static void namespace_selector_only(void **state)
{
	(void)state;
	cast();
	peer(ingress(np_add("prod", "db-from-dev", sel("app=db"), IN)), NULL, sel("team=b"));
	compile();
	REACH(DB, TCP, 5432, "++--", DEVWEB, DEVCLIENT, WEB, OUTSIDE);
}

static void pod_and_namespace_selectors_and_vs_or(void **state)
{
	struct k8s_np_rule *r;

	(void)state;
	cast();
	/* One peer with both: web pods of dev, nothing else. */
	peer(ingress(np_add("prod", "and", sel("app=db"), IN)), sel("app=web"), sel("team=b"));
	compile();
	REACH(DB, TCP, 1, "+--", DEVWEB, DEVCLIENT, WEB);

	/* Two peers: web pods of prod, or anything in dev. */
	r = ingress(np_add("prod", "or", sel("app=other"), IN));
	peer(r, sel("app=web"), NULL);
	peer(r, NULL, sel("team=b"));
	compile();
	REACH(OTHER, TCP, 1, "+++-", DEVWEB, DEVCLIENT, WEB, DB);
}

/*
 * An IPv6-only pod of this node is keyed by 0.<low 24 bits of its IPv6>:
 * its policy compiles under that key as a dual-stack pod's does under its
 * IPv4; one elsewhere has no key (its node keys it). pol_v6_build: every
 * pod's IPv6 with its identity, this node's with their keys.
 */
static void ipv6_only_pod_keyed(void **state)
{
	struct pol_opts o = { .node_name = "n1" };
	struct k8s_pod *v6, *r6, *a;
	const struct pol_result *r;
	struct pol_incr *pi;
	struct pol_v6 v = { 0 };
	struct cluster c;

	(void)state;
	ns_add("x", "");
	v6 = pod_add("x", "v6", "n1", NULL, "app=v6");
	pod_ip6(v6, "fd00:10::a:5");
	a = pod_add("x", "a", "n1", "10.0.0.2", "app=a");
	pod_ip6(a, "fd00:10::2");
	r6 = pod_add("x", "r6", "n2", NULL, "app=r6");
	pod_ip6(r6, "fd00:20::a:5"); /* the same low bits, another node */
	peer(ingress(np_add("x", "in", sel("app=v6"), IN)), sel("app=a"), NULL);
	assert_int_equal(pol_polkey6(v6->ip6), ip4("0.10.0.5"));
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_non_null(pol_ep_find(&R, ip4("0.10.0.5")));
	assert_int_equal(R.neps, 2); /* v6 and a: r6 is n2's */
	assert_true(pol_ep_find(&R, ip4("0.10.0.5"))->state.isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_true(allowed("10.0.0.2", "0.10.0.5", TCP, 80));

	pi = incr_new();
	incr_update(pi, &c, &o, NULL, 0, &r);
	assert_int_equal(r->neps, 2);
	assert_non_null(pol_ep_find(r, ip4("0.10.0.5")));
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(v.nipc, 3);
	assert_int_equal(v.nkeys, 2);
	for (size_t i = 0; i < v.nipc; i++) {
		assert_int_equal(v.ipc[i].key.prefixlen, 128);
		assert_true(v.ipc[i].val.identity >= XCNI_ID_MIN_LABELS);
		assert_int_equal(v.ipc[i].val.flags, XCNI_IPC_POD);
	}
	/* Sorted by address: fd00:10::2 (a, its IPv4), fd00:10::a:5 (v6, its key). */
	assert_memory_equal(v.keys[0].addr.addr, a->ip6, 16);
	assert_int_equal(v.keys[0].key, ip4("10.0.0.2"));
	assert_memory_equal(v.keys[1].addr.addr, v6->ip6, 16);
	assert_int_equal(v.keys[1].key, ip4("0.10.0.5"));
	pol_v6_free(&v);
	pol_incr_free(pi);
}

/*
 * The IPv6 overlay's ipcache6: another node's pod behind that node's IPv4
 * InternalIP (the Geneve endpoint, and the only node that may send from it),
 * this node's pods with none; the Nodes' IPv6 InternalIPs as host (this
 * one) and remote-node (the others, behind their IPv4).
 */
static void ipv6_overlay_ipcache(void **state)
{
	struct pol_opts o = { .node_name = "n1" };
	struct k8s_pod *l, *r;
	const struct pol_result *res;
	struct pol_incr *pi;
	struct pol_v6 v = { 0 };
	struct cluster c;
	uint8_t a[16];
	int seen = 0;

	(void)state;
	ns_add("x", "");
	node6_add("n1", "172.18.0.2", "fc00:f853::2");
	node6_add("n2", "172.18.0.3", "fc00:f853::3");
	l = pod_add("x", "l", "n1", "10.0.1.2", "app=l");
	pod_ip6(l, "fd00:10:1::2");
	r = pod_add("x", "r", "n2", "10.0.2.2", "app=r");
	pod_ip6(r, "fd00:10:2::2");
	pi = incr_new();
	incr_update(pi, &c, &o, NULL, 0, &res);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(v.nipc, 4);
	for (size_t i = 0; i < v.nipc; i++) {
		const struct xcni_ipcache_val *e = &v.ipc[i].val;

		if (inet_pton(AF_INET6, "fd00:10:1::2", a) && !memcmp(v.ipc[i].key.addr, a, 16)) {
			assert_int_equal(e->tunnel_ip, 0);
			assert_int_equal(e->flags, XCNI_IPC_POD);
			seen |= 1;
		} else if (inet_pton(AF_INET6, "fd00:10:2::2", a) &&
			   !memcmp(v.ipc[i].key.addr, a, 16)) {
			assert_int_equal(e->tunnel_ip, ip4("172.18.0.3"));
			assert_int_equal(e->flags, XCNI_IPC_POD);
			assert_true(e->identity >= XCNI_ID_MIN_LABELS);
			seen |= 2;
		} else if (inet_pton(AF_INET6, "fc00:f853::2", a) &&
			   !memcmp(v.ipc[i].key.addr, a, 16)) {
			assert_int_equal(e->identity, XCNI_ID_HOST);
			assert_int_equal(e->tunnel_ip, 0);
			seen |= 4;
		} else {
			assert_true(inet_pton(AF_INET6, "fc00:f853::3", a) &&
				    !memcmp(v.ipc[i].key.addr, a, 16));
			assert_int_equal(e->identity, XCNI_ID_REMOTE_NODE);
			assert_int_equal(e->tunnel_ip, ip4("172.18.0.3"));
			assert_int_equal(e->flags, 0);
			seen |= 8;
		}
	}
	assert_int_equal(seen, 15);
	pol_v6_free(&v);
	pol_incr_free(pi);
}

static void match_expressions(void **state)
{
	(void)state;
	ns_add("x", "");
	pod_add("x", "target", NULL, "10.0.0.1", "app=target");
	pod_add("x", "a", NULL, "10.0.0.2", "tier=fe,env=prod");
	pod_add("x", "b", NULL, "10.0.0.3", "tier=be,env=dev");
	pod_add("x", "c", NULL, "10.0.0.4", "tier=cache");
	pod_add("x", "d", NULL, "10.0.0.5", "other=1");

	peer(ingress(np_add("x", "in", sel("app=target"), IN)),
	     expr(sel(""), "tier", K8S_SEL_IN, "fe,be"), NULL);
	compile();
	REACH("10.0.0.1", TCP, 80, "++-", "10.0.0.2", "10.0.0.3", "10.0.0.4");
	assert_false(allowed("10.0.0.5", "10.0.0.1", TCP, 80)); /* key absent */

	/* NotIn: key absent or value not in the set. */
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].pod_sel =
		expr(sel(""), "tier", K8S_SEL_NOT_IN, "fe,be");
	compile();
	REACH("10.0.0.1", TCP, 80, "--++", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5");

	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].pod_sel =
		expr(sel(""), "env", K8S_SEL_EXISTS, NULL);
	compile();
	REACH("10.0.0.1", TCP, 80, "++-", "10.0.0.2", "10.0.0.3", "10.0.0.4");

	/* DoesNotExist and matchLabels together: AND of all terms. */
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].pod_sel =
		expr(sel("tier=cache"), "env", K8S_SEL_DOES_NOT_EXIST, NULL);
	compile();
	REACH("10.0.0.1", TCP, 80, "-+-", "10.0.0.2", "10.0.0.4", "10.0.0.5");

	/* Expressions in spec.podSelector select the pods the policy applies to. */
	objs[K8S_NETWORKPOLICY][0]->np.pod_sel = *expr(sel(""), "tier", K8S_SEL_IN, "fe");
	compile();
	assert_int_equal(ep("10.0.0.2")->state.isolated, XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_int_equal(ep("10.0.0.1")->state.isolated, 0);
}

static void empty_selectors(void **state)
{
	(void)state;
	cast();
	/* podSelector: {} = every pod of the policy's namespace. */
	peer(ingress(np_add("prod", "same-ns", sel("app=db"), IN)), sel(""), NULL);
	compile();
	REACH(DB, TCP, 1, "++--", WEB, OTHER, DEVWEB, OUTSIDE);

	/* namespaceSelector: {} = every pod of every namespace, but not the world. */
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0] =
		(struct k8s_np_peer){ .ns_sel = sel("") };
	compile();
	REACH(DB, TCP, 1, "++-", WEB, DEVCLIENT, OUTSIDE);
}

static void namespace_without_object(void **state)
{
	(void)state;
	/* No Namespace objects: selectors still see kubernetes.io/metadata.name. */
	pod_add("a", "srv", NULL, "10.0.0.1", "app=srv");
	pod_add("b", "cli", NULL, "10.0.0.2", "app=cli");
	pod_add("c", "cli", NULL, "10.0.0.3", "app=cli");
	peer(ingress(np_add("a", "p", sel("app=srv"), IN)), NULL,
	     sel("kubernetes.io/metadata.name=b"));
	compile();
	REACH("10.0.0.1", TCP, 1, "+-", "10.0.0.2", "10.0.0.3");
	for (size_t i = 0; i < R.nidentities; i++)
		if (!strcmp(R.identities[i].ns, "b"))
			assert_string_equal(R.identities[i].canon,
					    "k8s:app=cli,ns:kubernetes.io/metadata.name=b");

	/* A Namespace made by hand without the label gets it, in its sorted place. */
	obj(K8S_NAMESPACE, NULL, "d", "a=1,z=2");
	pod_add("d", "cli", NULL, "10.0.0.4", "app=cli");
	compile();
	for (size_t i = 0; i < R.nidentities; i++)
		if (!strcmp(R.identities[i].ns, "d"))
			assert_string_equal(
				R.identities[i].canon,
				"k8s:app=cli,ns:a=1,ns:kubernetes.io/metadata.name=d,ns:z=2");
	assert_false(allowed("10.0.0.4", "10.0.0.1", TCP, 1));
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].ns_sel =
		sel("kubernetes.io/metadata.name=d");
	compile();
	assert_true(allowed("10.0.0.4", "10.0.0.1", TCP, 1));
}

static void ipblock_except(void **state)
{
	const struct pol_ep *e;
	struct k8s_np_rule *r;
	uint32_t g8, g16;

	(void)state;
	ns_add("x", "");
	pod_add("x", "db", NULL, "10.244.0.5", "app=db");
	peer_block(ingress(np_add("x", "blocks", sel("app=db"), IN)), "10.0.0.0/8", "10.1.0.0/16",
		   NULL);
	compile();
	e = ep("10.244.0.5");
	/* Two prefixes, in address order: the cidr, and the except that hides part of it. */
	assert_int_equal(e->ncidrs, 2);
	assert_int_equal(e->cidrs[0].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 8);
	assert_int_equal(e->cidrs[0].key.addr, ip4("10.0.0.0"));
	assert_int_equal(e->cidrs[0].key.dir, XCNI_DIR_TO_POD);
	assert_int_equal(e->cidrs[0].key.ep, ip4("10.244.0.5"));
	assert_int_equal(e->cidrs[1].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 16);
	assert_int_equal(e->cidrs[1].key.addr, ip4("10.1.0.0"));
	g8 = e->cidrs[0].group;
	g16 = e->cidrs[1].group;
	assert_int_equal(g8, XCNI_ID_CIDR_BASE);
	assert_int_equal(g16, XCNI_ID_CIDR_BASE + 1);
	/* The except's group allows nothing: only the /8's group has an entry. */
	assert_int_equal(e->nentries, 1);
	assert_int_equal(e->entries[0].key.peer, g8);
	assert_int_equal(pol_cidr_group(e, XCNI_DIR_TO_POD, ip4("10.1.2.3")), g16);
	assert_int_equal(pol_cidr_group(e, XCNI_DIR_TO_POD, ip4("10.2.0.1")), g8);
	assert_int_equal(pol_cidr_group(e, XCNI_DIR_TO_POD, ip4("11.0.0.1")), 0);
	REACH("10.244.0.5", TCP, 80, "-+-", "10.1.2.3", "10.2.0.1", "11.0.0.1");

	/* A second rule whose cidr is the except: that rule lets 10.1.2.3 in. */
	r = ingress(&objs[K8S_NETWORKPOLICY][0]->np);
	peer_block(r, "10.1.0.0/16", NULL);
	port(r, TCP, 443, 0);
	compile();
	assert_true(allowed("10.1.2.3", "10.244.0.5", TCP, 443));
	REACH("10.244.0.5", TCP, 80, "-+", "10.1.2.3", "10.2.0.1");
	assert_int_equal(ingress_hit("10.1.2.3", "10.244.0.5", TCP, 443)->val.rule, 1);
	assert_int_equal(ingress_hit("10.2.0.1", "10.244.0.5", TCP, 80)->val.rule, 0);

	/* ipBlock matches pod addresses too, whatever their identity. */
	pod_add("x", "in-block", NULL, "10.3.0.7", "app=anything");
	pod_add("x", "excepted", NULL, "10.1.0.9", "app=anything");
	compile();
	REACH("10.244.0.5", TCP, 80, "+-", "10.3.0.7", "10.1.0.9");
	assert_true(allowed("10.1.0.9", "10.244.0.5", TCP, 443));
}

static void ipblock_egress_nested(void **state)
{
	struct k8s_netpol *np;
	struct k8s_np_rule *r;

	(void)state;
	ns_add("x", "");
	pod_add("x", "cli", NULL, "10.244.0.5", "app=cli");
	np = np_add("x", "out", sel("app=cli"), EG);
	/* 0.0.0.0/0 except 10.0.0.0/8 except-in-another-rule 10.9.0.0/16 (UDP only). */
	peer_block(egress(np), "0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16", NULL);
	r = egress(np);
	peer_block(r, "10.9.0.0/16", NULL);
	port_proto(r, UDP);
	compile();
	assert_true(allowed("10.244.0.5", "8.8.8.8", TCP, 443));
	assert_false(allowed("10.244.0.5", "10.2.3.4", TCP, 443));
	assert_false(allowed("10.244.0.5", "192.168.1.1", TCP, 443));
	assert_true(allowed("10.244.0.5", "10.9.1.1", UDP, 53));
	assert_false(allowed("10.244.0.5", "10.9.1.1", TCP, 53));
	assert_int_equal(ep("10.244.0.5")->ncidrs, 4);
}

/*
 * ipBlocks with excepts, nested and overlapping, drawn at random (seeded: the
 * same each run), against the definition: a rule lets an address in when
 * one of its blocks holds it and none of that block's excepts does. The
 * compiler finds each prefix's rules through sorted indexes (build_groups);
 * this is the brute force it must agree with, probed at random addresses and
 * at every prefix's edges.
 */
static uint32_t lcg;

static uint32_t rnd(uint32_t n)
{
	lcg = lcg * 1103515245u + 12345u;
	return (lcg >> 8) % n;
}

struct mblock {
	uint32_t net, mask, ex_net[3], ex_mask[3];
	int nex;
};

struct mrule {
	struct mblock b[3];
	int nb;
	uint16_t port;
};

static bool model_allows(const struct mrule *rs, int nr, uint32_t a, uint16_t port)
{
	for (int i = 0; i < nr; i++) {
		if (rs[i].port != port)
			continue;
		for (int j = 0; j < rs[i].nb; j++) {
			const struct mblock *b = &rs[i].b[j];
			bool out = (a & b->mask) != b->net;

			for (int k = 0; !out && k < b->nex; k++)
				out = (a & b->ex_mask[k]) == b->ex_net[k];
			if (!out)
				return true;
		}
	}
	return false;
}

static void ipblock_random_vs_model(void **state)
{
	static const uint16_t ports[] = { 53, 80, 443 };
	static const uint8_t lens[] = { 16, 18, 20, 22, 24, 26, 28, 30, 32 };

	(void)state;
	for (uint32_t seed = 1; seed <= 12; seed++) {
		struct mrule rs[24];
		uint32_t edges[24 * 3 * 4];
		int nr = 0, nedges = 0;
		char buf[32], name[16];

		lcg = seed;
		teardown(NULL);
		setup(NULL);
		ns_add("x", "");
		pod_add("x", "cli", NULL, "10.244.0.5", "app=cli");
		for (int pi = 0; pi < 6; pi++) {
			struct k8s_netpol *np;

			snprintf(name, sizeof(name), "p%d", pi);
			np = np_add("x", name, sel("app=cli"), EG);
			for (int ri = 0; ri < 4; ri++, nr++) {
				struct k8s_np_rule *r = egress(np);
				struct mrule *m = &rs[nr];

				m->nb = 1 + (int)rnd(3);
				m->port = ports[rnd(3)];
				for (int bi = 0; bi < m->nb; bi++) {
					struct mblock *b = &m->b[bi];
					uint8_t len = lens[rnd(sizeof(lens))];
					struct k8s_ipblock *kb = tmem(sizeof(*kb));

					b->mask = xcni_prefix_mask(len);
					b->net = (0x64400000u | rnd(1u << 16)) & b->mask;
					kb->cidr = xcni_prefix_host(htonl(b->net), NULL);
					kb->cidr.len = len;
					kb->except = tmem(3 * sizeof(*kb->except));
					edges[nedges++] = b->net;
					edges[nedges++] = b->net | ~b->mask;
					b->nex = len < 32 ? (int)rnd(4) : 0;
					for (int k = 0; k < b->nex; k++) {
						uint8_t el = (uint8_t)(len + 1 + rnd(32 - len));

						b->ex_mask[k] = xcni_prefix_mask(el);
						b->ex_net[k] = (b->net | rnd(1u << 16)) & b->ex_mask[k];
						if ((b->ex_net[k] & b->mask) != b->net)
							b->ex_net[k] = (b->net | (b->ex_net[k] & ~b->mask)) &
								       b->ex_mask[k];
						kb->except[kb->nexcept] = xcni_prefix_host(htonl(b->ex_net[k]), NULL);
						kb->except[kb->nexcept++].len = el;
						if (k < 1) {
							edges[nedges++] = b->ex_net[k];
							edges[nedges++] = b->ex_net[k] | ~b->ex_mask[k];
						}
					}
					r->peers[r->npeers++].ipblock = kb;
				}
				port(r, TCP, m->port, 0);
			}
		}
		compile();
		for (int i = 0; i < 600 + nedges; i++) {
			uint32_t a = i < 600 ? 0x64400000u | rnd(1u << 16) : edges[i - 600];
			struct in_addr ia = { .s_addr = htonl(a) };
			uint16_t pt = ports[rnd(3)];

			inet_ntop(AF_INET, &ia, buf, sizeof(buf));
			if (allowed("10.244.0.5", buf, TCP, pt) != model_allows(rs, nr, a, pt))
				fail_msg("seed %u: 10.244.0.5 -> %s:%u: compiled %d, by definition %d",
					 seed, buf, pt, allowed("10.244.0.5", buf, TCP, pt),
					 model_allows(rs, nr, a, pt));
		}
	}
}

/*
 * IPv6 ipBlock: prefixes of both families in one trie, told apart by v6;
 * IPv4 groups first, then IPv6 ones; an except carves its part out; a
 * block of one family never admits an address of the other.
 */
static void ipblock6_except(void **state)
{
	const struct pol_ep *e;
	uint32_t db;

	(void)state;
	ns_add("x", "");
	pod_ip6(pod_add("x", "db", NULL, "10.244.0.5", "app=db"), "fd00:10::5");
	peer_block(ingress(np_add("x", "blocks", sel("app=db"), IN)), "fd00:1::/32",
		   "fd00:1:2::/48", NULL);
	compile();
	db = ip4("10.244.0.5");
	e = ep("10.244.0.5");
	assert_int_equal(e->ncidrs, 2);
	assert_int_equal(e->cidrs[0].key.v6, 1);
	assert_int_equal(e->cidrs[0].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 32);
	assert_int_equal(e->cidrs[1].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 48);
	assert_int_equal(e->cidrs[0].group, XCNI_ID_CIDR_BASE);
	assert_int_equal(e->nentries, 1);
	assert_true(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:5::1", XCNI_ID_WORLD, TCP, 80));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:2::1", XCNI_ID_WORLD, TCP, 80));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "fd00:2::1", XCNI_ID_WORLD, TCP, 80));
	/* The IPv6 block admits no IPv4 peer, not even 0.0.0.0-ish ones. */
	REACH("10.244.0.5", TCP, 80, "--", "10.0.0.1", "0.0.0.1");
	assert_int_equal(pol_cidr_group(e, XCNI_DIR_TO_POD, ip4("253.0.0.1")), 0);

	/* Add IPv4 0.0.0.0/0 in another rule (UDP only): IPv4 groups come first. */
	struct k8s_np_rule *r = ingress(&objs[K8S_NETWORKPOLICY][0]->np);

	peer_block(r, "0.0.0.0/0", NULL);
	port_proto(r, UDP);
	compile();
	e = ep("10.244.0.5");
	assert_int_equal(e->ncidrs, 3);
	assert_int_equal(e->cidrs[0].key.v6, 0);
	assert_int_equal(e->cidrs[0].group, XCNI_ID_CIDR_BASE);
	assert_int_equal(e->cidrs[1].group, XCNI_ID_CIDR_BASE + 1);
	assert_true(allowed("192.0.2.1", "10.244.0.5", UDP, 53));
	assert_false(allowed("192.0.2.1", "10.244.0.5", TCP, 80));
	/* ...and leaves IPv6 alone: UDP from outside the IPv6 block stays out. */
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "2001:db8::1", XCNI_ID_WORLD, UDP, 53));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "::", XCNI_ID_WORLD, UDP, 53));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:2::1", XCNI_ID_WORLD, UDP, 53));
	assert_true(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:5::1", XCNI_ID_WORLD, TCP, 80));

	/* ::/0 on egress: every IPv6 destination, no IPv4 one. */
	peer_block(egress(np_add("x", "out6", sel("app=db"), EG)), "::/0", "fd00:1::/32", NULL);
	compile();
	assert_true(side6(&R, db, XCNI_DIR_FROM_POD, "2001:db8::1", XCNI_ID_WORLD, TCP, 443));
	assert_false(side6(&R, db, XCNI_DIR_FROM_POD, "fd00:1::9", XCNI_ID_WORLD, TCP, 443));
	assert_false(side(&R, db, XCNI_DIR_FROM_POD, ip4("192.0.2.1"), TCP, 443,
			  &(const struct pol_entry *){ NULL }));
}

/*
 * Egress named ports resolve on IPv6-only pods: a selector peer through the
 * pod's identity, an IPv6 ipBlock through a /128 of each pod inside it.
 */
static void named_port_egress_ipv6_only(void **state)
{
	struct k8s_pod *a, *b;
	struct k8s_netpol *np;
	struct k8s_np_rule *r;
	uint32_t cli, ida;

	(void)state;
	ns_add("x", "");
	a = pod_add("x", "a", NULL, NULL, "app=srv");
	pod_ip6(a, "fd00:10::1:1");
	b = pod_add("x", "b", NULL, NULL, "app=db");
	pod_ip6(b, "fd00:10::1:2");
	pod_ip6(pod_add("x", "cli", NULL, NULL, "app=cli"), "fd00:10::1:9");
	pod_port(a, "http", TCP, 8080);
	pod_port(b, "http", TCP, 9090);
	cli = pol_polkey6(objs[K8S_POD][2]->pod.ip6);

	np = np_add("x", "out", sel("app=cli"), EG);
	r = egress(np);
	peer(r, sel("app=srv"), NULL);
	port_named(r, TCP, "http");
	compile();
	ida = pod_identity(&R, "0.1.0.1"); /* a's policy key carries its identity */
	assert_true(ida >= XCNI_ID_MIN_LABELS);
	assert_true(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", ida, TCP, 8080));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", ida, TCP, 9090));

	/* IPv6 ipBlock peer: the pods inside it, each on its own number. */
	r->npeers = 0;
	peer_block(r, "fd00:10::/64", "fd00:10::1:2/128", NULL);
	compile();
	assert_true(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", XCNI_ID_WORLD, TCP, 8080));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", XCNI_ID_WORLD, TCP, 9090));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:2", XCNI_ID_WORLD, TCP, 9090));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:3", XCNI_ID_WORLD, TCP, 8080));
	/* An IPv4 ipBlock gives no IPv6-only pod its port. */
	r->npeers = 0;
	peer_block(r, "0.0.0.0/0", NULL);
	compile();
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", XCNI_ID_WORLD, TCP, 8080));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(pod_selector_peer_own_namespace),
		T(namespace_selector_only),
		T(pod_and_namespace_selectors_and_vs_or),
		T(match_expressions),
		T(ipv6_only_pod_keyed),
		T(ipv6_overlay_ipcache),
		T(empty_selectors),
		T(namespace_without_object),
		T(ipblock_except),
		T(ipblock_egress_nested),
		T(ipblock_random_vs_model),
		T(ipblock6_except),
		T(named_port_egress_ipv6_only),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
