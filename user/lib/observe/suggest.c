// SPDX-License-Identifier: Apache-2.0
/*
 * NetworkPolicies from flow records (suggest.h): the records read, the
 * selectors chosen, the policies built. The replay is suggest_sim.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/observe/flows.h"
#include "lib/policy/policy.h"
#include "lib/observe/suggest.h"
#include "lib/system/proto.h"
#include "lib/system/util.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"
/* Subsets of a label set tried for the smallest selector: 2^12. */
#define SUG_MAX_SUBSET_LABELS 12

_Static_assert(FLOW_NR_VERDICTS <= ARRAY_SIZE(((struct sug_flows *)0)->aside),
	       "sug_flows.aside: a count per verdict");

/* ---- the records ----------------------------------------------------- */

static int end_parse(const json_t *o, uint8_t family, struct sug_end *e, const char *side,
		     char *err, size_t errlen)
{
	const char *ip = json_string_value(json_object_get(o, "ip"));
	const char *ns = json_string_value(json_object_get(o, "namespace"));
	const char *pod = json_string_value(json_object_get(o, "pod"));

	memset(e, 0, sizeof(*e));
	if (!ip || inet_pton(family == 4 ? AF_INET : AF_INET6, ip, e->addr) != 1) {
		snprintf(err, errlen, "%s.ip: %s is not an IPv%u address", side, ip ? ip : "(none)",
			 family);
		return -EINVAL;
	}
	if (ns && pod && *ns && *pod) {
		e->ns = strdup(ns);
		e->pod = strdup(pod);
		if (!e->ns || !e->pod)
			return -ENOMEM;
	}
	return 0;
}

static void end_free(struct sug_end *e)
{
	free(e->ns);
	free(e->pod);
}

static bool same_flow(const struct sug_flow *a, const struct sug_flow *b)
{
	return a->family == b->family && a->proto == b->proto && a->port == b->port &&
	       !memcmp(a->src.addr, b->src.addr, 16) && !memcmp(a->dst.addr, b->dst.addr, 16);
}

static int proto_parse(const char *s, uint8_t *proto)
{
	static const uint8_t known[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP,
					 IPPROTO_ICMPV6 };

	for (size_t i = 0; s && i < sizeof(known); i++)
		if (!strcasecmp(s, proto_label(known[i]))) {
			*proto = known[i];
			return 0;
		}
	return -EINVAL;
}

int suggest_flow_add(struct sug_flows *fl, const json_t *rec, char *err, size_t errlen)
{
	const char *fam = json_string_value(json_object_get(rec, "family"));
	const char *verdict = json_string_value(json_object_get(rec, "verdict"));
	json_t *dport = json_object_get(json_object_get(rec, "destination"), "port");
	struct sug_flow f = {};
	int rc, v;

	if (!json_is_object(rec)) {
		snprintf(err, errlen, "not a flow record (a JSON object)");
		return -EINVAL;
	}
	if ((v = flow_verdict_parse(verdict)) < 0) {
		snprintf(err, errlen, "verdict: %s is not a flow record's verdict (flows --help)",
			 verdict ? verdict : "(none)");
		return -EINVAL;
	}
	if (v != FLOW_ALLOWED && v != FLOW_AUDIT && v != FLOW_DENIED) {
		fl->aside[v]++;
		return 1;
	}
	f.verdict = v == FLOW_DENIED ? SUG_DENIED : SUG_ALLOWED;
	f.family = fam && !strcmp(fam, "ipv4") ? 4 : fam && !strcmp(fam, "ipv6") ? 6 : 0;
	if (!f.family) {
		snprintf(err, errlen, "family: %s is not ipv4 or ipv6", fam ? fam : "(none)");
		return -EINVAL;
	}
	if (proto_parse(json_string_value(json_object_get(rec, "protocol")), &f.proto)) {
		snprintf(err, errlen, "protocol: not TCP, UDP, SCTP, ICMP or ICMPv6");
		return -EINVAL;
	}
	if (!json_is_integer(dport) || json_integer_value(dport) < 0 ||
	    json_integer_value(dport) > 65535) {
		snprintf(err, errlen, "destination.port: not a port number");
		return -EINVAL;
	}
	if (f.proto != IPPROTO_ICMP && f.proto != IPPROTO_ICMPV6)
		f.port = (uint16_t)json_integer_value(dport);
	if ((rc = end_parse(json_object_get(rec, "source"), f.family, &f.src, "source", err,
			    errlen)) ||
	    (rc = end_parse(json_object_get(rec, "destination"), f.family, &f.dst, "destination",
			    err, errlen)))
		goto fail;
	for (size_t i = 0; i < fl->n; i++)
		if (same_flow(&fl->v[i], &f)) {
			/* Another node's record of it: one denial is the flow's fate. */
			if (f.verdict == SUG_DENIED)
				fl->v[i].verdict = SUG_DENIED;
			end_free(&f.src);
			end_free(&f.dst);
			return 0;
		}
	if (XCNI_GROW(fl->v, fl->n, fl->cap)) {
		rc = -ENOMEM;
		goto fail;
	}
	fl->v[fl->n++] = f;
	return 0;
fail:
	end_free(&f.src);
	end_free(&f.dst);
	return rc;
}

void suggest_flows_free(struct sug_flows *fl)
{
	for (size_t i = 0; i < fl->n; i++) {
		end_free(&fl->v[i].src);
		end_free(&fl->v[i].dst);
	}
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

/* ---- the selectors --------------------------------------------------- */

/* A pod that holds an address and an identity: what selectors select. */
static bool pod_counts(const struct k8s_pod *p)
{
	return !p->host_network && !k8s_pod_finished(p);
}

static const struct k8s_pod *pod_find(const struct cluster *c, const char *ns, const char *name)
{
	for (size_t i = 0; i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;

		if (!strcmp(p->meta.ns, ns) && !strcmp(p->meta.name, name))
			return p;
	}
	return NULL;
}

/* Every label of want (as many as it has). */
#define ALL_LABELS (~0u)

/* Does have hold every label of want picked by mask (bit i: want->v[i]; ALL_LABELS)? */
static bool has_subset(const struct k8s_labels *have, const struct k8s_labels *want,
		       unsigned int mask)
{
	for (size_t i = 0; i < want->n; i++) {
		const char *v;

		if (mask != ALL_LABELS && !(mask & (1u << i)))
			continue;
		v = k8s_label_get(have, want->v[i].key);
		if (!v || strcmp(v, want->v[i].value))
			return false;
	}
	return true;
}

/* Does mask's subset of want select no pod of ns outside the group (labels == want)? */
static bool mask_exact(const struct cluster *c, const char *ns, const struct k8s_labels *want,
		       unsigned int mask)
{
	for (size_t i = 0; i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;

		if (strcmp(p->meta.ns, ns) || !pod_counts(p))
			continue;
		if (has_subset(&p->meta.labels, want, mask) && !k8s_labels_equal(&p->meta.labels, want))
			return false;
	}
	return true;
}

static unsigned int popcount(unsigned int x)
{
	return (unsigned int)__builtin_popcount(x);
}

/* The smallest exact mask into *mask (fewest labels, then the first keys); false: none. */
static bool smallest_mask(const struct cluster *c, const char *ns, const struct k8s_labels *want,
			  unsigned int *mask)
{
	unsigned int all;

	*mask = ALL_LABELS;
	if (want->n > SUG_MAX_SUBSET_LABELS)
		return mask_exact(c, ns, want, ALL_LABELS);
	all = (1u << want->n) - 1;
	for (unsigned int k = 0; k <= want->n; k++) {
		unsigned int best = ALL_LABELS;

		for (unsigned int m = 0; m <= all; m++) {
			if (popcount(m) != k || !mask_exact(c, ns, want, m))
				continue;
			/* The lowest label where they differ decides: m's if it has it. */
			if (best == ALL_LABELS || ((m ^ best) & -(m ^ best) & m))
				best = m;
		}
		if (best != ALL_LABELS) {
			*mask = best;
			return true;
		}
	}
	return false;
}

int suggest_selector(const struct cluster *c, const char *ns, const struct k8s_labels *want,
		     json_t **out)
{
	unsigned int mask;
	bool exact = smallest_mask(c, ns, want, &mask);
	json_t *sel = json_object(), *ml = json_object(), *exprs = json_array();

	if (!sel || !ml || !exprs)
		goto nomem;
	for (size_t i = 0; i < want->n; i++)
		if ((mask == ALL_LABELS || mask & (1u << i)) &&
		    json_object_set_new(ml, want->v[i].key, json_string(want->v[i].value)))
			goto nomem;
	/* Pods with want's labels and more: their other keys must be absent. */
	for (size_t i = 0; !exact && i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;

		if (strcmp(p->meta.ns, ns) || !pod_counts(p) || k8s_labels_equal(&p->meta.labels, want) ||
		    !has_subset(&p->meta.labels, want, ALL_LABELS))
			continue;
		for (size_t j = 0; j < p->meta.labels.n; j++) {
			const char *key = p->meta.labels.v[j].key;
			bool seen = k8s_label_get(want, key);
			size_t e;
			json_t *x;

			json_array_foreach(exprs, e, x)
				seen = seen || !strcmp(json_string_value(json_object_get(x, "key")), key);
			if (!seen && json_array_append_new(exprs, json_pack("{s:s,s:s}", "key", key,
									    "operator",
									    "DoesNotExist")))
				goto nomem;
		}
	}
	if ((json_object_size(ml) && json_object_set(sel, "matchLabels", ml)) ||
	    (json_array_size(exprs) && json_object_set(sel, "matchExpressions", exprs)))
		goto nomem;
	json_decref(ml);
	json_decref(exprs);
	*out = sel;
	return 0;
nomem:
	json_decref(sel);
	json_decref(ml);
	json_decref(exprs);
	return -ENOMEM;
}

/* ---- the policies ---------------------------------------------------- */

/* A label set of the namespace's pods with allowed flows, and its rules. */
struct subj {
	const struct k8s_pod *pod; /* the first of the group seen (its labels) */
	json_t *rules[2]; /* [0] ingress, [1] egress: peer key -> {peer, ports: key -> port} */
};

struct sug_build {
	const struct cluster *c;
	const char *ns;
	size_t n;
	struct subj *v; /* up to one a pod of ns */
};

/* "k=v\n..." of a label set, with the namespace first: a peer group's key. */
static char *group_key(const char *ns, const struct k8s_labels *l)
{
	size_t len = strlen(ns) + 2;
	char *s, *p;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i].key) + strlen(l->v[i].value) + 2;
	s = p = malloc(len);
	if (!s)
		return NULL;
	p += sprintf(p, "%s\n", ns);
	for (size_t i = 0; i < l->n; i++)
		p += sprintf(p, "%s=%s\n", l->v[i].key, l->v[i].value);
	return s;
}

static struct subj *subj_of(struct sug_build *b, const struct k8s_pod *p)
{
	for (size_t i = 0; i < b->n; i++)
		if (k8s_labels_equal(&b->v[i].pod->meta.labels, &p->meta.labels))
			return &b->v[i];
	b->v[b->n] = (struct subj){ p, { json_object(), json_object() } };
	if (!b->v[b->n].rules[0] || !b->v[b->n].rules[1])
		return NULL;
	return &b->v[b->n++];
}

/* The NetworkPolicyPeer of an end: its pod's group by labels, else its address alone. */
static int peer_of(struct sug_build *b, const struct sug_end *e, uint8_t family,
		   const struct k8s_pod *p, json_t **peer, char **key)
{
	char ip[INET6_ADDRSTRLEN + 8];
	json_t *sel;

	if (!p) {
		inet_ntop(family == 4 ? AF_INET : AF_INET6, e->addr, ip, INET6_ADDRSTRLEN);
		strcat(ip, family == 4 ? "/32" : "/128");
		*peer = json_pack("{s:{s:s}}", "ipBlock", "cidr", ip);
		*key = strdup(ip);
		return *peer && *key ? 0 : -ENOMEM;
	}
	if (suggest_selector(b->c, p->meta.ns, &p->meta.labels, &sel))
		return -ENOMEM;
	*peer = json_pack("{s:o}", "podSelector", sel);
	/* Another namespace: by the name label every Namespace has (since 1.21). */
	if (*peer && strcmp(p->meta.ns, b->ns))
		json_object_set_new(*peer, "namespaceSelector",
				    json_pack("{s:{s:s}}", "matchLabels", NS_NAME_LABEL, p->meta.ns));
	*key = group_key(p->meta.ns, &p->meta.labels);
	return *peer && *key ? 0 : -ENOMEM;
}

/* The port as the serving pod names it (a containerPort of that number and protocol), else its number. */
static json_t *port_of(const struct k8s_pod *server, uint8_t proto, uint16_t port, char *key,
		       size_t len)
{
	const char *proto_s = proto_k8s_name(proto);

	for (size_t i = 0; server && i < server->nports; i++)
		if (server->ports[i].name && server->ports[i].port == port &&
		    server->ports[i].proto == proto) {
			snprintf(key, len, "%s/%s", proto_s, server->ports[i].name);
			return json_pack("{s:s,s:s}", "protocol", proto_s, "port",
					 server->ports[i].name);
		}
	snprintf(key, len, "%s/%05u", proto_s, port);
	return json_pack("{s:s,s:i}", "protocol", proto_s, "port", port);
}

/* One rule's peer and port into the subject's direction dir (0 ingress, 1 egress). */
static int rule_add(struct sug_build *b, struct subj *s, int dir, const struct sug_flow *f,
		    const struct sug_end *peer_end, const struct k8s_pod *peer_pod,
		    const struct k8s_pod *server)
{
	json_t *peer, *rule, *port;
	char *key, pkey[300];
	int err;

	if ((err = peer_of(b, peer_end, f->family, peer_pod, &peer, &key)))
		return err;
	rule = json_object_get(s->rules[dir], key);
	if (!rule) {
		rule = json_pack("{s:o,s:{}}", "peer", peer, "ports");
		if (!rule || json_object_set_new(s->rules[dir], key, rule))
			err = -ENOMEM;
	} else {
		json_decref(peer);
	}
	free(key);
	/* DNS on either protocol is DNS on both: a truncated UDP answer is asked
	 * again over TCP (RFC 7766), a window rarely holds that retry. */
	for (int i = 0; !err && i < 1 + (f->port == 53 && (f->proto == IPPROTO_UDP ||
							 f->proto == IPPROTO_TCP)); i++) {
		uint8_t proto = !i ? f->proto : f->proto == IPPROTO_UDP ? IPPROTO_TCP : IPPROTO_UDP;

		port = port_of(server, proto, f->port, pkey, sizeof(pkey));
		if (!port || json_object_set_new(json_object_get(rule, "ports"), pkey, port))
			err = -ENOMEM;
	}
	return err;
}

/*
 * A pod of the flow, if the cluster state has it and selectors select it (a
 * hostNetwork pod is its node's address: an ipBlock); *missing when named but
 * gone or finished (its address may be another pod's now).
 */
static const struct k8s_pod *end_pod(const struct cluster *c, const struct sug_end *e,
				     bool *missing)
{
	const struct k8s_pod *p = e->ns ? pod_find(c, e->ns, e->pod) : NULL;

	if (e->ns && (!p || k8s_pod_finished(p)))
		*missing = true;
	return p && pod_counts(p) ? p : NULL;
}

static int flow_rules(struct sug_build *b, const struct sug_flow *f, size_t *nskipped)
{
	bool missing = false;
	const struct k8s_pod *sp = end_pod(b->c, &f->src, &missing);
	const struct k8s_pod *dp = end_pod(b->c, &f->dst, &missing);
	struct subj *s;
	int err = 0;

	if (f->verdict != SUG_ALLOWED)
		return 0;
	/* NetworkPolicy allows ICMP only with everything else (a rule without ports). */
	if (missing || !f->port) {
		*nskipped += (sp && !strcmp(sp->meta.ns, b->ns)) || (dp && !strcmp(dp->meta.ns, b->ns));
		return 0;
	}
	if (sp && !strcmp(sp->meta.ns, b->ns)) {
		if (!(s = subj_of(b, sp)))
			return -ENOMEM;
		err = rule_add(b, s, 1, f, &f->dst, dp, dp);
	}
	if (!err && dp && !strcmp(dp->meta.ns, b->ns)) {
		if (!(s = subj_of(b, dp)))
			return -ENOMEM;
		err = rule_add(b, s, 0, f, &f->src, sp, dp);
	}
	return err;
}

/* obj's values in the order of their keys, as a new array. */
static json_t *sorted_values(json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = calloc(n + 1, sizeof(*keys));
	json_t *arr = json_array(), *v;
	const char *k;

	if (!keys || !arr) {
		free(keys);
		json_decref(arr);
		return NULL;
	}
	json_object_foreach(obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), pol_cmp_strp);
	for (i = 0; i < n; i++)
		json_array_append(arr, json_object_get(obj, keys[i]));
	free(keys);
	return arr;
}

/* The rules of one direction as NetworkPolicy writes them. */
static json_t *rules_json(json_t *rules, const char *peers)
{
	json_t *sorted = sorted_values(rules), *out = json_array(), *r;
	size_t i;

	if (!sorted || !out)
		goto fail;
	json_array_foreach(sorted, i, r) {
		json_t *ports = sorted_values(json_object_get(r, "ports"));

		if (!ports || json_array_append_new(out, json_pack("{s:[O],s:o}", peers,
								   json_object_get(r, "peer"),
								   "ports", ports)))
			goto fail;
	}
	json_decref(sorted);
	return out;
fail:
	json_decref(sorted);
	json_decref(out);
	return NULL;
}

/* A NetworkPolicy name from the selector's values (else the pod's name), unique in out. */
static void policy_name(const json_t *sel, const struct k8s_pod *p, const json_t *out, char *name,
			size_t len)
{
	const json_t *ml = json_object_get(sel, "matchLabels");
	char base[64] = "", *q;
	const char *k;
	json_t *v, *pol;
	size_t i;
	int n = 1;

	json_object_foreach((json_t *)ml, k, v)
		snprintf(base + strlen(base), sizeof(base) - strlen(base), "%s%s",
			 base[0] ? "-" : "", json_string_value(v));
	if (!base[0])
		snprintf(base, sizeof(base), "%s", p->meta.name);
	/* A DNS-1123 name: lower case letters, digits and '-', at most 63 with "suggest-". */
	for (q = base; *q; q++)
		*q = (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ? *q :
		     (*q >= 'A' && *q <= 'Z')				     ? *q - 'A' + 'a' :
									       '-';
	base[48] = '\0';
again:
	snprintf(name, len, n == 1 ? "suggest-%s" : "suggest-%s-%d", base, n);
	json_array_foreach(out, i, pol)
		if (!strcmp(json_string_value(json_object_get(json_object_get(pol, "metadata"),
							      "name")), name)) {
			n++;
			goto again;
		}
}

static json_t *policy_new(const char *ns, const char *name, json_t *sel, bool audit)
{
	json_t *p = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:o,s:[]}}", "apiVersion",
			      "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name",
			      name, "namespace", ns, "spec", "podSelector", sel, "policyTypes");

	if (p && audit)
		json_object_set_new(json_object_get(p, "metadata"), "annotations",
				    json_pack("{s:s}", K8S_POLICY_MODE_ANNOTATION, "audit"));
	return p;
}

static int subj_policy(struct sug_build *b, const struct subj *s, bool audit, json_t *out)
{
	static const char *const types[] = { "Ingress", "Egress" };
	static const char *const dirs[] = { "ingress", "egress" };
	static const char *const peers[] = { "from", "to" };
	char name[80];
	json_t *sel, *pol, *spec;

	if (suggest_selector(b->c, b->ns, &s->pod->meta.labels, &sel))
		return -ENOMEM;
	policy_name(sel, s->pod, out, name, sizeof(name));
	pol = policy_new(b->ns, name, sel, audit);
	if (!pol || json_array_append_new(out, pol))
		return -ENOMEM;
	spec = json_object_get(pol, "spec");
	for (int d = 0; d < 2; d++) {
		json_t *rules;

		if (!json_object_size(s->rules[d]))
			continue;
		rules = rules_json(s->rules[d], peers[d]);
		if (!rules || json_object_set_new(spec, dirs[d], rules) ||
		    json_array_append_new(json_object_get(spec, "policyTypes"), json_string(types[d])))
			return -ENOMEM;
	}
	return 0;
}

static int cmp_subj(const void *a, const void *b)
{
	return strcmp(((const struct subj *)a)->pod->meta.name,
		      ((const struct subj *)b)->pod->meta.name);
}

int suggest_build(const struct cluster *c, const char *ns, const struct sug_flows *fl, bool audit,
		  json_t **out, size_t *nskipped, char *err, size_t errlen)
{
	struct sug_build b = { c, ns, 0, calloc(c->n[K8S_POD] + 1, sizeof(struct subj)) };
	json_t *pols = json_array(), *deny, *types;
	int rc = -ENOMEM;

	*nskipped = 0;
	snprintf(err, errlen, "out of memory");
	if (!b.v || !pols)
		goto out;
	/* Everything the records do not show allowed: denied, both ways. */
	deny = policy_new(ns, "suggest-default-deny", json_object(), audit);
	if (!deny || json_array_append_new(pols, deny))
		goto out;
	types = json_object_get(json_object_get(deny, "spec"), "policyTypes");
	if (json_array_append_new(types, json_string("Ingress")) ||
	    json_array_append_new(types, json_string("Egress")))
		goto out;
	for (size_t i = 0; i < fl->n; i++)
		if ((rc = flow_rules(&b, &fl->v[i], nskipped)))
			goto out;
	qsort(b.v, b.n, sizeof(*b.v), cmp_subj);
	for (size_t i = 0; i < b.n; i++)
		if ((rc = subj_policy(&b, &b.v[i], audit, pols)))
			goto out;
	rc = 0;
	err[0] = '\0';
	*out = pols;
	pols = NULL;
out:
	for (size_t i = 0; b.v && i < b.n; i++) {
		json_decref(b.v[i].rules[0]);
		json_decref(b.v[i].rules[1]);
	}
	free(b.v);
	json_decref(pols);
	return rc;
}
