// SPDX-License-Identifier: Apache-2.0
/*
 * ClusterNetworkPolicy (kubernetes-sigs/network-policy-api v1alpha2) from
 * its JSON tree, validated as the CRD's schema and CEL rules do: tier Admin
 * or Baseline, priority 0..1000, a subject of namespaces or pods, rules with
 * an action (a Pass in the Baseline tier skips the rest of that tier, so
 * the default, allowed, decides), at most one kind per peer (none: a kind of
 * a newer CRD, and the rule fails closed),
 * networks as CIDRs, protocols with one port, a range or a named port.
 * domainNames peers (egress) are validated as the CRD would (1 to 25 names,
 * each a DNS name or "*." and one, lower-cased, one trailing dot allowed,
 * no name twice once normalised) and kept normalised: xcnid --fqdn-policy
 * judges the addresses the cluster DNS answers a selected pod for them
 * (docs/decisions/fqdn-in-bpf.md).
 *
 * The CRD's limits, refused here as the API server would refuse them (so a
 * manifest directory cannot hold what a cluster could not): at most 25 rules
 * each way (MaxItems), 1 to 25 peers a rule, 1 to 25 protocols when given,
 * 1 to 25 networks a peer with no duplicates (listType=set), a CIDR at most
 * 43 characters; tcp/udp/sctp with a destinationPort (MinProperties=1: `tcp:
 * {}` is invalid; leave protocols out to match every port), a range with
 * start < end (CEL "self.start < self.end": one port is number); and no
 * destinationNamedPort in an egress rule with a networks or nodes peer (CEL:
 * they have no named ports).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster/k8s.h"
#include "lib/cluster/k8s_int.h"
#include "lib/cluster/fqdn.h"

#define CNP_MAX_RULES 25
#define CNP_MAX_PEERS 25
#define CNP_MAX_PROTOS 25
#define CNP_MAX_NETS 25
#define CNP_MAX_CIDR_LEN 43

/* subject.pods and a pods peer: namespaceSelector and podSelector, both required. */
static int parse_pods(struct kj_ctx *c, json_t *j, struct k8s_selector **ns,
		      struct k8s_selector **pod)
{
	size_t old = kj_field(c, "pods");
	int err = 0;

	if (!json_is_object(j))
		err = kj_fail(c, "must be an object");
	else if (!kj_get(j, "namespaceSelector"))
		err = kj_fail_in(c, "namespaceSelector", "required (use {} for every namespace)");
	else if (!kj_get(j, "podSelector"))
		err = kj_fail_in(c, "podSelector", "required (use {} for every pod)");
	if (!err)
		err = kj_parse_opt_selector(c, j, "namespaceSelector", ns);
	if (!err)
		err = kj_parse_opt_selector(c, j, "podSelector", pod);
	kj_pop(c, old);
	return err;
}

static int parse_network(struct kj_ctx *c, json_t *arr, size_t i, void *arg)
{
	json_t *v = json_array_get(arr, i);
	struct k8s_cnp_peer *p = arg;
	int err = 0;

	if (kj_has_nul(v))
		err = kj_fail(c, "must be a string");
	else if (strlen(json_string_value(v)) > CNP_MAX_CIDR_LEN)
		err = kj_fail(c, "must be at most %d characters", CNP_MAX_CIDR_LEN);
	else
		err = kj_get_cidr(c, NULL, json_string_value(v), &p->nets[i]);
	for (size_t k = 0; !err && k < i; k++)
		if (json_equal(v, json_array_get(arr, k)))
			err = kj_fail(c, "\"%s\" is networks[%zu] again (a set)",
				      json_string_value(v), k);
	return err;
}

static int parse_networks(struct kj_ctx *c, json_t *arr, struct k8s_cnp_peer *p)
{
	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > CNP_MAX_NETS)
		return kj_fail_in(c, "networks", "must be a list of 1 to %d CIDRs", CNP_MAX_NETS);
	p->nets = calloc(json_array_size(arr), sizeof(*p->nets));
	if (!p->nets)
		return -ENOMEM;
	p->nnets = json_array_size(arr);
	return kj_each_str(c, "networks", arr, parse_network, p);
}

/* One of domainNames, normalised into norm[i] (fqdn_normalise: lower case, no
 * trailing dot, "*." a wildcard's), none twice. */
static int parse_domain(struct kj_ctx *c, json_t *arr, size_t i, void *arg)
{
	char(*norm)[256] = arg;
	json_t *v = json_array_get(arr, i);
	const char *why = NULL;
	int wild, err = 0;

	if (kj_has_nul(v))
		err = kj_fail(c, "must be a string");
	else if (fqdn_normalise(json_string_value(v), norm[i], sizeof(norm[i]), &wild, &why))
		err = kj_fail(c, "\"%s\" is not a domain name or \"*.\" and one: %s",
			      json_string_value(v), why ? why : "too long");
	for (size_t k = 0; !err && k < i; k++)
		if (!strcmp(norm[i], norm[k]))
			err = kj_fail(c, "\"%s\" is domainNames[%zu] again (a set; names are "
				      "compared lower-cased, without a trailing dot)",
				      json_string_value(v), k);
	return err;
}

/* domainNames: 1 to CNP_MAX_PEERS names, kept normalised. The error names the entry. */
static int parse_domains(struct kj_ctx *c, json_t *arr, struct k8s_cnp_peer *p)
{
	char norm[CNP_MAX_PEERS][256];
	int err;

	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > CNP_MAX_PEERS)
		return kj_fail_in(c, "domainNames", "must be a list of 1 to %d domain names",
				  CNP_MAX_PEERS);
	err = kj_each_str(c, "domainNames", arr, parse_domain, norm);
	if (err)
		return err;
	/* Kept for the agent's compile (lib/policy/fqdn_plan.c, policy_cnp.c). */
	p->domains = calloc(json_array_size(arr), sizeof(*p->domains));
	if (!p->domains)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		if (!(p->domains[i] = strdup(norm[i])))
			return -ENOMEM;
		p->ndomains++;
	}
	return 0;
}

/*
 * Which of keys (n of them, named in names) j sets, as *which (-1: none): the
 * CRD's "exactly one of" of a peer and of a protocol. Two set: an error.
 */
static int one_of(struct kj_ctx *c, json_t *j, const char *const *keys, int n, const char *names,
		  int *which)
{
	*which = -1;
	for (int i = 0; i < n; i++) {
		if (!kj_get(j, keys[i]))
			continue;
		if (*which >= 0)
			return kj_fail(c, "exactly one of %s may be set (%s and %s are)", names,
				       keys[*which], keys[i]);
		*which = i;
	}
	return 0;
}

static int cnp_peer(struct kj_ctx *c, json_t *j, void *elem, const void *egressp)
{
	bool egress = *(const bool *)egressp;
	struct k8s_cnp_peer *p = elem;
	/* The egress-only kinds last. */
	static const char *const kinds[] = { "namespaces", "pods", "nodes", "networks",
					     "domainNames" };
	int which, err;

	err = one_of(c, j, kinds, 5,
		     egress ? "namespaces, pods, nodes, networks, domainNames" : "namespaces, pods",
		     &which);
	if (err)
		return err;
	if (which < 0) {
		/* A kind this xcni does not know (the object comes from a newer CRD):
		 * kept, and the rule fails closed (policy_cnp.c). */
		p->unknown = true;
		return 0;
	}
	if (!egress && which >= 2)
		return kj_fail_in(c, kinds[which], "only egress rules may have %s peers",
				  kinds[which]);
	switch (which) {
	case 0:
		return kj_parse_opt_selector(c, j, "namespaces", &p->ns_sel);
	case 1:
		return parse_pods(c, kj_get(j, "pods"), &p->ns_sel, &p->pod_sel);
	case 2:
		return kj_parse_opt_selector(c, j, "nodes", &p->node_sel);
	case 3:
		return parse_networks(c, kj_get(j, "networks"), p);
	default:
		return parse_domains(c, kj_get(j, "domainNames"), p);
	}
}

/* destinationPort: {number: N} or {range: {start, end}}. */
static int parse_dport(struct kj_ctx *c, json_t *j, struct k8s_cnp_proto *p)
{
	json_t *num, *range;
	long long a, b;
	bool has_a, has_b;
	size_t old;
	int err;

	if (!json_is_object(j))
		return kj_fail(c, "must be an object");
	num = kj_get(j, "number");
	range = kj_get(j, "range");
	if (!!num == !!range)
		return kj_fail(c, "exactly one of number and range must be set");
	if (num) {
		err = kj_rule_port(c, j, "number", &p->port, NULL);
		p->end_port = p->port;
		return err;
	}
	old = kj_field(c, "range");
	if (!json_is_object(range)) {
		err = kj_fail(c, "must be an object");
		goto out;
	}
	/* A named port has no numbers to range over: refused as the schema does. */
	if (json_is_string(kj_get(range, "start")) || json_is_string(kj_get(range, "end"))) {
		err = kj_fail_in(c, json_is_string(kj_get(range, "start")) ? "start" : "end",
				 "a named port cannot be part of a range "
				 "(use destinationNamedPort)");
		goto out;
	}
	err = kj_get_int(c, range, "start", 1, 65535, &a, &has_a);
	if (!err)
		err = kj_get_int(c, range, "end", 1, 65535, &b, &has_b);
	if (err)
		goto out;
	if (!has_a || !has_b)
		err = kj_fail_in(c, has_a ? "end" : "start", "required");
	else if (b <= a)
		err = kj_fail_in(c, "end", "%lld must be greater than start (%lld)%s", b, a,
				 b == a ? "; a single port is {number: N}" : "");
	else
		p->port = (uint16_t)a, p->end_port = (uint16_t)b;
out:
	kj_pop(c, old);
	return err;
}

static int parse_protocol(struct kj_ctx *c, json_t *j, void *elem, const void *arg)
{
	struct k8s_cnp_proto *p = elem;
	static const char *const keys[] = { "tcp", "udp", "sctp", "destinationNamedPort" };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	json_t *v, *dp;
	size_t old;
	int which, err;

	(void)arg;
	err = one_of(c, j, keys, 4, "tcp, udp, sctp, destinationNamedPort", &which);
	if (err)
		return err;
	if (which == 3)
		return kj_rule_port(c, j, "destinationNamedPort", NULL, &p->port_name);
	if (which < 0)
		return kj_fail(c, "must set one of tcp, udp, sctp, destinationNamedPort");
	p->proto = protos[which];
	old = kj_field(c, keys[which]);
	v = kj_get(j, keys[which]);
	if (!json_is_object(v)) {
		err = kj_fail(c, "must be an object");
	} else if (!(dp = kj_get(v, "destinationPort"))) {
		/* MinProperties=1: "every port" is a rule without protocols. */
		err = kj_fail_in(c, "destinationPort",
				 "required (the CRD refuses an empty %s; leave protocols out to "
				 "match every port)",
				 keys[which]);
	} else {
		size_t o = kj_field(c, "destinationPort");

		err = parse_dport(c, dp, p);
		kj_pop(c, o);
	}
	kj_pop(c, old);
	return err;
}

static int cnp_rule(struct kj_ctx *c, json_t *j, void *elem, const void *egressp)
{
	bool egress = *(const bool *)egressp;
	struct k8s_cnp_rule *r = elem;
	const char *peers_key = egress ? "to" : "from", *action, *name;
	json_t *peers, *protos;
	int err;

	err = kj_get_str(c, j, "name", &name);
	if (!err && name && (strlen(name) > 100 || kj_has_nul(kj_get(j, "name"))))
		err = kj_fail_in(c, "name", "must be at most 100 characters");
	if (!err && name && !(r->name = strdup(name)))
		err = -ENOMEM;
	if (!err)
		err = kj_get_str(c, j, "action", &action);
	if (err)
		return err;
	if (!action)
		return kj_fail_in(c, "action", "required (Accept, Deny or Pass)");
	if (!strcmp(action, "Accept"))
		r->action = K8S_CNP_ACCEPT;
	else if (!strcmp(action, "Deny"))
		r->action = K8S_CNP_DENY;
	else if (!strcmp(action, "Pass"))
		r->action = K8S_CNP_PASS;
	else
		return kj_fail_in(c, "action", "\"%s\" is not an action (Accept, Deny, Pass)",
				  action);
	err = kj_get_arr(c, j, peers_key, &peers);
	if (!err)
		err = kj_get_arr(c, j, "protocols", &protos);
	if (err)
		return err;
	if (!peers || !json_array_size(peers) || json_array_size(peers) > CNP_MAX_PEERS)
		return kj_fail_in(c, peers_key, "required: 1 to %d peers", CNP_MAX_PEERS);
	if (protos && (!json_array_size(protos) || json_array_size(protos) > CNP_MAX_PROTOS))
		return kj_fail_in(c, "protocols", "1 to %d protocols when given (leave it out to "
					       "match every protocol and port)",
			       CNP_MAX_PROTOS);
	err = kj_parse_list(c, peers_key, peers, sizeof(*r->peers), (void **)&r->peers, &r->npeers,
			    cnp_peer, &egress);
	if (!err)
		err = kj_parse_list(c, "protocols", protos, sizeof(*r->protos), (void **)&r->protos,
				    &r->nprotos, parse_protocol, NULL);
	/* The CRD's CEL rule: networks and nodes have no named ports. */
	for (size_t i = 0; !err && egress && i < r->nprotos; i++) {
		if (!r->protos[i].port_name)
			continue;
		for (size_t j = 0; !err && j < r->npeers; j++) {
			size_t o1, o2;

			if (!r->peers[j].nnets && !r->peers[j].node_sel)
				continue;
			o1 = kj_field(c, "protocols");
			o2 = kj_idx(c, i);
			err = kj_fail_in(c, "destinationNamedPort",
					 "cannot be used with a %s peer (to[%zu]): only pods have "
					 "named ports",
					 r->peers[j].nnets ? "networks" : "nodes", j);
			kj_pop(c, o2);
			kj_pop(c, o1);
		}
	}
	return err;
}

static int parse_rules(struct kj_ctx *c, json_t *spec, bool egress, struct k8s_cnp_rule **out,
		       size_t *n)
{
	const char *key = egress ? "egress" : "ingress";
	json_t *rules;
	int err;

	err = kj_get_arr(c, spec, key, &rules);
	if (err)
		return err;
	if (rules && json_array_size(rules) > CNP_MAX_RULES)
		return kj_fail_in(c, key, "at most %d rules", CNP_MAX_RULES);
	return kj_parse_list(c, key, rules, sizeof(**out), (void **)out, n, cnp_rule, &egress);
}

static int parse_subject(struct kj_ctx *c, json_t *spec, struct k8s_cnp *p)
{
	json_t *s = kj_get(spec, "subject");
	size_t old;
	int err = 0;

	if (!s)
		return kj_fail_in(c, "subject", "required");
	old = kj_field(c, "subject");
	if (!json_is_object(s))
		err = kj_fail(c, "must be an object");
	else if (!!kj_get(s, "namespaces") == !!kj_get(s, "pods"))
		err = kj_fail(c, "exactly one of namespaces and pods must be set");
	else if (kj_get(s, "namespaces"))
		err = kj_parse_opt_selector(c, s, "namespaces", &p->subj_ns);
	else
		err = parse_pods(c, kj_get(s, "pods"), &p->subj_ns, &p->subj_pod);
	kj_pop(c, old);
	return err;
}

int kj_parse_cnp(struct kj_ctx *c, json_t *doc, struct k8s_cnp *p)
{
	const char *tier;
	long long prio;
	bool has_prio;
	json_t *spec;
	size_t old;
	int err;

	err = kj_spec(c, doc, &spec, &old);
	if (err)
		return err;
	err = kj_get_str(c, spec, "tier", &tier);
	if (err)
		goto out;
	if (!tier) {
		err = kj_fail_in(c, "tier", "required (Admin or Baseline)");
		goto out;
	}
	if (!strcmp(tier, "Admin")) {
		p->tier = K8S_CNP_ADMIN;
	} else if (!strcmp(tier, "Baseline")) {
		p->tier = K8S_CNP_BASELINE;
	} else {
		err = kj_fail_in(c, "tier", "\"%s\" is not a tier (Admin, Baseline)", tier);
		goto out;
	}
	err = kj_get_int(c, spec, "priority", 0, 1000, &prio, &has_prio);
	if (!err && !has_prio)
		err = kj_fail_in(c, "priority", "required (0 to 1000)");
	if (err)
		goto out;
	p->priority = (uint32_t)prio;
	err = parse_subject(c, spec, p);
	if (!err)
		err = parse_rules(c, spec, false, &p->ingress, &p->ningress);
	if (!err)
		err = parse_rules(c, spec, true, &p->egress, &p->negress);
out:
	kj_pop(c, old);
	return err;
}

static void cnp_rules_free(struct k8s_cnp_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct k8s_cnp_rule *r = &rules[i];

		for (size_t j = 0; j < r->npeers; j++) {
			kj_selector_drop(r->peers[j].ns_sel);
			kj_selector_drop(r->peers[j].pod_sel);
			kj_selector_drop(r->peers[j].node_sel);
			free(r->peers[j].nets);
			for (size_t k = 0; k < r->peers[j].ndomains; k++)
				free(r->peers[j].domains[k]);
			free(r->peers[j].domains);
		}
		for (size_t j = 0; j < r->nprotos; j++)
			free(r->protos[j].port_name);
		free(r->peers);
		free(r->protos);
		free(r->name);
	}
	free(rules);
}

void kj_cnp_free(struct k8s_cnp *p)
{
	kj_selector_drop(p->subj_ns);
	kj_selector_drop(p->subj_pod);
	cnp_rules_free(p->ingress, p->ningress);
	cnp_rules_free(p->egress, p->negress);
}
