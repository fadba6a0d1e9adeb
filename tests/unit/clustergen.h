// SPDX-License-Identifier: Apache-2.0
/*
 * Random clusters for the tests that compare the incremental compiler with
 * the whole one (test_polincr, test_polsync): a few namespaces, nodes, pods
 * and NetworkPolicies of every shape, put into a store through the real
 * parser, and random batches of changes to them.
 */
#ifndef XCNI_TEST_CLUSTERGEN_H
#define XCNI_TEST_CLUSTERGEN_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "lib/cluster/store.h"

#define NPODS 36
#define NNODES 5
#define NNS 3
#define NPOLS 8

/*
 * One draw. Two draws are never arguments of one call: C leaves their order
 * open, and gcc (last argument first) and clang (first first) then play
 * different histories from one seed, so a seed that fails under the
 * sanitizers' clang build would pass in the plain one. Where they were, the
 * draws are taken in gcc's order, keeping the histories the tests were tuned
 * with.
 */
static unsigned rnd(unsigned *seed, unsigned n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

static const char *pick(unsigned *seed, const char *const *v, unsigned n)
{
	return v[rnd(seed, n)];
}

static void put(struct store *st, json_t *doc)
{
	struct k8s_object *o = NULL;
	struct k8s_error err = { "" };

	if (k8s_parse(doc, &o, &err))
		fail_msg("test object does not parse: %s", err.msg);
	json_decref(doc);
	assert_true(store_put(st, o) >= 0);
}

static const char *const apps[] = { "a", "b", "c", "d" };

/*
 * Audit mode and ClusterNetworkPolicies in the changes (test_polincr's audit
 * runs): NetworkPolicies and Namespaces now and then annotated
 * xcni.io/policy-mode: audit (an audited policy beside an enforced one among
 * them), and ClusterNetworkPolicies of both tiers written and removed. Off,
 * the sequences are the ones the other runs were tuned with.
 */
static bool gen_audit;
static bool gen_cnp; /* below: ClusterNetworkPolicies in churn */
/* gen_cnp's networks the /24 and /23 only (no host prefix): the shape that found a
 * pod at this node's InternalIP given the pod's decision (seed 751 step 28). */
static bool gen_cnp_wide;
/* gen_cnp's rules naming a destination port now and then (destinationNamedPort): egress ones
 * resolved per destination pod and its ports. Off, no draw is added. */
static bool gen_cnp_named;
/* gen_cnp's writes three in four one change to the ClusterNetworkPolicy there (cnp_edit): a rule's
 * peers, its ports or action, the subject, priority or tier, domainNames. Off, no draw is added. */
static bool gen_cnp_edit;
/* np_put's writes three in four one change to the NetworkPolicy there (np_edit): a rule's peers or
 * ports, a rule added or removed, the podSelector. Off, no draw is added. */
static bool gen_np_edit;
#define NCNPS 3

static json_t *audit_meta(json_t *meta, unsigned *seed)
{
	if (gen_audit && !rnd(seed, 16))
		json_object_set_new(meta, "annotations",
				    json_pack("{s:s}", "xcni.io/policy-mode", "audit"));
	return meta;
}
/*
 * The cluster's life on few addresses (test_polincr's life runs): half the
 * pods on two nodes and 6 IPv4 addresses or (one in two) 3 IPv6 ones, IPv6
 * only; a third of all being deleted (metadata.deletionTimestamp), so that pods being
 * deleted and live ones share addresses on one node and across nodes (who
 * yields, who contests: pol_yield). Off, no draw is added.
 */
static bool gen_life;

static const char *const tiers[] = { "x", "y" };
static const char *const teams[] = { "red", "blue" };
static const char *const zones[] = { "a", "b" };

static void pod_put(struct store *st, unsigned *seed, unsigned i)
{
	char name[16], ns[8], node[8], ip[24];
	json_t *labels = json_object(), *ports = json_array(), *status = json_object();
	json_t *spec;
	bool ip6only = false;

	snprintf(name, sizeof(name), "p%u", i);
	snprintf(ns, sizeof(ns), "ns%u", i % NNS); /* a pod keeps its namespace */
	snprintf(node, sizeof(node), "n%u", rnd(seed, NNODES + 1));
	/* Its own address, another of its own, or now and then one of 30 that
	 * another pod may hold (an error, until one of them changes). */
	if (rnd(seed, 20))
		snprintf(ip, sizeof(ip), "10.1.%u.%u", rnd(seed, 2) + 2, 1 + i);
	else {
		unsigned host = 1 + rnd(seed, 30);

		snprintf(ip, sizeof(ip), "10.1.%u.%u", rnd(seed, 2), host);
	}
	json_object_set_new(labels, "app", json_string(pick(seed, apps, 4)));
	if (rnd(seed, 2))
		json_object_set_new(labels, "tier", json_string(pick(seed, tiers, 2)));
	json_array_append_new(ports, json_pack("{s:s, s:i, s:s}", "name", "http", "containerPort",
					       8000 + (int)rnd(seed, 3), "protocol", "TCP"));
	if (rnd(seed, 2))
		json_array_append_new(ports, json_pack("{s:s, s:i}", "name", "metrics",
						       "containerPort", 9090));
	spec = json_pack("{s:s, s:[{s:s, s:s, s:o}]}", "nodeName", node, "containers", "name", "c",
			 "image", "i", "ports", ports);
	if (!rnd(seed, 12))
		json_object_set_new(spec, "hostNetwork", json_true());
	if (gen_life && !rnd(seed, 2)) {
		snprintf(node, sizeof(node), "n%u", rnd(seed, 2));
		json_object_set_new(spec, "nodeName", json_string(node));
		ip6only = !rnd(seed, 2);
		if (!ip6only)
			snprintf(ip, sizeof(ip), "10.1.5.%u", 1 + rnd(seed, 6));
		else
			snprintf(ip, sizeof(ip), "fd00:1::%x", 0x200 + rnd(seed, 3));
	}
	if (rnd(seed, 8)) {
		json_object_set_new(status, "podIP", json_string(ip));
		/* A third dual-stack; now and then an IPv6 another pod may hold. */
		if (!ip6only && !rnd(seed, 3)) {
			char ip6[40];

			unsigned h = rnd(seed, 6) ? 1 + i : 0x100 + rnd(seed, 4);

			/* gen_cnp's: now and then a node's (n2's, its own again: node_put). */
			if (gen_cnp && h == 0x103)
				snprintf(ip6, sizeof(ip6), "fd00:2::16");
			else
				snprintf(ip6, sizeof(ip6), "fd00:1::%x", h);
			json_object_set_new(status, "podIPs",
					    json_pack("[{s:s}, {s:s}]", "ip", ip, "ip", ip6));
		}
	}
	/* The cluster's life: now and then a finished pod (its address kept in
	 * the API, another pod's to take) or a pending one; ages that differ, so
	 * that who owns a contested address is decided on them too. */
	{
		static const char *const phases[] = { "Succeeded", "Failed", "Pending", "Running",
						      "Running", "Running" };
		char created[32];
		unsigned sec;

		json_object_set_new(status, "phase", json_string(pick(seed, phases, 6)));
		sec = rnd(seed, 60);
		snprintf(created, sizeof(created), "2026-11-26T00:%02u:%02uZ", rnd(seed, 60), sec);
		json_t *meta = json_pack("{s:s, s:s, s:o, s:s}", "name", name, "namespace", ns,
					 "labels", labels, "creationTimestamp", created);

		if (gen_life && !rnd(seed, 3))
			json_object_set_new(meta, "deletionTimestamp",
					    json_string("2026-11-26T01:00:00Z"));
		put(st, json_pack("{s:s, s:s, s:o, s:o, s:o}", "apiVersion", "v1", "kind", "Pod",
				  "metadata", meta, "spec", spec, "status", status));
	}
}

static void node_put(struct store *st, unsigned *seed, unsigned i)
{
	char name[8], ip[24], ip6[24];
	unsigned host;

	snprintf(name, sizeof(name), "n%u", i);
	/* Some node addresses fall among the pods' (the node keeps them). */
	host = 1 + rnd(seed, 30);
	/* gen_cnp's: now and then its own address again, so that only its
	 * labels change (what the tiers' node peers see). */
	if (gen_cnp && !rnd(seed, 2))
		host = 20 + i;
	snprintf(ip, sizeof(ip), rnd(seed, 4) ? "192.168.0.%u" : "10.1.0.%u", host);
	/* Two nodes in three also have an IPv6 InternalIP (ipcache6), which moves
	 * with the IPv4 one; derived from it, so the random sequence stays the
	 * one the tests were tuned with. */
	snprintf(ip6, sizeof(ip6), "fd00:2::%x", host);
	json_t *meta = json_pack("{s:s}", "name", name);

	/* gen_cnp's: a zone label the tiers' node peers select on, this
	 * node's too (its own Node changes as a delta: issue 69). */
	if (gen_cnp && rnd(seed, 3))
		json_object_set_new(meta, "labels", json_pack("{s:s}", "zone", pick(seed, zones, 2)));
	/* ... and a heartbeat: a Node written again with nothing policy reads changed. */
	if (gen_cnp)
		json_object_set_new(meta, "annotations",
				    json_pack("{s:s%}", "beat", "0123456789", (size_t)1 + rnd(seed, 10)));
	if (host % 3)
		put(st, json_pack("{s:s, s:s, s:o, s:{s:[{s:s, s:s}, {s:s, s:s}]}}",
				  "apiVersion", "v1", "kind", "Node", "metadata", meta,
				  "status", "addresses", "type", "InternalIP", "address", ip, "type",
				  "InternalIP", "address", ip6));
	else
		put(st, json_pack("{s:s, s:s, s:o, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1",
				  "kind", "Node", "metadata", meta, "status", "addresses",
				  "type", "InternalIP", "address", ip));
}

/*
 * Namespace labels in churn (test_polincr's namespace runs): a Namespace
 * (one more than the pods use: ns<NNS> has none) written or removed in a
 * quarter of the changes, its team label (what namespaceSelectors and the
 * tiers select on) there, changed or gone, an env label nothing selects on
 * beside it.
 */
static bool gen_ns_labels;

static void ns_put(struct store *st, unsigned *seed, unsigned i)
{
	char name[8];

	snprintf(name, sizeof(name), "ns%u", i);
	if (gen_ns_labels) {
		static const char *const envs[] = { "x", "y" };
		json_t *labels = json_object();
		unsigned t = rnd(seed, 3), e = rnd(seed, 3);

		if (t < 2)
			json_object_set_new(labels, "team", json_string(teams[t]));
		if (e < 2)
			json_object_set_new(labels, "env", json_string(envs[e]));
		put(st, json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "Namespace",
				  "metadata",
				  audit_meta(json_pack("{s:s, s:o}", "name", name, "labels", labels),
					     seed)));
		return;
	}
	if (gen_audit && !rnd(seed, 2)) {
		put(st, json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "Namespace",
				  "metadata",
				  audit_meta(json_pack("{s:s, s:{s:s}}", "name", name, "labels",
						       "team", pick(seed, teams, 2)),
					     seed)));
		return;
	}
	put(st, json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
			  "metadata", "name", name, "labels", "team", pick(seed, teams, 2)));
}

static json_t *peer(unsigned *seed)
{
	switch (rnd(seed, 5)) {
	case 0:
		return json_pack("{s:{s:{s:s}}}", "podSelector", "matchLabels", "app",
				 pick(seed, apps, 4));
	case 1:
		return json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels", "team",
				 pick(seed, teams, 2));
	case 2: {
		const char *tier = pick(seed, tiers, 2);

		return json_pack("{s:{s:{s:s}}, s:{s:{s:s}}}", "namespaceSelector", "matchLabels",
				 "kubernetes.io/metadata.name", rnd(seed, 2) ? "ns0" : "ns1",
				 "podSelector", "matchLabels", "tier", tier);
	}
	case 3:
		/* One in three an IPv6 block: both families in a pod's prefixes. */
		if (!rnd(seed, 3))
			return json_pack("{s:{s:s, s:[s]}}", "ipBlock", "cidr", "fd00:1::/32",
					 "except", rnd(seed, 2) ? "fd00:1:3::/48" : "fd00:1::10/124");
		return json_pack("{s:{s:s, s:[s]}}", "ipBlock", "cidr", "10.1.0.0/16", "except",
				 rnd(seed, 2) ? "10.1.3.0/24" : "10.1.2.16/28");
	default:
		return json_pack("{s:{}}", "podSelector");
	}
}

/*
 * No named port in egress rules: an egress named port makes local pods'
 * policy depend on every pod, so the incremental compiler compiles them all
 * again on any pod event; without one it adds a new identity's entries only
 * (the path test_polincr's births runs exercise).
 */
static bool gen_plain_egress;

static json_t *port(unsigned *seed, bool egress)
{
	switch (rnd(seed, egress && gen_plain_egress ? 2 : 4)) {
	case 0:
		return json_pack("{s:s, s:i}", "protocol", "TCP", "port", 80);
	case 1:
		return json_pack("{s:s, s:i, s:i}", "protocol", "TCP", "port", 1000, "endPort", 1031);
	case 2:
		return json_pack("{s:s, s:s}", "protocol", "TCP", "port", "http");
	default:
		return json_pack("{s:s, s:s}", "protocol", "UDP", "port", "metrics");
	}
}

static void np_put(struct store *st, unsigned *seed, unsigned i)
{
	char name[8], ns[8];
	json_t *spec = json_object(), *types = json_array();
	bool in = rnd(seed, 3), eg = !in || !rnd(seed, 3);

	snprintf(name, sizeof(name), "np%u", i);
	snprintf(ns, sizeof(ns), "ns%u", i % NNS);
	json_object_set_new(spec, "podSelector",
			    rnd(seed, 3) ? json_pack("{s:{s:s}}", "matchLabels", "app",
						     pick(seed, apps, 4)) :
					   json_object());
	for (int dir = 0; dir < 2; dir++) {
		json_t *rules;

		if (!(dir ? eg : in))
			continue;
		rules = json_array();
		for (unsigned r = rnd(seed, 3); r > 0; r--) {
			json_t *rule = json_object(), *peers = json_array(), *ports = json_array();

			for (unsigned p = rnd(seed, 3); p > 0; p--)
				json_array_append_new(peers, peer(seed));
			for (unsigned p = rnd(seed, 3); p > 0; p--)
				json_array_append_new(ports, port(seed, dir));
			json_object_set_new(rule, dir ? "to" : "from", peers);
			json_object_set_new(rule, "ports", ports);
			json_array_append_new(rules, rule);
		}
		json_object_set_new(spec, dir ? "egress" : "ingress", rules);
		json_array_append_new(types, json_string(dir ? "Egress" : "Ingress"));
	}
	json_object_set_new(spec, "policyTypes", types);
	put(st, json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "networking.k8s.io/v1", "kind",
			  "NetworkPolicy", "metadata",
			  audit_meta(json_pack("{s:s, s:s}", "name", name, "namespace", ns), seed),
			  "spec", spec));
}

/*
 * ClusterNetworkPolicies in churn (test_polincr's tier runs): one change in
 * five writes or removes one, with subjects by namespace or by pod, egress
 * peers of every kind a node's pods see (nodes, networks), and named rules
 * now and then (the rule names a delta must keep). Off: the shapes of before.
 */

static json_t *cnp_egress_peer(unsigned *seed)
{
	json_t *nets;
	unsigned v;

	switch (rnd(seed, 3)) {
	case 0:
		if (rnd(seed, 2))
			return json_pack("[{s:{}}]", "nodes");
		return json_pack("[{s:{s:{s:s}}}]", "nodes", "matchLabels", "zone",
				 pick(seed, zones, 2));
	case 1:
		/* Now and then a host prefix: at an address pods and nodes take and leave
		 * (n2's own 10.1.0.22, pod_put's fd00:1::103), whose group a patch keeps not. */
		v = rnd(seed, 4);
		nets = json_pack("[s]", v == 3 && !gen_cnp_wide ? "10.1.0.22/32" :
				 v % 2 ? "10.1.0.0/24" : "10.1.2.0/23");
		if (v == 2)
			json_array_append_new(nets, json_string("fd00:1::103/128"));
		return json_pack("[{s:o}]", "networks", nets);
	default:
		return json_pack("[{s:{s:{s:s}}}]", "namespaces", "matchLabels", "team",
				 pick(seed, teams, 2));
	}
}

/* A ClusterNetworkPolicy of either tier: one or two rules each way, any action. */
static void cnp_put(struct store *st, unsigned *seed, unsigned i)
{
	static const char *const actions[] = { "Accept", "Deny", "Pass" };
	const char *team = pick(seed, teams, 2);
	int prio = (int)rnd(seed, 4);
	char name[8];
	json_t *spec;

	snprintf(name, sizeof(name), "c%u", i);
	spec = json_pack("{s:s, s:i, s:{s:{s:{s:s}}}}", "tier", rnd(seed, 2) ? "Admin" : "Baseline",
			 "priority", prio, "subject", "namespaces", "matchLabels", "team", team);
	for (int dir = 0; dir < 2; dir++) {
		json_t *rules = json_array();

		for (unsigned r = 1 + rnd(seed, 2); r > 0; r--) {
			json_t *to = rnd(seed, 2) ?
					     json_pack("[{s:{s:{s:s}}}]", "namespaces", "matchLabels",
						       "team", pick(seed, teams, 2)) :
					     json_pack("[{s:{s:{}, s:{s:{s:s}}}}]", "pods",
						       "namespaceSelector", "podSelector",
						       "matchLabels", "app", pick(seed, apps, 4));
			json_t *rule;
			bool pods; /* named ports: pods' peers only (nodes, networks have none) */

			if (gen_cnp && dir && !rnd(seed, 3)) {
				json_decref(to);
				to = cnp_egress_peer(seed);
			}
			pods = json_object_get(json_array_get(to, 0), "namespaces") ||
			       json_object_get(json_array_get(to, 0), "pods");
			rule = json_pack("{s:s, s:o}", "action", actions[rnd(seed, 3)],
					 dir ? "to" : "from", to);
			if (gen_cnp && !rnd(seed, 4))
				json_object_set_new(rule, "name", json_string(r == 1 ? "r1" : "r2"));

			if (gen_cnp_named && pods && rnd(seed, 3)) {
				unsigned v = rnd(seed, 3);
				json_t *protos = json_pack("[{s:s}]", "destinationNamedPort",
							   v == 1 ? "metrics" : "http");

				if (v == 2)
					json_array_append_new(protos,
						json_pack("{s:{s:{s:i}}}", "tcp", "destinationPort",
							  "number", 80));
				json_object_set_new(rule, "protocols", protos);
			} else if (rnd(seed, 2))
				json_object_set_new(rule, "protocols",
						    json_pack("[{s:{s:{s:i}}}]", "tcp",
							      "destinationPort", "number", 80));
			json_array_append_new(rules, rule);
		}
		json_object_set_new(spec, dir ? "egress" : "ingress", rules);
	}
	if (gen_cnp && rnd(seed, 2))
		json_object_set_new(spec, "subject",
				    json_pack("{s:{s:{}, s:{s:{s:s}}}}", "pods", "namespaceSelector",
					      "podSelector", "matchLabels", "app",
					      pick(seed, apps, 4)));
	put(st, json_pack("{s:s, s:s, s:o, s:o}", "apiVersion",
			  "policy.networking.k8s.io/v1alpha2", "kind", "ClusterNetworkPolicy",
			  "metadata", audit_meta(json_pack("{s:s}", "name", name), seed), "spec",
			  spec));
}

/* A rule's destinationNamedPort protocols gone (a peer not a pod's: it has no ports). */
static void drop_named(json_t *rule)
{
	json_t *p = json_object_get(rule, "protocols");

	for (size_t i = 0; i < json_array_size(p); i++)
		if (json_object_get(json_array_get(p, i), "destinationNamedPort")) {
			json_object_del(rule, "protocols");
			return;
		}
}

/* gen_cnp_edit's: c<i> written again with one thing changed (the kinds a patch follows and
 * those compiled whole, pol_rules_reach), the rest as it was; a new one if c<i> is not there. */
static void cnp_edit(struct store *st, unsigned *seed, unsigned i)
{
	static const char *const actions[] = { "Accept", "Deny", "Pass" };
	static const char *const tiers[] = { "Admin", "Baseline" };
	unsigned kind = rnd(seed, 7), port = rnd(seed, 3);
	bool eg = kind == 6 || rnd(seed, 2);
	json_t *doc = NULL, *spec, *rules, *rule, *peer;
	struct cluster c;
	char name[8];

	snprintf(name, sizeof(name), "c%u", i);
	store_view(st, &c);
	for (size_t k = 0; k < c.n[K8S_CLUSTERNETPOL]; k++)
		if (!strcmp(c.objs[K8S_CLUSTERNETPOL][k]->meta.name, name))
			doc = json_deep_copy(c.objs[K8S_CLUSTERNETPOL][k]->raw);
	if (!doc) {
		cnp_put(st, seed, i);
		return;
	}
	spec = json_object_get(doc, "spec");
	rules = json_object_get(spec, eg ? "egress" : "ingress");
	rule = json_array_get(rules, rnd(seed, (unsigned)json_array_size(rules)));
	switch (kind) {
	case 0: /* a rule's peers */
		json_object_set_new(rule, eg ? "to" : "from",
				    eg && rnd(seed, 2) ? cnp_egress_peer(seed) :
				    rnd(seed, 2) ? json_pack("[{s:{s:{s:s}}}]", "namespaces", "matchLabels",
							     "team", pick(seed, teams, 2)) :
				    json_pack("[{s:{s:{}, s:{s:{s:s}}}}]", "pods", "namespaceSelector",
					      "podSelector", "matchLabels", "app", pick(seed, apps, 4)));
		peer = json_array_get(json_object_get(rule, eg ? "to" : "from"), 0);
		if (!json_object_get(peer, "namespaces") && !json_object_get(peer, "pods"))
			drop_named(rule);
		break;
	case 1: /* its ports: none, TCP 80 or 443, UDP 53 */
		if (port == 0)
			json_object_del(rule, "protocols");
		else
			json_object_set_new(rule, "protocols",
					    json_pack("[{s:{s:{s:i}}}]", port == 1 ? "tcp" : "udp",
						      "destinationPort", "number",
						      port == 1 ? (rnd(seed, 2) ? 80 : 443) : 53));
		break;
	case 2:
		json_object_set_new(rule, "action", json_string(actions[rnd(seed, 3)]));
		break;
	case 3:
		json_object_set_new(spec, "subject", rnd(seed, 2) ?
			json_pack("{s:{s:{s:s}}}", "namespaces", "matchLabels", "team", pick(seed, teams, 2)) :
			json_pack("{s:{s:{}, s:{s:{s:s}}}}", "pods", "namespaceSelector", "podSelector",
				  "matchLabels", "app", pick(seed, apps, 4)));
		break;
	case 4:
		json_object_set_new(spec, "priority", json_integer(rnd(seed, 4)));
		break;
	case 5:
		json_object_set_new(spec, "tier", json_string(pick(seed, tiers, 2)));
		break;
	default: /* an egress rule to domainNames */
		json_object_set_new(rule, "to", json_pack("[{s:[s]}]", "domainNames",
							  rnd(seed, 2) ? "a.example" : "*.b.example"));
		drop_named(rule);
		break;
	}
	put(st, doc);
}

/* gen_np_edit's: np<i> written again with one thing changed (its rules alone: patched where each
 * changed rule names pods by selectors, pol_rules_reach; its podSelector: compiled whole); a new
 * one if np<i> is not there or has no rule to change. */
static void np_edit(struct store *st, unsigned *seed, unsigned i)
{
	unsigned kind = rnd(seed, 5), dir = rnd(seed, 2);
	json_t *doc = NULL, *spec, *rules, *rule;
	struct cluster c;
	char name[8], ns[8];

	snprintf(name, sizeof(name), "np%u", i);
	snprintf(ns, sizeof(ns), "ns%u", i % NNS);
	store_view(st, &c);
	for (size_t k = 0; k < c.n[K8S_NETWORKPOLICY]; k++)
		if (!strcmp(c.objs[K8S_NETWORKPOLICY][k]->meta.name, name) &&
		    !strcmp(c.objs[K8S_NETWORKPOLICY][k]->meta.ns, ns))
			doc = json_deep_copy(c.objs[K8S_NETWORKPOLICY][k]->raw);
	spec = json_object_get(doc, "spec");
	rules = json_object_get(spec, dir ? "egress" : "ingress");
	if (!json_array_size(rules) && !json_array_size(rules = json_object_get(spec, (dir = !dir) ?
							   "egress" : "ingress"))) {
		json_decref(doc);
		np_put(st, seed, i);
		return;
	}
	rule = json_array_get(rules, rnd(seed, (unsigned)json_array_size(rules)));
	switch (kind) {
	case 0: /* a rule's peers: pods by selectors (an ipBlock or none: the rule's own, now and then) */
		json_object_set_new(rule, dir ? "to" : "from",
				    json_pack("[o]", rnd(seed, 2) ? json_pack("{s:{s:{s:s}}}", "podSelector",
						"matchLabels", "app", pick(seed, apps, 4)) :
						json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels",
							  "team", pick(seed, teams, 2))));
		break;
	case 1: /* its ports */
		json_object_set_new(rule, "ports", json_pack("[o]", port(seed, dir)));
		break;
	case 2: /* a rule more at the end (one in four first: every rule moves) */
		rule = json_pack("{s:[o], s:[o]}", dir ? "to" : "from", peer(seed), "ports",
				 port(seed, dir));
		if (rnd(seed, 4))
			json_array_append_new(rules, rule);
		else
			json_array_insert_new(rules, 0, rule);
		break;
	case 3: /* the last rule less */
		json_array_remove(rules, json_array_size(rules) - 1);
		break;
	default:
		json_object_set_new(spec, "podSelector",
				    json_pack("{s:{s:s}}", "matchLabels", "app", pick(seed, apps, 4)));
		break;
	}
	put(st, doc);
}

/* Deletes PREFIX<i> of KIND from ns<i % NNS>, where pod_put and np_put put it. */
static void del_nth(struct store *st, enum k8s_kind kind, const char *prefix, unsigned i)
{
	char name[16], ns[16];

	snprintf(name, sizeof(name), "%s%u", prefix, i);
	snprintf(ns, sizeof(ns), "ns%u", i % NNS);
	store_del(st, kind, ns, name);
}

/* One batch of 1..4 random changes. */
static void random_changes(struct store *st, unsigned *seed)
{
	for (unsigned n = 1 + rnd(seed, 4); n > 0; n--) {
		unsigned what;
		char name[8];

		if (gen_ns_labels && !rnd(seed, 4)) {
			if (rnd(seed, 5)) {
				ns_put(st, seed, rnd(seed, NNS + 1));
			} else {
				snprintf(name, sizeof(name), "ns%u", rnd(seed, NNS + 1));
				store_del(st, K8S_NAMESPACE, NULL, name);
			}
			continue;
		}
		if (gen_cnp && !rnd(seed, 5)) {
			if (rnd(seed, 3)) {
				if (gen_cnp_edit && rnd(seed, 4))
					cnp_edit(st, seed, rnd(seed, NCNPS));
				else
					cnp_put(st, seed, rnd(seed, NCNPS));
			} else {
				snprintf(name, sizeof(name), "c%u", rnd(seed, NCNPS));
				store_del(st, K8S_CLUSTERNETPOL, NULL, name);
			}
			continue;
		}
		what = rnd(seed, gen_audit ? 104 : 100);
		if (what < 45) {
			pod_put(st, seed, rnd(seed, NPODS));
		} else if (what < 65) {
			del_nth(st, K8S_POD, "p", rnd(seed, NPODS));
		} else if (what < 75) {
			node_put(st, seed, rnd(seed, NNODES));
		} else if (what < 79) {
			snprintf(name, sizeof(name), "n%u", 1 + rnd(seed, NNODES - 1));
			store_del(st, K8S_NODE, NULL, name);
		} else if (what < 90) {
			if (gen_np_edit && rnd(seed, 4))
				np_edit(st, seed, rnd(seed, NPOLS));
			else
				np_put(st, seed, rnd(seed, NPOLS));
		} else if (what < 95) {
			del_nth(st, K8S_NETWORKPOLICY, "np", rnd(seed, NPOLS));
		} else if (what < 98) {
			ns_put(st, seed, rnd(seed, NNS));
		} else if (what >= 100) {
			/* gen_audit's: a tier comes (one in four) or goes */
			if (!rnd(seed, 4)) {
				cnp_put(st, seed, rnd(seed, NCNPS));
			} else {
				snprintf(name, sizeof(name), "c%u", rnd(seed, NCNPS));
				store_del(st, K8S_CLUSTERNETPOL, NULL, name);
			}
		} else {
			snprintf(name, sizeof(name), "ns%u", rnd(seed, NNS));
			store_del(st, K8S_NAMESPACE, NULL, name);
		}
	}
}

/* The starting cluster: half the pods and policies, every node, one Namespace. */
static void random_cluster(struct store *st, unsigned *seed)
{
	for (unsigned i = 0; i < NPODS; i += 2)
		pod_put(st, seed, i);
	for (unsigned i = 0; i < NNODES; i++)
		node_put(st, seed, i);
	for (unsigned i = 0; i < NPOLS; i += 2)
		np_put(st, seed, i);
	ns_put(st, seed, 0);
	for (unsigned i = 0; gen_cnp && i < NCNPS; i += 2)
		cnp_put(st, seed, i);
}

#endif
