// SPDX-License-Identifier: Apache-2.0
/*
 * Kubernetes objects from their JSON trees, validated as the API server
 * validates them (k8s.io/kubernetes pkg/apis/{core,networking}/validation),
 * so that a manifest directory accepts what `kubectl apply` would and nothing
 * else. The first error found is reported; the API server lists them all, but
 * one precise message is what a person fixing a file needs.
 *
 * A JSON null is treated as an absent field throughout, as Go's decoder does.
 * Services and EndpointSlices are parsed in k8s_svc.c, NetworkPolicies in
 * k8s_netpol.c (k8s_int.h); what all of them use (field paths, errors, typed
 * access, names, CIDRs, selectors) is in k8s_json.c, which calls none of them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/system/cidr.h"
#include "lib/system/clock.h"
#include "lib/cluster/k8s.h"
#include "lib/cluster/k8s_int.h"
#include "lib/cluster/k8s_json.h"

const struct k8s_kind_info k8s_kinds[K8S_NR_ALL_KINDS] = {
	[K8S_NAMESPACE] = { "Namespace", "v1", "/api/v1/namespaces", "namespaces", false },
	[K8S_POD] = { "Pod", "v1", "/api/v1/pods", "pods", true },
	[K8S_NODE] = { "Node", "v1", "/api/v1/nodes", "nodes", false },
	[K8S_NETWORKPOLICY] = { "NetworkPolicy", "networking.k8s.io/v1",
				"/apis/networking.k8s.io/v1/networkpolicies",
				"networkpolicies.networking.k8s.io", true },
	[K8S_CLUSTERNETPOL] = { "ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2",
				"/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies",
				"clusternetworkpolicies.policy.networking.k8s.io", false },
	/* Read with k8s_parse_all / k8s_parse_lb only (the lab, xcnid replacing kube-proxy). */
	[K8S_SERVICE] = { "Service", "v1", "/api/v1/services", "services", true },
	[K8S_ENDPOINTSLICE] = { "EndpointSlice", "discovery.k8s.io/v1",
				"/apis/discovery.k8s.io/v1/endpointslices",
				"endpointslices.discovery.k8s.io", true },
};

const char *k8s_kind_name(enum k8s_kind kind)
{
	return kind < K8S_NR_ALL_KINDS ? k8s_kinds[kind].name : "Unknown";
}

/* ---- metadata ---- */

static void meta_free(struct k8s_meta *m)
{
	free(m->name);
	free(m->ns);
	k8s_labels_free(&m->labels);
}

/* Only xcni's own annotation is read: the rest are not policy's business. */
static int parse_policy_mode(struct kj_ctx *c, json_t *meta, struct k8s_meta *m)
{
	json_t *ann = kj_get(meta, "annotations"), *v;
	const char *s;
	size_t old;
	int err = 0;

	if (!ann)
		return 0;
	if (!json_is_object(ann))
		return kj_fail_in(c, "annotations", "must be an object");
	v = kj_get(ann, K8S_POLICY_MODE_ANNOTATION);
	if (!v)
		return 0;
	old = kj_field(c, "annotations");
	s = json_string_value(v);
	if (!s)
		err = kj_fail_in(c, K8S_POLICY_MODE_ANNOTATION, "must be a string");
	else if (!strcmp(s, "audit"))
		m->audit = true;
	else if (strcmp(s, "enforce"))
		err = kj_fail_in(c, K8S_POLICY_MODE_ANNOTATION,
				 "\"%s\" is not a policy mode (audit, enforce)", s);
	kj_pop(c, old);
	return err;
}

static int parse_meta(struct kj_ctx *c, json_t *doc, enum k8s_kind kind, struct k8s_meta *m)
{
	json_t *meta;
	size_t old;
	int err;

	err = kj_get_obj(c, doc, "metadata", &meta);
	if (err)
		return err;
	old = kj_field(c, "metadata");
	if (!c->name) {
		if (kj_get(meta, "name") && !json_is_string(kj_get(meta, "name")))
			err = kj_fail_in(c, "name", "must be a string");
		else
			err = kj_fail_in(c, "name", "required");
		goto out;
	}
	/* Namespaces are labels of DNS (they end up in Service names); the rest subdomains. */
	if (kind == K8S_NAMESPACE && !kj_is_dns_label(c->name)) {
		err = kj_fail_in(c, "name", "\"%s\" is not a valid DNS-1123 label (%s)", c->name,
				 DNS_LABEL_RULE);
		goto out;
	}
	if (kind != K8S_NAMESPACE && !kj_is_dns_subdomain(c->name)) {
		err = kj_fail_in(c, "name", "\"%s\" is not a valid DNS-1123 subdomain (%s)",
				 c->name, DNS_SUBDOMAIN_RULE);
		goto out;
	}
	if (c->ns && !kj_is_dns_label(c->ns)) {
		err = kj_fail_in(c, "namespace", "\"%s\" is not a valid DNS-1123 label (%s)", c->ns,
				 DNS_LABEL_RULE);
		goto out;
	}
	err = kj_parse_labels(c, meta, "labels", &m->labels);
	if (!err)
		err = parse_policy_mode(c, meta, m);
	if (err)
		goto out;
	m->name = strdup(c->name);
	if (!m->name || (c->ns && !(m->ns = strdup(c->ns))))
		err = -ENOMEM;
out:
	kj_pop(c, old);
	return err;
}

/* The API server labels every namespace with its own name, for namespaceSelectors. */
static int add_ns_name_label(struct k8s_meta *m)
{
	static const char key[] = "kubernetes.io/metadata.name";
	struct k8s_label *v;
	char *value;

	for (size_t i = 0; i < m->labels.n; i++) {
		if (strcmp(m->labels.v[i].key, key))
			continue;
		/* It overwrites whatever the manifest said. */
		value = strdup(m->name);
		if (!value)
			return -ENOMEM;
		free(m->labels.v[i].value);
		m->labels.v[i].value = value;
		return 0;
	}
	v = realloc(m->labels.v, (m->labels.n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->labels.v = v;
	v[m->labels.n].key = strdup(key);
	v[m->labels.n].value = strdup(m->name);
	m->labels.n++;
	if (!v[m->labels.n - 1].key || !v[m->labels.n - 1].value)
		return -ENOMEM;
	qsort(v, m->labels.n, sizeof(*v), kj_label_cmp);
	return 0;
}

/* ---- Pod ---- */

static int parse_container_port(struct kj_ctx *c, json_t *j, json_t *names,
				struct k8s_container_port *p)
{
	long long port;
	const char *name;
	bool present;
	int err;

	if (!json_is_object(j))
		return kj_fail(c, "must be an object");
	err = kj_get_int(c, j, "containerPort", 1, 65535, &port, &present);
	if (err)
		return err;
	if (!present)
		return kj_fail_in(c, "containerPort", "required");
	p->port = port;
	err = kj_parse_proto(c, j, &p->proto);
	if (err)
		return err;
	err = kj_get_str(c, j, "name", &name);
	if (err || !name || !*name)
		return err;
	return kj_port_name_take(c, names, name, PN_PORT_NAME, &p->name);
}

/*
 * One of a pod's addresses (status.podIP, status.podIPs[].ip): the first
 * of each family is kept; podIP repeats podIPs[0], so a repeat is no error.
 */
static int pod_ip_take(struct kj_ctx *c, struct k8s_pod *pod, const char *s, const char *name)
{
	uint8_t a6[16];
	uint32_t a4;

	if (kj_parse_ipv4(s, &a4)) {
		if (!pod->ip)
			pod->ip = a4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a6) == 1) {
		/* An IPv4-mapped address would be an IPv4 in IPv6 clothes. */
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a6) ||
		    IN6_IS_ADDR_MULTICAST((struct in6_addr *)a6) ||
		    IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)a6))
			return kj_fail_in(c, name, "\"%s\" is not a unicast IPv6 address", s);
		if (!pod->has_ip6) {
			memcpy(pod->ip6, a6, 16);
			pod->has_ip6 = true;
		}
		return 0;
	}
	return kj_fail_in(c, name, "\"%s\" is not a valid IPv4 or IPv6 address", s);
}

/* An RFC 3339 time as the API server writes it ("2026-11-26T00:28:34Z"), in seconds. */
static int parse_time(struct kj_ctx *c, json_t *meta, const char *key, int64_t *out)
{
	const char *s;
	int64_t ns;
	int err = kj_get_str(c, meta, key, &s);

	if (err || !s || !*s)
		return err;
	if (xcni_rfc3339_parse(s, &ns))
		return kj_fail_in(c, key,
				  "\"%s\" is not a time (RFC 3339, as 2006-01-02T15:04:05Z)", s);
	*out = ns / 1000000000LL;
	return 0;
}

/* A Service's age (creationTimestamp, uid): which of two externalIP claims on one frontend keeps it. */
static int parse_svc_age(struct kj_ctx *c, json_t *doc, struct k8s_service *s)
{
	json_t *meta = kj_get(doc, "metadata");
	const char *uid = NULL;
	size_t old = kj_field(c, "metadata");
	int err = parse_time(c, meta, "creationTimestamp", &s->created);

	if (!err)
		err = kj_get_str(c, meta, "uid", &uid);
	kj_pop(c, old);
	if (!err && uid && *uid && !(s->uid = strdup(uid)))
		err = -ENOMEM;
	return err;
}

static const char *const pod_phases[] = {
	[K8S_POD_PENDING] = "Pending", [K8S_POD_RUNNING] = "Running",
	[K8S_POD_SUCCEEDED] = "Succeeded", [K8S_POD_FAILED] = "Failed",
	[K8S_POD_UNKNOWN] = "Unknown",
};

/* What decides whether a pod holds its address: its phase and its times. */
static int parse_pod_life(struct kj_ctx *c, json_t *doc, json_t *status, struct k8s_pod *pod)
{
	json_t *meta = kj_get(doc, "metadata");
	const char *phase;
	int64_t deleted = 0;
	size_t old;
	int err;

	old = kj_field(c, "metadata");
	err = parse_time(c, meta, "creationTimestamp", &pod->created);
	if (!err)
		err = parse_time(c, meta, "deletionTimestamp", &deleted);
	kj_pop(c, old);
	if (err)
		return err;
	pod->deleting = deleted != 0;
	old = kj_field(c, "status");
	err = kj_get_str(c, status, "phase", &phase);
	kj_pop(c, old);
	if (err || !phase || !*phase)
		return err;
	pod->phase = K8S_POD_UNKNOWN; /* a phase of a later API: neither finished nor running */
	for (size_t i = 1; i < sizeof(pod_phases) / sizeof(*pod_phases); i++)
		if (!strcmp(phase, pod_phases[i]))
			pod->phase = (enum k8s_pod_phase)i;
	return 0;
}

const char *k8s_pod_phase_name(enum k8s_pod_phase p)
{
	return p > K8S_POD_PHASE_UNSET && p <= K8S_POD_UNKNOWN ? pod_phases[p] : "";
}

/* spec.containers[].ports[]: the pod's named ports (a name once per pod). */
static int parse_pod_ports(struct kj_ctx *c, json_t *spec, struct k8s_pod *pod)
{
	json_t *containers, *ct, *ports = NULL, *port, *names;
	size_t i, j, n = 0, o2, o3;
	int err;

	/* Not required here, unlike in the API: xcnid needs a pod's identity, not its images. */
	err = kj_get_arr(c, spec, "containers", &containers);
	if (err)
		return err;
	o2 = kj_field(c, "containers");
	json_array_foreach(containers, i, ct) {
		o3 = kj_idx(c, i);
		if (!json_is_object(ct))
			err = kj_fail(c, "must be an object");
		else
			err = kj_get_arr(c, ct, "ports", &ports);
		kj_pop(c, o3);
		if (err)
			return err;
		n += ports ? json_array_size(ports) : 0;
	}
	if (n) {
		pod->ports = calloc(n, sizeof(*pod->ports));
		if (!pod->ports)
			return -ENOMEM;
	}
	json_array_foreach(containers, i, ct) {
		names = json_object();
		if (!names)
			return -ENOMEM;
		o3 = kj_idx(c, i);
		kj_field(c, "ports");
		json_array_foreach(kj_get(ct, "ports"), j, port) {
			size_t o4 = kj_idx(c, j);

			err = parse_container_port(c, port, names, &pod->ports[pod->nports++]);
			kj_pop(c, o4);
			if (err)
				break;
		}
		kj_pop(c, o3);
		json_decref(names);
		if (err)
			return err;
	}
	kj_pop(c, o2);
	return 0;
}

/* status.podIP and status.podIPs: one address per family (podIP its first). */
static int parse_pod_ips(struct kj_ctx *c, json_t *status, struct k8s_pod *pod)
{
	const char *ip;
	json_t *ips, *v;
	size_t i;
	int err;

	err = kj_get_str(c, status, "podIP", &ip);
	if (err)
		return err;
	/* "" is how an unset status field comes back from `kubectl get -o json`. */
	if (ip && *ip && (err = pod_ip_take(c, pod, ip, "podIP")))
		return err;
	/* podIPs: one address per family (dual stack), podIP its first. */
	err = kj_get_arr(c, status, "podIPs", &ips);
	if (err)
		return err;
	json_array_foreach(ips, i, v) {
		size_t o2p = kj_field(c, "podIPs");
		size_t o3p = kj_idx(c, i);

		err = !json_is_object(v) ? kj_fail(c, "must be an object with \"ip\"") :
					   kj_get_str(c, v, "ip", &ip);
		if (!err && ip && *ip)
			err = pod_ip_take(c, pod, ip, "ip");
		kj_pop(c, o3p);
		kj_pop(c, o2p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_pod(struct kj_ctx *c, json_t *doc, struct k8s_pod *pod)
{
	json_t *spec, *status;
	const char *node;
	size_t o1;
	int err;

	err = kj_get_obj(c, doc, "spec", &spec);
	if (!err)
		err = kj_get_obj(c, doc, "status", &status);
	if (!err)
		err = parse_pod_life(c, doc, status, pod);
	if (err)
		return err;

	o1 = kj_field(c, "spec");
	err = parse_pod_ports(c, spec, pod);
	if (err)
		goto out;

	err = kj_get_str(c, spec, "nodeName", &node);
	if (err)
		goto out;
	if (node && *node) {
		if (!kj_is_dns_subdomain(node)) {
			err = kj_fail_in(c, "nodeName", "\"%s\" is not a valid node name (%s)",
					 node, DNS_SUBDOMAIN_RULE);
			goto out;
		}
		pod->node_name = strdup(node);
		if (!pod->node_name) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (kj_get(spec, "hostNetwork") && !json_is_boolean(kj_get(spec, "hostNetwork"))) {
		err = kj_fail_in(c, "hostNetwork", "must be a boolean");
		goto out;
	}
	pod->host_network = json_is_true(kj_get(spec, "hostNetwork"));
	kj_pop(c, o1);

	o1 = kj_field(c, "status");
	err = parse_pod_ips(c, status, pod);
out:
	kj_pop(c, o1);
	return err;
}

static void pod_free(struct k8s_pod *pod)
{
	free(pod->node_name);
	for (size_t i = 0; i < pod->nports; i++)
		free(pod->ports[i].name);
	free(pod->ports);
}

/* ---- Node ---- */

/* p, parsed from spec.podCIDR or podCIDRs, as the node's if it is the first of its family
 * (dual-stack nodes list both; have4: an IPv4 one was taken, if only 0.0.0.0/0). */
static void node_cidr(struct k8s_node *node, const struct xcni_prefix *p, bool *have4)
{
	if (p->family == 4 && !*have4) {
		memcpy(&node->pod_cidr, p->addr, 4);
		node->pod_cidr_len = p->len;
		*have4 = true;
	} else if (p->family == 6 && !node->pod_cidr6_len && p->len) {
		memcpy(node->pod_cidr6, p->addr, 16);
		node->pod_cidr6_len = p->len;
	}
}

static int parse_node_cidrs(struct kj_ctx *c, json_t *spec, struct k8s_node *node)
{
	struct xcni_prefix p;
	bool have4 = false;
	json_t *cidrs, *v;
	const char *s;
	size_t i, o2;
	int err;

	err = kj_get_str(c, spec, "podCIDR", &s);
	if (err)
		return err;
	if (s && *s) {
		if (kj_parse_cidr(s, &p))
			return kj_fail_in(c, "podCIDR", "\"%s\" is not a valid CIDR", s);
		node_cidr(node, &p, &have4);
	}
	err = kj_get_arr(c, spec, "podCIDRs", &cidrs);
	if (err)
		return err;
	o2 = kj_field(c, "podCIDRs");
	json_array_foreach(cidrs, i, v) {
		size_t o = kj_idx(c, i);

		if (!json_is_string(v) || kj_parse_cidr(json_string_value(v), &p))
			err = kj_fail(c, "%s%s%s is not a valid CIDR", json_is_string(v) ? "\"" : "",
				      json_is_string(v) ? json_string_value(v) : "value",
				      json_is_string(v) ? "\"" : "");
		else
			node_cidr(node, &p, &have4);
		kj_pop(c, o);
		if (err)
			return err;
	}
	kj_pop(c, o2);
	return 0;
}

/* status.addresses: the first InternalIP of each family. */
static int parse_node_addrs(struct kj_ctx *c, json_t *status, struct k8s_node *node)
{
	const char *s, *type;
	json_t *addrs, *a;
	size_t i, o2;
	int err;

	err = kj_get_arr(c, status, "addresses", &addrs);
	if (err)
		return err;
	o2 = kj_field(c, "addresses");
	json_array_foreach(addrs, i, a) {
		size_t o = kj_idx(c, i);
		uint32_t ip;

		if (!json_is_object(a))
			err = kj_fail(c, "must be an object");
		if (!err)
			err = kj_get_str(c, a, "type", &type);
		if (!err)
			err = kj_get_str(c, a, "address", &s);
		if (!err && type && !strcmp(type, "InternalIP")) {
			if (!s)
				err = kj_fail_in(c, "address", "required");
			else if (kj_parse_ipv4(s, &ip)) {
				if (!node->internal_ip)
					node->internal_ip = ip;
			} else if (!kj_is_ipv6(s)) {
				err = kj_fail_in(c, "address", "\"%s\" is not a valid IP address",
						 s);
			} else {
				static const uint8_t none[16];

				if (!memcmp(node->internal_ip6, none, 16))
					inet_pton(AF_INET6, s, node->internal_ip6);
			}
		}
		kj_pop(c, o);
		if (err)
			return err;
	}
	kj_pop(c, o2);
	return 0;
}

static int parse_node(struct kj_ctx *c, json_t *doc, struct k8s_node *node)
{
	json_t *spec, *status;
	size_t o1;
	int err;

	err = kj_get_obj(c, doc, "spec", &spec);
	if (!err)
		err = kj_get_obj(c, doc, "status", &status);
	if (err)
		return err;

	o1 = kj_field(c, "spec");
	err = parse_node_cidrs(c, spec, node);
	if (err)
		goto out;
	kj_pop(c, o1);

	o1 = kj_field(c, "status");
	err = parse_node_addrs(c, status, node);
out:
	kj_pop(c, o1);
	return err;
}

/* ---- objects ---- */

void k8s_free(struct k8s_object *obj)
{
	if (!obj)
		return;
	switch (obj->kind) {
	case K8S_SERVICE:
		kj_service_free(&obj->svc);
		break;
	case K8S_ENDPOINTSLICE:
		kj_epslice_free(&obj->eps);
		break;
	case K8S_POD:
		pod_free(&obj->pod);
		break;
	case K8S_NETWORKPOLICY:
		kj_netpol_free(&obj->np);
		break;
	case K8S_CLUSTERNETPOL:
		kj_cnp_free(&obj->cnp);
		break;
	default:
		break;
	}
	meta_free(&obj->meta);
	json_decref(obj->raw);
	free(obj);
}

/* PARSE_IDENTITY: kind, apiVersion and metadata alone, the rest unread (what a delete needs). */
enum { PARSE_SERVICES = 1, PARSE_ENDPOINTSLICES = 2, PARSE_IDENTITY = 4 };

static int parse_any(json_t *doc, struct k8s_object **out, struct k8s_error *err, int extra)
{
	struct kj_ctx c = { .err = err, .kind = "object", .lb = extra & PARSE_SERVICES };
	const char *kind, *api, *ns = NULL;
	struct k8s_object *obj;
	json_t *meta;
	enum k8s_kind k;
	int ret;

	err->msg[0] = '\0';
	if (!json_is_object(doc))
		return kj_fail(&c, "not a JSON object");
	meta = kj_get(doc, "metadata");
	c.name = json_string_value(kj_get(meta, "name"));
	if (c.name && !*c.name)
		c.name = NULL;
	kind = json_string_value(kj_get(doc, "kind"));
	if (!kind)
		return kj_fail_in(&c, "kind",
				  kj_get(doc, "kind") ? "must be a string" : "required");
	for (k = 0; k < K8S_NR_ALL_KINDS; k++)
		if (!strcmp(kind, k8s_kinds[k].name))
			break;
	if (k == K8S_NR_ALL_KINDS || (k == K8S_SERVICE && !(extra & PARSE_SERVICES)) ||
	    (k == K8S_ENDPOINTSLICE && !(extra & PARSE_ENDPOINTSLICES)))
		k = K8S_NR_ALL_KINDS;
	c.kind = kind;
	/* Namespaces and Nodes are cluster-scoped: the API server drops a namespace given to them. */
	if (k < K8S_NR_ALL_KINDS && k8s_kinds[k].namespaced) {
		ns = json_string_value(kj_get(meta, "namespace"));
		c.ns = ns && *ns ? ns : "default";
	}
	api = json_string_value(kj_get(doc, "apiVersion"));
	if (!api)
		return kj_fail_in(&c, "apiVersion",
				  kj_get(doc, "apiVersion") ? "must be a string" : "required");
	if (k == K8S_NR_ALL_KINDS) {
		snprintf(err->msg, sizeof(err->msg), "%s %s: kind %s (%s) is not read by xcnid",
			 kind, c.name ? c.name : "<unnamed>", kind, api);
		return -ENOTSUP;
	}
	/* A known kind under another version is an error, not a skip: silently ignoring a
	 * NetworkPolicy (say an old extensions/v1beta1 one) would leave pods unprotected. */
	if (strcmp(api, k8s_kinds[k].api_version) &&
	    !(k == K8S_ENDPOINTSLICE && !strcmp(api, K8S_ENDPOINTSLICE_V1BETA1)))
		return kj_fail_in(&c, "apiVersion", "\"%s\" is not served for %s (want %s)", api,
				  kind, k8s_kinds[k].api_version);
	if (meta && !json_is_object(meta))
		return kj_fail_in(&c, "metadata", "must be an object");
	if (kj_get(meta, "namespace") && !json_is_string(kj_get(meta, "namespace")) && c.ns)
		return kj_fail_in(&c, "metadata.namespace", "must be a string");

	obj = calloc(1, sizeof(*obj));
	if (!obj)
		return -ENOMEM;
	obj->kind = k;
	obj->raw = json_incref(doc);
	ret = parse_meta(&c, doc, k, &obj->meta);
	if (ret)
		goto err_obj;
	if (extra & PARSE_IDENTITY) {
		*out = obj;
		return 0;
	}
	switch (k) {
	case K8S_NAMESPACE:
		ret = add_ns_name_label(&obj->meta);
		break;
	case K8S_POD:
		ret = parse_pod(&c, doc, &obj->pod);
		break;
	case K8S_NODE:
		ret = parse_node(&c, doc, &obj->node);
		break;
	case K8S_NETWORKPOLICY:
		ret = kj_parse_netpol(&c, doc, &obj->np);
		break;
	case K8S_CLUSTERNETPOL:
		ret = kj_parse_cnp(&c, doc, &obj->cnp);
		break;
	case K8S_SERVICE:
		ret = kj_parse_service(&c, doc, &obj->svc);
		if (!ret)
			ret = parse_svc_age(&c, doc, &obj->svc);
		break;
	case K8S_ENDPOINTSLICE:
		ret = kj_parse_epslice(&c, doc, &obj->eps);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret)
		goto err_obj;
	*out = obj;
	return 0;

err_obj:
	if (ret == -ENOMEM)
		kj_fail(&c, "out of memory");
	k8s_free(obj);
	return ret;
}

int k8s_parse(json_t *doc, struct k8s_object **out, struct k8s_error *err)
{
	return parse_any(doc, out, err, 0);
}

int k8s_parse_all(json_t *doc, struct k8s_object **out, struct k8s_error *err)
{
	return parse_any(doc, out, err, PARSE_SERVICES);
}

int k8s_parse_lb(json_t *doc, struct k8s_object **out, struct k8s_error *err)
{
	return parse_any(doc, out, err, PARSE_SERVICES | PARSE_ENDPOINTSLICES);
}

int k8s_parse_ident(json_t *doc, struct k8s_object **out, struct k8s_error *err)
{
	return parse_any(doc, out, err, PARSE_SERVICES | PARSE_ENDPOINTSLICES | PARSE_IDENTITY);
}
