// SPDX-License-Identifier: Apache-2.0
/*
 * NetworkPolicies from their JSON trees, validated as the API server validates
 * them (k8s.io/kubernetes pkg/apis/networking/validation): peers (selectors,
 * ipBlock), ports and port ranges, rules and policyTypes. The helpers every
 * parser uses (field paths, errors, selectors, CIDRs, string lists, a rule's
 * port: ClusterNetworkPolicy's too) are in k8s_json.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster/k8s.h"
#include "lib/cluster/k8s_int.h"
#include "lib/cluster/k8s_json.h"

/* ---- NetworkPolicy ---- */

/* The ipBlock being read, and its cidr as the manifest says it (for the errors). */
struct ipblock_arg {
	struct k8s_ipblock *b;
	const char *cidr;
};

static int parse_except(struct kj_ctx *c, json_t *arr, size_t i, void *arg)
{
	const struct ipblock_arg *a = arg;
	const char *s = json_string_value(json_array_get(arr, i));
	struct xcni_prefix *x = &a->b->except[i];
	int err = kj_get_cidr(c, NULL, s, x);

	if (err)
		return err;
	if (x->family != a->b->cidr.family)
		return kj_fail(c, "\"%s\" is IPv%d but cidr \"%s\" is IPv%d", s, x->family,
			       a->cidr, a->b->cidr.family);
	/* Strictly inside: a longer prefix whose network lies in cidr. */
	if (x->len <= a->b->cidr.len || !xcni_prefix_inside(x, &a->b->cidr))
		return kj_fail(c, "\"%s\" is not inside cidr \"%s\"", s, a->cidr);
	return 0;
}

static int parse_ipblock(struct kj_ctx *c, json_t *j, struct k8s_ipblock *b)
{
	struct ipblock_arg a = { .b = b };
	json_t *except;
	int err;

	if (!json_is_object(j))
		return kj_fail(c, "must be an object");
	err = kj_get_str(c, j, "cidr", &a.cidr);
	if (err)
		return err;
	if (!a.cidr || !*a.cidr)
		return kj_fail_in(c, "cidr", "required");
	err = kj_get_cidr(c, "cidr", a.cidr, &b->cidr);
	if (err)
		return err;
	err = kj_get_arr(c, j, "except", &except);
	if (err || !except || !json_array_size(except))
		return err;
	b->except = calloc(json_array_size(except), sizeof(*b->except));
	if (!b->except)
		return -ENOMEM;
	b->nexcept = json_array_size(except);
	return kj_each_str(c, "except", except, parse_except, &a);
}

static int parse_peer(struct kj_ctx *c, json_t *j, void *elem, const void *arg)
{
	struct k8s_np_peer *p = elem;
	json_t *ipb;
	size_t old;
	int err;

	(void)arg;
	ipb = kj_get(j, "ipBlock");
	if (!ipb && !kj_get(j, "podSelector") && !kj_get(j, "namespaceSelector"))
		return kj_fail(c,
			       "must specify a peer (podSelector, namespaceSelector or ipBlock)");
	if (ipb && (kj_get(j, "podSelector") || kj_get(j, "namespaceSelector")))
		return kj_fail(c,
			       "ipBlock may not be combined with podSelector or namespaceSelector");
	err = kj_parse_opt_selector(c, j, "podSelector", &p->pod_sel);
	if (!err)
		err = kj_parse_opt_selector(c, j, "namespaceSelector", &p->ns_sel);
	if (err || !ipb)
		return err;
	p->ipblock = calloc(1, sizeof(*p->ipblock));
	if (!p->ipblock)
		return -ENOMEM;
	old = kj_field(c, "ipBlock");
	err = parse_ipblock(c, ipb, p->ipblock);
	kj_pop(c, old);
	return err;
}

static int parse_np_port(struct kj_ctx *c, json_t *j, void *elem, const void *arg)
{
	struct k8s_np_port *p = elem;
	long long end;
	bool has_end;
	int err;

	(void)arg;
	err = kj_parse_proto(c, j, &p->proto) ?: kj_rule_port(c, j, "port", &p->port, &p->port_name);
	if (err)
		return err;
	p->has_port = kj_get(j, "port");
	err = kj_get_int(c, j, "endPort", 0, INT32_MAX, &end, &has_end);
	if (err || !has_end)
		return err;
	if (!p->has_port)
		return kj_fail_in(c, "endPort", "may not be specified when port is not");
	if (p->port_name)
		return kj_fail_in(c, "endPort", "may not be used with a named port (\"%s\")",
				  p->port_name);
	if (end < p->port)
		return kj_fail_in(c, "endPort", "%lld must be greater than or equal to port (%u)",
				  end, p->port);
	if (end > 65535)
		return kj_fail_in(c, "endPort", "%lld must be at most 65535", end);
	p->end_port = end;
	return 0;
}

static int parse_rule(struct kj_ctx *c, json_t *j, void *elem, const void *peers_key)
{
	struct k8s_np_rule *r = elem;

	return kj_parse_field(c, j, peers_key, sizeof(*r->peers), (void **)&r->peers, &r->npeers,
			      parse_peer, NULL) ?:
	       kj_parse_field(c, j, "ports", sizeof(*r->ports), (void **)&r->ports, &r->nports,
			      parse_np_port, NULL);
}

static int parse_policy_type(struct kj_ctx *c, json_t *arr, size_t i, void *arg)
{
	const char *s = json_string_value(json_array_get(arr, i));
	struct k8s_netpol *np = arg;

	if (!strcmp(s, "Ingress"))
		np->type_ingress = true;
	else if (!strcmp(s, "Egress"))
		np->type_egress = true;
	else
		return kj_fail(c, "\"%s\" is not supported (Ingress, Egress)", s);
	return 0;
}

static int parse_policy_types(struct kj_ctx *c, json_t *spec, struct k8s_netpol *np)
{
	json_t *types;
	int err;

	err = kj_get_arr(c, spec, "policyTypes", &types);
	if (err)
		return err;
	/* The API's defaulting, for which an empty list is an absent one. */
	if (!types || !json_array_size(types)) {
		np->type_ingress = true;
		np->type_egress = np->negress > 0;
		return 0;
	}
	if (json_array_size(types) > 2)
		return kj_fail_in(c, "policyTypes", "may not specify more than two policyTypes");
	return kj_each_str(c, "policyTypes", types, parse_policy_type, np);
}

int kj_parse_netpol(struct kj_ctx *c, json_t *doc, struct k8s_netpol *np)
{
	json_t *spec, *sel;
	size_t old, o;
	int err;

	err = kj_spec(c, doc, &spec, &old);
	if (err)
		return err;
	sel = kj_get(spec, "podSelector");
	if (!sel) {
		err = kj_fail_in(c, "podSelector", "required (use {} to select every pod)");
		goto out;
	}
	o = kj_field(c, "podSelector");
	err = kj_parse_selector(c, sel, &np->pod_sel);
	kj_pop(c, o);
	if (!err)
		err = kj_parse_field(c, spec, "ingress", sizeof(*np->ingress), (void **)&np->ingress,
				     &np->ningress, parse_rule, "from");
	if (!err)
		err = kj_parse_field(c, spec, "egress", sizeof(*np->egress), (void **)&np->egress,
				     &np->negress, parse_rule, "to");
	if (!err)
		err = parse_policy_types(c, spec, np);
out:
	kj_pop(c, old);
	return err;
}

static void np_rules_free(struct k8s_np_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct k8s_np_rule *r = &rules[i];

		for (size_t j = 0; j < r->npeers; j++) {
			struct k8s_np_peer *p = &r->peers[j];

			kj_selector_drop(p->pod_sel);
			kj_selector_drop(p->ns_sel);
			if (p->ipblock)
				free(p->ipblock->except);
			free(p->ipblock);
		}
		free(r->peers);
		for (size_t j = 0; j < r->nports; j++)
			free(r->ports[j].port_name);
		free(r->ports);
	}
	free(rules);
}

void kj_netpol_free(struct k8s_netpol *np)
{
	kj_selector_free(&np->pod_sel);
	np_rules_free(np->ingress, np->ningress);
	np_rules_free(np->egress, np->negress);
}
